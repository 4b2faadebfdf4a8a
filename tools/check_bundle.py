"""CI's checks of the double-click app: `python -m tools.check_bundle [--app DIR/ScriptLens] [--out DIR]`.

Builds the app (tools/build_app.py) unless ``--app`` names one, then runs it as a user's machine
would: ``env -i`` with only HOME (a fresh one), ``PATH=/usr/bin:/bin`` and DISPLAY, from a
folder outside the checkout. Each check prints one line with its time; any failure exits 1.

1. ``ScriptLens --self-test --reference REF``: REF is written here, first, by the pip-installed
   ``scriptlens label`` (this venv), both backends (see cli/self_test.py).
2. ``ScriptLens label`` and ``scriptlens label`` on the same folder (a corrupt image beside a
   demo image) and on a training checkpoint: same exit codes, same ``skipped:``/``error:``
   lines, label files identical byte for byte; and those are the README's documented forms.
3. The window (no arguments) under Xvfb: it must show the demo's detections (pixels of the
   class colours appear on the screen) within the time limit; the screenshot is kept
   (``--out``, default ``.ci/artifacts/``).
4. ``ScriptLens --self-test --window --shots OUT/dialogs`` under Xvfb (cli/window_self_test.py):
   every dialog opens, paints and closes; QSettings, recent files and the autosaved hand edits
   come back in a second launch. The PNG of each dialog is kept.
5. ``--break demo-model|torch-sources``: the checks must FAIL without that file. Moves the
   files aside, runs the self-test, expects a non-zero exit, and puts them back.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "resources" / "demo"
CLASS_COLOURS = ("E6194B", "3CB44B", "4363D8")  # gui/colors.py's first three: circle, rectangle, triangle


class CheckFailed(Exception):
    pass


def clean_env(home: Path, display: str | None) -> dict[str, str]:
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin"}
    if display:
        env["DISPLAY"] = display
    return env


def pip_scriptlens() -> list[str]:
    """The pip-installed CLI of this environment."""
    exe = Path(sys.executable).with_name("scriptlens")
    return [str(exe)] if exe.is_file() else [sys.executable, "-m", "cli"]


def run(cmd: list[str], env: dict[str, str] | None, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def write_reference(ref: Path) -> None:
    for backend in ("torchscript", "onnxruntime"):
        with tempfile.TemporaryDirectory() as cache:
            r = run(pip_scriptlens() + ["label", "--model", str(DEMO / "shapes.torchscript"), "--images", str(DEMO / "images"),
                                        "--out", str(ref / backend), "--backend", backend],
                    dict(os.environ, SCRIPTLENS_CACHE_DIR=cache), ROOT)
            if r.returncode != 0:
                raise CheckFailed(f"pip-installed scriptlens label failed ({r.returncode}): {r.stderr.strip()[-500:]}")


def check_self_test(app: Path, ref: Path, env: dict[str, str], cwd: Path) -> str:
    r = run([str(app / "ScriptLens"), "--self-test", "--reference", str(ref)], env, cwd)
    if r.returncode != 0 or "self-test: passed" not in r.stdout:
        raise CheckFailed(f"--self-test exited {r.returncode}:\n{r.stdout}{r.stderr[-2000:]}")
    if "Detected locale" in r.stderr:
        raise CheckFailed(f"locale warning under env -i: {r.stderr.strip()[:300]}")
    return "; ".join(line for line in r.stdout.strip().splitlines() if line.startswith("self-test: "))


def reported_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith(("skipped:", "error:"))]


def check_label(app: Path, env: dict[str, str], work: Path) -> str:
    """Frozen and pip-installed `label` on bad input: same exit codes, lines and files."""
    import torch

    images = work / "images"
    images.mkdir()
    shutil.copy(DEMO / "images" / "shapes_7000_00000.jpg", images)
    (images / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a JPEG")
    checkpoint = work / "best.pt"  # a real training checkpoint as torch.save writes it (never unpickled)
    torch.save({"epoch": 3, "optimizer": {"lr": 0.01}, "model": {"w": torch.zeros(2)}}, checkpoint)
    model = DEMO / "shapes.torchscript"
    cases = {
        "corrupt image": (["label", "--model", str(model), "--images", str(images)], 0, r"^skipped: .*broken\.jpg: "),
        "checkpoint": (["label", "--model", str(checkpoint), "--images", str(images)], 3,
                       r"^error: .*best\.pt: this is a training checkpoint .*not an exported model"),
    }
    for name, (args, code, pattern) in cases.items():
        results = {}
        for who, exe, run_env in (("app", [str(app / "ScriptLens")], env), ("pip", pip_scriptlens(), None)):
            out = work / f"{name.replace(' ', '_')}-{who}"
            r = run(exe + args + ["--out", str(out)], run_env, work)
            files = {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
                     if p.is_file() and p.name != "scriptlens_manifest.json"} if out.is_dir() else {}
            results[who] = (r.returncode, [line.replace(str(out), "OUT") for line in reported_lines(r.stderr)], files)
        app_result, pip_result = results["app"], results["pip"]
        if app_result != pip_result:
            raise CheckFailed(f"label, {name}: the app gave exit {app_result[0]} {app_result[1]} and {len(app_result[2])} files, "
                              f"scriptlens gave exit {pip_result[0]} {pip_result[1]} and {len(pip_result[2])} files")
        if app_result[0] != code or not any(re.search(pattern, line) for line in app_result[1]):
            raise CheckFailed(f"label, {name}: expected exit {code} and a line like {pattern!r}, got {app_result[0]} {app_result[1]}")
    return "label: corrupt image (exit 0, skipped line) and checkpoint (exit 3, error line) as scriptlens, files identical"


@contextmanager
def xvfb(display_number: int = 87):
    """A private Xvfb server; yields its DISPLAY."""
    if not shutil.which("Xvfb"):
        raise CheckFailed("Xvfb is not installed (apt-get install xvfb)")
    proc = subprocess.Popen(["Xvfb", f":{display_number}", "-screen", "0", "1400x900x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.0)
        if proc.poll() is not None:
            raise CheckFailed(f"Xvfb :{display_number} did not start")
        yield f":{display_number}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def grab_screen(display: str, path: Path) -> set[str]:
    """Screenshot of the X screen (Qt in a helper process of this venv) -> the class colours seen."""
    code = (
        "import sys\n"
        "from PySide6.QtGui import QGuiApplication\n"
        "app = QGuiApplication(['grab', '-platform', 'xcb'])\n"
        "image = app.primaryScreen().grabWindow(0).toImage()\n"
        "image.save(sys.argv[1])\n"
        "want = set(sys.argv[2:]); seen = set()\n"
        "for y in range(0, image.height(), 2):\n"
        "    for x in range(0, image.width(), 2):\n"
        "        c = image.pixelColor(x, y).name()[1:].upper()\n"
        "        if c in want: seen.add(c)\n"
        "print(' '.join(sorted(seen)))\n"
    )
    r = run([sys.executable, "-c", code, str(path), *CLASS_COLOURS], dict(os.environ, DISPLAY=display), ROOT, timeout=60)
    return set(r.stdout.split())


def check_window(app: Path, home: Path, cwd: Path, shot: Path, timeout: float = 120) -> str:
    with xvfb() as display:
        env = clean_env(home, display)
        proc = subprocess.Popen([str(app / "ScriptLens")], env=env, cwd=cwd, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
        t0 = time.monotonic()
        seen: set[str] = set()
        try:
            while time.monotonic() - t0 < timeout and proc.poll() is None:
                time.sleep(2.0)
                seen = grab_screen(display, shot)
                if len(seen) >= 2:  # boxes of at least two classes drawn: detections are on screen
                    time.sleep(1.0)
                    grab_screen(display, shot)
                    break
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                output = proc.communicate(timeout=20)[0]
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                output = proc.communicate()[0]
        if len(seen) < 2:
            raise CheckFailed(f"the window showed no detections within {timeout:.0f} s (screenshot {shot}); its output:\n{output[-3000:]}")
        if "Detected locale" in output or "qt.qpa" in output:
            raise CheckFailed(f"the window printed Qt warnings:\n{output[-2000:]}")
        return f"window: demo detections on screen after {time.monotonic() - t0:.0f} s (screenshot {shot})"


def check_window_self_test(app: Path, home: Path, cwd: Path, shots: Path) -> str:
    with xvfb(88) as display:
        r = run([str(app / "ScriptLens"), "--self-test", "--window", "--shots", str(shots)], clean_env(home, display), cwd)
    lines = [line.removeprefix("self-test --window: ") for line in r.stdout.splitlines()]
    if r.returncode != 0 or lines[-1:] != ["passed"]:
        raise CheckFailed(f"--self-test --window exited {r.returncode}:\n{r.stdout}{r.stderr[-2000:]}")
    if "Detected locale" in r.stderr or "qt.qpa" in r.stderr:
        raise CheckFailed(f"--self-test --window printed Qt warnings:\n{r.stderr[-2000:]}")
    dialogs = sum(" shown (" in line for line in lines)
    return f"window self-test: {dialogs} dialogs shown and closed, settings/recent files/edits back after a restart (PNGs {shots})"


BREAKS = {  # what --break moves aside (relative to _internal/)
    "demo-model": ["resources/demo/shapes.torchscript"],
    "torch-sources": ["torch/**/*.py"],
}


@contextmanager
def moved_aside(internal: Path, patterns: list[str]):
    aside = Path(tempfile.mkdtemp(prefix="scriptlens-aside-"))
    moved = []
    try:
        for pattern in patterns:
            for path in sorted(internal.glob(pattern)):
                target = aside / path.relative_to(internal)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(path, target)
                moved.append((path, target))
        if not moved:
            raise CheckFailed(f"nothing matched {patterns} in {internal}")
        yield len(moved)
    finally:
        for path, target in moved:
            shutil.move(target, path)
        shutil.rmtree(aside, ignore_errors=True)


def check_break(app: Path, what: str, ref: Path, env: dict[str, str], cwd: Path) -> str:
    with moved_aside(app / "_internal", BREAKS[what]) as count:
        r = run([str(app / "ScriptLens"), "--self-test", "--reference", str(ref)], env, cwd)
    if r.returncode == 0:
        raise CheckFailed(f"--self-test passed without {what} ({count} files moved aside): the check cannot see it missing")
    last = (r.stderr.strip() or r.stdout.strip()).splitlines()[-1:] or [""]
    return f"break {what}: --self-test exits {r.returncode} without it ({count} files moved aside): {last[0][:160]}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.check_bundle", description=__doc__.split("\n\n")[0])
    ap.add_argument("--app", type=Path, help="an existing build's ScriptLens/ folder (default: build one)")
    ap.add_argument("--out", type=Path, default=ROOT / ".ci" / "artifacts", help="where the screenshot goes")
    ap.add_argument("--only", nargs="*", choices=["self-test", "label", "window", "window-self-test", "break"], help="run these checks only")
    ap.add_argument("--break", dest="breaks", nargs="*", choices=sorted(BREAKS), default=sorted(BREAKS))
    args = ap.parse_args(argv)
    only = set(args.only or ["self-test", "label", "window", "window-self-test", "break"])
    work = Path(tempfile.mkdtemp(prefix="scriptlens-check-"))
    failed = False

    def step(name, fn, *a):
        nonlocal failed
        t = time.monotonic()
        try:
            print(f"check_bundle: {fn(*a)} [{time.monotonic() - t:.0f} s]", flush=True)
        except (CheckFailed, subprocess.TimeoutExpired) as exc:
            failed = True
            print(f"check_bundle: FAILED {name}: {exc} [{time.monotonic() - t:.0f} s]", flush=True)

    try:
        app = args.app
        if app is None:
            from tools.build_app import build

            t = time.monotonic()
            app = build(work / "dist", archive=False)
            print(f"check_bundle: build [{time.monotonic() - t:.0f} s]", flush=True)
        app = app.resolve()
        home, cwd = work / "home", work / "cwd"
        home.mkdir()
        cwd.mkdir()
        ref = work / "reference"
        t = time.monotonic()
        write_reference(ref)
        print(f"check_bundle: reference labels from the pip-installed scriptlens [{time.monotonic() - t:.0f} s]", flush=True)
        env = clean_env(home, None)
        if "self-test" in only:
            step("self-test", check_self_test, app, ref, env, cwd)
        if "label" in only:
            step("label", check_label, app, env, work)
        if "window" in only:
            args.out.mkdir(parents=True, exist_ok=True)
            step("window", check_window, app, home, cwd, args.out / "bundle_window.png")
        if "window-self-test" in only:
            args.out.mkdir(parents=True, exist_ok=True)
            step("window self-test", check_window_self_test, app, home, cwd, args.out / "dialogs")
        if "break" in only:
            for what in args.breaks:
                step(f"break {what}", check_break, app, what, ref, env, cwd)
    except CheckFailed as exc:
        failed = True
        print(f"check_bundle: FAILED: {exc}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("check_bundle: " + ("FAILED" if failed else "all checks passed"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
