"""Detector.load / predict on every kind of tiny model from tests/model_factory.py, and on
files that are not models."""

from __future__ import annotations

import pickle

import cv2
import numpy as np
import pytest
import torch

import model_factory as mf
from engine.errors import ImageReadError, ModelLoadError, ModelRunError, ScriptLensError, UnsupportedOutputError
from engine.metadata import COCO_NAMES
from engine.pipeline import Detector
from engine.thresholds import Thresholds, apply_thresholds

BOXES = [(100.0, 100.0, 50.0, 40.0, 0, 0.9), (200.0, 200.0, 60.0, 60.0, 1, 0.6), (250.0, 80.0, 30.0, 30.0, 2, 0.35)]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    return d


# The mean-score models' score is a mean of 102,400 pixels: ONNX Runtime's ReduceMean (the default
# backend) sums them one by one in float32, ~1e-4 off (torch sums pairwise, ~1e-7)
MEAN_TOL = 2e-4


def load(path, **kw):
    return Detector.load(path, device="cpu", **kw)


def solid(h, w, bgr=(0, 0, 0)):
    img = np.zeros((h, w, 3), np.uint8)
    img[:] = bgr
    return img


# ------------------------------------------------------------------ layouts, sizes, names, sources


@pytest.mark.parametrize("mode", ["trace", "script"])
def test_anchor_free_with_metadata(models, mode):
    det = load(mf.anchor_free(models / f"af_{mode}.torchscript", BOXES, names=["cat", "dog", "bird"], mode=mode))
    i = det.info
    assert (i.layout, i.input_hw, i.names, i.stride) == ("anchor_free", (320, 320), ("cat", "dog", "bird"), 32)
    assert i.sources["names"] == "metadata" and i.sources["input_hw"] == "metadata"
    assert i.output_shapes == ((1, 7, 2100),)
    assert det.box_convention == "ultralytics" and not i.end2end


def test_anchor_free_80_classes_no_metadata_probes_size(models):
    det = load(mf.anchor_free(models / "af80.pt", BOXES, nc=80, meta=None))
    assert det.info.layout == "anchor_free"
    assert det.info.input_hw == (320, 320)  # 640 rejected, 320 probed
    assert "probed" in det.info.sources["input_hw"]
    assert det.info.names == COCO_NAMES and det.info.names[0] == "person"
    assert "COCO" in det.info.sources["names"]


def test_one_class_no_metadata_defaults(models):
    det = load(mf.anchor_free(models / "af1.pt", [(50, 50, 10, 10, 0, 0.5)], nc=1, meta=None))
    assert det.info.names == ("class0",)


@pytest.mark.parametrize("as_dict", [True, False])
def test_anchor_based_yolov5_metadata(models, as_dict):
    path = mf.anchor_based(models / f"ab_{as_dict}.pt", [(100, 100, 50, 40, 0.9, [0.2, 0.8])], nc=2,
                           meta=mf.yolov5_meta(["x", "y"], as_dict=as_dict))
    det = load(path)
    assert (det.info.layout, det.info.input_hw, det.info.names) == ("anchor_based", (320, 320), ("x", "y"))
    assert det.box_convention == "yolov5"
    d = apply_thresholds(det.predict(solid(320, 320)).candidates, Thresholds(conf=0.25))
    np.testing.assert_allclose(d.xyxy, [[75, 80, 125, 120]], atol=1e-4)
    assert d.class_id.tolist() == [1] and d.confidence[0] == pytest.approx(0.72, abs=1e-6)


@pytest.mark.parametrize("with_meta, score", [(True, 0.9 * 0.5), (False, 0.9)])
def test_one_class_anchor_based_trap(models, with_meta, score):
    # (1, 6300, 6) at 320: looks like end-to-end by its last dim, but is a one-class YOLOv5/v7
    meta = mf.yolov5_meta(["only"]) if with_meta else None
    det = load(mf.anchor_based(models / f"ab1_{with_meta}.pt", [(100, 100, 50, 40, 0.9, [0.5])], nc=1, meta=meta))
    assert det.info.layout == "anchor_based"
    assert det.info.output_shapes == ((1, 6300, 6),)
    d = apply_thresholds(det.predict(solid(320, 320)).candidates, Thresholds(conf=0.25))
    assert d.confidence.tolist() == pytest.approx([score], abs=1e-6)


