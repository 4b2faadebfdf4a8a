"""The window is layout and wiring (issue 23): small modules, and the controllers follow one
another through the session's signals in the order the window wires them."""

from __future__ import annotations

from pathlib import Path

GUI = Path(__file__).resolve().parents[2] / "gui"


def test_the_window_stays_small_and_no_gui_module_is_huge():
    sizes = {p.name: len(p.read_text(encoding="utf-8").splitlines()) for p in GUI.glob("*.py")}
    assert sizes["main_window.py"] <= 400, sizes["main_window.py"]
    assert not {name: n for name, n in sizes.items() if n > 500}


def test_a_new_folder_and_model_reach_every_controller_through_the_session(window, qtbot, tiny_model, image_dir):
    seen = []
    s = window.session
    s.folderChanged.connect(lambda root: seen.append(("folder", Path(root))))
    s.groundTruthChanged.connect(lambda source: seen.append(("ground truth", source)))
    s.modelChanged.connect(lambda info: seen.append(("model", Path(info.path))))
    s.currentChanged.connect(lambda row: seen.append(("row", row)))
    window.open_folder(image_dir, wait=True)
    # listeners connected after the controllers: the ground truth, found while the controllers
    # handled folderChanged, is heard first
    assert seen == [("ground truth", None), ("folder", image_dir), ("row", 0)]
    assert s.paths == window.paths and s.current_path == window.current_path == window.paths[0]
    seen.clear()
    window.open_model(tiny_model)
    qtbot.waitUntil(lambda: window.first_detections_shown, timeout=60000)
    assert seen == [("ground truth", None), ("model", tiny_model)]  # the row stays
    assert s.model_id == window.model_id and s.model_info is window.model_info
    assert window.threshold_panel.class_view() is None and window.side_panel.checked_classes() is None
