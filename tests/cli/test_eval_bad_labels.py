"""`scriptlens eval` on label folders with bad files: an unreadable label file (malformed line,
class id the model lacks) is listed and its image left out; x.jpg + x.png score only x.jpg.

The tiny model gives every image the same three boxes (cat 0.90, dog 0.60, bird 0.35), so each
image left out changes the totals by a known amount."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

import model_factory as mf
from cli.main import main

NAMES = ["cat", "dog", "bird"]
BOXES = [(100.0, 100.0, 50.0, 40.0, 0, 0.9), (200.0, 200.0, 60.0, 60.0, 1, 0.6), (250.0, 80.0, 30.0, 30.0, 2, 0.35)]
CAT = "0 0.312500 0.312500 0.156250 0.125000"  # the cat box exactly, in a 320x320 image
DOG = "1 0.625000 0.625000 0.187500 0.187500"
BIRD_ELSEWHERE = "2 0.150000 0.850000 0.100000 0.100000"


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return mf.anchor_free(tmp_path_factory.mktemp("m") / "tiny.torchscript", BOXES, names=NAMES)


def _image(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.full((320, 320, 3), 90, np.uint8))


def _dataset(root: Path, labels: dict[str, str | None], ext: str = ".png") -> tuple[Path, Path]:
    """images/<name><ext> for each name; labels/<name>.txt with the given text (None: no file)."""
    for name, text in labels.items():
        _image(root / "images" / f"{name}{ext}")
        if text is not None:
            (root / "labels").mkdir(parents=True, exist_ok=True)
            (root / "labels" / f"{name}.txt").write_text(text)
    (root / "labels").mkdir(parents=True, exist_ok=True)
    return root / "images", root / "labels"


def _eval(model: Path, images: Path, labels: Path) -> tuple[int, dict, str]:
    out = images.parent / "report.json"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["eval", "--model", str(model), "--images", str(images), "--labels", str(labels),
                   "--device", "cpu", "--json", str(out)])
    return rc, (json.loads(out.read_text()) if out.is_file() else {}), buf.getvalue()


GOOD = {"img1": f"{CAT}\n{BIRD_ELSEWHERE}\n", "img2": f"{CAT}\n{DOG}\n", "img5": None}
BAD = {"img3": f"{CAT}\n0 0.5 oops 0.1 0.1\n", "img4": f"{CAT}\n7 0.5 0.5 0.1 0.1\n"}


def test_unreadable_label_files_are_listed_and_their_images_left_out(model, tmp_path):
    images, labels = _dataset(tmp_path / "bad", {**GOOD, **BAD})
    rc, report, text = _eval(model, images, labels)
    assert rc == 0
    malformed, out_of_range = labels / "img3.txt", labels / "img4.txt"
    assert "2 label files could not be read; their images were left out of the metrics:" in text
    assert f"  {malformed}:2: not numbers" in text
    assert f"  {out_of_range}:2: class id 7 out of range (the model has 3 classes, 0..2)" in text
    assert report["unreadable"] == 2
    assert [(u["image"], u["file"]) for u in report["unreadable_labels"]] == [
        (str(images / "img3.png"), str(malformed)), (str(images / "img4.png"), str(out_of_range))]
    assert report["unreadable_labels"][0]["error"].startswith(f"{malformed}:2:")
    assert report["unlabelled"] == 1 and report["images"] == 3
    # exactly the metrics of the folder without those two images
    rc, clean, _ = _eval(model, *_dataset(tmp_path / "clean", GOOD))
    assert rc == 0
    assert report["all"] == clean["all"] and report["classes"] == clean["classes"]
    # by hand at 0.25: img1 TP 1 (cat) FP 2 missed 1; img2 TP 2 FP 1; img5 (negative) FP 3
    assert (report["all"]["tp"], report["all"]["fp"], report["all"]["fn"], report["all"]["gt"]) == (3, 6, 1, 4)


def test_long_lists_are_capped_in_the_summary_not_in_json(model, tmp_path):
    from cli.eval_cmd import REPORT_MAX

    bad = {f"bad{i:02d}": "0 0.5\n" for i in range(REPORT_MAX + 3)}
    rc, report, text = _eval(model, *_dataset(tmp_path, {**GOOD, **bad}))
    assert rc == 0 and report["unreadable"] == REPORT_MAX + 3 == len(report["unreadable_labels"])
    assert text.count(": expected 'class cx cy w h [conf]'") == REPORT_MAX
    assert "  ... and 3 more (all of them in --json)" in text


def test_only_unreadable_labels_is_an_error(model, tmp_path, capsys):
    images, labels = _dataset(tmp_path, BAD)
    rc = main(["eval", "--model", str(model), "--images", str(images), "--labels", str(labels), "--device", "cpu"])
    err = capsys.readouterr().err
    assert rc == 1 and "error: no image could be scored" in err and "img3.txt:2" in err


def test_jpg_and_png_of_one_name_score_only_the_first(model, tmp_path):
    images, labels = _dataset(tmp_path / "pair", {"x": f"{CAT}\n", "y": f"{DOG}\n"}, ext=".jpg")
    _image(images / "x.png")  # x.png -> x.txt as well: x.jpg's labels
    rc, report, text = _eval(model, images, labels)
    assert rc == 0 and report["images"] == 2
    assert "1 images share a label file with another image and were not scored:" in text
    line = next(ln for ln in text.splitlines() if "x.png" in ln)
    assert "x.jpg" in line and "x.txt" in line
    assert report["shared_label"] == 1
    assert report["shared_label_images"] == [{"image": str(images / "x.png"), "owner": str(images / "x.jpg"),
                                              "file": str(labels / "x.txt")}]
    (images / "x.png").unlink()
    rc, alone, _ = _eval(model, images, labels)
    assert rc == 0 and report["all"] == alone["all"] and report["classes"] == alone["classes"]


def test_crlf_and_bom_label_files_score_like_plain_ones(model, tmp_path):
    plain_images, plain_labels = _dataset(tmp_path / "plain", GOOD)
    windows = tmp_path / "windows"
    shutil.copytree(tmp_path / "plain", windows)
    for f in (windows / "labels").glob("*.txt"):
        f.write_bytes(b"\xef\xbb\xbf" + f.read_bytes().replace(b"\n", b"\r\n"))
    rc, a, _ = _eval(model, plain_images, plain_labels)
    rc2, b, _ = _eval(model, windows / "images", windows / "labels")
    assert rc == rc2 == 0 and b["unreadable"] == 0 and a["all"] == b["all"]
