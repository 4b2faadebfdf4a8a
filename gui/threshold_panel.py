"""The threshold panel: folder metrics and curves at the current thresholds, per-class overrides.

Data in, signals out: the window hands over an `engine.curves.ScoredFolder` (built in the
worker from the whole folder, see gui/folder_stats.py) plus the current thresholds, and this
widget computes the cheap parts itself -- precision / recall / F1 at the thresholds, the PR
and F1-vs-confidence curves, mAP@0.5 -- all cumulative sums over the sorted predictions, a
few milliseconds for 1,000 images, so they follow the slider.

With ground truth: PR curve (current point marked) and F1 versus confidence (current
threshold marked). Without: a confidence histogram and the detection count versus threshold.
The class selector switches every number and curve to one class; "Best F1" asks the window to
move the slider there (the global slider for "All classes", that class's override otherwise).

Per-class overrides: tick a class and give it its own confidence; the window folds them into
`Thresholds.class_conf` (the overlay, the export and the metrics all use them). Save / Load
write the small JSON profile of `engine.profile` that `scriptlens label --thresholds` reads.
"""

from __future__ import annotations


import numpy as np
from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDoubleSpinBox, QGridLayout, QHBoxLayout, QHeaderView, QLabel, QProgressBar,
    QPushButton, QSizePolicy, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget,
)

from engine import curves

from .plot_widget import PlotWidget, Series

BLUE = QColor("#0072B2")  # Okabe-Ito: safe for the common colour-vision deficiencies
VERMILLION = QColor("#D55E00")
GREY = QColor("#999999")


