"""The window with its model in a child process, as `scriptlens` runs it (gui/app.py main):
same detections as in-process, and a model process that dies costs a message, not the window."""

from __future__ import annotations

import os
import signal

import pytest
from PySide6.QtCore import QSettings

from engine.forward_process import ForwardProcess
from gui.image_list import STATE_ERROR
from gui.main_window import MainWindow
from gui.settings import Settings

from gui_test_data import make_images


def box_texts(window) -> list[str]:
    return sorted(item.chip.text for item in window.canvas.overlay.items if item.chip is not None)


@pytest.fixture
def remote_window(qtbot, tmp_path):
    process = ForwardProcess()
    settings = Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    w = MainWindow(settings, backend_loader=process.load_backend)
    qtbot.addWidget(w)
    w.resize(1200, 800)
    w.show()
    yield w, process
    w.close()
    process.close()


def test_the_window_shows_the_same_detections_and_survives_a_dead_model_process(remote_window, qtbot, tmp_path, tiny_model, image_dir):
    w, process = remote_window
    w.open_folder(image_dir)
    w.open_model(tiny_model)
    qtbot.waitUntil(lambda: w.first_detections_shown, timeout=60000)
    assert box_texts(w) == ["a 0.90", "b 0.60", "c 0.35"]  # what the in-process window shows (test_browsing)
    assert process.is_running()

    os.kill(process.pid, signal.SIGKILL if hasattr(signal, "SIGKILL") else signal.SIGTERM)
    qtbot.waitUntil(lambda: not process.is_running(), timeout=10000)
    fresh = tmp_path / "fresh"  # images the prefetcher cannot have scored before the kill
    make_images(fresh, 2)
    w.open_folder(fresh)
    qtbot.waitUntil(lambda: "model process stopped" in w.banner.text(), timeout=30000)
    assert "Open the model again" in w.banner.text()
    assert w.image_list.model.state(w.current_row) == STATE_ERROR

    w.open_model(tiny_model)  # a fresh model process; browsing goes on
    qtbot.waitUntil(lambda: process.is_running() and box_texts(w) == ["a 0.90", "b 0.60", "c 0.35"], timeout=60000)
    assert w.isVisible()
