"""The demo trainer's rectangular batches: windows cover every non-padding pixel and every
label, crops keep boxes on their objects, and a batch has one shape."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from tools import train_demo
from tools.train_demo import (RectSampler, _letterboxed, augment, content_windows, crop_window, hsv_table, make_batch,
                              prefetched, random_crop, shrink_batch)

SEED, COUNT, IMGSZ = 4343, 12, 320


@pytest.fixture(scope="module")
def rendered():
    results = [_letterboxed((SEED, i, IMGSZ)) for i in range(COUNT)]
    return np.stack([r[0] for r in results]), [r[1] for r in results]


def test_windows_hold_all_pixels_and_labels(rendered):
    images, labels = rendered
    windows = content_windows(SEED, COUNT, IMGSZ)
    assert len({(h, w) for _, _, h, w in windows}) > 1  # the seed gives several aspect ratios
    for img, lab, (y0, x0, h, w) in zip(images, labels, windows):
        assert h % 32 == 0 and w % 32 == 0 and max(h, w) == IMGSZ
        outside = np.ones(img.shape[:2], bool)
        outside[y0 : y0 + h, x0 : x0 + w] = False
        assert (img[outside] == 114).all()  # only letterbox padding is cut away
        if len(lab):
            assert lab[:, 1].min() >= x0 - 0.5 and lab[:, 3].max() <= x0 + w + 0.5
            assert lab[:, 2].min() >= y0 - 0.5 and lab[:, 4].max() <= y0 + h + 0.5


def test_crop_keeps_boxes_on_their_pixels(rendered):
    images, labels = rendered
    windows = content_windows(SEED, COUNT, IMGSZ)
    for img, lab, win in zip(images, labels, windows):
        crop, moved = crop_window(img, lab, win)
        assert crop.shape[0] <= crop.shape[1]  # portrait windows come out landscape
        y0, x0, h, w = win
        for (c, a1, b1, a2, b2), (_, *orig) in zip(moved, lab):
            # the same pixels under the box before and after (transposed if portrait)
            ox1, oy1, ox2, oy2 = (int(round(v)) for v in orig)
            before = img[oy1:oy2, ox1:ox2]
            after = crop[int(round(b1)):int(round(b2)), int(round(a1)):int(round(a2))]
            if h > w:
                after = after.transpose(1, 0, 2)
            assert np.array_equal(before, after)


def test_rect_batches_share_one_shape(rendered):
    images, labels = rendered
    windows = content_windows(SEED, COUNT, IMGSZ)
    rng = np.random.default_rng(0)
    sampler = RectSampler(windows, 2, rng, square_fraction=0.0)
    shapes = set()
    for _ in range(20):
        idx, rect = sampler.next()
        x, t = make_batch(images, labels, idx, rng, train=True, windows=windows if rect else None)
        assert rect and x.shape[0] == 2 and x.shape[1] == 3
        shapes.add(tuple(x.shape[2:]))
        if len(t):  # targets stay inside the (possibly transposed) batch
            assert (t[:, 2] - t[:, 4] / 2 >= -0.5).all() and (t[:, 2] + t[:, 4] / 2 <= x.shape[3] + 0.5).all()
            assert (t[:, 3] - t[:, 5] / 2 >= -0.5).all() and (t[:, 3] + t[:, 5] / 2 <= x.shape[2] + 0.5).all()
    assert len(shapes) > 1 and any(h != w for h, w in shapes)


def test_prefetched_batches_keep_order_and_raise_errors():
    draws = np.random.default_rng(5)
    expected = np.random.default_rng(5).random(30)
    got = list(prefetched(lambda: draws.random(), 30))  # drawn in the background thread
    assert np.array_equal(got, expected)  # same draws, same order: training stays deterministic

    calls = iter(range(3))

    def failing():
        if next(calls) == 2:
            raise ValueError("bad batch")
        return 1

    batches = prefetched(failing, 5)
    assert next(batches) == 1 and next(batches) == 1
    with pytest.raises(ValueError, match="bad batch"):
        next(batches)


def test_shrunk_batch_keeps_boxes_on_their_objects():
    x = torch.zeros(1, 3, 128, 320)
    x[..., 40:100, 200:260] = 1.0  # one bright square, target in (img, cls, cx, cy, w, h)
    t = torch.tensor([[0.0, 1.0, 230.0, 70.0, 60.0, 60.0]])
    y, u = shrink_batch(x, t, 0.7)
    assert y.shape[2] % 32 == 0 and y.shape[3] % 32 == 0 and y.shape[3] == 224
    mask = y[0, 0] > 0.5
    rows, cols = torch.nonzero(mask.any(1)).flatten(), torch.nonzero(mask.any(0)).flatten()
    cx, cy, w, h = u[0, 2:].tolist()
    assert abs((cols.min() + cols.max() + 1) / 2 - cx) < 1.0 and abs((cols.max() + 1 - cols.min()) - w) < 1.5
    assert abs((rows.min() + rows.max() + 1) / 2 - cy) < 1.0 and abs((rows.max() + 1 - rows.min()) - h) < 1.5
    assert shrink_batch(x, t, 1.0)[0] is x  # scale 1: the batch is untouched


def test_random_crop_keeps_boxes_on_their_pixels_and_drops_objects_mostly_cut_away():
    img = np.full((448, 448, 3), 114, np.uint8)
    boxes = [(0, 20, 30, 80, 90), (1, 200, 150, 300, 260), (2, 400, 400, 440, 440)]
    for i, (_, x1, y1, x2, y2) in enumerate(boxes):
        img[y1:y2, x1:x2] = 10 + 60 * i
    lab = np.array(boxes, np.float32)
    rng = np.random.default_rng(1)
    seen_cut = False
    for _ in range(40):
        crop, moved = random_crop(img, lab, 320, rng)
        assert crop.shape == (320, 320, 3)
        for c, x1, y1, x2, y2 in moved:
            x1, y1, x2, y2 = (int(round(v)) for v in (x1, y1, x2, y2))
            inside = crop[y1:y2, x1:x2]
            assert inside.size and (inside == 10 + 60 * int(c)).all()  # the box sits on its object
        ids = set(moved[:, 0].astype(int))
        for i, (_, x1, y1, x2, y2) in enumerate(boxes):
            visible = (crop[..., 0] == 10 + 60 * i).sum() / ((x2 - x1) * (y2 - y1))
            if visible == 1.0:
                assert i in ids  # an object wholly inside the crop is always kept
            elif visible > 0.35:
                assert i in ids  # a partly cut one keeps its visible part as its box
            elif visible < 0.25:
                assert i not in ids  # one mostly cut away is no longer a target
        seen_cut |= len(moved) < len(lab)
    assert seen_cut  # 40 random crops of 320 from 448 cut some object away


def test_random_crop_is_a_no_op_without_a_draw_when_the_image_fits():
    img = np.zeros((128, 320, 3), np.uint8)
    lab = np.array([[0, 10, 10, 50, 50]], np.float32)
    rng = np.random.default_rng(3)
    out, moved = random_crop(img, lab, 320, rng)
    assert out is img and moved is lab
    assert rng.random() == np.random.default_rng(3).random()  # no random number was used


def test_cropped_rect_batches_share_one_shape_and_keep_targets_inside():
    results = [_letterboxed((SEED, i, 448)) for i in range(COUNT)]
    images, labels = np.stack([r[0] for r in results]), [r[1] for r in results]
    windows = content_windows(SEED, COUNT, 448)
    rng = np.random.default_rng(0)
    sampler = RectSampler(windows, 2, rng, square_fraction=0.3)
    for _ in range(20):
        idx, rect = sampler.next()
        x, t = make_batch(images, labels, idx, rng, train=True, windows=windows if rect else None, crop=320)
        assert max(x.shape[2:]) == 320
        if len(t):
            assert (t[:, 2] - t[:, 4] / 2 >= -0.5).all() and (t[:, 2] + t[:, 4] / 2 <= x.shape[3] + 0.5).all()
            assert (t[:, 3] - t[:, 5] / 2 >= -0.5).all() and (t[:, 3] + t[:, 5] / 2 <= x.shape[2] + 0.5).all()


def test_hsv_table_equals_the_per_pixel_integer_arithmetic():
    hsv = np.random.default_rng(5).integers(0, 256, (64, 64, 3)).astype(np.uint8)
    hsv[..., 0] %= 180  # OpenCV's 8-bit hue range
    for seed in range(20):
        rng = np.random.default_rng(seed)
        table = hsv_table(rng)
        rng = np.random.default_rng(seed)  # the same draws, in the same order, done per pixel
        ref = hsv.astype(np.int16)
        ref[..., 0] = (ref[..., 0] + int(rng.integers(-25, 26))) % 180
        ref[..., 1] = np.clip(ref[..., 1] * rng.uniform(0.4, 1.5), 0, 255)
        ref[..., 2] = np.clip(ref[..., 2] * rng.uniform(0.5, 1.4), 0, 255)
        assert np.array_equal(cv2.LUT(hsv, table), ref.astype(np.uint8))


def foreground_box(img: np.ndarray) -> tuple[int, int, int, int]:
    """x1, y1, x2, y2 of the pixels that differ from the top-left corner's."""
    ys, xs = np.nonzero((img != img[0, 0]).any(-1))
    return xs.min(), ys.min(), xs.max() + 1, ys.max() + 1


