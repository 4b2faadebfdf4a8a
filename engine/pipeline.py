"""`Detector`: the engine's entry point -- load a model, predict one image, predict many.

Three jobs, three modules; this one only joins them:
- `engine.model_loader`: load-time resolution (metadata, warm-up, input-size probing, names,
  error messages for the usual load failures);
- `engine.predictor`: per-image prediction, the one place a `Prediction` is built and where
  any failure on an image becomes a `ScriptLensError` (`engine.run_errors`);
- `engine.batch_runner`: many images on thread pools, in input order, failures yielded.

Thresholds are NOT applied here: see `engine.thresholds.apply_thresholds`, which re-runs on
cached candidates whenever a slider moves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator, Sequence

from . import batch_runner
from .decode import DEFAULT_FLOOR
from .errors import ScriptLensError
from .model_host import ModelHost
from .model_loader import PROBE_SIZES, load_model
from .prediction import Prediction, StageTimings
from .predictor import PreparedImage, Predictor, to_input_tensor

__all__ = ["Detector", "Prediction", "StageTimings", "PreparedImage", "Predictor", "to_input_tensor",
           "ModelHost", "PROBE_SIZES"]


class Detector(Predictor):
    """A loaded model: `Predictor` (predict, predict_path, predict_one) plus `load` and
    `predict_paths`."""

    @classmethod
    def load(
        cls,
        path: Path | str,
        *,
        device: str = "auto",
        half: bool = False,
        imgsz: int | Sequence[int] | None = None,
        names: Sequence[str] | None = None,
        anchors: Sequence[Sequence[float]] | None = None,
        floor: float = DEFAULT_FLOOR,
        host: ModelHost | None = None,
        backend: str = "auto",
    ) -> "Detector":
        """`host`: where the model runs (`engine.model_host`): this process by default (a
        TorchScript file imports torch, unless a verified ONNX conversion is cached); the GUI
        passes its `engine.forward_process.ForwardProcess`. ``backend``: "auto", "torchscript" or
        "onnxruntime" (`engine.model_loader.load_model`'s ``backend_mode``)."""
        m = load_model(path, device=device, half=half, imgsz=imgsz, names=names, anchors=anchors,
                       host=host, backend_mode=backend)
        return cls(m.backend, m.info, m.decoder, m.ctx, floor)

    def predict_paths(self, paths: Iterable[Path], *, workers: int | None = None,
                      lookahead: int = 4) -> Iterator[tuple[Path, Prediction | ScriptLensError]]:
        """Predict many images, yielded in input order. Per-image failures are yielded as the
        exception, never raised: one bad file must not stop a batch (`engine.batch_runner`)."""
        return batch_runner.predict_paths(self, paths, workers=workers, lookahead=lookahead)
