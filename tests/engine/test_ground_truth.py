"""Where ground truth is found, and how a ScriptLens export is told apart from human labels."""

import json

import pytest

from engine.ground_truth import find_ground_truth
from engine.manifest import MANIFEST_NAME


def _touch_images(folder, *names):
    out = []
    for n in names:
        p = folder / n
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
        out.append(p)
    return out


def test_labels_beside_images_folder(tmp_path):
    imgs = _touch_images(tmp_path / "images", "a/1.jpg", "b/1.jpg")
    (tmp_path / "labels" / "b").mkdir(parents=True)
    (tmp_path / "labels" / "b" / "1.txt").write_text("0 0.5 0.5 0.5 0.5\n")
    src = find_ground_truth(tmp_path / "images", imgs)
    assert src is not None and src.labels_root == tmp_path / "labels" and not src.from_export
    assert src.load(imgs[0], (100, 100)) is None  # a/1.jpg has no labels: same name, other folder
    gt = src.load(imgs[1], (100, 100))
    assert len(gt) == 1 and gt.xyxy[0].tolist() == pytest.approx([25, 25, 75, 75])


def test_txt_beside_image_and_empty_file(tmp_path):
    imgs = _touch_images(tmp_path, "x.png")
    (tmp_path / "x.txt").write_text("")
    src = find_ground_truth(tmp_path, imgs)
    assert src is not None and src.labels_root is None
    assert len(src.load(imgs[0], (10, 10))) == 0  # an empty file is a labelled negative


def test_export_folder_is_flagged(tmp_path):
    imgs = _touch_images(tmp_path / "images", "1.jpg")
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "1.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    (tmp_path / "labels" / MANIFEST_NAME).write_text(json.dumps({"tool": "scriptlens"}))
    src = find_ground_truth(tmp_path / "images", imgs)
    assert src.from_export and "predictions" in src.describe()


def test_none_when_no_labels(tmp_path):
    imgs = _touch_images(tmp_path, "1.jpg")
    assert find_ground_truth(tmp_path, imgs) is None


def test_malformed_label_names_the_file(tmp_path):
    imgs = _touch_images(tmp_path, "1.jpg")
    (tmp_path / "1.txt").write_text("0 0.5 oops 0.1 0.1\n")
    src = find_ground_truth(tmp_path, imgs)
    with pytest.raises(ValueError, match="1.txt:1"):
        src.load(imgs[0], (10, 10))
