"""Bounded LRU of raw model output (`Candidates`) per (model id, image path).

Sliders re-run only the threshold step on these, never the model. Bounded both by entry
count and by bytes (4,096 entries: a 1,000-image folder scored for the threshold panel stays
cached, so an IoU change re-runs NMS, not the model; the byte bound wins for big models). Thread-safe: the UI thread fills it, the export in the worker reads it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from engine.candidates import Candidates

Key = tuple[int, str]


class CandidateCache:
    def __init__(self, max_entries: int = 4096, max_bytes: int = 256 * 1024 * 1024) -> None:
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._items: OrderedDict[Key, Candidates] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @staticmethod
    def key(model_id: int, path: Path | str) -> Key:
        return (model_id, str(path))

    def get(self, model_id: int, path: Path | str) -> Candidates | None:
        key = self.key(model_id, path)
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def __contains__(self, key: Key) -> bool:
        with self._lock:
            return key in self._items

    def put(self, model_id: int, path: Path | str, candidates: Candidates) -> None:
        key = self.key(model_id, path)
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            self._items[key] = candidates
            self._bytes += candidates.nbytes
            while self._items and (len(self._items) > self._max_entries or self._bytes > self._max_bytes):
                _, dropped = self._items.popitem(last=False)
                self._bytes -= dropped.nbytes

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def items_for_model(self, model_id: int) -> list[tuple[str, Candidates]]:
        with self._lock:
            return [(k[1], v) for k, v in self._items.items() if k[0] == model_id]

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    @property
    def nbytes(self) -> int:
        return self._bytes
