"""Forward time of TorchScript detectors, interleaved so a shared machine's slow stretches
hit every model alike (the demo README's speed figures).

    python -m tools.time_models resources/demo/shapes.torchscript resources/demo/shapes_raw.torchscript

Each model runs on a random 1x3xHxW input at the size its embedded config.txt gives
(``--imgsz`` otherwise), with 2 CPU threads, through the engine's own backend
(`engine.backend.TorchScriptBackend.forward`: the NHWC input it feeds on the CPU included;
``--nchw`` times plain NCHW input instead, ``--compare-nchw`` both, interleaved; ``--half``
reduced precision (the model cast to bf16 on CPUs with bfloat16 units), ``--compare-half`` float32 and
that, interleaved). After 5 warm-up runs, each round times 30 runs of every model in turn and
prints their medians.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from engine.backend import TorchScriptBackend
from engine.metadata import parse_config, parse_imgsz


def load(path: Path, fallback: int, nchw: bool = False, half: bool = False) -> tuple[TorchScriptBackend, tuple[int, int]]:
    """The model as the engine loads it, and its input size (from config.txt, read with the
    engine's own parser)."""
    backend = TorchScriptBackend.load(path, device="cpu", half=half)
    if nchw:
        backend.channels_last = False
    return backend, parse_imgsz(parse_config(backend.config_text).get("imgsz")) or (fallback, fallback)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="+", type=Path)
    p.add_argument("--imgsz", type=int, default=640, help="input size for models without config.txt")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--nchw", action="store_true", help="plain NCHW input (the engine feeds NHWC on the CPU)")
    p.add_argument("--compare-nchw", action="store_true", help="time each model both ways, interleaved")
    p.add_argument("--half", action="store_true", help="reduced precision (bf16 on CPUs with bfloat16 units)")
    p.add_argument("--compare-half", action="store_true", help="time each model in fp32 and reduced precision, interleaved")
    args = p.parse_args(argv)
    torch.set_num_threads(2)
    models = []
    rng = np.random.default_rng(0)
    for path in args.models:
        for nchw in ((False, True) if args.compare_nchw else (args.nchw,)):
            for half in ((False, True) if args.compare_half else (args.half,)):
                backend, (h, w) = load(path, args.imgsz, nchw, half)
                models.append((path, backend, rng.random((1, 3, h, w), dtype=np.float32)))
    for _, backend, x in models:
        for _ in range(5):
            backend.forward(x)
    for _ in range(args.rounds):
        row = []
        for path, backend, x in models:
            times = []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                backend.forward(x)
                times.append(time.perf_counter() - t0)
            layout = "NHWC" if backend.channels_last else "NCHW"
            row.append(f"{path.name} {x.shape[2]}x{x.shape[3]} {layout} {backend.precision} {np.median(times) * 1000:.1f} ms")
        print(" | ".join(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
