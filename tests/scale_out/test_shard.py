"""`scriptlens label --shard I/N`: N shard runs write together exactly the files of one full run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.main import main
from engine.errors import UsageError
from engine.label_guard import written_by_scriptlens
from engine.manifest import MANIFEST_NAME
from engine.shard import Shard, parse_shard, select_shard, shard_of
from scale_out.folders import DEMO_MODEL, demo_tree, files, manifest_core


def label(images: Path, out: Path, *extra: str) -> int:
    return main(["label", "--model", str(DEMO_MODEL), "--images", str(images), "--out", str(out), "--device", "cpu",
                 *extra])


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    return demo_tree(tmp_path_factory.mktemp("shard") / "images")


@pytest.fixture(scope="module")
def full_run(tree, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("full") / "labels"
    assert label(tree, out, "--save-conf") == 0
    return out


def test_union_of_shards_is_the_full_run_byte_for_byte(tree, full_run, tmp_path, capsys):
    out = tmp_path / "labels"
    for i in range(3):
        label(tree, out, "--save-conf", "--shard", f"{i}/3")
    assert files(out) == files(full_run)  # labels, classes.txt, data.yaml: nothing more, nothing less
    assert len([k for k in files(full_run) if k.endswith(".txt")]) > 30
    full = json.loads((full_run / MANIFEST_NAME).read_text())
    assert not (out / MANIFEST_NAME).exists()
    shards = [json.loads((out / Shard(i, 3).manifest_name).read_text()) for i in range(3)]
    assert [s["shard"] for s in shards] == ["0/3", "1/3", "2/3"]
    for i in range(3):
        assert manifest_core(out / Shard(i, 3).manifest_name) == manifest_core(full_run / MANIFEST_NAME)
    for key in ("images", "written", "failed", "detections"):  # each image counted by exactly one shard
        assert sum(s["result"][key] for s in shards) == full["result"][key], key
    assert all(s["result"]["complete"] for s in shards)
    assert full["result"]["failed"] == 2  # the corrupt image and the second of x.jpg/x.png
    # a folder written by shards is ScriptLens's: a full run may overwrite it without --force
    assert written_by_scriptlens(out)
    assert label(tree, out, "--save-conf", "--on-existing", "overwrite") == 0
    assert files(out) == files(full_run)


def test_rerun_of_a_shard_skips_its_labels(tree, tmp_path, capsys):
    out = tmp_path / "labels"
    assert label(tree, out, "--shard", "1/2") == 0
    first = files(out)
    capsys.readouterr()
    assert label(tree, out, "--shard", "1/2") == 0
    labels = len([k for k in first if k.endswith(".txt") and k != "classes.txt"])
    assert f"0 written: {labels} label files exist" in capsys.readouterr().out  # every label of the shard
    assert files(out) == first


def test_partition_is_stable_when_images_are_added():
    root = Path("/data/images")
    before = [root / f"a/{i:04d}.jpg" for i in range(300)]
    after = sorted(before + [root / f"a/{i:04d}b.jpg" for i in range(0, 300, 7)])
    for n in (2, 5):
        old = {p: i for i in range(n) for p in select_shard(before, root, Shard(i, n))}
        new = {p: i for i in range(n) for p in select_shard(after, root, Shard(i, n))}
        assert len(old) == len(before) and len(new) == len(after)  # a partition: each image once
        assert all(new[p] == old[p] for p in before)  # nothing moved
        sizes = [list(old.values()).count(i) for i in range(n)]
        assert min(sizes) > 0.7 * len(before) / n  # roughly balanced


def test_images_sharing_a_label_file_share_a_shard():
    for stem in ("x", "a/b/c", "img_00001"):
        assert shard_of(f"{stem}.jpg", 7) == shard_of(f"{stem}.png", 7)


@pytest.mark.parametrize("text", ["3/3", "1", "a/b", "-1/2", "0/0", ""])
def test_bad_shard_is_one_clear_line(text):
    with pytest.raises(UsageError, match="--shard"):
        parse_shard(text)


def test_bad_shard_exits_2_before_loading(tree, tmp_path, capsys):
    assert label(tree, tmp_path / "o", "--shard", "4/4") == 2
    err = capsys.readouterr().err
    assert "--shard 4/4" in err and not (tmp_path / "o").exists()


def test_empty_shard_writes_nothing(tmp_path, capsys):
    one = tmp_path / "one"
    demo_tree(tmp_path / "tmp")
    one.mkdir()
    src = next((tmp_path / "tmp").rglob("*.jpg"))
    (one / src.name).write_bytes(src.read_bytes())
    n = 4
    empty = next(i for i in range(n) if shard_of(src.name, n) != i)
    assert label(one, tmp_path / "out", "--shard", f"{empty}/{n}") == 0
    assert "nothing to do" in capsys.readouterr().out
    assert not (tmp_path / "out").exists()
