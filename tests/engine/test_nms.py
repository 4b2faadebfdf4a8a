"""engine.nms against a brute-force, pure-Python greedy NMS (torchvision.ops.nms semantics)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.metrics import box_iou
from engine.nms import batched_nms, nms


def iou_py(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    area = lambda r: max(0.0, r[2] - r[0]) * max(0.0, r[3] - r[1])  # noqa: E731
    union = area(a) + area(b) - inter
    return inter / union if union > 0 else 0.0


def greedy_ref(boxes, scores, iou_thr, classes=None):
    """Sort by score (ties: lower index first), keep a box unless it overlaps a kept box of
    the same class (any class when classes is None) by IoU > iou_thr."""
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    kept = []
    for i in order:
        if all(
            (classes is not None and classes[i] != classes[k]) or iou_py(boxes[i], boxes[k]) <= iou_thr
            for k in kept
        ):
            kept.append(i)
    return kept


def random_boxes(rng, n, span=100.0):
    xy = rng.uniform(0, span, (n, 2))
    wh = rng.uniform(1, span / 2, (n, 2))
    return np.concatenate([xy, xy + wh], 1).astype(np.float32)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("iou_thr", [0.0, 0.3, 0.45, 0.7, 1.0])
def test_nms_matches_bruteforce(seed, iou_thr):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 60))
    boxes = random_boxes(rng, n)
    scores = rng.uniform(0, 1, n).astype(np.float32)
    b64 = boxes.astype(np.float64).tolist()
    assert nms(boxes, scores, iou_thr).tolist() == greedy_ref(b64, scores.tolist(), iou_thr)


@pytest.mark.parametrize("seed", range(8))
def test_class_aware_vs_agnostic(seed):
    rng = np.random.default_rng(100 + seed)
    n = 50
    boxes = random_boxes(rng, n, span=60)
    scores = rng.uniform(0, 1, n).astype(np.float32)
    cls = rng.integers(0, 3, n)
    b = boxes.tolist()
    aware = batched_nms(boxes, scores, cls, 0.45)
    agn = batched_nms(boxes, scores, cls, 0.45, agnostic=True)
    assert aware.tolist() == greedy_ref(b, scores.tolist(), 0.45, cls.tolist())
    assert agn.tolist() == greedy_ref(b, scores.tolist(), 0.45)
    assert len(aware) >= len(agn)


def test_identical_boxes_different_classes():
    boxes = np.array([[0, 0, 10, 10]] * 2, np.float32)
    scores = np.array([0.9, 0.8], np.float32)
    cls = np.array([0, 1])
    assert batched_nms(boxes, scores, cls, 0.5).tolist() == [0, 1]
    assert batched_nms(boxes, scores, cls, 0.5, agnostic=True).tolist() == [0]


def test_ties_keep_the_earlier_box():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10]], np.float32)
    scores = np.array([0.5, 0.5, 0.5], np.float32)
    assert nms(boxes, scores, 0.5).tolist() == [0]
    assert nms(boxes[::-1].copy(), scores, 0.5).tolist() == [0]


def test_iou_exactly_at_threshold_is_kept():
    # IoU of [0,0,10,10] and [5,0,15,10] = 50/150 = 1/3: dropped only when IoU > thr
    boxes = np.array([[0, 0, 10, 10], [5, 0, 15, 10]], np.float32)
    scores = np.array([0.9, 0.8], np.float32)
    assert nms(boxes, scores, 0.34).tolist() == [0, 1]
    assert nms(boxes, scores, 0.33).tolist() == [0]


def test_degenerate_boxes():
    boxes = np.array([[5, 5, 5, 5], [5, 5, 5, 5], [0, 0, 10, 10]], np.float32)
    scores = np.array([0.9, 0.8, 0.7], np.float32)
    # zero-area boxes have IoU 0 with everything: nothing suppressed
    assert nms(boxes, scores, 0.1).tolist() == [0, 1, 2]
    assert nms(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), 0.5).tolist() == []


def test_class_offset_survives_large_coordinates():
    # boxes beyond 7680 px must not collide with another class's offset range
    boxes = np.array([[9000, 0, 9100, 100], [9000 - 7680, 0, 9100 - 7680, 100]], np.float32)
    scores = np.array([0.9, 0.8], np.float32)
    cls = np.array([0, 1])
    assert sorted(batched_nms(boxes, scores, cls, 0.5).tolist()) == [0, 1]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30), st.integers(1, 20), st.integers(1, 20),
                          st.sampled_from([0.1, 0.5, 0.9]), st.integers(0, 2)), max_size=25),
       st.sampled_from([0.0, 0.25, 0.5, 0.75]))
def test_property_integer_boxes_with_ties(rows, thr):
    boxes = np.array([[x, y, x + w, y + h] for x, y, w, h, _, _ in rows], np.float32).reshape(-1, 4)
    scores = np.array([r[4] for r in rows], np.float32)
    cls = np.array([r[5] for r in rows], np.int64)
    b = boxes.tolist()
    assert batched_nms(boxes, scores, cls, thr).tolist() == greedy_ref(b, scores.tolist(), thr, cls.tolist())
    assert nms(boxes, scores, thr).tolist() == greedy_ref(b, scores.tolist(), thr)


def test_box_iou_matches_python():
    rng = np.random.default_rng(7)
    a, b = random_boxes(rng, 5), random_boxes(rng, 4)
    m = box_iou(a, b)
    for i in range(5):
        for j in range(4):
            assert m[i, j] == pytest.approx(iou_py(a[i].tolist(), b[j].tolist()), abs=1e-6)


def test_long_suppression_chain_matches_bruteforce():
    # each box overlaps the next three (IoU .82/.67/.54 > .45) but not the fourth (.43): the
    # greedy answer keeps every 4th box; any 'one-pass' shortcut gets the chain wrong
    n = 400
    boxes = np.array([[k, 0, k + 10, 10] for k in range(n)], np.float32)
    scores = np.linspace(1, 0.1, n).astype(np.float32)
    ref = greedy_ref(boxes.tolist(), scores.tolist(), 0.45)
    assert ref == list(range(0, n, 4))
    assert nms(boxes, scores, 0.45).tolist() == ref


def test_many_boxes_past_the_matrix_limit_match_bruteforce():
    from engine import nms as nms_mod

    rng = np.random.default_rng(3)
    n = nms_mod.MATRIX_LIMIT + 300
    xy = rng.uniform(0, 80, (n, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(20, 40, (n, 2))], 1).astype(np.float32)  # dense: few survivors
    scores = rng.uniform(0, 1, n).astype(np.float32)
    cls = rng.integers(0, 2, n)
    assert batched_nms(boxes, scores, cls, 0.5).tolist() == greedy_ref(boxes.tolist(), scores.tolist(), 0.5, cls.tolist())


def test_class_aware_chains_of_many_sizes_match_bruteforce():
    # per-class blocks of very different sizes (padding buckets 8 ... 448), each a suppression
    # chain interleaved in score order with the other classes, plus random clutter
    rng = np.random.default_rng(11)
    boxes, cls = [], []
    for c, n in enumerate((1, 5, 9, 63, 130, 400)):
        boxes += [[k, 0, k + 10, 10] for k in range(n)]
        cls += [c] * n
    xy = rng.uniform(0, 300, (150, 2))
    boxes += np.concatenate([xy, xy + rng.uniform(5, 60, (150, 2))], 1).tolist()
    cls += rng.integers(0, 6, 150).tolist()
    boxes = np.asarray(boxes, np.float32)
    scores = rng.uniform(0, 1, len(boxes)).astype(np.float32)
    cls = np.asarray(cls)
    for thr in (0.3, 0.45, 0.7):
        assert batched_nms(boxes, scores, cls, thr).tolist() == greedy_ref(boxes.tolist(), scores.tolist(), thr, cls.tolist())