def test_end2end_with_metadata(models):
    rows = [(10, 10, 50, 50, 0.9, 1), (10, 10, 50, 50, 0.85, 2), (100, 100, 120, 140, 0.2, 0)]
    det = load(mf.end2end(models / "e2e.pt", rows, names=("a", "b", "c")))
    assert det.info.layout == "end2end" and det.info.end2end
    assert any(r[0] == "nms" for r in det.info.describe())
    cand = det.predict(solid(320, 320)).candidates
    assert cand.nms_in_model
    d = apply_thresholds(cand, Thresholds(conf=0.25, iou=0.1))  # IoU has no effect
    np.testing.assert_allclose(d.xyxy, [[10, 10, 50, 50], [10, 10, 50, 50]])
    assert d.class_id.tolist() == [1, 2]


def test_end2end_without_metadata(models):
    det = load(mf.end2end(models / "e2e_nometa.pt", [(10, 10, 50, 50, 0.9, 1)], meta=None))
    assert det.info.layout == "end2end"
    assert det.info.names == COCO_NAMES


def test_raw_heads_square_probe_and_defaults(models):
    t = [0, 0, 0, 0, 2.1972246, 1.3862944, -2.1972246]  # obj .9, cls .8 / .1
    det = load(mf.raw_heads(models / "rh.pt", [(0, 1, 3, 2, t)]))
    i = det.info
    assert (i.layout, i.input_hw, i.stride, len(i.names)) == ("raw_anchor_heads", (320, 320), 32, 2)
    assert i.anchors == ((10, 13, 16, 30, 33, 23), (30, 61, 62, 45, 59, 119), (116, 90, 156, 198, 373, 326))
    assert "default" in i.sources["anchors"]
    d = apply_thresholds(det.predict(solid(320, 320)).candidates, Thresholds(conf=0.25))
    np.testing.assert_allclose(d.xyxy, [[12, 13, 28, 43]], atol=1e-3)
    assert d.confidence[0] == pytest.approx(0.72, abs=1e-5)


def test_raw_heads_rectangular(models):
    # level 2 of 256x320: 8 x 10 cells of 32 px; anchor (373, 326) at cell y=7, x=9 -> see test_decode
    t = [1.0986123, 0, 0, -1.0986123, 2.944439, 0.4054651, 4.59512]
    path = mf.raw_heads(models / "rh_rect.pt", [(2, 2, 7, 9, t)], hw=(256, 320), meta={"imgsz": [256, 320], "names": ["p", "q"]})
    det = load(path)
    assert det.info.input_hw == (256, 320) and det.info.names == ("p", "q")
    d = apply_thresholds(det.predict(solid(256, 320)).candidates, Thresholds(conf=0.25))
    np.testing.assert_allclose(d.xyxy, [[320 - 186.5, 240 - 40.75, 320, 256]], atol=1e-3)  # clipped right/bottom
    assert d.class_id.tolist() == [1]


def test_raw_heads_user_imgsz(models):
    path = mf.raw_heads(models / "rh_rect_nometa.pt", [], hw=(256, 320))
    with pytest.raises(ModelLoadError, match="--imgsz"):
        load(path)  # no metadata and not a probed size
    assert load(path, imgsz=(256, 320)).info.input_hw == (256, 320)


def test_tuple_output(models):
    pred = mf.anchor_based_tensor([(100, 100, 50, 40, 0.9, [0.2, 0.8])], 2)
    det = load(mf.tuple_output(models / "tuple.pt", pred, meta=mf.yolov5_meta(["x", "y"])))
    assert det.info.layout == "anchor_based"
    d = apply_thresholds(det.predict(solid(320, 320)).candidates, Thresholds())
    np.testing.assert_allclose(d.xyxy, [[75, 80, 125, 120]], atol=1e-4)


