"""Batch scheduling: many image paths through one `Predictor`, on thread pools, in input order.

Per-image failures are yielded as the `ScriptLensError`, never raised: one bad file (or one
unexpected exception, translated by `engine.run_errors`) must not stop a batch.

Batch-1 models (most traced exports) run image-parallel: each of `workers` threads reads,
letterboxes, runs and decodes whole images (`Predictor.predict_one`), with torch's intra-op
threads split between them. On few cores this beats one multi-threaded forward plus reader
threads, which fight the forward's threads for the same cores (measured on 2 cores: ~0.5x of
pure forward throughput that way, >= 0.9x this way). Fixed-batch models get batches: images
are read and letterboxed ahead on a pool, full batches run on the calling thread
(`Predictor.read` / `Predictor.run`). Both give each image the same `Prediction` as
`Predictor.predict_path` (tests/engine/test_pipeline.py).
"""

from __future__ import annotations

import itertools
import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Iterable, Iterator

from .cpu_features import forward_threads
from .errors import ScriptLensError
from .prediction import Prediction
from .predictor import PreparedImage, Predictor
from .run_errors import unexpected_failure

Result = Prediction | ScriptLensError


def predict_paths(predictor: Predictor, paths: Iterable[Path], *, workers: int | None = None,
                  lookahead: int = 4) -> Iterator[tuple[Path, Result]]:
    """Predict many images, yielded in input order as (path, Prediction or ScriptLensError)."""
    paths = list(paths)
    cpus = os.cpu_count() or 1
    if predictor.info.batch > 1:  # workers read images; one batch at a time runs the model
        yield from _fixed_batches(predictor, paths, max(1, workers or min(4, cpus)), lookahead)
    elif getattr(predictor.backend, "thread_invariant", False):
        # ONNX Runtime sessions whose outputs were measured bit-identical with 1 thread and with
        # forward_threads() (engine.onnx_backend.thread_invariant): one single-threaded session
        # per core runs images side by side, with the window's bits (measured on 2 cores: the demo
        # at 512, 2 x 1 thread ~1.5x the images/s of 1 x 2 threads)
        yield from _image_parallel(predictor, paths, max(1, workers or cpus), lookahead, 1)
    else:  # as many images at once as forward_threads() fits in the cores (the window's bits)
        yield from _image_parallel(predictor, paths, max(1, workers or cpus // forward_threads()), lookahead,
                                   forward_threads())


def _outcome(future: Future, path: Path):
    """A future's value; an exception that escaped the predictor is this image's error."""
    try:
        return future.result()
    except Exception as exc:
        return unexpected_failure(exc, path)


def _read(predictor: Predictor, path: Path) -> PreparedImage | ScriptLensError:
    try:
        return predictor.read(path)
    except Exception as exc:
        return unexpected_failure(exc, path)


def _image_parallel(predictor: Predictor, paths: list[Path], workers: int, lookahead: int,
                    threads_each: int) -> Iterator[tuple[Path, Result]]:
    with predictor.backend.intra_op_threads(threads_each), ThreadPoolExecutor(
        max_workers=workers, thread_name_prefix="scriptlens-predict"
    ) as pool:
        pending: deque[tuple[Path, Future]] = deque()
        it = iter(paths)
        for p in itertools.islice(it, workers + lookahead):
            pending.append((p, pool.submit(predictor.predict_one, p)))
        while pending:
            p, future = pending.popleft()
            nxt = next(it, None)
            if nxt is not None:
                pending.append((nxt, pool.submit(predictor.predict_one, nxt)))
            yield p, _outcome(future, p)


def _fixed_batches(predictor: Predictor, paths: list[Path], workers: int, lookahead: int) -> Iterator[tuple[Path, Result]]:
    size = predictor.info.batch
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="scriptlens-read") as pool:
        futures: list[Future | None] = [pool.submit(_read, predictor, p) for p in paths[: lookahead + size]]
        next_submit = len(futures)
        i = 0
        while i < len(paths):
            group: list[tuple[Path, PreparedImage]] = []
            while i < len(paths) and len(group) < size:
                prepared = _outcome(futures[i], paths[i])
                futures[i] = None  # free the tensor as soon as it is used
                if next_submit < len(paths):
                    futures.append(pool.submit(_read, predictor, paths[next_submit]))
                    next_submit += 1
                if isinstance(prepared, ScriptLensError):
                    yield paths[i], prepared
                else:
                    group.append((paths[i], prepared))
                i += 1
            if not group:
                continue
            try:
                predictions: list[Result] = predictor.run([g[1] for g in group])
            except Exception as exc:  # the batch failed: every image in it failed the same way
                error = unexpected_failure(exc)
                predictions = [error] * len(group)
            for (p, _), result in zip(group, predictions):
                yield p, result
