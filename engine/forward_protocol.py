"""How the window's process and the model's process talk: framed messages over two pipes.

A message is a JSON header plus zero or more numpy arrays sent as raw bytes:

    <u32 header length> <header JSON> <array 0 bytes> <array 1 bytes> ...

with ``header["arrays"] = [{"dtype": "float32", "shape": [1, 3, 320, 320]}, ...]``. Nothing is
pickled: both ends only ever build arrays of the listed plain dtypes from bytes, so a model
process that misbehaves can at worst send wrong numbers, never code.
"""

from __future__ import annotations

import json
import math
import struct
from typing import BinaryIO, Sequence

import numpy as np

# Plain numeric dtypes only (no object arrays, no structured dtypes).
DTYPES = frozenset({"float16", "float32", "float64", "uint8", "int8", "int32", "int64", "bool"})
MAX_HEADER = 1 << 24  # a header is a few hundred bytes; anything bigger is a broken stream
MAX_ARRAY = 1 << 34  # 16 GiB: a model output beyond that is a broken stream, not an allocation to try
_LEN = struct.Struct("<I")


class ProtocolError(Exception):
    """The other side sent something that is not a message of this protocol."""


def write_message(stream: BinaryIO, header: dict, arrays: Sequence[np.ndarray] = ()) -> None:
    arrays = [np.ascontiguousarray(a) for a in arrays]
    for a in arrays:
        if a.dtype.name not in DTYPES:
            raise ProtocolError(f"cannot send an array of dtype {a.dtype}")
    full = dict(header, arrays=[{"dtype": a.dtype.name, "shape": list(a.shape)} for a in arrays])
    body = json.dumps(full).encode("utf-8")
    stream.write(_LEN.pack(len(body)) + body)
    for a in arrays:
        stream.write(memoryview(a).cast("B") if a.size else b"")
    stream.flush()


def read_message(stream: BinaryIO) -> tuple[dict, list[np.ndarray]] | None:
    """The next message, or None when the other side closed the stream between messages."""
    head = _read_exact(stream, _LEN.size, allow_eof=True)
    if head is None:
        return None
    (length,) = _LEN.unpack(head)
    if length > MAX_HEADER:
        raise ProtocolError(f"message header of {length} bytes")
    try:
        header = json.loads(_read_exact(stream, length).decode("utf-8"))
        specs = header.pop("arrays", [])
        arrays = []
        for spec in specs:
            dtype, shape = spec["dtype"], tuple(int(n) for n in spec["shape"])
            if dtype not in DTYPES or any(n < 0 for n in shape) or math.prod(shape) * np.dtype(dtype).itemsize > MAX_ARRAY:
                raise ProtocolError(f"bad array spec {spec!r}")
            out = np.empty(shape, dtype)
            if out.size:
                _read_exact_into(stream, memoryview(out).cast("B"))
            arrays.append(out)
    except (ValueError, KeyError, TypeError) as exc:
        raise ProtocolError(f"malformed message: {exc}") from None
    return header, arrays


def _read_exact(stream: BinaryIO, n: int, allow_eof: bool = False) -> bytes | None:
    buf = bytearray(n)
    got = _read_exact_into(stream, memoryview(buf), allow_eof)
    return None if got == 0 and allow_eof else bytes(buf)


def _read_exact_into(stream: BinaryIO, view: memoryview, allow_eof: bool = False) -> int:
    got = 0
    while got < len(view):
        n = stream.readinto(view[got:])
        if not n:
            if got == 0 and allow_eof:
                return 0
            raise EOFError(f"stream ended after {got} of {len(view)} bytes")
        got += n
    return got
