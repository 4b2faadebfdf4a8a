"""The folder scan for the threshold panel, as a plain object (no Qt, no threads).

`FolderScorer` scores every image of a `StatsRequest` at the candidate floor
(gui/folder_stats.py says why), a slice at a time: `step(deadline)` works until `deadline`
(a `time.perf_counter()` value), runs the model at most ONCE, and returns a `ScanStep` with the
progress and, when the last image is done, the `FolderStats`. The worker calls it once per turn
and re-queues the request, so image requests get in between slices; tests call it in a loop.

What it keeps between steps and requests (reset when the request's key -- model, NMS settings,
ground truth, floor -- changes): each image's `ImageScore`, the images that failed, the images
whose label file is unreadable (left out, as in `scriptlens eval`), the adaptive batch size.

Nothing that goes wrong with ONE image stops the scan: a `ScriptLensError` or any unexpected
exception while predicting, reading its labels or scoring it counts that image as failed
(`FolderStats.failed`), and the scan goes on.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from engine.batched_thresholds import select_batch
from engine.candidates import Candidates
from engine.detections import Detections
from engine.errors import ScriptLensError
from engine.ground_truth_reader import GroundTruthReader
from engine.prediction import Prediction, StageTimings

from .candidate_cache import CandidateCache
from .folder_stats import BatchSizer, FolderStats, ImageScore, StatsRequest, build_scored_folder, floor_thresholds, score_batch

log = logging.getLogger(__name__)

PredictPath = Callable[[Path], Prediction]  # e.g. `engine.pipeline.Detector.predict_path`


@dataclass(frozen=True)
class ScanPrediction:
    """An image the scan ran the model on (its candidates are in the cache already)."""

    path: Path
    candidates: Candidates
    timings: StageTimings


@dataclass(frozen=True)
class ScanStep:
    request_id: int
    done: int  # images handled so far, in folder order (scored, failed or left out)
    total: int
    predicted: tuple[ScanPrediction, ...] = ()  # the model runs of this step
    stats: FolderStats | None = None  # the result, with the last step

    @property
    def finished(self) -> bool:
        return self.stats is not None


class FolderScorer:
    """Scores one folder scan at a time; see the module docstring.

    `should_pause()`: asked before each model run; True (an image request is waiting) ends the
    step before the run. Without it, a step runs the model at most once anyway."""

    def __init__(self, cache: CandidateCache, should_pause: Callable[[], bool] = lambda: False) -> None:
        self._cache = cache
        self._should_pause = should_pause
        self._request: StatsRequest | None = None
        self._predict: PredictPath | None = None
        self._next = 0
        self._key: tuple | None = None
        self._batch = BatchSizer()
        self._scores: dict[str, ImageScore] = {}
        self._failed: dict[str, str] = {}  # image -> why it could not be scored
        self._unreadable: dict[str, str] = {}  # image -> its label file's error (left out)
        # label files, parsed once per file version (not once per NMS change): one reader per
        # (source, class count), re-reading a file when its mtime or size changes
        self._gt_reader: GroundTruthReader | None = None

    @property
    def request(self) -> StatsRequest | None:
        """The scan in progress (None before the first `start`)."""
        return self._request

    def start(self, request: StatsRequest, predict_path: PredictPath | None) -> None:
        """Begin (or restart) scoring `request` from `request.start`. `predict_path` runs the
        model on an image that is not in the cache; None: such images count as failed."""
        if request.key != self._key:
            self._key = request.key
            self._batch.reset()
            self._scores, self._failed, self._unreadable = {}, {}, {}
        self._request, self._predict, self._next = request, predict_path, request.start

    def step(self, deadline: float) -> ScanStep:
        """Score images until `deadline` (`time.perf_counter()`): at least one image, at most one
        model run. Returns the progress; the last step carries the `FolderStats`."""
        req = self._request
        if req is None:
            raise RuntimeError("FolderScorer.step before start")
        thresholds = floor_thresholds(req.iou, req.agnostic, req.max_det, req.floor)
        predicted: list[ScanPrediction] = []
        # cached images are scored in batches (engine.batched_*): per image, NMS and matching
        # on a dozen boxes are mostly numpy call overhead
        pending: list[tuple[str, Candidates, Detections | None]] = []
        i, n = self._next, len(req.paths)
        ran_model = False
        while i < n:
            path = req.paths[i]
            key = str(path)
            if key not in self._scores and key not in self._failed and key not in self._unreadable:
                candidates = self._cache.get(req.model_id, path)
                if candidates is None:
                    if ran_model or self._should_pause():
                        break  # one model run per step; an image request waits
                    ran_model = True
                    candidates = self._run_model(req, path, predicted)
                if candidates is not None:
                    ok, gt = self._ground_truth(req, path, candidates)
                    if ok:
                        pending.append((key, candidates, gt))
                        if len(pending) >= self._batch.size:
                            self._score(pending, thresholds)
            i += 1
            if time.perf_counter() > deadline:
                break
        self._score(pending, thresholds)
        self._next = i
        stats = self._result(req) if i >= n else None
        return ScanStep(req.id, i, n, tuple(predicted), stats)

    def run(self) -> FolderStats:
        """The whole scan at once (no deadline; still one model run per step)."""
        while True:
            step = self.step(math.inf)
            if step.stats is not None:
                return step.stats

    # ---- one image -----------------------------------------------------------------------
    def _fail(self, key: str, exc: BaseException, what: str) -> None:
        if isinstance(exc, ScriptLensError):
            log.info("folder scan: %s failed: %s", key, exc)
        else:  # a bug somewhere: say where, but only this image pays for it
            log.warning("folder scan: %s failed while %s", key, what, exc_info=exc)
        self._failed[key] = str(exc) or type(exc).__name__

    def _run_model(self, req: StatsRequest, path: Path, predicted: list[ScanPrediction]) -> Candidates | None:
        if self._predict is None:
            self._failed[str(path)] = "no model to score it"
            return None
        try:
            prediction = self._predict(path)
        except Exception as exc:
            self._fail(str(path), exc, "predicting")
            return None
        self._cache.put(req.model_id, path, prediction.candidates)
        predicted.append(ScanPrediction(path, prediction.candidates, prediction.timings))
        return prediction.candidates

    def _ground_truth(self, req: StatsRequest, path: Path, candidates: Candidates) -> tuple[bool, Detections | None]:
        """(take part in the metrics, ground truth: None without a source, empty when unlabelled)."""
        if req.gt_source is None:
            return True, None
        try:
            h, w = candidates.geometry.source_hw
            read = self._reader(req).read(path, (w, h))
        except Exception as exc:
            self._fail(str(path), exc, "reading its labels")
            return False, None
        if not read.scored:  # left out, as in `scriptlens eval`
            self._unreadable[str(path)] = read.error
            return False, None
        return True, read.detections

    def _reader(self, req: StatsRequest) -> GroundTruthReader:
        reader = self._gt_reader
        if reader is None or reader.source != req.gt_source or reader.num_classes != req.num_classes:
            reader = self._gt_reader = GroundTruthReader(req.gt_source, req.num_classes)
        return reader

    def _score(self, pending: list[tuple[str, Candidates, Detections | None]], thresholds) -> None:
        """Score the pending images in one batched call; if that raises, one by one, so only the
        image that raises fails."""
        if not pending:
            return
        started = time.perf_counter()
        try:
            scores = score_batch(select_batch([c for _, c, _ in pending], thresholds), [g for _, _, g in pending])
        except Exception as exc:
            log.warning("folder scan: batched scoring failed (%s); scoring %d images one by one", exc, len(pending))
            for key, candidates, gt in pending:
                try:
                    self._scores[key] = score_batch(select_batch([candidates], thresholds), [gt])[0]
                except Exception as one:
                    self._fail(key, one, "scoring")
        else:
            self._scores.update((key, score) for (key, _, _), score in zip(pending, scores))
            self._batch.update(time.perf_counter() - started, len(pending))
        pending.clear()

    # ---- the result ----------------------------------------------------------------------
    def _result(self, req: StatsRequest) -> FolderStats:
        keys = [str(p) for p in req.paths]
        images = {k: self._scores[k] for k in keys if k in self._scores}
        scored = build_scored_folder(list(images.values()), req.num_classes, req.gt_source is not None)
        unreadable = tuple(self._unreadable[k] for k in keys if k in self._unreadable)
        failed = sum(1 for k in dict.fromkeys(keys) if k in self._failed)
        return FolderStats(req.id, req.key, scored, images, failed, unreadable, req.floor,
                           failed_images={k: self._failed[k] for k in keys if k in self._failed},
                           unreadable_images={k: self._unreadable[k] for k in keys if k in self._unreadable})
