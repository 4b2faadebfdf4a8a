"""`Detections`: the one result type every stage, the CLI and the GUI speak.

Frozen, numpy-backed, validated on construction. Boolean masks and index arrays return a
new instance (``d[d.confidence > 0.5]``), so nothing downstream edits boxes in place.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _as_array(value, dtype, name: str) -> np.ndarray:
    arr = np.asarray(value, dtype=dtype)
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True)
class Detections:
    """Boxes in ORIGINAL image pixels: ``xyxy (N,4) float32``, ``confidence (N,) float32``,
    ``class_id (N,) int64``."""

    xyxy: np.ndarray
    confidence: np.ndarray
    class_id: np.ndarray

    def __post_init__(self) -> None:
        xyxy = _as_array(self.xyxy, np.float32, "xyxy")
        if xyxy.size == 0:
            xyxy = xyxy.reshape(0, 4)
        conf = _as_array(self.confidence, np.float32, "confidence").reshape(-1)
        cls = _as_array(self.class_id, np.int64, "class_id").reshape(-1)
        if xyxy.ndim != 2 or xyxy.shape[1] != 4:
            raise ValueError(f"xyxy must have shape (N, 4), got {xyxy.shape}")
        n = xyxy.shape[0]
        if conf.shape != (n,) or cls.shape != (n,):
            raise ValueError(
                f"confidence {conf.shape} and class_id {cls.shape} must both have shape ({n},)"
            )
        object.__setattr__(self, "xyxy", xyxy)
        object.__setattr__(self, "confidence", conf)
        object.__setattr__(self, "class_id", cls)

    @classmethod
    def empty(cls) -> "Detections":
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))

    def __len__(self) -> int:
        return int(self.xyxy.shape[0])

    def __getitem__(self, index) -> "Detections":
        if isinstance(index, (int, np.integer)):
            index = [index]
        return Detections(self.xyxy[index], self.confidence[index], self.class_id[index])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Detections):
            return NotImplemented
        return (
            np.array_equal(self.xyxy, other.xyxy)
            and np.array_equal(self.confidence, other.confidence)
            and np.array_equal(self.class_id, other.class_id)
        )

    __hash__ = None  # arrays are not hashable; equality is by value

    @classmethod
    def concatenate(cls, parts: "list[Detections]") -> "Detections":
        if not parts:
            return cls.empty()
        return cls(
            np.concatenate([p.xyxy for p in parts]),
            np.concatenate([p.confidence for p in parts]),
            np.concatenate([p.class_id for p in parts]),
        )

    def counts_per_class(self, num_classes: int) -> np.ndarray:
        return np.bincount(self.class_id, minlength=num_classes)[:num_classes] if num_classes else np.zeros(0, int)
