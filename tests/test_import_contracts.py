"""The import contracts in pyproject.toml ([tool.importlinter]) hold, and `lint-imports` would
notice if they did not (each broken case is built in a copy of the tree, never in the real one)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# `lint-imports` from this interpreter (no `python -m importlinter`: the package has no __main__).
LINT = [sys.executable, "-c", "from importlinter.cli import lint_imports_command; lint_imports_command()",
        "--no-cache", "--no-logo"]  # no cache: it would write .import_linter_cache/ into cwd


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    # lint-imports puts cwd first on sys.path, so the packages are the ones under cwd (the
    # editable install's finder comes after the path finder); PYTHONPATH says so once more.
    env = {**os.environ, "PYTHONPATH": str(cwd), "COLUMNS": "200"}  # wide: one chain per line
    return subprocess.run(LINT, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_lint_imports_passes_on_the_repo():
    r = lint_imports(ROOT)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "0 broken" in out and "5 kept" in out, out


@pytest.mark.parametrize(
    ("path", "line", "contract", "chain"),
    [
        ("gui/canvas.py", "import engine.pipeline", "Widgets import only", "gui.canvas -> engine.pipeline"),
        ("engine/__init__.py", "from PySide6 import QtCore", "The engine imports no Qt", "engine -> PySide6"),
        ("engine/__init__.py", "import cli.main", "Layers", "engine -> cli.main"),
        # a new gui module (not listed anywhere) is still covered by the model-modules contract
        ("gui/some_new_controller.py", "from engine import backend", "only the worker",
         "gui.some_new_controller -> engine.backend"),
        # only cli.ray_label may import Ray (issue 22: nothing imports Ray unless --ray is given)
        ("cli/scale_out.py", "import ray", "Only cli.ray_label imports Ray", "cli.scale_out -> ray"),
    ],
    ids=["widget-imports-pipeline", "engine-imports-pyside6", "engine-imports-cli", "new-gui-module-imports-backend",
         "cli-module-imports-ray"],
)
def test_lint_imports_fails_on_a_broken_contract(tmp_path, path, line, contract, chain):
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in ("engine", "gui", "cli"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    target = tmp_path / path
    text = target.read_text(encoding="utf-8") if target.exists() else ""
    target.write_text(f"{text}\n{line}\n", encoding="utf-8")

    r = lint_imports(tmp_path)
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    broken = [ln for ln in out.splitlines() if " BROKEN" in ln]  # "<name> BROKEN [(n ignored imports)]"
    assert any(contract in ln for ln in broken), out  # others may break too (a widget is also a gui module)
    assert chain in out, out
