"""What `scriptlens label` hands `engine.export.export_labels`: one (image, detections or
error, (w, h)) per image, in order, from the model; a `skipped:` line per image that gets no
label file, printed as it is reached."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

from engine.errors import ScriptLensError
from engine.label_pairs import images_sharing_a_label_file, shared_label_message
from engine.labels import label_path_for
from engine.thresholds import Thresholds, apply_thresholds

from .common import skipped_line


class LabelItems:
    def __init__(self, det, paths: list[Path], images_root: Path, out: Path, thresholds: Thresholds,
                 write: Callable[[str], None], records: dict[str, list] | None = None,
                 predict: Callable[[list[Path]], Iterator] | None = None) -> None:
        """`write`: prints one line to stderr (through the progress bar); `records`: filled
        with every image's detections for --json when given; `predict`: where the model runs
        (default `det.predict_paths`, this machine; cli.ray_label: a Ray cluster)."""
        self.det, self.paths, self.images_root, self.out = det, paths, images_root, out
        self.thresholds, self.write, self.records = thresholds, write, records
        self.predict = predict or det.predict_paths
        # images whose label file an earlier image owns (engine.label_pairs): reported, not run
        self.shared = images_sharing_a_label_file(paths, self._label_file)
        self.reported: set[Path] = set()  # images whose line was printed as it happened

    def _label_file(self, path: Path) -> Path:
        return label_path_for(path, self.images_root, self.out)

    def skip(self, path: Path, message: str) -> None:
        self.reported.add(path)
        self.write(skipped_line(path, message))

    def __iter__(self) -> Iterator:
        results = self.predict([p for p in self.paths if p not in self.shared])
        for path in self.paths:
            if path in self.shared:
                message = shared_label_message(path, self.shared[path], self._label_file(path), "not labelled")
                self.skip(path, message)
                yield path, ScriptLensError(message), (0, 0)
                continue
            _, result = next(results)
            if isinstance(result, ScriptLensError):
                self.skip(path, str(result))
                yield path, result, (0, 0)
                continue
            dets = apply_thresholds(result.candidates, self.thresholds)
            h, w = result.candidates.geometry.source_hw
            self._record(path, dets)
            yield path, dets, (w, h)

    def _record(self, path: Path, dets) -> None:
        if self.records is None:
            return
        names = self.det.info.names
        self.records[str(path.relative_to(self.images_root))] = [
            {"xyxy": [round(float(v), 3) for v in box], "conf": round(float(c), 6), "class_id": int(k),
             "class_name": names[k] if k < len(names) else str(k)}
            for box, c, k in zip(dets.xyxy.tolist(), dets.confidence, dets.class_id)
        ]
