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
    feeds) and on a deterministic synthetic image with edges, flat areas, gradients, noise and
    letterbox bands (`synthetic_image`), plus any real images the caller passes (``samples``).
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
execution provider in float32. This module imports neither torch nor onnxruntime at import
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
from .cpu_features import forward_threads
from .model_info import precision_name
from .run_errors import first_line

if TYPE_CHECKING:
    from .backend import TorchScriptBackend

log = logging.getLogger(__name__)

ATOL = 1e-3
RTOL = 1e-5
TOLERANCE_RULE = f"|onnx - torchscript| <= {ATOL:g} + {RTOL:g} * |torchscript|"
MODES = ("auto", "torchscript", "onnxruntime")
WARM_UP_VALUE = 114 / 255  # engine.model_loader.warm_up's blank input

# ----------------------------------------------------------------------- output structure
# The structure of a TorchScript output, JSON-able: "tensor", {"tuple": [...]} or {"list": [...]}.
Structure = Any


class ConversionError(Exception):
    """The model cannot be converted to ONNX, or ONNX Runtime cannot load the result."""


def flatten_output(output: Any) -> tuple[list[np.ndarray], Structure]:
    """The output's tensors in order (float32 numpy) and its structure. Raises ConversionError
    for what is not a tensor, tuple or list (a dict, None, a number)."""
    if isinstance(output, np.ndarray) or (hasattr(output, "shape") and hasattr(output, "detach")):
        arr = output if isinstance(output, np.ndarray) else output.detach().float().cpu().numpy()
        return [np.asarray(arr, dtype=np.float32)], "tensor"
    if isinstance(output, (tuple, list)):
        leaves: list[np.ndarray] = []
        parts = []
        for item in output:
            sub, structure = flatten_output(item)
            leaves += sub
            parts.append(structure)
        return leaves, {"tuple" if isinstance(output, tuple) else "list": parts}
    raise ConversionError(f"the model returns a {type(output).__name__}, which the ONNX backend does not carry "
                          "(tensors, tuples and lists only)")


def _flatten_ort(outputs: Sequence[Any]) -> list[np.ndarray]:
    """ONNX Runtime's outputs: tuple elements are separate outputs, lists are sequences."""
    leaves: list[np.ndarray] = []
    for out in outputs:
        if isinstance(out, (list, tuple)):
            leaves += _flatten_ort(out)
        else:
            leaves.append(np.asarray(out, dtype=np.float32))
    return leaves


def count_leaves(structure: Structure) -> int:
    if structure == "tensor":
        return 1
    (parts,) = structure.values()
    return sum(count_leaves(p) for p in parts)


def rebuild(leaves: Sequence[np.ndarray], structure: Structure) -> Any:
    it = iter(leaves)

    def build(s: Structure) -> Any:
        if s == "tensor":
            return next(it)
        ((kind, parts),) = s.items()
        items = [build(p) for p in parts]
        return tuple(items) if kind == "tuple" else items

    return build(structure)


# ----------------------------------------------------------------------- check inputs


def blank_input(batch: int, input_hw: tuple[int, int]) -> np.ndarray:
    """The loader's warm-up input: every pixel 114/255 (letterbox grey)."""
    return np.full((batch, 3, *input_hw), WARM_UP_VALUE, np.float32)


def synthetic_image(batch: int, input_hw: tuple[int, int], seed: int = 0) -> np.ndarray:
    """A deterministic image-like input in [0, 1]: colour gradients, flat discs and rectangles
    with hard edges, mild noise, and grey letterbox bands above and below (a real image's
    statistics matter: a constant input hides a conversion that mixes up channels or rows)."""
    h, w = input_hw
    out = np.empty((batch, 3, h, w), np.float32)
    yy, xx = np.ogrid[0:h, 0:w]
    for b in range(batch):
        rng = np.random.default_rng(seed + b)
        coef = rng.uniform(-0.4, 0.4, (3, 2))
        img = (rng.uniform(0.3, 0.7, (3, 1, 1)) + coef[:, :1, None] * (yy / h) + coef[:, 1:, None] * (xx / w))
        img = np.broadcast_to(img, (3, h, w)).astype(np.float32)
        for _ in range(14):
            colour = rng.uniform(0, 1, (3, 1))
            cy, cx = rng.uniform(0, h), rng.uniform(0, w)
            r = rng.uniform(0.03, 0.25) * min(h, w)
            if rng.random() < 0.5:
                mask = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
            else:
                mask = (np.abs(yy - cy) <= r * rng.uniform(0.3, 1)) & (np.abs(xx - cx) <= r * rng.uniform(0.3, 1))
            img[:, mask] = colour
        img += rng.normal(0, 0.03, img.shape).astype(np.float32)
        band = h // 8
        img[:, :band] = WARM_UP_VALUE
        img[:, h - band:] = WARM_UP_VALUE
        out[b] = np.clip(img, 0, 1)
    return out


