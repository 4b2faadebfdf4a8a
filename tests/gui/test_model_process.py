"""The window with its model in a child process, as `scriptlens` runs it (gui/app.py main):
same detections as in-process, and a model process that dies costs a message, not the window."""

from __future__ import annotations

import os
import signal
import time

import pytest
from PySide6.QtCore import QSettings, Qt

from engine.forward_process import ForwardProcess
from gui.export_dialog import ExportChoice
from gui.image_list import STATE_ERROR
from gui.main_window import MainWindow
from gui.model_settings_dialog import ModelOverrides
from gui.settings import Settings

import model_factory as mf
from gui_test_data import TINY_BOXES, make_images


def box_texts(window) -> list[str]:
    return sorted(item.chip.text for item in window.canvas.overlay.items if item.chip is not None)


@pytest.fixture
def remote_window(qtbot, tmp_path):
    process = ForwardProcess()
    w = window_on(process, qtbot, tmp_path)
    w.resize(1200, 800)
    yield w, process
    w.close()
    process.close()


def window_on(process: ForwardProcess, qtbot, tmp_path) -> MainWindow:
    """A shown window whose models run in `process`, with its own settings file."""
    settings = Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    w = MainWindow(settings, model_process=process)
    qtbot.addWidget(w)
    w.show()
    return w


def open_tiny(w, qtbot, tiny_model, image_dir) -> None:
    w.open_folder(image_dir)
    w.open_model(tiny_model)
    qtbot.waitUntil(lambda: w.first_detections_shown, timeout=60000)


def open_fresh_folder(w, tmp_path):
    """Images no prefetch can have scored yet: showing them really runs the model."""
    fresh = tmp_path / "fresh"
    make_images(fresh, 2)
    w.open_folder(fresh)
    return fresh


def test_the_window_shows_the_same_detections_and_survives_a_dead_model_process(remote_window, qtbot, tmp_path, tiny_model, image_dir):
    w, process = remote_window
    open_tiny(w, qtbot, tiny_model, image_dir)
    assert box_texts(w) == ["a 0.90", "b 0.60", "c 0.35"]  # what the in-process window shows (test_browsing)
    assert process.is_running()

    os.kill(process.pid, signal.SIGKILL if hasattr(signal, "SIGKILL") else signal.SIGTERM)
    qtbot.waitUntil(lambda: not process.is_running(), timeout=10000)
    open_fresh_folder(w, tmp_path)
    qtbot.waitUntil(lambda: "model process stopped" in w.banner.text(), timeout=30000)
    assert "Open the model again" in w.banner.text()
    assert w.image_list.model.state(w.current_row) == STATE_ERROR

    assert w.banner.action.isVisible() and w.banner.action.text() == "Reload model"
    qtbot.mouseClick(w.banner.action, Qt.MouseButton.LeftButton)  # a fresh model process; browsing goes on
    assert not w.banner.isVisible()
    qtbot.waitUntil(lambda: process.is_running() and box_texts(w) == ["a 0.90", "b 0.60", "c 0.35"], timeout=60000)
    assert w.isVisible()
    assert w.image_list.model.state(w.current_row) != STATE_ERROR  # scored now: the list says so too
    assert w.image_list.model.error(w.current_row) == ""

    # a whole-folder export runs the uncached images through the new process
    out = tmp_path / "labels"
    w.last_export_summary = None
    assert w.export(ExportChoice(whole_folder=True, out_dir=out)) is not None
    qtbot.waitUntil(lambda: w.last_export_summary is not None, timeout=60000)
    assert (w.last_export_summary.written, w.last_export_summary.failed) == (2, [])
    for name in ("img000", "img001"):  # the lines the in-process export writes (tests/gui/test_export.py)
        assert (out / f"{name}.txt").read_text().splitlines() == [
            "0 0.312500 0.312500 0.156250 0.125000", "1 0.625000 0.625000 0.187500 0.187500",
            "2 0.781250 0.250000 0.093750 0.093750"], name


def test_opening_another_model_stops_one_stuck_on_an_image(remote_window, qtbot, tmp_path, tiny_model, image_dir):
    w, process = remote_window
    stuck = mf.stuck_on_images_model(tmp_path / "stuck.torchscript", list(TINY_BOXES))
    w.open_folder(image_dir)
    w.open_model(stuck)
    qtbot.waitUntil(lambda: process.busy_for() > 1.5, timeout=60000)  # loaded, now on the first image for minutes
    stuck_pid = process.pid
    started = time.monotonic()
    w.open_model(tiny_model)
    assert "stopped it to open tiny.torchscript" in w.statusBar().currentMessage()
    qtbot.waitUntil(lambda: box_texts(w) == ["a 0.90", "b 0.60", "c 0.35"], timeout=60000)
    assert process.pid != stuck_pid and process.is_running()
    assert time.monotonic() - started < 30  # a fresh child (torch import included), not minutes
    assert w.banner.level != "error" or not w.banner.isVisible(), w.banner.text()


