"""The "Cracks" tab of Inspect (issue 12): the current sample's predicted cracks measured at the slider's threshold
in a table (length, maximum and mean width, orientation; mm with a dataset scale, else image pixels, labelled),
cracks over the width alarm in red, a click on a row zooms the viewer to that crack.

Measuring a 448x448 map takes tens of milliseconds, so it runs on a background thread: each slider step asks for
the current sample only, and a result that is no longer wanted (another sample or threshold since) is dropped.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QAbstractItemView, QDoubleSpinBox, QHBoxLayout, QHeaderView, QLabel, QPushButton,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from crackviewer.inspect.measurement import COLUMNS, WIDTH_ALARM_MM, WIDTH_ALARM_PX, format_row, measure_sample
from crackviewer.qt.tasks import TaskRunner
from crackviewer.viewer.colorbar import ColorBar
from crackviewer.viewer.measure_item import WIDTH_COLORMAP
from trainer.measure.scale import UNIT_MM

ALARM_RED = QColor(176, 0, 32)


class MeasurePanel(QWidget):
    """Crack table + width alarm + calibrate button; ``measured(m)`` when the current sample's cracks are in,
    ``crackChosen(bbox)`` when a row is clicked."""

    measured = Signal(object)
    crackChosen = Signal(object)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.tasks = TaskRunner(self, threads=1, newest_first=True)
        self.result = None
        self._wanted = None
        self.mm_per_px: float | None = None
        self._alarm_set = False
        self.unit_label = QLabel("no sample")
        self.unit_label.setWordWrap(True)
        self.alarm = QDoubleSpinBox()
        self.alarm.setDecimals(2)
        self.alarm.setRange(0.0, 1000.0)
        self.alarm.setSingleStep(0.05)
        self.alarm.setToolTip("Width alarm: cracks whose maximum width exceeds it are flagged red "
                              "(key width_alarm_mm; in image pixels when the dataset has no scale)")
        self.alarm_unit = QLabel("mm")
        self.calibrate_btn = QPushButton("Calibrate…")
        self.calibrate_btn.setToolTip("Draw a line over a feature of known length in the image, then type its "
                                      "length in mm: writes the dataset's scale.json")
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("crackTable")
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeToContents)
        self.colorbar = ColorBar(WIDTH_COLORMAP, "width (px)", 0, 1, self)
        self.summary = QLabel("")
        self.summary.setObjectName("mutedNote")
        row = QHBoxLayout()
        row.addWidget(QLabel("Width alarm"))
        row.addWidget(self.alarm)
        row.addWidget(self.alarm_unit)
        row.addStretch(1)
        row.addWidget(self.calibrate_btn)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(3)
        lay.addWidget(self.unit_label)
        lay.addLayout(row)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.colorbar)
        lay.addWidget(self.summary)
        self.table.cellClicked.connect(self._on_row)
        self.alarm.valueChanged.connect(lambda _: self._again())
        self.set_scale(None)

    def set_scale(self, mm_per_px: float | None, source: str = "") -> None:
        """The dataset's scale for the current sample (None: measure in pixels)."""
        changed = mm_per_px != self.mm_per_px or not self._alarm_set
        self._alarm_set = True
        self.mm_per_px = mm_per_px
        if changed:
            self.alarm.blockSignals(True)
            self.alarm.setValue(WIDTH_ALARM_MM if mm_per_px is not None else WIDTH_ALARM_PX)
            self.alarm.blockSignals(False)
        self.alarm_unit.setText("mm" if mm_per_px is not None else "px")
        self.unit_label.setText(f"Lengths and widths in mm ({mm_per_px:.5g} mm/px{', ' + source if source else ''})"
                                if mm_per_px is not None else
                                "Lengths and widths in image px: this dataset has no scale (Calibrate… sets one)")

    def request(self, prob8, threshold: float, image_hw, gated: bool = False) -> None:
        """Measure the current sample at ``threshold`` in the background (replaces any pending request)."""
        if prob8 is None:
            self._wanted = None
            self._show(None)
            return
        key = (id(prob8), float(threshold), bool(gated), self.mm_per_px, self.alarm.value())
        if key == self._wanted:
            return
        self._wanted = key
        mm, alarm = self.mm_per_px, self.alarm.value()
        self._args = (prob8, threshold, image_hw, gated)

        def job():      # a request overtaken by a newer one before it starts is skipped
            return (key, None) if key != self._wanted else (key, measure_sample(prob8, threshold, image_hw, mm,
                                                                                alarm, gated))
        self.tasks.run(job, self._done)

    def measure_now(self, prob8, threshold: float, image_hw, gated: bool = False):
        """Measure on this thread (tests, screenshots) and show the result."""
        m = measure_sample(prob8, threshold, image_hw, self.mm_per_px, self.alarm.value(), gated)
        self._wanted = None
        self._show(m)
        return m

    def wait(self, timeout_s: float = 10.0) -> bool:
        return self.tasks.wait(timeout_s)

    def _again(self) -> None:
        if getattr(self, "_args", None) is not None:
            self._wanted = None
            self.request(*self._args)

    def _done(self, out) -> None:
        key, m = out
        if key == self._wanted:
            self._show(m)

    def _show(self, m) -> None:
        self.result = m
        self.table.setRowCount(0)
        if m is None:
            self.summary.setText("no probability map for this sample")
            self.measured.emit(None)
            return
        unit = m.unit
        self.table.setHorizontalHeaderLabels([t + ("" if k in ("id", "orientation") else f" {unit}")
                                              for k, t in COLUMNS])
        self.table.setRowCount(len(m.rows))
        for r, row in enumerate(m.rows):
            for c, text in enumerate(format_row(row, unit)):
                it = QTableWidgetItem(text)
                it.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                if row["wide"]:
                    it.setForeground(ALARM_RED)
                    it.setToolTip(f"wider than the width alarm ({m.alarm:g} {unit})")
                self.table.setItem(r, c, it)
        lo, hi = m.width_range()
        self.colorbar.set_scale(WIDTH_COLORMAP, f"width ({unit})", lo, hi, digits=3 if unit == UNIT_MM else 1)
        self.summary.setText(f"{len(m.rows)} cracks at threshold {m.threshold:.3f} · {m.n_wide} over the alarm · "
                             f"measured in {m.seconds * 1000:.0f} ms")
        self.measured.emit(m)

    def _on_row(self, r: int, _c: int = 0) -> None:
        if self.result is not None and 0 <= r < len(self.result.rows):
            self.crackChosen.emit(self.result.rows[r]["bbox"])
