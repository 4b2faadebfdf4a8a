"""`scriptlens gui [--model M] [--images DIR]`: open the desktop window (gui imported lazily)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("gui", help="open the desktop window",
                                   description="Open the ScriptLens window, optionally on a model and a folder.")
    parser.add_argument("--model", type=Path, default=None, help="TorchScript model to open")
    parser.add_argument("--images", type=Path, default=None, help="folder of images to open")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from gui.app import main  # lazy: PySide6 only when the window is wanted

    return main(model=getattr(args, "model", None), images=getattr(args, "images", None))
