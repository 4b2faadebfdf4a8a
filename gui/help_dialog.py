"""Keyboard shortcuts, listed from the window's actions so the list cannot go stale."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QHeaderView, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout

HOW_TO = (
    "<b>Inspect a model:</b> File ▸ Open model (Ctrl+O). The side panel shows its layout, input size, "
    "device and classes.<br><b>Pre-label a folder:</b> open a folder (Ctrl+Shift+O), tune the thresholds, "
    "then File ▸ Export labels ▸ Whole folder.<br><b>Choose a threshold:</b> drag Confidence while "
    "browsing with ← / →; boxes follow the slider instantly."
)


class HelpDialog(QDialog):
    def __init__(self, shortcuts: list[tuple[str, str]], parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("ScriptLens — keyboard shortcuts")
        self.resize(460, 520)
        table = QTableWidget(len(shortcuts), 2, self)
        table.setHorizontalHeaderLabels(["Keys", "Action"])
        table.verticalHeader().setVisible(False)
        table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        for row, (keys, text) in enumerate(shortcuts):
            table.setItem(row, 0, QTableWidgetItem(keys))
            table.setItem(row, 1, QTableWidgetItem(text))
        table.resizeColumnToContents(0)
        # rows follow their text at the shown width (resizing them here, before the Action column
        # stretched, wrapped the longer actions and left those rows double height)
        table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table = table
        intro = QLabel(HOW_TO)
        intro.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(table)
        layout.addWidget(buttons)
