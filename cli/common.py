"""Argument helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

from engine.model_info import BACKEND_MODES


def parse_imgsz(text: str) -> tuple[int, int]:
    """`640` or `480x640` (HxW) or `480,640`."""
    m = re.fullmatch(r"\s*(\d+)\s*(?:[x,X]\s*(\d+))?\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"invalid size {text!r}: give N or HxW, e.g. 640 or 384x640")
    h = int(m.group(1))
    w = int(m.group(2) or h)
    if h <= 0 or w <= 0:
        raise argparse.ArgumentTypeError("size must be positive")
    return (h, w)


def unit_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{value} is outside [0, 1]")
    return value


def positive_int(text: str, flag: str = "") -> int:
    """A whole number >= 1 (--max-det, --actors)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{flag + ' ' if flag else ''}must be at least 1, got {value}")
    return value


def max_det(text: str) -> int:
    """--max-det: a whole number >= 1 (0 would keep no box and write only empty labels)."""
    return positive_int(text, "--max-det")


def add_model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--imgsz", type=parse_imgsz, default=None, help="model input size N or HxW (default: from the model's metadata, else 640)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default: auto)")
    p.add_argument("--half", action="store_true", help="reduced precision, where it is faster: fp16 on CUDA, bf16 on CPUs with "
                   "AVX-512 BF16 or AMX (elsewhere float32, with a warning); boxes may move by a pixel or two")
    p.add_argument("--names", default=None, help="class names file (classes.txt, one per line, or a YAML with `names`)")
    add_backend_option(p)


def add_backend_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", choices=BACKEND_MODES, default="auto",
                   help="what runs a TorchScript model: auto (default) converts it to ONNX once (cached in the user "
                   "cache folder) and runs it with ONNX Runtime when its outputs are verified against TorchScript's, "
                   "else TorchScript, with the reason; torchscript runs the file as it is; onnxruntime uses the "
                   "conversion even when its outputs differ (the summary says so). ONNX files always run on ONNX "
                   "Runtime, .pt2 programs on torch")


def load_detector(args):
    """Load the model named by args.model with the shared options; errors propagate."""
    from engine.metadata import read_names_file
    from engine.pipeline import Detector

    names = read_names_file(args.names) if getattr(args, "names", None) else None
    return Detector.load(args.model, device=args.device, half=args.half, imgsz=args.imgsz, names=names,
                         backend=getattr(args, "backend", "auto"))


def backend_line(info) -> str | None:
    """`backend: onnxruntime (ONNX Runtime verified: ...)` for label's and eval's summary, when
    --backend was given and something other than plain TorchScript was asked for (None: say nothing)."""
    if info.backend == "torchscript" and not info.backend_reason:
        return None
    return f"backend: {info.backend} ({info.backend_text})" if info.backend_text else f"backend: {info.backend}"


IMAGES_HELP = "image folder (searched recursively) or one image file"


class InputNotFound(Exception):
    """--images names nothing usable (the CLI says it in one line and exits 1)."""


def find_images(text: str) -> tuple[Path, list[Path]]:
    """--images as (root, images): a folder and the images under it, or one image file and its
    folder. Raises InputNotFound saying what the path is when it holds no image to run."""
    from engine.images import IMAGE_EXTENSIONS, list_images

    path = Path(text)
    if path.is_dir():
        images = list_images(path)
        if not images:
            raise InputNotFound(f"no images ({_extensions(IMAGE_EXTENSIONS)}) under {path}")
        return path, images
    if path.is_file():
        if path.suffix.lower() not in IMAGE_EXTENSIONS:
            kind = f"a {path.suffix} file" if path.suffix else "a file without an extension"
            raise InputNotFound(f"--images {path} is {kind}, not an image: give an image "
                                f"({_extensions(IMAGE_EXTENSIONS)}) or a folder of images")
        return path.parent, [path]
    raise InputNotFound(f"--images not found: {path}")


def _extensions(extensions) -> str:
    return ", ".join(sorted(e.lstrip(".") for e in extensions))


def skipped_line(path: Path, message: str) -> str:
    """The one line for an image that gets no label file / no score, in label and eval alike:
    `skipped: <path>: <reason>` (engine messages often start with the path already)."""
    return f"skipped: {message if message.startswith(str(path)) else f'{path}: {message}'}"


def quiet_opencv() -> None:
    """Keep OpenCV's own warnings (`[ WARN:0@6.6] global grfmt_png.cpp:855 read_chunk ...`) out
    of our output: they repeat, in OpenCV's words, what the `skipped:` line says. Its errors
    still show; an OPENCV_LOG_LEVEL set by the user wins."""
    if "OPENCV_LOG_LEVEL" in os.environ:
        return
    os.environ["OPENCV_LOG_LEVEL"] = "ERROR"  # read at start-up by processes we start
    import cv2

    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)  # this process: cv2 is loaded
