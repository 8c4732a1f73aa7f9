"""The look of Inspect's small plots (pyqtgraph): pens, axes, titles, operating-point markers."""
from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont

from figures import colors

TEXT = "#222222"
AXIS = "#666666"
POINT = colors.FP           # operating point: orange (as in the report figures)
CURVE = colors.CURVE_A      # blue
IOU_CURVE = (150, 150, 150)


def _pen(rgb, width=2.0, style=Qt.SolidLine, alpha=255):
    p = pg.mkPen(QColor(*rgb[:3], alpha), width=width)
    p.setStyle(style)
    p.setCosmetic(True)
    return p


def _style(pi: pg.PlotItem, title: str, xlabel: str, ylabel: str) -> None:
    pi.setTitle(f"<span style='font-size:9pt;font-weight:600;color:{TEXT}'>{title}</span>")
    font = QFont()
    font.setPointSizeF(8)
    for side in ("left", "bottom"):
        ax = pi.getAxis(side)
        ax.setPen(pg.mkPen(AXIS))
        ax.setTextPen(pg.mkPen("#444"))
        ax.setTickFont(font)
        ax.enableAutoSIPrefix(False)
    pi.getAxis("left").setWidth(40)
    pi.getAxis("bottom").setHeight(28)
    style = {"color": "#444", "font-size": "8pt"}
    pi.setLabel("bottom", xlabel, **style)
    pi.setLabel("left", ylabel, **style)
    # no grid: a grid is drawn by the axes across the whole plot, so every marker move would repaint them all
    pi.setMenuEnabled(False)
    pi.hideButtons()
    pi.vb.setMouseEnabled(x=False, y=False)
    pi.setXRange(0, 1, padding=0.03)
    pi.setYRange(0, 1, padding=0.03)
    pi.layout.setContentsMargins(2, 2, 6, 2)


def _marker() -> pg.ScatterPlotItem:
    return pg.ScatterPlotItem(size=11, symbol="o", pen=pg.mkPen(TEXT, width=1.4), brush=pg.mkBrush(*POINT))


def _move(marker: pg.ScatterPlotItem, x: float, y: float) -> None:
    marker.setData([x], [y])


def _style_title(pi: pg.PlotItem, title: str) -> None:
    pi.setTitle(f"<span style='font-size:9pt;font-weight:600;color:{TEXT}'>{title}</span>")
