"""gui.folder_stats builds the same ScoredFolder as engine.curves.ScoredFolder.build."""

import numpy as np

from engine.curves import ScoredFolder, ap50, metrics_at
from engine.detections import Detections
from gui.folder_stats import build_scored_folder, image_counts, score_image
from detection_rows import dets as D


PAIRS = [
    (D([(0, 0, 10, 10, 0.9, 0), (50, 50, 60, 60, 0.6, 0), (20, 20, 30, 30, 0.3, 0)]),
     D([(0, 0, 10, 10, 1, 0), (20, 20, 30, 30, 1, 0)])),
    (D([(0, 0, 10, 10, 0.8, 1), (40, 40, 45, 45, 0.7, 0)]), D([(0, 0, 10, 10, 1, 1)])),
    (D([(5, 5, 9, 9, 0.5, 1)]), Detections.empty()),
]


def test_same_as_engine_build():
    ref = ScoredFolder.build(PAIRS, 2)
    ours = build_scored_folder([score_image(p, g) for p, g in PAIRS], 2, True)
    for name in ("confidence", "class_id", "tp", "gt_count"):
        assert np.array_equal(getattr(ref, name), getattr(ours, name)), name
    assert ours.images == 3 and ours.has_ground_truth
    for conf in (0.0, 0.4, 0.65, 0.85):
        assert metrics_at(ref, conf) == metrics_at(ours, conf)
    assert ap50(ours) == ap50(ref)


def test_image_counts_by_hand():
    s = score_image(*PAIRS[0])
    assert image_counts(s, 0.25) == (3, 2, 1, 0, np.float32(0.3))
    n, tp, fp, fn, low = image_counts(s, 0.5)
    assert (n, tp, fp, fn) == (2, 1, 1, 1) and low == np.float32(0.6)
    assert image_counts(s, 0.25, {0: 0.95})[:4] == (0, 0, 0, 2)


def test_batch_sizer_aims_at_its_time_budget():
    from gui.folder_stats import BatchSizer

    s = BatchSizer(target_s=0.08, start=32, lo=4, hi=256)
    assert s.size == 32
    s.update(0.032, 32)  # 1 ms per image -> 80 images fill the budget
    assert s.size == 80
    s.update(0.001, 80)  # cheap images: capped
    assert s.size == 256
    s.update(5.0, 64)  # 78 ms per image (a full-floor pass, a big model): still a few per call
    assert s.size == 4
    s.reset()
    assert s.size == 32


def test_out_of_range_ground_truth_raises_like_evaluate():
    """Dropping the box silently (as before) made the totals disagree with image_counts."""
    import pytest

    from engine.metrics import evaluate

    pred, gt = D([(0, 0, 10, 10, 0.9, 0)]), D([(0, 0, 10, 10, 1, 0), (20, 20, 30, 30, 1, 2)])
    with pytest.raises(ValueError, match="class id outside 0..1"):
        evaluate([(pred, gt)], 2)
    with pytest.raises(ValueError, match="class id outside 0..1"):
        build_scored_folder([score_image(pred, gt)], 2, True)


def test_status_line_counts_images_left_out_for_their_labels():
    from gui.folder_stats import FolderStats, StatsRequest, scoring_status

    scored = build_scored_folder([score_image(*PAIRS[0])], 2, True)
    stats = FolderStats(1, (), scored, {"a.png": score_image(*PAIRS[0])}, 0, ("l/b.txt:2: not numbers",))
    request = StatsRequest(1, 1, (), None, 0.45, False, 300, 2)
    assert scoring_status(stats, request) == "1 images scored with NMS IoU 0.45, max 300; 1 left out: label file unreadable."
