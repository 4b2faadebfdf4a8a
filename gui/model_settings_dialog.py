"""Model settings the metadata may lack: input size, class names (typed or from a names
file), anchors, device, reduced precision. Returns a frozen `ModelOverrides`; the window reloads the model."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel,
    QLineEdit, QMessageBox, QPlainTextEdit, QPushButton, QSpinBox, QVBoxLayout,
)

from engine.metadata import read_names_file  # the CLI's --names reader: one way to read a names file

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelOverrides:
    imgsz: tuple[int, int] | None = None
    names: tuple[str, ...] | None = None
    anchors: tuple[tuple[float, ...], ...] | None = None
    device: str = "auto"
    half: bool = False  # fp16 on a GPU, bf16 on a CPU with bfloat16 units (engine.backend)
    backend: str = "auto"  # engine.model_info.BACKEND_MODES: what runs a TorchScript model


# The "Runs on" choices: (mode, what a person reads, tooltip)
BACKEND_CHOICES = (
    ("auto", "Automatic (ONNX Runtime when verified)",
     "Converts a TorchScript model to ONNX once (cached) and runs it with ONNX Runtime, usually faster, "
     "when its outputs match TorchScript's; otherwise TorchScript. The Model box says which, and why."),
    ("torchscript", "TorchScript (torch)", "Runs the file as it is, with PyTorch."),
    ("onnxruntime", "ONNX Runtime, even if not verified",
     "Uses the ONNX conversion whenever it runs, even when its outputs differ from TorchScript's (the Model box says so)."),
)


def parse_anchors(text: str) -> tuple[tuple[float, ...], ...] | None:
    """'10,13, 16,30, 33,23; 30,61, ...' -> one flat (w, h, ...) tuple per level (';' or newline)."""
    levels = [lvl for lvl in text.replace("\n", ";").split(";") if lvl.strip()]
    if not levels:
        return None
    out = []
    for level in levels:
        values = tuple(float(v) for v in level.replace(" ", ",").split(",") if v.strip())
        if not values or len(values) % 2:
            raise ValueError(f"each anchor level needs pairs of numbers (w,h): {level.strip()!r}")
        out.append(values)
    return tuple(out)


class ModelSettingsDialog(QDialog):
    def __init__(self, current: ModelOverrides, model_hw: tuple[int, int] | None = None,
                 model_names: tuple[str, ...] = (), parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Model settings")
        self.resize(460, 480)
        hw = current.imgsz or model_hw or (640, 640)
        self.size_box = QCheckBox("Override the input size")
        self.size_box.setChecked(current.imgsz is not None)
        self.h_spin, self.w_spin = QSpinBox(), QSpinBox()
        for spin, value in ((self.h_spin, hw[0]), (self.w_spin, hw[1])):
            spin.setRange(32, 8192)
            spin.setSingleStep(32)
            spin.setValue(int(value))
        self.size_box.toggled.connect(self.h_spin.setEnabled)
        self.size_box.toggled.connect(self.w_spin.setEnabled)
        self.h_spin.setEnabled(self.size_box.isChecked())
        self.w_spin.setEnabled(self.size_box.isChecked())
        size_row = QHBoxLayout()
        size_row.addWidget(QLabel("height"))
        size_row.addWidget(self.h_spin)
        size_row.addWidget(QLabel("width"))
        size_row.addWidget(self.w_spin)

        self.names_edit = QPlainTextEdit("\n".join(current.names or model_names))
        self.names_edit.setPlaceholderText("one class name per line (empty: from the model)")
        names_button = QPushButton("Load names file…")
        names_button.clicked.connect(self._on_names_button_clicked)
        self._model_names = tuple(model_names)

        self.anchors_edit = QLineEdit(
            "; ".join(",".join(f"{v:g}" for v in lvl) for lvl in current.anchors) if current.anchors else ""
        )
        self.anchors_edit.setToolTip("Only for anchor-based models (YOLOv3/v5/v7) whose file lacks them: "
                                     "w,h pairs in input pixels, one level per ';'")
        self.anchors_edit.setPlaceholderText("10,13,16,30,33,23; 30,61,62,45,59,119; 116,90,156,198,373,326")

        self.device_combo = QComboBox()
        self.device_combo.addItems(["auto", "cpu", "cuda"])
        self.device_combo.setCurrentText(current.device)
        self.half_box = QCheckBox("Reduced precision (faster; boxes may move by a pixel or two)")
        self.half_box.setToolTip("fp16 on a GPU; bf16 on a CPU with AVX-512 BF16 or AMX. "
                                 "Other CPUs keep float32: emulated bf16 would not be faster there.")
        self.half_box.setChecked(current.half)
        self.backend_combo = QComboBox()
        for mode, text, tip in BACKEND_CHOICES:
            self.backend_combo.addItem(text, mode)
            self.backend_combo.setItemData(self.backend_combo.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        self.backend_combo.setCurrentIndex(max(0, self.backend_combo.findData(current.backend)))
        self.backend_combo.setToolTip("What runs a TorchScript model. ONNX files always run on ONNX Runtime.")

        form = QFormLayout()
        form.addRow(self.size_box)
        form.addRow("Input size", size_row)
        form.addRow("Class names", self.names_edit)
        form.addRow("", names_button)
        form.addRow("Anchors (pixels)", self.anchors_edit)
        form.addRow("Device", self.device_combo)
        form.addRow("", self.half_box)
        form.addRow("Runs on", self.backend_combo)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Reload model")
        buttons.accepted.connect(self._on_accepted)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)
        self._result = current

    def overrides(self) -> ModelOverrides:
        return self._result

    def _build(self) -> ModelOverrides:
        names = tuple(n.strip() for n in self.names_edit.toPlainText().splitlines() if n.strip())
        return ModelOverrides(
            imgsz=(self.h_spin.value(), self.w_spin.value()) if self.size_box.isChecked() else None,
            names=names if names and names != self._model_names else None,
            anchors=parse_anchors(self.anchors_edit.text()),
            device=self.device_combo.currentText(),
            half=self.half_box.isChecked(),
            backend=self.backend_combo.currentData(),
        )

    def _on_accepted(self) -> None:
        try:
            self._result = self._build()
        except ValueError as exc:
            QMessageBox.warning(self, "Model settings", str(exc))
            return
        self.accept()

    def _on_names_button_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Class names", "", "Names (*.txt *.names *.yaml *.yml);;All files (*)")
        if not path:
            return
        try:
            names = read_names_file(Path(path))
        except (OSError, UnicodeDecodeError, ValueError, TypeError, KeyError) as exc:
            QMessageBox.warning(self, "Class names", f"Cannot read {path}: {exc}")
            return
        self.names_edit.setPlainText("\n".join(names))
