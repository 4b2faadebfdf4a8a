"""Builders of TINY TorchScript detectors (and of files that are not detectors) for the engine
and CLI tests. Every model returns a constant, hand-specified output (or a trivial function of
its input), so a test can compute the expected detections on paper.

Each builder writes to the path it is given and returns it. Traced models keep a
``x.view(B, 3, H, W)`` in the graph, so a wrong input size raises "shape ... is invalid for
input of size ..."; scripted models check the size explicitly.
"""

from __future__ import annotations

import json
import pickle
import zipfile
from pathlib import Path
from typing import Sequence

import torch
from torch import nn

# ------------------------------------------------------------------ metadata helpers


def ultralytics_meta(names: Sequence[str], hw=(320, 320), end2end: bool | None = False, nms: bool = False, batch: int = 1) -> dict:
    meta = {
        "description": "tiny test model", "author": "tests", "version": "8.4.190", "task": "detect",
        "stride": 32, "batch": batch, "imgsz": list(hw), "names": {str(i): n for i, n in enumerate(names)},
        "args": {"batch": batch, "half": False, "nms": nms}, "channels": 3,
    }
    if end2end is not None:
        meta["end2end"] = end2end
    return meta


def yolov5_meta(names: Sequence[str], hw=(320, 320), as_dict: bool = True) -> dict:
    n = {str(i): v for i, v in enumerate(names)} if as_dict else list(names)
    return {"shape": [1, 3, *hw], "stride": 32, "names": n}


