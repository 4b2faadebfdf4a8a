"""ScriptLens benchmark: `python -m tools.bench [--quick] [--json out/bench.json]`.

Prints a table and writes JSON. Measures (issue 6):
  1. per-stage latency (read, letterbox, forward, decode, NMS+inverse) on the demo model, and
     decode + NMS + inverse on synthetic 640x640 outputs (25200x85, 84x8400) with realistic
     scores (most tiny, a few hundred above 0.001);
  2. threshold re-application on cached candidates at conf 0.001 and 0.25;
  3. `scriptlens label` throughput vs the same model's pure forward on pre-letterboxed tensors;
  4. GUI: process start -> window shown -> first detections; peak memory after browsing 2,000;
  5. a folder of 20,000 small image files: engine listing, and in the window up to the first image;
  6. per backend (tools/bench_backends.py): conversion, load times, `label` images/s on 1920x1080
     JPEGs, and the window's start (converting, from the cache without torch, TorchScript).
Numbers are for the machine it runs on; the README quotes this 2-core CPU's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from tools import bench_backends

ROOT = Path(__file__).resolve().parents[1]
DEMO_MODEL = ROOT / "resources" / "demo" / "shapes.torchscript"
DEMO_IMAGES = ROOT / "resources" / "demo" / "images"


def stats(samples_ms: list[float]) -> dict:
    a = np.asarray(samples_ms)
    return {"median_ms": float(np.median(a)), "p95_ms": float(np.percentile(a, 95)), "n": int(a.size)}


def timeit(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


# ------------------------------------------------------------------ synthetic outputs

def synthetic_anchor_based(rng: np.random.Generator, n_hot: int = 300) -> np.ndarray:
    x = np.empty((1, 25200, 85), np.float32)
    x[0, :, 0:2] = rng.uniform(0, 640, (25200, 2))
    x[0, :, 2:4] = rng.uniform(4, 200, (25200, 2))
    x[0, :, 4] = rng.uniform(0, 5e-4, 25200)  # objectness: almost all tiny
    hot = rng.choice(25200, n_hot, replace=False)
    x[0, hot, 4] = rng.uniform(0.002, 0.99, n_hot)
    x[0, :, 5:] = rng.uniform(0, 0.05, (25200, 80))
    x[0, hot, 5 + rng.integers(0, 80, n_hot)] = rng.uniform(0.3, 1.0, n_hot)
    return x


def synthetic_anchor_free(rng: np.random.Generator, n_hot: int = 300) -> np.ndarray:
    x = np.empty((1, 84, 8400), np.float32)
    x[0, 0:2] = rng.uniform(0, 640, (2, 8400))
    x[0, 2:4] = rng.uniform(4, 200, (2, 8400))
    x[0, 4:] = rng.uniform(0, 8e-4, (80, 8400))
    hot = rng.choice(8400, n_hot, replace=False)
    x[0, 4 + rng.integers(0, 80, n_hot), hot] = rng.uniform(0.002, 0.99, n_hot)
    return x


def bench_synthetic(repeat: int) -> dict:
    from engine.candidates import Candidates
    from engine.decode import AnchorBased, AnchorFree, DecodeContext
    from engine.letterbox import compute_geometry
    from engine.thresholds import Thresholds, apply_thresholds

    rng = np.random.default_rng(0)
    geom = compute_geometry((480, 640), (640, 640))[0]
    ctx = DecodeContext(input_hw=(640, 640), num_classes=80)
    out = {}
    for name, pred, decoder in (("25200x85", synthetic_anchor_based(rng), AnchorBased()),
                                ("84x8400", synthetic_anchor_free(rng), AnchorFree())):
        cand_holder = {}

        def decode():
            xyxy, score, cls = decoder.decode(pred, ctx, 0.001)[0]
            cand_holder["c"] = Candidates(xyxy, score, cls, geom)

        def full():
            decode()
            apply_thresholds(cand_holder["c"], Thresholds(conf=0.25, iou=0.45))

        decode()
        cand = cand_holder["c"]
        out[name] = {
            "candidates_above_0.001": len(cand),
            "decode": stats(timeit(decode, repeat)),
            "decode+nms+inverse (conf 0.25)": stats(timeit(full, repeat)),
            "rethreshold conf 0.001": stats(timeit(lambda: apply_thresholds(cand, Thresholds(conf=0.001, iou=0.45)), repeat)),
            "rethreshold conf 0.25": stats(timeit(lambda: apply_thresholds(cand, Thresholds(conf=0.25, iou=0.45)), repeat)),
        }
    return out


# ------------------------------------------------------------------ demo model stages

def bench_demo_stages(model: Path, images: list[Path], repeat: int) -> dict:
    from engine.decode import normalize_output
    from engine.images import read_image
    from engine.pipeline import Detector, to_input_tensor
    from engine.letterbox import letterbox
    from engine.candidates import Candidates
    from engine.thresholds import Thresholds, apply_thresholds

    det = Detector.load(model, device="cpu")
    rows = {k: [] for k in ("read", "letterbox", "forward", "decode", "nms+inverse")}
    for i in range(repeat):
        p = images[i % len(images)]
        t0 = time.perf_counter(); img = read_image(p)
        t1 = time.perf_counter(); padded, geom = letterbox(img, det.info.input_hw, det.box_convention); tensor = to_input_tensor(padded)
        t2 = time.perf_counter(); pred = normalize_output(det.backend.forward(tensor[None]))
        t3 = time.perf_counter(); xyxy, score, cls = det.decoder.decode(pred, det.ctx, det.floor)[0]
        cand = Candidates(xyxy, score, cls, geom, det.decoder.nms_in_model)
        t4 = time.perf_counter(); apply_thresholds(cand, Thresholds())
        t5 = time.perf_counter()
        for k, a, b in zip(rows, (t0, t1, t2, t3, t4), (t1, t2, t3, t4, t5)):
            rows[k].append((b - a) * 1000)
    return {"model": model.name, "layout": det.info.layout, "input": list(det.info.input_hw),
            **{k: stats(v) for k, v in rows.items()}}


# ------------------------------------------------------------------ the window's model process

def bench_model_process(model: Path, repeat: int) -> dict:
    """What running the model in the window's child process (engine/forward_process.py) adds
    per image: the same forward in-process and through the pipes. Besides the demo model, a
    640x640 model whose forward is a constant (1, 84, 8400) output isolates the transfer of a
    4.9 MB input and a 2.8 MB output."""
    import torch

    from engine.forward_process import ForwardProcess
    from engine.images import read_image
    from engine.pipeline import Detector

    class Constant640(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("out", torch.rand(1, 84, 8400))

        def forward(self, x):
            return self.out + x[0, 0, 0, 0] * 0.0

    out: dict = {}
    process = ForwardProcess()
    with tempfile.TemporaryDirectory() as tmp:
        const = Path(tmp, "const640.torchscript")
        torch.jit.save(torch.jit.trace(Constant640().eval(), torch.zeros(1, 3, 640, 640)), str(const),
                       _extra_files={"config.txt": json.dumps({"imgsz": [640, 640]})})
        try:
            for name, path in (("demo", model), ("const_640", const)):
                local = Detector.load(path, device="cpu")
                remote = Detector.load(path, device="cpu", host=process)
                tensor = local.preprocess(read_image(sorted(DEMO_IMAGES.glob("*.jpg"))[0]))[0][None]
                # Alternating blocks, first call of each dropped: this VM's speed drifts by
                # 20-50% over a minute, and back-to-back single calls would leave one side's
                # OpenMP threads spinning while the other side runs.
                a, b = [], []
                for _ in range(max(1, repeat // 10)):
                    a += timeit(lambda: local.backend.forward(tensor), 11)[1:]
                    b += timeit(lambda: remote.backend.forward(tensor), 11)[1:]
                out[name] = {"in_process": stats(a), "model_process": stats(b)}
        finally:
            process.close()
    return out


# ------------------------------------------------------------------ label throughput

def bench_throughput(model: Path, n_images: int) -> dict:
    from engine.pipeline import Detector

    src = sorted(DEMO_IMAGES.glob("*"))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp, "images")
        folder.mkdir()
        for i in range(n_images):
            s = src[i % len(src)]
            os.symlink(s, folder / f"{i:05d}{s.suffix}")
        det = Detector.load(model, device="cpu")
        tensors = [det.preprocess(__import__("engine.images", fromlist=["read_image"]).read_image(s))[0] for s in src]
        t0 = time.perf_counter()
        for i in range(n_images):
            det.backend.forward(tensors[i % len(tensors)][None])
        forward_ips = n_images / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "cli", "label", "--model", str(model), "--images", str(folder),
                               "--out", str(Path(tmp, "labels")), "--device", "cpu"], capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr)
        summary = proc.stdout.strip().splitlines()[-1]
    # The CLI's own summary times the batch (model load excluded); parse "(X images/s)".
    label_ips = float(summary.split("(")[-1].split()[0])
    return {"images": n_images, "forward_only_images_per_s": forward_ips, "label_images_per_s": label_ips,
            "ratio": label_ips / forward_ips, "label_wall_s_incl_startup": wall, "summary": summary}


# ------------------------------------------------------------------ folder listing

def bench_listing(n_files: int) -> dict:
    import cv2
    from engine.images import list_images

    with tempfile.TemporaryDirectory() as tmp:
        png = cv2.imencode(".png", np.full((8, 8, 3), 128, np.uint8))[1].tobytes()
        for i in range(n_files):
            sub = Path(tmp, f"d{i // 1000:02d}")
            sub.mkdir(exist_ok=True)
            (sub / f"img_{i}.png").write_bytes(png)
        t0 = time.perf_counter()
        found = list_images(tmp)
        listed = (time.perf_counter() - t0) * 1000
        assert len(found) == n_files
    return {"files": n_files, "list_ms": listed}


# ------------------------------------------------------------------ GUI start

def probe_gui(*flags: str, env: dict | None = None) -> dict:
    """One `tools.gui_probe` run (offscreen unless DISPLAY is set): its JSON line."""
    env = dict(env or os.environ)
    if not env.get("DISPLAY"):
        env["QT_QPA_PLATFORM"] = "offscreen"
    t0 = time.time()
    proc = subprocess.run([sys.executable, "-m", "tools.gui_probe", str(t0), *flags], capture_output=True, text=True,
                          env=env, timeout=1800, cwd=ROOT)
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return {"error": proc.stderr[-800:]}


def bench_gui(browse: int, folder_files: int) -> dict:
    """Process start -> window shown -> first detections on the demo; 20k-file folder to first
    image; peak memory after browsing. Then the start alone per backend, in a fresh ONNX cache:
    auto converting (a first launch), auto from the cache (no torch), torchscript."""
    result = probe_gui("--browse", str(browse), "--folder-files", str(folder_files))
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, SCRIPTLENS_CACHE_DIR=cache)
        result["start_by_backend"] = {name: probe_gui("--backend", backend, env=env)
                                      for name, backend in (("auto_first_launch", "auto"), ("auto_cached", "auto"),
                                                            ("torchscript", "torchscript"))}
    return result


def bench_soak(n_images: int) -> dict:
    """The window soak test at full length: random browsing and slider moves over `n_images`."""
    env = dict(os.environ, SCRIPTLENS_SOAK_IMAGES=str(n_images), QT_QPA_PLATFORM="offscreen")
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "tests/gui/test_soak_and_bad_inputs.py::test_soak_random_browsing_and_sliders_stays_bounded"],
                          capture_output=True, text=True, env=env, cwd=ROOT)
    import resource

    return {"images": n_images, "passed": proc.returncode == 0, "seconds": round(time.perf_counter() - t0, 1),
            "peak_rss_mb_children": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
            "tail": proc.stdout.strip().splitlines()[-1:]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats and files (a smoke run)")
    ap.add_argument("--model", type=Path, default=DEMO_MODEL)
    ap.add_argument("--json", type=Path, default=ROOT / "out" / "bench.json")
    ap.add_argument("--soak", type=int, default=0, metavar="N",
                    help="also run the GUI soak test over N images (issue 7's long version, e.g. 5000)")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    repeat = 20 if args.quick else 200
    images = sorted(p for p in DEMO_IMAGES.iterdir() if p.suffix.lower() in (".jpg", ".png"))
    result = {
        "machine": {"cpus": os.cpu_count(), "torch": torch.__version__, "threads": torch.get_num_threads()},
        "synthetic": bench_synthetic(repeat),
        "demo_stages": bench_demo_stages(args.model, images, 30 if args.quick else 100),
        "model_process": bench_model_process(args.model, 20 if args.quick else 100),
        "label_throughput": bench_throughput(args.model, 30 if args.quick else 300),
        "folder_listing": bench_listing(2000 if args.quick else 20000),
        "gui": bench_gui(200 if args.quick else 2000, 2000 if args.quick else 20000),
        "backends": bench_backends.run([(args.model, None), (bench_backends.FIXTURE, None)],
                                       12 if args.quick else 40, 1 if args.quick else 3),
    }
    if args.soak:
        result["soak"] = bench_soak(args.soak)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2))
    print_table(result)
    print(f"\nJSON: {args.json}")
    return 0


def print_table(r: dict) -> None:
    print(f"machine: {r['machine']}")
    for name, s in r["synthetic"].items():
        print(f"\nsynthetic {name} ({s['candidates_above_0.001']} candidates >= 0.001)")
        for k, v in s.items():
            if isinstance(v, dict):
                print(f"  {k:<34} median {v['median_ms']:7.3f} ms   p95 {v['p95_ms']:7.3f} ms")
    d = r["demo_stages"]
    print(f"\ndemo model {d['model']} ({d['layout']}, {d['input'][0]}x{d['input'][1]})")
    for k in ("read", "letterbox", "forward", "decode", "nms+inverse"):
        print(f"  {k:<34} median {d[k]['median_ms']:7.3f} ms   p95 {d[k]['p95_ms']:7.3f} ms")
    print("\nforward in the window's model process vs in-process (pipes + copies included)")
    for name, m in r["model_process"].items():
        a, b = m["in_process"], m["model_process"]
        print(f"  {name:<34} in-process {a['median_ms']:7.2f} ms   model process {b['median_ms']:7.2f} ms   "
              f"(+{b['median_ms'] - a['median_ms']:.2f} ms)")
    t = r["label_throughput"]
    print(f"\nlabel throughput: {t['label_images_per_s']:.1f} img/s vs forward-only {t['forward_only_images_per_s']:.1f} img/s "
          f"-> ratio {t['ratio']:.2f} ({t['images']} images)")
    lst = r["folder_listing"]
    print(f"folder listing: {lst['files']} files in {lst['list_ms']:.0f} ms")
    g = r["gui"]
    if "soak" in r:
        print(f"soak: {r['soak']}")
    print(f"gui: window shown {g.get('window_shown_s')} s, first detections {g.get('first_detections_s')} s after process start; "
          f"{g.get('folder_files')}-file folder -> first image {g.get('folder_first_image_s')} s; "
          f"peak RSS {g.get('peak_rss_mb')} MB after browsing {g.get('browsed_images')} images ({g.get('browse_s')} s)"
          + (f"  ERROR {g['error']}" if 'error' in g else ""))
    for name, run in g.get("start_by_backend", {}).items():
        print(f"gui start, {name}: window shown {run.get('window_shown_s')} s, first detections {run.get('first_detections_s')} s "
              f"(ran on {run.get('ran_on')}, model process loaded torch: {run.get('model_process_loaded_torch')})")
    print("\nbackends (tools/bench_backends.py):")
    bench_backends.print_table(r["backends"])


if __name__ == "__main__":
    sys.exit(main())
