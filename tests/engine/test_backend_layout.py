"""The CPU backend feeds models NHWC ("channels_last") input, which oneDNN runs faster, and
falls back to NCHW for a model whose graph cannot take it. Outputs are the model's own either way."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from engine.backend import TorchScriptBackend


class _ConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 8, 3, 2, 1)
        self.b = nn.Conv2d(8, 6, 3, 1, 1)

    def forward(self, x):
        y = self.b(torch.relu(self.a(x)))
        return y.view(x.shape[0], 2, 3, y.shape[2], y.shape[3]).permute(0, 1, 3, 4, 2).contiguous()


class _FlattensChannels(_ConvNet):
    def forward(self, x):
        y = self.b(torch.relu(self.a(x)))
        return y.view(x.shape[0], -1)  # merges C with H, W: impossible on an NHWC tensor


def _backend(tmp_path, module, name):
    torch.manual_seed(0)
    path = tmp_path / name
    torch.jit.save(torch.jit.script(module.eval()), str(path))
    return TorchScriptBackend.load(path, device="cpu")


def _batch(size=64):
    return np.random.default_rng(1).random((1, 3, size, size), dtype=np.float32)


def test_convolutional_model_runs_nhwc_with_the_same_output(tmp_path):
    backend = _backend(tmp_path, _ConvNet(), "conv.torchscript")
    batch = _batch()
    out = backend.forward(batch)
    assert backend.channels_last is True
    with torch.inference_mode():
        expected = backend.module(torch.from_numpy(batch))  # plain NCHW
    assert out.shape == expected.shape
    assert torch.allclose(out, expected, atol=1e-5)


def test_model_that_cannot_take_nhwc_falls_back_and_stays_there(tmp_path):
    backend = _backend(tmp_path, _FlattensChannels(), "flat.torchscript")
    batch = _batch()
    with pytest.raises(RuntimeError):  # the premise: this graph fails on NHWC input
        with torch.inference_mode():
            backend.module(torch.from_numpy(batch).contiguous(memory_format=torch.channels_last))
    out = backend.forward(batch)
    assert backend.channels_last is False
    with torch.inference_mode():
        assert torch.allclose(out, backend.module(torch.from_numpy(batch)), atol=1e-6)
    assert torch.allclose(backend.forward(batch), out)


def test_a_genuine_error_does_not_decide_the_layout(tmp_path):
    class _SizeCheck(_ConvNet):
        def forward(self, x):
            if x.shape[2] != 64:
                raise RuntimeError("expected 64x64 input")
            return self.b(torch.relu(self.a(x)))

    backend = _backend(tmp_path, _SizeCheck(), "sized.torchscript")
    with pytest.raises(Exception, match="expected 64x64"):
        backend.forward(_batch(32))
    assert backend.channels_last is None  # both layouts failed: nothing learnt about NHWC
    backend.forward(_batch(64))
    assert backend.channels_last is True
    with pytest.raises(Exception, match="expected 64x64"):
        backend.forward(_batch(32))  # once NHWC is known to work, an error is not retried
    assert backend.channels_last is True