def check_inputs(batch: int, input_hw: tuple[int, int], samples: Sequence[np.ndarray] = ()) -> list[tuple[str, np.ndarray]]:
    """(name, input) pairs verification runs: the warm-up input, the synthetic image, then each
    sample (a (B, 3, H, W) or (3, H, W) float32 RGB array in [0, 1], e.g. a letterboxed image)."""
    inputs = [("warm-up input", blank_input(batch, input_hw)), ("synthetic image", synthetic_image(batch, input_hw))]
    for i, s in enumerate(samples):
        arr = np.asarray(s, dtype=np.float32)
        if arr.ndim == 3:
            arr = np.repeat(arr[None], batch, axis=0)
        if arr.shape != (batch, 3, *input_hw):
            raise ValueError(f"sample {i} has shape {arr.shape}; expected ({batch}, 3, {input_hw[0]}, {input_hw[1]}) or (3, H, W)")
        inputs.append((f"sample {i + 1}", np.ascontiguousarray(arr)))
    return inputs


# ----------------------------------------------------------------------- comparison


@dataclass(frozen=True)
class Comparison:
    """Verdict of `compare_outputs`. ``max_diff``: largest |onnx - torchscript| over every finite
    element of every output (inf when shapes, counts or NaN/inf places differ); ``detail``: what
    differs, in words (empty when ok); ``reordered``: the outputs that matched only as sets of
    rows (see `compare_outputs`)."""

    ok: bool
    max_diff: float
    detail: str = ""
    reordered: tuple[int, ...] = ()


def is_row_list(shape: tuple[int, ...]) -> bool:
    """A (B, N, C) output with more rows than columns: a list of N candidate rows, each a whole
    candidate (end-to-end (1, 300, 6), decoded anchor-based (1, 25200, 85)); not anchor-free
    (1, 84, 8400), whose rows are channels."""
    return len(shape) == 3 and shape[1] > shape[2]


def _sorted_rows(a: np.ndarray) -> np.ndarray:
    """Each batch item's rows in lexicographic order (NaN last)."""
    return np.stack([item[np.lexsort(item.T[::-1])] for item in a]) if a.size else a


def _elementwise(ref: np.ndarray, got: np.ndarray, atol: float, rtol: float) -> tuple[float, tuple[float, float, float] | None]:
    """(max |diff| over finite elements, (excess, diff, limit) at the worst violation or None)."""
    fin = np.isfinite(ref)
    if not fin.any():
        return 0.0, None
    r = ref[fin].astype(np.float64)
    diff = np.abs(got[fin].astype(np.float64) - r)
    limit = atol + rtol * np.abs(r)
    k = int(np.argmax(diff - limit))
    worst = (float(diff[k] - limit[k]), float(diff[k]), float(limit[k])) if diff[k] > limit[k] else None
    return float(diff.max()), worst


