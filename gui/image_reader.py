"""The image reader: decodes images for display on its own thread, nothing else (no model, no
cache, no torch), so pictures show while a model is still loading or busy.

`ImageReader` is a QObject living in a QThread (`ImageReaderThread` owns both). It has the
subset of `gui.worker.EngineWorker`'s interface that displaying images needs --
`submit_image(ImageRequest)`, `imageLoaded(ImageResult)`, `imageFailed(id, path, message)`,
`is_idle()`, `has_pending_image()` -- with the same latest-wins slot: holding the arrow key
overwrites one pending request, never builds a queue. `ImageRequest.want_prediction` and
`model_id` are ignored here (the engine worker predicts).

The request and result types live here because both threads use them; `gui.worker` re-exports
them.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal, Slot
from PySide6.QtGui import QImage

from engine.errors import ScriptLensError
from engine.images import read_image
from engine.run_errors import image_failure

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImageRequest:
    id: int
    path: Path
    model_id: int  # 0: no model, just show the image
    want_image: bool = True
    want_prediction: bool = True


@dataclass(frozen=True)
class ImageResult:
    request_id: int
    path: Path
    image: QImage | None  # None when the caller already had it
    read_ms: float


def bgr_to_qimage(image: np.ndarray) -> QImage:
    """A QImage that owns its pixels (safe to hand to another thread)."""
    image = np.ascontiguousarray(image)
    h, w = image.shape[:2]
    return QImage(image.data, w, h, int(image.strides[0]), QImage.Format.Format_BGR888).copy()


def read_bgr(path: Path) -> tuple[np.ndarray, float]:
    """(BGR image, read time in ms); raises `ScriptLensError` only, whatever went wrong."""
    t0 = time.perf_counter()
    try:
        image = read_image(path)
    except Exception as exc:  # ImageReadError; anything else translated the engine's way
        raise image_failure(exc, path) from None
    return image, (time.perf_counter() - t0) * 1e3


class ImageReader(QObject):
    imageLoaded = Signal(object)  # ImageResult
    imageFailed = Signal(int, object, str)  # request id, path, message
    _wake = Signal()

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._pending: ImageRequest | None = None
        self._wake_pending = False
        self._busy = False
        self._stopping = False
        self._wake.connect(self._on_wake)

    # ---- called from the UI thread -------------------------------------------------
    def submit_image(self, request: ImageRequest) -> None:
        with self._lock:
            if self._stopping:
                return
            self._pending = request
            if self._wake_pending:
                return
            self._wake_pending = True
        self._wake.emit()

    def is_idle(self) -> bool:
        """Nothing pending and nothing being read (tests wait for this)."""
        with self._lock:
            return self._pending is None and not self._wake_pending and not self._busy

    def has_pending_image(self) -> bool:
        with self._lock:
            return self._pending is not None

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            self._pending = None

    # ---- reader thread ------------------------------------------------------------
    def _take(self) -> ImageRequest | None:
        with self._lock:
            request, self._pending = self._pending, None
            self._busy = request is not None
            if request is None:
                self._wake_pending = False
            return request

    @Slot()
    def _on_wake(self) -> None:
        while (request := self._take()) is not None:
            if not request.want_image:
                continue
            try:
                image, read_ms = read_bgr(request.path)
                result = ImageResult(request.id, request.path, bgr_to_qimage(image), read_ms)
            except ScriptLensError as exc:
                self.imageFailed.emit(request.id, request.path, str(exc))
                continue
            except Exception:  # the thread must survive anything (a QImage out of memory...)
                log.exception("image reader failed on %s", request)
                self.imageFailed.emit(request.id, request.path, "Internal error in the image reader (see the log).")
                continue
            self.imageLoaded.emit(result)


class OwnedThread:
    """A QObject worker living in a QThread of its own; `close()` stops both (waits for the step in
    progress). `gui.worker.EngineThread` and `ImageReaderThread` are the two the window runs."""

    def __init__(self, worker, name: str) -> None:
        self.thread = QThread()
        self.thread.setObjectName(name)
        self.worker = worker
        self.worker.moveToThread(self.thread)
        self.thread.start()

    def close(self, timeout_ms: int = 10000) -> None:
        self.worker.stop()
        self.thread.quit()
        if not self.thread.wait(timeout_ms):
            log.warning("%s thread did not stop within %d ms", self.thread.objectName(), timeout_ms)


class ImageReaderThread(OwnedThread):
    """The image reader in its thread. Same shape as `gui.worker.EngineThread` (`.thread`,
    `.worker`, `.close()`), so the window swaps one for the other; `cache` is accepted for that
    reason and not used."""

    def __init__(self, cache: object = None, name: str = "scriptlens-images") -> None:
        super().__init__(ImageReader(), name)
