"""`label`'s threshold flags and `--thresholds` profile: a flag typed on the command line wins,
else the profile's value, else the default; the run says where each value came from.

The flags default to None (not to their defaults) so an explicit `--conf 0.25` can be told from
no `--conf` at all.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from engine.profile import Profile
from engine.thresholds import Thresholds

from .common import max_det, unit_float

DEFAULTS = {"conf": 0.25, "iou": 0.45, "max_det": 300, "agnostic": False}
FLAGS = {"conf": "--conf", "iou": "--iou", "max_det": "--max-det", "agnostic": "--agnostic"}


def add_threshold_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--conf", type=unit_float, default=None, help="confidence threshold (default: the profile's, else 0.25)")
    p.add_argument("--iou", type=unit_float, default=None, help="NMS IoU threshold (default: the profile's, else 0.45)")
    p.add_argument("--agnostic", action=argparse.BooleanOptionalAction, default=None,
                   help="class-agnostic NMS (default: the profile's, else off)")
    p.add_argument("--max-det", type=max_det, default=None, help="at most this many boxes per image (default: the profile's, else 300)")
    p.add_argument("--thresholds", default=None, metavar="PROFILE.json",
                   help="thresholds profile saved by the window: conf, iou, per-class conf (and agnostic, "
                        "max_det if present); flags given here win over it")


@dataclass(frozen=True)
class Resolved:
    thresholds: Thresholds
    sources: dict[str, str]  # "conf" -> "profile" | "--conf" | "default"

    def line(self, names: tuple[str, ...]) -> str:
        """e.g. `thresholds: conf 0.5 (profile), iou 0.6 (--iou), class_conf circle 0.4 (profile)`."""
        t, src = self.thresholds, self.sources
        parts = [f"conf {t.conf:g} ({src['conf']})", f"iou {t.iou:g} ({src['iou']})"]
        if src["max_det"] != "default":
            parts.append(f"max-det {t.max_det} ({src['max_det']})")
        if src["agnostic"] != "default":
            parts.append(f"agnostic {'on' if t.agnostic else 'off'} ({src['agnostic']})")
        for cls, value in t.class_conf:
            parts.append(f"class_conf {names[cls] if cls < len(names) else cls} {value:g} (profile)")
        return "thresholds: " + ", ".join(parts)


def resolve_thresholds(args: argparse.Namespace, profile: Profile | None, names: tuple[str, ...],
                       classes: tuple[int, ...] | None) -> Resolved:
    """The thresholds the run uses; `names` match the profile's per-class entries."""
    values, sources = {}, {}
    for key in DEFAULTS:
        values[key], sources[key] = _pick(key, getattr(args, key), getattr(profile, key, None))
    class_conf = tuple(profile.class_conf_ids(names).items()) if profile else ()
    return Resolved(Thresholds(classes=classes, class_conf=class_conf, **values), sources)


def _pick(key: str, flag_value, profile_value):
    if flag_value is not None:
        return flag_value, FLAGS[key] if key != "agnostic" or flag_value else "--no-agnostic"
    if profile_value is not None:
        return profile_value, "profile"
    return DEFAULTS[key], "default"
