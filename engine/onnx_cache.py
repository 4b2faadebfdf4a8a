"""Where ONNX conversions of TorchScript models are kept (`engine.onnx_backend`), and how.

One entry per (model file contents, batch x input size, torch version, onnxruntime version,
opset, `FORMAT`): a second load of the same file at the same size reuses the conversion, and an
upgrade of torch or onnxruntime converts again. Each entry is two files in `cache_dir()`:

* ``<name>.onnx``: the converted model (protobuf; no pickle);
* ``<name>.json``: the full key, and what is known about the conversion: the output structure
  (tensor / tuple / list nesting, to give callers the TorchScript module's own structure), the
  model's ``config.txt``, the last verification against TorchScript, or why the export failed
  (a failed export is remembered, so it is not retried on every load).

Both are written atomically (a temporary file in the same folder, then ``os.replace``), so a
reader never sees half a file, and two processes converting the same model at once both end up
with a complete entry. A file that cannot be read back is treated as absent and rebuilt.

This module imports neither torch nor onnxruntime: looking up an entry is cheap.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

APP_NAME = "ScriptLens"
ENV_CACHE_DIR = "SCRIPTLENS_CACHE_DIR"  # overrides the platform's cache folder (tests, portable setups)
OPSET = 17
# Bump when what is written (the export call, the record's fields) changes meaning: old
# entries are then simply not found again.
FORMAT = 1


def cache_dir() -> Path:
    """``$SCRIPTLENS_CACHE_DIR/onnx`` when set, else the user cache folder's ``onnx`` (platformdirs
    ``user_cache_dir("ScriptLens")``: ~/.cache/ScriptLens on Linux, ~/Library/Caches/ScriptLens
    on macOS, %LOCALAPPDATA%\\ScriptLens\\Cache on Windows)."""
    env = os.environ.get(ENV_CACHE_DIR)
    if env:
        return Path(env).expanduser() / "onnx"
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)) / "onnx"


def file_sha256(path: Path | str, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def package_version(name: str) -> str:
    """The installed distribution's version, without importing it ("none" when absent)."""
    try:
        return importlib_metadata.version(name)
    except importlib_metadata.PackageNotFoundError:
        return "none"


@dataclass(frozen=True)
class CacheKey:
    model_sha256: str
    batch: int
    input_hw: tuple[int, int]
    torch: str
    onnxruntime: str
    opset: int = OPSET
    format: int = FORMAT

    @classmethod
    def for_model(cls, model_path: Path | str, input_hw: tuple[int, int], batch: int = 1) -> "CacheKey":
        return cls(file_sha256(model_path), int(batch), (int(input_hw[0]), int(input_hw[1])),
                   package_version("torch"), package_version("onnxruntime"))

    def as_dict(self) -> dict[str, Any]:
        return {"model_sha256": self.model_sha256, "batch": self.batch, "input_hw": list(self.input_hw),
                "torch": self.torch, "onnxruntime": self.onnxruntime, "opset": self.opset, "format": self.format}

    @property
    def name(self) -> str:
        """``<sha256 prefix>-<B>x3x<H>x<W>-<hash of the whole key>``: readable, and unique per key."""
        whole = hashlib.sha256(json.dumps(self.as_dict(), sort_keys=True).encode()).hexdigest()[:16]
        h, w = self.input_hw
        return f"{self.model_sha256[:16]}-{self.batch}x3x{h}x{w}-{whole}"


@dataclass(frozen=True)
class CacheEntry:
    key: CacheKey
    folder: Path

    @property
    def onnx_path(self) -> Path:
        return self.folder / f"{self.key.name}.onnx"

    @property
    def record_path(self) -> Path:
        return self.folder / f"{self.key.name}.json"

    def read_record(self) -> dict[str, Any] | None:
        """The entry's record; None when absent, unreadable, or written for another key."""
        try:
            record = json.loads(self.record_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.info("ignoring unreadable ONNX cache record %s (%s)", self.record_path, exc)
            return None
        if not isinstance(record, dict) or record.get("key") != self.key.as_dict():
            return None
        return record

    def write_record(self, record: dict[str, Any]) -> None:
        atomic_write(self.record_path, json.dumps({**record, "key": self.key.as_dict()}, indent=1).encode("utf-8"))

    def write_onnx(self, data: bytes) -> None:
        atomic_write(self.onnx_path, data)

    def remove(self) -> None:
        """Delete both files (missing ones are fine)."""
        for p in (self.onnx_path, self.record_path):
            try:
                p.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.info("cannot remove %s (%s)", p, exc)


def entry_for(model_path: Path | str, input_hw: tuple[int, int], batch: int = 1, folder: Path | None = None) -> CacheEntry:
    """The cache entry of this model file at this size (hashes the file: ~0.1 s per 100 MB)."""
    return CacheEntry(CacheKey.for_model(model_path, input_hw, batch), Path(folder) if folder is not None else cache_dir())


def cached_sizes(model_path: Path | str, batch: int = 1, folder: Path | None = None) -> list[tuple[int, int]]:
    """The input sizes (H, W) with a verified conversion of this file (at this batch, for the
    installed torch and onnxruntime) in the cache."""
    probe = CacheKey.for_model(model_path, (0, 0), batch)
    root = Path(folder) if folder is not None else cache_dir()
    sizes = []
    for record_path in sorted(root.glob(f"{probe.model_sha256[:16]}-{int(batch)}x3x*.json")):
        try:
            hw = json.loads(record_path.read_text(encoding="utf-8"))["key"]["input_hw"]
            entry = CacheEntry(CacheKey(probe.model_sha256, int(batch), (int(hw[0]), int(hw[1])), probe.torch, probe.onnxruntime), root)
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            continue
        record = entry.read_record()  # None unless written for exactly this key
        if record and record.get("status") == "converted" and record.get("verified") and entry.onnx_path.is_file():
            sizes.append(entry.key.input_hw)
    return sizes


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same folder and ``os.replace``.
    Raises OSError (folder not writable, disk full); leaves no temporary file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
