"""Plot and figure builders shared by the app and the offscreen report render (figures.render), so that the
report's PNGs and the app's views look alike.

Plots are pyqtgraph `PlotWidget`s (white background, dark text, colours from `figures.colors`); figures that
are pictures (the architecture diagram, the per-sample Dice panel) are drawn with QPainter on a QImage.
A QApplication (or QGuiApplication for the QImage ones) must exist before calling any builder.

    w = roc_plot(fpr, tpr, auc=0.998, point=[(fpr_at_t, tpr_at_t, "thr 0.41 (test)")])
    save_widget_png(w, "ROC.png")
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Iterable, Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QImage, QPen
from PySide6.QtWidgets import QApplication, QWidget
import numpy as np
import pyqtgraph as pg

from figures import colors


FONT_FAMILY = "DejaVu Sans"
TEXT = "#222222"
AXIS = "#555555"
GRID_ALPHA = 0.15
DEFAULT_SIZE = (800, 600)
TOTAL = (34, 34, 34)          # total loss: near-black
SEG = colors.CURVE_A          # segmentation: blue
DEC = colors.CURVE_B          # decision: vermillion
VAL = colors.WIN              # validation AP: bluish green
POINT = colors.FP             # operating points: orange


def font(pt: float, bold: bool = False) -> QFont:
    f = QFont(FONT_FAMILY)
    f.setPointSizeF(pt)
    f.setBold(bold)
    return f


def _pen(rgb: Sequence[int], width: float = 2.5, style: Qt.PenStyle = Qt.SolidLine) -> QPen:
    p = pg.mkPen(QColor(*rgb), width=width)
    if style == Qt.DashLine:
        p.setDashPattern([4.0, 2.5])  # in pen widths: clearly dashed at 2-3 px
    else:
        p.setStyle(style)
    p.setCosmetic(True)
    return p


def _lighter(rgb: Sequence[int], f: float = 0.4) -> tuple[int, int, int]:
    """rgb blended towards white by f."""
    return tuple(int(round(c + (255 - c) * f)) for c in rgb[:3])


def new_plot(title: str, xlabel: str, ylabel: str, size: tuple[int, int] = DEFAULT_SIZE,
             legend: bool = True, parent: QWidget | None = None) -> pg.PlotWidget:
    """A white PlotWidget with a title, axis labels, a light grid and (optionally) a legend in the top right."""
    w = pg.PlotWidget(parent=parent, background="w")
    style_plot(w, title, xlabel, ylabel, size, legend)
    return w


def style_axes(pi: pg.PlotItem, title: str, xlabel: str, ylabel: str, *, title_pt: float = 15, label_pt: float = 12,
               left_width: int = 62, axes: Sequence[str] = ("left", "bottom", "right", "top")) -> None:
    """The shared look of a plot's title, axes, labels and grid."""
    pi.setTitle(f"<b>{title}</b>", color=TEXT, size=f"{title_pt:g}pt")
    for name in axes:
        ax = pi.getAxis(name)
        ax.setPen(pg.mkPen(AXIS))
        ax.setTextPen(pg.mkPen(TEXT))
        ax.setTickFont(font(10.5))
        ax.enableAutoSIPrefix(False)
    style = {"color": TEXT, "font-size": f"{label_pt:g}pt"}
    pi.setLabel("bottom", xlabel, **style)
    pi.setLabel("left", ylabel, **style)
    pi.showGrid(x=True, y=True, alpha=GRID_ALPHA)
    pi.getAxis("left").setWidth(left_width)


def style_plot(w: pg.PlotWidget, title: str, xlabel: str, ylabel: str, size: tuple[int, int] = DEFAULT_SIZE,
               legend: bool = True, legend_offset: tuple[int, int] = (-12, 12)) -> None:
    """Apply the shared look (title, dark axes, labels, grid, legend) to a PlotWidget."""
    w.setBackground("w")
    w.resize(*size)
    pi = w.getPlotItem()
    style_axes(pi, title, xlabel, ylabel)
    pi.getAxis("bottom").setHeight(46)
    pi.layout.setContentsMargins(8, 6, 14, 8)
    if legend and pi.legend is None:
        lg = pi.addLegend(offset=legend_offset, labelTextColor=TEXT, labelTextSize="11pt",
                          brush=pg.mkBrush(255, 255, 255, 225), pen=pg.mkPen(200, 200, 200))
        lg.setZValue(100)


