"""The app's download archive (tools/build_app.py's make_archive): what goes in comes out, the
executable bit and links included, in each format the build writes."""

from __future__ import annotations

import os
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest

from tools import build_app


def make_folder(root: Path) -> Path:
    app = root / "ScriptLens"
    (app / "_internal" / "lib").mkdir(parents=True)
    (app / "ScriptLens").write_bytes(b"#!/bin/sh\necho hi\n")
    (app / "ScriptLens").chmod(0o755)
    (app / "_internal" / "lib" / "libx.so.1").write_bytes(os.urandom(50_000))  # incompressible, like a library
    os.symlink("libx.so.1", app / "_internal" / "lib" / "libx.so")
    return app


def unpacked(archive: Path, into: Path) -> Path:
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as z:
            z.extractall(into)
    else:
        with tarfile.open(archive) as tar:  # any compression: tarfile detects it
            tar.extractall(into, filter="tar")
    return into / "ScriptLens"


@pytest.mark.parametrize("suffix,tool", [(".tar.xz", "xz"), (".tar.xz", None), (".tar.gz", None)])
def test_the_archive_unpacks_to_the_same_folder(tmp_path, monkeypatch, suffix, tool):
    if tool and not shutil.which(tool):
        pytest.skip(f"no {tool} here")
    if tool is None and suffix == ".tar.xz":  # the fallback without the xz tool: Python's lzma
        monkeypatch.setattr(build_app.shutil, "which", lambda name: None)
    app = make_folder(tmp_path / "src")
    archive = tmp_path / f"app{suffix}"
    build_app.make_archive(app, archive)
    if suffix == ".tar.xz":
        assert archive.read_bytes()[:6] == b"\xfd7zXZ\x00"  # a real xz stream, whoever wrote it
    got = unpacked(archive, tmp_path / "out")
    assert (got / "ScriptLens").read_bytes() == (app / "ScriptLens").read_bytes()
    assert os.access(got / "ScriptLens", os.X_OK)
    assert (got / "_internal" / "lib" / "libx.so.1").read_bytes() == (app / "_internal" / "lib" / "libx.so.1").read_bytes()
    assert os.readlink(got / "_internal" / "lib" / "libx.so") == "libx.so.1"


def test_each_platform_gets_the_archive_its_file_manager_opens():
    assert build_app.archive_suffix("linux") == ".tar.xz"
    assert build_app.archive_suffix("win32") == ".zip"
    assert build_app.archive_suffix("darwin") == ".tar.gz"
