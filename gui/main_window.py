"""The main window: layout and wiring only.

It builds the widgets, the session (gui/session.py: thresholds, display flags, folder, current
image, model, ground truth) and the controllers that do the work, one concern each
(gui/*_controller.py; gui/README.md has the map), and keeps a thin public API over them for
tools and tests. Nothing here touches the engine beyond the worker threads it owns.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QMenu, QProgressBar, QScrollArea, QSplitter, QVBoxLayout, QWidget

from engine.detections import Detections
from engine.images import IMAGE_EXTENSIONS
from engine.thresholds import Thresholds

from .actions import build_actions, rebuild_recent_menu, shortcut_table
from .banner import Banner
from .browse_controller import BrowseController
from .candidate_cache import CandidateCache
from .canvas import Canvas
from .edit_controller import EditController
from .edits import EditStore
from .export_controller import ExportController
from .export_dialog import ExportChoice
from .feedback import Feedback
from .folder_scanner import FolderScanner
from .ground_truth_controller import GroundTruthController
from .help_dialog import HelpDialog
from .image_list import ImageListWidget
from .model_controller import MODEL_SUFFIXES, ModelController
from .model_settings_dialog import ModelOverrides
from .profile_controller import ProfileController
from .review_queue import ReviewBar, ReviewProxy
from .scoring_controller import ScoringController
from .session import Session
from .settings import Settings
from .side_panel import SidePanel
from .threshold_binding import ThresholdBinding
from .threshold_panel import ThresholdPanel
from .worker import EngineThread, ImageReaderThread

LEFT_WIDTH, SIDE_WIDTH = 280, 300  # the image list's and side panel's widths when the window has room
DOCK_SHARE = 0.36  # the threshold dock's largest share of the window height after a resize


def _forward(owner: str, name: str) -> property:
    """A window attribute that is a controller's (tools and tests read it, some reset it)."""
    return property(lambda self: getattr(getattr(self, owner), name),
                    lambda self, value: setattr(getattr(self, owner), name, value))


