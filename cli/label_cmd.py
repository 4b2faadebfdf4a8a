"""`scriptlens label`: pre-label a whole folder headless, with the GUI's exact engine."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from engine.conf_sidecar import SIDECAR_NAME
from engine.dataset_layout import IMAGE_MODES, DatasetSpec, dataset_refusal
from engine.errors import UsageError
from engine.export import SAVE_CONF_NOTE, ExportInterrupted, ExportOptions, export_labels
from engine.label_guard import assess_export_target
from engine.labels import OnExisting, label_path_for, remove_stale_temps, write_text_atomic
from engine.manifest import build_manifest

from .common import (IMAGES_HELP, InputNotFound, add_model_options, backend_line, find_images, load_detector, quiet_opencv,
                     skipped_line)
from .label_items import LabelItems
from .object_paths import display_root, object_images, staged_out
from .scale_out_flags import add_scale_out_flags
from .threshold_flags import add_threshold_flags, resolve_thresholds

log = logging.getLogger(__name__)


def add_parser(sub) -> None:
    p = sub.add_parser("label", help="write YOLO label files for every image in a folder (or for one image)")
    p.add_argument("--model", required=True, help="model file: TorchScript, ONNX (.onnx) or torch.export (.pt2)")
    p.add_argument("--images", required=True, help=IMAGES_HELP + "; with --ray also s3://bucket/prefix")
    p.add_argument("--out", default=None,
                   help="output folder for the .txt labels (mirrors sub-folders), or s3://bucket/prefix (endpoint: "
                        "AWS_ENDPOINT_URL or SCRIPTLENS_S3_ENDPOINT; README 'Scaling out'); the labels/ twin of an "
                        "images/ folder gets a data.yaml that trains as is (required unless --dataset)")
    p.add_argument("--dataset", default=None, metavar="DIR",
                   help="lay out a dataset Ultralytics trains on: DIR/images (the images, linked or copied), "
                        "DIR/labels and DIR/data.yaml; DIR must be new, empty or an earlier --dataset")
    p.add_argument("--dataset-images", choices=IMAGE_MODES, default="symlink",
                   help="--dataset: link the images (default: instant, no disk space) or copy them (a dataset to move)")
    p.add_argument("--classes", nargs="+", default=None, help="keep only these classes (ids or names)")
    p.add_argument("--save-conf", action="store_true",
                   help="add the confidence as a 6th column: for review only, Ultralytics does not train on such files")
    p.add_argument("--conf-sidecar", action="store_true",
                   help=f"write the confidences to OUT/{SIDECAR_NAME} (labels stay 5 columns, trainable)")
    p.add_argument("--no-empty", action="store_true", help="write no file for images without detections")
    p.add_argument("--on-existing", choices=[e.value for e in OnExisting], default="skip",
                   help="what to do with label files that already exist (default: skip)")
    p.add_argument("--force", action="store_true",
                   help="with --on-existing overwrite: replace label files that no ScriptLens run wrote "
                        "(hand-made labels); refused without it")
    add_threshold_flags(p)
    p.add_argument("--json", dest="json_out", default=None, help="also write every detection (original pixels) to this JSON file")
    add_model_options(p)
    add_scale_out_flags(p)
    p.set_defaults(run=run)


def output_folders(args: argparse.Namespace) -> tuple[Path, DatasetSpec | None]:
    """The label folder, and the dataset to lay out (--dataset: its labels/ is the label folder)."""
    if args.dataset is None:
        if args.out is None:
            raise UsageError("give --out FOLDER for the labels, or --dataset DIR to lay out a training dataset")
        return Path(args.out), None
    spec = DatasetSpec(Path(args.dataset), args.dataset_images)
    if args.out is not None and Path(args.out).resolve() != spec.labels_dir.resolve():
        raise UsageError(f"--dataset writes the labels to {spec.labels_dir}; leave out --out (or give that folder)")
    return spec.labels_dir, spec


def class_tokens(values: list[str] | None) -> list[str] | None:
    """`--classes 0 2`, `--classes cat,dog` -> ["0", "2"], ["cat", "dog"]; checked before the model loads."""
    if values is None:
        return None
    tokens = [t.strip() for v in values for t in v.split(",") if t.strip()]
    if not tokens:  # `--classes ""` would filter out everything and write only empty labels
        raise UsageError("--classes names no class; give ids or names, e.g. --classes 0 2 or --classes person")
    return tokens


def resolve_classes(tokens: list[str] | None, names: tuple[str, ...]) -> tuple[int, ...] | None:
    """Class ids for `class_tokens`; names by `engine.profile.class_index`, the profiles' rule."""
    from engine.profile import class_index

    if tokens is None:
        return None
    out = []
    for token in tokens:
        if token.isdigit():
            if int(token) >= len(names):
                # an id the model cannot output would silently write an EMPTY label file for
                # every image -- which a YOLO dataset reads as "no objects here"
                raise UsageError(f"unknown class id {token}: the model has {len(names)} classes "
                                 f"(0-{len(names) - 1}: {', '.join(names)})")
            out.append(int(token))
        elif (index := class_index(token, names)) is not None:
            out.append(index)
        else:
            raise UsageError(f"unknown class {token!r}; the model's classes are: {', '.join(names)}")
    return tuple(out)


