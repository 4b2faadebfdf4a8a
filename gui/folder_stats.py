"""Folder statistics for the threshold panel and the review queue (no Qt, no torch).

Why this shape: the expensive step, matching predictions to ground truth, depends on the NMS
settings (IoU, agnostic, max detections) but NOT on the confidence threshold. So the worker
keeps, per image, the detections at the candidate floor (conf > FLOOR_CONF, the current NMS
settings) reduced to an `ImageScore` (confidences, classes, TP flags at IoU 0.5, number of
ground-truth boxes) -- a few hundred bytes per image, kept in a plain dict beside the
candidate LRU. From those, `build_scored_folder` makes an `engine.curves.ScoredFolder`; a
confidence change then needs only cumulative sums (`engine.curves.metrics_at`, curves) and
`image_keys` for the review queue, which run on the UI thread in milliseconds for 1,000
images. Only an IoU / agnostic / max-det change recomputes the floor (in the worker).

The floor and matching rule are the ones `scriptlens eval` uses (conf 0.001, greedy matching
by confidence per image and class at IoU 0.5), and so is the label reader
(engine.ground_truth_reader): an unlabelled image counts as a negative, an image whose label
file is unreadable is left out (`FolderStats.unreadable_labels` lists the files). So the
panel's numbers equal the CLI's for the same model, images, labels and NMS settings.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.curves import ScoredFolder
from engine.detections import Detections
from engine.batched_matching import match_batch
from engine.batched_thresholds import DetectionBatch
from engine.thresholds import Thresholds

FLOOR_CONF = 0.001  # the same floor as `scriptlens eval` (AP needs the whole curve)


class BatchSizer:
    """How many cached images a folder scan scores per batched call (engine.batched_*): sized
    from the last batch to take about `target_s`. Big enough to amortise numpy call overhead
    (a quick pass fits the maximum), small enough that an image request waits at most about
    that long behind the scan (a full-floor pass costs ~6 ms per image)."""

    def __init__(self, target_s: float = 0.08, start: int = 32, lo: int = 4, hi: int = 256) -> None:
        self.target_s, self.start, self.lo, self.hi = target_s, start, lo, hi
        self.size = start

    def reset(self) -> None:
        self.size = self.start

    def update(self, elapsed_s: float, images: int) -> None:
        per_image = max(elapsed_s / max(images, 1), 1e-6)
        self.size = int(min(self.hi, max(self.lo, self.target_s / per_image)))


@dataclass(frozen=True)
class StatsRequest:
    """Score every image of the folder at the floor (one snapshot of the NMS settings)."""

    id: int
    model_id: int
    paths: tuple[Path, ...]
    gt_source: object  # engine.ground_truth.GroundTruthSource | None
    iou: float
    agnostic: bool
    max_det: int
    num_classes: int
    start: int = 0  # the worker handles the folder in slices and re-queues the rest
    # Above FLOOR_CONF: a QUICK pass after an NMS change. Greedy NMS and greedy matching both go
    # by descending confidence, so every box and TP flag above this floor is exactly what the
    # full pass gives; only the curves below it (and AP) wait for the full pass, which follows.
    floor: float = FLOOR_CONF
    gt_generation: int = 0  # bumped when the ground-truth files were rewritten (an export into them)
    cancel_event: threading.Event = field(default_factory=threading.Event, compare=False)

    @property
    def key(self) -> tuple:
        return (self.model_id, self.iou, self.agnostic, self.max_det, self.gt_source, self.gt_generation, self.num_classes,
                self.floor)


@dataclass(frozen=True)
class ImageScore:
    """One image's predictions at the floor, sorted by confidence (descending)."""

    confidence: np.ndarray  # (N,) float32
    class_id: np.ndarray  # (N,) int64
    tp: np.ndarray  # (N,) bool at IoU 0.5 (all False without ground truth)
    gt_class_id: np.ndarray  # (G,) int64 ground-truth classes (empty without ground truth)
    has_gt: bool  # a ground-truth source exists for the folder (an unlabelled image: no objects)


@dataclass(frozen=True)
class FolderStats:
    request_id: int
    key: tuple
    scored: ScoredFolder
    images: dict[str, ImageScore]  # image path -> its score
    failed: int  # images that could not be scored (unreadable, or the model failed on them)
    # one "file:line: reason" per unreadable label file, in folder order; those images are left
    # out of `images` and `scored` (engine.ground_truth_reader)
    unreadable_labels: tuple[str, ...]
    floor: float = FLOOR_CONF  # > FLOOR_CONF: a quick pass, exact only for thresholds >= floor
    # image path -> why: the image list marks these rows before anyone visits them
    failed_images: dict[str, str] = field(default_factory=dict)
    unreadable_images: dict[str, str] = field(default_factory=dict)


