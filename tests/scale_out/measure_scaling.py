"""README "Scaling out" figures: `label` on one machine, then `--ray` on a local cluster of 1
node (head, 2 CPUs) and of 2 nodes (2 + 1 CPUs), over the same 1,000 nested images and the
tiny conv detector; every cluster run checked byte for byte against the single-machine one.

    PYTHONPATH=.:tests python -m scale_out.measure_scaling [N_IMAGES]   (from the repository root)
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

from cli.main import main
from scale_out.folders import files, small_tree
from scale_out.ray_cluster import LocalCluster
from scale_out.tiny_conv import tiny_conv_model


def timed(model: Path, images: Path, out: Path, *extra: str) -> float:
    start = time.perf_counter()
    rc = main(["label", "--model", str(model), "--images", str(images), "--out", str(out), "--device", "cpu", *extra])
    assert rc == 0
    return time.perf_counter() - start


def run(n: int) -> None:
    import ray

    root = Path(tempfile.mkdtemp(prefix="scaling"))
    model = tiny_conv_model(root / "tiny.torchscript")
    images = small_tree(root / "images", n)
    rows = [("one machine", timed(model, images, root / "one"))]
    cluster = LocalCluster()
    try:
        cluster.head = cluster._start("--head", "--port", str(cluster.port), "--num-cpus", "2", "--num-gpus", "0",
                                      "--include-dashboard", "false", "--object-store-memory", str(200 << 20),
                                      ip="127.0.0.2", log="head.log")
        cluster.wait_nodes(1, 120)
        for nodes in (1, 2):
            if nodes == 2:
                cluster.start_worker()
            out = root / f"ray{nodes}"
            seconds = timed(model, images, out, "--ray", cluster.address, "--actors", str(nodes))
            assert files(out) == files(root / "one")
            rows.append((f"ray, {nodes} node(s), {nodes} actor(s)", seconds))
            ray.shutdown()  # the next run connects afresh and sees the new node
    finally:
        ray.shutdown()
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
    for name, seconds in rows:
        print(f"{name:32s} {seconds:6.1f} s  {n / seconds:6.1f} images/s")


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
