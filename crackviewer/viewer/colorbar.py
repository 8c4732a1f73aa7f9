"""A horizontal colour bar for a map overlay (probability heatmap, uncertainty, crack width): the colour scale,
its two ends and a title, painted directly."""
from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QLinearGradient, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget


class ColorBar(QWidget):
    def __init__(self, colormap: str = "inferno", title: str = "probability", lo: float = 0.0, hi: float = 1.0,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.setFixedHeight(30)
        self.setMinimumWidth(160)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        self.set_scale(colormap, title, lo, hi)

    def set_scale(self, colormap: str, title: str, lo: float, hi: float, digits: int = 2) -> None:
        self.colormap, self.title, self.lo, self.hi, self.digits = colormap, title, float(lo), float(hi), digits
        lut = pg.colormap.get(colormap).getLookupTable(nPts=16, alpha=False)
        self._stops = [QColor(int(r), int(g), int(b)) for r, g, b in lut]
        self.update()

    def text(self) -> str:
        return f"{self.title}: {self.lo:.{self.digits}f} … {self.hi:.{self.digits}f}"

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        w, h = self.width(), self.height()
        lab_w = 70
        bar = QRect(lab_w + 34, 4, max(w - lab_w - 78, 20), 12)
        g = QLinearGradient(bar.left(), 0, bar.right(), 0)
        for i, c in enumerate(self._stops):
            g.setColorAt(i / (len(self._stops) - 1), c)
        p.fillRect(bar, g)
        p.setPen(QColor(90, 96, 104))
        p.drawRect(bar.adjusted(0, 0, -1, -1))
        f = p.font()
        f.setPointSizeF(8)
        p.setFont(f)
        p.drawText(QRect(0, 0, lab_w + 30, h), Qt.AlignRight | Qt.AlignVCenter, self.title)
        p.drawText(QRect(bar.left() - 2, bar.bottom() + 1, 60, h - bar.bottom() - 1), Qt.AlignLeft | Qt.AlignTop,
                   f"{self.lo:.{self.digits}f}")
        p.drawText(QRect(bar.right() - 58, bar.bottom() + 1, 60, h - bar.bottom() - 1), Qt.AlignRight | Qt.AlignTop,
                   f"{self.hi:.{self.digits}f}")
        p.end()
