"""Synthetic shapes dataset: filled circles, rectangles and triangles with YOLO labels.

    python -m tools.make_shapes --out DIR --count N --seed S

Writes ``DIR/images/<name>.jpg|png`` and ``DIR/labels/<name>.txt`` (``cls cx cy w h``,
normalised, 6 decimals). Deterministic: image ``i`` depends only on ``(seed, i)``, so any
subset can be rebuilt and two runs with the same arguments give identical files.

Labelling rules (documented in resources/demo/README.md):
- the box is the axis-aligned box of the FULL (amodal) shape; shapes are kept inside the
  image, so no clipping is needed;
- a new shape is only accepted if it leaves every earlier shape at least ``MIN_VISIBLE`` of
  its pixels visible, so no label describes an object that is mostly hidden;
- clutter (lines, text, textures) is never labelled.

The aim is variety rather than one look (the demo model is also judged on images from a
different renderer): backgrounds, colours, edges, blur, noise, compression and image shapes
are all drawn at random.
"""

from __future__ import annotations

import argparse
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)

NAMES = ("circle", "rectangle", "triangle")
MIN_VISIBLE = 0.5  # each labelled shape keeps at least this fraction of its pixels visible
# (width/height) image aspects: landscape, portrait, square and panoramic
ASPECTS = (4 / 3, 3 / 4, 16 / 9, 9 / 16, 1.0, 3 / 2, 2 / 3, 2.0, 1 / 2, 3.0, 1 / 3)
FONTS = (
    cv2.FONT_HERSHEY_SIMPLEX,
    cv2.FONT_HERSHEY_PLAIN,
    cv2.FONT_HERSHEY_DUPLEX,
    cv2.FONT_HERSHEY_COMPLEX,
    cv2.FONT_HERSHEY_TRIPLEX,
    cv2.FONT_HERSHEY_SCRIPT_SIMPLEX,
)


@dataclass(frozen=True)
class Shape:
    cls: int
    poly: np.ndarray  # (K,2) float vertices; circles: (1,2) centre
    radius: float = 0.0

    def box(self) -> tuple[float, float, float, float]:
        if self.cls == 0:
            (cx, cy), r = self.poly[0], self.radius
            return cx - r, cy - r, cx + r, cy + r
        return (*self.poly.min(0), *self.poly.max(0))


# ---------------------------------------------------------------- image size and background


def image_size(rng: np.random.Generator) -> tuple[int, int]:
    """(w, h) between 320x240-ish and 1600x1200-ish in many aspect ratios."""
    aspect = ASPECTS[rng.integers(len(ASPECTS))]
    long_side = int(rng.uniform(320, 1600))
    if aspect >= 1:
        w, h = long_side, long_side / aspect
    else:
        w, h = long_side * aspect, long_side
    return max(int(w), 160), max(int(h), 160)


def _random_colour(rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(0, 255, 3)


def _gradient(rng, h, w) -> np.ndarray:
    c0, c1 = _random_colour(rng), _random_colour(rng)
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    t = xx * math.cos(angle) + yy * math.sin(angle)
    t = (t - t.min()) / max(float(t.max() - t.min()), 1.0)
    if rng.random() < 0.3:  # radial instead of linear
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        t = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2)
        t /= max(float(t.max()), 1.0)
    return c0 + (c1 - c0) * t[..., None]


