"""`--images` takes a folder or one image file (label and eval); a missing path says "not
found", a file that is not an image says what it is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import model_factory as mf
from cli.main import main
from test_label_cmd import BOXES, NAMES, expected_lines, img


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return mf.anchor_free(tmp_path_factory.mktemp("m") / "tiny.torchscript", BOXES, names=NAMES)


def test_label_one_image_file(model, tmp_path, capsys):
    one = img(tmp_path / "images" / "one.jpg")
    img(tmp_path / "images" / "other.jpg")  # beside it, not asked for
    out = tmp_path / "labels"
    assert main(["label", "--model", str(model), "--images", str(one), "--out", str(out), "--device", "cpu"]) == 0
    assert (out / "one.txt").read_text().splitlines() == expected_lines(320, 320)
    assert not (out / "other.txt").exists()
    assert (out / "classes.txt").is_file()
    assert any(line.startswith("1 images") for line in capsys.readouterr().out.splitlines())


def test_eval_one_image_file(model, tmp_path):
    one = img(tmp_path / "images" / "one.png")
    img(tmp_path / "images" / "other.png")
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "one.txt").write_text("0 0.312500 0.312500 0.156250 0.125000\n")  # the cat box
    report = tmp_path / "r.json"
    assert main(["eval", "--model", str(model), "--images", str(one), "--labels", str(tmp_path / "labels"),
                 "--device", "cpu", "--json", str(report)]) == 0
    result = json.loads(report.read_text())
    assert result["images"] == 1 and result["all"]["tp"] == 1


@pytest.mark.parametrize("command", ["label", "eval"])
def test_missing_path_and_non_image_file(model, tmp_path, capsys, command):
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    where = ["--out", str(tmp_path / "l")] if command == "label" else ["--labels", str(tmp_path)]
    for images in (tmp_path / "nope.jpg", notes):
        assert main([command, "--model", str(model), "--images", str(images), *where, "--device", "cpu"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"error: --images not found: {tmp_path / 'nope.jpg'}"
    assert err[1].startswith(f"error: --images {notes} is a .txt file, not an image")
    assert len(err) == 2


def test_help_says_a_file_is_accepted(capsys):
    with pytest.raises(SystemExit):
        main(["label", "--help"])
    assert "one image file" in capsys.readouterr().out
