"""Take the README screenshot: run the real window on the demo, wait for detections, grab it.

    python tools/screenshot.py                       # offscreen, demo model + images
    DISPLAY=:99 python tools/screenshot.py --x11     # under Xvfb (or a real X server)
    python tools/screenshot.py --model M --images DIR --out docs/screenshot.png --image 3
    python tools/screenshot.py --threshold-panel     # docs/threshold_panel.png: ground truth + panel

Uses a throw-away settings file, so your own window layout and recent files are untouched.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

log = logging.getLogger("screenshot")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=None, help="default: the bundled demo model")
    p.add_argument("--images", type=Path, default=None, help="default: the bundled demo images")
    p.add_argument("--out", type=Path, default=REPO / "docs" / "screenshot.png")
    p.add_argument("--image", type=int, default=None,
                   help="row to show (default: the one with the most detections among the first 12)")
    p.add_argument("--size", default="1400x860", help="window size WxH")
    p.add_argument("--x11", action="store_true", help="use $DISPLAY instead of the offscreen platform")
    p.add_argument("--no-hover", action="store_true", help="do not show a hovered box")
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--threshold-panel", action="store_true",
                   help="wait for the folder scan, show ground truth and the threshold panel "
                        "(default --out docs/threshold_panel.png, --size 1400x1000)")
    return p.parse_args(argv)


def wait(app, predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        app.processEvents()
        if predicate():
            return True
        time.sleep(0.01)
    return False


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threshold_panel:
        if args.out == REPO / "docs" / "screenshot.png":
            args.out = REPO / "docs" / "threshold_panel.png"
        if args.size == "1400x860":
            args.size = "1400x1000"
        args.no_hover = True
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if not args.x11:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from engine import forward_process

    process = forward_process.prestart()  # as `scriptlens` runs: the model in its own process
    from PySide6.QtCore import QSettings, Qt

    from gui.app import demo_paths, make_app
    from gui.main_window import MainWindow
    from gui.settings import Settings

    demo_model, demo_images = demo_paths()
    model, images = args.model or demo_model, args.images or demo_images
    if model is None or images is None:
        log.error("no model/images given and the demo is missing (resources/demo/)")
        return 2

    app = make_app()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["SCRIPTLENS_DATA_DIR"] = tmp  # no autosaved edits from your own sessions
        window = MainWindow(Settings(QSettings(str(Path(tmp) / "s.ini"), QSettings.Format.IniFormat)),
                            model_process=process)
        w, h = (int(v) for v in args.size.lower().split("x"))
        window.resize(w, h)
        window.show()
        window.open_folder(images)
        window.open_model(model)
        if not wait(app, lambda: window.first_detections_shown, args.timeout):
            log.error("no detections within %.0f s: %s", args.timeout, window.banner.text())
            return 1
        if not args.threshold_panel:  # the plain window: class colours, not the ground-truth styles
            window.threshold_panel.show_gt_box.setChecked(False)
        row = args.image
        if row is None and args.threshold_panel:  # an image with matches, a false box and a missed object
            wait(app, lambda: window.folder_stats is not None, args.timeout)
            best, best_key = 0, (-1, 0)
            for r in range(len(window.paths)):
                window.last_image_counts = None
                window.go_to(r)
                wait(app, lambda: window.last_image_counts is not None and window.is_idle(), 20)
                tp, fp, fn = window.last_image_counts or (0, 0, 0)
                key = (min(fp, 1) + min(fn, 1), tp)
                if key > best_key:
                    best, best_key = r, key
            row = best
        if row is None:  # show the image with the most confident boxes (>= 0.5) among the first 12
            best, best_key = 0, (-1, 0)
            for r in range(min(12, len(window.paths))):
                window.go_to(r)
                wait(app, lambda: window.is_idle() and window.image_list.model.count(r) is not None, 20)
                conf = window.detections.confidence
                key = (int((conf >= 0.5).sum()), -int((conf < 0.5).sum()))
                if key > best_key:
                    best, best_key = r, key
            row = best
        if args.threshold_panel:
            if not wait(app, lambda: window.folder_stats is not None, args.timeout):
                log.error("the folder scan did not finish within %.0f s", args.timeout)
                return 1
            window.side_panel.conf_slider.setValue(0.25)
            window.threshold_panel.set_class_view(None)
            window.resizeDocks([window.threshold_dock], [330], Qt.Orientation.Vertical)
        window.go_to(row)
        wait(app, lambda: window.is_idle() and window.canvas.has_image(), args.timeout)
        window.canvas.fit()
        if not args.no_hover and window.canvas.overlay.items:  # show what hovering a box looks like
            item = max(window.canvas.overlay.items, key=lambda i: i.rect().width() * i.rect().height())
            item.set_highlighted(True)
            window.canvas.boxHovered.emit(item.index)
        wait(app, lambda: False, 0.3)  # let the last paints land
        args.out.parent.mkdir(parents=True, exist_ok=True)
        if not window.grab().save(str(args.out)):
            log.error("could not write %s", args.out)
            return 1
        log.info("wrote %s (%s, image %d: %s)", args.out, args.size, row, window.current_path.name)
        window.close()
    if process is not None:
        process.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
