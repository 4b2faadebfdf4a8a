"""Bad usage exits 2 (README "Exit status"), in one line naming the flag as typed, and before
the model runs where the mistake can be seen without it."""

from __future__ import annotations

from pathlib import Path

import pytest

import model_factory as mf
from cli.main import main
from test_label_cmd import img, model  # noqa: F401  (model: test_label_cmd's tiny-model fixture)


@pytest.fixture
def images(tmp_path) -> Path:
    img(tmp_path / "images" / "x.jpg")
    return tmp_path / "images"


def run_label(model, images, out, *extra) -> int:
    return main(["label", "--model", str(model), "--images", str(images), "--out", str(out), "--device", "cpu", *extra])


@pytest.mark.parametrize("command", ["label", "eval"])
def test_max_det_0_names_the_flag(model, images, tmp_path, capsys, command):
    where = ["--out", str(tmp_path / "l")] if command == "label" else ["--labels", str(tmp_path)]
    with pytest.raises(SystemExit) as e:
        main([command, "--model", str(model), "--images", str(images), *where, "--max-det", "0"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "--max-det must be at least 1" in err and "max_det" not in err


@pytest.mark.parametrize("spec", [["zebra"], ["7"], [","]])
def test_unknown_classes_exit_2(model, images, tmp_path, capsys, spec):
    assert run_label(model, images, tmp_path / "l", "--classes", *spec) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "l").exists()


@pytest.mark.parametrize("content", [None, "not json {", '{"class_conf": {"circle": "high"}}', '{"class_conf": {"zebra": 0.5}}'])
def test_bad_thresholds_file_exit_2(model, images, tmp_path, capsys, content):
    prof = tmp_path / "p.json"
    if content is not None:
        prof.write_text(content)
    assert run_label(model, images, tmp_path / "l", "--thresholds", str(prof)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and str(prof) in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "l").exists()


def test_classes_naming_nothing_is_refused_before_the_model_loads(images, tmp_path, capsys):
    not_a_model = mf.text_file(tmp_path / "best.pt")  # loading it would exit 3
    assert run_label(not_a_model, images, tmp_path / "l", "--classes", ",") == 2
    assert "--classes" in capsys.readouterr().err
