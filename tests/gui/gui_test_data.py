"""Builders for the window tests (importable as `gui_test_data`): a tiny TorchScript detector
with known output and folders of images."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

# Candidates of the tiny model, in 320x320 input pixels: (cx, cy, w, h, class, score).
# Box 3 overlaps box 0 (IoU 0.88): NMS at IoU 0.45 drops it, at 0.95 keeps it.
TINY_BOXES = (
    (100.0, 100.0, 50.0, 40.0, 0, 0.90),
    (200.0, 200.0, 60.0, 60.0, 1, 0.60),
    (250.0, 80.0, 30.0, 30.0, 2, 0.35),
    (102.0, 101.0, 50.0, 40.0, 0, 0.80),
)
TINY_NAMES = ("a", "b", "c")


def build_tiny_model(path: Path) -> Path:
    """An anchor-free (1, 7, 2100) model for 320x320 input whose output ignores the image."""
    import torch

    out = torch.zeros(1, 7, 2100)
    for i, (cx, cy, w, h, cls, score) in enumerate(TINY_BOXES):
        out[0, 0:4, i] = torch.tensor([cx, cy, w, h])
        out[0, 4 + cls, i] = score

    class Tiny(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("out", out)

        def forward(self, x):
            return self.out + x.mean() * 0.0

    traced = torch.jit.trace(Tiny().eval(), torch.zeros(1, 3, 320, 320))
    meta = {"names": {str(i): n for i, n in enumerate(TINY_NAMES)}, "imgsz": [320, 320], "stride": 32}
    torch.jit.save(traced, str(path), _extra_files={"config.txt": json.dumps(meta)})
    return path


def make_images(folder: Path, count: int, corrupt: str | None = None) -> list[Path]:
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        img = np.full((320, 320, 3), 40 + 20 * (i % 8), np.uint8)
        cv2.circle(img, (100, 100), 20, (0, 0, 255), -1)
        p = folder / f"img{i:03d}.png"
        cv2.imwrite(str(p), img)
        paths.append(p)
    if corrupt:
        (folder / corrupt).write_bytes(b"this is not an image at all")
    return paths