def check_output(out: Path, paths: list[Path], images_root: Path, policy: OnExisting, force: bool,
                 shown: str | None = None) -> str | None:
    """Why the output folder cannot be used, before any image is run (None: go ahead).
    `shown`: the name to say for it (--out s3://...: `out` is its local staging copy).

    Label files that no ScriptLens run wrote (a person's labels: engine.label_guard) are replaced
    only with --force; `backup` keeps each old file, so it needs no --force."""
    name = shown or out
    if out.exists() and not out.is_dir():
        return f"--out {out} is a file; give a folder for the label files"
    target = assess_export_target(out, paths, images_root)
    if policy is OnExisting.OVERWRITE and target.others_labels and target.existing and not force:
        n = len(target.existing)
        return (f"{name} holds label files that no ScriptLens run wrote, and --on-existing overwrite would replace "
                f"{n} of them (e.g. {target.existing[0].name}); add --force to replace them, or use "
                f"--on-existing backup to keep each old file as .bak")
    if policy is OnExisting.BACKUP and target.others_labels and target.existing:
        print(f"note: {name} holds label files that ScriptLens did not write; {len(target.existing)} will be "
              "kept as .bak and replaced", file=sys.stderr)
    return None


def run_manifest(info, thresholds, images_root: Path, profile_path: str | None) -> dict:
    """The run manifest (engine.manifest) with the effective thresholds and the profile read."""
    manifest = build_manifest(info, thresholds, images_root)
    return {**manifest, "thresholds_profile": str(profile_path)} if profile_path else manifest


def run(args: argparse.Namespace) -> int:
    from engine.profile import read_profile

    from .scale_out import check_scale_out, shard_paths

    quiet_opencv()
    try:
        images_root, paths = object_images(args) or find_images(args.images)  # cli.object_paths: s3://
    except InputNotFound as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    shard, paths = shard_paths(args.shard, images_root, paths)  # cli.scale_out: --shard, --ray
    if not paths:
        print(f"shard {shard}: none of the images under {images_root} falls in this shard; nothing to do")
        return 0
    if args.json_out and Path(args.json_out).is_dir():
        print(f"error: --json needs a file name, {args.json_out} is a folder", file=sys.stderr)
        return 1
    out, dataset = output_folders(args)
    if dataset is not None and (refusal := dataset_refusal(dataset.root, images_root)):
        print(f"error: --dataset {refusal}", file=sys.stderr)
        return 2
    policy = OnExisting(args.on_existing)
    tokens = class_tokens(args.classes)
    profile = read_profile(args.thresholds) if args.thresholds else None  # exit 2 before the model loads
    check_scale_out(args)
    staged = staged_out(args)  # --out s3://: the writer works on a local copy of the prefix
    try:
        return _label(args, images_root, paths, staged.local if staged else out, dataset, policy, tokens, profile, shard, staged)
    finally:
        if staged is not None:
            staged.close()


