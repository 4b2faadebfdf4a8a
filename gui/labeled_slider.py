"""A 0-1 slider with an editable value box beside it (the confidence and IoU controls).

Why not superqt's `QLabeledDoubleSlider`, which this replaced: importing any superqt widget runs
its package ``__init__``, which star-imports QtCore, QtGui and QtWidgets through qtpy and pulls
in pygments. That measured 0.26 s of the window's ~1.0 s start-up here (`tools/gui_probe.py`,
five runs each: 0.89-1.23 s with it, 0.68-0.78 s without). qtpy also picks its Qt binding from
the ``QT_API`` variable, so a user with ``QT_API=pyqt5`` set (common with napari) would have
got PyQt5 widgets inside this PySide6 window. The widget itself is a QSlider and a
QDoubleSpinBox kept in step.
"""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import QDoubleSpinBox, QHBoxLayout, QSlider, QWidget


class LabeledSlider(QWidget):
    valueChanged = Signal(float)  # once per change, from the slider, the box or setValue
    sliderReleased = Signal()  # the user let go of the handle (not emitted for typed values)

    def __init__(self, value: float = 0.0, decimals: int = 2, page_step: float = 0.05, parent=None) -> None:
        super().__init__(parent)
        self._scale = 10 ** decimals
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, self._scale)
        self.slider.setSingleStep(1)
        self.slider.setPageStep(max(1, round(page_step * self._scale)))
        self.box = QDoubleSpinBox()
        self.box.setRange(0.0, 1.0)
        self.box.setDecimals(decimals)
        self.box.setSingleStep(1 / self._scale)
        self.box.setKeyboardTracking(False)  # a half-typed "0.0" of "0.05" is not a value
        self.box.setButtonSymbols(QDoubleSpinBox.ButtonSymbols.NoButtons)
        self.box.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.box.setFixedWidth(self.box.fontMetrics().horizontalAdvance("0.000") + 12)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.box)
        self._value = -1.0
        self.setValue(value)
        self.slider.valueChanged.connect(self._on_slider_value_changed)
        self.slider.sliderReleased.connect(self.sliderReleased)
        self.box.valueChanged.connect(self._on_box_value_changed)

    def value(self) -> float:
        return self._value

    def setValue(self, value: float) -> None:
        value = min(1.0, max(0.0, round(float(value) * self._scale) / self._scale))
        if value == self._value:
            return
        self._value = value
        with QSignalBlocker(self.slider), QSignalBlocker(self.box):
            self.slider.setValue(round(value * self._scale))
            self.box.setValue(value)
        self.valueChanged.emit(value)

    def setFocusPolicy(self, policy) -> None:
        """Applies to both parts: the window keeps arrow keys for browsing unless one was clicked."""
        super().setFocusPolicy(policy)
        self.slider.setFocusPolicy(policy)
        self.box.setFocusPolicy(policy)

    def _on_slider_value_changed(self, position: int) -> None:
        self.setValue(position / self._scale)

    def _on_box_value_changed(self, value: float) -> None:
        self.setValue(value)
