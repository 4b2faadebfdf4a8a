"""The window's state in one place (napari style): widgets write to it, it tells who changed what.

Only values live here, no widgets and no engine calls. `thresholdsChanged(new, old)` carries both
values so a listener can tell a confidence move (cheap: cumulative sums) from an NMS change
(IoU / agnostic / max detections: the folder is rescored).

Besides the thresholds and display flags it holds the current folder (root, paths, current row),
the loaded model (id, `ModelInfo`) and the ground-truth source, each with a change signal, so the
controllers (gui/*_controller.py) follow one another through it instead of through each other.
Listeners run in the order they connected; the window creates the controllers in the order that
makes this right (see MainWindow.__init__).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from engine.thresholds import Thresholds


@dataclass(frozen=True)
class Display:
    """How boxes are drawn; none of it changes what is exported or scored."""

    show_names: bool = True
    show_confidences: bool = True
    show_ground_truth: bool = True  # TP / FP / missed styling when ground truth exists


def nms_key(t: Thresholds) -> tuple:
    """What the folder scores depend on besides the model and the labels."""
    return (t.iou, t.agnostic, t.max_det)


class Session(QObject):
    thresholdsChanged = Signal(object, object)  # new Thresholds, old Thresholds
    displayChanged = Signal(object)  # Display
    folderChanged = Signal(object)  # the new folder's root Path (paths set, no current row yet)
    currentChanged = Signal(int)  # the current row (-1: none)
    modelChanged = Signal(object)  # the loaded model's engine.model_info.ModelInfo
    groundTruthChanged = Signal(object)  # engine.ground_truth.GroundTruthSource or None; also on a re-read

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._thresholds = Thresholds()
        self._display = Display()
        self.root: Path | None = None
        self.paths: list[Path] = []
        self._row_of: dict[str, int] = {}
        self.row = -1
        self.model_id = 0  # 0: no model loaded
        self.model_info = None  # engine.model_info.ModelInfo of the loaded model
        self.model_path: Path | None = None
        self.gt_source = None  # engine.ground_truth.GroundTruthSource of the folder, if any
        self.gt_generation = 0  # bumped when the ground-truth files were rewritten (an export)
        self.last_export_dir: Path | None = None  # the folder this folder's labels were last exported to

    # ------------------------------------------------------------------ folder and current image
    def set_folder(self, root: Path, paths: list[Path]) -> None:
        """A new folder: no current row, no ground truth and no export folder until found again."""
        self.root = root
        self.paths = list(paths)
        self._row_of = {str(p): i for i, p in enumerate(self.paths)}
        self.row = -1
        self.gt_source = None  # the previous folder's
        self.last_export_dir = None
        self.folderChanged.emit(root)

    def row_of(self, path) -> int | None:
        return self._row_of.get(str(path))

    def set_row(self, row: int) -> None:
        if row != self.row:
            self.row = row
            self.currentChanged.emit(row)

    @property
    def current_path(self) -> Path | None:
        return self.paths[self.row] if 0 <= self.row < len(self.paths) else None

    # ------------------------------------------------------------------ model and ground truth
    def set_model(self, model_id: int, info) -> None:
        self.model_id = model_id
        self.model_info = info
        self.model_path = Path(info.path)
        self.modelChanged.emit(info)

    def set_ground_truth(self, source, reread: bool = False) -> None:
        """`reread`: the label files changed on disk (an export wrote them): scores must be redone."""
        self.gt_source = source
        if reread:
            self.gt_generation += 1
        self.groundTruthChanged.emit(source)

    @property
    def ground_truth_root(self) -> Path | None:
        """The folder ground truth is read from (the images folder for labels beside the images)."""
        source = self.gt_source
        if source is None:
            return None
        return source.labels_root if source.labels_root is not None else source.images_root

    @property
    def thresholds(self) -> Thresholds:
        return self._thresholds

    def set_thresholds(self, t: Thresholds) -> None:
        old = self._thresholds
        if t != old:
            self._thresholds = t
            self.thresholdsChanged.emit(t, old)

    def update_thresholds(self, **changes) -> None:
        """`update_thresholds(conf=0.4)`; class_conf as a dict or pairs."""
        if "class_conf" in changes:
            changes["class_conf"] = tuple(dict(changes["class_conf"]).items())
        self.set_thresholds(replace(self._thresholds, **changes))

    def set_class_conf(self, class_id: int, conf: float) -> None:
        table = dict(self._thresholds.class_conf)
        table[int(class_id)] = conf
        self.update_thresholds(class_conf=table)

    @property
    def display(self) -> Display:
        return self._display

    def update_display(self, **changes) -> None:
        new = replace(self._display, **changes)
        if new != self._display:
            self._display = new
            self.displayChanged.emit(new)
