"""Issue 25, items 14 and 4 in the window: plain words and help where jargon was, a title that
names the app once, profile dialogs away from the image folder; x.png beside x.jpg is left out
of the metrics as `scriptlens eval` leaves it out."""

from __future__ import annotations

import shutil

from PySide6.QtWidgets import QApplication


def test_model_box_and_controls_speak_plainly(loaded, tmp_path):
    w = loaded
    layout = w.side_panel.model_info_text("Layout")
    assert layout == "YOLOv8/11-style, anchor-free" and "_" not in layout  # not "anchor_free"
    assert "Ultralytics" in w.side_panel.model_info_tip("Layout")
    assert w.side_panel.agnostic_box.toolTip() and w.side_panel.max_det_spin.toolTip()
    QApplication.instance().setApplicationDisplayName("ScriptLens")  # what gui/app.py sets
    assert w.windowTitle() == "images"  # Qt appends " — ScriptLens" itself; we used to add it too
    assert w.profiles.profile_folder() != str(w.paths[0].parent)  # not the image folder
    w.save_profile(tmp_path / "p" / "t.json")
    assert w.profiles.profile_folder() == str(tmp_path / "p")  # then where the last one went


def test_png_beside_jpg_is_left_out_of_the_metrics(window, qtbot, tiny_model, image_dir):
    labels = image_dir.parent / "labels"
    labels.mkdir()
    (labels / "img000.txt").write_text("0 0.312500 0.312500 0.156250 0.125000\n")
    shutil.copy(image_dir / "img000.png", image_dir / "img000.jpg")  # both read labels/img000.txt
    window.open_folder(image_dir)
    window.open_model(tiny_model)
    qtbot.waitUntil(lambda: window.folder_stats is not None and window.folder_stats.floor == 0.001, timeout=60000)
    scored = set(window.folder_stats.images)
    assert str(image_dir / "img000.jpg") in scored and str(image_dir / "img000.png") not in scored
    assert int(window.folder_stats.scored.gt_count.sum()) == 1  # the shared file counted once
