"""Open, navigate, tune thresholds (without running the model), filter classes, errors."""

from __future__ import annotations


import pytest
from PySide6.QtCore import Qt

from gui.image_list import STATE_ERROR

from gui_test_data import TINY_NAMES


def box_texts(window) -> list[str]:
    return sorted(item.chip.text for item in window.canvas.overlay.items if item.chip is not None)


def test_the_window_is_built_without_importing_torch(tmp_path):
    import os
    import subprocess
    import sys

    code = ("import sys, os; os.environ['QT_QPA_PLATFORM'] = 'offscreen'; import gui.app, gui.main_window; "
            "from gui.app import create_window; app = gui.app.make_app(); w = create_window(); "
            "assert 'torch' not in sys.modules, 'torch imported'; w.engine.close(); w.reader.close()")
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path))  # not the user's settings
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr


def test_open_shows_first_image_with_detections(loaded):
    w = loaded
    assert w.current_row == 0
    assert w.canvas.has_image()
    assert w.model_info.names == TINY_NAMES
    # conf 0.25, IoU 0.45: a 0.90, b 0.60, c 0.35 (the 0.80 duplicate is suppressed)
    assert box_texts(w) == ["a 0.90", "b 0.60", "c 0.35"]
    assert w.image_list.model.count(0) == 3
    assert "inference" in w.timings_label.text()
    assert "cpu" in w.device_label.text()


def test_navigate_with_keys_and_actions(loaded, qtbot):
    w = loaded
    w.activateWindow()
    qtbot.keyClick(w, Qt.Key.Key_Right)
    assert w.current_row == 1
    qtbot.keyClick(w, Qt.Key.Key_D)
    assert w.current_row == 2
    qtbot.keyClick(w, Qt.Key.Key_A)
    assert w.current_row == 1
    qtbot.keyClick(w, Qt.Key.Key_End)
    assert w.current_row == len(w.paths) - 1
    qtbot.keyClick(w, Qt.Key.Key_Home)
    assert w.current_row == 0
    qtbot.keyClick(w, Qt.Key.Key_Left)  # stays on the first image
    assert w.current_row == 0
    w.next_image()
    qtbot.waitUntil(lambda: len(w.detections) == 3, timeout=30000)
    assert w.current_path == w.paths[1]


def test_slider_updates_overlay_without_running_the_model(loaded, qtbot):
    w = loaded
    calls = w.worker.model_calls
    w.side_panel.conf_slider.setValue(0.5)
    assert box_texts(w) == ["a 0.90", "b 0.60"]  # synchronous: follows the slider
    w.side_panel.conf_slider.setValue(0.7)
    assert box_texts(w) == ["a 0.90"]
    w.side_panel.conf_slider.setValue(0.25)
    w.side_panel.iou_slider.setValue(0.95)  # the duplicate survives a lax NMS
    assert box_texts(w) == ["a 0.80", "a 0.90", "b 0.60", "c 0.35"]
    w.side_panel.agnostic_box.setChecked(True)
    w.side_panel.max_det_spin.setValue(1)
    assert box_texts(w) == ["a 0.90"]
    qtbot.wait(200)
    assert w.worker.model_calls == calls


def test_class_filter_hides_classes_but_keeps_counts(loaded):
    w = loaded
    sp = w.side_panel
    sp.class_list.item(0).setCheckState(Qt.CheckState.Unchecked)
    assert w.thresholds().classes == (1, 2)
    assert box_texts(w) == ["b 0.60", "c 0.35"]
    assert "(1)" in sp.class_list.item(0).text()  # count of the hidden class still shown
    sp.none_button.click()
    assert box_texts(w) == []
    sp.all_button.click()
    assert len(w.detections) == 3


