"""The image list's highlight follows the current image (issue 23): after keys, toolbar buttons
and Best F1 the view is told of the new selection, so it repaints the right row."""

from __future__ import annotations

from PySide6.QtCore import Qt


def test_highlight_follows_keys_and_toolbar(loaded, qtbot):
    w = loaded
    heard = []  # the view repaints on selectionChanged; blocking it left the old row painted
    w.image_list.view.selectionModel().selectionChanged.connect(
        lambda sel, _desel: heard.append(sorted({w.image_list.proxy.mapToSource(i).row() for i in sel.indexes()})))
    w.go_to(0)
    qtbot.keyClick(w.canvas, Qt.Key.Key_D)  # next
    assert w.current_row == 1
    assert w.image_list.selected_rows() == [1] and heard[-1] == [1]
    w.next_action.trigger()  # the toolbar's Next
    assert w.current_row == 2 and w.image_list.selected_rows() == [2] and heard[-1] == [2]
    qtbot.keyClick(w.canvas, Qt.Key.Key_End)
    last = len(w.paths) - 1
    assert w.current_row == last and w.image_list.selected_rows() == [last] and heard[-1] == [last]


def test_clicking_a_row_still_opens_it_once(loaded, qtbot):
    w = loaded
    opened = []
    w.image_list.currentRowChanged.connect(opened.append)
    w.go_to(0)
    assert opened == []  # a programmatic move is not echoed back as a user's choice
    idx = w.image_list.proxy.mapFromSource(w.image_list.model.index(3, 0))
    rect = w.image_list.view.visualRect(idx)
    qtbot.mouseClick(w.image_list.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert opened == [3] and w.current_row == 3
