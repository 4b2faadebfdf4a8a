"""`scriptlens label` on an end-to-end model that outputs zero-area, upside-down, sub-pixel and
duplicate rows: the label files never hold them; the summary, the manifest and --json count them;
--json keeps the model's raw rows."""

from __future__ import annotations

import json

import pytest

import degenerate_rows as dr
from cli.main import main


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return dr.build_model(tmp_path_factory.mktemp("m") / "e2e.torchscript")


def test_label_files_hold_no_degenerate_or_duplicate_rows(model, tmp_path, capsys):
    images = tmp_path / "ds" / "images"
    dr.make_images(images, 2)
    out, js = tmp_path / "ds" / "labels", tmp_path / "dets.json"
    assert main(["label", "--model", str(model), "--images", str(images), "--out", str(out), "--device", "cpu",
                 "--json", str(js)]) == 0
    for name in ("wide0.txt", "wide1.txt"):
        assert (out / name).read_text().splitlines() == dr.EXPECTED_LINES
    said = capsys.readouterr().out
    assert f"{2 * dr.DEGENERATE} zero-area boxes (under 1 px or upside down) and {2 * dr.DUPLICATES} duplicates not written" in said
    manifest = json.loads((out / "scriptlens_manifest.json").read_text())
    assert manifest["result"]["not_written"] == {"zero_area": 6, "duplicates": 2, "min_box_px": 1.0}
    payload = json.loads(js.read_text())
    assert payload["not_written"] == manifest["result"]["not_written"]
    assert len(payload["detections"]["wide0.jpg"]) == len(dr.ROWS)  # --json: the model's raw rows


def test_save_conf_keeps_the_confidence_of_the_rows_written(model, tmp_path):
    images = tmp_path / "images"
    dr.make_images(images, 1)
    out = tmp_path / "labels"
    assert main(["label", "--model", str(model), "--images", str(images), "--out", str(out), "--device", "cpu",
                 "--save-conf"]) == 0
    lines = (out / "wide0.txt").read_text().splitlines()
    assert [line.rsplit(" ", 1)[0] for line in lines] == dr.EXPECTED_LINES
    assert [float(line.rsplit(" ", 1)[1]) for line in lines] == pytest.approx(dr.EXPECTED_CONFS)
