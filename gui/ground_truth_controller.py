"""Ground truth: finding the folder's labels (or the labels folder the user picked), reading one
image's labels for the overlay through the one reader `scriptlens eval` and the folder scan use
(engine.ground_truth_reader: re-read when a file changes on disk), re-reading them after an
export wrote into them, and saying once per source that a label file could not be read.

It sets `session.set_ground_truth(...)` on every new folder or model, on a picked folder and after
an export into the labels; the scorer rescores and the current image is redrawn from that signal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog, QWidget

from engine.ground_truth import find_ground_truth
from engine.ground_truth_reader import GroundTruth, GroundTruthReader

from .feedback import Feedback
from .gt_overlay import LEGEND
from .session import Session
from .threshold_panel import ThresholdPanel


class GroundTruthController(QObject):
    def __init__(self, session: Session, threshold_panel: ThresholdPanel, feedback: Feedback,
                 labels_dir: Callable[[], Path | None], parent: QWidget) -> None:
        """`labels_dir()`: the export folder (where the pick dialog opens when nothing was picked)."""
        super().__init__(parent)
        self.session, self.panel, self.feedback, self._labels_dir, self._parent = (
            session, threshold_panel, feedback, labels_dir, parent)
        self._picked: Path | None = None  # a labels folder the user chose
        self._reader: GroundTruthReader | None = None  # the one reader of eval, the worker and this window
        self._error_shown = False
        threshold_panel.pickGroundTruthRequested.connect(self.pick_folder_dialog)
        session.folderChanged.connect(self._on_session_folder_changed)
        session.modelChanged.connect(lambda _info: self._find())

    def _on_session_folder_changed(self, _root) -> None:
        self._picked = None
        self._find()

    def _find(self, reread: bool = False) -> None:
        self._error_shown = False
        s = self.session
        source = find_ground_truth(s.root, s.paths, self._picked) if s.root is not None and s.paths else None
        if source is None:
            where = f" in {self._picked}" if self._picked else " (labels/ beside images/, or .txt beside each image)"
            self.panel.set_ground_truth_text(f"Ground truth: none found{where}.", False)
        else:
            self.panel.set_ground_truth_text(f"Ground truth: {source.describe()}.  {LEGEND}", True)
        s.set_ground_truth(source, reread)  # rescoring, the export folder's probe, the overlay

    def set_ground_truth_folder(self, folder: Path | str | None) -> None:
        """Use this labels folder as ground truth (None: look in the usual places again)."""
        self._picked = Path(folder) if folder is not None else None
        self._find()
        if self._picked is not None and self.session.gt_source is None:
            self.feedback.error(f"No label file for these images in {folder}.", cause="ground-truth")

    def pick_folder_dialog(self) -> None:
        start = str(self._picked or self._labels_dir() or self.session.root or "")
        folder = QFileDialog.getExistingDirectory(self._parent, "Folder of YOLO ground-truth labels", start)
        if folder:
            self.set_ground_truth_folder(Path(folder))

    def on_labels_written(self, out_root: Path) -> None:
        """An export wrote label files: when they are the ground truth, read them again (the panel
        must not go on scoring against replaced labels)."""
        gt_root = self.session.ground_truth_root
        if gt_root is not None and Path(out_root).resolve() == Path(gt_root).resolve():
            self._find(reread=True)

    def truth_for(self, path: Path, image_wh: tuple[int, int]) -> GroundTruth | None:
        """This image's ground truth by the reader `eval` and the folder scan use (re-read when the
        file changes on disk); None without a ground-truth source."""
        source = self.session.gt_source
        if source is None:
            return None
        info = self.session.model_info
        num_classes = len(info.names) if info is not None else None
        reader = self._reader
        if reader is None or reader.source != source or reader.num_classes != num_classes:
            reader = self._reader = GroundTruthReader(source, num_classes)
        gt = reader.read(path, image_wh)
        if not gt.scored and not self._error_shown:
            self._error_shown = True
            self.feedback.error(f"Cannot read ground truth, this image is left out of the metrics: {gt.error}",
                                cause="ground-truth")
        return gt

    def report_unreadable_labels(self, stats) -> None:
        """The folder scan found label files it could not read: say so once per ground truth."""
        if stats.unreadable_labels and not self._error_shown:
            self._error_shown = True
            self.feedback.error(f"{len(stats.unreadable_labels)} label file(s) could not be read; their images are "
                                f"left out of the metrics (as in scriptlens eval): {stats.unreadable_labels[0]}",
                                cause="ground-truth")
