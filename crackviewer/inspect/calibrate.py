"""The "calibrate" tool (issue 12): draw a line over a feature of known length in the viewer, type that length in
millimetres, and the dataset's scale (``scale.json`` beside the dataset, :func:`trainer.measure.scale.save_scale`)
becomes length_mm / length_px. The line is measured in the image's own pixels."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QLineF, QPointF, Qt
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import QGraphicsLineItem, QInputDialog, QWidget

from trainer.measure.scale import save_scale, scale_from_line


class CalibrateTool:
    """A viewer tool (see :mod:`crackviewer.viewer.view`): press, drag and release draws the line; on release
    ``on_line(length_px)`` is called and the viewer goes back to panning."""

    def __init__(self, on_line: Callable[[float], None]):
        self.on_line = on_line
        self.item: QGraphicsLineItem | None = None
        self._start: QPointF | None = None

    def press(self, viewer, pos: QPointF, event) -> bool:
        self._start = QPointF(pos)
        if self.item is None:
            self.item = QGraphicsLineItem()
            pen = QPen(QColor(255, 64, 64), 2.0)
            pen.setCosmetic(True)
            pen.setStyle(Qt.DashLine)
            self.item.setPen(pen)
            self.item.setZValue(20)
            viewer.scene().addItem(self.item)
        self.item.setLine(QLineF(pos, pos))
        return True

    def move(self, viewer, pos: QPointF, event) -> bool:
        if self._start is not None and self.item is not None:
            self.item.setLine(QLineF(self._start, pos))
        return True

    def release(self, viewer, pos: QPointF, event) -> bool:
        if self._start is None:
            return True
        length = math.hypot(pos.x() - self._start.x(), pos.y() - self._start.y())
        self._start = None
        viewer.set_tool(None)
        if self.item is not None:
            viewer.scene().removeItem(self.item)
            self.item = None
        self.on_line(length)
        return True


def ask_and_save(parent: QWidget, dataset: str | Path, length_px: float,
                 ask: Callable[[float], float | None] | None = None) -> tuple[float, Path] | None:
    """Ask the known length of a line of ``length_px`` image pixels and write the dataset's scale; returns
    (mm_per_px, scale.json path) or None when cancelled. ``ask(length_px)`` replaces the dialog (tests)."""
    if ask is None:
        def ask(px):
            v, ok = QInputDialog.getDouble(parent, "Calibrate", f"The line is {px:.1f} px long in the image.\n"
                                           "Its real length in mm:", 10.0, 0.001, 1e6, 3)
            return v if ok else None
    mm = ask(length_px)
    if mm is None:
        return None
    mpp = scale_from_line(length_px, mm)
    return mpp, save_scale(dataset, mpp)
