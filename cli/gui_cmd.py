"""`scriptlens gui [--model M] [--images DIR]`: open the desktop window (gui imported lazily)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import add_backend_option


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("gui", help="open the desktop window",
                                   description="Open the ScriptLens window, optionally on a model and a folder.")
    parser.add_argument("--model", type=Path, default=None, help="model to open (TorchScript, ONNX or torch.export .pt2)")
    parser.add_argument("--images", type=Path, default=None, help="folder of images to open")
    add_backend_option(parser)
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """`args.demo` (set when `scriptlens` runs with no arguments) opens the bundled demo."""
    from gui.app import demo_paths, main  # lazy: PySide6 only when the window is wanted

    model, images = getattr(args, "model", None), getattr(args, "images", None)
    if getattr(args, "demo", False) and model is None and images is None:
        model, images = demo_paths()
        if model is None and images is None:
            return main(backend=getattr(args, "backend", "auto"))  # demo not bundled: open the last model/folder, if any
    return main(model=model, images=images, backend=getattr(args, "backend", "auto"))
