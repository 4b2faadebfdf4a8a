"""Confidences beside 5-column labels: `label --conf-sidecar` (and the export dialog's
equivalent) writes one JSON per label folder, `scriptlens_confidences.json`, mapping each label
file (its path under the folder, `/`-separated) to the confidences of its lines, in order.

Why a sidecar: Ultralytics refuses label files with a 6th column ("labels require 5 columns")
and then trains on no labels at all, so `--save-conf` files are for review only. The sidecar
keeps the labels trainable and the confidences at hand. One file per folder, not one per image:
it doubles no file count and is read in one go. A later run updates the entries of the label
files it wrote and keeps the others, so the sidecar describes the folder's current files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

SIDECAR_NAME = "scriptlens_confidences.json"
ABOUT = "confidence of each line of each label file, in line order (written by ScriptLens)"


class ConfSidecar:
    def __init__(self, out_root: Path) -> None:
        self.out_root = Path(out_root)
        self.entries: dict[str, list[float]] = {}

    @property
    def path(self) -> Path:
        return self.out_root / SIDECAR_NAME

    def add(self, label_file: Path, confidences: Sequence[float]) -> None:
        key = Path(label_file).relative_to(self.out_root).as_posix()
        self.entries[key] = [round(float(c), 6) for c in confidences]

    def write(self) -> None:
        """Merge this run's entries into the folder's sidecar (atomically). Raises LabelWriteError."""
        from .labels import write_text_atomic

        if not self.entries:
            return
        labels = {**read_sidecar(self.out_root), **self.entries}
        payload = {"about": ABOUT, "labels": dict(sorted(labels.items()))}
        write_text_atomic(self.path, json.dumps(payload, indent=1) + "\n")


def read_sidecar(out_root: Path) -> dict[str, list[float]]:
    """The label file -> confidences mapping of a folder ({} when there is none or it is unreadable)."""
    try:
        data = json.loads((Path(out_root) / SIDECAR_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    labels = data.get("labels") if isinstance(data, dict) else None
    return labels if isinstance(labels, dict) else {}