def test_closing_the_window_does_not_wait_for_a_stuck_model(qtbot, tmp_path, image_dir):
    process = ForwardProcess()
    w = window_on(process, qtbot, tmp_path)
    try:
        w.open_folder(image_dir)
        w.open_model(mf.stuck_on_images_model(tmp_path / "stuck.torchscript", list(TINY_BOXES)))
        qtbot.waitUntil(lambda: process.busy_for() > 0.5, timeout=60000)
        started = time.monotonic()
        w.close()
        assert time.monotonic() - started < 5  # the engine thread's 10 s wait was not needed
        assert not process.is_running()
    finally:
        process.close()


def test_a_model_that_fails_to_load_leaves_the_previous_one_working(remote_window, qtbot, tmp_path, tiny_model, image_dir):
    w, process = remote_window
    open_tiny(w, qtbot, tiny_model, image_dir)
    broken = mf.raising_model(tmp_path / "broken.torchscript")
    w.open_model(broken)
    qtbot.waitUntil(lambda: "Still using tiny.torchscript" in w.banner.text(), timeout=60000)
    fresh = open_fresh_folder(w, tmp_path)
    qtbot.waitUntil(lambda: w.current_path is not None and w.current_path.parent == fresh
                    and box_texts(w) == ["a 0.90", "b 0.60", "c 0.35"], timeout=60000)


def test_reload_after_a_failed_load_and_a_crash_keeps_the_models_own_settings(remote_window, qtbot, tmp_path, tiny_model, image_dir):
    w, process = remote_window
    w.open_folder(image_dir)
    w.open_model(tiny_model, ModelOverrides(names=("p", "q", "r")))  # the user's class names
    qtbot.waitUntil(lambda: box_texts(w) == ["p 0.90", "q 0.60", "r 0.35"], timeout=60000)
    w.open_model(mf.raising_model(tmp_path / "broken.torchscript"))  # fails: the renamed model stays
    qtbot.waitUntil(lambda: "Still using tiny.torchscript" in w.banner.text(), timeout=60000)

    os.kill(process.pid, signal.SIGKILL if hasattr(signal, "SIGKILL") else signal.SIGTERM)
    qtbot.waitUntil(lambda: not process.is_running(), timeout=10000)
    open_fresh_folder(w, tmp_path)
    qtbot.waitUntil(lambda: w.banner.action.isVisible(), timeout=30000)
    qtbot.mouseClick(w.banner.action, Qt.MouseButton.LeftButton)
    # reloaded with its own names, not the failed file's defaults
    qtbot.waitUntil(lambda: box_texts(w) == ["p 0.90", "q 0.60", "r 0.35"], timeout=60000)


def test_an_onnx_file_opens_in_the_model_process_without_torch(qtbot, tmp_path, image_dir):
    """What `scriptlens gui --model best.onnx` does: the launcher sees an ONNX file, so the model
    process starts without importing torch, and never needs it."""
    from engine.forward_process import needs_no_torch

    onnx = mf.anchor_free_onnx(tmp_path / "best.onnx", list(TINY_BOXES), names=["a", "b", "c"])
    assert needs_no_torch(onnx, "auto") and not needs_no_torch(tmp_path / "missing.onnx", "auto")
    process = ForwardProcess()
    process.start(lazy_torch=True)
    w = window_on(process, qtbot, tmp_path)
    try:
        w.open_folder(image_dir)
        w.open_model(onnx)
        qtbot.waitUntil(lambda: w.first_detections_shown, timeout=60000)
        assert box_texts(w) == ["a 0.90", "b 0.60", "c 0.35"]
        assert w.side_panel.model_info_text("Runs on") == "ONNX Runtime"
        assert w.side_panel.model_info_tip("Runs on") == "ONNX file, run by ONNX Runtime"
        if os.path.exists(f"/proc/{process.pid}/maps"):  # Linux: what the process has loaded
            with open(f"/proc/{process.pid}/maps") as maps:
                assert "libtorch" not in maps.read()
    finally:
        w.close()
        process.close()
