"""Any small Inspect plot enlarged in a window of its own (double-click a plot): the same curves, markers and title,
with axes, grid and mouse zoom."""
from __future__ import annotations

import re

import pyqtgraph as pg
from PySide6.QtWidgets import QDialog, QVBoxLayout, QWidget

ENLARGED_SIZE = (760, 600)


def copy_items(src: pg.PlotItem, dst: pg.PlotItem) -> int:
    """Copy the data items (curves and scatter points) of ``src`` into ``dst``; returns how many."""
    n = 0
    for item in src.items:
        if isinstance(item, pg.PlotDataItem):
            x, y = item.getData()
            if x is None:
                continue
            o = item.opts
            dst.plot(x, y, pen=o.get("pen"), symbol=o.get("symbol"), symbolBrush=o.get("symbolBrush"),
                     symbolPen=o.get("symbolPen"), symbolSize=o.get("symbolSize", 7))
            n += 1
        elif isinstance(item, pg.ScatterPlotItem):
            pts = item.getData()
            if len(pts[0]):
                o = item.opts
                dst.addItem(pg.ScatterPlotItem(pts[0], pts[1], size=o.get("size", 11) + 3, symbol=o.get("symbol", "o"),
                                               pen=o.get("pen"), brush=o.get("brush")))
                n += 1
        elif isinstance(item, pg.BarGraphItem):
            o = item.opts
            dst.addItem(pg.BarGraphItem(x0=o.get("x0"), x1=o.get("x1"), height=o.get("height"), y0=o.get("y0"),
                                        brush=o.get("brush"), pen=o.get("pen")))
            n += 1
    return n


class PlotWindow(QDialog):
    """A larger copy of one plot."""

    def __init__(self, src: pg.PlotItem, parent: QWidget | None = None):
        super().__init__(parent)
        title = src.titleLabel.text or "Plot"
        self.setWindowTitle("Inspect · " + re.sub("<[^>]+>", "", title))
        self.plot = pg.PlotWidget(background="w")
        pi = self.plot.getPlotItem()
        pi.setTitle(title)
        for side in ("left", "bottom"):
            label = src.getAxis(side).labelText
            pi.setLabel(side, label, color="#444")
        pi.showGrid(x=True, y=True, alpha=0.2)
        self.n_items = copy_items(src, pi)
        (x0, x1), (y0, y1) = src.vb.viewRange()
        pi.setXRange(x0, x1, padding=0)
        pi.setYRange(y0, y1, padding=0)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addWidget(self.plot)
        self.resize(*ENLARGED_SIZE)


def enlarge_plot(src: pg.PlotItem, parent: QWidget | None = None) -> PlotWindow:
    """Open ``src`` in a larger window (non-modal) and return it."""
    w = PlotWindow(src, parent)
    w.show()
    return w