def test_display_toggles_and_overlay_visibility(loaded):
    w = loaded
    w.side_panel.show_conf_box.setChecked(False)
    assert box_texts(w) == ["a", "b", "c"]
    w.side_panel.show_labels_box.setChecked(False)
    w.side_panel.show_conf_box.setChecked(True)
    assert box_texts(w) == ["0.35", "0.60", "0.90"]
    w.toggle_overlay_action.trigger()
    assert not any(item.isVisible() for item in w.canvas.overlay.items)
    w.toggle_overlay_action.trigger()
    assert all(item.isVisible() for item in w.canvas.overlay.items)


def test_image_list_filter_limits_navigation(loaded, qtbot):
    w = loaded
    w.image_list.filter_edit.setText("IMG003")
    qtbot.waitUntil(lambda: w.image_list.proxy.rowCount() == 1, timeout=5000)
    row = next(i for i, p in enumerate(w.paths) if p.name == "img003.png")
    assert w.image_list.visible_rows() == [row]
    w.go_to(row)
    w.next_image()  # nothing else visible: stays
    assert w.current_row == row


def test_corrupt_image_shows_an_error_entry_and_browsing_continues(loaded, qtbot):
    w = loaded
    broken = next(i for i, p in enumerate(w.paths) if p.name == "img002_broken.jpg")
    w.go_to(broken)
    # the folder scan may have marked the row already (issue 25 item 12): wait for the visit's banner
    qtbot.waitUntil(lambda: "img002_broken.jpg" in w.banner.text(), timeout=30000)
    assert w.image_list.model.state(broken) == STATE_ERROR
    assert "img002_broken.jpg" in w.image_list.model.error(broken)
    assert len(w.detections) == 0
    w.next_image()
    qtbot.waitUntil(lambda: len(w.detections) == 3 and w.canvas.has_image(), timeout=30000)
    assert w.current_row == broken + 1


def test_bad_model_shows_an_error_and_the_app_stays_usable(window, qtbot, tmp_path, image_dir, tiny_model):
    w = window
    bad = tmp_path / "bad.torchscript"
    bad.write_bytes(b"definitely not a TorchScript archive")
    w.open_folder(image_dir, wait=True)
    w.open_model(bad)
    qtbot.waitUntil(lambda: "Cannot load the model" in w.banner.text(), timeout=60000)
    assert "bad.torchscript" in w.banner.text()
    w.next_image()
    qtbot.waitUntil(lambda: w.canvas.has_image() and w.current_row == 1, timeout=30000)
    w.open_model(tiny_model)
    qtbot.waitUntil(lambda: len(w.detections) == 3, timeout=60000)


def test_hover_reports_class_confidence_and_pixels(loaded):
    w = loaded
    item = next(i for i in w.canvas.overlay.items if i.chip and i.chip.text == "a 0.90")
    w.canvas.boxHovered.emit(item.index)
    message = w.statusBar().currentMessage()
    assert message.startswith("a 0.90") and "x1 75" in message and "y1 80" in message


def test_label_chips_ignore_zoom(loaded):
    from PySide6.QtWidgets import QGraphicsItem

    w = loaded
    chip = w.canvas.overlay.items[0].chip
    assert chip.flags() & QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations
    w.canvas.actual_size()
    assert w.canvas.zoom_factor() == pytest.approx(1.0)
    w.canvas.zoom_in()
    assert w.canvas.zoom_factor() > 1.0
    w.canvas.fit()


def test_settings_are_persisted(loaded, tmp_path):
    w = loaded
    w.side_panel.conf_slider.setValue(0.4)
    w.save_settings()
    assert w.settings.get_float("thresholds/conf", 0) == pytest.approx(0.4)
    assert w.settings.get_str("last/folder").endswith("images")
    assert w.settings.recent("models")[0].endswith("tiny.torchscript")


def test_help_lists_the_shortcuts(window):
    keys = dict(window.shortcut_table())
    joined = " ".join(keys)
    for key in ("Ctrl+O", "Ctrl+Shift+O", "Ctrl+S", "Right", "Home", "End", "Space", "Ctrl+Q", "F"):
        assert key in joined, key


