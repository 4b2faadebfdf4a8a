"""Editing predictions: select, delete, draw, move, change class; undo / redo; the export
writes the edits; edits survive image switches, threshold changes and closing the window."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import QPointF, Qt

from gui.export_dialog import ExportChoice


# Mouse events carry whole view pixels: at the canvas's fit-to-window zoom (~1.3 here) a press
# and a release each land up to half a view pixel off, so a dragged edge is within ~1.5 px.
TOL = 1.5


def view_point(w, x, y):
    return w.canvas.mapFromScene(QPointF(x, y))


def drag(w, qtbot, start, end):
    vp = w.canvas.viewport()
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=view_point(w, *start))
    qtbot.mouseMove(vp, view_point(w, (start[0] + end[0]) / 2, (start[1] + end[1]) / 2))
    qtbot.mouseMove(vp, view_point(w, *end))
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=view_point(w, *end))


def click(w, qtbot, x, y):
    vp = w.canvas.viewport()
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=view_point(w, x, y))
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=view_point(w, x, y))


def classes(w):
    return sorted(w.detections.class_id.tolist())


def test_edit_undo_redo_and_export_of_edits(loaded, qtbot, tmp_path):
    w = loaded
    w.go_to(0)
    qtbot.waitUntil(lambda: len(w.detections) == 3, timeout=30000)
    assert classes(w) == [0, 1, 2]
    qtbot.keyClick(w, Qt.Key.Key_E)  # edit mode
    assert w.canvas.editor.active
    click(w, qtbot, 200, 200)  # inside b (class 1, centred at 200,200)
    assert w.canvas.editor.selected() >= 0
    qtbot.keyClick(w, Qt.Key.Key_Delete)
    assert classes(w) == [0, 2]
    assert w.image_list.model.mark(0) == "✎" and w.canvas.badge() == "edited"
    drag(w, qtbot, (20, 250), (60, 300))  # empty image: a new box of class 0, conf 1.0
    assert classes(w) == [0, 0, 2]
    new = w.detections.xyxy[-1].tolist()
    assert new == pytest.approx([20, 250, 60, 300], abs=TOL)
    qtbot.keyClick(w, Qt.Key.Key_C)  # the new box (selected) becomes class 1
    assert classes(w) == [0, 1, 2]
    drag(w, qtbot, (40, 275), (50, 285))  # move it by (10, 10)
    assert w.detections.xyxy[-1].tolist() == pytest.approx([30, 260, 70, 310], abs=TOL)
    drag(w, qtbot, (70, 310), (90, 315))  # resize from its bottom-right corner
    assert w.detections.xyxy[-1].tolist() == pytest.approx([30, 260, 90, 315], abs=TOL)

    qtbot.keyClick(w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo the resize
    assert w.detections.xyxy[-1].tolist() == pytest.approx([30, 260, 70, 310], abs=TOL)
    qtbot.keyClick(w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo the move
    qtbot.keyClick(w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo the class change
    assert classes(w) == [0, 0, 2]
    qtbot.keyClick(w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert classes(w) == [0, 1, 2]  # redo the class change

    # switching images and moving a slider keep the edit; the overlay shows it unfiltered
    edited = w.detections
    w.next_image()
    qtbot.waitUntil(lambda: len(w.detections) == 3 and w.current_row == 1, timeout=30000)
    w.side_panel.conf_slider.setValue(0.95)
    w.go_to(0)
    assert w.detections == edited
    w.side_panel.conf_slider.setValue(0.25)

    out = tmp_path / "out"
    w.last_export_summary = None
    w.export(ExportChoice(whole_folder=True, out_dir=out))
    qtbot.waitUntil(lambda: w.last_export_summary is not None, timeout=60000)
    lines = (out / "img000.txt").read_text().splitlines()
    assert [ln.split()[0] for ln in lines] == ["0", "2", "1"]  # a, c, the drawn box (class 1)
    # the drawn box after undo/redo: (20, 250)-(60, 300) in a 320x320 image
    assert [float(v) for v in lines[2].split()[1:]] == pytest.approx([0.125, 0.859375, 0.125, 0.15625], abs=0.005)
    assert len((out / "img001.txt").read_text().splitlines()) == 3  # not edited: the model's boxes
    manifest = json.loads((out / "scriptlens_manifest.json").read_text())
    assert manifest["edited_images"] == 1

    # undo everything: the image is the model's again
    while w.edits.undo_stack.canUndo():
        w.edits.undo_stack.undo()
    assert classes(w) == [0, 1, 2] and w.image_list.model.mark(0) == "" and w.canvas.badge() == ""


def test_edits_are_autosaved_and_restored_after_closing(loaded, qtbot, tiny_model, image_dir, tmp_path):
    from PySide6.QtCore import QSettings

    from gui.main_window import MainWindow
    from gui.settings import Settings

    w = loaded
    w.go_to(0)
    qtbot.waitUntil(lambda: len(w.detections) == 3, timeout=30000)
    w.set_edit_mode(True)
    w.canvas.editor.select(0)
    w.canvas.editor.delete_selected()
    assert len(w.detections) == 2
    kept = w.detections
    w.close()  # no prompt: the edit is already on disk
    assert w.edits.file is not None and w.edits.file.exists()

    settings = Settings(QSettings(str(tmp_path / "settings2.ini"), QSettings.Format.IniFormat))
    w2 = MainWindow(settings)
    qtbot.addWidget(w2)
    w2.show()
    w2.open_folder(image_dir)
    w2.open_model(tiny_model)
    qtbot.waitUntil(lambda: w2.first_detections_shown, timeout=60000)
    w2.go_to(0)
    qtbot.waitUntil(lambda: len(w2.detections) == 2, timeout=30000)
    assert w2.detections.class_id.tolist() == kept.class_id.tolist()
    assert "Restored your edits of 1 image" in w2.banner.text()
    assert w2.image_list.model.mark(0) == "✎" and all(w2.image_list.model.mark(r) == "" for r in range(1, len(w2.paths)))
    # edits belong to a (folder, model) pair: another model on this folder shows none, nor their marks
    other = tmp_path / "other_model.torchscript"
    other.write_bytes(tiny_model.read_bytes())
    w2.open_model(other)
    qtbot.waitUntil(lambda: w2.model_info is not None and w2.model_info.path == other, timeout=60000)
    qtbot.waitUntil(lambda: len(w2.detections) == 3, timeout=30000)
    assert w2.image_list.model.mark(0) == ""
    w2.close()


def _action(menu, text):
    return next(a for a in menu.actions() if a.text() == text)


def test_context_menu_and_edit_menu_change_class_and_delete(loaded, qtbot):
    w = loaded
    w.go_to(0)
    qtbot.waitUntil(lambda: len(w.detections) == 3, timeout=30000)
    names = w.model_info.names
    qtbot.keyClick(w, Qt.Key.Key_E)
    assert w.edit_context_menu(QPointF(200, 200)) is not None  # on box b (class 1): selects it
    menu = w.edit_context_menu(QPointF(200, 200))
    assert _action(menu, f"1  {names[1]}").isChecked()  # its class is ticked
    _action(menu, f"2  {names[2]}").trigger()
    assert classes(w) == [0, 2, 2]
    _action(w.edit_context_menu(QPointF(200, 200)), "Delete box").trigger()
    assert classes(w) == [0, 2]

    # on an empty spot the menu sets the class of the next drawn box
    empty = w.edit_context_menu(QPointF(40, 280))
    assert [a.text() for a in empty.actions() if a.isCheckable()] == [f"{k}  {n}" for k, n in enumerate(names)]
    _action(empty, f"2  {names[2]}").trigger()
    drag(w, qtbot, (20, 250), (60, 300))
    assert classes(w) == [0, 2, 2]

    # the Edit menu's actions act on the selected box (the new one is selected)
    w.cycle_class_action.trigger()
    assert sorted(classes(w)) == [0, 0, 2]  # class 2 wraps to 0
    w.delete_box_action.trigger()
    assert classes(w) == [0, 2]
    for _ in range(5):
        w.edits.undo_stack.undo()
    assert classes(w) == [0, 1, 2]  # every menu edit was one undo step


def test_context_menu_only_in_edit_mode(loaded, qtbot):
    w = loaded
    qtbot.waitUntil(lambda: len(w.detections) == 3, timeout=30000)
    assert not w.canvas.editor.active
    assert w.edit_context_menu(QPointF(200, 200)) is None
