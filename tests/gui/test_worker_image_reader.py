"""gui.image_reader: the window's second thread only decodes images (no model, no torch), with
the engine worker's image interface and latest-wins slot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from gui.image_reader import ImageReaderThread, ImageRequest
from gui.worker import EngineThread

ROOT = Path(__file__).resolve().parents[2]


def test_reads_an_image_into_a_qimage(qtbot, tmp_path):
    import cv2

    image = np.zeros((30, 40, 3), np.uint8)
    image[:, :, 2] = 200  # red in BGR
    cv2.imwrite(str(tmp_path / "red.png"), image)
    reader = ImageReaderThread(name="test-images")
    try:
        with qtbot.waitSignal(reader.worker.imageLoaded, timeout=10000) as blocker:
            reader.worker.submit_image(ImageRequest(3, tmp_path / "red.png", 0, True, False))
        result = blocker.args[0]
        assert (result.request_id, result.path, result.image.width(), result.image.height()) == (3, tmp_path / "red.png", 40, 30)
        assert result.image.pixelColor(5, 5).red() == 200 and result.read_ms >= 0
        qtbot.waitUntil(reader.worker.is_idle, timeout=5000)
    finally:
        reader.close()
    assert reader.thread.isFinished()


def test_a_missing_or_broken_image_comes_back_as_one_line(qtbot, tmp_path):
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    reader = ImageReaderThread()
    try:
        for name, words in (("nope.png", "does not exist"), ("broken.jpg", "cannot read image")):
            with qtbot.waitSignal(reader.worker.imageFailed, timeout=10000) as blocker:
                reader.worker.submit_image(ImageRequest(7, tmp_path / name, 0))
            request_id, path, message = blocker.args
            assert request_id == 7 and path == tmp_path / name and name in message and words in message
            assert "\n" not in message
    finally:
        reader.close()


def test_holding_the_arrow_key_builds_no_queue(qtbot, tmp_path):
    from gui_test_data import make_images

    paths = make_images(tmp_path / "imgs", 3)
    reader = ImageReaderThread()
    seen = []
    reader.worker.imageLoaded.connect(lambda result: seen.append(result.request_id))
    try:
        for i in range(1, 1001):
            reader.worker.submit_image(ImageRequest(i, paths[i % 3], 0))
        qtbot.waitUntil(lambda: 1000 in seen, timeout=20000)
        qtbot.waitUntil(reader.worker.is_idle, timeout=20000)
        assert len(seen) <= 3 and not reader.worker.has_pending_image()
    finally:
        reader.close()


def test_same_interface_as_the_engine_thread_for_what_the_window_uses():
    """The window uses `.thread`, `.close()`, and the worker's imageLoaded, imageFailed,
    submit_image and is_idle: a drop-in for `EngineThread(cache, name=...)`."""
    from gui.candidate_cache import CandidateCache

    reader = ImageReaderThread(CandidateCache(), name="scriptlens-images")
    engine = EngineThread(CandidateCache())
    try:
        for name in ("imageLoaded", "imageFailed", "submit_image", "is_idle", "has_pending_image", "stop"):
            assert hasattr(reader.worker, name) and hasattr(engine.worker, name), name
        assert reader.thread.objectName() == "scriptlens-images"
    finally:
        reader.close()
        engine.close()


def test_reading_images_loads_neither_torch_nor_the_pipeline(tmp_path):
    from gui_test_data import make_images

    [path] = make_images(tmp_path / "imgs", 1)
    code = (
        "import sys\n"
        "from PySide6.QtCore import QCoreApplication, QTimer\n"
        "from gui.image_reader import ImageReaderThread, ImageRequest\n"
        "app = QCoreApplication([])\n"
        "reader = ImageReaderThread()\n"
        "got = []\n"
        "reader.worker.imageLoaded.connect(lambda r: (got.append(r), app.quit()))\n"
        f"reader.worker.submit_image(ImageRequest(1, __import__('pathlib').Path({str(path)!r}), 0))\n"
        "QTimer.singleShot(10000, app.quit)\n"
        "app.exec()\n"
        "reader.close()\n"
        "assert got, 'no image'\n"
        "bad = [m for m in ('torch', 'engine.pipeline', 'engine.predictor', 'gui.worker') if m in sys.modules]\n"
        "assert not bad, bad\n"
        "print('ok')\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                       env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"})
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr
