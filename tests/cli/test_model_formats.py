"""ONNX files and torch.export programs open like TorchScript files (issue 21): `info`, `label`
and `eval` take names and input size from the file, write the same label files, and a
TorchScript model whose verified conversion is cached runs without importing torch.

The ONNX files are made the way Ultralytics' and YOLOv5's exporters make them (torch.onnx.export,
then ``metadata_props`` holding ``str()`` of each value: tests/model_factory.py's
`ultralytics_onnx_props`), not by those exporters themselves: Ultralytics cannot be installed
beside our torch (README, "Tests")."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

import model_factory as mf
from cli.main import main
from engine import onnx_cache

ROOT = Path(__file__).resolve().parents[2]
NAMES = ["cat", "dog", "bird"]
# (cx, cy, w, h, class, score) in 320x320 input pixels
BOXES = [(100.0, 100.0, 50.0, 40.0, 0, 0.9), (200.0, 200.0, 60.0, 60.0, 1, 0.6), (250.0, 80.0, 30.0, 30.0, 2, 0.35)]


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv(onnx_cache.ENV_CACHE_DIR, str(tmp_path / "cache"))
    return tmp_path / "cache" / "onnx"


@pytest.fixture
def images(tmp_path) -> Path:
    root = tmp_path / "images"
    root.mkdir()
    rng = np.random.default_rng(0)
    for i, (h, w) in enumerate([(320, 320), (240, 400), (500, 300)]):
        assert cv2.imwrite(str(root / f"im{i}.png"), rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    return root


def info_json(model: Path, *flags: str, capsys) -> dict:
    capsys.readouterr()
    assert main(["info", str(model), "--device", "cpu", "--json", *flags]) == 0
    return json.loads(capsys.readouterr().out)


def label_files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*.txt"))}


def label(model: Path, images: Path, out: Path, *flags: str) -> dict[str, bytes]:
    assert main(["label", "--model", str(model), "--images", str(images), "--out", str(out), "--device", "cpu",
                 "--conf", "0.3", *flags]) == 0
    return label_files(out)


@pytest.mark.parametrize("dynamic", [False, True], ids=["static", "dynamic_axes"])
def test_an_ultralytics_style_onnx_file_opens_with_its_names_and_size(tmp_path, images, capsys, dynamic):
    onnx = mf.anchor_free_onnx(tmp_path / "best.onnx", BOXES, names=NAMES, dynamic=dynamic)
    data = info_json(onnx, capsys=capsys)
    assert data["names"] == NAMES and data["input_hw"] == [320, 320] and data["layout"] == "anchor_free"
    assert data["sources"]["names"] == "metadata" and data["sources"]["input_hw"] == "metadata"
    assert (data["backend"], data["backend_reason"]) == ("onnxruntime", "ONNX file, run by ONNX Runtime")

    # the same detector as TorchScript: the same label files, byte for byte
    ts = mf.anchor_free(tmp_path / "best.torchscript", BOXES, names=NAMES)
    from_onnx = label(onnx, images, tmp_path / "out_onnx")
    from_ts = label(ts, images, tmp_path / "out_ts", "--backend", "torchscript")
    assert from_onnx == from_ts and len(from_onnx) == 4  # three label files and classes.txt
    assert (tmp_path / "out_onnx" / "classes.txt").read_text().split() == NAMES

    capsys.readouterr()
    assert main(["eval", "--model", str(onnx), "--images", str(images), "--labels", str(tmp_path / "out_ts"),
                 "--device", "cpu", "--conf", "0.3"]) == 0
    assert "backend: onnxruntime (ONNX file, run by ONNX Runtime)" in capsys.readouterr().out


def test_a_yolov5_onnx_file_takes_stride_and_names_and_the_inputs_size(tmp_path, capsys):
    onnx = mf.anchor_based_onnx(tmp_path / "yolov5s.onnx", [(100, 100, 50, 40, 0.9, [0.8, 0.1])], names=["car", "bus"],
                                hw=(256, 320))
    data = info_json(onnx, capsys=capsys)
    assert data["names"] == ["car", "bus"] and data["stride"] == 32 and data["layout"] == "anchor_based"
    assert data["input_hw"] == [256, 320] and data["sources"]["input_hw"] == "ONNX input"


def test_an_onnx_file_without_metadata_uses_sidecars_and_flags(tmp_path, capsys):
    onnx = mf.anchor_free_onnx(tmp_path / "model.onnx", BOXES, props=None, dynamic=True)
    (tmp_path / "classes.txt").write_text("x\ny\nz\n")
    data = info_json(onnx, "--imgsz", "320", capsys=capsys)
    assert data["names"] == ["x", "y", "z"] and data["sources"]["names"] == "sidecar classes.txt"
    assert data["input_hw"] == [320, 320] and data["sources"]["input_hw"] == "user"


def test_a_damaged_onnx_file_is_one_line(tmp_path, capsys):
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"\x08\x07" + b"\xff" * 100)
    capsys.readouterr()
    assert main(["info", str(bad)]) == 3
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {bad}: ONNX Runtime cannot load this file: ") and "\n" not in err


def test_a_torch_export_program_opens_with_its_metadata(tmp_path, images, capsys):
    pt2 = mf.anchor_free_pt2(tmp_path / "best.pt2", BOXES, names=NAMES)
    data = info_json(pt2, capsys=capsys)
    assert data["names"] == NAMES and data["input_hw"] == [320, 320] and data["backend"] == "pt2"
    ts = mf.anchor_free(tmp_path / "best.torchscript", BOXES, names=NAMES)
    assert label(pt2, images, tmp_path / "out_pt2") == label(ts, images, tmp_path / "out_ts", "--backend", "torchscript")


def test_a_cached_conversion_runs_label_without_importing_torch(tmp_path, images, cache):
    """The first `label` converts and verifies; the second opens the cached conversion before
    anything imports torch, and writes the same files."""
    model = mf.anchor_free(tmp_path / "m.torchscript", BOXES, names=NAMES)
    first = label(model, images, tmp_path / "first")
    assert len(list(cache.glob("*.onnx"))) == 1
    code = (
        "import sys\n"
        "from cli.main import main\n"
        f"rc = main(['label', '--model', {str(model)!r}, '--images', {str(images)!r}, '--out', {str(tmp_path / 'second')!r}, "
        "'--device', 'auto', '--conf', '0.3'])\n"
        "assert rc == 0, rc\n"
        "print('torch imported' if 'torch' in sys.modules else 'no torch')\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                       env={**__import__("os").environ, onnx_cache.ENV_CACHE_DIR: str(cache.parent)})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "no torch"
    assert "backend: onnxruntime (ONNX Runtime verified: " in r.stdout and "; cached conversion, opened without TorchScript)" in r.stdout
    assert label_files(tmp_path / "second") == first


def test_a_torch_that_refuses_torchscript_still_runs_a_cached_conversion(tmp_path, images, monkeypatch, capsys):
    """A future torch whose torch.jit.load raises (an open PyTorch change does this; no such
    release exists to install, so its refusal is stood in for): a model converted before still
    labels, through its cached ONNX conversion; anything else gets one line saying what to do."""
    import torch

    model = mf.anchor_free(tmp_path / "m.torchscript", BOXES, names=NAMES)
    first = label(model, images, tmp_path / "first")

    def refuse(*args, **kwargs):
        raise RuntimeError("torch.jit.load is deprecated and has been removed; use torch.export")

    monkeypatch.setattr(torch.jit, "load", refuse)
    assert label(model, images, tmp_path / "again") == first
    capsys.readouterr()
    assert main(["info", str(model), "--backend", "torchscript"]) == 3
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith(f"error: {model}: this torch (")
    assert "no longer loads TorchScript: install a tested torch" in err and ".onnx" in err and ".pt2" in err


def test_a_yolov7_onnx_file_with_raw_anchor_heads_opens(tmp_path, capsys):
    """YOLOv7's default ONNX export (no --grid): three raw (1, 3, ny, nx, 5+nc) heads, no metadata."""
    heads = mf.raw_heads_tensors([(0, 1, 3, 2, [0.0, 0.0, 0.5, 0.5, 4.0, 3.0, -3.0])], nc=2)
    onnx = mf.onnx_file(tmp_path / "yolov7.onnx", mf._TracedConst(list(heads), (320, 320), "list"),
                        output_names=("p3", "p4", "p5"))
    data = info_json(onnx, capsys=capsys)
    assert data["layout"] == "raw_anchor_heads" and data["input_hw"] == [320, 320]
    assert data["sources"]["input_hw"] == "ONNX input" and [s[-1] for s in data["output_shapes"]] == [7, 7, 7]
    ts = mf.raw_heads(tmp_path / "yolov7.torchscript", [(0, 1, 3, 2, [0.0, 0.0, 0.5, 0.5, 4.0, 3.0, -3.0])], nc=2)
    images = tmp_path / "im"
    images.mkdir()
    assert cv2.imwrite(str(images / "a.png"), np.full((320, 320, 3), 90, np.uint8))
    assert label(onnx, images, tmp_path / "o1") == label(ts, images, tmp_path / "o2", "--backend", "torchscript")
