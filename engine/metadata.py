"""Model metadata: the embedded ``config.txt``, sidecar files, user overrides and defaults.

Precedence, highest first: user override (CLI flag / GUI dialog) > sidecar file beside the model
(``<model>.yaml``, then ``data.yaml``, then ``classes.txt``) > embedded metadata > default.
A sidecar outranks the embedded metadata because the user put it there on purpose to correct
or complete the model. Every value records where it came from, for `scriptlens info`.
YAML is read with ``yaml.safe_load`` only; class names are sanitised to plain text.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger(__name__)

DEFAULT_IMGSZ = (640, 640)
MAX_CLASSES = 100_000  # more ids than any real detector has: metadata beyond it is corrupt
# YOLOv5 / YOLOv7 P3-P5 default anchors in pixels.
DEFAULT_ANCHORS = ((10, 13, 16, 30, 33, 23), (30, 61, 62, 45, 59, 119), (116, 90, 156, 198, 373, 326))

COCO_NAMES = (
    "person bicycle car motorcycle airplane bus train truck boat traffic_light fire_hydrant "
    "stop_sign parking_meter bench bird cat dog horse sheep cow elephant bear zebra giraffe backpack "
    "umbrella handbag tie suitcase frisbee skis snowboard sports_ball kite baseball_bat baseball_glove "
    "skateboard surfboard tennis_racket bottle wine_glass cup fork knife spoon bowl banana apple "
    "sandwich orange broccoli carrot hot_dog pizza donut cake chair couch potted_plant bed "
    "dining_table toilet tv laptop mouse remote keyboard cell_phone microwave oven toaster sink "
    "refrigerator book clock vase scissors teddy_bear hair_drier toothbrush"
).replace("_", "~").split()
COCO_NAMES = tuple(n.replace("~", " ") for n in COCO_NAMES)


def clean_name(name: Any) -> str:
    """Class names are text only: no path separators, no control characters, no markup."""
    text = str(name)
    text = "".join(ch for ch in text if ch.isprintable())
    for bad in "/\\<>":
        text = text.replace(bad, "_")
    return text.strip()[:100] or "?"


def parse_names(value: Any) -> tuple[str, ...] | None:
    """Names as a list, or a mapping id -> name (int or string keys, YOLOv5 v7+ / Ultralytics)."""
    if isinstance(value, dict):
        try:
            items = sorted((int(k), v) for k, v in value.items())
        except (TypeError, ValueError):
            return None
        if not items or items[-1][0] >= MAX_CLASSES:
            return None  # a corrupt mapping must not make us build a huge list
        out = [f"class{i}" for i in range(items[-1][0] + 1)]
        for k, v in items:
            if k >= 0:
                out[k] = clean_name(v)
        return tuple(out)
    if isinstance(value, (list, tuple)) and value:
        return tuple(clean_name(v) for v in value)
    return None


def parse_imgsz(value: Any) -> tuple[int, int] | None:
    """An int (square) or [h, w]."""
    if isinstance(value, bool):
        return None
    # >= 1 after int(): a fractional size like 0.5 became a 0-pixel input
    if isinstance(value, (int, float)) and value >= 1:
        return (int(value), int(value))
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 1 for v in value):
        return (int(value[0]), int(value[1]))
    if isinstance(value, (list, tuple)) and len(value) == 1:
        return parse_imgsz(value[0])
    return None


def parse_anchors(value: Any) -> tuple[tuple[float, ...], ...] | None:
    """YOLOv5 model-YAML anchors: one flat [w0,h0, w1,h1, ...] list per level (pixels)."""
    if not isinstance(value, (list, tuple)) or not value:
        return None
    levels = []
    for level in value:
        if not isinstance(level, (list, tuple)) or len(level) < 2 or len(level) % 2:
            return None
        try:
            levels.append(tuple(float(v) for v in level))
        except (TypeError, ValueError):
            return None
    return tuple(levels)


def parse_stride(value: Any) -> int | None:
    if isinstance(value, (list, tuple)):
        # only the numbers: max() over mixed/None entries raised TypeError and failed the load
        nums = [v for v in value if isinstance(v, (int, float)) and not isinstance(v, bool)]
        value = max(nums) if nums else None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 1:
        return int(value)
    return None


@dataclass
class MetaFacts:
    """Facts gathered from the files, before the model has run."""

    names: tuple[str, ...] | None = None
    imgsz: tuple[int, int] | None = None
    stride: int | None = None
    anchors: tuple[tuple[float, ...], ...] | None = None
    batch: int | None = None
    end2end: bool | None = None
    nms_in_model: bool = False
    raw: dict = field(default_factory=dict)
    sources: dict = field(default_factory=dict)

    def set(self, key: str, value: Any, source: str) -> None:
        if value is not None:
            setattr(self, key, value)
            self.sources[key] = source


def parse_config(text: str | bytes) -> dict:
    """The embedded config.txt (JSON). Empty or invalid -> {} (with a log line, not an error)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        log.warning("embedded config.txt is not JSON; ignoring it")
        return {}
    return data if isinstance(data, dict) else {}


