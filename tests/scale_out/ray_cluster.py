"""A real two-node Ray cluster on the loopback for the tests: `ray start --head --block` (2 CPUs)
and `ray start --block --address ...` (1 CPU), each in its own process group and temporary
folder. `ray start --block` does not end its children on SIGTERM, so teardown signals the
whole group, then every process the nodes started (Ray's workers start their own sessions).

Loopback only: Ray turns "127.0.0.1" (and "localhost", "::1") into the machine's routable
address, in `--node-ip-address` and in `--address` alike, so the nodes use two other loopback
addresses, which Ray keeps: the head 127.0.0.2, the worker 127.0.0.3. A driver on this host
(the test process) finds its node by the local raylets (Ray 2.60), not by its own address."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RAY = str(Path(sys.executable).with_name("ray"))
HEAD_IP, WORKER_IP = "127.0.0.2", "127.0.0.3"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalCluster:
    def __init__(self, worker_cpus: int = 1, head_cpus: int = 2, env: dict[str, str] | None = None) -> None:
        self.env = dict(env or {})  # added to the nodes' environment (their workers inherit it)
        # short path: Ray's unix sockets live under it (107-character limit)
        self.tmp = Path(tempfile.mkdtemp(prefix="rt", dir="/tmp"))
        self.port = free_port()
        self.address = f"{HEAD_IP}:{self.port}"  # the head's GCS
        self.head_cpus, self.worker_cpus = head_cpus, worker_cpus
        self.head = self.worker = None
        self.started: list[int] = []  # every `ray start` pid, for the final sweep

    def _start(self, *args: str, ip: str, log: str) -> subprocess.Popen:
        env = {**os.environ, **self.env, "RAY_USAGE_STATS_ENABLED": "0"}
        with open(self.tmp / log, "wb") as f:
            proc = subprocess.Popen([RAY, "start", "--block", "--disable-usage-stats", "--node-ip-address", ip,
                                     "--temp-dir", str(self.tmp), *args], stdout=f, stderr=subprocess.STDOUT,
                                    start_new_session=True, env=env)
        self.started.append(proc.pid)
        return proc

    def start(self, timeout: float = 90.0) -> "LocalCluster":
        self.head = self._start("--head", "--port", str(self.port), "--num-cpus", str(self.head_cpus), "--num-gpus", "0",
                                "--include-dashboard", "false", "--object-store-memory", str(200 << 20), ip=HEAD_IP, log="head.log")
        self.wait_nodes(1, timeout)
        self.start_worker(timeout)
        return self

    def start_worker(self, timeout: float = 90.0) -> None:
        self.worker = self._start("--address", self.address, "--num-cpus", str(self.worker_cpus), "--num-gpus", "0",
                                  "--object-store-memory", str(100 << 20), ip=WORKER_IP, log="worker.log")
        self.wait_nodes(2, timeout)

    def alive_nodes(self) -> int:
        out = subprocess.run([sys.executable, "-c", "import ray,sys; ray.init(address=sys.argv[1], logging_level='ERROR');"
                              "print(sum(1 for n in ray.nodes() if n['Alive']))", self.address],
                             capture_output=True, text=True, timeout=60)
        return int(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 and out.stdout.strip() else 0

    def wait_nodes(self, n: int, timeout: float) -> None:
        """Until `n` nodes are up: each `ray start` says so in its log, then the GCS is asked once."""
        deadline = time.monotonic() + timeout
        logs = ["head.log", "worker.log"][:n]
        while time.monotonic() < deadline:
            for proc, name in ((self.head, "head"), (self.worker, "worker")):
                if proc is not None and proc.poll() is not None:
                    raise RuntimeError(f"ray {name} exited: {(self.tmp / f'{name}.log').read_text()[-2000:]}")
            if all("Ray runtime started" in (self.tmp / log).read_text(errors="replace") for log in logs):
                while time.monotonic() < deadline:
                    if self.alive_nodes() >= n:
                        return
                    time.sleep(1.0)
            time.sleep(0.5)
        raise TimeoutError(f"the Ray cluster did not reach {n} nodes in {timeout:.0f} s")

    def worker_raylet_pid(self) -> int | None:
        """The raylet of the second node (in the worker's process group)."""
        pgid = self.worker.pid
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if os.getpgid(int(entry.name)) != pgid:
                    continue
                cmd = (entry / "cmdline").read_bytes().split(b"\0")[0]
            except (OSError, ProcessLookupError):
                continue
            if cmd.endswith(b"/raylet") or cmd.endswith(b"raylet"):
                return int(entry.name)
        return None

    def kill_worker_node(self) -> None:
        pid = self.worker_raylet_pid()
        assert pid is not None, "no raylet in the worker node's process group"
        os.kill(pid, signal.SIGKILL)

    def _end(self, proc: subprocess.Popen | None) -> None:
        if proc is None:
            return
        descendants = _descendants(proc.pid)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                continue
            time.sleep(0.5)  # the group's other members, after the leader
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for pid in descendants:  # Ray's worker processes, each in a session of its own
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def stop_worker(self) -> None:
        self._end(self.worker)
        self.worker = None

    def stop(self) -> None:
        self.stop_worker()
        self._end(self.head)
        self.head = None
        subprocess.run(["rm", "-rf", str(self.tmp)], check=False)


def _descendants(root: int) -> list[int]:
    """Every process below `root` now (by parent pid, from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out
