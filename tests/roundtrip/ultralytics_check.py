"""Run INSIDE the test-only Ultralytics venv (tools/ultralytics_venv.sh), never imported by
ScriptLens or by the test process: it hands a data.yaml to the real Ultralytics and prints one
JSON line with what Ultralytics made of it.

    python ultralytics_check.py DATA_YAML [--train]

1. `check_det_dataset` reads the yaml (the 'train:' key check, the paths).
2. `verify_image_label` on every image of `train`, with the label path from `img2label_paths`:
   counts of found / missing / empty / corrupt labels and every message (corrupt rows,
   "duplicate labels removed").
3. `--train`: one epoch of a YOLOv8n built from its yaml (no weights: nothing to download) on
   the CPU at imgsz 64, with plots off (plots fetch a font) and validation on; its log lines.
"""

from __future__ import annotations

import json
import sys


def main() -> int:
    data_yaml, train = sys.argv[1], "--train" in sys.argv[2:]
    from ultralytics.data.utils import check_det_dataset, img2label_paths, verify_image_label
    from ultralytics.data.utils import IMG_FORMATS
    from pathlib import Path

    data = check_det_dataset(data_yaml, autodownload=False)
    root = Path(data["train"])
    images = sorted(str(p) for p in root.rglob("*") if p.suffix[1:].lower() in IMG_FORMATS)
    labels = img2label_paths(images)
    counts = {"found": 0, "missing": 0, "empty": 0, "corrupt": 0}
    messages = []
    for im, lb in zip(images, labels):
        _, _, _, _, _, nm, nf, ne, nc, msg = verify_image_label((im, lb, "", False, len(data["names"]), 0, 0, False))
        for key, n in zip(("missing", "found", "empty", "corrupt"), (nm, nf, ne, nc)):
            counts[key] += n
        if msg:
            messages.append(msg)
    result = {"images": len(images), **counts, "messages": messages, "nc": data["nc"], "names": data["names"]}
    if train:
        result["train"] = _train(data_yaml)
    print(json.dumps(result))
    return 0


def _train(data_yaml: str) -> dict:
    import io
    import logging
    import tempfile

    from ultralytics import YOLO
    from ultralytics.utils import LOGGER

    log = io.StringIO()
    handler = logging.StreamHandler(log)
    LOGGER.addHandler(handler)
    with tempfile.TemporaryDirectory() as project:
        model = YOLO("yolov8n.yaml")
        model.train(data=data_yaml, epochs=1, imgsz=64, batch=4, device="cpu", workers=0, plots=False,
                    project=project, name="rt", exist_ok=True, verbose=False, amp=False, seed=0, deterministic=True)
        metrics = model.trainer.metrics or {}
    LOGGER.removeHandler(handler)
    return {"log": log.getvalue().splitlines(), "metrics": {k: float(v) for k, v in metrics.items()}}


if __name__ == "__main__":
    sys.exit(main())
