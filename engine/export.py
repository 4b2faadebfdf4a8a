"""Write YOLO labels for many images: used by `scriptlens label` and the GUI's export.

Items arrive lazily as ``(image_path, Detections | error, (w, h))`` so the caller decides where
detections come from (cached candidates, a fresh model run...). `classes.txt`, `data.yaml` and
the run manifest (marked incomplete) are written BEFORE the first image, the manifest again at
the end; each label file is written atomically before the next item is pulled. So a cancel, a
Ctrl+C (`ExportInterrupted`, with the count done) or a kill between images leaves a usable
dataset of complete files, and the same run again finishes it.

Which rows a label file holds is engine.label_rows' one rule; whether the data.yaml trains is
engine.training_layout's; `ExportOptions.dataset` also lays out DIR/images (engine.dataset_layout)
and `conf_sidecar` writes confidences beside 5-column labels (engine.conf_sidecar).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

from .conf_sidecar import ConfSidecar
from .dataset_layout import DatasetSpec, place_image
from .detections import Detections
from .errors import LabelWriteError, ScriptLensError
from .label_guard import PRIOR_LABELS_KEY, holds_others_labels
from .label_pairs import images_sharing_a_label_file, shared_label_message
from .label_rows import MIN_BOX_PX, label_rows
from .labels import OnExisting, label_path_for, write_classes_txt, write_label
from .training_layout import data_yaml_text, not_trainable_reason, training_layout

ExportItem = tuple[Path, Detections | ScriptLensError, tuple[int, int]]


class ExportInterrupted(KeyboardInterrupt):
    """Ctrl+C during `export_labels`, after it recorded how far it got (`summary.images` of
    `summary.total` done) in the summary and the manifest. Still a KeyboardInterrupt."""

    def __init__(self, summary: "ExportSummary") -> None:
        super().__init__()
        self.summary = summary


SAVE_CONF_NOTE = ("labels have a 6th column (confidence): for review only, Ultralytics refuses 6-column label files "
                  "and would train on no labels; keep confidences in a sidecar instead (--conf-sidecar)")


@dataclass(frozen=True)
class ExportOptions:
    save_conf: bool = False  # a 6th column: for review, not for training (SAVE_CONF_NOTE)
    empty_files: bool = True  # an empty .txt marks an image as a negative in YOLO datasets
    write_classes: bool = True  # classes.txt + data.yaml
    on_existing: OnExisting = OnExisting.SKIP
    conf_sidecar: bool = False  # confidences in engine.conf_sidecar's JSON, labels stay 5 columns
    dataset: DatasetSpec | None = None  # also lay out DIR/images + DIR/data.yaml (out_root must be DIR/labels)


@dataclass
class ExportSummary:
    images: int = 0
    written: int = 0
    skipped: int = 0
    unchanged: int = 0
    backed_up: int = 0
    empty: int = 0
    detections: int = 0  # the model's rows (before engine.label_rows leaves some out)
    degenerate: int = 0  # rows not written: under MIN_BOX_PX wide or high (zero-area, upside down)
    duplicates: int = 0  # rows not written: the same line as an earlier row of the image
    failed: list[tuple[Path, str]] = field(default_factory=list)
    seconds: float = 0.0
    cancelled: bool = False
    stopped: str = ""  # why the export stopped before the last image: the folder cannot be written
    total: int = 0  # images the caller meant to export (0: not said)
    interrupted: bool = False  # Ctrl+C: `images` of `total` were done
    data_yaml: str = ""  # whether and how the data.yaml written trains (engine.training_layout)
    trainable: bool = False  # the data.yaml written is a training config

    @property
    def complete(self) -> bool:
        """Every image was handled (each written, skipped or reported)."""
        return not (self.cancelled or self.interrupted or self.stopped)

    def line(self) -> str:
        rate = self.images / self.seconds if self.seconds > 0 else 0.0
        parts = [f"{self.images} images", f"{self.detections} detections", f"{self.written} written"]
        for label, n in (("backed up + rewritten", self.backed_up), ("skipped (existing)", self.skipped),
                         ("unchanged", self.unchanged), ("empty", self.empty)):
            if n:
                parts.append(f"{n} {label}")
        parts.append(f"{len(self.failed)} failed")
        parts.append(f"{self.seconds:.1f} s ({rate:.1f} images/s)")
        line = ("CANCELLED: " if self.cancelled else "") + ", ".join(parts)
        return line + (f"; {self.not_written_line()}" if self.degenerate or self.duplicates else "")

    def not_written_line(self) -> str:
        """The rows left out of the label files (engine.label_rows), in words."""
        return (f"{self.degenerate} zero-area box{'es' if self.degenerate != 1 else ''} (under {MIN_BOX_PX:g} px "
                f"or upside down) and {self.duplicates} duplicate{'s' if self.duplicates != 1 else ''} not written")


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
    manifest_name: str | None = None,
) -> ExportSummary:
    """Write labels for `items`; with `manifest` (engine.manifest.build_manifest), also record
    the run beside the labels. `paths`: every image `items` will cover, in order, when the
    caller knows them (it decides which image owns a shared label file, engine.label_pairs).
    Raises `ExportInterrupted` on Ctrl+C, after the manifest says how far the run got.
    `manifest_name`: the manifest's file name (default engine.manifest.MANIFEST_NAME; a
    `--shard` run gives its own, engine.shard)."""
    start = time.perf_counter()
    out_root = Path(out_root)
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    if options.dataset is not None and out_root.resolve() != options.dataset.labels_dir.resolve():
        raise ValueError(f"a dataset's labels go to {options.dataset.labels_dir}, not {out_root}")
    summary = ExportSummary(total=total or 0)
    record = _RunRecord(out_root, manifest, options, manifest_name)
    if not _write_dataset_files(images_root, out_root, names, options, record, summary, paths):
        return _finish(summary, record, start)
    # `a.jpg` and `a.png` in one folder both map to `a.txt`. Without this check the second image
    # silently overwrote (or, under "skip", silently dropped) the first one's labels.
    owner_of = _label_file_owners(paths, images_root, out_root)
    try:
        for image_path, result, image_wh in items:
            _export_one(Path(image_path), result, image_wh, images_root, out_root, options, owner_of, summary,
                        record.sidecar)
            summary.images += 1  # counted once handled: an interrupted image is not "done"
            if summary.stopped:
                break
            if progress:
                progress(summary.images, max(summary.total, summary.images))
            if cancel and cancel():
                summary.cancelled = True
                break
    except KeyboardInterrupt:
        summary.interrupted = True
        _finish(summary, record, start)
        raise ExportInterrupted(summary) from None
    return _finish(summary, record, start)


def _export_one(image_path: Path, result, image_wh, images_root: Path, out_root: Path, options: ExportOptions,
                owner_of: Callable[[Path], Path | None], summary: ExportSummary, sidecar: ConfSidecar | None) -> None:
    """Write (or refuse) one image's label file (and, for a dataset, place its image), counting
    the outcome in `summary`."""
    dst = label_path_for(image_path, images_root, out_root)
    owner = owner_of(image_path)
    if owner is not None:
        summary.failed.append((image_path, shared_label_message(image_path, owner, dst, "not labelled")))
        return
    if isinstance(result, ScriptLensError):
        summary.failed.append((image_path, str(result)))
        return
    if options.dataset is not None:
        try:
            place_image(image_path, images_root, options.dataset)
        except LabelWriteError as exc:
            summary.failed.append((image_path, str(exc)))
            return
    summary.detections += len(result)
    rows = label_rows(result, image_wh)  # the one rule for what a label file holds
    summary.degenerate += rows.degenerate
    summary.duplicates += rows.duplicates
    if len(rows) == 0 and not options.empty_files:
        summary.empty += 1
        return
    try:
        outcome = write_label(dst, rows.text(options.save_conf), OnExisting(options.on_existing))
    except LabelWriteError as exc:
        summary.failed.append((image_path, str(exc)))
        if not out_root.exists() or not _writable(out_root):
            summary.stopped = str(exc)  # the whole folder is unusable: one message, not one per image
        return
    summary.empty += len(rows) == 0
    setattr(summary, outcome, getattr(summary, outcome) + 1)
    if sidecar is not None and outcome != "skipped":
        sidecar.add(dst, rows.detections.confidence)


class _RunRecord:
    """The manifest of this run (None: none wanted), the one it replaces, and the dataset files
    it created (a finished run that leaves no label file removes them again)."""

    def __init__(self, out_root: Path, manifest: dict | None, options: ExportOptions, name: str | None = None) -> None:
        from .manifest import MANIFEST_NAME, read_manifest

        self.out_root, self.name = out_root, name or MANIFEST_NAME
        self.data_yaml = options.dataset.data_yaml if options.dataset is not None else out_root / "data.yaml"
        files = (out_root / "classes.txt", self.data_yaml, out_root / self.name)
        self.created = [p for p in files if not p.exists()]
        self.sidecar = ConfSidecar(out_root) if options.conf_sidecar else None
        self.previous = read_manifest(out_root, self.name) if manifest is not None else None
        if manifest is not None and holds_others_labels(out_root):
            # confirmed (window) or forced (CLI) into someone's labels: keep the folder protected
            manifest = {**manifest, PRIOR_LABELS_KEY: True}
        self.manifest = manifest

    def write(self, summary: ExportSummary, finished: bool) -> None:
        """`finished`: the run is over (else it is about to start: marked incomplete)."""
        from .labels import write_text_atomic
        from .manifest import write_manifest

        if self.manifest is None:
            return
        if finished and self.previous is not None and not (summary.written + summary.backed_up + summary.unchanged):
            # a run that wrote no label file leaves the manifest of the labels that are there
            write_text_atomic(self.out_root / self.name, json.dumps(self.previous, indent=2) + "\n")
            return
        write_manifest(self.out_root, self.manifest, _result(summary, finished), self.name)


def _result(summary: ExportSummary, finished: bool) -> dict:
    return {"complete": finished and summary.complete, "images": summary.images, "total": summary.total,
            "written": summary.written, "backed_up": summary.backed_up, "skipped": summary.skipped,
            "unchanged": summary.unchanged, "failed": len(summary.failed), "detections": summary.detections,
            "cancelled": summary.cancelled, "interrupted": summary.interrupted,
            "not_written": {"zero_area": summary.degenerate, "duplicates": summary.duplicates,
                            "min_box_px": MIN_BOX_PX}}


def _write_dataset_files(images_root: Path, out_root: Path, names: Sequence[str], options: ExportOptions,
                         record: _RunRecord, summary: ExportSummary, paths: Sequence[Path] | None) -> bool:
    """classes.txt, data.yaml and the manifest (incomplete) before the first image, so whatever
    stops the run leaves them beside its labels. False: the folder cannot be written (said in
    `summary.stopped`)."""
    try:
        if options.write_classes:
            write_classes_txt(out_root, names)
            text = _data_yaml(images_root, out_root, names, options, summary, paths)
            write_label(record.data_yaml, text, OnExisting.BACKUP if options.on_existing is OnExisting.SKIP
                        else options.on_existing)
        record.write(summary, finished=False)
    except LabelWriteError as exc:
        summary.failed.append((out_root, str(exc)))
        summary.stopped = str(exc)
        return False
    return True


def _data_yaml(images_root: Path, out_root: Path, names: Sequence[str], options: ExportOptions,
               summary: ExportSummary, paths: Sequence[Path] | None) -> str:
    """The data.yaml's text, and the summary's sentence about it (engine.training_layout)."""
    spec = options.dataset
    if options.save_conf:
        layout, why = None, "these " + SAVE_CONF_NOTE
    elif spec is not None:
        layout, why = training_layout(spec.images_dir, spec.labels_dir), ""
    else:
        layout = training_layout(images_root, out_root, paths)
        why = "" if layout else not_trainable_reason(images_root)
    where = spec.data_yaml if spec is not None else out_root / "data.yaml"
    summary.trainable = layout is not None
    summary.data_yaml = (f"train with: yolo train data={where} (val = the same images: split them for a real "
                         "validation)") if layout else f"{where} holds the class names only: {why}"
    return data_yaml_text(names, layout, why_not=why, relocatable=spec is not None)


def _finish(summary: ExportSummary, record: _RunRecord, start: float) -> ExportSummary:
    summary.seconds = time.perf_counter() - start
    if summary.stopped:
        return summary  # the folder cannot be written: its error is said once
    try:
        if record.sidecar is not None:
            record.sidecar.write()
        record.write(summary, finished=True)
    except LabelWriteError as exc:
        summary.failed.append((record.out_root, str(exc)))
    if summary.complete and not (summary.written + summary.backed_up + summary.unchanged + summary.skipped):
        for path in record.created:  # no label file: no dataset files either
            path.unlink(missing_ok=True)
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