@pytest.mark.parametrize("shape", [(320, 320), (192, 320)])
def test_augment_moves_labels_with_the_pixels(shape):
    """Flips, transposes and colour changes (no zoom): the label stays on its object. Two
    colours stay two distinct colours under every photometric step, so the object is found."""
    img = np.zeros((*shape, 3), np.uint8)
    img[30:90, 200:310] = (40, 200, 250)
    lab = np.array([[1, 200, 30, 310, 90]], np.float32)
    transposed = 0
    for seed in range(40):
        out, moved = augment(img, lab, np.random.default_rng(seed), zoom_p=0.0)
        assert out.shape[2] == 3 and out.dtype == np.uint8
        transposed += foreground_box(out)[2] - foreground_box(out)[0] == 60  # the 110 x 60 box turned
        assert moved.shape == (1, 5) and moved[0, 0] == 1
        assert np.allclose(moved[0, 1:], foreground_box(out))
    if shape[0] == shape[1]:
        assert 0 < transposed < 40  # square images are transposed some of the time, not always
    else:
        assert transposed == 0  # others keep their shape (rect batches are transposed whole)
    assert np.array_equal(img[30:90, 200:310], np.broadcast_to((40, 200, 250), (60, 110, 3)))  # input untouched


def test_batches_hold_rgb_images_with_targets_on_their_objects():
    """Through make_batch (windows, transposed rect batches, BGR -> RGB): each target's box
    covers its object's pixels, in the tensor the model sees."""
    images = np.full((4, 320, 320, 3), 114, np.uint8)
    labels = []
    for i in range(4):
        images[i, 100:164, 40 + 20 * i : 140 + 20 * i] = (255, 0, 0)  # blue in BGR
        labels.append(np.array([[i % 3, 40 + 20 * i, 100, 140 + 20 * i, 164]], np.float32))
    windows = np.tile([64, 0, 192, 320], (4, 1))
    shapes = set()
    for seed in range(12):
        rng = np.random.default_rng(seed)
        x, t = make_batch(images, labels, np.arange(4), rng, train=False, windows=windows)
        shapes.add(tuple(x.shape[2:]))
        assert x.is_contiguous(memory_format=torch.channels_last)
        for b, c, cx, cy, w, h in t.tolist():
            blue = (x[int(b), 2] == 1.0) & (x[int(b), 0] == 0.0)  # RGB: channel 2 is blue
            ys, xs = torch.nonzero(blue, as_tuple=True)
            assert (xs.min() + xs.max() + 1) / 2 == cx and xs.max() + 1 - xs.min() == w
            assert (ys.min() + ys.max() + 1) / 2 == cy and ys.max() + 1 - ys.min() == h
    assert shapes == {(192, 320), (320, 192)}  # landscape batches and transposed (portrait) ones


