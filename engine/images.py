"""Find images in a folder and read them exactly as the reference predictors do.

The references call ``cv2.imread(path, IMREAD_COLOR)``: EXIF orientation applied, grayscale
replicated to 3 channels, alpha dropped (not blended), 16-bit scaled to 8-bit. We decode the
bytes with ``cv2.imdecode`` (same decoder, same flags) so that non-ASCII paths work on every
OS, and we turn every failure into one `ImageReadError` that names the file and the reason.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import cv2
import numpy as np

from .errors import ImageReadError

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})

_DIGITS = re.compile(r"(\d+)")


def _part_key(part: str) -> tuple:
    return tuple(int(t) if t.isdigit() else t.lower() for t in _DIGITS.split(part))


def natural_key(path: Path | str) -> tuple:
    """Sort key so that img2 < img10, case-insensitive, folder by folder."""
    return tuple(_part_key(part) for part in Path(path).parts)


def is_image_name(name: str) -> bool:
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def list_images(folder: Path | str) -> list[Path]:
    """All image files under `folder` (recursive, natural order, hidden files/folders skipped).

    Symlinked folders are not followed (no loops); symlinked files are listed and fail at read
    time with a clear message if broken.
    """
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"image folder not found: {root}")
    # Strings until the end: pathlib per file cost ~1 s on a 100k-image folder.
    entries: list[tuple[tuple, str]] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        rel = os.path.relpath(dirpath, root)
        dir_key = () if rel == os.curdir else tuple(_part_key(p) for p in rel.split(os.sep))
        entries.extend((dir_key + (_part_key(f),), os.path.join(dirpath, f)) for f in filenames if is_image_name(f))
    entries.sort(key=lambda e: e[0])  # the same order as natural_key(relative path)
    found = [Path(p) for _, p in entries]
    return found


def _jpeg_reaches_eoi(data: bytes) -> bool | None:
    """Walk the JPEG's markers: True if its end-of-image marker is reached, False if the data
    runs out first (truncated), None if the structure is not understood (let OpenCV decide).

    Looking for FFD9 in the last bytes of the file (as before) rejected valid photos that carry
    data AFTER the end-of-image marker -- Google/Samsung motion photos append a whole MP4, some
    cameras a trailer -- although cv2.imread reads them."""
    n, i = len(data), 2
    while i + 1 < n:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0xD9:
            return True
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # markers without a length
            i += 2
            continue
        if i + 4 > n:
            return False
        i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
        if marker == 0xDA:  # entropy-coded data runs until the next real marker
            while True:
                j = data.find(b"\xff", i)
                if j < 0 or j + 1 >= n:
                    return False
                nxt = data[j + 1]
                if nxt == 0x00 or 0xD0 <= nxt <= 0xD7:  # stuffed byte / restart marker
                    i = j + 2
                elif nxt == 0xFF:
                    i = j + 1
                else:
                    i = j
                    break
    return False


def _looks_truncated(data: bytes) -> str | None:
    """libjpeg decodes a truncated JPEG into a grey-filled image without failing; catch it."""
    if data[:2] == b"\xff\xd8" and _jpeg_reaches_eoi(data) is False:
        return "the JPEG data is truncated (no end-of-image marker); the file is incomplete"
    return None


def read_image(path: Path | str) -> np.ndarray:
    """Read an image as BGR uint8 (H, W, 3), like ``cv2.imread(path, cv2.IMREAD_COLOR)``."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        reason = "the link is broken" if path.is_symlink() else "the file does not exist"
        raise ImageReadError(f"{path}: cannot read image: {reason}") from None
    except PermissionError:
        raise ImageReadError(f"{path}: cannot read image: permission denied") from None
    except OSError as exc:
        raise ImageReadError(f"{path}: cannot read image: {exc.strerror or exc}") from None
    return decode_image(data, path)


def decode_image(data: bytes, path: Path | str) -> np.ndarray:
    """An image file's bytes as BGR uint8 (H, W, 3): `read_image`'s decoding, for bytes read
    from anywhere (a local file, an object store: engine.object_store). `path` names the image
    in the error and its extension picks the PNG message."""
    path = Path(path)
    if not data:
        raise ImageReadError(f"{path}: cannot read image: the file is empty (0 bytes)")
    reason = _looks_truncated(data)
    if reason:
        raise ImageReadError(f"{path}: cannot read image: {reason}")
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error as exc:
        # OpenCV RAISES (not returns None) when the header declares more than
        # CV_IO_MAX_IMAGE_PIXELS (a decompression bomb, or a giant panorama); uncaught, that
        # cv2.error ended the whole batch in predict_paths instead of skipping this one file.
        detail = "the image is larger than OpenCV's limit" if "CV_IO_MAX_IMAGE_PIXELS" in str(exc) else "OpenCV failed to decode it"
        raise ImageReadError(f"{path}: cannot read image: {detail}") from None
    if image is None:
        head = data[:64].lstrip().lower()
        if head.startswith((b"<!doctype", b"<html", b"<?xml")):
            what = "it is an HTML/XML document, not an image"
        elif path.suffix.lower() == ".png" and data[:8] == b"\x89PNG\r\n\x1a\n":
            what = "the PNG data is corrupt or truncated"
        else:
            what = "it is not an image OpenCV can decode (corrupt, truncated or another format)"
        raise ImageReadError(f"{path}: cannot read image: {what}")
    if image.ndim == 2:  # defensive: IMREAD_COLOR should always give 3 channels
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    return image