def facts_from_config(config: dict, facts: MetaFacts) -> None:
    src = "metadata"
    facts.raw = config
    facts.set("names", parse_names(config.get("names")), src)
    imgsz = parse_imgsz(config.get("imgsz"))
    shape = config.get("shape")  # YOLOv5: [B, 3, H, W]
    if imgsz is None and isinstance(shape, (list, tuple)) and len(shape) == 4:
        imgsz = parse_imgsz(shape[2:])
        if isinstance(shape[0], int) and shape[0] > 0:
            facts.set("batch", int(shape[0]), src)
    facts.set("imgsz", imgsz, src)
    facts.set("stride", parse_stride(config.get("stride")), src)
    facts.set("anchors", parse_anchors(config.get("anchors")), src)
    if isinstance(config.get("batch"), int) and config["batch"] > 0:
        facts.set("batch", int(config["batch"]), src)
    args = config.get("args") if isinstance(config.get("args"), dict) else {}
    if isinstance(config.get("end2end"), bool):
        facts.set("end2end", config["end2end"], src)
    if config.get("end2end") is True or args.get("nms") is True:
        facts.nms_in_model = True


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, yaml.YAMLError) as exc:
        log.warning("ignoring sidecar %s: %s", path, exc)
        return {}
    return data if isinstance(data, dict) else {}


def sidecar_files(model_path: Path) -> list[Path]:
    """Sidecars beside the model, in precedence order (highest first)."""
    folder = model_path.parent
    return [p for p in (folder / f"{model_path.stem}.yaml", folder / "data.yaml", folder / "classes.txt") if p.is_file()]


def facts_from_sidecars(model_path: Path, facts: MetaFacts) -> None:
    # Apply lowest precedence first so higher ones overwrite.
    for path in reversed(sidecar_files(model_path)):
        src = f"sidecar {path.name}"
        if path.suffix == ".txt":
            lines = [ln.strip() for ln in path.read_text(encoding="utf-8", errors="replace").splitlines()]
            facts.set("names", parse_names([ln for ln in lines if ln]), src)
            continue
        data = _read_yaml(path)
        names = parse_names(data.get("names"))
        nc = data.get("nc")
        if names is None and isinstance(nc, int) and not isinstance(nc, bool) and nc > 0:
            # nc without names (a YOLOv5 *model* yaml such as yolov5s.yaml, copied beside the
            # export for its anchors). It must not replace real names already known (embedded
            # metadata, data.yaml, classes.txt) -- it did, with class0..class79 -- and alone it
            # gives the usual defaults (COCO names for 80 classes).
            names = None if facts.names is not None and len(facts.names) == nc else default_names(nc)
        facts.set("names", names, src)
        facts.set("anchors", parse_anchors(data.get("anchors")), src)
        facts.set("imgsz", parse_imgsz(data.get("imgsz")), src)


def read_names_file(path: Path) -> tuple[str, ...]:
    """Class names from a classes.txt (one per line) or a YAML file with `names`."""
    path = Path(path)
    if path.suffix.lower() in (".yaml", ".yml"):
        names = parse_names(_read_yaml(path).get("names"))
    else:
        names = parse_names([ln.strip() for ln in path.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()])
    if not names:
        raise ValueError(f"{path}: no class names found (expected one per line, or a YAML `names` list)")
    return names


def default_names(num_classes: int) -> tuple[str, ...]:
    if num_classes == len(COCO_NAMES):
        return COCO_NAMES
    return tuple(f"class{i}" for i in range(num_classes))