def _points(pi: pg.PlotItem, point: Any, x_first: bool = True) -> None:
    """Mark operating points: (x, y) or (x, y, label), or a list of those."""
    if point is None:
        return
    pts = [point] if (len(point) in (2, 3) and np.isscalar(point[0])) else list(point)
    symbols = ["o", "s", "t", "d"]
    for i, pt in enumerate(pts):
        x, y = float(pt[0]), float(pt[1])
        label = pt[2] if len(pt) > 2 else None
        rgb = POINT if i == 0 else colors.FN
        sp = pg.ScatterPlotItem([x], [y], symbol=symbols[i % 4], size=13, pen=pg.mkPen(TEXT, width=1.5),
                                brush=pg.mkBrush(*rgb), name=label)
        pi.addItem(sp)  # a named item joins the legend by itself


def roc_plot(fpr: Sequence[float], tpr: Sequence[float], auc: float | None, point: Any = None,
             size: tuple[int, int] = DEFAULT_SIZE, parent: QWidget | None = None) -> pg.PlotWidget:
    """ROC curve with the chance diagonal; `point` = operating point(s) (fpr, tpr[, label])."""
    title = f"ROC (AUC = {auc:.4f})" if auc is not None else "ROC (AUC undefined: one class)"
    w = new_plot(title, "False positive rate", "True positive rate", size=size, parent=parent)
    pi = w.getPlotItem()
    pi.plot([0, 1], [0, 1], pen=_pen((150, 150, 150), 1.5, Qt.DashLine))
    if len(fpr):
        pi.plot(np.asarray(fpr, float), np.asarray(tpr, float), pen=_pen(colors.CURVE_A, 3),
                name="ROC" if auc is None else f"AUC {auc:.4f}")
    _points(pi, point)
    pi.setXRange(0, 1, padding=0.02)
    pi.setYRange(0, 1, padding=0.02)
    if pi.legend is not None:
        pi.legend.setOffset((-12, -12))  # bottom right: the curve is top left
    return w


def pr_plot(recall: Sequence[float], precision: Sequence[float], ap: float | None, point: Any = None,
            size: tuple[int, int] = DEFAULT_SIZE, parent: QWidget | None = None) -> pg.PlotWidget:
    """Precision-recall curve; `point` = operating point(s) (recall, precision[, label])."""
    title = f"Precision-recall (AP = {ap:.4f})" if ap is not None else "Precision-recall (AP undefined: one class)"
    w = new_plot(title, "Recall", "Precision", size=size, parent=parent)
    pi = w.getPlotItem()
    if len(recall):
        pi.plot(np.asarray(recall, float), np.asarray(precision, float), pen=_pen(colors.CURVE_A, 3),
                name="PR" if ap is None else f"AP {ap:.4f}")
    _points(pi, point)
    pi.setXRange(0, 1, padding=0.02)
    pi.setYRange(0, 1, padding=0.02)
    if pi.legend is not None:
        pi.legend.setOffset((12, -12))  # bottom left: the curve is top right
    return w


def _col(rows: list[dict], key: str) -> np.ndarray:
    return np.array([float(r.get(key, math.nan)) if r.get(key) is not None else math.nan for r in rows], float)


def _curve(pi: pg.PlotItem, x: np.ndarray, y: np.ndarray, rgb, name: str | None, width: float = 2.5,
           style: Qt.PenStyle = Qt.SolidLine, symbol: str | None = "o", vb: pg.ViewBox | None = None):
    ok = ~np.isnan(y)
    x, y = x[ok], y[ok]
    if len(x) == 0:
        return None
    sym = symbol if len(x) <= 60 else None
    item = pg.PlotDataItem(x, y, pen=_pen(rgb, width, style), symbol=sym, symbolSize=7,
                           symbolBrush=pg.mkBrush(*rgb), symbolPen=pg.mkPen(*rgb), name=name)
    (vb or pi).addItem(item)
    if vb is not None and name and pi.legend is not None:
        pi.legend.addItem(item, name)
    return item


LOSS_TITLES = {"loss": ("Total loss", TOTAL, "val_loss"), "loss_seg": ("Segmentation loss", SEG, "val_loss_seg"),
               "loss_dec": ("Decision loss", DEC, "val_loss_dec")}


def _epoch_axis(pi: pg.PlotItem, x: np.ndarray) -> None:
    if len(x):
        lo, hi = float(np.nanmin(x)), float(np.nanmax(x))
        pi.setXRange(min(lo, 1.0) - 0.3 if hi - lo < 3 else lo, hi + (0.3 if hi - lo < 3 else 0), padding=0.02)
        if hi - lo <= 15:
            pi.getAxis("bottom").setTickSpacing(major=max(1.0, float(math.ceil((hi - lo + 1) / 10))), minor=1.0)


