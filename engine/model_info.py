"""`ModelInfo`: what ScriptLens knows about a loaded model, and where each fact came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

LAYOUTS = ("raw_anchor_heads", "anchor_based", "anchor_free", "end2end")
BACKEND_MODES = ("auto", "torchscript", "onnxruntime")  # how a model runs (engine.onnx_backend.choose_backend)
# What runs a loaded model (`ModelInfo.backend`), in a person's words (the window's Model box)
BACKEND_TEXT = {"torchscript": "TorchScript (torch)", "onnxruntime": "ONNX Runtime", "pt2": "torch.export (torch)"}

# What a person reads for each layout (the window's Model box): (short name, one-line explanation)
LAYOUT_TEXT = {
    "raw_anchor_heads": ("YOLOv5/v7-style anchors, raw heads",
                         "Three anchor-based output heads that ScriptLens decodes (YOLOv7's default export, "
                         "YOLOv5 v4/v5); score = objectness × class"),
    "anchor_based": ("YOLOv5/v7-style anchors",
                     "Decoded anchor-based output, one row per box: xywh, objectness, class scores "
                     "(YOLOv5 ≥ 6.2, YOLOv7 --grid); score = objectness × class"),
    "anchor_free": ("YOLOv8/11-style, anchor-free",
                    "One column per box: xywh and class scores (Ultralytics YOLOv8, YOLO11, YOLO26 without "
                    "NMS); score = the best class"),
    "end2end": ("End-to-end (NMS inside the model)",
                "The model returns final boxes: x1 y1 x2 y2 score class (YOLOv10, YOLO26 end2end, "
                "NMS-embedded exports); the IoU control has no effect"),
}


def precision_name(device: str, half: bool) -> str:
    """What a model computes in: fp32, or with ``half`` fp16 on a GPU and bf16 on the CPU
    (see `engine.backend.TorchScriptBackend.load`)."""
    if not half:
        return "fp32"
    return "bf16" if device.startswith("cpu") else "fp16"


@dataclass(frozen=True)
class ModelInfo:
    path: Path
    layout: str  # one of LAYOUTS
    input_hw: tuple[int, int]
    stride: int | None
    names: tuple[str, ...]
    anchors: tuple[tuple[float, ...], ...] | None  # pixels, one flat (w,h,...) tuple per level
    device: str
    half: bool  # reduced precision: see `precision`
    batch: int = 1
    score_is_obj: bool = False  # one-class YOLOv7 exports: score = obj (see decode.py)
    metadata: dict = field(default_factory=dict)
    sources: dict = field(default_factory=dict)  # field -> "metadata" | "sidecar <file>" | "default" | "user" | "output"
    output_shapes: tuple[tuple[int, ...], ...] = ()
    backend: str = "torchscript"  # what runs the model: "torchscript", "onnxruntime" or "pt2" (BACKEND_TEXT)
    backend_reason: str = ""  # why, in one line ("": TorchScript, nothing else was asked for)

    @property
    def precision(self) -> str:
        return precision_name(self.device, self.half)

    @property
    def backend_text(self) -> str:
        """The reason, and how the backend was opened when that is worth saying (a cached ONNX
        conversion: no torch): what `info`, the CLI's summary and the window show."""
        note = self.sources.get("backend")
        return f"{self.backend_reason}; {note}" if note and self.backend_reason else (self.backend_reason or note or "")

    @property
    def num_classes(self) -> int:
        return len(self.names)

    @property
    def end2end(self) -> bool:
        return self.layout == "end2end"

    def describe(self) -> list[tuple[str, str, str]]:
        """(field, value, source) rows for `scriptlens info` and the GUI's model panel."""
        h, w = self.input_hw
        rows = [
            ("file", str(self.path), ""),
            ("layout", self.layout, self.sources.get("layout", "output")),
            ("output", ", ".join("x".join(map(str, s)) for s in self.output_shapes), "output"),
            ("input size", f"{h}x{w} (HxW)", self.sources.get("input_hw", "")),
            ("batch", str(self.batch), self.sources.get("batch", "")),
            ("stride", str(self.stride) if self.stride else "-", self.sources.get("stride", "")),
            ("device", f"{self.device} ({self.precision})", ""),
            ("backend", self.backend, self.backend_text),
            ("classes", f"{self.num_classes}: " + ", ".join(self.names[:12]) + (" ..." if self.num_classes > 12 else ""),
             self.sources.get("names", "")),
        ]
        if self.anchors:
            rows.append(("anchors", "; ".join(",".join(f"{v:g}" for v in lvl) for lvl in self.anchors), self.sources.get("anchors", "")))
        if self.end2end:
            rows.append(("nms", "inside the model (IoU threshold has no effect)", "output"))
        return rows
