"""ONNX Runtime backend (`engine.onnx_backend`): a TorchScript model converted once, cached,
verified against TorchScript, and TorchScript again, with its reason, whenever that fails.
Real models (the factory's layouts, the demo detector, the Ultralytics fixture), the real
exporter and onnxruntime; the cache lives in a temporary SCRIPTLENS_CACHE_DIR."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import model_factory as mf
from engine import onnx_backend as ob
from engine import onnx_verify as ov
from engine import onnx_cache
from engine.backend import TorchScriptBackend
from engine.pipeline import Detector
from engine.thresholds import Thresholds, apply_thresholds

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "resources" / "demo" / "shapes.torchscript"
DEMO_IMAGES = sorted((ROOT / "resources" / "demo" / "images").iterdir())
FIXTURE = ROOT.parent / "shared" / "fixtures" / "ultralytics-yolov8n"
BOX = [(100.0, 100.0, 50.0, 40.0, 0, 0.9), (200.0, 150.0, 30.0, 60.0, 2, 0.6)]


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv(onnx_cache.ENV_CACHE_DIR, str(root))
    return root / "onnx"


def ts(path) -> TorchScriptBackend:
    return TorchScriptBackend.load(path, device="cpu")


def entry_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*")) if folder.is_dir() else []


def assert_same_structure(a, b) -> None:
    if isinstance(a, torch.Tensor):
        assert isinstance(b, np.ndarray) and b.shape == tuple(a.shape)
        return
    assert type(a) is type(b) and len(a) == len(b)
    for x, y in zip(a, b):
        assert_same_structure(x, y)


# ----------------------------------------------------------------------- every layout


LAYOUTS = {
    "anchor_free_traced": lambda p: mf.anchor_free(p, BOX),
    "anchor_free_scripted": lambda p: mf.anchor_free(p, BOX, mode="script"),
    "anchor_based": lambda p: mf.anchor_based(p, [(100, 100, 50, 40, 0.9, [0.8, 0.1])]),
    "end2end": lambda p: mf.end2end(p, [(10, 10, 50, 50, 0.9, 1)]),
    "raw_heads_list": lambda p: mf.raw_heads(p, [(0, 0, 1, 1, [0.1, -0.2, 0.3, 0.4, 5, 5, -5])]),
    "tuple_with_feature_maps": lambda p: mf.tuple_output(p, mf.anchor_based_tensor([(100, 100, 50, 40, 0.9, [0.8, 0.1])], 2)),
    "mean_of_input": mf.mean_score_model,
}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_each_layout_runs_on_onnxruntime_with_torchscripts_outputs(tmp_path, layout):
    path = LAYOUTS[layout](tmp_path / f"{layout}.torchscript")
    backend = ts(path)
    choice = ob.choose_backend(backend, path, (320, 320))
    assert choice.kind == "onnxruntime" and choice.verified, choice.reason
    assert choice.reason.startswith("ONNX Runtime verified: max output difference")
    assert choice.converted and choice.onnx_path.is_file()
    ort = choice.backend
    assert (ort.device, ort.half, ort.precision, ort.config_text) == ("cpu", False, "fp32", backend.config_text)
    x = ov.synthetic_image(1, (320, 320), seed=5)
    expected = backend.forward(x)
    got = ort.forward(x)
    assert_same_structure(expected, got)  # tensor / list / tuple, as TorchScript returns them
    ref, _ = ov.flatten_output(expected)
    assert ov.compare_outputs(ref, ov.flatten_output(got)[0]).ok


def test_real_convolutions_agree_and_input_is_checked(tmp_path):
    """A small random conv net (real arithmetic, not constants), traced like an export."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1), nn.SiLU(), nn.Conv2d(16, 16, 3, 2, 1), nn.SiLU(),
                        nn.Conv2d(16, 7, 1), nn.Flatten(2)).eval()
    path = tmp_path / "conv.torchscript"
    torch.jit.save(torch.jit.trace(net, torch.zeros(1, 3, 64, 64)), str(path))
    backend = ts(path)
    x = ov.synthetic_image(1, (64, 64), seed=9)
    before = backend.forward(x).numpy().copy()
    choice = ob.choose_backend(backend, path, (64, 64), threads=1)
    assert choice.verified and 0 < choice.max_diff < 1e-4, choice.reason
    np.testing.assert_array_equal(backend.forward(x).numpy(), before)  # exporting left the module as it was
    ort = choice.backend
    with ort.intra_op_threads(2):  # another session, same model
        two = ort.forward(x)
    np.testing.assert_allclose(two, ort.forward(torch.from_numpy(x)), atol=1e-5)  # a tensor input works too
    with pytest.raises(ValueError, match="shape"):  # the loader's probing reads "shape" as a size error
        ort.forward(np.zeros((1, 3, 32, 32), np.float32))


