"""`scriptlens label --ray ADDRESS`: the same run on a Ray cluster, through Ray Data.

The one module that imports Ray (an import-linter contract keeps it so; nothing imports it
unless --ray is given). The pipeline is the single-machine run split into stages
(engine.remote_stages):

    image paths -> read + letterbox (CPU tasks) -> forward + decode in an actor pool
    (one model per actor, loaded once; one image per forward, as on one machine) -> the driver

and the driver does the rest exactly as a single-machine run does, with the same code:
cli.label_items applies the thresholds, engine.export writes every label file (atomically),
classes.txt, data.yaml and the manifest. Why the driver writes: --out is the driver's folder
(a worker on another node would write to its own disk), every label file is written once even
when Ray re-runs a task after a node died (counts stay exact: no duplicate, no half file), and
whatever engine.export does to labels (today and later) is what a cluster run does. Label
files are tiny; the forward pass is the cost that needs the cluster (README "Scaling out").

Byte-identical floats: every actor forwards one image at a time with the driver's torch
thread count (engine.cpu_features.FORWARD_THREADS_ENV), as the single-machine run does.
"""

from __future__ import annotations

import heapq
import logging
import os
import pickle
import tempfile
import warnings
from pathlib import Path
from typing import Iterable, Iterator

from engine.cpu_features import FORWARD_THREADS_ENV, forward_threads
from engine.errors import ModelLoadError, ScriptLensError, UsageError

INSTALL_HINT = 'pip install -e ".[ray]" (in a checkout) or pip install "scriptlens[ray]"'
BLOCK_IMAGES = 16  # images per Ray Data block/batch: small enough to spread 1,000 images, big enough to amortise a task


def import_ray():
    """Ray, or a UsageError saying how to install it (exit 2, before the model loads)."""
    try:
        import ray
        import ray.data  # noqa: F401  (the extra installs ray[data]; plain ray lacks pyarrow)
    except ImportError as exc:
        raise UsageError(f"--ray needs Ray Data, which is not installed ({exc}); install it with: {INSTALL_HINT}") from None
    return ray


def connect(address: str):
    """ray.init on the cluster at `address` ("auto": the one Ray finds, as ray.init does)."""
    ray = import_ray()
    if ray.is_initialized():
        return ray
    _check_answers(address)
    try:
        ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False,
                 runtime_env={"env_vars": {FORWARD_THREADS_ENV: str(forward_threads()),
                                           "OPENCV_LOG_LEVEL": os.environ.get("OPENCV_LOG_LEVEL", "ERROR")}})
    except (ConnectionError, RuntimeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0].rstrip(".") if str(exc).strip() else type(exc).__name__
        raise ScriptLensError(f"--ray {address}: cannot connect to a Ray cluster: {first}. Start one with "
                              "`ray start --head` (and `ray start --address HEAD:6379` on the other machines), "
                              "then give its address or auto") from None
    # label prints its own progress and summary; Ray Data's tuning advice (block counts...) is for Ray users
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module=r"ray(\.|$)")
    return ray


def _check_answers(address: str) -> None:
    """HOST:PORT where nothing listens: say so now. ray.init itself retries such an address for
    minutes (measured: still waiting after 3.5 min with Ray 2.60)."""
    import re
    import socket

    m = re.fullmatch(r"(?:ray://)?\[?([^\]/]+?)\]?:(\d+)", address.strip())
    if not m:
        return  # "auto", or a form Ray understands and we do not: let ray.init judge
    host, port = m.group(1), int(m.group(2))
    try:
        socket.create_connection((host, port), timeout=5).close()
    except OSError as exc:
        raise ScriptLensError(f"--ray {address}: no Ray cluster answers there ({exc.strerror or exc}). Start one with "
                              "`ray start --head` (and `ray start --address HEAD:6379` on the other machines), "
                              "then give its address or auto") from None


