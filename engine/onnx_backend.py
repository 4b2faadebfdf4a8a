"""ONNX Runtime backend for TorchScript models: convert once, cache, verify, then run faster.

`choose_backend` takes a loaded, warmed-up `engine.backend.TorchScriptBackend` and returns a
`BackendChoice`: the backend to run (an `OnnxRuntimeBackend`, or the TorchScript backend it
was given) and a one-line reason saying which and why. It never raises for a model that
cannot be converted, an onnxruntime that is missing, or a cache that is unwritable or corrupt:
all of these choose TorchScript and say so.

Conversion
    ``torch.onnx.export(module, (x,), f, dynamo=False, opset_version=17)`` on the loaded module
    (the TorchScript exporter: it takes a ScriptModule as it is), with a static input shape:
    the batch x 3 x H x W the model was loaded for. The file goes to the user cache folder
    (`engine.onnx_cache`), keyed by the model file's sha256, that shape and the torch and
    onnxruntime versions, so a second load of the same file does not convert again. A
    conversion that fails is remembered there too (not retried until torch or onnxruntime
    changes); a cache file that cannot be loaded, or that fails verification, is rebuilt once.

Verification (every load, ~4 forward passes)
    Both backends run on the warm-up input (grey 114/255, as `engine.model_loader.warm_up`
    feeds), on a deterministic synthetic image with edges, flat areas, gradients, noise and
    letterbox bands (`synthetic_image`), and on a real image: the caller's ``samples``, else
    the first bundled demo image letterboxed to the model's size (`real_image_sample`).
    All raw outputs are compared (tuple and list outputs flattened to their tensors, in order),
    element by element::

        |onnx - torchscript| <= ATOL + RTOL * |torchscript|      ATOL = 1e-3, RTOL = 1e-5

    i.e. within 1e-3 for values up to ~100 (scores, objectness, logits: within the fidelity
    rule's 1e-3 on confidence; a logit error of 1e-3 moves a sigmoid by at most 2.5e-4) and within
    1e-5 relative above (box coordinates in input pixels: <= 0.013 px at 1280, far below what
    moves a box's IoU from 1 by 0.01 for any box wider than a few pixels). NaN and inf must be at
    the same places. Shapes and the number of outputs must match. Measured differences are 3e-5
    to 2e-4 (the demo models, the Ultralytics YOLOv8n fixture), so the rule has 5x or more
    headroom and still catches a conversion that changes what the model computes. One
    exception: a list of candidate rows, (B, N, C) with N > C, may match as a set of rows
    (end-to-end heads' ``topk`` orders exactly tied scores differently; `compare_outputs`).

`OnnxRuntimeBackend` has `TorchScriptBackend`'s interface (``forward``, ``device``, ``half``,
``precision``, ``config_text``, ``channels_last``, ``intra_op_threads``), returns numpy arrays
in the TorchScript module's own output structure (tensor, tuple, list), and runs on the CPU
execution provider in float32 (`engine.onnx_runtime_backend`). The structure, check inputs and
comparison rule are `engine.onnx_verify`; the cache is `engine.onnx_cache`; this module converts
and decides. This module imports neither torch nor onnxruntime at import
time; `load_cached` opens a verified conversion without torch.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import os
import sys
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import numpy as np

from . import onnx_cache
from .model_info import BACKEND_MODES
from .onnx_runtime_backend import OnnxRuntimeBackend, default_threads
from .onnx_verify import (
    TOLERANCE_RULE, ConversionError, Comparison, Structure, blank_input, check_inputs, compare_outputs, flatten_output,
)
from .run_errors import first_line

if TYPE_CHECKING:
    from .backend import TorchScriptBackend

log = logging.getLogger(__name__)

MODES = BACKEND_MODES




@contextmanager
def _exporter_quiet() -> Iterator[None]:
    """Silence the exporter: its warnings, its Python prints, and the graph dump that torch's
    C++ ONNX log writes to the process's stdout (fd 1) when an export fails (torch 2.13 turns
    that log on during every export), which would otherwise land in the CLI's output. The fd
    redirection is process-wide for the export's duration; loading does not print elsewhere."""
    for stream in (sys.stdout, sys.__stdout__):  # what was printed before goes out before fd 1 is swapped
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):
            pass
    with contextlib.ExitStack() as stack:
        stack.enter_context(warnings.catch_warnings())
        warnings.simplefilter("ignore")
        stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
        saved = None
        try:
            saved = os.dup(1)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.close(devnull)
        except (OSError, ValueError, AttributeError):  # no fd 1 (a windowless app): nothing to protect
            if saved is not None:
                os.close(saved)
            saved = None
        try:
            yield
        finally:
            if saved is not None:
                os.dup2(saved, 1)
                os.close(saved)


