"""Does this CPU do bfloat16 arithmetic in hardware? (the CPU meaning of ``--half``)

Only AVX-512 BF16 (e.g. AMD Zen 4, Intel Cooper Lake) and Intel AMX tiles (Sapphire Rapids
and later) count. Plain AVX-512 or AVX2 CPUs can only convert bfloat16 to float32 and back
around float32 arithmetic, so there it is expected to be slower than float32 itself (not
measured: no such machine in this project), and reduced precision is refused.
"""

from __future__ import annotations

import os
from pathlib import Path

_FLAGS = ("avx512_bf16", "amx_bf16")


def _cpuinfo_has_bf16(cpuinfo: str) -> bool:
    words = set(cpuinfo.split())
    return any(flag in words for flag in _FLAGS)


def has_bf16_units() -> bool:
    # torch's own probes (cpuinfo library: works on Linux, Windows and macOS); private API, so
    # a torch without them falls back to Linux's /proc/cpuinfo flags.
    import torch

    probes = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    if all(callable(p) for p in probes):
        try:
            return any(bool(p()) for p in probes)
        except Exception:  # a probe that fails is no answer: ask the kernel instead
            pass
    try:
        return _cpuinfo_has_bf16(Path("/proc/cpuinfo").read_text())
    except OSError:
        return False


FORWARD_THREADS_ENV = "SCRIPTLENS_FORWARD_THREADS"


def forward_threads() -> int:
    """torch's intra-op thread count for EVERY forward on the CPU: `label`'s image-parallel pool
    (engine.batch_runner), the window's and its model process's (engine.backend). A float32
    forward's last bits depend on it (oneDNN/MKL split their sums by thread): with two counts
    the same box was 0.436210 in the window's label file and 0.436209 in the CLI's."""
    if (pinned := os.environ.get(FORWARD_THREADS_ENV, "").strip()).isdigit() and int(pinned) > 0:
        return int(pinned)  # a Ray actor on another node uses the driver's count (cli.ray_label)
    cpus = os.cpu_count() or 1
    # At most 4: a detector this size gains little past 4 threads, and `label` runs cpus // 4
    # images in parallel instead. Below that, all cores: the window's latency per image counts
    # more than `label`'s throughput on a small machine (demo, 2 cores: 40 ms with 2 threads,
    # 67 ms with 1; `label` loses ~15% by running one image at a time there).
    return max(1, min(4, cpus))


def nvidia_driver_present() -> bool:
    """Might torch see a CUDA GPU here? Answered WITHOUT importing torch (which takes seconds),
    for choosing a cached ONNX conversion at load time: an NVIDIA driver is visible (Linux's
    /proc/driver/nvidia, nvidia-smi on the PATH), and the installed torch is not a CPU build
    (its version says "+cpu"). macOS has no CUDA."""
    import shutil
    import sys
    from importlib import metadata

    if sys.platform == "darwin":
        return False
    try:
        if "+cpu" in metadata.version("torch"):
            return False
    except metadata.PackageNotFoundError:
        return False
    return Path("/proc/driver/nvidia").exists() or shutil.which("nvidia-smi") is not None
