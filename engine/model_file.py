"""Tell what kind of file the user gave us WITHOUT unpickling anything.

A TorchScript archive is a zip with ``code/`` and ``constants.pkl``; a training checkpoint or
``state_dict`` saved with ``torch.save`` is a zip with ``data.pkl`` and no ``code/``. Reading
the member list (and, for the message, scanning pickle bytes as text) never runs user code.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from .errors import ModelLoadError

EXPORT_HINT = (
    "export it to TorchScript first: Ultralytics `yolo export model=best.pt format=torchscript`, "
    "YOLOv5 `python export.py --weights best.pt --include torchscript`, "
    "YOLOv7 `python export.py --weights best.pt` (writes best.torchscript.pt)"
)


def check_torchscript_file(path: Path) -> None:
    """Raise `ModelLoadError` with an actionable message unless `path` is a TorchScript archive."""
    if not path.exists():
        raise ModelLoadError(f"{path}: model file not found")
    if path.is_dir():
        raise ModelLoadError(f"{path}: is a folder; choose the model file (.torchscript / .pt) inside it")
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
                f"{path}: this is a pickled PyTorch file (legacy torch.save format), not TorchScript; {EXPORT_HINT}"
            )
        if path.suffix.lower() == ".onnx":
            raise ModelLoadError(f"{path}: ONNX models are not supported yet; export the model to TorchScript instead")
        raise ModelLoadError(f"{path}: not a TorchScript model (not a zip archive); {EXPORT_HINT}")
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
        return
    if data_pkl:
        # Only look at the bytes as text; never unpickle.
        if any(marker in pickle_text for marker in (b"ultralytics", b"models.yolo", b"optimizer", b"train_args", b"epoch")):
            what = "a training checkpoint (like best.pt / last.pt)"
        else:
            what = "a PyTorch weights file (a state_dict or pickled model)"
        raise ModelLoadError(f"{path}: this is {what}, not TorchScript; {EXPORT_HINT}")
    raise ModelLoadError(f"{path}: this zip archive is not a TorchScript model (no code/ and constants.pkl inside); {EXPORT_HINT}")
