"""Crack-metric figures for the report and the app: the calibration (reliability) diagram and the measurement
accuracy scatter (predicted vs ground-truth crack length and maximum width).

    w = reliability_plot(metrics["reliability"], ece_image=0.04, ece_pixel=0.01)
    w = measure_scatter_plot(read_csv_rows("crack_pairs.csv"), accuracy)      # a two-panel GraphicsLayoutWidget
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from figures.plots import DEC, DEFAULT_SIZE, SEG, TEXT, _pen, _top_legend, new_plot, style_axes


def _arr(v) -> np.ndarray:
    if v is None:
        return np.array([], float)
    return np.array([np.nan if x is None else float(x) for x in np.asarray(v, dtype=object).reshape(-1)], float)


def _fmt(v, spec: str = ".3f") -> str:
    return "–" if v is None else format(float(v), spec)


def reliability_plot(reliability: dict, ece_image: float | None = None, ece_pixel: float | None = None,
                     temperature: dict | None = None, size: tuple[int, int] = DEFAULT_SIZE,
                     parent: QWidget | None = None) -> pg.PlotWidget:
    """Reliability diagram: per probability bin, the observed crack fraction against the mean predicted probability,
    for image scores and for pixels (``reliability = {image: {confidence, accuracy, counts}, pixel: {...}}`` as in
    metrics.json); the diagonal is perfect calibration. Empty bins are left out; marker size grows with the bin's
    share of samples/pixels."""
    title = "Calibration (reliability diagram)"
    t = temperature or {}
    if t.get("image") is not None or t.get("pixel") is not None:
        title += f", temperature {_fmt(t.get('image'), '.2f')} / {_fmt(t.get('pixel'), '.2f')}"
    w = new_plot(title, "Predicted probability (bin mean)", "Observed crack fraction", size=size, parent=parent)
    pi = w.getPlotItem()
    pi.addItem(pg.PlotDataItem([0, 1], [0, 1], pen=_pen((150, 150, 150), 1.5, Qt.DashLine), name="perfect"))
    for key, rgb, label, ece in (("image", DEC, "image scores", ece_image), ("pixel", SEG, "pixels", ece_pixel)):
        r = (reliability or {}).get(key) or {}
        conf, acc, cnt = _arr(r.get("confidence")), _arr(r.get("accuracy")), _arr(r.get("counts"))
        ok = ~np.isnan(conf) & ~np.isnan(acc)
        if not ok.any():
            continue
        share = cnt[ok] / max(np.nansum(cnt), 1.0)
        sizes = 6 + 14 * np.sqrt(share)
        item = pg.PlotDataItem(conf[ok], acc[ok], pen=_pen(rgb, 2.0), symbol="o" if key == "pixel" else "s",
                               symbolSize=sizes, symbolBrush=pg.mkBrush(*rgb), symbolPen=pg.mkPen(*rgb),
                               name=f"{label} (ECE {_fmt(ece)})")
        pi.addItem(item)
    pi.setXRange(0, 1, padding=0.02)
    _top_legend(pi, [], unit_range=True, headroom=0.2)
    return w


def _style_item(pi: pg.PlotItem, title: str, xlabel: str, ylabel: str) -> None:
    style_axes(pi, title, xlabel, ylabel, title_pt=13, label_pt=11, left_width=56, axes=("left", "bottom"))


def measure_scatter_plot(pairs: Sequence[dict], accuracy: dict | None = None, unit: str = "px",
                         size: tuple[int, int] = DEFAULT_SIZE, parent: QWidget | None = None) -> QWidget:
    """Two panels, one point per matched crack group (``crack_pairs.csv`` rows, in px): predicted against
    ground-truth length, and predicted against ground-truth maximum width; the dashed diagonal is a perfect
    measurement; each title gives the mean absolute error (``accuracy``, accuracy.json), in mm too with a scale."""
    a = accuracy or {}
    w = pg.GraphicsLayoutWidget(parent=parent)
    w.setBackground("w")
    w.resize(*size)
    w.ci.layout.setContentsMargins(8, 8, 14, 8)
    head = w.addLabel(f"<b>Measurement accuracy: {len(pairs)} matched crack groups</b>", color=TEXT, size="13pt",
                      colspan=2)
    head.setMaximumHeight(34)
    w.nextRow()
    for key, rgb, what, mae_px, mae_mm in (
            ("length", SEG, "Length", a.get("length_mae_px"), a.get("length_mae_mm")),
            ("width_max", DEC, "Max width", a.get("width_max_mae_px"), a.get("width_max_mae_mm"))):
        gt = np.array([float(p[f"gt_{key}_px"]) for p in pairs], float)
        pr = np.array([float(p[f"pred_{key}_px"]) for p in pairs], float)
        pi = w.addPlot()
        mae = f"MAE {_fmt(mae_px, '.2f')} px" + (f" = {_fmt(mae_mm, '.3f')} mm" if mae_mm is not None else "")
        _style_item(pi, f"{what}: {mae}", f"ground truth {what.lower()} (px)", f"predicted {what.lower()} (px)")
        top = max(float(np.nanmax(np.r_[gt, pr, 1.0])), 1.0) * 1.08
        pi.addItem(pg.PlotDataItem([0, top], [0, top], pen=_pen((150, 150, 150), 1.5, Qt.DashLine)))
        pi.addItem(pg.ScatterPlotItem(gt, pr, symbol="o", size=8, pen=pg.mkPen(*rgb), brush=pg.mkBrush(*rgb, 140)))
        pi.setXRange(0, top, padding=0.02)
        pi.setYRange(0, top, padding=0.02)
        pi.setAspectLocked(False)
    return w
