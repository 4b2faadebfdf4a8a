"""`scriptlens label`'s scale-out glue: `--shard I/N` (engine.shard) and `--ray`
(cli.ray_label, imported only when --ray is given), kept out of cli.label_cmd."""

from __future__ import annotations

from pathlib import Path

from engine.errors import UsageError
from engine.shard import Shard, parse_shard, select_shard


def shard_paths(text: str | None, images_root: Path, paths: list[Path]) -> tuple[Shard | None, list[Path]]:
    """(the shard, its images in the full run's order); (None, paths) without --shard.
    A malformed --shard raises UsageError (exit 2) before anything is read or loaded."""
    if text is None:
        return None, paths
    shard = parse_shard(text)
    return shard, select_shard(paths, images_root, shard)


def check_scale_out(args) -> None:
    """--ray/--actors, before the model loads: Ray must be installed (else exit 2) and the
    cluster reachable (else exit 1), so that nothing waits on a model load to be refused."""
    if getattr(args, "actors", None) and not getattr(args, "ray", None):
        raise UsageError("--actors needs --ray ADDRESS (it sets how many model copies run on the cluster)")
    if getattr(args, "ray", None):
        from .ray_label import connect

        connect(args.ray)


def remote_predictions(args, det):
    """The cluster's prediction source for cli.label_items (None: this machine's)."""
    if not getattr(args, "ray", None):
        return None
    from .ray_label import RayPredictions

    return RayPredictions(det, args)


def manifest_with(manifest: dict, shard: Shard | None, remote) -> dict:
    """The manifest plus which shard this run is and how it was distributed (both optional)."""
    if shard is not None:
        manifest = {**manifest, "shard": str(shard)}
    if remote is not None:
        manifest = {**manifest, "distributed": remote.described()}
    return manifest
