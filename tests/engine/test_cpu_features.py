import pytest
import torch

from engine import cpu_features

FLAGS = [("fpu sse2 avx2 amx_bf16 amx_tile", True),
         ("fpu sse2 avx2 avx512f avx512_bf16", True),
         ("fpu sse2 avx2 avx512f avx512_vnni", False),
         ("fpu sse2 avx2 avx512f avx512_bf16x", False)]  # a whole flag, not a prefix


@pytest.mark.parametrize("flags, expected", FLAGS)
def test_cpuinfo_flags_name_the_bf16_units(flags, expected):
    assert cpu_features._cpuinfo_has_bf16(f"processor\t: 0\nflags\t\t: {flags}\n") is expected


@pytest.mark.parametrize("flags, expected", FLAGS)
def test_without_torch_probes_the_kernel_flags_answer(monkeypatch, flags, expected):
    monkeypatch.delattr(torch.cpu, "_is_avx512_bf16_supported", raising=False)
    monkeypatch.setattr(cpu_features.Path, "read_text", lambda self, *a, **k: f"flags\t\t: {flags}\n")
    assert cpu_features.has_bf16_units() is expected


@pytest.mark.parametrize("avx512_bf16, amx, expected", [(True, False, True), (False, True, True), (False, False, False)])
def test_torch_probes_answer_first(monkeypatch, avx512_bf16, amx, expected):
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx, raising=False)
    monkeypatch.setattr(cpu_features.Path, "read_text", lambda self, *a, **k: "flags : avx512_bf16 amx_bf16\n")
    assert cpu_features.has_bf16_units() is expected
