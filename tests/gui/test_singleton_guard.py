"""PySide6 6.12 steals a reference to None/True/False per void call on Python < 3.12; the gui
package guards against the resulting interpreter abort (see gui/_singleton_guard.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

LOOP = (
    "from PySide6.QtWidgets import QApplication, QCheckBox, QLabel\n"
    "app = QApplication([])\n"
    "label, box = QLabel(), QCheckBox()\n"
    "for i in range(300_000):\n"
    "    label.setText('x')\n"
    "    box.toggled.emit(i % 2 == 0)\n"
    "print('survived')\n"
)


def run(code: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)


def test_many_void_calls_and_bool_signals_do_not_abort_with_the_gui_package():
    result = run("import gui\n" + LOOP)
    assert result.returncode == 0 and "survived" in result.stdout, result.stderr[-2000:]


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="None and bools are immortal on 3.12+")
def test_guard_is_applied_on_python_before_3_12():
    import gui

    assert gui._SINGLETONS_GUARDED
    assert sys.getrefcount(None) > 1 << 39
