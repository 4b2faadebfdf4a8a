"""How predictions and ground truth look together: true positives, false positives, missed objects.

Colour-blind safe AND readable without colour: each kind differs by line style too.
Colours from the Okabe-Ito palette (distinct under protanopia, deuteranopia, tritanopia):

- true positive  (prediction that matches a labelled object): solid blue line
- false positive (prediction that matches nothing):           dashed vermillion line
- missed object  (labelled object no prediction found):        dotted orange line, hatched inside

The prediction boxes keep their class chip ("circle 0.87"), so the class is still readable
when the box colour says "matched" instead of the class. Matching is `engine.metrics.match_both`
(the rule of `scriptlens eval`: IoU >= 0.5, same class, greedy by confidence).
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPen
from PySide6.QtWidgets import QGraphicsRectItem, QGraphicsScene

TP_COLOR = QColor("#0072B2")
FP_COLOR = QColor("#D55E00")
MISSED_COLOR = QColor("#E69F00")
TP_STYLE = (TP_COLOR, Qt.PenStyle.SolidLine)
FP_STYLE = (FP_COLOR, Qt.PenStyle.DashLine)
LEGEND = "TP: solid blue · FP: dashed vermillion · missed: dotted orange, hatched"
MISSED_Z = 0.5  # under the prediction boxes


def prediction_styles(tp_flags) -> list[tuple[QColor, Qt.PenStyle]]:
    """Box style per prediction from its true-positive flag."""
    return [TP_STYLE if t else FP_STYLE for t in tp_flags]


class MissedOverlay:
    """Pooled rectangles for the labelled objects no prediction found."""

    def __init__(self, scene: QGraphicsScene) -> None:
        self._scene = scene
        self._pool: list[QGraphicsRectItem] = []
        self._count = 0
        self._visible = True
        pen = QPen(MISSED_COLOR, 2.5, Qt.PenStyle.DotLine)
        pen.setCosmetic(True)
        self._pen = pen
        hatch = QColor(MISSED_COLOR)
        hatch.setAlpha(150)
        self._brush = QBrush(hatch, Qt.BrushStyle.BDiagPattern)

    @property
    def count(self) -> int:
        return self._count

    def rects(self) -> list[QRectF]:
        return [item.rect() for item in self._pool[: self._count]]

    def set_boxes(self, boxes: list[tuple[float, float, float, float]]) -> None:
        while len(self._pool) < len(boxes):
            item = QGraphicsRectItem()
            item.setPen(self._pen)
            item.setBrush(self._brush)
            item.setZValue(MISSED_Z)
            item.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
            item.setAcceptHoverEvents(False)
            self._scene.addItem(item)
            self._pool.append(item)
        for item, (x1, y1, x2, y2) in zip(self._pool, boxes):
            item.setRect(QRectF(x1, y1, max(x2 - x1, 0.0), max(y2 - y1, 0.0)))
            item.setVisible(self._visible)
        for item in self._pool[len(boxes): self._count]:
            item.setVisible(False)
        self._count = len(boxes)

    def clear(self) -> None:
        self.set_boxes([])

    def set_visible(self, visible: bool) -> None:
        self._visible = visible
        for item in self._pool[: self._count]:
            item.setVisible(visible)