def export_onnx(module: Any, batch: int, input_hw: tuple[int, int]) -> bytes:
    """The ONNX bytes of a loaded TorchScript module at a static (batch, 3, H, W) input.
    Raises ConversionError with one line saying why."""
    import torch

    x = torch.from_numpy(blank_input(batch, input_hw))
    buffer = io.BytesIO()
    try:
        with _exporter_quiet(), torch.no_grad():
            torch.onnx.export(module, (x,), buffer, dynamo=False, opset_version=onnx_cache.OPSET,
                              input_names=["images"], do_constant_folding=True)
    except Exception as exc:
        message = first_line(exc)
        if "onnx is not installed" in message.lower():
            message = "torch's ONNX exporter needs the onnx package (pip install onnx)"
        raise ConversionError(message) from exc
    return buffer.getvalue()


def _is_lasting(exc: ConversionError) -> bool:
    """A failure the same torch would repeat on the same file (remembered in the cache), as
    opposed to a missing package or a full disk."""
    cause = exc.__cause__
    return not isinstance(cause, (ImportError, OSError, MemoryError)) and "pip install" not in str(exc)


# ----------------------------------------------------------------------- the choice


@dataclass(frozen=True)
class BackendChoice:
    """Which backend to run, and why, in one line (for `scriptlens info`, the CLI's summary and
    the window's model panel).

    ``kind``: "onnxruntime" or "torchscript". ``verified``: ONNX Runtime's outputs matched
    TorchScript's within `TOLERANCE_RULE` on every check input. ``max_diff``: the largest
    difference seen (None: no comparison ran). ``converted``: this call ran the exporter (False:
    the cache had it). ``convert_seconds``: how long that took."""

    backend: Any
    kind: str
    reason: str
    verified: bool = False
    max_diff: float | None = None
    onnx_path: Path | None = None
    converted: bool = False
    convert_seconds: float | None = None

    @property
    def uses_onnxruntime(self) -> bool:
        return self.kind == "onnxruntime"


def choose_backend(ts_backend: "TorchScriptBackend", model_path: Path | str, input_hw: tuple[int, int], *,
                   batch: int = 1, samples: Sequence[np.ndarray] = (), mode: str = "auto",
                   threads: int | None = None, cache_dir: Path | None = None) -> BackendChoice:
    """The backend to run a loaded, warmed-up TorchScript model with.

    ``mode``: "auto" takes ONNX Runtime when its outputs are verified (see the module's
    docstring), TorchScript otherwise; "torchscript" does nothing else; "onnxruntime" takes ONNX
    Runtime whenever the conversion runs and gives outputs of the right shapes, verified or not
    (the reason says which), and TorchScript only otherwise. ``samples``: real inputs to verify on as
    well (letterboxed images, (B, 3, H, W) or (3, H, W) float32). ``threads``: onnxruntime's
    intra-op threads (default: `default_threads`, the TorchScript backend's count). ``cache_dir``: default
    `engine.onnx_cache.cache_dir()`.

    Never raises for a model or an environment: a ValueError only for a bad ``mode`` or sample.
    """
    if mode not in MODES:
        raise ValueError(f"unknown backend {mode!r}: use one of {', '.join(MODES)}")
    if mode == "torchscript":
        return BackendChoice(ts_backend, "torchscript", "TorchScript: chosen (--backend torchscript)")
    input_hw = (int(input_hw[0]), int(input_hw[1]))
    inputs = check_inputs(batch, input_hw, list(samples) or real_image_sample(input_hw))
    try:
        return _choose(ts_backend, Path(model_path), input_hw, batch, inputs, mode == "onnxruntime", threads, cache_dir)
    except Exception as exc:  # a bug, or something unforeseen in torch/onnxruntime: never fatal
        log.warning("ONNX Runtime backend: unexpected failure, using TorchScript", exc_info=True)
        return BackendChoice(ts_backend, "torchscript", f"TorchScript: the ONNX Runtime backend failed: {first_line(exc)}")


