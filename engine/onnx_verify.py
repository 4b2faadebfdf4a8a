"""What an ONNX conversion is checked with: the output structure of a TorchScript module, the
check inputs, and the comparison rule (`compare_outputs`). Numpy only; the rule and why it is
what it is are in `engine.onnx_backend`'s docstring."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np


class ConversionError(Exception):
    """The model cannot be converted to ONNX, or ONNX Runtime cannot load the result."""


ATOL = 1e-3
RTOL = 1e-5
TOLERANCE_RULE = f"|onnx - torchscript| <= {ATOL:g} + {RTOL:g} * |torchscript|"
WARM_UP_VALUE = 114 / 255  # engine.model_loader.warm_up's blank input

# ----------------------------------------------------------------------- output structure
# The structure of a TorchScript output, JSON-able: "tensor", {"tuple": [...]} or {"list": [...]}.
Structure = Any


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


def flatten_ort_outputs(outputs: Sequence[Any]) -> list[np.ndarray]:
    """ONNX Runtime's outputs: tuple elements are separate outputs, lists are sequences."""
    leaves: list[np.ndarray] = []
    for out in outputs:
        if isinstance(out, (list, tuple)):
            leaves += flatten_ort_outputs(out)
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
            return Comparison(False, float("inf"), f"output {i} is {shape_text(got)} instead of {shape_text(ref)}")
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


def shape_text(a: np.ndarray) -> str:
    return "x".join(map(str, a.shape)) or "a scalar"
