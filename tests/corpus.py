"""The bad-input image corpus of issue 7, generated at test time (no committed binaries).

Shared by tests/engine/test_images.py (one file per test) and tests/cli/test_bad_inputs_cli.py
(the whole corpus in one folder, through `scriptlens label`).
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np


def pattern(h=40, w=60) -> np.ndarray:
    """An asymmetric BGR image, so any flip/rotation/channel swap shows."""
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 0] = np.linspace(0, 255, w, dtype=np.uint8)[None, :]
    img[..., 1] = np.linspace(0, 255, h, dtype=np.uint8)[:, None]
    img[: h // 4, : w // 4, 2] = 255
    return img


def jpeg_bytes() -> bytes:
    return cv2.imencode(".jpg", pattern(200, 200))[1].tobytes()


def png_bytes() -> bytes:
    return cv2.imencode(".png", np.random.default_rng(0).integers(0, 255, (200, 200, 3), dtype=np.uint8))[1].tobytes()


# name -> (bytes or a function giving them, words the error message must contain)
BAD = {
    "zero.jpg": (b"", "empty"),
    "trunc.jpg": (lambda: jpeg_bytes()[: len(jpeg_bytes()) // 2], "truncated"),
    "trunc.png": (lambda: png_bytes()[: len(png_bytes()) // 2], "PNG"),
    "text.jpg": (b"hello, I am a text file\n" * 5, "not an image"),
    "page.png": (b"<!DOCTYPE html><html><body>404 Not Found</body></html>", "HTML"),
    "garbage.bmp": (bytes(range(256)) * 4, "not an image"),
}

BIG_HW = (9000, 12000)


def write_big_png(path: Path, hw=BIG_HW, bgr=(40, 90, 160)) -> Path:
    """A flat-colour 12000x9000 PNG: ~324 MB decoded, ~1.4 MB on disk.

    Written by hand (every row after the first uses PNG filter "Up" = all zeros) in ~1 s;
    cv2.imwrite of the same array took 6 s on the shared 2-core box, and first needs the
    324 MB array in memory."""
    import struct
    import zlib

    h, w = hw

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    co = zlib.compressobj(1)
    parts = [co.compress(b"\x00" + bytes(bgr[::-1]) * w)]
    block = (b"\x02" + bytes(3 * w)) * 500
    rows = h - 1
    for _ in range(rows // 500):
        parts.append(co.compress(block))
    parts.append(co.compress((b"\x02" + bytes(3 * w)) * (rows % 500)))
    parts.append(co.flush())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b""))
    return path


def _pil_save(path: Path, mode: str, **kw) -> None:
    from PIL import Image

    im = Image.fromarray(pattern()[..., ::-1].copy())
    im.convert(mode).save(path, **kw)


def build_corpus(root: Path, big_png: Path | None = None) -> tuple[list[str], list[str]]:
    """Write every kind of issue-7 image file under `root`.

    Returns (good, bad): paths relative to `root` (POSIX) of the files `scriptlens label` must
    label, and of the ones it must skip with one message each. A directory symlink loop is
    created too; it is neither (it must not be walked). `big_png`, if given, is hard-linked (or
    copied) in as the 12000x9000 image so a session can build it once.

    The unreadable file (`secret.png`, mode 000) is in `bad`: a test running as root, which
    ignores permissions, must simulate the denial (see `deny_reads`).
    """
    from PIL import Image

    root.mkdir(parents=True, exist_ok=True)
    good, bad = [], []

    def put_bad(name: str, data: bytes) -> None:
        (root / name).write_bytes(data)
        bad.append(name)

    for name, (data, _) in BAD.items():
        put_bad(name, data() if callable(data) else data)

    # good but unusual
    img16 = pattern().astype(np.uint16) * 257
    cv2.imwrite(str(root / "deep16.png"), img16)
    cv2.imwrite(str(root / "gray.png"), pattern()[..., 1])
    cv2.imwrite(str(root / "rgba.png"), np.dstack([pattern(), np.full((40, 60), 128, np.uint8)]))
    _pil_save(root / "onebit.png", "1")
    _pil_save(root / "palette.png", "P")
    _pil_save(root / "cmyk.jpg", "CMYK")
    good += ["deep16.png", "gray.png", "rgba.png", "onebit.png", "palette.png", "cmyk.jpg"]
    for o in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = o
        Image.fromarray(pattern()[..., ::-1].copy()).save(root / f"exif{o}.jpg", quality=95, exif=exif.tobytes())
        good.append(f"exif{o}.jpg")
    cv2.imwrite(str(root / "one.png"), np.array([[[1, 2, 3]]], np.uint8))
    good.append("one.png")
    for name in ("ñandú café 图像.png", "with space.png", "dír ü/inner name.jpg"):
        p = root / name
        p.parent.mkdir(exist_ok=True)
        cv2.imencode(Path(name).suffix, pattern())[1].tofile(str(p))
        good.append(name)
    for name in ("nest/a/same.png", "nest/b/same.png", "nest/a/deep/same.png"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / name), pattern())
        good.append(name)
    if big_png is not None:
        try:
            os.link(big_png, root / "big.png")
        except OSError:
            (root / "big.png").write_bytes(Path(big_png).read_bytes())
        good.append("big.png")

    # files the OS will not give us
    secret = root / "secret.png"
    cv2.imwrite(str(secret), pattern())
    secret.chmod(0)
    bad.append("secret.png")
    (root / "broken.jpg").symlink_to(root / "gone.jpg")
    bad.append("broken.jpg")
    (root / "selfloop.jpg").symlink_to(root / "selfloop.jpg")  # ELOOP on open
    bad.append("selfloop.jpg")
    (root / "nest" / "a" / "loop").symlink_to(root, target_is_directory=True)  # must not be walked
    return sorted(good), sorted(bad)


def reads_are_denied(path: Path) -> bool:
    try:
        with open(path, "rb"):
            return False
    except PermissionError:
        return True


def deny_reads(monkeypatch, path: Path) -> None:
    """Make Path.read_bytes raise EACCES for `path` (for root, which ignores mode 000)."""
    if reads_are_denied(path):
        return
    real = Path.read_bytes
    target = Path(path)

    def denied(self):
        if self == target:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", denied)
