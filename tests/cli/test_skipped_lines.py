"""One word for an image that gets no label file (or no score): `skipped: <path>: <reason>`, in
label and eval; OpenCV's own warnings stay out of our output; a run that wrote nothing says why."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

import model_factory as mf
from cli.main import main
from test_label_cmd import BOXES, NAMES, img, label

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return mf.anchor_free(tmp_path_factory.mktemp("m") / "tiny.torchscript", BOXES, names=NAMES)


def png_with_a_huge_chunk(path: Path) -> Path:
    """A PNG whose second chunk claims 2 GB: OpenCV logs `[ WARN:...] global grfmt_png.cpp ...
    read_chunk user chunk data is too large` on stderr, then fails to decode it."""
    ok, encoded = cv2.imencode(".png", np.full((8, 8, 3), 90, np.uint8))
    data = bytes(encoded)
    after_ihdr = 8 + 8 + 13 + 4
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data[:after_ihdr] + struct.pack(">I", 0x7FFFFF00) + b"zzZzabcd" + data[after_ihdr:])
    return path


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "OPENCV_LOG_LEVEL"}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, "-m", "cli", *args, "--device", "cpu"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=180)


def test_opencv_warnings_stay_out_label_and_eval(model, tmp_path):
    bad = png_with_a_huge_chunk(tmp_path / "images" / "bad.png")
    img(tmp_path / "images" / "good.png")
    (tmp_path / "gt").mkdir()
    for args in (["label", "--out", str(tmp_path / "labels")], ["eval", "--labels", str(tmp_path / "gt")]):
        r = run_cli(args[0], "--model", str(model), "--images", str(tmp_path / "images"), *args[1:])
        assert r.returncode == 0, r.stderr
        assert "[ WARN" not in r.stderr and "grfmt_png" not in r.stderr, r.stderr
        lines = [ln for ln in r.stderr.splitlines() if "bad.png" in ln]
        assert len(lines) == 1 and lines[0].startswith(f"skipped: {bad}: "), r.stderr


def test_eval_says_skipped_like_label(model, tmp_path, capsys):
    broken = tmp_path / "images" / "broken.jpg"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"\xff\xd8\xff\xe0 not a whole jpeg")
    img(tmp_path / "images" / "good.png")
    (tmp_path / "gt").mkdir()
    assert main(["eval", "--model", str(model), "--images", str(tmp_path / "images"), "--labels", str(tmp_path / "gt"),
                 "--device", "cpu"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert [ln for ln in err if "broken.jpg" in ln][0].startswith(f"skipped: {broken}: cannot read image")


def test_a_label_file_that_cannot_be_written_is_skipped_not_error(model, tmp_path, capsys, monkeypatch):
    import engine.labels as L

    for name in ("a", "b", "c"):
        img(tmp_path / "images" / f"{name}.png")
    real_replace = L.os.replace

    def replace(src, dst):
        if Path(dst).name == "b.txt":
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(L.os, "replace", replace)
    assert label(model, tmp_path / "images", tmp_path / "labels") == 0
    err = capsys.readouterr().err.splitlines()
    assert err == [f"skipped: {tmp_path / 'images' / 'b.png'}: {tmp_path / 'labels' / 'b.txt'}: "
                   "cannot write label file: No space left on device"]


def test_a_run_that_writes_nothing_says_why(model, tmp_path, capsys):
    for name in ("a", "b", "c"):
        img(tmp_path / "images" / f"{name}.png")
    assert label(model, tmp_path / "images", tmp_path / "labels") == 0
    capsys.readouterr()
    assert label(model, tmp_path / "images", tmp_path / "labels") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == ("0 written: all 3 label files exist (--on-existing skip); "
                       "use --on-existing backup|overwrite to replace them")
    assert label(model, tmp_path / "images", tmp_path / "labels", "--on-existing", "overwrite") == 0
    assert capsys.readouterr().out.splitlines()[-1] == "0 written: all 3 label files already hold these labels"
