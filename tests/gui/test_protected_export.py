"""Issue 25, item 1: the window's export never replaces ground-truth labels by default, asks
before writing into them, and the panel re-reads them after an export that did."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.curves import metrics_at
from engine.labels import OnExisting

A = "0 0.312500 0.312500 0.156250 0.125000"  # the tiny model's class-0 box (gui_test_data)
HUMAN = {"img000.txt": f"{A}\n2 0.150000 0.850000 0.100000 0.100000\n", "img001.txt": f"{A}\n"}


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


@pytest.fixture
def with_ground_truth(window, qtbot, tiny_model, image_dir):
    labels = image_dir.parent / "labels"
    labels.mkdir()
    for name, text in HUMAN.items():
        (labels / name).write_text(text)
    window.open_folder(image_dir)
    window.open_model(tiny_model)
    qtbot.waitUntil(lambda: window.first_detections_shown, timeout=60000)
    qtbot.waitUntil(lambda: window.folder_stats is not None, timeout=60000)
    qtbot.waitUntil(window.is_idle, timeout=30000)
    asked = []
    window.confirm_protected_export = lambda target, policy: asked.append((target, policy))  # answers Cancel
    return window, labels, asked


def run_export(w, qtbot, choice):
    w.last_export_summary = None
    assert w.export(choice) is not None
    qtbot.waitUntil(lambda: w.last_export_summary is not None, timeout=60000)
    return w.last_export_summary


def test_default_export_leaves_ground_truth_untouched(with_ground_truth, qtbot):
    w, labels, asked = with_ground_truth
    assert w.ground_truth is not None and w.ground_truth.labels_root == labels
    before = snapshot(labels)
    defaults = w.export_defaults()
    assert defaults.out_dir == labels.parent / "predictions"
    summary = run_export(w, qtbot, defaults)  # what Ctrl+E then Export does
    assert summary.written == 4 and not asked
    assert snapshot(labels) == before  # no ground-truth file changed, none added
    assert (labels.parent / "predictions" / "img000.txt").exists()
    assert w.export_defaults().out_dir == labels.parent / "predictions"  # and the next default stays there


def test_overwriting_ground_truth_asks_and_cancel_writes_nothing(with_ground_truth):
    w, labels, asked = with_ground_truth
    before = snapshot(labels)
    choice = w.export_defaults().__class__(whole_folder=True, out_dir=labels, on_existing="overwrite")
    assert w.export(choice) is None  # the stand-in dialog answered Cancel
    (target, policy), = asked
    assert policy is OnExisting.OVERWRITE and target.is_ground_truth
    assert sorted(p.name for p in target.existing) == ["img000.txt", "img001.txt"]
    text = target.describe(replaces_existing=True)
    assert str(labels) in text and "ground truth" in text and "replace 2" in text
    assert snapshot(labels) == before


def test_confirmed_backup_keeps_old_labels_and_the_panel_rereads(with_ground_truth, qtbot):
    w, labels, asked = with_ground_truth
    assert (metrics_at(w.folder_stats.scored, 0.25).fn) == 1  # the hand-made c is missed
    w.confirm_protected_export = lambda target, policy: OnExisting.BACKUP  # "Back up, then write"
    choice = w.export_defaults().__class__(whole_folder=True, out_dir=labels, on_existing="overwrite")
    generation = w.folder_stats.key
    summary = run_export(w, qtbot, choice)
    assert summary.backed_up == 2
    assert {n: (labels / f"{n}.bak").read_text() for n in HUMAN} == HUMAN
    # the panel now scores against the files on disk: the predictions, so nothing is missed
    qtbot.waitUntil(lambda: w.folder_stats is not None and w.folder_stats.key != generation
                    and w.folder_stats.floor == 0.001, timeout=60000)
    pm = metrics_at(w.folder_stats.scored, 0.25)
    assert (pm.fp, pm.fn) == (0, 0)
