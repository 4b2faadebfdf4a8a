"""A real S3-compatible server on 127.0.0.1 for the tests: moto's server mode (`moto_server`,
the `moto[server]` package pinned in the scale-out-test extra), in its own process group on a
free port, ended with its group. Not a mock object: pyarrow's own S3 client (the AWS C++ SDK)
talks HTTP to it, as it would to S3 or MinIO."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MOTO = str(Path(sys.executable).with_name("moto_server"))
# moto accepts any credentials; set so that no AWS client looks for real ones (nor asks the
# EC2 metadata service, which waits on a timeout off EC2)
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "scriptlens-test", "AWS_SECRET_ACCESS_KEY": "scriptlens-test",
               "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class S3Server:
    def __init__(self) -> None:
        self.port = _free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log = Path(tempfile.mkdtemp(prefix="moto")) / "moto.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> "S3Server":
        with open(self.log, "wb") as f:
            self.proc = subprocess.Popen([MOTO, "-H", "127.0.0.1", "-p", str(self.port)], stdout=f,
                                         stderr=subprocess.STDOUT, start_new_session=True,
                                         env={**os.environ, **CREDENTIALS})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"moto_server exited: {self.log.read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.2)
        raise TimeoutError(f"moto_server did not listen on port {self.port} in {timeout:.0f} s")

    def make_bucket(self, name: str) -> None:
        import pyarrow.fs as pafs

        pafs.S3FileSystem(endpoint_override=f"127.0.0.1:{self.port}", scheme="http", region="us-east-1",
                          access_key=CREDENTIALS["AWS_ACCESS_KEY_ID"], secret_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                          allow_bucket_creation=True).create_dir(name)

    def stop(self) -> None:
        if self.proc is None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.proc.pid, sig)
                self.proc.wait(timeout=10)
                break
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue
        self.proc = None
