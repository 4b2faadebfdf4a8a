"""Lists a folder's images off the UI thread, so a 100,000-image folder never freezes the
window. One background thread per scan; results carry the scan id and stale ones are dropped
by the window."""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from engine.images import list_images

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScanResult:
    scan_id: int
    folder: Path
    select: Path | None
    paths: list[Path]
    names: list[str]  # posix paths relative to the folder, for display
    error: str = ""


def scan(folder: Path) -> tuple[list[Path], list[str]]:
    paths = list_images(folder)
    prefix = len(str(folder).rstrip(os.sep)) + 1
    names = [str(p)[prefix:].replace(os.sep, "/") for p in paths]
    return paths, names


class FolderScanner(QObject):
    finished = Signal(object)  # ScanResult (emitted from the scan thread, delivered queued)

    def start(self, scan_id: int, folder: Path, select: Path | None = None) -> None:
        threading.Thread(target=self._run, args=(scan_id, folder, select), daemon=True,
                         name=f"scan-{scan_id}").start()

    def scan_now(self, scan_id: int, folder: Path, select: Path | None = None) -> ScanResult:
        return self._scan(scan_id, folder, select)

    def _scan(self, scan_id: int, folder: Path, select: Path | None) -> ScanResult:
        t0 = time.perf_counter()
        try:
            paths, names = scan(folder)
        except OSError as exc:
            return ScanResult(scan_id, folder, select, [], [], f"Cannot open folder {folder}: {exc}")
        log.info("listed %d images in %s in %.0f ms", len(paths), folder, (time.perf_counter() - t0) * 1e3)
        return ScanResult(scan_id, folder, select, paths, names)

    def _run(self, scan_id: int, folder: Path, select: Path | None) -> None:
        self.finished.emit(self._scan(scan_id, folder, select))
