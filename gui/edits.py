"""Hand edits of predictions: per-image boxes, undo/redo, and an autosaved sidecar file.

An edited image's boxes replace the model's for that image: the overlay shows them as they
are (the sliders no longer filter them) and the export writes them. Edits are kept per image
path in memory, so switching images or moving a threshold never touches them.

Why autosave and not "save changes?" on close: a prompt loses work on a crash, a killed
process or a forgotten click; autosaving loses nothing and asks nothing. Every change is
written (debounced by 300 ms, and flushed at once on close and before another folder or
model is opened) to a JSON sidecar in the app's data folder (platformdirs
`user_data_dir("ScriptLens")/edits`, or $SCRIPTLENS_DATA_DIR/edits), one file per
(image folder, model file) pair. Opening the same folder with the same model restores them
(the banner says how many). The image folder itself is never written to except by an export.

Undo / redo: a QUndoStack of commands that each swap one image's boxes (before <-> after);
Ctrl+Z / Ctrl+Shift+Z in the window. Accepted ("reviewed") images are kept in the same file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from engine.detections import Detections
from engine.labels import write_text_atomic

log = logging.getLogger(__name__)

SAVE_DELAY_MS = 300
Edit = tuple[Detections, tuple[int, int]]  # boxes in original pixels, (w, h) of the image


def data_dir() -> Path:
    env = os.environ.get("SCRIPTLENS_DATA_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_data_dir("ScriptLens", appauthor=False))


def sidecar_path(folder: Path, model: Path, base: Path | None = None) -> Path:
    """One edits file per (image folder, model file) pair."""
    digest = hashlib.sha1(f"{Path(folder).resolve()}|{Path(model).resolve()}".encode()).hexdigest()[:12]
    return (base or data_dir()) / "edits" / f"{Path(folder).name or 'root'}-{digest}.json"


class _EditCommand(QUndoCommand):
    def __init__(self, store: "EditStore", path: str, before: Edit | None, after: Edit | None, text: str) -> None:
        super().__init__(text)
        self._store, self._path, self._before, self._after = store, path, before, after

    def redo(self) -> None:
        self._store._apply(self._path, self._after)

    def undo(self) -> None:
        self._store._apply(self._path, self._before)


class EditStore(QObject):
    changed = Signal(str)  # an image's edits changed (edit, undo, redo, revert)
    reviewedChanged = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.undo_stack = QUndoStack(self)
        self._edits: dict[str, Edit] = {}
        self._reviewed: set[str] = set()
        self._file: Path | None = None
        self._folder: Path | None = None
        self._model: Path | None = None
        self._dirty = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SAVE_DELAY_MS)
        self._timer.timeout.connect(self.save_now)

    # ---------------------------------------------------------------- binding to a folder + model
    @property
    def file(self) -> Path | None:
        return self._file

    def bind(self, folder: Path | None, model: Path | None, base: Path | None = None) -> int:
        """Save the current edits, then load those of (folder, model). Returns how many images."""
        self.save_now()
        self._edits, self._reviewed = {}, set()
        self.undo_stack.clear()
        self._folder, self._model = folder, model
        self._file = sidecar_path(folder, model, base) if folder is not None and model is not None else None
        if self._file is not None:
            self._load()
        return len(self._edits)  # no `changed` per image: the caller redraws the whole list once

    def _load(self) -> None:
        try:
            data = json.loads(self._file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            log.warning("cannot read saved edits %s: %s", self._file, exc)
            return
        root = self._folder
        for rel, entry in (data.get("images") or {}).items():
            try:
                rows = np.asarray(entry["boxes"], np.float64).reshape(-1, 6)
                wh = (int(entry["wh"][0]), int(entry["wh"][1]))
                det = Detections(rows[:, :4], rows[:, 4], rows[:, 5].astype(np.int64))
            except (KeyError, TypeError, ValueError, IndexError) as exc:
                log.warning("skipping a saved edit of %s: %s", rel, exc)
                continue
            self._edits[str(root / rel)] = (det, wh)
        self._reviewed = {str(root / rel) for rel in data.get("reviewed") or []}

    def save_now(self) -> None:
        self._timer.stop()
        if not self._dirty or self._file is None:
            return
        root = self._folder
        images = {}
        for path, (det, wh) in sorted(self._edits.items()):
            rows = [[round(float(v), 2) for v in box] + [round(float(c), 5), int(k)]
                    for box, c, k in zip(det.xyxy.tolist(), det.confidence.tolist(), det.class_id.tolist())]
            images[Path(path).relative_to(root).as_posix()] = {"wh": list(wh), "boxes": rows}
        data = {"version": 1, "folder": str(root), "model": str(self._model), "images": images,
                "reviewed": sorted(Path(p).relative_to(root).as_posix() for p in self._reviewed)}
        try:
            self._file.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(self._file, json.dumps(data, indent=1) + "\n")
        except OSError as exc:
            log.warning("cannot save edits to %s: %s", self._file, exc)
            return
        self._dirty = False

    def _touch(self) -> None:
        self._dirty = True
        self._timer.start()

    # ---------------------------------------------------------------- queries
    def get(self, path: Path | str) -> Detections | None:
        edit = self._edits.get(str(path))
        return None if edit is None else edit[0]

    def entry(self, path: Path | str) -> Edit | None:
        """(boxes, (w, h)) of an edited image, None when it has no edits."""
        return self._edits.get(str(path))

    def __contains__(self, path: object) -> bool:
        return str(path) in self._edits

    def __len__(self) -> int:
        return len(self._edits)

    def edited_paths(self) -> list[str]:
        return sorted(self._edits)

    def snapshot(self) -> dict[str, Edit]:
        """A copy for the export request (Detections are immutable values)."""
        return dict(self._edits)

    def reviewed_paths(self) -> list[str]:
        return sorted(self._reviewed)

    def is_reviewed(self, path: Path | str) -> bool:
        return str(path) in self._reviewed

    # ---------------------------------------------------------------- changes (undoable)
    def set(self, path: Path | str, det: Detections, image_wh: tuple[int, int], text: str = "Edit boxes") -> None:
        key = str(path)
        self.undo_stack.push(_EditCommand(self, key, self._edits.get(key), (det, tuple(image_wh)), text))

    def revert(self, path: Path | str) -> None:
        key = str(path)
        if key in self._edits:
            self.undo_stack.push(_EditCommand(self, key, self._edits[key], None, "Revert image to the model's boxes"))

    def _apply(self, path: str, value: Edit | None) -> None:
        if value is None:
            self._edits.pop(path, None)
        else:
            self._edits[path] = value
        self._touch()
        self.changed.emit(path)

    def set_reviewed(self, path: Path | str, reviewed: bool = True) -> None:
        key = str(path)
        if reviewed == (key in self._reviewed):
            return
        (self._reviewed.add if reviewed else self._reviewed.discard)(key)
        self._touch()
        self.reviewedChanged.emit(key)
