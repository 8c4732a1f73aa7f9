"""Plot and figure builders shared by the app and the offscreen report render (crackviewer.render), so that the
report's PNGs and the app's views look alike.

Plots are pyqtgraph `PlotWidget`s (white background, dark text, colours from `crackviewer.colors`); figures that
are pictures (the architecture diagram, the per-sample Dice panel) are drawn with QPainter on a QImage.
A QApplication (or QGuiApplication for the QImage ones) must exist before calling any builder.

    w = roc_plot(fpr, tpr, auc=0.998, point=[(fpr_at_t, tpr_at_t, "thr 0.41 (test)")])
    save_widget_png(w, "ROC.png")
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetrics, QImage, QPainter, QPainterPath, QPen, QPolygonF
from PySide6.QtWidgets import QApplication, QWidget

from crackviewer import colors
from crackviewer.qimage import array_to_qimage

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


def _font(pt: float, bold: bool = False) -> QFont:
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


def style_plot(w: pg.PlotWidget, title: str, xlabel: str, ylabel: str, size: tuple[int, int] = DEFAULT_SIZE,
               legend: bool = True, legend_offset: tuple[int, int] = (-12, 12)) -> None:
    """Apply the shared look (title, dark axes, labels, grid, legend) to a PlotWidget."""
    w.setBackground("w")
    w.resize(*size)
    pi = w.getPlotItem()
    pi.setTitle(f"<b>{title}</b>", color=TEXT, size="15pt")
    for name in ("left", "bottom", "right", "top"):
        ax = pi.getAxis(name)
        ax.setPen(pg.mkPen(AXIS))
        ax.setTextPen(pg.mkPen(TEXT))
        ax.setTickFont(_font(10.5))
        ax.enableAutoSIPrefix(False)
    style = {"color": TEXT, "font-size": "12pt"}
    pi.setLabel("bottom", xlabel, **style)
    pi.setLabel("left", ylabel, **style)
    pi.showGrid(x=True, y=True, alpha=GRID_ALPHA)
    pi.getAxis("left").setWidth(62)
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
    val_<which>, the validation loss is drawn dashed."""
    if which not in LOSS_TITLES:
        raise ValueError(f"which must be one of {', '.join(LOSS_TITLES)}")
    title, rgb, vkey = LOSS_TITLES[which]
    w = new_plot(title, "Epoch", "Loss", size=size, parent=parent)
    pi = w.getPlotItem()
    x = _col(losses, "epoch")
    y = _col(losses, which)
    _curve(pi, x, y, rgb, "train")
    ys = [y]
    if validation:
        vy = _col(validation, vkey)
        if np.any(~np.isnan(vy)):
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
    _top_legend(pi, ys, vb2=vb2)
    return w


def dice_iou_plot(validation: list[dict], size: tuple[int, int] = DEFAULT_SIZE,
                  parent: QWidget | None = None) -> pg.PlotWidget:
    """Validation mean Dice and IoU per validation epoch, with a ±std band."""
    w = new_plot("Validation Dice and IoU", "Epoch", "Score", size=size, parent=parent)
    pi = w.getPlotItem()
    x = _col(validation, "epoch")
    for key, rgb, name in (("dice", SEG, "Dice"), ("iou", DEC, "IoU")):
        m, s = _col(validation, f"{key}_mean"), _col(validation, f"{key}_std")
        ok = ~np.isnan(m)
        if ok.sum() >= 2 and np.any(~np.isnan(s[ok])):
            sd = np.nan_to_num(s[ok])
            lo = pg.PlotDataItem(x[ok], np.clip(m[ok] - sd, 0, 1))
            hi = pg.PlotDataItem(x[ok], np.clip(m[ok] + sd, 0, 1))
            band = pg.FillBetweenItem(lo, hi, brush=pg.mkBrush(*rgb, 38))
            pi.addItem(band)
        _curve(pi, x, m, rgb, f"{name} (mean ± std)")
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


# --------------------------------------------------------------------------------------- architecture figure
ROLE_COLOURS = {
    "input/output": (170, 170, 170),
    "encoder": colors.CURVE_A,
    "decoder": colors.PRED,
    "decision": colors.WIN,
    "other": colors.FP,
}


def _role(row: dict) -> str:
    name, typ = str(row.get("name", "")).lower(), str(row.get("type", "")).lower()
    if typ in ("input", "output") or name in ("input", "output", "cls_logit", "seg_logits"):
        return "input/output"
    if any(k in name for k in ("decision", "fc", "pool", "cls")) or typ in ("linear",):
        return "decision"
    if any(k in name for k in ("up", "head", "dec", "seg")):
        return "decoder"
    if any(k in name for k in ("stage", "enc", "conv", "block", "layer")):
        return "encoder"
    return "other"


