"""Letterbox: the references' arithmetic, computed here independently; inverse mappings."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.letterbox import PAD_VALUE, compute_geometry, letterbox


def reference_numbers(h, w, H, W):
    """FORMATS.md, written out again: r, new size, top/bottom/left/right."""
    r = min(H / h, W / w)
    # the exporters' formula, except that a side never rounds to 0 px (they crash there)
    nw, nh = max(1, int(round(w * r))), max(1, int(round(h * r)))
    dw, dh = (W - nw) / 2, (H - nh) / 2
    return r, (nw, nh), (int(round(dh - 0.1)), int(round(dh + 0.1)), int(round(dw - 0.1)), int(round(dw + 0.1)))


@pytest.mark.parametrize(
    "hw, input_hw, resized_wh, pads",
    [
        ((320, 320), (320, 320), (320, 320), (0, 0, 0, 0)),
        ((480, 640), (640, 640), (640, 480), (80, 80, 0, 0)),
        ((720, 1280), (320, 320), (320, 180), (70, 70, 0, 0)),
        ((200, 300), (320, 320), (320, 213), (53, 54, 0, 0)),  # dh = 53.5 -> 53 / 54
        ((333, 101), (640, 640), (194, 640), (0, 0, 223, 223)),
        ((1, 1), (320, 320), (320, 320), (0, 0, 0, 0)),
        ((1, 4000), (320, 320), (320, 1), (159, 160, 0, 0)),  # round(0.08) = 0 -> clamped to 1 row
        ((256, 320), (256, 320), (320, 256), (0, 0, 0, 0)),
        ((100, 100), (256, 320), (256, 256), (0, 0, 32, 32)),
    ],
)
def test_geometry_hand_values(hw, input_hw, resized_wh, pads):
    geom, resized, padding = compute_geometry(hw, input_hw)
    assert resized == resized_wh
    assert padding == pads
    assert (geom.pad_top, geom.pad_left) == (pads[0], pads[2])
    r, nwh, p = reference_numbers(*hw, *input_hw)
    assert (nwh, p) == (resized_wh, pads)


@pytest.mark.parametrize("hw", [(320, 320), (200, 300), (333, 101), (1, 1), (3, 2000), (719, 1281), (481, 640)])
@pytest.mark.parametrize("input_hw", [(320, 320), (256, 320), (640, 640)])
def test_letterbox_image_matches_reference(hw, input_hw):
    import cv2

    rng = np.random.default_rng(hw[0] * 7 + hw[1])
    img = rng.integers(0, 256, (*hw, 3), dtype=np.uint8)
    out, geom = letterbox(img, input_hw)
    assert out.shape == (*input_hw, 3) and out.dtype == np.uint8
    h, w = hw
    H, W = input_hw
    _, (nw, nh), (top, bottom, left, right) = reference_numbers(h, w, H, W)
    resized = img if (w, h) == (nw, nh) else cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR)
    ref = cv2.copyMakeBorder(resized, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(114, 114, 114))
    hh, ww = min(H, ref.shape[0]), min(W, ref.shape[1])
    np.testing.assert_array_equal(out[:hh, :ww], ref[:hh, :ww])
    # padding is grey 114 everywhere outside the image
    mask = np.ones((H, W), bool)
    mask[top : top + nh, left : left + nw] = False
    assert (out[mask] == PAD_VALUE).all()


def test_very_wide_image_does_not_crash_and_keeps_canvas():
    img = np.full((1, 5000, 3), 7, np.uint8)
    out, geom = letterbox(img, (320, 320))
    assert out.shape == (320, 320, 3)


def test_zero_size_image_rejected():
    with pytest.raises(ValueError):
        compute_geometry((0, 10), (320, 320))


def test_unknown_convention_rejected():
    with pytest.raises(ValueError):
        compute_geometry((10, 10), (320, 320), convention="other")


@pytest.mark.parametrize("convention", ["ultralytics", "yolov5"])
def test_to_original_hand_values(convention):
    # 200x300 (h x w) -> 320x320: r = 320/300, resized 320x213, top pad 53, dh (unrounded) 53.5
    geom = compute_geometry((200, 300), (320, 320), convention)[0]
    box_in = np.array([[32.0, 106.0, 160.0, 213.0]], np.float32)
    if convention == "ultralytics":
        sx, sy, px, py = 320 / 300, 213 / 200, 0.0, 53.0
    else:
        sx = sy = 320 / 300
        px, py = (320 - 300 * sx) / 2, (320 - 200 * sy) / 2
    expected = [(32 - px) / sx, (106 - py) / sy, (160 - px) / sx, (213 - py) / sy]
    np.testing.assert_allclose(geom.to_original(box_in, clip=False)[0], expected, rtol=1e-5)


def test_conventions_differ_slightly():
    a = compute_geometry((200, 300), (320, 320), "ultralytics")[0]
    b = compute_geometry((200, 300), (320, 320), "yolov5")[0]
    box = np.array([[10, 60, 300, 250]], np.float32)
    diff = np.abs(a.to_original(box, clip=False) - b.to_original(box, clip=False)).max()
    assert 0 < diff < 1.5


def test_clip():
    geom = compute_geometry((100, 200), (320, 320))[0]
    out = geom.to_original(np.array([[-50, -50, 1000, 1000]], np.float32))
    np.testing.assert_allclose(out[0], [0, 0, 200, 100])


@pytest.mark.parametrize("convention", ["ultralytics", "yolov5"])
@pytest.mark.parametrize("hw", [(200, 300), (1, 1), (3, 2000), (719, 1281), (640, 480)])
def test_round_trip_exactness(convention, hw):
    geom = compute_geometry(hw, (320, 320), convention)[0]
    h, w = hw
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 1, (20, 2)) * [w, h]
    boxes = np.concatenate([xy, xy + rng.uniform(0, 1, (20, 2)) * [w, h] / 2], 1).astype(np.float32)
    back = geom.to_original(geom.to_input(boxes), clip=False)
    np.testing.assert_allclose(back, boxes, rtol=1e-5, atol=1e-3 * max(1.0, max(hw) / 320))


@settings(max_examples=200, deadline=None)
@given(
    h=st.integers(1, 4000), w=st.integers(1, 4000),
    H=st.sampled_from([32, 256, 320, 640]), W=st.sampled_from([32, 320, 640]),
    convention=st.sampled_from(["ultralytics", "yolov5"]),
    fx=st.floats(0, 1), fy=st.floats(0, 1), fw=st.floats(0, 1), fh=st.floats(0, 1),
)
def test_round_trip_property(h, w, H, W, convention, fx, fy, fw, fh):
    geom = compute_geometry((h, w), (H, W), convention)[0]
    assert min(geom.resized_wh) >= 1
    x1, y1 = fx * w, fy * h
    box = np.array([[x1, y1, x1 + fw * (w - x1), y1 + fh * (h - y1)]], np.float32)
    there = geom.to_input(box)
    back = geom.to_original(there, clip=False)
    # error budget: float32 rounding of values up to ~max(h, w) pixels
    tol = 4e-6 * max(h, w, H, W) + 1e-4
    np.testing.assert_allclose(back, box, atol=tol)
    # and a box inside the image maps inside the letterboxed image region (+/- 1 px rounding)
    assert there[0, 0] >= geom.pad_left - 1 and there[0, 1] >= geom.pad_top - 1
    assert there[0, 2] <= geom.pad_left + geom.resized_wh[0] + 1 and there[0, 3] <= geom.pad_top + geom.resized_wh[1] + 1
