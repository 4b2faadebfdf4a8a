"""Fixtures for the window tests: a tiny TorchScript detector with known output, a folder
of images (one of them corrupt), and a window with its own settings file."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

TESTS = Path(__file__).resolve().parents[1]
if str(TESTS) not in sys.path:  # the lead's tests/model_factory.py (more layouts, bad files)
    sys.path.insert(0, str(TESTS))

import pytest  # noqa: E402
from gui_test_data import build_tiny_model, make_images  # noqa: E402


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("model") / "tiny.torchscript")


@pytest.fixture
def image_dir(tmp_path) -> Path:
    folder = tmp_path / "dataset" / "images"
    make_images(folder, 4, corrupt="img002_broken.jpg")  # sorts between img002 and img003
    return folder


@pytest.fixture
def window(qtbot, tmp_path):
    from PySide6.QtCore import QSettings

    from gui.main_window import MainWindow
    from gui.settings import Settings

    settings = Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    w = MainWindow(settings)
    qtbot.addWidget(w)

    def unexpected_confirmation(target, policy):  # the real one is a modal dialog: it would hang the test
        raise AssertionError(f"unexpected confirmation to write into {target.out_root}: {target.describe(True)}")

    w.confirm_protected_export = unexpected_confirmation
    w.resize(1200, 800)
    w.show()
    w.activateWindow()  # window shortcuts (arrows, Space...) need the active window
    qtbot.waitUntil(w.isActiveWindow, timeout=5000)
    yield w
    w.close()


@pytest.fixture
def loaded(window, qtbot, tiny_model, image_dir):
    """The window with the tiny model and the image folder open, first detections shown."""
    window.open_folder(image_dir)
    window.open_model(tiny_model)
    qtbot.waitUntil(lambda: window.first_detections_shown, timeout=60000)
    qtbot.waitUntil(window.worker.is_idle, timeout=30000)
    return window


@pytest.fixture(autouse=True)
def _private_data_dir(tmp_path, monkeypatch):
    """Autosaved edits (gui/edits.py) go to the test's folder, never to the user's data dir."""
    monkeypatch.setenv("SCRIPTLENS_DATA_DIR", str(tmp_path / "data"))
