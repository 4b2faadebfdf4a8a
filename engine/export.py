"""Write YOLO labels for many images: used by `scriptlens label` and the GUI's export.

Items arrive lazily as ``(image_path, Detections | error, (w, h))`` so the caller decides where
detections come from (cached candidates, a fresh model run...). Each file is written atomically
before the next item is pulled, so a cancel between images leaves only complete files.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

from .detections import Detections
from .errors import LabelWriteError, ScriptLensError
from .label_guard import PRIOR_LABELS_KEY, holds_others_labels
from .label_pairs import images_sharing_a_label_file, shared_label_message
from .labels import OnExisting, format_yolo, label_path_for, write_classes_txt, write_data_yaml, write_label

ExportItem = tuple[Path, Detections | ScriptLensError, tuple[int, int]]


@dataclass(frozen=True)
class ExportOptions:
    save_conf: bool = False
    empty_files: bool = True  # an empty .txt marks an image as a negative in YOLO datasets
    write_classes: bool = True  # classes.txt + data.yaml
    on_existing: OnExisting = OnExisting.SKIP


@dataclass
class ExportSummary:
    images: int = 0
    written: int = 0
    skipped: int = 0
    unchanged: int = 0
    backed_up: int = 0
    empty: int = 0
    detections: int = 0
    failed: list[tuple[Path, str]] = field(default_factory=list)
    seconds: float = 0.0
    cancelled: bool = False
    stopped: str = ""  # why the export stopped before the last image: the folder cannot be written

    def line(self) -> str:
        rate = self.images / self.seconds if self.seconds > 0 else 0.0
        parts = [f"{self.images} images", f"{self.detections} detections", f"{self.written} written"]
        for label, n in (("backed up + rewritten", self.backed_up), ("skipped (existing)", self.skipped),
                         ("unchanged", self.unchanged), ("empty", self.empty)):
            if n:
                parts.append(f"{n} {label}")
        parts.append(f"{len(self.failed)} failed")
        parts.append(f"{self.seconds:.1f} s ({rate:.1f} images/s)")
        return ("CANCELLED: " if self.cancelled else "") + ", ".join(parts)


def export_labels(
    items: Iterable[ExportItem],
    images_root: Path,
    out_root: Path,
    names: Sequence[str],
    options: ExportOptions = ExportOptions(),
    *,
    cancel: Callable[[], bool] | None = None,
    progress: Callable[[int, int], None] | None = None,
    total: int | None = None,
    manifest: dict | None = None,
    paths: Sequence[Path] | None = None,
) -> ExportSummary:
    """Write labels for `items`; with `manifest` (engine.manifest.build_manifest), also record
    the run beside the labels. `paths`: every image `items` will cover, in order, when the
    caller knows them (it decides which image owns a shared label file, engine.label_pairs)."""
    start = time.perf_counter()
    summary = ExportSummary()
    out_root = Path(out_root)
    policy = OnExisting(options.on_existing)
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    total = total or 0
    # `a.jpg` and `a.png` in one folder both map to `a.txt`. Without this check the second image
    # silently overwrote (or, under "skip", silently dropped) the first one's labels.
    owner_of = _label_file_owners(paths, images_root, out_root)
    if manifest is not None and holds_others_labels(out_root):
        # confirmed (window) or forced (CLI) into someone's labels: keep the folder protected
        manifest = {**manifest, PRIOR_LABELS_KEY: True}
    for done, (image_path, result, image_wh) in enumerate(items, 1):
        summary.images += 1
        dst = label_path_for(image_path, images_root, out_root)
        owner = owner_of(Path(image_path))
        if owner is not None:
            summary.failed.append((Path(image_path), shared_label_message(image_path, owner, dst, "not labelled")))
        elif isinstance(result, ScriptLensError):
            summary.failed.append((Path(image_path), str(result)))
        else:
            summary.detections += len(result)
            if len(result) == 0 and not options.empty_files:
                summary.empty += 1
            else:
                try:
                    outcome = write_label(dst, format_yolo(result, image_wh, options.save_conf), policy)
                except LabelWriteError as exc:
                    summary.failed.append((Path(image_path), str(exc)))
                    if not out_root.exists() or not _writable(out_root):
                        summary.stopped = str(exc)
                        break  # the whole folder is unusable: one message, not one per image
                else:
                    summary.empty += len(result) == 0
                    setattr(summary, outcome, getattr(summary, outcome) + 1)
        if progress:
            progress(done, max(total, done))
        if cancel and cancel():
            summary.cancelled = True
            break
    # The class list goes with whatever labels exist now, cancelled or not.
    if options.write_classes and (summary.written + summary.backed_up + summary.unchanged + summary.skipped):
        try:
            write_classes_txt(out_root, names)
            write_data_yaml(out_root, names)
        except LabelWriteError as exc:
            summary.failed.append((out_root / "classes.txt", str(exc)))
    summary.seconds = time.perf_counter() - start
    if manifest is not None and (summary.written + summary.backed_up + summary.unchanged):
        from .manifest import write_manifest

        try:
            write_manifest(out_root, manifest, {"images": summary.images, "written": summary.written,
                                                "backed_up": summary.backed_up, "skipped": summary.skipped,
                                                "unchanged": summary.unchanged, "failed": len(summary.failed),
                                                "detections": summary.detections, "cancelled": summary.cancelled})
        except LabelWriteError as exc:
            summary.failed.append((out_root, str(exc)))
    return summary


def _label_file_owners(paths: Sequence[Path] | None, images_root: Path, out_root: Path) -> Callable[[Path], Path | None]:
    """image -> the earlier image owning its label file (None: its own), by engine.label_pairs'
    rule: the first in order owns it, whether or not it can be read (as in `eval`)."""
    def label_file_of(p: Path) -> Path:
        return label_path_for(p, images_root, out_root)

    if paths is not None:
        return images_sharing_a_label_file(paths, label_file_of).get
    rivals: dict[Path, list[Path]] = {}  # no list up front: the images so far, per label file

    def owner(image: Path) -> Path | None:
        same_file = rivals.setdefault(label_file_of(image), [])
        same_file.append(image)
        return images_sharing_a_label_file(same_file, label_file_of).get(image)

    return owner


def _writable(folder: Path) -> bool:
    import os

    return os.access(folder, os.W_OK)
