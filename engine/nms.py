"""Greedy non-maximum suppression in vectorised numpy.

Same semantics as ``torchvision.ops.nms`` (what the reference predictors call): boxes sorted
by score, a box is dropped when its IoU with a kept, higher-scoring box is > ``iou``.
Class-aware NMS shifts each class into its own coordinate range (the references' ``max_wh``
trick), so one pass handles all classes. The loop runs once per KEPT box, each step a numpy
operation over the survivors; there is no Python loop over candidates.
torchvision is not used: its wheels are tied to one torch build and it is 10x the install.
"""

from __future__ import annotations

import numpy as np

MAX_WH = 7680.0


# Up to this many boxes the IoU matrix (n*n float32) is built at once; above it, the memory-lean
# loop runs instead.
MATRIX_LIMIT = 2048
# padded group sizes for `keep_grouped`: steps of 8, 16, 32, then 64 (the IoU work grows with
# K^2, so padding costs; more distinct K only costs a few more numpy calls)
BUCKETS = (tuple(range(8, 64, 8)) + tuple(range(64, 256, 16)) + tuple(range(256, 1024, 32))
           + tuple(range(1024, MATRIX_LIMIT + 1, 64)))
CELLS_PER_CHUNK = 4_000_000  # groups*K*K bound: ~16 MB of float32 per temporary
# From this many boxes, class-aware NMS works per class (`keep_grouped`): its fixed cost of a
# dozen numpy calls (~0.2 ms) pays off once the one n*n matrix costs more (300 boxes in 80
# classes: 1.06 -> 0.69 ms; 40 boxes: 0.08 vs 0.28 ms, so small sets keep the single matrix).
GROUPED_FROM = 256


