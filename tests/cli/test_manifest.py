"""Every export records its run: model hash, input size, thresholds, NMS mode, version, date."""

from __future__ import annotations

import hashlib
import json

import cv2
import numpy as np

import model_factory as mf
from cli.main import main
from engine.manifest import MANIFEST_NAME


def test_label_writes_manifest(tmp_path):
    model = mf.anchor_free(tmp_path / "m.torchscript", [(100.0, 100.0, 50.0, 40.0, 0, 0.9)], names=["cat", "dog", "bird"])
    images = tmp_path / "images"
    images.mkdir()
    cv2.imwrite(str(images / "1.png"), np.full((320, 320, 3), 90, np.uint8))
    profile = tmp_path / "profile.json"
    profile.write_text(json.dumps({"class_conf": {"dog": 0.7}}))
    out = tmp_path / "labels"
    assert main(["label", "--model", str(model), "--images", str(images), "--out", str(out),
                 "--conf", "0.3", "--iou", "0.6", "--agnostic", "--thresholds", str(profile)]) == 0
    m = json.loads((out / MANIFEST_NAME).read_text())
    assert m["model"]["sha256"] == hashlib.sha256(model.read_bytes()).hexdigest()
    assert m["model"]["input_hw"] == [320, 320]
    assert m["thresholds"]["conf"] == 0.3 and m["thresholds"]["iou"] == 0.6
    assert m["thresholds"]["class_conf"] == {"dog": 0.7}
    assert m["nms"] == "agnostic"
    assert m["tool"].startswith("scriptlens ") and m["date"]
    assert m["result"]["written"] == 1 and not m["result"]["cancelled"]