class ModelActor:
    """One model per actor, loaded once from the bytes the driver put in the object store
    (no shared disk needed for the model); checked to be the model the driver loaded."""

    def __init__(self, model_ref: list, file_name: str, load: dict, expect: dict) -> None:
        import ray

        from engine.pipeline import Detector

        self.folder = tempfile.mkdtemp(prefix="scriptlens-model-")
        path = Path(self.folder) / file_name
        path.write_bytes(ray.get(model_ref[0]))
        self.det = Detector.load(path, **load)
        got = _identity(self.det.info)
        if got != expect:
            raise ModelLoadError(f"the model loaded on a Ray worker differs from the driver's: {got} != {expect}")

    def __call__(self, batch):
        import pyarrow as pa

        from engine.remote_stages import predict_letterboxed

        out = []
        for path, payload in zip(batch.column("path").to_pylist(), batch.column("item").to_pylist()):
            item = pickle.loads(payload)  # our own read task's output (never a user's file)
            result = item if isinstance(item, ScriptLensError) else predict_letterboxed(self.det, item, path)
            out.append(pickle.dumps(result))
        return pa.table({"i": batch.column("i"), "path": batch.column("path"), "result": pa.array(out, pa.binary())})


def read_batch(batch, info, cwd: str, store=None):
    """CPU task: read + letterbox each image of the batch (engine.remote_stages). Paths are
    the driver's, as given (relative ones too: every message names an image as on one
    machine), so the task reads from the driver's working folder; a Ray worker process runs
    only this job's tasks, so changing its folder affects nothing else."""
    import pyarrow as pa

    from engine.remote_stages import read_letterboxed

    if os.getcwd() != cwd and os.path.isdir(cwd):
        os.chdir(cwd)

    read_bytes = store.read_bytes if store is not None else None  # --images s3://... (engine.object_store)
    items = [pickle.dumps(read_letterboxed(p, info, read_bytes)) for p in batch.column("path").to_pylist()]
    return pa.table({"i": batch.column("i"), "path": batch.column("path"), "item": pa.array(items, pa.binary())})


def _identity(info) -> dict:
    return {"layout": info.layout, "input_hw": list(info.input_hw), "names": list(info.names), "batch": info.batch,
            "anchors": info.anchors, "score_is_obj": info.score_is_obj,
            "backend": info.backend}  # ONNX Runtime on the driver, TorchScript on a worker: other bits


