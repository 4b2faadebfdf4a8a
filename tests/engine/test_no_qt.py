"""The engine never imports Qt at run time. (Its source is checked statically by the
import-linter contract "The engine imports no Qt binding", tests/test_import_contracts.py.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
QT = ("PySide6", "PyQt5", "PyQt6", "PySide2", "shiboken6", "superqt", "qtpy")


def test_importing_every_engine_module_loads_no_qt():
    modules = sorted(p.stem for p in (ROOT / "engine").glob("*.py") if p.stem != "__init__")
    assert "pipeline" in modules and "export" in modules
    code = (
        "import sys, importlib\n"
        f"for m in {modules!r}: importlib.import_module('engine.' + m)\n"
        "import cli.main, cli.label_cmd, cli.info_cmd\n"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {QT!r} or m.startswith(('PyQt', 'PySide'))]\n"
        "assert not bad, bad\n"
        "print('ok')\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"

