"""The worker's folder scan reads labels as `scriptlens eval` does: on a folder with a malformed
and an out-of-range label file, the threshold panel's totals equal eval's, and the two files
are reported, their images left out."""

from __future__ import annotations

import contextlib
import io
import json
import os

import pytest

from engine.curves import metrics_at
from engine.ground_truth import GroundTruthSource
from engine.labels import parse_yolo
from engine.metrics import evaluate
from engine.thresholds import Thresholds, apply_thresholds
from gui.candidate_cache import CandidateCache
from gui.folder_stats import StatsRequest
from gui.worker import EngineThread, LoadModelRequest

# the tiny model's boxes a, b, c (gui_test_data) as YOLO lines in the 320x320 images
A = "0 0.312500 0.312500 0.156250 0.125000"
B = "1 0.625000 0.625000 0.187500 0.187500"
C_ELSEWHERE = "2 0.150000 0.850000 0.100000 0.100000"
LABELS = {
    "img000": f"{A}\n{C_ELSEWHERE}\n",
    "img001": f"{A}\n{B}\n",
    "img002": f"{A}\n0 0.5 oops 0.1 0.1\n",  # malformed: left out
    "img003": f"{A}\n5 0.5 0.5 0.1 0.1\n",  # class 5 of a 3-class model: left out
    # img004: no label file, a negative
}


@pytest.fixture
def bad_folder(tmp_path):
    from gui_test_data import make_images

    images = tmp_path / "ds" / "images"
    paths = make_images(images, 5)
    labels = tmp_path / "ds" / "labels"
    labels.mkdir()
    for name, text in LABELS.items():
        (labels / f"{name}.txt").write_text(text)
    return paths, images, labels


@pytest.fixture
def worker(qtbot, tiny_model):
    engine = EngineThread(CandidateCache())
    with qtbot.waitSignal(engine.worker.modelLoaded, timeout=60000):
        engine.worker.submit_load(LoadModelRequest(1, tiny_model, device="cpu"))
    yield engine.worker
    engine.close()


def _scan(qtbot, worker, paths, source, request_id=2, iou=0.45):
    with qtbot.waitSignal(worker.statsReady, timeout=60000) as ready:
        worker.submit_stats(StatsRequest(request_id, 1, tuple(paths), source, iou, False, 300, 3))
    return ready.args[0]


def _eval(model, images, labels) -> dict:
    from cli.main import main

    out = images.parent / "eval.json"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["eval", "--model", str(model), "--images", str(images), "--labels", str(labels),
                     "--device", "cpu", "--iou", "0.45", "--json", str(out)]) == 0
    return json.loads(out.read_text())


def test_folder_totals_equal_eval_on_a_folder_with_bad_labels(qtbot, tiny_model, worker, bad_folder):
    paths, images, labels = bad_folder
    stats = _scan(qtbot, worker, paths, GroundTruthSource(images, labels))
    assert stats.unreadable_labels == (
        f"{labels / 'img002.txt'}:2: not numbers: '0 0.5 oops 0.1 0.1'",
        f"{labels / 'img003.txt'}:2: class id 5 out of range (the model has 3 classes, 0..2)")
    assert sorted(stats.images) == [str(p) for p in (paths[0], paths[1], paths[4])]  # bad ones left out
    assert stats.scored.images == 3 and stats.failed == 0

    # what `scriptlens eval` prints for the same folder
    report = _eval(tiny_model, images, labels)
    assert report["unreadable"] == 2 and report["images"] == 3
    # and engine.metrics.evaluate on the three good images, read without the reader
    floor = Thresholds(conf=0.001, iou=0.45)
    pairs = []
    for p in (paths[0], paths[1], paths[4]):
        label = labels / f"{p.stem}.txt"
        gt = parse_yolo(label.read_text(), (320, 320)) if label.is_file() else parse_yolo("", (320, 320))
        pairs.append((apply_thresholds(worker._cache.get(1, p), floor), gt))
    assert list(stats.scored.gt_count) == [c["gt"] for c in report["classes"]] == [2, 1, 1]
    for conf in (0.25, 0.5, 0.7):
        res = evaluate(pairs, 3, conf=conf)
        pm = metrics_at(stats.scored, conf)
        assert (pm.tp, pm.fp, pm.fn) == (int(res.tp.sum()), int(res.fp.sum()), int(res.fn.sum()))
    pm = metrics_at(stats.scored, 0.25)
    # by hand: img000 TP 1 FP 2 missed 1; img001 TP 2 FP 1; img004 (negative) FP 3
    assert (pm.tp, pm.fp, pm.fn) == (3, 6, 1)
    assert (pm.tp, pm.fp, pm.fn) == (report["all"]["tp"], report["all"]["fp"], report["all"]["fn"])


def test_a_label_file_fixed_on_disk_is_read_again_by_the_next_scan(qtbot, worker, bad_folder):
    paths, images, labels = bad_folder
    source = GroundTruthSource(images, labels)
    first = _scan(qtbot, worker, paths, source)
    fixed = labels / "img002.txt"
    fixed.write_text(f"{A}\n")
    st = fixed.stat()
    os.utime(fixed, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    second = _scan(qtbot, worker, paths, source, request_id=3, iou=0.5)  # an NMS change rescans
    assert len(first.unreadable_labels) == 2 and len(second.unreadable_labels) == 1
    assert str(paths[2]) in second.images and second.scored.images == 4
