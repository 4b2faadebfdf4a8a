"""Keeps the threshold widgets and the session's one `Thresholds` value in step, both ways.

A widget change becomes `session.update_thresholds(...)`; a session change (Best F1, a loaded
profile, restored settings) is written back into the widgets with their signals blocked, so it
never echoes. The window reads thresholds from the session only.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QSignalBlocker

from engine.thresholds import Thresholds

from .session import Session
from .side_panel import SidePanel
from .threshold_panel import ThresholdPanel


class ThresholdBinding(QObject):
    def __init__(self, session: Session, side_panel: SidePanel, threshold_panel: ThresholdPanel, parent=None) -> None:
        super().__init__(parent)
        self.session, self.side_panel, self.threshold_panel = session, side_panel, threshold_panel
        sp, tp = side_panel, threshold_panel
        sp.confChanged.connect(lambda v: session.update_thresholds(conf=round(float(v), 2)))
        sp.iouChanged.connect(lambda v: session.update_thresholds(iou=round(float(v), 2)))
        sp.agnosticChanged.connect(lambda v: session.update_thresholds(agnostic=bool(v)))
        sp.maxDetChanged.connect(lambda v: session.update_thresholds(max_det=int(v)))
        sp.classFilterChanged.connect(lambda: session.update_thresholds(classes=sp.checked_classes()))
        tp.classConfChanged.connect(lambda: session.update_thresholds(class_conf=tp.class_conf()))
        sp.showLabelsChanged.connect(lambda v: session.update_display(show_names=bool(v)))
        sp.showConfidencesChanged.connect(lambda v: session.update_display(show_confidences=bool(v)))
        tp.showGroundTruthChanged.connect(lambda v: session.update_display(show_ground_truth=bool(v)))
        session.thresholdsChanged.connect(self._on_session_thresholds_changed)
        session.displayChanged.connect(self._on_session_display_changed)

    def _on_session_thresholds_changed(self, t: Thresholds, _old: Thresholds) -> None:
        sp, tp = self.side_panel, self.threshold_panel
        with QSignalBlocker(sp):
            sp.set_conf(t.conf)
            sp.set_iou(t.iou)
            sp.set_agnostic(t.agnostic)
            sp.set_max_det(t.max_det)
            if sp.checked_classes() != t.classes:
                sp.set_checked_classes(None if t.classes is None else set(t.classes))
        if tp.class_conf() != dict(t.class_conf):
            with QSignalBlocker(tp):
                tp.set_class_conf(dict(t.class_conf))

    def _on_session_display_changed(self, d) -> None:
        sp, tp = self.side_panel, self.threshold_panel
        with QSignalBlocker(sp):
            sp.set_show_labels(d.show_names)
            sp.set_show_confidences(d.show_confidences)
        with QSignalBlocker(tp):
            tp.show_gt_box.setChecked(d.show_ground_truth)

    def reset_classes(self) -> None:
        """A new model: its classes are all shown (the widgets were rebuilt so), none has its own
        threshold."""
        self.session.update_thresholds(classes=None, class_conf={})
