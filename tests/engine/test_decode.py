"""Each layout decoded against values computed by hand from FORMATS.md; the registry picks the
right decoder; anything else raises only the documented errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from engine.decode import (
    DECODERS_BY_NAME,
    DecodeContext,
    anchor_rows,
    check_finite,
    find_decoder,
    normalize_output,
)
from engine.errors import ModelRunError, UnsupportedOutputError

FLOOR = 0.001


def logit(p: float) -> float:
    return math.log(p / (1 - p))


def decode(pred, ctx):
    pred = normalize_output(pred)
    check_finite(pred)
    dec = find_decoder(pred, ctx)
    return dec.name, dec.decode(pred, ctx, FLOOR)


# ------------------------------------------------------------------ raw anchor heads


def raw_levels(hw, nc, cells, fill=-20.0):
    h, w = hw
    levels = [np.full((1, 3, h // s, w // s, nc + 5), fill, np.float32) for s in (8, 16, 32)]
    for level, a, gy, gx, t in cells:
        levels[level][0, a, gy, gx] = t
    return levels


def test_raw_heads_square_hand_computed():
    # level 0 (stride 320/40 = 8), anchor 1 = (16, 30), cell x=2, y=3; xy/wh logits 0 -> sigmoid 0.5
    # cx = (0.5*2 - 0.5 + 2) * 8 = 20, cy = (0.5*2 - 0.5 + 3) * 8 = 28, w = (0.5*2)^2 * 16 = 16, h = 30
    t = [0, 0, 0, 0, logit(0.9), logit(0.8), logit(0.1)]
    name, [(xyxy, score, cls)] = decode(raw_levels((320, 320), 2, [(0, 1, 3, 2, t)]), DecodeContext((320, 320)))
    assert name == "raw_anchor_heads"
    assert xyxy.shape == (1, 4)
    np.testing.assert_allclose(xyxy[0], [20 - 8, 28 - 15, 20 + 8, 28 + 15], atol=1e-4)
    assert score[0] == pytest.approx(0.9 * 0.8, abs=1e-5)
    assert cls[0] == 0


def test_raw_heads_rectangular_grid_is_ny_by_nx():
    # 256x320 input: level 2 is 8 rows x 10 cols, stride 32; anchor 2 = (373, 326).
    # Bottom-right cell (y=7, x=9): a square-grid decoder would put it elsewhere.
    # cx = (0.75*2 - 0.5 + 9) * 32 = 320, cy = (0.5*2 - 0.5 + 7) * 32 = 240
    # w = (0.5*2)^2 * 373 = 373, h = (0.25*2)^2 * 326 = 81.5
    t = [logit(0.75), 0, 0, logit(0.25), logit(0.95), logit(0.6), logit(0.99)]
    name, [(xyxy, score, cls)] = decode(raw_levels((256, 320), 2, [(2, 2, 7, 9, t)]), DecodeContext((256, 320)))
    assert name == "raw_anchor_heads"
    np.testing.assert_allclose(xyxy[0], [320 - 186.5, 240 - 40.75, 320 + 186.5, 240 + 40.75], atol=1e-3)
    assert score[0] == pytest.approx(0.95 * 0.99, abs=1e-5)
    assert cls[0] == 1


def test_raw_heads_custom_anchors_and_score_is_obj():
    anchors = ((1, 2, 3, 4, 5, 6), (7, 8, 9, 10, 11, 12), (13, 14, 15, 16, 17, 18))
    t = [0, 0, 0, 0, logit(0.7), logit(0.2)]  # one class
    ctx = DecodeContext((320, 320), anchors=anchors, score_is_obj=True)
    _, [(xyxy, score, cls)] = decode(raw_levels((320, 320), 1, [(1, 0, 0, 0, t)]), ctx)
    # level 1 stride 16, anchor (7, 8): cx = cy = 0.5*16 = 8
    np.testing.assert_allclose(xyxy[0], [8 - 3.5, 8 - 4, 8 + 3.5, 8 + 4], atol=1e-4)
    assert score[0] == pytest.approx(0.7, abs=1e-5)  # obj only, class score ignored
    assert cls[0] == 0


def test_raw_heads_wrong_anchor_count_is_unsupported():
    ctx = DecodeContext((320, 320), anchors=((1, 2, 3, 4),) * 3)  # 2 anchors per level, model has 3
    pred = normalize_output(raw_levels((320, 320), 2, []))
    with pytest.raises(UnsupportedOutputError, match="anchors"):
        find_decoder(pred, ctx).decode(pred, ctx, FLOOR)


def test_raw_heads_non_default_levels_need_anchors():
    levels = [np.zeros((1, 2, 4, 4, 7), np.float32), np.zeros((1, 2, 2, 2, 7), np.float32)]
    pred = normalize_output(levels)
    with pytest.raises(UnsupportedOutputError, match="anchors"):
        find_decoder(pred, DecodeContext((32, 32))).decode(pred, DecodeContext((32, 32)), FLOOR)


# ------------------------------------------------------------------ decoded anchor-based


def ab(rows, nc, n=6300):
    out = np.zeros((1, n, 5 + nc), np.float32)
    for i, r in enumerate(rows):
        out[0, i] = r
    return out


def test_anchor_based_hand_computed():
    pred = ab([[100, 100, 50, 40, 0.9, 0.2, 0.8], [10, 20, 4, 6, 0.0005, 1, 1], [30, 30, 10, 10, 0.5, 0.001, 0.0015]], 2)
    name, [(xyxy, score, cls)] = decode(pred, DecodeContext((320, 320)))
    assert name == "anchor_based"
    # row 1: obj below the floor; row 2: obj*cls = 0.00075 below the floor
    assert len(score) == 1
    np.testing.assert_allclose(xyxy[0], [75, 80, 125, 120])
    assert score[0] == pytest.approx(0.72, abs=1e-6) and cls[0] == 1


@pytest.mark.parametrize("score_is_obj, expected", [(False, 0.9 * 0.5), (True, 0.9)])
def test_one_class_anchor_based_score(score_is_obj, expected):
    pred = ab([[100, 100, 50, 40, 0.9, 0.5]], 1)
    name, [(_, score, cls)] = decode(pred, DecodeContext((320, 320), score_is_obj=score_is_obj))
    assert name == "anchor_based"
    assert score[0] == pytest.approx(expected, abs=1e-6) and cls[0] == 0


# ------------------------------------------------------------------ anchor-free


def test_anchor_free_hand_computed():
    pred = np.zeros((1, 7, 2100), np.float32)
    pred[0, :, 5] = [100, 100, 50, 40, 0.1, 0.3, 0.9]
    pred[0, :, 7] = [10, 10, 4, 4, 0.0009, 0.0, 0.0]  # below the floor
    name, [(xyxy, score, cls)] = decode(pred, DecodeContext((320, 320)))
    assert name == "anchor_free"
    assert len(score) == 1
    np.testing.assert_allclose(xyxy[0], [75, 80, 125, 120])
    assert score[0] == pytest.approx(0.9) and cls[0] == 2


def test_anchor_free_with_few_anchors_uses_class_count():
    # 84 rows x 50 columns: more rows than columns, but 84 = 4 + 80 names -> anchor-free
    pred = np.zeros((1, 84, 50), np.float32)
    pred[0, :4, 3] = [50, 60, 10, 20]
    pred[0, 4 + 17, 3] = 0.6
    name, [(xyxy, score, cls)] = decode(pred, DecodeContext((320, 320), num_classes=80))
    assert name == "anchor_free"
    np.testing.assert_allclose(xyxy[0], [45, 50, 55, 70])
    assert cls[0] == 17 and score[0] == pytest.approx(0.6)


# ------------------------------------------------------------------ end-to-end


def test_end2end_rows_in_model_order():
    pred = np.zeros((1, 300, 6), np.float32)
    pred[0, 0] = [1, 2, 30, 40, 0.9, 2]
    pred[0, 1] = [1, 2, 30, 40, 0.8, 0]  # the same box with another class: kept
    pred[0, 2] = [5, 5, 9, 9, 0.95, 1]  # out of order on purpose: model order is kept
    name, [(xyxy, score, cls)] = decode(pred, DecodeContext((320, 320), nms_in_model=True))
    assert name == "end2end"
    np.testing.assert_allclose(xyxy, [[1, 2, 30, 40], [1, 2, 30, 40], [5, 5, 9, 9]])
    np.testing.assert_allclose(score, [0.9, 0.8, 0.95])
    assert cls.tolist() == [2, 0, 1]


# ------------------------------------------------------------------ the registry


@pytest.mark.parametrize(
    "shape, ctx, expected",
    [
        ((1, 25200, 6), DecodeContext((640, 640)), "anchor_based"),  # the one-class YOLOv5 trap
        ((1, 25200, 6), DecodeContext((640, 640), end2end_flag=False), "anchor_based"),
        ((1, 6300, 6), DecodeContext((320, 320)), "anchor_based"),
        ((1, 300, 6), DecodeContext((640, 640)), "end2end"),
        ((1, 300, 6), DecodeContext((640, 640), nms_in_model=True, end2end_flag=True), "end2end"),
        ((1, 300, 6), DecodeContext((640, 640), end2end_flag=False), "anchor_based"),
        ((1, 25200, 85), DecodeContext((640, 640)), "anchor_based"),
        ((1, 84, 8400), DecodeContext((640, 640)), "anchor_free"),
        ((1, 5, 8400), DecodeContext((640, 640), num_classes=1), "anchor_free"),
        ((1, 6, 8400), DecodeContext((640, 640)), "anchor_free"),  # 2-class anchor-free, not end2end
    ],
)
def test_registry_picks_decoder(shape, ctx, expected):
    assert find_decoder(np.zeros(shape, np.float32), ctx).name == expected


def test_many_rows_without_metadata_end2end_or_p6_by_content():
    ctx = DecodeContext((320, 320))  # P3-P5 anchor rows: 6300
    e2e = np.zeros((1, 2000, 6), np.float32)  # max_det 2000: zero padding plus a few detections
    e2e[0, :3] = [[10, 10, 50, 50, 0.9, 2], [20, 20, 60, 70, 0.8, 0], [5, 5, 9, 9, 0.3, 7]]
    assert find_decoder(e2e, ctx).name == "end2end"
    rng = np.random.default_rng(0)
    p6 = rng.uniform(0.001, 0.2, (1, 3 * (40 * 40 + 20 * 20 + 10 * 10 + 5 * 5), 6)).astype(np.float32)
    assert find_decoder(p6, ctx).name == "anchor_based"  # one-class P3-P6: scores, not class ids


def test_registry_raw_heads():
    pred = normalize_output(raw_levels((320, 320), 80, []))
    assert find_decoder(pred, DecodeContext((320, 320))).name == "raw_anchor_heads"


def test_anchor_rows_formula():
    assert anchor_rows((640, 640)) == 25200
    assert anchor_rows((320, 320)) == 6300
    assert anchor_rows((256, 320)) == 3 * (32 * 40 + 16 * 20 + 8 * 10)


def test_tuple_output_uses_element_zero():
    pred = np.zeros((1, 7, 2100), np.float32)
    feats = [np.zeros((1, 3, 40, 40, 7), np.float32), np.zeros((1, 32, 80, 80), np.float32)]
    out = normalize_output((pred, feats))
    assert isinstance(out, np.ndarray) and out.shape == (1, 7, 2100)


@pytest.mark.parametrize("output", [{"boxes": np.zeros((1, 4), np.float32)}, (), None, "text", 3])
def test_non_detection_output_lists_what_it_got(output):
    with pytest.raises(UnsupportedOutputError):
        normalize_output(output)


def test_unsupported_shape_lists_shapes():
    with pytest.raises(UnsupportedOutputError, match=r"1x10"):
        find_decoder(normalize_output(np.zeros((1, 10), np.float32)), DecodeContext((320, 320)))
    with pytest.raises(UnsupportedOutputError, match=r"dict\{boxes: tensor 1x4"):
        normalize_output({"boxes": np.zeros((1, 4), np.float32)})


def test_all_nan_is_model_run_error():
    with pytest.raises(ModelRunError, match="NaN"):
        check_finite(np.full((1, 7, 10), np.nan, np.float32))


def test_some_nan_rows_are_dropped_not_fatal():
    pred = np.zeros((1, 7, 2100), np.float32)
    pred[0, :, 0] = [np.nan, 100, 50, 40, 0.9, 0, 0]
    pred[0, :, 1] = [100, 100, 50, 40, 0.8, 0, 0]
    _, [(xyxy, score, _)] = decode(pred, DecodeContext((320, 320)))
    assert score.tolist() == pytest.approx([0.8])
    assert np.isfinite(xyxy).all()


def test_decoders_by_name_complete():
    assert set(DECODERS_BY_NAME) == {"raw_anchor_heads", "anchor_based", "anchor_free", "end2end"}


# ------------------------------------------------------------------ property: only documented errors

floats = st.floats(allow_nan=True, allow_infinity=True, width=32)
arrays = hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=5, min_side=0, max_side=9), elements=floats)
head_lists = st.lists(
    hnp.arrays(np.float32, hnp.array_shapes(min_dims=5, max_dims=5, min_side=0, max_side=5), elements=floats),
    min_size=1, max_size=4,
)
contexts = st.builds(
    DecodeContext,
    input_hw=st.tuples(st.integers(8, 64), st.integers(8, 64)),
    num_classes=st.none() | st.integers(1, 10),
    nms_in_model=st.booleans(),
    end2end_flag=st.none() | st.booleans(),
    score_is_obj=st.booleans(),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(output=arrays | head_lists | st.tuples(arrays, head_lists), ctx=contexts)
def test_random_outputs_raise_only_documented_errors(output, ctx):
    try:
        _, results = decode(output, ctx)
    except (UnsupportedOutputError, ModelRunError):
        return
    for xyxy, score, cls in results:
        assert xyxy.ndim == 2 and xyxy.shape[1] == 4
        assert len(xyxy) == len(score) == len(cls)
        assert np.isfinite(xyxy).all() and np.isfinite(score).all()
        assert (score > FLOOR).all()


@pytest.mark.parametrize(
    "pred, ctx",
    [
        (np.zeros((1, 7, 2100), np.float32), DecodeContext((320, 320))),
        (np.zeros((1, 6300, 7), np.float32), DecodeContext((320, 320))),
        (np.zeros((1, 300, 6), np.float32), DecodeContext((320, 320), nms_in_model=True)),
    ],
)
def test_nothing_above_floor_gives_empty_not_crash(pred, ctx):
    # Regression: _finite_rows reshaped (0, 4) to (0, -1) and raised ValueError on any image
    # without a single candidate above the floor.
    _, [(xyxy, score, cls)] = decode(pred, ctx)
    assert xyxy.shape == (0, 4) and score.shape == (0,) and cls.shape == (0,)


# ------------------------------------------------------------------ multi-label (eval --multi-label)


def test_multi_label_anchor_free_gives_one_candidate_per_class_above_the_floor():
    pred = np.zeros((1, 7, 2100), np.float32)
    pred[0, :, 5] = [100, 100, 50, 40, 0.1, 0.0005, 0.9]  # classes 0 and 2 pass the floor
    pred[0, :, 9] = [10, 10, 4, 4, 0.0, 0.3, 0.0]
    _, [(xyxy, score, cls)] = decode(pred, DecodeContext((320, 320), multi_label=True))
    assert cls.tolist() == [0, 2, 1]  # anchor by anchor, class by class (as Ultralytics' torch.where)
    assert score.tolist() == pytest.approx([0.1, 0.9, 0.3])
    np.testing.assert_allclose(xyxy[:2], [[75, 80, 125, 120]] * 2)
    _, [(_, _, single)] = decode(pred, DecodeContext((320, 320)))
    assert single.tolist() == [2, 1]


def test_multi_label_anchor_based_scores_are_obj_times_cls():
    pred = ab([[100, 100, 50, 40, 0.9, 0.2, 0.8], [30, 30, 10, 10, 0.5, 0.001, 0.0015]], 2)
    _, [(xyxy, score, cls)] = decode(pred, DecodeContext((320, 320), multi_label=True))
    # row 2: 0.5 * 0.0015 = 0.00075 is below the floor for both classes
    assert cls.tolist() == [0, 1] and score.tolist() == pytest.approx([0.18, 0.72], abs=1e-6)