def test_sidecars_and_user_names(models, tmp_path):
    path = mf.anchor_free(tmp_path / "m.torchscript", BOXES, meta=None)
    (tmp_path / "classes.txt").write_text("one\ntwo\nthree\n")
    det = load(path)
    assert det.info.names == ("one", "two", "three") and det.info.sources["names"] == "sidecar classes.txt"
    (tmp_path / "m.yaml").write_text("names: [A, B, C]\nimgsz: 320\n")
    det = load(path)
    assert det.info.names == ("A", "B", "C") and det.info.sources["input_hw"] == "sidecar m.yaml"
    assert load(path, names=["u", "v", "w"]).info.names == ("u", "v", "w")


def test_mapping_back_to_a_rectangular_image(models):
    det = load(mf.anchor_free(models / "af_map.pt", BOXES))
    # 640 x 320 (w x h) -> gain 0.5, resized 320x160, 80 px top padding
    cand = det.predict(solid(320, 640)).candidates
    d = apply_thresholds(cand, Thresholds(conf=0.25, iou=0.45))
    exp = []
    for cx, cy, w, h, cls, s in BOXES:
        x1, y1, x2, y2 = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
        exp.append([x1 / 0.5, (y1 - 80) / 0.5, x2 / 0.5, (y2 - 80) / 0.5])
    exp = np.clip(np.array(exp), 0, [640, 320, 640, 320])
    np.testing.assert_allclose(d.xyxy, exp, atol=1e-3)
    assert d.class_id.tolist() == [0, 1, 2]


# ------------------------------------------------------------------ wrong sizes, broken models


def test_wrong_input_size_message(models):
    path = mf.anchor_free(models / "af_size.pt", BOXES)
    with pytest.raises(ModelLoadError) as info:
        load(path, imgsz=256)
    msg = str(info.value)
    assert "256x256" in msg and "--imgsz" in msg and "\n" not in msg


def test_metadata_size_wrong_is_not_probed(models):
    path = mf.anchor_free(models / "af_badmeta.pt", BOXES, meta=mf.ultralytics_meta(["a", "b", "c"], hw=(416, 416)))
    with pytest.raises(ModelLoadError, match="416x416"):
        load(path)


def test_scripted_size_check_message(models):
    path = mf.anchor_free(models / "afs_size.pt", BOXES, mode="script")
    with pytest.raises(ModelLoadError, match="--imgsz"):
        load(path, imgsz=(256, 320))


def test_model_raising_in_forward(models):
    with pytest.raises(ModelLoadError, match="custom op exploded"):
        load(mf.raising_model(models / "raise.pt", meta={"imgsz": [320, 320]}))


def test_nan_model_is_refused_at_load(models):
    # all NaN on the grey warm-up input: broken for every image, so one load error, not one per image
    with pytest.raises(ModelLoadError, match="NaN"):
        load(mf.nan_model(models / "nan.pt"))


def test_nan_on_some_inputs_fails_at_run_time(models):
    det = load(mf.nan_on_bright_model(models / "nan_bright.pt", BOXES))
    assert len(det.predict(solid(320, 320)).candidates) == 3
    with pytest.raises(ModelRunError, match="NaN"):
        det.predict(solid(320, 320, (255, 255, 255)))


@pytest.mark.parametrize("builder", [mf.unsupported_tensor_model, mf.dict_output_model])
def test_unsupported_outputs(models, builder):
    with pytest.raises(UnsupportedOutputError) as info:
        load(builder(models / f"{builder.__name__}.pt"))
    assert "1x10" in str(info.value) or "dict" in str(info.value)


@pytest.mark.parametrize(
    "builder, words",
    [
        (mf.training_checkpoint, "training checkpoint"),
        (mf.state_dict_file, "state_dict"),
        (mf.empty_file, "empty"),
        (mf.random_zip, "not a TorchScript model"),
        (mf.text_file, "not a TorchScript model"),
    ],
)
def test_non_model_files(tmp_path, builder, words):
    path = builder(tmp_path / "best.pt")
    with pytest.raises(ModelLoadError) as info:
        load(path)
    msg = str(info.value)
    assert words in msg
    if builder is not mf.empty_file:
        assert "TorchScript" in msg and "export" in msg


def test_missing_and_folder(tmp_path):
    with pytest.raises(ModelLoadError, match="not found"):
        load(tmp_path / "nope.pt")
    with pytest.raises(ModelLoadError, match="folder"):
        load(tmp_path)


