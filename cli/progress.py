"""A tqdm progress bar on a terminal, nothing when output is piped (logs stay clean)."""

from __future__ import annotations

import sys

from tqdm import tqdm


def progress_bar(total: int):
    return tqdm(total=total, unit="img", dynamic_ncols=True, disable=not sys.stderr.isatty(), file=sys.stderr)
