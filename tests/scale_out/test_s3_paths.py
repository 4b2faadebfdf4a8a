"""`label --images s3://... --out s3://...` against a real S3-compatible server (moto's server
mode on 127.0.0.1, tests/scale_out/s3_server.py) read and written by pyarrow's S3 client: the
objects a cluster run writes are byte for byte a local single-machine run's files, existing
objects are skipped, and a prefix of someone else's labels is guarded as a folder is."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pyarrow.fs", reason='the ray extra is not installed (pip install -e ".[ray]"); CI runs these')

from cli.main import main  # noqa: E402
from engine.manifest import MANIFEST_NAME  # noqa: E402
from engine.object_store import S3Store  # noqa: E402
from scale_out.folders import DEMO_MODEL, demo_tree, files, manifest_core  # noqa: E402

pytestmark = pytest.mark.ray
BUCKET = "scriptlens"


def label(images: str | Path, out: str | Path, *extra: str) -> int:
    return main(["label", "--model", str(DEMO_MODEL), "--images", str(images), "--out", str(out), "--device", "cpu",
                 "--save-conf", *extra])


def objects(prefix: str) -> dict[str, bytes]:
    """Every object under s3://BUCKET/prefix, as folders.files gives a folder's files."""
    store, base = S3Store.from_env(), f"{BUCKET}/{prefix}"
    return {Path(p).relative_to(base).as_posix(): store.get(p) for p, _ in sorted(store.list_files(base))}


def upload(folder: Path, prefix: str) -> None:
    store = S3Store.from_env()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            store.write_bytes(f"{BUCKET}/{prefix}/{p.relative_to(folder).as_posix()}", p.read_bytes())


@pytest.fixture(scope="module")
def demo(s3, tmp_path_factory):
    """The nested demo images (a corrupt one, x.jpg + x.png) locally and under s3://BUCKET/images,
    and a local single-machine run over the local copy."""
    images = demo_tree(tmp_path_factory.mktemp("s3demo") / "images")
    upload(images, "images")
    one = tmp_path_factory.mktemp("s3one") / "labels"
    assert label(images, one) == 0
    return images, one


def same_as_local(one: Path, prefix: str, images: str) -> dict:
    """Objects == the local run's files byte for byte; the manifest as well but for its date,
    where the images were, and how the run was distributed."""
    got = objects(prefix)
    manifest = json.loads(got.pop(MANIFEST_NAME))
    assert got == files(one)
    local = json.loads((one / MANIFEST_NAME).read_text())
    assert manifest["images"] == images
    assert {k: v for k, v in manifest.items() if k not in ("date", "images", "distributed")} == \
        {k: v for k, v in local.items() if k not in ("date", "images")}
    return manifest


def test_ray_run_from_s3_to_s3_is_the_local_run(cluster, s3, demo, capsys):
    images, one = demo
    if cluster.worker is None:  # the killed-worker tests end the second node
        cluster.start_worker()
    assert label(f"s3://{BUCKET}/images", f"s3://{BUCKET}/ray-out", "--ray", cluster.address, "--actors", "2") == 0
    err = capsys.readouterr().err
    manifest = same_as_local(one, "ray-out", f"s3://{BUCKET}/images")
    assert manifest["distributed"]["ray"]["nodes"] == 2 and manifest["result"]["failed"] == 2
    # the corrupt object is one row with its error, named as pyarrow names it (bucket/key)
    assert f"skipped: {BUCKET}/images/part1/broken.jpg: cannot read image" in err

    # the same command again: every label object exists and is skipped, none is rewritten
    before = objects("ray-out")
    assert label(f"s3://{BUCKET}/images", f"s3://{BUCKET}/ray-out", "--ray", cluster.address) == 0
    assert "0 written" in capsys.readouterr().out
    assert objects("ray-out") == before


def test_out_s3_without_ray_is_the_local_run_and_finishes_a_partial_one(s3, demo, capsys):
    """--out s3:// on one machine goes through the same writer; a prefix with some label objects
    gone (a stopped run) is finished by the same command."""
    images, one = demo
    assert label(images, f"s3://{BUCKET}/one-out") == 0
    same_as_local(one, "one-out", str(images))
    store = S3Store.from_env()
    gone = sorted(k for k in objects("one-out") if k.endswith(".txt") and k != "classes.txt")[::3]
    for key in gone:
        store.delete(f"{BUCKET}/one-out/{key}")
    capsys.readouterr()
    assert label(images, f"s3://{BUCKET}/one-out") == 0
    assert f"{len(gone)} written" in capsys.readouterr().out
    assert {k: v for k, v in objects("one-out").items() if k != MANIFEST_NAME} == files(one)


def test_out_s3_holding_someone_elses_labels_is_guarded(s3, demo, capsys):
    """Label objects that no manifest vouches for are a person's labels: overwrite is refused
    (one line naming the s3 URI), backup keeps each old object as .bak."""
    images, one = demo
    theirs = b"0 0.5 0.5 0.1 0.1\n"
    key = next(k for k in files(one) if k.endswith(".txt") and k != "classes.txt")
    S3Store.from_env().write_bytes(f"{BUCKET}/hand/{key}", theirs)
    assert label(images, f"s3://{BUCKET}/hand", "--on-existing", "overwrite") == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("error:")]
    assert len(err) == 1 and f"s3://{BUCKET}/hand holds label files that no ScriptLens run wrote" in err[0]
    assert objects("hand") == {key: theirs}  # nothing written

    assert label(images, f"s3://{BUCKET}/hand", "--on-existing", "backup") == 0
    assert f"note: s3://{BUCKET}/hand holds label files that ScriptLens did not write" in capsys.readouterr().err
    got = objects("hand")
    assert got[key + ".bak"] == theirs and got[key] == files(one)[key]
    assert json.loads(got[MANIFEST_NAME])["prior_labels_not_from_scriptlens"] is True


def test_images_s3_needs_ray_one_line(s3, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "cli.main", "label", "--model", str(DEMO_MODEL), "--images",
                           f"s3://{BUCKET}/images", "--out", str(tmp_path / "out")],
                          cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [f"error: --images s3://{BUCKET}/images: images in object storage are "
                                                "read by a Ray cluster; add --ray ADDRESS (or copy them to a local "
                                                "folder)"]
    assert not (tmp_path / "out").exists()
