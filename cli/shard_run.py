"""`scriptlens label --shard I/N`: this run's share of the images (engine.shard)."""

from __future__ import annotations

from pathlib import Path

from engine.shard import Shard, parse_shard, select_shard


def shard_paths(text: str | None, images_root: Path, paths: list[Path]) -> tuple[Shard | None, list[Path]]:
    """(the shard, its images in the full run's order); (None, paths) without --shard.
    A malformed --shard raises UsageError (exit 2) before anything is read or loaded."""
    if text is None:
        return None, paths
    shard = parse_shard(text)
    return shard, select_shard(paths, images_root, shard)
