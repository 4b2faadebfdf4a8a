"""`scriptlens label`: a data.yaml that trains where Ultralytics looks for labels, --dataset DIR
(links or copies), --conf-sidecar, and what --save-conf says. The real Ultralytics reads these
outputs in tests/roundtrip/."""

from __future__ import annotations

import json
import os

import pytest
import yaml

import degenerate_rows as dr
from cli.main import main
from engine.manifest import MANIFEST_NAME


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return dr.build_model(tmp_path_factory.mktemp("m") / "e2e.torchscript")


def label(model, images, *extra):
    return main(["label", "--model", str(model), "--images", str(images), "--device", "cpu", *extra])


def test_labels_twin_of_images_gets_a_training_data_yaml(model, tmp_path, capsys):
    images = tmp_path / "ds" / "images" / "train"
    dr.make_images(images, 2)
    out = tmp_path / "ds" / "labels" / "train"
    assert label(model, images, "--out", str(out)) == 0
    data = yaml.safe_load((out / "data.yaml").read_text())
    assert data["path"] == str((tmp_path / "ds").resolve())
    assert (data["train"], data["val"], data["nc"]) == ("images/train", "images/train", 3)
    assert data["names"] == dict(enumerate(dr.NAMES))
    assert f"data.yaml: train with: yolo train data={out / 'data.yaml'}" in capsys.readouterr().out


def test_elsewhere_the_summary_says_how_ultralytics_pairs_images_and_labels(model, tmp_path, capsys):
    images = tmp_path / "ds" / "images"
    dr.make_images(images, 1)
    out = tmp_path / "preds"
    assert label(model, images, "--out", str(out)) == 0
    said = capsys.readouterr().out
    assert "holds the class names only: Ultralytics will not find these labels" in said
    assert str((tmp_path / "ds" / "labels").resolve()) in said and "--dataset DIR" in said
    assert set(yaml.safe_load((out / "data.yaml").read_text())) == {"nc", "names"}


@pytest.mark.parametrize("mode", ["symlink", "copy"])
def test_dataset_lays_out_images_labels_and_data_yaml(model, tmp_path, capsys, mode):
    images = tmp_path / "pics"
    srcs = dr.make_images(images / "sub", 2)
    ds = tmp_path / "ds"
    assert label(model, images, "--dataset", str(ds), "--dataset-images", mode) == 0
    for src in srcs:
        placed = ds / "images" / "sub" / src.name
        assert placed.is_symlink() == (mode == "symlink") and placed.read_bytes() == src.read_bytes()
        assert (ds / "labels" / "sub" / src.with_suffix(".txt").name).read_text().splitlines() == dr.EXPECTED_LINES
    data = yaml.safe_load((ds / "data.yaml").read_text())
    assert data == {"train": "images", "val": "images", "nc": 3, "names": dict(enumerate(dr.NAMES))}
    assert not (ds / "labels" / "data.yaml").exists() and (ds / "labels" / MANIFEST_NAME).is_file()
    assert f"train with: yolo train data={ds / 'data.yaml'}" in capsys.readouterr().out
    # the same run again changes nothing; switching links to copies replaces the run's own files
    assert label(model, images, "--dataset", str(ds), "--dataset-images", "copy", "--on-existing", "overwrite") == 0
    assert not (ds / "images" / "sub" / srcs[0].name).is_symlink()


def test_dataset_never_goes_into_a_folder_a_person_filled(model, tmp_path, capsys):
    images = tmp_path / "pics"
    dr.make_images(images, 1)
    ds = tmp_path / "mine"
    ds.mkdir()
    (ds / "data.yaml").write_text("my own\n")
    assert label(model, images, "--dataset", str(ds)) == 2
    assert "not empty and no ScriptLens run laid out a dataset there" in capsys.readouterr().err
    assert (ds / "data.yaml").read_text() == "my own\n" and sorted(os.listdir(ds)) == ["data.yaml"]
    assert label(model, images, "--dataset", str(images / "ds")) == 2  # inside the images folder
    assert label(model, images, "--dataset", str(tmp_path / "d2"), "--out", str(tmp_path / "other")) == 2
    assert label(model, images) == 2  # neither --out nor --dataset


def test_conf_sidecar_keeps_labels_five_columns(model, tmp_path, capsys):
    images = tmp_path / "ds" / "images"
    dr.make_images(images / "a", 1)
    out = tmp_path / "ds" / "labels"
    assert label(model, images, "--out", str(out), "--conf-sidecar") == 0
    assert (out / "a" / "wide0.txt").read_text().splitlines() == dr.EXPECTED_LINES
    sidecar = json.loads((out / "scriptlens_confidences.json").read_text())
    assert sidecar["labels"] == {"a/wide0.txt": pytest.approx(dr.EXPECTED_CONFS)}
    assert "train with" in capsys.readouterr().out


def test_save_conf_says_the_files_are_for_review_and_its_data_yaml_does_not_train(model, tmp_path, capsys):
    images = tmp_path / "ds" / "images"
    dr.make_images(images, 1)
    out = tmp_path / "ds" / "labels"  # the twin: would train, but not with 6 columns
    assert label(model, images, "--out", str(out), "--save-conf") == 0
    said = capsys.readouterr().out
    assert "note: labels have a 6th column (confidence): for review only, Ultralytics refuses" in said
    assert "--conf-sidecar" in said and "train with" not in said
    assert set(yaml.safe_load((out / "data.yaml").read_text())) == {"nc", "names"}
