"""Detection overlay items: one rectangle per box (cosmetic pen, so 2 px at any zoom) and a
label chip "name 0.87" that ignores the view transform, so it stays readable at every zoom.
Hovering a box highlights it and reports its index through a callback."""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsRectItem, QGraphicsScene, QStyleOptionGraphicsItem, QWidget

from .colors import class_color, text_color_on

PEN_WIDTH = 2.0
CHIP_Z = 100.0  # chips are scene items above every box, so no box line crosses a label
HOVER_PEN_WIDTH = 4.0


class LabelChip(QGraphicsItem):
    """A filled rounded rectangle with text, drawn at a fixed screen size."""

    def __init__(self, text: str, color: QColor, parent: QGraphicsItem | None = None) -> None:
        super().__init__(parent)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        self.setAcceptHoverEvents(False)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self._text = text
        self._color = color
        self._font = QFont()
        self._font.setPointSizeF(9.0)
        fm = QFontMetricsF(self._font)
        w = fm.horizontalAdvance(text) + 8
        h = fm.height() + 2
        self._rect = QRectF(0, -h, w, h)  # sits on top of the box corner
        self._ascent = fm.ascent()

    @property
    def text(self) -> str:
        return self._text

    def boundingRect(self) -> QRectF:
        return self._rect

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self._color)
        painter.drawRoundedRect(self._rect, 2, 2)
        painter.setPen(text_color_on(self._color))
        painter.setFont(self._font)
        painter.drawText(QPointF(self._rect.left() + 4, self._rect.top() + 1 + self._ascent), self._text)


class BoxItem(QGraphicsRectItem):
    def __init__(self, index: int, rect: QRectF, color: QColor, on_hover: Callable[[int, bool], None]) -> None:
        super().__init__(rect)
        self.index = index
        self._color = color
        self._on_hover = on_hover
        self.chip: LabelChip | None = None
        self.setAcceptHoverEvents(True)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)  # let the view pan through boxes
        self._apply_pen(False)
        # smaller boxes on top so nested boxes stay reachable with the mouse
        self.setZValue(1.0 + 1.0 / max(1.0, rect.width() * rect.height()))

    def _apply_pen(self, highlighted: bool) -> None:
        pen = QPen(self._color, HOVER_PEN_WIDTH if highlighted else PEN_WIDTH)
        pen.setCosmetic(True)
        self.setPen(pen)
        fill = QColor(self._color)
        fill.setAlpha(50 if highlighted else 0)
        self.setBrush(QBrush(fill) if highlighted else QBrush(Qt.BrushStyle.NoBrush))

    def set_highlighted(self, on: bool) -> None:
        self._apply_pen(on)
        if self.chip is not None:
            self.chip.setZValue(CHIP_Z + (1 if on else 0))

    def hoverEnterEvent(self, event) -> None:
        self.set_highlighted(True)
        self._on_hover(self.index, True)
        super().hoverEnterEvent(event)

    def hoverLeaveEvent(self, event) -> None:
        self.set_highlighted(False)
        self._on_hover(self.index, False)
        super().hoverLeaveEvent(event)

    def shape(self):  # hover anywhere inside the box, even without a brush
        from PySide6.QtGui import QPainterPath

        path = QPainterPath()
        path.addRect(self.rect())
        return path


def chip_text(name: str, confidence: float, show_name: bool, show_conf: bool) -> str:
    parts = []
    if show_name:
        parts.append(name)
    if show_conf:
        parts.append(f"{confidence:.2f}")
    return " ".join(parts)


class Overlay:
    """Owns the box items of one scene; `set_boxes` replaces them all."""

    def __init__(self, scene: QGraphicsScene, on_hover: Callable[[int, bool], None]) -> None:
        self._scene = scene
        self._on_hover = on_hover
        self._items: list[BoxItem] = []
        self._visible = True

    @property
    def items(self) -> list[BoxItem]:
        return self._items

    def clear(self) -> None:
        for item in self._items:
            if item.chip is not None:
                self._scene.removeItem(item.chip)
            self._scene.removeItem(item)
        self._items = []

    def set_boxes(self, boxes: list[tuple[float, float, float, float]], class_ids: list[int],
                  texts: list[str]) -> None:
        self.clear()
        for i, ((x1, y1, x2, y2), cls, text) in enumerate(zip(boxes, class_ids, texts)):
            color = class_color(cls)
            item = BoxItem(i, QRectF(x1, y1, max(x2 - x1, 0.0), max(y2 - y1, 0.0)), color, self._on_hover)
            if text:
                chip = LabelChip(text, color)
                chip.setPos(x1, y1)
                chip.setZValue(CHIP_Z)
                chip.setVisible(self._visible)
                self._scene.addItem(chip)
                item.chip = chip
            item.setVisible(self._visible)
            self._scene.addItem(item)
            self._items.append(item)

    def set_visible(self, visible: bool) -> None:
        self._visible = visible
        for item in self._items:
            item.setVisible(visible)
            if item.chip is not None:
                item.chip.setVisible(visible)