class ThresholdPanel(QWidget):
    bestF1Requested = Signal(object)  # class id or None (all classes)
    classViewChanged = Signal()
    classConfChanged = Signal()  # read `class_conf()`
    saveProfileRequested = Signal()
    loadProfileRequested = Signal()
    pickGroundTruthRequested = Signal()
    showGroundTruthChanged = Signal(bool)
    confPicked = Signal(float)  # a click on the F1 / count plot
    scoreFolderRequested = Signal()  # big folders are scored on request only
    stopScoringRequested = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._names: tuple[str, ...] = ()
        self._scored: curves.ScoredFolder | None = None
        self._partial_floor: float | None = None
        self._map_cache: dict[object, float] = {}
        self._global_conf = 0.25  # a newly ticked class starts here: ticking alone changes nothing

        # header: ground truth, progress, class view, best F1
        self.gt_label = QLabel("Ground truth: none found")
        self.gt_label.setWordWrap(True)
        self.gt_button = QPushButton("Labels folder…")
        self.gt_button.setToolTip("Pick the folder of YOLO ground-truth labels for these images")
        self.show_gt_box = QCheckBox("Show on image")
        self.show_gt_box.setChecked(True)
        self.show_gt_box.setToolTip("True positives solid, false positives dashed, missed objects dotted + hatched")
        self.progress = QProgressBar()
        self.progress.setMaximumHeight(14)
        self.progress.setTextVisible(True)
        self.progress.setFormat("scoring folder %v / %m")
        self.progress.hide()
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop scoring the folder (Score folder resumes; scored images are kept)")
        self.stop_button.hide()
        # what the curves were computed from: takes the progress bar's place when no scan runs
        self.status_label = QLabel("")
        self.status_label.setStyleSheet("color: gray;")
        # a long line may be cut on a narrow window, never widen it
        self.status_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        # the row keeps its height while the (taller) Stop button is hidden: otherwise each
        # background rescan would grow and shrink the dock, and the image beside it would
        # re-zoom under the mouse
        policy = self.stop_button.sizePolicy()
        policy.setRetainSizeWhenHidden(True)
        self.stop_button.setSizePolicy(policy)
        self.class_combo = QComboBox()
        self.class_combo.addItem("All classes", None)
        self.best_button = QPushButton("Best F1")
        self.best_button.setToolTip("Move the confidence to where F1 is highest on this folder")
        self.best_button.setEnabled(False)
        self.score_button = QPushButton("Score folder")
        self.score_button.setToolTip("Run the model on every image of this big folder (in the background) "
                                     "for folder metrics and the review queue")
        self.score_button.hide()

        # metrics
        self.metrics_label = QLabel("—")
        self.metrics_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.counts_label = QLabel("")
        self.image_label = QLabel("")
        for label in (self.metrics_label, self.counts_label, self.image_label):
            label.setWordWrap(True)

        # plots
        self.pr_plot = PlotWidget("Precision-recall", "recall", "precision")
        self.f1_plot = PlotWidget("F1 vs confidence", "confidence", "F1")

        # per-class overrides
        self.class_table = QTableWidget(0, 2)
        self.class_table.setHorizontalHeaderLabels(["Own threshold", "Conf"])
        self.class_table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.class_table.verticalHeader().setVisible(False)
        self.class_table.setMinimumWidth(190)
        self.save_button = QPushButton("Save profile…")
        self.load_button = QPushButton("Load profile…")
        for b in (self.save_button, self.load_button):
            b.setToolTip("Per-class thresholds as JSON; `scriptlens label --thresholds FILE` reads it")

        top = QHBoxLayout()
        top.addWidget(self.gt_label, 1)
        top.addWidget(self.show_gt_box)
        top.addWidget(self.gt_button)
        top.addWidget(self.score_button)
        top.addWidget(self.class_combo)
        top.addWidget(self.best_button)
        left = QVBoxLayout()
        left.addWidget(self.metrics_label)
        left.addWidget(self.counts_label)
        left.addWidget(self.image_label)
        left.addStretch(1)
        right = QVBoxLayout()
        right.addWidget(self.class_table, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.load_button)
        buttons.addWidget(self.save_button)
        right.addLayout(buttons)
        grid = QGridLayout()
        grid.addLayout(left, 0, 0)
        grid.addWidget(self.pr_plot, 0, 1)
        grid.addWidget(self.f1_plot, 0, 2)
        grid.addLayout(right, 0, 3)
        grid.setColumnStretch(0, 2)
        grid.setColumnStretch(1, 3)
        grid.setColumnStretch(2, 3)
        grid.setColumnStretch(3, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.addLayout(top)
        progress_row = QHBoxLayout()
        progress_row.addWidget(self.status_label, 1)
        progress_row.addWidget(self.progress, 1)
        progress_row.addWidget(self.stop_button)
        layout.addLayout(progress_row)
        layout.addLayout(grid, 1)

        for w in (self.gt_button, self.show_gt_box, self.class_combo, self.best_button, self.save_button,
                  self.load_button, self.class_table):
            w.setFocusPolicy(Qt.FocusPolicy.ClickFocus)  # keys stay the window's shortcuts
        self.best_button.clicked.connect(self._on_best_button_clicked)
        self.score_button.clicked.connect(self.scoreFolderRequested)
        self.stop_button.clicked.connect(self.stopScoringRequested)
        self.class_combo.currentIndexChanged.connect(self._on_class_combo_current_index_changed)
        self.save_button.clicked.connect(self.saveProfileRequested)
        self.load_button.clicked.connect(self.loadProfileRequested)
        self.gt_button.clicked.connect(self.pickGroundTruthRequested)
        self.show_gt_box.toggled.connect(self.showGroundTruthChanged)
        self.f1_plot.clicked.connect(self._on_plot_clicked)

    # ------------------------------------------------------------------ setters
    def set_classes(self, names: tuple[str, ...] | list[str]) -> None:
        self._names = tuple(names)
        with QSignalBlocker(self.class_combo):
            self.class_combo.clear()
            self.class_combo.addItem("All classes", None)
            for i, n in enumerate(self._names):
                self.class_combo.addItem(f"{i}  {n}", i)
        blocker = QSignalBlocker(self.class_table)  # no itemChanged while rows have no spin box yet
        self.class_table.setRowCount(len(self._names))
        for i, n in enumerate(self._names):
            item = QTableWidgetItem(n)
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.class_table.setItem(i, 0, item)
            spin = QDoubleSpinBox()
            spin.setRange(0.0, 1.0)
            spin.setDecimals(2)
            spin.setSingleStep(0.01)
            spin.setValue(0.25)
            spin.setEnabled(False)
            spin.setKeyboardTracking(False)
            spin.valueChanged.connect(self._on_spin_value_changed)
            self.class_table.setCellWidget(i, 1, spin)
        blocker.unblock()
        self.class_table.itemChanged.connect(self._on_class_table_item_changed, Qt.ConnectionType.UniqueConnection)
        self._scored = None
        self._map_cache.clear()

    def _spin(self, row: int) -> QDoubleSpinBox:
        return self.class_table.cellWidget(row, 1)

    def class_conf(self) -> dict[int, float]:
        """class id -> its own confidence threshold (only the ticked classes)."""
        out = {}
        for i in range(self.class_table.rowCount()):
            if self.class_table.item(i, 0).checkState() == Qt.CheckState.Checked:
                out[i] = round(float(self._spin(i).value()), 2)
        return out

    def set_class_conf(self, table: dict[int, float]) -> None:
        with QSignalBlocker(self.class_table):
            for i in range(self.class_table.rowCount()):
                on = i in table
                self.class_table.item(i, 0).setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
                spin = self._spin(i)
                with QSignalBlocker(spin):
                    if on:
                        spin.setValue(float(table[i]))
                    spin.setEnabled(on)
        self.classConfChanged.emit()

    def class_view(self) -> int | None:
        return self.class_combo.currentData()

    def set_class_view(self, class_id: int | None) -> None:
        self.class_combo.setCurrentIndex(0 if class_id is None else class_id + 1)

    def set_ground_truth_text(self, text: str, available: bool) -> None:
        self.gt_label.setText(text)
        self.show_gt_box.setEnabled(available)

    def set_progress(self, done: int, total: int) -> None:
        if total <= 0 or done >= total:
            self.progress.hide()
            self.stop_button.hide()
            self.status_label.show()
            return
        self.status_label.hide()
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        self.progress.show()
        self.stop_button.show()

    def set_status(self, text: str) -> None:
        """One grey line under the header: what the numbers below were computed from."""
        self.status_label.setText(text)

    def set_image_counts(self, text: str) -> None:
        self.image_label.setText(text)

    # ------------------------------------------------------------------ stats
    def set_scored(self, scored: curves.ScoredFolder | None, partial_floor: float | None = None) -> None:
        """`partial_floor`: the scores are a quick pass, exact only for thresholds above it."""
        self._scored = scored
        self._partial_floor = partial_floor
        self._map_cache.clear()
        # Best F1 needs the whole curve: not from a quick pass
        self.best_button.setEnabled(scored is not None and scored.has_ground_truth and partial_floor is None)

    @property
    def scored(self) -> curves.ScoredFolder | None:
        return self._scored

    def show_thresholds(self, conf: float, class_conf: dict[int, float]) -> None:
        """Numbers and curves of the current ScoredFolder at these thresholds."""
        self._global_conf = conf
        sf = self._scored
        if sf is None:
            self.metrics_label.setText("Folder metrics appear when every image has been scored.")
            self.counts_label.setText("")
            self.pr_plot.set_message("waiting for the folder scan")
            self.f1_plot.set_message("")
            return
        c = self.class_view()
        own = class_conf.get(c, conf) if c is not None else conf
        partial = self._partial_floor
        if partial is not None and min([own, conf] + list(class_conf.values())) < partial:
            self.metrics_label.setText(f"Updating: the folder is being rescored below {partial:.2f}…")
            self.counts_label.setText("")
            return
        pm = curves.metrics_at(sf, own if c is not None else conf, c, () if c is not None else tuple(class_conf.items()))
        n_pred = pm.tp + pm.fp
        scope = "all classes" if c is None else self._names[c] if c < len(self._names) else f"class {c}"
        if sf.has_ground_truth:
            key = c
            if key not in self._map_cache:
                self._map_cache[key] = curves.ap50(sf, c)
            m = self._map_cache[key]
            m_text = "…" if partial is not None else "—" if not np.isfinite(m) else f"{m:.3f}"
            self.metrics_label.setText(
                f"<b>{scope}</b>, {sf.images} images<br>"
                f"Precision <b>{pm.precision:.3f}</b> &nbsp; Recall <b>{pm.recall:.3f}</b><br>"
                f"F1 <b>{pm.f1:.3f}</b> &nbsp; {'mAP' if c is None else 'AP'}@0.5 <b>{m_text}</b>")
            self.counts_label.setText(f"TP {pm.tp} · FP {pm.fp} · missed {pm.fn} (of {pm.tp + pm.fn} labelled)")
            self._show_gt_curves(sf, c, own, pm)
        else:
            self.metrics_label.setText(f"<b>{scope}</b>, {sf.images} images<br>{n_pred} detections above "
                                       f"the threshold<br>(no ground truth: no precision or recall)")
            self.counts_label.setText("")
            self._show_no_gt_curves(sf, c, own, n_pred)

    def _show_gt_curves(self, sf, c, own: float, pm) -> None:
        conf, precision, recall = curves.pr_curve(sf, c)
        self.pr_plot.set_title("Precision-recall")
        self.pr_plot.set_axes((0.0, 1.0), (0.0, 1.0), "recall", "precision")
        x = np.concatenate([[0.0], recall])
        y = np.concatenate([[1.0], precision]) if len(precision) else np.array([1.0])
        self.pr_plot.set_series([Series(x, y, BLUE)])
        self.pr_plot.set_marker(None, point=(pm.recall, pm.precision))
        grid, f1 = curves.f1_curve(sf, c)
        best_t, best = curves.best_f1(sf, c)
        one = " (curve: one threshold for all)" if c is None and self.class_conf() else ""
        self.f1_plot.set_title(f"F1 vs confidence (best {best:.2f} at {best_t:.2f}){one}")
        self.f1_plot.set_axes((0.0, 1.0), (0.0, 1.0), "confidence", "F1")
        self.f1_plot.set_series([Series(grid, f1, BLUE)])
        self.f1_plot.set_marker(own, f"{own:.2f}: F1 {pm.f1:.2f}", point=(own, pm.f1))

    def _show_no_gt_curves(self, sf, c, own: float, n_pred: int) -> None:
        counts, edges = curves.confidence_histogram(sf, c, bins=50)
        self.pr_plot.set_title("Confidence histogram (no ground truth)")
        self.pr_plot.set_axes((0.0, 1.0), None, "confidence", "detections")
        self.pr_plot.set_series([Series(edges, counts, BLUE, bars=True)], auto_y=True)
        self.pr_plot.set_marker(own, f"{own:.2f}")
        grid, n = curves.count_vs_threshold(sf, c)
        self.f1_plot.set_title("Detections vs threshold")
        self.f1_plot.set_axes((0.0, 1.0), None, "confidence", "detections")
        self.f1_plot.set_series([Series(grid, n.astype(float), VERMILLION)], auto_y=True)
        self.f1_plot.set_marker(own, f"{own:.2f}: {n_pred}", point=(own, float(n_pred)))

    # ------------------------------------------------------------------ handlers
    def _on_best_button_clicked(self) -> None:
        self.bestF1Requested.emit(self.class_view())

    def _on_class_combo_current_index_changed(self, _index: int) -> None:
        self.classViewChanged.emit()

    def _on_class_table_item_changed(self, item: QTableWidgetItem) -> None:
        if item.column() == 0:
            spin, on = self._spin(item.row()), item.checkState() == Qt.CheckState.Checked
            if on:
                with QSignalBlocker(spin):
                    spin.setValue(self._global_conf)
            spin.setEnabled(on)
            self.classConfChanged.emit()

    def _on_spin_value_changed(self, _value: float) -> None:
        self.classConfChanged.emit()

    def _on_plot_clicked(self, x: float) -> None:
        self.confPicked.emit(float(min(max(round(x, 2), 0.0), 1.0)))
