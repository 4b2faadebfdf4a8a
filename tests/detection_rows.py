"""Test helper: Detections from rows of (x1, y1, x2, y2, conf, class), the layout of the
reference JSON files, so hand-computed cases read as one table."""

import numpy as np

from engine.detections import Detections


def dets(rows) -> Detections:
    a = np.asarray(rows, np.float64).reshape(-1, 6)
    return Detections(a[:, :4], a[:, 4], a[:, 5].astype(np.int64))
