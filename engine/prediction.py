"""What one image's prediction is: its `Candidates` and how long each stage took (value types,
no numpy work, no torch). `engine.predictor.Predictor` builds them."""

from __future__ import annotations

from dataclasses import dataclass

from .candidates import Candidates


@dataclass(frozen=True)
class StageTimings:
    read_ms: float = 0.0
    preprocess_ms: float = 0.0
    inference_ms: float = 0.0
    postprocess_ms: float = 0.0

    @property
    def total_ms(self) -> float:
        return self.read_ms + self.preprocess_ms + self.inference_ms + self.postprocess_ms


@dataclass(frozen=True)
class Prediction:
    candidates: Candidates
    timings: StageTimings
