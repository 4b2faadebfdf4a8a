"""Detection overlay items: one rectangle per box (cosmetic pen, so 2 px at any zoom) and a
label chip "name 0.87" that ignores the view transform, so it stays readable at every zoom.
Hovering a box highlights it and reports its index through a callback.

Items are pooled: a slider move updates the rectangles and chips that exist and hides the
rest instead of destroying and re-creating hundreds of Qt objects per step.
"""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsRectItem, QGraphicsScene, QStyleOptionGraphicsItem, QWidget

from .colors import class_color, text_color_on

PEN_WIDTH = 2.0
HOVER_PEN_WIDTH = 4.0
CHIP_Z = 100.0  # chips are scene items above every box, so no box line crosses a label

_pens: dict[tuple, QPen] = {}
_brushes: dict[tuple[int, bool], QBrush] = {}


def _pen(color: QColor, highlighted: bool, style: Qt.PenStyle = Qt.PenStyle.SolidLine) -> QPen:
    key = (color.rgba(), highlighted, style)
    pen = _pens.get(key)
    if pen is None:
        pen = QPen(color, HOVER_PEN_WIDTH if highlighted else PEN_WIDTH, style)
        pen.setCosmetic(True)
        _pens[key] = pen
    return pen


def _brush(color: QColor, highlighted: bool) -> QBrush:
    key = (color.rgba(), highlighted)
    brush = _brushes.get(key)
    if brush is None:
        if highlighted:
            fill = QColor(color)
            fill.setAlpha(50)
            brush = QBrush(fill)
        else:
            brush = QBrush(Qt.BrushStyle.NoBrush)
        _brushes[key] = brush
    return brush


class LabelChip(QGraphicsItem):
    """A filled rounded rectangle with text, drawn at a fixed screen size."""

    _font: QFont | None = None
    _metrics: QFontMetricsF | None = None

    def __init__(self, text: str = "", color: QColor | None = None, parent: QGraphicsItem | None = None) -> None:
        super().__init__(parent)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)  # paint once, blit after
        self.setAcceptHoverEvents(False)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        if LabelChip._font is None:
            font = QFont()
            font.setPointSizeF(9.0)
            LabelChip._font, LabelChip._metrics = font, QFontMetricsF(font)
        self._text = ""
        self._color = QColor("black")
        self._text_color = QColor("white")
        self._rect = QRectF()
        self._inside = False  # drawn below the box's top edge (when there is no room above)
        self.set_label(text, color or QColor("black"))

    @property
    def text(self) -> str:
        return self._text

    def set_label(self, text: str, color: QColor) -> None:
        if text == self._text and color == self._color:
            return
        self.prepareGeometryChange()
        fm = LabelChip._metrics
        w = fm.horizontalAdvance(text) + 8
        h = fm.height() + 2
        self._rect = QRectF(0, 0 if self._inside else -h, w, h)  # on top of the box corner
        self._text, self._color, self._text_color = text, QColor(color), text_color_on(color)
        self.update()

    def height(self) -> float:
        return self._rect.height()

    def set_inside(self, inside: bool) -> None:
        if inside == self._inside:
            return
        self.prepareGeometryChange()
        self._inside = inside
        self._rect.moveTop(0 if inside else -self._rect.height())
        self.update()

    def boundingRect(self) -> QRectF:
        return self._rect

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self._color)
        painter.drawRoundedRect(self._rect, 2, 2)
        painter.setPen(self._text_color)
        painter.setFont(LabelChip._font)
        painter.drawText(QPointF(self._rect.left() + 4, self._rect.top() + 1 + LabelChip._metrics.ascent()),
                         self._text)


