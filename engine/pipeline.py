"""The pipeline: read -> letterbox -> forward -> decode -> `Candidates`, timed per stage.

`Detector.load` also works out what the metadata cannot say: it runs the model once on a blank
input (warm-up) to learn the output layout and class count, and turns the usual failures
(wrong device, wrong input size) into messages that say what to do.
Thresholds are NOT applied here: see `engine.thresholds.apply_thresholds`, which re-runs on
cached candidates whenever a slider moves.
"""

from __future__ import annotations

import itertools
import logging
import os
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Sequence

import cv2
import numpy as np

from . import metadata as meta
from .candidates import Candidates
from .decode import DEFAULT_FLOOR, DecodeContext, Decoder, check_finite, find_decoder, normalize_output, output_shapes
from .errors import ImageReadError, ModelLoadError, ModelRunError, ScriptLensError, UnsupportedOutputError
from .images import read_image
from .letterbox import Geometry, letterbox
from .model_file import check_torchscript_file
from .model_info import ModelInfo

if TYPE_CHECKING:  # engine.backend imports torch; it is imported only when a model loads
    from .backend import TorchScriptBackend

# (path, device, half) -> a backend: `TorchScriptBackend.load`, or a model process's loader
BackendLoader = Callable[[Path, str, bool], "TorchScriptBackend"]

log = logging.getLogger(__name__)

# Input sizes tried, in order, when a model without metadata rejects the default 640.
PROBE_SIZES = ((640, 640), (320, 320), (416, 416), (512, 512), (1280, 1280), (384, 384), (480, 480), (960, 960))


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


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


def to_input_tensor(padded_bgr: np.ndarray) -> np.ndarray:
    """BGR HWC uint8 -> RGB CHW float32 in [0, 1] (the references' exact steps)."""
    rgb = padded_bgr[:, :, ::-1].transpose(2, 0, 1)
    return np.ascontiguousarray(rgb, dtype=np.float32) / np.float32(255.0)


def _load_in_process(path: Path, device: str, half: bool) -> "TorchScriptBackend":
    from .backend import TorchScriptBackend  # imports torch

    return TorchScriptBackend.load(path, device=device, half=half)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    # TorchScript errors carry the whole traceback of the graph; the last line says what failed.
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in reversed(lines):
        if "Error" in ln or "error" in ln or "size" in ln or "shape" in ln:
            return ln[:300]
    return (lines[-1] if lines else type(exc).__name__)[:300]


# a model with its own float32 casts (or float16 overflows) fails only in reduced precision
_REDUCED_PRECISION_HINT = (". It ran in reduced precision: load it without --half "
                           "(GUI: untick Reduced precision in Model settings)")


def _is_shape_error(message: str) -> bool:
    m = message.lower()
    return any(k in m for k in ("size of tensor", "sizes of tensors", "shape", "invalid for input of size", "dimension", "mat1 and mat2"))


def _is_device_error(message: str) -> bool:
    m = message.lower()
    return "cuda" in m or "same device" in m or "device type" in m