def test_dropping_an_image_opens_its_folder_on_it(window, qtbot, image_dir):
    window.open_path(image_dir / "img003.png")
    qtbot.waitUntil(lambda: window.current_path is not None, timeout=10000)
    assert window.current_path.name == "img003.png"
    assert window.image_list.view.currentIndex().data() == "img003.png"


def test_model_settings_override_names_and_recent_menu(loaded, qtbot):
    from gui.model_settings_dialog import ModelOverrides

    w = loaded
    w.open_model(w.model_info.path, ModelOverrides(names=("cat", "dog", "cow")))
    qtbot.waitUntil(lambda: w.model_info.names == ("cat", "dog", "cow"), timeout=60000)
    qtbot.waitUntil(lambda: len(w.detections) == 3, timeout=30000)
    assert sorted(i.chip.text for i in w.canvas.overlay.items) == ["cat 0.90", "cow 0.35", "dog 0.60"]
    recent = [a.text() for a in w.recent_menu.actions() if a.text()]
    assert any(t.endswith("tiny.torchscript") for t in recent)
    assert any(t.endswith("images") for t in recent)


def test_reduced_precision_is_a_model_setting(loaded, qtbot):
    """The dialog's checkbox reaches the engine; what the model then runs in is what this CPU
    allows (bf16 with bfloat16 units, else float32), shown in the model panel."""
    from engine.cpu_features import has_bf16_units
    from gui.model_settings_dialog import ModelOverrides, ModelSettingsDialog

    w = loaded
    dialog = ModelSettingsDialog(ModelOverrides(), w.model_info.input_hw)
    qtbot.addWidget(dialog)
    assert not dialog.half_box.isChecked()
    dialog.half_box.setChecked(True)
    dialog._on_accepted()
    assert dialog.overrides() == ModelOverrides(half=True)
    before = w.model_info
    w.open_model(before.path, dialog.overrides())
    qtbot.waitUntil(lambda: w.model_info is not before, timeout=60000)
    expected = "bf16" if has_bf16_units() else "fp32"
    assert (w.model_info.half, w.model_info.precision) == (expected == "bf16", expected)
    assert w.side_panel.model_info_text("Device") == f"cpu ({expected})"
    assert ("Reduced precision needs" in w.banner.text()) is (expected == "fp32")  # a refusal is said
    qtbot.waitUntil(lambda: len(w.detections) == 3, timeout=30000)
    assert box_texts(w) == ["a 0.90", "b 0.60", "c 0.35"]
    assert ModelSettingsDialog(w.model_controller.overrides).half_box.isChecked()  # the setting is kept for the next reload


def test_real_mouse_hover_highlights_a_box(loaded, qtbot):
    w = loaded
    w.canvas.actual_size()
    item = next(i for i in w.canvas.overlay.items if i.chip and i.chip.text == "b 0.60")
    w.canvas.centerOn(item.rect().center())
    pos = w.canvas.mapFromScene(item.rect().center())
    qtbot.mouseMove(w.canvas.viewport(), pos)
    qtbot.waitUntil(lambda: w.statusBar().currentMessage().startswith("b 0.60"), timeout=5000)
    assert "x1 170" in w.statusBar().currentMessage() and "(60×60 px)" in w.statusBar().currentMessage()
    assert item.pen().widthF() > 2