class MainWindow(QMainWindow):
    def __init__(self, settings: Settings | None = None, parent=None, model_process=None, backend: str = "auto") -> None:
        """`model_process`: an `engine.forward_process.ForwardProcess` to run models in (what
        `scriptlens` does); None runs them in this process (most tests). `backend`: what runs
        models (`engine.model_info.BACKEND_MODES`) until Model settings changes it."""
        super().__init__(parent)
        self._model_process = model_process
        self.setWindowTitle("ScriptLens")
        self.setAcceptDrops(True)
        self.settings = settings or Settings()
        self.cache = CandidateCache()
        self.engine = EngineThread(self.cache, host=model_process)
        self.scanner = FolderScanner(self)
        self.worker = self.engine.worker
        self.reader = ImageReaderThread(self.cache, name="scriptlens-images")  # decodes pictures only
        self.edits = EditStore(self)  # autosaved hand edits + undo stack (gui/edits.py)
        self.session = Session(self)
        self._overlays_on = True
        self._dock_share: float | None = None  # the threshold dock's share of the height (resizeEvent)
        self._auto_split: list[int] | None = None  # the column widths resizeEvent last set
        self._split_restored = False  # the columns come from the last session's settings
        self._sized_h = 0  # the window height resizeEvent last laid out for
        self._build_widgets()
        self.feedback = Feedback(self.banner, self.statusBar())
        self.threshold_binding = ThresholdBinding(self.session, self.side_panel, self.threshold_panel, self)
        self._build_controllers(model_process, backend)
        build_actions(self)
        self._rebuild_recent_menu()
        self.session.folderChanged.connect(self._on_session_folder_changed)
        self.session.modelChanged.connect(self._rebuild_recent_menu)
        self.canvas.zoomChanged.connect(lambda factor: self.zoom_label.setText(f"{factor * 100:.0f}%"))
        self._restore_settings()
        self.canvas.setFocus()

    def _build_controllers(self, model_process, backend: str) -> None:
        """Session listeners run in the order they connect, and that order matters: the model
        controller rebuilds the class widgets first; edits are bound and the scorer reset before
        the ground truth is found (whose signal starts the rescoring); browsing comes last, so the
        current image is redrawn with all of that in place."""
        ids, s, fb = itertools.count(1), self.session, self.feedback
        self.export_controller = ExportController(s, self.worker, self.edits, self.image_list, self.settings,
                                                  fb, ids, self)
        self.model_controller = ModelController(
            s, self.worker, self.cache, self.side_panel, self.threshold_panel, self.threshold_binding,
            self.load_label, self.load_progress, self.device_label, self.settings, fb, ids, self,
            model_process, export_running=lambda: self.export_controller.running, backend=backend)
        self.edit_controller = EditController(s, self.edits, self.canvas, self.image_list, self.review_proxy,
                                              self.review_bar, fb, go_to=lambda row: self.browse.go_to(row),
                                              image_wh=lambda: self.browse.image_wh(), parent=self)
        self.scoring = ScoringController(s, self.worker, self.cache, self.edits, self.threshold_panel,
                                         self.side_panel, self.image_list, self.review_proxy, fb, ids, self)
        self.ground_truth_controller = GroundTruthController(s, self.threshold_panel, fb,
                                                             self.export_controller.labels_dir, self)
        self.profiles = ProfileController(s, self.threshold_panel, self.settings, fb, self)
        self.browse = BrowseController(
            s, self.worker, self.reader.worker, self.cache, self.scanner, self.image_list, self.canvas,
            self.side_panel, self.threshold_panel, self.edits, self.timings_label, self.load_label, self.settings,
            fb, ids, truth_for=self.ground_truth_controller.truth_for,
            reload_action=self.model_controller.reload_action, parent=self)
        self.scoring.statsReady.connect(self.ground_truth_controller.report_unreadable_labels)
        self.export_controller.labelsWritten.connect(self.ground_truth_controller.on_labels_written)

    # ------------------------------------------------------------------ building
    def _build_widgets(self) -> None:
        self.review_proxy = ReviewProxy()
        self.image_list = ImageListWidget(proxy=self.review_proxy)
        self.review_bar = ReviewBar()
        self.canvas = Canvas()
        self.banner = Banner()
        self.side_panel = SidePanel()
        center = QWidget()
        center_layout = QVBoxLayout(center)
        center_layout.setContentsMargins(0, 0, 0, 0)
        center_layout.setSpacing(0)
        center_layout.addWidget(self.banner)
        center_layout.addWidget(self.canvas, 1)
        side_scroll = QScrollArea()
        side_scroll.setWidget(self.side_panel)
        side_scroll.setWidgetResizable(True)
        side_scroll.setMinimumWidth(220)
        side_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # it wraps instead
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.review_bar)
        left_layout.addWidget(self.image_list, 1)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(center)
        self.splitter.addWidget(side_scroll)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([300, 800, 300])
        self.setCentralWidget(self.splitter)
        self.threshold_panel = ThresholdPanel()
        self.threshold_dock = QDockWidget("Thresholds on the whole folder", self)
        self.threshold_dock.setObjectName("threshold-dock")
        # in a scroll area: the dock can then shrink below the panel's natural height on a small
        # window (at 640x480 it used to take most of the height and leave a 130x60 px image)
        dock_scroll = QScrollArea()
        dock_scroll.setWidget(self.threshold_panel)
        dock_scroll.setWidgetResizable(True)
        dock_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.threshold_dock.setWidget(dock_scroll)
        self.threshold_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetClosable
                                        | QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.threshold_dock)
        self.threshold_dock.installEventFilter(self)

        bar = self.statusBar()
        self.load_progress = QProgressBar()
        self.load_progress.setMaximumWidth(160)
        self.load_progress.setTextVisible(False)
        self.load_progress.hide()
        self.load_label = QLabel()
        self.timings_label = QLabel("")

        self.device_label = QLabel("no model")
        self.zoom_label = QLabel("")
        bar.addWidget(self.load_label)
        bar.addWidget(self.load_progress)
        bar.addPermanentWidget(self.timings_label)
        bar.addPermanentWidget(self.zoom_label)
        bar.addPermanentWidget(self.device_label)

    def _on_session_folder_changed(self, folder: Path) -> None:
        self._rebuild_recent_menu()
        self.setWindowTitle(folder.name)  # Qt adds " — ScriptLens" (the application display name)

    def _rebuild_recent_menu(self, *_args) -> None:
        rebuild_recent_menu(self.recent_menu, self.settings, self.open_model, self.open_folder)

    def shortcut_table(self) -> list[tuple[str, str]]:
        return shortcut_table(self.actions())

    def show_help(self) -> None:
        HelpDialog(self.shortcut_table(), self).exec()

    def toggle_overlays(self) -> None:
        self._overlays_on = not self._overlays_on
        self.toggle_overlay_action.setChecked(self._overlays_on)
        self.canvas.set_overlay_visible(self._overlays_on)

    # ------------------------------------------------------------------ settings
    def _restore_settings(self) -> None:
        s = self.settings
        geometry = s.geometry()
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1360, 840)
        state = s.window_state()
        if state is not None:
            self._split_restored = self.splitter.restoreState(state)
        self.session.set_thresholds(Thresholds(
            conf=s.get_float("thresholds/conf", 0.25), iou=s.get_float("thresholds/iou", 0.45),
            agnostic=s.get_bool("thresholds/agnostic", False), max_det=max(1, s.get_int("thresholds/max_det", 300))))
        self.session.update_display(show_names=s.get_bool("display/labels", True),
                                    show_confidences=s.get_bool("display/confidences", True))

    def save_settings(self) -> None:
        s = self.settings
        s.set_geometry(self.saveGeometry())
        s.set_window_state(self.splitter.saveState())
        t = self.thresholds()
        s.set("thresholds/conf", t.conf)
        s.set("thresholds/iou", t.iou)
        s.set("thresholds/agnostic", t.agnostic)
        s.set("thresholds/max_det", t.max_det)
        s.set("display/labels", self.session.display.show_names)
        s.set("display/confidences", self.session.display.show_confidences)
        s.sync()

    # ------------------------------------------------------------------ public API (delegations)
    def thresholds(self) -> Thresholds:
        return self.session.thresholds

    model_id = property(lambda self: self.session.model_id)
    model_info = property(lambda self: self.session.model_info)
    paths = property(lambda self: list(self.session.paths))
    current_row = property(lambda self: self.session.row)
    current_path = property(lambda self: self.session.current_path)
    ground_truth = property(lambda self: self.session.gt_source)
    detections: Detections = _forward("browse", "detections")
    last_image_counts = _forward("browse", "last_image_counts")  # TP, FP, missed on this image
    first_detections_shown = _forward("browse", "first_detections_shown")
    folder_opened = _forward("browse", "folder_opened")
    folder_stats = _forward("scoring", "stats")
    stats_requests = _forward("scoring", "stats_requests")  # how many folder scans were asked for
    last_export_summary = _forward("export_controller", "last_export_summary")
    # asked before an export writes into someone's labels (engine.label_guard); tests assign a function
    confirm_protected_export: Callable = _forward("export_controller", "confirm")

    def open_model(self, path: Path | str, overrides: ModelOverrides | None = None) -> int:
        return self.model_controller.open_model(path, overrides)

    def open_folder(self, folder: Path | str, select: Path | str | None = None, wait: bool = False) -> int:
        return self.browse.open_folder(folder, select, wait)

    def go_to(self, row: int) -> None:
        self.browse.go_to(row)

    def next_image(self) -> None:
        self.browse.step(+1)

    def previous_image(self) -> None:
        self.browse.step(-1)

    def export(self, choice: ExportChoice) -> int | None:
        return self.export_controller.export(choice)

    def export_defaults(self) -> ExportChoice:
        return self.export_controller.export_defaults()

    def labels_dir(self) -> Path | None:
        return self.export_controller.labels_dir()

    def cancel_export(self) -> None:
        self.export_controller.cancel()

    def ground_truth_root(self) -> Path | None:
        return self.session.ground_truth_root

    def set_ground_truth_folder(self, folder: Path | str | None) -> None:
        self.ground_truth_controller.set_ground_truth_folder(folder)

    def request_folder_stats(self, quick: bool = False) -> int | None:
        return self.scoring.request_folder_stats(quick)

    def save_profile(self, path: Path) -> None:
        self.profiles.save_profile(path)

    def load_profile(self, path: Path) -> bool:
        return self.profiles.load_profile(path)

    def set_edit_mode(self, on: bool) -> None:
        self.edit_controller.set_edit_mode(on)

    def edit_context_menu(self, scene_pos) -> QMenu | None:
        return self.edit_controller.context_menu(scene_pos)

    def is_idle(self) -> bool:
        """No request pending or running in either worker (tests and tools wait for this)."""
        return self.worker.is_idle() and self.reader.worker.is_idle()

    def show_error(self, message: str, action: tuple[str, Callable[[], object]] | None = None,
                   cause: str = "") -> None:
        self.feedback.error(message, action, cause)

    def show_info(self, message: str) -> None:
        self.feedback.info(message)

    # ------------------------------------------------------------------ Qt events
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        for url in event.mimeData().urls():
            if url.isLocalFile():
                self.open_path(Path(url.toLocalFile()))
        event.acceptProposedAction()

    def open_path(self, path: Path) -> None:
        """Whatever was dropped: a folder, a model file or an image (opens its folder)."""
        if path.is_dir():
            self.open_folder(path)
        elif path.suffix.lower() in IMAGE_EXTENSIONS:
            self.open_folder(path.parent, select=path)
        elif path.suffix.lower() in MODEL_SUFFIXES or path.is_file():
            self.open_model(path)
        else:
            self.show_error(f"Cannot open {path}: not a folder, an image or a model file.")

    def resizeEvent(self, event) -> None:
        """Keep the image the biggest thing at any window size: the threshold dock keeps its share of
        the height (at most DOCK_SHARE; a separator the user dragged sets the share), and the image
        column keeps at least half the width."""
        super().resizeEvent(event)
        dock, h = self.threshold_dock, self.height()
        if dock.isVisible() and not dock.isFloating() and h > 0:
            old_h = event.oldSize().height()
            share = self._dock_share if self._dock_share is not None else dock.height() / max(old_h, h)
            share = min(share, DOCK_SHARE)
            self.resizeDocks([dock], [max(80, int(share * h))], Qt.Orientation.Vertical)
            self._dock_share = share
        self._sized_h = h
        sizes = self.splitter.sizes()
        total = sum(sizes)
        if not self.isVisible() or len(sizes) != 3 or total <= 0:
            return  # laid out for real once shown
        # The columns follow the width (list and side panel at their preferred widths, giving way on
        # a narrow window) unless the person set them -- dragged, or restored from the last session --
        # and even then the image keeps at least half the width.
        auto = self._auto_split  # a window resize changes only the centre (the only column that stretches)
        chosen = (sizes[0], sizes[2]) != (auto[0], auto[2]) if auto is not None else self._split_restored
        if not chosen or sizes[1] < 0.5 * total:
            left, side = int(min(LEFT_WIDTH, 0.22 * total)), int(min(SIDE_WIDTH, 0.28 * total))
            self.splitter.setSizes([left, total - left - side, side])
            self._auto_split = self.splitter.sizes()

    def eventFilter(self, watched, event) -> bool:
        # the dock resized while the window kept its size: the user dragged the separator
        if watched is self.threshold_dock and event.type() == QEvent.Type.Resize and self._sized_h == self.height() > 0:
            self._dock_share = self.threshold_dock.height() / self.height()
        return super().eventFilter(watched, event)

    def closeEvent(self, event) -> None:
        self.edits.save_now()  # edits are autosaved; flush the last 300 ms
        self.save_settings()
        if self._model_process is not None and not self.export_controller.running:
            self._model_process.interrupt()  # do not wait for an image the window will not show
        self.engine.close()
        self.reader.close()
        super().closeEvent(event)