class Detector:
    """A loaded model plus everything needed to turn images into `Candidates`."""

    def __init__(self, backend: "TorchScriptBackend", info: ModelInfo, decoder: Decoder, ctx: DecodeContext, floor: float) -> None:
        self.backend = backend
        self.info = info
        self.decoder = decoder
        self.ctx = ctx
        self.floor = floor
        # Anchor-based layouts come from YOLOv5/YOLOv7, whose predictors map boxes back their way.
        self.box_convention = "yolov5" if info.layout in ("anchor_based", "raw_anchor_heads") else "ultralytics"

    # ------------------------------------------------------------------ loading
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
        backend_loader: BackendLoader | None = None,
    ) -> "Detector":
        """`backend_loader` defaults to loading the model in this process (this imports torch);
        the GUI passes `engine.forward_process.ForwardProcess.load_backend`."""
        try:
            return cls._load(Path(path), device, half, imgsz, names, anchors, floor, backend_loader or _load_in_process)
        except UnsupportedOutputError as exc:
            # The decoders do not know the file: every other load error names it, these did not
            # ("error: the model's output (1x10) fits no known layout" -- which model, in a script?)
            if str(path) in str(exc):
                raise
            raise UnsupportedOutputError(f"{path}: {exc}") from None

    @classmethod
    def _load(cls, path: Path, device, half, imgsz, names, anchors, floor, backend_loader) -> "Detector":
        check_torchscript_file(path)
        backend = backend_loader(path, device, half)

        facts = meta.MetaFacts()
        meta.facts_from_config(meta.parse_config(backend.config_text), facts)
        meta.facts_from_sidecars(path, facts)
        if imgsz is not None:
            parsed = meta.parse_imgsz(list(imgsz) if not isinstance(imgsz, int) else imgsz)
            if parsed is None:
                raise ModelLoadError(f"invalid input size {imgsz!r}: give N or HxW")
            facts.set("imgsz", parsed, "user")
        if names is not None:
            facts.set("names", tuple(meta.clean_name(n) for n in names), "user")
        if anchors is not None:
            parsed_anchors = meta.parse_anchors(anchors)
            if parsed_anchors is None:
                raise ModelLoadError("invalid anchors: give one [w0,h0, w1,h1, ...] list per level")
            facts.set("anchors", parsed_anchors, "user")

        if facts.imgsz is None:
            facts.set("imgsz", meta.DEFAULT_IMGSZ, "default")
        batch = facts.batch or 1
        pred, input_hw = cls._warm_up(backend, path, facts, batch)
        # A model whose output on the plain grey warm-up input is ALL NaN/inf is broken for
        # every image (an fp16 overflow, a bad export). Loading it anyway made `label` print the
        # same "only NaN/inf" line once per image and exit 1; refuse it here, once (exit 3).
        # A model that is NaN on some inputs only still loads and fails per image.
        try:
            check_finite(pred)
        except ModelRunError as exc:
            raise ModelLoadError(f"{path}: on a blank {input_hw[0]}x{input_hw[1]} input, {exc}"
                                 + (_REDUCED_PRECISION_HINT if backend.half else "")) from None
        if input_hw != facts.imgsz:
            facts.set("imgsz", input_hw, "probed (the model accepted this size)")

        ctx = DecodeContext(
            input_hw=input_hw,
            num_classes=len(facts.names) if facts.names else None,
            anchors=facts.anchors,
            nms_in_model=facts.nms_in_model,
            end2end_flag=facts.end2end,
        )
        decoder = find_decoder(pred, ctx)
        # A one-class model without metadata is taken as YOLOv7 (whose predictor scores by
        # objectness alone: its class score is untrained); YOLOv5 >= 6.1 always has metadata.
        if not facts.raw and decoder.name in ("anchor_based", "raw_anchor_heads") and decoder.num_classes(pred) == 1:
            ctx = replace(ctx, score_is_obj=True)
        if decoder.name == "raw_anchor_heads":
            decoder.anchors_for(pred, ctx)  # fail now, not on the first image
            if facts.anchors is None:
                facts.set("anchors", meta.DEFAULT_ANCHORS, "default (YOLOv5/v7 P3-P5)")

        nc = decoder.num_classes(pred)
        names_final = cls._resolve_names(facts, nc)
        stride = facts.stride
        if stride is None and isinstance(pred, list):
            stride = int(round(input_hw[0] / min(p.shape[2] for p in pred)))
            facts.sources["stride"] = "output"
        elif stride is None:
            facts.sources["stride"] = "unknown"

        info = ModelInfo(
            path=path,
            layout=decoder.name,
            input_hw=input_hw,
            stride=stride,
            names=names_final,
            anchors=facts.anchors if decoder.name == "raw_anchor_heads" else None,
            device=backend.device,
            half=backend.half,
            batch=batch,
            score_is_obj=ctx.score_is_obj,
            metadata=dict(facts.raw),
            sources={**{("input_hw" if k == "imgsz" else k): v for k, v in facts.sources.items()}, "layout": "output shape" + (" + metadata" if facts.raw else "")},
            output_shapes=output_shapes(pred),
        )
        ctx = replace(ctx, num_classes=len(names_final))
        log.info("loaded %s: %s, input %s, %d classes on %s", path.name, info.layout, input_hw, len(names_final), backend.device)
        return cls(backend, info, decoder, ctx, floor)

    @staticmethod
    def _resolve_names(facts: meta.MetaFacts, nc: int | None) -> tuple[str, ...]:
        names = facts.names
        if nc is None:  # end-to-end output does not carry the class count
            if names:
                return names
            facts.sources["names"] = "default (end-to-end output; give names in a sidecar)"
            return meta.COCO_NAMES
        if names is None:
            facts.sources["names"] = "default (COCO)" if nc == 80 else "default"
            return meta.default_names(nc)
        if len(names) != nc:
            log.warning("%d class names for a %d-class output; extra ids get generic names", len(names), nc)
            facts.sources["names"] = facts.sources.get("names", "") + f" (adjusted to {nc} classes)"
            return tuple(names[:nc]) + tuple(f"class{i}" for i in range(len(names), nc))
        return names

    @staticmethod
    def _warm_up(backend: "TorchScriptBackend", path: Path, facts: meta.MetaFacts, batch: int):
        """Run a blank input; return the normalised output and the input size that worked."""
        sizes = [facts.imgsz]
        if facts.sources.get("imgsz") == "default":
            sizes += [s for s in PROBE_SIZES if s != facts.imgsz]
        first_error: str | None = None
        for hw in sizes:
            blank = np.full((batch, 3, *hw), 114 / 255, np.float32)
            try:
                raw = backend.forward(blank)
            except UnsupportedOutputError:  # a model process normalises the output itself
                raise
            except Exception as exc:  # torch raises many types from inside a graph
                msg = _first_line(exc)
                if _is_device_error(msg):
                    raise ModelLoadError(
                        f"{path}: the model was traced on another device and cannot run on '{backend.device}' "
                        f"(torch said: {msg}); use --device cuda on a GPU machine, or export it again on the CPU"
                    ) from None
                if _is_shape_error(msg):
                    first_error = first_error or msg
                    continue
                raise ModelLoadError(f"{path}: the model failed on a blank {hw[0]}x{hw[1]} input: {msg}"
                                     + (_REDUCED_PRECISION_HINT if backend.half else "")) from None
            backend.forward(blank)  # TorchScript optimises its graph on the first runs: do them now
            return normalize_output(raw), hw
        src = facts.sources.get("imgsz", "default")
        h, w = facts.imgsz
        raise ModelLoadError(
            f"{path}: the model rejects a {h}x{w} input (size from {src}): it was traced for another input size. "
            f"Give the right one with --imgsz (GUI: Model settings). Torch said: {first_error}"
        )

    # ------------------------------------------------------------------ inference
    def preprocess(self, image: np.ndarray) -> tuple[np.ndarray, Geometry]:
        padded, geom = letterbox(image, self.info.input_hw, self.box_convention)
        return to_input_tensor(padded), geom

    def predict(self, image: np.ndarray, read_ms: float = 0.0) -> Prediction:
        t0 = time.perf_counter()
        tensor, geom = self.preprocess(image)
        t1 = time.perf_counter()
        decoded, inference_ms, post_ms = self._timed_run([tensor])
        cand = self._candidates(decoded[0], geom)
        return Prediction(cand, StageTimings(read_ms, (t1 - t0) * 1000, inference_ms, post_ms))

    def _timed_run(self, tensors: list[np.ndarray]):
        size = self.info.batch
        decoded = []
        inference_ms = post_ms = 0.0
        for start in range(0, len(tensors), size):
            chunk = tensors[start : start + size]
            batch = np.stack(chunk + [chunk[-1]] * (size - len(chunk)))
            t0 = time.perf_counter()
            try:
                raw = self.backend.forward(batch)
                pred = normalize_output(raw)  # includes the device->host copy
            except ScriptLensError:  # unsupported output; a model process that stopped
                raise
            except Exception as exc:  # errors from inside the graph come in many types
                raise ModelRunError(f"the model failed while running: {_first_line(exc)}") from None
            t1 = time.perf_counter()
            check_finite(pred)
            decoded.extend(self.decoder.decode(pred, self.ctx, self.floor)[: len(chunk)])
            inference_ms += (t1 - t0) * 1000
            post_ms += _ms(t1)
        return decoded, inference_ms, post_ms

    def _candidates(self, decoded, geom: Geometry) -> Candidates:
        xyxy, score, cls = decoded
        return Candidates(xyxy, score, cls, geom, nms_in_model=self.decoder.nms_in_model)

    def predict_path(self, path: Path | str) -> Prediction:
        t0 = time.perf_counter()
        image = read_image(path)
        return self.predict(image, read_ms=_ms(t0))

    def predict_paths(self, paths: Iterable[Path], *, workers: int | None = None, lookahead: int = 4) -> Iterator[tuple[Path, Prediction | ScriptLensError]]:
        """Predict many images, yielded in input order. Per-image failures are yielded as the
        exception, never raised: one bad file must not stop a batch.

        Batch-1 models (most traced exports) run image-parallel: each of `workers` threads
        reads, letterboxes, runs and decodes whole images, with torch's intra-op threads split
        between them. On few cores this beats one multi-threaded forward plus reader threads,
        which fight the forward's threads for the same cores (measured on 2 cores: ~0.5x of
        pure forward throughput that way, >= 0.9x this way). Fixed-batch models get batches.
        """
        paths = list(paths)
        cpus = os.cpu_count() or 1
        workers = max(1, workers if workers is not None else min(4, cpus))
        if self.info.batch > 1:
            yield from self._predict_batches(paths, workers, lookahead)
            return
        with self.backend.intra_op_threads(max(1, cpus // workers)), ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="scriptlens-predict"
        ) as pool:
            pending = deque()
            it = iter(paths)
            for p in itertools.islice(it, workers + lookahead):
                pending.append((p, pool.submit(self._predict_one, p)))
            while pending:
                p, future = pending.popleft()
                nxt = next(it, None)
                if nxt is not None:
                    pending.append((nxt, pool.submit(self._predict_one, nxt)))
                yield p, future.result()

    def _predict_one(self, path: Path) -> Prediction | ScriptLensError:
        prepared = self._load_for_batch(path)
        if isinstance(prepared, ScriptLensError):
            return prepared
        tensor, geom, read_ms, pre_ms = prepared
        try:
            decoded, inf_ms, post_ms = self._timed_run([tensor])
        except ScriptLensError as exc:
            return exc
        return Prediction(self._candidates(decoded[0], geom), StageTimings(read_ms, pre_ms, inf_ms, post_ms))

    def _load_for_batch(self, p: Path):
        t0 = time.perf_counter()
        try:
            image = read_image(p)
            t1 = time.perf_counter()
            tensor, geom = self.preprocess(image)
            return tensor, geom, (t1 - t0) * 1000, _ms(t1)
        except ImageReadError as exc:
            return exc
        except (cv2.error, MemoryError, ValueError) as exc:
            # Safety net: anything else raised while decoding/letterboxing ONE image (an
            # OpenCV assertion, out of memory on a giant picture) must skip that image,
            # not end the batch from inside a worker thread.
            return ImageReadError(f"{p}: cannot prepare image: {_first_line(exc)}")

    def _predict_batches(self, paths: list[Path], workers: int, lookahead: int) -> Iterator[tuple[Path, Prediction | ScriptLensError]]:
        """Fixed-batch models: read + letterbox ahead on a pool, forward full batches here."""
        size = self.info.batch
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="scriptlens-read") as pool:
            futures = [pool.submit(self._load_for_batch, p) for p in paths[: lookahead + size]]
            next_submit = len(futures)
            i = 0
            while i < len(paths):
                group = []
                while i < len(paths) and len(group) < size:
                    result = futures[i].result()
                    futures[i] = None  # free the tensor as soon as it is used
                    if next_submit < len(paths):
                        futures.append(pool.submit(self._load_for_batch, paths[next_submit]))
                        next_submit += 1
                    if isinstance(result, ScriptLensError):
                        yield paths[i], result
                    else:
                        group.append((paths[i], result))
                    i += 1
                if not group:
                    continue
                try:
                    decoded, inf_ms, post_ms = self._timed_run([g[1][0] for g in group])
                except ModelRunError as exc:
                    for p, _ in group:
                        yield p, exc
                    continue
                n = len(group)
                for (p, (tensor, geom, read_ms, pre_ms)), d in zip(group, decoded):
                    yield p, Prediction(self._candidates(d, geom), StageTimings(read_ms, pre_ms, inf_ms / n, post_ms / n))
