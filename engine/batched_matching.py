"""`engine.metrics.match` at one IoU threshold for many images at once, same result.

Why: the threshold panel matches every image of a folder again after each NMS change. Greedy
matching is sequential within an image (a prediction may only take what better ones left),
but independent across images, so here step r handles the r-th best prediction of EVERY
image in one vectorised operation: the Python loop runs over ranks, not over images.

Exactness: IoU is `engine.metrics.batched_box_iou`, of which `box_iou` is the one-image case; predictions go by descending
confidence with stable ties (restricted to one class that is `match`'s order), each takes
the first untaken same-class ground-truth box of highest IoU if it reaches the threshold.
Other classes' boxes are masked to -1, below any threshold, so they never change the argmax.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .batched_thresholds import DetectionBatch
from .detections import Detections
from .metrics import batched_box_iou

BUCKETS = (4, 8, 16, 32, 64, 128, 256, 512, 1024)
CELLS_PER_CHUNK = 4_000_000  # images * P * G bound per temporary


def match_many(preds: Sequence[Detections], gts: Sequence[Detections | None], iou: float = 0.5) -> list[np.ndarray]:
    """Per image, the TP flags `match(pred, gt, (iou,))[:, 0]` gives (all False without gt)."""
    if len(preds) != len(gts):
        raise ValueError(f"{len(preds)} predictions but {len(gts)} ground truths")
    pb = DetectionBatch.from_list(preds)
    gb = DetectionBatch.from_list([g if g is not None else Detections.empty() for g in gts])
    flags = match_batch(pb, gb, iou)
    return [flags[pb.offsets[i] : pb.offsets[i + 1]] for i in range(len(preds))]


def match_batch(pred: DetectionBatch, gt: DetectionBatch, iou: float = 0.5) -> np.ndarray:
    """TP flag of every prediction row of `pred` against the same image's rows of `gt`."""
    n = len(pred)
    if len(gt) != n:
        raise ValueError(f"{n} images of predictions but {len(gt)} of ground truth")
    tp = np.zeros(int(pred.offsets[-1]), bool)
    p_count, g_count = np.diff(pred.offsets), np.diff(gt.offsets)
    p_image = np.repeat(np.arange(n), p_count)
    g_image = np.repeat(np.arange(n), g_count)
    # rows by image, then descending confidence (stable): match's order within each class
    p_order = np.lexsort((-pred.confidence, p_image))
    p_rank = np.arange(len(p_order)) - np.repeat(pred.offsets[:-1], p_count)
    g_rank = np.arange(len(g_image)) - np.repeat(gt.offsets[:-1], g_count)
    active = (p_count > 0) & (g_count > 0)
    kp = np.asarray(BUCKETS)[np.minimum(np.searchsorted(BUCKETS, p_count), len(BUCKETS) - 1)]
    kg = np.asarray(BUCKETS)[np.minimum(np.searchsorted(BUCKETS, g_count), len(BUCKETS) - 1)]
    kp = np.maximum(kp, p_count)  # past the last bucket: exact size
    kg = np.maximum(kg, g_count)
    for shape in sorted({(int(a), int(b)) for a, b in zip(kp[active], kg[active])}):
        images = np.flatnonzero(active & (kp == shape[0]) & (kg == shape[1]))
        step = max(1, CELLS_PER_CHUNK // (shape[0] * shape[1]))
        for c0 in range(0, len(images), step):
            _match_chunk(pred, gt, images[c0 : c0 + step], shape, iou, p_order, p_image, p_rank,
                         g_image, g_rank, tp)
    return tp


def _match_chunk(pred, gt, images, shape, iou, p_order, p_image, p_rank, g_image, g_rank, tp) -> None:
    kp, kg = shape
    nb = len(images)
    local = np.full(len(pred), -1)
    local[images] = np.arange(nb)
    # prediction rows in rank order (p_order is sorted by image, so rank r of an image is
    # the r-th row of its segment of p_order)
    p_rows = np.flatnonzero(local[p_image] >= 0)  # positions in the sorted order
    p_src = p_order[p_rows]  # the actual prediction rows
    p_b, p_r = local[p_image[p_rows]], p_rank[p_rows]
    g_rows = np.flatnonzero(local[g_image] >= 0)
    g_b, g_r = local[g_image[g_rows]], g_rank[g_rows]

    pb = np.zeros((nb, kp, 4))
    gb = np.zeros((nb, kg, 4))
    pc = np.full((nb, kp), -1, np.int64)  # padding: a class no real box has
    gc = np.full((nb, kg), -2, np.int64)
    pb[p_b, p_r] = pred.xyxy[p_src]
    pc[p_b, p_r] = pred.class_id[p_src]
    gb[g_b, g_r] = gt.xyxy[g_rows]
    gc[g_b, g_r] = gt.class_id[g_rows]
    cand_all = np.where(pc[:, :, None] == gc[:, None, :], batched_box_iou(pb, gb), -1.0)
    taken = np.zeros((nb, kg), bool)
    hits = np.zeros((nb, kp), bool)
    rows = np.arange(nb)
    for r in range(int(p_r.max()) + 1):  # ranks past every image's count: nothing to do
        cand = np.where(taken, -1.0, cand_all[:, r, :])
        j = cand.argmax(1)
        hit = cand[rows, j] >= iou
        if hit.any():
            taken[rows[hit], j[hit]] = True
            hits[:, r] = hit
    tp[p_src] = hits[p_b, p_r]