def _top_legend(pi: pg.PlotItem, ys: list[np.ndarray], unit_range: bool = False, headroom: float = 0.14,
                vb2: pg.ViewBox | None = None) -> None:
    """One-row legend centred at the top, above the data: the y range gets headroom so no curve runs under it.
    unit_range: the data are scores in 0..1 (ticks stay 0..1). vb2: a right-axis ViewBox with AP in 0..1."""
    lg = pi.legend
    if lg is not None and lg.items:
        lg.setColumnCount(len(lg.items))
        lg.anchor(itemPos=(0.5, 0), parentPos=(0.5, 0), offset=(0, 6))
    unit_ticks = [[(v, f"{v:.1f}") for v in np.linspace(0, 1, 6)]]
    if unit_range:
        pi.setYRange(0, 1 + headroom + 0.04, padding=0)
        pi.getAxis("left").setTicks(unit_ticks)
    else:
        vals = np.concatenate([y[~np.isnan(y)] for y in ys]) if ys else np.array([])
        if len(vals):
            lo, hi = float(vals.min()), float(vals.max())
            span = (hi - lo) or max(abs(hi), 1e-3)
            pi.setYRange(lo - 0.05 * span, hi + (headroom + 0.04) * span, padding=0)
    if vb2 is not None:
        vb2.setYRange(0, 1 + headroom + 0.04, padding=0)
        pi.getAxis("right").setTicks(unit_ticks)


def loss_plot(losses: list[dict], which: str = "loss", validation: list[dict] | None = None,
              size: tuple[int, int] = DEFAULT_SIZE, parent: QWidget | None = None) -> pg.PlotWidget:
    """One loss per epoch (losses.csv rows): which = loss | loss_seg | loss_dec. With validation rows that carry
    val_<which>, the validation loss is drawn dashed. The total training loss is λ-weighted ((1-λ)·seg + λ·δ·dec)
    while the validation total is not, so for ``loss`` the validation curve gets its own, labelled right axis."""
    if which not in LOSS_TITLES:
        raise ValueError(f"which must be one of {', '.join(LOSS_TITLES)}")
    title, rgb, vkey = LOSS_TITLES[which]
    x = _col(losses, "epoch")
    y = _col(losses, which)
    vy = _col(validation or [], vkey)
    has_val = bool(validation) and bool(np.any(~np.isnan(vy)))
    if which == "loss" and has_val:
        w = _TwinAxisPlot(parent=parent, background="w")
        style_plot(w, title, "Epoch", "Training loss (λ-weighted)", size)
        pi = w.getPlotItem()
        _curve(pi, x, y, rgb, "train (λ-weighted, left axis)")
        vx = _col(validation, "epoch")
        ok = ~np.isnan(vy)
        lo, hi = float(vy[ok].min()), float(vy[ok].max())
        span = (hi - lo) or max(abs(hi), 1e-3)
        vb2 = w.setup_right("Validation loss (unweighted seg + dec)", (lo - 0.05 * span, hi + 0.22 * span))
        _curve(pi, vx, vy, VAL, "validation (unweighted, right axis)", 2.5, Qt.DashLine, "s", vb=vb2)
        _epoch_axis(pi, x)
        _top_legend(pi, [y])
        vb2.setYRange(lo - 0.05 * span, hi + 0.22 * span, padding=0)
        return w
    w = new_plot(title, "Epoch", "Loss", size=size, parent=parent)
    pi = w.getPlotItem()
    _curve(pi, x, y, rgb, "train")
    ys = [y]
    if has_val:
        _curve(pi, _col(validation, "epoch"), vy, _lighter(rgb, 0.35), "validation", 2.5, Qt.DashLine, "s")
        ys.append(vy)
    _epoch_axis(pi, x)
    _top_legend(pi, ys)
    return w


class _TwinAxisPlot(pg.PlotWidget):
    """A PlotWidget with a second ViewBox on the right axis (kept aligned with the main one)."""

    def setup_right(self, label: str, y_range: tuple[float, float]) -> pg.ViewBox:
        pi = self.getPlotItem()
        self.vb2 = pg.ViewBox()
        pi.showAxis("right")
        pi.scene().addItem(self.vb2)
        ax = pi.getAxis("right")
        ax.linkToView(self.vb2)
        ax.setLabel(label, color=TEXT, **{"font-size": "12pt"})
        ax.setWidth(58)
        ax.enableAutoSIPrefix(False)
        self.vb2.setXLink(pi)
        self.vb2.setYRange(*y_range, padding=0)
        self.vb2.setMouseEnabled(x=False, y=False)
        pi.vb.sigResized.connect(self._sync)
        self._sync()
        return self.vb2

    def _sync(self) -> None:
        pi = self.getPlotItem()
        self.vb2.setGeometry(pi.vb.sceneBoundingRect())
        self.vb2.linkedViewChanged(pi.vb, self.vb2.XAxis)


