"""The engine worker: the only bridge between the window and torch.

`EngineWorker` is a QObject living in its own QThread. The window calls its `submit_*`
methods (cheap, thread-safe: they only fill a slot under a lock and wake the thread) and
listens to its signals. Each request is a frozen snapshot with an id.

Latest-wins: there is ONE pending slot per kind of request, not a queue. Holding the arrow
key through 1,000 images overwrites the image slot 1,000 times; the worker only ever sees
the newest one. A request that became stale while its image was being read skips the model.

The folder scan for the threshold panel (`submit_stats`, gui/folder_stats.py) is the
lowest-priority slot: it scores ~50 ms of cached images or ONE uncached image per turn and puts
the rest back, so image requests, prefetches and exports always get in between; a newer scan
(other NMS settings) replaces it, `cancel_stats` drops it.

`engine.pipeline` (and so torch) is imported lazily inside the thread, on the first model
load, so the window shows before torch is loaded.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal, Slot
from PySide6.QtGui import QImage

from engine.batched_thresholds import select_batch
from engine.detections import Detections
from engine.errors import ScriptLensError
from engine.ground_truth_reader import GroundTruthReader
from engine.images import read_image
from engine.thresholds import Thresholds, apply_thresholds

from .candidate_cache import CandidateCache
from .folder_stats import BatchSizer, FolderStats, StatsRequest, build_scored_folder, floor_thresholds, score_batch

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


@dataclass(frozen=True)
class ImageRequest:
    id: int
    path: Path
    model_id: int  # 0: no model, just show the image
    want_image: bool = True
    want_prediction: bool = True


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
    options: object  # engine.export.ExportOptions
    cancel_event: threading.Event = field(default_factory=threading.Event, compare=False)
    # hand-edited images: path -> (Detections, (w, h)); written as they are, thresholds ignored
    edits: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class ImageResult:
    request_id: int
    path: Path
    image: QImage | None  # None when the caller already had it
    read_ms: float


@dataclass(frozen=True)
class PredictionResult:
    request_id: int  # 0 for prefetch results
    path: Path
    model_id: int
    candidates: object  # engine.candidates.Candidates
    timings: object  # engine.pipeline.StageTimings
    image: QImage | None = None  # prefetch results carry the image too


def bgr_to_qimage(image: np.ndarray) -> QImage:
    """A QImage that owns its pixels (safe to hand to another thread)."""
    image = np.ascontiguousarray(image)
    h, w = image.shape[:2]
    return QImage(image.data, w, h, int(image.strides[0]), QImage.Format.Format_BGR888).copy()


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
    _wake = Signal()

    def __init__(self, cache: CandidateCache, backend_loader=None) -> None:
        """`backend_loader`: how models load (`engine.pipeline.BackendLoader`); None loads them
        in this process. The app passes its model process's loader (`engine.forward_process`)."""
        super().__init__()
        self._cache = cache
        self._backend_loader = backend_loader
        self._lock = threading.Lock()
        self._slots: dict[str, object] = {}
        self._wake_pending = False
        self._stopping = False
        self._detector = None
        self._model_id = 0
        self._export: ExportRequest | None = None
        # folder scan: per-image scores at the candidate floor for ONE set of NMS settings
        # (tiny, so a plain dict, not the LRU); cleared when the settings or the model change
        self._floor_key: tuple | None = None
        self._stats_batch = BatchSizer()
        self._floor: dict[str, object] = {}
        self._floor_failed: set[str] = set()
        self._floor_unreadable: dict[str, str] = {}  # image -> its label file's error (left out)
        # label files, parsed once per file version (not once per NMS change): one reader per
        # (source, class count), re-reading a file when its mtime or size changes
        self._gt_reader: GroundTruthReader | None = None
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

    def _handle_load(self, req: LoadModelRequest) -> None:
        self.modelLoading.emit(req.id, "Loading PyTorch…", 5)
        t0 = time.perf_counter()
        from engine import pipeline  # lazily: in-process loading imports torch from here

        log.info("engine.pipeline imported in %.0f ms", (time.perf_counter() - t0) * 1e3)
        self.modelLoading.emit(req.id, f"Loading {req.path.name}…", 40)
        try:
            detector = pipeline.Detector.load(
                req.path, device=req.device, half=req.half, imgsz=req.imgsz, names=req.names, anchors=req.anchors,
                backend_loader=self._backend_loader,
            )
        except ScriptLensError as exc:
            self.modelFailed.emit(req.id, str(exc))
            return
        self._detector = detector
        self._model_id = req.id
        self.modelLoading.emit(req.id, "Model ready", 100)
        self.modelLoaded.emit(req.id, detector.info)

    def _read(self, path: Path) -> tuple[np.ndarray, float]:
        t0 = time.perf_counter()
        image = read_image(path)
        return image, (time.perf_counter() - t0) * 1e3

    def _predict(self, image: np.ndarray, read_ms: float):
        prediction = self._detector.predict(image, read_ms=read_ms)
        self.model_calls += 1
        return prediction.candidates, prediction.timings

    def _handle_image(self, req: ImageRequest) -> None:
        try:
            image, read_ms = self._read(req.path)
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
            candidates, timings = self._predict(image, read_ms)
        except ScriptLensError as exc:
            self.imageFailed.emit(req.id, req.path, str(exc))
            return
        self.predicted.emit(PredictionResult(req.id, req.path, req.model_id, candidates, timings))

    def _handle_prefetch(self, req: PrefetchRequest) -> None:
        if self._detector is None or req.model_id != self._model_id:
            return
        path = req.paths[0]
        cached = self._cache.get(req.model_id, path)
        try:
            image, read_ms = self._read(path)
            if cached is not None:  # scored by the folder scan already: the window wants the picture
                self.predicted.emit(PredictionResult(0, path, req.model_id, cached, None, bgr_to_qimage(image)))
                return
            candidates, timings = self._predict(image, read_ms)
        except ScriptLensError as exc:
            log.info("prefetch of %s failed: %s", path, exc)
            return
        self._cache.put(req.model_id, path, candidates)
        self.predicted.emit(PredictionResult(0, path, req.model_id, candidates, timings, bgr_to_qimage(image)))

    def _handle_stats(self, req: StatsRequest) -> None:
        """Score images from `req.start` for about 50 ms (at most ONE model run), then put the
        rest back in the slot, so image requests and prefetches get in between slices and the
        window stays responsive while an uncached folder is scanned in the background."""
        if self._detector is None or req.model_id != self._model_id or req.cancel_event.is_set():
            return
        if req.key != self._floor_key:
            self._floor_key, self._floor = req.key, {}
            self._stats_batch.reset()
            self._floor_failed, self._floor_unreadable = set(), {}
        t = floor_thresholds(req.iou, req.agnostic, req.max_det, req.floor)
        deadline = time.perf_counter() + 0.05
        i, ran_model = req.start, False
        # cached images are scored in batches (engine.batched_*): per image, NMS and matching
        # on a dozen boxes are mostly numpy call overhead
        pending: list[tuple[str, object, Detections | None]] = []

        def flush() -> None:
            if pending:
                started = time.perf_counter()
                floors = select_batch([c for _, c, _ in pending], t)
                for (key, _, _), score in zip(pending, score_batch(floors, [g for _, _, g in pending])):
                    self._floor[key] = score
                self._stats_batch.update(time.perf_counter() - started, len(pending))
                pending.clear()

        while i < len(req.paths):
            path = req.paths[i]
            key = str(path)
            if key not in self._floor and key not in self._floor_failed and key not in self._floor_unreadable:
                candidates = self._cache.get(req.model_id, path)
                if candidates is None:
                    if ran_model or self.has_pending_image():
                        break
                    ran_model = True
                    try:
                        image, read_ms = self._read(path)
                        candidates, timings = self._predict(image, read_ms)
                    except ScriptLensError as exc:
                        log.info("folder scan: %s failed: %s", path, exc)
                        self._floor_failed.add(key)
                        i += 1
                        continue
                    self._cache.put(req.model_id, path, candidates)
                    self.predicted.emit(PredictionResult(0, path, req.model_id, candidates, timings))
                gt = None
                if req.gt_source is not None:
                    h, w = candidates.geometry.source_hw
                    read = self._ground_truth_reader(req).read(path, (w, h))
                    if not read.scored:  # left out, as in `scriptlens eval`
                        self._floor_unreadable[key] = read.error
                        i += 1
                        continue
                    gt = read.detections  # no label file: empty, a negative
                pending.append((key, candidates, gt))
                if len(pending) >= self._stats_batch.size:
                    flush()
            i += 1
            if time.perf_counter() > deadline:
                break
        flush()
        self.statsProgress.emit(req.id, i, len(req.paths))
        if i < len(req.paths):
            with self._lock:
                if "stats" not in self._slots and not self._stopping and not req.cancel_event.is_set():
                    self._slots["stats"] = replace(req, start=i)
            return
        images = {str(p): self._floor[str(p)] for p in req.paths if str(p) in self._floor}
        scored = build_scored_folder(list(images.values()), req.num_classes, req.gt_source is not None)
        unreadable = tuple(self._floor_unreadable[str(p)] for p in req.paths if str(p) in self._floor_unreadable)
        self.statsReady.emit(FolderStats(req.id, req.key, scored, images, len(self._floor_failed),
                                         unreadable, req.floor))

    def _ground_truth_reader(self, req: StatsRequest) -> GroundTruthReader:
        reader = self._gt_reader
        if reader is None or reader.source != req.gt_source or reader.num_classes != req.num_classes:
            reader = self._gt_reader = GroundTruthReader(req.gt_source, req.num_classes)
        return reader

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
                    image, read_ms = self._read(path)
                    candidates, _ = self._predict(image, read_ms)
                except ScriptLensError as exc:
                    yield path, exc, None
                    continue
                self._cache.put(req.model_id, path, candidates)
            h, w = candidates.geometry.source_hw
            yield path, apply_thresholds(candidates, req.thresholds), (w, h)


class EngineThread:
    """Owns the QThread and the worker; `close()` stops both (waits for the current step).

    The window runs two: the engine (model, inference, export) and an image reader that only
    decodes images for display, so pictures show while torch is still loading."""

    def __init__(self, cache: CandidateCache, name: str = "scriptlens-engine", backend_loader=None) -> None:
        self.thread = QThread()
        self.thread.setObjectName(name)
        self.worker = EngineWorker(cache, backend_loader)
        self.worker.moveToThread(self.thread)
        self.thread.start()

    def close(self, timeout_ms: int = 10000) -> None:
        self.worker.stop()
        self.thread.quit()
        if not self.thread.wait(timeout_ms):
            log.warning("engine thread did not stop within %d ms", timeout_ms)
