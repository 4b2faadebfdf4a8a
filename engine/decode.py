"""Turn a model's raw output into per-image candidate arrays, whatever the layout.

Layouts (FORMATS.md) are recognised from the output's shapes plus metadata and decoded by a
small registry of decoders; adding a layout means adding one class to `DECODERS`.
Everything here is numpy (the model's tensors are converted once), and nothing loops in
Python over candidates: rows are filtered with a low floor first, then decoded.

Each decoder returns, per batch item, ``(xyxy, score, class_id)`` in MODEL-INPUT pixels,
keeping only rows with ``score > floor``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .errors import UnsupportedOutputError

DEFAULT_FLOOR = 0.001
Decoded = tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class DecodeContext:
    input_hw: tuple[int, int]
    num_classes: int | None = None  # from names, when known before the model ran
    anchors: tuple[tuple[float, ...], ...] | None = None
    nms_in_model: bool = False  # metadata says end2end / exported with NMS
    end2end_flag: bool | None = None  # metadata's explicit end2end value, if any
    score_is_obj: bool = False  # one-class YOLOv7: score = obj
    # One candidate per (box, class) whose score passes the floor, instead of the box's best
    # class only: what Ultralytics/YOLOv5 `val` do (NMS multi_label=True). `eval --multi-label`
    # sets it to reproduce their mAP; prediction (label, the window) keeps one class per box.
    # No effect on end-to-end models, whose own NMS chose one class per box.
    multi_label: bool = False


# --------------------------------------------------------------------------- output shapes

def to_numpy(value: Any) -> np.ndarray:
    if isinstance(value, np.ndarray):
        return value.astype(np.float32, copy=False)
    # torch tensor (duck-typed so this module never imports torch)
    return value.detach().float().cpu().numpy()


def _is_tensor(value: Any) -> bool:
    return hasattr(value, "shape") and hasattr(value, "dtype")


def describe_shapes(output: Any) -> str:
    if _is_tensor(output):
        return "tensor " + "x".join(map(str, output.shape))
    if isinstance(output, (list, tuple)):
        return "(" + ", ".join(describe_shapes(o) for o in output) + ")"
    if isinstance(output, dict):
        return "dict{" + ", ".join(f"{k}: {describe_shapes(v)}" for k, v in output.items()) + "}"
    return type(output).__name__


def normalize_output(output: Any) -> np.ndarray | list[np.ndarray]:
    """A 3-D prediction array, or a list of 5-D raw anchor heads.

    Tuples/lists: all 5-D tensors -> raw heads; otherwise element 0 is the prediction (element
    1 holds raw feature maps or mask prototypes, ignored for detection).
    """
    if _is_tensor(output):
        return to_numpy(output)
    if isinstance(output, (list, tuple)) and output:
        if all(_is_tensor(o) and len(o.shape) == 5 for o in output):
            return [to_numpy(o) for o in output]
        return normalize_output(output[0])
    raise UnsupportedOutputError(
        f"the model returned {describe_shapes(output)}, which is not a detection output "
        "(expected a tensor, or a tuple whose first element is one)"
    )


def output_shapes(pred: np.ndarray | list[np.ndarray]) -> tuple[tuple[int, ...], ...]:
    if isinstance(pred, list):
        return tuple(tuple(p.shape) for p in pred)
    return (tuple(pred.shape),)


def anchor_rows(input_hw: tuple[int, int], strides=(8, 16, 32), na: int = 3) -> int:
    """Rows of a decoded anchor-based output for this input (25200 for 640x640)."""
    h, w = input_hw
    return na * sum(math.ceil(h / s) * math.ceil(w / s) for s in strides)


# --------------------------------------------------------------------------- shared maths

def xywh_to_xyxy(xywh: np.ndarray) -> np.ndarray:
    xy, half = xywh[:, :2], xywh[:, 2:4] / 2
    return np.concatenate([xy - half, xy + half], axis=1)


def _finite_rows(*arrays: np.ndarray) -> np.ndarray:
    mask = np.ones(len(arrays[0]), bool)
    for a in arrays:
        # Reduce over the non-row axes. (Was `.reshape(len(a), -1)`, which raises ValueError on
        # zero rows -- i.e. on every image where no candidate passes the floor.)
        fin = np.isfinite(a)
        mask &= fin.all(axis=tuple(range(1, fin.ndim))) if fin.ndim > 1 else fin
    return mask


def _score_anchor_based(rows: np.ndarray, floor: float, score_is_obj: bool, multi_label: bool = False) -> Decoded:
    """rows (k, 5+nc) already sigmoid-ed, cx cy w h in input pixels -> candidates."""
    obj = rows[:, 4]
    rows = rows[obj > floor]  # YOLOv5 filters on objectness first
    cls_scores = rows[:, 5:]
    if multi_label and not score_is_obj:
        r, c = np.nonzero(cls_scores * rows[:, 4:5] > floor)  # YOLOv5 val: every class above conf
        return _finite_candidates(xywh_to_xyxy(rows[r, :4]), cls_scores[r, c] * rows[r, 4], c)
    if score_is_obj:
        score = rows[:, 4].copy()
        cls = cls_scores.argmax(axis=1) if cls_scores.shape[1] else np.zeros(len(rows), np.int64)
    else:
        scores = cls_scores * rows[:, 4:5]
        cls = scores.argmax(axis=1)
        score = np.take_along_axis(scores, cls[:, None], axis=1)[:, 0]
    keep = score > floor
    xyxy = xywh_to_xyxy(rows[keep, :4])
    score, cls = score[keep], cls[keep]
    ok = _finite_rows(xyxy, score)
    return xyxy[ok].astype(np.float32), score[ok].astype(np.float32), cls[ok].astype(np.int64)


def _finite_candidates(xyxy: np.ndarray, score: np.ndarray, cls: np.ndarray) -> Decoded:
    ok = _finite_rows(xyxy, score)
    return xyxy[ok].astype(np.float32), score[ok].astype(np.float32), cls[ok].astype(np.int64)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


# --------------------------------------------------------------------------- decoders

class Decoder:
    name = ""
    nms_in_model = False

    def matches(self, pred: np.ndarray | list[np.ndarray], ctx: DecodeContext) -> bool:
        raise NotImplementedError

    def num_classes(self, pred: np.ndarray | list[np.ndarray]) -> int:
        raise NotImplementedError

    def decode(self, pred: np.ndarray | list[np.ndarray], ctx: DecodeContext, floor: float) -> list[Decoded]:
        raise NotImplementedError


class RawAnchorHeads(Decoder):
    """List of (B, na, ny, nx, nc+5) logits (YOLOv7 default export, YOLOv5 v4/v5)."""

    name = "raw_anchor_heads"

    def matches(self, pred, ctx):
        return isinstance(pred, list) and len({p.shape[-1] for p in pred}) == 1 and pred[0].shape[-1] >= 6

    def num_classes(self, pred):
        return pred[0].shape[-1] - 5

    def anchors_for(self, pred, ctx) -> list[np.ndarray]:
        from .metadata import DEFAULT_ANCHORS

        anchors = ctx.anchors
        if anchors is None:
            if len(pred) == 3 and all(p.shape[1] == 3 for p in pred):
                anchors = DEFAULT_ANCHORS
            else:
                raise UnsupportedOutputError(
                    f"raw anchor heads with {len(pred)} levels of {pred[0].shape[1]} anchors need their anchors: "
                    "put `anchors:` (one [w0,h0, w1,h1, ...] list per level, in pixels) in <model>.yaml beside the model"
                )
        if len(anchors) != len(pred) or any(len(a) != 2 * p.shape[1] for a, p in zip(anchors, pred)):
            raise UnsupportedOutputError(
                f"the anchors given ({len(anchors)} levels) do not fit the model's heads "
                f"({', '.join(str(p.shape[1]) for p in pred)} anchors per level)"
            )
        return [np.asarray(a, np.float32).reshape(-1, 2) for a in anchors]

    def decode(self, pred, ctx, floor):
        anchors = self.anchors_for(pred, ctx)
        logit_floor = math.log(floor / (1 - floor)) if 0 < floor < 1 else -np.inf
        batch = pred[0].shape[0]
        out = []
        for b in range(batch):
            rows = []
            for level, anchor in zip(pred, anchors):
                t = level[b]  # (na, ny, nx, no)
                ny = t.shape[1]
                stride = ctx.input_hw[0] / ny
                a_idx, y_idx, x_idx = np.nonzero(t[..., 4] > logit_floor)  # cheap pre-filter on logits
                y = _sigmoid(t[a_idx, y_idx, x_idx])
                grid = np.stack([x_idx, y_idx], axis=1).astype(np.float32)
                xy = (y[:, 0:2] * 2 - 0.5 + grid) * np.float32(stride)
                wh = (y[:, 2:4] * 2) ** 2 * anchor[a_idx]
                rows.append(np.concatenate([xy, wh, y[:, 4:]], axis=1))
            merged = np.concatenate(rows) if rows else np.zeros((0, pred[0].shape[-1]), np.float32)
            out.append(_score_anchor_based(merged.astype(np.float32), floor, ctx.score_is_obj, ctx.multi_label))
        return out


class AnchorBased(Decoder):
    """(B, N, nc+5) rows [cx, cy, w, h, obj, cls...] (YOLOv5 >= 6.2, YOLOv7 --grid)."""

    name = "anchor_based"

    def matches(self, pred, ctx):
        if isinstance(pred, list) or pred.ndim != 3 or pred.shape[2] < 6:
            return False
        if ctx.num_classes and pred.shape[2] != ctx.num_classes + 5 and pred.shape[1] == ctx.num_classes + 4:
            return False  # anchor-free with few anchors
        return pred.shape[1] > pred.shape[2]

    def num_classes(self, pred):
        return pred.shape[2] - 5

    def decode(self, pred, ctx, floor):
        return [_score_anchor_based(pred[b], floor, ctx.score_is_obj, ctx.multi_label) for b in range(pred.shape[0])]


class AnchorFree(Decoder):
    """(B, 4+nc, A) rows [cx, cy, w, h, cls...], no objectness (Ultralytics YOLOv8/11/26)."""

    name = "anchor_free"

    def matches(self, pred, ctx):
        if isinstance(pred, list) or pred.ndim != 3 or pred.shape[1] < 5:
            return False
        if ctx.num_classes and pred.shape[1] == ctx.num_classes + 4:
            return True
        return pred.shape[1] < pred.shape[2]

    def num_classes(self, pred):
        return pred.shape[1] - 4

    def decode(self, pred, ctx, floor):
        out = []
        for b in range(pred.shape[0]):
            x = pred[b]  # (4+nc, A)
            cls_scores = x[4:]
            if ctx.multi_label:  # Ultralytics' NMS multi_label: (anchor, class) pairs above the floor
                a, c = np.nonzero(cls_scores.T > floor)
                out.append(_finite_candidates(xywh_to_xyxy(x[:4, a].T), cls_scores[c, a], c))
                continue
            score = cls_scores.max(axis=0)  # a max along rows is SIMD-fast; argmax is not
            keep = np.flatnonzero(score > floor)
            cls = cls_scores[:, keep].argmax(axis=0)  # so argmax only the survivors
            xyxy = xywh_to_xyxy(x[:4, keep].T)
            score = score[keep]
            ok = _finite_rows(xyxy, score)
            out.append((xyxy[ok].astype(np.float32), score[ok].astype(np.float32), cls[ok].astype(np.int64)))
        return out


class EndToEnd(Decoder):
    """(B, K, 6) rows [x1, y1, x2, y2, score, cls], NMS already done (YOLOv10, YOLO26 end2end)."""

    name = "end2end"
    nms_in_model = True

    def matches(self, pred, ctx):
        if isinstance(pred, list) or pred.ndim != 3 or pred.shape[2] != 6:
            return False
        if ctx.nms_in_model:
            return True
        if ctx.end2end_flag is False:
            return False
        # No metadata: a one-class YOLOv5 is also (B, N, 6). Tell them apart by N: anchor-based
        # outputs have one row per anchor (25200 at 640), end-to-end ones usually a few hundred.
        n = pred.shape[1]
        if n == anchor_rows(ctx.input_hw):
            return False
        if n <= 1000:
            return True
        # Many rows, but not the P3-P5 anchor count: an end-to-end export with a large max_det,
        # or an anchor-based model with other levels (a P6 model). Column 5 decides: class ids
        # are whole numbers (padding rows are zeros), one-class scores after a sigmoid are not.
        cls = pred[..., 5]
        return bool(np.all(cls >= 0) and np.all(cls == np.round(cls)))

    def num_classes(self, pred):
        return None  # not in the shape: the names decide

    def decode(self, pred, ctx, floor):
        out = []
        for b in range(pred.shape[0]):
            x = pred[b]
            ok = (x[:, 4] > floor) & _finite_rows(x)
            x = x[ok]  # model order is kept: the reference takes rows as sorted by the model
            out.append((x[:, :4].astype(np.float32), x[:, 4].astype(np.float32), x[:, 5].round().astype(np.int64)))
        return out


# Order matters: the most specific test first.
DECODERS: tuple[Decoder, ...] = (RawAnchorHeads(), EndToEnd(), AnchorFree(), AnchorBased())
DECODERS_BY_NAME = {d.name: d for d in DECODERS}


def find_decoder(pred: np.ndarray | list[np.ndarray], ctx: DecodeContext) -> Decoder:
    for decoder in DECODERS:
        if decoder.matches(pred, ctx):
            return decoder
    shapes = "; ".join("x".join(map(str, s)) for s in output_shapes(pred))
    raise UnsupportedOutputError(
        f"the model's output ({shapes}) fits no known detection layout. ScriptLens reads: raw anchor heads "
        "[(B,3,ny,nx,nc+5) x levels], decoded anchor-based (B,N,nc+5), anchor-free (B,4+nc,A) and end-to-end (B,K,6)"
    )


def check_finite(pred: np.ndarray | Sequence[np.ndarray]) -> None:
    arrays = pred if isinstance(pred, list) else [pred]
    if not any(np.isfinite(a).any() for a in arrays):
        from .errors import ModelRunError

        raise ModelRunError("the model returned only NaN/inf values: the export is broken (an fp16 overflow is a common cause)")
