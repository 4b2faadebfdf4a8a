"""Export options dialog and the progress dialog (ETA + Cancel). No engine knowledge: the
window turns `ExportChoice` into engine `ExportOptions`."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup, QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout,
    QHBoxLayout, QLabel, QLineEdit, QProgressDialog, QPushButton, QRadioButton, QVBoxLayout, QWidget,
)

ON_EXISTING_CHOICES = (
    ("skip", "Skip (keep the existing file)"),
    ("overwrite", "Overwrite"),
    ("backup", "Back up the old file, then write"),
)


@dataclass(frozen=True)
class ExportChoice:
    whole_folder: bool
    out_dir: Path
    save_conf: bool = False
    empty_files: bool = True
    write_classes: bool = True
    on_existing: str = "skip"
    conf_sidecar: bool = False  # confidences in a JSON beside 5-column labels (engine.conf_sidecar)
    dataset: bool = False  # out_dir is a dataset: out_dir/images (linked or copied), labels, data.yaml
    dataset_images: str = "symlink"  # or "copy"


SAVE_CONF_TIP = ("6-column label files are for review: Ultralytics refuses them and would train on no labels. "
                 "To train, leave this off and keep the confidences in the sidecar file below.")


class ExportDialog(QDialog):
    def __init__(self, defaults: ExportChoice, image_name: str | None, folder_count: int, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export YOLO labels")
        self.setMinimumWidth(620)
        self.current_radio = QRadioButton(f"This image ({image_name})" if image_name else "This image")
        self.current_radio.setEnabled(image_name is not None)
        self.folder_radio = QRadioButton(f"Whole folder ({folder_count} images)")
        self.folder_radio.setEnabled(folder_count > 0)
        group = QButtonGroup(self)
        group.addButton(self.current_radio)
        group.addButton(self.folder_radio)
        (self.folder_radio if defaults.whole_folder or image_name is None else self.current_radio).setChecked(True)

        self.out_edit = QLineEdit(str(defaults.out_dir))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._on_browse_clicked)
        out_row = QHBoxLayout()
        out_row.addWidget(self.out_edit, 1)
        out_row.addWidget(browse)

        self.conf_box = QCheckBox("Add a confidence column (6th value, for review: not for training)")
        self.conf_box.setToolTip(SAVE_CONF_TIP)
        self.conf_box.setChecked(defaults.save_conf)
        self.sidecar_box = QCheckBox("Write the confidences to scriptlens_confidences.json (labels stay trainable)")
        self.sidecar_box.setChecked(defaults.conf_sidecar)
        self.dataset_box = QCheckBox("Lay out a training dataset in this folder: images/, labels/, data.yaml")
        self.dataset_box.setToolTip("Ultralytics finds an image's labels by replacing /images/ with /labels/ in its "
                                    "path; this builds that layout, with a data.yaml that trains as is.")
        self.dataset_box.setChecked(defaults.dataset)
        self.dataset_images_combo = QComboBox()
        self.dataset_images_combo.addItem("Link the images (no disk space)", "symlink")
        self.dataset_images_combo.addItem("Copy the images", "copy")
        self.dataset_images_combo.setCurrentIndex(max(0, self.dataset_images_combo.findData(defaults.dataset_images)))
        self.dataset_images_combo.setEnabled(defaults.dataset)
        self.dataset_box.toggled.connect(self.dataset_images_combo.setEnabled)
        self.empty_box = QCheckBox("Write empty files for images without detections")
        self.empty_box.setChecked(defaults.empty_files)
        self.classes_box = QCheckBox("Write classes.txt and data.yaml")
        self.classes_box.setChecked(defaults.write_classes)
        self.existing_combo = QComboBox()
        for key, text in ON_EXISTING_CHOICES:
            self.existing_combo.addItem(text, key)
        self.existing_combo.setCurrentIndex(max(0, self.existing_combo.findData(defaults.on_existing)))

        form = QFormLayout()
        scope = QVBoxLayout()
        scope.addWidget(self.current_radio)
        scope.addWidget(self.folder_radio)
        scope_w = QWidget()
        scope_w.setLayout(scope)
        form.addRow("Export", scope_w)
        form.addRow("To folder", out_row)
        form.addRow("", self.conf_box)
        form.addRow("", self.sidecar_box)
        form.addRow("", self.empty_box)
        form.addRow("", self.classes_box)
        form.addRow("", self.dataset_box)
        form.addRow("Dataset images", self.dataset_images_combo)
        form.addRow("Existing files", self.existing_combo)
        note = QLabel("Uses the current confidence / IoU thresholds and class filter.")
        note.setStyleSheet("color: gray;")

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Export")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(buttons)

    def choice(self) -> ExportChoice:
        return ExportChoice(
            whole_folder=self.folder_radio.isChecked(),
            out_dir=Path(self.out_edit.text().strip()).expanduser(),
            save_conf=self.conf_box.isChecked(),
            empty_files=self.empty_box.isChecked(),
            write_classes=self.classes_box.isChecked(),
            on_existing=self.existing_combo.currentData(),
            conf_sidecar=self.sidecar_box.isChecked(),
            dataset=self.dataset_box.isChecked(),
            dataset_images=self.dataset_images_combo.currentData(),
        )

    def _on_browse_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export labels to", self.out_edit.text())
        if folder:
            self.out_edit.setText(folder)


def format_eta(seconds: float) -> str:
    seconds = int(round(max(0.0, seconds)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class ExportProgressDialog(QProgressDialog):
    """Window-modal progress with ETA; `canceled` is the Cancel button."""

    def __init__(self, total: int, parent=None) -> None:
        super().__init__("Exporting labels…", "Cancel", 0, max(total, 1), parent)
        self.setWindowTitle("Exporting labels")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setMinimumDuration(0)
        self.setAutoClose(False)
        self.setAutoReset(False)
        self.setMinimumWidth(380)
        self._start = time.monotonic()
        self.setValue(0)

    def set_progress(self, done: int, total: int) -> None:
        self.setMaximum(max(total, 1))
        self.setValue(done)
        elapsed = time.monotonic() - self._start
        if done > 0 and total > done:
            eta = elapsed / done * (total - done)
            self.setLabelText(f"{done} / {total} images — about {format_eta(eta)} left")
        else:
            self.setLabelText(f"{done} / {total} images")
