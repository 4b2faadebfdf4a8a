"""The image list: a table model over file names (cheap for 100,000 rows), a filter proxy,
and a small widget with a filter box. Knows nothing of files: the window sets names,
counts and states, and may give a `labelled_probe(row) -> bool` checked lazily per row."""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import (
    QAbstractTableModel, QItemSelectionModel, QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt, QTimer, Signal,
)
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLineEdit, QTreeView, QVBoxLayout, QWidget

COL_NAME, COL_COUNT, COL_STATE = range(3)
HEADERS = ("Image", "Det.", "Labels")

STATE_NONE = ""
STATE_LABELLED = "labelled"
STATE_EXPORTED = "exported"
STATE_ERROR = "error"
STATE_LABELS_UNREADABLE = "labels?"  # its ground-truth file cannot be read (left out of the metrics)
_WITH_MESSAGE = (STATE_ERROR, STATE_LABELS_UNREADABLE)  # states whose reason is the row's tooltip


class ImageListModel(QAbstractTableModel):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._names: list[str] = []
        self._counts: dict[int, int] = {}
        self._states: dict[int, str] = {}
        self._errors: dict[int, str] = {}
        self._probe: Callable[[int], bool] | None = None
        self._probed: dict[int, bool] = {}
        self._marks: dict[int, str] = {}  # "✎" edited, "✓" accepted: shown before the name

    # setters
    def set_names(self, names: list[str], probe: Callable[[int], bool] | None = None) -> None:
        """A new folder; `probe(row)` says whether the row has a label file (asked lazily).
        Giving it here rather than through `set_labelled_probe` saves a whole-column refresh,
        which the filter proxy re-checks row by row (~60 ms for 20,000 images)."""
        self.beginResetModel()
        self._names = list(names)
        self._probe = probe
        self._marks.clear()
        self._counts.clear()
        self._states.clear()
        self._errors.clear()
        self._probed.clear()
        self.endResetModel()

    def set_labelled_probe(self, probe: Callable[[int], bool] | None) -> None:
        self._probe = probe
        self._probed.clear()
        if self._names:
            self._emit_column(COL_STATE)

    def set_count(self, row: int, count: int | None) -> None:
        if count is None:
            self._counts.pop(row, None)
        else:
            self._counts[row] = int(count)
            if self._states.get(row) == STATE_ERROR:  # scored after all (e.g. after "Reload model")
                del self._states[row]
                self._errors.pop(row, None)
                self._emit_cell(row, COL_STATE)
                self._emit_cell(row, COL_NAME)
        self._emit_cell(row, COL_COUNT)

    def set_mark(self, row: int, mark: str) -> None:
        if mark:
            self._marks[row] = mark
        else:
            self._marks.pop(row, None)
        self._emit_cell(row, COL_NAME)

    def mark(self, row: int) -> str:
        return self._marks.get(row, "")

    def clear_marks(self) -> None:
        rows, self._marks = list(self._marks), {}
        for row in rows:
            self._emit_cell(row, COL_NAME)

    def clear_counts(self) -> None:
        self._counts.clear()
        if self._names:
            self._emit_column(COL_COUNT)

    def set_state(self, row: int, state: str, message: str = "") -> None:
        self._states[row] = state
        if state in _WITH_MESSAGE:
            self._errors[row] = message
        else:
            self._errors.pop(row, None)
        self._emit_cell(row, COL_STATE)
        self._emit_cell(row, COL_NAME)

    def refresh_labelled(self) -> None:
        self._probed.clear()
        if self._names:
            self._emit_column(COL_STATE)

    # getters (tests, window)
    def count(self, row: int) -> int | None:
        return self._counts.get(row)

    def state(self, row: int) -> str:
        if row in self._states:
            return self._states[row]
        if self._probe is None:
            return STATE_NONE
        if row not in self._probed:
            self._probed[row] = bool(self._probe(row))
        return STATE_LABELLED if self._probed[row] else STATE_NONE

    def error(self, row: int) -> str:
        return self._errors.get(row, "")

    def _emit_cell(self, row: int, col: int) -> None:
        if 0 <= row < len(self._names):
            idx = self.index(row, col)
            self.dataChanged.emit(idx, idx)

    def _emit_column(self, col: int) -> None:
        self.dataChanged.emit(self.index(0, col), self.index(len(self._names) - 1, col))

    # Qt model API
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._names)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row, col = index.row(), index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == COL_NAME:
                mark = self._marks.get(row)
                return f"{mark} {self._names[row]}" if mark else self._names[row]
            if col == COL_COUNT:
                count = self._counts.get(row)
                return "" if count is None else str(count)
            if col == COL_STATE:
                return self.state(row)
        elif role == Qt.ItemDataRole.ToolTipRole:
            if row in self._errors:
                return self._errors[row]
            return self._names[row]
        elif role == Qt.ItemDataRole.ForegroundRole:
            if self._states.get(row) in _WITH_MESSAGE:
                return QColor("#c62828")
        elif role == Qt.ItemDataRole.TextAlignmentRole and col == COL_COUNT:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class ImageFilterProxy(QSortFilterProxyModel):
    """Case-insensitive substring filter on the file name column."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setFilterKeyColumn(COL_NAME)


class ImageListWidget(QWidget):
    """Filter box + list. `currentRowChanged(source_row)` when the user picks an image."""

    currentRowChanged = Signal(int)
    filterFinished = Signal()  # Enter in the filter box: hand the keys back to the window

    def __init__(self, parent=None, proxy: ImageFilterProxy | None = None) -> None:
        super().__init__(parent)
        self.model = ImageListModel(self)
        self._programmatic = False  # set_current_row is moving the selection: no currentRowChanged echo
        self.proxy = proxy if proxy is not None else ImageFilterProxy(self)  # the review queue passes its own
        self.proxy.setParent(self)
        self.proxy.setSourceModel(self.model)

        self.filter_edit = QLineEdit(self)
        self.filter_edit.setPlaceholderText("Filter file names…")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setFocusPolicy(Qt.FocusPolicy.ClickFocus)  # letters are shortcuts until clicked
        self.filter_edit.returnPressed.connect(self.filterFinished)
        self._filter_timer = QTimer(self)  # debounce: filtering 100,000 names takes a moment
        self._filter_timer.setSingleShot(True)
        self._filter_timer.setInterval(150)
        self._filter_timer.timeout.connect(self._on_filter_timer_timeout)
        self.filter_edit.textChanged.connect(self._on_filter_text_changed)

        self.view = QTreeView(self)
        self.view.setModel(self.proxy)
        self.view.setRootIsDecorated(False)
        self.view.setUniformRowHeights(True)  # constant-time layout for huge folders
        self.view.setAlternatingRowColors(True)
        self.view.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # keep the numbers at the end visible
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setFocusPolicy(Qt.FocusPolicy.ClickFocus)  # arrow keys belong to the window
        header = self.view.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(COL_NAME, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(COL_COUNT, QHeaderView.ResizeMode.Fixed)
        header.setSectionResizeMode(COL_STATE, QHeaderView.ResizeMode.Fixed)
        header.resizeSection(COL_COUNT, 44)
        header.resizeSection(COL_STATE, 72)
        self.view.selectionModel().currentRowChanged.connect(self._on_view_current_row_changed)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.filter_edit)
        layout.addWidget(self.view)

    # setters
    def set_names(self, names: list[str], probe: Callable[[int], bool] | None = None) -> None:
        self.model.set_names(names, probe)

    def focus_filter(self) -> None:
        self.filter_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.filter_edit.selectAll()

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Escape and self.filter_edit.hasFocus():
            self.filterFinished.emit()
            return
        super().keyPressEvent(event)

    def set_current_row(self, source_row: int) -> None:
        idx = self.proxy.mapFromSource(self.model.index(source_row, COL_NAME))
        if idx.isValid():
            # Blocking the selection model's signals here (as before) also kept the VIEW from
            # hearing of the change: it went on painting the previous row as selected. Let the
            # signals through and drop only our own echo.
            self._programmatic = True
            try:
                self.view.selectionModel().setCurrentIndex(
                    idx, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)
            finally:
                self._programmatic = False
            self.view.scrollTo(idx)

    def selected_rows(self) -> list[int]:
        """Source rows the view shows as selected (what a person sees highlighted)."""
        rows = {self.proxy.mapToSource(i).row() for i in self.view.selectionModel().selectedRows()}
        return sorted(rows)

    def visible_rows(self) -> list[int]:
        """Source rows that pass the filter, in display order (used for navigation)."""
        return [self.proxy.mapToSource(self.proxy.index(r, 0)).row() for r in range(self.proxy.rowCount())]

    def is_visible_row(self, source_row: int) -> bool:
        return self.proxy.mapFromSource(self.model.index(source_row, 0)).isValid()

    def neighbour(self, source_row: int, step: int) -> int | None:
        """The visible row `step` away from `source_row` (or the first/last one for +-inf)."""
        n = self.proxy.rowCount()
        if n == 0:
            return None
        idx = self.proxy.mapFromSource(self.model.index(source_row, 0)) if source_row >= 0 else QModelIndex()
        if not idx.isValid():
            pos = 0
        else:
            pos = max(0, min(n - 1, idx.row() + step))
        return self.proxy.mapToSource(self.proxy.index(pos, 0)).row()

    def first_last(self, last: bool) -> int | None:
        n = self.proxy.rowCount()
        if n == 0:
            return None
        return self.proxy.mapToSource(self.proxy.index(n - 1 if last else 0, 0)).row()

    # handlers
    def _on_filter_text_changed(self, _text: str) -> None:
        self._filter_timer.start()

    def _on_filter_timer_timeout(self) -> None:
        self.proxy.setFilterFixedString(self.filter_edit.text())

    def _on_view_current_row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid() and not self._programmatic:
            self.currentRowChanged.emit(self.proxy.mapToSource(current).row())
