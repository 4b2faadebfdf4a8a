"""Where a model runs: `LocalHost` (this process) or the window's model process
(`engine.forward_process.ForwardProcess`, which answers the same three calls over its pipe).

`engine.model_loader` asks a host to
- ``open_backend(path, fmt, device, half)``: the file as it is (TorchScript, .pt2, ONNX);
- ``open_cached(path, input_hw, batch)``: a verified ONNX conversion from the cache, opened
  WITHOUT torch, or None;
- ``choose_backend(backend, path, input_hw, batch, mode)``: after the warm-up, the backend to run
  (`engine.onnx_backend.choose_backend`) as (backend, kind, reason).

This module imports neither torch nor onnxruntime: each call imports what it needs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from .errors import ModelLoadError
from .model_file import ONNX, PT2
from .run_errors import first_line


class ModelHost(Protocol):
    def open_backend(self, path: Path, fmt: str, device: str, half: bool) -> Any: ...

    def open_cached(self, path: Path, input_hw: tuple[int, int], batch: int) -> tuple[Any, str] | None: ...

    def choose_backend(self, backend: Any, path: Path, input_hw: tuple[int, int], batch: int,
                       mode: str) -> tuple[Any, str, str]: ...


def open_backend(path: Path, fmt: str, device: str, half: bool) -> Any:
    """The backend that runs this file in this process (`fmt`: `engine.model_file.model_format`)."""
    if fmt == ONNX:
        from .onnx_file import open_onnx_file

        return open_onnx_file(path, device, half)
    if fmt == PT2:
        from .pt2_backend import ExportedProgramBackend

        return ExportedProgramBackend.load(path, device=device, half=half)
    try:
        from .backend import TorchScriptBackend  # imports torch
    except ImportError as exc:
        raise ModelLoadError(f"{path}: PyTorch cannot be imported ({first_line(exc)}): install a supported torch "
                             f"(pip install torch==2.13.0), or open the model's ONNX export (.onnx) instead") from None
    return TorchScriptBackend.load(path, device=device, half=half)


def open_cached(path: Path, input_hw: tuple[int, int], batch: int) -> tuple[Any, str] | None:
    from .onnx_backend import load_cached_verified

    return load_cached_verified(path, input_hw, batch)


def choose_backend(backend: Any, path: Path, input_hw: tuple[int, int], batch: int, mode: str) -> tuple[Any, str, str]:
    from .onnx_backend import choose_backend as choose

    choice = choose(backend, path, input_hw, batch=batch, mode=mode)
    return choice.backend, choice.kind, choice.reason


class LocalHost:
    """Models run in this process (the CLI, tools, tests; the window when it has no model process)."""

    open_backend = staticmethod(open_backend)
    open_cached = staticmethod(open_cached)
    choose_backend = staticmethod(choose_backend)
