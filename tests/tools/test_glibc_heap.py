"""tools.glibc_heap: with the thresholds raised, buffers freed and allocated again every
"step" come back from the process's heap instead of as freshly faulted pages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

STEPS = r"""
import json, resource, sys
import numpy as np
from tools.glibc_heap import keep_freed_memory
took = keep_freed_memory() if sys.argv[1] == "tuned" else None

def step():  # 40 buffers of 2 MiB alive at once (80 MiB, like a batch's arrays), all freed after
    bufs = [np.empty(2 << 17) for _ in range(40)]
    for b in bufs:
        b.fill(1.0)  # touch every page

for _ in range(3):  # warm-up: glibc's default thresholds adapt after the first frees
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    step()
print(json.dumps({"took": took, "faults_per_step": (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 10}))
"""


def _run(mode: str) -> dict:
    repo = Path(__file__).resolve().parents[2]  # `tools` importable wherever pytest starts
    out = subprocess.run([sys.executable, "-c", STEPS, mode], capture_output=True, text=True, check=True, cwd=repo)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_freed_buffers_are_reused_instead_of_faulted_in_again():
    tuned = _run("tuned")
    if not tuned["took"]:
        pytest.skip("not glibc (mallopt refused the thresholds)")
    default = _run("default")
    pages = 40 * (2 << 20) / 4096  # what one step touches (20480 pages)
    if default["faults_per_step"] < pages / 10:
        pytest.skip("this C library keeps the memory with its defaults: nothing to compare")
    # measured with glibc 2.36: 20448 faults per step by default (all of it again), 0 tuned
    assert tuned["faults_per_step"] < min(pages / 100, default["faults_per_step"] / 10)