def _dims(shape: Any) -> tuple[int, ...]:
    """Drop the batch dimension: (1, C, H, W) -> (C, H, W); (1, 1) -> (1,); (1,) -> (1,)."""
    if shape is None:
        return ()
    s = tuple(int(v) for v in shape)
    return s[1:] if len(s) >= 2 else s


def _fmt_params(n: int) -> str:
    if n <= 0:
        return "no parameters"
    if n < 1000:
        return f"{n} params"
    if n < 1_000_000:
        return f"{n / 1000:.1f} k params"
    return f"{n / 1e6:.2f} M params"


def architecture_figure(summary_rows: list[dict], title: str | None = None, subtitle: str | None = None) -> QImage:
    """The model's stages, in execution order, as boxes: height ∝ √(spatial size), width ∝ log(channels), coloured
    by role (encoder, decoder, decision, input/output); under each its name, type, output shape and parameters.
    Rows are `trainer.model.model_summary()` dicts: name, type, out_shape, params."""
    rows = list(summary_rows)
    n = len(rows)
    if n == 0:
        raise ValueError("architecture_figure: no rows")
    dims = [_dims(r.get("out_shape")) for r in rows]
    hs = [d[1] if len(d) >= 3 else 1 for d in dims]
    cs = [d[0] if len(d) >= 1 else 1 for d in dims]
    hmax, cmax = max(hs + [2]), max(cs + [2])
    per_row = n if n <= 8 else math.ceil(n / 2)
    n_lines = math.ceil(n / per_row)
    col_w, box_area, text_h, gap = 158, 190, 86, 34
    margin, head_h, legend_h = 26, 78 if subtitle else 56, 44
    width = margin * 2 + per_row * col_w + (14 if n_lines > 1 else 0)
    height = head_h + n_lines * (box_area + text_h) + (n_lines - 1) * gap + legend_h + margin
    img = QImage(width, height, QImage.Format_RGB32)
    img.fill(QColor("white"))
    p = QPainter(img)
    p.setRenderHint(QPainter.Antialiasing, True)
    p.setRenderHint(QPainter.TextAntialiasing, True)
    total = sum(int(r.get("params", 0) or 0) for r in rows)
    p.setPen(QColor(TEXT))
    p.setFont(_font(16, True))
    p.drawText(QRectF(margin, 10, width - 2 * margin, 32), Qt.AlignLeft | Qt.AlignVCenter,
               title or f"Model architecture: {total:,} parameters")
    if subtitle:
        p.setFont(_font(11))
        p.setPen(QColor(90, 90, 90))
        p.drawText(QRectF(margin, 42, width - 2 * margin, 24), Qt.AlignLeft | Qt.AlignVCenter, subtitle)
    boxes: list[QRectF] = []
    for i, r in enumerate(rows):
        line, col = divmod(i, per_row)
        x0 = margin + col * col_w
        y0 = head_h + line * (box_area + text_h + gap)
        bh = 22 + (box_area - 30) * math.sqrt(hs[i] / hmax)
        bw = 18 + 92 * math.log2(cs[i] + 1) / math.log2(cmax + 1)
        rect = QRectF(x0 + (col_w - bw) / 2, y0 + (box_area - bh) / 2, bw, bh)
        boxes.append(rect)
        rgb = ROLE_COLOURS[_role(r)]
        p.setPen(QPen(QColor(*rgb).darker(140), 1.6))
        p.setBrush(QBrush(QColor(*rgb, 200)))
        p.drawRoundedRect(rect, 5, 5)
        ty = y0 + box_area + 2
        p.setPen(QColor(TEXT))
        p.setFont(_font(10.5, True))
        fm = QFontMetrics(p.font())
        p.drawText(QRectF(x0, ty, col_w, 20), Qt.AlignHCenter | Qt.AlignTop,
                   fm.elidedText(str(r.get("name", "")), Qt.ElideRight, col_w - 6))
        p.setFont(_font(9.5))
        fm = QFontMetrics(p.font())
        p.setPen(QColor(90, 90, 90))
        p.drawText(QRectF(x0, ty + 19, col_w, 18), Qt.AlignHCenter | Qt.AlignTop,
                   fm.elidedText(str(r.get("type", "")), Qt.ElideRight, col_w - 6))
        p.setPen(QColor(TEXT))
        shape = "×".join(str(v) for v in dims[i]) or "?"
        p.drawText(QRectF(x0, ty + 36, col_w, 18), Qt.AlignHCenter | Qt.AlignTop, shape)
        p.drawText(QRectF(x0, ty + 53, col_w, 18), Qt.AlignHCenter | Qt.AlignTop,
                   _fmt_params(int(r.get("params", 0) or 0)))
    # arrows
    p.setPen(QPen(QColor(110, 110, 110), 1.6))
    p.setBrush(QBrush(QColor(110, 110, 110)))
    for i in range(n - 1):
        a, b = boxes[i], boxes[i + 1]
        if (i + 1) % per_row:
            y = head_h + (i // per_row) * (box_area + text_h + gap) + box_area / 2
            _arrow(p, [QPointF(a.right() + 3, y), QPointF(b.left() - 3, y)])
        else:  # wrap to the next line: elbow down the right margin, back left above the next line
            y = head_h + (i // per_row) * (box_area + text_h + gap) + box_area / 2
            y_next = y + box_area + text_h + gap
            x_right = margin + per_row * col_w + 6
            y_mid = y + box_area / 2 + text_h + gap / 2 - 4
            x_left = margin + 6
            _arrow(p, [QPointF(a.right() + 3, y), QPointF(x_right, y), QPointF(x_right, y_mid),
                       QPointF(x_left, y_mid), QPointF(x_left, y_next), QPointF(b.left() - 3, y_next)])
    # legend
    ly = height - legend_h - margin / 2 + 8
    x = margin
    p.setFont(_font(10.5))
    fm = QFontMetrics(p.font())
    used = [k for k in ROLE_COLOURS if any(_role(r) == k for r in rows)]
    for role in used:
        rgb = ROLE_COLOURS[role]
        p.setPen(QPen(QColor(*rgb).darker(140), 1.2))
        p.setBrush(QBrush(QColor(*rgb, 200)))
        p.drawRoundedRect(QRectF(x, ly + 4, 18, 14), 3, 3)
        p.setPen(QColor(TEXT))
        p.drawText(QPointF(x + 24, ly + 16), role)
        x += 24 + fm.horizontalAdvance(role) + 22
    p.setPen(QColor(110, 110, 110))
    p.drawText(QPointF(x + 10, ly + 16),
               "execution order; box height ∝ √(spatial size), width ∝ log(channels); shapes C×H×W")
    p.end()
    return img


def _arrow(p: QPainter, pts: list[QPointF]) -> None:
    path = QPainterPath(pts[0])
    for q in pts[1:]:
        path.lineTo(q)
    p.save()
    p.setBrush(Qt.NoBrush)
    p.drawPath(path)
    p.restore()
    a, b = pts[-2], pts[-1]
    dx, dy = b.x() - a.x(), b.y() - a.y()
    ln = math.hypot(dx, dy) or 1.0
    ux, uy = dx / ln, dy / ln
    s = 8.0
    head = QPolygonF([b, QPointF(b.x() - s * ux + s * 0.5 * uy, b.y() - s * uy - s * 0.5 * ux),
                      QPointF(b.x() - s * ux - s * 0.5 * uy, b.y() - s * uy + s * 0.5 * ux)])
    p.drawPolygon(head)


# --------------------------------------------------------------------------------------- dice panel
def predicted_mask(prob: np.ndarray, threshold: float, bins: int = 4096) -> np.ndarray:
    """bool mask with the contract's rule (as trainer.metrics): crack when bin(p) >= k, with the threshold snapped
    up to its bin edge, k = ceil(threshold * B), and bin(p) = min(int(p * B), B - 1).
    `prob` is float in [0,1] or uint8 (v/255)."""
    p = prob.astype(np.float64) / 255.0 if prob.dtype == np.uint8 else prob.astype(np.float64)
    k = int(min(max(math.ceil(float(threshold) * bins), 0), bins))
    return np.minimum((p * bins).astype(np.int64), bins - 1) >= k


def _fit(a: np.ndarray, hw: tuple[int, int], nearest: bool) -> np.ndarray:
    if a.shape[:2] == hw:
        return a
    import cv2

    interp = cv2.INTER_NEAREST if nearest else (cv2.INTER_AREA if a.shape[0] > hw[0] else cv2.INTER_LINEAR)
    return cv2.resize(a, (hw[1], hw[0]), interpolation=interp)


def dice_panel(image_rgb: np.ndarray, gt: np.ndarray, prob: np.ndarray, threshold: float, dice: float | None,
               iou: float | None, header: str | None = None, panel: int | None = None, bins: int = 4096) -> QImage:
    """Five panels of one sample: Image (caption "Threshold: t"), Groundtruth, Segmentation (probability, gray 0-1,
    caption IoU), Segmentation mask (caption Dice), Overlap (TP/FP/FN in colour-blind-safe colours, legend).

    Arrays are aligned to the probability map's size (the model input). `panel` = displayed long side in pixels
    (default: the map's size, clamped to 256..448, integer upscaling for small maps)."""
    p = prob.astype(np.float32) / 255.0 if prob.dtype == np.uint8 else np.clip(prob.astype(np.float32), 0, 1)
    if p.ndim == 3:
        p = p[..., 0]
    h, w = p.shape
    img = image_rgb
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    img = _fit(np.ascontiguousarray(img[..., :3]).astype(np.uint8), (h, w), nearest=False)
    g = _fit((np.asarray(gt) > 0).astype(np.uint8), (h, w), nearest=True) > 0
    pred = predicted_mask(prob if prob.dtype == np.uint8 else p, threshold, bins)

    gray = (img.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32))
    over = np.repeat((150 + gray * (105 / 255)).astype(np.uint8)[..., None], 3, axis=2)  # pale image
    over[g & pred] = colors.TP
    over[pred & ~g] = colors.FP
    over[g & ~pred] = colors.FN
    gt_u8 = (g * 255).astype(np.uint8)
    prob_u8 = np.round(p * 255).astype(np.uint8)
    pred_u8 = (pred * 255).astype(np.uint8)
    panels = [
        ("Image", img, f"Threshold: {threshold:.4f}", True),
        ("Groundtruth", gt_u8, f"{int(g.sum())} crack pixels", False),
        ("Segmentation", prob_u8, f"IoU: {iou:.3f}" if iou is not None else "IoU: n/a", False),
        ("Segmentation mask", pred_u8, f"Dice: {dice:.3f}" if dice is not None else "Dice: n/a", False),
        ("Overlap", over, None, False),
    ]
    long_side = max(h, w)
    if panel is None:
        panel = long_side * max(1, math.ceil(256 / long_side)) if long_side < 256 else min(long_side, 448)
    s = panel / long_side
    pw, ph = max(1, round(w * s)), max(1, round(h * s))
    gap, margin = 14, 12
    head = 30 if header else 0
    title_h, cap_h = 28, 28
    W = margin * 2 + 5 * pw + 4 * gap
    H = margin + head + title_h + ph + cap_h + margin
    out = QImage(W, H, QImage.Format_RGB32)
    out.fill(QColor("white"))
    qp = QPainter(out)
    qp.setRenderHint(QPainter.TextAntialiasing, True)
    if header:
        qp.setPen(QColor(TEXT))
        qp.setFont(_font(12, True))
        fm = QFontMetrics(qp.font())
        qp.drawText(QRectF(margin, margin - 4, W - 2 * margin, head), Qt.AlignLeft | Qt.AlignVCenter,
                    fm.elidedText(header, Qt.ElideRight, int(W - 2 * margin)))
    title_font, cap_font = _font(12, True), _font(11)
    y_img = margin + head + title_h
    for i, (title, arr, cap, smooth) in enumerate(panels):
        x = margin + i * (pw + gap)
        qp.setFont(title_font)
        qp.setPen(QColor(TEXT))
        qp.drawText(QRectF(x, margin + head, pw, title_h), Qt.AlignHCenter | Qt.AlignVCenter, title)
        qp.setRenderHint(QPainter.SmoothPixmapTransform, smooth and s < 1)
        qp.drawImage(QRectF(x, y_img, pw, ph), array_to_qimage(np.ascontiguousarray(arr)))
        qp.setPen(QPen(QColor(190, 190, 190), 1))
        qp.setBrush(Qt.NoBrush)
        qp.drawRect(QRectF(x - 0.5, y_img - 0.5, pw + 1, ph + 1))
        qp.setFont(cap_font)
        qp.setPen(QColor(TEXT))
        if cap is not None:
            qp.drawText(QRectF(x, y_img + ph, pw, cap_h), Qt.AlignHCenter | Qt.AlignVCenter, cap)
        else:  # legend under the overlap panel
            fm = QFontMetrics(cap_font)
            items = colors.ERROR_LEGEND
            total = sum(16 + 5 + fm.horizontalAdvance(lbl) + 12 for lbl, _ in items) - 12
            lx = x + (pw - total) / 2
            cy = y_img + ph + cap_h / 2
            for lbl, rgb in items:
                qp.setPen(QPen(QColor(*rgb).darker(130), 1))
                qp.setBrush(QBrush(QColor(*rgb)))
                qp.drawRect(QRectF(lx, cy - 6, 16, 12))
                qp.setPen(QColor(TEXT))
                qp.drawText(QPointF(lx + 21, cy + fm.ascent() / 2 - 1), lbl)
                lx += 16 + 5 + fm.horizontalAdvance(lbl) + 12
    qp.end()
    return out


def ensure_app(argv: Iterable[str] | None = None) -> QApplication:
    """The running QApplication, or a new one."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(list(argv or ["crackviewer"]))
    return app
