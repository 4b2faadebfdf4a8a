"""How long the threshold panel takes to catch up after the IoU slider is released.

    python -m tools.bench_iou_refresh [--images 1000]

Builds a folder of --images links to the 30 demo images and their labels (in a temporary
directory), opens it in the real window (offscreen) with the demo model, waits until every
image is scored, then moves the IoU slider as a drag does (value changes, then release) and
times, from the release:
  numbers  the quick pass: P/R/F1 at the current thresholds exact (mAP and curves pending);
  curves   the full pass at the 0.001 floor: curves, mAP and Best F1.
Every image's candidates are cached by then, so this is NMS + matching + statistics only.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=1000)
    args = p.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop, QSettings, QTimer

    from gui.app import demo_paths, make_app
    from gui.folder_stats import FLOOR_CONF
    from gui.main_window import MainWindow
    from gui.settings import Settings

    app = make_app(["bench"])
    model, images = demo_paths()
    tmp = Path(tempfile.mkdtemp(prefix="scriptlens-iou-"))
    (tmp / "images").mkdir()
    (tmp / "labels").mkdir()
    src = sorted(images.iterdir())
    for i in range(args.images):
        s = src[i % len(src)]
        os.symlink(s, tmp / "images" / f"{i:05d}{s.suffix}")
        os.symlink(images.parent / "labels" / f"{s.stem}.txt", tmp / "labels" / f"{i:05d}.txt")
    w = MainWindow(Settings(QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat)))
    w.show()
    w.open_folder(tmp / "images", wait=True)
    w.open_model(model)

    def wait(cond, timeout=1200.0):
        # run a real event loop (as the app does) and look every 5 ms: a busy processEvents()
        # poll would fight the worker thread for the GIL and slow down what is measured
        end = time.time() + timeout
        loop = QEventLoop()
        timer = QTimer()
        timer.setInterval(5)
        timer.timeout.connect(lambda: loop.quit() if cond() or time.time() > end else None)
        timer.start()
        if not cond():
            loop.exec()
        timer.stop()
        if not cond():
            raise SystemExit("timed out")

    t0 = time.time()
    wait(lambda: w.folder_stats is not None and w.folder_stats.floor == FLOOR_CONF)
    print(f"{args.images} images scored, inference included: {time.time() - t0:.1f} s")
    for iou in (0.6, 0.3, 0.45):
        slider = w.side_panel.iou_slider
        slider.setValue(iou)
        t0 = time.time()
        slider.sliderReleased.emit()
        wait(lambda: w.folder_stats.key[1] == iou and w.folder_stats.floor > FLOOR_CONF)
        t1 = time.time()
        wait(lambda: w.folder_stats.key[1] == iou and w.folder_stats.floor == FLOOR_CONF)
        t2 = time.time()
        print(f"IoU -> {iou}: numbers {t1 - t0:.2f} s after release, curves {t2 - t0:.2f} s")
    w.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
