"""YOLO label text and the atomic, never-silently-overwriting file layer."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import labels as L
from engine.detections import Detections
from engine.errors import LabelWriteError, ScriptLensError
from engine.export import ExportOptions, export_labels
from engine.label_pairs import shared_label_message
from engine.labels import OnExisting, format_yolo, label_path_for, parse_yolo, write_label
from detection_rows import dets as det
from fs_permissions import permissions_ignored


def test_format_hand_computed():
    # 200 x 100 image (w x h); box x 20..60, y 10..50
    d = det([(20, 10, 60, 50, 0.87654321, 3), (0, 0, 200, 100, 0.5, 0)])
    assert format_yolo(d, (200, 100)) == "3 0.200000 0.300000 0.200000 0.400000\n0 0.500000 0.500000 1.000000 1.000000\n"
    assert format_yolo(d, (200, 100), save_conf=True).splitlines()[0] == "3 0.200000 0.300000 0.200000 0.400000 0.876543"


def test_six_decimals_and_empty():
    d = det([(1, 1, 2, 2, 0.3, 0)])
    line = format_yolo(d, (3, 7)).strip()
    assert all(len(tok.split(".")[1]) == 6 for tok in line.split()[1:])
    assert format_yolo(Detections.empty(), (10, 10)) == ""
    assert len(parse_yolo("", (10, 10))) == 0


def test_parse_errors_name_the_line():
    with pytest.raises(ValueError, match=r"lbl:2"):
        parse_yolo("0 .5 .5 .1 .1\n0 .5 .5\n", (10, 10), source="lbl")
    with pytest.raises(ValueError):
        parse_yolo("x .5 .5 .1 .1\n", (10, 10))
    with pytest.raises(ValueError):
        parse_yolo("-1 .5 .5 .1 .1\n", (10, 10))
    with pytest.raises(ValueError):
        parse_yolo("0 nan .5 .1 .1\n", (10, 10))


@settings(max_examples=100, deadline=None)
@given(
    wh=st.tuples(st.integers(1, 5000), st.integers(1, 5000)),
    boxes=st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1), st.floats(0, 1), st.floats(0, 1),
                             st.floats(0, 1), st.integers(0, 999)), max_size=10),
    save_conf=st.booleans(),
)
def test_round_trip_property(wh, boxes, save_conf):
    w, h = wh
    rows = []
    for a, b, c, d_, conf, cls in boxes:
        x1, x2 = sorted((a * w, c * w))
        y1, y2 = sorted((b * h, d_ * h))
        rows.append((x1, y1, x2, y2, conf, cls))
    d = det(rows)
    text = format_yolo(d, wh, save_conf)
    back = parse_yolo(text, wh)
    assert len(back) == len(d)
    np.testing.assert_array_equal(back.class_id, d.class_id)
    # 6 decimals of a normalised value: 5e-7 of the side, plus float32 storage
    np.testing.assert_allclose(back.xyxy[:, [0, 2]], d.xyxy[:, [0, 2]], atol=1.1e-6 * w + 1e-3 * (w > 2000) + 1e-3)
    np.testing.assert_allclose(back.xyxy[:, [1, 3]], d.xyxy[:, [1, 3]], atol=1.1e-6 * h + 1e-3 * (h > 2000) + 1e-3)
    if save_conf:
        np.testing.assert_allclose(back.confidence, d.confidence, atol=5.1e-7)
    else:
        assert (back.confidence == 1.0).all()
    assert format_yolo(back, wh, save_conf) == text  # stable on re-export


# ------------------------------------------------------------------ files


def no_temp_files(folder: Path):
    return [p for p in folder.rglob("*") if p.name.endswith(".tmp")] == []


def test_write_label_policies(tmp_path):
    p = tmp_path / "a.txt"
    assert write_label(p, "old\n") == "written"
    assert write_label(p, "new\n", OnExisting.SKIP) == "skipped"
    assert p.read_text() == "old\n"
    assert write_label(p, "old\n", OnExisting.BACKUP) == "unchanged"
    assert not (tmp_path / "a.txt.bak").exists()
    assert write_label(p, "new\n", "backup") == "backed_up"
    assert (tmp_path / "a.txt.bak").read_text() == "old\n"
    assert p.read_text() == "new\n"
    assert write_label(p, "newer\n", "backup") == "backed_up"
    assert (tmp_path / "a.txt.bak").read_text() == "old\n"  # the older backup is never overwritten
    assert (tmp_path / "a.txt.bak1").read_text() == "new\n"
    assert write_label(p, "newest\n", "backup") == "backed_up"
    assert (tmp_path / "a.txt.bak2").read_text() == "newer\n"
    assert write_label(p, "over\n", "overwrite") == "written"
    assert p.read_text() == "over\n"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["a.txt", "a.txt.bak", "a.txt.bak1", "a.txt.bak2"]


def test_backup_is_a_copy_not_an_alias(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text("v1\n")
    write_label(p, "v2\n", "backup")
    # writing the label again must not change the backup (a hard link would if written in place)
    write_label(p, "v3\n", "overwrite")
    assert (tmp_path / "a.txt.bak").read_text() == "v1\n"


def test_atomic_write_leaves_no_temp_files(tmp_path):
    for i in range(5):
        L.write_text_atomic(tmp_path / "sub" / f"{i}.txt", f"{i}\n")
    assert no_temp_files(tmp_path)
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == [f"{i}.txt" for i in range(5)]


def test_failed_replace_keeps_old_file_and_no_temp(tmp_path, monkeypatch):
    p = tmp_path / "a.txt"
    p.write_text("old\n")

    def boom(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(L.os, "replace", boom)
    with pytest.raises(LabelWriteError, match="Permission denied"):
        write_label(p, "new\n", "overwrite")
    assert p.read_text() == "old\n"
    assert no_temp_files(tmp_path)


def test_read_only_folder_is_label_write_error(tmp_path, monkeypatch):
    folder = tmp_path / "ro"
    folder.mkdir()
    (folder / "a.txt").write_text("old\n")
    folder.chmod(0o555)
    try:
        if permissions_ignored(folder):  # simulate the read-only folder at the temp-file step instead
            def denied(*a, **k):
                raise PermissionError(13, "Permission denied")

            monkeypatch.setattr(L.tempfile, "mkstemp", denied)
        with pytest.raises(LabelWriteError, match="cannot write labels here"):
            write_label(folder / "a.txt", "new\n", "overwrite")
        assert (folder / "a.txt").read_text() == "old\n"
        assert sorted(p.name for p in folder.iterdir()) == ["a.txt"]
    finally:
        folder.chmod(0o755)
    assert isinstance(LabelWriteError("x"), ScriptLensError)


def test_label_path_for_mirrors_tree(tmp_path):
    root, out = tmp_path / "images", tmp_path / "labels"
    a = label_path_for(root / "a" / "img.jpg", root, out)
    b = label_path_for(root / "b" / "img.jpg", root, out)
    c = label_path_for(root / "img.png", root, out)
    assert a == out / "a" / "img.txt"
    assert b == out / "b" / "img.txt"
    assert c == out / "img.txt"
    assert len({a, b, c}) == 3


def test_label_path_for_relative_vs_absolute(tmp_path, monkeypatch):
    (tmp_path / "images" / "s").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert label_path_for((tmp_path / "images" / "s" / "x.jpg"), Path("images"), Path("out")) == Path("out") / "s" / "x.txt"


def test_default_labels_dir(tmp_path):
    assert L.default_labels_dir(tmp_path / "ds" / "images") == tmp_path / "ds" / "labels"
    assert L.default_labels_dir(tmp_path / "photos") == tmp_path / "photos" / "labels"


def test_classes_and_data_yaml(tmp_path):
    L.write_classes_txt(tmp_path, ["cat", "dog"])
    assert (tmp_path / "classes.txt").read_text() == "cat\ndog\n"
    # a different class list is backed up, never lost
    L.write_classes_txt(tmp_path, ["a"])
    assert (tmp_path / "classes.txt.bak").read_text() == "cat\ndog\n"


# ------------------------------------------------------------------ export_labels


def items_for(root: Path, n: int, d: Detections, wh=(100, 50)):
    return [(root / f"img{i}.jpg", d, wh) for i in range(n)]


D1 = det([(10, 10, 30, 40, 0.9, 1)])


def test_export_writes_and_reexport_is_identical(tmp_path):
    root, out = tmp_path / "images", tmp_path / "labels"
    items = items_for(root, 3, D1) + [(root / "neg.jpg", Detections.empty(), (100, 50))]
    s = export_labels(items, root, out, ["a", "b"])
    assert (s.written, s.empty, s.detections, s.failed) == (4, 1, 3, [])
    assert (out / "neg.txt").read_text() == ""
    assert (out / "img0.txt").read_text() == "1 0.200000 0.500000 0.200000 0.600000\n"
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    s2 = export_labels(items, root, out, ["a", "b"], ExportOptions(on_existing=OnExisting.BACKUP))
    assert s2.unchanged == 4 and s2.backed_up == 0
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # no backups made


def test_export_no_empty_files(tmp_path):
    root, out = tmp_path / "images", tmp_path / "labels"
    s = export_labels([(root / "neg.jpg", Detections.empty(), (10, 10))], root, out, ["a"], ExportOptions(empty_files=False))
    assert s.empty == 1 and not (out / "neg.txt").exists()


def test_export_reports_image_errors_and_continues(tmp_path):
    root, out = tmp_path / "images", tmp_path / "labels"
    from engine.errors import ImageReadError

    items = [(root / "a.jpg", D1, (100, 50)), (root / "bad.jpg", ImageReadError("bad.jpg: broken"), (0, 0)), (root / "c.jpg", D1, (100, 50))]
    s = export_labels(items, root, out, ["a", "b"])
    assert s.written == 2 and [p.name for p, _ in s.failed] == ["bad.jpg"]
    assert not (out / "bad.txt").exists()


def test_write_failure_mid_batch_leaves_existing_labels_intact(tmp_path, monkeypatch):
    root, out = tmp_path / "images", tmp_path / "labels"
    out.mkdir()
    for i in range(4):
        (out / f"img{i}.txt").write_text(f"old {i}\n")
    real_replace = os.replace
    calls = {"n": 0}

    def flaky(src, dst):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(L.os, "replace", flaky)
    s = export_labels(items_for(root, 4, D1), root, out, ["a", "b"], ExportOptions(on_existing=OnExisting.OVERWRITE, write_classes=False))
    assert len(s.failed) == 1 and "No space left" in s.failed[0][1]
    new = "1 0.200000 0.500000 0.200000 0.600000\n"
    texts = [(out / f"img{i}.txt").read_text() for i in range(4)]
    assert texts == [new, new, "old 2\n", new]
    assert no_temp_files(out)


def test_cancel_leaves_complete_files(tmp_path):
    root, out = tmp_path / "images", tmp_path / "labels"
    pulled = []

    def gen():
        for item in items_for(root, 10, D1):
            pulled.append(item[0])
            yield item

    s = export_labels(gen(), root, out, ["a", "b"], cancel=lambda: len(pulled) >= 3)
    assert s.cancelled and s.written == 3 and len(pulled) == 3
    txts = sorted(p.name for p in out.glob("img*.txt"))
    assert txts == ["img0.txt", "img1.txt", "img2.txt"]
    assert all(p.read_text() == "1 0.200000 0.500000 0.200000 0.600000\n" for p in out.glob("img*.txt"))
    assert (out / "classes.txt").read_text() == "a\nb\n"
    assert no_temp_files(out)
    assert s.line().startswith("CANCELLED")


def test_export_same_named_images_in_subfolders(tmp_path):
    root, out = tmp_path / "images", tmp_path / "labels"
    d2 = det([(0, 0, 100, 50, 0.5, 0)])
    s = export_labels([(root / "a" / "x.jpg", D1, (100, 50)), (root / "b" / "x.jpg", d2, (100, 50))], root, out, ["a", "b"])
    assert s.written == 2
    assert (out / "a" / "x.txt").read_text().startswith("1 ")
    assert (out / "b" / "x.txt").read_text() == "0 0.500000 0.500000 1.000000 1.000000\n"


def test_data_yaml_survives_awkward_names(tmp_path):
    import yaml

    from engine.training_layout import TrainingLayout, data_yaml_text

    names = ["a: b", "quote\"s", "# hash", "ünïcødé 猫", "- dash", "yes", "null", "1.5"]
    for layout in (None, TrainingLayout(tmp_path / "d: s #1", "images/x y")):
        data = yaml.safe_load(data_yaml_text(names, layout, why_not="why: # not"))
        assert data["nc"] == len(names)
        assert [data["names"][i] for i in range(len(names))] == names
        if layout is not None:
            assert (data["path"], data["train"]) == (str(layout.root), "images/x y")


@pytest.mark.parametrize("policy", ["skip", "overwrite", "backup"])
def test_same_stem_other_extension_is_reported_not_merged(tmp_path, policy):
    # a.jpg and a.png both map to a.txt: the second must not silently replace/drop the first
    root, out = tmp_path / "images", tmp_path / "labels"
    d2 = det([(0, 0, 100, 50, 0.5, 0)])
    s = export_labels([(root / "a.jpg", D1, (100, 50)), (root / "a.png", d2, (100, 50)), (root / "b.png", d2, (100, 50))],
                      root, out, ["a", "b"], ExportOptions(on_existing=OnExisting(policy)))
    assert (out / "a.txt").read_text() == "1 0.200000 0.500000 0.200000 0.600000\n"
    assert [p.name for p, _ in s.failed] == ["a.png"]
    # eval's words for the same rule (engine.label_pairs)
    assert s.failed[0][1] == shared_label_message(root / "a.png", root / "a.jpg", out / "a.txt", "not labelled")
    assert s.written == 2


@pytest.mark.parametrize("given_paths", [False, True])
def test_first_image_owns_the_label_file_even_when_unreadable(tmp_path, given_paths):
    # the rule eval applies: ownership follows the order, not whether the first could be read;
    # else a.png's labels landed in a.txt, and the next run skipped a.jpg as "labelled"
    from engine.errors import ImageReadError

    root, out = tmp_path / "images", tmp_path / "labels"
    items = [(root / "a.jpg", ImageReadError("a.jpg: broken"), (0, 0)), (root / "a.png", D1, (100, 50))]
    s = export_labels(iter(items), root, out, ["a", "b"], paths=[p for p, _, _ in items] if given_paths else None)
    assert not (out / "a.txt").exists() and s.written == 0
    assert [p.name for p, _ in s.failed] == ["a.jpg", "a.png"] and "belongs to a.jpg" in s.failed[1][1]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_label_files_get_normal_permissions(tmp_path):
    # a plain open() gives 0666 & ~umask; the atomic temp file must not leave labels at 0600
    ref = tmp_path / "plain.txt"
    ref.write_text("x")
    plain_mode = ref.stat().st_mode & 0o777
    if plain_mode == 0o600:
        pytest.skip("umask 077: a plain file is 0600 too")
    write_label(tmp_path / "a.txt", "1\n")
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == plain_mode
    (tmp_path / "a.txt").chmod(0o640)  # an existing file keeps its mode when rewritten
    write_label(tmp_path / "a.txt", "2\n", "overwrite")
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o640


def test_remove_stale_temps_only_ours_and_only_old(tmp_path, monkeypatch):
    # a temp file of write_text_atomic, as a process killed before the rename leaves it
    real_replace = os.replace
    monkeypatch.setattr(L.os, "replace", lambda a, b: (_ for _ in ()).throw(OSError(5, "I/O error")))
    monkeypatch.setattr(L.os, "unlink", lambda p: None)  # ...and before any cleanup
    with pytest.raises(LabelWriteError):
        write_label(tmp_path / "sub" / "a.txt", "new\n")
    monkeypatch.undo()
    assert os.replace is real_replace
    ours = [p for p in (tmp_path / "sub").iterdir()]
    assert len(ours) == 1 and ours[0].name.startswith(".a.txt.") and ours[0].name.endswith(".tmp")
    others = [tmp_path / ".notes.txt.abcd1234.tmp", tmp_path / "x.txt.scriptlens-abcd1234.tmp",
              tmp_path / "keep.txt", tmp_path / ".keep.tmp"]
    for p in others:
        p.write_text("user data\n")
    old = (ours[0].stat().st_mtime - 3600,) * 2
    assert L.remove_stale_temps(tmp_path) == 0  # fresh: a live writer may be about to rename it
    for p in [*ours, *others]:
        os.utime(p, old)
    assert L.remove_stale_temps(tmp_path) == 1
    assert not ours[0].exists() and all(p.read_text() == "user data\n" for p in others)
    assert L.remove_stale_temps(tmp_path / "missing") == 0


MANIFEST = {"tool": "test"}


def test_dataset_files_and_an_incomplete_manifest_come_before_the_first_image(tmp_path):
    import json

    root, out = tmp_path / "images", tmp_path / "labels"
    seen = []

    def gen():
        seen.append(sorted(p.name for p in out.iterdir()))
        result = json.loads((out / "scriptlens_manifest.json").read_text())["result"]
        seen.append((result["complete"], result["images"], result["total"]))
        yield from items_for(root, 3, D1)

    s = export_labels(gen(), root, out, ["a", "b"], total=3, manifest=MANIFEST)
    assert seen == [["classes.txt", "data.yaml", "scriptlens_manifest.json"], (False, 0, 3)]
    result = json.loads((out / "scriptlens_manifest.json").read_text())["result"]
    assert result["complete"] and result["images"] == s.images == 3 and result["written"] == 3


def test_ctrl_c_records_how_far_the_run_got(tmp_path):
    import json

    from engine.export import ExportInterrupted

    root, out = tmp_path / "images", tmp_path / "labels"

    def progress(done, total):
        if done == 4:
            raise KeyboardInterrupt

    with pytest.raises(ExportInterrupted) as info:
        export_labels(iter(items_for(root, 10, D1)), root, out, ["a", "b"], progress=progress, total=10, manifest=MANIFEST)
    assert isinstance(info.value, KeyboardInterrupt)
    s = info.value.summary
    assert (s.images, s.total, s.written, s.interrupted) == (4, 10, 4, True)
    assert sorted(p.name for p in out.glob("img*.txt")) == [f"img{i}.txt" for i in range(4)]
    result = json.loads((out / "scriptlens_manifest.json").read_text())["result"]
    assert (result["complete"], result["interrupted"], result["images"], result["total"]) == (False, True, 4, 10)
    assert (out / "classes.txt").is_file() and (out / "data.yaml").is_file()


def test_a_run_that_writes_no_label_leaves_the_manifest_of_the_labels_there(tmp_path):
    root, out = tmp_path / "images", tmp_path / "labels"
    export_labels(items_for(root, 2, D1), root, out, ["a", "b"], manifest={"tool": "first"})
    before = (out / "scriptlens_manifest.json").read_text()
    s = export_labels(items_for(root, 2, D1), root, out, ["a", "b"], manifest={"tool": "second"})  # all skipped
    assert s.skipped == 2 and (out / "scriptlens_manifest.json").read_text() == before
