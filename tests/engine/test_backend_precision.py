"""``half``: float16 on CUDA, bfloat16 on CPUs with bfloat16 units, refused (float32, with a
warning) on other CPUs. bfloat16 convolutions run (slowly) on any CPU, so the bfloat16 path is
tested everywhere by pretending the units are there."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from torch import nn

from engine import backend as backend_module
from engine.backend import TorchScriptBackend
from engine.decode import to_numpy
from engine.model_info import ModelInfo, precision_name


class _ConvNet(nn.Module):
    """Convolutions, then a float32 grid built inside the graph, as exporters' decode layers
    do: casting the module leaves it float32, so the sum is float32 too (type promotion)."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 8, 3, 2, 1)
        self.b = nn.Conv2d(8, 6, 3, 1, 1)

    def forward(self, x):
        y = self.b(torch.relu(self.a(x))).sigmoid()
        grid = torch.arange(y.shape[3], dtype=torch.float32).expand_as(y)
        return y * 2 + grid * 8


@pytest.fixture(params=["script", "trace"])
def model_path(tmp_path, request):
    torch.manual_seed(0)
    path = tmp_path / f"conv_{request.param}.torchscript"
    module = _ConvNet().eval()
    if request.param == "trace":
        module = torch.jit.trace(module, torch.rand(1, 3, 64, 64))
    else:
        module = torch.jit.script(module)
    torch.jit.save(module, str(path))
    return path


def _batch():
    return np.random.default_rng(1).random((1, 3, 64, 64), dtype=np.float32)


def test_cpu_with_bf16_units_runs_convolutions_in_bfloat16(monkeypatch, model_path):
    monkeypatch.setattr(backend_module, "has_bf16_units", lambda: True)
    reduced = TorchScriptBackend.load(model_path, device="cpu", half=True)
    full = TorchScriptBackend.load(model_path, device="cpu")
    assert (reduced.half, reduced.precision) == (True, "bf16")
    assert full.precision == "fp32"
    assert all(p.dtype == torch.bfloat16 for p in reduced.module.parameters())
    assert all(p.dtype == torch.float32 for p in full.module.parameters())
    out, expected = reduced.forward(_batch()), full.forward(_batch())
    assert expected.dtype == torch.float32
    got = to_numpy(out)
    assert got.dtype == np.float32
    assert not np.array_equal(got, expected.numpy())  # it did run in reduced precision...
    # ...to ~3 significant digits on the sigmoid (2 * 2^-8), the float32 grid added exactly
    assert np.abs(got - expected.numpy()).max() <= 2 * 2 ** -8 + 1e-6


def test_cpu_without_bf16_units_refuses_reduced_precision_with_a_warning(monkeypatch, model_path, caplog):
    monkeypatch.setattr(backend_module, "has_bf16_units", lambda: False)
    with caplog.at_level(logging.WARNING, logger="engine.backend"):
        backend = TorchScriptBackend.load(model_path, device="cpu", half=True)
    assert (backend.half, backend.precision) == (False, "fp32")
    assert "AVX-512 BF16 or AMX" in caplog.text and "float32" in caplog.text
    assert backend.forward(_batch()).dtype == torch.float32


def test_full_precision_never_asks_about_the_cpu(monkeypatch, model_path, caplog):
    monkeypatch.setattr(backend_module, "has_bf16_units", lambda: pytest.fail("probed without --half"))
    with caplog.at_level(logging.WARNING):
        backend = TorchScriptBackend.load(model_path, device="cpu")
    assert backend.precision == "fp32" and not caplog.records


@pytest.mark.parametrize("device, half, expected", [("cpu", False, "fp32"), ("cpu", True, "bf16"),
                                                    ("cuda", True, "fp16"), ("cuda:1", False, "fp32")])
def test_precision_names(device, half, expected, tmp_path):
    assert precision_name(device, half) == expected
    info = ModelInfo(path=tmp_path / "m.torchscript", layout="anchor_free", input_hw=(64, 64), stride=32,
                     names=("a",), anchors=None, device=device, half=half)
    assert info.precision == expected
    assert dict((f, v) for f, v, _ in info.describe())["device"] == f"{device} ({expected})"


class _CastsToFloat(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 7, 3, 2, 1)

    def forward(self, x):
        # its own cast: float32 input, bfloat16 weights under --half; out: anchor-free (1, 4+3, A)
        return self.a(x.float()).flatten(2)


def test_a_model_that_fails_only_in_reduced_precision_says_how_to_load_it(monkeypatch, tmp_path):
    from engine.errors import ModelLoadError
    from engine.pipeline import Detector

    monkeypatch.setattr(backend_module, "has_bf16_units", lambda: True)
    path = tmp_path / "casts.torchscript"
    torch.jit.save(torch.jit.script(_CastsToFloat().eval()), str(path))
    with pytest.raises(ModelLoadError, match=r"should be the same\. It ran in reduced precision: load it without --half"):
        Detector.load(path, device="cpu", half=True, imgsz=64)
    assert Detector.load(path, device="cpu", imgsz=64).info.layout == "anchor_free"  # fine in float32