class RayPredictions:
    """`LabelItems`' prediction source on a cluster: paths in, (path, Prediction or
    ScriptLensError) out, in input order, one per path -- as `Detector.predict_paths`."""

    def __init__(self, det, args) -> None:
        self.ray = connect(args.ray)
        self.det, self.args = det, args
        resources = self.ray.cluster_resources()
        self.gpus = int(resources.get("GPU", 0)) if args.device != "cpu" else 0
        self.cpus = max(1, int(resources.get("CPU", 1)))
        self.actors = args.actors or (self.gpus or max(1, self.cpus // 2))
        self.nodes = len([n for n in self.ray.nodes() if n.get("Alive")])
        self.store = getattr(args, "images_store", None)  # --images s3://...: the read tasks read from it

    def described(self) -> dict:
        """How the run was distributed (the manifest's one addition)."""
        return {"ray": {"version": self.ray.__version__, "actors": self.actors, "nodes": self.nodes,
                        "gpus_per_actor": 1 if self.gpus else 0}}

    def line(self) -> str:
        where = f"{self.gpus} GPU(s)" if self.gpus else "CPUs"
        return f"ray: {self.actors} model actor(s) on {self.nodes} node(s), {where}"

    def __call__(self, paths: Iterable[Path]) -> Iterator[tuple[Path, object]]:
        paths = list(paths)
        if not paths:
            return iter(())
        return self._run(paths)

    def _dataset(self, paths: list[Path]):
        ray = self.ray
        ctx = ray.data.DataContext.get_current()
        ctx.execution_options.preserve_order = True  # rows come back in input order (a heap fixes any slip)
        ctx.enable_progress_bars = False  # label's own bar shows images/s and the ETA
        info = self.det.info
        model_ref = [ray.put(Path(info.path).read_bytes())]
        load = {"device": self.args.device, "half": self.args.half, "imgsz": tuple(info.input_hw),
                "names": list(info.names), "anchors": info.anchors, "backend": self.args.backend}
        rows = [{"i": i, "path": str(p)} for i, p in enumerate(paths)]
        blocks = max(1, (len(rows) + BLOCK_IMAGES - 1) // BLOCK_IMAGES)
        ds = ray.data.from_items(rows, override_num_blocks=blocks)
        # a task lost with its node is run again (max_retries); our functions return errors, never raise
        # Fault tolerance is Ray Data's defaults (2.60): a task lost with its node runs again
        # (max_retries 3), an actor is restarted elsewhere (max_restarts -1) and its batch retried;
        # tasks and actors are spread over the nodes. Our functions return errors, never raise.
        # Read tasks reserve no CPU, at most one per cluster CPU at a time: when a node dies, its
        # actor is restarted on the CPUs left, and read tasks that needed a CPU of their own could
        # then never be scheduled (seen here: 2 actors on a 2-CPU head, the run stalled). A
        # different request from the actors' also keeps Ray Data from fusing reading into them,
        # so reading scales with the cluster's CPUs, not with the model copies.
        ds = ds.map_batches(read_batch, fn_kwargs={"info": info, "cwd": os.getcwd(), "store": self.store}, batch_format="pyarrow",
                            batch_size=BLOCK_IMAGES, num_cpus=0, compute=ray.data.TaskPoolStrategy(size=self.cpus))
        return ds.map_batches(ModelActor, fn_constructor_kwargs={"model_ref": model_ref, "file_name": Path(info.path).name,
                                                                 "load": load, "expect": _identity(info)},
                              batch_format="pyarrow", batch_size=BLOCK_IMAGES, compute=_actor_pool(ray, self.actors),
                              num_gpus=1 if self.gpus else 0, num_cpus=1)

    def _run(self, paths: list[Path]) -> Iterator[tuple[Path, object]]:
        try:
            yield from self._ordered(paths)
        except ScriptLensError:
            raise
        except Exception as exc:  # Ray gave up (a model that fails to load on a worker, a lost driver node...)
            cause = getattr(exc, "cause", None) or exc  # RayTaskError wraps the worker's exception
            first = (str(cause).strip().splitlines() or [type(cause).__name__])[-1]
            raise ScriptLensError(f"the Ray run stopped: {type(cause).__name__}: {first}; the label files written "
                                  "so far are complete, run the same command again to finish") from None

    def _ordered(self, paths: list[Path]) -> Iterator[tuple[Path, object]]:
        pending: list[tuple[int, bytes]] = []
        next_i = 0
        for batch in self._dataset(paths).iter_batches(batch_format="pyarrow", batch_size=None):
            for i, result in zip(batch.column("i").to_pylist(), batch.column("result").to_pylist()):
                if i >= next_i:  # a row seen twice (a retried block) is ignored
                    heapq.heappush(pending, (i, result))
            while pending and pending[0][0] <= next_i:
                i, result = heapq.heappop(pending)
                if i == next_i:
                    yield paths[i], pickle.loads(result)  # our actor's output
                    next_i += 1
        if next_i != len(paths):
            raise ScriptLensError(f"the Ray run returned {next_i} of {len(paths)} images; run the same command again "
                                  "to finish (existing labels are skipped)")


def _actor_pool(ray, size: int):
    """A fixed-size actor pool. Ray moved this API twice: `compute=ActorPoolStrategy(size=)`
    (2.9+), `concurrency=N` (2.10-2.4x, deprecated again by 2.60); ActorPoolStrategy is the
    form 2.60 asks for (the version pinned in pyproject's ray extra)."""
    return ray.data.ActorPoolStrategy(size=size)
