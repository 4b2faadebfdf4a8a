"""Forward time of TorchScript detectors, interleaved so a shared machine's slow stretches
hit every model alike (the demo README's speed figures).

    python -m tools.time_models resources/demo/shapes.torchscript resources/demo/shapes_raw.torchscript

Each model runs on a random 1x3xHxW input at the size its embedded config.txt gives
(``--imgsz`` otherwise), with 2 CPU threads. After 5 warm-up runs, each round times 30 runs
of every model in turn and prints their medians.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from engine.metadata import parse_config, parse_imgsz


def load(path: Path, fallback: int) -> tuple[torch.jit.ScriptModule, tuple[int, int]]:
    """The model and its input size (from config.txt, read with the engine's own parser)."""
    extra = {"config.txt": ""}
    model = torch.jit.load(str(path), map_location="cpu", _extra_files=extra).eval()
    return model, parse_imgsz(parse_config(extra["config.txt"]).get("imgsz")) or (fallback, fallback)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="+", type=Path)
    p.add_argument("--imgsz", type=int, default=640, help="input size for models without config.txt")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--runs", type=int, default=30)
    args = p.parse_args(argv)
    torch.set_num_threads(2)
    models = []
    for path in args.models:
        model, (h, w) = load(path, args.imgsz)
        models.append((path, model, torch.rand(1, 3, h, w)))
    with torch.no_grad():
        for _, model, x in models:
            for _ in range(5):
                model(x)
        for _ in range(args.rounds):
            row = []
            for path, model, x in models:
                times = []
                for _ in range(args.runs):
                    t0 = time.perf_counter()
                    model(x)
                    times.append(time.perf_counter() - t0)
                row.append(f"{path.name} {x.shape[2]}x{x.shape[3]} {np.median(times) * 1000:.1f} ms")
            print(" | ".join(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
