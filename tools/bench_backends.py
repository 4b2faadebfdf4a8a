"""`scriptlens label` and model loading per backend: `python -m tools.bench_backends [MODEL[:SIZE] ...]`.

For each model (default: the demo at its 512, and the shared Ultralytics YOLOv8n fixture at 320
when present), in one run:
- the one-off conversion, and load times: `scriptlens info` wall time with an empty ONNX cache
  (cold: converts and verifies), with the cache filled (warm: opens the conversion, no torch),
  and with `--backend torchscript`;
- `scriptlens label` images/s with `--backend torchscript` and with the default (`auto`), on a
  folder of ``--images`` synthetic 1920x1080 JPEGs (shapes on noise), the two taking turns for
  ``--rounds`` rounds (a shared machine's slow stretches hit both alike); the summary's own
  images/s (model load excluded) is used, median of the rounds.
Prints a Markdown table and one JSON line; tools/bench.py includes it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "resources" / "demo" / "shapes.torchscript"
FIXTURE = ROOT.parent / "shared" / "fixtures" / "ultralytics-yolov8n" / "model.torchscript"


def make_images(folder: Path, n: int, hw=(1080, 1920)) -> Path:
    """`n` JPEGs of filled shapes on a noisy background (JPEG decoding costs what a photo's does)."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        img = rng.integers(60, 200, (*hw, 3), dtype=np.uint8)
        for _ in range(6):
            colour = tuple(int(c) for c in rng.integers(0, 256, 3))
            x, y = int(rng.integers(100, hw[1] - 100)), int(rng.integers(100, hw[0] - 100))
            r = int(rng.integers(30, 150))
            if rng.random() < 0.5:
                cv2.circle(img, (x, y), r, colour, -1)
            else:
                cv2.rectangle(img, (x - r, y - r // 2), (x + r, y + r // 2), colour, -1)
        assert cv2.imwrite(str(folder / f"img{i:04d}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 90])
    return folder


def run_cli(args: list[str], cache: Path) -> tuple[float, str]:
    env = dict(os.environ, SCRIPTLENS_CACHE_DIR=str(cache))
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "cli", *args], capture_output=True, text=True, env=env, cwd=ROOT)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"scriptlens {' '.join(args)}: {proc.stderr.strip()[-500:]}")
    return wall, proc.stdout


def images_per_s(stdout: str) -> float:
    """The label summary's "(X images/s)"."""
    line = next(ln for ln in stdout.splitlines() if "images/s" in ln)
    return float(line.split("(")[-1].split()[0])


def bench_model(model: Path, imgsz: str | None, images: Path, rounds: int, tmp: Path) -> dict:
    size = ["--imgsz", imgsz] if imgsz else []
    cache = tmp / f"cache-{model.stem}"
    cold, out = run_cli(["info", str(model), "--device", "cpu", "--json", *size], cache)
    info = json.loads(out)
    warm, out = run_cli(["info", str(model), "--device", "cpu", "--json", *size], cache)
    warm_info = json.loads(out)
    ts_load, _ = run_cli(["info", str(model), "--device", "cpu", "--json", "--backend", "torchscript", *size], cache)
    record = next(cache.glob("onnx/*.json"), None)
    convert_s = json.loads(record.read_text()).get("export_seconds") if record else None
    speeds: dict[str, list[float]] = {"torchscript": [], "auto": []}
    for r in range(rounds):
        for backend in ("torchscript", "auto"):
            out_dir = tmp / f"labels-{model.stem}-{backend}-{r}"
            _, out = run_cli(["label", "--model", str(model), "--images", str(images), "--out", str(out_dir),
                              "--device", "cpu", "--backend", backend, *size], cache)
            speeds[backend].append(images_per_s(out))
    med = {k: statistics.median(v) for k, v in speeds.items()}
    return {"model": model.name, "input": "x".join(map(str, info["input_hw"])), "auto_ran_on": info["backend"],
            "auto_reason": warm_info["backend_reason"], "conversion_s": convert_s,
            "info_cold_s": round(cold, 2), "info_warm_s": round(warm, 2), "info_torchscript_s": round(ts_load, 2),
            "label_torchscript_ips": med["torchscript"], "label_auto_ips": med["auto"],
            "speedup": med["auto"] / med["torchscript"], "rounds": speeds}


def run(models: list[tuple[Path, str | None]], n_images: int = 40, rounds: int = 3) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        images = make_images(Path(tmp, "images"), n_images)
        return [bench_model(m, size, images, rounds, Path(tmp)) for m, size in models if m.is_file()]


def print_table(rows: list[dict]) -> None:
    print("| model | input | auto runs on | conversion s | info cold / warm / torchscript s | "
          "label torchscript img/s | label auto img/s | speed-up |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        conv = f"{r['conversion_s']:.2f}" if r["conversion_s"] else "-"
        print(f"| {r['model']} | {r['input']} | {r['auto_ran_on']} | {conv} | {r['info_cold_s']} / {r['info_warm_s']} / "
              f"{r['info_torchscript_s']} | {r['label_torchscript_ips']:.1f} | {r['label_auto_ips']:.1f} | {r['speedup']:.2f}x |")


def parse_model(text: str) -> tuple[Path, str | None]:
    path, _, size = text.partition(":")
    return Path(path), size or None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", type=parse_model, default=[(DEMO, None), (FIXTURE, None)],
                    help="MODEL or MODEL:SIZE (default: the demo and the shared YOLOv8n fixture)")
    ap.add_argument("--images", type=int, default=40, help="1920x1080 JPEGs to label")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    rows = run(args.models, args.images, args.rounds)
    print_table(rows)
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
