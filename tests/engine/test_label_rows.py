"""engine.label_rows: the one rule for which detections become label lines."""

from __future__ import annotations

import numpy as np

from engine.detections import Detections
from engine.label_rows import MIN_BOX_PX, label_rows


def dets(rows):
    a = np.asarray(rows, np.float32).reshape(-1, 6)
    return Detections(a[:, :4], a[:, 4], a[:, 5].astype(np.int64))


def test_zero_area_upside_down_and_sub_pixel_boxes_are_left_out():
    d = dets([[10, 10, 50, 40, 0.9, 0],    # kept
              [0, 0, 30, 0, 0.8, 0],       # zero height (clipped to the top edge)
              [60, 30, 90, 20, 0.7, 1],    # upside down
              [5, 5, 5.5, 30, 0.6, 1],     # 0.5 px wide
              [5, 5, 5 + MIN_BOX_PX, 6, 0.5, 1],  # exactly the minimum: kept
              [90, 10, 150, 30, 0.4, 2]])  # 10 px wide once clipped to the 100 px image: kept
    rows = label_rows(d, (100, 50))
    assert (rows.degenerate, rows.duplicates, len(rows)) == (3, 0, 3)
    assert rows.detections.confidence.tolist() == [np.float32(0.9), np.float32(0.5), np.float32(0.4)]
    assert rows.text().splitlines()[-1] == "2 0.950000 0.400000 0.100000 0.400000"


def test_exact_duplicate_lines_keep_the_first_row():
    d = dets([[-5, -5, 120, 60, 0.9, 1], [0, 0, 100, 50, 0.3, 1], [0, 0, 100, 50, 0.8, 0], [0, 0, 100, 50, 0.2, 1]])
    rows = label_rows(d, (100, 50))
    assert (rows.degenerate, rows.duplicates) == (0, 2)
    assert rows.text(save_conf=True).splitlines() == ["1 0.500000 0.500000 1.000000 1.000000 0.900000",
                                                      "0 0.500000 0.500000 1.000000 1.000000 0.800000"]


def test_no_rows_and_clean_rows_are_unchanged():
    assert len(label_rows(Detections.empty(), (10, 10))) == 0
    d = dets([[1, 1, 5, 5, 0.9, 0], [2, 2, 8, 8, 0.8, 1]])
    rows = label_rows(d, (10, 10))
    assert rows.detections == d and (rows.degenerate, rows.duplicates) == (0, 0)
