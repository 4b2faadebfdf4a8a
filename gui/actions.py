"""The window's menus, actions (with their shortcuts) and toolbar. Each action triggers one
controller method; the window keeps the actions as attributes (`w.next_action`...) for tests and
for the shortcut table. Building only: no state, no handlers beyond the window's own few."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QStyle


def _action(window: QMainWindow, text: str, slot, shortcuts=(), menu=None, tip: str = "", checkable=False) -> QAction:
    action = QAction(text, window)
    if shortcuts:
        action.setShortcuts([QKeySequence(s) for s in shortcuts])
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    if tip:
        action.setStatusTip(tip)
    action.setCheckable(checkable)
    action.triggered.connect(slot)
    window.addAction(action)
    if menu is not None:
        menu.addAction(action)
    return action


def build_actions(w) -> None:
    """Menus, actions and toolbar of MainWindow `w` (its controllers exist by now)."""
    mb = w.menuBar()
    file_menu = mb.addMenu("&File")
    view_menu = mb.addMenu("&View")
    edit_menu = mb.addMenu("&Edit")
    go_menu = mb.addMenu("&Go")
    help_menu = mb.addMenu("&Help")

    def a(*args, **kwargs):
        return _action(w, *args, **kwargs)

    model, browse, export, edit = w.model_controller, w.browse, w.export_controller, w.edit_controller
    w.open_model_action = a("Open &model…", model.open_model_dialog, ["Ctrl+O"], file_menu,
                            "Open a TorchScript detector")
    w.open_folder_action = a("Open &folder…", browse.open_folder_dialog, ["Ctrl+Shift+O"], file_menu,
                             "Open a folder of images")
    w.recent_menu = file_menu.addMenu("Open &recent")
    w.model_settings_action = a("Model &settings…", model.model_settings_dialog, [], file_menu,
                                "Input size, class names and anchors when the metadata lacks them")
    file_menu.addSeparator()
    w.export_image_action = a("&Save labels of this image", export.export_image, ["Ctrl+S"],
                              file_menu, "Write the YOLO label file of the current image")
    w.export_action = a("&Export labels…", export.export_dialog, ["Ctrl+E"], file_menu,
                        "Export YOLO labels for this image or the whole folder")
    file_menu.addSeparator()
    w.quit_action = a("&Quit", w.close, ["Ctrl+Q"], file_menu)

    canvas = w.canvas
    w.fit_action = a("&Fit to window", canvas.fit, ["F"], view_menu)
    w.actual_action = a("&Actual size (1:1)", canvas.actual_size, ["1"], view_menu)
    w.zoom_in_action = a("Zoom &in", canvas.zoom_in, ["+", "=", "Ctrl++"], view_menu)
    w.zoom_out_action = a("Zoom &out", canvas.zoom_out, ["-", "Ctrl+-"], view_menu)
    w.toggle_overlay_action = a("Show/hide &overlays", w.toggle_overlays, ["Space"], view_menu, checkable=True)
    w.toggle_overlay_action.setChecked(True)

    w.next_action = a("&Next image", w.next_image, ["Right", "D"], go_menu)
    w.prev_action = a("&Previous image", w.previous_image, ["Left", "A"], go_menu)
    w.first_action = a("&First image", lambda: browse.first_last(last=False), ["Home"], go_menu)
    w.last_action = a("&Last image", lambda: browse.first_last(last=True), ["End"], go_menu)
    w.find_action = a("Filter &images…", w.image_list.focus_filter, ["Ctrl+F"], go_menu)
    w.help_action = a("&Keyboard shortcuts", w.show_help, ["F1"], help_menu)
    w.open_gt_action = a("Open &ground-truth labels…", w.ground_truth_controller.pick_folder_dialog, [], None,
                         "Pick the folder of YOLO labels to compare the predictions with")
    file_menu.insertAction(w.export_image_action, w.open_gt_action)

    w.undo_action = w.edits.undo_stack.createUndoAction(w, "&Undo")
    w.undo_action.setShortcuts([QKeySequence("Ctrl+Z")])
    w.redo_action = w.edits.undo_stack.createRedoAction(w, "&Redo")
    w.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
    for action in (w.undo_action, w.redo_action):
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        w.addAction(action)
        edit_menu.addAction(action)
    edit_menu.addSeparator()
    w.edit_mode_action = a("&Edit boxes", lambda: edit.set_edit_mode(w.edit_mode_action.isChecked()), ["E"],
                           edit_menu, "Select, move, resize, draw (drag on empty image) and delete boxes",
                           checkable=True)
    edit.editModeChanged.connect(w.edit_mode_action.setChecked)
    w.delete_box_action = a("&Delete selected box", edit.delete_selected, ["Delete", "Backspace"], edit_menu)
    w.cycle_class_action = a("&Change class of selected box", edit.cycle_class, ["C"], edit_menu,
                             "Next class (right-click a box to pick one)")
    w.revert_action = a("&Revert this image to the model's boxes", edit.revert, [], edit_menu)
    edit_menu.addSeparator()
    w.accept_action = a("&Accept image and go to the next", edit.accept, ["Ctrl+Return", "Ctrl+Enter"],
                        go_menu, "Mark this image as reviewed and move on in the review order")
    view_menu.addAction(w.threshold_dock.toggleViewAction())

    style = w.style()
    for action, icon in ((w.open_model_action, QStyle.StandardPixmap.SP_FileIcon),
                         (w.open_folder_action, QStyle.StandardPixmap.SP_DirOpenIcon),
                         (w.export_action, QStyle.StandardPixmap.SP_DialogSaveButton),
                         (w.prev_action, QStyle.StandardPixmap.SP_ArrowBack),
                         (w.next_action, QStyle.StandardPixmap.SP_ArrowForward)):
        action.setIcon(style.standardIcon(icon))
    tb = w.addToolBar("Main")
    tb.setObjectName("main-toolbar")
    tb.setMovable(False)
    tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    for action in (w.open_model_action, w.open_folder_action, w.export_action, None,
                   w.prev_action, w.next_action, None, w.fit_action, w.actual_action,
                   w.toggle_overlay_action):
        if action is None:
            tb.addSeparator()
        else:
            tb.addAction(action)


def rebuild_recent_menu(menu: QMenu, settings, open_model, open_folder) -> None:
    menu.clear()
    for kind, opener in (("models", open_model), ("folders", open_folder)):
        for path in settings.recent(kind):
            action = menu.addAction(path)
            action.triggered.connect(lambda _=False, p=path, f=opener: f(Path(p)))
        menu.addSeparator()
    menu.setEnabled(not menu.isEmpty())


def shortcut_table(actions: list[QAction]) -> list[tuple[str, str]]:
    rows = []
    for action in actions:
        keys = ", ".join(s.toString(QKeySequence.SequenceFormat.NativeText) for s in action.shortcuts())
        if keys:
            rows.append((keys, action.text().replace("&", "").rstrip("…")))
    rows.append(("Mouse wheel", "Zoom around the cursor"))
    rows.append(("Drag", "Pan"))
    return rows
