"""`scriptlens label --images s3://...` / `--out s3://...` (engine.object_store), kept out of
cli.label_cmd.

--images s3://: the image keys are listed here; the bytes are read by the Ray read tasks (so
it needs --ray: on one machine the model reads local files).

--out s3://: the one writer (engine.export, engine.label_guard) runs unchanged on a local
staging copy of the prefix, and every file it changes goes up as one object (a PUT is whole:
no half label file, as the local writer's rename): each label file as soon as the writer is
done with it, classes.txt, data.yaml and the manifest at the start and the end. Why a copy:
skipping existing labels, `unchanged`, `.bak` backups and the label guard (whose labels are
these? engine.label_guard) then behave exactly as on a local folder -- the same code decides,
on the objects that are there. The cost: the driver first downloads the objects under the
prefix (label files are ~1 KB). It works with or without --ray (the driver writes either way).
"""

from __future__ import annotations

import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import Callable, Iterable, Iterator

from engine.errors import LabelWriteError, UsageError
from engine.labels import is_writer_temp
from engine.object_store import SCHEME, S3Store, bucket_path, is_object_uri

from .common import InputNotFound

PARALLEL = 16  # objects in flight at once: S3 latency, not bandwidth, is the cost of small objects


def object_images(args) -> tuple[Path, list[Path]] | None:
    """--images s3://...: (root, images), named bucket/key (engine.object_store); None for a
    local --images. Sets args.images_store for the Ray read tasks."""
    if not is_object_uri(args.images):
        return None
    if not getattr(args, "ray", None):
        raise UsageError(f"--images {args.images}: images in object storage are read by a Ray cluster; add --ray "
                         "ADDRESS (or copy them to a local folder)")
    store = S3Store.from_env()
    root, images = store.list_images(args.images)
    if not images:
        raise InputNotFound(f"no images under {args.images}")
    args.images_store = store
    return root, images


class StagedOut:
    """--out s3://bucket/prefix as a local folder for the writer, and back (see the module)."""

    def __init__(self, uri: str, store: S3Store | None = None) -> None:
        self.uri, self.base = uri.rstrip("/"), bucket_path(uri)
        self.store = store or S3Store.from_env()
        self.local = Path(tempfile.mkdtemp(prefix="scriptlens-out-"))
        self.remote: dict[str, bytes] = {}  # relative path -> the object's bytes as last seen / sent

    def pull(self) -> "StagedOut":
        """Copy the objects under the prefix into the staging folder."""
        listed = [p for p, _ in self.store.list_files(self.base)]

        def fetch(path: str) -> None:
            rel = PurePosixPath(path).relative_to(self.base).as_posix()
            data = self.store.get(path)
            dst = self.local / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(data)
            self.remote[rel] = data

        with ThreadPoolExecutor(PARALLEL) as pool:
            list(pool.map(fetch, listed))
        return self

    def _rel(self, path: Path) -> str:
        return path.relative_to(self.local).as_posix()

    def _push(self, rel: str) -> None:
        """Send one file if it differs from its object; remove the object of a file the run
        created and then removed again (a run that wrote no label keeps no classes.txt)."""
        try:
            self._send(rel)
        except OSError as exc:  # pyarrow's S3 errors are OSErrors
            raise LabelWriteError(f"{self.uri}/{rel}: cannot write the object: {str(exc).strip().splitlines()[0]}; "
                                  "the objects written so far are complete, run the same command again") from None

    def _send(self, rel: str) -> None:
        path = self.local / rel
        if path.is_file():
            data = path.read_bytes()
            if self.remote.get(rel) != data:
                self.store.write_bytes(f"{self.base}/{rel}", data)
                self.remote[rel] = data
        elif rel in self.remote:
            self.store.delete(f"{self.base}/{rel}")
            del self.remote[rel]

    def push_file(self, path: Path) -> None:
        """One label file, after any backup of it (`x.txt.bak*`) so the old labels are kept first."""
        for bak in sorted(path.parent.glob(path.name + ".bak*")):
            self._push(self._rel(bak))
        self._push(self._rel(path))

    def push_all(self) -> None:
        """Everything the run changed (the writer's temp files never go up)."""
        changed = {self._rel(p) for p in self.local.rglob("*") if p.is_file() and not is_writer_temp(p.name)}
        changed |= set(self.remote)  # a file removed locally: its object goes too (_push)
        with ThreadPoolExecutor(PARALLEL) as pool:
            list(pool.map(self._push, sorted(changed)))

    def uploading(self, items: Iterable, label_file_of: Callable[[Path], Path]) -> Iterator:
        """`items` for engine.export.export_labels, sending each label file as the writer moves
        on to the next image (it writes an item before it pulls the next one); the dataset
        files and the incomplete manifest, written before the first image, go up first."""
        previous = None
        for n, item in enumerate(items):
            if n == 0:
                self.push_all()
            if previous is not None:
                self.push_file(previous)
            previous = label_file_of(Path(item[0]))
            yield item
        if previous is not None:
            self.push_file(previous)

    def close(self) -> None:
        shutil.rmtree(self.local, ignore_errors=True)


def staged_out(args) -> StagedOut | None:
    """--out s3://...: its staging copy, pulled (None: a local --out)."""
    if not is_object_uri(args.out):
        return None
    try:
        return StagedOut(args.out).pull()
    except UsageError:
        raise
    except OSError as exc:
        raise UsageError(f"--out {args.out}: cannot read the objects there: {str(exc).splitlines()[0]}") from None


def display_root(args, images_root: Path) -> str:
    """The images root as the manifest records it: the URI for s3://, else the folder."""
    return f"{SCHEME}{images_root.as_posix()}" if is_object_uri(args.images) else str(images_root)
