"""The image canvas: wheel zoom around the cursor, drag to pan, fit to window, 1:1.

Setters: `set_image`, `set_boxes`, `set_overlay_visible`, `set_placeholder`. Signals:
`boxHovered(index)` (-1 when the mouse leaves every box), `zoomChanged(factor)`.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QFrame, QGraphicsPixmapItem, QGraphicsScene, QGraphicsView

from .box_editor import BoxEditor
from .gt_overlay import MissedOverlay
from .overlay import Overlay

ZOOM_STEP = 1.25
MIN_ZOOM, MAX_ZOOM = 0.02, 64.0


class Canvas(QGraphicsView):
    boxHovered = Signal(int)
    zoomChanged = Signal(float)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._scene = QGraphicsScene(self)
        self.setScene(self._scene)
        self._pixmap_item = QGraphicsPixmapItem()
        self._pixmap_item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self._pixmap_item.setZValue(0)
        self._scene.addItem(self._pixmap_item)
        self.overlay = Overlay(self._scene, self._on_box_hover)
        self.missed = MissedOverlay(self._scene)  # ground-truth objects no prediction found
        self.editor = BoxEditor(self._scene, self)  # edit mode: the mouse edits boxes instead of panning
        self._badge = ""  # e.g. "edited", drawn in the top-left corner
        self._fit_mode = True
        self._placeholder = "Open a model (Ctrl+O) and a folder of images (Ctrl+Shift+O),\nor drop them here."
        self._hovered = -1

        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.SmoothPixmapTransform)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setBackgroundBrush(QColor("#2b2b2b"))
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)  # keys still reach the window's shortcuts
        self.setAcceptDrops(False)  # drops are handled by the main window
        self.viewport().setAcceptDrops(False)

    # setters
    def set_image(self, image: QImage | None) -> None:
        old_size = self._pixmap_item.pixmap().size()
        self.overlay.clear()
        self.missed.clear()
        self._hovered = -1
        if image is None or image.isNull():
            self._pixmap_item.setPixmap(QPixmap())
            self._scene.setSceneRect(QRectF())
        else:
            self._pixmap_item.setPixmap(QPixmap.fromImage(image))
            self._scene.setSceneRect(QRectF(0, 0, image.width(), image.height()))
            if self._fit_mode or old_size != image.size():
                if self._fit_mode or old_size.isEmpty():
                    self.fit()
        self.viewport().update()

    def set_boxes(self, boxes, class_ids, texts, styles=None) -> None:
        self._hovered = -1
        self.overlay.set_boxes(boxes, class_ids, texts, styles)
        self.overlay.place_chips(self.zoom_factor())

    def set_missed(self, boxes) -> None:
        self.missed.set_boxes(boxes)

    def set_overlay_visible(self, visible: bool) -> None:
        self.overlay.set_visible(visible)
        self.missed.set_visible(visible)

    def badge(self) -> str:
        return self._badge

    def set_badge(self, text: str) -> None:
        if text != self._badge:
            self._badge = text
            self.viewport().update()

    def set_edit_mode(self, on: bool) -> None:
        self.editor.set_active(on)
        self.setDragMode(QGraphicsView.DragMode.NoDrag if on else QGraphicsView.DragMode.ScrollHandDrag)
        self.viewport().setCursor(Qt.CursorShape.CrossCursor if on else Qt.CursorShape.OpenHandCursor)

    def set_placeholder(self, text: str) -> None:
        self._placeholder = text
        self.viewport().update()

    def has_image(self) -> bool:
        return not self._pixmap_item.pixmap().isNull()

    # zoom
    def zoom_factor(self) -> float:
        return self.transform().m11()

    def fit(self) -> None:
        self._fit_mode = True
        if self.has_image():
            self.fitInView(self._pixmap_item, Qt.AspectRatioMode.KeepAspectRatio)
        self._zoom_changed()

    def actual_size(self) -> None:
        self._fit_mode = False
        self.resetTransform()
        self._zoom_changed()

    def zoom_by(self, factor: float, anchor: QPoint | None = None) -> None:
        """Zoom by `factor` around the viewport point `anchor` (default: the view centre)."""
        current = self.zoom_factor()
        target = max(MIN_ZOOM, min(MAX_ZOOM, current * factor))
        if target == current:
            return
        self._fit_mode = False
        if anchor is None:
            anchor = self.viewport().rect().center()
        scene_point = self.mapToScene(anchor)
        old_anchor = self.transformationAnchor()
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.scale(target / current, target / current)
        self.setTransformationAnchor(old_anchor)
        moved = self.mapFromScene(scene_point) - anchor  # keep that scene point under the anchor
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + moved.x())
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() + moved.y())
        self._zoom_changed()

    def zoom_in(self) -> None:
        self.zoom_by(ZOOM_STEP)

    def zoom_out(self) -> None:
        self.zoom_by(1 / ZOOM_STEP)

    def _zoom_changed(self) -> None:
        self.overlay.place_chips(self.zoom_factor())
        self.zoomChanged.emit(self.zoom_factor())

    # events
    def _edit_tolerance(self) -> float:
        return 6.0 / max(self.zoom_factor(), 1e-6)  # 6 screen pixels, in image pixels

    def mousePressEvent(self, event) -> None:
        if (self.editor.active and event.button() == Qt.MouseButton.LeftButton
                and self.editor.press(self.mapToScene(event.position().toPoint()), self._edit_tolerance())):
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        if self.editor.active and self.editor.move(self.mapToScene(event.position().toPoint())):
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        if (self.editor.active and event.button() == Qt.MouseButton.LeftButton
                and self.editor.release(self.mapToScene(event.position().toPoint()))):
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def wheelEvent(self, event) -> None:
        delta = event.angleDelta().y()
        if delta == 0:
            return
        self.zoom_by(ZOOM_STEP ** (delta / 120.0), anchor=event.position().toPoint())
        event.accept()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._fit_mode and self.has_image():
            self.fitInView(self._pixmap_item, Qt.AspectRatioMode.KeepAspectRatio)
            self._zoom_changed()

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        super().drawForeground(painter, rect)
        if self._badge and self.has_image():
            painter.save()
            painter.resetTransform()
            fm = painter.fontMetrics()
            box = QRectF(8, 8, fm.horizontalAdvance(self._badge) + 12, fm.height() + 6)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor("#CC79A7"))
            painter.drawRoundedRect(box, 3, 3)
            painter.setPen(QColor("black"))
            painter.drawText(box, int(Qt.AlignmentFlag.AlignCenter), self._badge)
            painter.restore()
        if self.has_image() or not self._placeholder:
            return
        painter.save()
        painter.resetTransform()
        painter.setPen(QColor("#bbbbbb"))
        area = self.viewport().rect().adjusted(40, 40, -40, -40)
        painter.drawText(area, int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap), self._placeholder)
        painter.restore()

    def _on_box_hover(self, index: int, entered: bool) -> None:
        if entered:
            self._hovered = index
            self.boxHovered.emit(index)
        elif self._hovered == index:
            self._hovered = -1
            self.boxHovered.emit(-1)
