"""Tell what kind of file the user gave us WITHOUT unpickling anything.

A TorchScript archive is a zip with ``code/`` and ``constants.pkl``; a ``torch.export`` program
(``.pt2``, `torch.export.save`) is a zip with ``archive_format`` and ``models/``; a training
checkpoint or ``state_dict`` saved with ``torch.save`` is a zip with ``data.pkl`` and no
``code/``; an ONNX model is a protobuf file (``.onnx``). Reading the member list (and, for the
message, scanning pickle bytes as text) never runs user code. Both zip formats keep the
exporter's metadata as ``<name>/extra/config.txt``, which `read_embedded_config` reads without
torch.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from .errors import ModelLoadError

TORCHSCRIPT, ONNX, PT2 = "torchscript", "onnx", "pt2"

EXPORT_HINT = (
    "export it first: Ultralytics `yolo export model=best.pt format=onnx` (or format=torchscript), "
    "YOLOv5 `python export.py --weights best.pt --include onnx` (or torchscript), "
    "YOLOv7 `python export.py --weights best.pt` (writes best.onnx and best.torchscript.pt)"
)


def model_format(path: Path) -> str:
    """`TORCHSCRIPT`, `ONNX` or `PT2`; raise `ModelLoadError` with an actionable message for
    anything else (a checkpoint, a damaged file, a folder)."""
    if not path.exists():
        raise ModelLoadError(f"{path}: model file not found")
    if path.is_dir():
        raise ModelLoadError(f"{path}: is a folder; choose the model file (.torchscript / .pt / .onnx / .pt2) inside it")
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(8)
    except OSError as exc:
        raise ModelLoadError(f"{path}: cannot read the model file: {exc.strerror or exc}") from None
    if size == 0:
        raise ModelLoadError(f"{path}: the model file is empty (0 bytes); the download or copy may have failed")
    if not zipfile.is_zipfile(path):
        if head[:4] == b"PK\x03\x04":
            # A zip without its central directory: an interrupted download/copy of a (probably
            # TorchScript) archive. Telling the user to "export it to TorchScript" misled them.
            raise ModelLoadError(
                f"{path}: the model archive is incomplete or damaged (truncated zip, {size} bytes); "
                "the download or copy was probably interrupted: copy or export it again"
            )
        if head[:1] == b"\x80":
            raise ModelLoadError(
                f"{path}: this is a pickled PyTorch file (legacy torch.save format), not an exported model (TorchScript, ONNX or .pt2); {EXPORT_HINT}"
            )
        if path.suffix.lower() == ".onnx" or (path.suffix.lower() not in (".pt", ".pth", ".torchscript", ".pt2") and _looks_like_onnx(head)):
            return ONNX  # onnxruntime parses it; a damaged file fails there with its own line
        raise ModelLoadError(f"{path}: not a TorchScript model, torch.export program or ONNX file; {EXPORT_HINT}")
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            data_pkl = next((n for n in names if n.endswith("/data.pkl") or n == "data.pkl"), None)
            pickle_text = zf.read(data_pkl)[:65536] if data_pkl else b""
    except (zipfile.BadZipFile, OSError) as exc:
        raise ModelLoadError(f"{path}: the model archive is damaged ({exc}); copy or export it again") from None
    has_code = any("/code/" in n or n.startswith("code/") for n in names)
    has_constants = any(n.endswith("constants.pkl") for n in names)
    if has_code and has_constants:
        return TORCHSCRIPT
    if any(n.endswith("/archive_format") or n == "archive_format" for n in names) and any("/models/" in n for n in names):
        return PT2
    if data_pkl:
        # Only look at the bytes as text; never unpickle.
        if any(marker in pickle_text for marker in (b"ultralytics", b"models.yolo", b"optimizer", b"train_args", b"epoch")):
            what = "a training checkpoint (like best.pt / last.pt)"
        else:
            what = "a PyTorch weights file (a state_dict or pickled model)"
        raise ModelLoadError(f"{path}: this is {what}, not an exported model (TorchScript, ONNX or .pt2); {EXPORT_HINT}")
    raise ModelLoadError(f"{path}: this zip archive is not a TorchScript model or torch.export program "
                         f"(no code/ and constants.pkl, no archive_format inside); {EXPORT_HINT}")


def _looks_like_onnx(head: bytes) -> bool:
    """An ONNX ModelProto starts with field 1 (ir_version, a varint: tag byte 0x08)."""
    return head[:1] == b"\x08"


def read_embedded_config(path: Path) -> str:
    """The ``extra/config.txt`` a TorchScript or .pt2 archive carries ("" when none), read with
    zipfile only: no torch, nothing unpickled."""
    try:
        with zipfile.ZipFile(path) as zf:
            name = next((n for n in zf.namelist() if n.endswith("/extra/config.txt") or n == "extra/config.txt"), None)
            return zf.read(name).decode("utf-8", errors="replace") if name else ""
    except (zipfile.BadZipFile, OSError, KeyError):
        return ""
