"""`--backend auto|torchscript|onnxruntime` on label, eval and info (issue 21): the same label
files from ONNX Runtime as from TorchScript, the choice and its reason in `info`, the
conversion cached, and TorchScript with the reason for a model the exporter cannot convert.
Real models, the real exporter and onnxruntime; the cache lives in a temporary
SCRIPTLENS_CACHE_DIR."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch import nn

import model_factory as mf
from cli.main import main
from engine import onnx_cache
from engine.manifest import read_manifest

NAMES = ["cat", "dog", "bird"]
# (cx, cy, w, h, class, score) in 320x320 input pixels
BOXES = [(100.0, 100.0, 50.0, 40.0, 0, 0.9), (200.0, 200.0, 60.0, 60.0, 1, 0.6), (250.0, 80.0, 30.0, 30.0, 2, 0.35)]


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv(onnx_cache.ENV_CACHE_DIR, str(root))
    return root / "onnx"


@pytest.fixture
def model(tmp_path) -> Path:
    return mf.anchor_free(tmp_path / "tiny.torchscript", BOXES, names=NAMES)


@pytest.fixture
def images(tmp_path) -> Path:
    """Images of different sizes and colours (the mean-score model's score is the red mean)."""
    root = tmp_path / "ds" / "images"
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i, (h, w) in enumerate([(320, 320), (240, 400), (500, 300)]):
        assert cv2.imwrite(str(root / f"im{i}.png"), rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    return root


def label_files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*.txt"))}


def info_json(model: Path, *flags: str, capsys) -> dict:
    capsys.readouterr()
    assert main(["info", str(model), "--device", "cpu", "--json", *flags]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("factory", ["anchor_free", "mean_score"])
def test_label_on_onnxruntime_writes_the_same_files_as_torchscript(tmp_path, images, factory, capsys):
    path = (mf.anchor_free(tmp_path / "m.torchscript", BOXES, names=NAMES) if factory == "anchor_free"
            else mf.mean_score_model(tmp_path / "m.torchscript"))
    outs = {}
    for backend in ("torchscript", "onnxruntime"):
        out = tmp_path / f"labels-{backend}"
        capsys.readouterr()
        assert main(["label", "--model", str(path), "--images", str(images), "--out", str(out), "--device", "cpu",
                     "--conf", "0.01", "--save-conf", "--backend", backend]) == 0
        printed = capsys.readouterr().out
        lines = [ln for ln in printed.splitlines() if ln.startswith("backend:")]
        if backend == "torchscript":
            assert lines == []  # the default says nothing about the backend
        else:
            assert lines == [lines[0]] and lines[0].startswith("backend: onnxruntime (ONNX Runtime verified: ")
        manifest = read_manifest(out)
        assert manifest["backend"] == backend
        assert manifest["backend_reason"] == ("" if backend == "torchscript" else lines[0][len("backend: onnxruntime ("):-1])
        outs[backend] = label_files(out)
    assert len(outs["torchscript"]) == 4 and "classes.txt" in outs["torchscript"] and any(outs["torchscript"].values())
    if factory == "anchor_free":  # boxes and scores that do not depend on the pixels: byte-identical
        assert outs["onnxruntime"] == outs["torchscript"]
        return
    # The mean-score model's score is a mean over 320x320 float32 values: ONNX Runtime sums them
    # in another order, and the 6-decimal confidences differ by ~4e-5 (measured). Not
    # byte-identical then: the same files, the same boxes, the same classes, scores within 1e-3.
    assert outs["onnxruntime"].keys() == outs["torchscript"].keys()
    for name, ts_bytes in outs["torchscript"].items():
        ts_rows = [ln.split() for ln in ts_bytes.decode().splitlines()]
        ort_rows = [ln.split() for ln in outs["onnxruntime"][name].decode().splitlines()]
        if name == "classes.txt":
            assert ort_rows == ts_rows
            continue
        assert len(ort_rows) == len(ts_rows) >= 1
        for a, b in zip(ort_rows, ts_rows):
            assert a[0] == b[0]
            np.testing.assert_allclose(np.float64(a[1:]), np.float64(b[1:]), atol=1e-3)


def test_info_auto_chooses_verified_onnxruntime_and_converts_once(model, cache, capsys):
    data = info_json(model, "--backend", "auto", capsys=capsys)
    assert data["backend"] == "onnxruntime"
    assert data["backend_reason"].startswith("ONNX Runtime verified: ") and "verified" in data["backend_reason"]
    (onnx_file,) = cache.glob("*.onnx")
    mtime = onnx_file.stat().st_mtime_ns
    again = info_json(model, "--backend", "auto", capsys=capsys)  # from the cache, before torch is needed
    assert again["backend"] == "onnxruntime"
    assert again["backend_reason"] == data["backend_reason"]  # what a manifest records: the same on every run
    assert again["sources"]["backend"] == "cached conversion, opened without TorchScript" and "backend" not in data["sources"]
    assert list(cache.glob("*.onnx")) == [onnx_file] and onnx_file.stat().st_mtime_ns == mtime  # not converted again
    capsys.readouterr()
    assert main(["info", str(model), "--device", "cpu", "--backend", "auto"]) == 0
    table = capsys.readouterr().out
    assert any(ln.startswith("backend") and "onnxruntime" in ln and "[ONNX Runtime verified: " in ln
               for ln in table.splitlines())


def test_info_default_is_auto_and_torchscript_converts_nothing(model, cache, capsys):
    data = info_json(model, capsys=capsys)
    assert data["backend"] == "onnxruntime" and data["backend_reason"].startswith("ONNX Runtime verified: ")
    for entry in cache.iterdir():
        entry.unlink()
    data = info_json(model, "--backend", "torchscript", capsys=capsys)
    assert (data["backend"], data["backend_reason"]) == ("torchscript", "")
    assert not list(cache.glob("*.onnx"))


class _CumMax(nn.Module):
    """Anchor-free output through aten::cummax, which torch's ONNX exporter has no mapping for
    (as in tests/engine/test_onnx_backend.py)."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("out", mf.anchor_free_tensor(BOXES, 3))

    def forward(self, x):
        return self.out + torch.cummax(x.flatten(), 0)[0].max() * 0.0


def test_auto_falls_back_to_torchscript_with_the_reason_for_a_model_that_cannot_be_exported(tmp_path, images, capsys):
    path = tmp_path / "cummax.torchscript"
    torch.jit.save(torch.jit.trace(_CumMax().eval(), torch.zeros(1, 3, 320, 320), check_trace=False), str(path))
    data = info_json(path, "--backend", "auto", capsys=capsys)
    assert data["backend"] == "torchscript"
    assert data["backend_reason"].startswith("TorchScript: conversion failed: ") and "cummax" in data["backend_reason"]
    capsys.readouterr()
    out = tmp_path / "labels"
    assert main(["label", "--model", str(path), "--images", str(images), "--out", str(out), "--device", "cpu", "--backend", "auto"]) == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("backend:")]
    assert len(lines) == 1 and lines[0].startswith("backend: torchscript (TorchScript: conversion failed: ")
    assert "remembered" in lines[0]  # the second load did not try the exporter again


def test_eval_prints_the_backend_line(model, images, tmp_path, capsys):
    labels = tmp_path / "ds" / "labels"
    labels.mkdir(parents=True)
    for p in images.glob("*.png"):
        (labels / f"{p.stem}.txt").write_text("0 0.3 0.3 0.1 0.1\n")
    capsys.readouterr()
    rc = main(["eval", "--model", str(model), "--images", str(images), "--labels", str(labels), "--device", "cpu",
               "--backend", "onnxruntime"])
    assert rc == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("backend:")]
    assert len(lines) == 1 and lines[0].startswith("backend: onnxruntime (ONNX Runtime verified: ")


def test_backend_flag_rejects_an_unknown_value(model, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["info", str(model), "--backend", "tensorrt"])
    assert exc.value.code == 2
