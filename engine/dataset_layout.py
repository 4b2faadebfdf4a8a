"""`label --dataset DIR` and the window's "Lay out a training dataset": DIR/images/... (links to the
images, or copies), DIR/labels/... (the export's labels) and DIR/data.yaml, the layout Ultralytics
trains on without edits (engine.training_layout says why).

Symlinks are the default: instant and free of disk space, and Ultralytics reads through them
(it pairs labels by the link's path, not the target's). Copies are for a dataset that must move
to another machine, or a file system without symlinks. DIR is ScriptLens's own: it must be new,
empty, or a dataset an earlier run laid out (its labels/ holds a run manifest), so nothing a
person put there is replaced; inside DIR/images an earlier run's link or copy is replaced when
it no longer matches its image.
"""

from __future__ import annotations

import filecmp
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from .errors import LabelWriteError

IMAGE_MODES = ("symlink", "copy")


@dataclass(frozen=True)
class DatasetSpec:
    root: Path
    images: str = "symlink"  # or "copy"

    def __post_init__(self) -> None:
        if self.images not in IMAGE_MODES:
            raise ValueError(f"dataset images must be one of {IMAGE_MODES}, not {self.images!r}")

    @property
    def images_dir(self) -> Path:
        return Path(self.root) / "images"

    @property
    def labels_dir(self) -> Path:
        return Path(self.root) / "labels"

    @property
    def data_yaml(self) -> Path:
        return Path(self.root) / "data.yaml"


def dataset_refusal(root: Path, images_root: Path) -> str | None:
    """Why `root` cannot hold a dataset of `images_root`'s images (None: it can)."""
    from .manifest import MANIFEST_NAME

    root = Path(root)
    if root.exists() and not root.is_dir():
        return f"{root} is a file; give a folder for the dataset"
    try:
        inside = root.resolve().is_relative_to(Path(images_root).resolve())
    except OSError:
        inside = False
    if inside:
        return (f"{root} is inside the images folder {images_root}: its linked images would be read as new "
                "images next time; give a folder outside it")
    if root.is_dir() and any(root.iterdir()) and not (root / "labels" / MANIFEST_NAME).is_file():
        return (f"{root} is not empty and no ScriptLens run laid out a dataset there; give a new or empty folder "
                "(nothing in it is replaced)")
    return None


def place_image(image: Path, images_root: Path, spec: DatasetSpec) -> Path:
    """Link or copy `image` to DIR/images/<its path under images_root>; return that path.
    Raises LabelWriteError (one line, naming the file) when it cannot."""
    image = Path(image)
    dst = spec.images_dir / image.relative_to(images_root)
    if _matches(image, dst, spec.images):
        return dst
    tmp = dst.with_name(f".{dst.name}.scriptlens-place.tmp")
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        if spec.images == "symlink":
            os.symlink(image.resolve(), tmp)
        else:
            shutil.copy2(image, tmp)  # keeps the mtime: a later run sees the copy is current
        os.replace(tmp, dst)
    except OSError as exc:
        try:
            tmp.unlink()
        except OSError:
            pass
        hint = " (try copies instead of links)" if spec.images == "symlink" else ""
        raise LabelWriteError(f"{dst}: cannot {'link' if spec.images == 'symlink' else 'copy'} the image here: "
                              f"{exc.strerror or exc}{hint}") from None
    return dst


def _matches(image: Path, dst: Path, mode: str) -> bool:
    """`dst` already is what this run would put there."""
    try:
        if mode == "symlink":
            return dst.is_symlink() and Path(os.readlink(dst)) == image.resolve()
        return dst.is_file() and not dst.is_symlink() and filecmp.cmp(image, dst, shallow=True)
    except OSError:
        return False
