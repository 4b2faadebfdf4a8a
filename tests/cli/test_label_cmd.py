"""`scriptlens label` end to end, in-process through cli.main.main (plus one real console-script run)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

import model_factory as mf
from cli.main import main

NAMES = ["cat", "dog", "bird"]
# (cx, cy, w, h, class, score) in 320x320 input pixels
BOXES = [(100.0, 100.0, 50.0, 40.0, 0, 0.9), (200.0, 200.0, 60.0, 60.0, 1, 0.6), (250.0, 80.0, 30.0, 30.0, 2, 0.35)]


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return mf.anchor_free(tmp_path_factory.mktemp("m") / "tiny.torchscript", BOXES, names=NAMES)


def img(path: Path, h=320, w=320):
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.full((h, w, 3), 90, np.uint8))
    return path


@pytest.fixture
def images(tmp_path) -> Path:
    root = tmp_path / "ds" / "images"
    img(root / "a" / "same.png")
    img(root / "b" / "same.png")
    img(root / "wide.jpg", 320, 640)
    return root


def expected_lines(w, h, boxes=BOXES, conf=0.25, classes=None, save_conf=False):
    """YOLO lines computed from the model's known output: letterbox by hand, map back, clip, normalise."""
    r = min(320 / h, 320 / w)
    nw, nh = round(w * r), round(h * r)
    left, top = round((320 - nw) / 2 - 0.1), round((320 - nh) / 2 - 0.1)
    sx, sy = nw / w, nh / h  # ultralytics convention (anchor-free model)
    out = []
    for cx, cy, bw, bh, cls, s in sorted(boxes, key=lambda b: -b[5]):
        if s <= conf or (classes is not None and cls not in classes):
            continue
        x1, x2 = [min(max((v - left) / sx, 0), w) for v in (cx - bw / 2, cx + bw / 2)]
        y1, y2 = [min(max((v - top) / sy, 0), h) for v in (cy - bh / 2, cy + bh / 2)]
        line = f"{cls} {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} {(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}"
        out.append(line + (f" {s:.6f}" if save_conf else ""))
    return out


def label(model, images, out, *extra):
    return main(["label", "--model", str(model), "--images", str(images), "--out", str(out), "--device", "cpu", *extra])


def test_labels_classes_and_data_yaml(model, images, tmp_path, capsys):
    out = tmp_path / "labels"
    assert label(model, images, out) == 0
    assert (out / "a" / "same.txt").read_text().splitlines() == expected_lines(320, 320)
    assert (out / "b" / "same.txt").read_text().splitlines() == expected_lines(320, 320)
    assert (out / "wide.txt").read_text().splitlines() == expected_lines(640, 320)
    assert (out / "classes.txt").read_text() == "cat\ndog\nbird\n"
    import yaml

    assert yaml.safe_load((out / "data.yaml").read_text()) == {"nc": 3, "names": {0: "cat", 1: "dog", 2: "bird"}}
    summary = capsys.readouterr().out
    assert "3 images" in summary and "9 detections" in summary and "0 failed" in summary


def test_conf_save_conf_and_no_empty(model, images, tmp_path):
    out = tmp_path / "labels"
    assert label(model, images, out, "--conf", "0.5", "--save-conf") == 0
    assert (out / "wide.txt").read_text().splitlines() == expected_lines(640, 320, conf=0.5, save_conf=True)
    out2 = tmp_path / "l2"
    assert label(model, images, out2, "--conf", "0.95", "--no-empty") == 0
    assert list(out2.rglob("*.txt")) == []  # no labels, and so no classes.txt either
    out3 = tmp_path / "l3"
    assert label(model, images, out3, "--conf", "0.95") == 0
    assert (out3 / "wide.txt").read_text() == ""  # empty file marks a negative


