"""tools.train_demo end to end on a tiny set: a run writes a checkpoint that tools.export_demo
turns into a detector ScriptLens loads, and the same arguments give the same weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.pipeline import Detector
from engine.thresholds import Thresholds, apply_thresholds
from tools import train_demo
from tools.export_demo import export


def _train(out, *extra: str) -> dict:
    args = ["--out", str(out), "--count", "6", "--imgsz", "128", "--iters", "3", "--batch", "2", "--workers", "1",
            "--width", "8", "8", "16", "16", "16", "--depth", "1", "1", "1", "1", *extra]
    assert train_demo.main(args) == 0
    return torch.load(out / "last.pt", map_location="cpu", weights_only=True)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("train")  # the rendered cache is shared by the runs below


@pytest.mark.parametrize("assign, precision", [("yolov5", "--no-bf16"), ("aligned", "--bf16")])
def test_same_arguments_give_the_same_weights(run_dir, assign, precision):
    a = _train(run_dir, "--assign", assign, precision)
    b = _train(run_dir, "--assign", assign, precision)
    assert a["iterations"] == 3 and a["args"]["assign"] == assign
    assert a["args"]["bf16"] is (precision == "--bf16")
    assert a["state_dict"].keys() == b["state_dict"].keys()
    for k in a["state_dict"]:
        assert torch.equal(a["state_dict"][k], b["state_dict"][k]), k
    c = _train(run_dir, "--assign", assign, precision, "--seed", "1")
    assert any(not torch.equal(a["state_dict"][k], c["state_dict"][k]) for k in a["state_dict"])


def test_a_trained_checkpoint_exports_to_one_detector(run_dir, tmp_path):
    _train(run_dir)
    raw, decoded = export(run_dir / "last.pt", tmp_path)
    image = np.random.default_rng(0).integers(0, 255, (100, 140, 3), dtype=np.uint8)
    dets = []
    for path in (raw, decoded):
        det = Detector.load(path, device="cpu")
        assert det.info.input_hw == (128, 128)
        dets.append(apply_thresholds(det.predict(image).candidates, Thresholds(conf=0.001, iou=0.45)))
    assert len(dets[0]) > 0
    # an untrained net gives many equal scores, whose order may differ: compare as sets
    a, b = (np.round(d.xyxy, 2) for d in dets)
    np.testing.assert_allclose(a[np.lexsort(a.T)], b[np.lexsort(b.T)], atol=1e-2)


def test_ema_follows_the_per_tensor_average_and_copies_counters_even_after_a_conversion():
    torch.manual_seed(0)
    model = train_demo.ShapesNet(torch.rand(9, 2) * 50, (8, 8, 16, 16, 16), (1, 1, 1, 1)).train()
    ema = train_demo.EMA(model)
    want = {k: v.detach().clone() for k, v in model.state_dict().items()}
    model = model.to(memory_format=torch.channels_last)  # new weight tensors: the EMA must follow them
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, fused=True)
    for step in range(1, 4):
        sum(p.square().mean() for p in model(torch.rand(2, 3, 64, 64))).backward()
        opt.step()
        opt.zero_grad()
        ema.update(model)
        d = ema.decay * (1 - np.exp(-step / ema.tau))
        for k, v in model.state_dict().items():
            want[k] = want[k] * d + v.detach() * (1 - d) if v.dtype.is_floating_point else v.clone()
    for k, v in want.items():
        torch.testing.assert_close(ema.shadow[k], v, rtol=1e-6, atol=1e-7, msg=k)
    assert ema.shadow["stem.bn.num_batches_tracked"].item() == 3
    assert not torch.equal(ema.shadow["stem.conv.weight"], model.stem.conv.weight)  # an average, not a copy
