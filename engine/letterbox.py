"""Letterbox an image to the model's fixed input size, and map boxes back.

Follows the reference exporters exactly (FORMATS.md): scale-up allowed, centred padding of
colour 114, INTER_LINEAR, ``top = round(dh - 0.1)``. The `Geometry` it returns is the ONLY
source of the inverse mapping, so forward and inverse can never disagree (the 1-3 px offsets
users report elsewhere come from recomputing padding a second way).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

PAD_VALUE = 114


# How boxes go back to the original image. The two reference families differ by < 1 px,
# enough to break IoU >= 0.99 on small boxes, so each model is mapped back the way its own
# predictor does it:
#   "ultralytics": subtract the padding actually applied, divide by the ACTUAL resize ratio per
#                  axis (new_w / w, new_h / h) -- what ultralytics 8.4 returns (checked against
#                  its predictor's output in shared/fixtures).
#   "yolov5":      YOLOv5 / YOLOv7 scale_boxes: one gain min(H/h, W/w) and the UNROUNDED
#                  padding (W - w*gain) / 2.
CONVENTIONS = ("ultralytics", "yolov5")


@dataclass(frozen=True)
class Geometry:
    """How an original image of ``source_hw`` became a model input of ``input_hw``."""

    source_hw: tuple[int, int]
    input_hw: tuple[int, int]
    resized_wh: tuple[int, int]  # size of the image inside the padding
    pad_left: int
    pad_top: int
    convention: str = "ultralytics"

    @property
    def gain(self) -> float:
        """The letterbox scale r = min(H/h, W/w)."""
        (h, w), (H, W) = self.source_hw, self.input_hw
        return min(H / h, W / w)

    def _offset_and_scale(self) -> tuple[float, float, float, float]:
        (h, w), (H, W) = self.source_hw, self.input_hw
        if self.convention == "yolov5":
            g = self.gain
            return (W - w * g) / 2, (H - h * g) / 2, g, g
        return float(self.pad_left), float(self.pad_top), self.resized_wh[0] / w, self.resized_wh[1] / h

    def to_original(self, xyxy: np.ndarray, clip: bool = True) -> np.ndarray:
        """Map (N,4) xyxy boxes from model-input pixels to original pixels (a new array)."""
        px, py, sx, sy = self._offset_and_scale()
        out = np.array(xyxy, dtype=np.float32, copy=True).reshape(-1, 4)
        out[:, [0, 2]] = (out[:, [0, 2]] - np.float32(px)) / np.float32(sx)
        out[:, [1, 3]] = (out[:, [1, 3]] - np.float32(py)) / np.float32(sy)
        if clip:
            h, w = self.source_hw
            out[:, [0, 2]] = out[:, [0, 2]].clip(0, w)
            out[:, [1, 3]] = out[:, [1, 3]].clip(0, h)
        return out

    def to_input(self, xyxy: np.ndarray) -> np.ndarray:
        """Map (N,4) xyxy boxes from original pixels to model-input pixels (a new array)."""
        px, py, sx, sy = self._offset_and_scale()
        out = np.array(xyxy, dtype=np.float32, copy=True).reshape(-1, 4)
        out[:, [0, 2]] = out[:, [0, 2]] * np.float32(sx) + np.float32(px)
        out[:, [1, 3]] = out[:, [1, 3]] * np.float32(sy) + np.float32(py)
        return out


def compute_geometry(source_hw: tuple[int, int], input_hw: tuple[int, int], convention: str = "ultralytics") -> tuple[Geometry, tuple[int, int], tuple[int, int, int, int]]:
    """Return the geometry, the resized (w, h) and the (top, bottom, left, right) padding."""
    h, w = source_hw
    H, W = input_hw
    if h <= 0 or w <= 0:
        raise ValueError(f"image has no pixels: {w}x{h}")
    r = min(H / h, W / w)
    # At least one pixel: a very thin image (e.g. 3x2000 into 320) would otherwise round to a
    # 0-pixel side, which cv2.resize rejects and which divides by zero in to_original.
    new_w, new_h = max(1, int(round(w * r))), max(1, int(round(h * r)))
    dw, dh = (W - new_w) / 2, (H - new_h) / 2
    top, bottom = int(round(dh - 0.1)), int(round(dh + 0.1))
    left, right = int(round(dw - 0.1)), int(round(dw + 0.1))
    if convention not in CONVENTIONS:
        raise ValueError(f"unknown box convention {convention!r}")
    geom = Geometry((h, w), (H, W), (new_w, new_h), left, top, convention)
    return geom, (new_w, new_h), (top, bottom, left, right)


def letterbox(image: np.ndarray, input_hw: tuple[int, int], convention: str = "ultralytics") -> tuple[np.ndarray, Geometry]:
    """Resize + pad a BGR uint8 HxWx3 image to ``input_hw``; return (padded image, geometry)."""
    geom, (new_w, new_h), (top, bottom, left, right) = compute_geometry(image.shape[:2], input_hw, convention)
    if (image.shape[1], image.shape[0]) != (new_w, new_h):
        image = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    out = cv2.copyMakeBorder(image, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(PAD_VALUE,) * 3)
    # round() can leave the canvas one pixel off on odd sizes; the references accept that, but
    # a traced model needs the exact size, so fix it at the far edge (never shifts the origin).
    H, W = input_hw
    if out.shape[0] != H or out.shape[1] != W:
        fixed = np.full((H, W, 3), PAD_VALUE, np.uint8)
        hh, ww = min(H, out.shape[0]), min(W, out.shape[1])
        fixed[:hh, :ww] = out[:hh, :ww]
        out = fixed
    return out, geom