@pytest.mark.parametrize("fmt", ["zip", "legacy", "pickle"])
def test_malicious_checkpoint_is_never_unpickled(tmp_path, fmt):
    marker = tmp_path / f"pwned_{fmt}"
    path = mf.malicious_checkpoint(tmp_path / f"evil_{fmt}.pt", marker, fmt)
    with pytest.raises(ModelLoadError, match="TorchScript"):
        load(path)
    assert not marker.exists()


@pytest.mark.parametrize("member", ["data.pkl", "constants.pkl"])
def test_malicious_pickle_inside_a_torchscript_archive_is_not_run(tmp_path, member):
    # passes our member-list check, so torch.jit.load reads it: TorchScript's own (C++)
    # unpickler knows tensor/TorchScript types only and refuses the Python callable
    marker = tmp_path / "pwned"
    path = mf.malicious_torchscript(tmp_path / "evil.torchscript", marker, member)
    with pytest.raises(ModelLoadError) as info:
        load(path)
    assert "\n" not in str(info.value)
    assert not marker.exists()


def test_malicious_payload_really_fires_when_unpickled(tmp_path):
    # control: the payload is live, so the test above can fail
    marker = tmp_path / "control"
    path = mf.malicious_checkpoint(tmp_path / "evil.pkl", marker, "pickle")
    with open(path, "rb") as f:
        obj = pickle.load(f)
    obj["model"].close()
    assert marker.exists()


# ------------------------------------------------------------------ predict_paths


def write_red(path, r, hw=(320, 320)):
    cv2.imwrite(str(path), solid(*hw, (0, 0, r)))
    return path


def test_predict_paths_keeps_order_and_continues_past_bad_images(tmp_path):
    det = load(mf.mean_score_model(tmp_path / "mean.pt"))
    paths = [write_red(tmp_path / "a.png", 51), tmp_path / "bad.jpg", write_red(tmp_path / "c.png", 153),
             tmp_path / "missing.png", write_red(tmp_path / "e.png", 204)]
    paths[1].write_bytes(b"not an image")
    out = list(det.predict_paths(paths, workers=2, lookahead=1))
    assert [p for p, _ in out] == paths
    assert isinstance(out[1][1], ImageReadError) and isinstance(out[3][1], ImageReadError)
    for (_, pred), r in zip([out[0], out[2], out[4]], (51, 153, 204)):
        assert pred.candidates.score.tolist() == pytest.approx([r / 255], abs=MEAN_TOL)
        assert pred.timings.total_ms >= 0


def test_predict_paths_model_error_is_per_image(tmp_path):
    det = load(mf.raises_on_dark_model(tmp_path / "dark.pt", BOXES))
    paths = [write_red(tmp_path / "bright.png", 255), write_red(tmp_path / "dark.png", 0), write_red(tmp_path / "bright2.png", 255)]
    for p in paths:  # make "bright" bright in all channels
        if "bright" in p.name:
            cv2.imwrite(str(p), solid(320, 320, (255, 255, 255)))
    out = list(det.predict_paths(paths))
    assert isinstance(out[1][1], ModelRunError) and "dark image" in str(out[1][1])
    assert len(out[0][1].candidates) == 3 and len(out[2][1].candidates) == 3


def test_batch_model_pads_last_chunk(tmp_path):
    out = mf.anchor_free_tensor(BOXES, 3).repeat(2, 1, 1)
    path = mf.const_model(tmp_path / "b2.pt", out, meta=mf.ultralytics_meta(["a", "b", "c"], batch=2), batch=2)
    det = load(path)
    assert det.info.batch == 2
    paths = [write_red(tmp_path / f"{i}.png", 100) for i in range(3)]
    res = list(det.predict_paths(paths))
    assert [p for p, _ in res] == paths
    assert all(len(r.candidates) == 3 for _, r in res)
    assert len(det.predict(solid(320, 320)).candidates) == 3


