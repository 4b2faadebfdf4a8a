"""Issue 24's round trip: the real Ultralytics (8.4.190, in its own venv) reads what `scriptlens
label`, the window's export and `--dataset` write, with the data.yaml they write, unedited:
0 corrupt files, no "duplicate labels removed", and a 1-epoch `train` that logs no warning.
The models output exactly the rows Ultralytics objects to (zero-area, upside-down and duplicate
boxes: tests/degenerate_rows.py), and the demo model runs at conf 0.001, where such rows appear.
A control shows the checker does object to them when they reach a label file."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

import degenerate_rows as dr
from cli.main import main

CHECK = Path(__file__).with_name("ultralytics_check.py")

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo"


@pytest.fixture(scope="module")
def e2e_model(tmp_path_factory):
    return dr.build_model(tmp_path_factory.mktemp("m") / "e2e.torchscript")


def assert_clean(result: dict, images: int, trained: bool = False) -> None:
    assert result["images"] == images and result["found"] == images
    assert (result["corrupt"], result["missing"]) == (0, 0)
    assert result["messages"] == []  # no corrupt row, no "duplicate labels removed"
    if trained:
        log = result["train"]["log"]
        assert not [line for line in log if "WARNING" in line or "corrupt" in line.lower() and " 0 corrupt" not in line]
        assert any("1 epochs completed" in line for line in log)


def test_label_output_trains_with_the_data_yaml_it_writes(e2e_model, tmp_path, ultralytics):
    images = tmp_path / "ds" / "images" / "train"
    dr.make_images(images, 6)
    out = tmp_path / "ds" / "labels" / "train"
    assert main(["label", "--model", str(e2e_model), "--images", str(images), "--out", str(out), "--device", "cpu",
                 "--conf-sidecar"]) == 0
    assert_clean(ultralytics(out / "data.yaml", train=True), 6, trained=True)


@pytest.mark.skipif(not (DEMO / "shapes.torchscript").is_file(), reason="demo not present")
def test_demo_at_conf_0001_passes_the_checker(tmp_path, ultralytics):
    images = tmp_path / "demo" / "images"
    shutil.copytree(DEMO / "images", images)
    out = tmp_path / "demo" / "labels"
    assert main(["label", "--model", str(DEMO / "shapes.torchscript"), "--images", str(images), "--out", str(out),
                 "--conf", "0.001"]) == 0
    assert_clean(ultralytics(out / "data.yaml"), len(list(images.iterdir())))


@pytest.mark.parametrize("mode", ["symlink", "copy"])
def test_dataset_output_trains(e2e_model, tmp_path, ultralytics, mode):
    images = tmp_path / "pics"
    dr.make_images(images / "a", 3)
    ds = tmp_path / "ds"
    assert main(["label", "--model", str(e2e_model), "--images", str(images), "--device", "cpu", "--dataset", str(ds),
                 "--dataset-images", mode]) == 0
    assert_clean(ultralytics(ds / "data.yaml", train=mode == "symlink"), 3, trained=mode == "symlink")


def test_window_exports_pass_the_checker(e2e_model, tmp_path, qtbot, ultralytics):
    from PySide6.QtCore import QSettings

    from gui.export_dialog import ExportChoice
    from gui.main_window import MainWindow
    from gui.settings import Settings

    images = tmp_path / "ds" / "images"
    dr.make_images(images, 4)
    w = MainWindow(Settings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)))
    qtbot.addWidget(w)
    try:
        w.show()
        w.open_folder(images)
        w.open_model(e2e_model)
        qtbot.waitUntil(lambda: w.first_detections_shown, timeout=60000)
        for choice in (ExportChoice(whole_folder=True, out_dir=tmp_path / "ds" / "labels"),
                       ExportChoice(whole_folder=True, out_dir=tmp_path / "gui_ds", dataset=True)):
            w.last_export_summary = None
            assert w.export(choice) is not None
            qtbot.waitUntil(lambda: w.last_export_summary is not None, timeout=60000)
            assert w.last_export_summary.trainable
    finally:
        w.close()
    assert_clean(ultralytics(tmp_path / "ds" / "labels" / "data.yaml"), 4)
    assert_clean(ultralytics(tmp_path / "gui_ds" / "data.yaml"), 4)


def test_control_the_checker_objects_to_what_we_leave_out(e2e_model, tmp_path, ultralytics):
    """Without this the tests above could pass on a checker that objects to nothing."""
    images = tmp_path / "ds" / "images"
    dr.make_images(images, 2)
    out = tmp_path / "ds" / "labels"
    assert main(["label", "--model", str(e2e_model), "--images", str(images), "--out", str(out), "--device", "cpu"]) == 0
    first = out / "wide0.txt"
    first.write_text(first.read_text() * 2)  # every row twice
    yaml_text = (out / "data.yaml").read_text()
    result = ultralytics(out / "data.yaml")
    assert result["corrupt"] == 0 and any("duplicate labels removed" in m for m in result["messages"])
    # --save-conf files: Ultralytics rejects them; our data.yaml for them refuses to train, loudly
    assert main(["label", "--model", str(e2e_model), "--images", str(images), "--out", str(out), "--device", "cpu",
                 "--save-conf", "--on-existing", "overwrite"]) == 0
    assert "train:" not in (out / "data.yaml").read_text()
    refused = subprocess.run([str(ultralytics.python), str(CHECK), str(out / "data.yaml")], capture_output=True,
                             encoding="utf-8", errors="replace", timeout=300, env=ultralytics.env, cwd=tmp_path)
    assert refused.returncode != 0 and "'train:' key missing" in refused.stdout + refused.stderr  # loud, not silent
    (out / "data.yaml").write_text(yaml_text)  # as a user would, with a training data.yaml
    result = ultralytics(out / "data.yaml")
    assert result["corrupt"] == 2 and all("6 columns detected" in m for m in result["messages"])