@pytest.mark.parametrize("crop", [None, 256])
def test_a_batch_shrunk_while_8_bit_matches_shrinking_the_float_batch(rendered, crop):
    """make_batch(shrink=) resizes before the float conversion (cheaper): the same draws give
    the same targets and pixels within the rounding of an 8-bit result."""
    images, labels = rendered
    for seed in range(3):
        idx = np.arange(4) + seed
        x, t = make_batch(images, labels, idx, np.random.default_rng(seed), train=True, crop=crop)
        want_x, want_t = shrink_batch(x, t, 0.7)
        got_x, got_t = make_batch(images, labels, idx, np.random.default_rng(seed), train=True, crop=crop, shrink=0.7)
        assert got_x.shape == want_x.shape and got_x.shape[2] < x.shape[2]
        assert got_x.dtype == torch.float32 and got_x.is_contiguous(memory_format=torch.channels_last)
        assert torch.equal(got_t, want_t)
        diff = (got_x - want_x).abs()
        assert diff.max() <= 1.5 / 255 and diff.mean() < 0.5 / 255


def test_a_bfloat16_batch_is_the_float_batch_as_autocast_casts_it(rendered):
    images, labels = rendered
    x, t = make_batch(images, labels, np.arange(4), np.random.default_rng(3), train=True, crop=256)
    y, u = make_batch(images, labels, np.arange(4), np.random.default_rng(3), train=True, crop=256,
                      dtype=torch.bfloat16)
    assert y.dtype == torch.bfloat16 and y.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(y, x.to(torch.bfloat16)) and torch.equal(u, t)
