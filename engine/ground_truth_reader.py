"""Read an image's ground-truth label file under ONE policy, shared by `scriptlens eval`, the
folder scan of the window's threshold panel and the window's overlay.

Each read says one of three things (`LabelStatus`):
- LABELLED: the file's boxes (an empty file is a labelled negative);
- UNLABELLED: no label file; YOLO datasets mark negatives this way too, so it scores as an
  image without objects, and callers count it;
- UNREADABLE: a malformed line, text that is not UTF-8, an OS error, or a class id the model
  does not have. One message, ``file:line: reason``. The image is LEFT OUT of the metrics
  (neither its predictions nor its labels count): scoring a half-read file as a negative would
  turn every detection on it into a false positive, and silently dropping an out-of-range box
  would shrink the ground truth while the image still counts it as missed.

Files are read as UTF-8 with an optional BOM (``utf-8-sig``; Windows tools write one), any line
ending. `GroundTruthReader` keeps each parsed file, keyed by (path, mtime_ns, size), so a file
edited on disk is read again by every caller on its next read. No Qt: the engine worker thread
and the UI thread may share one reader (a lock guards the cache).
"""

from __future__ import annotations

import codecs
import threading
from collections import OrderedDict
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

from .detections import Detections
from .labels import parse_yolo

if TYPE_CHECKING:
    from .ground_truth import GroundTruthSource


class LabelStatus(str, Enum):
    LABELLED = "labelled"
    UNLABELLED = "unlabelled"  # no label file: a negative
    UNREADABLE = "unreadable"  # left out of the metrics


@dataclass(frozen=True)
class GroundTruth:
    """One image's ground truth. `detections` is empty unless LABELLED; `error` is the one
    ``file:line: reason`` message when UNREADABLE, else ""."""

    status: LabelStatus
    detections: Detections
    label_file: Path
    error: str = ""

    @property
    def scored(self) -> bool:
        """Whether the image takes part in the metrics (everything but UNREADABLE)."""
        return self.status is not LabelStatus.UNREADABLE


def read_label_file(label_file: Path, image_wh: tuple[int, int], num_classes: int | None = None) -> GroundTruth:
    """Read one label file, no cache. `num_classes` None: class ids are not range-checked."""
    label_file = Path(label_file)
    try:
        data = label_file.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return GroundTruth(LabelStatus.UNLABELLED, Detections.empty(), label_file)
    except OSError as exc:
        return _unreadable(label_file, f"{label_file}: cannot read labels: {exc.strerror or exc}")
    if data.startswith(codecs.BOM_UTF8):  # "utf-8-sig" by hand: error offsets stay in `data`
        data = data[len(codecs.BOM_UTF8):]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return _unreadable(label_file, f"{label_file}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x})")
    try:
        det = parse_yolo(text, image_wh, source=str(label_file))
    except ValueError as exc:
        return _unreadable(label_file, str(exc))
    if num_classes is not None and len(det) and int(det.class_id.max()) >= num_classes:
        return _unreadable(label_file, _out_of_range(label_file, text, num_classes))
    return GroundTruth(LabelStatus.LABELLED, det, label_file)


def _unreadable(label_file: Path, message: str) -> GroundTruth:
    return GroundTruth(LabelStatus.UNREADABLE, Detections.empty(), label_file, message)


def _out_of_range(label_file: Path, text: str, num_classes: int) -> str:
    """The message for the first line whose class id the model lacks (parse_yolo accepted every
    line, so each non-blank one starts with an int)."""
    for n, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if parts and int(parts[0]) >= num_classes:
            return (f"{label_file}:{n}: class id {int(parts[0])} out of range "
                    f"(the model has {num_classes} classes, 0..{num_classes - 1})")
    raise AssertionError("no out-of-range line")  # unreachable: the caller found one


class GroundTruthReader:
    """The labels of one `GroundTruthSource`, checked against a model's `num_classes`.

    `read(image_path, image_wh)` returns a `GroundTruth`. Parsed files are cached, keyed by
    (label path, mtime_ns, size, image size): a stat per read, a parse only when the file
    changed. At most `max_entries` files are kept (least recently read dropped first).
    """

    def __init__(self, source: "GroundTruthSource", num_classes: int | None, max_entries: int = 200_000) -> None:
        self.source = source
        self.num_classes = num_classes
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, tuple[tuple, GroundTruth]] = OrderedDict()

    def label_file(self, image_path: Path) -> Path:
        return self.source.path_for(image_path)

    def read(self, image_path: Path, image_wh: tuple[int, int]) -> GroundTruth:
        label_file = self.label_file(image_path)
        try:
            st = label_file.stat()
        except OSError:  # missing, or unreachable: read_label_file says which
            return read_label_file(label_file, image_wh, self.num_classes)
        key, stamp = str(label_file), (st.st_mtime_ns, st.st_size, tuple(image_wh))
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and hit[0] == stamp:
                self._cache.move_to_end(key)
                return hit[1]
        result = read_label_file(label_file, image_wh, self.num_classes)  # outside the lock: I/O
        with self._lock:
            self._cache[key] = (stamp, result)
            self._cache.move_to_end(key)
            while len(self._cache) > self.max_entries:
                self._cache.popitem(last=False)
        return result

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()