def real_image_sample(input_hw: tuple[int, int]) -> list[np.ndarray]:
    """A real photograph-like image, letterboxed to the model's size as the predictor does: the
    first bundled demo image (engine.demo). Empty when the demo is not installed."""
    from .demo import demo_paths

    images = demo_paths()[1]
    first = min((p for p in images.iterdir() if p.suffix.lower() in (".jpg", ".png")), default=None) if images else None
    if first is None:
        return []
    try:
        from .images import read_image
        from .letterbox import letterbox
        from .predictor import to_input_tensor

        padded, _ = letterbox(read_image(first), input_hw, "ultralytics")
        return [to_input_tensor(padded)]
    except Exception as exc:  # an unreadable demo file must not stop a load
        log.info("no real image to verify with (%s)", first_line(exc))
        return []


def _torchscript(ts_backend: Any, reason: str, **kw: Any) -> BackendChoice:
    log.info("%s", reason)
    return BackendChoice(ts_backend, "torchscript", reason, **kw)


def _choose(ts_backend: Any, model_path: Path, input_hw: tuple[int, int], batch: int,
            inputs: list[tuple[str, np.ndarray]], forced: bool, threads: int | None,
            cache_dir: Path | None) -> BackendChoice:
    if not str(ts_backend.device).startswith("cpu"):
        return _torchscript(ts_backend, f"TorchScript: ONNX Runtime runs on the CPU only, and this model runs on {ts_backend.device}")
    if ts_backend.half:
        return _torchscript(ts_backend, "TorchScript: reduced precision runs on TorchScript only")
    try:
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        return _torchscript(ts_backend, f"TorchScript: onnxruntime is not installed ({first_line(exc)})")

    branching = input_dependent_ops(ts_backend.module)
    if branching and not forced:
        return _torchscript(ts_backend, f"TorchScript: the model's code branches on its input's values ({', '.join(branching)}), "
                            "so no set of check inputs can verify a conversion")

    entry = onnx_cache.entry_for(model_path, input_hw, batch, cache_dir)
    record = entry.read_record()
    if record is not None and record.get("status") == "export_failed":
        return _torchscript(ts_backend, f"TorchScript: conversion failed: {record.get('reason')} (remembered from an earlier load)")

    # The reference: TorchScript's own outputs, through the backend the caller would run.
    references: list[list[np.ndarray]] = []
    structure: Structure = None
    for name, x in inputs:
        try:
            out = ts_backend.forward(x)
        except Exception as exc:
            return _torchscript(ts_backend, f"TorchScript: cannot verify a conversion: the model fails on the {name}: {first_line(exc)}")
        try:
            leaves, structure = flatten_output(out)
        except ConversionError as exc:
            return _torchscript(ts_backend, f"TorchScript: {exc}")
        references.append(leaves)

    threads = default_threads() if threads is None else threads
    cache_note = ""
    converted, seconds = False, None
    for attempt in (1, 2):  # a cached file that fails is rebuilt once
        backend = None
        if entry.onnx_path.is_file():
            try:
                backend = OnnxRuntimeBackend.load(entry.onnx_path, config_text=ts_backend.config_text,
                                                  structure=structure, threads=threads)
            except Exception as exc:
                log.warning("ONNX cache entry %s cannot be loaded (%s): converting again", entry.onnx_path, first_line(exc))
                entry.remove()
        from_cache = backend is not None
        if backend is None:
            start = time.perf_counter()
            try:
                data = export_onnx(ts_backend.module, batch, input_hw)
                seconds = time.perf_counter() - start
                converted = True
                try:
                    entry.write_onnx(data)
                    source: Path | bytes = entry.onnx_path
                except OSError as exc:
                    cache_note = f"; not cached: {first_line(exc)}"
                    log.warning("cannot write the ONNX cache %s (%s)", entry.onnx_path, exc)
                    source = data
                try:
                    backend = OnnxRuntimeBackend(source, config_text=ts_backend.config_text, structure=structure, threads=threads)
                except Exception as exc:
                    raise ConversionError(f"ONNX Runtime cannot load the conversion: {first_line(exc)}") from exc
            except ConversionError as exc:
                if _is_lasting(exc):
                    entry.remove()
                    _write_record(entry, {"status": "export_failed", "reason": str(exc)})
                return _torchscript(ts_backend, f"TorchScript: conversion failed: {exc}")

        verdict = _verify(backend, inputs, references)
        if verdict.ok:
            backend.thread_invariant = thread_invariant(backend, inputs)
        # A cached file that fails where it passed before (or with no record of it) is damaged:
        # rebuild it. One that failed when it was made fails the same way again: keep it.
        expected_to_pass = record is None or record.get("status") != "converted" or record.get("verified") is True
        if not verdict.ok and from_cache and expected_to_pass and attempt == 1:
            log.warning("ONNX cache entry %s fails verification (%s): converting again", entry.onnx_path, verdict.detail)
            entry.remove()
            continue
        break

    onnx_path = backend.onnx_path
    previous = entry.read_record() or {}
    order_note = " (tied rows in another order)" if verdict.reordered else ""
    verified_reason = f"ONNX Runtime verified: max output difference {verdict.max_diff:.1e}{order_note}"
    new_record = {"status": "converted", "structure": structure, "config_text": ts_backend.config_text,
                  "verified": verdict.ok, "max_diff": verdict.max_diff, "detail": verdict.detail,
                  "reason": verified_reason if verdict.ok else "",  # what a load from the cache says (load_cached_verified)
                  "thread_invariant": bool(getattr(backend, "thread_invariant", False)),
                  "tolerance": TOLERANCE_RULE,
                  "export_seconds": seconds if converted else previous.get("export_seconds")}
    if onnx_path is not None and {**new_record, "key": entry.key.as_dict()} != previous:
        _write_record(entry, new_record)
    common = dict(max_diff=verdict.max_diff, onnx_path=onnx_path, converted=converted, convert_seconds=seconds)
    if verdict.ok:
        reason = verified_reason + cache_note
        log.info("%s", reason)
        return BackendChoice(backend, "onnxruntime", reason, verified=True, **common)
    if forced and math.isfinite(verdict.max_diff):  # it runs and its outputs have the right shapes
        reason = f"ONNX Runtime (requested), NOT verified: {verdict.detail}{cache_note}"
        log.warning("%s", reason)
        return BackendChoice(backend, "onnxruntime", reason, verified=False, **common)
    return _torchscript(ts_backend, f"TorchScript: ONNX Runtime {verdict.detail}", **common)


