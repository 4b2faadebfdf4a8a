"""`scriptlens label`'s flags for running beyond one process: `--shard I/N` (job arrays, no
Ray needed) and `--ray ADDRESS --actors N` (a Ray cluster, cli.ray_label)."""

from __future__ import annotations

import argparse

from .common import positive_int


def add_scale_out_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--shard", default=None, metavar="I/N",
                   help="label only shard I of N (I from 0), for job arrays: N runs with 0/N ... N-1/N write "
                        "together exactly the files of one full run, each with its own manifest; images are "
                        "assigned by a hash of their path, so adding images moves no other image")
    p.add_argument("--ray", default=None, metavar="ADDRESS",
                   help="run on a Ray cluster (ADDRESS as ray.init takes it: auto = the cluster Ray finds, or "
                        "HOST:PORT / ray://HOST:PORT); needs the ray extra: pip install -e \".[ray]\"")
    p.add_argument("--actors", type=positive_int, default=None, metavar="N",
                   help="with --ray: model copies to run (one per actor, each loaded once; default: one per "
                        "GPU, else one per 2 CPUs of the cluster)")
