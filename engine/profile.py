"""Thresholds profiles: a small JSON file the window saves and loads and `label --thresholds` reads.

    {"conf": 0.25, "iou": 0.45, "class_conf": {"circle": 0.4, "triangle": 0.6}}

(`agnostic` (true/false) and `max_det` (>= 1) are read when present.) `read_profile` is the one
reader: it checks every value before any model is loaded and returns a `Profile` whose fields
are None where the file holds nothing. Classes are stored by NAME (ids shift when a model is
retrained) and matched by `class_index`, the rule `--classes` uses too; a name the model lacks
is an error that lists the model's classes, so a profile for another model is not applied
silently. Every problem raises `UsageError` naming the file.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

from .errors import UsageError
from .labels import write_text_atomic


@dataclass(frozen=True)
class Profile:
    """What a profile file holds; None (or no entry) where it holds nothing."""

    conf: float | None = None
    iou: float | None = None
    class_conf: Mapping[str, float] = field(default_factory=dict)  # class NAME -> threshold
    agnostic: bool | None = None
    max_det: int | None = None
    source: str = ""  # the file, for messages

    def class_conf_ids(self, names: Sequence[str]) -> dict[int, float]:
        """class id -> threshold for a model with these class `names` (UsageError for a name
        it lacks, or two entries naming one class)."""
        out: dict[int, float] = {}
        for key, value in self.class_conf.items():
            index = class_index(key, names)
            if index is None:
                raise UsageError(f"{self.source}: class {key!r} is not one of the model's classes ({', '.join(names)})")
            if index in out:
                raise UsageError(f"{self.source}: class {names[index]!r} is given twice (names match regardless of case)")
            out[index] = value
        return out


def class_index(name: str, names: Sequence[str]) -> int | None:
    """The class `name` means: the exact name, else the one name equal regardless of case
    (profiles and `--classes` alike). None when no class matches; UsageError when several
    differ from `name` only by case and none is exact."""
    if name in names:
        return list(names).index(name)
    folded = [i for i, n in enumerate(names) if n.casefold() == name.casefold()]
    if len(folded) > 1:
        raise UsageError(f"class {name!r} is ambiguous: the model has {', '.join(repr(names[i]) for i in folded)}; "
                         "give the exact name")
    return folded[0] if folded else None


def read_profile(path: Path | str) -> Profile:
    """Read and check a profile file; needs no model (class names are matched later)."""
    data = _read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("class_conf", {}), dict):
        raise UsageError(f"{path}: not a thresholds profile (expected a JSON object like "
                         '{"conf": 0.25, "iou": 0.45, "class_conf": {"name": 0.4}})')
    return Profile(
        conf=_optional(data, "conf", _unit, path),
        iou=_optional(data, "iou", _unit, path),
        class_conf={str(k): _unit(v, f"threshold for {k!r}", path) for k, v in data.get("class_conf", {}).items()},
        agnostic=_optional(data, "agnostic", _boolean, path),
        max_det=_optional(data, "max_det", _at_least_1, path),
        source=str(path),
    )


def load_profile(path: Path | str, names: Sequence[str]) -> dict[int, float]:
    """class id -> confidence threshold (only the per-class part; `read_profile` has it all)."""
    return read_profile(path).class_conf_ids(names)


def save_profile(path: Path, names: Sequence[str], class_conf: Mapping[int, float], conf: float | None = None,
                 iou: float | None = None, *, agnostic: bool | None = None, max_det: int | None = None) -> None:
    data: dict = {"class_conf": {names[i]: round(float(v), 4) for i, v in sorted(class_conf.items())}}
    for key, value in (("conf", conf), ("iou", iou), ("agnostic", agnostic), ("max_det", max_det)):
        if value is not None:
            data[key] = value
    write_text_atomic(Path(path), json.dumps(data, indent=2) + "\n")


def _read_json(path: Path | str):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path}: cannot read the thresholds profile: {exc}") from None


def _optional(data: dict, key: str, check, path):
    return None if data.get(key) is None else check(data[key], key, path)


def _unit(value, what: str, path) -> float:
    # bool is an int in Python: `true` would pass as 1.0, a threshold nobody meant
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not 0 <= value <= 1:
        raise UsageError(f"{path}: {what} must be a number in [0, 1], got {json.dumps(value)}")
    return float(value)


def _boolean(value, what: str, path) -> bool:
    if not isinstance(value, bool):
        raise UsageError(f"{path}: {what} must be true or false, got {json.dumps(value)}")
    return value


def _at_least_1(value, what: str, path) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"{path}: {what} must be a whole number of at least 1, got {json.dumps(value)}")
    return value
