"""Thresholds on cached candidates: strict conf, class filter, per-class conf, max_det,
end-to-end rows kept in model order without NMS, optional NMS on end-to-end output."""

from __future__ import annotations

import numpy as np
import pytest

from engine.candidates import Candidates
from engine.letterbox import compute_geometry
from engine.thresholds import Thresholds, apply_thresholds, select

IDENTITY = compute_geometry((320, 320), (320, 320))[0]


def cands(rows, nms_in_model=False, geom=IDENTITY):
    """rows: (x1, y1, x2, y2, score, cls)."""
    a = np.asarray(rows, np.float32).reshape(-1, 6)
    return Candidates(a[:, :4].copy(), a[:, 4].copy(), a[:, 5].astype(np.int64), geom, nms_in_model)


ROWS = [
    (10, 10, 50, 50, 0.90, 0),
    (12, 12, 52, 52, 0.80, 0),  # IoU with row 0 = 1444/1756 ~ 0.82
    (12, 12, 52, 52, 0.70, 1),  # same box, other class
    (200, 200, 240, 260, 0.25, 2),  # exactly at the default conf
    (100, 100, 120, 130, 0.2500001, 2),
    (300, 10, 310, 20, 0.40, 1),
]


def test_conf_is_strictly_greater():
    idx = select(cands(ROWS), Thresholds(conf=0.25, iou=0.5))
    assert 3 not in idx.tolist()
    assert 4 in idx.tolist()
    assert sorted(idx.tolist()) == [0, 2, 4, 5]  # 1 suppressed by 0 (same class, IoU .82)


def test_class_aware_and_agnostic():
    assert sorted(select(cands(ROWS), Thresholds(conf=0.3, iou=0.5)).tolist()) == [0, 2, 5]
    assert sorted(select(cands(ROWS), Thresholds(conf=0.3, iou=0.5, agnostic=True)).tolist()) == [0, 5]
    # IoU 0.9 keeps the overlapping same-class box
    assert sorted(select(cands(ROWS), Thresholds(conf=0.3, iou=0.9)).tolist()) == [0, 1, 2, 5]


def test_class_filter():
    assert sorted(select(cands(ROWS), Thresholds(conf=0.1, classes=(1,))).tolist()) == [2, 5]
    assert sorted(select(cands(ROWS), Thresholds(conf=0.1, classes=(0, 2))).tolist()) == [0, 3, 4]
    assert select(cands(ROWS), Thresholds(conf=0.1, classes=(7,))).size == 0


def test_class_filter_applies_before_nms():
    # With agnostic NMS, row 0 (class 0) would suppress row 2 (class 1); filtering class 1
    # first (the references do) keeps it.
    assert select(cands(ROWS), Thresholds(conf=0.3, iou=0.5, agnostic=True, classes=(1,))).tolist() == [2, 5]


def test_per_class_conf():
    t = Thresholds(conf=0.3, iou=0.5, class_conf=((1, 0.75), (2, 0.1)))
    # class 1 needs > .75: rows 2 (.7) and 5 (.4) go; class 2 needs > .1: rows 3, 4 come in
    assert sorted(select(cands(ROWS), t).tolist()) == [0, 3, 4]


def test_max_det_keeps_best():
    rows = [(i * 20, 0, i * 20 + 10, 10, 0.3 + 0.01 * i, 0) for i in range(10)]
    idx = select(cands(rows), Thresholds(conf=0.1, max_det=3))
    assert idx.tolist() == [9, 8, 7]


def test_end2end_model_order_no_nms():
    rows = [
        (10, 10, 50, 50, 0.6, 0),
        (10, 10, 50, 50, 0.9, 0),  # duplicate, higher score, later row
        (10, 10, 50, 50, 0.5, 1),
        (0, 0, 5, 5, 0.2, 1),
        (60, 60, 70, 70, 0.7, 2),
    ]
    c = cands(rows, nms_in_model=True)
    assert select(c, Thresholds(conf=0.25, iou=0.1)).tolist() == [0, 1, 2, 4]
    assert select(c, Thresholds(conf=0.25, max_det=2)).tolist() == [0, 1]
    assert select(c, Thresholds(conf=0.25, classes=(0,))).tolist() == [0, 1]
    # the user's optional extra NMS: class-aware, best first
    assert select(c, Thresholds(conf=0.25, iou=0.5, nms_on_end2end=True)).tolist() == [1, 4, 2]
    assert select(c, Thresholds(conf=0.25, iou=0.5, nms_on_end2end=True, agnostic=True)).tolist() == [1, 4]


