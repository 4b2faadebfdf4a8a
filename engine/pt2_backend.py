"""`torch.export` programs (``.pt2``, written by ``torch.export.save``): TorchScript's successor.

Loading one with ``torch.export.load`` deserialises weights with torch's loader, which for some
archives involves pickled data: a ``.pt2`` is trusted exactly like a TorchScript file (README,
"What ScriptLens does not protect against"). Metadata: the archive's ``extra/config.txt``
(``torch.export.save(..., extra_files={"config.txt": json})``), or the usual sidecars.

An exported program runs as it was exported (``eval()`` cannot be called on it: export it from
a model in eval mode), at the input shapes its guards allow: a wrong size fails the warm-up
with a "Guard failed" line, which the loader reports like any other size mismatch.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from .backend import TorchScriptBackend, reduced_dtype, resolve_device
from .errors import ModelLoadError
from .run_errors import first_line


class ExportedProgramBackend(TorchScriptBackend):
    """`TorchScriptBackend`'s forward (NHWC on the CPU, thread count, reduced precision) on the
    module of a `torch.export` program."""

    kind = "pt2"

    @classmethod
    def load(cls, path: Path, device: str = "auto", half: bool = False) -> "ExportedProgramBackend":
        device = resolve_device(device)
        if half and device == "cpu":
            half = False  # bfloat16 on the CPU is TorchScript's job here: exported graphs keep their dtypes
        extra = {"config.txt": ""}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                program = torch.export.load(str(path), extra_files=extra)
                module = program.module()
                module.to(device)
                if half:
                    module.to(reduced_dtype(device))
        except Exception as exc:
            raise ModelLoadError(f"{path}: torch could not load this torch.export program: {first_line(exc)}") from None
        config = extra["config.txt"]
        if isinstance(config, bytes):
            config = config.decode("utf-8", errors="replace")
        return cls(module, device, bool(half), config or "")
