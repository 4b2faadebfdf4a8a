"""Will Ultralytics find these labels? The `data.yaml` an export writes, and the sentence that says
why it does or does not train.

Ultralytics pairs an image with its label file by path alone: it replaces the LAST `/images/`
folder in the image's path with `/labels/` and the extension with `.txt`
(`ultralytics.data.utils.img2label_paths`; YOLOv5 does the same). So labels written to the
`labels/...` twin of an `images/...` folder train as they are, and a `data.yaml` beside them can
say where the images are. Anywhere else, no `data.yaml` can make Ultralytics find them; a
dataset laid out by engine.dataset_layout (`label --dataset DIR`) can.

The data.yaml written beside twin labels holds an ABSOLUTE `path` (Ultralytics reads a relative
`path` against the current directory, or its own datasets folder when that does not exist, never
against the yaml), with `train` and `val` relative to it. `val` is the training images too: a
pre-labelled folder has no split, and Ultralytics requires the key; split it for a real
validation. A dataset's own `DIR/data.yaml` has no `path`: Ultralytics then takes the yaml's
folder as the root, so the dataset can be moved whole.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

_IMAGES, _LABELS = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"


def ultralytics_label_path(image: Path) -> Path | None:
    """Where Ultralytics looks for `image`'s labels (None: its path has no `images` folder)."""
    text = os.fspath(image)
    if _IMAGES not in text:
        return None
    return Path(_LABELS.join(text.rsplit(_IMAGES, 1)).rsplit(".", 1)[0] + ".txt")


@dataclass(frozen=True)
class TrainingLayout:
    """A dataset Ultralytics can train on: `root` (absolute) holds `images` (a folder relative
    to root, e.g. `images/train`) and the twin labels folder."""

    root: Path
    images: str


def training_layout(images_root: Path, out_root: Path, paths: Sequence[Path] | None = None) -> TrainingLayout | None:
    """The layout when labels written under `out_root` for images under `images_root` are where
    Ultralytics looks for them (None: they are not). Paths are compared resolved, as Ultralytics
    resolves the yaml's folders. `paths`: the images, when known; one inside a deeper `images`
    folder is paired elsewhere by Ultralytics, so the layout does not hold."""
    root_text = os.fspath(Path(images_root).resolve()) + os.sep
    if _IMAGES not in root_text:
        return None
    base, rest = root_text.rsplit(_IMAGES, 1)
    if Path(out_root).resolve() != Path(base + _LABELS + rest):
        return None
    for p in paths or ():
        try:
            parts = Path(p).relative_to(images_root).parts[:-1]
        except ValueError:
            parts = Path(p).resolve().relative_to(Path(images_root).resolve()).parts[:-1]
        if "images" in parts:
            return None
    images = ("images/" + rest.rstrip(os.sep).replace(os.sep, "/")).rstrip("/")
    return TrainingLayout(Path(base or os.sep), images)


def twin_labels_dir(images_root: Path) -> Path | None:
    """The folder Ultralytics reads `images_root`'s labels from (None: not in an `images` folder)."""
    root_text = os.fspath(Path(images_root).resolve()) + os.sep
    if _IMAGES not in root_text:
        return None
    return Path(_LABELS.join(root_text.rsplit(_IMAGES, 1)).rstrip(os.sep))


def _names_lines(names: Sequence[str]) -> list[str]:
    return [f"nc: {len(names)}", "names:"] + [f"  {i}: {json.dumps(n)}" for i, n in enumerate(names)]


def data_yaml_text(names: Sequence[str], layout: TrainingLayout | None, *, why_not: str = "",
                   relocatable: bool = False) -> str:
    """The data.yaml: a training config for `layout`, else the class names with a comment saying
    why it cannot train (`why_not`). `relocatable`: no `path` key (a dataset's own DIR/data.yaml)."""
    if layout is None:
        head = ["# Class names only, NOT a training config: " + why_not.replace("\n", " ")]
        return "\n".join(head + _names_lines(names)) + "\n"
    lines = ["# Written by ScriptLens: yolo train data=<this file>. val = the training images (no split was made)."]
    if not relocatable:
        lines.append(f"path: {json.dumps(str(layout.root))}")
    lines += [f"train: {json.dumps(layout.images)}", f"val: {json.dumps(layout.images)}"]
    return "\n".join(lines + _names_lines(names)) + "\n"


def not_trainable_reason(images_root: Path) -> str:
    """Why Ultralytics will not find labels written anywhere but the twin of `images_root`, and
    what to do instead. It names no output folder: it goes into the folder's data.yaml, which
    must be the same bytes wherever the run wrote (a cluster's output, a copy of the folder)."""
    twin = twin_labels_dir(images_root)
    where = (f"it replaces /images/ with /labels/ in each image's path, so it reads the labels of {Path(images_root).name}/ "
             f"from {twin}, not from this folder") if twin is not None else (
        f"it replaces /images/ with /labels/ in each image's path, and {images_root} is not in a folder named images")
    fix = f"write the labels to {twin}, or lay out a dataset" if twin is not None else "lay out a dataset"
    return (f"Ultralytics will not find these labels: {where}; {fix} "
            "(scriptlens label --dataset DIR, or 'Lay out a training dataset' in the window's export)")
