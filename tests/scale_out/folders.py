"""Image folders and output comparisons shared by the shard, Ray and S3 tests."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo"
DEMO_MODEL = DEMO / "shapes.torchscript"
MANIFESTS = "scriptlens_manifest"
# keys of a run manifest that differ between two runs of the same job by design
RUN_KEYS = ("date", "result", "shard", "distributed")


def demo_tree(root: Path, corrupt: bool = True) -> Path:
    """The 30 demo images spread over nested sub-folders, plus `x.jpg` + `x.png` (one label
    file for two images) and, with `corrupt`, an image that cannot be decoded."""
    images = sorted((DEMO / "images").iterdir())
    for i, src in enumerate(images):
        dst = root / f"part{i % 3}" / (f"deep{i % 2}" if i % 5 else "") / src.name
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
    shutil.copyfile(images[0], root / "part0" / "x.jpg")
    shutil.copyfile(images[4], root / "part0" / "x.png")
    if corrupt:
        (root / "part1" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return root


def small_tree(root: Path, n: int, seed: int = 0) -> Path:
    """`n` small, varied images (48-96 px, random blobs) in nested sub-folders, fast to make."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        h, w = (int(v) for v in rng.integers(48, 97, size=2))
        img = np.full((h, w, 3), rng.integers(0, 256, size=3), np.uint8)
        for _ in range(3):
            x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
            r = int(rng.integers(4, 20))
            colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
            if rng.random() < 0.5:
                cv2.circle(img, (x, y), r, colour, -1)
            else:
                cv2.rectangle(img, (x, y), (x + r, y + r), colour, -1)
        path = root / f"d{i % 10}" / f"e{i % 7}" / f"img_{i:05d}.{'png' if i % 4 == 0 else 'jpg'}"
        path.parent.mkdir(parents=True, exist_ok=True)
        assert cv2.imwrite(str(path), img)
    return root


def files(root: Path, manifests: bool = False) -> dict[str, bytes]:
    """Every file under `root` (relative posix path -> bytes); run manifests only if asked."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and (manifests or not p.name.startswith(MANIFESTS))}


def manifest_core(path: Path) -> dict:
    """A run manifest without what differs between runs by design (date, counts, how distributed)."""
    data = json.loads(path.read_text())
    return {k: v for k, v in data.items() if k not in RUN_KEYS}
