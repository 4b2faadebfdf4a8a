"""`scriptlens label` never replaces a person's labels without --force (issue 25, item 1)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

import model_factory as mf
from cli.main import main
from engine.label_guard import PRIOR_LABELS_KEY, assess_export_target, safe_default_export_dir
from engine.manifest import MANIFEST_NAME

HUMAN = "0 0.500000 0.500000 0.200000 0.200000\n"


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return mf.anchor_free(tmp_path_factory.mktemp("m") / "tiny.torchscript",
                          [(100.0, 100.0, 50.0, 40.0, 0, 0.9)], names=["cat"])


@pytest.fixture
def dataset(tmp_path) -> tuple[Path, Path]:
    images, labels = tmp_path / "ds" / "images", tmp_path / "ds" / "labels"
    images.mkdir(parents=True)
    labels.mkdir(parents=True)
    for name in ("a", "b"):
        assert cv2.imwrite(str(images / f"{name}.png"), np.full((320, 320, 3), 90, np.uint8))
        (labels / f"{name}.txt").write_text(HUMAN)
    return images, labels


def label(model, images, out, *extra):
    return main(["label", "--model", str(model), "--images", str(images), "--out", str(out), "--device", "cpu", *extra])


def test_overwrite_of_human_labels_needs_force(model, dataset, capsys):
    images, labels = dataset
    assert label(model, images, labels, "--on-existing", "overwrite") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--force" in err[0] and "no ScriptLens run wrote" in err[0] and "a.txt" in err[0]
    assert [(labels / f"{n}.txt").read_text() for n in "ab"] == [HUMAN, HUMAN]  # nothing touched
    assert not (labels / MANIFEST_NAME).exists()  # refused before the model ran

    assert label(model, images, labels, "--on-existing", "overwrite", "--force") == 0
    assert (labels / "a.txt").read_text() != HUMAN
    # the folder stays marked as holding someone's labels: a later overwrite still needs --force
    assert json.loads((labels / MANIFEST_NAME).read_text())[PRIOR_LABELS_KEY] is True
    (labels / "a.txt").write_text(HUMAN)
    assert label(model, images, labels, "--on-existing", "overwrite") == 2


def test_backup_keeps_human_labels_without_force(model, dataset, capsys):
    images, labels = dataset
    assert label(model, images, labels, "--on-existing", "backup") == 0
    assert (labels / "a.txt.bak").read_text() == HUMAN
    assert "will be kept as .bak" in capsys.readouterr().err


def test_overwrite_of_our_own_labels_needs_no_force(model, dataset, tmp_path):
    images, _ = dataset
    out = tmp_path / "pred"
    assert label(model, images, out) == 0
    (out / "a.txt").write_text("stale\n")
    assert label(model, images, out, "--on-existing", "overwrite") == 0
    assert (out / "a.txt").read_text() != "stale\n"


def test_out_is_a_file_fails_before_any_image(model, dataset, tmp_path, capsys):
    images, _ = dataset
    out = tmp_path / "file.txt"
    out.write_text("x")
    assert label(model, images, out) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: --out {out} is a file; give a folder for the label files"]


def test_default_export_folder_avoids_ground_truth_and_others_labels(dataset, tmp_path):
    images, labels = dataset
    assert safe_default_export_dir(images, ground_truth_root=labels) == labels.parent / "predictions"
    assert safe_default_export_dir(images) == labels.parent / "predictions"  # hand-made labels, no manifest
    fresh = tmp_path / "other" / "images"
    fresh.mkdir(parents=True)
    assert safe_default_export_dir(fresh) == fresh.parent / "labels"  # nothing there: the YOLO layout


def test_assess_names_what_would_be_replaced(dataset):
    images, labels = dataset
    target = assess_export_target(labels, sorted(images.glob("*.png")), images, ground_truth_root=labels)
    assert target.is_ground_truth and target.others_labels and target.protected
    assert [p.name for p in target.existing] == ["a.txt", "b.txt"] and target.new == 0
    assert target.needs_confirmation(replaces_existing=True)
    assert not target.needs_confirmation(replaces_existing=False)  # skip: nothing changes
    text = target.describe(replaces_existing=True)
    assert "ground truth" in text and "replace 2" in text and "a.txt" in text


def test_ground_truth_in_a_forced_folder_is_still_a_persons(model, dataset):
    """After `--force` into hand-made labels, the folder holds both: the panel must not call the
    remaining files predictions (engine.ground_truth uses the same manifest rule)."""
    from engine.ground_truth import find_ground_truth

    images, labels = dataset
    paths = sorted(images.glob("*.png"))
    assert not find_ground_truth(images, paths).from_export
    assert label(model, images, labels, "--on-existing", "overwrite", "--force") == 0
    assert not find_ground_truth(images, paths).from_export  # flagged: others' labels were there
    clean = labels.parent / "pred"
    assert label(model, images, clean) == 0
    assert find_ground_truth(images, paths, clean).from_export  # only our files: predictions
