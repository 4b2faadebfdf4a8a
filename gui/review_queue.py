"""The review queue: order and filter the image list by what needs a human look.

Orders: file name; detections (fewest / most first); lowest confidence first (the image
whose weakest kept box is least sure); disagreement with ground truth first (false positives
+ missed objects). Filters: all, with / without detections, disagreeing with the labels, not
yet accepted. The keys come from the folder scan (gui/folder_stats.py) at the current
thresholds and are refreshed when a slider is released; images not scored yet sort last.

Navigation (→ / ←, and Enter = accept and go to the next image) follows the proxy's order,
so "sort by disagreement, then press Enter through the list" is the review loop.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QWidget

from .image_list import ImageFilterProxy

ORDER_NAME, ORDER_FEWEST, ORDER_MOST, ORDER_LOWEST_CONF, ORDER_DISAGREEMENT = range(5)
ORDERS = ("File name", "Fewest detections", "Most detections", "Lowest confidence", "Most disagreement")
FILTER_ALL, FILTER_WITH, FILTER_WITHOUT, FILTER_DISAGREE, FILTER_NOT_ACCEPTED = range(5)
FILTERS = ("All images", "With detections", "Without detections", "Disagreeing with labels", "Not accepted yet")


class ReviewProxy(ImageFilterProxy):
    """The name filter of `ImageFilterProxy` plus review orders and filters over per-row keys."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._order = ORDER_NAME
        self._filter = FILTER_ALL
        self._count = np.zeros(0, np.int64)  # -1: not scored yet
        self._lowest = np.zeros(0, np.float64)
        self._disagree = np.zeros(0, np.int64)  # -1: no ground truth / not scored
        self._accepted = np.zeros(0, bool)
        self._rank = np.zeros(0, np.int64)
        self._shown = (ORDER_NAME, FILTER_ALL)  # what the proxy's rows reflect now

    def set_keys(self, count: np.ndarray, lowest: np.ndarray, disagree: np.ndarray, accepted: np.ndarray) -> None:
        self._count, self._lowest, self._disagree, self._accepted = count, lowest, disagree, accepted
        self._apply()

    def set_accepted(self, row: int, on: bool) -> None:
        if 0 <= row < len(self._accepted):
            self._accepted[row] = on
            if self._filter == FILTER_NOT_ACCEPTED:
                self.invalidate()

    def set_order(self, order: int) -> None:
        self._order = order
        self._apply()

    def set_review_filter(self, which: int) -> None:
        self._filter = which
        self._apply()

    def _apply(self) -> None:
        if (self._order, self._filter) == self._shown == (ORDER_NAME, FILTER_ALL):
            return  # name order, no filter: new keys change nothing (saves a 20,000-row re-filter)
        self._shown = (self._order, self._filter)
        n = len(self._count)
        rows = np.arange(n)
        unknown = self._count < 0
        if self._order == ORDER_FEWEST:
            keys = (rows, self._count, unknown)
        elif self._order == ORDER_MOST:
            keys = (rows, -self._count, unknown)
        elif self._order == ORDER_LOWEST_CONF:
            keys = (rows, self._lowest, unknown)
        elif self._order == ORDER_DISAGREEMENT:
            keys = (rows, -self._disagree, unknown | (self._disagree < 0))
        else:
            keys = (rows,)
        rank = np.empty(n, np.int64)
        rank[np.lexsort(keys)] = np.arange(n)  # numpy sorts once; lessThan compares two ints
        self._rank = rank
        self.invalidate()
        self.sort(0 if self._order != ORDER_NAME else -1)

    def lessThan(self, left: QModelIndex | QPersistentModelIndex, right: QModelIndex | QPersistentModelIndex) -> bool:
        a, b = left.row(), right.row()
        if a < len(self._rank) and b < len(self._rank):
            return bool(self._rank[a] < self._rank[b])
        return a < b

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        if not super().filterAcceptsRow(source_row, source_parent):
            return False
        f = self._filter
        if f == FILTER_ALL or source_row >= len(self._count):
            return True
        # plain bools: a numpy bool handed back to Qt raises inside the C++ call (and crashes)
        if f == FILTER_WITH:
            return bool(self._count[source_row] > 0)
        if f == FILTER_WITHOUT:
            return bool(self._count[source_row] == 0)
        if f == FILTER_DISAGREE:
            return bool(self._disagree[source_row] > 0)
        return not bool(self._accepted[source_row])


class ReviewBar(QWidget):
    """Two combo boxes above the image list: order and filter."""

    orderChanged = Signal(int)
    filterChanged = Signal(int)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.order_combo = QComboBox()
        self.order_combo.addItems(ORDERS)
        self.order_combo.setToolTip("Review order (keys at the current thresholds, from the folder scan)")
        self.filter_combo = QComboBox()
        self.filter_combo.addItems(FILTERS)
        for w in (self.order_combo, self.filter_combo):
            w.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for combo in (self.order_combo, self.filter_combo):  # narrow windows: the combos shrink, not the image
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(6)
        layout.addWidget(QLabel("Sort"))
        layout.addWidget(self.order_combo, 1)
        layout.addWidget(self.filter_combo, 1)
        self.order_combo.currentIndexChanged.connect(self.orderChanged)
        self.filter_combo.currentIndexChanged.connect(self.filterChanged)
