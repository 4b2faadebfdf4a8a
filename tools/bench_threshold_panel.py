"""How fast the threshold panel refreshes for a 1,000-image folder whose candidates are cached.

    python -m tools.bench_threshold_panel [--images 1000] [--dense 300]

Two folders:
  demo   the 30 demo images' real candidates (demo model), repeated to --images, with their labels;
  dense  synthetic: --dense floor detections per image (the max-det cap), 80 classes, 7 labels
         per image -- the worst case for the confidence path (300,000 predictions).
Timed, on the UI-thread side (what runs when a confidence slider is released):
  panel  ThresholdPanel.show_thresholds (P/R/F1/mAP, PR + F1 curves, painted offscreen);
  queue  the review-queue keys of every image + re-sorting the list proxy;
and, in the worker (what runs after an IoU / agnostic / max-det change is released):
  rescore  NMS + matching for every image + ScoredFolder (demo folder only): the quick pass
           above the current confidence and the full pass at the floor, batched as the
           worker runs them and one image at a time for comparison.
The window adds a 150 ms debounce before the queue keys; a rescore starts when the IoU
slider is released (250 ms after the last change for typed values and keys).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def best_of(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times) * 1e3


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=1000)
    p.add_argument("--dense", type=int, default=300)
    args = p.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import torch

    torch.set_num_threads(1)
    from PySide6.QtWidgets import QApplication

    from engine.detections import Detections
    from engine.ground_truth import GroundTruthSource
    from engine.images import list_images
    from engine.pipeline import Detector
    from engine.batched_thresholds import select_batch
    from engine.thresholds import apply_thresholds
    from gui.folder_stats import FLOOR_CONF, BatchSizer, build_scored_folder, floor_thresholds, image_counts, score_batch, score_image
    from gui.review_queue import ORDER_DISAGREEMENT, ReviewProxy
    from gui.threshold_panel import ThresholdPanel

    app = QApplication.instance() or QApplication([])
    demo = ROOT / "resources" / "demo"
    det = Detector.load(demo / "shapes.torchscript", device="cpu")
    paths = list_images(demo / "images")
    gt_source = GroundTruthSource(demo / "images", demo / "labels")
    cands = []
    for path, pred in det.predict_paths(paths):
        h, w = pred.candidates.geometry.source_hw
        cands.append((pred.candidates, gt_source.load(path, (w, h)) or Detections.empty()))
    folder = [cands[i % len(cands)] for i in range(args.images)]

    def rescore(floor: float, batched: bool = True):
        t = floor_thresholds(0.45, False, 300, floor)
        if batched:  # what the worker runs, batch sizes included
            scores, sizer, start = [], BatchSizer(), 0
            while start < len(folder):
                part = folder[start : start + sizer.size]
                t0 = time.perf_counter()
                scores += score_batch(select_batch([c for c, _ in part], t), [g for _, g in part])
                sizer.update(time.perf_counter() - t0, len(part))
                start += len(part)
        else:  # one image at a time, for comparison
            scores = [score_image(apply_thresholds(c, t), g) for c, g in folder]
        return scores, build_scored_folder(scores, 3, True)

    rescore_ms = {(floor, batched): best_of(lambda: rescore(floor, batched), 3)
                  for floor in (0.25, FLOOR_CONF) for batched in (True, False)}
    demo_scores, demo_sf = rescore(FLOOR_CONF)

    rng = np.random.default_rng(0)
    dense_scores = []
    for _ in range(args.images):
        n = args.dense
        xy = rng.uniform(0, 600, (n, 2))
        wh = rng.uniform(10, 120, (n, 2))
        pred = Detections(np.hstack([xy, xy + wh]), rng.beta(0.4, 3.0, n).astype(np.float32) + 0.001,
                          rng.integers(0, 80, n))
        gi = rng.choice(n, 7, replace=False)
        gt = Detections(pred.xyxy[gi] + rng.normal(0, 3, (7, 4)), np.ones(7), pred.class_id[gi])
        dense_scores.append(score_image(pred, gt))
    dense_sf = build_scored_folder(dense_scores, 80, True)

    panel = ThresholdPanel()
    panel.resize(1400, 260)
    panel.show()
    proxy = ReviewProxy()
    from gui.image_list import ImageListModel

    model = ImageListModel()
    model.set_names([f"img{i:05d}.jpg" for i in range(args.images)])
    proxy.setSourceModel(model)
    proxy.set_order(ORDER_DISAGREEMENT)

    def panel_refresh(sf, names, conf):
        def run():
            panel.show_thresholds(conf, {})
            panel.repaint()
            app.processEvents()
        return run

    def queue_refresh(scores, conf):
        def run():
            n = len(scores)
            count, lowest, dis = np.full(n, -1), np.ones(n), np.full(n, -1)
            for i, s in enumerate(scores):
                k, _tp, fp, fn, low = image_counts(s, conf)
                count[i], lowest[i], dis[i] = k, low, fp + fn
            proxy.set_keys(count, lowest, dis, np.zeros(n, bool))
        return run

    rows = []
    for label, sf, scores, names in (("demo", demo_sf, demo_scores, ("circle", "rectangle", "triangle")),
                                     ("dense", dense_sf, dense_scores, tuple(f"c{i}" for i in range(80)))):
        panel.set_classes(names)
        panel.set_scored(sf)
        first = best_of(panel_refresh(sf, names, 0.25), 1)  # includes mAP (cached per class view after)
        move = best_of(panel_refresh(sf, names, 0.4))
        queue = best_of(queue_refresh(scores, 0.4))
        rows.append((label, len(sf.confidence), first, move, queue))
    print(f"{args.images} images, cached candidates; times in ms (best of 5; 2-core CPU shares with others)")
    print(f"{'folder':<8}{'predictions':>12}{'panel 1st':>11}{'panel':>8}{'queue':>8}{'total+150ms':>13}")
    for label, n, first, move, queue in rows:
        print(f"{label:<8}{n:>12}{first:>11.1f}{move:>8.1f}{queue:>8.1f}{move + queue + 150:>13.1f}")
    print("rescore after an IoU change (demo folder, worker thread; best of 3), ms:")
    print(f"{'pass':<28}{'batched':>9}{'per image':>11}")
    for floor, what in ((0.25, "quick (above conf 0.25)"), (FLOOR_CONF, f"full (floor {FLOOR_CONF})")):
        print(f"{what:<28}{rescore_ms[floor, True]:>9.0f}{rescore_ms[floor, False]:>11.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