def loss_val_plot(losses: list[dict], validation: list[dict], size: tuple[int, int] = DEFAULT_SIZE,
                  parent: QWidget | None = None) -> pg.PlotWidget:
    """Total, segmentation and decision loss per epoch (left axis) and validation AP (right axis, 0-1)."""
    w = _TwinAxisPlot(parent=parent, background="w")
    style_plot(w, "Losses and validation AP", "Epoch", "Loss", size)
    pi = w.getPlotItem()
    x = _col(losses, "epoch")
    ys = [_col(losses, k) for k in ("loss", "loss_seg", "loss_dec")]
    for y, rgb, name in zip(ys, (TOTAL, SEG, DEC), ("total loss", "segmentation loss", "decision loss")):
        _curve(pi, x, y, rgb, name)
    vb2 = w.setup_right("Validation AP", (0.0, 1.0))
    if validation:
        _curve(pi, _col(validation, "epoch"), _col(validation, "ap"), VAL, "validation AP", 2.5, Qt.DashLine, "s",
               vb=vb2)
    _epoch_axis(pi, x if len(x) else _col(validation or [], "epoch"))
    _top_legend(pi, ys, headroom=0.22, vb2=vb2)
    return w


def dice_iou_plot(validation: list[dict], size: tuple[int, int] = DEFAULT_SIZE,
                  parent: QWidget | None = None) -> pg.PlotWidget:
    """Validation mean Dice and IoU per validation epoch, with a ±std band."""
    w = new_plot("Validation Dice and IoU", "Epoch", "Score", size=size, parent=parent)
    pi = w.getPlotItem()
    x = _col(validation, "epoch")
    # distinct band styles that do not mix where they overlap: Dice a light solid fill, IoU a light hatching with
    # dotted edges (two translucent fills blend into brown)
    for key, rgb, name, hatch in (("dice", SEG, "Dice", False), ("iou", DEC, "IoU", True)):
        m, s = _col(validation, f"{key}_mean"), _col(validation, f"{key}_std")
        ok = ~np.isnan(m)
        if ok.sum() >= 2 and np.any(~np.isnan(s[ok])):
            sd = np.nan_to_num(s[ok])
            edge = _pen(_lighter(rgb, 0.3), 1.2, Qt.DotLine) if hatch else pg.mkPen(None)
            lo = pg.PlotDataItem(x[ok], np.clip(m[ok] - sd, 0, 1), pen=edge)
            hi = pg.PlotDataItem(x[ok], np.clip(m[ok] + sd, 0, 1), pen=edge)
            if hatch:
                brush = pg.mkBrush(QColor(*_lighter(rgb, 0.25)))
                brush.setStyle(Qt.BDiagPattern)
            else:
                brush = pg.mkBrush(*_lighter(rgb, 0.75), 110)
            band = pg.FillBetweenItem(lo, hi, brush=brush)
            band.setZValue(-10 if not hatch else -5)
            pi.addItem(lo)
            pi.addItem(hi)
            pi.addItem(band)
        _curve(pi, x, m, rgb, f"{name} (mean ± std band)")
    _epoch_axis(pi, x)
    _top_legend(pi, [], unit_range=True)
    return w


# --------------------------------------------------------------------------------------- saving
def render_widget(widget: QWidget, size: tuple[int, int] = DEFAULT_SIZE) -> QImage:
    """The widget drawn offscreen at `size` (no window is shown)."""
    widget.resize(*size)
    widget.setAttribute(Qt.WA_DontShowOnScreen, True)
    widget.show()  # lays out and sends resize events; invisible with WA_DontShowOnScreen
    app = QApplication.instance()
    if app is not None:
        app.processEvents()
    if isinstance(widget, _TwinAxisPlot):
        widget._sync()
    img = widget.grab().toImage()
    widget.hide()
    return img


def save_widget_png(widget: QWidget, path: str | Path, size: tuple[int, int] = DEFAULT_SIZE) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img = render_widget(widget, size)
    if not img.save(str(path), "PNG"):
        raise OSError(f"{path}: could not write PNG")
    return path


def ensure_app(argv: Iterable[str] | None = None) -> QApplication:
    """The running QApplication, or a new one."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(list(argv or ["crackviewer"]))
    return app
