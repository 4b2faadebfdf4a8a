"""Per-image prediction: read -> letterbox -> forward -> decode -> `Prediction`, timed per stage.

`Predictor` is the ONE place that turns images into `Prediction`s (`run`), and the one place
where a failure on an image becomes a `ScriptLensError` (`engine.run_errors`): preparing an
image raises `ImageReadError`, running or decoding raises `ModelRunError`, whatever the
underlying exception was. Thresholds are NOT applied here: see
`engine.thresholds.apply_thresholds`, which re-runs on cached candidates whenever a slider moves.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from .candidates import Candidates
from .decode import DecodeContext, Decoder, check_finite, normalize_output
from .errors import ScriptLensError
from .images import read_image
from .letterbox import Geometry, letterbox
from .model_info import ModelInfo
from .prediction import Prediction, StageTimings
from .run_errors import decode_failure, image_failure, model_failure, unexpected_failure

if TYPE_CHECKING:
    from .backend import TorchScriptBackend


def to_input_tensor(padded_bgr: np.ndarray) -> np.ndarray:
    """BGR HWC uint8 -> RGB CHW float32 in [0, 1] (the references' exact steps)."""
    rgb = padded_bgr[:, :, ::-1].transpose(2, 0, 1)
    return np.ascontiguousarray(rgb, dtype=np.float32) / np.float32(255.0)


def box_convention(info: ModelInfo) -> str:
    """How boxes map back through the letterbox: anchor-based layouts come from YOLOv5/YOLOv7,
    whose predictors do it their way."""
    return "yolov5" if info.layout in ("anchor_based", "raw_anchor_heads") else "ultralytics"


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


@dataclass(frozen=True)
class PreparedImage:
    """One image ready for the model: its input tensor, how it maps back, what it cost."""

    tensor: np.ndarray  # (3, H, W) float32
    geometry: Geometry
    read_ms: float
    preprocess_ms: float


class Predictor:
    """A loaded model plus everything needed to turn one image into `Candidates`."""

    def __init__(self, backend: "TorchScriptBackend", info: ModelInfo, decoder: Decoder, ctx: DecodeContext, floor: float) -> None:
        self.backend = backend
        self.info = info
        self.decoder = decoder
        self.ctx = ctx
        self.floor = floor
        self.box_convention = box_convention(info)

    # ---- preparing (raises ImageReadError) ----------------------------------------------
    def preprocess(self, image: np.ndarray) -> tuple[np.ndarray, Geometry]:
        """Letterbox + tensor, untranslated (tools time this step alone)."""
        padded, geom = letterbox(image, self.info.input_hw, self.box_convention)
        return to_input_tensor(padded), geom

    def prepare(self, image: np.ndarray, read_ms: float = 0.0, path: Path | str | None = None) -> PreparedImage:
        t0 = time.perf_counter()
        try:
            tensor, geom = self.preprocess(image)
        except Exception as exc:  # an OpenCV assertion, out of memory on a giant picture...
            raise image_failure(exc, path) from None
        return PreparedImage(tensor, geom, read_ms, _ms(t0))

    def read(self, path: Path | str) -> PreparedImage:
        t0 = time.perf_counter()
        try:
            image = read_image(path)
        except Exception as exc:  # read_image raises ImageReadError; anything else is translated too
            raise image_failure(exc, path) from None
        return self.prepare(image, _ms(t0), path)

    # ---- running (raises ModelRunError) --------------------------------------------------
    def run(self, images: Sequence[PreparedImage]) -> list[Prediction]:
        """Run the model on prepared images (in chunks of the model's batch size, the last one
        padded) and build their `Prediction`s: inference and decode time are shared equally."""
        size = self.info.batch
        decoded = []
        inference_ms = post_ms = 0.0
        for start in range(0, len(images), size):
            chunk = [p.tensor for p in images[start : start + size]]
            batch = np.stack(chunk + [chunk[-1]] * (size - len(chunk)))
            t0 = time.perf_counter()
            try:
                pred = normalize_output(self.backend.forward(batch))  # includes the device->host copy
            except Exception as exc:  # errors from inside the graph come in many types
                raise model_failure(exc) from None
            t1 = time.perf_counter()
            check_finite(pred)  # ModelRunError: NaN/inf on this input
            try:
                decoded.extend(self.decoder.decode(pred, self.ctx, self.floor)[: len(chunk)])
            except Exception as exc:
                raise decode_failure(exc) from None
            inference_ms += (t1 - t0) * 1000
            post_ms += _ms(t1)
        n = max(len(images), 1)
        return [self._prediction(p, d, inference_ms / n, post_ms / n) for p, d in zip(images, decoded)]

    def _prediction(self, image: PreparedImage, decoded, inference_ms: float, post_ms: float) -> Prediction:
        """The one place a `Prediction` is built."""
        xyxy, score, cls = decoded
        candidates = Candidates(xyxy, score, cls, image.geometry, nms_in_model=self.decoder.nms_in_model)
        return Prediction(candidates, StageTimings(image.read_ms, image.preprocess_ms, inference_ms, post_ms))

    # ---- one image ---------------------------------------------------------------------
    def predict(self, image: np.ndarray, read_ms: float = 0.0) -> Prediction:
        """Raises `ScriptLensError` (ImageReadError, ModelRunError...) and nothing else."""
        return self.run([self.prepare(image, read_ms)])[0]

    def predict_path(self, path: Path | str) -> Prediction:
        """Raises `ScriptLensError` (ImageReadError, ModelRunError...) and nothing else."""
        return self.run([self.read(path)])[0]

    def predict_one(self, path: Path | str) -> Prediction | ScriptLensError:
        """`predict_path`, with the failure returned instead of raised (batches yield it)."""
        try:
            return self.predict_path(path)
        except Exception as exc:  # ScriptLensError; anything else is a bug, still this image's only
            return unexpected_failure(exc, path)
