"""The single-machine prediction split into the stages a distributed run places on different
workers (cli.ray_label): read + letterbox on CPU workers, then the forward pass and decode
where the model lives. Same functions, same order, same error translation as
`Predictor.read` -> `Predictor.prepare` -> `Predictor.run` (`Predictor.predict_one`), so every
image gets the same `Prediction` -- byte for byte -- or the same error. No Ray here.

What travels between the stages is the letterboxed uint8 image, not the float32 tensor:
4x fewer bytes through the object store; `to_input_tensor` is exact either side.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .errors import ScriptLensError
from .images import decode_image, read_image
from .letterbox import Geometry, letterbox
from .model_info import ModelInfo
from .prediction import Prediction
from .predictor import PreparedImage, Predictor, box_convention, to_input_tensor
from .run_errors import image_failure, unexpected_failure


@dataclass(frozen=True)
class Letterboxed:
    """One image read and letterboxed, ready to be sent to the model's worker."""

    padded: np.ndarray  # (H, W, 3) uint8 BGR, the model's input size
    geometry: Geometry
    read_ms: float
    preprocess_ms: float


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


def read_letterboxed(path: Path | str, info: ModelInfo, read_bytes: Callable[[Path | str], bytes] | None = None
                     ) -> Letterboxed | ScriptLensError:
    """`Predictor.read`'s first half (read + letterbox); a failure is returned, as
    `predict_one` returns it: one bad file is one row with its error. `read_bytes`: where the
    file's bytes come from when not the local disk (engine.object_store); they are decoded by
    the local reader's own decoder (engine.images.decode_image)."""
    try:
        t0 = time.perf_counter()
        try:
            image = read_image(path) if read_bytes is None else decode_image(read_bytes(path), path)
        except Exception as exc:
            raise image_failure(exc, path) from None
        read_ms, t1 = _ms(t0), time.perf_counter()
        try:
            padded, geom = letterbox(image, info.input_hw, box_convention(info))
        except Exception as exc:
            raise image_failure(exc, path) from None
        return Letterboxed(padded, geom, read_ms, _ms(t1))
    except Exception as exc:
        return unexpected_failure(exc, path)


def predict_letterboxed(predictor: Predictor, item: Letterboxed, path: Path | str) -> Prediction | ScriptLensError:
    """`Predictor.read`'s second half (the tensor) and `Predictor.run` on one image, as
    `predict_one` does it: one image per forward, so the batch shape -- and every float bit
    of the output -- is the single-machine run's."""
    try:
        t0 = time.perf_counter()
        try:
            tensor = to_input_tensor(item.padded)
        except Exception as exc:
            raise image_failure(exc, path) from None
        prepared = PreparedImage(tensor, item.geometry, item.read_ms, item.preprocess_ms + _ms(t0))
        return predictor.run([prepared])[0]
    except Exception as exc:
        return unexpected_failure(exc, path)
