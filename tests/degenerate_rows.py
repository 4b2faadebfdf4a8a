"""An end-to-end factory model whose rows include every kind engine.label_rows leaves out of a
label file, and the label lines it must produce on a 640x320 image (letterboxed into 320x320:
gain 0.5, 80 px of padding above and below). Shared by the CLI, window and --dataset tests."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

import model_factory as mf

NAMES = ("cat", "dog", "bird")
IMAGE_WH = (640, 320)
# (x1, y1, x2, y2, score, class) in model-input pixels
ROWS = [
    (40, 120, 120, 200, 0.9, 0),      # a real box: x 80..240, y 80..240 in the image
    (-10, 60, 330, 260, 0.8, 1),      # past every edge: clipped to the full image
    (-5, 70, 325, 250, 0.7, 1),       # also clipped to the full image: an exact duplicate line
    (100, 10, 150, 60, 0.6, 2),       # inside the top padding: height 0 after clipping
    (200, 200, 260, 150, 0.5, 0),     # upside down (y2 < y1), as end-to-end models can output
    (300, 100, 300.2, 140, 0.4, 2),   # 0.4 px wide in the image: under the 1 px minimum
]
EXPECTED_LINES = ["0 0.250000 0.500000 0.250000 0.500000", "1 0.500000 0.500000 1.000000 1.000000"]
EXPECTED_CONFS = [0.9, 0.8]
DEGENERATE, DUPLICATES = 3, 1


def build_model(path: Path) -> Path:
    return mf.end2end(path, ROWS, names=NAMES)


def make_images(folder: Path, n: int = 2) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        p = folder / f"wide{i}.jpg"
        assert cv2.imwrite(str(p), rng.integers(0, 255, (IMAGE_WH[1], IMAGE_WH[0], 3), dtype=np.uint8))
        paths.append(p)
    return paths
