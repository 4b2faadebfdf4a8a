"""engine.metrics against cases worked out by hand (the arithmetic is in the comments)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.detections import Detections
from engine.metrics import COCO_IOUS, average_precision, box_iou, evaluate, match, match_counts
from detection_rows import dets


def gts(rows) -> Detections:
    return dets([(*r[:4], 1.0, r[4]) for r in rows])


def test_box_iou_values():
    iou = box_iou([[0, 0, 10, 10]], [[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 10, 7.2]])
    # identical 1; half-overlap 50/150; disjoint 0; nested 72/100
    np.testing.assert_allclose(iou[0], [1.0, 1 / 3, 0.0, 0.72])


def test_hand_computed_ap_two_images():
    # Image A: GT g1=[0,0,10,10], g2=[20,20,30,30]
    #   p .9 on g1 -> TP; p .8 on g1 again -> FP (duplicate); p .6 on g2 -> TP
    # Image B: GT g3=[0,0,10,10]; p .7 far away -> FP
    # sorted: .9 TP, .8 FP, .7 FP, .6 TP; npos = 3
    #   recall    1/3, 1/3, 1/3, 2/3
    #   precision 1,   1/2, 1/3, 1/2   -> envelope 1, 1/2, 1/2, 1/2
    # 101 recall points: r = 0.00..0.33 (34 points) -> 1; r = 0.34..0.66 (33) -> 1/2;
    #   r = 0.67..1.00 (34) -> 0.  AP = (34 + 16.5) / 101 = 0.5 exactly.
    # IoUs are all exactly 1 or 0, so AP is 0.5 at every threshold: mAP50-95 = 0.5.
    a_pred = dets([(0, 0, 10, 10, 0.9, 0), (0, 0, 10, 10, 0.8, 0), (20, 20, 30, 30, 0.6, 0)])
    a_gt = gts([(0, 0, 10, 10, 0), (20, 20, 30, 30, 0)])
    b_pred = dets([(50, 50, 60, 60, 0.7, 0)])
    b_gt = gts([(0, 0, 10, 10, 0)])
    r = evaluate([(a_pred, a_gt), (b_pred, b_gt)], num_classes=1, conf=0.65)
    assert r.ap50[0] == pytest.approx(0.5)
    assert r.map50 == pytest.approx(0.5)
    assert r.map50_95 == pytest.approx(0.5)
    # conf 0.65 keeps .9 TP, .8 FP, .7 FP: P = 1/3, R = 1/3 (1 of 3 GT), F1 = 1/3
    assert (r.tp[0], r.fp[0], r.fn[0]) == (1, 2, 2)
    assert r.precision[0] == pytest.approx(1 / 3)
    assert r.recall[0] == pytest.approx(1 / 3)
    assert r.f1[0] == pytest.approx(1 / 3)
    assert r.images == 2 and r.gt_count.tolist() == [3]


def test_precision_envelope_is_used():
    # TP (.9), FP (.8), TP (.7), npos = 2: recall .5 .5 1; precision 1 .5 2/3
    # envelope 1, 2/3, 2/3.  r = 0..0.50 (51 points) -> 1; r = 0.51..1 (50 points) -> 2/3
    # AP = (51 + 50 * 2/3) / 101 = 253/303
    tp = np.array([True, False, True])
    conf = np.array([0.9, 0.8, 0.7])
    assert average_precision(tp, conf, 2) == pytest.approx(253 / 303)
    # order of the input rows must not matter, only the confidences
    assert average_precision(tp[::-1], conf[::-1], 2) == pytest.approx(253 / 303)


def test_iou_dependent_ap_for_loose_box():
    # IoU 0.72: a TP at 0.50..0.70 (5 thresholds, AP 1), FP at 0.75..0.95 (AP 0)
    r = evaluate([(dets([(0, 0, 10, 7.2, 0.9, 0)]), gts([(0, 0, 10, 10, 0)]))], num_classes=1)
    np.testing.assert_allclose(r.ap[0], [1, 1, 1, 1, 1, 0, 0, 0, 0, 0])
    assert r.map50 == pytest.approx(1.0)
    assert r.map50_95 == pytest.approx(0.5)
    assert len(COCO_IOUS) == 10 and COCO_IOUS[0] == 0.5 and COCO_IOUS[-1] == 0.95


def test_greedy_match_takes_best_iou_and_each_gt_once():
    gt = gts([(0, 0, 10, 10, 0), (6, 0, 16, 10, 0)])
    # the top prediction overlaps gt0 (IoU 1) more than gt1 (4/16=0.25); the second one
    # overlaps gt0 with 40/160 (below 0.5 anyway) and gt1 with IoU 1 -> TP; the third
    # duplicates the first, whose GT is already taken -> FP
    pred = dets([(0, 0, 10, 10, 0.9, 0), (6, 0, 16, 10, 0.8, 0), (0, 0, 10, 10, 0.7, 0)])
    tp = match(pred, gt, (0.5,))[:, 0]
    assert tp.tolist() == [True, True, False]
    assert match_counts(pred, gt) == (2, 1, 0)


def test_no_ground_truth_class_is_left_out_of_map():
    # class 0 perfect; class 1 only has a false positive and no GT -> AP NaN, excluded
    pred = dets([(0, 0, 10, 10, 0.9, 0), (20, 20, 30, 30, 0.9, 1)])
    gt = gts([(0, 0, 10, 10, 0)])
    r = evaluate([(pred, gt)], num_classes=2)
    assert r.ap50[0] == pytest.approx(1.0)
    assert math.isnan(r.ap50[1])
    assert r.map50 == pytest.approx(1.0)
    # ... but its prediction is still a false positive in P/R/F1 (micro-averaged)
    assert r.fp.tolist() == [0, 1]
    assert r.overall_precision == pytest.approx(0.5)
    assert r.overall_recall == pytest.approx(1.0)
    assert r.overall_f1 == pytest.approx(2 / 3)
    assert r.as_dict()["classes"][1]["map50"] is None


def test_no_predictions_gives_zero():
    r = evaluate([(Detections.empty(), gts([(0, 0, 10, 10, 0)]))], num_classes=1)
    assert r.map50 == 0.0 and r.map50_95 == 0.0
    assert (r.tp[0], r.fp[0], r.fn[0]) == (0, 0, 1)
    assert r.precision[0] == 0.0 and r.recall[0] == 0.0 and r.f1[0] == 0.0


def test_nothing_at_all():
    r = evaluate([(Detections.empty(), Detections.empty())], num_classes=3)
    assert math.isnan(r.map50) and math.isnan(r.map50_95)
    assert r.overall_precision == 0.0 and r.overall_recall == 0.0
    assert r.as_dict()["all"]["map50"] is None


def test_all_wrong_class():
    # perfect boxes, wrong labels: class 0 missed entirely, class 1 all false positives
    gt = gts([(0, 0, 10, 10, 0), (20, 20, 30, 30, 0)])
    pred = dets([(0, 0, 10, 10, 0.9, 1), (20, 20, 30, 30, 0.8, 1)])
    r = evaluate([(pred, gt)], num_classes=2)
    assert r.ap50[0] == 0.0 and math.isnan(r.ap50[1])
    assert r.map50 == 0.0
    assert match_counts(pred, gt) == (0, 2, 2)


def test_low_conf_predictions_do_not_change_counts_but_add_recall_to_ap():
    # GT 2 boxes; the second is only found at conf .1 (below conf=.25)
    gt = gts([(0, 0, 10, 10, 0), (20, 20, 30, 30, 0)])
    pred = dets([(0, 0, 10, 10, 0.9, 0), (20, 20, 30, 30, 0.1, 0)])
    r = evaluate([(pred, gt)], num_classes=1, conf=0.25)
    assert (r.tp[0], r.fp[0], r.fn[0]) == (1, 0, 1)
    assert r.map50 == pytest.approx(1.0)  # both found, in confidence order, no FP


def test_rejects_out_of_range_class():
    with pytest.raises(ValueError, match="class id"):
        evaluate([(dets([(0, 0, 1, 1, 0.5, 3)]), Detections.empty())], num_classes=3)
