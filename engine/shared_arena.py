"""Memory shared with the model process, for the big arrays (engine/forward_process.py).

Pipes move ~1.3 GB/s on the reference machine: a 640x640 input (4.9 MB) and a YOLOv5 output
(8.6 MB) cost ~10 ms per image that way. Through shared memory they cost one memcpy each.

An `Arena` is an anonymous file (Linux ``memfd``, else an unlinked temporary file: see
`engine.forward_process.anonymous_fd`) that the window's process creates and hands to the
child at start (``pass_fds``), one per direction.
The writer grows it with ``ftruncate`` and says its size in the message; the reader maps that
size. Nothing has a name, so nothing is left behind when either process dies. Windows has no
fd passing: there the arrays stay in the pipe messages (`ForwardProcess` decides).
"""

from __future__ import annotations

import math
import mmap
import os
from typing import Sequence

import numpy as np

from .forward_protocol import DTYPES, ProtocolError

ALIGN = 64  # each array starts on a cache line


class Arena:
    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.size = 0
        self._map: mmap.mmap | None = None

    def write(self, arrays: Sequence[np.ndarray]) -> dict:
        """Copy `arrays` in (growing the file if needed); the spec the reader needs."""
        specs, offset = [], 0
        for a in arrays:
            if a.dtype.name not in DTYPES:
                raise ProtocolError(f"cannot share an array of dtype {a.dtype}")
            specs.append({"dtype": a.dtype.name, "shape": list(a.shape), "offset": offset})
            offset += -(-a.nbytes // ALIGN) * ALIGN
        if offset > self.size:
            # grow by half again, so a growing stream of sizes does not remap every time
            size = max(offset, self.size + self.size // 2, mmap.PAGESIZE)
            size = -(-size // mmap.PAGESIZE) * mmap.PAGESIZE
            os.ftruncate(self.fd, size)
            self._remap(size)
        for a, spec in zip(arrays, specs):
            if a.size:
                np.copyto(self._view(spec), a, casting="no")
        return {"size": self.size, "arrays": specs}

    def read(self, spec: dict, copy: bool) -> list[np.ndarray]:
        """The arrays described by `spec`: views into the arena (``copy=False``, valid until
        the next write) or copies."""
        try:
            size = int(spec["size"])
            if size != self.size:
                if size <= 0 or size > os.fstat(self.fd).st_size:
                    raise ProtocolError(f"arena of {size} bytes announced, file has {os.fstat(self.fd).st_size}")
                self._remap(size)
            out = []
            for item in spec["arrays"]:
                dtype, shape, offset = item["dtype"], tuple(int(n) for n in item["shape"]), int(item["offset"])
                if dtype not in DTYPES or any(n < 0 for n in shape) or offset < 0:
                    raise ProtocolError(f"bad array spec {item!r}")
                if offset + math.prod(shape) * np.dtype(dtype).itemsize > self.size:
                    raise ProtocolError(f"array {item!r} runs past the arena's {self.size} bytes")
                view = self._view(item)
                out.append(view.copy() if copy else view)
            return out
        except (KeyError, TypeError, ValueError) as exc:
            raise ProtocolError(f"malformed arena spec: {exc}") from None

    def _view(self, spec: dict) -> np.ndarray:
        shape = tuple(int(n) for n in spec["shape"])
        return np.ndarray(shape, np.dtype(spec["dtype"]), buffer=self._map, offset=int(spec["offset"]))

    def _remap(self, size: int) -> None:
        old, self._map = self._map, mmap.mmap(self.fd, size)
        self.size = size
        if old is not None:
            try:
                old.close()
            except BufferError:  # a view still uses it: the mapping goes when that view does
                pass

    def close(self) -> None:
        if self._map is not None:
            try:
                self._map.close()
            except BufferError:
                pass
            self._map = None
        try:
            os.close(self.fd)
        except OSError:
            pass
