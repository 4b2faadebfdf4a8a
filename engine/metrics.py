"""Detection metrics: precision/recall/F1 at a confidence threshold, COCO-style AP and mAP.

Pure numpy (no torch, no Qt) so the CLI, the GUI and the tests share one implementation.

Conventions (the same as pycocotools, minus crowd and area ranges):
- Matching is per image and per class, greedy by descending confidence: each prediction takes
  the unmatched ground-truth box with the highest IoU, if that IoU >= the threshold; ties
  in confidence keep input order (stable sort).
- AP uses the 101-point interpolated precision envelope; mAP@0.5:0.95 averages AP over the
  10 IoU thresholds 0.50, 0.55, ..., 0.95.
- A class with no ground truth has no AP (NaN) and is left out of the mAP means, as in COCO;
  its predictions still count as false positives in P/R/F1.
- Overall precision/recall/F1 are micro-averaged (pooled TP/FP/FN of all classes); overall
  mAP is the mean of the per-class APs.
- P/R/F1 use the predictions with ``confidence > conf`` at IoU 0.5 (the engine's own rule). Pass predictions taken
  at a LOW threshold (e.g. 0.001) so AP sees the whole precision-recall curve.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from .detections import Detections

COCO_IOUS = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))
RECALL_POINTS = np.linspace(0.0, 1.0, 101)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix (len(a), len(b)) of xyxy boxes."""
    a = np.asarray(a, np.float64).reshape(1, -1, 4)
    b = np.asarray(b, np.float64).reshape(1, -1, 4)
    return batched_box_iou(a, b)[0]


def batched_box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(B, P, G) IoU of (B, P, 4) and (B, G, 4) float64 xyxy boxes: B independent matrices,
    each exactly what `box_iou` gives (engine.batched_matching relies on that)."""
    lt = np.maximum(a[:, :, None, :2], b[:, None, :, :2])
    rb = np.minimum(a[:, :, None, 2:], b[:, None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area_a = np.clip(a[..., 2:] - a[..., :2], 0, None).prod(-1)
    area_b = np.clip(b[..., 2:] - b[..., :2], 0, None).prod(-1)
    union = area_a[:, :, None] + area_b[:, None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def _greedy_match(pred: Detections, gt: Detections, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The one matching rule: per class, predictions by descending confidence each take the
    untaken ground-truth box of highest IoU if it reaches the threshold.
    Returns (pred_tp (P, T), gt_found (G, T)) bool."""
    tp = np.zeros((len(pred), len(thresholds)), bool)
    found = np.zeros((len(gt), len(thresholds)), bool)
    if len(pred) == 0 or len(gt) == 0:
        return tp, found
    for c in np.unique(pred.class_id):
        pi = np.flatnonzero(pred.class_id == c)
        gi = np.flatnonzero(gt.class_id == c)
        if len(gi) == 0:
            continue
        pi = pi[np.argsort(-pred.confidence[pi], kind="stable")]
        ious = box_iou(pred.xyxy[pi], gt.xyxy[gi])
        for t, th in enumerate(thresholds):
            taken = found[gi, t]  # a copy: written back below
            for row, p in enumerate(pi):
                cand = np.where(taken, -1.0, ious[row])
                j = int(cand.argmax())
                if cand[j] >= th:
                    taken[j] = True
                    tp[p, t] = True
            found[gi, t] = taken
    return tp, found


def match(pred: Detections, gt: Detections, iou_thresholds: Iterable[float] = (0.5,)) -> np.ndarray:
    """(len(pred), T) bool: is prediction i a true positive at IoU threshold t?"""
    return _greedy_match(pred, gt, np.asarray(tuple(iou_thresholds), np.float64))[0]


