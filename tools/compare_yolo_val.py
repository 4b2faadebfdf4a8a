"""Issue 24's acceptance check: `scriptlens eval --multi-label` against `yolo val` on an
Ultralytics-exported TorchScript YOLOv8n, briefly trained by Ultralytics on our shapes generator.

    python -m tools.compare_yolo_val --work /tmp/yoloval [--train-count 600 --epochs 12 --imgsz 320]

Steps (each skipped when its output exists, so a second run only re-measures):
1. tools.make_shapes writes WORK/train (seed 9101) and WORK/val (seed 9102), images/ + labels/.
2. In the test-only Ultralytics venv (tools/ultralytics_venv.sh; AGPL, never a dependency of
   ScriptLens): train YOLOv8n from its yaml (no weights downloaded) on the CPU, plots off, then
   export best.pt to TorchScript at --imgsz.
3. `yolo val` of that .torchscript on WORK/val (conf 0.001, iou 0.7: val's defaults), and
   `scriptlens eval --multi-label --iou 0.7` of the same file on the same images and labels.
Prints both mAP@0.5 (and mAP@0.5:0.95) and their difference; exit 1 when mAP@0.5 differs by
more than --tolerance (0.005). Seeds differ from the demo's (resources/demo/README.md).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TRAIN_SEED, VAL_SEED = 9101, 9102

ULTRALYTICS_SCRIPT = r"""
import json, sys
from pathlib import Path
from ultralytics import YOLO
work, epochs, imgsz, init, run = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
data = str(work / "data.yaml")
ts = work / run / "weights" / "best.torchscript"
if not ts.is_file():
    model = YOLO(init)
    model.train(data=data, epochs=epochs, imgsz=imgsz, batch=16, device="cpu", workers=2, plots=False,
                project=str(work), name=run, exist_ok=True, amp=False, seed=0, verbose=False)
    YOLO(str(work / run / "weights" / "best.pt")).export(format="torchscript", imgsz=imgsz)
m = YOLO(str(ts), task="detect").val(data=data, imgsz=imgsz, batch=1, conf=0.001, iou=0.7, device="cpu",
                                     plots=False, project=str(work), name="val", exist_ok=True, verbose=False)
print(json.dumps({"map50": float(m.box.map50), "map50_95": float(m.box.map), "model": str(ts)}))
"""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", type=Path, required=True)
    p.add_argument("--train-count", type=int, default=600)
    p.add_argument("--val-count", type=int, default=150)
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--imgsz", type=int, default=320)
    p.add_argument("--tolerance", type=float, default=0.005)
    p.add_argument("--init", default="yolov8n.yaml",
                   help="start from these weights (a best.pt of an earlier run: train longer in steps)")
    p.add_argument("--run", default="run", help="the training run's folder name under --work")
    args = p.parse_args(argv)
    from tools.make_shapes import NAMES, write_dataset

    work = args.work.resolve()
    for split, count, seed in (("train", args.train_count, TRAIN_SEED), ("val", args.val_count, VAL_SEED)):
        if not (work / split / "images").is_dir():
            write_dataset(work / split, count, seed)
    names = "\n".join(f"  {i}: {n}" for i, n in enumerate(NAMES))
    (work / "data.yaml").write_text(f"path: {work}\ntrain: train/images\nval: val/images\nnames:\n{names}\n")
    python = subprocess.run(["bash", str(REPO / "tools" / "ultralytics_venv.sh")], check=True,
                            capture_output=True, text=True).stdout.strip().splitlines()[-1]
    env = {**os.environ, "YOLO_CONFIG_DIR": str(work / "yolo_config"), "YOLO_OFFLINE": "1", "PYTHONPATH": ""}
    done = subprocess.run([python, "-c", ULTRALYTICS_SCRIPT, str(work), str(args.epochs), str(args.imgsz),
                           str(Path(args.init).resolve()) if args.init.endswith(".pt") else args.init, args.run],
                          env=env, cwd=work, capture_output=True, text=True)
    if done.returncode != 0:
        print(done.stdout[-4000:], done.stderr[-4000:], file=sys.stderr)
        return 2
    theirs = json.loads(done.stdout.strip().splitlines()[-1])
    ours_json = work / "scriptlens_eval.json"
    cmd = [sys.executable, "-m", "cli.main", "eval", "--model", theirs["model"], "--images", str(work / "val" / "images"),
           "--labels", str(work / "val" / "labels"), "--multi-label", "--iou", "0.7", "--device", "cpu",
           "--json", str(ours_json)]
    subprocess.run(cmd, check=True, cwd=REPO)
    ours = json.loads(ours_json.read_text())["all"]
    diff = ours["map50"] - theirs["map50"]
    print(f"yolo val        mAP50 {theirs['map50']:.4f}  mAP50-95 {theirs['map50_95']:.4f}")
    print(f"scriptlens eval mAP50 {ours['map50']:.4f}  mAP50-95 {ours['map50_95']:.4f}  (--multi-label --iou 0.7)")
    print(f"difference      mAP50 {diff:+.4f} (tolerance {args.tolerance})")
    print("command: " + " ".join(cmd[1:]))
    return 0 if abs(diff) <= args.tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
