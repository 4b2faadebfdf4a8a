"""`scriptlens eval`: score a model against YOLO ground-truth labels.

    scriptlens eval --model M --images DIR|IMAGE --labels DIR [--conf 0.25] [--iou 0.45] [--json FILE]

Runs the same engine as `label` (letterbox, decode, NMS at ``--iou``). AP needs the whole
precision-recall curve, so NMS runs on the candidates above a low floor (0.001, like the
references' val.py) and P/R/F1 are read at ``--conf``; see engine.metrics for the exact
conventions. Label files are read by engine.ground_truth_reader, the window's reader too: an
image without a label file counts as a negative (no objects), as in YOLO datasets; an image
whose label file is unreadable (malformed line, not UTF-8, a class id the model lacks) is left
out of the metrics; of images that share a label file (x.jpg + x.png -> x.txt, see
engine.label_pairs) only the first is scored. The summary and --json list all of these.

Matching and AP (engine.metrics, printed as METHOD): COCO's -- greedy by confidence, per class,
at IoU 0.50:0.95, 101-point interpolated AP, equal to pycocotools -- with one class per box, as
`label` writes them. `--multi-label` keeps every class above the floor per box, as Ultralytics
`val` does (its NMS runs with multi_label=True): use it, with `--iou 0.7` (val's NMS IoU), to
compare with `yolo val`. What still differs: val's data loader letterboxes each batch to a
minimal rectangle (rect=True) rather than the model's full input size, so its boxes differ
slightly; its AP integrates the interpolated curve (trapezoid) and its matching is by IoU rather
than by confidence -- both within a few 1e-4 here. Beside P/R/F1 at --conf, eval reports them at
the conf maximising the mean F1 over classes, as val does (engine.curves.best_mean_f1, the
threshold panel's curves).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from pathlib import Path

from engine.errors import ScriptLensError

from .common import (IMAGES_HELP, InputNotFound, add_model_options, backend_line, find_images, load_detector, max_det, quiet_opencv,
                     skipped_line, unit_float)

log = logging.getLogger(__name__)

AP_CONF = 0.001  # candidates kept for AP; below every sensible --conf
REPORT_MAX = 20  # file lines per kind of problem in the printed summary (--json has all)


def add_parser(sub) -> None:
    p = sub.add_parser("eval", help="precision, recall, F1 and mAP of a model against YOLO labels")
    p.add_argument("--model", required=True, help="model file: TorchScript, ONNX (.onnx) or torch.export (.pt2)")
    p.add_argument("--images", required=True, help=IMAGES_HELP)
    p.add_argument("--labels", required=True, help="YOLO label folder mirroring --images (a/b.jpg -> a/b.txt)")
    p.add_argument("--conf", type=unit_float, default=0.25, help="confidence for precision/recall/F1 (default 0.25)")
    p.add_argument("--iou", type=unit_float, default=0.45, help="NMS IoU threshold (default 0.45)")
    p.add_argument("--max-det", type=max_det, default=300, help="at most this many boxes per image (default 300)")
    p.add_argument("--multi-label", action="store_true",
                   help="score every class above 0.001 per box, as Ultralytics val does (NMS multi_label=True); "
                        "with --iou 0.7 this reproduces yolo val's mAP")
    p.add_argument("--json", dest="json_out", default=None, help="also write the metrics to this JSON file")
    add_model_options(p)
    p.set_defaults(run=run)


def collect_pairs(det, paths: list[Path], reader, iou: float, max_det: int):
    """Yield (predictions at AP_CONF, ground truth) per scored image; `reader` is an
    engine.ground_truth_reader.GroundTruthReader. Counts what was skipped: images the model
    could not read ("failed"), images without a label file ("unlabelled", scored as negatives)
    and images whose label file is unreadable ("unreadable": left out, one entry per file)."""
    from engine.ground_truth_reader import LabelStatus
    from engine.thresholds import Thresholds, apply_thresholds

    thresholds = Thresholds(conf=AP_CONF, iou=iou, max_det=max_det)
    stats = {"failed": 0, "unlabelled": 0, "unreadable": []}

    def pairs():
        for path, result in det.predict_paths(paths):
            if isinstance(result, ScriptLensError):
                print(skipped_line(path, str(result)), file=sys.stderr)
                stats["failed"] += 1
                continue
            h, w = result.candidates.geometry.source_hw
            gt = reader.read(path, (w, h))
            if gt.status is LabelStatus.UNREADABLE:
                stats["unreadable"].append({"image": str(path), "file": str(gt.label_file), "error": gt.error})
                continue
            stats["unlabelled"] += gt.status is LabelStatus.UNLABELLED
            yield apply_thresholds(result.candidates, thresholds), gt.detections

    return pairs(), stats


def shared_label_entries(paths: list[Path], source) -> list[dict]:
    """The images not scored because an earlier image owns their label file (engine.label_pairs)."""
    from engine.label_pairs import images_sharing_a_label_file, shared_label_message

    return [{"image": str(p), "owner": str(owner), "file": str(source.path_for(p)),
             "message": shared_label_message(p, owner, source.path_for(p))}
            for p, owner in images_sharing_a_label_file(paths, source.path_for).items()]


def report_lines(stats: dict, shared: list[dict]) -> list[str]:
    """What was not scored as labelled, for the summary: counts, then one line per file."""
    lines = []
    if stats["unlabelled"]:
        lines.append(f"{stats['unlabelled']} images had no label file and count as having no objects")
    if stats["failed"]:
        lines.append(f"{stats['failed']} images could not be read and were skipped")
    if stats["unreadable"]:
        lines.append(f"{len(stats['unreadable'])} label files could not be read; "
                     "their images were left out of the metrics:")
        lines += _capped([f"  {u['error']}" for u in stats["unreadable"]])
    if shared:
        lines.append(f"{len(shared)} images share a label file with another image and were not scored:")
        lines += _capped([f"  {s['message']}" for s in shared])
    return lines


def _capped(lines: list[str]) -> list[str]:
    if len(lines) <= REPORT_MAX:
        return lines
    return lines[:REPORT_MAX] + [f"  ... and {len(lines) - REPORT_MAX} more (all of them in --json)"]


def method_line(multi_label: bool, iou: float) -> str:
    """How the numbers were computed, in one line (engine.metrics' conventions)."""
    per_box = ("several classes per box (every class above 0.001, as Ultralytics val: multi_label=True)"
               if multi_label else "one class per box (as label writes them; --multi-label: as Ultralytics val)")
    return (f"method: COCO matching (greedy by confidence, per class) at IoU 0.50:0.95, 101-point interpolated AP "
            f"(= pycocotools); {per_box}; NMS IoU {iou:g}")


def best_f1_section(scored, names: tuple[str, ...]) -> dict:
    """P/R/F1 of each class and of all at the conf that maximises the mean F1 over classes
    (engine.curves: the threshold panel's numbers), as Ultralytics val reports P and R."""
    from engine.curves import best_mean_f1, metrics_at

    conf, mean_f1 = best_mean_f1(scored)

    def row(c):
        m = metrics_at(scored, conf, c)
        return {"precision": m.precision, "recall": m.recall, "f1": m.f1}

    return {"conf": conf, "mean_f1": mean_f1,
            "classes": [{"class_id": c, "name": n, **row(c)} for c, n in enumerate(names)], "all": row(None)}


def format_table(result, names: tuple[str, ...], best: dict | None = None) -> str:
    head = f"{'class':<16}{'labels':>8}{'P':>8}{'R':>8}{'F1':>8}{'mAP50':>8}{'mAP50-95':>10}"
    if best is not None:
        head += f"  {'P*':>6}{'R*':>7}{'F1*':>7}"
    lines = [head, "-" * len(head)]

    def fmt(v) -> str:
        return "     -" if v is None else f"{v:.3f}"

    d = result.as_dict(dict(enumerate(names)))
    stars = (best["classes"] + [best["all"]]) if best is not None else [None] * (len(d["classes"]) + 1)
    for row, star in zip(d["classes"] + [dict(d["all"], name="all")], stars):
        line = (f"{row['name'][:15]:<16}{row['gt']:>8}{row['precision']:>8.3f}{row['recall']:>8.3f}"
                f"{row['f1']:>8.3f}{fmt(row['map50']):>8}{fmt(row['map50_95']):>10}")
        if star is not None:
            line += f"  {star['precision']:>6.3f}{star['recall']:>7.3f}{star['f1']:>7.3f}"
        lines.append(line)
    if best is not None:
        lines.append(f"P/R/F1 at --conf; P*/R*/F1* at conf {best['conf']:.2f}, the conf of the best mean F1 over "
                     "classes (as Ultralytics val reports P and R)")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from engine.curves import ScoredFolder
    from engine.ground_truth import GroundTruthSource
    from engine.ground_truth_reader import GroundTruthReader
    from engine.labels import write_text_atomic
    from engine.metrics import evaluate

    quiet_opencv()
    labels_root = Path(args.labels)
    try:
        images_root, paths = find_images(args.images)
    except InputNotFound as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if not labels_root.is_dir():
        print(f"error: label folder not found: {labels_root}", file=sys.stderr)
        return 1
    source = GroundTruthSource(images_root, labels_root)
    shared = shared_label_entries(paths, source)
    skip = {s["image"] for s in shared}
    det = load_detector(args)
    names = det.info.names
    if args.multi_label:
        det.ctx = dataclasses.replace(det.ctx, multi_label=True)  # engine.decode: (box, class) pairs
    reader = GroundTruthReader(source, num_classes=len(names))
    pairs, stats = collect_pairs(det, [p for p in paths if str(p) not in skip], reader, args.iou, args.max_det)
    pairs = list(pairs)  # scored twice: engine.metrics (AP) and engine.curves (the panel's best F1)
    result = evaluate(pairs, num_classes=len(names), conf=args.conf)
    best = best_f1_section(ScoredFolder.build(pairs, len(names)), names) if result.images else None
    notes = report_lines(stats, shared)
    if result.images == 0:
        for line in notes:
            print(line, file=sys.stderr)
        print("error: no image could be " + ("scored" if stats["unreadable"] else "read"), file=sys.stderr)
        return 1
    print(f"{result.images} images, conf {args.conf:g} (P/R/F1 at IoU 0.5), NMS IoU {args.iou:g}, "
          f"input {det.info.input_hw[0]}x{det.info.input_hw[1]}")
    if (line := backend_line(det.info)) is not None:
        print(line)
    print(method_line(args.multi_label, args.iou))
    if args.multi_label and det.decoder.nms_in_model:
        print("note: --multi-label changes nothing for this model: its own NMS kept one class per box")
    for line in notes:
        print(line)
    print(format_table(result, names, best))
    if args.json_out:
        payload = {"model": str(det.info.path), "images_dir": str(images_root), "labels_dir": str(labels_root),
                   "nms_iou": args.iou, "unlabelled": stats["unlabelled"], "failed": stats["failed"],
                   "unreadable": len(stats["unreadable"]), "unreadable_labels": stats["unreadable"],
                   "shared_label": len(shared),
                   "shared_label_images": [{k: s[k] for k in ("image", "owner", "file")} for s in shared],
                   "method": method_line(args.multi_label, args.iou), "multi_label": args.multi_label,
                   **result.as_dict(dict(enumerate(names))), "best_f1": best}
        write_text_atomic(Path(args.json_out), json.dumps(payload, indent=1))
    return 0
