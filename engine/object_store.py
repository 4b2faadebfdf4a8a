"""`s3://bucket/prefix` for `label --images` / `--out`, through pyarrow.fs (what Ray Data reads
with; pyarrow comes with the ray extra). No Ray here: the read tasks of a Ray run
(engine.remote_stages via cli.ray_label) and the driver use it alike.

Inside the run an S3 image is named by pyarrow's path, `bucket/key` (a relative Path): every
path rule of a local run (label file = image path relative to the images root, `--shard`'s
hash, the shared-label-file rule) then holds unchanged. Where the object store is: the
endpoint from SCRIPTLENS_S3_ENDPOINT, else AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL (the AWS
tools' own variables; unset: AWS itself), read once by the driver and handed to the read tasks,
so every node reads the same store. Credentials are never passed around: each process finds its
own as every AWS client does (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, ~/.aws, an instance role).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from .errors import ImageReadError, UsageError
from .images import is_image_name, natural_key

SCHEME = "s3://"
ENDPOINT_VARS = ("SCRIPTLENS_S3_ENDPOINT", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
INSTALL_HINT = 's3:// paths need pyarrow, which the ray extra installs: pip install -e ".[ray]"'


def is_object_uri(text: str | os.PathLike | None) -> bool:
    return text is not None and str(text).lower().startswith(SCHEME)


def bucket_path(uri: str) -> str:
    """`s3://bucket/a/b/` -> `bucket/a/b` (pyarrow's name for it)."""
    path = str(uri)[len(SCHEME):].strip("/")
    if not path:
        raise UsageError(f"{uri}: name a bucket, e.g. s3://my-bucket/images")
    return path


@dataclass(frozen=True)
class S3Store:
    """Where the objects are (no credentials: see the module's docstring). Picklable: the Ray
    read tasks get it and open their own connection."""

    endpoint: str | None = None  # "http://127.0.0.1:9000"; None: AWS
    region: str | None = None

    @classmethod
    def from_env(cls) -> "S3Store":
        endpoint = next((os.environ[v] for v in ENDPOINT_VARS if os.environ.get(v)), None)
        return cls(endpoint, os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"))

    def filesystem(self):
        return _filesystem(self)

    def get(self, path: Path | str) -> bytes:
        """One object's bytes (OSError / FileNotFoundError as pyarrow raises them)."""
        with self.filesystem().open_input_stream(str(PurePosixPath(path))) as f:
            return f.read()

    def read_bytes(self, path: Path | str) -> bytes:
        """An image object's bytes; a failure is the ImageReadError a local file would raise."""
        try:
            return self.get(path)
        except FileNotFoundError:
            raise ImageReadError(f"{path}: cannot read image: the object does not exist") from None
        except OSError as exc:
            raise ImageReadError(f"{path}: cannot read image: {_first_line(exc)}") from None

    def list_files(self, base: str) -> list[tuple[str, int]]:
        """(path, size) of every object under `base` (recursive); [] when there is none."""
        pafs = _pyarrow_fs()
        try:
            infos = self.filesystem().get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True))
        except OSError as exc:
            raise UsageError(f"{SCHEME}{base}: cannot list the objects: {_first_line(exc)}") from None
        return [(i.path, i.size) for i in infos if i.type == pafs.FileType.File]

    def list_images(self, uri: str) -> tuple[Path, list[Path]]:
        """(root, images) as engine.images.list_images gives them for a folder: recursive,
        natural order, hidden names skipped. Empty list: no image there."""
        base = bucket_path(uri)
        found = []
        for path, _size in self.list_files(base):
            rel = PurePosixPath(path).relative_to(base)
            if is_image_name(rel.name) and not any(p.startswith(".") for p in rel.parts[:-1]):
                found.append((natural_key(rel), path))
        found.sort(key=lambda e: e[0])
        return Path(base), [Path(p) for _, p in found]

    def write_bytes(self, path: str, data: bytes) -> None:
        """One object, whole (a PUT: readers see the old object or the new one)."""
        with self.filesystem().open_output_stream(path) as f:
            f.write(data)

    def delete(self, path: str) -> None:
        self.filesystem().delete_file(path)


def _pyarrow_fs():
    try:
        import pyarrow.fs as pafs
    except ImportError:
        raise UsageError(INSTALL_HINT) from None
    return pafs


@lru_cache(maxsize=4)
def _filesystem(store: S3Store):
    pafs = _pyarrow_fs()
    kwargs = {"region": store.region or ("us-east-1" if store.endpoint else None)}
    if store.endpoint:
        parts = urlsplit(store.endpoint if "://" in store.endpoint else f"https://{store.endpoint}")
        kwargs.update(endpoint_override=parts.netloc, scheme=parts.scheme)
    return pafs.S3FileSystem(**{k: v for k, v in kwargs.items() if v is not None})


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
