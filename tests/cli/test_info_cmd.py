"""`scriptlens info` end to end, in-process."""

from __future__ import annotations

import json

import pytest

import model_factory as mf
from cli.main import main

BOXES = [(100.0, 100.0, 50.0, 40.0, 0, 0.9)]


def info(*args):
    return main(["info", *map(str, args), "--device", "cpu"])


def test_table_with_sources(tmp_path, capsys):
    m = mf.anchor_free(tmp_path / "m.torchscript", BOXES, names=["cat", "dog", "bird"])
    assert info(m) == 0
    out = capsys.readouterr().out
    assert "anchor_free" in out and "320x320 (HxW)" in out
    assert "3: cat, dog, bird" in out and "[metadata]" in out
    assert "1x7x2100" in out


def test_json(tmp_path, capsys):
    m = mf.end2end(tmp_path / "e.torchscript", [(1, 2, 3, 4, 0.9, 0)], names=("a", "b"))
    assert info(m, "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["layout"] == "end2end" and data["input_hw"] == [320, 320] and data["names"] == ["a", "b"]
    assert data["output_shapes"] == [[1, 300, 6]] and data["metadata"]["end2end"] is True
    assert data["sources"]["names"] == "metadata" and data["device"] == "cpu"


@pytest.mark.parametrize("units", [True, False])
def test_half_reports_what_the_cpu_runs(tmp_path, capsys, caplog, monkeypatch, units):
    from engine import backend

    monkeypatch.setattr(backend, "has_bf16_units", lambda: units)
    m = mf.anchor_free(tmp_path / "m.torchscript", BOXES)
    assert info(m, "--half", "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["half"], data["precision"]) == ((True, "bf16") if units else (False, "fp32"))
    assert info(m, "--half") == 0
    assert ("cpu (bf16)" if units else "cpu (fp32)") in capsys.readouterr().out
    assert ("AVX-512 BF16 or AMX" in caplog.text) is not units  # the refusal is said, not silent


def test_80_classes_lists_all(tmp_path, capsys):
    m = mf.anchor_free(tmp_path / "coco.pt", BOXES, nc=80, meta=None)
    assert info(m) == 0
    out = capsys.readouterr().out
    assert "all classes:" in out and "toothbrush" in out and "probed" in out and "default (COCO)" in out


def test_raw_heads_shows_anchors(tmp_path, capsys):
    m = mf.raw_heads(tmp_path / "rh.pt", [], hw=(256, 320))
    assert info(m, "--imgsz", "256x320") == 0
    out = capsys.readouterr().out
    assert "raw_anchor_heads" in out and "256x320" in out and "10,13,16,30,33,23" in out and "[user]" in out


def test_names_file_override(tmp_path, capsys):
    m = mf.anchor_free(tmp_path / "m.pt", BOXES)
    names = tmp_path / "n.txt"
    names.write_text("x\ny\nz\n")
    assert main(["info", str(m), "--names", str(names), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["names"] == ["x", "y", "z"]


@pytest.mark.parametrize("builder", [mf.state_dict_file, mf.random_zip, mf.unsupported_tensor_model])
def test_bad_models_exit_3(tmp_path, capsys, builder):
    assert info(builder(tmp_path / "bad.pt")) == 3
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err and "Traceback" not in err


def test_missing_model_exit_3(tmp_path, capsys):
    assert info(tmp_path / "nope.pt") == 3
    assert "not found" in capsys.readouterr().err


@pytest.mark.parametrize("what", ["folder", "missing"])
def test_bad_names_file_is_one_line_error(tmp_path, capsys, what):
    m = mf.anchor_free(tmp_path / "m.pt", BOXES)
    target = tmp_path if what == "folder" else tmp_path / "nope.txt"
    assert main(["info", str(m), "--names", str(target)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err