@pytest.mark.parametrize("spec, keep", [(["1"], {1}), (["dog"], {1}), (["cat", "2"], {0, 2}), (["0,BIRD"], {0, 2})])
def test_classes_by_id_and_name(model, images, tmp_path, spec, keep):
    out = tmp_path / "labels"
    assert label(model, images, out, "--classes", *spec) == 0
    assert (out / "a" / "same.txt").read_text().splitlines() == expected_lines(320, 320, classes=keep)


def test_unknown_class_is_one_line_error(model, images, tmp_path, capsys):
    assert label(model, images, tmp_path / "l", "--classes", "zebra") == 2  # usage
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "zebra" in err and "cat, dog, bird" in err and "\n" not in err


def test_json_output(model, images, tmp_path):
    js = tmp_path / "d.json"
    assert label(model, images, tmp_path / "l", "--json", str(js), "--conf", "0.3") == 0
    data = json.loads(js.read_text())
    assert data["names"] == NAMES and data["settings"]["conf"] == 0.3 and data["settings"]["imgsz"] == [320, 320]
    assert set(data["detections"]) == {"a/same.png", "b/same.png", "wide.jpg"}
    rows = data["detections"]["a/same.png"]
    assert [(r["class_id"], r["class_name"]) for r in rows] == [(0, "cat"), (1, "dog"), (2, "bird")]
    assert rows[0]["xyxy"] == [75.0, 80.0, 125.0, 120.0] and rows[0]["conf"] == pytest.approx(0.9, abs=1e-6)
    wide = data["detections"]["wide.jpg"][0]["xyxy"]
    # 640x320 image: gain 0.5, 80 px top pad -> (x*2, (y-80)*2): x 75..125, y 80..120
    assert wide == pytest.approx([150.0, 0.0, 250.0, 80.0], abs=1e-3)


def test_on_existing_policies(model, images, tmp_path, capsys):
    out = tmp_path / "labels"
    target = out / "wide.txt"
    target.parent.mkdir(parents=True)
    target.write_text("9 0.5 0.5 0.1 0.1\n")
    assert label(model, images, out) == 0  # default: skip
    assert target.read_text() == "9 0.5 0.5 0.1 0.1\n"
    assert "1 skipped" in capsys.readouterr().out
    assert label(model, images, out, "--on-existing", "backup") == 0
    assert (out / "wide.txt.bak").read_text() == "9 0.5 0.5 0.1 0.1\n"
    assert target.read_text().splitlines() == expected_lines(640, 320)
    target.write_text("8 0.5 0.5 0.1 0.1\n")
    assert label(model, images, out, "--on-existing", "backup") == 0
    assert (out / "wide.txt.bak").read_text() == "9 0.5 0.5 0.1 0.1\n"  # older backup kept
    assert (out / "wide.txt.bak1").read_text() == "8 0.5 0.5 0.1 0.1\n"
    before = sorted(p.name for p in out.rglob("*"))
    assert label(model, images, out, "--on-existing", "backup") == 0  # identical re-export: no new backups
    assert sorted(p.name for p in out.rglob("*")) == before
    target.write_text("7\n")
    # the folder held a label file no ScriptLens run wrote: overwrite needs --force (engine.label_guard)
    assert label(model, images, out, "--on-existing", "overwrite", "--force") == 0
    assert target.read_text().splitlines() == expected_lines(640, 320)
    assert not (out / "wide.txt.bak2").exists()


def test_corrupt_image_reported_and_skipped(model, images, tmp_path, capsys):
    (images / "a" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 definitely not a whole jpeg")
    out = tmp_path / "labels"
    assert label(model, images, out) == 0
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if "broken.jpg" in ln]
    assert len(lines) == 1 and lines[0].startswith("skipped")
    assert "Traceback" not in err
    assert not (out / "a" / "broken.txt").exists()
    assert (out / "a" / "same.txt").exists() and (out / "wide.txt").exists()


