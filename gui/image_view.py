"""What the canvas, the side panel and the image list show for one image: a pure function of the
model's cached candidates, the person's edits, the thresholds and the ground truth. No Qt.

One place decides the list's count column (`list_count`): an edited image counts its own boxes,
any other image the boxes that survive the thresholds *with* the class filter -- exactly what the
canvas draws and the export writes. It used to be computed three ways, and an edited, prefetched
neighbour could show the model's count instead of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

from engine.candidates import Candidates
from engine.detections import Detections
from engine.ground_truth_reader import GroundTruth
from engine.metrics import match_both
from engine.thresholds import Thresholds, apply_thresholds

Edit = tuple[Detections, tuple[int, int]]  # a person's boxes for an image, and its (w, h)


def chip_text(name: str, confidence: float, show_name: bool, show_conf: bool) -> str:
    parts = []
    if show_name:
        parts.append(name)
    if show_conf:
        parts.append(f"{confidence:.2f}")
    return " ".join(parts)


def list_count(t: Thresholds, candidates: Candidates | None = None, edit: Edit | None = None) -> int | None:
    """The image list's count for one image (None: nothing known yet)."""
    if edit is not None:
        return len(edit[0])
    if candidates is not None:
        return len(apply_thresholds(candidates, t))
    return None


@dataclass(frozen=True)
class ImageView:
    detections: Detections  # drawn, counted in the list, exported
    image_wh: tuple[int, int]
    class_counts: np.ndarray  # per class, before the class filter (the side panel's list)
    texts: list[str]  # one chip per box
    tp: list[bool] | None  # per box, when the ground truth is shown and readable
    missed: list[list[float]]  # labelled boxes nothing found (shown with the ground truth)
    image_counts: tuple[int, int, int] | None  # TP, FP, missed on this image
    summary: str  # the threshold panel's "This image: ..." line
    edited: bool

    @property
    def list_count(self) -> int:
        return len(self.detections)


def build_image_view(candidates: Candidates | None, edit: Edit | None, t: Thresholds, names: Sequence[str],
                     truth: GroundTruth | None = None, show_names: bool = True, show_conf: bool = True,
                     show_ground_truth: bool = True) -> ImageView | None:
    """None when there is nothing to show (no candidates and no edit)."""
    if candidates is None and edit is None:
        return None
    if edit is not None:
        det, wh = edit
        all_classes = det  # the sliders do not filter a person's boxes
    else:
        # with agnostic NMS a hidden class must not suppress boxes: NMS first, then the filter
        all_classes = apply_thresholds(candidates, replace(t, classes=None))
        det = all_classes if t.classes is None else apply_thresholds(candidates, t)
        h, w = candidates.geometry.source_hw
        wh = (w, h)
    texts = [chip_text(names[c] if c < len(names) else f"class{c}", float(s), show_names, show_conf)
             for c, s in zip(det.class_id.tolist(), det.confidence.tolist())]
    tp_list, missed, counts = None, [], None
    suffix = ("  (edited boxes)" if truth is not None and truth.scored else "  (edited)") if edit is not None else ""
    if truth is None:
        summary = f"This image: {len(det)} boxes"
    elif not truth.scored:
        summary = f"This image: {len(det)} boxes; its label file is unreadable (left out of the metrics)"
    else:
        gt = truth.detections
        tp, found = match_both(det, gt)
        counts = (int(tp.sum()), int((~tp).sum()), int((~found).sum()))
        summary = "This image: TP {} · FP {} · missed {}".format(*counts)
        if show_ground_truth:
            tp_list = tp.tolist()
            missed = gt.xyxy[~found].tolist()
    return ImageView(det, wh, all_classes.counts_per_class(len(names)), texts, tp_list, missed, counts,
                     summary + suffix, edit is not None)
