"""One stable colour per class id (the same id always gets the same colour, in every run)."""

from __future__ import annotations

from PySide6.QtGui import QColor

# Ultralytics' palette: distinct, readable on photos, familiar to YOLO users.
_PALETTE = (
    "FF3838", "FF9D97", "FF701F", "FFB21D", "CFD231", "48F90A", "92CC17", "3DDB86", "1A9334",
    "00D4BB", "2C99A8", "00C2FF", "344593", "6473FF", "0018EC", "8438FF", "520085", "CB38FF",
    "FF95C8", "FF37C7",
)


def class_color(class_id: int) -> QColor:
    return QColor("#" + _PALETTE[int(class_id) % len(_PALETTE)])


def text_color_on(background: QColor) -> QColor:
    """Black or white, whichever reads better on `background`."""
    luminance = 0.299 * background.red() + 0.587 * background.green() + 0.114 * background.blue()
    return QColor("black") if luminance > 150 else QColor("white")
