"""Mouse editing of one image's boxes: select, move, resize, draw; delete and change class.

The canvas forwards mouse events in scene (= image pixel) coordinates while edit mode is on.
Gestures:
- press inside a box: select it (the smallest one under the cursor) and drag to move it;
- press on the selected box's corner or edge: drag to resize it;
- press on empty image: drag to draw a new box (class `draw_class`, confidence 1.0);
- `delete_selected()`, `set_selected_class(c)`: the window binds Delete and a class menu.
Only a FINISHED gesture emits `edited(Detections)` -- one undo step per gesture. Boxes are
clipped to the image; a drawn box smaller than 2 px is ignored (a click, not a box).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QPen
from PySide6.QtWidgets import QGraphicsRectItem, QGraphicsScene

from engine.detections import Detections

SELECTION_Z = 150.0
MIN_SIZE = 2.0


class BoxEditor(QObject):
    edited = Signal(object)  # Detections after a finished gesture
    selectionChanged = Signal(int)  # index or -1

    def __init__(self, scene: QGraphicsScene, parent=None) -> None:
        super().__init__(parent)
        self._scene = scene
        self._det = Detections.empty()
        self._w, self._h = 0, 0
        self._selected = -1
        self._drag: tuple[str, QPointF, np.ndarray] | None = None  # (part, start, original box)
        self._preview: np.ndarray | None = None
        self.active = False
        self.draw_class = 0
        pen = QPen(QColor("white"), 1.5, Qt.PenStyle.DashLine)
        pen.setCosmetic(True)
        self._item = QGraphicsRectItem()
        self._item.setPen(pen)
        fill = QColor("#56B4E9")
        fill.setAlpha(40)
        self._item.setBrush(QBrush(fill))
        self._item.setZValue(SELECTION_Z)
        self._item.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self._item.setVisible(False)
        scene.addItem(self._item)

    # ---------------------------------------------------------------- state
    def set_active(self, on: bool) -> None:
        self.active = on
        if not on:
            self.select(-1)
            self._drag = None

    def set_detections(self, det: Detections, image_wh: tuple[int, int]) -> None:
        self._det = det
        self._w, self._h = image_wh
        if self._selected >= len(det):
            self._selected = -1
        self._drag = None
        self._show(None)

    def detections(self) -> Detections:
        return self._det

    def selected(self) -> int:
        return self._selected

    def select(self, index: int) -> None:
        index = index if 0 <= index < len(self._det) else -1
        changed = index != self._selected
        self._selected = index
        self._show(None)
        if changed:
            self.selectionChanged.emit(index)

    def _show(self, box: np.ndarray | None) -> None:
        if box is None and self._selected >= 0 and self.active:
            box = self._det.xyxy[self._selected]
        if box is None:
            self._item.setVisible(False)
            return
        x1, y1, x2, y2 = (float(v) for v in box)
        self._item.setRect(QRectF(x1, y1, x2 - x1, y2 - y1))
        self._item.setVisible(True)

    # ---------------------------------------------------------------- hit testing
    def _part(self, pos: QPointF, box: np.ndarray, tol: float) -> str | None:
        x1, y1, x2, y2 = (float(v) for v in box)
        x, y = pos.x(), pos.y()
        if not (x1 - tol <= x <= x2 + tol and y1 - tol <= y <= y2 + tol):
            return None
        v = "t" if abs(y - y1) <= tol else "b" if abs(y - y2) <= tol else ""
        h = "l" if abs(x - x1) <= tol else "r" if abs(x - x2) <= tol else ""
        if v or h:
            return v + h
        return "move"

    def box_at(self, pos: QPointF) -> int:
        """Index of the smallest box containing `pos`, or -1."""
        xy = self._det.xyxy
        if len(xy) == 0:
            return -1
        inside = (xy[:, 0] <= pos.x()) & (pos.x() <= xy[:, 2]) & (xy[:, 1] <= pos.y()) & (pos.y() <= xy[:, 3])
        idx = np.flatnonzero(inside)
        if idx.size == 0:
            return -1
        area = (xy[idx, 2] - xy[idx, 0]) * (xy[idx, 3] - xy[idx, 1])
        return int(idx[np.argmin(area)])

    # ---------------------------------------------------------------- mouse (scene coordinates)
    def press(self, pos: QPointF, tol: float) -> bool:
        if not self.active:
            return False
        if self._selected >= 0:
            part = self._part(pos, self._det.xyxy[self._selected], tol)
            if part is not None:
                self._drag = (part, pos, self._det.xyxy[self._selected].astype(np.float64))
                return True
        hit = self.box_at(pos)
        if hit >= 0:
            self.select(hit)
            self._drag = ("move", pos, self._det.xyxy[hit].astype(np.float64))
            return True
        self.select(-1)
        p = self._clip_point(pos)
        self._drag = ("draw", p, np.array([p.x(), p.y(), p.x(), p.y()], np.float64))
        return True

    def move(self, pos: QPointF) -> bool:
        if not self.active or self._drag is None:
            return False
        self._preview = self._dragged_box(pos)
        self._show(self._preview)
        return True

    def release(self, pos: QPointF) -> bool:
        if not self.active or self._drag is None:
            return False
        part = self._drag[0]
        box = self._dragged_box(pos)
        self._drag, self._preview = None, None
        if part == "draw":
            if box[2] - box[0] < MIN_SIZE or box[3] - box[1] < MIN_SIZE:
                self._show(None)
                return True
            det = Detections(np.vstack([self._det.xyxy, box[None].astype(np.float32)]),
                             np.append(self._det.confidence, np.float32(1.0)),
                             np.append(self._det.class_id, np.int64(self.draw_class)))
            self._det = det
            self._selected = len(det) - 1
            self.selectionChanged.emit(self._selected)
        else:
            i = self._selected
            if np.allclose(box, self._det.xyxy[i], atol=0.25):
                self._show(None)
                return True  # a click: selection only
            xyxy = self._det.xyxy.copy()
            xyxy[i] = box
            self._det = Detections(xyxy, self._det.confidence, self._det.class_id)
        self._show(None)
        self.edited.emit(self._det)
        return True

    def _clip_point(self, pos: QPointF) -> QPointF:
        return QPointF(min(max(pos.x(), 0.0), float(self._w)), min(max(pos.y(), 0.0), float(self._h)))

    def _dragged_box(self, pos: QPointF) -> np.ndarray:
        part, start, orig = self._drag
        x1, y1, x2, y2 = orig
        if part == "draw":
            p = self._clip_point(pos)
            return np.array([min(start.x(), p.x()), min(start.y(), p.y()), max(start.x(), p.x()),
                             max(start.y(), p.y())], np.float64)
        dx, dy = pos.x() - start.x(), pos.y() - start.y()
        if part == "move":
            dx = min(max(dx, -x1), self._w - x2)
            dy = min(max(dy, -y1), self._h - y2)
            return np.array([x1 + dx, y1 + dy, x2 + dx, y2 + dy])
        if "l" in part:
            x1 = min(max(x1 + dx, 0.0), x2 - MIN_SIZE)
        if "r" in part:
            x2 = max(min(x2 + dx, float(self._w)), x1 + MIN_SIZE)
        if "t" in part:
            y1 = min(max(y1 + dy, 0.0), y2 - MIN_SIZE)
        if "b" in part:
            y2 = max(min(y2 + dy, float(self._h)), y1 + MIN_SIZE)
        return np.array([x1, y1, x2, y2])

    # ---------------------------------------------------------------- keyboard / menu actions
    def delete_selected(self) -> bool:
        i = self._selected
        if not self.active or i < 0:
            return False
        keep = np.arange(len(self._det)) != i
        self._det = self._det[keep]
        self._selected = -1
        self._show(None)
        self.selectionChanged.emit(-1)
        self.edited.emit(self._det)
        return True

    def set_selected_class(self, class_id: int) -> bool:
        i = self._selected
        if not self.active or i < 0 or int(self._det.class_id[i]) == class_id:
            return False
        cls = self._det.class_id.copy()
        cls[i] = class_id
        self._det = Detections(self._det.xyxy, self._det.confidence, cls)
        self.edited.emit(self._det)
        return True
