"""engine.training_layout: where Ultralytics looks for labels, and the data.yaml we write."""

from __future__ import annotations

from pathlib import Path

import yaml

from engine.training_layout import (TrainingLayout, data_yaml_text, not_trainable_reason, training_layout,
                                    ultralytics_label_path)


def test_ultralytics_pairs_by_the_last_images_folder():
    assert ultralytics_label_path(Path("/d/images/train/a.b.jpg")) == Path("/d/labels/train/a.b.txt")
    assert ultralytics_label_path(Path("/images/x/images/y.png")) == Path("/images/x/labels/y.txt")
    assert ultralytics_label_path(Path("/d/pics/y.png")) is None


def test_the_labels_twin_of_an_images_folder_is_a_training_layout(tmp_path):
    images = tmp_path / "ds" / "images" / "train"
    assert training_layout(images, tmp_path / "ds" / "labels" / "train") == TrainingLayout(tmp_path.resolve() / "ds", "images/train")
    assert training_layout(tmp_path / "ds" / "images", tmp_path / "ds" / "labels") == TrainingLayout(tmp_path.resolve() / "ds", "images")
    assert training_layout(images, tmp_path / "ds" / "labels") is None  # labels/a.txt, not labels/train/a.txt
    assert training_layout(images, images / "labels") is None
    assert training_layout(tmp_path / "pics", tmp_path / "labels") is None
    # an image in a deeper images/ folder is paired with a labels/ folder there, not here
    deeper = [images / "a.jpg", images / "sub" / "images" / "b.jpg"]
    assert training_layout(images, tmp_path / "ds" / "labels" / "train", deeper) is None
    assert training_layout(images, tmp_path / "ds" / "labels" / "train", deeper[:1]) is not None


def test_data_yaml_holds_what_ultralytics_requires(tmp_path):
    text = data_yaml_text(["cat", "dog: big"], TrainingLayout(tmp_path / "d s", "images/train"))
    data = yaml.safe_load(text)
    assert data == {"path": str(tmp_path / "d s"), "train": "images/train", "val": "images/train", "nc": 2,
                    "names": {0: "cat", 1: "dog: big"}}
    assert "path" not in yaml.safe_load(data_yaml_text(["a"], TrainingLayout(tmp_path, "images"), relocatable=True))
    names_only = data_yaml_text(["a"], None, why_not="because")
    assert yaml.safe_load(names_only) == {"nc": 1, "names": {0: "a"}} and "because" in names_only


def test_the_reason_names_the_folder_ultralytics_reads(tmp_path):
    reason = not_trainable_reason(tmp_path / "ds" / "images")
    assert str((tmp_path / "ds" / "labels").resolve()) in reason and "--dataset DIR" in reason
    assert "not in a folder named images" in not_trainable_reason(tmp_path / "pics")