def compare_outputs(reference: Sequence[np.ndarray], candidate: Sequence[np.ndarray],
                    atol: float = ATOL, rtol: float = RTOL) -> Comparison:
    """Element-wise ``|candidate - reference| <= atol + rtol * |reference|`` on every output,
    NaN and inf at the same places, same shapes and count.

    One exception: an output that is a list of candidate rows (`is_row_list`) and fails element
    by element is compared again as a set of rows (each batch item's rows sorted, on both
    sides). End-to-end heads pick their top K rows with ``topk``, and rows with exactly equal
    scores (the identical anchors of a flat letterbox band) come out of ONNX Runtime in another
    order than out of torch: the same candidates, so the same detections. ``reordered`` names
    such outputs."""
    if len(reference) != len(candidate):
        return Comparison(False, float("inf"), f"{len(candidate)} outputs instead of {len(reference)}")
    max_diff = 0.0
    reordered: list[int] = []
    worst: tuple[float, int, float, float] | None = None  # (excess, output, diff, limit)
    for i, (ref, got) in enumerate(zip(reference, candidate)):
        ref = np.asarray(ref, np.float32)
        got = np.asarray(got, np.float32)
        if ref.shape != got.shape:
            return Comparison(False, float("inf"), f"output {i} is {_shape(got)} instead of {_shape(ref)}")
        diff, bad = _elementwise(ref, got, atol, rtol)
        places_differ = not np.array_equal(np.isfinite(ref), np.isfinite(got)) or not np.array_equal(
            ref[~np.isfinite(ref)], got[~np.isfinite(got)], equal_nan=True)
        if (bad is not None or places_differ) and is_row_list(ref.shape):
            ref_rows, got_rows = _sorted_rows(ref), _sorted_rows(got)
            row_diff, row_bad = _elementwise(ref_rows, got_rows, atol, rtol)
            row_places = np.array_equal(np.isfinite(ref_rows), np.isfinite(got_rows)) and np.array_equal(
                ref_rows[~np.isfinite(ref_rows)], got_rows[~np.isfinite(got_rows)], equal_nan=True)
            if row_bad is None and row_places:
                reordered.append(i)
                ref, got, diff, bad, places_differ = ref_rows, got_rows, row_diff, None, False
        if places_differ:
            return Comparison(False, float("inf"), f"NaN/inf at different places in output {i}")
        max_diff = max(max_diff, diff)
        if bad is not None and (worst is None or bad[0] > worst[0]):
            worst = (bad[0], i, bad[1], bad[2])
    if worst is not None:
        _, i, d, lim = worst
        where = f" in output {i}" if len(reference) > 1 else ""
        return Comparison(False, max_diff, f"outputs differ by {d:.2g}{where} (allowed there: {lim:.2g})")
    return Comparison(True, max_diff, reordered=tuple(reordered))


def _shape(a: np.ndarray) -> str:
    return "x".join(map(str, a.shape)) or "a scalar"


# ----------------------------------------------------------------------- the backend


def _make_session(source: Path | bytes, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = max(0, int(threads))  # 0: onnxruntime's default (physical cores)
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 4  # fatal only: a failed run raises with the same text
    model = source if isinstance(source, bytes) else str(source)
    return ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])


def default_threads() -> int:
    """The engine's one intra-op thread count for CPU forwards (`engine.cpu_features.forward_threads`:
    all cores up to 4), which the TorchScript backend uses too. (ONNX Runtime's float32 outputs
    were bit-identical with 1, 2, 3 and 4 threads on the demo model; TorchScript's are not.)"""
    return forward_threads()


class OnnxRuntimeBackend:
    """`engine.backend.TorchScriptBackend`'s interface on an ONNX Runtime CPU session (float32).

    ``source``: the .onnx file, or its bytes (when the cache could not be written).
    ``structure``: the TorchScript module's output structure (`flatten_output`); None returns
    one array for one output and a list for several. ``input_shape``: the static (B, 3, H, W)."""

    kind = "onnxruntime"

    def __init__(self, source: Path | bytes, *, config_text: str = "", structure: Structure | None = None,
                 threads: int | None = None) -> None:
        self.source = source
        self.onnx_path = None if isinstance(source, bytes) else Path(source)
        self.config_text = config_text
        self.structure = structure
        self.device = "cpu"
        self.half = False
        self.channels_last = False  # NCHW, always: the graph is exported for it
        self.threads = default_threads() if threads is None else int(threads)
        self._sessions: dict[int, Any] = {}
        self._session = self._session_for(self.threads)
        inp = self._session.get_inputs()
        if len(inp) != 1:
            raise ConversionError(f"the ONNX model takes {len(inp)} inputs; ScriptLens feeds one image batch")
        self.input_name = inp[0].name
        self.input_shape = tuple(d if isinstance(d, int) else -1 for d in inp[0].shape)
        if structure is not None:
            n = len(self._session.get_outputs())
            if n > count_leaves(structure):
                raise ConversionError(f"the ONNX model has {n} outputs; the TorchScript module returns {count_leaves(structure)} tensors")

    @classmethod
    def load(cls, path: Path | str, *, config_text: str = "", structure: Structure | None = None,
             threads: int | None = None) -> "OnnxRuntimeBackend":
        return cls(Path(path), config_text=config_text, structure=structure, threads=threads)

    @property
    def precision(self) -> str:
        return precision_name(self.device, self.half)

    def _session_for(self, threads: int):
        session = self._sessions.get(threads)
        if session is None:
            session = self._sessions[threads] = _make_session(self.source, threads)
        return session

    @contextmanager
    def intra_op_threads(self, n: int) -> Iterator[None]:
        """Run with `n` intra-op threads inside the block (a second session, made once per
        count; the block's concurrent ``forward`` calls each run on their caller's thread when
        n == 1). Process-wide state is untouched, unlike torch's."""
        before = self._session
        self._session = self._session_for(max(1, int(n)))
        try:
            yield
        finally:
            self._session = before

    def forward_flat(self, batch: Any) -> list[np.ndarray]:
        """All output tensors, flattened in order."""
        if hasattr(batch, "detach"):  # a torch tensor
            batch = batch.detach().cpu().numpy()
        x = np.ascontiguousarray(batch, dtype=np.float32)
        expected = self.input_shape
        if x.ndim != len(expected) or any(e not in (-1, g) for e, g in zip(expected, x.shape)):
            want = "x".join("?" if e == -1 else str(e) for e in expected)
            raise ValueError(f"input shape {_shape(x)} does not match the {want} input this ONNX conversion was made for")
        return _flatten_ort(self._session.run(None, {self.input_name: x}))

    def forward(self, batch: Any) -> Any:
        """Run the model on a (B, 3, H, W) float32 RGB batch in [0, 1] (numpy or a CPU tensor);
        numpy outputs in the TorchScript module's structure."""
        leaves = self.forward_flat(batch)
        if self.structure is None:
            return leaves[0] if len(leaves) == 1 else leaves
        return rebuild(leaves, self.structure)