def test_exit_1_when_nothing_processed(model, tmp_path, capsys):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.jpg").write_bytes(b"nope")
    (bad / "y.png").write_bytes(b"")
    assert label(model, bad, tmp_path / "l") == 1
    empty = tmp_path / "empty"
    empty.mkdir()
    assert label(model, empty, tmp_path / "l") == 1
    assert label(model, tmp_path / "missing", tmp_path / "l") == 1
    err = capsys.readouterr().err
    assert "no images" in err and "not found" in err and "Traceback" not in err


@pytest.mark.parametrize("builder", [mf.training_checkpoint, mf.text_file, mf.empty_file])
def test_exit_3_for_non_torchscript(builder, images, tmp_path, capsys):
    bad = builder(tmp_path / "best.pt")
    assert label(bad, images, tmp_path / "l") == 3
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err and "Traceback" not in err
    assert not (tmp_path / "l").exists()


def test_exit_3_for_wrong_imgsz(model, images, tmp_path, capsys):
    assert label(model, images, tmp_path / "l", "--imgsz", "256x320") == 3
    assert "--imgsz" in capsys.readouterr().err


def test_thresholds_profile_round_trip(model, images, tmp_path):
    from engine.profile import load_profile, save_profile

    prof = tmp_path / "p.json"
    save_profile(prof, NAMES, {1: 0.7, 2: 0.3}, conf=0.25, iou=0.45)
    assert json.loads(prof.read_text())["class_conf"] == {"dog": 0.7, "bird": 0.3}
    assert load_profile(prof, NAMES) == {1: 0.7, 2: 0.3}
    out = tmp_path / "labels"
    assert label(model, images, out, "--thresholds", str(prof)) == 0
    # dog (0.6) is under its 0.7 threshold; bird (0.35) passes its 0.3
    assert [ln.split()[0] for ln in (out / "a" / "same.txt").read_text().splitlines()] == ["0", "2"]


def test_profile_for_another_model_is_rejected(model, images, tmp_path, capsys):
    prof = tmp_path / "p.json"
    prof.write_text(json.dumps({"class_conf": {"zebra": 0.5}}))
    assert label(model, images, tmp_path / "l", "--thresholds", str(prof)) == 2  # usage
    assert "zebra" in capsys.readouterr().err


def test_bad_usage_exit_2(model, images, tmp_path):
    with pytest.raises(SystemExit) as e:
        label(model, images, tmp_path / "l", "--conf", "1.5")
    assert e.value.code == 2


def test_console_script_subprocess(images, tmp_path):
    exe = shutil.which("scriptlens")
    if exe is None:
        pytest.skip("scriptlens console script not on PATH")
    bad = mf.training_checkpoint(tmp_path / "last.pt")
    r = subprocess.run([exe, "label", "--model", str(bad), "--images", str(images), "--out", str(tmp_path / "l"), "--device", "cpu"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 3
    err = r.stderr.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1
    assert "training checkpoint" in err and "TorchScript" in err


def test_same_stem_images_reported(model, images, tmp_path, capsys):
    img(images / "wide.png", 320, 320)  # wide.jpg already exists: both map to wide.txt
    out = tmp_path / "labels"
    assert label(model, images, out) == 0
    err = capsys.readouterr().err
    assert len([ln for ln in err.splitlines() if "wide.png" in ln and "belongs to wide.jpg" in ln]) == 1
    # natural order puts wide.jpg first: its labels are the ones kept
    assert (out / "wide.txt").read_text().splitlines() == expected_lines(640, 320)


@pytest.mark.parametrize("spec", [["3"], [""], [","]])
def test_out_of_range_class_id_is_an_error_not_empty_labels(model, images, tmp_path, capsys, spec):
    out = tmp_path / "labels"
    assert label(model, images, out, "--classes", *spec) == 2  # usage
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:")
    assert ("0-2" in err) if spec == ["3"] else ("--classes" in err)
    assert "\n" not in err
    assert not out.exists()  # no file claims "no objects" on the strength of a typo