# A scripted `if` or loop whose condition depends on the input's VALUES (`if x.mean() < 0.1:
# raise ...`): a conversion can agree on every check input and still differ on an image that
# takes the other branch (ONNX drops the raise, say), so auto keeps such models on TorchScript.
# Conditions on the input's SHAPE are fine: the conversion is made for one static shape.
# Traced exports (Ultralytics, YOLOv5, YOLOv7) have no branches at all.
BRANCH_OPS = ("prim::If", "prim::Loop")
SHAPE_OPS = ("aten::size", "aten::dim", "aten::len", "prim::Constant", "prim::GetAttr", "aten::numel")


def input_dependent_ops(module: Any) -> list[str]:
    """The `BRANCH_OPS` of the module's inlined graph whose condition reads the input's values
    (empty: a straight-line graph, or branches on shapes and attributes only)."""
    try:
        graph = module.inlined_graph
    except Exception:  # not a ScriptModule (a torch.export program): nothing to look at
        return []
    memo: dict[Any, bool] = {}

    def reads_values(value) -> bool:
        key = value.debugName() + str(id(value.node()))
        if key not in memo:
            memo[key] = False  # (cycles through loop-carried values end here)
            node = value.node()
            if node.kind() in SHAPE_OPS:
                memo[key] = False
            elif node.kind() == "prim::Param":
                memo[key] = value.type().kind() == "TensorType"  # the image itself, not `self`
            else:
                memo[key] = any(reads_values(v) for v in node.inputs())
        return memo[key]

    found: set[str] = set()

    def walk(block) -> None:
        for node in block.nodes():
            if node.kind() in BRANCH_OPS and any(reads_values(v) for v in node.inputs()):
                found.add(node.kind())
            for sub in node.blocks():
                walk(sub)

    walk(graph)
    return sorted(found)


