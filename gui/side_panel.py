"""Side panel: model facts, threshold controls, class filter with per-image counts, display
toggles. Setters and signals only; the window turns them into `Thresholds`."""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QCheckBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QListWidget, QListWidgetItem,
    QPushButton, QSpinBox, QVBoxLayout, QWidget,
)
from .colors import class_color
from .labeled_slider import LabeledSlider

END2END_NOTE = "IoU is off: this model runs NMS itself (end-to-end)."


def _swatch(color: QColor) -> QIcon:
    pix = QPixmap(12, 12)
    pix.fill(color)
    return QIcon(pix)


class SidePanel(QWidget):
    confChanged = Signal(float)
    iouChanged = Signal(float)
    iouReleased = Signal()  # the user let go of the IoU slider: no need to wait for a pause
    agnosticChanged = Signal(bool)
    maxDetChanged = Signal(int)
    classFilterChanged = Signal()  # read `checked_classes()`
    showLabelsChanged = Signal(bool)
    showConfidencesChanged = Signal(bool)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._names: tuple[str, ...] = ()

        # model info
        self._info_labels: dict[str, QLabel] = {}
        info_box = QGroupBox("Model")
        form = QFormLayout(info_box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for key in ("File", "Layout", "Input", "Device", "Runs on", "Classes"):
            label = QLabel("—")
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label.setWordWrap(True)
            self._info_labels[key] = label
            form.addRow(key + ":", label)

        # thresholds
        thr_box = QGroupBox("Thresholds")
        thr = QFormLayout(thr_box)
        self.conf_slider = LabeledSlider(0.25)
        self.conf_slider.setToolTip("Keep boxes whose confidence is above this value")
        self.iou_slider = LabeledSlider(0.45)
        self.iou_slider.setToolTip("NMS: drop a box that overlaps a better one of its class by more than this IoU")
        self.iou_note = QLabel(END2END_NOTE)
        self.iou_note.setWordWrap(True)
        self.iou_note.setStyleSheet("color: gray;")
        self.iou_note.setVisible(False)
        self.agnostic_box = QCheckBox("Class-agnostic NMS")
        self.agnostic_box.setToolTip("On: a box suppresses overlapping boxes of ANY class (one label per object). "
                                     "Off: only boxes of its own class, as the exporters' predictors do")
        self.max_det_spin = QSpinBox()
        self.max_det_spin.setRange(1, 30000)
        self.max_det_spin.setValue(300)
        self.max_det_spin.setKeyboardTracking(False)
        self.max_det_spin.setToolTip("At most this many boxes per image, the most confident first (300 is the "
                                     "exporters' default)")
        thr.addRow("Confidence", self.conf_slider)
        thr.addRow("IoU", self.iou_slider)
        thr.addRow(self.iou_note)
        thr.addRow(self.agnostic_box)
        thr.addRow("Max detections", self.max_det_spin)

        # classes
        cls_box = QGroupBox("Classes (count on this image)")
        cls_layout = QVBoxLayout(cls_box)
        self.class_list = QListWidget()
        self.class_list.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self._fit_class_list()
        buttons = QHBoxLayout()
        self.all_button = QPushButton("All")
        self.none_button = QPushButton("None")
        for b in (self.all_button, self.none_button):
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            buttons.addWidget(b)
        buttons.addStretch(1)
        cls_layout.addWidget(self.class_list)
        cls_layout.addLayout(buttons)

        # display
        disp_box = QGroupBox("Display")
        disp = QVBoxLayout(disp_box)
        self.show_labels_box = QCheckBox("Show class names")
        self.show_labels_box.setChecked(True)
        self.show_conf_box = QCheckBox("Show confidences")
        self.show_conf_box.setChecked(True)
        disp.addWidget(self.show_labels_box)
        disp.addWidget(self.show_conf_box)

        for w in (self.conf_slider, self.iou_slider, self.agnostic_box, self.show_labels_box, self.show_conf_box):
            w.setFocusPolicy(Qt.FocusPolicy.ClickFocus)

        layout = QVBoxLayout(self)
        layout.addWidget(info_box)
        layout.addWidget(thr_box)
        layout.addWidget(cls_box)
        layout.addWidget(disp_box)
        layout.addStretch(1)  # spare height goes below Display, not into an empty class list

        self.conf_slider.valueChanged.connect(self.confChanged)
        self.iou_slider.valueChanged.connect(self.iouChanged)
        self.iou_slider.sliderReleased.connect(self.iouReleased)
        self.agnostic_box.toggled.connect(self.agnosticChanged)
        self.max_det_spin.valueChanged.connect(self.maxDetChanged)
        self.show_labels_box.toggled.connect(self.showLabelsChanged)
        self.show_conf_box.toggled.connect(self.showConfidencesChanged)
        self.class_list.itemChanged.connect(self._on_class_list_item_changed)
        self.all_button.clicked.connect(self._on_all_button_clicked)
        self.none_button.clicked.connect(self._on_none_button_clicked)

    # setters
    def set_model_info(self, rows: dict[str, str]) -> None:
        for key, label in self._info_labels.items():
            label.setText(rows.get(key, "—"))
        self._info_labels["File"].setToolTip(rows.get("FileTip", ""))
        self._info_labels["Layout"].setToolTip(rows.get("LayoutTip", ""))
        self._info_labels["Runs on"].setToolTip(rows.get("Runs onTip", ""))

    def model_info_text(self, key: str) -> str:
        """What the Model box shows for `key` ("File", "Layout", "Input", "Device", "Runs on", "Classes")."""
        return self._info_labels[key].text()

    def model_info_tip(self, key: str) -> str:
        return self._info_labels[key].toolTip()

    def _fit_class_list(self) -> None:
        """As tall as its rows, up to ~12 of them (then it scrolls): a 3-class model's list used
        to keep 200 px of blank space and push Display off a 1000 px high window."""
        rows = max(1, min(self.class_list.count(), 12))
        row_h = self.class_list.sizeHintForRow(0) if self.class_list.count() else 18
        self.class_list.setFixedHeight(rows * max(row_h, 16) + 2 * self.class_list.frameWidth() + 4)

    def set_classes(self, names: tuple[str, ...] | list[str], checked: set[int] | None = None) -> None:
        self._names = tuple(names)
        with QSignalBlocker(self.class_list):
            self.class_list.clear()
            for i, name in enumerate(self._names):
                item = QListWidgetItem(_swatch(class_color(i)), f"{i}  {name}")
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                on = checked is None or i in checked
                item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
                item.setData(Qt.ItemDataRole.UserRole, i)
                self.class_list.addItem(item)
        self._fit_class_list()

    def set_class_counts(self, counts) -> None:
        """`counts[i]` detections of class i on the current image (None: unknown)."""
        with QSignalBlocker(self.class_list):
            for i, name in enumerate(self._names):
                item = self.class_list.item(i)
                n = None if counts is None or i >= len(counts) else int(counts[i])
                item.setText(f"{i}  {name}" + ("" if n is None else f"  ({n})"))

    def set_checked_classes(self, checked: set[int] | None) -> None:
        with QSignalBlocker(self.class_list):
            for i in range(self.class_list.count()):
                on = checked is None or i in checked
                self.class_list.item(i).setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
        self.classFilterChanged.emit()

    def checked_classes(self) -> tuple[int, ...] | None:
        """None when every class is checked (no filter)."""
        ids = [i for i in range(self.class_list.count())
               if self.class_list.item(i).checkState() == Qt.CheckState.Checked]
        return None if len(ids) == self.class_list.count() else tuple(ids)

    def set_conf(self, value: float) -> None:
        self.conf_slider.setValue(value)

    def set_iou(self, value: float) -> None:
        self.iou_slider.setValue(value)

    def set_iou_enabled(self, enabled: bool) -> None:
        self.iou_slider.setEnabled(enabled)
        self.agnostic_box.setEnabled(enabled)
        self.iou_note.setVisible(not enabled)

    def set_agnostic(self, value: bool) -> None:
        self.agnostic_box.setChecked(value)

    def set_max_det(self, value: int) -> None:
        self.max_det_spin.setValue(value)

    def set_show_labels(self, value: bool) -> None:
        self.show_labels_box.setChecked(value)

    def set_show_confidences(self, value: bool) -> None:
        self.show_conf_box.setChecked(value)

    # handlers
    def _on_class_list_item_changed(self, _item: QListWidgetItem) -> None:
        self.classFilterChanged.emit()

    def _on_all_button_clicked(self) -> None:
        self.set_checked_classes(None)

    def _on_none_button_clicked(self) -> None:
        self.set_checked_classes(set())
