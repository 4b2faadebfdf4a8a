"""`scriptlens label --ray` on a real two-node Ray cluster started on 127.0.0.1 by the tests
(tests/scale_out/ray_cluster.py): byte-identical to a single-machine run, a corrupt image is a
row with its error, a worker node killed mid-run loses nothing, and --shard works with it."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("ray.data", reason='the ray extra is not installed (pip install -e ".[ray]"); CI runs these')

from cli.main import main  # noqa: E402
from engine.manifest import MANIFEST_NAME  # noqa: E402
from engine.shard import Shard  # noqa: E402
from scale_out.folders import DEMO_MODEL, demo_tree, files, manifest_core, small_tree  # noqa: E402
from scale_out.tiny_conv import tiny_conv_model  # noqa: E402

pytestmark = pytest.mark.ray


def label(model: Path, images: Path, out: Path, *extra: str) -> int:
    return main(["label", "--model", str(model), "--images", str(images), "--out", str(out), "--device", "cpu", *extra])


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """(images, single-machine output) for the demo model on the demo images, nested, with a
    corrupt image and two images sharing a label file."""
    images = demo_tree(tmp_path_factory.mktemp("demo") / "images")
    out = tmp_path_factory.mktemp("demo-one") / "labels"
    assert label(DEMO_MODEL, images, out, "--save-conf") == 0
    return images, out


@pytest.fixture(scope="module")
def thousand(tmp_path_factory):
    """(model, images, single-machine output): 1,000 small images in nested folders, a tiny
    real conv net whose float outputs depend on every pixel."""
    root = tmp_path_factory.mktemp("k")
    model = tiny_conv_model(root / "tiny_conv.torchscript")
    images = small_tree(root / "images", 1000)
    out = root / "one"
    assert label(model, images, out) == 0
    return model, images, out


def same_run(one: Path, cluster_out: Path) -> dict:
    """Cluster output == single-machine output: every file byte for byte, the manifest but
    for its date and the added `distributed`; returns the cluster run's manifest."""
    assert files(cluster_out) == files(one)
    assert manifest_core(cluster_out / MANIFEST_NAME) == manifest_core(one / MANIFEST_NAME)
    ours, theirs = (json.loads((d / MANIFEST_NAME).read_text()) for d in (cluster_out, one))
    assert ours["result"] == theirs["result"]
    assert not list(cluster_out.rglob("*.tmp"))
    return ours


def test_demo_byte_identical_with_corrupt_image(cluster, demo, tmp_path, capsys):
    images, one = demo
    out = tmp_path / "labels"
    assert label(DEMO_MODEL, images, out, "--save-conf", "--ray", cluster.address, "--actors", "2") == 0
    captured = capsys.readouterr()
    manifest = same_run(one, out)
    assert manifest["distributed"]["ray"]["nodes"] == 2 and manifest["distributed"]["ray"]["actors"] == 2
    assert manifest["result"]["failed"] == 2 and manifest["result"]["complete"]
    # the corrupt image is one row with its error; its neighbours in the block were labelled
    assert "skipped: " in captured.err and "broken.jpg: cannot read image" in captured.err
    assert "x.png: not labelled" in captured.err
    assert "2 failed" in captured.out and "ray: 2 model actor(s) on 2 node(s)" in captured.out


def test_thousand_nested_images_byte_identical(cluster, thousand, tmp_path):
    model, images, one = thousand
    out = tmp_path / "labels"
    start = time.perf_counter()
    assert label(model, images, out, "--ray", cluster.address, "--actors", "2") == 0
    print(f"ray, 2 nodes, 1000 images: {time.perf_counter() - start:.1f} s")
    assert same_run(one, out)["result"]["written"] == 1000


def test_rerun_skips_existing_and_finishes(cluster, thousand, tmp_path):
    """A run stopped part-way (here: 600 label files deleted) is finished by the same command."""
    model, images, one = thousand
    out = tmp_path / "labels"
    assert label(model, images, out, "--ray", cluster.address) == 0
    removed = sorted(p for p in out.rglob("img_*.txt"))[::5][:200]
    for p in removed:
        p.unlink()
    assert label(model, images, out, "--ray", cluster.address) == 0
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    assert manifest["result"]["written"] == 200 and manifest["result"]["skipped"] == 800
    assert files(out) == files(one)


@pytest.mark.parametrize("attempt", [1, 2, 3])
def test_killed_worker_node_loses_nothing(cluster, thousand, tmp_path, attempt):
    """The second node's raylet is SIGKILLed once the run is under way: the job completes on
    the head, every label file is whole, none is missing or written twice, counts are right."""
    model, images, one = thousand
    if cluster.worker is None or cluster.alive_nodes() < 2:
        cluster.stop_worker()
        cluster.start_worker()
    out = tmp_path / "labels"
    killed = threading.Event()

    def kill_when_under_way():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if out.is_dir() and sum(1 for _ in out.rglob("img_*.txt")) >= 150:
                cluster.kill_worker_node()
                killed.set()
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_when_under_way, daemon=True)
    killer.start()
    assert label(model, images, out, "--ray", cluster.address, "--actors", "2") == 0
    killer.join(5)
    assert killed.is_set(), "the run ended before the worker node could be killed"
    done = sum(1 for _ in out.rglob("img_*.txt"))
    assert done == 1000
    same_run(one, out)
    cluster.stop_worker()


def test_shards_on_the_cluster_union_is_the_full_run(cluster, demo, tmp_path):
    images, one = demo
    if cluster.worker is None:
        cluster.start_worker()
    out = tmp_path / "labels"
    for i in range(2):
        assert label(DEMO_MODEL, images, out, "--save-conf", "--ray", cluster.address, "--shard", f"{i}/2") == 0
    assert files(out) == files(one)
    for i in range(2):
        assert manifest_core(out / Shard(i, 2).manifest_name) == manifest_core(one / MANIFEST_NAME)


def test_no_cluster_at_address_is_one_line_before_the_model_loads(tmp_path):
    """`--ray HOST:PORT` where nothing listens (a free port on another loopback address): one
    error line naming what to do, at once, before the model loads; nothing written."""
    import subprocess
    import sys

    from scale_out.ray_cluster import free_port

    address = f"127.0.0.4:{free_port()}"
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "cli.main", "label", "--model", str(DEMO_MODEL), "--images",
                           str(DEMO_MODEL.parent / "images"), "--out", str(tmp_path / "out"), "--ray", address],
                          cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True, timeout=120)
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert proc.returncode == 1, proc.stderr
    assert len(errors) == 1 and f"--ray {address}: no Ray cluster answers there" in errors[0], proc.stderr
    assert "ray start --head" in errors[0]
    assert "thresholds:" not in proc.stdout  # refused before the model was loaded
    assert not (tmp_path / "out").exists()
    assert time.perf_counter() - start < 60  # not ray.init's minutes of retrying
