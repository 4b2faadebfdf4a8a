"""`Candidates`: everything a model proposed for one image, before thresholds and NMS.

This is what the pipeline caches per image. Boxes stay in MODEL-INPUT pixels and unclipped,
exactly where the reference predictors run NMS, so re-applying thresholds later reproduces
the reference bit for bit; `Geometry` maps the survivors back to the original image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .letterbox import Geometry


@dataclass(frozen=True)
class Candidates:
    xyxy: np.ndarray  # (N,4) float32, model-input pixels, unclipped
    score: np.ndarray  # (N,) float32: obj*cls (anchor-based) or max cls (anchor-free)
    class_id: np.ndarray  # (N,) int64: best class of the box
    geometry: Geometry
    nms_in_model: bool = False  # end-to-end layout: the model already suppressed duplicates

    def __post_init__(self) -> None:
        n = len(self.score)
        if self.xyxy.shape != (n, 4) or self.class_id.shape != (n,):
            raise ValueError(
                f"inconsistent candidate shapes: xyxy {self.xyxy.shape}, score {self.score.shape}, "
                f"class_id {self.class_id.shape}"
            )

    def __len__(self) -> int:
        return int(self.score.shape[0])

    @property
    def nbytes(self) -> int:
        return self.xyxy.nbytes + self.score.nbytes + self.class_id.nbytes
