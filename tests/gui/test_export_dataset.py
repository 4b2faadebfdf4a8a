"""The export dialog's dataset and sidecar options, and the window's dataset export (the same
engine path as `label --dataset`: same bytes)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import degenerate_rows as dr  # noqa: E402
from cli.main import main  # noqa: E402
from gui.export_dialog import ExportChoice, ExportDialog  # noqa: E402


def test_dialog_returns_the_dataset_and_sidecar_choices(qtbot, tmp_path):
    dialog = ExportDialog(ExportChoice(whole_folder=True, out_dir=tmp_path / "ds"), "a.png", 10)
    qtbot.addWidget(dialog)
    assert not dialog.dataset_images_combo.isEnabled()
    dialog.dataset_box.setChecked(True)
    assert dialog.dataset_images_combo.isEnabled()
    dialog.dataset_images_combo.setCurrentIndex(dialog.dataset_images_combo.findData("copy"))
    dialog.sidecar_box.setChecked(True)
    assert "not for training" in dialog.conf_box.text()
    assert dialog.choice() == ExportChoice(True, tmp_path / "ds", conf_sidecar=True, dataset=True, dataset_images="copy")


def test_window_lays_out_the_dataset_label_does(window, qtbot, tmp_path):
    model = dr.build_model(tmp_path / "e2e.torchscript")
    images = tmp_path / "pics"
    dr.make_images(images, 2)
    window.open_folder(images)
    window.open_model(model)
    qtbot.waitUntil(lambda: window.first_detections_shown, timeout=60000)
    ds = tmp_path / "gui_ds"
    window.last_export_summary = None
    assert window.export(ExportChoice(whole_folder=True, out_dir=ds, dataset=True, conf_sidecar=True)) is not None
    qtbot.waitUntil(lambda: window.last_export_summary is not None, timeout=60000)
    assert window.last_export_summary.trainable
    assert f"yolo train data={ds / 'data.yaml'}" in window.banner.text()
    assert (ds / "images" / "wide0.jpg").is_symlink()
    assert json.loads((ds / "labels" / "scriptlens_confidences.json").read_text())["labels"]["wide1.txt"]
    cli_ds = tmp_path / "cli_ds"
    assert main(["label", "--model", str(model), "--images", str(images), "--device", "cpu", "--dataset", str(cli_ds),
                 "--conf-sidecar"]) == 0
    for rel in ("labels/wide0.txt", "labels/wide1.txt", "labels/scriptlens_confidences.json", "labels/classes.txt",
                "data.yaml"):
        assert (ds / rel).read_bytes() == (cli_ds / rel).read_bytes(), rel
    assert yaml.safe_load((ds / "data.yaml").read_text())["train"] == "images"


def test_window_refuses_a_dataset_folder_a_person_filled(loaded, tmp_path):
    ds = tmp_path / "mine"
    ds.mkdir()
    (ds / "notes.txt").write_text("mine\n")
    assert loaded.export(ExportChoice(whole_folder=True, out_dir=ds, dataset=True)) is None
    assert "Cannot lay out a dataset" in loaded.banner.text()
    assert sorted(p.name for p in ds.iterdir()) == ["notes.txt"]
