"""A dismissible, non-modal message strip shown above the canvas (errors, export summaries),
with an optional one-click remedy ("Reload model").

Each message may name its cause ("image", "model", "profile"...): when that cause is gone (a
good image shown, a model loaded) the window calls `clear(cause)`, and a banner about something
else stays. Without it, "cannot read this image" stayed up over the next, good image."""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton

STYLES = {
    "error": "background:#fdecea; color:#611a15; border:1px solid #f5c6cb;",
    "warning": "background:#fff4e5; color:#663c00; border:1px solid #ffe0b2;",
    "info": "background:#e8f4fd; color:#0d3c61; border:1px solid #b6dcfb;",
}


class Banner(QFrame):
    dismissed = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.close_button = close = QToolButton(self)
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Dismiss")
        close.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        close.clicked.connect(self._on_close_clicked)
        self.action = QPushButton(self)
        self.action.clicked.connect(self._on_action_clicked)
        self.action.hide()
        self._remedy: Callable[[], object] | None = None
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.action, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self.level = ""
        self.cause = ""
        self.hide()

    def show_message(self, text: str, level: str = "error", action: tuple[str, Callable[[], object]] | None = None,
                     cause: str = "") -> None:
        """``action``: (button text, what it does); the banner closes when it is clicked."""
        self.level, self.cause = level, cause
        self.setStyleSheet(f"Banner {{{STYLES.get(level, STYLES['info'])}}} QLabel {{border:none;}}")
        self.label.setText(text)
        self._remedy = action[1] if action else None
        self.action.setText(action[0] if action else "")
        self.action.setVisible(action is not None)
        self.show()

    def clear(self, cause: str) -> None:
        """Hide the banner if it is about `cause` (which has just gone away)."""
        if cause and self.cause == cause and self.isVisible():
            self.hide()

    def text(self) -> str:
        return self.label.text() if self.isVisible() else ""

    def _on_action_clicked(self) -> None:
        remedy, self._remedy = self._remedy, None
        self.hide()
        if remedy is not None:
            remedy()

    def _on_close_clicked(self) -> None:
        self.hide()
        self.dismissed.emit()
