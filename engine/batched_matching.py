"""`engine.metrics.match` at one IoU threshold for many images at once, same result.

Why: the threshold panel matches every image of a folder again after each NMS change. Greedy
matching is sequential within an image (a prediction may only take what better ones left),
but independent across images, so here step r handles the r-th best prediction of EVERY
image in one vectorised operation: the Python loop runs over ranks, not over images.

Exactness: IoU is `engine.metrics.box_iou`'s float64 formula; predictions go by descending
confidence with stable ties (restricted to one class that is `match`'s order), each takes
the first untaken same-class ground-truth box of highest IoU if it reaches the threshold.
Other classes' boxes are masked to -1, below any threshold, so they never change the argmax.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .detections import Detections

BUCKETS = (8, 16, 32, 64, 128, 256, 512, 1024)
CELLS_PER_CHUNK = 4_000_000  # B * P * G bound per temporary


def _bucket(n: int) -> int:
    for b in BUCKETS:
        if n <= b:
            return b
    return n  # rare: such an image gets a chunk of its own size


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(B, P, G) IoU of (B, P, 4) and (B, G, 4) float64 boxes, as `metrics.box_iou`."""
    lt = np.maximum(a[:, :, None, :2], b[:, None, :, :2])
    rb = np.minimum(a[:, :, None, 2:], b[:, None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area_a = np.clip(a[..., 2:] - a[..., :2], 0, None).prod(-1)
    area_b = np.clip(b[..., 2:] - b[..., :2], 0, None).prod(-1)
    union = area_a[:, :, None] + area_b[:, None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def match_many(preds: Sequence[Detections], gts: Sequence[Detections | None], iou: float = 0.5) -> list[np.ndarray]:
    """Per image, the TP flags `match(pred, gt, (iou,))[:, 0]` gives (all False without gt)."""
    if len(preds) != len(gts):
        raise ValueError(f"{len(preds)} predictions but {len(gts)} ground truths")
    out = [np.zeros(len(p), bool) for p in preds]
    groups: dict[tuple[int, int], list[int]] = {}
    for i, (p, g) in enumerate(zip(preds, gts)):
        if len(p) and g is not None and len(g):
            groups.setdefault((_bucket(len(p)), _bucket(len(g))), []).append(i)
    for (kp, kg), items in groups.items():
        step = max(1, CELLS_PER_CHUNK // (kp * kg))
        for start in range(0, len(items), step):
            _match_chunk(preds, gts, items[start : start + step], kp, kg, iou, out)
    return out


def _match_chunk(preds, gts, items: list[int], kp: int, kg: int, iou: float, out: list[np.ndarray]) -> None:
    nb = len(items)
    pb = np.zeros((nb, kp, 4))
    gb = np.zeros((nb, kg, 4))
    pc = np.full((nb, kp), -1, np.int64)  # padding: a class no real box has
    gc = np.full((nb, kg), -2, np.int64)
    orders = []
    for b, i in enumerate(items):
        p, g = preds[i], gts[i]
        order = np.argsort(-p.confidence, kind="stable")
        orders.append(order)
        pb[b, : len(p)] = p.xyxy[order]
        pc[b, : len(p)] = p.class_id[order]
        gb[b, : len(g)] = g.xyxy
        gc[b, : len(g)] = g.class_id
    cand_all = np.where(pc[:, :, None] == gc[:, None, :], _iou(pb, gb), -1.0)
    taken = np.zeros((nb, kg), bool)
    tp = np.zeros((nb, kp), bool)
    rows = np.arange(nb)
    for r in range(kp):
        cand = np.where(taken, -1.0, cand_all[:, r, :])
        j = cand.argmax(1)
        hit = cand[rows, j] >= iou
        if hit.any():
            taken[rows[hit], j[hit]] = True
            tp[:, r] = hit
    for b, i in enumerate(items):
        flags = np.zeros(len(preds[i]), bool)
        flags[orders[b]] = tp[b, : len(preds[i])]
        out[i] = flags