def test_apply_thresholds_maps_back_and_clips():
    # 640x320 (w x h) image into 320x320: gain 0.5, resized 320x160, top pad 80
    geom = compute_geometry((320, 640), (320, 320))[0]
    c = cands([(10, 90, 60, 130, 0.9, 1), (-10, 70, 20, 100, 0.8, 0)], geom=geom)
    d = apply_thresholds(c, Thresholds(conf=0.25))
    np.testing.assert_allclose(d.xyxy, [[20, 20, 120, 100], [0, 0, 40, 40]], atol=1e-4)
    assert d.class_id.tolist() == [1, 0]
    np.testing.assert_allclose(d.confidence, [0.9, 0.8])


def test_empty_result():
    d = apply_thresholds(cands([]), Thresholds())
    assert len(d) == 0 and d.xyxy.shape == (0, 4)
    d = apply_thresholds(cands(ROWS), Thresholds(conf=0.99))
    assert len(d) == 0


@pytest.mark.parametrize("kw", [{"conf": -0.1}, {"conf": 1.1}, {"iou": 2.0}, {"max_det": 0}])
def test_invalid_thresholds(kw):
    with pytest.raises(ValueError):
        Thresholds(**kw)


def test_thresholds_are_cheap_on_many_candidates():
    rng = np.random.default_rng(0)
    n = 20000
    xy = rng.uniform(0, 300, (n, 2))
    rows = np.concatenate([xy, xy + rng.uniform(5, 30, (n, 2)), rng.uniform(0, 1, (n, 1)), rng.integers(0, 3, (n, 1))], 1)
    import time

    t0 = time.perf_counter()
    d = apply_thresholds(cands(rows), Thresholds(conf=0.25, iou=0.45, max_det=300))
    assert time.perf_counter() - t0 < 5.0
    assert 0 < len(d) <= 300


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from engine.metrics import box_iou  # noqa: E402


@settings(max_examples=80, deadline=None)
@given(
    rows=st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60), st.integers(1, 30), st.integers(1, 30),
                            st.floats(0, 1, width=32), st.integers(0, 3)), max_size=40),
    conf=st.floats(0, 1), iou=st.floats(0, 1), max_det=st.integers(1, 50), agnostic=st.booleans(),
    classes=st.none() | st.lists(st.integers(0, 3), min_size=1, max_size=3).map(tuple),
)
def test_select_invariants(rows, conf, iou, max_det, agnostic, classes):
    c = cands([(x, y, x + w, y + h, s, k) for x, y, w, h, s, k in rows])
    idx = select(c, Thresholds(conf=conf, iou=iou, max_det=max_det, agnostic=agnostic, classes=classes))
    assert len(set(idx.tolist())) == len(idx) <= max_det
    assert (c.score[idx] > conf).all()
    if classes is not None:
        assert np.isin(c.class_id[idx], classes).all()
    assert (np.diff(c.score[idx]) <= 0).all()  # best first
    ious = box_iou(c.xyxy[idx], c.xyxy[idx])
    for a in range(len(idx)):
        for b in range(a + 1, len(idx)):
            if agnostic or c.class_id[idx[a]] == c.class_id[idx[b]]:
                assert ious[a, b] <= iou + 1e-6
    # maximality: every dropped candidate above conf overlaps a kept, better one (unless max_det cut)
    if len(idx) < max_det:
        kept = set(idx.tolist())
        for j in np.flatnonzero(c.score > conf):
            if j in kept or (classes is not None and c.class_id[j] not in classes):
                continue
            same = [i for i in kept if agnostic or c.class_id[i] == c.class_id[j]]
            assert any(box_iou(c.xyxy[[i]], c.xyxy[[j]])[0, 0] > iou - 1e-6 and c.score[i] >= c.score[j] for i in same)
