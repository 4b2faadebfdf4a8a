"""Browsing: opening a folder (listed in the background by FolderScanner), the current image
(go_to / next / previous / first / last), the decoded-image cache, prefetching the neighbours'
predictions, the worker's image results, and drawing what `build_image_view` makes of the
current image (canvas, class counts, the list's count cell, the timings label).

It sets `session.set_folder(...)` and `session.set_row(...)`; it follows the thresholds, the
display flags, the model, the ground truth and the current image's edits to redraw. Threshold
changes re-run only `apply_thresholds` on cached candidates (~1 ms), right in the slider
handlers, so the overlay follows the slider while it is dragged.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from pathlib import Path
from typing import Callable, Iterator

from PySide6.QtCore import QObject
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QFileDialog, QLabel

from engine.candidates import Candidates
from engine.detections import Detections
from engine.images import IMAGE_EXTENSIONS

from .candidate_cache import CandidateCache
from .canvas import Canvas
from .edits import EditStore
from .feedback import Feedback
from .folder_scanner import FolderScanner
from .gt_overlay import prediction_styles
from .image_list import STATE_ERROR, ImageListWidget
from .image_view import build_image_view, list_count
from .session import Session
from .settings import Settings
from .side_panel import SidePanel
from .threshold_panel import ThresholdPanel
from .worker import ImageRequest, PrefetchRequest

log = logging.getLogger(__name__)

IMAGE_CACHE_SIZE = 12
PREFETCH_OFFSETS = (1, 2, -1)


class BrowseController(QObject):
    def __init__(self, session: Session, worker, reader_worker, cache: CandidateCache, scanner: FolderScanner,
                 image_list: ImageListWidget, canvas: Canvas, side_panel: SidePanel, threshold_panel: ThresholdPanel,
                 edits: EditStore, timings_label: QLabel, load_label: QLabel, settings: Settings,
                 feedback: Feedback, ids: Iterator[int],
                 truth_for: Callable[[Path, tuple[int, int]], object],
                 reload_action: Callable[[], tuple[str, Callable[[], object]] | None], parent=None) -> None:
        """`truth_for(path, (w, h))`: the image's ground truth or None (GroundTruthController);
        `reload_action()`: the "Reload model" banner button when the model process has stopped."""
        super().__init__(parent)
        self.session, self.worker, self.reader_worker, self.cache, self.scanner = session, worker, reader_worker, cache, scanner
        self.image_list, self.canvas, self.side_panel, self.threshold_panel = image_list, canvas, side_panel, threshold_panel
        self.edits, self.timings_label, self.load_label, self.settings = edits, timings_label, load_label, settings
        self.feedback, self._ids, self._truth_for, self._reload_action = feedback, ids, truth_for, reload_action
        self._scan_id = 0
        self.folder_opened = False
        self.image_cache: OrderedDict[str, QImage] = OrderedDict()  # decoded pictures, IMAGE_CACHE_SIZE at most
        self._timings: OrderedDict[str, object] = OrderedDict()  # path -> StageTimings of its model run
        self._latest_image_request = 0
        self._canvas_path: Path | None = None  # the image the canvas shows now
        self._candidates: Candidates | None = None
        self.detections = Detections.empty()
        self.last_image_counts: tuple[int, int, int] | None = None  # TP, FP, missed on this image
        self.first_detections_shown = False
        for w in (worker, reader_worker):
            w.imageLoaded.connect(self._on_worker_image_loaded)
            w.imageFailed.connect(self._on_worker_image_failed)
        worker.predicted.connect(self._on_worker_predicted)
        scanner.finished.connect(self._on_scanner_finished)
        image_list.currentRowChanged.connect(self._on_image_list_current_row_changed)
        image_list.filterFinished.connect(self._on_image_list_filter_finished)
        session.thresholdsChanged.connect(self._on_session_thresholds_changed)
        session.displayChanged.connect(self.refresh)
        session.groundTruthChanged.connect(self.refresh)
        session.modelChanged.connect(self._on_session_model_changed)
        edits.changed.connect(self._on_edits_changed)
        canvas.boxHovered.connect(self._on_canvas_box_hovered)

    # ------------------------------------------------------------------ folder
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

    def open_folder_dialog(self) -> None:
        root = self.session.root
        start = str(root) if root else self.settings.get_str("last/folder")
        folder = QFileDialog.getExistingDirectory(self.parent(), "Open a folder of images", start)
        if folder:
            self.open_folder(Path(folder))

    def _on_scanner_finished(self, result) -> None:
        if result.scan_id != self._scan_id:
            return  # another folder was opened meanwhile
        self.load_label.setText("")
        if result.error:
            self.feedback.error(result.error, cause="folder")
            return
        folder, paths, select = result.folder, result.paths, result.select
        banner = self.feedback.banner
        for cause in ("folder", "ground-truth", banner.cause if banner.cause.startswith("image:") else ""):
            banner.clear(cause)  # about the previous folder
        self.image_cache.clear()
        # the export controller installs the labelled probe once the ground truth is found
        self.image_list.set_names(result.names, None)
        self.folder_opened = True
        self.settings.set("last/folder", str(folder))
        self.settings.add_recent("folders", str(folder))
        self.session.set_folder(folder, paths)  # ground truth, edits, rescoring, the window's title
        if not paths:
            self._set_canvas_image(None, None)
            self.canvas.set_placeholder(f"No images in {folder}")
            self.feedback.error(f"No images found in {folder} (looked for {', '.join(sorted(IMAGE_EXTENSIONS))}).")
            return
        row = self.session.row_of(select) if select is not None else 0
        self.go_to(row or 0)

    # ------------------------------------------------------------------ navigation
    def go_to(self, row: int) -> None:
        s = self.session
        if not 0 <= row < len(s.paths):
            return
        s.set_row(row)
        self.image_list.set_current_row(row)
        path = s.paths[row]
        banner = self.feedback.banner
        if banner.cause.startswith("image:") and banner.cause != f"image:{path}":
            banner.clear(banner.cause)  # about the image the user has left
        key = str(path)
        image = self.image_cache.get(key)
        if image is not None:
            self.image_cache.move_to_end(key)
            self._set_canvas_image(path, image)
        else:
            self.canvas.overlay.clear()
        candidates = self.cache.get(s.model_id, path) if s.model_id else None
        self._candidates = candidates
        self.canvas.editor.select(-1)  # a selection belongs to the image it was made on
        self.detections = Detections.empty()
        if candidates is not None and image is not None:
            self._show_timings(self._timings.get(key), cached=True)
            self.refresh()
        want_prediction = bool(s.model_id) and candidates is None
        request_id = next(self._ids) if image is None or want_prediction else 0
        self._latest_image_request = request_id
        if image is None:
            self.reader_worker.submit_image(ImageRequest(request_id, path, 0, True, False))
        if want_prediction:
            self.worker.submit_image(ImageRequest(request_id, path, s.model_id, False, True))
        self._prefetch_around(row)

    def step(self, offset: int) -> None:
        """Next (+1) or previous (-1) in the list's order (its sort and filter)."""
        row = self.image_list.neighbour(self.session.row, offset)
        if row is not None and row != self.session.row:
            self.go_to(row)

    def first_last(self, last: bool) -> None:
        row = self.image_list.first_last(last=last)
        if row is not None:
            self.go_to(row)

    def image_wh(self) -> tuple[int, int] | None:
        """The current image's (width, height) as the model saw it; None before its prediction."""
        c = self._candidates
        return (c.geometry.source_hw[1], c.geometry.source_hw[0]) if c is not None else None

    def _prefetch_around(self, row: int) -> None:
        s = self.session
        if not s.model_id:
            return
        paths = []
        for offset in PREFETCH_OFFSETS:
            r = self.image_list.neighbour(row, offset)
            if r is not None and r != row:
                p = s.paths[r]
                if self.cache.get(s.model_id, p) is None or str(p) not in self.image_cache:
                    paths.append(p)
        if paths:
            self.worker.submit_prefetch(PrefetchRequest(next(self._ids), tuple(paths), s.model_id))

    def _set_canvas_image(self, path: Path | None, image: QImage | None) -> None:
        self._canvas_path = path
        self.canvas.set_image(image)
        if image is not None:
            self.canvas.set_placeholder("")

    def _cache_image(self, path: Path, image: QImage) -> None:
        self.image_cache[str(path)] = image
        self.image_cache.move_to_end(str(path))
        while len(self.image_cache) > IMAGE_CACHE_SIZE:
            self.image_cache.popitem(last=False)

    # ------------------------------------------------------------------ drawing
    def refresh(self, *_args) -> None:
        """Re-apply the thresholds to the cached candidates of the current image (~1 ms) and show
        what `build_image_view` makes of them (gui/image_view.py: edits, ground truth, counts)."""
        s = self.session
        c = self._candidates
        path = s.current_path
        edit = self.edits.entry(path) if path is not None else None
        view = None
        if s.model_info is not None and path is not None:
            d = s.display
            wh = edit[1] if edit is not None else self.image_wh()
            truth = self._truth_for(path, wh) if wh is not None else None
            view = build_image_view(c, edit, s.thresholds, s.model_info.names, truth,
                                    d.show_names, d.show_confidences, d.show_ground_truth)
        if view is None:
            self.detections = Detections.empty()
            self.last_image_counts = None
            self.canvas.overlay.clear()
            self.canvas.set_missed([])
            self.canvas.set_badge("")
            self.side_panel.set_class_counts(None)
            self.threshold_panel.set_image_counts("")
            return
        det = self.detections = view.detections
        self.last_image_counts = view.image_counts
        self.side_panel.set_class_counts(view.class_counts)
        self.image_list.model.set_count(s.row, view.list_count)
        self.threshold_panel.set_image_counts(view.summary)
        if self._canvas_path == path:  # never draw boxes over the previous picture
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

    # ------------------------------------------------------------------ worker results
    def _on_worker_image_loaded(self, result) -> None:
        if result.image is not None:
            self._cache_image(result.path, result.image)
        if result.request_id != self._latest_image_request or result.path != self.session.current_path:
            return  # stale: the user has moved on
        if result.image is not None:
            self._set_canvas_image(result.path, result.image)
        if self._candidates is not None:
            self.refresh()

    def _on_worker_predicted(self, result) -> None:
        s = self.session
        if result.model_id != s.model_id:
            return  # output of a previous model
        self.cache.put(result.model_id, result.path, result.candidates)
        if result.timings is not None:
            self._timings[str(result.path)] = result.timings
            while len(self._timings) > 4096:
                self._timings.popitem(last=False)
        if result.image is not None:
            self._cache_image(result.path, result.image)
        row = s.row_of(result.path)
        current = result.path == s.current_path
        if not current:  # a neighbour computed ahead: fill in its count
            if row is not None:
                self.image_list.model.set_count(row, list_count(s.thresholds, result.candidates,
                                                                self.edits.entry(result.path)))
            return
        if result.request_id and result.request_id != self._latest_image_request:
            return
        self._candidates = result.candidates
        if self._canvas_path != result.path and str(result.path) in self.image_cache:
            self._set_canvas_image(result.path, self.image_cache[str(result.path)])
        self._show_timings(result.timings or self._timings.get(str(result.path)), cached=result.timings is None)
        if row is not None:
            self.refresh()

    def _on_worker_image_failed(self, request_id: int, path, message: str) -> None:
        row = self.session.row_of(path)
        if row is not None:
            self.image_list.model.set_state(row, STATE_ERROR, message)
        if request_id == self._latest_image_request and Path(path) == self.session.current_path:
            self._candidates = None
            self.detections = Detections.empty()
            self._set_canvas_image(None, None)
            self.canvas.set_placeholder(f"Cannot show this image:\n{message}")
            self.side_panel.set_class_counts(None)
            self.threshold_panel.set_image_counts("")  # not the previous image's TP/FP/missed
            self.timings_label.setText("")
            if self.feedback.banner.text() != message:  # the reader and the engine may both report it
                reload = self._reload_action()  # the model process stopped: about the model, not this image
                self.feedback.error(message, reload, cause="model" if reload else f"image:{path}")

    # ------------------------------------------------------------------ session and widgets
    def _on_session_thresholds_changed(self, _new, _old) -> None:
        self.image_list.model.clear_counts()  # counts of other images used the old thresholds
        self.refresh()

    def _on_session_model_changed(self, _info) -> None:
        # connected last of the controllers: edits are bound and the ground truth found by now
        self._timings.clear()
        self.image_list.model.clear_counts()
        if self.session.row >= 0:
            self.go_to(self.session.row)

    def _on_edits_changed(self, path: str) -> None:
        row = self.session.row_of(path)
        if row is not None and row == self.session.row:
            self.refresh()  # another image's edit (undo/redo): EditController shows that image

    def _on_image_list_current_row_changed(self, row: int) -> None:
        if row != self.session.row:
            self.go_to(row)

    def _on_image_list_filter_finished(self) -> None:
        self.canvas.setFocus()
        row = self.session.row
        if row < 0 or not self.image_list.is_visible_row(row):
            self.first_last(last=False)

    def _on_canvas_box_hovered(self, index: int) -> None:
        det, info = self.detections, self.session.model_info
        if index < 0 or index >= len(det) or info is None:
            self.feedback.clear_status()
            return
        x1, y1, x2, y2 = det.xyxy[index].tolist()
        cls = int(det.class_id[index])
        name = info.names[cls] if cls < len(info.names) else f"class{cls}"
        self.feedback.status(
            f"{name} {float(det.confidence[index]):.2f}   x1 {x1:.0f}  y1 {y1:.0f}  x2 {x2:.0f}  y2 {y2:.0f}"
            f"   ({x2 - x1:.0f}×{y2 - y1:.0f} px)"
        )