def _noise(rng, h, w) -> np.ndarray:
    """Smooth value noise: random grid upscaled, blended with a base colour."""
    cells = int(rng.integers(2, 40))
    small = rng.uniform(0, 255, (cells, max(1, cells * w // h), 3)).astype(np.float32)
    big = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    base = _random_colour(rng)
    a = rng.uniform(0.2, 0.8)
    return np.clip(base * (1 - a) + big * a, 0, 255)


def _texture(rng, h, w) -> np.ndarray:
    """Stripes, checkerboard or fine grain: periodic patterns the model must ignore."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    c0, c1 = _random_colour(rng), _random_colour(rng)
    kind = rng.integers(3)
    period = rng.uniform(4, 60)
    if kind == 0:
        ang = rng.uniform(0, np.pi)
        t = 0.5 + 0.5 * np.sin((xx * math.cos(ang) + yy * math.sin(ang)) * 2 * np.pi / period)
    elif kind == 1:
        t = ((xx // period + yy // period) % 2).astype(np.float32)
    else:
        t = rng.uniform(0, 1, (h, w)).astype(np.float32)
        t = cv2.GaussianBlur(t, (0, 0), rng.uniform(0.5, 3))
        t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    return c0 + (c1 - c0) * t[..., None]


def background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    kind = rng.choice(["flat", "gradient", "noise", "texture"], p=[0.25, 0.3, 0.25, 0.2])
    if kind == "flat":
        img = np.broadcast_to(_random_colour(rng), (h, w, 3)).copy()
    elif kind == "gradient":
        img = _gradient(rng, h, w)
    elif kind == "noise":
        img = _noise(rng, h, w)
    else:
        img = _texture(rng, h, w)
    return np.clip(img, 0, 255).astype(np.uint8)


def clutter(rng: np.random.Generator, img: np.ndarray) -> None:
    """Lines, arcs and text drawn in place: distractors that are never labelled."""
    h, w = img.shape[:2]
    L = max(h, w)
    aa = cv2.LINE_AA if rng.random() < 0.5 else cv2.LINE_8
    for _ in range(int(rng.integers(0, 12))):
        p0 = (int(rng.uniform(0, w)), int(rng.uniform(0, h)))
        p1 = (int(rng.uniform(0, w)), int(rng.uniform(0, h)))
        thick = int(rng.integers(1, max(2, L // 150)))
        col = tuple(float(c) for c in _random_colour(rng))
        if rng.random() < 0.25:  # open arc: curved like a circle, but not a filled one
            axes = (int(rng.uniform(5, L / 6)), int(rng.uniform(5, L / 6)))
            cv2.ellipse(img, p0, axes, float(rng.uniform(0, 360)), 0, float(rng.uniform(30, 270)), col, thick, aa)
        else:
            cv2.line(img, p0, p1, col, thick, aa)
    words = ["ScriptLens", "A4", "x=12", "OK", "triangle", "box", "7", "Lorem ipsum", "#42", "ROI"]
    for _ in range(int(rng.integers(0, 5))):
        text = words[rng.integers(len(words))]
        scale = rng.uniform(0.4, max(0.5, L / 400))
        org = (int(rng.uniform(0, w * 0.8)), int(rng.uniform(10, h)))
        col = tuple(float(c) for c in _random_colour(rng))
        cv2.putText(img, text, org, FONTS[rng.integers(len(FONTS))], scale, col, int(rng.integers(1, 4)), aa)


# ---------------------------------------------------------------------------------- shapes


def _size(rng: np.random.Generator, long_side: int) -> float:
    """Shape size (px) in [2%, 50%] of the image's longer side; log-uniform half the time so
    small objects are common, uniform otherwise so large ones are too."""
    if rng.random() < 0.5:
        frac = math.exp(rng.uniform(math.log(0.02), math.log(0.5)))
    else:
        frac = rng.uniform(0.02, 0.5)
    return frac * long_side


def _triangle(rng: np.random.Generator, size: float) -> np.ndarray:
    """Random non-degenerate triangle (smallest angle >= 12 deg) whose box's long side is size."""
    for _ in range(50):
        pts = rng.uniform(0, 1, (3, 2))
        a, b, c = (np.linalg.norm(pts[i] - pts[j]) for i, j in ((1, 2), (0, 2), (0, 1)))
        if min(a, b, c) < 1e-3:
            continue
        angles = [
            math.acos(np.clip((b * b + c * c - a * a) / (2 * b * c), -1, 1)),
            math.acos(np.clip((a * a + c * c - b * b) / (2 * a * c), -1, 1)),
        ]
        angles.append(math.pi - sum(angles))
        if min(angles) >= math.radians(12):
            break
    pts -= pts.min(0)
    return pts / max(float(pts.max()), 1e-6) * size


def make_shape(rng: np.random.Generator, cls: int, w: int, h: int) -> Shape | None:
    size = _size(rng, max(w, h))
    size = min(size, 0.95 * min(w, h))  # must fit inside the image
    if cls == 0:
        r = size / 2
        centre = np.array([[rng.uniform(r, w - r), rng.uniform(r, h - r)]])
        return Shape(0, centre, r)
    if cls == 1:
        aspect = math.exp(rng.uniform(math.log(0.2), 0)) if rng.random() > 0.2 else 1.0  # squares too
        rw, rh = size, size * aspect
        if rng.random() < 0.5:
            rw, rh = rh, rw
        ang = 0.0 if rng.random() < 0.3 else rng.uniform(0, np.pi / 2)
        ca, sa = math.cos(ang), math.sin(ang)
        local = np.array([[-rw, -rh], [rw, -rh], [rw, rh], [-rw, rh]]) / 2
        poly = local @ np.array([[ca, sa], [-sa, ca]])
    else:
        poly = _triangle(rng, size)
        ang = rng.uniform(0, 2 * np.pi)
        ca, sa = math.cos(ang), math.sin(ang)
        poly = (poly - poly.mean(0)) @ np.array([[ca, sa], [-sa, ca]])
    # rotation may have grown the box past the image: shrink to fit, then place
    span = poly.max(0) - poly.min(0)
    shrink = min(1.0, 0.95 * w / span[0], 0.95 * h / span[1])
    poly = (poly - poly.min(0)) * shrink
    span = poly.max(0)
    if span.min() < 3:
        return None
    offset = np.array([rng.uniform(0, w - span[0]), rng.uniform(0, h - span[1])])
    return Shape(cls, poly + offset)


def _mask(shape: Shape, h: int, w: int) -> np.ndarray:
    m = np.zeros((h, w), np.uint8)
    _draw(m, shape, 1, cv2.LINE_8)
    return m


SHIFT = 4  # sub-pixel drawing precision (cv2 fixed-point coordinates)


def _draw(img: np.ndarray, shape: Shape, colour, line_type: int) -> None:
    k = 1 << SHIFT
    if shape.cls == 0:
        c = tuple(int(round(v * k)) for v in shape.poly[0])
        cv2.circle(img, c, int(round(shape.radius * k)), colour, -1, line_type, SHIFT)
    else:
        pts = np.round(shape.poly * k).astype(np.int32)[None]
        cv2.fillPoly(img, pts, colour, line_type, SHIFT)


def place_shapes(rng: np.random.Generator, w: int, h: int) -> list[Shape]:
    """Choose shapes so that every accepted one stays >= MIN_VISIBLE visible."""
    n_target = int(rng.choice([0, 1, 2, 3, 4, 5, 6, 8, 10, 12], p=[0.03, 0.12, 0.15, 0.15, 0.14, 0.12, 0.1, 0.08, 0.06, 0.05]))
    shapes: list[Shape] = []
    owner = np.full((h, w), -1, np.int16)  # index of the shape that owns each pixel
    areas: list[int] = []
    for _ in range(n_target * 4):
        if len(shapes) >= n_target:
            break
        s = make_shape(rng, int(rng.integers(3)), w, h)
        if s is None:
            continue
        m = _mask(s, h, w).astype(bool)
        area = int(m.sum())
        if area < 12:
            continue
        covered = owner[m]
        ok = True
        for j in np.unique(covered[covered >= 0]):
            still = int((owner == j).sum()) - int((covered == j).sum())
            if still < MIN_VISIBLE * areas[j]:
                ok = False
                break
        if not ok:
            continue
        owner[m] = len(shapes)
        shapes.append(s)
        areas.append(area)
    return shapes


# ------------------------------------------------------------------------------ photometry


def _shape_colour(rng: np.random.Generator, img: np.ndarray, shape: Shape, grayscale: bool):
    """A colour that differs from the local background; sometimes only barely (low contrast)."""
    x0, y0, x1, y1 = (int(v) for v in shape.box())
    patch = img[max(y0, 0) : max(y1, y0 + 1), max(x0, 0) : max(x1, x0 + 1)]
    bg = patch.reshape(-1, 3).mean(0) if patch.size else np.full(3, 128.0)
    min_diff = 25 if rng.random() < 0.2 else 60  # 20% low-contrast shapes
    for _ in range(20):
        col = _random_colour(rng)
        if grayscale:
            col = np.full(3, col.mean())
        if np.abs(col - bg).max() >= min_diff and np.abs(col.mean() - bg.mean()) >= min_diff * 0.4:
            break
    return tuple(float(c) for c in col)


def render(rng: np.random.Generator) -> tuple[np.ndarray, list[Shape], str]:
    """One image (BGR uint8), its shapes and the file extension to save it with."""
    w, h = image_size(rng)
    grayscale = rng.random() < 0.15
    img = background(rng, h, w)
    if rng.random() < 0.6:
        clutter(rng, img)
    shapes = place_shapes(rng, w, h)
    hard_edges = rng.random() < 0.35
    for s in shapes:
        col = _shape_colour(rng, img, s, grayscale)
        _draw(img, s, col, cv2.LINE_8 if hard_edges else cv2.LINE_AA)
        if rng.random() < 0.15:  # a few shapes are shaded, not flat: gradients/texture inside
            m = _mask(s, h, w).astype(bool)
            shade = _gradient(rng, h, w) if rng.random() < 0.5 else _noise(rng, h, w)
            a = rng.uniform(0.15, 0.4)
            img[m] = np.clip(img[m] * (1 - a) + shade[m] * a, 0, 255).astype(np.uint8)
    if rng.random() < 0.3:  # clutter on top too: lines crossing the shapes
        clutter(rng, img)
    if grayscale:
        img = cv2.cvtColor(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    img = photometric(rng, img)
    ext = ".png" if rng.random() < 0.2 else ".jpg"
    return img, shapes, ext


def photometric(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    if rng.random() < 0.3:
        sigma = rng.uniform(0.5, 0.002 * max(img.shape[:2]) + 0.6)
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    if rng.random() < 0.2:  # low contrast: squeeze towards mid grey
        a = rng.uniform(0.35, 0.7)
        img = np.clip(img.astype(np.float32) * a + 128 * (1 - a) + rng.uniform(-30, 30), 0, 255).astype(np.uint8)
    if rng.random() < 0.3:
        sigma = rng.uniform(2, 18)
        noise = rng.normal(0, sigma, img.shape[:2] + ((1,) if rng.random() < 0.5 else (3,)))
        img = np.clip(img.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    return img


def yolo_lines(shapes: list[Shape], w: int, h: int) -> list[str]:
    lines = []
    for s in shapes:
        x0, y0, x1, y1 = s.box()
        x0, x1 = max(0.0, x0), min(float(w), x1)
        y0, y1 = max(0.0, y0), min(float(h), y1)
        cx, cy, bw, bh = (x0 + x1) / 2 / w, (y0 + y1) / 2 / h, (x1 - x0) / w, (y1 - y0) / h
        lines.append(f"{s.cls} {cx:.6f} {cy:.6f} {bw:.6f} {bh:.6f}")
    return lines


def make_one(seed: int, index: int) -> tuple[np.ndarray, list[str], str, int]:
    """Render image ``index`` of the dataset ``seed``: (BGR image, label lines, ext, jpeg quality)."""
    rng = np.random.default_rng([seed, index])
    img, shapes, ext = render(rng)
    quality = int(rng.integers(30, 96))  # drawn even for PNG so the stream stays aligned
    return img, yolo_lines(shapes, img.shape[1], img.shape[0]), ext, quality


def write_dataset(out: Path, count: int, seed: int, start: int = 0) -> None:
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "labels").mkdir(parents=True, exist_ok=True)
    for i in range(start, start + count):
        img, lines, ext, quality = make_one(seed, i)
        name = f"shapes_{seed}_{i:05d}"
        params = [cv2.IMWRITE_JPEG_QUALITY, quality] if ext == ".jpg" else [cv2.IMWRITE_PNG_COMPRESSION, 6]
        ok, buf = cv2.imencode(ext, img, params)
        if not ok:
            raise RuntimeError(f"could not encode {name}{ext}")
        (out / "images" / f"{name}{ext}").write_bytes(buf.tobytes())
        (out / "labels" / f"{name}.txt").write_text("\n".join(lines) + ("\n" if lines else ""))
        if (i - start + 1) % 100 == 0:
            log.info("%d/%d images", i - start + 1, count)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--start", type=int, default=0, help="first image index (to build a set in parts)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    write_dataset(args.out, args.count, args.seed, args.start)
    (args.out / "classes.txt").write_text("\n".join(NAMES) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