class BoxItem(QGraphicsRectItem):
    def __init__(self, index: int, rect: QRectF, color: QColor, on_hover: Callable[[int, bool], None]) -> None:
        super().__init__(rect)
        self.index = index
        self._color = QColor(color)
        self._on_hover = on_hover
        self._highlighted = False
        self._style = Qt.PenStyle.SolidLine  # dashed for false positives (gui/gt_overlay.py)
        self.chip: LabelChip | None = None
        self.setAcceptHoverEvents(True)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)  # let the view pan through boxes
        self._apply_pen()
        self._update_z()

    def set_box(self, index: int, rect: QRectF, color: QColor, style: Qt.PenStyle = Qt.PenStyle.SolidLine) -> None:
        self.index = index
        if rect != self.rect():
            self.setRect(rect)
            self._update_z()
        if color != self._color or self._highlighted or style != self._style:
            self._color = QColor(color)
            self._style = style
            self._highlighted = False
            self._apply_pen()

    def _update_z(self) -> None:
        r = self.rect()  # smaller boxes on top so nested boxes stay reachable with the mouse
        self.setZValue(1.0 + 1.0 / max(1.0, r.width() * r.height()))

    def _apply_pen(self) -> None:
        self.setPen(_pen(self._color, self._highlighted, self._style))
        self.setBrush(_brush(self._color, self._highlighted))

    def set_highlighted(self, on: bool) -> None:
        self._highlighted = on
        self._apply_pen()
        if self.chip is not None:
            self.chip.setZValue(CHIP_Z + (2.0 if on else 1.0 - self.index / 10_000))

    def hoverEnterEvent(self, event) -> None:
        self.set_highlighted(True)
        self._on_hover(self.index, True)
        super().hoverEnterEvent(event)

    def hoverLeaveEvent(self, event) -> None:
        self.set_highlighted(False)
        self._on_hover(self.index, False)
        super().hoverLeaveEvent(event)

    def shape(self) -> QPainterPath:  # hover anywhere inside the box, even without a brush
        path = QPainterPath()
        path.addRect(self.rect())
        return path




class Overlay:
    """Owns the box items of one scene; `set_boxes` shows exactly the given boxes."""

    def __init__(self, scene: QGraphicsScene, on_hover: Callable[[int, bool], None]) -> None:
        self._scene = scene
        self._on_hover = on_hover
        self._pool: list[BoxItem] = []
        self._count = 0
        self._visible = True

    @property
    def items(self) -> list[BoxItem]:
        """The boxes shown now (the pool may hold more, hidden)."""
        return self._pool[: self._count]

    def clear(self) -> None:
        self.set_boxes([], [], [])

    def set_boxes(self, boxes: list[tuple[float, float, float, float]], class_ids: list[int],
                  texts: list[str], styles: list[tuple[QColor, Qt.PenStyle]] | None = None) -> None:
        """`styles[i]` (colour, pen style) replaces box i's class colour: the ground-truth view
        draws matched / false boxes that way (chips keep the class colour)."""
        n = len(boxes)
        while len(self._pool) < n:
            item = BoxItem(len(self._pool), QRectF(), QColor("black"), self._on_hover)
            item.setVisible(False)
            self._scene.addItem(item)
            self._pool.append(item)
        for i, ((x1, y1, x2, y2), cls, text) in enumerate(zip(boxes, class_ids, texts)):
            item = self._pool[i]
            color = class_color(cls)
            box_color, box_style = styles[i] if styles is not None else (color, Qt.PenStyle.SolidLine)
            item.set_box(i, QRectF(x1, y1, max(x2 - x1, 0.0), max(y2 - y1, 0.0)), box_color, box_style)
            if text:
                if item.chip is None:
                    item.chip = LabelChip()
                    item.chip.setZValue(CHIP_Z)
                    self._scene.addItem(item.chip)
                item.chip.set_label(text, color)
                item.chip.setPos(x1, y1)
                item.chip.setZValue(CHIP_Z + 1.0 - i / (n + 1))  # boxes come best first: best chip on top
                item.chip.setVisible(self._visible)
            elif item.chip is not None:
                item.chip.set_label("", color)
                item.chip.setVisible(False)
            item.setVisible(self._visible)
        for item in self._pool[n: self._count]:
            item.setVisible(False)
            if item.chip is not None:
                item.chip.setVisible(False)
        self._count = n
        # keep the pool from growing without bound after one image with thousands of boxes
        while len(self._pool) > max(n, 512):
            item = self._pool.pop()
            if item.chip is not None:
                self._scene.removeItem(item.chip)
            self._scene.removeItem(item)

    def place_chips(self, scale: float) -> None:
        """Chips of boxes touching the image top go inside the box (no room above at `scale`)."""
        for item in self.items:
            if item.chip is not None:
                item.chip.set_inside(item.rect().top() * scale < item.chip.height())

    def set_visible(self, visible: bool) -> None:
        self._visible = visible
        for item in self.items:
            item.setVisible(visible)
            if item.chip is not None and item.chip.text:
                item.chip.setVisible(visible)
