"""Issue 5 in the window: ground truth, the folder threshold panel, best F1, per-class profiles.

Hand-computed case (tiny model, every image gets the same boxes, see gui_test_data):
at conf 0.25 / IoU 0.45 each image shows a (0.90, class 0), b (0.60, class 1), c (0.35, class 2);
the duplicate a (0.80) is suppressed by NMS. Labels written here: img000 has `a` exactly and
one `c` object far from the predicted c -> TP 1 (a), FP 2 (b, c), missed 1 (the labelled c).
img001 has `a` and `b` -> TP 2, FP 1 (c), missed 0. img002/img003 have no label file:
negatives -> FP 3 each. Folder at 0.25: TP 3, FP 9, missed 1.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.metrics import evaluate
from gui.image_list import STATE_ERROR

# YOLO lines in the 320x320 images (the model input is 320x320, no letterbox padding)
A = "0 0.312500 0.312500 0.156250 0.125000"
B = "1 0.625000 0.625000 0.187500 0.187500"
C_ELSEWHERE = "2 0.150000 0.850000 0.100000 0.100000"


@pytest.fixture
def labelled(window, qtbot, tiny_model, image_dir):
    labels = image_dir.parent / "labels"
    labels.mkdir()
    (labels / "img000.txt").write_text(f"{A}\n{C_ELSEWHERE}\n")
    (labels / "img001.txt").write_text(f"{A}\n{B}\n")
    window.open_folder(image_dir)
    window.open_model(tiny_model)
    qtbot.waitUntil(lambda: window.first_detections_shown, timeout=60000)
    qtbot.waitUntil(lambda: window.folder_stats is not None, timeout=60000)
    qtbot.waitUntil(window.is_idle, timeout=30000)
    return window


def test_ground_truth_is_found_and_styles_the_overlay(labelled):
    w = labelled
    assert w.ground_truth is not None and w.ground_truth.labels_root == w.paths[0].parent.parent / "labels"
    w.go_to(0)
    assert w.last_image_counts == (1, 2, 1)  # TP, FP, missed on img000
    assert "TP 1 · FP 2 · missed 1" in w.threshold_panel.image_label.text()
    pens = [item.pen().style() for item in w.canvas.overlay.items]
    from PySide6.QtCore import Qt

    assert pens.count(Qt.PenStyle.SolidLine) == 1 and pens.count(Qt.PenStyle.DashLine) == 2
    assert w.canvas.missed.count == 1
    assert w.canvas.missed.rects()[0].center().x() == pytest.approx(0.15 * 320)
    w.threshold_panel.show_gt_box.setChecked(False)  # hide: class colours again, no missed boxes
    assert w.canvas.missed.count == 0


def test_folder_metrics_hand_computed_and_equal_to_engine_evaluate(labelled, qtbot):
    w = labelled
    from engine.curves import metrics_at

    sf = w.folder_stats.scored
    assert sf.images == 4 and w.folder_stats.failed == 1  # the corrupt image is left out
    pm = metrics_at(sf, 0.25)
    assert (pm.tp, pm.fp, pm.fn) == (3, 9, 1)
    assert "TP 3 · FP 9 · missed 1" in w.threshold_panel.counts_label.text()
    assert f"Precision <b>{3 / 12:.3f}</b>" in w.threshold_panel.metrics_label.text()
    # the same numbers as engine.metrics.evaluate (what `scriptlens eval` prints)
    from engine.detections import Detections
    from engine.thresholds import Thresholds, apply_thresholds

    floor = Thresholds(conf=0.001, iou=0.45)
    pairs = []
    for p in w.paths:
        c = w.cache.get(w.model_id, p)
        if c is None:
            continue
        h, wd = c.geometry.source_hw
        gt = w.ground_truth.load(p, (wd, h))
        pairs.append((apply_thresholds(c, floor), gt if gt is not None else Detections.empty()))
    for conf in (0.25, 0.5, 0.7):
        res = evaluate(pairs, 3, conf=conf)
        pm = metrics_at(sf, conf)
        assert (pm.tp, pm.fp, pm.fn) == (int(res.tp.sum()), int(res.fp.sum()), int(res.fn.sum()))
        assert pm.precision == pytest.approx(res.overall_precision)
        assert pm.recall == pytest.approx(res.overall_recall)
    from engine.curves import ap50

    assert ap50(sf) == pytest.approx(res.map50)
    # moving the slider updates the panel at once, with no model run and no rescoring
    scans, calls = w.stats_requests, w.worker.model_calls
    w.side_panel.conf_slider.setValue(0.7)
    assert "TP 2 · FP 2 · missed 2" in w.threshold_panel.counts_label.text()
    qtbot.wait(400)
    assert w.stats_requests == scans and w.worker.model_calls == calls


def test_best_f1_button_moves_the_slider(labelled, qtbot):
    w = labelled
    from engine.curves import best_f1

    expected, f1 = best_f1(w.folder_stats.scored)
    # F1 by hand: 0.375 below 0.35 (TP 3, FP 9, FN 1); 0.5 from 0.35 (TP 3, FP 5, FN 1) and from
    # 0.60 (TP 2, FP 2, FN 2) up to 0.90; ties go to the higher threshold
    assert f1 == pytest.approx(0.5) and 0.35 <= expected < 0.9
    w.side_panel.conf_slider.setValue(0.1)
    from PySide6.QtCore import Qt

    qtbot.mouseClick(w.threshold_panel.best_button, Qt.MouseButton.LeftButton)
    assert w.thresholds().conf == pytest.approx(expected)
    # per-class view: the button sets that class's own threshold instead of the global one
    w.threshold_panel.set_class_view(1)
    w.threshold_panel.best_button.click()
    assert 1 in w.threshold_panel.class_conf()
    assert w.thresholds().conf == pytest.approx(expected)


def test_iou_change_rescores_the_folder_from_cache(labelled, qtbot):
    w = labelled
    calls = w.worker.model_calls
    before = w.folder_stats
    w.side_panel.iou_slider.setValue(0.95)  # the duplicate a (0.80) now survives: one more FP per image
    qtbot.waitUntil(lambda: w.folder_stats is not before, timeout=30000)
    from engine.curves import metrics_at

    pm = metrics_at(w.folder_stats.scored, 0.25)
    assert (pm.tp, pm.fp, pm.fn) == (3, 13, 1)
    assert w.worker.model_calls == calls  # candidates were cached


def test_without_ground_truth_histogram_and_count(loaded, qtbot):
    w = loaded
    qtbot.waitUntil(lambda: w.folder_stats is not None, timeout=60000)
    assert w.ground_truth is None and not w.folder_stats.scored.has_ground_truth
    w.scoring.update_threshold_panel()
    assert "histogram" in w.threshold_panel.pr_plot.title().lower()
    assert "12 detections above" in w.threshold_panel.metrics_label.text()  # 3 per image, 4 images
    assert not w.threshold_panel.best_button.isEnabled()


def test_review_queue_orders_by_disagreement_and_accepts_with_the_keyboard(labelled, qtbot):
    w = labelled
    from gui.review_queue import ORDER_DISAGREEMENT

    w.review_bar.order_combo.setCurrentIndex(ORDER_DISAGREEMENT)
    order = w.image_list.visible_rows()
    names = [w.paths[r].name for r in order]
    # img000: FP 2 + missed 1 = 3; img002/img003: FP 3; img001: FP 1; the broken one unscored: last
    assert names[-2:] == ["img001.png", "img002_broken.jpg"]
    w.go_to(order[0])
    from PySide6.QtCore import Qt

    qtbot.keyClick(w, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert w.current_row == order[1]
    assert w.edits.is_reviewed(w.paths[order[0]])
    assert w.image_list.model.mark(order[0]) == "✓"
    from gui.review_queue import FILTER_NOT_ACCEPTED

    w.review_bar.filter_combo.setCurrentIndex(FILTER_NOT_ACCEPTED)
    assert order[0] not in w.image_list.visible_rows() and len(w.image_list.visible_rows()) == 4
    w.side_panel.conf_slider.setValue(0.3)  # new review keys for every row: the accept must survive
    w.scoring.update_review_keys()
    assert order[0] not in w.image_list.visible_rows() and len(w.image_list.visible_rows()) == 4


def test_profile_saved_by_the_panel_round_trips_through_the_cli(labelled, qtbot, tmp_path, tiny_model, image_dir):
    from cli.main import main
    from gui.export_dialog import ExportChoice

    w = labelled
    w.threshold_panel.set_class_conf({1: 0.7, 2: 0.3})  # hides b (0.60), keeps c (0.35)
    profile = tmp_path / "profile.json"
    w.save_profile(profile)
    data = json.loads(profile.read_text())
    assert data["class_conf"] == {"b": 0.7, "c": 0.3}
    w.last_export_summary = None
    gui_out = tmp_path / "gui"
    w.export(ExportChoice(whole_folder=True, out_dir=gui_out))
    qtbot.waitUntil(lambda: w.last_export_summary is not None, timeout=60000)
    cli_out = tmp_path / "cli"
    rc = main(["label", "--model", str(tiny_model), "--images", str(image_dir), "--out", str(cli_out),
               "--conf", "0.25", "--iou", "0.45", "--thresholds", str(profile)])
    assert rc == 0
    for name in ("img000", "img001", "img002", "img003"):
        gui_lines = (gui_out / f"{name}.txt").read_text().splitlines()
        assert gui_lines == (cli_out / f"{name}.txt").read_text().splitlines()
        assert [ln.split()[0] for ln in gui_lines] == ["0", "2"]
    manifest = json.loads((gui_out / "scriptlens_manifest.json").read_text())
    assert manifest["thresholds"]["class_conf"] == {"b": 0.7, "c": 0.3}
    assert len(manifest["model"]["sha256"]) == 64 and manifest["edited_images"] == 0
    # and the panel loads it back
    w.threshold_panel.set_class_conf({})
    assert w.load_profile(profile) and dict(w.thresholds().class_conf) == {1: 0.7, 2: 0.3}
    assert np.isclose(dict(w.thresholds().class_conf)[1], 0.7)


def test_a_big_folder_is_scored_only_on_request(window, qtbot, tiny_model, image_dir, monkeypatch):
    monkeypatch.setattr("gui.scoring_controller.AUTO_SCORE_MAX", 2)
    w = window
    w.open_folder(image_dir)
    w.open_model(tiny_model)
    qtbot.waitUntil(lambda: w.first_detections_shown, timeout=60000)
    qtbot.waitUntil(w.is_idle, timeout=30000)
    assert w.folder_stats is None and w.stats_requests == 0
    assert w.threshold_panel.score_button.isVisibleTo(w.threshold_panel)
    w.threshold_panel.score_button.click()
    qtbot.waitUntil(lambda: w.folder_stats is not None, timeout=60000)
    assert w.folder_stats.scored.images == 4


def test_folder_scoring_can_be_stopped_and_resumed(window, qtbot, tiny_model, tmp_path):
    from gui_test_data import make_images

    w = window
    make_images(tmp_path / "many", 60)
    w.open_folder(tmp_path / "many", wait=True)
    w.open_model(tiny_model)
    qtbot.waitUntil(lambda: w.threshold_panel.stop_button.isVisibleTo(w.threshold_panel), timeout=60000)
    w.threshold_panel.stop_button.click()
    qtbot.waitUntil(w.is_idle, timeout=30000)
    calls = w.worker.model_calls
    qtbot.wait(200)
    assert w.worker.model_calls == calls and w.folder_stats is None  # really stopped
    assert w.threshold_panel.score_button.isVisibleTo(w.threshold_panel)
    w.threshold_panel.score_button.click()
    qtbot.waitUntil(lambda: w.folder_stats is not None, timeout=60000)
    assert w.folder_stats.scored.images == 60


def test_iou_change_refreshes_from_a_quick_pass_then_the_full_floor(labelled, qtbot):
    """After an NMS change the panel first gets a pass above the current threshold (exact
    there), then the full 0.001 floor for the curves and mAP."""
    from PySide6.QtCore import QObject, Slot

    from engine.curves import metrics_at
    from gui.folder_stats import FLOOR_CONF

    w = labelled
    seen = []  # (floor, best button enabled, TP/FP/FN at 0.25) after the window applied each result
    statuses = []  # the panel's status line at the same moments

    class Recorder(QObject):  # a main-thread receiver: its queued slot runs after the window's
        @Slot(object)
        def on_ready(self, stats):
            pm = metrics_at(w.folder_stats.scored, 0.25)
            seen.append((stats.floor, w.threshold_panel.best_button.isEnabled(), (pm.tp, pm.fp, pm.fn)))
            statuses.append(w.threshold_panel.status_label.text())

    recorder = Recorder()
    w.worker.statsReady.connect(recorder.on_ready)
    w.side_panel.iou_slider.setValue(0.95)
    qtbot.waitUntil(lambda: bool(seen) and seen[-1][0] == FLOOR_CONF, timeout=30000)
    quick_floor, quick_best, quick_counts = seen[0]
    assert quick_floor == pytest.approx(0.25)  # the quick pass, at the current confidence
    assert not quick_best  # best F1 waits for the whole curve
    assert "quick pass (exact above confidence 0.25)" in statuses[0] and "quick" not in statuses[-1]
    assert quick_counts == (3, 13, 1)  # the hand-computed numbers, already exact
    full_floor, full_best, full_counts = seen[-1]
    assert full_counts == quick_counts and full_best
    assert "rescored" not in w.threshold_panel.metrics_label.text()
    status = w.threshold_panel.status_label
    assert status.isVisible() and status.text() == f"{len(w.paths) - 1} images scored with NMS IoU 0.95, max 300; 1 could not be scored (see the image list)."


def test_releasing_the_iou_slider_rescores_without_waiting_for_the_debounce(labelled, qtbot):
    w = labelled
    before = w.folder_stats
    w.side_panel.iou_slider.setValue(0.95)  # as a drag does: the debounce timer starts
    assert w.scoring.stats_timer.isActive()
    w.side_panel.iou_slider.sliderReleased.emit()  # the user lets go
    assert not w.scoring.stats_timer.isActive()
    assert w.scoring.request is not None and w.scoring.request.iou == pytest.approx(0.95)
    qtbot.waitUntil(lambda: w.folder_stats is not before and w.folder_stats.key[1] == pytest.approx(0.95), timeout=30000)


def test_progress_row_showing_and_hiding_does_not_resize_the_image(labelled, qtbot):
    w = labelled
    qtbot.wait(50)
    size, zoom = w.canvas.viewport().size(), w.canvas.transform().m11()
    w.threshold_panel.set_progress(3, 10)  # a background rescan starts...
    qtbot.wait(50)
    assert w.threshold_panel.progress.isVisible()
    assert (w.canvas.viewport().size(), w.canvas.transform().m11()) == (size, zoom)
    w.threshold_panel.set_progress(0, 0)  # ...and ends
    qtbot.wait(50)
    assert (w.canvas.viewport().size(), w.canvas.transform().m11()) == (size, zoom)


def test_an_image_that_fails_clears_the_previous_images_counts(labelled, qtbot):
    w = labelled
    w.go_to(0)
    qtbot.waitUntil(lambda: "TP" in w.threshold_panel.image_label.text(), timeout=30000)
    broken = next(i for i, p in enumerate(w.paths) if "broken" in p.name)
    w.go_to(broken)
    qtbot.waitUntil(lambda: w.image_list.model.state(broken) == STATE_ERROR, timeout=30000)
    qtbot.waitUntil(lambda: w.threshold_panel.image_label.text() == "", timeout=5000)
