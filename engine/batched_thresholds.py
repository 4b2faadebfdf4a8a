"""`apply_thresholds` for many images at once, with the same result bit for bit.

Why: after an IoU / agnostic / max-det change the threshold panel re-runs NMS on every image
of the folder. Per image that is a dozen numpy calls on 10-300 boxes, so a 1,000-image folder
spends its time in call overhead, not arithmetic. Here every step runs on the rows of all
images at once: the threshold mask, the sort (by image, then score), the class shift, greedy
NMS in padded (groups, K, K) blocks, the max-det cut and the map back to original pixels.

Exactness: rows are ordered as `select` orders them (stable, by descending score), boxes are
shifted per class with `engine.nms.batched_nms`' float32 arithmetic and per-image span, the
IoU is `_iou_rows`' float32 formula, the greedy fixed point is unique, and the inverse mapping
is `Geometry.to_original`'s float32 arithmetic. So each image keeps exactly the boxes
`apply_thresholds` keeps, in the same order, with the same coordinates. Images the batch path
does not cover (end-to-end models without extra NMS, more than `MAX_BATCHED` rows above the
threshold) go through `apply_thresholds` itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .candidates import Candidates
from .detections import Detections
from .nms import MAX_WH, keep_grouped
from .thresholds import Thresholds, apply_thresholds

MAX_BATCHED = 1024  # an image with more rows above the threshold: the per-image path


@dataclass(frozen=True)
class DetectionBatch:
    """Detections of many images in flat arrays: image i owns rows offsets[i]:offsets[i+1],
    best first (the order `apply_thresholds` returns)."""

    offsets: np.ndarray  # (n_images + 1,) int64
    xyxy: np.ndarray  # (N, 4) float32, original pixels
    confidence: np.ndarray  # (N,) float32
    class_id: np.ndarray  # (N,) int64

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def image(self, i: int) -> Detections:
        s = slice(int(self.offsets[i]), int(self.offsets[i + 1]))
        return Detections(self.xyxy[s], self.confidence[s], self.class_id[s])

    @classmethod
    def from_list(cls, dets: Sequence[Detections]) -> "DetectionBatch":
        offsets = np.zeros(len(dets) + 1, np.int64)
        offsets[1:] = np.cumsum([len(d) for d in dets])
        if not dets:
            return cls(offsets, np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))
        return cls(offsets, np.concatenate([d.xyxy for d in dets]).reshape(-1, 4),
                   np.concatenate([d.confidence for d in dets]), np.concatenate([d.class_id for d in dets]))


def apply_thresholds_many(candidates: Sequence[Candidates], t: Thresholds) -> list[Detections]:
    """`[apply_thresholds(c, t) for c in candidates]`, computed in batches."""
    batch = select_batch(candidates, t)
    return [batch.image(i) for i in range(len(batch))]


def select_batch(candidates: Sequence[Candidates], t: Thresholds) -> DetectionBatch:
    """What `apply_thresholds` gives for each image, as one `DetectionBatch`."""
    n = len(candidates)
    lens = np.array([len(c) for c in candidates], np.int64)
    image = np.repeat(np.arange(n), lens)
    score = _cat([c.score for c in candidates], np.float32, (0,))
    cls = _cat([c.class_id for c in candidates], np.int64, (0,))
    xyxy = _cat([c.xyxy for c in candidates], np.float32, (0, 4))

    mask = score > t.conf_for(cls)
    if t.classes is not None:
        mask &= np.isin(cls, np.asarray(t.classes, np.int64))
    above = np.bincount(image[mask], minlength=n)
    per_image = np.array([c.nms_in_model and not t.nms_on_end2end for c in candidates], bool) | (above > MAX_BATCHED)
    mask &= ~per_image[image]

    sel = np.flatnonzero(mask)
    sel = sel[np.lexsort((-score[sel], image[sel]))]  # by image, then score; stable like `select`
    img_s, cls_s, box_s = image[sel], cls[sel], xyxy[sel]
    if t.agnostic:
        group, shifted = img_s, box_s
    else:  # classes never suppress each other (the shift keeps them apart): one group each
        group = img_s * (int(cls_s.max(initial=0)) + 1) + cls_s
        shifted = box_s + (cls_s.astype(np.float32) * _class_span(box_s, img_s, n)[img_s])[:, None]
    keep = keep_grouped(shifted, group, t.iou)
    kept = sel[keep]
    kept_img = img_s[keep]
    kept = kept[_rank_in_image(kept_img) < t.max_det]
    kept_img = image[kept]

    out_xyxy = _to_original(xyxy[kept], kept_img, candidates)
    out_conf, out_cls = score[kept], cls[kept]
    counts = np.bincount(kept_img, minlength=n)
    if per_image.any():  # splice in the images done one at a time
        parts = [(out_xyxy, out_conf, out_cls, kept_img)]
        for i in np.flatnonzero(per_image):
            d = apply_thresholds(candidates[i], t)
            parts.append((d.xyxy, d.confidence, d.class_id, np.full(len(d), i)))
            counts[i] = len(d)
        img_all = np.concatenate([p[3] for p in parts])
        order = np.argsort(img_all, kind="stable")
        out_xyxy = np.concatenate([p[0] for p in parts]).reshape(-1, 4)[order]
        out_conf = np.concatenate([p[1] for p in parts])[order]
        out_cls = np.concatenate([p[2] for p in parts])[order]
    offsets = np.zeros(n + 1, np.int64)
    offsets[1:] = np.cumsum(counts)
    return DetectionBatch(offsets, out_xyxy.astype(np.float32, copy=False), out_conf.astype(np.float32, copy=False),
                          out_cls.astype(np.int64, copy=False))


def _cat(arrays: list[np.ndarray], dtype, empty_shape: tuple[int, ...]) -> np.ndarray:
    return np.concatenate(arrays).astype(dtype, copy=False) if arrays else np.zeros(empty_shape, dtype)


def _class_span(boxes: np.ndarray, image: np.ndarray, n: int) -> np.ndarray:
    """Per image, `batched_nms`' class offset: max(7680, 2 * max|coordinate| + 1) in float32.
    Rows are sorted by image, so each image's maximum is one `reduceat` segment."""
    absmax = np.zeros(n, np.float32)
    if len(image):
        starts = np.flatnonzero(np.r_[True, image[1:] != image[:-1]])
        absmax[image[starts]] = np.maximum.reduceat(np.abs(boxes).max(1), starts)
    return np.maximum(absmax.astype(np.float64) * 2 + 1.0, MAX_WH).astype(np.float32)


