"""The session holds the thresholds; one function decides what an image shows and counts
(issue 23); per-class thresholds start where the global one is; banners go with their cause
(issue 25, items 3 and 11)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from engine.detections import Detections
from engine.thresholds import Thresholds
from gui.session import Session

ONE_BOX = Detections(np.array([[10.0, 10.0, 50.0, 50.0]]), np.array([1.0]), np.array([0]))


def test_session_says_what_changed():
    s = Session()
    seen = []
    s.thresholdsChanged.connect(lambda new, old: seen.append((new.conf, old.conf, new.iou != old.iou)))
    s.update_thresholds(conf=0.4)
    s.update_thresholds(conf=0.4)  # no change, no signal
    s.update_thresholds(iou=0.6)
    assert seen == [(0.4, 0.25, False), (0.4, 0.4, True)]


def test_widgets_write_the_session_and_follow_it(loaded):
    w = loaded
    w.side_panel.conf_slider.setValue(0.55)
    assert w.session.thresholds.conf == 0.55 and w.thresholds() is w.session.thresholds
    w.session.update_thresholds(conf=0.3, iou=0.7, max_det=50)  # e.g. Best F1, a profile
    sp = w.side_panel
    assert (sp.conf_slider.value(), sp.iou_slider.value(), sp.max_det_spin.value()) == (0.3, 0.7, 50)
    sp.class_list.item(1).setCheckState(Qt.CheckState.Unchecked)
    assert w.session.thresholds.classes == (0, 2)


def test_ticking_own_threshold_starts_at_the_global_value(loaded):
    w = loaded
    w.session.update_thresholds(conf=0.5)
    before = w.detections
    item = w.threshold_panel.class_table.item(1, 0)
    item.setCheckState(Qt.CheckState.Checked)
    assert w.session.thresholds.class_conf == ((1, 0.5),)  # not 0.25: nothing moves until the user does
    assert w.detections.class_id.tolist() == before.class_id.tolist()


def test_count_of_an_edited_prefetched_neighbour_with_a_class_filter(loaded, qtbot):
    w = loaded
    neighbour = w.paths[1]
    w.edits.set(neighbour, ONE_BOX, (320, 320))
    w.go_to(0)
    w.side_panel.class_list.item(2).setCheckState(Qt.CheckState.Unchecked)  # class filter on
    qtbot.waitUntil(w.is_idle, timeout=30000)
    w.cache.clear()  # the neighbour is computed ahead again
    w.go_to(0)
    qtbot.waitUntil(lambda: w.image_list.model.count(1) is not None, timeout=30000)  # the prefetch landed
    assert w.image_list.model.count(1) == 1  # its own (edited) box, not the model's two
    w.side_panel.conf_slider.setValue(0.3)  # review keys recompute the column after a pause
    qtbot.wait(400)
    assert w.image_list.model.count(1) == 1
    assert w.image_list.model.count(0) == 2  # unedited: a (0.90) and b (0.60); c hidden by the filter
    # the same rule as the canvas: what the current image draws is its list count
    assert w.image_list.model.count(0) == len(w.detections)


def test_image_banner_goes_when_a_good_image_shows(loaded, qtbot):
    w = loaded
    broken = next(i for i, p in enumerate(w.paths) if "broken" in p.name)
    w.go_to(broken)
    qtbot.waitUntil(lambda: "broken" in w.banner.text() or "Cannot" in w.banner.text(), timeout=30000)
    w.go_to(0)
    qtbot.waitUntil(lambda: w.banner.text() == "", timeout=30000)


def test_profile_banner_goes_when_a_good_profile_loads(loaded, tmp_path):
    w = loaded
    bad = tmp_path / "bad.json"
    bad.write_text('{"class_conf": {"zebra": 0.5}}')
    w.load_profile(bad)
    assert "zebra" in w.banner.text()
    good = tmp_path / "good.json"
    good.write_text('{"class_conf": {"b": 0.5}, "conf": 0.4, "iou": 0.6}')
    w.load_profile(good)
    assert w.banner.text() == ""
    t = w.session.thresholds
    assert (t.conf, t.iou, t.class_conf) == (0.4, 0.6, ((1, 0.5),))  # everything the profile holds (item 2)


def test_a_session_change_moves_the_slider_without_an_echo(loaded):
    """What Best F1 and profiles rely on: they set the session, the widgets follow, and the
    widgets' own signals (blocked) do not write the value back."""
    w = loaded
    seen = []
    w.session.thresholdsChanged.connect(lambda new, old: seen.append(new.conf))
    w.session.set_thresholds(Thresholds(conf=0.7))
    assert w.side_panel.conf_slider.value() == 0.7 and seen == [0.7]


def test_small_window_keeps_the_image_the_biggest_thing(loaded, qtbot):
    """Issue 25 item 13: at 640x480 the threshold dock used to take most of the height."""
    w = loaded
    for width, height in ((640, 480), (1600, 1000), (1360, 840)):
        w.resize(width, height)
        qtbot.wait(50)
        assert w.threshold_dock.height() <= 0.37 * w.height() + 2
        assert w.canvas.width() >= 0.25 * w.width()  # before: 65 px of 640
    assert w.canvas.height() > w.threshold_dock.height()


def test_list_marks_unscored_and_unreadable_label_rows_before_a_visit(window, qtbot, tiny_model, image_dir):
    """Issue 25 item 12: "error" for images the scan could not score, "labels?" (not "labelled")
    for an unreadable label file -- without visiting them."""
    from gui.image_list import STATE_ERROR, STATE_LABELS_UNREADABLE

    labels = image_dir.parent / "labels"
    labels.mkdir()
    (labels / "img000.txt").write_text("0 0.3 0.3 0.1 0.1\n")
    (labels / "img001.txt").write_text("this is not a label line\n")
    window.open_folder(image_dir)
    window.open_model(tiny_model)
    qtbot.waitUntil(lambda: window.folder_stats is not None and window.folder_stats.floor == 0.001, timeout=60000)
    model, names = window.image_list.model, [p.name for p in window.paths]
    broken, unreadable = names.index("img002_broken.jpg"), names.index("img001.png")
    assert window.current_row == 0
    assert model.state(broken) == STATE_ERROR and model.error(broken)
    assert model.state(unreadable) == STATE_LABELS_UNREADABLE and "img001.txt:1" in model.error(unreadable)
    assert model.state(names.index("img003.png")) != STATE_LABELS_UNREADABLE
