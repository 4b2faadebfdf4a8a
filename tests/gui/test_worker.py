"""The engine worker alone: latest-wins slot, stale requests, the LRU cache."""

from __future__ import annotations

import numpy as np
import pytest

from gui.candidate_cache import CandidateCache
from gui.worker import EngineThread, ImageRequest


def test_holding_the_arrow_key_builds_no_queue(qtbot, tmp_path):
    from gui_test_data import make_images

    paths = make_images(tmp_path / "imgs", 3)
    engine = EngineThread(CandidateCache())
    seen = []
    engine.worker.imageLoaded.connect(lambda result: seen.append(result.request_id))
    try:
        for i in range(1, 1001):
            engine.worker.submit_image(ImageRequest(i, paths[i % 3], 0))
        qtbot.waitUntil(lambda: 1000 in seen, timeout=20000)
        qtbot.waitUntil(engine.worker.is_idle, timeout=20000)
        assert len(seen) <= 3  # the first one, maybe one in between, and the newest
    finally:
        engine.close()


def test_missing_image_comes_back_as_an_error(qtbot, tmp_path):
    engine = EngineThread(CandidateCache())
    try:
        with qtbot.waitSignal(engine.worker.imageFailed, timeout=10000) as blocker:
            engine.worker.submit_image(ImageRequest(7, tmp_path / "nope.png", 0))
        request_id, path, message = blocker.args
        assert request_id == 7 and "nope.png" in message
    finally:
        engine.close()


def _candidates(n: int):
    from engine.candidates import Candidates
    from engine.letterbox import letterbox

    _, geom = letterbox(np.zeros((32, 32, 3), np.uint8), (32, 32))
    return Candidates(np.zeros((n, 4), np.float32), np.zeros(n, np.float32), np.zeros(n, np.int64), geom)


def test_candidate_cache_is_a_bounded_lru():
    cache = CandidateCache(max_entries=2)
    cache.put(1, "a", _candidates(1))
    cache.put(1, "b", _candidates(1))
    assert cache.get(1, "a") is not None  # a is now the most recent
    cache.put(1, "c", _candidates(1))
    assert cache.get(1, "b") is None and cache.get(1, "a") is not None and len(cache) == 2
    assert cache.get(2, "a") is None  # keyed by model too


def test_candidate_cache_bounded_by_bytes():
    one = _candidates(1000)
    cache = CandidateCache(max_entries=100, max_bytes=int(one.nbytes * 2.5))
    for name in "abcd":
        cache.put(1, name, _candidates(1000))
    assert len(cache) == 2 and cache.nbytes <= one.nbytes * 2.5


@pytest.mark.parametrize("text,expected", [
    ("10,13, 16,30", ((10.0, 13.0, 16.0, 30.0),)),
    ("1,2;3,4", ((1.0, 2.0), (3.0, 4.0))),
    ("", None),
])
def test_parse_anchors(text, expected):
    from gui.model_settings_dialog import parse_anchors

    assert parse_anchors(text) == expected
