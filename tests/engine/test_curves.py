"""Folder-level threshold curves: hand-computed cases, and agreement with engine.metrics."""

import numpy as np
import pytest

from engine.curves import ScoredFolder, ap50, best_f1, count_vs_threshold, f1_curve, metrics_at, pr_curve
from engine.metrics import evaluate
from detection_rows import dets as D


# Image 1: two objects of class 0; predictions: hit (0.9), miss-placed (0.6), hit (0.3).
# Image 2: one object of class 1; predictions: hit (0.8), wrong class (0.7, class 0).
PAIRS = [
    (D([(0, 0, 10, 10, 0.9, 0), (50, 50, 60, 60, 0.6, 0), (20, 20, 30, 30, 0.3, 0)]),
     D([(0, 0, 10, 10, 1, 0), (20, 20, 30, 30, 1, 0)])),
    (D([(0, 0, 10, 10, 0.8, 1), (40, 40, 45, 45, 0.7, 0)]),
     D([(0, 0, 10, 10, 1, 1)])),
]


@pytest.fixture
def folder():
    return ScoredFolder.build(PAIRS, num_classes=2)


def test_predictions_sorted_with_tp_flags(folder):
    assert folder.confidence.tolist() == pytest.approx([0.9, 0.8, 0.7, 0.6, 0.3])
    assert folder.tp.tolist() == [True, True, False, False, True]
    assert folder.gt_count.tolist() == [2, 1]


def test_metrics_at_hand_computed(folder):
    # conf 0.5 keeps 0.9 (TP), 0.8 (TP), 0.7 (FP), 0.6 (FP): P = 2/4, R = 2/3
    m = metrics_at(folder, 0.5)
    assert (m.tp, m.fp, m.fn) == (2, 2, 1)
    assert m.precision == pytest.approx(0.5) and m.recall == pytest.approx(2 / 3)
    assert m.f1 == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    # the threshold is strict, like the engine's filter: conf 0.8 drops the 0.8 box
    assert metrics_at(folder, 0.8).tp == 1


def test_per_class_and_class_conf(folder):
    m0 = metrics_at(folder, 0.0, class_id=0)
    assert (m0.tp, m0.fp, m0.fn) == (2, 2, 0)
    # a per-class override of 0.95 for class 1 removes its only (true) detection
    m = metrics_at(folder, 0.5, class_conf=((1, 0.95),))
    assert (m.tp, m.fp, m.fn) == (1, 2, 2)


@pytest.mark.parametrize("conf", [0.0, 0.25, 0.5, 0.65, 0.75, 0.85])
def test_agrees_with_evaluate(folder, conf):
    ev = evaluate(PAIRS, num_classes=2, conf=conf)
    m = metrics_at(folder, conf)
    assert (m.tp, m.fp, m.fn) == (int(ev.tp.sum()), int(ev.fp.sum()), int(ev.fn.sum()))
    assert ap50(folder) == pytest.approx(ev.map50)


def test_pr_curve_and_best_f1(folder):
    conf, p, r = pr_curve(folder)
    assert p.tolist() == pytest.approx([1, 1, 2 / 3, 2 / 4, 3 / 5])
    assert r.tolist() == pytest.approx([1 / 3, 2 / 3, 2 / 3, 2 / 3, 1])
    # F1 by hand, keeping score > t as the engine does (in float32: a 0.8 score is not above a
    # 0.80 threshold): t >= 0.8 -> keep {0.9}: P1 R1/3 F=.5; t in [0.7, 0.8): {0.9,0.8}: P1 R2/3
    # F=.8; t in [0.3, 0.6): 4 kept, F=.571; t < 0.3: 5 kept P.6 R1 F=.75. Best: 0.8, on the grid
    # at 0.70..0.79, ties to the highest. (The curve used to compare in float64 and put the best
    # at 0.80, where metrics_at -- the engine's rule -- keeps only the 0.9 box.)
    t, f1 = best_f1(folder)
    assert f1 == pytest.approx(0.8)
    assert t == pytest.approx(0.79)
    assert metrics_at(folder, t).f1 == pytest.approx(f1)
    grid, f = f1_curve(folder)
    assert f[np.searchsorted(grid, 0.1)] == pytest.approx(0.75)


def test_no_ground_truth_still_gives_counts():
    sf = ScoredFolder.build([(p, None) for p, _ in PAIRS], num_classes=2)
    assert not sf.has_ground_truth
    grid, counts = count_vs_threshold(sf)
    assert counts[np.searchsorted(grid, 0.5)] == 4
    assert counts[-1] == 0


def test_best_mean_f1_is_one_threshold_for_all_classes(folder):
    from engine.curves import best_mean_f1

    # class 0 (2 objects): F1 2/3 while only the 0.9 hit is kept (0.7 <= t < 0.9), and again with
    # everything (t < 0.3); class 1: F1 1 while its 0.8 hit is kept. Mean 5/6 on [0.7, 0.8) and
    # below 0.3: ties go to the higher threshold, 0.79 on the 0.01 grid (score > t is kept).
    conf, mean = best_mean_f1(folder)
    assert conf == pytest.approx(0.79) and mean == pytest.approx(5 / 6)
    assert metrics_at(folder, conf, 0).f1 == pytest.approx(2 / 3) and metrics_at(folder, conf, 1).f1 == 1.0
