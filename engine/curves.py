"""Threshold curves for a whole folder, recomputed in milliseconds when a slider moves.

The expensive part, matching predictions to ground truth, is done ONCE per (candidates, IoU,
NMS settings) at the candidate floor: each prediction gets a true-positive flag at IoU 0.5. A
confidence threshold then only selects a prefix of the predictions sorted by confidence, so
precision, recall, F1, the PR curve, the F1-vs-confidence curve and "best F1" are cumulative
sums. (Greedy NMS keeps the same boxes above any conf whether it ran at the floor or at conf:
a box is only ever suppressed by higher-scoring boxes.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from .detections import Detections
from .metrics import average_precision, match

CONF_GRID = np.round(np.linspace(0.0, 1.0, 101), 2)


@dataclass(frozen=True)
class ScoredFolder:
    """Every prediction of a folder (at the floor) with its TP flag, plus ground-truth counts."""

    confidence: np.ndarray  # (N,) float32, sorted descending
    class_id: np.ndarray  # (N,) int64
    tp: np.ndarray  # (N,) bool at IoU 0.5 (all False when there is no ground truth)
    gt_count: np.ndarray  # (nc,) int64
    images: int
    has_ground_truth: bool

    @classmethod
    def build(cls, pairs: Iterable[tuple[Detections, Detections | None]], num_classes: int) -> "ScoredFolder":
        confs, classes, tps = [], [], []
        gt_count = np.zeros(num_classes, np.int64)
        images, any_gt = 0, False
        for pred, gt in pairs:
            images += 1
            if gt is not None:
                any_gt = True
                gt_count += np.bincount(gt.class_id[gt.class_id < num_classes], minlength=num_classes)[:num_classes]
                tps.append(match(pred, gt, (0.5,))[:, 0])
            else:
                tps.append(np.zeros(len(pred), bool))
            confs.append(pred.confidence)
            classes.append(pred.class_id)
        conf = np.concatenate(confs) if confs else np.zeros(0, np.float32)
        order = np.argsort(-conf, kind="stable")
        return cls(conf[order], (np.concatenate(classes) if classes else np.zeros(0, np.int64))[order],
                   (np.concatenate(tps) if tps else np.zeros(0, bool))[order], gt_count, images, any_gt)

    def subset(self, class_id: int | None) -> tuple[np.ndarray, np.ndarray, int]:
        if class_id is None:
            return self.confidence, self.tp, int(self.gt_count.sum())
        sel = self.class_id == class_id
        return self.confidence[sel], self.tp[sel], int(self.gt_count[class_id])


@dataclass(frozen=True)
class PointMetrics:
    conf: float
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def metrics_at(sf: ScoredFolder, conf: float, class_id: int | None = None,
               class_conf: Sequence[tuple[int, float]] = ()) -> PointMetrics:
    """TP/FP/FN at a threshold (the engine's rule: keep score > conf), optionally per class."""
    conf_arr, tp, n_gt = sf.subset(class_id)
    if class_conf:
        thr = np.full(len(sf.confidence), conf, np.float32)
        for c, v in class_conf:
            thr[sf.class_id == c] = v
        if class_id is not None:
            thr = thr[sf.class_id == class_id]
        keep = conf_arr > thr
    else:
        keep = conf_arr > conf
    n_tp = int(tp[keep].sum())
    return PointMetrics(conf, n_tp, int(keep.sum()) - n_tp, n_gt - n_tp)


def pr_curve(sf: ScoredFolder, class_id: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(confidence, precision, recall) at each prediction, confidence descending."""
    conf, tp, n_gt = sf.subset(class_id)
    tps = np.cumsum(tp)
    fps = np.cumsum(~tp)
    precision = tps / np.maximum(tps + fps, 1)
    recall = tps / max(n_gt, 1)
    return conf, precision, recall


def f1_curve(sf: ScoredFolder, class_id: int | None = None, grid: np.ndarray = CONF_GRID) -> tuple[np.ndarray, np.ndarray]:
    """F1 at each confidence threshold of `grid` (score > t, as the engine filters)."""
    conf, tp, n_gt = sf.subset(class_id)
    # number of predictions with conf > t, for conf sorted descending; compared in conf's float32
    # as the engine filters (`score > conf`): in float64, a 0.6 score (0.60000002) passed 0.60
    k = np.searchsorted(-conf, -grid.astype(conf.dtype), side="left")
    tps = np.concatenate([[0], np.cumsum(tp)])[k]
    n = k
    p = np.where(n > 0, tps / np.maximum(n, 1), 0.0)
    r = tps / max(n_gt, 1)
    return grid, np.where(p + r > 0, 2 * p * r / np.maximum(p + r, 1e-12), 0.0)


def best_f1(sf: ScoredFolder, class_id: int | None = None) -> tuple[float, float]:
    """(threshold, F1) maximising F1 on the 0.01 grid; ties go to the higher threshold."""
    grid, f1 = f1_curve(sf, class_id)
    usable = grid < 1.0
    idx = int(np.flatnonzero(usable)[::-1][np.argmax(f1[usable][::-1])])
    return float(grid[idx]), float(f1[idx])


def best_mean_f1(sf: ScoredFolder, grid: np.ndarray = CONF_GRID) -> tuple[float, float]:
    """(threshold, mean F1) maximising the mean over classes with ground truth of the per-class
    F1: the ONE threshold at which Ultralytics val reports every class's P and R (it smooths the
    mean F1 on a 1000-point grid; this grid is 0.01). Ties go to the higher threshold."""
    classes = np.flatnonzero(sf.gt_count > 0)
    if classes.size == 0:
        return best_f1(sf)
    mean = np.mean([f1_curve(sf, int(c), grid)[1] for c in classes], axis=0)
    usable = grid < 1.0
    idx = int(np.flatnonzero(usable)[::-1][np.argmax(mean[usable][::-1])])
    return float(grid[idx]), float(mean[idx])


def ap50(sf: ScoredFolder, class_id: int | None = None) -> float:
    """AP@0.5 (COCO 101-point) of one class, or mAP@0.5 over classes with ground truth."""
    if class_id is not None:
        conf, tp, n_gt = sf.subset(class_id)
        return average_precision(tp, conf, n_gt)
    aps = []
    for c in np.flatnonzero(sf.gt_count > 0):
        conf, tp, n_gt = sf.subset(int(c))
        aps.append(average_precision(tp, conf, n_gt))
    return float(np.mean(aps)) if aps else float("nan")


def count_vs_threshold(sf: ScoredFolder, class_id: int | None = None, grid: np.ndarray = CONF_GRID) -> tuple[np.ndarray, np.ndarray]:
    """How many detections remain above each threshold (no ground truth needed)."""
    conf = sf.subset(class_id)[0]
    return grid, np.searchsorted(-conf, -grid.astype(conf.dtype), side="left")


def confidence_histogram(sf: ScoredFolder, class_id: int | None = None, bins: int = 50) -> tuple[np.ndarray, np.ndarray]:
    conf = sf.subset(class_id)[0]
    return np.histogram(conf, bins=bins, range=(0.0, 1.0))
