"""The window's state in one place (napari style): widgets write to it, it tells who changed what.

Only values live here, no widgets and no engine calls. `thresholdsChanged(new, old)` carries both
values so a listener can tell a confidence move (cheap: cumulative sums) from an NMS change
(IoU / agnostic / max detections: the folder is rescored).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

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

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._thresholds = Thresholds()
        self._display = Display()

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
