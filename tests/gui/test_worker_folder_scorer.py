"""gui.folder_scorer.FolderScorer driven by `step()` on this thread (no Qt, no worker): slices
equal one shot, one model run per step, and an image that raises anything is counted as failed
while the scan goes on -- in the scorer and through the engine worker."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from engine.candidates import Candidates
from engine.errors import ImageReadError
from engine.ground_truth import GroundTruthSource
from engine.letterbox import letterbox
from engine.prediction import Prediction, StageTimings
from gui.candidate_cache import CandidateCache
from gui.folder_scorer import FolderScorer
from gui.folder_stats import FolderStats, StatsRequest

MODEL = 1
NC = 3


def _candidates(rng: np.random.Generator, n: int) -> Candidates:
    _, geom = letterbox(np.zeros((320, 320, 3), np.uint8), (320, 320))
    xy = rng.uniform(0, 280, (n, 2)).astype(np.float32)
    wh = rng.uniform(10, 60, (n, 2)).astype(np.float32)
    return Candidates(np.concatenate([xy, xy + wh], 1), rng.uniform(0.001, 1, n).astype(np.float32),
                      rng.integers(0, NC, n).astype(np.int64), geom)


@pytest.fixture
def folder(tmp_path):
    """24 images (names only: every one is cached), labels for most, one label file unreadable."""
    rng = np.random.default_rng(7)
    images, labels = tmp_path / "images", tmp_path / "labels"
    images.mkdir()
    labels.mkdir()
    cache = CandidateCache()
    paths = []
    for i in range(24):
        path = images / f"img{i:03d}.jpg"
        paths.append(path)
        cache.put(MODEL, path, _candidates(rng, int(rng.integers(0, 40))))
        if i % 5 == 4:
            continue  # unlabelled: a negative
        rows = [f"{rng.integers(0, NC)} {rng.uniform(0.2, 0.8):.4f} {rng.uniform(0.2, 0.8):.4f} 0.1 0.1"
                for _ in range(int(rng.integers(0, 4)))]
        (labels / f"img{i:03d}.txt").write_text("\n".join(rows) + "\n")
    (labels / "img007.txt").write_text("0 0.5 oops 0.1 0.1\n")  # unreadable: left out
    return cache, tuple(paths), GroundTruthSource(images, labels)


def _request(paths, source, request_id=1, iou=0.45) -> StatsRequest:
    return StatsRequest(request_id, MODEL, paths, source, iou, False, 300, NC)


def _steps(scorer: FolderScorer, deadline: float) -> tuple[list, FolderStats]:
    steps = []
    while True:
        step = scorer.step(deadline)
        steps.append(step)
        if step.finished:
            return steps, step.stats


def _assert_same_stats(a: FolderStats, b: FolderStats) -> None:
    assert list(a.images) == list(b.images)
    for key in a.images:
        for name in ("confidence", "class_id", "tp", "gt_class_id"):
            assert np.array_equal(getattr(a.images[key], name), getattr(b.images[key], name)), (key, name)
    for name in ("confidence", "class_id", "tp", "gt_count"):
        assert np.array_equal(getattr(a.scored, name), getattr(b.scored, name)), name
    assert (a.scored.images, a.failed, a.unreadable_labels, a.key) == (b.scored.images, b.failed, b.unreadable_labels, b.key)


def test_a_cached_folder_scored_in_many_steps_equals_one_shot(folder):
    cache, paths, source = folder
    one_shot = FolderScorer(cache)
    one_shot.start(_request(paths, source), None)
    steps, expected = _steps(one_shot, math.inf)
    assert len(steps) == 1 and steps[0].done == steps[0].total == len(paths)

    sliced = FolderScorer(cache)
    sliced.start(_request(paths, source), None)
    steps, stats = _steps(sliced, -math.inf)  # a deadline already past: one image per step
    assert [s.done for s in steps] == list(range(1, len(paths) + 1))
    assert all(s.stats is None for s in steps[:-1]) and all(not s.predicted for s in steps)
    _assert_same_stats(stats, expected)
    assert stats.scored.images == len(paths) - 1 and stats.failed == 0
    assert len(stats.unreadable_labels) == 1 and "img007.txt:1" in stats.unreadable_labels[0]
    assert str(paths[7]) not in stats.images


def test_a_scan_starts_at_request_start_and_keeps_scores_for_the_same_settings(folder):
    cache, paths, source = folder
    full = FolderScorer(cache)
    full.start(_request(paths, source), None)
    expected = full.run()

    scorer = FolderScorer(cache)
    scorer.start(replace(_request(paths, source, request_id=2), start=10), None)
    assert sorted(scorer.run().images) == sorted(str(p) for p in paths[10:])
    scorer.start(_request(paths, source, request_id=3), None)  # same settings: the whole folder
    _assert_same_stats(scorer.run(), replace(expected, request_id=3))
    scorer.start(_request(paths, source, request_id=4, iou=0.6), None)  # other NMS: all again
    assert scorer.run().key != expected.key


class StubDetector:
    """Predicts fixed candidates for any path; counts its runs."""

    def __init__(self, rng_seed: int = 3) -> None:
        self.rng = np.random.default_rng(rng_seed)
        self.calls: list[str] = []

    def predict_path(self, path) -> Prediction:
        self.calls.append(str(path))
        return Prediction(_candidates(self.rng, 5), StageTimings(1.0, 1.0, 1.0, 1.0))


class RaisesOnOne(StubDetector):
    """A stand-in whose predict raises something unexpected (not a ScriptLensError) for one path."""

    def __init__(self, bad: str) -> None:
        super().__init__()
        self.bad = bad

    def predict_path(self, path) -> Prediction:
        if str(path).endswith(self.bad):
            self.calls.append(str(path))
            raise RuntimeError("simulated bug in predict")
        return super().predict_path(path)


def test_an_unexpected_exception_on_one_image_fails_that_image_and_the_scan_goes_on(tmp_path):
    paths = tuple(tmp_path / f"img{i}.jpg" for i in range(5))
    cache = CandidateCache()
    detector = RaisesOnOne("img2.jpg")
    scorer = FolderScorer(cache)
    scorer.start(_request(paths, None), detector.predict_path)
    steps, stats = _steps(scorer, math.inf)
    assert len(detector.calls) == 5 and len(steps) == 5  # one model run per step, every image tried
    assert stats.failed == 1 and sorted(stats.images) == sorted(str(p) for i, p in enumerate(paths) if i != 2)
    assert cache.get(MODEL, paths[2]) is None and cache.get(MODEL, paths[3]) is not None
    assert [p.path for s in steps for p in s.predicted] == [p for i, p in enumerate(paths) if i != 2]
    # the failure is remembered for these settings: a rescan does not run the model on it again
    scorer.start(_request(paths, None, request_id=2), detector.predict_path)
    assert scorer.run().failed == 1 and len(detector.calls) == 5


def test_a_scoring_failure_is_isolated_to_its_image(folder, monkeypatch):
    import gui.folder_scorer as fs

    cache, paths, source = folder
    scorer = FolderScorer(cache)
    scorer.start(_request(paths, source), None)
    expected = scorer.run()
    bad = cache.get(MODEL, paths[3])
    real = fs.select_batch

    def select(candidates, thresholds):
        if any(c is bad for c in candidates):
            raise ValueError("simulated scoring bug")
        return real(candidates, thresholds)

    monkeypatch.setattr(fs, "select_batch", select)
    fresh = FolderScorer(cache)
    fresh.start(_request(paths, source), None)
    stats = fresh.run()
    assert stats.failed == 1 and str(paths[3]) not in stats.images
    assert {k: v for k, v in expected.images.items() if k != str(paths[3])}.keys() == stats.images.keys()
    for key, score in stats.images.items():
        assert np.array_equal(score.tp, expected.images[key].tp)


def test_one_model_run_per_step_and_a_waiting_image_pauses_the_scan(tmp_path):
    paths = tuple(tmp_path / f"img{i}.jpg" for i in range(3))
    waiting = [True]
    detector = StubDetector()
    scorer = FolderScorer(CandidateCache(), should_pause=lambda: waiting[0])
    scorer.start(_request(paths, None), detector.predict_path)
    step = scorer.step(math.inf)
    assert (step.done, detector.calls, step.stats) == (0, [], None)  # an image request goes first
    waiting[0] = False
    step = scorer.step(math.inf)
    assert step.done == 1 and len(detector.calls) == 1 and len(step.predicted) == 1


def test_without_a_model_uncached_images_fail(tmp_path):
    paths = (tmp_path / "a.jpg",)
    scorer = FolderScorer(CandidateCache())
    scorer.start(_request(paths, None), None)
    assert scorer.run().failed == 1


def test_a_script_lens_error_fails_the_image_quietly(tmp_path):
    class Unreadable(StubDetector):
        def predict_path(self, path):
            raise ImageReadError(f"{path}: cannot read image: the file does not exist")

    scorer = FolderScorer(CandidateCache())
    scorer.start(_request((tmp_path / "a.jpg", tmp_path / "b.jpg"), None), Unreadable().predict_path)
    stats = scorer.run()
    assert stats.failed == 2 and stats.scored.images == 0


# ---- through the engine worker (its thread), with a real detector ---------------------------


def test_the_worker_scan_completes_when_predict_raises_on_one_image(qtbot, tiny_model, tmp_path):
    from engine.pipeline import Detector
    from gui.worker import EngineThread, LoadModelRequest
    from gui_test_data import make_images

    class FlakyDetector(Detector):
        def predict_path(self, path):
            if path.name == "img002.png":
                raise RuntimeError("simulated bug in predict")
            return super().predict_path(path)

    paths = tuple(make_images(tmp_path / "imgs", 5))
    engine = EngineThread(CandidateCache(), detector_loader=FlakyDetector.load)
    try:
        with qtbot.waitSignal(engine.worker.modelLoaded, timeout=60000):
            engine.worker.submit_load(LoadModelRequest(1, tiny_model, device="cpu"))
        progress = []
        engine.worker.statsProgress.connect(lambda *args: progress.append(args))
        with qtbot.waitSignal(engine.worker.statsReady, timeout=60000) as ready:
            engine.worker.submit_stats(_request(paths, None, request_id=9))
        stats = ready.args[0]
        assert stats.request_id == 9 and stats.failed == 1
        assert sorted(stats.images) == sorted(str(p) for p in paths if p.name != "img002.png")
        assert progress[-1] == (9, 5, 5)
        qtbot.waitUntil(engine.worker.is_idle, timeout=10000)
        assert engine.worker.model_calls == 4
    finally:
        engine.close()


def test_a_scan_that_cannot_finish_says_so_instead_of_stalling(qtbot, tiny_model, tmp_path, monkeypatch):
    import gui.folder_scorer as fs
    from gui.worker import EngineThread, LoadModelRequest
    from gui_test_data import make_images

    def broken(*args, **kwargs):
        raise ValueError("simulated bug while building the result")

    monkeypatch.setattr(fs, "build_scored_folder", broken)
    paths = tuple(make_images(tmp_path / "imgs", 2))
    engine = EngineThread(CandidateCache())
    try:
        with qtbot.waitSignal(engine.worker.modelLoaded, timeout=60000):
            engine.worker.submit_load(LoadModelRequest(1, tiny_model, device="cpu"))
        with qtbot.waitSignal(engine.worker.statsFailed, timeout=60000) as failed:
            engine.worker.submit_stats(_request(paths, None, request_id=5))
        assert failed.args[0] == 5 and "Internal error" in failed.args[1]
        qtbot.waitUntil(engine.worker.is_idle, timeout=10000)
    finally:
        engine.close()
