"""The run manifest: a small JSON file written beside exported labels, so anyone can tell later
which model, input size and thresholds produced them (and whether the export was complete)."""

from __future__ import annotations

import hashlib
import json
import platform
import re
from datetime import datetime, timezone
from pathlib import Path

from . import __version__
from .labels import write_text_atomic
from .model_info import ModelInfo
from .thresholds import Thresholds

MANIFEST_NAME = "scriptlens_manifest.json"
# `--shard I/N` runs (engine.shard) each record themselves in their own file, so N shards writing
# into one folder at once never replace each other's manifest: scriptlens_manifest.shard-0003-of-0008.json
_SHARD_MANIFEST = re.compile(r"^scriptlens_manifest\.shard-\d{4,}-of-\d{4,}\.json$")


def shard_manifest_name(index: int, count: int) -> str:
    return f"scriptlens_manifest.shard-{index:04d}-of-{count:04d}.json"


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def build_manifest(info: ModelInfo, thresholds: Thresholds, images_root: Path, *, edited_images: int = 0) -> dict:
    names = info.names
    return {
        "tool": f"scriptlens {__version__}",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model": {"file": str(info.path), "sha256": file_sha256(info.path), "layout": info.layout,
                  "input_hw": list(info.input_hw), "device": info.device, "half": info.half,
                  "precision": info.precision},
        "backend": info.backend,
        "backend_reason": info.backend_reason,
        "images": str(images_root),
        "thresholds": {
            "conf": thresholds.conf, "iou": thresholds.iou, "max_det": thresholds.max_det,
            "classes": [names[c] if c < len(names) else c for c in thresholds.classes] if thresholds.classes is not None else None,
            "class_conf": {(names[c] if c < len(names) else str(c)): v for c, v in thresholds.class_conf},
        },
        "nms": "inside the model" if info.end2end and not thresholds.nms_on_end2end
        else ("agnostic" if thresholds.agnostic else "class-aware"),
        "edited_images": edited_images,
        "python": platform.python_version(),
    }


def write_manifest(out_root: Path, manifest: dict, summary: dict, name: str = MANIFEST_NAME) -> Path:
    path = Path(out_root) / name
    write_text_atomic(path, json.dumps({**manifest, "result": summary}, indent=2) + "\n")
    return path


def read_manifest(folder: Path, name: str = MANIFEST_NAME) -> dict | None:
    path = Path(folder) / name
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def read_folder_manifests(folder: Path) -> list[dict]:
    """Every run manifest in `folder`: the full run's, else those of the `--shard` runs that
    wrote its labels (engine.label_guard asks whether they vouch for the folder)."""
    folder = Path(folder)
    if (whole := read_manifest(folder)) is not None:
        return [whole]
    try:
        names = sorted(p.name for p in folder.iterdir() if _SHARD_MANIFEST.match(p.name))
    except OSError:
        return []
    return [m for m in (read_manifest(folder, n) for n in names) if m is not None]
