"""`scriptlens` entry point. With no arguments it opens the window on the bundled demo.

Exit status: 0 success; 1 nothing could be processed (no images, every image failed, missing
folder); 2 bad command-line usage (also engine.errors.UsageError: unknown class, bad thresholds
profile); 3 the model cannot be used (not a model file ScriptLens reads, wrong device or
input size, fails or returns only NaN/inf on a plain input, unsupported output). Per-image failures in a batch are reported and skipped.
"""

from __future__ import annotations

import argparse
import logging
import sys
from importlib import import_module

from engine import __version__

EXIT_OK, EXIT_NOTHING_DONE, EXIT_USAGE, EXIT_MODEL = 0, 1, 2, 3

# Subcommand modules, each with add_parser(sub) registering `run` as the parser default.
COMMANDS = ("cli.gui_cmd", "cli.info_cmd", "cli.label_cmd", "cli.eval_cmd")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scriptlens", description="See, tune and export the detections of an exported detector (TorchScript, ONNX, torch.export).")
    parser.add_argument("--version", action="version", version=f"scriptlens {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue  # optional command not present in this build
        module.add_parser(sub)
    return parser


def first_model(argv: list[str]) -> tuple[str | None, str]:
    """The model the window will open first and the --backend asked for, read from the raw
    arguments before the parser exists (so the model process can start at once): `scriptlens`
    alone opens the demo; `scriptlens gui` opens --model, or the last model (unknown here)."""
    backend = "auto"
    for i, arg in enumerate(argv):
        if arg == "--backend" and i + 1 < len(argv):
            backend = argv[i + 1]
        elif arg.startswith("--backend="):
            backend = arg.split("=", 1)[1]
    model = None
    for i, arg in enumerate(argv):
        if arg == "--model" and i + 1 < len(argv):
            model = argv[i + 1]
        elif arg.startswith("--model="):
            model = arg.split("=", 1)[1]
    if not argv:
        from engine.demo import demo_paths

        demo = demo_paths()[0]
        model = str(demo) if demo else None
    return model, backend


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] == "gui":
        # The window is wanted: start the model process before the parser's imports, so torch
        # loads on the other core meanwhile (engine/forward_process.py).
        from engine import forward_process

        forward_process.prestart(*first_model(argv))
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.command is None:
        try:
            gui_cmd = import_module("cli.gui_cmd")
        except ModuleNotFoundError:
            parser.print_help()
            return EXIT_USAGE
        return gui_cmd.run(argparse.Namespace(model=None, images=None, demo=True))
    from engine.errors import ModelLoadError, ScriptLensError, UnsupportedOutputError, UsageError

    try:
        return int(args.run(args) or 0)
    except (ModelLoadError, UnsupportedOutputError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_MODEL
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ScriptLensError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_NOTHING_DONE
    except (OSError, ValueError) as exc:
        # OSError, not only FileNotFoundError: a --names/--thresholds path that is a folder or
        # unreadable raised IsADirectoryError/PermissionError as a traceback (exit 1 instead).
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_NOTHING_DONE
    except KeyboardInterrupt:  # (label says how far it got itself)
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
