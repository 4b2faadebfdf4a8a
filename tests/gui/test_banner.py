"""The banner's one-click remedy: shown only with the message it belongs to, runs once."""

from __future__ import annotations

from PySide6.QtCore import Qt

from gui.banner import Banner


def test_action_runs_once_and_goes_with_its_message(qtbot):
    banner = Banner()
    qtbot.addWidget(banner)
    calls = []
    banner.show_message("the model process stopped", "error", ("Reload model", lambda: calls.append(1)))
    assert banner.action.isVisible() and banner.action.text() == "Reload model"
    qtbot.mouseClick(banner.action, Qt.MouseButton.LeftButton)
    assert calls == [1] and not banner.isVisible()

    banner.show_message("Exported 3 label files", "info")  # a later message has no stale button
    assert banner.isVisible() and not banner.action.isVisible()
    banner.action.click()  # even if clicked programmatically, the old remedy is gone
    assert calls == [1]
