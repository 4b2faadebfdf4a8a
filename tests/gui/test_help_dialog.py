"""The keyboard-shortcuts dialog (gui/help_dialog.py), listed from the window's own actions."""

from __future__ import annotations

from gui.help_dialog import HelpDialog


def test_every_shortcut_row_is_one_line_high_at_the_dialogs_size(qtbot, window):
    dialog = HelpDialog(window.shortcut_table(), window)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    table = dialog.table
    heights = {table.rowHeight(row) for row in range(table.rowCount())}
    assert table.rowCount() >= 15  # the window's actions, mouse rows included
    assert len(heights) == 1, heights  # rows sized before the Action column stretched came out double height
    assert {table.item(r, 1).text() for r in range(table.rowCount())} >= {"Open model", "Keyboard shortcuts"}
