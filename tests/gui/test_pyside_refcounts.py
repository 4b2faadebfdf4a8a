"""PySide6-Essentials 6.12.0 drops a reference to None/True/False on every void call and bool
signal on Python < 3.12, and the interpreter aborts after some tens of thousands of them (a few
seconds of dragging a slider over many boxes). pyproject.toml excludes that release; this test
fails if an installed PySide6 brings the bug back."""

from __future__ import annotations

import os
import subprocess
import sys

LOOP = (
    "import sys\n"
    "from PySide6.QtWidgets import QApplication, QCheckBox, QLabel\n"
    "app = QApplication([])\n"
    "label, box = QLabel(), QCheckBox()\n"
    "before = sys.getrefcount(None)\n"
    "for i in range(300_000):\n"
    "    label.setText('x')\n"
    "    box.toggled.emit(i % 2 == 0)\n"
    "print('survived', before - sys.getrefcount(None))\n"
)


def test_void_calls_and_bool_signals_keep_singleton_refcounts():
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    result = subprocess.run([sys.executable, "-c", LOOP], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    survived, lost = result.stdout.split()
    assert abs(int(lost)) < 1000  # a leak of one reference per call would show ~300,000