def _rank_in_image(image: np.ndarray) -> np.ndarray:
    """0, 1, 2... within each run of equal (sorted) image ids."""
    if len(image) == 0:
        return np.zeros(0, np.int64)
    starts = np.flatnonzero(np.r_[True, image[1:] != image[:-1]])
    sizes = np.diff(np.r_[starts, len(image)])
    return np.arange(len(image)) - np.repeat(starts, sizes)


def _to_original(xyxy: np.ndarray, image: np.ndarray, candidates: Sequence[Candidates]) -> np.ndarray:
    """`Geometry.to_original(..., clip=True)` for rows of many images (each its own geometry)."""
    used = np.unique(image)
    params = np.zeros((len(candidates), 6), np.float64)
    for i in used:
        g = candidates[i].geometry
        params[i, :4] = g._offset_and_scale()
        params[i, 4], params[i, 5] = g.source_hw[1], g.source_hw[0]
    p = params.astype(np.float32)[image]
    out = np.array(xyxy, np.float32, copy=True).reshape(-1, 4)
    out[:, [0, 2]] = (out[:, [0, 2]] - p[:, 0:1]) / p[:, 2:3]
    out[:, [1, 3]] = (out[:, [1, 3]] - p[:, 1:2]) / p[:, 3:4]
    out[:, [0, 2]] = np.clip(out[:, [0, 2]], np.float32(0), p[:, 4:5])
    out[:, [1, 3]] = np.clip(out[:, [1, 3]], np.float32(0), p[:, 5:6])
    return out
