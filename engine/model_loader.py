"""Load-time resolution: everything `Detector.load` works out before the first image.

The model file is checked, loaded by a backend, and run once on a blank input (warm-up) to
learn what the metadata cannot say: the output layout, the class count, and -- for a model
without metadata -- the input size it accepts (probing). Names come from the user, the
metadata, sidecar files or defaults, each fact with its source. The usual failures (wrong
device, wrong input size, NaN outputs) become messages that say what to do.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from . import metadata as meta
from .decode import DecodeContext, Decoder, check_finite, find_decoder, normalize_output, output_shapes
from .errors import ModelLoadError, ModelRunError, UnsupportedOutputError
from .model_file import ONNX, TORCHSCRIPT, model_format, read_embedded_config
from .model_host import LocalHost, ModelHost
from .model_info import BACKEND_MODES, ModelInfo
from .run_errors import first_line

if TYPE_CHECKING:  # engine.backend imports torch; it is imported only when a model loads
    from .backend import TorchScriptBackend


log = logging.getLogger(__name__)


PROBED = "probed (the model accepted this size)"
CACHED_NOTE = "cached conversion, opened without TorchScript"

# Input sizes tried, in order, when a model without metadata rejects the default 640.
PROBE_SIZES = ((640, 640), (320, 320), (416, 416), (512, 512), (1280, 1280), (384, 384), (480, 480), (960, 960))

# a model with its own float32 casts (or float16 overflows) fails only in reduced precision
REDUCED_PRECISION_HINT = (". It ran in reduced precision: load it without --half "
                          "(GUI: untick Reduced precision in Model settings)")


@dataclass(frozen=True)
class LoadedModel:
    """A warmed-up backend and what it takes to decode its output."""

    backend: "TorchScriptBackend"
    info: ModelInfo
    decoder: Decoder
    ctx: DecodeContext


def is_shape_error(message: str) -> bool:
    m = message.lower()
    # "guard failed": a torch.export program traced for other sizes; "invalid dimensions": onnxruntime
    return any(k in m for k in ("size of tensor", "sizes of tensors", "shape", "invalid for input of size", "dimension",
                                "mat1 and mat2", "guard failed"))


def is_device_error(message: str) -> bool:
    m = message.lower()
    return "cuda" in m or "same device" in m or "device type" in m


def load_model(
    path: Path | str,
    *,
    device: str = "auto",
    half: bool = False,
    imgsz: int | Sequence[int] | None = None,
    names: Sequence[str] | None = None,
    anchors: Sequence[Sequence[float]] | None = None,
    host: ModelHost | None = None,
    backend_mode: str = "auto",
) -> LoadedModel:
    """Load and resolve a model; every failure is a `ModelLoadError` or `UnsupportedOutputError`
    that names the file.

    The file is a TorchScript archive, a `torch.export` program (.pt2) or an ONNX file
    (`engine.model_file.model_format`). ``host``: where it runs (`engine.model_host`; default
    this process). ``backend_mode`` ("auto", "torchscript", "onnxruntime";
    `engine.onnx_backend.choose_backend`) for TorchScript and .pt2 files: anything but
    "torchscript" first looks for a verified cached ONNX conversion, opened without torch, and
    otherwise, after the warm-up, may swap the torch backend for ONNX Runtime; the choice and its
    reason go into `ModelInfo.backend` / ``backend_reason``. ONNX files always run on ONNX Runtime."""
    if backend_mode not in BACKEND_MODES:
        raise ModelLoadError(f"unknown backend {backend_mode!r}: use one of {', '.join(BACKEND_MODES)}")
    try:
        return _load(Path(path), device, half, imgsz, names, anchors, host or LocalHost(), backend_mode)
    except UnsupportedOutputError as exc:
        # The decoders do not know the file: every other load error names it, these did not
        # ("error: the model's output (1x10) fits no known layout" -- which model, in a script?)
        if str(path) in str(exc):
            raise
        raise UnsupportedOutputError(f"{path}: {exc}") from None


def gather_facts(config_text: str, path: Path, imgsz, names, anchors) -> meta.MetaFacts:
    """What the embedded metadata, the sidecars and the user say, each with its source."""
    facts = meta.MetaFacts()
    meta.facts_from_config(meta.parse_config(config_text), facts)
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
    return facts


def _open_cached(host: ModelHost, path: Path, facts: meta.MetaFacts, device: str, half: bool, mode: str):
    """A verified cached ONNX conversion of this TorchScript file, opened without torch: (backend,
    reason) or None. Only where ONNX Runtime would be chosen anyway: CPU, float32, not forced
    to TorchScript. A model without a known input size uses the one size a conversion was
    cached for (it was probed then)."""
    if mode == "torchscript" or half or not cpu_is_the_device(device):
        return None
    from . import onnx_cache

    batch = facts.batch or 1
    if facts.imgsz is not None:
        sizes = [facts.imgsz]
    else:
        sizes = onnx_cache.cached_sizes(path, batch)
        if len(sizes) != 1:
            return None
    found = host.open_cached(path, sizes[0], batch)
    if found is not None and facts.imgsz is None:
        facts.set("imgsz", sizes[0], PROBED)  # when the conversion was made
    return found


def cpu_is_the_device(device: str) -> bool:
    """Will `device` mean the CPU, told WITHOUT importing torch? "auto" means CUDA when torch sees
    a GPU: assume it might wherever an NVIDIA driver is visible (then torch decides, as before)."""
    device = (device or "auto").lower()
    if device == "cpu":
        return True
    if device != "auto":
        return False
    from .cpu_features import nvidia_driver_present

    return not nvidia_driver_present()


def _load(path: Path, device, half, imgsz, names, anchors, host: ModelHost, backend_mode: str) -> LoadedModel:
    fmt = model_format(path)
    backend_kind, backend_reason, cached = "torchscript", "", None
    if fmt == ONNX:
        backend = host.open_backend(path, fmt, device, half)
        facts = gather_facts(backend.config_text, path, imgsz, names, anchors)
        backend_kind, backend_reason = "onnxruntime", "ONNX file, run by ONNX Runtime"
        if getattr(backend, "static_batch", None) and facts.batch is None:
            facts.set("batch", backend.static_batch, "ONNX input")
        if getattr(backend, "static_input_hw", None) and "imgsz" not in facts.sources:
            facts.set("imgsz", backend.static_input_hw, "ONNX input")
    else:
        facts = gather_facts(read_embedded_config(path), path, imgsz, names, anchors)
        if fmt == TORCHSCRIPT:
            cached = _open_cached(host, path, facts, device, half, backend_mode)
        if cached is not None:
            backend, backend_reason = cached
            backend_kind = "onnxruntime"
            # how it was opened, apart from the reason (which a run's manifest records: the same
            # on a first and a later run, on one machine or a cluster)
            facts.sources["backend"] = CACHED_NOTE
        else:
            backend = host.open_backend(path, fmt, device, half)
            if backend.config_text and not facts.raw:  # (read above from the zip; torch's copy if that failed)
                facts = gather_facts(backend.config_text, path, imgsz, names, anchors)

    if facts.imgsz is None:
        facts.set("imgsz", meta.DEFAULT_IMGSZ, "default")
    batch = facts.batch or 1
    pred, input_hw = warm_up(backend, path, facts, batch)
    # A model whose output on the plain grey warm-up input is ALL NaN/inf is broken for
    # every image (an fp16 overflow, a bad export). Loading it anyway made `label` print the
    # same "only NaN/inf" line once per image and exit 1; refuse it here, once (exit 3).
    # A model that is NaN on some inputs only still loads and fails per image.
    try:
        check_finite(pred)
    except ModelRunError as exc:
        raise ModelLoadError(f"{path}: on a blank {input_hw[0]}x{input_hw[1]} input, {exc}"
                             + (REDUCED_PRECISION_HINT if backend.half else "")) from None
    if input_hw != facts.imgsz:
        facts.set("imgsz", input_hw, PROBED)
    if fmt == ONNX:
        if getattr(backend, "threads", None) is not None:  # a session here (a model process's: runs one image at a time)
            from .onnx_backend import thread_invariant
            from .onnx_verify import check_inputs

            backend.thread_invariant = thread_invariant(backend, check_inputs(batch, input_hw, ()))
    elif fmt != TORCHSCRIPT:  # a torch.export program runs as it is (conversion: TorchScript files only)
        backend_kind, backend_reason = "pt2", "torch.export program, run by torch"
    elif cached is None and backend_mode != "torchscript":
        backend, backend_kind, backend_reason = host.choose_backend(backend, path, input_hw, batch, backend_mode)

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
    names_final = resolve_names(facts, nc)
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
        backend=backend_kind,
        backend_reason=backend_reason,
    )
    ctx = replace(ctx, num_classes=len(names_final))
    log.info("loaded %s: %s, input %s, %d classes on %s", path.name, info.layout, input_hw, len(names_final), backend.device)
    return LoadedModel(backend, info, decoder, ctx)


def resolve_names(facts: meta.MetaFacts, nc: int | None) -> tuple[str, ...]:
    """The class names for an output with `nc` classes (None: end-to-end, count unknown)."""
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


def warm_up(backend: Any, path: Path, facts: meta.MetaFacts, batch: int):
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
            msg = first_line(exc)
            if is_device_error(msg):
                raise ModelLoadError(
                    f"{path}: the model was traced on another device and cannot run on '{backend.device}' "
                    f"(torch said: {msg}); use --device cuda on a GPU machine, or export it again on the CPU"
                ) from None
            if is_shape_error(msg):
                first_error = first_error or msg
                continue
            raise ModelLoadError(f"{path}: the model failed on a blank {hw[0]}x{hw[1]} input: {msg}"
                                 + (REDUCED_PRECISION_HINT if backend.half else "")) from None
        backend.forward(blank)  # TorchScript optimises its graph on the first runs: do them now
        return normalize_output(raw), hw
    src = facts.sources.get("imgsz", "default")
    h, w = facts.imgsz
    raise ModelLoadError(
        f"{path}: the model rejects a {h}x{w} input (size from {src}): it was traced for another input size. "
        f"Give the right one with --imgsz (GUI: Model settings). Torch said: {first_error}"
    )
