"""Issue 7 in the window: every odd file in one folder, and a long random browse.

The soak is short in CI (SCRIPTLENS_SOAK_IMAGES, default 300 files / 600 steps); the benchmark
runs the long version: `SCRIPTLENS_SOAK_IMAGES=5000 pytest tests/gui/test_soak_and_bad_inputs.py`.
"""

from __future__ import annotations

import os
import random
import threading
from pathlib import Path

import cv2
import numpy as np

from corpus import build_corpus, deny_reads, reads_are_denied
from gui.image_list import STATE_ERROR

SOAK_IMAGES = int(os.environ.get("SCRIPTLENS_SOAK_IMAGES", "300"))


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_every_bad_file_gets_an_error_entry_and_browsing_goes_on(window, qtbot, tiny_model, tmp_path, monkeypatch):
    root = tmp_path / "corpus"
    good, bad = build_corpus(root)
    secret = root / "secret.png"
    if secret.exists() and not reads_are_denied(secret):
        deny_reads(monkeypatch, secret)
    window.open_model(tiny_model)
    window.open_folder(root)
    qtbot.waitUntil(lambda: len(window.paths) > 0 and window.model_id != 0, timeout=60000)
    rel = [p.relative_to(root).as_posix() for p in window.paths]
    assert set(good) <= set(rel)
    for row, name in enumerate(rel):
        window.go_to(row)
        model = window.image_list.model
        if name in bad:  # the failure arrives as a queued signal: wait for it, not for idle
            qtbot.waitUntil(lambda: model.state(row) == STATE_ERROR, timeout=60000)
            assert Path(name).name in model.error(row)
        else:
            qtbot.waitUntil(window.is_idle, timeout=60000)
            qtbot.wait(20)
            if name in good:
                assert model.state(row) != STATE_ERROR, (name, model.error(row))
    # still usable: back to a good image, detections drawn
    first_good = rel.index(good[0])
    window.go_to(first_good)
    qtbot.waitUntil(lambda: window.is_idle() and window.current_row == first_good, timeout=30000)
    assert window.current_path == window.paths[first_good]


def test_soak_random_browsing_and_sliders_stays_bounded(window, qtbot, tiny_model, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    rng = np.random.default_rng(7)
    sources = []
    for i in range(6):
        p = src / f"s{i}.jpg"
        cv2.imwrite(str(p), rng.integers(0, 255, (240 + 40 * i, 320, 3), dtype=np.uint8))
        sources.append(p)
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(SOAK_IMAGES):
        os.symlink(sources[i % len(sources)], folder / f"{i:05d}.jpg")

    window.open_model(tiny_model)
    window.open_folder(folder)
    qtbot.waitUntil(lambda: len(window.paths) == SOAK_IMAGES and window.first_detections_shown, timeout=60000)
    steps = max(600, SOAK_IMAGES * 2)
    rnd = random.Random(1)
    baseline = None
    for step in range(steps):
        op = rnd.random()
        if op < 0.45:
            window.next_image()
        elif op < 0.6:
            window.previous_image()
        elif op < 0.7:
            window.go_to(rnd.randrange(SOAK_IMAGES))
        else:
            window.side_panel.set_conf(round(rnd.uniform(0.05, 0.95), 2))
        qtbot.wait(0)
        if step % 100 == 99:
            qtbot.waitUntil(window.is_idle, timeout=60000)
            cache = window.cache
            assert len(cache) <= cache._max_entries and cache.nbytes <= cache._max_bytes
            assert len(window.browse.image_cache) <= 12
            if baseline is None:
                baseline = rss_mb()
    qtbot.waitUntil(window.is_idle, timeout=60000)
    # Candidates are tiny; 300 MB of growth would mean something unbounded is kept per image.
    assert rss_mb() - baseline < 300
    window.close()
    assert window.engine.thread.isFinished() and window.reader.thread.isFinished()
    leftovers = [t.name for t in threading.enumerate() if t.name.startswith("scriptlens")]
    assert not leftovers
