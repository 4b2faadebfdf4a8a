"""engine.metrics.match_both: the same greedy rule as `match`, plus which labels were found."""

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.metrics import match, match_both, match_counts
from detection_rows import dets as D


def test_hand_case():
    pred = D([(0, 0, 10, 10, 0.9, 0), (1, 1, 10, 10, 0.8, 0), (50, 50, 60, 60, 0.7, 1)])
    gt = D([(0, 0, 10, 10, 1, 0), (100, 100, 110, 110, 1, 1)])
    tp, found = match_both(pred, gt)
    assert tp.tolist() == [True, False, False]  # the second box's object is already taken
    assert found.tolist() == [True, False]


boxes = st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40), st.integers(4, 20), st.integers(4, 20),
                           st.floats(0.01, 1.0), st.integers(0, 2)), max_size=12)


@settings(max_examples=150, deadline=None)
@given(boxes, boxes)
def test_agrees_with_match_and_match_counts(p, g):
    pred = D([(x, y, x + w, y + h, c, k) for x, y, w, h, c, k in p])
    gt = D([(x, y, x + w, y + h, 1.0, k) for x, y, w, h, _c, k in g])
    tp, found = match_both(pred, gt)
    assert tp.tolist() == match(pred, gt, (0.5,))[:, 0].tolist()
    n_tp, n_fp, n_fn = match_counts(pred, gt)
    assert (int(tp.sum()), int((~tp).sum()), int((~found).sum())) == (n_tp, n_fp, n_fn)
