"""Run INSIDE the test-only Ultralytics venv: export a 3-class YOLOv8n (built from its yaml, no
weights to download) with Ultralytics' own ONNX exporter, as a user would with
`yolo export format=onnx`. Prints the .onnx path.

    python export_onnx.py OUT_DIR IMGSZ [--dynamic]
"""

from __future__ import annotations

import sys
from pathlib import Path


def main() -> int:
    out, imgsz, dynamic = Path(sys.argv[1]), int(sys.argv[2]), "--dynamic" in sys.argv[3:]
    import yaml
    from ultralytics import YOLO
    from ultralytics.nn.tasks import yaml_model_load

    cfg = yaml_model_load("yolov8n.yaml")
    cfg["nc"] = 3
    cfg_path = out / "shapes-yolov8n.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    model = YOLO(str(cfg_path))
    model.model.names = {0: "circle", 1: "rectangle", 2: "triangle"}
    path = model.export(format="onnx", imgsz=imgsz, dynamic=dynamic, simplify=False, device="cpu")
    print(Path(path).resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
