"""Images that would share one label file: the one rule for `x.jpg` + `x.png` in one folder.

YOLO names a label file after its image without the extension, so `x.jpg` and `x.png` both
map to `x.txt`. Writing labels for both would lose one image's boxes; scoring both against
that file would score one of them against the other's objects. So the FIRST image (in the
given order) owns the file and every later one is refused, by `scriptlens label` and
`scriptlens eval` alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable


def images_sharing_a_label_file(image_paths: Iterable[Path], label_file_of: Callable[[Path], Path]) -> dict[Path, Path]:
    """``{later image: the earlier image that owns its label file}`` for every image of
    `image_paths` whose label file (``label_file_of(image)``, e.g. a `GroundTruthSource`'s
    `path_for` or ``lambda p: label_path_for(p, images_root, out_root)``) an earlier image in
    the same iteration already maps to. Images absent from the result own their label file.
    Pure: nothing on disk is touched beyond what `label_file_of` does."""
    owner: dict[Path, Path] = {}
    refused: dict[Path, Path] = {}
    for image in image_paths:
        image = Path(image)
        label_file = Path(label_file_of(image))
        if label_file in owner:
            refused[image] = owner[label_file]
        else:
            owner[label_file] = image
    return refused


def shared_label_message(image: Path, owner: Path, label_file: Path, action: str = "not scored") -> str:
    """One line naming both images, e.g. for `scriptlens eval` (action "not scored") or
    `scriptlens label` ("not labelled")."""
    return (f"{image}: {action}: its label file {Path(label_file).name} belongs to {Path(owner).name} "
            f"(same name, other extension); rename one")
