"""One stable colour per class id (the same id always gets the same colour, in every run)."""

from __future__ import annotations

from PySide6.QtGui import QColor

# 20 colours chosen to stay distinct from each other (Trubetskoy's list), most distinct first.
_PALETTE = (
    "E6194B", "3CB44B", "4363D8", "F58231", "911EB4", "42D4F4", "F032E6", "BFEF45", "FABED4",
    "469990", "DCBEFF", "9A6324", "FFE119", "800000", "AAFFC3", "808000", "FFD8B1", "000075",
    "A9A9A9", "FFFAC8",
)


def class_color(class_id: int) -> QColor:
    return QColor("#" + _PALETTE[int(class_id) % len(_PALETTE)])


def text_color_on(background: QColor) -> QColor:
    """Black or white, whichever reads better on `background`."""
    luminance = 0.299 * background.red() + 0.587 * background.green() + 0.114 * background.blue()
    return QColor("black") if luminance > 150 else QColor("white")
