"""Export from the window: one image, the whole folder, cancel half way."""

from __future__ import annotations

from pathlib import Path

from gui.export_dialog import ExportChoice

A_LINE = "0 0.312500 0.312500 0.156250 0.125000"
B_LINE = "1 0.625000 0.625000 0.187500 0.187500"
C_LINE = "2 0.781250 0.250000 0.093750 0.093750"


def run_export(w, qtbot, choice: ExportChoice):
    w.last_export_summary = None
    assert w.export(choice) is not None
    qtbot.waitUntil(lambda: w.last_export_summary is not None, timeout=60000)
    return w.last_export_summary


def test_export_current_image_line_by_line(loaded, qtbot, tmp_path):
    w = loaded
    out = tmp_path / "out"
    summary = run_export(w, qtbot, ExportChoice(whole_folder=False, out_dir=out))
    assert summary.written == 1 and not summary.failed
    assert (out / "img000.txt").read_text().splitlines() == [A_LINE, B_LINE, C_LINE]
    assert (out / "classes.txt").read_text().splitlines() == ["a", "b", "c"]
    assert (out / "data.yaml").exists()
    assert "Exported" in w.banner.text()


def test_export_folder_uses_thresholds_class_filter_and_conf_column(loaded, qtbot, tmp_path):
    w = loaded
    w.side_panel.conf_slider.setValue(0.5)
    w.side_panel.class_list.item(1).setCheckState(w.side_panel.class_list.item(1).checkState().Unchecked)
    calls = w.worker.model_calls
    out = tmp_path / "labels"
    summary = run_export(w, qtbot, ExportChoice(whole_folder=True, out_dir=out, save_conf=True))
    assert summary.images == 5
    assert summary.written == 4
    assert [Path(p).name for p, _ in summary.failed] == ["img002_broken.jpg"]
    for name in ("img000", "img001", "img002", "img003"):
        assert (out / f"{name}.txt").read_text().splitlines() == [A_LINE + " 0.900000"], name
    assert not (out / "img002_broken.txt").exists()
    assert w.worker.model_calls - calls <= 4  # cached images are not run again
    assert "failed" in w.banner.text()


def test_export_default_folder_is_labels_beside_images(loaded):
    assert loaded.labels_dir() == loaded.paths[0].parent.parent / "labels"


def test_existing_files_are_skipped_or_backed_up(loaded, qtbot, tmp_path):
    w = loaded
    out = tmp_path / "out"
    out.mkdir()
    (out / "img000.txt").write_text("keep me\n")
    summary = run_export(w, qtbot, ExportChoice(whole_folder=False, out_dir=out, on_existing="skip"))
    assert summary.skipped == 1 and (out / "img000.txt").read_text() == "keep me\n"
    asked = []
    w.confirm_protected_export = lambda target, policy: asked.append(target) or policy  # "keep me" is not ours
    summary = run_export(w, qtbot, ExportChoice(whole_folder=False, out_dir=out, on_existing="backup"))
    assert summary.backed_up == 1 and [p.name for p in asked[0].existing] == ["img000.txt"]
    assert (out / "img000.txt").read_text().splitlines()[0] == A_LINE
    assert any("keep me" in p.read_text() for p in out.iterdir() if p.name != "img000.txt" and p.is_file())


def test_cancel_in_the_middle_of_a_folder_export(window, qtbot, tiny_model, tmp_path):
    from gui_test_data import make_images

    w = window
    folder = tmp_path / "many"
    make_images(folder, 60)
    w.open_folder(folder)
    w.open_model(tiny_model)
    qtbot.waitUntil(lambda: w.first_detections_shown, timeout=60000)
    qtbot.waitUntil(w.worker.is_idle, timeout=30000)

    def on_progress(_id, done, _total):
        if done == 5:
            w.cancel_export()

    w.worker.exportProgress.connect(on_progress)
    out = tmp_path / "out"
    summary = run_export(w, qtbot, ExportChoice(whole_folder=True, out_dir=out))
    assert summary.cancelled
    assert 5 <= summary.images < 60
    files = sorted(p for p in out.iterdir() if p.suffix == ".txt" and p.name != "classes.txt")
    assert len(files) == summary.written
    for f in files:  # every written file is complete
        assert f.read_text().splitlines() == [A_LINE, B_LINE, C_LINE], f
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    assert "cancelled" in w.banner.text()
    assert w.export_controller.progress_dialog is None  # the progress dialog is gone


def test_export_dialog_returns_the_choice(qtbot, tmp_path):
    from gui.export_dialog import ExportDialog

    dialog = ExportDialog(ExportChoice(whole_folder=True, out_dir=tmp_path / "labels"), "a.png", 10)
    qtbot.addWidget(dialog)
    dialog.current_radio.setChecked(True)
    dialog.conf_box.setChecked(True)
    dialog.existing_combo.setCurrentIndex(dialog.existing_combo.findData("backup"))
    choice = dialog.choice()
    assert choice == ExportChoice(False, tmp_path / "labels", True, True, True, "backup")


def test_ctrl_s_uses_the_remembered_options(loaded, qtbot, tmp_path):
    from PySide6.QtCore import Qt

    w = loaded
    out = tmp_path / "remembered"
    run_export(w, qtbot, ExportChoice(whole_folder=False, out_dir=out, save_conf=True, on_existing="overwrite"))
    w.next_image()
    qtbot.waitUntil(lambda: len(w.detections) == 3, timeout=30000)
    w.last_export_summary = None
    qtbot.keyClick(w, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: w.last_export_summary is not None, timeout=30000)
    assert (out / "img001.txt").read_text().splitlines()[0] == A_LINE + " 0.900000"
    from gui.image_list import STATE_EXPORTED

    assert w.image_list.model.state(1) == STATE_EXPORTED
