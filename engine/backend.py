"""Model backends: the only place that touches torch's model-loading API.

`TorchScriptBackend` wraps ``torch.jit.load``. Decode, NMS and the GUI only see
``forward(batch) -> raw output`` and ``config_text``, so an ExportedProgram (.pt2) or ONNX
backend can be added later without touching them.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .cpu_features import forward_threads, has_bf16_units
from .errors import ModelLoadError
from .model_info import precision_name

log = logging.getLogger(__name__)

NO_TORCHSCRIPT_HELP = ("install a tested torch (pip install 'torch>=2.13,<2.15'), or open the model's ONNX export (.onnx) "
                       "or torch.export program (.pt2) instead; a model opened once with --backend auto keeps running "
                       "from its cached ONNX conversion, which needs no TorchScript")


def resolve_device(device: str) -> str:
    device = (device or "auto").lower()
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ModelLoadError(
                f"device '{device}' was requested but this torch build ({torch.__version__}) sees no CUDA GPU; "
                "use --device cpu, or install a CUDA build of torch"
            )
        return device
    if device != "cpu":
        raise ModelLoadError(f"unknown device '{device}': use cpu, cuda, cuda:N or auto")
    return device


def reduced_dtype(device: str) -> torch.dtype:
    return torch.bfloat16 if device.startswith("cpu") else torch.float16


class TorchScriptBackend:
    kind = "torchscript"  # engine.onnx_backend.OnnxRuntimeBackend.kind is "onnxruntime"

    def __init__(self, module: Any, device: str, half: bool, config_text: str) -> None:
        self.module = module
        self.device = device
        self.half = half  # reduced precision: see `precision`
        self.config_text = config_text
        # NHWC ("channels_last") input on the CPU: oneDNN then runs every convolution in its
        # faster NHWC kernels (measured here: the demo model 18-21 -> 11-13 ms, the Ultralytics
        # YOLOv8n fixture 30 -> 23 ms, outputs equal to float rounding). None = not yet known
        # to work for this model: a graph that reshapes across the channel axis (a flatten,
        # say) cannot take NHWC, and then the model keeps plain NCHW input (`forward`). CUDA
        # keeps NCHW: not measured on a GPU.
        self.channels_last: bool | None = None if device == "cpu" else False

    @property
    def precision(self) -> str:
        return precision_name(self.device, self.half)

    @classmethod
    def load(cls, path: Path, device: str = "auto", half: bool = False) -> "TorchScriptBackend":
        """``half`` asks for reduced precision where it is faster: the module and its input
        cast to float16 on CUDA, to bfloat16 on a CPU with bfloat16 units (`engine.cpu_features`;
        bfloat16 keeps float32's range, so no overflow, but only ~3 significant digits). On
        other CPUs the request is logged and refused, since there it would only be slower.
        Not autocast: it leaves the ``aten::_convolution`` of traced models in float32."""
        device = resolve_device(device)
        if half and device == "cpu" and not has_bf16_units():
            log.warning("reduced precision (--half) needs a GPU, or a CPU with AVX-512 BF16 or AMX; "
                        "this CPU has neither, so the model runs in float32")
            half = False
        half = bool(half)
        extra = {"config.txt": ""}
        try:
            with warnings.catch_warnings():
                # torch >= 2.13 warns that TorchScript is deprecated: expected here, silenced here only.
                warnings.filterwarnings("ignore", message=r".*torch\.jit\.load.*deprecated.*")
                warnings.filterwarnings("ignore", message=r"(?i).*torchscript.*deprecated.*")
                module = torch.jit.load(str(path), map_location=device, _extra_files=extra)
        except (AttributeError, NotImplementedError) as exc:
            raise ModelLoadError(
                f"{path}: this torch ({torch.__version__}) cannot load TorchScript ({exc}): {NO_TORCHSCRIPT_HELP}"
            ) from None
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if "deprecat" in first.lower() or "removed" in first.lower():
                raise ModelLoadError(
                    f"{path}: this torch ({torch.__version__}) no longer loads TorchScript: {NO_TORCHSCRIPT_HELP}"
                ) from None
            if "cuda" in first.lower():
                raise ModelLoadError(
                    f"{path}: the model was saved for CUDA and cannot be loaded on '{device}': use --device cuda on a GPU machine, "
                    f"or export it again on the CPU (torch said: {first})"
                ) from None
            raise ModelLoadError(f"{path}: torch could not load this TorchScript file: {first}") from None
        module.eval()
        if half:
            module.to(reduced_dtype(device))
        config = extra["config.txt"]
        if isinstance(config, bytes):
            config = config.decode("utf-8", errors="replace")
        return cls(module, device, half, config)

    @contextmanager
    def intra_op_threads(self, n: int):
        """Temporarily set torch's (process-wide) intra-op thread count."""
        before = torch.get_num_threads()
        torch.set_num_threads(max(1, n))
        try:
            yield
        finally:
            torch.set_num_threads(before)

    def forward(self, batch: np.ndarray) -> Any:
        """Run the model on a (B, 3, H, W) float32 RGB batch in [0, 1]."""
        x = torch.from_numpy(batch).to(self.device)
        on_cpu = self.device.startswith("cpu")
        if on_cpu and torch.get_num_threads() != forward_threads():
            torch.set_num_threads(forward_threads())  # the same bits in every process and path
        if self.half:  # decode.to_numpy turns the outputs back into float32
            x = x.to(reduced_dtype(self.device))
        # On the CPU, TorchScript's profiling optimiser fuses nothing that matters for these
        # models (steady state measured equal) but makes the first two calls ~10x slower (~300
        # ms on the demo): off there, so the first detections come sooner. On CUDA it can fuse.
        with torch.inference_mode(), torch.jit.optimized_execution(not on_cpu):
            if self.channels_last is False:
                return self.module(x)
            try:
                out = self.module(x.contiguous(memory_format=torch.channels_last))
            except Exception:  # RuntimeError, or torch.jit.Error from a scripted model's own check
                if self.channels_last:  # NHWC has worked for this model: a genuine error
                    raise
                out = self.module(x)  # a genuine error raises here too, with the usual message
                log.info("model rejects NHWC input; using NCHW")
                self.channels_last = False
                return out
            self.channels_last = True
            return out
