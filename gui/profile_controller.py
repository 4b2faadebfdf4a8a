"""Threshold profiles: the panel's Save / Load profile buttons and their file dialogs, and
`save_profile` / `load_profile` -- the same file `scriptlens label --thresholds` reads
(engine.profile). A loaded profile sets the session; the widgets follow from there."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog, QWidget

from engine.errors import ScriptLensError
from engine.profile import read_profile, save_profile

from .feedback import Feedback
from .session import Session
from .settings import Settings
from .threshold_panel import ThresholdPanel


class ProfileController(QObject):
    def __init__(self, session: Session, threshold_panel: ThresholdPanel, settings: Settings, feedback: Feedback,
                 parent: QWidget) -> None:
        super().__init__(parent)
        self.session, self.settings, self.feedback, self._parent = session, settings, feedback, parent
        threshold_panel.saveProfileRequested.connect(self.save_dialog)
        threshold_panel.loadProfileRequested.connect(self.load_dialog)

    def profile_folder(self) -> str:
        """Where the profile dialogs open: the last profile's folder, else home -- never the image
        folder, which only an export writes to."""
        return self.settings.get_str("last/profile_dir") or str(Path.home())

    def save_dialog(self) -> None:
        if self.session.model_info is None:
            self.feedback.error("Open a model before saving a thresholds profile.")
            return
        start = str(Path(self.profile_folder()) / "thresholds.json")
        path, _ = QFileDialog.getSaveFileName(self._parent, "Save thresholds profile", start, "JSON (*.json)")
        if path:
            self.save_profile(Path(path))

    def save_profile(self, path: Path) -> None:
        """Everything `load_profile` and `label --thresholds` restore: conf, iou, agnostic, max_det
        and the per-class thresholds (by class name)."""
        t = self.session.thresholds
        try:
            save_profile(Path(path), self.session.model_info.names, dict(t.class_conf), t.conf, t.iou,
                         agnostic=t.agnostic, max_det=t.max_det)
        except (OSError, ScriptLensError) as exc:
            self.feedback.error(f"Cannot save the profile: {exc}", cause="profile")
            return
        self.settings.set("last/profile_dir", str(Path(path).parent))
        self.feedback.clear("profile")
        self.feedback.status(f"Saved {path} (use: scriptlens label --thresholds {path})", 8000)

    def load_dialog(self) -> None:
        if self.session.model_info is None:
            self.feedback.error("Open a model before loading a thresholds profile.")
            return
        path, _ = QFileDialog.getOpenFileName(self._parent, "Load thresholds profile", self.profile_folder(),
                                              "JSON (*.json);;All files (*)")
        if path:
            self.load_profile(Path(path))

    def load_profile(self, path: Path) -> bool:
        """Apply everything the profile holds (what it leaves out stays as it is); the same reader
        as `scriptlens label --thresholds` (engine.profile.read_profile)."""
        info = self.session.model_info
        try:
            profile = read_profile(path)
            class_conf = profile.class_conf_ids(info.names if info else ())
        except ScriptLensError as exc:
            self.feedback.error(str(exc), cause="profile")
            return False
        given = {k: v for k, v in (("conf", profile.conf), ("iou", profile.iou), ("agnostic", profile.agnostic),
                                   ("max_det", profile.max_det)) if v is not None}
        self.session.update_thresholds(class_conf=class_conf, **given)
        self.settings.set("last/profile_dir", str(Path(path).parent))
        self.feedback.clear("profile")
        self.feedback.status(f"Loaded {path}", 8000)
        return True
