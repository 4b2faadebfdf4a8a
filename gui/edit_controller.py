"""Editing and the review queue: edit mode, delete / change class of the selected box, the
right-click class menu, revert, accept-and-next, the ✎ / ✓ marks in the image list, the review
bar's order and filter, and binding the edit store to each folder + model pair (autosaved edits
come back).

It moves to another image only through the `go_to` it is given (BrowseController.go_to);
`image_wh()` is the current image's size before any edit (from its prediction).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QMenu, QWidget

from .canvas import Canvas
from .edits import EditStore
from .feedback import Feedback
from .image_list import ImageListWidget
from .review_queue import ReviewBar, ReviewProxy
from .session import Session


class EditController(QObject):
    editModeChanged = Signal(bool)

    def __init__(self, session: Session, edits: EditStore, canvas: Canvas, image_list: ImageListWidget,
                 review_proxy: ReviewProxy, review_bar: ReviewBar, feedback: Feedback,
                 go_to: Callable[[int], None], image_wh: Callable[[], tuple[int, int] | None], parent: QWidget) -> None:
        super().__init__(parent)
        self.session, self.edits, self.canvas, self.image_list = session, edits, canvas, image_list
        self.review_proxy, self.feedback, self._go_to, self._image_wh, self._parent = (
            review_proxy, feedback, go_to, image_wh, parent)
        canvas.editor.edited.connect(self._on_editor_edited)
        canvas.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        canvas.customContextMenuRequested.connect(self._on_canvas_context_menu_requested)
        edits.changed.connect(self._on_edits_changed)
        edits.reviewedChanged.connect(self._on_edits_reviewed_changed)
        review_bar.orderChanged.connect(self._on_review_bar_order_changed)
        review_bar.filterChanged.connect(self._on_review_bar_filter_changed)
        session.folderChanged.connect(self._bind)
        session.modelChanged.connect(self._bind)

    def _bind(self, *_args) -> None:
        """A new folder or model: restore that pair's edits and mark their rows."""
        s = self.session
        restored = 0
        if s.root is not None and s.model_path is not None and s.model_id:
            restored = self.edits.bind(s.root, s.model_path)
        else:
            self.edits.bind(None, None)
        # Only rows with an edit or an accept carry a mark: not a Python loop over 20,000 rows.
        self.image_list.model.clear_marks()
        marked = {s.row_of(p) for p in (*self.edits.edited_paths(), *self.edits.reviewed_paths())}
        for row in sorted(marked - {None}):
            self._mark_row(row)
        if restored:
            self.feedback.info(f"Restored your edits of {restored} image(s) from the last session "
                               f"(saved automatically in {self.edits.file}).")

    def _mark_row(self, row: int) -> None:
        p = self.session.paths[row]
        mark = "✎" if self.edits.entry(p) is not None else "✓" if self.edits.is_reviewed(p) else ""
        if mark != self.image_list.model.mark(row):
            self.image_list.model.set_mark(row, mark)

    def _on_edits_changed(self, path: str) -> None:
        row = self.session.row_of(path)
        if row is None:
            return
        self._mark_row(row)
        if row != self.session.row:
            self._go_to(row)  # undo/redo of another image's edit: show it (the current one: BrowseController redraws)

    def _on_edits_reviewed_changed(self, path: str) -> None:
        row = self.session.row_of(path)
        if row is not None:
            self._mark_row(row)
            self.review_proxy.set_accepted(row, self.edits.is_reviewed(path))

    def _on_editor_edited(self, det) -> None:
        path = self.session.current_path
        if path is None:
            return
        entry = self.edits.entry(path)
        wh = entry[1] if entry is not None else self._image_wh()
        if wh is None:
            return
        self.edits.set(path, det, wh)

    # ------------------------------------------------------------------ actions
    def set_edit_mode(self, on: bool) -> None:
        self.editModeChanged.emit(on)
        self.canvas.set_edit_mode(on)
        if on:
            self.feedback.status("Edit: drag box = move, edge = resize, empty image = new box; "
                                 "Del deletes; C / right-click = class; E leaves", 10000)

    def delete_selected(self) -> None:
        self.canvas.editor.delete_selected()

    def cycle_class(self) -> None:
        editor, info = self.canvas.editor, self.session.model_info
        i = editor.selected()
        if i < 0 or info is None:
            return
        nc = max(1, len(info.names))
        editor.set_selected_class((int(editor.detections().class_id[i]) + 1) % nc)

    def _on_canvas_context_menu_requested(self, pos) -> None:
        menu = self.context_menu(self.canvas.mapToScene(pos))
        if menu is not None:
            menu.exec(self.canvas.mapToGlobal(pos))
            menu.deleteLater()  # one menu per right-click: do not keep them all as children

    def context_menu(self, scene_pos) -> QMenu | None:
        """The right-click menu in edit mode: on a box, its class and Delete (the box gets
        selected); elsewhere, the class of new boxes. Built apart from exec() so it can be
        tested without a modal popup."""
        editor, info = self.canvas.editor, self.session.model_info
        if not editor.active or info is None:
            return None
        i = editor.box_at(scene_pos)
        menu = QMenu(self._parent)
        if i < 0:
            menu.addSection("Class of new boxes")
            for k, name in enumerate(info.names):
                act = menu.addAction(f"{k}  {name}")
                act.setCheckable(True)
                act.setChecked(k == editor.draw_class)
                act.triggered.connect(lambda _=False, k=k: setattr(editor, "draw_class", k))
            return menu
        editor.select(i)
        for k, name in enumerate(info.names):
            act = menu.addAction(f"{k}  {name}")
            act.setCheckable(True)
            act.setChecked(k == int(editor.detections().class_id[i]))
            act.triggered.connect(lambda _=False, k=k: editor.set_selected_class(k))
        menu.addSeparator()
        menu.addAction("Delete box", editor.delete_selected)
        return menu

    def revert(self) -> None:
        path: Path | None = self.session.current_path
        if path is not None:
            self.edits.revert(path)

    def accept(self) -> None:
        """Mark the image reviewed and go to the next one in the review order."""
        path, row = self.session.current_path, self.session.row
        if path is None:
            return
        self.edits.set_reviewed(path, True)
        nxt = self.image_list.neighbour(row, +1)
        if nxt is not None and nxt != row:
            self._go_to(nxt)

    # ------------------------------------------------------------------ review bar
    def _on_review_bar_order_changed(self, order: int) -> None:
        self.review_proxy.set_order(order)
        if self.session.row >= 0:
            self.image_list.set_current_row(self.session.row)

    def _on_review_bar_filter_changed(self, which: int) -> None:
        self.review_proxy.set_review_filter(which)
        row = self.session.row
        if row < 0 or not self.image_list.is_visible_row(row):
            first = self.image_list.first_last(last=False)
            if first is not None:
                self._go_to(first)
