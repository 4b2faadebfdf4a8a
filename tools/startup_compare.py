"""Start-up of the app and of the pip install, side by side, in one run:
`python -m tools.startup_compare --app DIST/ScriptLens [--runs 5]`.

Measured like tools/gui_probe.py: t0 is `time.time()` just before the process is started, so
"window shown" and "first detections" include interpreter start-up (the app's bootloader)
and imports. Both read the window's own log lines (gui/app.py "window shown ... (epoch T",
gui/browse_controller.py "first detections shown (epoch T"). Two kinds of launch (``--homes``):
``fresh``, a new HOME each launch (a first start: the demo opens and the default backend
converts it to ONNX once), and ``kept``, one HOME per side whose warm-up launch filled the
conversion cache (every later start: the model process opens the cached conversion without
torch). One untimed launch of each first warms the disk cache; then they alternate, so load on
the machine hits both alike; ``app_minus_pip_median`` is the median of those pairs'
differences. Uses an Xvfb of its own
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


def launch(cmd: list[str], env: dict[str, str], timeout: float, home: str | None = None) -> dict[str, float | None]:
    """One launch with HOME = `home` (kept by the caller), or a new one removed afterwards."""
    with tempfile.TemporaryDirectory() as fresh:
        home = home or fresh
        env = dict(env, HOME=home, XDG_CONFIG_HOME=f"{home}/.config", XDG_CACHE_HOME=f"{home}/.cache")
        env.pop("SCRIPTLENS_CACHE_DIR", None)  # the cache goes with HOME
        env.pop("SCRIPTLENS_DATA_DIR", None)
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
    ap.add_argument("--homes", nargs="+", choices=["fresh", "kept"], default=["fresh", "kept"],
                    help="first starts (a new HOME each), later starts (one HOME, conversion cached), or both")
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
    runs: dict[str, dict[str, list[dict]]] = {mode: {name: [] for name in commands} for mode in args.homes}
    homes = {name: tempfile.mkdtemp(prefix=f"startup-{name}-") for name in commands}
    try:
        for name, cmd in commands.items():
            launch(cmd, env, args.timeout, homes[name])  # warms the disk cache; fills the kept HOME's cache
        for mode in args.homes:
            for _ in range(args.runs):
                for name, cmd in commands.items():
                    runs[mode][name].append(launch(cmd, env, args.timeout, homes[name] if mode == "kept" else None))
    finally:
        if xvfb:
            xvfb.terminate()
            xvfb.wait()
        for home in homes.values():
            shutil.rmtree(home, ignore_errors=True)
    summary = {mode: {name: {key: (round(statistics.median(v), 3) if (v := [r[key] for r in results if r[key] is not None]) else None)
                             for key in ("window_shown_s", "first_detections_s")}
                      for name, results in by_name.items()}
               for mode, by_name in runs.items()}
    # launches alternate, so each app launch has a pip launch beside it under the same load: the
    # median of those differences is steadier than the difference of the medians on a busy box
    paired = {mode: {key: (round(statistics.median(d), 3) if (d := [a[key] - b[key] for a, b in zip(by_name["app"], by_name["pip"])
                                                                  if a[key] is not None and b[key] is not None]) else None)
                     for key in ("window_shown_s", "first_detections_s")}
              for mode, by_name in runs.items()}
    print(json.dumps({"platform": "xvfb" if xvfb else "offscreen", "median": summary, "app_minus_pip_median": paired,
                      "runs": runs}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
