"""Detections / Candidates: validated, immutable, value semantics."""

from __future__ import annotations

import numpy as np
import pytest

from engine.candidates import Candidates
from engine.detections import Detections
from engine.letterbox import compute_geometry


def make(n=3):
    xyxy = np.arange(n * 4, dtype=np.float64).reshape(n, 4)
    return Detections(xyxy, np.linspace(0.9, 0.5, n), np.arange(n))


def test_dtypes_and_readonly():
    d = make()
    assert d.xyxy.dtype == np.float32 and d.confidence.dtype == np.float32 and d.class_id.dtype == np.int64
    with pytest.raises(ValueError):
        d.xyxy[0, 0] = 5
    with pytest.raises(AttributeError):
        d.xyxy = np.zeros((0, 4))  # frozen


@pytest.mark.parametrize("xyxy, conf, cls", [
    (np.zeros((2, 3)), np.zeros(2), np.zeros(2)),
    (np.zeros((2, 4)), np.zeros(3), np.zeros(2)),
    (np.zeros((2, 4)), np.zeros(2), np.zeros(1)),
])
def test_shape_validation(xyxy, conf, cls):
    with pytest.raises(ValueError):
        Detections(xyxy, conf, cls)


def test_masks_indexing_and_equality():
    d = make(4)
    sub = d[d.confidence > 0.7]
    assert len(sub) == 2 and sub.class_id.tolist() == [0, 1]
    assert len(d[2]) == 1 and d[2].class_id.tolist() == [2]
    assert d == make(4) and d != sub
    assert len(Detections.empty()) == 0 and Detections.empty().xyxy.shape == (0, 4)
    assert Detections.concatenate([sub, d[[3]]]).class_id.tolist() == [0, 1, 3]
    assert len(Detections.concatenate([])) == 0
    assert d.counts_per_class(5).tolist() == [1, 1, 1, 1, 0]


def test_candidates_validate():
    g = compute_geometry((10, 10), (32, 32))[0]
    with pytest.raises(ValueError):
        Candidates(np.zeros((2, 4), np.float32), np.zeros(3, np.float32), np.zeros(2, np.int64), g)
    c = Candidates(np.zeros((2, 4), np.float32), np.zeros(2, np.float32), np.zeros(2, np.int64), g)
    assert len(c) == 2 and c.nbytes == 2 * 16 + 2 * 4 + 2 * 8
