"""Folder scoring and the threshold panel: the background scan of the whole folder (requests,
its two debounce timers, progress, stop / Score folder for big folders), what the panel shows
of the scores at the current thresholds, Best F1 and a confidence picked on a plot (both set
the session, not a slider), the review queue's keys, and the image rows the scan could not score.

A confidence move is cheap (cumulative sums, right away); an IoU / agnostic / max-det change
(`nms_key`) rescores the folder after STATS_DEBOUNCE_MS, a quick pass first. A new folder, model
or ground truth (`session.groundTruthChanged`, which follows both) rescores it from scratch.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal
import numpy as np

from engine.curves import best_f1
from engine.label_pairs import images_sharing_a_label_file
from engine.thresholds import Thresholds

from .candidate_cache import CandidateCache
from .edits import EditStore
from .feedback import Feedback
from .folder_stats import FLOOR_CONF, StatsRequest, image_counts, scoring_status
from .image_list import STATE_ERROR, STATE_LABELS_UNREADABLE, ImageListWidget
from .image_view import list_count
from .review_queue import ReviewProxy
from .session import Session, nms_key
from .side_panel import SidePanel
from .threshold_panel import ThresholdPanel

STATS_DEBOUNCE_MS = 250  # IoU / agnostic / max-det: rescore the folder this long after the last change
REVIEW_DEBOUNCE_MS = 150  # review-queue keys after a confidence change
QUICK_FLOOR_MIN = 0.05  # below this a quick pass saves little: go straight to the full floor
AUTO_SCORE_MAX = 5000  # bigger folders are scored when asked (Score folder): hours of CPU otherwise


def accepted_rows(session: Session, edits: EditStore) -> np.ndarray:
    """Per row: accepted in review (from the edit store's few accepted paths, no per-row loop)."""
    accepted = np.zeros(len(session.paths), bool)
    rows = [session.row_of(p) for p in edits.reviewed_paths()]
    accepted[[r for r in rows if r is not None]] = True
    return accepted


class ScoringController(QObject):
    statsReady = Signal(object)  # gui.folder_stats.FolderStats now shown (the panel is up to date)

    def __init__(self, session: Session, worker, cache: CandidateCache, edits: EditStore,
                 threshold_panel: ThresholdPanel, side_panel: SidePanel, image_list: ImageListWidget,
                 review_proxy: ReviewProxy, feedback: Feedback, ids, parent=None) -> None:
        super().__init__(parent)
        self.session, self.worker, self.cache, self.edits, self.feedback = session, worker, cache, edits, feedback
        self.panel, self.image_list, self.review_proxy, self._ids = threshold_panel, image_list, review_proxy, ids
        self.stats = None  # gui.folder_stats.FolderStats of the current model/folder/NMS settings
        self.request: StatsRequest | None = None  # the scan on its way, if any
        self.stats_requests = 0  # how many folder scans were asked for (tests count these)
        self._score_big_folder = False  # the user asked to score a folder above AUTO_SCORE_MAX
        self._metric_paths: tuple = ()  # the folder's images that the metrics use
        self.stats_timer = QTimer(self)
        self.stats_timer.setSingleShot(True)
        self.stats_timer.setInterval(STATS_DEBOUNCE_MS)
        self.review_timer = QTimer(self)
        self.review_timer.setSingleShot(True)
        self.review_timer.setInterval(REVIEW_DEBOUNCE_MS)
        self.stats_timer.timeout.connect(lambda: self.request_folder_stats(quick=True))
        self.review_timer.timeout.connect(self.update_review_keys)
        worker.statsProgress.connect(self._on_worker_stats_progress)
        worker.statsReady.connect(self._on_worker_stats_ready)
        worker.statsFailed.connect(self._on_worker_stats_failed)
        tp = threshold_panel
        tp.bestF1Requested.connect(self._on_best_f1_requested)
        tp.confPicked.connect(lambda conf: self._set_threshold_for_view(tp.class_view(), conf))
        tp.classViewChanged.connect(self.update_threshold_panel)
        tp.scoreFolderRequested.connect(self._on_score_folder_requested)
        tp.stopScoringRequested.connect(self.stop_scoring)
        side_panel.iouReleased.connect(self._on_side_panel_iou_released)
        session.thresholdsChanged.connect(self._on_session_thresholds_changed)
        session.folderChanged.connect(self._on_session_folder_changed)
        session.modelChanged.connect(self._on_session_model_changed)
        session.groundTruthChanged.connect(self._on_session_ground_truth_changed)

    # ------------------------------------------------------------------ session
    def _on_session_folder_changed(self, _root) -> None:
        self._score_big_folder = False
        self._on_session_model_changed(None)

    def _on_session_model_changed(self, _info) -> None:
        """A new folder or model: no scores until the ground truth is found (groundTruthChanged)."""
        self.stats = None
        self.panel.set_scored(None)
        self.panel.set_status("")
        n = len(self.session.paths)
        self.review_proxy.set_keys(np.full(n, -1, np.int64), np.ones(n), np.full(n, -1, np.int64),
                                   accepted_rows(self.session, self.edits))

    def _on_session_ground_truth_changed(self, source) -> None:
        """The images the folder metrics use: with ground truth, `x.png` beside `x.jpg` (one shared
        `x.txt`) is left out, as `scriptlens eval` does (engine.label_pairs: the first one owns it)."""
        paths = self.session.paths
        shared = images_sharing_a_label_file(paths, source.path_for) if source is not None else {}
        self._metric_paths = tuple(p for p in paths if p not in shared)
        self.stats = None
        self.request_folder_stats()

    def _on_session_thresholds_changed(self, new: Thresholds, old: Thresholds) -> None:
        self.update_threshold_panel()  # cumulative sums over the folder: follows the slider
        self.review_timer.start()  # list counts and review order: once the slider rests
        if nms_key(new) != nms_key(old):
            self.stats_timer.start()  # debounced: rescoring needs NMS on every image

    # ------------------------------------------------------------------ scanning
    def request_folder_stats(self, quick: bool = False) -> int | None:
        """Score the whole folder in the worker (background, cancellable, with progress).

        `quick` (after an IoU / agnostic / max-det change): first score only what lies above the
        current thresholds -- ~0.5 ms an image instead of ~6 ms at the 0.001 floor, and exact
        there (see StatsRequest.floor) -- so the numbers follow the slider within about half a
        second for 1,000 images; the full pass is requested when it lands."""
        self.stats_timer.stop()
        s = self.session
        if not s.model_id or s.model_info is None or not s.paths:
            return None
        big = len(s.paths) > AUTO_SCORE_MAX and not self._score_big_folder
        self.panel.score_button.setVisible(big)
        if big:
            self.stats = None
            self.panel.set_scored(None)
            self.update_threshold_panel()
            self.panel.metrics_label.setText(
                f"{len(s.paths):,} images: press Score folder to run the model on all of them "
                "(background) for folder metrics and the review queue.")
            return None
        t = s.thresholds
        floor = FLOOR_CONF
        if quick and self.stats is not None:
            lowest = min([t.conf] + [v for _, v in t.class_conf])
            floor = lowest if lowest >= QUICK_FLOOR_MIN else FLOOR_CONF
        request = StatsRequest(next(self._ids), s.model_id, self._metric_paths, s.gt_source,
                               t.iou, t.agnostic, t.max_det, len(s.model_info.names), floor=floor,
                               gt_generation=s.gt_generation)
        if self.stats is not None and self.stats.key == request.key:
            return None  # already scored with these settings
        if self.request is not None and self.request.key == request.key:
            return self.request.id  # already on its way
        if self.request is not None:
            self.request.cancel_event.set()  # also stops a slice running now from re-queuing
        self.worker.cancel_stats()
        self.request = request
        self.stats_requests += 1
        self.panel.set_progress(0, len(s.paths))
        self.worker.submit_stats(request)
        return request.id

    def _on_score_folder_requested(self) -> None:
        self._score_big_folder = True
        self.panel.score_button.hide()
        self.request_folder_stats()

    def stop_scoring(self) -> None:
        """Cancel the folder scan; what the worker scored so far is kept for a later resume."""
        if self.request is not None:
            self.request.cancel_event.set()
        self.worker.cancel_stats()
        self.request = None
        self._score_big_folder = False
        self.panel.set_progress(0, 0)
        self.panel.score_button.show()
        self.panel.set_status("Folder scoring stopped; Score folder resumes it (scored images are kept).")
        self.feedback.status("Folder scoring stopped; Score folder resumes it.", 8000)

    def _on_side_panel_iou_released(self) -> None:
        # the debounce is for typed values and keyboard steps; a released slider is final
        if self.stats_timer.isActive():
            self.stats_timer.stop()
            self.request_folder_stats(quick=True)

    def _on_worker_stats_progress(self, request_id: int, done: int, total: int) -> None:
        if self.request is not None and request_id == self.request.id:
            self.panel.set_progress(done, total)

    def _on_worker_stats_failed(self, request_id: int, message: str) -> None:
        """The scan ended on a bug: say so instead of a progress bar that never moves again."""
        if self.request is None or request_id != self.request.id:
            return
        self.request = None
        self.panel.set_progress(0, 0)
        self.panel.set_status(f"Folder scoring stopped on an error: {message}")
        self.feedback.error(f"Folder scoring stopped on an error: {message}", cause="scoring")

    def _on_worker_stats_ready(self, stats) -> None:
        if self.request is None or stats.request_id != self.request.id:
            return
        request, self.request = self.request, None
        self.panel.set_status(scoring_status(stats, request))
        self.stats = stats
        self.panel.set_progress(0, 0)
        self.panel.set_scored(stats.scored, partial_floor=stats.floor if stats.floor > FLOOR_CONF else None)
        self._mark_problem_rows(stats)
        self.update_threshold_panel()
        self.update_review_keys()
        self.statsReady.emit(stats)
        if stats.floor > FLOOR_CONF:
            self.request_folder_stats()  # the quick pass is in: now the curves below it

    def _mark_problem_rows(self, stats) -> None:
        """Rows the scan could not score say "error", rows whose label file is unreadable "labels?",
        before anyone visits them (the reason is the row's tooltip)."""
        model = self.image_list.model
        for states, state in ((stats.failed_images, STATE_ERROR), (stats.unreadable_images, STATE_LABELS_UNREADABLE)):
            for path, message in states.items():
                row = self.session.row_of(path)
                if row is not None and model.state(row) != state:
                    model.set_state(row, state, message)

    # ------------------------------------------------------------------ the panel and the review keys
    def update_threshold_panel(self, *_args) -> None:
        t = self.session.thresholds
        self.panel.show_thresholds(t.conf, dict(t.class_conf))

    def update_review_keys(self) -> None:
        """Per-image counts, lowest confidence and disagreement at the current thresholds."""
        self.review_timer.stop()
        stats, s = self.stats, self.session
        if stats is None:
            return
        t = s.thresholds
        class_conf = dict(t.class_conf)
        n = len(s.paths)
        count = np.full(n, -1, np.int64)
        lowest = np.ones(n)
        disagree = np.full(n, -1, np.int64)
        model = self.image_list.model
        for i, p in enumerate(s.paths):
            score = stats.images.get(str(p))
            if score is None:
                continue
            k, _tp, fp, fn, low = image_counts(score, t.conf, class_conf)
            count[i], lowest[i] = k, low
            if score.has_gt:
                disagree[i] = fp + fn
            edit = self.edits.entry(p)
            if edit is not None or t.classes is not None:  # the floor scores know neither
                shown = list_count(t, self.cache.get(s.model_id, p), edit)
                if shown is not None:
                    model.set_count(i, shown)
            else:
                model.set_count(i, k)  # = list_count: greedy NMS above the threshold is exact at the floor
        self.review_proxy.set_keys(count, lowest, disagree, accepted_rows(s, self.edits))
        if s.row >= 0:
            self.image_list.set_current_row(s.row)

    def _on_best_f1_requested(self, class_id) -> None:
        stats = self.stats
        if stats is None or not stats.scored.has_ground_truth:
            self.feedback.error("Best F1 needs ground-truth labels and a scored folder.")
            return
        conf, f1 = best_f1(stats.scored, class_id)
        self._set_threshold_for_view(class_id, conf)
        self.feedback.status(f"Best F1 {f1:.3f} at confidence {conf:.2f}", 8000)

    def _set_threshold_for_view(self, class_id, conf: float) -> None:
        if class_id is None:
            self.session.update_thresholds(conf=round(conf, 2))  # widgets, overlay, panel, review keys follow
        else:
            self.session.set_class_conf(class_id, round(conf, 2))