def _save(module, path: Path, meta: dict | None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    extra = {"config.txt": json.dumps(meta)} if meta is not None else {}
    torch.jit.save(module, str(path), _extra_files=extra)
    return path


# ------------------------------------------------------------------ generic constant models


class _TracedConst(nn.Module):
    """Returns buffers arranged as `structure`, for an input of exactly (B, 3, H, W)."""

    def __init__(self, outs: list[torch.Tensor], hw, structure: str, batch: int = 1) -> None:
        super().__init__()
        self.n = len(outs)
        for i, t in enumerate(outs):
            self.register_buffer(f"o{i}", t.clone())
        self.hw, self.structure, self.batch = tuple(hw), structure, batch

    def forward(self, x):
        h, w = self.hw
        z = x.view(self.batch, 3, h, w).mean() * 0.0  # wrong size -> "shape ... invalid for input of size"
        outs = [getattr(self, f"o{i}") + z for i in range(self.n)]
        if self.structure == "tensor":
            return outs[0]
        if self.structure == "list":
            return outs
        if self.structure == "tuple_feat":  # (pred, [feature maps]) like YOLOv5/v7 in train-ish exports
            return outs[0], outs[1:]
        raise ValueError(self.structure)


class _ScriptedConst(nn.Module):
    def __init__(self, out: torch.Tensor, hw) -> None:
        super().__init__()
        self.register_buffer("out", out.clone())
        self.h = int(hw[0])
        self.w = int(hw[1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[2] != self.h or x.shape[3] != self.w:
            raise RuntimeError("input shape mismatch: expected " + str(self.h) + "x" + str(self.w))
        return self.out + x.mean() * 0.0


def const_model(path: Path, outs, hw=(320, 320), structure: str = "tensor", meta: dict | None = None,
                mode: str = "trace", batch: int = 1) -> Path:
    outs = [outs] if isinstance(outs, torch.Tensor) else list(outs)
    if mode == "script":
        assert structure == "tensor"
        module = torch.jit.script(_ScriptedConst(outs[0], hw).eval())
    else:
        module = torch.jit.trace(_TracedConst(outs, hw, structure, batch).eval(), torch.zeros(batch, 3, *hw), strict=False)
    return _save(module, path, meta)


# ------------------------------------------------------------------ the four layouts


def anchor_free_tensor(boxes, nc: int, hw=(320, 320)) -> torch.Tensor:
    """(1, 4+nc, A): boxes = [(cx, cy, w, h, cls, score), ...] in the first columns."""
    h, w = hw
    a = sum((h // s) * (w // s) for s in (8, 16, 32))
    out = torch.zeros(1, 4 + nc, a)
    for i, (cx, cy, bw, bh, cls, score) in enumerate(boxes):
        out[0, 0:4, i] = torch.tensor([cx, cy, bw, bh], dtype=torch.float32)
        out[0, 4 + cls, i] = score
    return out


def anchor_free(path, boxes, nc: int = 3, hw=(320, 320), meta: dict | None | str = "auto", names=None, **kw) -> Path:
    if meta == "auto":
        meta = ultralytics_meta(names or [f"n{i}" for i in range(nc)], hw)
    return const_model(path, anchor_free_tensor(boxes, nc, hw), hw, meta=meta, **kw)


def anchor_rows_for(hw) -> int:
    h, w = hw
    return 3 * sum(-(-h // s) * -(-w // s) for s in (8, 16, 32))


def anchor_based_tensor(rows, nc: int, hw=(320, 320), n: int | None = None) -> torch.Tensor:
    """(1, N, 5+nc): rows = [(cx, cy, w, h, obj, [cls scores...]), ...] already sigmoid-ed."""
    n = n or anchor_rows_for(hw)
    out = torch.zeros(1, n, 5 + nc)
    for i, (cx, cy, bw, bh, obj, cls_scores) in enumerate(rows):
        out[0, i, :5] = torch.tensor([cx, cy, bw, bh, obj], dtype=torch.float32)
        out[0, i, 5:] = torch.tensor(cls_scores, dtype=torch.float32)
    return out


def anchor_based(path, rows, nc: int = 2, hw=(320, 320), meta: dict | None | str = "auto", names=None, **kw) -> Path:
    if meta == "auto":
        meta = yolov5_meta(names or [f"n{i}" for i in range(nc)], hw)
    return const_model(path, anchor_based_tensor(rows, nc, hw), hw, meta=meta, **kw)


def end2end_tensor(rows, k: int = 300) -> torch.Tensor:
    """(1, K, 6): rows = [(x1, y1, x2, y2, score, cls)], zero-padded to K."""
    out = torch.zeros(1, k, 6)
    for i, r in enumerate(rows):
        out[0, i] = torch.tensor(r, dtype=torch.float32)
    return out


def end2end(path, rows, names=("a", "b", "c"), hw=(320, 320), k: int = 300, meta: dict | None | str = "auto", **kw) -> Path:
    if meta == "auto":
        meta = ultralytics_meta(names, hw, end2end=True)
    return const_model(path, end2end_tensor(rows, k), hw, meta=meta, **kw)


def raw_heads_tensors(cells, nc: int, hw=(320, 320), fill: float = -20.0) -> list[torch.Tensor]:
    """3 levels (1, 3, ny, nx, nc+5) of LOGITS, all `fill` except the given cells:
    cells = [(level, anchor, gy, gx, [t0..t(nc+4)]), ...]."""
    h, w = hw
    outs = []
    for s in (8, 16, 32):
        outs.append(torch.full((1, 3, h // s, w // s, nc + 5), fill))
    for level, a, gy, gx, logits in cells:
        outs[level][0, a, gy, gx] = torch.tensor(logits, dtype=torch.float32)
    return outs


def raw_heads(path, cells, nc: int = 2, hw=(320, 320), meta: dict | None = None, **kw) -> Path:
    return const_model(path, raw_heads_tensors(cells, nc, hw), hw, structure="list", meta=meta, **kw)


def tuple_output(path, pred: torch.Tensor, hw=(320, 320), meta: dict | None = None) -> Path:
    """Returns (pred, [two feature maps]): element 0 is the prediction."""
    feats = [torch.zeros(1, 3, hw[0] // 8, hw[1] // 8, pred.shape[-1]), torch.zeros(1, 3, hw[0] // 16, hw[1] // 16, pred.shape[-1])]
    return const_model(path, [pred, *feats], hw, structure="tuple_feat", meta=meta)


# ------------------------------------------------------------------ misbehaving models


class _Raises(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("custom op exploded")


class _RaisesOnDark(nn.Module):
    """Anchor-free output, but raises for a dark input (mean < 0.2): fails at run time, not load."""

    def __init__(self, out: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("out", out.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[2] != 320 or x.shape[3] != 320:
            raise RuntimeError("input shape mismatch")
        if float(x.mean()) < 0.2:
            raise RuntimeError("custom op exploded on a dark image")
        return self.out + x.mean() * 0.0


class _DictOut(nn.Module):
    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"boxes": torch.zeros(1, 4) + x.mean() * 0.0, "scores": torch.zeros(1)}


def raising_model(path, meta: dict | None = None) -> Path:
    return _save(torch.jit.script(_Raises()), path, meta)


def raises_on_dark_model(path, boxes, nc: int = 3) -> Path:
    m = torch.jit.script(_RaisesOnDark(anchor_free_tensor(boxes, nc)))
    return _save(m, path, ultralytics_meta([f"n{i}" for i in range(nc)]))


def nan_model(path, nc: int = 3) -> Path:
    out = torch.full((1, 4 + nc, 2100), float("nan"))
    return const_model(path, out, (320, 320), meta=ultralytics_meta([f"n{i}" for i in range(nc)]))


def unsupported_tensor_model(path) -> Path:
    return const_model(path, torch.zeros(1, 10), (320, 320), meta={"imgsz": [320, 320]})


def dict_output_model(path) -> Path:
    return _save(torch.jit.script(_DictOut()), path, {"imgsz": [320, 320]})


class _MeanScore(nn.Module):
    """Anchor-free, one box whose class-0 score is the mean of the input's RED channel: lets a
    test check that each image's result comes from that image."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.view(1, 3, 320, 320)
        out = torch.zeros(1, 5, 2100)
        out[0, 0:4, 0] = torch.tensor([160.0, 160.0, 100.0, 100.0])
        out[0, 4, 0] = x[0, 0].mean()
        return out


def mean_score_model(path) -> Path:
    return _save(torch.jit.script(_MeanScore()), path, ultralytics_meta(["red"]))


# ------------------------------------------------------------------ files that are not models


def training_checkpoint(path) -> Path:
    model = nn.Linear(2, 2)
    torch.save({"model": model.state_dict(), "optimizer": {"lr": 0.01}, "epoch": 3}, str(path))
    return Path(path)


def state_dict_file(path) -> Path:
    torch.save(nn.Linear(2, 2).state_dict(), str(path))
    return Path(path)


def empty_file(path) -> Path:
    Path(path).write_bytes(b"")
    return Path(path)


def random_zip(path) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "hello")
        zf.writestr("data/x.bin", bytes(range(256)))
    return Path(path)


def text_file(path) -> Path:
    Path(path).write_text("this is not a model\n")
    return Path(path)


class Evil:
    """Unpickling this object opens (creates) `marker` for writing."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def malicious_checkpoint(path, marker: Path, fmt: str = "zip") -> Path:
    """A 'checkpoint' whose unpickling creates `marker`. fmt: zip (torch.save), legacy
    (torch.save old format) or pickle (plain pickle.dump)."""
    payload = {"model": Evil(str(marker)), "epoch": 3}
    if fmt == "zip":
        torch.save(payload, str(path))
    elif fmt == "legacy":
        torch.save(payload, str(path), _use_new_zipfile_serialization=False)
    else:
        with open(path, "wb") as f:
            pickle.dump(payload, f)
    return Path(path)


def malicious_torchscript(path, marker: Path, member: str = "data.pkl") -> Path:
    """A real TorchScript archive (code/ + constants.pkl, so it passes the member-list check)
    whose `member` pickle is replaced by one that creates `marker` when unpickled by Python."""
    src = anchor_free(Path(path).with_name("clean_for_evil.pt"), [(100.0, 100.0, 50.0, 40.0, 0, 0.9)])
    payload = pickle.dumps({"x": Evil(str(marker))}, protocol=2)
    with zipfile.ZipFile(src) as zi, zipfile.ZipFile(path, "w") as zo:
        for n in zi.namelist():
            zo.writestr(n, payload if n.endswith("/" + member) else zi.read(n))
    return Path(path)


def huge_png_header(w=60000, h=60000) -> bytes:
    """A tiny file whose PNG header declares w x h pixels (a decompression-bomb shape)."""
    import struct
    import zlib

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * (1 + 3 * w))) + chunk(b"IEND", b"")


class _Slow(nn.Module):
    """Anchor-free constant output after `iters` 256x256 matmuls: a model slow enough (a few ms
    per image) that a test can kill a batch half-way through."""

    def __init__(self, out: torch.Tensor, iters: int) -> None:
        super().__init__()
        self.register_buffer("out", out.clone())
        self.register_buffer("m", torch.eye(256) * 0.5)
        self.iters = iters

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.m
        for _ in range(self.iters):
            y = torch.mm(y, self.m)
        return self.out + x.mean() * 0.0 + y[0, 0] * 0.0


def slow_model(path, boxes, nc: int = 3, iters: int = 40) -> Path:
    m = torch.jit.script(_Slow(anchor_free_tensor(boxes, nc), iters))
    return _save(m, path, ultralytics_meta([f"n{i}" for i in range(nc)]))


class _StuckOnImages(nn.Module):
    """Loads normally (the grey warm-up input is quick), then computes for minutes on any real
    image: a model the window must be able to walk away from."""

    def __init__(self, out: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("out", out.clone())
        self.register_buffer("m", torch.eye(256) * 0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.m
        if bool((x.mean() - 114.0 / 255.0).abs() > 0.01):
            for _ in range(10_000_000):
                y = torch.mm(y, self.m)
        return self.out + x.mean() * 0.0 + y[0, 0] * 0.0


def stuck_on_images_model(path, boxes, nc: int = 3) -> Path:
    return _save(torch.jit.script(_StuckOnImages(anchor_free_tensor(boxes, nc))), path, ultralytics_meta([f"n{i}" for i in range(nc)]))


class _NanOnBright(nn.Module):
    """Anchor-free output, all NaN for a bright input (mean > 0.6): loads (the grey warm-up input
    is fine), then fails on some images only."""

    def __init__(self, out: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("out", out.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if float(x.mean()) > 0.6:
            return self.out * float("nan")
        return self.out + x.mean() * 0.0


def nan_on_bright_model(path, boxes, nc: int = 3) -> Path:
    return _save(torch.jit.script(_NanOnBright(anchor_free_tensor(boxes, nc))), path, ultralytics_meta([f"n{i}" for i in range(nc)]))


# ------------------------------------------------------------------ ONNX and torch.export files


def ultralytics_onnx_props(names: Sequence[str], hw=(320, 320), batch: int = 1, dynamic: bool = False) -> dict[str, str]:
    """``metadata_props`` as Ultralytics' ONNX exporter writes them: ``str()`` of each value
    (names as a dict with int keys, imgsz a list) -- the code path of `Exporter.export_onnx`."""
    meta = {
        "description": "Ultralytics YOLOv8n model trained on shapes.yaml", "author": "Ultralytics",
        "date": "2026-12-07T10:00:00", "version": "8.4.190", "license": "AGPL-3.0 License",
        "docs": "https://docs.ultralytics.com", "stride": 32, "task": "detect", "batch": batch,
        "imgsz": list(hw), "names": {i: n for i, n in enumerate(names)},
        "args": {"batch": batch, "half": False, "dynamic": dynamic, "nms": False}, "channels": 3, "end2end": False,
    }
    return {k: str(v) for k, v in meta.items()}


def onnx_file(path, module: nn.Module, hw=(320, 320), props: dict[str, str] | None = None, batch: int = 1,
              dynamic: bool = False, output_names=("output0",)) -> Path:
    """An ONNX export of `module` the way Ultralytics and YOLOv5 write one: torch.onnx.export
    with input "images", then ``metadata_props`` added with the onnx package."""
    import io
    import warnings

    import onnx

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    axes = {"images": {0: "batch", 2: "height", 3: "width"}} if dynamic else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), (torch.zeros(batch, 3, *hw),), buffer, dynamo=False, opset_version=17,
                          input_names=["images"], output_names=list(output_names), dynamic_axes=axes)
    model = onnx.load_from_string(buffer.getvalue())
    for key, value in (props or {}).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))
    return path


class _AnchorFreeHead(nn.Module):
    """The constant anchor-free output of `anchor_free_tensor`, for an input of any size (so a
    dynamic-axis export of it runs at whatever size the metadata or the user gives)."""

    def __init__(self, boxes, nc: int, hw) -> None:
        super().__init__()
        self.register_buffer("out", anchor_free_tensor(boxes, nc, hw))

    def forward(self, x):
        return self.out + x.mean() * 0.0


def anchor_free_onnx(path, boxes, nc: int = 3, hw=(320, 320), names=None, props="ultralytics", **kw) -> Path:
    names = names or [f"n{i}" for i in range(nc)]
    if props == "ultralytics":
        props = ultralytics_onnx_props(names, hw, dynamic=kw.get("dynamic", False))
    return onnx_file(path, _AnchorFreeHead(boxes, nc, hw), hw, props, **kw)


def anchor_based_onnx(path, rows, nc: int = 2, hw=(320, 320), names=None, **kw) -> Path:
    """A YOLOv5 ONNX export: output0 (1, N, 5+nc), metadata ``stride`` and ``names`` (export.py)."""
    names = names or [f"c{i}" for i in range(nc)]
    props = {"stride": "32", "names": str({i: n for i, n in enumerate(names)})}
    return onnx_file(path, _TracedConst([anchor_based_tensor(rows, nc, hw)], hw, "tensor"), hw, props, **kw)


def pt2_file(path, module: nn.Module, hw=(320, 320), meta: dict | None = None) -> Path:
    """A `torch.export` program saved with `torch.export.save`, metadata in extra/config.txt."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    program = torch.export.export(module.eval(), (torch.zeros(1, 3, *hw),))
    extra = {"config.txt": json.dumps(meta)} if meta is not None else None
    torch.export.save(program, str(path), extra_files=extra)
    return path


def anchor_free_pt2(path, boxes, nc: int = 3, hw=(320, 320), names=None, meta: dict | None | str = "auto") -> Path:
    if meta == "auto":
        meta = ultralytics_meta(names or [f"n{i}" for i in range(nc)], hw)
    return pt2_file(path, _AnchorFreeHead(boxes, nc, hw), hw, meta)
