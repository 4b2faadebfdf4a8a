"""engine.ground_truth_reader: one read, three outcomes (labelled, unlabelled, unreadable),
cached per file until the file changes on disk."""

from __future__ import annotations

import os
import threading

import pytest

from engine.ground_truth import GroundTruthSource
from engine.ground_truth_reader import GroundTruthReader, LabelStatus, read_label_file

LINE = "0 0.5 0.5 0.5 0.5"  # a 50x50 box in the middle of a 100x100 image


@pytest.fixture
def reader(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    return GroundTruthReader(GroundTruthSource(tmp_path / "images", tmp_path / "labels"), num_classes=3)


def _label(reader, name: str, data: bytes | str):
    path = reader.source.labels_root / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return reader.source.images_root / (path.stem + ".jpg"), path


def test_labels_are_read_in_original_pixels(reader):
    image, path = _label(reader, "a.txt", f"{LINE}\n2 0.1 0.1 0.2 0.2\n")
    gt = reader.read(image, (100, 100))
    assert gt.status is LabelStatus.LABELLED and gt.scored and gt.error == "" and gt.label_file == path
    assert gt.detections.class_id.tolist() == [0, 2]
    assert gt.detections.xyxy[0].tolist() == pytest.approx([25, 25, 75, 75])


def test_crlf_line_endings(reader):
    image, _ = _label(reader, "a.txt", f"{LINE}\r\n1 0.5 0.5 0.1 0.1\r\n\r\n")
    gt = reader.read(image, (100, 100))
    assert gt.status is LabelStatus.LABELLED and gt.detections.class_id.tolist() == [0, 1]


def test_utf8_bom_is_accepted(reader):
    image, _ = _label(reader, "a.txt", b"\xef\xbb\xbf" + f"{LINE}\r\n".encode())
    gt = reader.read(image, (100, 100))
    assert gt.status is LabelStatus.LABELLED and gt.detections.class_id.tolist() == [0]


def test_missing_file_is_an_unlabelled_negative(reader):
    gt = reader.read(reader.source.images_root / "none.jpg", (100, 100))
    assert gt.status is LabelStatus.UNLABELLED and gt.scored
    assert len(gt.detections) == 0 and gt.error == ""
    assert gt.label_file == reader.source.labels_root / "none.txt"


def test_empty_file_is_a_labelled_negative(reader):
    image, _ = _label(reader, "a.txt", "")
    gt = reader.read(image, (100, 100))
    assert gt.status is LabelStatus.LABELLED and len(gt.detections) == 0


def test_malformed_line_is_unreadable_with_file_and_line(reader):
    image, path = _label(reader, "a.txt", f"{LINE}\n\n0 0.5 oops 0.1 0.1\n")
    gt = reader.read(image, (100, 100))
    assert gt.status is LabelStatus.UNREADABLE and not gt.scored
    assert len(gt.detections) == 0  # nothing of a half-read file is used
    assert gt.error.startswith(f"{path}:3: ")


def test_out_of_range_class_id_is_unreadable(reader):
    image, path = _label(reader, "a.txt", f"{LINE}\n\n3 0.5 0.5 0.1 0.1\n")  # the model has classes 0..2
    gt = reader.read(image, (100, 100))
    assert gt.status is LabelStatus.UNREADABLE and len(gt.detections) == 0
    assert gt.error == f"{path}:3: class id 3 out of range (the model has 3 classes, 0..2)"
    # without a model (no class count) the same file is read as it is
    assert read_label_file(path, (100, 100)).detections.class_id.tolist() == [0, 3]


def test_not_utf8_is_unreadable_with_its_line(reader):
    image, path = _label(reader, "a.txt", b"\xef\xbb\xbf" + f"{LINE}\n".encode() + b"1 0.5 \xff 0.1 0.1\n")
    gt = reader.read(image, (100, 100))
    assert gt.status is LabelStatus.UNREADABLE and gt.error.startswith(f"{path}:2: not UTF-8")


def test_a_folder_in_place_of_the_file_is_unreadable(reader):
    (reader.source.labels_root / "a.txt").mkdir()
    gt = reader.read(reader.source.images_root / "a.jpg", (100, 100))
    assert gt.status is LabelStatus.UNREADABLE and gt.error.startswith(str(reader.source.labels_root / "a.txt"))


def test_cached_until_the_file_changes_on_disk(reader):
    image, path = _label(reader, "a.txt", f"{LINE}\n")
    first = reader.read(image, (100, 100))
    assert reader.read(image, (100, 100)) is first  # unchanged file: no second parse
    # same size, new content, a later mtime: read again
    path.write_text(LINE.replace("0 ", "1 ", 1) + "\n")
    st = path.stat()
    later = st.st_mtime_ns + 1_000_000_000  # a second later, whatever the file system's clock
    os.utime(path, ns=(st.st_atime_ns, later))
    again = reader.read(image, (100, 100))
    assert again.detections.class_id.tolist() == [1]
    # a broken edit is seen too, and so is the fix
    path.write_text("1 0.5\n")
    os.utime(path, ns=(st.st_atime_ns, later + 1_000_000_000))
    assert reader.read(image, (100, 100)).status is LabelStatus.UNREADABLE
    path.unlink()
    assert reader.read(image, (100, 100)).status is LabelStatus.UNLABELLED


def test_same_mtime_but_other_size_is_read_again(reader):
    image, path = _label(reader, "a.txt", f"{LINE}\n")
    stamp = path.stat().st_mtime_ns
    reader.read(image, (100, 100))
    path.write_text(f"{LINE}\n{LINE}\n")
    os.utime(path, ns=(stamp, stamp))  # an editor that keeps the mtime (or a coarse clock)
    assert len(reader.read(image, (100, 100)).detections) == 2


def test_image_size_is_part_of_the_key(reader):
    image, _ = _label(reader, "a.txt", f"{LINE}\n")
    assert reader.read(image, (100, 100)).detections.xyxy[0].tolist() == pytest.approx([25, 25, 75, 75])
    assert reader.read(image, (200, 100)).detections.xyxy[0].tolist() == pytest.approx([50, 25, 150, 75])


def test_cache_is_bounded(reader):
    reader.max_entries = 2
    images = [_label(reader, f"{n}.txt", f"{LINE}\n")[0] for n in "abc"]
    first = reader.read(images[0], (100, 100))
    for image in images[1:]:
        reader.read(image, (100, 100))
    assert len(reader._cache) == 2
    assert reader.read(images[0], (100, 100)) is not first  # the oldest was dropped, parsed again


def test_threads_share_one_reader(reader):
    images = [_label(reader, f"{n}.txt", f"{n % 3} 0.5 0.5 0.1 0.1\n")[0] for n in range(50)]
    errors = []

    def work():
        try:
            for _ in range(5):
                for n, image in enumerate(images):
                    assert reader.read(image, (100, 100)).detections.class_id.tolist() == [n % 3]
        except Exception as exc:  # noqa: BLE001 -- reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_source_load_reads_the_same_way(tmp_path):
    """GroundTruthSource.load (kept for callers that want an exception) now accepts a BOM too."""
    (tmp_path / "1.jpg").write_bytes(b"x")
    (tmp_path / "1.txt").write_bytes(b"\xef\xbb\xbf" + f"{LINE}\r\n".encode())
    src = GroundTruthSource(tmp_path, None)
    assert src.load(tmp_path / "1.jpg", (100, 100)).class_id.tolist() == [0]
