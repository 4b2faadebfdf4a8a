"""tools.export_demo: the exported input size follows --imgsz, and ScriptLens reads both
exports of one checkpoint as the same detector."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.pipeline import Detector
from engine.thresholds import Thresholds, apply_thresholds
from tools.export_demo import export
from tools.make_shapes import NAMES
from tools.train_demo import DEPTH, STRIDES, WIDTH, ShapesNet


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(3)
    anchors = torch.tensor([[8, 9], [14, 12], [20, 30], [40, 35], [60, 70], [90, 60], [120, 130], [200, 150], [250, 260.0]])
    model = ShapesNet(anchors)
    model.init_biases(96)
    path = tmp_path_factory.mktemp("ckpt") / "last.pt"
    torch.save({"state_dict": model.state_dict(), "anchors": anchors.tolist(), "imgsz": 96, "names": list(NAMES),
                "width": list(WIDTH), "depth": list(DEPTH), "strides": list(STRIDES)}, path)
    return path


@pytest.mark.parametrize("imgsz", [None, 128])
def test_export_size_and_both_layouts_agree(checkpoint, tmp_path, imgsz):
    raw, decoded = export(checkpoint, tmp_path, imgsz)
    expect = imgsz or 96
    image = np.random.default_rng(0).integers(0, 255, (150, 200, 3), dtype=np.uint8)
    dets = []
    for path, layout in ((raw, "raw_anchor_heads"), (decoded, "anchor_based")):
        det = Detector.load(str(path), backend="torchscript")  # the exports compared, not the backends: near-tied scores of an untrained net
        assert det.info.input_hw == (expect, expect) and det.info.layout == layout
        assert det.info.names == tuple(NAMES)
        dets.append(apply_thresholds(det.predict(image).candidates, Thresholds(conf=0.001, iou=0.45)))
    assert len(dets[0]) > 0  # an untrained net still scores some anchors above 0.001
    # an untrained net gives many equal scores, whose order may differ: compare as sets
    a, b = (np.round(d.xyxy, 2) for d in dets)
    np.testing.assert_allclose(a[np.lexsort(a.T)], b[np.lexsort(b.T)], atol=1e-2)


def test_export_refuses_a_size_the_strides_do_not_divide(checkpoint, tmp_path):
    with pytest.raises(ValueError, match="multiple of the largest stride"):
        export(checkpoint, tmp_path, 100)


def test_time_models_runs_each_model_at_its_own_input_size(checkpoint, tmp_path, capsys):
    from tools.time_models import main

    raw, decoded = export(checkpoint, tmp_path, 128)
    assert main([str(decoded), str(raw), "--rounds", "1", "--runs", "2"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.count("128x128") == 2 and "shapes.torchscript" in line and "shapes_raw.torchscript" in line
    assert line.count("NHWC") == 2  # timed as the engine runs them on the CPU
    assert main([str(raw), "--rounds", "1", "--runs", "2", "--nchw"]) == 0
    assert "128x128 NCHW" in capsys.readouterr().out
    assert main([str(raw), "--rounds", "1", "--runs", "2", "--compare-nchw"]) == 0
    line = capsys.readouterr().out
    assert "128x128 NHWC" in line and "128x128 NCHW" in line


def test_time_models_compares_reduced_precision(checkpoint, tmp_path, capsys):
    from engine.cpu_features import has_bf16_units
    from tools.time_models import main

    raw, _ = export(checkpoint, tmp_path, 128)
    assert main([str(raw), "--rounds", "1", "--runs", "2", "--compare-half"]) == 0
    cells = capsys.readouterr().out.strip().split(" | ")
    assert len(cells) == 2 and " fp32 " in cells[0]
    assert (" bf16 " if has_bf16_units() else " fp32 ") in cells[1]  # what this CPU runs for --half
