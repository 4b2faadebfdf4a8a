"""Review-queue orders and filters over per-image keys (no window)."""

import numpy as np

from gui.image_list import ImageListModel
from gui.review_queue import (
    FILTER_DISAGREE, FILTER_NOT_ACCEPTED, FILTER_WITHOUT, ORDER_DISAGREEMENT, ORDER_FEWEST, ORDER_LOWEST_CONF,
    ORDER_MOST, ORDER_NAME, ReviewProxy,
)


def rows(proxy):
    return [proxy.mapToSource(proxy.index(r, 0)).row() for r in range(proxy.rowCount())]


def test_orders_and_filters(qtbot):
    proxy = ReviewProxy()
    model = ImageListModel(proxy)
    model.set_names(["a", "b", "c", "d", "e"])
    proxy.setSourceModel(model)
    # counts, lowest kept confidence, FP+FN; row 4 is not scored yet (-1): always last
    proxy.set_keys(np.array([3, 0, 5, 1, -1]), np.array([0.3, 1.0, 0.9, 0.26, 1.0]),
                   np.array([2, 0, 4, 0, -1]), np.array([False, True, False, False, False]))
    assert rows(proxy) == [0, 1, 2, 3, 4]
    proxy.set_order(ORDER_FEWEST)
    assert rows(proxy) == [1, 3, 0, 2, 4]
    proxy.set_order(ORDER_MOST)
    assert rows(proxy) == [2, 0, 3, 1, 4]
    proxy.set_order(ORDER_LOWEST_CONF)
    assert rows(proxy) == [3, 0, 2, 1, 4]
    proxy.set_order(ORDER_DISAGREEMENT)
    assert rows(proxy) == [2, 0, 1, 3, 4]  # ties keep file order
    proxy.set_review_filter(FILTER_DISAGREE)
    assert rows(proxy) == [2, 0]
    proxy.set_review_filter(FILTER_WITHOUT)
    assert rows(proxy) == [1]
    proxy.set_review_filter(FILTER_NOT_ACCEPTED)
    assert rows(proxy) == [2, 0, 3, 4]
    proxy.set_accepted(2, True)
    assert rows(proxy) == [0, 3, 4]
    proxy.set_order(ORDER_NAME)
    proxy.setFilterFixedString("d")  # the name filter still applies
    assert rows(proxy) == [3]
