"""`--self-test --window` (cli/window_self_test.py), run here through the pip install's launcher
(offscreen Qt); CI runs the same in the built app under Xvfb (tools/check_bundle.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli import window_self_test

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # the in-process tests below (as tests/gui/conftest.py)

ROOT = Path(__file__).resolve().parents[2]
DIALOGS = ("Open model", "Open folder", "Open ground-truth labels", "Model settings", "Export labels",
           "Keyboard shortcuts", "Save thresholds profile", "Load thresholds profile",
           "Export into the ground truth: confirmation")


def test_the_window_self_test_passes_and_leaves_the_persons_home_alone(tmp_path):
    home = tmp_path / "person"
    home.mkdir()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "QT_QPA_PLATFORM": "offscreen",
           "XDG_CONFIG_HOME": str(home / ".config"), "XDG_DATA_HOME": str(home / ".local" / "share"),
           "SCRIPTLENS_CACHE_DIR": str(home / "cache")}
    shots = tmp_path / "shots"
    r = subprocess.run([sys.executable, "-m", "cli.frozen", "--self-test", "--window", "--shots", str(shots)],
                       cwd=ROOT, env=env, capture_output=True, encoding="utf-8", errors="replace", timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr[-3000:]
    lines = r.stdout.splitlines()
    assert lines[-1] == "self-test --window: passed"
    for name in DIALOGS:
        assert any(line.startswith(f"self-test --window: {name}: ") and " shown (" in line
                   and line.endswith(" and closed") for line in lines), name
    assert any("ground-truth files unchanged" in line for line in lines)
    assert any("30 label files written" in line for line in lines)
    assert any(line.startswith("self-test --window: restart: ") and "confidence 0.4 kept" in line for line in lines)
    assert len(list(shots.glob("*.png"))) == len(DIALOGS) + 2  # each dialog, the progress dialog, the window
    assert list(home.iterdir()) == []  # nothing written under the person's HOME, config or data folders


def test_a_trigger_that_opens_no_dialog_fails_the_step(qtbot):
    from PySide6.QtWidgets import QApplication, QWidget

    widget = QWidget()
    qtbot.addWidget(widget)
    driver = window_self_test.Driver(QApplication.instance(), widget, None)
    with pytest.raises(window_self_test.StepFailed, match="Nothing: no dialog opened"):
        driver.through_dialog("Nothing", lambda: None)


def test_a_dialog_that_paints_nothing_fails_the_step(qtbot):
    from PySide6.QtWidgets import QApplication, QDialog

    dialog = QDialog()
    dialog.resize(20, 20)  # too small to hold anything a person could read
    qtbot.addWidget(dialog)
    driver = window_self_test.Driver(QApplication.instance(), dialog, None)
    with pytest.raises(window_self_test.StepFailed, match="painted nothing useful"):
        driver.through_dialog("Tiny", dialog.exec)
