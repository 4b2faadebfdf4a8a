"""`OnnxRuntimeBackend`: `engine.backend.TorchScriptBackend`'s interface on an ONNX Runtime CPU
session (float32). Imports onnxruntime only when a session is made."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from .cpu_features import forward_threads
from .model_info import precision_name
from .onnx_verify import ConversionError, Structure, count_leaves, flatten_ort_outputs, rebuild, shape_text


def _make_session(source: Path | bytes, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = max(0, int(threads))  # 0: onnxruntime's default (physical cores)
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 4  # fatal only: a failed run raises with the same text
    model = source if isinstance(source, bytes) else str(source)
    return ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])


def default_threads() -> int:
    """The engine's one intra-op thread count for CPU forwards (`engine.cpu_features.forward_threads`:
    all cores up to 4), which the TorchScript backend uses too. (ONNX Runtime's float32 outputs
    were bit-identical with 1, 2, 3 and 4 threads on the demo model; TorchScript's are not.)"""
    return forward_threads()


class OnnxRuntimeBackend:
    """`engine.backend.TorchScriptBackend`'s interface on an ONNX Runtime CPU session (float32).

    ``source``: the .onnx file, or its bytes (when the cache could not be written).
    ``structure``: the TorchScript module's output structure (`flatten_output`); None returns
    one array for one output and a list for several. ``input_shape``: the static (B, 3, H, W)."""

    kind = "onnxruntime"

    def __init__(self, source: Path | bytes, *, config_text: str = "", structure: Structure | None = None,
                 threads: int | None = None) -> None:
        self.source = source
        self.onnx_path = None if isinstance(source, bytes) else Path(source)
        self.config_text = config_text
        self.structure = structure
        self.device = "cpu"
        self.half = False
        self.channels_last = False  # NCHW, always: the graph is exported for it
        # 1 and `threads` intra-op threads give the same bits (engine.onnx_backend.thread_invariant);
        # False until measured
        self.thread_invariant = False
        self.threads = default_threads() if threads is None else int(threads)
        self._sessions: dict[int, Any] = {}
        self._session = self._session_for(self.threads)
        inp = self._session.get_inputs()
        if len(inp) != 1:
            raise ConversionError(f"the ONNX model takes {len(inp)} inputs; ScriptLens feeds one image batch")
        self.input_name = inp[0].name
        self.input_shape = tuple(d if isinstance(d, int) and d > 0 else -1 for d in inp[0].shape)
        # an fp16 export (Ultralytics half=True) takes float16 input; everything else float32
        self.input_dtype = np.float16 if inp[0].type == "tensor(float16)" else np.float32
        if structure is not None:
            n = len(self._session.get_outputs())
            if n > count_leaves(structure):
                raise ConversionError(f"the ONNX model has {n} outputs; the TorchScript module returns {count_leaves(structure)} tensors")

    @classmethod
    def load(cls, path: Path | str, *, config_text: str = "", structure: Structure | None = None,
             threads: int | None = None) -> "OnnxRuntimeBackend":
        return cls(Path(path), config_text=config_text, structure=structure, threads=threads)

    @property
    def precision(self) -> str:
        return precision_name(self.device, self.half)

    @property
    def static_input_hw(self) -> tuple[int, int] | None:
        """(H, W) when the graph fixes them (a static export), else None (dynamic axes)."""
        if len(self.input_shape) == 4 and self.input_shape[2] > 0 and self.input_shape[3] > 0:
            return (self.input_shape[2], self.input_shape[3])
        return None

    @property
    def static_batch(self) -> int | None:
        return self.input_shape[0] if self.input_shape and self.input_shape[0] > 0 else None

    def metadata_props(self) -> dict[str, str]:
        """The ONNX file's ``metadata_props`` (exporters' names, imgsz, stride...)."""
        try:
            return dict(self._session.get_modelmeta().custom_metadata_map or {})
        except Exception:  # an old onnxruntime without it: no metadata
            return {}

    def _session_for(self, threads: int):
        session = self._sessions.get(threads)
        if session is None:
            session = self._sessions[threads] = _make_session(self.source, threads)
        return session

    @contextmanager
    def intra_op_threads(self, n: int) -> Iterator[None]:
        """Run with `n` intra-op threads inside the block (a second session, made once per
        count; the block's concurrent ``forward`` calls each run on their caller's thread when
        n == 1). Process-wide state is untouched, unlike torch's."""
        before = self._session
        self._session = self._session_for(max(1, int(n)))
        try:
            yield
        finally:
            self._session = before

    def forward_flat(self, batch: Any) -> list[np.ndarray]:
        """All output tensors, flattened in order."""
        if hasattr(batch, "detach"):  # a torch tensor
            batch = batch.detach().cpu().numpy()
        x = np.ascontiguousarray(batch, dtype=self.input_dtype)
        expected = self.input_shape
        if x.ndim != len(expected) or any(e not in (-1, g) for e, g in zip(expected, x.shape)):
            want = "x".join("?" if e == -1 else str(e) for e in expected)
            raise ValueError(f"input shape {shape_text(x)} does not match the {want} input this ONNX conversion was made for")
        return flatten_ort_outputs(self._session.run(None, {self.input_name: x}))

    def forward(self, batch: Any) -> Any:
        """Run the model on a (B, 3, H, W) float32 RGB batch in [0, 1] (numpy or a CPU tensor);
        numpy outputs in the TorchScript module's structure."""
        leaves = self.forward_flat(batch)
        if self.structure is None:
            return leaves[0] if len(leaves) == 1 else leaves
        return rebuild(leaves, self.structure)


# ----------------------------------------------------------------------- conversion
