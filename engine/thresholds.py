"""The cheap step a slider re-runs: `Candidates` + `Thresholds` -> `Detections`.

Order follows the reference predictors: score > conf (per-class overrides allowed), class
filter, top 30000, NMS in model-input pixels, first ``max_det``, then map to the original
image and clip. End-to-end models (NMS inside) skip NMS unless the user asks for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .candidates import Candidates
from .detections import Detections
from .nms import batched_nms

MAX_NMS = 30000  # the references keep at most this many boxes going into NMS


@dataclass(frozen=True)
class Thresholds:
    conf: float = 0.25
    iou: float = 0.45
    classes: tuple[int, ...] | None = None  # keep only these class ids (None: all)
    agnostic: bool = False
    max_det: int = 300
    class_conf: tuple[tuple[int, float], ...] = field(default=())  # per-class conf overrides
    nms_on_end2end: bool = False  # extra NMS for models that already did it (off, like the reference)

    def __post_init__(self) -> None:
        if not 0.0 <= self.conf <= 1.0:
            raise ValueError(f"conf must be in [0, 1], got {self.conf}")
        if not 0.0 <= self.iou <= 1.0:
            raise ValueError(f"iou must be in [0, 1], got {self.iou}")
        if self.max_det < 1:
            raise ValueError(f"max_det must be >= 1, got {self.max_det}")
        if self.classes is not None:
            object.__setattr__(self, "classes", tuple(int(c) for c in self.classes))
        object.__setattr__(self, "class_conf", tuple(sorted((int(c), float(v)) for c, v in dict(self.class_conf).items())))

    def conf_for(self, class_id: np.ndarray) -> np.ndarray | float:
        """Per-box confidence threshold (the global one unless a class overrides it)."""
        if not self.class_conf:
            return self.conf
        table = dict(self.class_conf)
        out = np.full(class_id.shape, self.conf, np.float32)
        for cls, value in table.items():
            out[class_id == cls] = value
        return out


def select(candidates: Candidates, t: Thresholds) -> np.ndarray:
    """Indices into `candidates` that survive the thresholds, best first."""
    score, cls = candidates.score, candidates.class_id
    mask = score > t.conf_for(cls)
    if t.classes is not None:
        mask &= np.isin(cls, np.asarray(t.classes, np.int64))
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return idx
    if candidates.nms_in_model and not t.nms_on_end2end:
        # Reference for end-to-end models: rows above conf, in model order (sorted by score).
        return idx[: t.max_det]
    if idx.size > MAX_NMS:
        idx = idx[np.argsort(-score[idx], kind="stable")[:MAX_NMS]]
    keep = batched_nms(candidates.xyxy[idx], score[idx], cls[idx], t.iou, t.agnostic)
    return idx[keep[: t.max_det]]


def apply_thresholds(candidates: Candidates, t: Thresholds) -> Detections:
    idx = select(candidates, t)
    if idx.size == 0:
        return Detections.empty()
    xyxy = candidates.geometry.to_original(candidates.xyxy[idx], clip=True)
    return Detections(xyxy, candidates.score[idx], candidates.class_id[idx])
