"""The real Ultralytics, as a test-only tool: a venv of its own (tools/ultralytics_venv.sh, built
once per machine into a cache folder outside the checkout and reused while its versions match),
run as a subprocess. Ultralytics is AGPL and never a dependency of ScriptLens."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHECK = Path(__file__).with_name("ultralytics_check.py")


@pytest.fixture(scope="session")
def ultralytics_python() -> Path:
    # torch 2.14.1 + torchvision 0.29.1 lie on disk for x86_64 Linux, Python 3.11 (the CI machine)
    if platform.system() != "Linux" or platform.machine() != "x86_64":
        pytest.skip("the Ultralytics venv is built from the torch/torchvision pair on x86_64 Linux machines")
    done = subprocess.run(["bash", str(REPO / "tools" / "ultralytics_venv.sh")], capture_output=True, encoding="utf-8", errors="replace",
                          timeout=1800)
    assert done.returncode == 0, f"building the Ultralytics venv failed:\n{done.stderr[-3000:]}"
    python = Path(done.stdout.strip().splitlines()[-1])
    assert python.is_file(), done.stdout
    return python


@pytest.fixture
def ultralytics(ultralytics_python, tmp_path):
    """check(data_yaml, train=False) -> what Ultralytics made of the dataset (ultralytics_check.py)."""
    env = {**os.environ, "YOLO_CONFIG_DIR": str(tmp_path / "yolo_config"), "YOLO_OFFLINE": "1",
           "PYTHONPATH": ""}  # nothing of ours on its path
    env.pop("VIRTUAL_ENV", None)

    def check(data_yaml: Path, train: bool = False) -> dict:
        args = [str(ultralytics_python), str(CHECK), str(data_yaml)] + (["--train"] if train else [])
        done = subprocess.run(args, capture_output=True, encoding="utf-8", errors="replace", timeout=600, env=env, cwd=tmp_path)
        assert done.returncode == 0, f"Ultralytics failed on {data_yaml}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return json.loads(done.stdout.strip().splitlines()[-1])

    check.python = ultralytics_python
    check.env = env
    return check

