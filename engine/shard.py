"""`--shard I/N`: which images one of N independent runs labels (SLURM job arrays, Kubernetes
indexed jobs), so that the N runs together write exactly the files of one full run.

The partition is by a hash of each image's *label file* path relative to the images folder
(`a/b.jpg` -> `a/b`), not by position in the sorted list:
- stable when images are added or removed: every other image keeps its shard, so shards that
  start at different times (a job array queued for hours while a folder still grows) never
  label an image twice or miss one that both listings hold, and a re-run after adding images
  leaves every existing label in the shard that wrote it (skipped there);
- images that share one label file (`x.jpg` + `x.png` -> `x.txt`, engine.label_pairs) always
  fall in the same shard, so the first one owns the file exactly as in a full run.
sha256, not Python's `hash()`: that one is salted per process. Balance is statistical
(each shard gets n/N +- a few sqrt(n/N)), which is what job arrays need.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Sequence

from .errors import UsageError


@dataclass(frozen=True)
class Shard:
    index: int  # 0-based, as SLURM_ARRAY_TASK_ID (from 0) and JOB_COMPLETION_INDEX give it
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    @property
    def manifest_name(self) -> str:
        """This shard's run manifest beside the labels: one per shard, so that shards writing
        into one folder at the same time never overwrite each other's record."""
        from .manifest import shard_manifest_name

        return shard_manifest_name(self.index, self.count)


def parse_shard(text: str) -> Shard:
    """`3/8` -> Shard(3, 8); anything else is a UsageError saying what is expected."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text or "")
    if not m:
        raise UsageError(f"--shard {text!r}: expected I/N, e.g. --shard 0/4 (I counts from 0 to N-1)")
    index, count = int(m.group(1)), int(m.group(2))
    if count < 1 or index >= count:
        raise UsageError(f"--shard {text}: I must be 0 to N-1 and N at least 1, e.g. --shard 0/{max(count, 1)}")
    return Shard(index, count)


def shard_key(relative_image: PurePath | str) -> str:
    """The text the partition hashes: the label file's path without extension, '/'-separated
    on every OS (a job array may mix Windows and Linux workers over one share)."""
    rel = PurePath(relative_image)
    return rel.with_suffix("").as_posix()


def shard_of(relative_image: PurePath | str, count: int) -> int:
    digest = hashlib.sha256(shard_key(relative_image).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count


def select_shard(paths: Sequence[Path], images_root: Path, shard: Shard | None) -> list[Path]:
    """The images of `paths` (sorted order kept) that belong to `shard` (None: all of them)."""
    if shard is None or shard.count == 1:
        return list(paths)
    return [p for p in paths if shard_of(_relative(p, images_root), shard.count) == shard.index]


def _relative(path: Path, root: Path) -> PurePath:
    try:
        return PurePath(path).relative_to(root)
    except ValueError:  # one relative, one absolute, or via a symlink (engine.labels.label_path_for's rule)
        return Path(path).resolve().relative_to(Path(root).resolve())