def scoring_status(stats: FolderStats, request: "StatsRequest") -> str:
    """The threshold panel's status line: what its numbers were computed from."""
    nms = f"NMS IoU {request.iou:.2f}" + (", class-agnostic" if request.agnostic else "") + f", max {request.max_det}"
    text = f"{len(stats.images):,} images scored with {nms}"
    if stats.failed:
        text += f"; {stats.failed} could not be scored (see the image list)"
    if stats.unreadable_labels:
        text += f"; {len(stats.unreadable_labels)} left out: label file unreadable"
    if stats.floor > FLOOR_CONF:
        text += f"; quick pass (exact above confidence {stats.floor:.2f}), curves below it follow"
    return text + "."


def floor_thresholds(iou: float, agnostic: bool, max_det: int, floor: float = FLOOR_CONF) -> Thresholds:
    return Thresholds(conf=floor, iou=iou, agnostic=agnostic, max_det=max_det)


def score_image(floor: Detections, gt: Detections | None) -> ImageScore:
    return score_batch(DetectionBatch.from_list([floor]), [gt])[0]


def score_batch(floors: DetectionBatch, gts: list[Detections | None]) -> list[ImageScore]:
    """Each image's floor detections sorted by confidence with TP flags at IoU 0.5, matched for
    all images at once (`engine.batched_matching`, equal to `engine.metrics.match`)."""
    n = len(floors)
    gt_batch = DetectionBatch.from_list([g if g is not None else Detections.empty() for g in gts])
    tp = match_batch(floors, gt_batch, 0.5)
    image = np.repeat(np.arange(n), np.diff(floors.offsets))
    order = np.lexsort((-floors.confidence, image))  # best first within each image, stable
    conf, cls, tp = floors.confidence[order], floors.class_id[order], tp[order]
    out = []
    for i, gt in enumerate(gts):
        s = slice(int(floors.offsets[i]), int(floors.offsets[i + 1]))
        gt_cls = gt.class_id.copy() if gt is not None else np.zeros(0, np.int64)
        out.append(ImageScore(conf[s], cls[s], tp[s], gt_cls, gt is not None))
    return out


def build_scored_folder(scores: list[ImageScore], num_classes: int, has_gt: bool) -> ScoredFolder:
    """What `ScoredFolder.build` computes, from already matched images (no second matching).
    A ground-truth class id outside 0..num_classes-1 raises ValueError, as in
    `engine.metrics.evaluate`: the reader leaves such images out before they get here, and
    dropping the box silently would make the totals disagree with `image_counts`."""
    gt_count = np.zeros(num_classes, np.int64)
    for s in scores:
        if len(s.gt_class_id):
            if s.gt_class_id.min() < 0 or s.gt_class_id.max() >= num_classes:
                raise ValueError(f"ground truth class id outside 0..{num_classes - 1}")
            gt_count += np.bincount(s.gt_class_id, minlength=num_classes)
    if scores:
        conf = np.concatenate([s.confidence for s in scores])
        cls = np.concatenate([s.class_id for s in scores])
        tp = np.concatenate([s.tp for s in scores])
    else:
        conf, cls, tp = np.zeros(0, np.float32), np.zeros(0, np.int64), np.zeros(0, bool)
    order = np.argsort(-conf, kind="stable")
    return ScoredFolder(conf[order], cls[order], tp[order], gt_count, len(scores), has_gt)


def kept(score: ImageScore, conf: float, class_conf: dict[int, float] | None = None) -> np.ndarray:
    """Mask of the image's predictions above the thresholds (the engine's `score > conf`)."""
    if not class_conf:
        return score.confidence > conf
    thr = np.full(len(score.confidence), conf, np.float32)
    for c, v in class_conf.items():
        thr[score.class_id == c] = v
    return score.confidence > thr


def image_counts(score: ImageScore, conf: float, class_conf: dict[int, float] | None = None) -> tuple[int, int, int, int, float]:
    """(detections, true positives, false positives, missed, lowest kept confidence or 1.0)."""
    keep = kept(score, conf, class_conf)
    n = int(keep.sum())
    tp = int(score.tp[keep].sum())
    lowest = float(score.confidence[keep].min()) if n else 1.0
    return n, tp, n - tp, len(score.gt_class_id) - tp, lowest
