"""`apply_thresholds` for many images at once, with the same result bit for bit.

Why: after an IoU / agnostic / max-det change the threshold panel re-runs NMS on every image
of the folder. Per image that is ~10 numpy calls on 10-300 boxes, so a 1,000-image folder
spends most of its time in call overhead, not arithmetic. Here the images are padded into
(B, K, K) IoU tensors (K: a small bucket above each image's box count) and the exact greedy
fixed point of `engine.nms._greedy_matrix` runs for the whole batch at once.

Exactness: boxes are shifted per class with the same float32 arithmetic and the same per-image
span as `engine.nms.batched_nms`, the IoU uses `_iou_rows`' float32 formula, and the greedy
fixed point is unique, so each image keeps exactly the boxes `apply_thresholds` keeps, in the
same order. Images the batch path does not cover (end-to-end models without extra NMS, more
than `MAX_BATCHED` boxes above the threshold) simply go through `apply_thresholds`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .candidates import Candidates
from .detections import Detections
from .nms import MAX_WH
from .thresholds import Thresholds, apply_thresholds

# padded group sizes: steps of 8, then 16, then 32 (the IoU work grows with K^2, so padding
# costs; more distinct K only costs a few more numpy calls)
BUCKETS = tuple(range(8, 64, 8)) + tuple(range(64, 256, 16)) + tuple(range(256, 1025, 32))
MAX_BATCHED = BUCKETS[-1]  # an image with more boxes above the threshold: the per-image path
CELLS_PER_CHUNK = 4_000_000  # B*K*K bound: ~16 MB of float32 per temporary


def _rows_above(c: Candidates, t: Thresholds) -> np.ndarray:
    """`select`'s first step: indices above the (per-class) threshold, class filter applied."""
    mask = c.score > t.conf_for(c.class_id)
    if t.classes is not None:
        mask &= np.isin(c.class_id, np.asarray(t.classes, np.int64))
    return np.flatnonzero(mask)


def _shifted_boxes(c: Candidates, idx: np.ndarray, agnostic: bool) -> np.ndarray:
    """The float32 boxes `batched_nms` hands to `nms` (class-shifted unless agnostic)."""
    xyxy = np.asarray(c.xyxy[idx], np.float32)
    if agnostic:
        return xyxy
    span = max(MAX_WH, float(np.abs(xyxy).max()) * 2 + 1.0)
    return xyxy + (c.class_id[idx].astype(np.float32) * np.float32(span))[:, None]


def _greedy_keep(boxes: np.ndarray, valid: np.ndarray, iou: float) -> np.ndarray:
    """(B, K) keep mask of greedy NMS for boxes (B, K, 4) sorted by score; padding invalid."""
    x1, y1, x2, y2 = (boxes[..., k] for k in range(4))
    areas = (x2 - x1).clip(0) * (y2 - y1).clip(0)
    w = (np.minimum(x2[:, :, None], x2[:, None, :]) - np.maximum(x1[:, :, None], x1[:, None, :])).clip(0)
    h = (np.minimum(y2[:, :, None], y2[:, None, :]) - np.maximum(y1[:, :, None], y1[:, None, :])).clip(0)
    inter = w * h
    union = areas[:, :, None] + areas[:, None, :] - inter
    ious = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    k = boxes.shape[1]
    sup = ious > iou
    sup &= np.triu(np.ones((k, k), bool), 1)[None]  # only higher-scoring boxes suppress
    sup &= valid[:, :, None] & valid[:, None, :]
    sup_f = sup.astype(np.float32)
    keep = valid.copy()
    for _ in range(k):
        new = (np.matmul(keep.astype(np.float32)[:, None, :], sup_f)[:, 0, :] == 0) & valid
        if np.array_equal(new, keep):
            break
        keep = new
    return keep


def _keep_grouped(boxes: np.ndarray, group: np.ndarray, iou: float) -> np.ndarray:
    """Greedy NMS keep mask for rows sorted by score within each group (groups never interact).

    Rows are gathered into padded (G, K, 4) blocks, K a bucket just above each group's size, so
    the quadratic IoU work is per group: class-aware NMS of 40 boxes in 3 classes costs about
    3 * 14^2 cells, not 40^2."""
    n = len(group)
    perm = np.argsort(group, kind="stable")  # groups contiguous, score order kept inside
    g_sorted = group[perm]
    starts = np.flatnonzero(np.r_[True, g_sorted[1:] != g_sorted[:-1]])
    sizes = np.diff(np.r_[starts, n])
    rank = np.arange(n) - np.repeat(starts, sizes)
    buckets = np.asarray(BUCKETS)[np.searchsorted(BUCKETS, sizes)]
    row_bucket = np.repeat(buckets, sizes)
    keep = np.zeros(n, bool)
    for k in np.unique(buckets):
        groups_k = np.flatnonzero(buckets == k)
        step = max(1, CELLS_PER_CHUNK // int(k * k))
        for c0 in range(0, len(groups_k), step):
            chunk = groups_k[c0 : c0 + step]
            local = np.full(len(starts), -1)
            local[chunk] = np.arange(len(chunk))
            rows = np.flatnonzero((row_bucket == k) & (local[np.repeat(np.arange(len(starts)), sizes)] >= 0))
            gi, ri = local[np.repeat(np.arange(len(starts)), sizes)[rows]], rank[rows]
            block = np.zeros((len(chunk), int(k), 4), np.float32)
            valid = np.zeros((len(chunk), int(k)), bool)
            block[gi, ri] = boxes[perm[rows]]
            valid[gi, ri] = True
            keep[perm[rows]] = _greedy_keep(block, valid, iou)[gi, ri]
    return keep


def apply_thresholds_many(candidates: Sequence[Candidates], t: Thresholds) -> list[Detections]:
    """`[apply_thresholds(c, t) for c in candidates]`, computed in batches."""
    out: list[Detections | None] = [None] * len(candidates)
    batched: list[tuple[int, np.ndarray]] = []
    for i, c in enumerate(candidates):
        if c.nms_in_model and not t.nms_on_end2end:
            out[i] = apply_thresholds(c, t)
            continue
        idx = _rows_above(c, t)
        if idx.size == 0:
            out[i] = Detections.empty()
        elif idx.size > MAX_BATCHED:
            out[i] = apply_thresholds(c, t)
        else:
            batched.append((i, idx[np.argsort(-c.score[idx], kind="stable")]))
    if not batched:
        return out  # type: ignore[return-value]
    boxes = np.concatenate([_shifted_boxes(candidates[i], order, t.agnostic) for i, order in batched])
    image = np.repeat(np.arange(len(batched)), [len(order) for _, order in batched])
    if t.agnostic:
        group = image
    else:  # classes never suppress each other (the shift keeps them apart): one group each
        cls = np.concatenate([candidates[i].class_id[order] for i, order in batched])
        group = image * (int(cls.max()) + 1) + cls
    keep = _keep_grouped(boxes, group, t.iou)
    ends = np.cumsum([len(order) for _, order in batched])
    for (i, order), end in zip(batched, ends):
        c = candidates[i]
        kept = order[keep[end - len(order) : end]][: t.max_det]
        out[i] = Detections(c.geometry.to_original(c.xyxy[kept], clip=True), c.score[kept], c.class_id[kept])
    return out  # type: ignore[return-value]
