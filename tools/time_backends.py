"""Forward time of TorchScript vs ONNX Runtime on the same models (engine.onnx_backend).

    python -m tools.time_backends                       # the demo model
    python -m tools.time_backends MODEL [MODEL...] --nchw --rounds 4 --runs 30

Each model is loaded as the engine loads it (`engine.pipeline.Detector.load`: warm-up, input
size from its metadata), converted with `engine.onnx_backend.choose_backend` into a fresh
temporary cache (so the one-off conversion time is measured; ``--user-cache`` uses the real
one) and verified. Then, on a deterministic synthetic image, after 5 warm-up runs of each, the
backends take turns, one forward pass each, ``--rounds`` x ``--runs`` times (so a shared
machine's slow stretches hit all alike); the table gives each backend's median (and fastest)
run. Both use the engine's one CPU thread count (`engine.cpu_features.forward_threads`: all
cores up to 4), as `label` and the window do.

``--nchw`` adds TorchScript fed plain NCHW input: the engine feeds NHWC on the CPU, which
oneDNN runs faster; NCHW is what timing the exported module on its own measures.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from engine import onnx_backend as ob
from engine import onnx_cache
from engine import onnx_verify as ov
from engine.backend import TorchScriptBackend
from engine.cpu_features import forward_threads
from engine.pipeline import Detector

DEMO = Path(__file__).resolve().parents[1] / "resources" / "demo" / "shapes.torchscript"


def _once(fn, x: np.ndarray) -> float:
    t0 = time.perf_counter()
    fn(x)
    return (time.perf_counter() - t0) * 1000


def time_model(path: Path, args, cache: Path | None) -> tuple | None:
    det = Detector.load(path, device="cpu", imgsz=args.imgsz, backend="torchscript")
    hw = det.info.input_hw
    t0 = time.perf_counter()
    choice = ob.choose_backend(det.backend, path, hw, cache_dir=cache, mode="onnxruntime")
    choose_s = time.perf_counter() - t0
    print(f"{path.name}: {choice.reason}")
    if choice.kind != "onnxruntime":
        return None
    backends = {"TorchScript": det.backend, "ONNX Runtime": choice.backend}
    if args.nchw:
        plain = TorchScriptBackend.load(path, device="cpu")
        plain.channels_last = False
        backends["TorchScript NCHW"] = plain
    x = ov.synthetic_image(1, hw, seed=1)
    times: dict[str, list[float]] = {k: [] for k in backends}
    for b in backends.values():
        for _ in range(5):
            b.forward(x)
    for _ in range(args.rounds * args.runs):  # one run of each in turn: load spikes hit all alike
        for name, b in backends.items():
            times[name].append(_once(b.forward, x))
    return path.name, hw, times, choice, choose_s


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="*", type=Path, default=[DEMO])
    p.add_argument("--imgsz", type=int, nargs="+", default=None, help="input size (default: the model's metadata)")
    p.add_argument("--runs", type=int, default=30, help="forward passes per backend per round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--nchw", action="store_true", help="also time TorchScript on plain NCHW input")
    p.add_argument("--user-cache", action="store_true", help="use the real ONNX cache (a warm cache converts nothing)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        rows = [r for path in args.models if (r := time_model(path, args, None if args.user_cache else Path(tmp)))]
    print()
    print(f"torch {torch.__version__}, onnxruntime {onnx_cache.package_version('onnxruntime')}, "
          f"{forward_threads()} threads; forward ms: median (fastest) of {args.rounds * args.runs} runs per backend, "
          "taking turns run by run; speed-up: ratio of medians")
    head = "| model | input | TorchScript ms | ONNX Runtime ms | speed-up |"
    if args.nchw:
        head += " TorchScript NCHW ms | speed-up vs NCHW |"
    head += " max output diff | conversion s | choose_backend s |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for name, (h, w), times, choice, choose_s in rows:
        med = {k: statistics.median(v) for k, v in times.items()}

        def cell(k: str) -> str:
            return f"{med[k]:.1f} ({min(times[k]):.1f})"

        line = f"| {name} | {h}x{w} | {cell('TorchScript')} | {cell('ONNX Runtime')} | {med['TorchScript'] / med['ONNX Runtime']:.2f}x |"
        if args.nchw:
            line += f" {cell('TorchScript NCHW')} | {med['TorchScript NCHW'] / med['ONNX Runtime']:.2f}x |"
        conv = f"{choice.convert_seconds:.2f}" if choice.convert_seconds is not None else "cached"
        line += f" {choice.max_diff:.1e} | {conv} | {choose_s:.2f} |"
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