def _verify(backend: OnnxRuntimeBackend, inputs: list[tuple[str, np.ndarray]],
            references: list[list[np.ndarray]]) -> Comparison:
    max_diff = 0.0
    reordered: set[int] = set()
    for (name, x), ref in zip(inputs, references):
        try:
            got = backend.forward_flat(x)
        except Exception as exc:
            return Comparison(False, float("inf"), f"fails on the {name}: {first_line(exc)}")
        verdict = compare_outputs(ref, got)
        if not verdict.ok:
            return Comparison(False, verdict.max_diff, f"{verdict.detail} on the {name}")
        max_diff = max(max_diff, verdict.max_diff)
        reordered.update(verdict.reordered)
    return Comparison(True, max_diff, reordered=tuple(sorted(reordered)))


def _write_record(entry: onnx_cache.CacheEntry, record: dict[str, Any]) -> None:
    try:
        entry.write_record(record)
    except OSError as exc:
        log.info("cannot write the ONNX cache record %s (%s)", entry.record_path, exc)


def load_cached_verified(model_path: Path | str, input_hw: tuple[int, int], batch: int = 1, *,
                         threads: int | None = None, cache_dir: Path | None = None) -> tuple[OnnxRuntimeBackend, str] | None:
    """A conversion of this model file at this size that an earlier load verified, opened
    WITHOUT torch (the record holds the output structure and the model's config.txt), with the
    one-line reason to show; None when there is none, or it cannot be opened. The key includes
    the installed torch's version (read from its package metadata, not by importing it)."""
    try:
        entry = onnx_cache.entry_for(model_path, (int(input_hw[0]), int(input_hw[1])), batch, cache_dir)
        record = entry.read_record()
        if not record or record.get("status") != "converted" or not record.get("verified") or not entry.onnx_path.is_file():
            return None
        backend = OnnxRuntimeBackend.load(entry.onnx_path, config_text=record.get("config_text") or "",
                                          structure=record.get("structure"), threads=threads)
    except Exception as exc:
        log.info("no usable cached ONNX conversion for %s (%s)", model_path, first_line(exc))
        return None
    backend.thread_invariant = record.get("thread_invariant") is True
    diff = record.get("max_diff")
    diff_text = f"max output difference {diff:.1e}" if isinstance(diff, (int, float)) else "verified"
    # the reason the verifying load gave, so that runs record the same whichever way they loaded
    return backend, record.get("reason") or f"ONNX Runtime verified: {diff_text}"


def load_cached(model_path: Path | str, input_hw: tuple[int, int], batch: int = 1, *,
                threads: int | None = None, cache_dir: Path | None = None) -> OnnxRuntimeBackend | None:
    """`load_cached_verified`'s backend alone."""
    found = load_cached_verified(model_path, input_hw, batch, threads=threads, cache_dir=cache_dir)
    return found[0] if found else None


def thread_invariant(backend: OnnxRuntimeBackend, inputs: list[tuple[str, np.ndarray]]) -> bool:
    """Do 1 and the default number of intra-op threads give the same bits on every check input?
    Then `label` may run one single-threaded session per core (engine.batch_runner) and still
    write exactly the window's numbers (engine.cpu_features.forward_threads explains why bits
    matter). Measured, not assumed: MLAS splits most kernels by output, but not every kernel."""
    if backend.threads == 1:
        return True
    for _, x in inputs:
        many = backend.forward_flat(x)
        with backend.intra_op_threads(1):
            one = backend.forward_flat(x)
        if len(one) != len(many) or any(a.shape != b.shape or a.tobytes() != b.tobytes() for a, b in zip(one, many)):
            return False
    return True
