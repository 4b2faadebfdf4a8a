"""Export the demo checkpoint to the two bundled TorchScript files.

    python -m tools.export_demo --ckpt out/demo_train/last.pt --out resources/demo --imgsz 512

- ``shapes_raw.torchscript``: raw anchor heads, a list of 3 tensors (B, 3, ny, nx, 8) of
  logits (FORMATS.md layout 1, like YOLOv7's default export);
- ``shapes.torchscript``: YOLOv5's decode inside, (B, N, 8) rows cx, cy, w, h (input px),
  obj, cls... after sigmoid (FORMATS.md layout 2).

Both are traced from the same weights (BatchNorm folded into the convolutions, which changes
nothing but speed) and carry an embedded ``config.txt`` with names, strides, input size and
anchors, so ScriptLens needs no sidecar file. The script checks that decoding the raw heads
by hand reproduces the decoded export before writing anything.

``--imgsz`` sets the exported input size (default: the training cache's size). The demo is
trained at the 416 px scale and shipped at 512x512: a fully convolutional detector run at a
larger input than it was trained on sees small objects larger; the measured gain and its cost
per image are in resources/demo/README.md.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import torch
import torch.nn as nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from tools.train_demo import DEPTH, STRIDES, Conv, ShapesNet

log = logging.getLogger("export_demo")

MAX_BYTES = 8 * 1024 * 1024
VERSION = "1.0"


def load_model(ckpt_path: Path) -> tuple[ShapesNet, dict]:
    ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)  # our own file, tensors only
    model = ShapesNet(torch.tensor(ckpt["anchors"], dtype=torch.float32), tuple(ckpt["width"]),
                      tuple(ckpt.get("depth", DEPTH)))
    model.load_state_dict(ckpt["state_dict"])
    model.eval()
    for m in model.modules():
        if isinstance(m, Conv):
            m.conv = fuse_conv_bn_eval(m.conv, m.bn)
            m.bn = nn.Identity()
    return model, ckpt


def metadata(ckpt: dict, layout: str, S: int) -> dict:
    anchors = torch.tensor(ckpt["anchors"]).view(len(STRIDES), -1)
    return {
        "names": {str(i): n for i, n in enumerate(ckpt["names"])},
        "nc": len(ckpt["names"]),
        "stride": max(STRIDES),
        "strides": list(STRIDES),
        "imgsz": [S, S],
        "shape": [1, 3, S, S],
        "anchors": [[round(float(v), 1) for v in row] for row in anchors],
        "layout": layout,
        "description": "ScriptLens demo: filled circles, rectangles and triangles (tools/train_demo.py)",
        "version": VERSION,
    }


def decode_raw(raw: list[torch.Tensor], anchors: torch.Tensor, imgsz: int) -> torch.Tensor:
    """Independent decode of the raw heads (FORMATS.md layout 1), used to cross-check."""
    out = []
    for i, t in enumerate(raw):
        b, na, ny, nx, no = t.shape
        stride = imgsz / ny
        y = t.sigmoid()
        gy, gx = torch.meshgrid(torch.arange(ny), torch.arange(nx), indexing="ij")
        grid = torch.stack((gx, gy), -1).float()
        xy = (y[..., :2] * 2 - 0.5 + grid) * stride
        wh = (y[..., 2:4] * 2) ** 2 * anchors[i].view(1, na, 1, 1, 2)
        out.append(torch.cat((xy, wh, y[..., 4:]), -1).view(b, -1, no))
    return torch.cat(out, 1)


def export(ckpt_path: Path, out_dir: Path, imgsz: int | None = None) -> tuple[Path, Path]:
    torch.manual_seed(0)
    model, ckpt = load_model(ckpt_path)
    S = int(imgsz or ckpt["imgsz"])
    if S % max(STRIDES):
        raise ValueError(f"--imgsz {S} is not a multiple of the largest stride ({max(STRIDES)})")
    example = torch.rand(1, 3, S, S)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    with torch.no_grad():
        for decode, name, layout in ((False, "shapes_raw.torchscript", "raw_anchor_heads"),
                                     (True, "shapes.torchscript", "anchor_based")):
            model.detect.decode = decode
            traced = torch.jit.trace(model, example, strict=False)
            path = out_dir / name
            torch.jit.save(traced, str(path), _extra_files={"config.txt": json.dumps(metadata(ckpt, layout, S))})
            size = path.stat().st_size
            if size > MAX_BYTES:
                raise RuntimeError(f"{path} is {size} bytes, over the 8 MB limit")
            paths[layout] = path
            log.info("wrote %s (%.2f MB, %s)", path, size / 2**20, layout)
        raw = torch.jit.load(str(paths["raw_anchor_heads"]))(example)
        dec = torch.jit.load(str(paths["anchor_based"]))(example)
        ref = decode_raw(list(raw), model.detect.anchors, S)
        err = (ref - dec).abs().max().item()
        if err > 1e-3:
            raise RuntimeError(f"raw and decoded exports disagree (max abs diff {err})")
        log.info("raw heads decoded by hand match the decoded export (max diff %.2e)", err)
    return paths["raw_anchor_heads"], paths["anchor_based"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Export the demo detector to TorchScript (raw + decoded).")
    p.add_argument("--ckpt", type=Path, default=Path("out/demo_train/last.pt"))
    p.add_argument("--out", type=Path, default=Path("resources/demo"))
    p.add_argument("--imgsz", type=int, default=None, help="exported input size (default: the training size)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(2)
    export(args.ckpt, args.out, args.imgsz)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
