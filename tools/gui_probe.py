"""Measure the window as a user meets it: `python -m tools.gui_probe T0 [--browse N]`.

T0 is the parent's ``time.time()`` just before it started this process, so "window shown" and
"first detections" include interpreter start-up and imports. With ``--browse N`` it then steps
through N images (a folder of links to the demo images), waiting for each image's detections,
and reports the peak resident memory. Prints one JSON line. Used by tools/bench.py.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path


def peak_rss_mb(pid: int | None) -> float:
    """Peak resident memory of a running process (Linux /proc; 0 where unknown)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, TypeError):
        pass
    return 0.0


def loaded_torch(pid: int | None) -> bool | None:
    """Has this process loaded torch's library? (Linux /proc; None where unknown)"""
    try:
        return "libtorch" in Path(f"/proc/{pid}/maps").read_text()
    except (OSError, TypeError):
        return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("t0", type=float)
    ap.add_argument("--browse", type=int, default=0)
    ap.add_argument("--folder-files", type=int, default=0, help="also open a folder of this many small files")
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--backend", default="auto", help="auto (the default: a cached ONNX conversion needs no torch), torchscript, onnxruntime")
    args = ap.parse_args(argv)

    # As `scriptlens` does (cli/main.py): the model process first, told which model comes, then Qt.
    from engine import forward_process
    from engine.demo import demo_paths

    forward = forward_process.prestart(demo_paths()[0], args.backend)
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from gui.app import create_window, make_app
    from gui.settings import Settings

    app = make_app([sys.argv[0]])
    model, images = demo_paths()
    tmp = tempfile.TemporaryDirectory()
    settings = Settings(QSettings(str(Path(tmp.name, "probe.ini")), QSettings.Format.IniFormat))
    window = create_window(model, images, settings=settings, model_process=forward, backend=args.backend)
    app.processEvents()
    shown = time.time() - args.t0
    result = {"backend": args.backend, "window_shown_s": round(shown, 3)}

    def wait(cond, timeout):
        end = time.time() + timeout
        while not cond():
            if time.time() > end:
                return False
            app.processEvents()
            time.sleep(0.002)
        return True

    if wait(lambda: window.first_detections_shown, args.timeout):
        result["first_detections_s"] = round(time.time() - args.t0, 3)
        info = window.session.model_info
        result["ran_on"] = info.backend if info else None
        result["model_process_loaded_torch"] = loaded_torch(forward.pid if forward else os.getpid())
    if args.folder_files:
        import cv2
        import numpy as np

        big = Path(tmp.name, "many")
        png = cv2.imencode(".png", np.full((48, 64, 3), 128, np.uint8))[1].tobytes()
        for i in range(args.folder_files):
            sub = big / f"d{i // 1000:02d}"
            sub.mkdir(parents=True, exist_ok=True)
            (sub / f"img_{i}.png").write_bytes(png)
        window.canvas.set_image(None)
        t = time.time()
        window.open_folder(big)
        ok = wait(lambda: len(window.paths) == args.folder_files and window.current_path is not None
                  and window.canvas.has_image(), args.timeout)
        result["folder_files"] = args.folder_files
        result["folder_first_image_s"] = round(time.time() - t, 3) if ok else None
    if args.browse:
        src = sorted(p for p in images.iterdir() if p.suffix.lower() in (".jpg", ".png"))
        folder = Path(tmp.name, "browse")
        folder.mkdir()
        for i in range(args.browse):
            os.symlink(src[i % len(src)], folder / f"{i:05d}{src[i % len(src)].suffix}")
        window.open_folder(folder, wait=True)
        wait(lambda: len(window.paths) == args.browse, args.timeout)
        t = time.time()
        def shown():  # this image's detections are in: not "idle", a folder scan may be running
            return window.cache.get(window.model_id, window.current_path) is not None

        for _ in range(args.browse - 1):
            window.next_image()
            wait(shown, args.timeout)
        result["browsed_images"] = args.browse
        result["browse_s"] = round(time.time() - t, 1)
        window_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        model_mb = peak_rss_mb(forward.pid) if forward else 0.0
        result["peak_rss_window_mb"] = round(window_mb, 1)
        result["peak_rss_model_process_mb"] = round(model_mb, 1)
        result["peak_rss_mb"] = round(window_mb + model_mb, 1)  # both processes: what the user pays
    window.close()
    app.processEvents()
    if forward:
        forward.close()
    print(json.dumps(result))
    QApplication.quit()
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
