"""`scriptlens eval`: the METHOD line, --multi-label (every class above the floor per box, as
Ultralytics val), and P/R/F1 at the best mean F1 (engine.curves, the threshold panel's path)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

import model_factory as mf
from cli.main import main
from engine.curves import ScoredFolder, best_mean_f1, metrics_at
from engine.detections import Detections


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """One 320x320 image with one object of class 1 at (75, 80, 125, 120); the model sees a box
    there with class 0 at 0.9 and class 1 at 0.6, and a lone class-0 box elsewhere at 0.4."""
    root = tmp_path_factory.mktemp("ml")
    out = mf.anchor_free_tensor([(100, 100, 50, 40, 0, 0.9), (250, 250, 30, 30, 0, 0.4)], 2)
    out[0, 4 + 1, 0] = 0.6  # the first box's second class (the factory writes one class per anchor)
    model = mf.const_model(root / "m.torchscript", out, meta=mf.ultralytics_meta(["a", "b"]))
    images, labels = root / "images", root / "labels"
    images.mkdir()
    labels.mkdir()
    assert cv2.imwrite(str(images / "x.png"), np.full((320, 320, 3), 100, np.uint8))
    (labels / "x.txt").write_text("1 0.312500 0.312500 0.156250 0.125000\n")
    return model, images, labels


def run_eval(dataset, tmp_path, *extra):
    model, images, labels = dataset
    out = tmp_path / f"e{len(extra)}.json"
    assert main(["eval", "--model", str(model), "--images", str(images), "--labels", str(labels), "--device", "cpu",
                 "--json", str(out), *extra]) == 0
    return json.loads(out.read_text())


def test_one_class_per_box_misses_what_multi_label_finds(dataset, tmp_path, capsys):
    single = run_eval(dataset, tmp_path)
    said = capsys.readouterr().out
    assert "method: COCO matching (greedy by confidence, per class) at IoU 0.50:0.95, 101-point" in said
    assert "one class per box" in said and single["multi_label"] is False
    assert single["all"]["map50"] == 0.0  # the box's best class is 0: the class-1 object is missed
    multi = run_eval(dataset, tmp_path, "--multi-label")
    assert "several classes per box" in capsys.readouterr().out and multi["multi_label"] is True
    assert multi["all"]["map50"] == pytest.approx(1.0)
    assert [c["map50"] for c in multi["classes"]] == [None, pytest.approx(1.0)]  # class a has no label: no AP


def test_best_f1_numbers_come_from_the_panels_curves(dataset, tmp_path):
    multi = run_eval(dataset, tmp_path, "--multi-label")
    best = multi["best_f1"]
    # by hand: class b's 0.6 hit is its only prediction -> F1 1 below 0.6; class a has no labels
    assert best["conf"] == pytest.approx(0.59) and best["mean_f1"] == pytest.approx(1.0)
    assert best["classes"][1] == {"class_id": 1, "name": "b", "precision": 1.0, "recall": 1.0, "f1": 1.0}
    # the same numbers from engine.curves on the same rows (what the threshold panel computes)
    pred = Detections([[75, 80, 125, 120], [75, 80, 125, 120], [235, 235, 265, 265]], [0.9, 0.6, 0.4], [0, 1, 0])
    gt = Detections([[75, 80, 125, 120]], [1.0], [1])
    sf = ScoredFolder.build([(pred, gt)], 2)
    assert best_mean_f1(sf) == (pytest.approx(best["conf"]), pytest.approx(best["mean_f1"]))
    m = metrics_at(sf, best["conf"])
    assert (m.precision, m.recall) == (pytest.approx(best["all"]["precision"]), pytest.approx(best["all"]["recall"]))
