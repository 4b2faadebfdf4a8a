"""The engine never imports Qt: not at run time, not in its source."""

from __future__ import annotations

import ast
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


def test_engine_source_has_no_qt_import():
    offenders = []
    for path in sorted((ROOT / "engine").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in ("import_module", "__import__"):
                names = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in QT or n.startswith(("PyQt", "PySide", "gui"))]
    assert offenders == []


def test_scan_would_catch_a_qt_import(tmp_path):
    # the static check is not vacuous
    tree = ast.parse("from PySide6.QtCore import QObject\n")
    node = tree.body[0]
    assert isinstance(node, ast.ImportFrom) and node.module.split(".")[0] in QT
