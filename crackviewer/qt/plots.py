"""Shared pyqtgraph helpers of the app: pens, a title with its colour key, the house style of a plot, and
"double-click a plot to enlarge it" (a larger window with a copy of its curves)."""
from __future__ import annotations

import re

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QDialog, QVBoxLayout, QWidget


def pen(rgb, width=2.0, alpha=255, style=Qt.PenStyle.SolidLine):
    return pg.mkPen(QColor(*rgb[:3], alpha), width=width, style=style)


def hex_colour(rgb) -> str:
    return "#%02x%02x%02x" % tuple(rgb[:3])


def keyed_title(title: str, keys: list[tuple]) -> str:
    """A plot title followed by its colour key (the legend lives in the title row: it never hides a curve)."""
    head = f"<span style='font-size:10pt;font-weight:600;color:#333'>{title}</span>"
    items = [f"<span style='font-size:8.5pt;color:{hex_colour(rgb)}'>{mark}</span>"
             f"<span style='font-size:8pt;color:#555'>&nbsp;{text}</span>" for rgb, mark, text in keys]
    return head + "<br>" + "&nbsp;&nbsp;&nbsp;".join(items)


def style_plot(p: pg.PlotItem, title: str, ylabel: str, xlabel: str = "epoch") -> None:
    p.setTitle(title)
    p.showGrid(x=True, y=True, alpha=0.18)
    p.setLabel("bottom", xlabel, color="#555")
    p.setLabel("left", ylabel, color="#555")
    font = QFont()
    font.setPointSizeF(8.5)
    for side in ("left", "bottom", "right"):
        ax = p.getAxis(side)
        ax.setTickFont(font)
        ax.setPen(pg.mkPen("#888"))
        ax.setTextPen(pg.mkPen("#444"))
        ax.enableAutoSIPrefix(False)
        ax.setStyle(maxTickLevel=1)  # major + minor grid only: the sub-minor grid costs ~15 ms per full repaint
    p.setMenuEnabled(True)
    p.vb.setMouseEnabled(x=True, y=True)


def set_log_y(p: pg.PlotItem, on: bool) -> None:
    """Log or linear y axis. On a log axis only the decades carry labels (the minor labels 2..9 overlap)."""
    p.setLogMode(y=on)
    p.getAxis("left").setStyle(maxTickLevel=0 if on else 1)


_DATA_OPTS = ("pen", "symbol", "symbolSize", "symbolBrush", "symbolPen", "fillLevel", "fillBrush", "name")


def copy_plot(src: pg.PlotItem, dst: pg.PlotItem) -> None:
    """Copy the visible curves, title, axis labels and log mode of one plot into another."""
    dst.setTitle(src.titleLabel.text)
    for side in ("left", "bottom"):
        dst.setLabel(side, src.getAxis(side).labelText, color="#555")
    log_y = bool(src.ctrl.logYCheck.isChecked())
    for item in src.listDataItems():
        if not item.isVisible() or not isinstance(item, pg.PlotDataItem):
            continue
        x, y = item.getOriginalDataset()
        if x is None or y is None:
            continue
        opts = {k: item.opts[k] for k in _DATA_OPTS if k in item.opts}
        dst.addItem(pg.PlotDataItem(x, y, **opts))
    dst.showGrid(x=True, y=True, alpha=0.18)
    dst.setLogMode(y=log_y)
    dst.getAxis("left").setStyle(maxTickLevel=0 if log_y else 1)
    dst.vb.setXRange(*src.vb.viewRange()[0], padding=0)


class EnlargedPlot(QDialog):
    """A larger, resizable window with a copy of one plot (opened by a double-click on the plot)."""

    def __init__(self, src: pg.PlotItem, parent: QWidget | None = None):
        super().__init__(parent)
        first = re.search(r">([^<]+)<", src.titleLabel.text or "")       # the title, without its colour key
        self.setWindowTitle(first.group(1).strip() if first else (src.titleLabel.text or "Plot"))
        self.setObjectName("enlargedPlot")
        lay = QVBoxLayout(self)
        self.view = pg.PlotWidget(background="w")
        lay.addWidget(self.view)
        copy_plot(src, self.view.getPlotItem())
        self.resize(900, 600)


def enlarge_on_double_click(widget: pg.GraphicsView, plots: list[pg.PlotItem], owner: QWidget) -> None:
    """A double-click on any of `plots` opens it in an EnlargedPlot (kept in owner.enlarged)."""
    owner.enlarged = []

    def clicked(ev):
        if not ev.double():
            return
        for p in plots:
            if p.sceneBoundingRect().contains(ev.scenePos()):
                dlg = EnlargedPlot(p, owner)
                owner.enlarged.append(dlg)
                dlg.show()
                ev.accept()
                return

    widget.scene().sigMouseClicked.connect(clicked)
