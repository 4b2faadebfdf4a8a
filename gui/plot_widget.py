"""A small QPainter plot: lines or bars over fixed axes, and a vertical marker.

Why hand-rolled: QtCharts is not in PySide6-Essentials and a plotting library (pyqtgraph,
matplotlib) would be a large dependency for four small plots. This draws what the threshold
panel needs and nothing more: `set_series` (lines or bars, numpy arrays), `set_marker` (the
current threshold), a title and axis labels. Clicking emits `clicked(x)` in data units.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 34, 8, 18, 26


@dataclass(frozen=True)
class Series:
    x: np.ndarray
    y: np.ndarray
    color: QColor
    bars: bool = False
    style: Qt.PenStyle = Qt.PenStyle.SolidLine


class PlotWidget(QWidget):
    clicked = Signal(float)  # x in data units

    def __init__(self, title: str = "", x_label: str = "", y_label: str = "", parent=None) -> None:
        super().__init__(parent)
        self._title = title
        self._x_label = x_label
        self._y_label = y_label
        self._series: list[Series] = []
        self._x_range = (0.0, 1.0)
        self._y_range = (0.0, 1.0)
        self._marker: float | None = None
        self._marker_text = ""
        self._point: tuple[float, float] | None = None
        self._message = ""
        self.setMinimumSize(180, 140)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:
        return QSize(260, 190)

    # setters
    def title(self) -> str:
        return self._title

    def set_title(self, title: str) -> None:
        self._title = title
        self.update()

    def set_axes(self, x_range: tuple[float, float], y_range: tuple[float, float] | None = None,
                 x_label: str | None = None, y_label: str | None = None) -> None:
        self._x_range = x_range
        if y_range is not None:
            self._y_range = y_range
        if x_label is not None:
            self._x_label = x_label
        if y_label is not None:
            self._y_label = y_label
        self.update()

    def set_series(self, series: list[Series], auto_y: bool = False) -> None:
        self._series = list(series)
        if auto_y:
            top = max((float(np.max(s.y)) for s in series if len(s.y)), default=1.0)
            self._y_range = (0.0, max(top * 1.05, 1.0))
        self._message = ""
        self.update()

    def set_marker(self, x: float | None, text: str = "", point: tuple[float, float] | None = None) -> None:
        """A vertical line at `x` (the current threshold) and optionally a dot at `point`."""
        self._marker, self._marker_text, self._point = x, text, point
        self.update()

    def set_message(self, text: str) -> None:
        """Shown instead of the data (e.g. 'no ground truth')."""
        self._message = text
        self._series = []
        self.update()

    # geometry
    def _plot_rect(self) -> QRectF:
        return QRectF(MARGIN_LEFT, MARGIN_TOP, max(1, self.width() - MARGIN_LEFT - MARGIN_RIGHT),
                      max(1, self.height() - MARGIN_TOP - MARGIN_BOTTOM))

    def _to_px(self, rect: QRectF, x: float, y: float) -> QPointF:
        (x0, x1), (y0, y1) = self._x_range, self._y_range
        px = rect.left() + (x - x0) / ((x1 - x0) or 1.0) * rect.width()
        py = rect.bottom() - (y - y0) / ((y1 - y0) or 1.0) * rect.height()
        return QPointF(px, py)

    def x_at(self, px: float) -> float:
        rect = self._plot_rect()
        x0, x1 = self._x_range
        return x0 + (px - rect.left()) / rect.width() * (x1 - x0)

    # painting
    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        fg = pal.windowText().color()
        rect = self._plot_rect()
        p.fillRect(rect, pal.base())
        p.setPen(QPen(fg, 1))
        p.drawRect(rect)
        font = p.font()
        font.setPointSizeF(max(7.0, font.pointSizeF() - 1))
        p.setFont(font)
        p.drawText(QRectF(0, 0, self.width(), MARGIN_TOP), int(Qt.AlignmentFlag.AlignCenter), self._title)
        (x0, x1), (y0, y1) = self._x_range, self._y_range
        grid = QPen(QColor(128, 128, 128, 70), 1)
        for frac in (0.0, 0.25, 0.5, 0.75, 1.0):
            gx = x0 + frac * (x1 - x0)
            gy = y0 + frac * (y1 - y0)
            a, b = self._to_px(rect, gx, y0), self._to_px(rect, gx, y1)
            p.setPen(grid)
            p.drawLine(a, b)
            c, d = self._to_px(rect, x0, gy), self._to_px(rect, x1, gy)
            p.drawLine(c, d)
            p.setPen(fg)
            p.drawText(QRectF(a.x() - 20, rect.bottom() + 1, 40, 12), int(Qt.AlignmentFlag.AlignCenter), _fmt(gx))
            p.drawText(QRectF(0, c.y() - 6, MARGIN_LEFT - 3, 12),
                       int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter), _fmt(gy))
        p.drawText(QRectF(rect.left(), self.height() - 12, rect.width(), 12), int(Qt.AlignmentFlag.AlignCenter),
                   self._x_label)
        if self._y_label:
            p.save()
            p.translate(9, rect.center().y())
            p.rotate(-90)
            p.drawText(QRectF(-rect.height() / 2, -6, rect.height(), 12), int(Qt.AlignmentFlag.AlignCenter),
                       self._y_label)
            p.restore()
        if self._message:
            p.drawText(rect.adjusted(6, 6, -6, -6), int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap),
                       self._message)
            return
        p.setClipRect(rect)
        for s in self._series:
            if s.bars:
                self._paint_bars(p, rect, s)
            else:
                self._paint_line(p, rect, s)
        if self._marker is not None:
            pen = QPen(fg, 1.5, Qt.PenStyle.DashLine)
            p.setPen(pen)
            a, b = self._to_px(rect, self._marker, y0), self._to_px(rect, self._marker, y1)
            p.drawLine(a, b)
            if self._marker_text:
                right = a.x() < rect.center().x()
                box = QRectF(a.x() + 3, rect.top() + 2, 110, 14) if right else QRectF(a.x() - 113, rect.top() + 2, 110, 14)
                align = Qt.AlignmentFlag.AlignLeft if right else Qt.AlignmentFlag.AlignRight
                p.drawText(box, int(align | Qt.AlignmentFlag.AlignVCenter), self._marker_text)
        if self._point is not None:
            p.setPen(QPen(fg, 1.5))
            p.setBrush(QColor("#F0E442"))
            p.drawEllipse(self._to_px(rect, *self._point), 4.5, 4.5)
        p.end()

    def _paint_line(self, p: QPainter, rect: QRectF, s: Series) -> None:
        if len(s.x) == 0:
            return
        x, y = np.asarray(s.x, np.float64), np.asarray(s.y, np.float64)
        if len(x) > 2000:  # at most ~2 points per pixel column
            idx = np.unique(np.linspace(0, len(x) - 1, 2000).astype(int))
            x, y = x[idx], y[idx]
        poly = QPolygonF([self._to_px(rect, float(a), float(b)) for a, b in zip(x, y)])
        pen = QPen(s.color, 2, s.style)
        p.setPen(pen)
        p.setBrush(Qt.BrushStyle.NoBrush)
        path = QPainterPath()
        path.addPolygon(poly)
        p.drawPath(path)

    def _paint_bars(self, p: QPainter, rect: QRectF, s: Series) -> None:
        """`x` holds len(y) + 1 bin edges."""
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(s.color)
        for i, h in enumerate(np.asarray(s.y, np.float64)):
            if h <= 0:
                continue
            a = self._to_px(rect, float(s.x[i]), 0.0)
            b = self._to_px(rect, float(s.x[i + 1]), float(h))
            p.drawRect(QRectF(a, b).normalized().adjusted(0.5, 0, -0.5, 0))

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self._plot_rect().contains(event.position()):
            self.clicked.emit(self.x_at(event.position().x()))
        super().mousePressEvent(event)


def _fmt(v: float) -> str:
    if abs(v) >= 1000:
        return f"{v / 1000:.0f}k" if abs(v) >= 10000 else f"{v / 1000:.1f}k"
    if abs(v) >= 10 or v == int(v):
        return f"{v:.0f}"
    return f"{v:.2f}".rstrip("0").rstrip(".")
