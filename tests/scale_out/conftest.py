"""The scale-out tests' servers, started once per session and ended after: a two-node Ray
cluster (ray_cluster.py) and an S3-compatible server (s3_server.py), both on the loopback.
Nothing here imports Ray or moto unless a test asks for them (test_no_ray runs without)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def cluster():
    """Head (2 CPUs) + worker (1 CPU). Its nodes hold the S3 test server's dummy credentials,
    as a real cluster's nodes hold their own (engine.object_store passes none around)."""
    pytest.importorskip("ray.data", reason='the ray extra is not installed (pip install -e ".[ray]"); CI runs these')
    import ray

    from scale_out.ray_cluster import LocalCluster
    from scale_out.s3_server import CREDENTIALS

    c = LocalCluster(worker_cpus=1, head_cpus=2, env=CREDENTIALS)
    try:
        c.start()
        yield c
    finally:
        ray.shutdown()  # the test process is the driver (label runs in-process)
        c.stop()


@pytest.fixture(scope="session")
def s3():
    """moto's S3 server on 127.0.0.1 with a bucket `scriptlens`; this process (the driver)
    points at it through AWS_ENDPOINT_URL, as a user would."""
    pytest.importorskip("pyarrow.fs", reason='the ray extra is not installed (pip install -e ".[ray]"); CI runs these')
    pytest.importorskip("moto", reason='moto is not installed (pip install -e ".[ray,scale-out-test]"); CI runs these')
    from scale_out.s3_server import CREDENTIALS, S3Server

    server = S3Server()
    with pytest.MonkeyPatch.context() as env:
        try:
            server.start()
            for k, v in {**CREDENTIALS, "AWS_ENDPOINT_URL": server.endpoint}.items():
                env.setenv(k, v)
            server.make_bucket("scriptlens")
            yield server
        finally:
            server.stop()
