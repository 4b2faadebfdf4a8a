"""Error translation: any exception raised while preparing or running ONE image becomes a
`ScriptLensError` with one clear line. Every prediction path (one image, many images, the
window's worker) goes through these functions, so the same failure reads the same everywhere,
and an unexpected exception on one image is that image's error, never the end of a run."""

from __future__ import annotations

from pathlib import Path

from .errors import ImageReadError, ModelRunError, ScriptLensError


def first_line(exc: BaseException) -> str:
    """The one line of an exception's text that says what failed (at most 300 characters)."""
    text = str(exc).strip()
    # TorchScript errors carry the whole traceback of the graph; the last line says what failed.
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in reversed(lines):
        if "Error" in ln or "error" in ln or "size" in ln or "shape" in ln:
            return ln[:300]
    return (lines[-1] if lines else type(exc).__name__)[:300]


def image_failure(exc: BaseException, path: Path | str | None = None) -> ScriptLensError:
    """Reading, decoding or letterboxing one image failed (an OpenCV assertion, out of memory on
    a giant picture, a bug): an `ImageReadError` naming the file. ScriptLens errors pass as they are."""
    if isinstance(exc, ScriptLensError):
        return exc
    where = f"{path}: " if path is not None else ""
    return ImageReadError(f"{where}cannot prepare image: {first_line(exc)}")


def model_failure(exc: BaseException) -> ScriptLensError:
    """The model failed on an input (errors from inside the graph come in many types)."""
    if isinstance(exc, ScriptLensError):  # unsupported output; a model process that stopped
        return exc
    return ModelRunError(f"the model failed while running: {first_line(exc)}")


def decode_failure(exc: BaseException) -> ScriptLensError:
    """The model ran, but turning its output into candidates failed."""
    if isinstance(exc, ScriptLensError):
        return exc
    return ModelRunError(f"the model's output could not be decoded: {first_line(exc)}")


def unexpected_failure(exc: BaseException, path: Path | str | None = None) -> ScriptLensError:
    """Anything else raised while handling one image (the last safety net of a batch or a
    folder scan): that image's error, with the exception's type when its text alone is unclear."""
    if isinstance(exc, ScriptLensError):
        return exc
    where = f"{path}: " if path is not None else ""
    return ScriptLensError(f"{where}unexpected error: {type(exc).__name__}: {first_line(exc)}")
