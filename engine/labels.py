"""YOLO label files: pure text functions, plus a thin, atomic file layer.

Line format: ``class cx cy w h`` normalised by the ORIGINAL image size, 6 decimals, with an
optional 6th ``conf`` column. An image without detections gets an empty file: that is how
YOLO datasets mark negatives. Files are written to a temp file in the same folder and renamed
over the target, so a crash or a cancel leaves either the old file or the new one, never half
of one. Existing labels are never overwritten silently: skip, overwrite or back up.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from enum import Enum
from pathlib import Path
from typing import Sequence

import numpy as np

from .detections import Detections
from .errors import LabelWriteError


class OnExisting(str, Enum):
    SKIP = "skip"
    OVERWRITE = "overwrite"
    BACKUP = "backup"


# ---------------------------------------------------------------- text <-> detections

def format_yolo(det: Detections, image_wh: tuple[int, int], save_conf: bool = False) -> str:
    w, h = image_wh
    if len(det) == 0:
        return ""
    xyxy = det.xyxy.astype(np.float64)
    cx = (xyxy[:, 0] + xyxy[:, 2]) / 2 / w
    cy = (xyxy[:, 1] + xyxy[:, 3]) / 2 / h
    bw = (xyxy[:, 2] - xyxy[:, 0]) / w
    bh = (xyxy[:, 3] - xyxy[:, 1]) / h
    cols = np.clip(np.stack([cx, cy, bw, bh], axis=1), 0.0, 1.0)
    lines = []
    for i, c in enumerate(det.class_id):
        line = f"{int(c)} {cols[i, 0]:.6f} {cols[i, 1]:.6f} {cols[i, 2]:.6f} {cols[i, 3]:.6f}"
        if save_conf:
            line += f" {float(det.confidence[i]):.6f}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def parse_yolo(text: str, image_wh: tuple[int, int], source: str = "label") -> Detections:
    """Parse YOLO lines (5 or 6 columns) into original-pixel `Detections` (conf 1.0 if absent).

    Blank lines are skipped; anything else malformed raises ValueError naming the line.
    """
    w, h = image_wh
    rows, confs = [], []
    for n, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) not in (5, 6):
            raise ValueError(f"{source}:{n}: expected 'class cx cy w h [conf]', got {line.strip()!r}")
        try:
            cls = int(parts[0])
            vals = [float(v) for v in parts[1:]]
        except ValueError:
            raise ValueError(f"{source}:{n}: not numbers: {line.strip()!r}") from None
        if cls < 0 or not all(np.isfinite(vals)):
            raise ValueError(f"{source}:{n}: invalid values: {line.strip()!r}")
        rows.append([cls, *vals[:4]])
        confs.append(vals[4] if len(vals) == 5 else 1.0)
    if not rows:
        return Detections.empty()
    a = np.asarray(rows, np.float64)
    cx, cy, bw, bh = a[:, 1] * w, a[:, 2] * h, a[:, 3] * w, a[:, 4] * h
    xyxy = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)
    return Detections(xyxy, np.asarray(confs), a[:, 0].astype(np.int64))


# ---------------------------------------------------------------- paths

def label_path_for(image_path: Path, images_root: Path, out_root: Path) -> Path:
    """labels mirror the image tree: images_root/a/b.jpg -> out_root/a/b.txt."""
    try:
        rel = Path(image_path).relative_to(images_root)
    except ValueError:  # one path relative, the other absolute, or via a symlink
        rel = Path(image_path).resolve().relative_to(Path(images_root).resolve())
    return Path(out_root) / rel.with_suffix(".txt")


def default_labels_dir(images_root: Path) -> Path:
    """`labels/` beside a folder named `images` (the YOLO convention), else `<folder>/labels`."""
    root = Path(images_root)
    if root.name.lower() == "images":
        return root.parent / "labels"
    return root / "labels"


# ---------------------------------------------------------------- atomic writing

# mkstemp creates its file with mode 0600, and the rename kept it: every label file ended up
# readable by its owner only (a training job or a colleague under another user could not read
# the dataset). Give the new file the mode a plain open() would: the old file's, else
# 0666 & ~umask. The umask can only be read by setting it, so read it once, at import.
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def _file_mode(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        return 0o666 & ~_UMASK


# write_text_atomic's temp files: ".<target name>.scriptlens-<8 random chars>.tmp". A process
# killed between mkstemp and the rename (SIGKILL, power loss) leaves one behind. It is a hidden
# file ending in .tmp, so YOLO loaders (which look for <stem>.txt) never read it, but they pile
# up; `remove_stale_temps` deletes this pattern only -- the "scriptlens-" tag keeps it off other
# programs' ".x.txt.abc123.tmp" files -- and only when old enough that no live writer (ours
# takes milliseconds) can still be about to rename it.
_TEMP_TAG = "scriptlens-"
_TEMP_NAME = re.compile(r"^\..+\." + _TEMP_TAG + r"[a-z0-9_]{8}\.tmp$")


def is_writer_temp(name: str) -> bool:
    """A temp file name of `write_text_atomic` (never a result: a copy of the folder skips it)."""
    return bool(_TEMP_NAME.match(name))


def write_text_atomic(path: Path, text: str) -> None:
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{_TEMP_TAG}", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise LabelWriteError(f"{path.parent}: cannot write labels here: {exc.strerror or exc}") from None
    try:
        try:
            os.chmod(tmp, _file_mode(path))
        except OSError:
            pass  # best effort (e.g. filesystems without permissions)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise LabelWriteError(f"{path}: cannot write label file: {exc.strerror or exc}") from None


def remove_stale_temps(out_root: Path, min_age_s: float = 60.0) -> int:
    """Delete leftover temp files of `write_text_atomic` under `out_root`; return how many."""
    root = Path(out_root)
    if not root.is_dir():
        return 0
    now, removed = time.time(), 0
    for dirpath, _dirs, files in os.walk(root, followlinks=False):
        for name in files:
            if not _TEMP_NAME.match(name):
                continue
            p = Path(dirpath, name)
            try:
                if p.is_symlink() or not p.is_file() or now - p.stat().st_mtime < min_age_s:
                    continue
                p.unlink()
                removed += 1
            except OSError:
                pass  # best effort: a read-only folder or a race with another cleaner
    return removed


def next_backup_path(path: Path) -> Path:
    """`x.txt.bak`, then `x.txt.bak1`, `x.txt.bak2`...: never an existing backup."""
    candidate = path.with_name(path.name + ".bak")
    n = 1
    while candidate.exists():
        candidate = path.with_name(f"{path.name}.bak{n}")
        n += 1
    return candidate


def write_label(path: Path, text: str, on_existing: OnExisting | str = OnExisting.SKIP) -> str:
    """Write one label file under the on-existing policy; return 'written', 'skipped',
    'unchanged' or 'backed_up'."""
    path = Path(path)
    policy = OnExisting(on_existing)
    if path.exists():
        if policy is OnExisting.SKIP:
            return "skipped"
        try:
            if path.read_text(encoding="utf-8") == text:
                return "unchanged"  # re-running an export changes nothing and makes no backups
        except (OSError, UnicodeDecodeError):
            pass
        if policy is OnExisting.BACKUP:
            backup = next_backup_path(path)
            try:
                os.link(path, backup)  # a hard link keeps the old content even after the replace
            except OSError:
                try:
                    backup.write_bytes(path.read_bytes())
                except OSError as exc:
                    raise LabelWriteError(f"{path}: cannot back up the existing label: {exc.strerror or exc}") from None
            write_text_atomic(path, text)
            return "backed_up"
    write_text_atomic(path, text)
    return "written"


def write_classes_txt(out_dir: Path, names: Sequence[str], on_existing: OnExisting | str = OnExisting.BACKUP) -> str:
    """classes.txt, one name per line. A different existing list is backed up, never lost."""
    return write_label(Path(out_dir) / "classes.txt", "".join(f"{n}\n" for n in names),
                       OnExisting.BACKUP if OnExisting(on_existing) is OnExisting.SKIP else on_existing)

