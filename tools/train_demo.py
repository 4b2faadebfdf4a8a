"""Train the bundled demo detector: a small anchor-based YOLO-style model in plain torch.

    python -m tools.train_demo --out out/demo_train [--minutes 40] [--seed 0]

Steps: render a training set with tools.make_shapes (seed ``--data-seed``) and letterbox it
once to the model input with ``engine.letterbox`` (cached under ``--out``), fit anchors by
k-means, train with YOLOv5's losses and task-aligned target assignment (``AlignedLoss``), keep
an EMA of the weights, and save ``last.pt`` (a state_dict + config, OUTSIDE resources/).
tools.export_demo turns that into the TorchScript files. The defaults are the bundled model's
recipe: a cache letterboxed at 416 px, trained on random crops of at most 320 x 320 (objects at
the 416 px scale for the cost of 320 px batches), 6600 iterations of batch 16, the first 65% on
batches scaled to 0.7 (progressive resizing), bfloat16 autocast where the CPU has bfloat16
units (AMX or AVX-512 BF16). On the 2-core AMD EPYC (Zen 5, AVX-512 BF16) that trained the
bundled weights: ~0.13-0.14 s per scaled-down and ~0.22 s per full-size iteration, 18.0-20.5
minutes in all (three runs; the host's load varies); plus ~1.7 minutes to render the training
set the first time. Machines differ a lot
in speed: a slower 2-core Zen 4 took 29.0 minutes for the previous recipe, which took 21.8-22.3
on this one and a faster Zen 4, so it would likely be over 20 minutes with this one too (not
measured; see resources/demo/README.md).

Determinism: every random draw comes from seeded generators and the CPU kernels run with a
fixed thread count (2), so the same arguments on the same machine give the same weights. Other
machines may round differently: for the previous recipe a Zen 4 and a Zen 5 machine gave the
same weights bit for bit, another Zen 4 different ones of the same quality
(resources/demo/README.md). The
time budget only stops training early if ``--minutes`` runs out before ``--iters``; the
README's numbers come from a run that finished all its iterations.
"""

from __future__ import annotations

import argparse
import logging
import math
import queue
import threading
import time
from multiprocessing import Pool
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from engine.cpu_features import has_bf16_units
from engine.letterbox import compute_geometry, letterbox
from tools.glibc_heap import keep_freed_memory
from tools.make_shapes import NAMES, image_size, make_one

log = logging.getLogger("train_demo")

NC = len(NAMES)
STRIDES = (8, 16, 32)
NA = 3
# channels per stage and residual blocks in stages 2-5: 1.75 M parameters (6.9 MiB exported, under
# the 8 MB limit); at the 512 px export its forward takes ~17-21 ms on the 2-core machine (limit 25 ms)
WIDTH = (16, 32, 80, 112, 160)
DEPTH = (1, 2, 3, 1)

# ------------------------------------------------------------------------------------ model


