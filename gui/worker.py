"""The engine worker: the only bridge between the window and torch.

`EngineWorker` is a QObject living in its own QThread. The window calls its `submit_*`
methods (cheap, thread-safe: they only fill a slot under a lock and wake the thread) and
listens to its signals. Each request is a frozen snapshot with an id.

Latest-wins: there is ONE pending slot per kind of request, not a queue. Holding the arrow
key through 1,000 images overwrites the image slot 1,000 times; the worker only ever sees
the newest one. A request that became stale while its image was being read skips the model.

The folder scan for the threshold panel (`submit_stats`) is the lowest-priority slot: each
turn, `gui.folder_scorer.FolderScorer.step` scores ~50 ms of cached images or ONE uncached
image, and the worker puts the request back, so image requests, prefetches and exports always
get in between; a newer scan (other NMS settings) replaces it, `cancel_stats` drops it. The
scorer is Qt-free: the worker only calls it and emits its progress and result.

Decoding images for display alone is `gui.image_reader.ImageReader`'s job (the window's second
thread); this worker still shows images it is asked for (`ImageRequest.want_image`).

`engine.pipeline` (and so torch) is imported lazily inside the thread, on the first model
load, so the window shows before torch is loaded.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QImage

from engine.candidates import Candidates
from engine.errors import ScriptLensError
from engine.prediction import Prediction, StageTimings
from engine.run_errors import unexpected_failure
from engine.thresholds import Thresholds, apply_thresholds

from .candidate_cache import CandidateCache
from .folder_scorer import FolderScorer
from .folder_stats import FolderStats, StatsRequest
from .image_reader import ImageReaderThread, ImageRequest, OwnedThread, ImageResult, bgr_to_qimage, read_bgr

if TYPE_CHECKING:
    from engine.export import ExportOptions

__all__ = [
    "EngineThread", "EngineWorker", "ImageReaderThread", "bgr_to_qimage",
    # requests (frozen snapshots with an id) and what comes back
    "LoadModelRequest", "ImageRequest", "PrefetchRequest", "ExportRequest", "StatsRequest",
    "ImageResult", "PredictionResult", "FolderStats",
]

# `engine.pipeline.Detector.load` or a function with its signature (tests pass a subclass's)
DetectorLoader = Callable[..., object]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadModelRequest:
    id: int
    path: Path
    device: str = "auto"
    imgsz: tuple[int, int] | None = None
    names: tuple[str, ...] | None = None
    anchors: tuple[tuple[float, ...], ...] | None = None
    half: bool = False
    backend: str = "auto"  # engine.model_info.BACKEND_MODES


@dataclass(frozen=True)
class PrefetchRequest:
    id: int
    paths: tuple[Path, ...]
    model_id: int


@dataclass(frozen=True)
class ExportRequest:
    id: int
    model_id: int
    paths: tuple[Path, ...]
    images_root: Path
    out_root: Path
    names: tuple[str, ...]
    thresholds: Thresholds
    options: "ExportOptions"
    cancel_event: threading.Event = field(default_factory=threading.Event, compare=False)
    # hand-edited images: path -> (Detections, (w, h)); written as they are, thresholds ignored
    edits: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class PredictionResult:
    request_id: int  # 0 for prefetch results
    path: Path
    model_id: int
    candidates: Candidates
    timings: StageTimings | None  # None: from the cache, the model did not run for it
    image: QImage | None = None  # prefetch results carry the image too


class EngineWorker(QObject):
    modelLoading = Signal(int, str, int)  # request id, message, percent
    modelLoaded = Signal(int, object)  # request id (= model id), ModelInfo
    modelFailed = Signal(int, str)
    imageLoaded = Signal(object)  # ImageResult
    predicted = Signal(object)  # PredictionResult
    imageFailed = Signal(int, object, str)  # request id, path, message
    exportProgress = Signal(int, int, int)  # request id, done, total
    exportFinished = Signal(int, object)  # request id, ExportSummary
    exportFailed = Signal(int, str)
    statsProgress = Signal(int, int, int)  # request id, images scored, total
    statsReady = Signal(object)  # FolderStats
    statsFailed = Signal(int, str)  # request id, message: the scan ended without a result (a bug)
    _wake = Signal()

    STATS_SLICE_S = 0.05  # a folder-scan turn: about this long (plus at most one model run)

    def __init__(self, cache: CandidateCache, host=None, detector_loader: DetectorLoader | None = None) -> None:
        """`host`: where models run (`engine.model_host.ModelHost`); None: in this process. The app
        passes its model process (`engine.forward_process.ForwardProcess`).
        `detector_loader`: what loads a detector, `engine.pipeline.Detector.load` by default."""
        super().__init__()
        self._cache = cache
        self._host = host
        self._detector_loader = detector_loader
        self._lock = threading.Lock()
        self._slots: dict[str, object] = {}
        self._wake_pending = False
        self._stopping = False
        self._detector = None
        self._model_id = 0
        self._export: ExportRequest | None = None
        self._scorer = FolderScorer(cache, should_pause=self.has_pending_image)
        self.model_calls = 0  # how many times the model ran (tests count these)
        self._busy = False
        self._wake.connect(self._on_wake)

    # ---- called from the UI thread -------------------------------------------------
    def _put(self, kind: str, request) -> None:
        with self._lock:
            if self._stopping:
                return
            self._slots[kind] = request
            if self._wake_pending:
                return
            self._wake_pending = True
        self._wake.emit()

    def submit_load(self, request: LoadModelRequest) -> None:
        with self._lock:  # a new model makes pending work for the old one meaningless
            self._slots.pop("prefetch", None)
            self._slots.pop("stats", None)
        self._put("load", request)

    def submit_image(self, request: ImageRequest) -> None:
        self._put("image", request)

    def submit_prefetch(self, request: PrefetchRequest) -> None:
        self._put("prefetch", request)

    def submit_export(self, request: ExportRequest) -> None:
        self._put("export", request)

    def submit_stats(self, request: StatsRequest) -> None:
        """Score the whole folder at the floor, lowest priority, a slice per turn (see _handle_stats)."""
        self._put("stats", request)

    def cancel_stats(self) -> None:
        with self._lock:
            pending = self._slots.pop("stats", None)
        if pending is not None:
            pending.cancel_event.set()

    def cancel_export(self) -> None:
        export = self._export
        if export is not None:
            export.cancel_event.set()
        with self._lock:
            pending = self._slots.pop("export", None)
        if pending is not None:
            pending.cancel_event.set()

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            self._slots.clear()
        self.cancel_export()

    def is_idle(self) -> bool:
        """Nothing pending and nothing running (tests wait for this)."""
        with self._lock:
            return not self._slots and not self._wake_pending and not self._busy

    def has_pending_image(self) -> bool:
        with self._lock:
            return "image" in self._slots

    # ---- worker thread ------------------------------------------------------------
    def _take(self):
        with self._lock:
            for kind in ("load", "export", "image", "prefetch", "stats"):
                request = self._slots.pop(kind, None)
                if request is not None:
                    self._busy = True
                    if kind == "prefetch" and len(request.paths) > 1:  # one path at a time
                        self._slots[kind] = replace(request, paths=request.paths[1:])
                        request = replace(request, paths=request.paths[:1])
                    return kind, request
            self._wake_pending = False
            self._busy = False
            return None, None

    def _requeue(self, kind: str, request) -> None:
        """Put an unfinished request back, unless a newer one of its kind came in meanwhile."""
        with self._lock:
            if kind not in self._slots and not self._stopping and not request.cancel_event.is_set():
                self._slots[kind] = request

    @Slot()
    def _on_wake(self) -> None:
        while True:
            kind, request = self._take()
            if request is None:
                return
            try:
                getattr(self, f"_handle_{kind}")(request)
            except Exception:  # the thread must survive anything; report, keep serving
                log.exception("engine worker failed on %s", request)
                message = "Internal error in the engine worker (see the log)."
                if kind == "load":
                    self.modelFailed.emit(request.id, message)
                elif kind == "export":
                    self.exportFailed.emit(request.id, message)
                elif kind == "image":
                    self.imageFailed.emit(request.id, request.path, message)
                elif kind == "stats":
                    self.statsFailed.emit(request.id, message)

    def _handle_load(self, req: LoadModelRequest) -> None:
        self.modelLoading.emit(req.id, "Loading…", 5)
        t0 = time.perf_counter()
        load = self._detector_loader
        if load is None:
            from engine import pipeline  # lazily: in-process loading imports torch from here

            log.info("engine.pipeline imported in %.0f ms", (time.perf_counter() - t0) * 1e3)
            load = pipeline.Detector.load
        self.modelLoading.emit(req.id, f"Loading {req.path.name}…", 40)
        try:
            detector = load(
                req.path, device=req.device, half=req.half, imgsz=req.imgsz, names=req.names, anchors=req.anchors,
                host=self._host, backend=req.backend,
            )
        except ScriptLensError as exc:
            self.modelFailed.emit(req.id, str(exc))
            return
        self._detector = detector
        self._model_id = req.id
        self.modelLoading.emit(req.id, "Model ready", 100)
        self.modelLoaded.emit(req.id, detector.info)

    # ---- running the model: every caller gets a ScriptLensError for a failed image --------
    def _predict(self, image, read_ms: float) -> Prediction:
        try:
            prediction = self._detector.predict(image, read_ms=read_ms)
        except Exception as exc:  # ScriptLensError already; anything else is a bug, this image's only
            raise unexpected_failure(exc) from None
        self.model_calls += 1
        return prediction

    def _predict_path(self, path: Path) -> Prediction:
        """What the folder scan runs on an uncached image (the scorer catches any failure)."""
        prediction = self._detector.predict_path(path)
        self.model_calls += 1
        return prediction

    def _handle_image(self, req: ImageRequest) -> None:
        try:
            image, read_ms = read_bgr(req.path)
        except ScriptLensError as exc:
            self.imageFailed.emit(req.id, req.path, str(exc))
            return
        if req.want_image:
            self.imageLoaded.emit(ImageResult(req.id, req.path, bgr_to_qimage(image), read_ms))
        if not req.want_prediction or self._detector is None or req.model_id != self._model_id:
            return
        if self.has_pending_image():
            return  # stale already: the user moved on, don't spend the model on it
        cached = self._cache.get(req.model_id, req.path)
        if cached is not None:
            self.predicted.emit(PredictionResult(req.id, req.path, req.model_id, cached, None))
            return
        try:
            prediction = self._predict(image, read_ms)
        except ScriptLensError as exc:
            self.imageFailed.emit(req.id, req.path, str(exc))
            return
        self.predicted.emit(PredictionResult(req.id, req.path, req.model_id, prediction.candidates, prediction.timings))

    def _handle_prefetch(self, req: PrefetchRequest) -> None:
        if self._detector is None or req.model_id != self._model_id:
            return
        path = req.paths[0]
        cached = self._cache.get(req.model_id, path)
        try:
            image, read_ms = read_bgr(path)
            if cached is not None:  # scored by the folder scan already: the window wants the picture
                self.predicted.emit(PredictionResult(0, path, req.model_id, cached, None, bgr_to_qimage(image)))
                return
            prediction = self._predict(image, read_ms)
        except ScriptLensError as exc:
            log.info("prefetch of %s failed: %s", path, exc)
            return
        self._cache.put(req.model_id, path, prediction.candidates)
        self.predicted.emit(PredictionResult(0, path, req.model_id, prediction.candidates, prediction.timings,
                                             bgr_to_qimage(image)))

    def _handle_stats(self, req: StatsRequest) -> None:
        """One turn of the folder scan (`FolderScorer.step`): about STATS_SLICE_S of scoring, at
        most ONE model run, then the request goes back in its slot, so image requests and
        prefetches get in between and the window stays responsive while a folder is scanned."""
        if self._detector is None or req.model_id != self._model_id or req.cancel_event.is_set():
            return
        if self._scorer.request is not req:  # a new scan (a re-queued one is the same object)
            self._scorer.start(req, self._predict_path)
        step = self._scorer.step(time.perf_counter() + self.STATS_SLICE_S)
        for p in step.predicted:
            self.predicted.emit(PredictionResult(0, p.path, req.model_id, p.candidates, p.timings))
        self.statsProgress.emit(req.id, step.done, step.total)
        if step.stats is None:
            self._requeue("stats", req)
        else:
            self.statsReady.emit(step.stats)

    def _handle_export(self, req: ExportRequest) -> None:
        from engine.export import export_labels

        if req.model_id != self._model_id or self._detector is None:
            self.exportFailed.emit(req.id, "No model is loaded: open a model before exporting.")
            return
        self._export = req
        try:
            summary = export_labels(
                self._export_items(req), req.images_root, req.out_root, req.names, req.options,
                cancel=req.cancel_event.is_set,
                progress=lambda done, total: self.exportProgress.emit(req.id, done, total),
                total=len(req.paths),
                manifest=self._manifest(req),
            )
        except ScriptLensError as exc:
            self.exportFailed.emit(req.id, str(exc))
            return
        finally:
            self._export = None
        self.exportFinished.emit(req.id, summary)

    def _manifest(self, req: ExportRequest) -> dict | None:
        """The run manifest written beside the labels (hashing the model happens here, off the UI)."""
        from engine.manifest import build_manifest

        edited = sum(1 for p in req.paths if str(p) in req.edits)
        try:
            return build_manifest(self._detector.info, req.thresholds, req.images_root, edited_images=edited)
        except OSError as exc:
            log.warning("no run manifest: %s", exc)
            return None

    def _export_items(self, req: ExportRequest):
        """Detections for each image, lazily: the user's edits, cached candidates, else the model runs now."""
        for path in req.paths:
            if req.cancel_event.is_set():
                return
            edited = req.edits.get(str(path))
            if edited is not None:
                yield path, edited[0], edited[1]
                continue
            candidates = self._cache.get(req.model_id, path)
            if candidates is None:
                try:
                    image, read_ms = read_bgr(path)
                    candidates = self._predict(image, read_ms).candidates
                except ScriptLensError as exc:
                    yield path, exc, None
                    continue
                self._cache.put(req.model_id, path, candidates)
            h, w = candidates.geometry.source_hw
            yield path, apply_thresholds(candidates, req.thresholds), (w, h)


class EngineThread(OwnedThread):
    """The engine worker in its thread; `close()` stops both (waits for the current step).

    The window runs two threads: this engine (model, inference, export, folder scan) and an
    image reader that only decodes images for display (`gui.image_reader.ImageReaderThread`,
    the same shape), so pictures show while torch is still loading."""

    def __init__(self, cache: CandidateCache, name: str = "scriptlens-engine", host=None,
                 detector_loader: DetectorLoader | None = None) -> None:
        super().__init__(EngineWorker(cache, host, detector_loader), name)
