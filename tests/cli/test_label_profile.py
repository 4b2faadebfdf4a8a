"""`label --thresholds`: the profile's conf, iou, per-class conf (and agnostic / max_det) apply;
flags typed on the command line win; the run says where each value came from and the manifest
records what was used."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import model_factory as mf
from test_label_cmd import expected_lines, label, model  # noqa: F401  (model: test_label_cmd's tiny-model fixture)


@pytest.fixture
def images(tmp_path) -> Path:
    from test_label_cmd import img

    img(tmp_path / "images" / "x.jpg")
    return tmp_path / "images"


def profile(tmp_path, **data) -> Path:
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data))
    return path


def classes_of(out: Path) -> list[str]:
    return [ln.split()[0] for ln in (out / "x.txt").read_text().splitlines()]


def test_the_profile_conf_iou_and_class_conf_apply(model, images, tmp_path, capsys):
    prof = profile(tmp_path, conf=0.7, iou=0.6, class_conf={"bird": 0.3})
    out = tmp_path / "labels"
    assert label(model, images, out, "--thresholds", str(prof)) == 0
    assert classes_of(out) == ["0", "2"]  # dog 0.6 under the profile's 0.7; bird over its 0.3
    assert "thresholds: conf 0.7 (profile), iou 0.6 (profile), class_conf bird 0.3 (profile)" in capsys.readouterr().out
    manifest = json.loads((out / "scriptlens_manifest.json").read_text())
    assert manifest["thresholds"]["conf"] == 0.7 and manifest["thresholds"]["iou"] == 0.6
    assert manifest["thresholds"]["class_conf"] == {"bird": 0.3}
    assert manifest["thresholds_profile"] == str(prof)


def test_flags_on_the_command_line_win(model, images, tmp_path, capsys):
    prof = profile(tmp_path, conf=0.7, iou=0.6, max_det=1, class_conf={"bird": 0.3})
    out = tmp_path / "labels"
    # --conf 0.25 is the default value, typed: it still wins over the profile's 0.7
    assert label(model, images, out, "--thresholds", str(prof), "--conf", "0.25", "--max-det", "2") == 0
    assert classes_of(out) == ["0", "1"]  # conf 0.25 keeps dog; at most 2 boxes
    line = capsys.readouterr().out
    assert "conf 0.25 (--conf), iou 0.6 (profile), max-det 2 (--max-det), class_conf bird 0.3 (profile)" in line
    manifest = json.loads((out / "scriptlens_manifest.json").read_text())
    assert (manifest["thresholds"]["conf"], manifest["thresholds"]["max_det"]) == (0.25, 2)


def test_profile_max_det_and_agnostic_apply(model, images, tmp_path, capsys):
    out = tmp_path / "labels"
    assert label(model, images, out, "--thresholds", str(profile(tmp_path, max_det=1, agnostic=True))) == 0
    assert classes_of(out) == ["0"]
    assert "max-det 1 (profile), agnostic on (profile)" in capsys.readouterr().out
    assert json.loads((out / "scriptlens_manifest.json").read_text())["nms"] == "agnostic"


def test_without_a_profile_the_defaults_are_named(model, images, tmp_path, capsys):
    out = tmp_path / "labels"
    assert label(model, images, out, "--iou", "0.5") == 0
    assert "thresholds: conf 0.25 (default), iou 0.5 (--iou)" in capsys.readouterr().out
    assert (out / "x.txt").read_text().splitlines() == expected_lines(320, 320)


def test_profile_class_names_match_like_classes(model, images, tmp_path):
    out = tmp_path / "labels"
    assert label(model, images, out, "--thresholds", str(profile(tmp_path, class_conf={"DOG": 0.7}))) == 0
    assert classes_of(out) == ["0", "2"]


@pytest.mark.parametrize("data, words", [({"conf": True}, "conf must be a number in [0, 1], got true"),
                                         ({"class_conf": {"dog": False}}, "got false")])
def test_a_bad_profile_exits_2_before_the_model_loads(images, tmp_path, capsys, data, words):
    not_a_model = mf.text_file(tmp_path / "best.pt")  # loading it would exit 3
    assert label(not_a_model, images, tmp_path / "l", "--thresholds", str(profile(tmp_path, **data))) == 2
    assert words in capsys.readouterr().err