class Conv(nn.Module):
    def __init__(self, c1: int, c2: int, k: int = 3, s: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, s, k // 2, bias=False)
        self.bn = nn.BatchNorm2d(c2, eps=1e-3, momentum=0.03)
        self.act = nn.SiLU()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class Res(nn.Module):
    """Bottleneck with a shortcut: 1x1 squeeze, 3x3 expand."""

    def __init__(self, c: int):
        super().__init__()
        self.a, self.b = Conv(c, c // 2, 1), Conv(c // 2, c, 3)

    def forward(self, x):
        return x + self.b(self.a(x))


class SPPF(nn.Module):
    """YOLOv5's fast spatial pyramid pooling: large receptive field for big shapes, cheaply."""

    def __init__(self, c: int):
        super().__init__()
        self.cv1, self.cv2 = Conv(c, c // 2, 1), Conv(c * 2, c, 1)
        self.m = nn.MaxPool2d(5, 1, 2)

    def forward(self, x):
        x = self.cv1(x)
        y1 = self.m(x)
        y2 = self.m(y1)
        return self.cv2(torch.cat((x, y1, y2, self.m(y2)), 1))


def anchor_boxes(y: torch.Tensor, stride: int, anchors: torch.Tensor) -> torch.Tensor:
    """YOLOv5's box decode of one level, shared by the decoded export and the training loss:
    ``y`` is the sigmoid of the (B, na, ny, nx, 4) box logits, ``anchors`` (na, 2) pixels;
    returns cx, cy, w, h in input pixels."""
    na, ny, nx = y.shape[1:4]
    yv, xv = torch.meshgrid(torch.arange(ny), torch.arange(nx), indexing="ij")
    grid = torch.stack((xv, yv), -1).view(1, 1, ny, nx, 2).to(y.dtype)
    xy = (y[..., 0:2] * 2 - 0.5 + grid) * stride
    wh = (y[..., 2:4] * 2) ** 2 * anchors.view(1, na, 1, 1, 2)
    return torch.cat((xy, wh), -1)


class Detect(nn.Module):
    """Per-level 1x1 heads. ``decode=False``: raw (B, na, ny, nx, nc+5) logits per level
    (FORMATS.md layout 1). ``decode=True``: YOLOv5's decode, (B, N, nc+5) (layout 2)."""

    def __init__(self, chs: tuple[int, ...], anchors: torch.Tensor, strides=STRIDES):
        super().__init__()
        self.no = NC + 5
        self.m = nn.ModuleList(nn.Conv2d(c, NA * self.no, 1) for c in chs)
        self.register_buffer("anchors", anchors.float().view(len(chs), NA, 2))  # pixels
        self.strides = tuple(strides)
        self.decode = False

    def forward(self, feats: list[torch.Tensor]):
        out = []
        for i, x in enumerate(feats):
            b, _, ny, nx = x.shape
            p = self.m[i](x).view(b, NA, self.no, ny, nx).permute(0, 1, 3, 4, 2).contiguous()
            if self.decode:
                y = p.sigmoid()
                p = torch.cat((anchor_boxes(y[..., :4], self.strides[i], self.anchors[i]), y[..., 4:]), -1)
                p = p.view(b, -1, self.no)
            out.append(p)
        return torch.cat(out, 1) if self.decode else out


class ShapesNet(nn.Module):
    """5 stride-2 stages, FPN + PAN neck, heads at strides 8/16/32 (1.75 M parameters at the
    default width)."""

    def __init__(self, anchors: torch.Tensor, width=WIDTH, depth=DEPTH):
        super().__init__()
        c1, c2, c3, c4, c5 = width
        n2, n3, n4, n5 = depth
        self.stem = Conv(3, c1, 3, 2)
        self.s2 = nn.Sequential(Conv(c1, c2, 3, 2), *(Res(c2) for _ in range(n2)))
        self.s3 = nn.Sequential(Conv(c2, c3, 3, 2), *(Res(c3) for _ in range(n3)))
        self.s4 = nn.Sequential(Conv(c3, c4, 3, 2), *(Res(c4) for _ in range(n4)))
        self.s5 = nn.Sequential(Conv(c4, c5, 3, 2), *(Res(c5) for _ in range(n5)), SPPF(c5))
        self.lat5 = Conv(c5, c4, 1)
        self.td4 = Conv(c4 + c4, c4, 3)
        self.lat4 = Conv(c4, c3, 1)
        self.td3 = Conv(c3 + c3, c3, 3)
        self.down3 = Conv(c3, c3, 3, 2)
        self.bu4 = Conv(c3 + c3, c4, 3)
        self.down4 = Conv(c4, c4, 3, 2)
        self.bu5 = Conv(c4 + c4, c5, 3)
        self.detect = Detect((c3, c4, c5), anchors)

    def forward(self, x):
        p3 = self.s3(self.s2(self.stem(x)))
        p4 = self.s4(p3)
        p5 = self.s5(p4)
        l5 = self.lat5(p5)
        t4 = self.td4(torch.cat((F.interpolate(l5, scale_factor=2.0, mode="nearest"), p4), 1))
        l4 = self.lat4(t4)
        t3 = self.td3(torch.cat((F.interpolate(l4, scale_factor=2.0, mode="nearest"), p3), 1))
        b4 = self.bu4(torch.cat((self.down3(t3), l4), 1))
        b5 = self.bu5(torch.cat((self.down4(b4), l5), 1))
        return self.detect([t3, b4, b5])

    def init_biases(self, imgsz: int) -> None:
        # YOLOv5's prior: ~8 objects per 640 image, uniform classes; stabilises early training
        for conv, s in zip(self.detect.m, STRIDES):
            b = conv.bias.view(NA, -1)
            b.data[:, 4] += math.log(8 / (imgsz / s) ** 2)
            b.data[:, 5:] += math.log(0.6 / (NC - 0.99))


# ----------------------------------------------------------------------------- data cache


def _letterboxed(args) -> tuple[np.ndarray, np.ndarray]:
    seed, index, imgsz = args
    img, lines, ext, quality = make_one(seed, index)
    # round-trip through the codec so training sees the same artefacts inference will
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if ext == ".jpg" else []
    img = cv2.imdecode(cv2.imencode(ext, img, params)[1], cv2.IMREAD_COLOR)
    h, w = img.shape[:2]
    # "yolov5": the box convention ScriptLens uses to map this (anchor-based) model's boxes back
    boxed, geom = letterbox(img, (imgsz, imgsz), "yolov5")
    lab = np.array([[float(v) for v in ln.split()] for ln in lines], np.float32).reshape(-1, 5)
    xyxy = np.stack(
        [(lab[:, 1] - lab[:, 3] / 2) * w, (lab[:, 2] - lab[:, 4] / 2) * h,
         (lab[:, 1] + lab[:, 3] / 2) * w, (lab[:, 2] + lab[:, 4] / 2) * h], 1)
    return boxed, np.concatenate([lab[:, :1], geom.to_input(xyxy)], 1)  # cls, xyxy (input px)


def build_cache(path: Path, seed: int, count: int, imgsz: int, workers: int) -> tuple[np.ndarray, list[np.ndarray]]:
    if path.exists():
        z = np.load(path)
        images, labels, offs = z["images"], z["labels"], z["offsets"]
        return images, [labels[offs[i] : offs[i + 1]] for i in range(len(offs) - 1)]
    log.info("rendering %d training images (seed %d) at %d px", count, seed, imgsz)
    t0 = time.time()
    jobs = [(seed, i, imgsz) for i in range(count)]
    with Pool(workers) as pool:
        results = pool.map(_letterboxed, jobs, chunksize=16)  # order preserved: deterministic
    images = np.stack([r[0] for r in results])
    labels = [r[1] for r in results]
    offs = np.cumsum([0] + [len(l) for l in labels])
    np.savez(path, images=images, labels=np.concatenate(labels), offsets=offs)
    log.info("cache built in %.0f s", time.time() - t0)
    return images, labels


def kmeans_anchors(labels: list[np.ndarray], k: int = 9, seed: int = 0) -> np.ndarray:
    """Anchors (k,2) sorted by area: k-means in log(w,h) (scale-invariant, no tiny-box bias)."""
    wh = np.concatenate([l[:, 3:5] - l[:, 1:3] for l in labels])
    logwh = np.log(np.clip(wh, 2, None))
    rng = np.random.default_rng(seed)
    centres = logwh[rng.choice(len(logwh), k, replace=False)]
    for _ in range(60):
        assign = ((logwh[:, None] - centres[None]) ** 2).sum(-1).argmin(1)
        centres = np.stack([logwh[assign == j].mean(0) if (assign == j).any() else centres[j] for j in range(k)])
    anchors = np.exp(centres)
    return np.round(anchors[np.argsort(anchors.prod(1))], 1)


# --------------------------------------------------------------------------- augmentation


def content_windows(seed: int, count: int, imgsz: int) -> np.ndarray:
    """(count, 4) y0, x0, h, w: the part of each cached letterboxed image that holds pixels
    (not padding), widened to a multiple of 32 and centred on them. The image size is the first
    draw of make_shapes' per-image generator, so no image is rendered again."""
    out = np.zeros((count, 4), np.int64)
    for i in range(count):
        w, h = image_size(np.random.default_rng([seed, i]))
        geom, (nw, nh), _ = compute_geometry((h, w), (imgsz, imgsz), "yolov5")
        ch, cw = min(imgsz, math.ceil(nh / 32) * 32), min(imgsz, math.ceil(nw / 32) * 32)
        y0 = min(max(0, geom.pad_top + nh // 2 - ch // 2), imgsz - ch)
        x0 = min(max(0, geom.pad_left + nw // 2 - cw // 2), imgsz - cw)
        out[i] = y0, x0, ch, cw
    return out


class RectSampler:
    """Batches of images whose content windows share a shape, so a batch of panoramas is a
    (B, 3, 128, 320) tensor instead of 320x320 of mostly padding: ~36% fewer pixels per image,
    spent on more iterations. A fraction of batches stay full squares so the model keeps
    seeing letterbox bands exactly as inference does. Portrait windows are transposed to
    landscape (a symmetry the augmentation uses anyway), so each group has one shape."""

    def __init__(self, windows: np.ndarray, batch: int, rng: np.random.Generator, square_fraction: float = 0.2):
        self.windows, self.batch, self.rng, self.square_fraction = windows, batch, rng, square_fraction
        short = np.minimum(windows[:, 2], windows[:, 3])
        groups = [np.flatnonzero(short == s) for s in np.unique(short)]
        self.groups = [g for g in groups if len(g) >= batch]  # tiny groups: squares only
        self.weights = np.array([len(g) for g in self.groups], np.float64)
        self.weights /= max(1.0, self.weights.sum())
        self.orders = [rng.permutation(g) for g in self.groups]
        self.pos = [0] * len(self.groups)
        self.all, self.all_pos = rng.permutation(len(windows)), 0

    def next(self) -> tuple[np.ndarray, bool]:
        """(image indices, cut to their windows?)"""
        if not self.groups or self.rng.random() < self.square_fraction:
            if self.all_pos + self.batch > len(self.all):
                self.all, self.all_pos = self.rng.permutation(len(self.windows)), 0
            idx = self.all[self.all_pos : self.all_pos + self.batch]
            self.all_pos += self.batch
            return idx, False
        g = int(self.rng.choice(len(self.groups), p=self.weights))
        if self.pos[g] + self.batch > len(self.orders[g]):
            self.orders[g], self.pos[g] = self.rng.permutation(self.groups[g]), 0
        idx = self.orders[g][self.pos[g] : self.pos[g] + self.batch]
        self.pos[g] += self.batch
        return idx, True


def crop_window(img: np.ndarray, lab: np.ndarray, window) -> tuple[np.ndarray, np.ndarray]:
    """Cut the content window out (labels follow), transposed to landscape if portrait."""
    y0, x0, h, w = (int(v) for v in window)
    img = img[y0 : y0 + h, x0 : x0 + w]
    lab = lab.copy()
    lab[:, [1, 3]] = (lab[:, [1, 3]] - x0).clip(0, w)
    lab[:, [2, 4]] = (lab[:, [2, 4]] - y0).clip(0, h)
    if h > w:  # cv2.transpose: a fast copy (numpy's strided copies were ~30% of batch making)
        img, lab = cv2.transpose(img), lab[:, [0, 2, 1, 4, 3]]
    return img, lab  # else a view: later steps copy anyway


def clip_labels(cls: np.ndarray, xy: np.ndarray, W: int, H: int, min_keep: float = 0.6) -> np.ndarray:
    """Labels (cls, xyxy) clipped to a W x H image; boxes left with less than ``min_keep`` of
    their area (or under 2 px) are dropped: an object mostly cut away is no longer a target."""
    area0 = (xy[:, 2] - xy[:, 0]) * (xy[:, 3] - xy[:, 1])
    xy = xy.copy()
    xy[:, [0, 2]] = xy[:, [0, 2]].clip(0, W)
    xy[:, [1, 3]] = xy[:, [1, 3]].clip(0, H)
    area1 = (xy[:, 2] - xy[:, 0]) * (xy[:, 3] - xy[:, 1])
    keep = (area1 > min_keep * area0) & (xy[:, 2] - xy[:, 0] > 2) & (xy[:, 3] - xy[:, 1] > 2)
    return np.concatenate([cls, xy], 1)[keep]


def random_crop(img: np.ndarray, lab: np.ndarray, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A random cut of at most ``size`` x ``size`` px (labels follow). Training on crops of a
    cache letterboxed at the export size shows objects at the scale inference sees them, for
    the cost per iteration of a smaller input. A box cut by the crop keeps its visible part
    while at least 30% of it is left (YOLOv5 keeps 10%): dropping more would teach the model
    that a partly visible shape is background, the opposite of what occluded shapes need.
    Images that already fit are left as they are (no random draw, so a run without cropping
    keeps its draws)."""
    H, W = img.shape[:2]
    h, w = min(H, size), min(W, size)
    if (h, w) == (H, W):
        return img, lab
    y0, x0 = int(rng.integers(0, H - h + 1)), int(rng.integers(0, W - w + 1))
    if len(lab):
        lab = clip_labels(lab[:, :1], lab[:, 1:5] - np.array([x0, y0, x0, y0], np.float32), w, h, min_keep=0.3)
    return img[y0 : y0 + h, x0 : x0 + w], lab


def augment(img: np.ndarray, lab: np.ndarray, rng: np.random.Generator, zoom_p: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Geometric + photometric variety on an already letterboxed image (labels: cls, xyxy px).
    The image keeps its shape; only square images are transposed here (rect batches are
    transposed as a whole in make_batch)."""
    H, W = img.shape[:2]
    lab = lab.copy()
    if rng.random() < zoom_p:  # random zoom/shift: objects larger or smaller than our renderer's
        s = math.exp(rng.uniform(math.log(0.5), math.log(1.6)))
        tx = rng.uniform(-0.25, 0.25) * W + (1 - s) * W / 2
        ty = rng.uniform(-0.25, 0.25) * H + (1 - s) * H / 2
        M = np.array([[s, 0, tx], [0, s, ty]], np.float32)
        img = cv2.warpAffine(img, M, (W, H), flags=cv2.INTER_LINEAR, borderValue=(114, 114, 114))
        if len(lab):
            lab = clip_labels(lab[:, :1], lab[:, 1:5] * s + np.array([tx, ty, tx, ty], np.float32), W, H)
    # the 8 symmetries of the square: class names do not change under any of them. The pixels
    # move with cv2.flip / cv2.transpose: the same result as numpy's reversed and transposed
    # views made contiguous, at a fraction of the cost
    flip_x = rng.random() < 0.5
    if flip_x:
        lab[:, [1, 3]] = W - lab[:, [3, 1]]
    flip_y = rng.random() < 0.5
    if flip_y:
        lab[:, [2, 4]] = H - lab[:, [4, 2]]
    if flip_x or flip_y:
        img = cv2.flip(img, -1 if flip_x and flip_y else 1 if flip_x else 0)
    if H == W and rng.random() < 0.5:
        img = cv2.transpose(img)
        lab = lab[:, [0, 2, 1, 4, 3]]
    if rng.random() < 0.5:
        img = img[..., rng.permutation(3)]
    if rng.random() < 0.6:  # HSV jitter
        img = cv2.cvtColor(cv2.LUT(cv2.cvtColor(img, cv2.COLOR_BGR2HSV), hsv_table(rng)), cv2.COLOR_HSV2BGR)
    if rng.random() < 0.1:
        img = cv2.bitwise_not(img)  # 255 - img
    if rng.random() < 0.1:
        img = cv2.cvtColor(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    return img, lab


def hsv_table(rng: np.random.Generator) -> np.ndarray:
    """A random hue shift and saturation / value gain as one (256, 1, 3) lookup table for
    cv2.LUT over an 8-bit HSV image (hue 0-179). Each entry is the integer arithmetic once
    done per pixel (truncated gains, clipped to 0-255), so the table gives the same pixels
    in one pass instead of six numpy passes."""
    ramp = np.arange(256, dtype=np.int16)
    hue = (ramp + int(rng.integers(-25, 26))) % 180
    sat = np.clip(ramp * rng.uniform(0.4, 1.5), 0, 255).astype(np.int16)
    val = np.clip(ramp * rng.uniform(0.5, 1.4), 0, 255).astype(np.int16)
    return np.stack([hue, sat, val], -1).astype(np.uint8).reshape(256, 1, 3)


def make_batch(images, labels, idx, rng, train: bool, windows: np.ndarray | None = None, zoom_p: float = 0.5,
               crop: int | None = None, shrink: float = 1.0, dtype: torch.dtype = torch.float32):
    """Tensor batch + targets. With ``windows``, each image is first cut to its content window
    (all windows in one batch share a shape: RectSampler), and the batch is transposed to
    portrait half the time. With ``crop``, each image (or window) is then cut to a random
    part of at most crop x crop px; windows of one shape give crops of one shape. ``shrink``
    < 1 scales the finished batch down (``shrink_batch``) while it is still 8-bit: torch's
    uint8 antialiased resize is ~4x cheaper than the float one and converting the smaller
    batch to float is cheaper too (13-15 ms less per scaled-down iteration on the 2-core
    CPU); the pixels differ from resizing in float by at most 1/255, the cache's own step.
    ``dtype=torch.bfloat16`` (for bfloat16 autocast) gives exactly the tensor autocast would
    cast the float32 batch to (uint8 -> bfloat16 is exact, and the division rounds once, as
    the cast does), without the float32 pass."""
    batch, targets = None, []
    for bi, i in enumerate(idx):
        img, lab = images[i], labels[i]
        if windows is not None:
            img, lab = crop_window(img, lab, windows[i])
        if crop:
            img, lab = random_crop(img, lab, crop, rng)
        if train:
            img, lab = augment(img, lab, rng, zoom_p)
        if batch is None:  # every image of a batch has one shape (see the docstring)
            batch = np.empty((len(idx), *img.shape), np.uint8)
        slot = batch[bi]
        rgb = cv2.cvtColor(img, cv2.COLOR_BGR2RGB, dst=slot)  # as inference does, straight into place
        if rgb.ctypes.data != slot.ctypes.data:  # an OpenCV that allocated instead: copy it in
            slot[...] = rgb
        if len(lab):
            cxcywh = np.stack([(lab[:, 1] + lab[:, 3]) / 2, (lab[:, 2] + lab[:, 4]) / 2,
                               lab[:, 3] - lab[:, 1], lab[:, 4] - lab[:, 2]], 1)
            targets.append(np.concatenate([np.full((len(lab), 1), bi), lab[:, :1], cxcywh], 1))
    t = np.concatenate(targets) if targets else np.zeros((0, 6))
    if windows is not None and rng.random() < 0.5:
        batch = np.stack([cv2.transpose(im) for im in batch])
        t = t[:, [0, 1, 3, 2, 5, 4]]
    # NCHW indices over NHWC memory (channels_last), the layout the model trains in: no
    # transposing copy here and none back before the forward
    x8, t = torch.from_numpy(batch).permute(0, 3, 1, 2), torch.from_numpy(t).float()
    if shrink != 1.0:
        x8, t = shrink_batch(x8, t, shrink)
    return x8.to(dtype).div_(255), t  # targets: (img, cls, cx, cy, w, h) in input pixels


def shrink_batch(x: torch.Tensor, t: torch.Tensor, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The batch (uint8 or float) scaled down by ``scale`` (sides rounded to multiples of 32,
    the largest stride), targets with it: cheaper early iterations for progressive resizing."""
    h, w = x.shape[2:]
    nh, nw = max(32, round(h * scale / 32) * 32), max(32, round(w * scale / 32) * 32)
    if (nh, nw) == (h, w):
        return x, t
    x = F.interpolate(x, size=(nh, nw), mode="bilinear", align_corners=False, antialias=True)
    t = t.clone()
    t[:, [2, 4]] *= nw / w
    t[:, [3, 5]] *= nh / h
    return x, t


# ------------------------------------------------------------------------------------ loss


def bbox_ciou(b1: torch.Tensor, b2: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """CIoU of (n,4) cxcywh boxes, elementwise."""
    (x1, y1, w1, h1), (x2, y2, w2, h2) = b1.unbind(-1), b2.unbind(-1)
    b1x1, b1x2, b1y1, b1y2 = x1 - w1 / 2, x1 + w1 / 2, y1 - h1 / 2, y1 + h1 / 2
    b2x1, b2x2, b2y1, b2y2 = x2 - w2 / 2, x2 + w2 / 2, y2 - h2 / 2, y2 + h2 / 2
    inter = (torch.min(b1x2, b2x2) - torch.max(b1x1, b2x1)).clamp(0) * \
            (torch.min(b1y2, b2y2) - torch.max(b1y1, b2y1)).clamp(0)
    union = w1 * h1 + w2 * h2 - inter + eps
    iou = inter / union
    cw = torch.max(b1x2, b2x2) - torch.min(b1x1, b2x1)
    ch = torch.max(b1y2, b2y2) - torch.min(b1y1, b2y1)
    c2 = cw ** 2 + ch ** 2 + eps
    rho2 = (x2 - x1) ** 2 + (y2 - y1) ** 2
    v = (4 / math.pi ** 2) * (torch.atan(w2 / (h2 + eps)) - torch.atan(w1 / (h1 + eps))) ** 2
    with torch.no_grad():
        alpha = v / (v - iou + (1 + eps))
    return iou - (rho2 / c2 + v * alpha)


class YoloLoss:
    """YOLOv5's ComputeLoss: anchor-ratio matching (< 4x), two neighbouring cells, CIoU box
    loss, IoU-valued objectness targets, BCE for objectness and classes."""

    def __init__(self, anchors: torch.Tensor, imgsz: int, anchor_t: float = 4.0, cls_gain: float = 1.0):
        self.anchors = anchors.view(len(STRIDES), NA, 2)
        self.anchor_t = anchor_t
        nl = len(STRIDES)
        self.balance = (4.0, 1.0, 0.4)
        self.w_box = 0.05 * 3 / nl
        self.w_obj = 1.0 * (imgsz / 640) ** 2 * 3 / nl
        self.w_cls = 0.5 * NC / 80 * 3 / nl * cls_gain
        self.bce = nn.BCEWithLogitsLoss()

    def __call__(self, preds: list[torch.Tensor], targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        lbox = torch.zeros(())
        lobj = torch.zeros(())
        lcls = torch.zeros(())
        bs = preds[0].shape[0]
        off = torch.tensor([[0, 0], [1, 0], [0, 1], [-1, 0], [0, -1]], dtype=torch.float32) * 0.5
        for i, p in enumerate(preds):
            ny, nx = p.shape[2:4]
            stride = STRIDES[i]
            anc = self.anchors[i] / stride  # grid units
            tobj = torch.zeros(p.shape[:4])
            nt = targets.shape[0]
            if nt:
                t = targets.clone()
                t[:, 2:6] /= stride
                t = t.unsqueeze(0).repeat(NA, 1, 1)  # (na, nt, 6)
                ai = torch.arange(NA).view(NA, 1).repeat(1, nt)
                r = t[..., 4:6] / anc[:, None]
                j = torch.max(r, 1 / r).max(2)[0] < self.anchor_t
                t, ai = t[j], ai[j]
                gxy = t[:, 2:4]
                gxi = torch.tensor([nx, ny], dtype=torch.float32) - gxy
                jx, jy = ((gxy % 1 < 0.5) & (gxy > 1)).T
                lx, ly = ((gxi % 1 < 0.5) & (gxi > 1)).T
                sel = torch.stack((torch.ones_like(jx), jx, jy, lx, ly))
                t = t.repeat(5, 1, 1)[sel]
                ai = ai.repeat(5, 1)[sel]
                offsets = (torch.zeros_like(gxy)[None] + off[:, None])[sel]
                b, c = t[:, 0].long(), t[:, 1].long()
                gxy = t[:, 2:4]
                gij = (gxy - offsets).long()
                gi, gj = gij[:, 0].clamp_(0, nx - 1), gij[:, 1].clamp_(0, ny - 1)
                if len(b):
                    ps = p[b, ai, gj, gi]
                    pxy = ps[:, :2].sigmoid() * 2 - 0.5
                    pwh = (ps[:, 2:4].sigmoid() * 2) ** 2 * anc[ai]
                    tbox = torch.cat((gxy - torch.stack((gi, gj), 1), t[:, 4:6]), 1)
                    iou = bbox_ciou(torch.cat((pxy, pwh), 1), tbox)
                    lbox = lbox + (1.0 - iou).mean()
                    tobj[b, ai, gj, gi] = iou.detach().clamp(0).to(tobj.dtype)
                    tc = torch.zeros_like(ps[:, 5:])
                    tc[torch.arange(len(c)), c] = 1.0
                    lcls = lcls + self.bce(ps[:, 5:], tc)
            lobj = lobj + self.bce(p[..., 4], tobj) * self.balance[i]
        parts = torch.stack((lbox * self.w_box, lobj * self.w_obj, lcls * self.w_cls))
        return parts.sum() * bs, parts.detach()


class AlignedLoss(YoloLoss):
    """YOLOv5's losses with task-aligned assignment (TOOD / YOLOv8's TAL) instead of YOLOv5's
    static rule. Each ground-truth box takes the ``topk`` anchors with the best
    ``score ** alpha * IoU ** beta`` among its candidates: anchors whose cell centre lies in the
    box or within one stride of its centre (so boxes smaller than a cell get some too; taken as
    the rectangle around both), and whose anchor shape is within ``anchor_t`` of the box (the
    decode cannot reach past 4x an anchor). An anchor claimed by two boxes goes to the one it
    overlaps most. A positive's objectness target is its alignment, normalised per box to that
    box's best IoU, and its box loss is weighted by the same number. The static rule instead
    makes every anchor-ratio match in three cells a positive, however badly it predicts.

    Candidates are built sparsely (a few thousand anchor/box pairs per batch, not B x boxes x
    anchors), so the assignment costs a few milliseconds per step."""

    def __init__(self, anchors: torch.Tensor, imgsz: int, anchor_t: float = 4.0, cls_gain: float = 1.0,
                 topk: int = 10, alpha: float = 0.5, beta: float = 6.0):
        super().__init__(anchors, imgsz, anchor_t, cls_gain)
        self.topk, self.alpha, self.beta = topk, alpha, beta

    def _candidates(self, preds: list[torch.Tensor], targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(target index, flat anchor index within its image) of every candidate pair."""
        ts, ns = [], []
        offset = 0
        cx, cy, w, h = targets[:, 2], targets[:, 3], targets[:, 4], targets[:, 5]
        for i, p in enumerate(preds):
            _, na, ny, nx, _ = p.shape
            s = float(STRIDES[i])
            lo_x, hi_x = torch.minimum(cx - w / 2, cx - s), torch.maximum(cx + w / 2, cx + s)
            lo_y, hi_y = torch.minimum(cy - h / 2, cy - s), torch.maximum(cy + h / 2, cy + s)
            # cells whose centre (j + 0.5) * s lies strictly inside (lo, hi)
            jx0 = (torch.floor(lo_x / s - 0.5) + 1).clamp(0, nx - 1).long()
            jx1 = (torch.ceil(hi_x / s - 0.5) - 1).clamp(0, nx - 1).long()
            jy0 = (torch.floor(lo_y / s - 0.5) + 1).clamp(0, ny - 1).long()
            jy1 = (torch.ceil(hi_y / s - 0.5) - 1).clamp(0, ny - 1).long()
            wx, wy = (jx1 - jx0 + 1).clamp(min=0), (jy1 - jy0 + 1).clamp(min=0)
            r = targets[:, None, 4:6] / self.anchors[i][None]  # (T, na, 2)
            ok = torch.max(r, 1 / r).max(2)[0] < self.anchor_t
            t_idx, a_idx = ok.nonzero(as_tuple=True)
            counts = (wx * wy)[t_idx]
            if counts.sum() == 0:
                offset += na * ny * nx
                continue
            rep_t = torch.repeat_interleave(t_idx, counts)
            rep_a = torch.repeat_interleave(a_idx, counts)
            q = torch.arange(int(counts.sum())) - torch.repeat_interleave(torch.cumsum(counts, 0) - counts, counts)
            gx = jx0[rep_t] + q % wx[rep_t]
            gy = jy0[rep_t] + q // wx[rep_t]
            ts.append(rep_t)
            ns.append(offset + (rep_a * ny + gy) * nx + gx)
            offset += na * ny * nx
        if not ts:
            return torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long)
        return torch.cat(ts), torch.cat(ns)

    @staticmethod
    def decode(preds: list[torch.Tensor], anchors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
        """All levels flattened: boxes (B, N, 4) cxcywh in input pixels (the export's decode),
        logits (B, N, 1 + nc) (objectness, classes), and each level's N."""
        boxes, logits, sizes = [], [], []
        for i, p in enumerate(preds):
            bs, na, ny, nx, no = p.shape
            boxes.append(anchor_boxes(p[..., :4].sigmoid(), STRIDES[i], anchors[i]).view(bs, -1, 4))
            logits.append(p[..., 4:].reshape(bs, -1, no - 4))
            sizes.append(na * ny * nx)
        return torch.cat(boxes, 1), torch.cat(logits, 1), sizes

    @torch.no_grad()
    def assign(self, preds: list[torch.Tensor], pbox: torch.Tensor, plog: torch.Tensor,
               targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Positives as (image, flat anchor, target row, quality) index/value vectors."""
        empty = torch.zeros(0, dtype=torch.long)
        t_idx, n_idx = self._candidates(preds, targets) if len(targets) else (empty, empty)
        if not len(t_idx):
            return empty, empty, empty, torch.zeros(0)
        N = pbox.shape[1]
        b_idx = targets[t_idx, 0].long()
        gcls = targets[t_idx, 1].long()
        iou = box_iou_cxcywh(pbox[b_idx, n_idx].detach().float(), targets[t_idx, 2:6]).clamp(0)
        lg = plog[b_idx, n_idx].detach().float()
        score = lg[:, 0].sigmoid() * lg[:, 1:].gather(1, gcls[:, None]).squeeze(1).sigmoid()
        align = score.pow(self.alpha) * iou.pow(self.beta)
        # top-k per box: sorted by box, then by alignment (descending)
        order = torch.argsort(t_idx.double() * 2 + (1 - align.double()), stable=True)
        t_sorted = t_idx[order]
        first = torch.searchsorted(t_sorted, torch.arange(len(targets)))
        rank = torch.arange(len(order)) - first[t_sorted]
        keep = order[(rank < self.topk) & (align[order] > 0)]
        # an anchor claimed by several boxes keeps the one it overlaps most
        key = b_idx[keep].double() * N + n_idx[keep]
        order2 = torch.argsort(key * 2 + (1 - iou[keep].double()), stable=True)
        k2 = key[order2]
        lead = torch.ones_like(k2, dtype=torch.bool)
        lead[1:] = k2[1:] != k2[:-1]
        pos = keep[order2[lead]]
        tp = t_idx[pos]
        max_align = torch.zeros(len(targets)).scatter_reduce(0, tp, align[pos], "amax")
        max_iou = torch.zeros(len(targets)).scatter_reduce(0, tp, iou[pos], "amax")
        quality = align[pos] / (max_align[tp] + 1e-9) * max_iou[tp]
        return b_idx[pos], n_idx[pos], tp, quality

    def __call__(self, preds: list[torch.Tensor], targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        bs = preds[0].shape[0]
        pbox, plog, sizes = self.decode(preds, self.anchors)
        bp, np_, tp, quality = self.assign(preds, pbox, plog, targets)
        tobj = torch.zeros(plog.shape[:2])
        lbox = torch.zeros(())
        lcls = torch.zeros(())
        if len(bp):
            tobj[bp, np_] = quality
            lbox = ((1.0 - bbox_ciou(pbox[bp, np_], targets[tp, 2:6])) * quality).sum() / quality.sum().clamp(min=1e-9)
            logit_c = plog[bp, np_, 1:]
            lcls = self.bce(logit_c, F.one_hot(targets[tp, 1].long(), logit_c.shape[-1]).to(logit_c.dtype))
        lobj = torch.zeros(())
        for i, (o, q) in enumerate(zip(plog[..., 0].split(sizes, 1), tobj.split(sizes, 1))):
            lobj = lobj + self.bce(o, q) * self.balance[i]
        parts = torch.stack((lbox * self.w_box, lobj * self.w_obj, lcls * self.w_cls))
        return parts.sum() * bs, parts.detach()


def box_iou_cxcywh(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Plain IoU of broadcastable (..., 4) cxcywh boxes."""
    a1, a2 = a[..., :2] - a[..., 2:] / 2, a[..., :2] + a[..., 2:] / 2
    b1, b2 = b[..., :2] - b[..., 2:] / 2, b[..., :2] + b[..., 2:] / 2
    inter = (torch.min(a2, b2) - torch.max(a1, b1)).clamp(0).prod(-1)
    return inter / (a[..., 2:].prod(-1) + b[..., 2:].prod(-1) - inter + eps)


# ---------------------------------------------------------------------------------- train


class EMA:
    """Exponential moving average of weights (YOLOv5's ModelEMA): smoother final weights."""

    def __init__(self, model: nn.Module, decay: float = 0.995, tau: float = 100):
        self.shadow = {k: v.detach().clone() for k, v in model.state_dict().items()}
        self.decay, self.tau, self.updates = decay, tau, 0
        self._floats = [k for k, v in self.shadow.items() if v.dtype.is_floating_point]
        self._counters = [k for k, v in self.shadow.items() if not v.dtype.is_floating_point]  # BN batch counts
        self._shadow_f = [self.shadow[k] for k in self._floats]

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        d = self.decay * (1 - math.exp(-self.updates / self.tau))
        # read the model afresh each step (a .to() may have replaced its tensors): the same
        # per-tensor mul_ / add_ as a loop, in two foreach calls, ~1.5 ms less per step
        live = model.state_dict()
        torch._foreach_mul_(self._shadow_f, d)
        torch._foreach_add_(self._shadow_f, [live[k] for k in self._floats], alpha=1 - d)
        for k in self._counters:
            self.shadow[k].copy_(live[k])


def prefetched(produce, count: int, ahead: int = 2):
    """Yield ``produce()`` ``count`` times, computed ahead in one background thread. OpenCV and
    numpy release the GIL, so the next batch's augmentation overlaps the model's step; one
    producer calling in order keeps every random draw where it was (deterministic)."""
    q: queue.Queue = queue.Queue(ahead)

    def run():
        try:
            for _ in range(count):
                q.put((produce(), None))
        except BaseException as exc:  # handed to the training loop, which re-raises it
            q.put((None, exc))

    threading.Thread(target=run, daemon=True, name="batches").start()
    for _ in range(count):
        item, exc = q.get()
        if exc is not None:
            raise exc
        yield item


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    # ...without its NaN fill of every new tensor (a debugging aid for uninitialised reads):
    # measured at 13% of a training step here, and no kernel used here reads memory it did not write
    torch.utils.deterministic.fill_uninitialized_memory = False


def train(args) -> Path:
    seed_everything(args.seed)
    # each step frees and re-allocates the same large buffers: kept in the process, they are
    # not faulted in again every step (~3000 page faults per iteration otherwise; same weights)
    log.info("freed memory kept for reuse (glibc): %s", "yes" if keep_freed_memory() else "no")
    if args.bf16 is None:
        # measured on the project's 2-core machines: bfloat16 autocast makes this network's
        # training step ~2.5x faster than float32 with AMX, ~1.4x with AVX-512 BF16 (0.13 s vs
        # 0.18 s per scaled-down step); without either, emulated bfloat16 is expected to be slower (not measured)
        args.bf16 = has_bf16_units()
    log.info("bfloat16 autocast: %s", "on" if args.bf16 else "off")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    train_size = min(args.crop or args.imgsz, args.imgsz)  # side of the training tensors (before shrinking)
    images, labels = build_cache(out / f"cache_s{args.data_seed}_n{args.count}_{args.imgsz}.npz",
                                 args.data_seed, args.count, args.imgsz, args.workers)
    if args.init:  # continue from an earlier run's weights (a second, shorter schedule)
        start = torch.load(args.init, map_location="cpu", weights_only=True)  # our own checkpoint
        anchors = np.asarray(start["anchors"], np.float64)
        model = ShapesNet(torch.from_numpy(anchors).float(), start["width"], start.get("depth", DEPTH))
        model.load_state_dict(start["state_dict"])
        log.info("initialised from %s", args.init)
    else:
        anchors = kmeans_anchors(labels, seed=args.seed)
        model = ShapesNet(torch.from_numpy(anchors).float(), args.width, args.depth)
        model.init_biases(train_size)
    log.info("anchors (px, P3 first): %s", anchors.reshape(3, 6).tolist())
    log.info("parameters: %d", sum(p.numel() for p in model.parameters()))
    # NHWC lets oneDNN pick faster convolution kernels for these thin layers: ~25% less time
    # per iteration on the 2-core CPU, hence more iterations inside the same budget
    model = model.to(memory_format=torch.channels_last)
    # the objectness weight follows YOLOv5's (size / 640)^2 for the tensors the loss actually sees
    loss_cls = AlignedLoss if args.assign == "aligned" else YoloLoss
    loss_fn = loss_cls(model.detect.anchors, train_size, cls_gain=args.cls_gain)
    decay, no_decay = [], []
    for n, p in model.named_parameters():
        (decay if p.ndim > 1 else no_decay).append(p)
    # fused: one kernel per parameter group instead of torch's per-tensor loop on CPU, ~2.4 ms less per step here
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 5e-4}, {"params": no_decay, "weight_decay": 0}],
                            lr=args.lr, betas=(0.9, 0.999), fused=True)
    ema = EMA(model)
    rng = np.random.default_rng(args.seed)
    n = len(images)
    warmup = min(300, args.iters // 10)
    t0 = time.time()
    windows = content_windows(args.data_seed, n, args.imgsz) if args.rect else None
    sampler = RectSampler(windows if windows is not None else np.full((n, 4), [0, 0, args.imgsz, args.imgsz]),
                          args.batch, rng, square_fraction=0.2 if args.rect else 1.0)
    model.train()
    it = 0
    stop = min(args.iters, args.stop_at or args.iters)

    made = 0
    low_res_until = int(args.low_res_frac * args.iters)

    def next_batch():
        nonlocal made
        idx, rect = sampler.next()
        made += 1
        # progressive resizing: the first iterations learn from smaller (cheaper) batches
        return make_batch(images, labels, idx, rng, train=True, windows=windows if rect else None,
                          zoom_p=args.zoom_p, crop=args.crop,
                          shrink=args.low_res_scale if made <= low_res_until else 1.0,
                          dtype=torch.bfloat16 if args.bf16 else torch.float32)

    # on 2 cores a batch thread competes with torch's two OpenMP threads (measured: 196 ms per
    # iteration with it, 160 ms without; on a slower machine 383 vs 346 ms, also with
    # OMP_WAIT_POLICY=PASSIVE 417 ms), so batches are made in line unless asked otherwise
    batches = prefetched(next_batch, stop) if args.prefetch else (next_batch() for _ in range(stop))
    for it in range(stop):
        if time.time() - t0 > args.minutes * 60:
            # the schedule is fixed by --iters, so a cut run equals `--stop-at <it>`: log it
            log.warning("time budget reached: stopped after %d of %d iterations "
                        "(reproduce with --stop-at %d)", it, args.iters, it)
            it -= 1
            break
        lr = args.lr * (min(1.0, (it + 1) / warmup) if it < warmup else
                        0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * (it - warmup) / max(1, args.iters - warmup))))
        for g in opt.param_groups:
            g["lr"] = lr
        x, t = next(batches)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
            preds = model(x.contiguous(memory_format=torch.channels_last))
        loss, parts = loss_fn([p.float() for p in preds], t)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        opt.step()
        ema.update(model)
        if it % 50 == 0 or it == args.iters - 1:
            log.info("it %d/%d lr %.5f loss %.3f (box %.4f obj %.4f cls %.4f) %.1f min",
                     it, args.iters, lr, loss.item(), *parts.tolist(), (time.time() - t0) / 60)
    ckpt = out / args.ckpt_name
    torch.save({"state_dict": ema.shadow, "anchors": anchors.tolist(), "imgsz": args.imgsz,
                "names": list(NAMES), "width": list(args.width), "depth": list(args.depth), "strides": list(STRIDES), "iterations": it + 1,
                "train_minutes": (time.time() - t0) / 60, "args": vars(args)}, ckpt)
    log.info("saved %s after %d iterations, %.1f min", ckpt, it + 1, (time.time() - t0) / 60)
    return ckpt


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Train the ScriptLens demo shapes detector (CPU).")
    p.add_argument("--out", default="out/demo_train")
    p.add_argument("--imgsz", type=int, default=416, help="letterbox size of the training cache")
    p.add_argument("--crop", type=int, default=320,
                   help="train on random crops of at most this side (objects keep the --imgsz scale)")
    p.add_argument("--count", type=int, default=3000, help="training images rendered")
    p.add_argument("--data-seed", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--iters", type=int, default=6600, help="schedule length (the defaults are the bundled model's recipe)")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=2.5e-3)
    p.add_argument("--minutes", type=float, default=40.0, help="safety stop for the training loop (wall clock)")
    p.add_argument("--stop-at", type=int, default=None,
                   help="stop after this many iterations of the --iters schedule (reproduces a run cut by --minutes)")
    p.add_argument("--rect", action=argparse.BooleanOptionalAction, default=True,
                   help="batches cut to the images' content windows (default; --no-rect: full squares)")
    p.add_argument("--cls-gain", type=float, default=1.0,
                   help="multiplies YOLOv5's class-loss weight (0.5 * nc / 80 per level)")
    p.add_argument("--assign", choices=("yolov5", "aligned"), default="aligned",
                   help="target assignment: YOLOv5's anchor-ratio rule or task-aligned (AlignedLoss)")
    p.add_argument("--zoom-p", type=float, default=0.5, help="probability of the random zoom/shift augmentation")
    p.add_argument("--width", type=int, nargs=5, default=list(WIDTH), help="channels of the five stages")
    p.add_argument("--depth", type=int, nargs=4, default=list(DEPTH), help="residual blocks in stages 2-5")
    p.add_argument("--low-res-frac", type=float, default=0.65,
                   help="fraction of the iterations (the first ones) trained on batches scaled by --low-res-scale")
    p.add_argument("--low-res-scale", type=float, default=0.7, help="scale of those early batches")
    p.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=None,
                   help="bfloat16 autocast for the forward/backward, float32 master weights "
                        "(default: on where the CPU has AMX or AVX-512 BF16 units)")
    p.add_argument("--prefetch", action=argparse.BooleanOptionalAction, default=False,
                   help="make the next batch in a background thread (pays off with more than 2 cores)")
    p.add_argument("--init", default=None, help="start from this checkpoint's weights and anchors")
    p.add_argument("--ckpt-name", default="last.pt", help="checkpoint file name inside --out")
    p.add_argument("--workers", type=int, default=2, help="processes rendering the training set")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    train(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