def test_wheel_zooms_around_the_cursor(loaded, qtbot):
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    w = loaded
    canvas = w.canvas
    canvas.actual_size()
    canvas.zoom_by(4.0)  # larger than the viewport, so it can scroll
    pos = QPoint(canvas.viewport().width() // 2 + 40, canvas.viewport().height() // 2 + 30)
    before = canvas.mapToScene(pos)
    event = QWheelEvent(QPointF(pos), QPointF(canvas.viewport().mapToGlobal(pos)), QPoint(0, 0), QPoint(0, 120),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(canvas.viewport(), event)
    assert canvas.zoom_factor() == pytest.approx(5.0)
    after = canvas.mapToScene(pos)
    assert abs(after.x() - before.x()) < 2 and abs(after.y() - before.y()) < 2


def test_zoom_and_overlay_keys(loaded, qtbot):
    w = loaded
    qtbot.keyClick(w, Qt.Key.Key_1)
    assert w.canvas.zoom_factor() == pytest.approx(1.0)
    qtbot.keyClick(w, Qt.Key.Key_Plus)
    assert w.canvas.zoom_factor() == pytest.approx(1.25)
    qtbot.keyClick(w, Qt.Key.Key_Minus)
    assert w.canvas.zoom_factor() == pytest.approx(1.0)
    qtbot.keyClick(w, Qt.Key.Key_F)
    assert w.canvas.zoom_factor() != pytest.approx(1.0)
    qtbot.keyClick(w, Qt.Key.Key_Space)
    assert not w.canvas.overlay.items[0].isVisible()
    qtbot.keyClick(w, Qt.Key.Key_Space)
    assert w.canvas.overlay.items[0].isVisible()


def test_letters_are_shortcuts_until_the_filter_is_clicked(loaded, qtbot):
    w = loaded
    qtbot.keyClick(w, Qt.Key.Key_D)
    assert w.current_row == 1 and w.image_list.filter_edit.text() == ""
    w.find_action.trigger()
    qtbot.keyClicks(w.image_list.filter_edit, "img00")
    assert w.image_list.filter_edit.text() == "img00"
    qtbot.keyClick(w.image_list.filter_edit, Qt.Key.Key_Return)
    assert not w.image_list.filter_edit.hasFocus()


def test_neighbours_are_prefetched(loaded, qtbot):
    w = loaded
    qtbot.waitUntil(w.is_idle, timeout=30000)
    cached = {p for p in w.paths if w.cache.get(w.model_id, p) is not None}
    assert w.paths[1] in cached and w.paths[2] in cached
    calls = w.worker.model_calls
    w.next_image()  # already there: shown from the cache, no model run for it
    assert len(w.detections) == 3 and "cached" in w.timings_label.text()
    qtbot.waitUntil(w.is_idle, timeout=30000)
    assert w.worker.model_calls - calls <= 1  # at most one new neighbour


def test_holding_the_arrow_key_through_a_big_folder_builds_no_queue(window, qtbot, tiny_model, tmp_path):
    from gui_test_data import make_images

    w = window
    make_images(tmp_path / "many", 120)
    w.open_folder(tmp_path / "many", wait=True)
    w.open_model(tiny_model)
    qtbot.waitUntil(lambda: w.first_detections_shown, timeout=60000)
    qtbot.waitUntil(w.is_idle, timeout=30000)
    calls = w.worker.model_calls
    for _ in range(119):  # auto-repeat: many key events before the worker gets a turn
        qtbot.keyClick(w, Qt.Key.Key_Right)
    assert w.current_row == 119
    qtbot.waitUntil(lambda: len(w.detections) == 3 and w.is_idle(), timeout=30000)
    assert w.worker.model_calls - calls < 20  # not 119: stale requests were dropped
    assert w.current_path == w.paths[119] and w.canvas.has_image()


def test_thresholds_and_options_are_restored_in_a_new_window(loaded, qtbot, tmp_path):
    from gui.main_window import MainWindow

    w = loaded
    w.side_panel.conf_slider.setValue(0.61)
    w.side_panel.iou_slider.setValue(0.3)
    w.side_panel.show_conf_box.setChecked(False)
    w.close()
    again = MainWindow(w.settings)
    qtbot.addWidget(again)
    t = again.thresholds()
    assert (t.conf, t.iou) == (0.61, 0.3)
    assert not again.side_panel.show_conf_box.isChecked()
    again.close()
