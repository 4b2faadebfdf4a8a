"""Find and read ground-truth YOLO labels for a folder of images.

Where labels are looked for, in order: a folder the user picked; ``labels/`` beside an
``images/`` folder (the YOLO dataset layout, mirrored sub-folders); a same-name ``.txt`` beside
each image. A labels folder that holds a ScriptLens manifest was written by our own export:
callers are told (`GroundTruthSource.from_export`) so the GUI can say these are predictions.
How a label file is read, and what a bad one means, is engine/ground_truth_reader.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .detections import Detections
from .ground_truth_reader import LabelStatus, read_label_file
from .labels import default_labels_dir, label_path_for
from .label_guard import written_by_scriptlens


@dataclass(frozen=True)
class GroundTruthSource:
    images_root: Path
    labels_root: Path | None  # None: same-name .txt beside each image
    from_export: bool = False

    def path_for(self, image_path: Path) -> Path:
        if self.labels_root is None:
            return Path(image_path).with_suffix(".txt")
        return label_path_for(image_path, self.images_root, self.labels_root)

    def describe(self) -> str:
        where = str(self.labels_root) if self.labels_root else ".txt files beside the images"
        return where + (" (written by a ScriptLens export: predictions, not human labels)" if self.from_export else "")

    def load(self, image_path: Path, image_wh: tuple[int, int]) -> Detections | None:
        """The image's labels, `Detections.empty()` for an empty file, None when it has none.
        An unreadable file raises ValueError naming the file and line. Read as
        `engine.ground_truth_reader` reads (without its cache or class-id check): callers that
        score should use `GroundTruthReader`, which applies the one policy for bad files."""
        gt = read_label_file(self.path_for(image_path), image_wh)
        if gt.status is LabelStatus.UNREADABLE:
            raise ValueError(gt.error)
        return None if gt.status is LabelStatus.UNLABELLED else gt.detections


def find_ground_truth(images_root: Path, images: list[Path], labels_root: Path | None = None) -> GroundTruthSource | None:
    """The first place that holds labels for any of `images` (checks at most 50 of them)."""
    images_root = Path(images_root)
    sample = images[:50]
    options = [labels_root] if labels_root is not None else [default_labels_dir(images_root), None]
    for root in options:
        if root is not None and not Path(root).is_dir():
            continue
        source = GroundTruthSource(images_root, Path(root) if root is not None else None)
        if any(source.path_for(p).is_file() for p in sample):
            from_export = root is not None and written_by_scriptlens(Path(root))
            return GroundTruthSource(images_root, source.labels_root, from_export)
    return None
