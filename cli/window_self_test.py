"""`ScriptLens --self-test --window [--shots DIR]`: does the window work in this copy of the app,
including what it keeps between runs and every dialog? Needs a display (CI: Xvfb). Exit 0 when
every step passes, 1 otherwise; one line per step.

Everything runs under a temporary HOME (the XDG folders inside it), so a person's own settings,
recent files and hand edits are never touched; the code paths are the app's own (QSettings'
default file, platformdirs' data folder), only rooted there. Linux and other XDG systems only:
on Windows (the registry) and macOS (the user's preferences) a temporary HOME does not move
QSettings, so it refuses there rather than touch a person's settings.

First run (this process), started as `ScriptLens` starts (gui.app.start) on a copy of the demo:
1. the demo's detections appear;
2. every dialog opens from its own action or button, paints, and closes: Open model, Open
   folder, Open ground-truth labels, Model settings, Export labels, Keyboard shortcuts, Save and
   Load thresholds profile, and the confirmation before an export into the demo's ground truth
   (cancelled there: the ground-truth files must be unchanged);
3. a whole-folder export into a new folder (its progress dialog) writes a label file per image;
4. the confidence threshold is changed, one box deleted in edit mode (autosaved: the edits
   file must be on disk before the window closes), and the window closed.
Second run (a new process: nothing carried over in memory), started with no arguments:
5. it reopens the copy (the last folder and model, from QSettings), the recent-files menu names
   both, the threshold is the one set, and the hand edit is back on the first image.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

from engine.demo import DEMO_DIR

TIMEOUT_S = 120.0  # the first detections include the model's first load (and its ONNX conversion)
SET_CONF = 0.4  # the threshold the first run sets and the second must find (the default is 0.25)


class StepFailed(Exception):
    pass


def isolate(root: Path) -> None:
    """HOME and the XDG folders under `root`, before Qt or platformdirs read them."""
    home = root / "home"
    folders = {"XDG_CONFIG_HOME": home / ".config", "XDG_DATA_HOME": home / ".local" / "share",
               "XDG_CACHE_HOME": home / ".cache"}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    os.environ.update(HOME=str(home), **{name: str(path) for name, path in folders.items()})
    for name in ("SCRIPTLENS_DATA_DIR", "SCRIPTLENS_CACHE_DIR"):  # the app's defaults, not a test's
        os.environ.pop(name, None)


def self_command() -> list[str]:
    """How to start this program again: the app's executable, or the pip install's launcher."""
    return [sys.executable] if getattr(sys, "frozen", False) else [sys.executable, "-m", "cli.frozen"]


def folder_digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            h.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


class Driver:
    """Runs the window's event loop until a condition holds, and closes modal dialogs."""

    def __init__(self, app, window, shots: Path | None) -> None:
        self.app, self.window, self.shots = app, window, shots

    def wait(self, condition, what: str, timeout: float = TIMEOUT_S) -> None:
        end = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > end:
                raise StepFailed(f"{what}: not within {timeout:.0f} s")
            self.app.processEvents()
            time.sleep(0.01)

    def idle(self) -> None:
        self.wait(self.window.is_idle, "the window's workers to finish")

    def shot(self, widget, name: str) -> tuple[int, int, int]:
        """(width, height, distinct colours) of what `widget` paints; saved under --shots."""
        image = widget.grab().toImage()
        if self.shots is not None:
            image.save(str(self.shots / f"{re.sub(r'[^a-z0-9]+', '-', name.lower()).strip('-')}.png"))
        step = max(1, min(image.width(), image.height()) // 64)
        colours = {image.pixel(x, y) for y in range(0, image.height(), step) for x in range(0, image.width(), step)}
        return image.width(), image.height(), len(colours)

    def through_dialog(self, name: str, trigger, settle_s: float = 0.3) -> str:
        """Call `trigger`, which must open a modal dialog; once it has been on screen `settle_s`,
        note what it painted and close it (reject: Cancel/Escape)."""
        from PySide6.QtCore import QTimer
        from PySide6.QtWidgets import QApplication

        seen: dict = {}

        def poll() -> None:
            dialog = QApplication.activeModalWidget()
            if dialog is None or not dialog.isVisible() or "size" in seen:
                return
            first = seen.setdefault("since", time.monotonic())
            if time.monotonic() - first >= settle_s:
                seen.update(kind=type(dialog).__name__, title=dialog.windowTitle(), size=self.shot(dialog, name))
                dialog.reject()

        timer = QTimer()
        timer.setInterval(50)
        timer.timeout.connect(poll)
        timer.start()
        try:
            trigger()
        finally:
            timer.stop()
        if "size" not in seen:
            raise StepFailed(f"{name}: no dialog opened")
        w, h, colours = seen["size"]
        if w < 100 or h < 60 or colours < 4:
            raise StepFailed(f"{name}: the dialog painted nothing useful ({w}x{h} px, {colours} colours)")
        return f"{name}: {seen['kind']} '{seen['title']}' shown ({w}x{h} px) and closed"


def first_run(root: Path, shots: Path | None) -> list[str]:
    from gui.app import start
    from gui.export_dialog import ExportChoice

    demo = root / "demo"  # a copy: edits and exports land beside it, never in the app's folder
    shutil.copytree(DEMO_DIR / "images", demo / "images")
    shutil.copytree(DEMO_DIR / "labels", demo / "labels")
    app, window, forward = start(DEMO_DIR / "shapes.torchscript", demo / "images")
    d = Driver(app, window, shots)
    lines = []
    try:
        d.wait(lambda: window.first_detections_shown, "the demo's first detections")
        d.idle()
        lines.append(f"first detections: {len(window.detections)} boxes on {window.current_path.name}")
        w, h, colours = d.shot(window, "window")
        if colours < 20:  # image, boxes, panels and text give hundreds
            raise StepFailed(f"the window painted almost nothing ({w}x{h} px, {colours} colours)")
        lines.append(f"window: {w}x{h} px painted ({colours} colours)")
        for name, trigger in (
            ("Open model", window.open_model_action.trigger),
            ("Open folder", window.open_folder_action.trigger),
            ("Open ground-truth labels", window.open_gt_action.trigger),
            ("Model settings", window.model_settings_action.trigger),
            ("Export labels", window.export_action.trigger),
            ("Keyboard shortcuts", window.help_action.trigger),
            ("Save thresholds profile", window.threshold_panel.saveProfileRequested.emit),
            ("Load thresholds profile", window.threshold_panel.loadProfileRequested.emit),
        ):
            lines.append(d.through_dialog(name, trigger))
        truth = demo / "labels"
        before = folder_digest(truth)
        started: list = []
        lines.append(d.through_dialog("Export into the ground truth: confirmation", lambda: started.append(
            window.export(ExportChoice(True, truth, on_existing="overwrite")))))
        if started != [None] or folder_digest(truth) != before:
            raise StepFailed("cancelling the confirmation still wrote into the ground-truth folder")
        lines.append("cancelled export: ground-truth files unchanged")

        out = root / "exported"
        if window.export(ExportChoice(True, out)) is None:
            raise StepFailed("the whole-folder export did not start")
        progress = window.export_controller.progress_dialog
        d.wait(lambda: progress is not None and progress.isVisible(), "the export's progress dialog")
        d.shot(progress, "export progress")
        d.wait(lambda: not window.export_controller.running, "the export")
        written = len([p for p in out.glob("*.txt") if p.name != "classes.txt"])
        if written != len(window.paths):
            raise StepFailed(f"the export wrote {written} label files for {len(window.paths)} images")
        lines.append(f"export: progress dialog shown, {written} label files written")

        window.session.set_thresholds(dataclasses.replace(window.thresholds(), conf=SET_CONF))
        d.idle()
        if window.current_row != 0:
            window.go_to(0)
            d.idle()
        boxes = len(window.detections)
        if boxes < 1:
            raise StepFailed(f"no box on the first image at confidence {SET_CONF} to delete")
        window.edit_mode_action.trigger()
        window.canvas.editor.select(0)
        window.delete_box_action.trigger()
        window.edit_mode_action.trigger()
        edits_file, image = window.edits.file, window.current_path.name
        d.wait(lambda: edits_file is not None and edits_file.is_file()
               and f'"{image}"' in edits_file.read_text(encoding="utf-8"), "the autosaved edits file", 10)
        lines.append(f"edit: one of {boxes} boxes deleted, autosaved to {edits_file.name} before closing")
        window.close()
        app.processEvents()
        settings_file = Path(window.settings.file_name())
        for what, path in (("settings", settings_file), ("edits", edits_file)):
            if root not in path.parents or not path.is_file():  # also: a person's own files were not touched
                raise StepFailed(f"the {what} file is {path}, not a file under the test's HOME {root}")
        lines.append(f"settings saved to {settings_file.relative_to(root)}")
        expected = {"conf": SET_CONF, "image": str(window.paths[0]), "boxes": boxes - 1,
                    "model": str(DEMO_DIR / "shapes.torchscript"), "folder": str(demo / "images")}
        (root / "expected.json").write_text(json.dumps(expected))
    finally:
        if forward is not None:
            forward.close()
    return lines


def restart_run(root: Path) -> list[str]:
    from gui.app import start

    expected = json.loads((root / "expected.json").read_text())
    app, window, forward = start()  # no arguments: what a double-click does
    d = Driver(app, window, None)
    try:
        d.wait(lambda: window.first_detections_shown, "the first detections after the restart")
        d.idle()
        folder, model = str(window.session.root), str(window.session.model_path)
        if (Path(folder), Path(model)) != (Path(expected["folder"]), Path(expected["model"])):
            raise StepFailed(f"reopened {folder} with {model}, not the last folder and model")
        recent = [a.text() for a in window.recent_menu.actions() if not a.isSeparator()]
        if expected["folder"] not in recent or expected["model"] not in recent:
            raise StepFailed(f"the recent-files menu lists {recent}")
        if abs(window.thresholds().conf - expected["conf"]) > 1e-6:
            raise StepFailed(f"confidence {window.thresholds().conf}, not the {expected['conf']} set before")
        if str(window.current_path) != expected["image"]:
            window.go_to(window.paths.index(Path(expected["image"])))
            d.idle()
        if len(window.detections) != expected["boxes"] or window.edits.get(expected["image"]) is None:
            raise StepFailed(f"{len(window.detections)} boxes on the edited image, not the {expected['boxes']} left by hand")
        window.close()
        app.processEvents()
    finally:
        if forward is not None:
            forward.close()
    return ["restart: last folder and model reopened, recent files listed, "
            f"confidence {expected['conf']} kept, the hand edit back ({expected['boxes']} box(es) on the image)"]


def run_phase(phase: str, root: Path, shots: Path | None) -> int:
    isolate(root)
    try:
        lines = first_run(root, shots) if phase == "first" else restart_run(root)
    except StepFailed as exc:
        print(f"self-test --window: FAILED: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # a missing file, a Qt error: still one line saying what broke (and where)
        traceback.print_exc()
        print(f"self-test --window: FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    for line in lines:
        print(f"self-test --window: {line}", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="ScriptLens --self-test --window", description=__doc__.split("\n\n")[0])
    ap.add_argument("--shots", type=Path, help="save a PNG of the window and of each dialog here")
    ap.add_argument("--phase", choices=["first", "restart"], help=argparse.SUPPRESS)  # internal: the second run
    ap.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    for stream in (sys.stdout, sys.stderr):  # dialog titles are not ASCII; a C locale must not end the test
        stream.reconfigure(errors="backslashreplace")
    if sys.platform in ("win32", "darwin"):  # the person's own settings would be written
        print("self-test --window: Linux only (on Windows and macOS QSettings lives outside a temporary HOME: "
              "the registry, the user's preferences)", file=sys.stderr)
        return 2
    if args.shots:
        args.shots.mkdir(parents=True, exist_ok=True)
    if args.phase:
        return run_phase(args.phase, args.root, args.shots)
    with tempfile.TemporaryDirectory(prefix="scriptlens-window-test-") as tmp:
        root = Path(tmp)
        for phase in ("first", "restart"):  # two processes: the second sees only what is on disk
            cmd = self_command() + ["--self-test", "--window", "--phase", phase, "--root", str(root)]
            if args.shots:
                cmd += ["--shots", str(args.shots.resolve())]
            if subprocess.run(cmd).returncode != 0:
                print("self-test --window: FAILED", file=sys.stderr)
                return 1
    print("self-test --window: passed")
    return 0
