"""A user's own ``.onnx`` export, opened with ONNX Runtime (no torch).

Ultralytics, YOLOv5 and YOLOv7 write their metadata into the file's ``metadata_props`` as
``str()`` of Python values (Ultralytics: ``names`` "{0: 'person', ...}", ``imgsz`` "[640, 640]",
``stride``, ``task``, ``batch``, ``end2end``, ``args``...; YOLOv5: ``stride`` and ``names``).
`metadata_config` turns them back into a dict with `ast.literal_eval` (literals only: it runs
no code) and hands it to the same fact-gathering as a TorchScript file's ``config.txt``
(`engine.metadata.facts_from_config`), so sidecars and flags work as they do there.

Security: an ONNX file is protobuf, read by onnxruntime's parser; nothing is unpickled, and no
custom-op library is ever registered (a model that needs one fails to load, with onnxruntime's
line). The input size of a dynamic-axis export comes from the metadata, the user, or 640.
"""

from __future__ import annotations

import ast
import json
import logging
from pathlib import Path
from typing import Any

from .errors import ModelLoadError
from .run_errors import first_line

log = logging.getLogger(__name__)

MAX_VALUE_CHARS = 1 << 20  # a metadata value longer than this is not metadata: ignored


def literal(text: str) -> Any:
    """A metadata value as the Python literal it was written from; the text itself otherwise."""
    if len(text) > MAX_VALUE_CHARS:
        return None
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


def metadata_config(props: dict[str, str]) -> dict[str, Any]:
    """``metadata_props`` (str -> str) as the config dict a TorchScript ``config.txt`` holds."""
    config: dict[str, Any] = {}
    for key, value in props.items():
        parsed = literal(value) if isinstance(value, str) else None
        if parsed is not None:
            config[str(key)] = parsed
    return config


def config_text(config: dict[str, Any]) -> str:
    """JSON text for `engine.metadata.parse_config` (values JSON cannot hold become strings;
    dict keys become strings, which `parse_names` reads back as ids)."""
    return json.dumps(config, default=str) if config else ""


def open_onnx_file(path: Path, device: str = "auto", half: bool = False, threads: int | None = None):
    """An `engine.onnx_runtime_backend.OnnxRuntimeBackend` on the file, its ``config_text`` made
    from the file's metadata. ONNX Runtime runs it on the CPU in float32: a CUDA device asked
    for by name is refused in one line; ``half`` is ignored with a log line."""
    from .onnx_runtime_backend import OnnxRuntimeBackend

    if str(device).lower().startswith("cuda"):
        raise ModelLoadError(f"{path}: ONNX files run on the CPU here (ONNX Runtime's CPU build); use --device cpu or auto, "
                             "or the model's TorchScript export for CUDA")
    if half:
        log.warning("reduced precision is not available for ONNX files: %s runs in float32", path.name)
    try:
        backend = OnnxRuntimeBackend(Path(path), threads=threads)
    except ImportError as exc:
        raise ModelLoadError(f"{path}: opening ONNX files needs onnxruntime (pip install onnxruntime): {first_line(exc)}") from None
    except Exception as exc:  # onnxruntime's InvalidGraph, Fail, NotImplemented...
        raise ModelLoadError(f"{path}: ONNX Runtime cannot load this file: {first_line(exc)}") from None
    props = backend.metadata_props()
    backend.config_text = config_text(metadata_config(props))
    return backend
