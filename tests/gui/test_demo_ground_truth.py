"""The bundled demo with its labels: the window's ground-truth counts and folder metrics are
those of `scriptlens eval` on the same model, images and labels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.curves import ap50, metrics_at
from engine.metrics import match_counts

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo"


@pytest.mark.skipif(not (DEMO / "labels").is_dir(), reason="demo not present")
def test_demo_counts_match_scriptlens_eval(window, qtbot, tmp_path):
    from cli.main import main

    out = tmp_path / "eval.json"
    assert main(["eval", "--model", str(DEMO / "shapes.torchscript"), "--images", str(DEMO / "images"),
                 "--labels", str(DEMO / "labels"), "--conf", "0.25", "--json", str(out)]) == 0
    ref = json.loads(out.read_text())["all"]

    w = window
    w.side_panel.conf_slider.setValue(0.25)
    w.side_panel.iou_slider.setValue(0.45)
    w.open_folder(DEMO / "images")
    w.open_model(DEMO / "shapes.torchscript")
    qtbot.waitUntil(lambda: w.folder_stats is not None, timeout=120000)
    assert w.ground_truth is not None and w.ground_truth.labels_root == DEMO / "labels"
    sf = w.folder_stats.scored
    assert sf.images == 30 and int(sf.gt_count.sum()) == ref["gt"] == 140
    pm = metrics_at(sf, 0.25)
    assert (pm.tp, pm.fp, pm.fn) == (ref["tp"], ref["fp"], ref["fn"])
    assert pm.precision == pytest.approx(ref["precision"]) and pm.recall == pytest.approx(ref["recall"])
    assert ap50(sf) == pytest.approx(ref["map50"])
    assert f"TP {ref['tp']} · FP {ref['fp']} · missed {ref['fn']}" in w.threshold_panel.counts_label.text()

    # per image: what the overlay styles is engine.metrics.match_counts of the shown boxes
    totals = [0, 0, 0]
    for row in range(len(w.paths)):
        w.last_image_counts = None
        w.go_to(row)
        qtbot.waitUntil(lambda: w.last_image_counts is not None and w.current_row == row
                        and w.cache.get(w.model_id, w.paths[row]) is not None, timeout=30000)
        c = w.cache.get(w.model_id, w.paths[row])
        h, wd = c.geometry.source_hw
        expected = match_counts(w.detections, w.ground_truth.load(w.paths[row], (wd, h)))
        assert w.last_image_counts == expected
        assert w.canvas.missed.count == expected[2]
        totals = [a + b for a, b in zip(totals, expected)]
    assert totals == [ref["tp"], ref["fp"], ref["fn"]]
