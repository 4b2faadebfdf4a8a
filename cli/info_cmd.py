"""`scriptlens info MODEL`: what the model is, and where each fact came from."""

from __future__ import annotations

import argparse
import json
import sys

from .common import add_model_options, load_detector


def add_parser(sub) -> None:
    p = sub.add_parser("info", help="print a model's layout, input size, stride, classes and metadata")
    p.add_argument("model", help="model file: TorchScript, ONNX (.onnx) or torch.export (.pt2)")
    add_model_options(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    det = load_detector(args)
    info = det.info
    if args.json:
        out = {
            "file": str(info.path), "layout": info.layout, "input_hw": list(info.input_hw), "batch": info.batch,
            "stride": info.stride, "names": list(info.names), "anchors": info.anchors, "device": info.device,
            "half": info.half, "precision": info.precision,
            "backend": info.backend, "backend_reason": info.backend_reason, "output_shapes": [list(s) for s in info.output_shapes], "sources": info.sources,
            "metadata": info.metadata,
        }
        json.dump(out, sys.stdout, indent=2, default=str)
        print()
        return 0
    width = max(len(r[0]) for r in info.describe())
    for field, value, source in info.describe():
        print(f"{field:<{width}}  {value}" + (f"   [{source}]" if source else ""))
    if info.num_classes > 12:
        print("all classes:")
        for i, n in enumerate(info.names):
            print(f"  {i:>4}  {n}")
    extra = {k: v for k, v in info.metadata.items() if k not in ("names",)}
    if extra:
        print("metadata:", json.dumps(extra, default=str))
    return 0
