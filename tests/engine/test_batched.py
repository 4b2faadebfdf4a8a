"""The batched threshold and matching paths must equal the per-image ones exactly."""

from __future__ import annotations

import numpy as np
import pytest

from engine.batched_matching import match_many
from engine.batched_thresholds import MAX_BATCHED, apply_thresholds_many
from engine.candidates import Candidates
from engine.detections import Detections
from engine.letterbox import compute_geometry
from engine.metrics import match
from engine.thresholds import Thresholds, apply_thresholds


def _clustered_boxes(rng: np.random.Generator, n: int, size: float = 320) -> np.ndarray:
    """Boxes jittered around a few centres, so NMS and matching have real overlaps to decide."""
    centres = rng.uniform(0, size, (max(1, n // 6 + 1), 2))
    c = centres[rng.integers(len(centres), size=n)] + rng.normal(0, 6, (n, 2))
    wh = rng.uniform(4, 80, (len(centres), 2))[rng.integers(len(centres), size=n)] * rng.uniform(0.8, 1.25, (n, 2))
    return np.concatenate([c - wh / 2, c + wh / 2], 1).astype(np.float32)


def _candidates(rng: np.random.Generator, n: int, nc: int = 3, nms_in_model: bool = False) -> Candidates:
    hw = (int(rng.integers(100, 1600)), int(rng.integers(100, 1600)))
    geom = compute_geometry(hw, (320, 320), str(rng.choice(["ultralytics", "yolov5"])))[0]
    score = rng.uniform(0, 1, n).astype(np.float32)
    if n > 4:  # exact ties: the stable order must match too
        score[rng.integers(n, size=n // 4)] = score[0]
    return Candidates(_clustered_boxes(rng, n), score, rng.integers(0, nc, n).astype(np.int64), geom, nms_in_model)


def _same(a: Detections, b: Detections) -> bool:
    return (np.array_equal(a.xyxy, b.xyxy) and np.array_equal(a.confidence, b.confidence)
            and np.array_equal(a.class_id, b.class_id))


THRESHOLDS = [
    Thresholds(conf=0.001, iou=0.45),
    Thresholds(conf=0.3, iou=0.7),
    Thresholds(conf=0.1, iou=0.2, agnostic=True),
    Thresholds(conf=0.05, iou=0.5, max_det=3),
    Thresholds(conf=0.2, iou=0.6, classes=(0, 2), class_conf=((1, 0.5), (2, 0.05))),
    Thresholds(conf=0.01, iou=0.0),
    Thresholds(conf=0.01, iou=1.0),
]


@pytest.mark.parametrize("t", THRESHOLDS, ids=lambda t: f"conf{t.conf}-iou{t.iou}-agn{t.agnostic}-max{t.max_det}")
def test_apply_thresholds_many_equals_per_image(t):
    rng = np.random.default_rng(12)
    counts = [0, 1, 2, 5, 9, 17, 40, 100, 200, MAX_BATCHED + 1, 600] + list(rng.integers(0, 60, 40))
    cands = [_candidates(rng, int(n), nms_in_model=bool(i % 13 == 5)) for i, n in enumerate(counts)]
    got = apply_thresholds_many(cands, t)
    assert len(got) == len(cands)
    for c, g in zip(cands, got):
        assert _same(g, apply_thresholds(c, t))
    # non-trivial: some boxes were suppressed somewhere, or the test would not test NMS
    if 0.0 < t.iou < 1.0:
        assert sum(len(g) for g in got) < sum(int((c.score > t.conf).sum()) for c in cands)


def test_apply_thresholds_many_huge_coordinates_use_the_wider_class_span():
    rng = np.random.default_rng(3)
    c = _candidates(rng, 30)
    big = Candidates(c.xyxy * 400, c.score, c.class_id, c.geometry)  # past 7680 px
    t = Thresholds(conf=0.0, iou=0.5)
    assert _same(apply_thresholds_many([big], t)[0], apply_thresholds(big, t))


def _dets(rng: np.random.Generator, n: int, nc: int = 3, centres: np.ndarray | None = None) -> Detections:
    xyxy = _clustered_boxes(rng, n) if centres is None else centres + rng.normal(0, 3, centres.shape).astype(np.float32)
    conf = rng.uniform(0, 1, n).astype(np.float32)
    if n > 3:
        conf[rng.integers(n, size=n // 3)] = conf[0]
    return Detections(xyxy, conf, rng.integers(0, nc, n))


def test_match_many_equals_match():
    rng = np.random.default_rng(5)
    preds, gts = [], []
    for n in [0, 1, 3, 8, 9, 30, 70, 300, 1500] + list(rng.integers(0, 40, 60)):
        gt = _dets(rng, int(rng.integers(0, 25)))
        if len(gt) > 2:  # exact duplicates: equal IoUs, the first ground-truth box must win
            dup = rng.integers(len(gt), size=2)
            gt = Detections(np.concatenate([gt.xyxy, gt.xyxy[dup]]), np.ones(len(gt) + 2),
                            np.concatenate([gt.class_id, gt.class_id[dup]]))
        # predictions near the ground truth (hits, duplicates, wrong classes) plus clutter
        near = gt.xyxy[rng.integers(len(gt), size=n // 2)] if len(gt) else np.zeros((0, 4), np.float32)
        pred_xyxy = np.concatenate([near + rng.normal(0, 4, near.shape).astype(np.float32),
                                    _clustered_boxes(rng, n - len(near))])
        conf = rng.uniform(0, 1, len(pred_xyxy)).astype(np.float32)
        conf[rng.integers(max(1, len(conf)), size=len(conf) // 3)] = conf[0] if len(conf) else 0
        preds.append(Detections(pred_xyxy, conf, rng.integers(0, 3, len(pred_xyxy))))
        gts.append(gt if rng.random() > 0.1 else None)
    for iou in (0.5, 0.75):
        got = match_many(preds, gts, iou)
        total_tp = 0
        for p, g, flags in zip(preds, gts, got):
            want = match(p, g, (iou,))[:, 0] if g is not None else np.zeros(len(p), bool)
            assert np.array_equal(flags, want)
            total_tp += int(flags.sum())
        assert total_tp > 50  # real matches happened


def test_match_many_checks_lengths():
    with pytest.raises(ValueError):
        match_many([Detections.empty()], [])


def test_match_many_breaks_iou_ties_like_match():
    # A overlaps G1 and G2 equally (IoU 2/3); taking G1 (the first) leaves B, which only fits
    # G1, a false positive. Taking G2 would make B a true positive.
    gt = Detections(np.array([[0, 0, 10, 10], [4, 0, 14, 10]], np.float32), np.ones(2), np.zeros(2))
    pred = Detections(np.array([[2, 0, 12, 10], [0, 0, 10, 10]], np.float32), np.array([0.9, 0.8]), np.zeros(2))
    want = match(pred, gt, (0.5,))[:, 0]
    assert want.tolist() == [True, False]
    assert match_many([pred], [gt])[0].tolist() == want.tolist()
