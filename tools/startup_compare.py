"""Start-up of the app and of the pip install, side by side, in one run:
`python -m tools.startup_compare --app DIST/ScriptLens [--runs 5]`.

Measured like tools/gui_probe.py: t0 is `time.time()` just before the process is started, so
"window shown" and "first detections" include interpreter start-up (the app's bootloader)
and imports. Both read the window's own log lines (gui/app.py "window shown ... (epoch T",
gui/browse_controller.py "first detections shown (epoch T"), with a fresh HOME each launch
(so the demo opens, as on a first start). One untimed launch of each first warms the disk
cache; then they alternate, so load on the machine hits both alike. Uses an Xvfb of its own
when Xvfb is installed, else Qt's offscreen platform. Prints medians and each run as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHOWN = re.compile(r"window shown .*\(epoch ([0-9.]+)")
DETECTIONS = re.compile(r"first detections shown \(epoch ([0-9.]+)")


def launch(cmd: list[str], env: dict[str, str], timeout: float) -> dict[str, float | None]:
    with tempfile.TemporaryDirectory() as home:
        env = dict(env, HOME=home, XDG_CONFIG_HOME=f"{home}/.config", XDG_CACHE_HOME=f"{home}/.cache")
        t0 = time.time()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        result: dict[str, float | None] = {"window_shown_s": None, "first_detections_s": None}
        deadline = time.monotonic() + timeout
        try:
            for line in proc.stderr:
                if m := SHOWN.search(line):
                    result["window_shown_s"] = round(float(m.group(1)) - t0, 3)
                if m := DETECTIONS.search(line):
                    result["first_detections_s"] = round(float(m.group(1)) - t0, 3)
                    break
                if time.monotonic() > deadline:
                    break
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.startup_compare", description=__doc__.split("\n\n")[0])
    ap.add_argument("--app", type=Path, required=True, help="the built ScriptLens/ folder")
    ap.add_argument("--scriptlens", default=str(Path(sys.executable).with_name("scriptlens")), help="the pip-installed command")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--timeout", type=float, default=120)
    args = ap.parse_args(argv)
    env = dict(os.environ)
    xvfb = None
    if shutil.which("Xvfb"):
        xvfb = subprocess.Popen(["Xvfb", ":86", "-screen", "0", "1400x900x24", "-nolisten", "tcp"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)
        env.update(DISPLAY=":86")
        env.pop("QT_QPA_PLATFORM", None)
    else:
        env["QT_QPA_PLATFORM"] = "offscreen"
    # -v: the window's INFO log lines carry the epochs read here (both print them the same way)
    commands = {"app": [str(args.app.resolve() / "ScriptLens"), "-v"], "pip": [args.scriptlens, "-v"]}
    runs: dict[str, list[dict]] = {name: [] for name in commands}
    try:
        for name, cmd in commands.items():
            launch(cmd, env, args.timeout)  # warm the disk cache
        for _ in range(args.runs):
            for name, cmd in commands.items():
                runs[name].append(launch(cmd, env, args.timeout))
    finally:
        if xvfb:
            xvfb.terminate()
            xvfb.wait()
    summary = {}
    for name, results in runs.items():
        summary[name] = {key: (round(statistics.median(v), 3) if (v := [r[key] for r in results if r[key] is not None]) else None)
                         for key in ("window_shown_s", "first_detections_s")}
    print(json.dumps({"platform": "xvfb" if xvfb else "offscreen", "median": summary, "runs": runs}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