class _EndToEnd(nn.Module):
    """A real end-to-end head (YOLOv10 / YOLO26 style): conv features, per-anchor boxes and
    class scores, the top 300 rows by score. The grey letterbox bands give identical anchors,
    hence exactly tied scores, which torch's and ONNX Runtime's topk may order differently."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.features = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1), nn.SiLU(), nn.Conv2d(16, 16, 3, 2, 1), nn.SiLU(),
                                      nn.Conv2d(16, 16, 3, 2, 1), nn.SiLU())
        self.box = nn.Conv2d(16, 4, 1)
        self.cls = nn.Conv2d(16, 3, 1)

    def forward(self, x):
        f = self.features(x)
        boxes = self.box(f).flatten(2).transpose(1, 2) * 8 + 100
        best, cls = self.cls(f).sigmoid().flatten(2).transpose(1, 2).max(-1)
        score, idx = best.topk(300, dim=1)
        rows = boxes.gather(1, idx.unsqueeze(-1).expand(-1, -1, 4))
        return torch.cat([rows, score.unsqueeze(-1), cls.gather(1, idx).unsqueeze(-1).float()], -1)


def test_end_to_end_topk_head_is_verified_despite_tied_rows(tmp_path):
    path = tmp_path / "e2e.torchscript"
    torch.jit.save(torch.jit.trace(_EndToEnd().eval(), torch.zeros(1, 3, 320, 320)), str(path))
    choice = ob.choose_backend(ts(path), path, (320, 320))
    assert choice.kind == "onnxruntime" and choice.verified, choice.reason
    assert choice.max_diff < 1e-4


# ----------------------------------------------------------------------- the demo model and the fixture


@pytest.fixture(scope="module")
def demo_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("demo_cache")


def _detections(det: Detector, image: Path):
    return apply_thresholds(det.predict_path(image).candidates, Thresholds(conf=0.25, iou=0.45))


def _assert_same_detections(a, b) -> None:
    assert len(a) == len(b)
    for i in range(len(a)):
        d = np.abs(b.xyxy - a.xyxy[i]).max(axis=1)
        j = int(np.argmin(d))
        assert d[j] <= 0.01 and b.class_id[j] == a.class_id[i]
        assert abs(float(b.confidence[j]) - float(a.confidence[i])) <= 1e-4


def test_demo_model_detections_are_the_same_and_the_cache_is_reused(demo_cache):
    det = Detector.load(DEMO, device="cpu", backend="torchscript")
    sample = det.read(DEMO_IMAGES[0]).tensor  # a real letterboxed image as a third check input
    first = ob.choose_backend(det.backend, DEMO, det.info.input_hw, samples=[sample], cache_dir=demo_cache)
    assert first.kind == "onnxruntime" and first.verified and first.converted, first.reason
    stat = first.onnx_path.stat()
    fast = Detector(first.backend, det.info, det.decoder, det.ctx, det.floor)
    for image in DEMO_IMAGES[:3]:
        _assert_same_detections(_detections(det, image), _detections(fast, image))

    again = ob.choose_backend(det.backend, DEMO, det.info.input_hw, cache_dir=demo_cache)  # a second load
    assert again.verified and not again.converted and again.convert_seconds is None
    after = again.onnx_path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (stat.st_ino, stat.st_mtime_ns)  # not written again
    assert len(entry_files(demo_cache)) == 2  # one .onnx, one .json
    record = json.loads(first.onnx_path.with_suffix(".json").read_text())
    assert record["key"]["model_sha256"] == onnx_cache.file_sha256(DEMO) and record["export_seconds"] > 0


def test_a_cached_conversion_opens_without_torch(demo_cache):
    """What the window's model process needs: a verified conversion opened and run with no torch."""
    ob.choose_backend(ts(DEMO), DEMO, (512, 512), cache_dir=demo_cache)  # makes sure it is there
    code = (
        "import sys, numpy as np\n"
        "from pathlib import Path\n"
        "from engine.onnx_backend import load_cached\n"
        f"b = load_cached({str(DEMO)!r}, (512, 512), cache_dir=Path({str(demo_cache)!r}), threads=1)\n"
        "out = b.forward(np.full((1, 3, 512, 512), 0.5, np.float32))\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "print(out.shape, 'names' in b.config_text)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "(1, 16128, 8) True"
    assert ob.load_cached(DEMO, (640, 640), cache_dir=demo_cache) is None  # another size: not converted


@pytest.mark.skipif(not (FIXTURE / "model.torchscript").is_file(), reason=f"{FIXTURE} not present")
def test_ultralytics_fixture_reproduces_its_reference_on_onnxruntime():
    det = Detector.load(FIXTURE / "model.torchscript", device="cpu", backend="torchscript")
    choice = ob.choose_backend(det.backend, FIXTURE / "model.torchscript", det.info.input_hw)
    assert choice.verified, choice.reason
    fast = Detector(choice.backend, det.info, det.decoder, det.ctx, det.floor)
    ref = json.loads((FIXTURE / "reference" / "conf0.25_iou0.45.json").read_text())["detections"]
    total = 0
    for name, rows in ref.items():
        got = _detections(fast, FIXTURE / "images" / name)
        assert len(got) == len(rows), name
        for r in rows:
            d = np.abs(got.xyxy - np.array(r[:4], np.float32)).max(axis=1)
            j = int(np.argmin(d))
            assert d[j] <= 0.02 and got.class_id[j] == int(r[5]), (name, r)
            assert abs(float(got.confidence[j]) - r[4]) <= 1e-3, (name, r)
            total += 1
    assert total == 22  # the fixture's 22 reference boxes at conf 0.25


# ----------------------------------------------------------------------- fallbacks


class _CumMax(nn.Module):
    """Anchor-free output through aten::cummax, which torch's ONNX exporter has no mapping for."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("out", mf.anchor_free_tensor(BOX, 3))

    def forward(self, x):
        return self.out + torch.cummax(x.flatten(), 0)[0].max() * 0.0


class _TrainingDropout(nn.Module):
    """Anchor-free, every class score 0.5 through dropout left in training mode: each run zeroes
    a random half of them (and doubles the rest), in TorchScript and in ONNX Runtime alike, but
    never the same half. Only verification can tell: the conversion itself goes through."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("boxes", mf.anchor_free_tensor(BOX, 3)[:, :4])

    def forward(self, x):
        scores = nn.functional.dropout(torch.full((1, 3, 2100), 0.5), 0.5, True)
        return torch.cat([self.boxes, scores], 1) + x.mean() * 0.0


def traced(module: nn.Module, path: Path) -> Path:
    torch.jit.save(torch.jit.trace(module.eval(), torch.zeros(1, 3, 320, 320), check_trace=False), str(path))
    return path


def test_a_model_the_exporter_cannot_convert_stays_on_torchscript_quietly(tmp_path, cache, capfd):
    path = traced(_CumMax(), tmp_path / "cummax.torchscript")
    backend = ts(path)
    capfd.readouterr()
    choice = ob.choose_backend(backend, path, (320, 320))
    assert choice.kind == "torchscript" and choice.backend is backend
    assert choice.reason.startswith("TorchScript: conversion failed: ") and "cummax" in choice.reason
    assert "\n" not in choice.reason
    out, _ = capfd.readouterr()
    assert out == ""  # torch's graph dump on a failed export does not reach stdout
    assert not list(cache.glob("*.onnx"))
    again = ob.choose_backend(ts(path), path, (320, 320))  # remembered: no second export
    assert again.kind == "torchscript" and "remembered" in again.reason and not again.converted


def test_a_conversion_that_changes_the_output_is_refused_unless_asked_for(tmp_path):
    path = traced(_TrainingDropout(), tmp_path / "dropout.torchscript")
    choice = ob.choose_backend(ts(path), path, (320, 320))
    assert choice.kind == "torchscript" and not choice.verified
    assert choice.reason == "TorchScript: ONNX Runtime outputs differ by 1 (allowed there: 0.001) on the warm-up input"
    assert choice.max_diff == 1.0 and choice.onnx_path.is_file()  # kept: --backend onnxruntime may want it
    forced = ob.choose_backend(ts(path), path, (320, 320), mode="onnxruntime")
    assert forced.kind == "onnxruntime" and not forced.verified and not forced.converted
    assert forced.reason.startswith("ONNX Runtime (requested), NOT verified: outputs differ by 1 ")


def test_torchscript_mode_converts_nothing(tmp_path, cache):
    path = mf.anchor_free(tmp_path / "m.torchscript", BOX)
    choice = ob.choose_backend(ts(path), path, (320, 320), mode="torchscript")
    assert choice.kind == "torchscript" and choice.reason == "TorchScript: chosen (--backend torchscript)"
    assert entry_files(cache) == []
    with pytest.raises(ValueError, match="unknown backend"):
        ob.choose_backend(ts(path), path, (320, 320), mode="tensorrt")


def test_a_model_whose_code_branches_on_pixel_values_stays_on_torchscript(tmp_path):
    """`if x.mean() < 0.1: raise` converts and agrees on every bright check input; ONNX drops the
    raise. Branches on the input's shape (the scripted constant model's size check) are fine."""
    dark = mf.raises_on_dark_model(tmp_path / "dark.torchscript", BOX)
    choice = ob.choose_backend(ts(dark), dark, (320, 320))
    assert choice.kind == "torchscript" and not choice.converted
    assert choice.reason == ("TorchScript: the model's code branches on its input's values (prim::If), "
                             "so no set of check inputs can verify a conversion")
    assert ob.input_dependent_ops(ts(mf.anchor_free(tmp_path / "s.torchscript", BOX, mode="script")).module) == []
    forced = ob.choose_backend(ts(dark), dark, (320, 320), mode="onnxruntime")  # asked for: converted, and it runs
    assert forced.kind == "onnxruntime" and forced.converted


def test_a_model_that_fails_on_a_check_input_stays_on_torchscript(tmp_path):
    path = mf.raises_on_dark_model(tmp_path / "dark.torchscript", BOX)
    choice = ob.choose_backend(ts(path), path, (320, 320), samples=[np.zeros((3, 320, 320), np.float32)],
                               mode="onnxruntime")  # (auto refuses it earlier: it branches on pixel values)
    assert choice.kind == "torchscript"
    assert choice.reason.startswith("TorchScript: cannot verify a conversion: the model fails on the sample 1: ")
    assert "dark image" in choice.reason


def test_without_onnxruntime_torchscript_is_used(tmp_path, monkeypatch, cache):
    path = mf.anchor_free(tmp_path / "m.torchscript", BOX)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # what Python does for a missing package: ImportError
    choice = ob.choose_backend(ts(path), path, (320, 320))
    assert choice.kind == "torchscript" and choice.reason.startswith("TorchScript: onnxruntime is not installed")
    assert entry_files(cache) == []


def test_a_half_precision_or_gpu_model_is_left_alone(tmp_path):
    path = mf.anchor_free(tmp_path / "m.torchscript", BOX)
    backend = ts(path)
    backend.half = True  # what load(half=True) gives on a CPU with bfloat16 units
    assert ob.choose_backend(backend, path, (320, 320)).reason == "TorchScript: reduced precision runs on TorchScript only"
    backend.half, backend.device = False, "cuda:0"
    assert "CPU only" in ob.choose_backend(backend, path, (320, 320)).reason


# ----------------------------------------------------------------------- the cache


def test_a_corrupt_cache_file_is_rebuilt(tmp_path, cache):
    path = mf.anchor_free(tmp_path / "m.torchscript", BOX)
    first = ob.choose_backend(ts(path), path, (320, 320))
    good = first.onnx_path.read_bytes()
    first.onnx_path.write_bytes(good[: len(good) // 3])  # truncated
    first.onnx_path.with_suffix(".json").write_text("{not json")
    again = ob.choose_backend(ts(path), path, (320, 320))
    assert again.verified and again.converted, again.reason
    assert again.onnx_path.read_bytes() == good
    assert json.loads(again.onnx_path.with_suffix(".json").read_text())["verified"] is True
    assert not [p for p in cache.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_a_loadable_but_wrong_cache_file_is_rebuilt(tmp_path):
    path = mf.anchor_free(tmp_path / "m.torchscript", BOX)
    other = mf.anchor_free(tmp_path / "other.torchscript", [(10.0, 10.0, 5.0, 5.0, 1, 0.5)])
    wrong = ob.choose_backend(ts(other), other, (320, 320)).onnx_path.read_bytes()  # same shapes, other numbers
    entry = onnx_cache.entry_for(path, (320, 320))
    entry.write_onnx(wrong)
    choice = ob.choose_backend(ts(path), path, (320, 320))
    assert choice.verified and choice.converted, choice.reason
    assert choice.onnx_path.read_bytes() != wrong


def test_an_unwritable_cache_still_runs_onnxruntime_and_says_so(tmp_path, monkeypatch):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    monkeypatch.setenv(onnx_cache.ENV_CACHE_DIR, str(blocker))  # <file>/onnx cannot be a folder
    path = mf.anchor_free(tmp_path / "m.torchscript", BOX)
    choice = ob.choose_backend(ts(path), path, (320, 320))
    assert choice.kind == "onnxruntime" and choice.verified and choice.onnx_path is None
    assert "; not cached: " in choice.reason


def test_cache_key_separates_sizes_and_follows_the_file(tmp_path):
    path = mf.anchor_free(tmp_path / "m.torchscript", BOX)
    a = onnx_cache.entry_for(path, (320, 320))
    assert a.onnx_path.parent == tmp_path / "cache" / "onnx"
    assert a.key.torch == onnx_cache.package_version("torch") and torch.__version__.startswith(a.key.torch)  # (2.14.1 vs 2.14.1+cu130)
    assert a.onnx_path != onnx_cache.entry_for(path, (640, 640)).onnx_path
    assert a.onnx_path != onnx_cache.entry_for(path, (320, 320), batch=2).onnx_path
    path.write_bytes(path.read_bytes() + b"\0")  # a different file under the same name
    assert a.onnx_path != onnx_cache.entry_for(path, (320, 320)).onnx_path


# ----------------------------------------------------------------------- the tolerance rule


def test_tolerance_rule():
    scores = np.array([[0.5, 0.9, 1e-6]], np.float32)
    assert ov.compare_outputs([scores], [scores + 9e-4]).ok  # scores: within 1e-3
    bad = ov.compare_outputs([scores], [scores + np.float32(1.2e-3)])
    assert not bad.ok and bad.detail.startswith("outputs differ by 0.0012")
    boxes = np.array([[500.0, 20.0]], np.float32)  # pixels: 1e-3 + 1e-5 * 500 = 6e-3 allowed
    assert ov.compare_outputs([boxes], [boxes + [[5e-3, 0]]]).ok
    assert not ov.compare_outputs([boxes], [boxes + [[7e-3, 0]]]).ok
    nan = np.array([np.nan, 1.0, np.inf], np.float32)
    assert ov.compare_outputs([nan], [nan.copy()]).ok
    assert "NaN/inf" in ov.compare_outputs([nan], [np.array([1.0, np.nan, np.inf], np.float32)]).detail
    assert "instead of" in ov.compare_outputs([scores], [scores[:, :2]]).detail
    assert ov.compare_outputs([scores], [scores, scores]).detail == "2 outputs instead of 1"


def test_rows_of_a_candidate_list_may_come_in_another_order_channels_may_not():
    rows = np.random.default_rng(0).random((1, 300, 6)).astype(np.float32)
    swapped = rows.copy()
    swapped[0, [3, 7]] = swapped[0, [7, 3]]  # two tied candidates, in the other order
    same = ov.compare_outputs([rows], [swapped])
    assert same.ok and same.reordered == (0,) and same.max_diff == 0
    changed = swapped.copy()
    changed[0, 3, 4] += 0.01
    assert not ov.compare_outputs([rows], [changed]).ok  # a set of rows, but not the same set
    channels = np.random.default_rng(1).random((1, 7, 2100)).astype(np.float32)  # anchor-free: rows are w, h, scores...
    assert not ov.compare_outputs([channels], [channels[:, [0, 1, 3, 2, 4, 5, 6]]]).ok
    assert ov.compare_outputs([rows], [rows]).reordered == ()


def test_structure_round_trip():
    a, b, c = (np.full((1, 2), i, np.float32) for i in range(3))
    out = (torch.from_numpy(a), [torch.from_numpy(b), torch.from_numpy(c)])
    leaves, structure = ov.flatten_output(out)
    assert structure == {"tuple": ["tensor", {"list": ["tensor", "tensor"]}]}
    assert json.loads(json.dumps(structure)) == structure
    rebuilt = ov.rebuild(leaves, structure)
    assert isinstance(rebuilt, tuple) and isinstance(rebuilt[1], list) and rebuilt[1][1][0, 0] == 2
    with pytest.raises(ov.ConversionError, match="dict"):
        ov.flatten_output({"boxes": torch.zeros(1)})


def test_synthetic_image_is_deterministic_and_image_like():
    a = ov.synthetic_image(2, (96, 128))
    assert a.shape == (2, 3, 96, 128) and a.dtype == np.float32
    np.testing.assert_array_equal(a, ov.synthetic_image(2, (96, 128)))
    assert 0 <= a.min() and a.max() <= 1 and a[0].std() > 0.05
    assert not np.array_equal(a[0], a[1])
    assert np.all(a[:, :, :12] == np.float32(114 / 255))  # letterbox band


def test_importing_the_backend_imports_neither_torch_nor_onnxruntime():
    code = ("import sys, engine.onnx_backend, engine.onnx_cache\n"
            "print(sorted(m for m in ('torch', 'onnxruntime', 'onnx') if m in sys.modules))\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                       env={**os.environ})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"
