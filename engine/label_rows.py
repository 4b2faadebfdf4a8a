"""Which of an image's detections become lines of its YOLO label file: the ONE rule that every
writer (`scriptlens label`, the window's export, `--dataset`, and any future writer) calls
through `label_rows`, so their label files are identical byte for byte.

Two kinds of rows never reach a label file (the model's raw rows stay in previews and in
`label --json`):
- Degenerate boxes: narrower or lower than `MIN_BOX_PX` (1 pixel of the ORIGINAL image) after
  mapping back and clipping to the image. These are boxes predicted in the letterbox padding
  and clipped to an edge (zero width or height), and upside-down boxes (x2 < x1 or y2 < y1,
  which end-to-end models can output; clipping alone would write them with a zero or, as
  Ultralytics' own save_txt does, a negative size, and Ultralytics then rejects the file as
  corrupt). Why 1 px: a box under one original pixel covers no object a person could label,
  and Ultralytics' augmentation drops boxes under 2 px anyway; any positive size is kept, so
  nothing a trainer could use is lost.
- Exact duplicates: a row whose 5-column line (class + box, as written) equals an earlier
  row's, e.g. two clipped full-image boxes. The first (the most confident: rows come best
  first) is kept. Ultralytics removes these itself with a "duplicate labels removed" warning.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .detections import Detections
from .labels import format_yolo

MIN_BOX_PX = 1.0  # boxes narrower or lower than this, in original pixels, are not written


@dataclass(frozen=True)
class LabelRows:
    """The rows of one label file, and how many of the model's rows were left out."""

    detections: Detections  # the rows written, in the model's order (confidences for --save-conf/sidecar)
    image_wh: tuple[int, int]
    degenerate: int = 0  # under MIN_BOX_PX wide or high after clipping (zero-area, upside down)
    duplicates: int = 0  # the same line as an earlier row

    def text(self, save_conf: bool = False) -> str:
        """The label file's content."""
        return format_yolo(self.detections, self.image_wh, save_conf)

    def __len__(self) -> int:
        return len(self.detections)


def label_rows(det: Detections, image_wh: tuple[int, int], min_px: float = MIN_BOX_PX) -> LabelRows:
    """`det` (original pixels) filtered by the module's rule for an image of `image_wh` (w, h)."""
    if len(det) == 0:
        return LabelRows(det, image_wh)
    w, h = image_wh
    xyxy = det.xyxy.astype(np.float64)
    # Clip to the image (a no-op for the model's rows, which engine.thresholds clipped; the
    # window's edits may reach past an edge, and format_yolo would shift such a box's centre).
    # An upside-down box keeps its negative size through the clip and is dropped here.
    x1, x2 = np.clip(xyxy[:, 0], 0, w), np.clip(xyxy[:, 2], 0, w)
    y1, y2 = np.clip(xyxy[:, 1], 0, h), np.clip(xyxy[:, 3], 0, h)
    sized = np.flatnonzero(((x2 - x1) >= min_px) & ((y2 - y1) >= min_px))
    clipped = np.stack([x1, y1, x2, y2], axis=1)[sized]
    kept = Detections(clipped, det.confidence[sized], det.class_id[sized])
    seen: set[str] = set()
    unique = []
    for i, line in enumerate(format_yolo(kept, image_wh).splitlines()):
        if line not in seen:
            seen.add(line)
            unique.append(i)
    return LabelRows(kept[np.asarray(unique, np.int64)], image_wh,
                     degenerate=len(det) - len(sized), duplicates=len(kept) - len(unique))