# ----------------------------------------------------------------------- conversion


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
    inputs = check_inputs(batch, input_hw, samples)
    try:
        return _choose(ts_backend, Path(model_path), input_hw, batch, inputs, mode == "onnxruntime", threads, cache_dir)
    except Exception as exc:  # a bug, or something unforeseen in torch/onnxruntime: never fatal
        log.warning("ONNX Runtime backend: unexpected failure, using TorchScript", exc_info=True)
        return BackendChoice(ts_backend, "torchscript", f"TorchScript: the ONNX Runtime backend failed: {first_line(exc)}")


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
    new_record = {"status": "converted", "structure": structure, "config_text": ts_backend.config_text,
                  "verified": verdict.ok, "max_diff": verdict.max_diff, "detail": verdict.detail,
                  "tolerance": TOLERANCE_RULE,
                  "export_seconds": seconds if converted else previous.get("export_seconds")}
    if onnx_path is not None and {**new_record, "key": entry.key.as_dict()} != previous:
        _write_record(entry, new_record)
    common = dict(max_diff=verdict.max_diff, onnx_path=onnx_path, converted=converted, convert_seconds=seconds)
    if verdict.ok:
        order_note = " (tied rows in another order)" if verdict.reordered else ""
        reason = f"ONNX Runtime verified: max output difference {verdict.max_diff:.1e}{order_note}{cache_note}"
        log.info("%s", reason)
        return BackendChoice(backend, "onnxruntime", reason, verified=True, **common)
    if forced and math.isfinite(verdict.max_diff):  # it runs and its outputs have the right shapes
        reason = f"ONNX Runtime (requested), NOT verified: {verdict.detail}{cache_note}"
        log.warning("%s", reason)
        return BackendChoice(backend, "onnxruntime", reason, verified=False, **common)
    return _torchscript(ts_backend, f"TorchScript: ONNX Runtime {verdict.detail}", **common)


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


def load_cached(model_path: Path | str, input_hw: tuple[int, int], batch: int = 1, *,
                threads: int | None = None, cache_dir: Path | None = None) -> OnnxRuntimeBackend | None:
    """A conversion of this model file at this size that an earlier load verified, opened
    WITHOUT torch (the record holds the output structure and the model's config.txt); None when
    there is none, or it cannot be opened. The key includes the installed torch's version (read
    from its package metadata, not by importing it)."""
    try:
        entry = onnx_cache.entry_for(model_path, (int(input_hw[0]), int(input_hw[1])), batch, cache_dir)
        record = entry.read_record()
        if not record or record.get("status") != "converted" or not record.get("verified") or not entry.onnx_path.is_file():
            return None
        return OnnxRuntimeBackend.load(entry.onnx_path, config_text=record.get("config_text") or "",
                                       structure=record.get("structure"), threads=threads)
    except Exception as exc:
        log.info("no usable cached ONNX conversion for %s (%s)", model_path, first_line(exc))
        return None