def _label(args, images_root: Path, paths: list[Path], out: Path, dataset, policy: OnExisting, tokens, profile, shard,
           staged) -> int:
    from .progress import progress_bar
    from .scale_out import manifest_with, remote_predictions

    refusal = check_output(out, paths, images_root, policy, args.force, staged.uri if staged else None)
    if refusal:
        print(f"error: {refusal}", file=sys.stderr)
        return 2
    det = load_detector(args)  # ScriptLensError -> exit 3 in main
    names = det.info.names
    resolved = resolve_thresholds(args, profile, names, resolve_classes(tokens, names))
    thresholds = resolved.thresholds
    print(resolved.line(names))
    if (line := backend_line(det.info)) is not None:  # what runs the model, and why (before the run)
        print(line)
    remote = remote_predictions(args, det)
    if remote is not None:
        print(remote.line())
    options = ExportOptions(save_conf=args.save_conf, empty_files=not args.no_empty, on_existing=policy,
                            conf_sidecar=args.conf_sidecar, dataset=dataset)
    # temp files left by an earlier run that was killed mid-write (engine.labels)
    stale = remove_stale_temps(out)
    if stale:
        log.info("removed %d stale temp file(s) under %s", stale, out)
    with progress_bar(total=len(paths)) as bar:
        items = LabelItems(det, paths, images_root, out, thresholds, lambda line: bar.write(line, file=sys.stderr),
                           records={} if args.json_out else None, predict=remote)
        exported = staged.uploading(items, lambda p: label_path_for(p, images_root, out)) if staged else items
        try:
            summary = export_labels(exported, images_root, out, names, options,
                                    progress=lambda done, total: bar.update(1), total=len(paths),
                                    manifest=manifest_with({**run_manifest(det.info, thresholds, images_root, args.thresholds),
                                                            "images": display_root(args, images_root)}, shard, remote),
                                    paths=paths, manifest_name=shard.manifest_name if shard else None)
        except ExportInterrupted as stop:
            bar.close()
            if staged:
                staged.push_all()  # what was done goes up: the same command finishes the rest
            print(interrupted_line(stop.summary, policy), file=sys.stderr)
            return 130
    if staged:
        staged.push_all()
    report_failures(summary, items.reported, paths)
    if items.records is not None:
        write_detections_json(Path(args.json_out), det.info, thresholds, items.records, summary)
    print(summary.line())
    if options.save_conf:
        print(f"note: {SAVE_CONF_NOTE}")
    if summary.data_yaml:
        print(f"data.yaml: {summary.data_yaml}")
    why = nothing_written(summary, policy, options.empty_files)
    if why:
        print(why)
    processed = summary.images - len(summary.failed)
    return 0 if processed > 0 else 1


def report_failures(summary, printed: set[Path], images: list[Path]) -> None:
    """What went wrong while writing (a label file that cannot be written...), one line each:
    an image's in the words every image gets (`skipped:`), the folder's (classes.txt, the
    manifest) as an error."""
    images = set(images)
    for path, message in summary.failed:
        if path not in printed:
            own = path in images and message != summary.stopped
            print(skipped_line(path, message) if own else f"error: {message}", file=sys.stderr)


def interrupted_line(summary, policy: OnExisting) -> str:
    """Ctrl+C: how far the run got, and how to finish it."""
    again = ("existing labels are skipped" if policy is OnExisting.SKIP
             else "the labels written so far come out unchanged")
    return (f"interrupted: {summary.images} of {summary.total} images done, every label file written so far "
            f"is complete; run the same command again to finish ({again})")


def nothing_written(summary, policy: OnExisting, empty_files: bool) -> str | None:
    """Why a run wrote no label file, when it wrote none but did look at images."""
    if summary.written + summary.backed_up or not summary.images or summary.stopped:
        return None  # (a stopped run said why in its error line)
    n, reasons = summary.images, []
    if summary.skipped:
        every = "all " if summary.skipped == n else ""
        reasons.append(f"{every}{summary.skipped} label files exist (--on-existing {policy.value}); "
                       "use --on-existing backup|overwrite to replace them")
    if summary.unchanged:
        reasons.append(f"{'all ' if summary.unchanged == n else ''}{summary.unchanged} label files already hold these labels")
    if summary.empty and not empty_files:
        reasons.append(f"{summary.empty} images have no detections (--no-empty writes no file for them)")
    if summary.failed:
        reasons.append(f"{len(summary.failed)} images were skipped (see above)")
    return "0 written: " + "; ".join(reasons) if reasons else None


def write_detections_json(path: Path, info, thresholds, records: dict[str, list], summary) -> None:
    """--json: every detection in original pixels (the model's rows, before engine.label_rows
    leaves zero-area boxes and duplicates out of the label files), with the settings that
    produced them and how many rows the label files left out."""
    from engine.label_rows import MIN_BOX_PX

    payload = {"model": str(info.path), "settings": {"conf": thresholds.conf, "iou": thresholds.iou, "max_det": thresholds.max_det,
               "agnostic": thresholds.agnostic, "classes": thresholds.classes, "imgsz": list(info.input_hw)},
               "names": list(info.names),
               "not_written": {"zero_area": summary.degenerate, "duplicates": summary.duplicates, "min_box_px": MIN_BOX_PX},
               "detections": records}
    write_text_atomic(path, json.dumps(payload, indent=1))
