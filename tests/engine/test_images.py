"""Reading images like cv2.imread(IMREAD_COLOR), with one clear error for every bad file.
The bad-input corpus is generated in tmp_path: no binaries committed."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from engine.errors import ImageReadError
from engine.images import list_images, natural_key, read_image
from corpus import BAD, deny_reads, jpeg_bytes, pattern  # shared with tests/cli/test_bad_inputs_cli.py

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402


def imread_ref(path: Path) -> np.ndarray:
    ref = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert ref is not None
    return ref


# ------------------------------------------------------------------ good but unusual files


def test_png_and_jpeg_match_imread(tmp_path):
    for name in ("a.png", "b.jpg", "c.bmp", "d.tif", "e.webp"):
        p = tmp_path / name
        assert cv2.imwrite(str(p), pattern())
        img = read_image(p)
        assert img.dtype == np.uint8 and img.shape == (40, 60, 3)
        np.testing.assert_array_equal(img, imread_ref(p))


def test_grayscale_replicated(tmp_path):
    p = tmp_path / "g.png"
    gray = pattern()[..., 1]
    cv2.imwrite(str(p), gray)
    img = read_image(p)
    assert img.shape == (40, 60, 3)
    for c in range(3):
        np.testing.assert_array_equal(img[..., c], gray)


def test_rgba_alpha_dropped_not_blended(tmp_path):
    p = tmp_path / "rgba.png"
    bgra = np.dstack([pattern(), np.zeros((40, 60), np.uint8)])  # fully transparent
    bgra[:, 30:, 3] = 128
    cv2.imwrite(str(p), bgra)
    img = read_image(p)
    np.testing.assert_array_equal(img, imread_ref(p))
    np.testing.assert_array_equal(img, bgra[..., :3])  # the colour under alpha 0 is kept as is


def test_16bit_png_scaled_to_8bit(tmp_path):
    p = tmp_path / "deep.png"
    img16 = (pattern().astype(np.uint16) * 257)
    img16[0, 0] = (65535, 256, 255)
    cv2.imwrite(str(p), img16)
    img = read_image(p)
    assert img.dtype == np.uint8
    np.testing.assert_array_equal(img, imread_ref(p))
    np.testing.assert_array_equal(img[1:, 1:], pattern()[1:, 1:])


@pytest.mark.parametrize("mode", ["1", "P", "L", "LA", "CMYK"])
def test_pil_modes(tmp_path, mode):
    rgb = Image.fromarray(pattern()[..., ::-1].copy())
    p = tmp_path / ("x.jpg" if mode == "CMYK" else "x.png")
    im = rgb.convert(mode)
    im.save(p)
    img = read_image(p)
    assert img.shape == (40, 60, 3) and img.dtype == np.uint8
    np.testing.assert_array_equal(img, imread_ref(p))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_applied_like_imread(tmp_path, orientation):
    rgb = Image.fromarray(pattern(40, 60)[..., ::-1].copy())
    exif = Image.Exif()
    exif[0x0112] = orientation
    p = tmp_path / f"o{orientation}.jpg"
    rgb.save(p, quality=95, exif=exif.tobytes())
    img = read_image(p)
    np.testing.assert_array_equal(img, imread_ref(p))
    # orientations 5-8 swap the axes: proves the EXIF tag was honoured, not ignored
    assert img.shape[:2] == ((60, 40) if orientation >= 5 else (40, 60))


def test_1x1(tmp_path):
    p = tmp_path / "tiny.png"
    cv2.imwrite(str(p), np.array([[[1, 2, 3]]], np.uint8))
    assert read_image(p).tolist() == [[[1, 2, 3]]]


@pytest.mark.parametrize("name", ["ñandú café 图像.png", "with space.png", "weird#%&name.png"])
def test_non_ascii_and_space_names(tmp_path, name):
    p = tmp_path / "dír ü" / name
    p.parent.mkdir()
    cv2.imencode(".png", pattern())[1].tofile(str(p))
    np.testing.assert_array_equal(read_image(p), pattern())


# ------------------------------------------------------------------ bad files


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_files_raise_one_clear_error(tmp_path, name):
    data, words = BAD[name]
    p = tmp_path / name
    p.write_bytes(data() if callable(data) else data)
    with pytest.raises(ImageReadError) as info:
        read_image(p)
    msg = str(info.value)
    assert name in msg and words in msg
    assert "\n" not in msg


def test_missing_file(tmp_path):
    with pytest.raises(ImageReadError, match="does not exist"):
        read_image(tmp_path / "nope.jpg")


def test_directory_named_like_image(tmp_path):
    (tmp_path / "dir.jpg").mkdir()
    with pytest.raises(ImageReadError):
        read_image(tmp_path / "dir.jpg")


def test_broken_symlink(tmp_path):
    link = tmp_path / "broken.jpg"
    link.symlink_to(tmp_path / "gone.jpg")
    with pytest.raises(ImageReadError, match="link is broken"):
        read_image(link)


def test_file_symlink_loop(tmp_path):
    link = tmp_path / "loop.jpg"
    link.symlink_to(link)  # open() fails with ELOOP
    with pytest.raises(ImageReadError, match="loop.jpg: cannot read image") as info:
        read_image(link)
    assert "\n" not in str(info.value)


def test_unreadable_file(tmp_path, monkeypatch):
    p = tmp_path / "secret.png"
    cv2.imwrite(str(p), pattern())
    p.chmod(0)
    try:
        deny_reads(monkeypatch, p)  # root ignores permissions: simulate the denial instead
        with pytest.raises(ImageReadError, match="permission denied"):
            read_image(p)
    finally:
        p.chmod(0o644)


# ------------------------------------------------------------------ listing


def touch_png(p: Path):
    p.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(p), np.zeros((2, 2, 3), np.uint8))


def test_list_images_natural_sort_hidden_and_extensions(tmp_path):
    root = tmp_path / "imgs"
    for n in ["img10.png", "img2.png", "IMG1.png", "img2b.png", "a/x.png", "B/y.png", "a/img3.JPG", "c.jpeg",
              "d.tiff", "e.webp", "f.bmp", ".hidden.png", ".cache/z.png", "sub/.git/w.png"]:
        touch_png(root / n)
    for n in ["notes.txt", "anim.gif", "model.pt", "noext"]:
        (root / n).write_text("x")
    rel = [p.relative_to(root).as_posix() for p in list_images(root)]
    assert rel == ["a/img3.JPG", "a/x.png", "B/y.png", "c.jpeg", "d.tiff", "e.webp", "f.bmp",
                   "IMG1.png", "img2.png", "img2b.png", "img10.png"]


def test_natural_key_orders_numbers():
    names = ["f100.png", "f20.png", "f3.png", "F1.png"]
    assert sorted(names, key=natural_key) == ["F1.png", "f3.png", "f20.png", "f100.png"]


def test_list_images_symlink_loop_and_nested_same_names(tmp_path):
    root = tmp_path / "imgs"
    touch_png(root / "a" / "same.png")
    touch_png(root / "b" / "same.png")
    touch_png(root / "a" / "deep" / "same.png")
    (root / "a" / "loop").symlink_to(root, target_is_directory=True)  # a loop back to the top
    (root / "dangling.png").symlink_to(root / "missing.png")
    rel = [p.relative_to(root).as_posix() for p in list_images(root)]
    assert rel == ["a/deep/same.png", "a/same.png", "b/same.png", "dangling.png"]
    with pytest.raises(ImageReadError):
        read_image(root / "dangling.png")


def test_list_images_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError):
        list_images(tmp_path / "nope")


# ------------------------------------------------------------------ JPEG end detection


@pytest.mark.parametrize("trailer", [b"ftypmp42" + bytes(range(256)) * 40, b"\x00" * 100, b"SEFT" + b"\xff\xd8junk" * 30])
def test_jpeg_with_data_after_eoi_is_valid(tmp_path, trailer):
    # motion photos append an MP4 after the JPEG's end-of-image marker; cv2.imread reads them
    p = tmp_path / "motion.jpg"
    p.write_bytes(jpeg_bytes() + trailer)
    np.testing.assert_array_equal(read_image(p), imread_ref(p))


@pytest.mark.parametrize("progressive", [False, True])
@pytest.mark.parametrize("keep", [0.3, 0.6, 0.95])
def test_truncated_jpeg_detected_even_with_exif_thumbnail(tmp_path, progressive, keep):
    rgb = Image.fromarray(np.random.default_rng(1).integers(0, 255, (300, 300, 3), dtype=np.uint8))
    full = tmp_path / "full.jpg"
    exif = Image.Exif()
    exif[0x0112] = 1
    rgb.save(full, quality=90, progressive=progressive, exif=exif.tobytes())
    assert read_image(full).shape == (300, 300, 3)
    data = full.read_bytes()
    p = tmp_path / "cut.jpg"
    p.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ImageReadError, match="truncated"):
        read_image(p)
    z = tmp_path / "zero_filled.jpg"  # an interrupted download into a pre-allocated file
    z.write_bytes(data[: int(len(data) * keep)] + b"\x00" * 5000)
    with pytest.raises(ImageReadError, match="truncated"):
        read_image(z)


def test_jpeg_with_restart_markers(tmp_path):
    p = tmp_path / "rst.jpg"
    ok, buf = cv2.imencode(".jpg", pattern(200, 200), [cv2.IMWRITE_JPEG_RST_INTERVAL, 4])
    p.write_bytes(buf.tobytes())
    np.testing.assert_array_equal(read_image(p), imread_ref(p))
    p.write_bytes(buf.tobytes()[:-400])
    with pytest.raises(ImageReadError, match="truncated"):
        read_image(p)


def test_image_over_opencv_pixel_limit_is_image_read_error(tmp_path):
    # cv2.imdecode raises cv2.error here (it does not return None): must become ImageReadError
    from model_factory import huge_png_header

    p = tmp_path / "bomb.png"
    p.write_bytes(huge_png_header())
    with pytest.raises(ImageReadError, match="bomb.png.*larger than OpenCV's limit"):
        read_image(p)
