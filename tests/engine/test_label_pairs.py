"""engine.label_pairs: x.jpg + x.png map to one x.txt; the first image owns it."""

from pathlib import Path

from engine.label_pairs import images_sharing_a_label_file, shared_label_message
from engine.labels import label_path_for


def test_later_image_of_a_pair_is_refused():
    root, out = Path("/data/images"), Path("/data/labels")
    images = [root / "x.jpg", root / "x.png", root / "y.jpg", root / "a" / "x.png", root / "x.webp"]
    refused = images_sharing_a_label_file(images, lambda p: label_path_for(p, root, out))
    # a/x.png maps to labels/a/x.txt: another folder, no clash
    assert refused == {root / "x.png": root / "x.jpg", root / "x.webp": root / "x.jpg"}


def test_the_order_given_decides_the_owner():
    images = [Path("x.png"), Path("x.jpg")]
    assert images_sharing_a_label_file(images, lambda p: p.with_suffix(".txt")) == {Path("x.jpg"): Path("x.png")}


def test_no_pairs_no_result():
    assert images_sharing_a_label_file([Path("a.jpg"), Path("b.jpg")], lambda p: p.with_suffix(".txt")) == {}


def test_message_names_both_images():
    msg = shared_label_message(Path("d/x.png"), Path("d/x.jpg"), Path("l/x.txt"))
    assert msg.startswith("d/x.png: not scored:") and "x.jpg" in msg and "x.txt" in msg
