"""The main window: wires the widgets, the candidate cache and the engine worker.

Widgets know nothing of files or models; this class does, and nothing else touches the
engine. Threshold changes re-run only `apply_thresholds` on cached candidates (~1 ms), right
in the slider handlers, so the overlay follows the slider while it is dragged.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections import OrderedDict
from pathlib import Path
from typing import Callable

import numpy as np
from PySide6.QtCore import QEvent, Qt, QTimer
from PySide6.QtGui import QAction, QImage, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget, QFileDialog, QLabel, QMainWindow, QMenu, QProgressBar, QScrollArea, QSplitter, QStyle,
    QVBoxLayout, QWidget,
)

from engine.candidates import Candidates
from engine.curves import best_f1
from engine.errors import ScriptLensError
from engine.ground_truth import find_ground_truth
from engine.ground_truth_reader import GroundTruth, GroundTruthReader
from engine.label_pairs import images_sharing_a_label_file
from engine.detections import Detections
from engine.export import ExportOptions
from engine.images import IMAGE_EXTENSIONS
from engine.label_guard import assess_export_target, holds_others_labels, safe_default_export_dir
from engine.labels import OnExisting, label_path_for
from engine.model_info import LAYOUT_TEXT
from engine.profile import read_profile, save_profile
from engine.thresholds import Thresholds

from .banner import Banner
from .candidate_cache import CandidateCache
from .canvas import Canvas
from .edits import EditStore
from .export_dialog import ExportChoice, ExportDialog, ExportProgressDialog
from .folder_stats import FLOOR_CONF, StatsRequest, image_counts, scoring_status
from .gt_overlay import LEGEND, prediction_styles
from .folder_scanner import FolderScanner
from .help_dialog import HelpDialog
from .image_list import STATE_ERROR, STATE_EXPORTED, STATE_LABELS_UNREADABLE, ImageListWidget
from .model_settings_dialog import ModelOverrides, ModelSettingsDialog
from .image_view import build_image_view, list_count
from .protected_export_dialog import confirm_protected_export
from .review_queue import ReviewBar, ReviewProxy
from .session import Session, nms_key
from .settings import Settings
from .side_panel import SidePanel
from .threshold_binding import ThresholdBinding
from .threshold_panel import ThresholdPanel
from .worker import EngineThread, ExportRequest, ImageReaderThread, ImageRequest, LoadModelRequest, PrefetchRequest

log = logging.getLogger(__name__)

MODEL_SUFFIXES = {".torchscript", ".pt", ".pth", ".ptl", ".jit", ".zip", ".ts"}
MODEL_FILTER = "TorchScript models (*.torchscript *.pt *.pth *.ptl *.jit *.ts *.zip);;All files (*)"
IMAGE_CACHE_SIZE = 12
PREFETCH_OFFSETS = (1, 2, -1)
STATS_DEBOUNCE_MS = 250  # IoU / agnostic / max-det: rescore the folder this long after the last change
REVIEW_DEBOUNCE_MS = 150  # review-queue keys after a confidence change
QUICK_FLOOR_MIN = 0.05  # below this a quick pass saves little: go straight to the full floor
STUCK_MODEL_S = 1.0  # opening another model stops a model process busy this long on one image
LEFT_WIDTH, SIDE_WIDTH = 280, 300  # the image list's and side panel's widths when the window has room
DOCK_SHARE = 0.36  # the threshold dock's largest share of the window height after a resize
AUTO_SCORE_MAX = 5000  # bigger folders are scored when asked (Score folder): hours of CPU otherwise


class MainWindow(QMainWindow):
    def __init__(self, settings: Settings | None = None, parent=None, model_process=None) -> None:
        """`model_process`: an `engine.forward_process.ForwardProcess` to run models in (what
        `scriptlens` does); None runs them in this process (most tests)."""
        super().__init__(parent)
        self._model_process = model_process
        self.setWindowTitle("ScriptLens")
        self.setAcceptDrops(True)
        self.settings = settings or Settings()
        self.cache = CandidateCache()
        self.engine = EngineThread(self.cache, backend_loader=model_process.load_backend if model_process else None)
        self.scanner = FolderScanner(self)
        self.worker = self.engine.worker
        self.reader = ImageReaderThread(self.cache, name="scriptlens-images")  # decodes pictures only
        self._ids = itertools.count(1)

        # state (all of it; nothing is "set up later")
        self._paths: list[Path] = []
        self._row_of: dict[str, int] = {}
        self._root: Path | None = None
        self._row = -1
        self._scan_id = 0
        self.folder_opened = False
        self._image_cache: OrderedDict[str, QImage] = OrderedDict()
        self._timings: OrderedDict[str, object] = OrderedDict()  # path -> StageTimings of its model run
        self._model_path: Path | None = None
        self._overrides = ModelOverrides()  # the latest model request's; restored when that load fails
        self._loading_overrides = self._loaded_overrides = self._overrides
        self._model_id = 0
        self._loading_id = 0
        self._info = None  # engine.model_info.ModelInfo of the loaded model
        self._latest_image_request = 0
        self._canvas_path: Path | None = None  # the image the canvas shows now
        self._candidates: Candidates | None = None
        self._detections = Detections.empty()
        self._overlays_on = True
        self._labels_dir: Path | None = None
        self._export_request: ExportRequest | None = None
        self._export_progress: ExportProgressDialog | None = None
        self.last_export_summary = None
        self.first_detections_shown = False
        # ground truth, folder statistics, edits, review (issue 5)
        self.edits = EditStore(self)  # autosaved hand edits + undo stack (gui/edits.py)
        self._gt_source = None  # engine.ground_truth.GroundTruthSource of the folder, if any
        self._gt_picked: Path | None = None  # a labels folder the user chose
        self._metric_paths: tuple[Path, ...] = ()  # the folder's images that the metrics use
        self._gt_reader: GroundTruthReader | None = None  # the one reader of eval, the worker and this window
        self._gt_error_shown = False
        self._stats = None  # gui.folder_stats.FolderStats of the current model/folder/NMS settings
        self._stats_request: StatsRequest | None = None
        self.stats_requests = 0  # how many folder scans were asked for (tests count these)
        self._score_big_folder = False  # the user asked to score a folder above AUTO_SCORE_MAX
        self._stats_timer = QTimer(self)
        self._stats_timer.setSingleShot(True)
        self._stats_timer.setInterval(STATS_DEBOUNCE_MS)
        self._review_timer = QTimer(self)
        self._review_timer.setSingleShot(True)
        self._review_timer.setInterval(REVIEW_DEBOUNCE_MS)
        self.last_image_counts: tuple[int, int, int] | None = None  # TP, FP, missed on this image
        self._gt_generation = 0  # bumped when an export rewrote the ground-truth files
        # asked before an export writes into someone's labels (engine.label_guard); tests replace it
        self.confirm_protected_export: Callable = lambda target, policy: confirm_protected_export(self, target, policy)

        self.session = Session(self)  # the thresholds and display flags (gui/session.py)
        self._dock_share: float | None = None  # the threshold dock's share of the height (resizeEvent)
        self._sized_h = 0  # the window height resizeEvent last laid out for
        self._build_widgets()
        self.threshold_binding = ThresholdBinding(self.session, self.side_panel, self.threshold_panel, self)
        self._build_actions()
        self._connect()
        self._restore_settings()
        self.canvas.setFocus()

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

    def _action(self, text: str, slot, shortcuts=(), menu=None, tip: str = "", checkable=False) -> QAction:
        action = QAction(text, self)
        if shortcuts:
            action.setShortcuts([QKeySequence(s) for s in shortcuts])
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        if tip:
            action.setStatusTip(tip)
        action.setCheckable(checkable)
        action.triggered.connect(slot)
        self.addAction(action)
        if menu is not None:
            menu.addAction(action)
        return action

    def _build_actions(self) -> None:
        mb = self.menuBar()
        file_menu = mb.addMenu("&File")
        view_menu = mb.addMenu("&View")
        edit_menu = mb.addMenu("&Edit")
        go_menu = mb.addMenu("&Go")
        help_menu = mb.addMenu("&Help")
        a = self._action
        self.open_model_action = a("Open &model…", self._on_open_model_triggered, ["Ctrl+O"], file_menu,
                                   "Open a TorchScript detector")
        self.open_folder_action = a("Open &folder…", self._on_open_folder_triggered, ["Ctrl+Shift+O"], file_menu,
                                    "Open a folder of images")
        self.recent_menu = file_menu.addMenu("Open &recent")
        self.model_settings_action = a("Model &settings…", self._on_model_settings_triggered, [], file_menu,
                                       "Input size, class names and anchors when the metadata lacks them")
        file_menu.addSeparator()
        self.export_image_action = a("&Save labels of this image", self._on_export_image_triggered, ["Ctrl+S"],
                                     file_menu, "Write the YOLO label file of the current image")
        self.export_action = a("&Export labels…", self._on_export_triggered, ["Ctrl+E"], file_menu,
                               "Export YOLO labels for this image or the whole folder")
        file_menu.addSeparator()
        self.quit_action = a("&Quit", self.close, ["Ctrl+Q"], file_menu)

        self.fit_action = a("&Fit to window", self.canvas.fit, ["F"], view_menu)
        self.actual_action = a("&Actual size (1:1)", self.canvas.actual_size, ["1"], view_menu)
        self.zoom_in_action = a("Zoom &in", self.canvas.zoom_in, ["+", "=", "Ctrl++"], view_menu)
        self.zoom_out_action = a("Zoom &out", self.canvas.zoom_out, ["-", "Ctrl+-"], view_menu)
        self.toggle_overlay_action = a("Show/hide &overlays", self._on_toggle_overlay_triggered, ["Space"], view_menu,
                                       checkable=True)
        self.toggle_overlay_action.setChecked(True)

        self.next_action = a("&Next image", self.next_image, ["Right", "D"], go_menu)
        self.prev_action = a("&Previous image", self.previous_image, ["Left", "A"], go_menu)
        self.first_action = a("&First image", self._on_first_triggered, ["Home"], go_menu)
        self.last_action = a("&Last image", self._on_last_triggered, ["End"], go_menu)
        self.find_action = a("Filter &images…", self.image_list.focus_filter, ["Ctrl+F"], go_menu)
        self.help_action = a("&Keyboard shortcuts", self._on_help_triggered, ["F1"], help_menu)
        self.open_gt_action = a("Open &ground-truth labels…", self._on_open_gt_triggered, [], None,
                                "Pick the folder of YOLO labels to compare the predictions with")
        file_menu.insertAction(self.export_image_action, self.open_gt_action)

        self.undo_action = self.edits.undo_stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcuts([QKeySequence("Ctrl+Z")])
        self.redo_action = self.edits.undo_stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        for action in (self.undo_action, self.redo_action):
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            self.addAction(action)
            edit_menu.addAction(action)
        edit_menu.addSeparator()
        self.edit_mode_action = a("&Edit boxes", self._on_edit_mode_triggered, ["E"], edit_menu,
                                  "Select, move, resize, draw (drag on empty image) and delete boxes", checkable=True)
        self.delete_box_action = a("&Delete selected box", self._on_delete_box_triggered, ["Delete", "Backspace"],
                                   edit_menu)
        self.cycle_class_action = a("&Change class of selected box", self._on_cycle_class_triggered, ["C"], edit_menu,
                                    "Next class (right-click a box to pick one)")
        self.revert_action = a("&Revert this image to the model's boxes", self._on_revert_triggered, [], edit_menu)
        edit_menu.addSeparator()
        self.accept_action = a("&Accept image and go to the next", self._on_accept_triggered, ["Ctrl+Return", "Ctrl+Enter"],
                               go_menu, "Mark this image as reviewed and move on in the review order")
        view_menu.addAction(self.threshold_dock.toggleViewAction())

        style = self.style()
        for action, icon in ((self.open_model_action, QStyle.StandardPixmap.SP_FileIcon),
                             (self.open_folder_action, QStyle.StandardPixmap.SP_DirOpenIcon),
                             (self.export_action, QStyle.StandardPixmap.SP_DialogSaveButton),
                             (self.prev_action, QStyle.StandardPixmap.SP_ArrowBack),
                             (self.next_action, QStyle.StandardPixmap.SP_ArrowForward)):
            action.setIcon(style.standardIcon(icon))
        tb = self.addToolBar("Main")
        tb.setObjectName("main-toolbar")
        tb.setMovable(False)
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for action in (self.open_model_action, self.open_folder_action, self.export_action, None,
                       self.prev_action, self.next_action, None, self.fit_action, self.actual_action,
                       self.toggle_overlay_action):
            if action is None:
                tb.addSeparator()
            else:
                tb.addAction(action)
        self._rebuild_recent_menu()

    def shortcut_table(self) -> list[tuple[str, str]]:
        rows = []
        for action in self.actions():
            keys = ", ".join(s.toString(QKeySequence.SequenceFormat.NativeText) for s in action.shortcuts())
            if keys:
                rows.append((keys, action.text().replace("&", "").rstrip("…")))
        rows.append(("Mouse wheel", "Zoom around the cursor"))
        rows.append(("Drag", "Pan"))
        return rows

    def _connect(self) -> None:
        w = self.worker
        w.modelLoading.connect(self._on_worker_model_loading)
        w.modelLoaded.connect(self._on_worker_model_loaded)
        w.modelFailed.connect(self._on_worker_model_failed)
        w.imageLoaded.connect(self._on_worker_image_loaded)
        w.predicted.connect(self._on_worker_predicted)
        w.imageFailed.connect(self._on_worker_image_failed)
        self.reader.worker.imageLoaded.connect(self._on_worker_image_loaded)
        self.reader.worker.imageFailed.connect(self._on_worker_image_failed)
        w.exportProgress.connect(self._on_worker_export_progress)
        w.exportFinished.connect(self._on_worker_export_finished)
        w.exportFailed.connect(self._on_worker_export_failed)
        self.scanner.finished.connect(self._on_scanner_finished)
        self.image_list.currentRowChanged.connect(self._on_image_list_current_row_changed)
        self.image_list.filterFinished.connect(self._on_image_list_filter_finished)
        self.session.thresholdsChanged.connect(self._on_session_thresholds_changed)
        self.session.displayChanged.connect(self._refresh_detections)
        self.canvas.boxHovered.connect(self._on_canvas_box_hovered)
        self.canvas.zoomChanged.connect(self._on_canvas_zoom_changed)
        self.canvas.editor.edited.connect(self._on_editor_edited)
        self.canvas.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.canvas.customContextMenuRequested.connect(self._on_canvas_context_menu_requested)
        w.statsProgress.connect(self._on_worker_stats_progress)
        w.statsReady.connect(self._on_worker_stats_ready)
        w.statsFailed.connect(self._on_worker_stats_failed)
        self._stats_timer.timeout.connect(self._on_stats_timer_timeout)
        self._review_timer.timeout.connect(self._update_review_keys)
        tp = self.threshold_panel
        tp.bestF1Requested.connect(self._on_threshold_panel_best_f1_requested)
        tp.confPicked.connect(self._on_threshold_panel_conf_picked)
        tp.classViewChanged.connect(self._update_threshold_panel)
        tp.saveProfileRequested.connect(self._on_threshold_panel_save_profile_requested)
        tp.loadProfileRequested.connect(self._on_threshold_panel_load_profile_requested)
        tp.pickGroundTruthRequested.connect(self._on_open_gt_triggered)
        tp.scoreFolderRequested.connect(self._on_threshold_panel_score_folder_requested)
        tp.stopScoringRequested.connect(self._on_threshold_panel_stop_scoring_requested)
        self.side_panel.iouReleased.connect(self._on_side_panel_iou_released)
        self.edits.changed.connect(self._on_edits_changed)
        self.edits.reviewedChanged.connect(self._on_edits_reviewed_changed)
        self.review_bar.orderChanged.connect(self._on_review_bar_order_changed)
        self.review_bar.filterChanged.connect(self._on_review_bar_filter_changed)

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
            self.splitter.restoreState(state)
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

    def export_defaults(self) -> ExportChoice:
        s = self.settings
        return ExportChoice(
            whole_folder=True,
            out_dir=self.labels_dir() or Path("labels"),
            save_conf=s.get_bool("export/save_conf", False),
            empty_files=s.get_bool("export/empty_files", True),
            write_classes=s.get_bool("export/write_classes", True),
            on_existing=s.get_str("export/on_existing", "skip"),
        )

    def _remember_export_choice(self, choice: ExportChoice) -> None:
        s = self.settings
        s.set("export/save_conf", choice.save_conf)
        s.set("export/empty_files", choice.empty_files)
        s.set("export/write_classes", choice.write_classes)
        s.set("export/on_existing", choice.on_existing)

    def _rebuild_recent_menu(self) -> None:
        self.recent_menu.clear()
        for kind, opener in (("models", self.open_model), ("folders", self.open_folder)):
            for path in self.settings.recent(kind):
                action = self.recent_menu.addAction(path)
                action.triggered.connect(lambda _=False, p=path, f=opener: f(Path(p)))
            self.recent_menu.addSeparator()
        self.recent_menu.setEnabled(not self.recent_menu.isEmpty())

    # ------------------------------------------------------------------ public API
    def thresholds(self) -> Thresholds:
        return self.session.thresholds

    @property
    def model_id(self) -> int:
        return self._model_id

    @property
    def model_info(self):
        return self._info

    @property
    def paths(self) -> list[Path]:
        return list(self._paths)

    @property
    def current_row(self) -> int:
        return self._row

    @property
    def current_path(self) -> Path | None:
        return self._paths[self._row] if 0 <= self._row < len(self._paths) else None

    @property
    def detections(self) -> Detections:
        return self._detections

    def labels_dir(self) -> Path | None:
        """The export folder: the one last exported to, else the default -- never the folder loaded as
        ground truth nor one holding label files ScriptLens did not write (engine.label_guard)."""
        if self._root is None:
            return None
        gt_root = self.ground_truth_root()
        last = self._labels_dir
        if last is not None and last != gt_root and not holds_others_labels(last):
            return last
        return safe_default_export_dir(self._root, gt_root)

    def ground_truth_root(self) -> Path | None:
        """The folder ground truth is read from (the images folder for labels beside the images)."""
        source = self._gt_source
        if source is None:
            return None
        return source.labels_root if source.labels_root is not None else source.images_root

    def show_error(self, message: str, action: tuple[str, Callable[[], object]] | None = None,
                   cause: str = "") -> None:
        """`cause`: what the message is about ("image", "model", "profile", "folder", "ground-truth");
        the banner goes when that cause does (Banner.clear)."""
        log.warning("%s", message)
        self.banner.show_message(message, "error", action, cause)
        self.statusBar().showMessage(message.splitlines()[0], 8000)

    def show_info(self, message: str) -> None:
        self.banner.show_message(message, "info")
        self.statusBar().showMessage(message.splitlines()[0], 8000)

    def open_model(self, path: Path | str, overrides: ModelOverrides | None = None) -> int:
        path = Path(path)
        if overrides is None and path != self._model_path:
            overrides = ModelOverrides()
        if overrides is not None:
            self._overrides = overrides
        o = self._loading_overrides = self._overrides
        self._interrupt_stuck_model(f"to open {path.name}")
        request = LoadModelRequest(next(self._ids), path, o.device, o.imgsz, o.names, o.anchors, o.half)
        self._loading_id = request.id
        self.load_label.setText(f"Loading {path.name}…")
        self.load_progress.setRange(0, 0)  # busy until the worker reports a stage
        self.load_progress.show()
        self.worker.submit_load(request)
        return request.id

    def _interrupt_stuck_model(self, why: str) -> None:
        """A model that has run one image for a while (stuck, or far too slow here) would hold
        the engine until it returns: stop its process instead (never during an export, which
        would lose images). Only possible when models run in a model process."""
        process = self._model_process
        if process is None or self._export_request is not None:
            return
        seconds = process.busy_for()
        if seconds >= STUCK_MODEL_S and process.interrupt():
            self.statusBar().showMessage(f"The model had been running one image for {seconds:.0f} s: stopped it {why}.", 10000)

    def open_folder(self, folder: Path | str, select: Path | str | None = None, wait: bool = False) -> int:
        """List the folder in the background (`wait=True`: right now) and show its first image."""
        scan_id = next(self._ids)
        self._scan_id = scan_id
        folder = Path(folder)
        select = Path(select) if select is not None else None
        if wait:
            self._on_scanner_finished(self.scanner.scan_now(scan_id, folder, select))
        else:
            self.load_label.setText(f"Listing {folder.name}…")
            self.scanner.start(scan_id, folder, select)
        return scan_id

    def _on_scanner_finished(self, result) -> None:
        if result.scan_id != self._scan_id:
            return  # another folder was opened meanwhile
        self.load_label.setText("")
        if result.error:
            self.show_error(result.error, cause="folder")
            return
        folder, paths, select = result.folder, result.paths, result.select
        for cause in ("folder", "ground-truth", self.banner.cause if self.banner.cause.startswith("image:") else ""):
            self.banner.clear(cause)  # about the previous folder
        self._root = folder
        self._paths = paths
        self._row_of = {str(p): i for i, p in enumerate(paths)}
        self._labels_dir = None
        self._gt_source = None  # the previous folder's; found again below
        self._image_cache.clear()
        self._row = -1
        self.image_list.set_names(result.names, self._labelled_probe())
        self._gt_picked = None
        self._score_big_folder = False
        self._on_folder_or_model_changed()
        self.folder_opened = True
        self.settings.set("last/folder", str(folder))
        self.settings.add_recent("folders", str(folder))
        self._rebuild_recent_menu()
        self.setWindowTitle(folder.name)  # Qt adds " — ScriptLens" (the application display name)
        if not paths:
            self._set_canvas_image(None, None)
            self.canvas.set_placeholder(f"No images in {folder}")
            self.show_error(f"No images found in {folder} (looked for {', '.join(sorted(IMAGE_EXTENSIONS))}).")
            return
        row = self._row_of.get(str(select), 0) if select is not None else 0
        self.go_to(row)

    def _labelled_probe(self):
        """row -> whether that image has a label file in the export folder (None: no folder)."""
        root, out = self._root, self.labels_dir()
        if root is None or out is None:
            return None
        paths = self._paths
        return lambda row: label_path_for(paths[row], root, out).exists()

    def _install_labelled_probe(self) -> None:
        self.image_list.model.set_labelled_probe(self._labelled_probe())

    def go_to(self, row: int) -> None:
        if not 0 <= row < len(self._paths):
            return
        self._row = row
        self.image_list.set_current_row(row)
        path = self._paths[row]
        if self.banner.cause.startswith("image:") and self.banner.cause != f"image:{path}":
            self.banner.clear(self.banner.cause)  # about the image the user has left
        key = str(path)
        image = self._image_cache.get(key)
        if image is not None:
            self._image_cache.move_to_end(key)
            self._set_canvas_image(path, image)
        else:
            self.canvas.overlay.clear()
        candidates = self.cache.get(self._model_id, path) if self._model_id else None
        self._candidates = candidates
        self.canvas.editor.select(-1)  # a selection belongs to the image it was made on
        self._detections = Detections.empty()
        if candidates is not None and image is not None:
            self._show_timings(self._timings.get(key), cached=True)
            self._refresh_detections()
        want_prediction = bool(self._model_id) and candidates is None
        request_id = next(self._ids) if image is None or want_prediction else 0
        self._latest_image_request = request_id
        if image is None:
            self.reader.worker.submit_image(ImageRequest(request_id, path, 0, True, False))
        if want_prediction:
            self.worker.submit_image(ImageRequest(request_id, path, self._model_id, False, True))
        self._prefetch_around(row)

    def next_image(self) -> None:
        row = self.image_list.neighbour(self._row, +1)
        if row is not None and row != self._row:
            self.go_to(row)

    def previous_image(self) -> None:
        row = self.image_list.neighbour(self._row, -1)
        if row is not None and row != self._row:
            self.go_to(row)

    def export(self, choice: ExportChoice) -> int | None:
        """Start an export (no dialog): the current image or the whole folder."""
        if not self._model_id or self._info is None:
            self.show_error("Open a model before exporting labels.")
            return None
        if self._root is None or not self._paths:
            self.show_error("Open a folder of images before exporting labels.")
            return None
        if self._export_request is not None:
            self.show_error("An export is already running.")
            return None
        paths = tuple(self._paths) if choice.whole_folder else ((self.current_path,) if self.current_path else ())
        if not paths:
            return None
        policy = OnExisting(choice.on_existing)
        target = assess_export_target(Path(choice.out_dir), paths, self._root, self.ground_truth_root())
        if target.needs_confirmation(replaces_existing=policy is not OnExisting.SKIP):
            confirmed = self.confirm_protected_export(target, policy)
            if confirmed is None:
                self.statusBar().showMessage(f"Export cancelled: nothing written to {choice.out_dir}.", 8000)
                return None
            policy = confirmed
        options = ExportOptions(save_conf=choice.save_conf, empty_files=choice.empty_files,
                                write_classes=choice.write_classes, on_existing=policy)
        request = ExportRequest(next(self._ids), self._model_id, paths, self._root, Path(choice.out_dir),
                                tuple(self._info.names), self.thresholds(), options, edits=self.edits.snapshot())
        self._export_request = request
        self._labels_dir = Path(choice.out_dir)
        self._remember_export_choice(choice)
        if choice.whole_folder:
            self._export_progress = ExportProgressDialog(len(paths), self)
            self._export_progress.canceled.connect(self._on_export_progress_canceled)
            self._export_progress.show()
        self.statusBar().showMessage(f"Exporting {len(paths)} image(s) to {choice.out_dir}…")
        self.worker.submit_export(request)
        return request.id

    def cancel_export(self) -> None:
        self.worker.cancel_export()

    # ------------------------------------------------------------------ internals
    def _prefetch_around(self, row: int) -> None:
        if not self._model_id:
            return
        paths = []
        for offset in PREFETCH_OFFSETS:
            r = self.image_list.neighbour(row, offset)
            if r is not None and r != row:
                p = self._paths[r]
                if self.cache.get(self._model_id, p) is None or str(p) not in self._image_cache:
                    paths.append(p)
        if paths:
            self.worker.submit_prefetch(PrefetchRequest(next(self._ids), tuple(paths), self._model_id))

    def _set_canvas_image(self, path: Path | None, image: QImage | None) -> None:
        self._canvas_path = path
        self.canvas.set_image(image)
        if image is not None:
            self.canvas.set_placeholder("")

    def is_idle(self) -> bool:
        """No request pending or running in either worker (tests and tools wait for this)."""
        return self.worker.is_idle() and self.reader.worker.is_idle()

    def _cache_image(self, path: Path, image: QImage) -> None:
        self._image_cache[str(path)] = image
        self._image_cache.move_to_end(str(path))
        while len(self._image_cache) > IMAGE_CACHE_SIZE:
            self._image_cache.popitem(last=False)

    def _refresh_detections(self, *_args) -> None:
        """Re-apply the thresholds to the cached candidates of the current image (~1 ms) and show
        what `build_image_view` makes of them (gui/image_view.py: edits, ground truth, counts)."""
        c = self._candidates
        path = self.current_path
        edit = self.edits.entry(path) if path is not None else None
        view = None
        if self._info is not None and path is not None:
            d = self.session.display
            wh = edit[1] if edit is not None else (c.geometry.source_hw[1], c.geometry.source_hw[0]) if c is not None else None
            truth = self._ground_truth_for(path, wh) if wh is not None else None
            view = build_image_view(c, edit, self.thresholds(), self._info.names, truth,
                                    d.show_names, d.show_confidences, d.show_ground_truth)
        if view is None:
            self._detections = Detections.empty()
            self.last_image_counts = None
            self.canvas.overlay.clear()
            self.canvas.set_missed([])
            self.canvas.set_badge("")
            self.side_panel.set_class_counts(None)
            self.threshold_panel.set_image_counts("")
            return
        det = self._detections = view.detections
        self.last_image_counts = view.image_counts
        self.side_panel.set_class_counts(view.class_counts)
        self.image_list.model.set_count(self._row, view.list_count)
        self.threshold_panel.set_image_counts(view.summary)
        if self._canvas_path == self.current_path:  # never draw boxes over the previous picture
            styles = prediction_styles(view.tp) if view.tp is not None else None
            self.canvas.set_boxes(det.xyxy.tolist(), det.class_id.tolist(), view.texts, styles)
            self.canvas.set_missed(view.missed)
            self.canvas.set_badge("edited" if view.edited else "")
            self.canvas.editor.set_detections(det, view.image_wh)
            if not self.first_detections_shown:
                self.first_detections_shown = True
                log.info("first detections shown (epoch %.3f, process CPU %.2f s)", time.time(), time.process_time())

    def _show_timings(self, timings, cached: bool = False) -> None:
        if timings is None:
            self.timings_label.setText("cached: no model run" if cached else "")
            return
        text = (f"read {timings.read_ms:.1f} · preprocess {timings.preprocess_ms:.1f} · "
                f"inference {timings.inference_ms:.1f} · post-process {timings.postprocess_ms:.1f} ms"
                + ("  (cached, not re-run)" if cached else ""))
        self.timings_label.setText(text)
        self.timings_label.setToolTip(text)

    # ------------------------------------------------------------------ worker handlers
    def _on_worker_model_loading(self, request_id: int, message: str, percent: int) -> None:
        if request_id != self._loading_id:
            return
        self.load_label.setText(message)
        self.load_progress.setRange(0, 100)
        self.load_progress.setValue(percent)

    def _on_worker_model_loaded(self, request_id: int, info) -> None:
        if request_id != self._loading_id:
            return  # a newer model was asked for meanwhile
        self.load_progress.hide()
        self.load_label.setText("")
        self._model_id = request_id
        self._info = info
        self._model_path = Path(info.path)
        self._loaded_overrides = self._loading_overrides
        self.cache.clear()
        self._timings.clear()
        self.image_list.model.clear_counts()
        names = tuple(info.names)
        h, w = info.input_hw
        self.side_panel.set_model_info({
            "File": Path(info.path).name,
            "FileTip": str(info.path),
            "Layout": LAYOUT_TEXT.get(info.layout, (info.layout, ""))[0],
            "LayoutTip": LAYOUT_TEXT.get(info.layout, ("", ""))[1],
            "Input": f"{w}×{h}" + (f", stride {info.stride}" if info.stride else ""),
            "Device": f"{info.device} ({info.precision})",
            "Classes": str(len(names)),
        })
        self.side_panel.set_classes(names)
        self.threshold_panel.set_classes(names)
        self.threshold_binding.reset_classes(len(names))
        self._on_folder_or_model_changed()
        self.side_panel.set_iou_enabled(not info.end2end)
        self.device_label.setText(f"device: {info.device}" + (f" {info.precision}" if info.half else ""))
        self.settings.set("last/model", str(info.path))
        self.settings.add_recent("models", str(info.path))
        self._rebuild_recent_menu()
        self.statusBar().showMessage(f"Model loaded: {Path(info.path).name} ({info.layout}, {len(names)} classes)", 5000)
        self.banner.clear("model")
        guessed = [what for key, what in (("names", "class names"), ("imgsz", "input size"))
                   if str(info.sources.get(key, "")).startswith(("default", "probed"))]
        notes = []
        if guessed:
            notes.append(f"The model file does not say its {' or '.join(guessed)}; ScriptLens guessed "
                         f"({', '.join(names[:3])}{'…' if len(names) > 3 else ''}; {w}×{h}). "
                         "Set them in File ▸ Model settings… if they are wrong.")
        if self._loaded_overrides.half and not info.half:
            notes.append("Reduced precision needs a GPU, or a CPU with AVX-512 BF16 or AMX; this CPU has neither, "
                         "so the model runs in float32.")
        if notes:
            self.show_info(" ".join(notes))
        if self._row >= 0:
            self.go_to(self._row)

    def _on_worker_model_failed(self, request_id: int, message: str) -> None:
        if request_id != self._loading_id:
            return
        self.load_progress.hide()
        self.load_label.setText("")
        message = message.rstrip()
        if not message.endswith("."):
            message += "."
        self._overrides = self._loaded_overrides  # the settings of the model still in use (Model settings, reload)
        reload = self._reload_action()  # the file crashed the model process, and the model in use with it
        if reload is not None:
            still = f" ({self._model_path.name} stopped with the model process.)"
        else:
            still = f" (Still using {self._model_path.name}.)" if self._model_id and self._model_path else ""
        self.show_error(f"Cannot load the model: {message}{still}", reload, cause="model")

    def _on_worker_image_loaded(self, result) -> None:
        if result.image is not None:
            self._cache_image(result.path, result.image)
        if result.request_id != self._latest_image_request or result.path != self.current_path:
            return  # stale: the user has moved on
        if result.image is not None:
            self._set_canvas_image(result.path, result.image)
        if self._candidates is not None:
            self._refresh_detections()

    def _on_worker_predicted(self, result) -> None:
        if result.model_id != self._model_id:
            return  # output of a previous model
        self.cache.put(result.model_id, result.path, result.candidates)
        if result.timings is not None:
            self._timings[str(result.path)] = result.timings
            while len(self._timings) > 4096:
                self._timings.popitem(last=False)
        if result.image is not None:
            self._cache_image(result.path, result.image)
        row = self._row_of.get(str(result.path))
        current = result.path == self.current_path
        if not current:  # a neighbour computed ahead: fill in its count
            if row is not None:
                self.image_list.model.set_count(row, list_count(self.thresholds(), result.candidates,
                                                                self.edits.entry(result.path)))
            return
        if result.request_id and result.request_id != self._latest_image_request:
            return
        self._candidates = result.candidates
        if self._canvas_path != result.path and str(result.path) in self._image_cache:
            self._set_canvas_image(result.path, self._image_cache[str(result.path)])
        self._show_timings(result.timings or self._timings.get(str(result.path)), cached=result.timings is None)
        if row is not None:
            self._refresh_detections()

    def _on_worker_image_failed(self, request_id: int, path, message: str) -> None:
        row = self._row_of.get(str(path))
        if row is not None:
            self.image_list.model.set_state(row, STATE_ERROR, message)
        if request_id == self._latest_image_request and Path(path) == self.current_path:
            self._candidates = None
            self._detections = Detections.empty()
            self._set_canvas_image(None, None)
            self.canvas.set_placeholder(f"Cannot show this image:\n{message}")
            self.side_panel.set_class_counts(None)
            self.threshold_panel.set_image_counts("")  # not the previous image's TP/FP/missed
            self.timings_label.setText("")
            if self.banner.text() != message:  # the reader and the engine may both report it
                reload = self._reload_action()  # the model process stopped: about the model, not this image
                self.show_error(message, reload, cause="model" if reload else f"image:{path}")

    def _reload_action(self) -> tuple[str, Callable[[], object]] | None:
        """A "Reload model" button when the model process has stopped (a crash, or a stuck
        model interrupted): one click starts a fresh one with the same model and settings.
        Not automatic: a model that crashes on every image would restart in a loop."""
        process, path = self._model_process, self._model_path
        if process is None or path is None or process.is_running():
            return None
        return "Reload model", lambda: self.open_model(path, self._overrides)

    def _on_worker_export_progress(self, request_id: int, done: int, total: int) -> None:
        if self._export_progress is not None and self._export_request and request_id == self._export_request.id:
            self._export_progress.set_progress(done, total)

    def _finish_export(self) -> ExportRequest | None:
        request, self._export_request = self._export_request, None
        if self._export_progress is not None:
            self._export_progress.canceled.disconnect(self._on_export_progress_canceled)
            self._export_progress.close()
            self._export_progress.deleteLater()
            self._export_progress = None
        return request

    def _on_worker_export_finished(self, request_id: int, summary) -> None:
        if self._export_request is None or request_id != self._export_request.id:
            return
        request = self._finish_export()
        self.last_export_summary = summary
        failed = {str(p) for p, _ in summary.failed}
        for path in request.paths[: summary.images]:
            row = self._row_of.get(str(path))
            if row is not None and str(path) not in failed:
                self.image_list.model.set_state(row, STATE_EXPORTED)
        self._install_labelled_probe()
        if self._writes_ground_truth(request.out_root):
            self._reload_ground_truth()  # the panel must not go on scoring against replaced labels
        head = "Export cancelled" if summary.cancelled else "Exported"
        text = (f"{head}: {summary.images} of {len(request.paths)} image(s) to {request.out_root} — "
                f"{summary.written} written, {summary.skipped} skipped, {summary.backed_up} backed up, "
                f"{summary.empty} empty, {len(summary.failed)} failed; {summary.detections} boxes "
                f"in {summary.seconds:.1f} s.")
        if summary.failed:
            path, message = summary.failed[0]
            text += f"\nFirst failure: {message}"
        if summary.skipped and not summary.written:
            text += "\nExisting label files were kept (choose Overwrite or Back up in Export labels… to replace them)."
        self.banner.show_message(text, "warning" if summary.failed or summary.cancelled else "info")
        self.statusBar().showMessage(text.splitlines()[0], 10000)

    def _on_worker_export_failed(self, request_id: int, message: str) -> None:
        if self._export_request is None or request_id != self._export_request.id:
            return
        self._finish_export()
        self.show_error(f"Export failed: {message}")

    def _on_export_progress_canceled(self) -> None:
        if self._export_progress is not None:
            self._export_progress.setLabelText("Cancelling after the current image…")
        self.cancel_export()

    # ------------------------------------------------------------------ widget handlers
    def _on_image_list_current_row_changed(self, row: int) -> None:
        if row != self._row:
            self.go_to(row)

    def _on_image_list_filter_finished(self) -> None:
        self.canvas.setFocus()
        if self._row < 0 or not self.image_list.is_visible_row(self._row):
            row = self.image_list.first_last(last=False)
            if row is not None:
                self.go_to(row)

    def _on_session_thresholds_changed(self, new: Thresholds, old: Thresholds) -> None:
        self.image_list.model.clear_counts()  # counts of other images used the old thresholds
        self._refresh_detections()
        self._update_threshold_panel()  # cumulative sums over the folder: follows the slider
        self._review_timer.start()  # list counts and review order: once the slider rests
        if nms_key(new) != nms_key(old):
            self._stats_timer.start()  # debounced: rescoring needs NMS on every image

    def _on_canvas_box_hovered(self, index: int) -> None:
        det = self._detections
        if index < 0 or index >= len(det) or self._info is None:
            self.statusBar().clearMessage()
            return
        x1, y1, x2, y2 = det.xyxy[index].tolist()
        cls = int(det.class_id[index])
        name = self._info.names[cls] if cls < len(self._info.names) else f"class{cls}"
        self.statusBar().showMessage(
            f"{name} {float(det.confidence[index]):.2f}   x1 {x1:.0f}  y1 {y1:.0f}  x2 {x2:.0f}  y2 {y2:.0f}"
            f"   ({x2 - x1:.0f}×{y2 - y1:.0f} px)"
        )

    def _on_canvas_zoom_changed(self, factor: float) -> None:
        self.zoom_label.setText(f"{factor * 100:.0f}%")

    # ------------------------------------------------------------------ action handlers
    def _on_open_model_triggered(self) -> None:
        start = str(self._model_path.parent) if self._model_path else self.settings.get_str("last/model")
        path, _ = QFileDialog.getOpenFileName(self, "Open a TorchScript model", start, MODEL_FILTER)
        if path:
            self.open_model(Path(path))

    def _on_open_folder_triggered(self) -> None:
        start = str(self._root) if self._root else self.settings.get_str("last/folder")
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of images", start)
        if folder:
            self.open_folder(Path(folder))

    def _on_model_settings_triggered(self) -> None:
        info = self._info
        dialog = ModelSettingsDialog(self._overrides, info.input_hw if info else None,
                                     tuple(info.names) if info else (), self)
        if dialog.exec() and self._model_path is not None:
            self.open_model(self._model_path, dialog.overrides())
        elif self._model_path is None:
            self._overrides = dialog.overrides()

    def _on_export_image_triggered(self) -> None:
        defaults = self.export_defaults()
        self.export(ExportChoice(False, defaults.out_dir, defaults.save_conf, defaults.empty_files,
                                 defaults.write_classes, defaults.on_existing))

    def _on_export_triggered(self) -> None:
        if not self._paths:
            self.show_error("Open a folder of images before exporting labels.")
            return
        current = self.current_path
        dialog = ExportDialog(self.export_defaults(), current.name if current else None, len(self._paths), self)
        if dialog.exec():
            self.export(dialog.choice())

    def _on_toggle_overlay_triggered(self) -> None:
        self._overlays_on = not self._overlays_on
        self.toggle_overlay_action.setChecked(self._overlays_on)
        self.canvas.set_overlay_visible(self._overlays_on)

    def _on_first_triggered(self) -> None:
        row = self.image_list.first_last(last=False)
        if row is not None:
            self.go_to(row)

    def _on_last_triggered(self) -> None:
        row = self.image_list.first_last(last=True)
        if row is not None:
            self.go_to(row)

    def _on_help_triggered(self) -> None:
        HelpDialog(self.shortcut_table(), self).exec()

    # ------------------------------------------------------------------ ground truth, folder stats (issue 5)
    def _on_folder_or_model_changed(self) -> None:
        """A new folder or model: find labels, restore that pair's edits, rescore the folder."""
        self._stats = None
        self.threshold_panel.set_scored(None)
        self.threshold_panel.set_status("")
        self._find_ground_truth()
        restored = 0
        if self._root is not None and self._model_path is not None and self._model_id:
            restored = self.edits.bind(self._root, self._model_path)
        else:
            self.edits.bind(None, None)
        # Only rows with an edit or an accept carry a mark: not a Python loop over 20,000 rows.
        self.image_list.model.clear_marks()
        marked = {self._row_of.get(p) for p in (*self.edits.edited_paths(), *self.edits.reviewed_paths())}
        for row in sorted(marked - {None}):
            self._mark_row(row)
        if restored:
            self.show_info(f"Restored your edits of {restored} image(s) from the last session "
                           f"(saved automatically in {self.edits.file}).")
        n = len(self._paths)
        self.review_proxy.set_keys(np.full(n, -1, np.int64), np.ones(n), np.full(n, -1, np.int64), self._accepted_rows())
        self.request_folder_stats()

    def _accepted_rows(self) -> np.ndarray:
        """Per row: accepted in review (from the edit store's few accepted paths, no per-row loop)."""
        accepted = np.zeros(len(self._paths), bool)
        rows = [self._row_of.get(p) for p in self.edits.reviewed_paths()]
        accepted[[r for r in rows if r is not None]] = True
        return accepted

    def _find_ground_truth(self) -> None:
        self._gt_error_shown = False
        source = None
        if self._root is not None and self._paths:
            source = find_ground_truth(self._root, self._paths, self._gt_picked)
        self._gt_source = source
        self._update_metric_paths()
        if source is None:
            where = f" in {self._gt_picked}" if self._gt_picked else " (labels/ beside images/, or .txt beside each image)"
            self.threshold_panel.set_ground_truth_text(f"Ground truth: none found{where}.", False)
        else:
            self.threshold_panel.set_ground_truth_text(f"Ground truth: {source.describe()}.  {LEGEND}", True)
        self._install_labelled_probe()  # the export folder depends on where the ground truth is

    def _writes_ground_truth(self, out_root: Path) -> bool:
        gt_root = self.ground_truth_root()
        return gt_root is not None and Path(out_root).resolve() == Path(gt_root).resolve()

    def _reload_ground_truth(self) -> None:
        """Label files changed under the panel: read them again and rescore the folder."""
        self._gt_generation += 1
        self._find_ground_truth()
        self._stats = None
        self.request_folder_stats()
        self._refresh_detections()

    def set_ground_truth_folder(self, folder: Path | str | None) -> None:
        """Use this labels folder as ground truth (None: look in the usual places again)."""
        self._gt_picked = Path(folder) if folder is not None else None
        self._find_ground_truth()
        if self._gt_picked is not None and self._gt_source is None:
            self.show_error(f"No label file for these images in {folder}.", cause="ground-truth")
        self._stats = None
        self.request_folder_stats()
        self._refresh_detections()

    def _ground_truth_for(self, path: Path, image_wh: tuple[int, int]) -> GroundTruth | None:
        """This image's ground truth by the reader `eval` and the folder scan use (re-read when the
        file changes on disk); None without a ground-truth source."""
        source = self._gt_source
        if source is None:
            return None
        num_classes = len(self._info.names) if self._info is not None else None
        reader = self._gt_reader
        if reader is None or reader.source != source or reader.num_classes != num_classes:
            reader = self._gt_reader = GroundTruthReader(source, num_classes)
        gt = reader.read(path, image_wh)
        if not gt.scored and not self._gt_error_shown:
            self._gt_error_shown = True
            self.show_error(f"Cannot read ground truth, this image is left out of the metrics: {gt.error}",
                            cause="ground-truth")
        return gt

    @property
    def ground_truth(self):
        return self._gt_source

    @property
    def folder_stats(self):
        return self._stats

    def request_folder_stats(self, quick: bool = False) -> int | None:
        """Score the whole folder in the worker (background, cancellable, with progress).

        `quick` (after an IoU / agnostic / max-det change): first score only what lies above the
        current thresholds -- ~0.5 ms an image instead of ~6 ms at the 0.001 floor, and exact
        there (see StatsRequest.floor) -- so the numbers follow the slider within about half a
        second for 1,000 images; the full pass is requested when it lands."""
        self._stats_timer.stop()
        if not self._model_id or self._info is None or not self._paths:
            return None
        big = len(self._paths) > AUTO_SCORE_MAX and not self._score_big_folder
        self.threshold_panel.score_button.setVisible(big)
        if big:
            self._stats = None
            self.threshold_panel.set_scored(None)
            self._update_threshold_panel()
            self.threshold_panel.metrics_label.setText(
                f"{len(self._paths):,} images: press Score folder to run the model on all of them "
                "(background) for folder metrics and the review queue.")
            return None
        t = self.thresholds()
        floor = FLOOR_CONF
        if quick and self._stats is not None:
            lowest = min([t.conf] + [v for _, v in t.class_conf])
            floor = lowest if lowest >= QUICK_FLOOR_MIN else FLOOR_CONF
        request = StatsRequest(next(self._ids), self._model_id, self._metric_paths, self._gt_source,
                               t.iou, t.agnostic, t.max_det, len(self._info.names), floor=floor,
                               gt_generation=self._gt_generation)
        if self._stats is not None and self._stats.key == request.key:
            return None  # already scored with these settings
        if self._stats_request is not None and self._stats_request.key == request.key:
            return self._stats_request.id  # already on its way
        if self._stats_request is not None:
            self._stats_request.cancel_event.set()  # also stops a slice running now from re-queuing
        self.worker.cancel_stats()
        self._stats_request = request
        self.stats_requests += 1
        self.threshold_panel.set_progress(0, len(self._paths))
        self.worker.submit_stats(request)
        return request.id

    def _update_metric_paths(self) -> None:
        """The images the folder metrics use: with ground truth, `x.png` beside `x.jpg` (one shared
        `x.txt`) is left out, as `scriptlens eval` does (engine.label_pairs: the first one owns it)."""
        source, paths = self._gt_source, self._paths
        shared = images_sharing_a_label_file(paths, source.path_for) if source is not None else {}
        self._metric_paths = tuple(p for p in paths if p not in shared)

    def _on_threshold_panel_score_folder_requested(self) -> None:
        self._score_big_folder = True
        self.threshold_panel.score_button.hide()
        self.request_folder_stats()

    def _on_threshold_panel_stop_scoring_requested(self) -> None:
        """Cancel the folder scan; what the worker scored so far is kept for a later resume."""
        if self._stats_request is not None:
            self._stats_request.cancel_event.set()
        self.worker.cancel_stats()
        self._stats_request = None
        self._score_big_folder = False
        self.threshold_panel.set_progress(0, 0)
        self.threshold_panel.score_button.show()
        self.threshold_panel.set_status("Folder scoring stopped; Score folder resumes it (scored images are kept).")
        self.statusBar().showMessage("Folder scoring stopped; Score folder resumes it.", 8000)

    def _on_stats_timer_timeout(self) -> None:
        self.request_folder_stats(quick=True)

    def _on_side_panel_iou_released(self) -> None:
        # the debounce is for typed values and keyboard steps; a released slider is final
        if self._stats_timer.isActive():
            self._stats_timer.stop()
            self.request_folder_stats(quick=True)

    def _on_worker_stats_progress(self, request_id: int, done: int, total: int) -> None:
        if self._stats_request is not None and request_id == self._stats_request.id:
            self.threshold_panel.set_progress(done, total)

    def _on_worker_stats_failed(self, request_id: int, message: str) -> None:
        """The scan ended on a bug: say so instead of a progress bar that never moves again."""
        if self._stats_request is None or request_id != self._stats_request.id:
            return
        self._stats_request = None
        self.threshold_panel.set_progress(0, 0)
        self.threshold_panel.set_status(f"Folder scoring stopped on an error: {message}")
        self.show_error(f"Folder scoring stopped on an error: {message}", cause="scoring")

    def _on_worker_stats_ready(self, stats) -> None:
        if self._stats_request is None or stats.request_id != self._stats_request.id:
            return
        request, self._stats_request = self._stats_request, None
        self.threshold_panel.set_status(scoring_status(stats, request))
        self._stats = stats
        self.threshold_panel.set_progress(0, 0)
        self.threshold_panel.set_scored(stats.scored, partial_floor=stats.floor if stats.floor > FLOOR_CONF else None)
        self._mark_problem_rows(stats)
        self._update_threshold_panel()
        self._update_review_keys()
        if stats.unreadable_labels and not self._gt_error_shown:
            self._gt_error_shown = True
            self.show_error(f"{len(stats.unreadable_labels)} label file(s) could not be read; their images are left "
                            f"out of the metrics (as in scriptlens eval): {stats.unreadable_labels[0]}",
                            cause="ground-truth")
        if stats.floor > FLOOR_CONF:
            self.request_folder_stats()  # the quick pass is in: now the curves below it

    def _mark_problem_rows(self, stats) -> None:
        """Rows the scan could not score say "error", rows whose label file is unreadable "labels?",
        before anyone visits them (the reason is the row's tooltip)."""
        model = self.image_list.model
        for states, state in ((stats.failed_images, STATE_ERROR), (stats.unreadable_images, STATE_LABELS_UNREADABLE)):
            for path, message in states.items():
                row = self._row_of.get(path)
                if row is not None and model.state(row) != state:
                    model.set_state(row, state, message)

    def _update_threshold_panel(self) -> None:
        t = self.thresholds()
        self.threshold_panel.show_thresholds(t.conf, dict(t.class_conf))

    def _update_review_keys(self) -> None:
        """Per-image counts, lowest confidence and disagreement at the current thresholds."""
        self._review_timer.stop()
        stats = self._stats
        if stats is None:
            return
        t = self.thresholds()
        class_conf = dict(t.class_conf)
        n = len(self._paths)
        count = np.full(n, -1, np.int64)
        lowest = np.ones(n)
        disagree = np.full(n, -1, np.int64)
        model = self.image_list.model
        for i, p in enumerate(self._paths):
            score = stats.images.get(str(p))
            if score is None:
                continue
            k, _tp, fp, fn, low = image_counts(score, t.conf, class_conf)
            count[i], lowest[i] = k, low
            if score.has_gt:
                disagree[i] = fp + fn
            edit = self.edits.entry(p)
            if edit is not None or t.classes is not None:  # the floor scores know neither
                shown = list_count(t, self.cache.get(self._model_id, p), edit)
                if shown is not None:
                    model.set_count(i, shown)
            else:
                model.set_count(i, k)  # = list_count: greedy NMS above the threshold is exact at the floor
        self.review_proxy.set_keys(count, lowest, disagree, self._accepted_rows())
        if self._row >= 0:
            self.image_list.set_current_row(self._row)

    def _on_threshold_panel_best_f1_requested(self, class_id) -> None:
        stats = self._stats
        if stats is None or not stats.scored.has_ground_truth:
            self.show_error("Best F1 needs ground-truth labels and a scored folder.")
            return
        conf, f1 = best_f1(stats.scored, class_id)
        self._set_threshold_for_view(class_id, conf)
        self.statusBar().showMessage(f"Best F1 {f1:.3f} at confidence {conf:.2f}", 8000)

    def _on_threshold_panel_conf_picked(self, conf: float) -> None:
        self._set_threshold_for_view(self.threshold_panel.class_view(), conf)

    def _set_threshold_for_view(self, class_id, conf: float) -> None:
        if class_id is None:
            self.session.update_thresholds(conf=round(conf, 2))  # widgets, overlay, panel, review keys follow
        else:
            self.session.set_class_conf(class_id, round(conf, 2))

    def _profile_folder(self) -> str:
        """Where the profile dialogs open: the last profile's folder, else home -- never the image
        folder, which only an export writes to."""
        return self.settings.get_str("last/profile_dir") or str(Path.home())

    def _on_threshold_panel_save_profile_requested(self) -> None:
        if self._info is None:
            self.show_error("Open a model before saving a thresholds profile.")
            return
        start = str(Path(self._profile_folder()) / "thresholds.json")
        path, _ = QFileDialog.getSaveFileName(self, "Save thresholds profile", start, "JSON (*.json)")
        if path:
            self.save_profile(Path(path))

    def save_profile(self, path: Path) -> None:
        """Everything `load_profile` and `label --thresholds` restore: conf, iou, agnostic, max_det
        and the per-class thresholds (by class name)."""
        t = self.thresholds()
        try:
            save_profile(Path(path), self._info.names, dict(t.class_conf), t.conf, t.iou,
                         agnostic=t.agnostic, max_det=t.max_det)
        except (OSError, ScriptLensError) as exc:
            self.show_error(f"Cannot save the profile: {exc}", cause="profile")
            return
        self.settings.set("last/profile_dir", str(Path(path).parent))
        self.banner.clear("profile")
        self.statusBar().showMessage(f"Saved {path} (use: scriptlens label --thresholds {path})", 8000)

    def _on_threshold_panel_load_profile_requested(self) -> None:
        if self._info is None:
            self.show_error("Open a model before loading a thresholds profile.")
            return
        path, _ = QFileDialog.getOpenFileName(self, "Load thresholds profile", self._profile_folder(),
                                              "JSON (*.json);;All files (*)")
        if path:
            self.load_profile(Path(path))

    def load_profile(self, path: Path) -> bool:
        """Apply everything the profile holds (what it leaves out stays as it is); the same reader
        as `scriptlens label --thresholds` (engine.profile.read_profile)."""
        try:
            profile = read_profile(path)
            class_conf = profile.class_conf_ids(self._info.names if self._info else ())
        except ScriptLensError as exc:
            self.show_error(str(exc), cause="profile")
            return False
        given = {k: v for k, v in (("conf", profile.conf), ("iou", profile.iou), ("agnostic", profile.agnostic),
                                   ("max_det", profile.max_det)) if v is not None}
        self.session.update_thresholds(class_conf=class_conf, **given)
        self.settings.set("last/profile_dir", str(Path(path).parent))
        self.banner.clear("profile")
        self.statusBar().showMessage(f"Loaded {path}", 8000)
        return True

    def _on_open_gt_triggered(self) -> None:
        start = str(self._gt_picked or self.labels_dir() or self._root or "")
        folder = QFileDialog.getExistingDirectory(self, "Folder of YOLO ground-truth labels", start)
        if folder:
            self.set_ground_truth_folder(Path(folder))

    # ------------------------------------------------------------------ editing and review (issue 5)
    def _mark_row(self, row: int) -> None:
        p = self._paths[row]
        mark = "✎" if self.edits.entry(p) is not None else "✓" if self.edits.is_reviewed(p) else ""
        if mark != self.image_list.model.mark(row):
            self.image_list.model.set_mark(row, mark)

    def _on_edits_changed(self, path: str) -> None:
        row = self._row_of.get(path)
        if row is None:
            return
        self._mark_row(row)
        if row != self._row:
            self.go_to(row)  # undo/redo of another image's edit: show it
        else:
            self._refresh_detections()

    def _on_edits_reviewed_changed(self, path: str) -> None:
        row = self._row_of.get(path)
        if row is not None:
            self._mark_row(row)
            self.review_proxy.set_accepted(row, self.edits.is_reviewed(path))

    def _on_editor_edited(self, det) -> None:
        path = self.current_path
        c = self._candidates
        if path is None:
            return
        entry = self.edits.entry(path)
        wh = entry[1] if entry is not None else ((c.geometry.source_hw[1], c.geometry.source_hw[0]) if c else None)
        if wh is None:
            return
        self.edits.set(path, det, wh)

    def set_edit_mode(self, on: bool) -> None:
        self.edit_mode_action.setChecked(on)
        self.canvas.set_edit_mode(on)
        if on:
            self.statusBar().showMessage("Edit: drag box = move, edge = resize, empty image = new box; "
                                         "Del deletes; C / right-click = class; E leaves", 10000)

    def _on_edit_mode_triggered(self) -> None:
        self.set_edit_mode(self.edit_mode_action.isChecked())

    def _on_delete_box_triggered(self) -> None:
        self.canvas.editor.delete_selected()

    def _on_cycle_class_triggered(self) -> None:
        editor = self.canvas.editor
        i = editor.selected()
        if i < 0 or self._info is None:
            return
        nc = max(1, len(self._info.names))
        editor.set_selected_class((int(editor.detections().class_id[i]) + 1) % nc)

    def _on_canvas_context_menu_requested(self, pos) -> None:
        menu = self.edit_context_menu(self.canvas.mapToScene(pos))
        if menu is not None:
            menu.exec(self.canvas.mapToGlobal(pos))
            menu.deleteLater()  # one menu per right-click: do not keep them all as children

    def edit_context_menu(self, scene_pos) -> QMenu | None:
        """The right-click menu in edit mode: on a box, its class and Delete (the box gets
        selected); elsewhere, the class of new boxes. Built apart from exec() so it can be
        tested without a modal popup."""
        editor = self.canvas.editor
        if not editor.active or self._info is None:
            return None
        i = editor.box_at(scene_pos)
        menu = QMenu(self)
        if i < 0:
            menu.addSection("Class of new boxes")
            for k, name in enumerate(self._info.names):
                act = menu.addAction(f"{k}  {name}")
                act.setCheckable(True)
                act.setChecked(k == editor.draw_class)
                act.triggered.connect(lambda _=False, k=k: setattr(editor, "draw_class", k))
            return menu
        editor.select(i)
        for k, name in enumerate(self._info.names):
            act = menu.addAction(f"{k}  {name}")
            act.setCheckable(True)
            act.setChecked(k == int(editor.detections().class_id[i]))
            act.triggered.connect(lambda _=False, k=k: editor.set_selected_class(k))
        menu.addSeparator()
        menu.addAction("Delete box", editor.delete_selected)
        return menu

    def _on_revert_triggered(self) -> None:
        if self.current_path is not None:
            self.edits.revert(self.current_path)

    def _on_accept_triggered(self) -> None:
        """Mark the image reviewed and go to the next one in the review order."""
        path = self.current_path
        if path is None:
            return
        self.edits.set_reviewed(path, True)
        row = self.image_list.neighbour(self._row, +1)
        if row is not None and row != self._row:
            self.go_to(row)

    def _on_review_bar_order_changed(self, order: int) -> None:
        self.review_proxy.set_order(order)
        if self._row >= 0:
            self.image_list.set_current_row(self._row)

    def _on_review_bar_filter_changed(self, which: int) -> None:
        self.review_proxy.set_review_filter(which)
        if self._row < 0 or not self.image_list.is_visible_row(self._row):
            row = self.image_list.first_last(last=False)
            if row is not None:
                self.go_to(row)

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
        dock, h, w = self.threshold_dock, self.height(), self.width()
        if dock.isVisible() and not dock.isFloating() and h > 0:
            old_h = event.oldSize().height()
            share = self._dock_share if self._dock_share is not None else dock.height() / max(old_h, h)
            share = min(share, DOCK_SHARE)
            self.resizeDocks([dock], [max(80, int(share * h))], Qt.Orientation.Vertical)
            self._dock_share = share
        self._sized_h = h
        sizes = self.splitter.sizes()
        total = sum(sizes)
        if len(sizes) == 3 and total > 0 and sizes[1] < 0.5 * total:  # narrow: the side columns give way
            left, side = int(min(sizes[0], 0.22 * total)), int(min(sizes[2], 0.28 * total))
            self.splitter.setSizes([left, total - left - side, side])
        elif len(sizes) == 3 and (sizes[0] < LEFT_WIDTH or sizes[2] < SIDE_WIDTH) and sizes[1] > 0.6 * total:
            left, side = max(sizes[0], LEFT_WIDTH), max(sizes[2], SIDE_WIDTH)  # wide again: take them back
            self.splitter.setSizes([left, total - left - side, side])

    def eventFilter(self, watched, event) -> bool:
        # the dock resized while the window kept its size: the user dragged the separator
        if watched is self.threshold_dock and event.type() == QEvent.Type.Resize and self._sized_h == self.height() > 0:
            self._dock_share = self.threshold_dock.height() / self.height()
        return super().eventFilter(watched, event)

    def closeEvent(self, event) -> None:
        self.edits.save_now()  # edits are autosaved; flush the last 300 ms
        self.save_settings()
        if self._model_process is not None and self._export_request is None:
            self._model_process.interrupt()  # do not wait for an image the window will not show
        self.engine.close()
        self.reader.close()
        super().closeEvent(event)