def match_both(pred: Detections, gt: Detections, iou: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """(pred_tp (len(pred),) bool, gt_found (len(gt),) bool) at one IoU: also says which
    ground-truth boxes were found (the GUI draws the others as missed)."""
    tp, found = _greedy_match(pred, gt, np.asarray([iou], np.float64))
    return tp[:, 0], found[:, 0]


def match_counts(pred: Detections, gt: Detections, iou: float = 0.5) -> tuple[int, int, int]:
    """(true positives, false positives, missed ground truth) for one image, class-aware."""
    tp = int(match(pred, gt, (iou,))[:, 0].sum())
    return tp, len(pred) - tp, len(gt) - tp


def average_precision(tp: np.ndarray, conf: np.ndarray, n_gt: int) -> float:
    """COCO 101-point interpolated AP of one class at one IoU threshold (NaN if no GT)."""
    if n_gt == 0:
        return float("nan")
    if len(tp) == 0:
        return 0.0
    order = np.argsort(-conf, kind="mergesort")  # pycocotools uses mergesort too
    tps = np.cumsum(tp[order])
    fps = np.cumsum(~tp[order])
    recall = tps / n_gt
    precision = tps / np.maximum(tps + fps, np.finfo(np.float64).eps)
    envelope = np.maximum.accumulate(precision[::-1])[::-1]  # best precision at >= this recall
    idx = np.searchsorted(recall, RECALL_POINTS, side="left")
    q = np.where(idx < len(envelope), envelope[np.minimum(idx, len(envelope) - 1)], 0.0)
    return float(q.mean())


@dataclass(frozen=True)
class EvalResult:
    """Per-class arrays are indexed by class id; ``ap`` is (num_classes, len(iou_thresholds))."""

    conf: float
    iou_thresholds: tuple[float, ...]
    gt_count: np.ndarray  # (nc,) int
    tp: np.ndarray  # (nc,) int, at conf and IoU 0.5
    fp: np.ndarray
    fn: np.ndarray
    ap: np.ndarray  # (nc, T) float, NaN for classes without ground truth
    images: int

    @property
    def num_classes(self) -> int:
        return len(self.gt_count)

    @property
    def precision(self) -> np.ndarray:
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> np.ndarray:
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def f1(self) -> np.ndarray:
        return _f1(self.precision, self.recall)

    @property
    def ap50(self) -> np.ndarray:
        return self.ap[:, self.iou_thresholds.index(0.5)]

    @property
    def ap50_95(self) -> np.ndarray:
        return self.ap.mean(1)

    # overall: micro P/R/F1, macro mAP over classes that have ground truth
    @property
    def overall_precision(self) -> float:
        return float(_ratio(self.tp.sum(), self.tp.sum() + self.fp.sum()))

    @property
    def overall_recall(self) -> float:
        return float(_ratio(self.tp.sum(), self.tp.sum() + self.fn.sum()))

    @property
    def overall_f1(self) -> float:
        return float(_f1(np.float64(self.overall_precision), np.float64(self.overall_recall)))

    @property
    def map50(self) -> float:
        return _nanmean(self.ap50)

    @property
    def map50_95(self) -> float:
        return _nanmean(self.ap50_95)

    def as_dict(self, names: dict[int, str] | None = None) -> dict:
        names = names or {}
        rows = []
        for c in range(self.num_classes):
            rows.append({
                "class_id": c, "name": names.get(c, str(c)), "gt": int(self.gt_count[c]),
                "tp": int(self.tp[c]), "fp": int(self.fp[c]), "fn": int(self.fn[c]),
                "precision": float(self.precision[c]), "recall": float(self.recall[c]),
                "f1": float(self.f1[c]), "map50": _json_float(self.ap50[c]),
                "map50_95": _json_float(self.ap50_95[c]),
            })
        return {
            "images": self.images, "conf": self.conf, "iou_thresholds": list(self.iou_thresholds),
            "classes": rows,
            "all": {"gt": int(self.gt_count.sum()), "tp": int(self.tp.sum()), "fp": int(self.fp.sum()),
                    "fn": int(self.fn.sum()), "precision": self.overall_precision,
                    "recall": self.overall_recall, "f1": self.overall_f1,
                    "map50": _json_float(self.map50), "map50_95": _json_float(self.map50_95)},
        }


def evaluate(
    pairs: Iterable[tuple[Detections, Detections]],
    num_classes: int,
    conf: float = 0.25,
    iou_thresholds: tuple[float, ...] = COCO_IOUS,
) -> EvalResult:
    """Score (prediction, ground truth) pairs, one pair per image."""
    thr = tuple(float(t) for t in iou_thresholds)
    if 0.5 not in thr:
        raise ValueError("iou_thresholds must include 0.5 (used for P/R/F1 and mAP@0.5)")
    i50 = thr.index(0.5)
    tps, confs, classes = [], [], []
    gt_count = np.zeros(num_classes, np.int64)
    images = 0
    for pred, gt in pairs:
        images += 1
        for d, what in ((pred, "prediction"), (gt, "ground truth")):
            if len(d) and (d.class_id.min() < 0 or d.class_id.max() >= num_classes):
                raise ValueError(f"{what} class id outside 0..{num_classes - 1}")
        gt_count += np.bincount(gt.class_id, minlength=num_classes)
        tps.append(match(pred, gt, thr))
        confs.append(pred.confidence)
        classes.append(pred.class_id)
    tp_all = np.concatenate(tps) if tps else np.zeros((0, len(thr)), bool)
    conf_all = np.concatenate(confs) if confs else np.zeros(0, np.float32)
    cls_all = np.concatenate(classes) if classes else np.zeros(0, np.int64)

    ap = np.full((num_classes, len(thr)), np.nan)
    tp_at = np.zeros(num_classes, np.int64)
    fp_at = np.zeros(num_classes, np.int64)
    for c in range(num_classes):
        sel = cls_all == c
        above = sel & (conf_all > conf)  # the engine keeps score > conf
        tp_at[c] = int(tp_all[above, i50].sum())
        fp_at[c] = int(above.sum()) - tp_at[c]
        for t in range(len(thr)):
            ap[c, t] = average_precision(tp_all[sel, t], conf_all[sel], int(gt_count[c]))
    return EvalResult(conf=float(conf), iou_thresholds=thr, gt_count=gt_count, tp=tp_at, fp=fp_at,
                      fn=gt_count - tp_at, ap=ap, images=images)


def _ratio(num, den):
    num, den = np.asarray(num, np.float64), np.asarray(den, np.float64)
    return np.where(den > 0, num / np.where(den > 0, den, 1), 0.0)


def _f1(p, r):
    return np.where(p + r > 0, 2 * p * r / np.where(p + r > 0, p + r, 1), 0.0)


def _nanmean(x: np.ndarray) -> float:
    x = np.asarray(x, np.float64)
    return float(np.nanmean(x)) if np.isfinite(x).any() else float("nan")


def _json_float(x) -> float | None:
    return None if not np.isfinite(x) else float(x)
