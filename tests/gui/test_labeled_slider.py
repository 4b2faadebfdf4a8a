"""gui/labeled_slider.py: the confidence/IoU control, a slider and a value box kept in step."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractSlider

from gui.labeled_slider import LabeledSlider


def make(qtbot, value=0.25):
    s = LabeledSlider(value)
    qtbot.addWidget(s)
    seen: list[float] = []
    s.valueChanged.connect(seen.append)
    return s, seen


def test_set_value_rounds_clamps_and_signals_once_per_change(qtbot):
    s, seen = make(qtbot)
    assert s.value() == 0.25 and s.slider.value() == 25 and s.box.value() == 0.25
    s.setValue(0.504)
    s.setValue(0.5)  # same value after rounding: no signal
    s.setValue(7)
    s.setValue(-1)
    assert seen == [0.5, 1.0, 0.0]
    assert (s.slider.value(), s.box.value()) == (0, 0.0)


def test_moving_the_slider_updates_the_box(qtbot):
    s, seen = make(qtbot)
    s.slider.triggerAction(QAbstractSlider.SliderAction.SliderPageStepAdd)  # what PageUp / a track click does
    assert seen == [0.3] and s.box.value() == 0.3 and s.value() == 0.3
    s.slider.setValue(61)  # a drag
    assert seen == [0.3, 0.61] and s.box.value() == 0.61


def test_typing_a_value_moves_the_slider_on_enter(qtbot):
    s, seen = make(qtbot)
    s.show()
    s.box.lineEdit().selectAll()
    qtbot.keyClicks(s.box, "0.07")
    assert seen == []  # no value while typing ("0.0" is not what the user means)
    qtbot.keyClick(s.box, Qt.Key.Key_Return)
    assert seen == [0.07] and s.slider.value() == 7


def test_release_and_focus_and_enabled_reach_both_parts(qtbot):
    s, _ = make(qtbot)
    released = []
    s.sliderReleased.connect(lambda: released.append(True))
    s.slider.sliderReleased.emit()
    assert released == [True]
    s.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
    assert s.slider.focusPolicy() == s.box.focusPolicy() == Qt.FocusPolicy.ClickFocus
    s.setEnabled(False)
    assert not s.slider.isEnabled() and not s.box.isEnabled()
