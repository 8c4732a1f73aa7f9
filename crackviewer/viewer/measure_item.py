"""The measurement layer of the viewer: every crack's skeleton drawn as a polyline coloured by the width at each
vertex (a colour scale from thin to wide), and the cracks wider than the width alarm outlined in red."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QLineF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem

WIDTH_COLORMAP = "viridis"
ALARM_COLOR = QColor(220, 0, 40)
N_COLORS = 64


def width_colors(n: int = N_COLORS) -> list[QColor]:
    """The colour scale of widths, thin (dark violet) to wide (yellow)."""
    lut = pg.colormap.get(WIDTH_COLORMAP).getLookupTable(nPts=n, alpha=False)
    return [QColor(int(r), int(g), int(b)) for r, g, b in lut]


class WidthSkeletonItem(QGraphicsItem):
    """Skeletons of a :class:`crackviewer.inspect.measurement.SampleMeasurement` in image coordinates."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._segments: list[list[QLineF]] = [[] for _ in range(N_COLORS)]
        self._alarm_rects: list[QRectF] = []
        self._selected: QRectF | None = None
        self._bounds = QRectF()
        self._colors = width_colors()
        self.range = (0.0, 1.0)

    def set_measurement(self, m) -> None:
        """Draw ``m`` (None clears)."""
        self.prepareGeometryChange()
        self._segments = [[] for _ in range(N_COLORS)]
        self._alarm_rects = []
        self._selected = None
        if m is None or not m.cracks:
            self._bounds = QRectF()
            self.update()
            return
        lo, hi = m.width_range()
        self.range = (lo, hi)
        k = m._k()
        sx, sy = m.to_image
        for c, row in zip(m.cracks, m.rows):
            for pts, ws in zip(c.paths, c.path_widths):
                if len(pts) < 2:
                    continue
                xy = np.asarray(pts, dtype=np.float64) * (sx, sy)
                w = np.asarray(ws, dtype=np.float64) * k
                mid = 0.5 * (w[:-1] + w[1:])
                idx = np.clip(((mid - lo) / (hi - lo) * (N_COLORS - 1)).round().astype(int), 0, N_COLORS - 1)
                for j in range(len(xy) - 1):
                    self._segments[idx[j]].append(QLineF(xy[j, 0], xy[j, 1], xy[j + 1, 0], xy[j + 1, 1]))
            if row["wide"]:
                self._alarm_rects.append(QRectF(*row["bbox"]).adjusted(-3, -3, 3, 3))
        allx = [r["bbox"] for r in m.rows]
        x0 = min(b[0] for b in allx) - 6
        y0 = min(b[1] for b in allx) - 6
        x1 = max(b[0] + b[2] for b in allx) + 6
        y1 = max(b[1] + b[3] for b in allx) + 6
        self._bounds = QRectF(x0, y0, x1 - x0, y1 - y0)
        self.update()

    def select(self, bbox) -> None:
        """Outline one crack (its bbox in image pixels), None for none."""
        self._selected = None if bbox is None else QRectF(*bbox).adjusted(-4, -4, 4, 4)
        self.update()

    def segment_count(self) -> int:
        return sum(len(s) for s in self._segments)

    def boundingRect(self) -> QRectF:
        return self._bounds

    def paint(self, painter: QPainter, option, widget=None) -> None:
        painter.setRenderHint(QPainter.Antialiasing, True)
        for color, lines in zip(self._colors, self._segments):
            if lines:
                pen = QPen(color, 3.0)
                pen.setCosmetic(True)
                pen.setCapStyle(Qt.RoundCap)
                painter.setPen(pen)
                painter.drawLines(lines)
        if self._alarm_rects:
            pen = QPen(ALARM_COLOR, 2.0, Qt.DashLine)
            pen.setCosmetic(True)
            painter.setPen(pen)
            for r in self._alarm_rects:
                painter.drawRect(r)
        if self._selected is not None:
            pen = QPen(QColor(255, 255, 255), 2.0)
            pen.setCosmetic(True)
            painter.setPen(pen)
            painter.drawRect(self._selected)
