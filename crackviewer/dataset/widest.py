"""Dataset tab ▸ Widest cracks: every ground-truth mask measured (`trainer.measure.geometry.measure_mask`) in the
background, one row per sample with its widest crack, sortable; a double-click opens the sample. Widths are in mm
where the dataset has a scale (`trainer.measure.scale.load_scale`), else in pixels, and the header says which."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QHeaderView, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout,
                               QWidget)

from crackviewer.qt.tasks import TaskRunner
from trainer.datasets.maskcheck import binarise, read_mask_raw
from trainer.measure.geometry import measure_mask
from trainer.measure.scale import UNIT_MM, UNIT_PX, load_scale

COLUMNS = ["Sample", "Split", "Widest crack", "Length", "Cracks"]


def measure_widest(dataset: Path, records, rule: str = "threshold") -> list[dict]:
    """One row per sample with a crack mask: name, split, widest crack width and length (mm or px), crack count
    (runs on a pool thread)."""
    scale = load_scale(dataset)
    rows = []
    for r in records:
        if not (r.has_mask and r.label):
            continue
        geo = measure_mask(binarise(read_mask_raw(r.mask_path), rule))
        widest = geo.widest
        if widest is None:
            continue
        mm = scale.mm_per_px(r.name)
        f = mm if mm is not None else 1.0
        rows.append({"name": r.name, "split": r.split, "width": widest.width_max * f, "length": widest.length * f,
                     "cracks": geo.n_cracks, "unit": UNIT_MM if mm is not None else UNIT_PX})
    return rows


class _Num(QTableWidgetItem):
    def __init__(self, text: str, key: float):
        super().__init__(text)
        self.key = key
        self.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

    def __lt__(self, other):  # noqa: D105
        return self.key < getattr(other, "key", 0)


class WidestCracks(QWidget):
    """The table; measure(dataset, records) fills it in the background. sampleActivated(name) on a double-click."""

    sampleActivated = Signal(str)
    measured = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.rows: list[dict] = []
        self.measuring = False
        self._generation = 0
        self.tasks = TaskRunner(self, threads=1)
        v = QVBoxLayout(self)
        v.setContentsMargins(0, 4, 0, 0)
        self.note = QLabel("The widest crack of every ground-truth mask appears here once measured.")
        self.note.setObjectName("smallCaption")
        self.note.setWordWrap(True)
        self.note.setMinimumHeight(2 * self.note.fontMetrics().lineSpacing() + 6)   # two lines, never clipped
        v.addWidget(self.note)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.itemDoubleClicked.connect(
            lambda it: self.sampleActivated.emit(self.table.item(it.row(), 0).text()))
        v.addWidget(self.table, 1)

    def measure(self, dataset: Path, records, rule: str = "threshold") -> None:
        self._generation += 1
        gen = self._generation
        records = list(records)
        n = sum(1 for r in records if r.has_mask and r.label)
        self.measuring = True
        self.table.setRowCount(0)
        self.note.setText(f"Measuring the cracks of {n:,} ground-truth masks…")
        self.tasks.run(lambda: measure_widest(dataset, records, rule), lambda rows: self._fill(rows, gen),
                       lambda msg: self._failed(msg, gen))

    def _failed(self, message: str, gen: int) -> None:
        if gen == self._generation:
            self.measuring = False
            self.note.setText(f"Could not measure the masks: {message}")

    def _fill(self, rows: list[dict], gen: int) -> None:
        if gen != self._generation:
            return
        self.measuring = False
        self.rows = rows
        units = {r["unit"] for r in rows}
        unit = units.pop() if len(units) == 1 else "mm or px"
        self.table.setHorizontalHeaderLabels(["Sample", "Split", f"Widest crack ({unit})", f"Length ({unit})",
                                              "Cracks"])
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(rows))
        for i, r in enumerate(rows):
            digits = 2 if r["unit"] == UNIT_MM else 1
            items = [QTableWidgetItem(r["name"]), QTableWidgetItem(r["split"]),
                     _Num(f"{r['width']:.{digits}f} {r['unit']}", r["width"]),
                     _Num(f"{r['length']:.{digits}f} {r['unit']}", r["length"]), _Num(str(r["cracks"]), r["cracks"])]
            for c, it in enumerate(items):
                self.table.setItem(i, c, it)
        self.table.setSortingEnabled(True)
        self.table.sortItems(2, Qt.SortOrder.DescendingOrder)
        where = ("in millimetres (the dataset's scale)" if unit == UNIT_MM else
                 "in pixels: the dataset has no scale (scale.json or a mm_per_px manifest column)" if unit == UNIT_PX
                 else "in mm where a sample has a scale, else in pixels")
        self.note.setText(f"{len(rows):,} masks measured; widths {where}. Sort by any column; double-click a row "
                          "to open the sample.")
        self.measured.emit(len(rows))
