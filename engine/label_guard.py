"""Whose label files are these? The check that keeps an export off a person's labels.

A folder of YOLO label files that no ScriptLens run wrote -- ground truth drawn by hand, a
dataset's `labels/` -- must never be replaced by predictions without an explicit, named
confirmation. "Written by ScriptLens" is what the run manifest tells: every export leaves
`scriptlens_manifest.json` beside its labels. A run that was confirmed into a folder that already
held other label files records that in its manifest (`PRIOR_LABELS_KEY`), so the folder stays
protected afterwards: its remaining files are still the person's.

Used by the window's export (default folder, confirmation) and by `scriptlens label` (the
`--force` guard), so both apply one rule.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from .labels import default_labels_dir, label_path_for
from .manifest import read_folder_manifests

PRIOR_LABELS_KEY = "prior_labels_not_from_scriptlens"  # manifest flag: the folder held others' labels
_NOT_LABELS = {"classes.txt"}  # .txt files an export writes that are not per-image labels


def holds_label_files(folder: Path) -> bool:
    """Whether `folder` (recursively) holds at least one per-image `.txt` label file."""
    folder = Path(folder)
    if not folder.is_dir():
        return False
    for _dirpath, _dirs, files in os.walk(folder):
        if any(f.endswith(".txt") and f not in _NOT_LABELS and not f.startswith(".") for f in files):
            return True
    return False


def written_by_scriptlens(folder: Path) -> bool:
    """True when every label file in `folder` comes from ScriptLens runs (its manifest says so;
    for a folder written by `--shard` runs, their manifests, every one of them)."""
    manifests = read_folder_manifests(Path(folder))
    return bool(manifests) and not any(m.get(PRIOR_LABELS_KEY, False) for m in manifests)


def holds_others_labels(folder: Path) -> bool:
    """Label files are there and the manifest does not vouch for them."""
    return holds_label_files(folder) and not written_by_scriptlens(folder)


def _same_folder(a: Path | None, b: Path | None) -> bool:
    if a is None or b is None:
        return False
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return Path(a) == Path(b)


@dataclass(frozen=True)
class ExportTarget:
    """What writing labels for some images into `out_root` would do to files already there."""

    out_root: Path
    is_ground_truth: bool  # the folder the window compares predictions with
    others_labels: bool  # holds label files no ScriptLens run wrote (no manifest vouches for them)
    existing: tuple[Path, ...]  # label files of these images that exist now (replaced unless skipped)
    new: int  # label files that would be created

    @property
    def protected(self) -> bool:
        return self.is_ground_truth or self.others_labels

    def needs_confirmation(self, replaces_existing: bool) -> bool:
        """A protected folder is changed only when the person confirms: replacing its files, or
        adding predictions beside them (an unlabelled image is a negative in a YOLO dataset)."""
        return self.protected and ((replaces_existing and bool(self.existing)) or self.new > 0)

    def whose(self) -> str:
        if self.is_ground_truth:
            return "the folder loaded as ground truth"
        return "a folder of label files that ScriptLens did not write"

    def describe(self, replaces_existing: bool) -> str:
        """One paragraph naming the folder and the files at stake."""
        n = len(self.existing)
        sample = ", ".join(p.name for p in self.existing[:3]) + (", …" if n > 3 else "")
        parts = []
        if n and replaces_existing:
            parts.append(f"replace {n} of its label file{'s' if n != 1 else ''} ({sample})")
        elif n:
            parts.append(f"keep {n} existing label file{'s' if n != 1 else ''}")
        if self.new:
            parts.append(f"add {self.new} new one{'s' if self.new != 1 else ''}")
        return f"{self.out_root} is {self.whose()}. This export would " + " and ".join(parts) + "."


def assess_export_target(out_root: Path, images: Sequence[Path], images_root: Path,
                         ground_truth_root: Path | None = None) -> ExportTarget:
    """Look before writing: which of `images`' label files exist in `out_root`, and whose folder it is.

    `ground_truth_root`: the folder the window reads ground truth from (for labels kept beside
    the images, the images folder itself)."""
    out_root = Path(out_root)
    existing, new = [], 0
    if out_root.is_dir():
        for image in images:
            dst = label_path_for(image, images_root, out_root)
            if dst.exists():
                existing.append(dst)
            else:
                new += 1
    else:
        new = len(images)
    is_gt = _same_folder(out_root, ground_truth_root)
    others = (bool(existing) or holds_label_files(out_root)) and not written_by_scriptlens(out_root)
    return ExportTarget(out_root, is_gt, others, tuple(existing), new)


def safe_default_export_dir(images_root: Path, ground_truth_root: Path | None = None) -> Path:
    """Where an export goes unless the person picks a folder: `labels/` beside `images/` (the YOLO
    layout), else `<folder>/labels` -- unless that folder is the ground truth or holds someone
    else's labels; then `predictions/` beside it (`predictions-2`... if that is taken too)."""
    candidate = default_labels_dir(images_root)

    def free(folder: Path) -> bool:
        return not _same_folder(folder, ground_truth_root) and not holds_others_labels(folder)

    if free(candidate):
        return candidate
    base = candidate.parent / "predictions"
    for n in range(1, 100):
        folder = base if n == 1 else base.with_name(f"predictions-{n}")
        if free(folder):
            return folder
    return base.with_name("predictions-scriptlens")
