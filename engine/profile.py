"""Per-class confidence profiles: a small JSON file the GUI saves and `label --thresholds` reads.

    {"conf": 0.25, "iou": 0.45, "class_conf": {"circle": 0.4, "triangle": 0.6}}

Classes are stored by NAME (ids shift when a model is retrained); unknown names are an error
that lists the model's classes, so a profile for another model is not applied silently.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping, Sequence

from .errors import UsageError
from .labels import write_text_atomic


def save_profile(path: Path, names: Sequence[str], class_conf: Mapping[int, float], conf: float | None = None, iou: float | None = None) -> None:
    data: dict = {"class_conf": {names[i]: round(float(v), 4) for i, v in sorted(class_conf.items())}}
    if conf is not None:
        data["conf"] = conf
    if iou is not None:
        data["iou"] = iou
    write_text_atomic(Path(path), json.dumps(data, indent=2) + "\n")


def load_profile(path: Path | str, names: Sequence[str]) -> dict[int, float]:
    """class id -> confidence threshold."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path}: cannot read the thresholds profile: {exc}") from None
    table = data.get("class_conf", {}) if isinstance(data, dict) else None
    if not isinstance(table, dict):
        raise UsageError(f"{path}: not a thresholds profile (expected a JSON object with 'class_conf')")
    lookup = {n: i for i, n in enumerate(names)}
    out: dict[int, float] = {}
    for key, value in table.items():
        if key not in lookup:
            raise UsageError(f"{path}: class {key!r} is not one of the model's classes ({', '.join(names)})")
        if not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise UsageError(f"{path}: threshold for {key!r} must be a number in [0, 1]")
        out[lookup[key]] = float(value)
    return out