def test_cuda_request_without_cuda_is_clear(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    path = mf.anchor_free(tmp_path / "af.pt", BOXES)
    with pytest.raises(ModelLoadError, match="CUDA"):
        Detector.load(path, device="cuda")


@pytest.mark.parametrize("frac", [0.5, 0.999])
def test_truncated_torchscript_says_incomplete_not_export(tmp_path, frac):
    full = mf.anchor_free(tmp_path / "full.pt", BOXES)
    cut = tmp_path / "cut.pt"
    cut.write_bytes(full.read_bytes()[: int(full.stat().st_size * frac)])
    with pytest.raises(ModelLoadError) as info:
        load(cut)
    msg = str(info.value)
    assert "incomplete" in msg and "export it to TorchScript first" not in msg


def test_predict_paths_survives_an_oversized_image(tmp_path):
    det = load(mf.anchor_free(tmp_path / "af.pt", BOXES))
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(mf.huge_png_header())
    ok = write_red(tmp_path / "ok.png", 10)
    out = list(det.predict_paths([bomb, ok]))
    assert isinstance(out[0][1], ImageReadError)
    assert len(out[1][1].candidates) == 3


def test_predict_paths_survives_a_preprocessing_crash(tmp_path, monkeypatch):
    import engine.predictor as pl  # letterboxing moved here from engine.pipeline

    det = load(mf.anchor_free(tmp_path / "af.pt", BOXES))
    a, b = write_red(tmp_path / "a.png", 10, (100, 100)), write_red(tmp_path / "b.png", 10)
    real = pl.letterbox

    def flaky(image, hw, conv):
        if image.shape[0] == 100:
            raise cv2.error("simulated OpenCV assertion")
        return real(image, hw, conv)

    monkeypatch.setattr(pl, "letterbox", flaky)
    out = list(det.predict_paths([a, b]))
    assert isinstance(out[0][1], ImageReadError) and "simulated" in str(out[0][1])
    assert len(out[1][1].candidates) == 3


@pytest.mark.parametrize("workers", [1, 3])
def test_predict_paths_parallel_matches_sequential_and_restores_threads(tmp_path, workers):
    import torch

    det = load(mf.mean_score_model(tmp_path / "mean.pt"))
    reds = list(range(10, 250, 20))
    paths = [write_red(tmp_path / f"{i}.png", r) for i, r in enumerate(reds)]
    before = torch.get_num_threads()
    out = list(det.predict_paths(paths, workers=workers, lookahead=2))
    assert torch.get_num_threads() == before  # image-parallel mode only borrows the setting
    assert [p for p, _ in out] == paths
    for (_, pred), p in zip(out, paths):
        assert pred.candidates.score.tolist() == pytest.approx(det.predict_path(p).candidates.score.tolist(), abs=1e-6)


# ------------------------------------------------------------------ one Prediction, one error translation


class _BatchMeanScore(torch.nn.Module):
    """A fixed-batch (2) `mean_score_model`: item b's one box scores the mean of ITS red channel."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.view(2, 3, 320, 320)
        out = torch.zeros(2, 5, 2100)
        out[:, 0:4, 0] = torch.tensor([160.0, 160.0, 100.0, 100.0])
        out[:, 4, 0] = x[:, 0].mean(dim=(1, 2))
        return out


def _same_prediction(a, b):
    assert a.candidates.score.tolist() == pytest.approx(b.candidates.score.tolist(), abs=1e-6)
    np.testing.assert_allclose(a.candidates.xyxy, b.candidates.xyxy, atol=1e-4)
    assert a.candidates.class_id.tolist() == b.candidates.class_id.tolist()
    assert a.candidates.geometry == b.candidates.geometry


def test_fixed_batch_scheduling_equals_per_image_prediction(tmp_path):
    path = mf._save(torch.jit.script(_BatchMeanScore()), tmp_path / "b2mean.pt", mf.ultralytics_meta(["red"], batch=2))
    det = load(path)
    assert det.info.batch == 2
    reds = [10, 60, 110, 160, 210]  # odd: the last batch is padded
    paths = [write_red(tmp_path / f"{i}.png", r) for i, r in enumerate(reds)]
    paths.append(write_red(tmp_path / "wide.png", 90, (240, 320)))  # letterboxed: padding in the mean
    out = list(det.predict_paths(paths, workers=2, lookahead=1))
    assert [p for p, _ in out] == paths
    for (p, pred), r in zip(out, reds):
        assert pred.candidates.score.tolist() == pytest.approx([r / 255], abs=MEAN_TOL)
    for p, pred in out:
        _same_prediction(pred, det.predict_path(p))


class _FlakyDetector(Detector):
    """A real detector whose per-image step raises a non-ScriptLens exception for one file (a bug)."""

    bad = "c.png"

    def predict_path(self, path):
        if str(path).endswith(self.bad):
            raise RuntimeError("simulated bug")
        return super().predict_path(path)

    def read(self, path):
        if str(path).endswith(self.bad):
            raise KeyError("simulated bug")
        return super().read(path)


@pytest.mark.parametrize("batch", [1, 2])
def test_an_unexpected_exception_is_that_images_error_not_the_end_of_the_run(tmp_path, batch):
    if batch == 1:
        path = mf.anchor_free(tmp_path / "af.pt", BOXES)
    else:
        out = mf.anchor_free_tensor(BOXES, 3).repeat(2, 1, 1)
        path = mf.const_model(tmp_path / "b2.pt", out, meta=mf.ultralytics_meta(["a", "b", "c"], batch=2), batch=2)
    det = _FlakyDetector.load(path, device="cpu")
    assert isinstance(det, _FlakyDetector) and det.info.batch == batch
    paths = [write_red(tmp_path / f"{n}.png", 10) for n in "abcde"]
    out = list(det.predict_paths(paths, workers=2))
    assert [p for p, _ in out] == paths
    error = out[2][1]
    assert isinstance(error, ScriptLensError) and "simulated bug" in str(error) and "\n" not in str(error)
    assert str(paths[2]) in str(error)
    assert all(len(r.candidates) == 3 for i, (_, r) in enumerate(out) if i != 2)


def test_a_preprocessing_crash_reads_the_same_on_every_path(tmp_path, monkeypatch):
    """predict (an array), predict_path and predict_paths translate the same exception the same way."""
    import engine.predictor as pr

    det = load(mf.anchor_free(tmp_path / "af.pt", BOXES))
    a = write_red(tmp_path / "a.png", 10, (100, 100))

    def crash(image, hw, conv):
        raise cv2.error("simulated OpenCV assertion")

    monkeypatch.setattr(pr, "letterbox", crash)
    with pytest.raises(ImageReadError) as on_array:
        det.predict(solid(100, 100))
    with pytest.raises(ImageReadError) as on_path:
        det.predict_path(a)
    [(_, in_batch)] = list(det.predict_paths([a]))
    assert isinstance(in_batch, ImageReadError)
    assert str(on_path.value) == str(in_batch) == f"{a}: {on_array.value}"
    assert "simulated OpenCV assertion" in str(in_batch) and "\n" not in str(in_batch)


def test_a_decoder_crash_is_a_model_run_error_on_every_path(tmp_path, monkeypatch):
    det = load(mf.anchor_free(tmp_path / "af.pt", BOXES))
    a = write_red(tmp_path / "a.png", 10)

    def broken(pred, ctx, floor):
        raise IndexError("index 7 is out of bounds for axis 1 with size 7")

    monkeypatch.setattr(det.decoder, "decode", broken)
    with pytest.raises(ModelRunError, match="could not be decoded: index 7") as on_array:
        det.predict(solid(320, 320))
    with pytest.raises(ModelRunError) as on_path:
        det.predict_path(a)
    [(_, in_batch)] = list(det.predict_paths([a]))
    assert isinstance(in_batch, ModelRunError)
    assert str(on_array.value) == str(on_path.value) == str(in_batch)


def test_a_model_error_reads_the_same_on_every_path(tmp_path):
    det = load(mf.raises_on_dark_model(tmp_path / "dark.pt", BOXES))
    dark = write_red(tmp_path / "dark.png", 0)
    with pytest.raises(ModelRunError) as on_array:
        det.predict(solid(320, 320))
    with pytest.raises(ModelRunError) as on_path:
        det.predict_path(dark)
    [(_, in_batch)] = list(det.predict_paths([dark]))
    assert str(on_array.value) == str(on_path.value) == str(in_batch)
    assert "dark image" in str(in_batch) and "\n" not in str(in_batch)