def nms(xyxy: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Indices of kept boxes, highest score first."""
    n = len(scores)
    if n == 0:
        return np.zeros(0, np.int64)
    order = np.argsort(-np.asarray(scores), kind="stable")
    boxes = np.asarray(xyxy, np.float32)[order]
    keep = _greedy_matrix(boxes, iou) if n <= MATRIX_LIMIT else _greedy_loop(boxes, iou)
    return order[keep]


def _iou_rows(boxes: np.ndarray, areas: np.ndarray, i, rest) -> np.ndarray:
    """IoU of box(es) `i` against boxes `rest`, in float32 like the references."""
    x1, y1, x2, y2 = boxes.T
    w = (np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest])).clip(0)
    h = (np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest])).clip(0)
    inter = w * h
    union = areas[i] + areas[rest] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def _greedy_matrix(boxes: np.ndarray, iou: float) -> np.ndarray:
    """Exact greedy NMS without a Python loop over boxes.

    ``sup[i, j]`` (i < j) says box i would suppress box j. The greedy result is the unique
    ``keep`` with ``keep[j] = not any(keep[i] and sup[i, j])``; iterating that rule from
    ``keep = all`` fixes one more "generation" of suppression chains per pass, so it converges
    in a handful of matrix-vector products (at most n).
    """
    n = len(boxes)
    areas = (boxes[:, 2] - boxes[:, 0]).clip(0) * (boxes[:, 3] - boxes[:, 1]).clip(0)
    idx = np.arange(n)
    sup = _iou_rows(boxes, areas, idx[:, None], idx[None, :]) > iou
    sup &= idx[:, None] < idx[None, :]  # only higher-scoring boxes suppress
    if not sup.any():
        return idx
    sup_f = sup.astype(np.float32)
    keep = np.ones(n, bool)
    for _ in range(n):
        new = (keep.astype(np.float32) @ sup_f) == 0
        if np.array_equal(new, keep):
            break
        keep = new
    return idx[keep]


def _greedy_loop(boxes: np.ndarray, iou: float) -> np.ndarray:
    """Greedy NMS looping once per KEPT box, each step vectorised over the survivors."""
    areas = (boxes[:, 2] - boxes[:, 0]).clip(0) * (boxes[:, 3] - boxes[:, 1]).clip(0)
    remaining = np.arange(len(boxes))
    keep = []
    while remaining.size:
        i = remaining[0]
        keep.append(i)
        rest = remaining[1:]
        remaining = rest[_iou_rows(boxes, areas, i, rest) <= iou]
    return np.asarray(keep, np.int64)


def batched_nms(xyxy: np.ndarray, scores: np.ndarray, class_id: np.ndarray, iou: float, agnostic: bool = False) -> np.ndarray:
    """Class-aware NMS (boxes of different classes never suppress each other) unless agnostic."""
    if agnostic or len(scores) == 0:
        return nms(xyxy, scores, iou)
    xyxy = np.asarray(xyxy, np.float32)
    # Offset each class into its own range with the references' own max_wh=7680 (in float32,
    # as they do, so even the rounding matches); wider only for inputs past 7680 px.
    span = max(MAX_WH, float(np.abs(xyxy).max()) * 2 + 1.0)
    shifted = xyxy + (class_id.astype(np.float32) * np.float32(span))[:, None]
    if not GROUPED_FROM <= len(scores) <= MATRIX_LIMIT:
        return nms(shifted, scores, iou)
    # many boxes: the shift keeps classes apart, so each class is its own small IoU block
    order = np.argsort(-np.asarray(scores), kind="stable")
    return order[keep_grouped(shifted[order], np.asarray(class_id)[order], iou)]


def _greedy_keep_blocks(boxes: np.ndarray, valid: np.ndarray, iou: float) -> np.ndarray:
    """(B, K) keep mask of greedy NMS for boxes (B, K, 4) sorted by score; padding invalid.

    `_greedy_matrix`'s fixed point and IoU formula for B independent padded blocks. Kept apart
    from it on purpose: the padding masks and 3-D products make one image's NMS (the slider
    path) about twice as slow (173 boxes: 0.36 vs 0.78 ms)."""
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


def keep_grouped(boxes: np.ndarray, group: np.ndarray, iou: float) -> np.ndarray:
    """Greedy NMS keep mask for rows sorted by score within each group; boxes of different
    groups never suppress each other (classes, or images in `engine.batched_thresholds`).

    Rows are gathered into padded (G, K, 4) blocks, K a bucket just above each group's size, so
    the quadratic IoU work is per group: class-aware NMS of 170 boxes in 80 classes is 80 tiny
    blocks, not one 170x170 matrix. The result is `_greedy_matrix`'s for each group."""
    n = len(group)
    keep = np.zeros(n, bool)
    if n == 0:
        return keep
    perm = np.argsort(group, kind="stable")  # groups contiguous, score order kept inside
    g_sorted = group[perm]
    starts = np.flatnonzero(np.r_[True, g_sorted[1:] != g_sorted[:-1]])
    sizes = np.diff(np.r_[starts, n])
    rank = np.arange(n) - np.repeat(starts, sizes)
    row_group = np.repeat(np.arange(len(starts)), sizes)
    buckets = np.asarray(BUCKETS)[np.searchsorted(BUCKETS, sizes)]
    for k in np.unique(buckets):
        groups_k = np.flatnonzero(buckets == k)
        step = max(1, CELLS_PER_CHUNK // int(k * k))
        for c0 in range(0, len(groups_k), step):
            chunk = groups_k[c0 : c0 + step]
            local = np.full(len(starts), -1)
            local[chunk] = np.arange(len(chunk))
            rows = np.flatnonzero(local[row_group] >= 0)
            gi, ri = local[row_group[rows]], rank[rows]
            block = np.zeros((len(chunk), int(k), 4), np.float32)
            valid = np.zeros((len(chunk), int(k)), bool)
            block[gi, ri] = boxes[perm[rows]]
            valid[gi, ri] = True
            keep[perm[rows]] = _greedy_keep_blocks(block, valid, iou)[gi, ri]
    return keep
