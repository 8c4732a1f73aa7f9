"""Live training curves (pyqtgraph), fed by trainer events; stays fast for long runs.

Four panels, all with the epoch on the x axis:
  1. training loss: segmentation, decision and total; per step (the mean of each reporting interval, EMA-smoothed
     with a user-set factor, raw values faint behind) and per epoch (markers);
  2. validation AP and AUC;
  3. validation Dice and IoU (mean, with a ±std band for Dice);
  4. the λ schedule: the loss weights (1−λ) for segmentation and δ·λ for the decision (right axis); planned values
     dashed as soon as the config is known, actual values as markers.

Speed: every series holds at most `MAX_POINTS` points; when full, neighbouring points are averaged pairwise and new
points are averaged in groups of the same size, so memory and draw cost stay bounded however long the run. Events
only mark series dirty; a 10 Hz QTimer redraws what changed. Curves clip to the view and downsample automatically.
"""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QCheckBox, QGraphicsItem, QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from figures import colors
from trainer.runs.folder import RunFolder


MAX_POINTS = 4000
ALL_GROUPS = ("step", "epoch", "val", "lam")
REDRAW_MS = 100

SEG = colors.CURVE_A            # blue
DEC = colors.CURVE_B            # vermillion
TOTAL = (70, 70, 70)
AP_C = (0, 114, 178)
AUC_C = (0, 158, 115)
DICE_C = (0, 114, 178)
IOU_C = (230, 159, 0)


class Series:
    """An (x, y) series with bounded size: pairwise averaging when full, then averaging new points in groups."""

    def __init__(self, cap: int = MAX_POINTS):
        self.cap = cap
        self.x = np.empty(cap, dtype=np.float64)
        self.y = np.empty(cap, dtype=np.float64)
        self.n = 0
        self.group = 1          # raw points per stored point
        self._acc_x = 0.0
        self._acc_y = 0.0
        self._acc_n = 0
        self.total = 0          # raw points ever appended

    def __len__(self) -> int:
        return self.n + (1 if self._acc_n else 0)

    def append(self, x: float, y: float) -> None:
        if y is None or not math.isfinite(y):
            return
        self.total += 1
        self._acc_x += x
        self._acc_y += y
        self._acc_n += 1
        if self._acc_n < self.group:
            return
        if self.n == self.cap:
            half = self.cap // 2
            self.x[:half] = 0.5 * (self.x[0:2 * half:2] + self.x[1:2 * half:2])
            self.y[:half] = 0.5 * (self.y[0:2 * half:2] + self.y[1:2 * half:2])
            self.n = half
            self.group *= 2
        self.x[self.n] = self._acc_x / self._acc_n
        self.y[self.n] = self._acc_y / self._acc_n
        self.n += 1
        self._acc_x = self._acc_y = 0.0
        self._acc_n = 0

    def data(self) -> tuple[np.ndarray, np.ndarray]:
        if self._acc_n:  # show the partial group too
            x = np.append(self.x[:self.n], self._acc_x / self._acc_n)
            y = np.append(self.y[:self.n], self._acc_y / self._acc_n)
            return x, y
        return self.x[:self.n], self.y[:self.n]

    def truncate_after(self, x_max: float) -> None:
        """Drop points with x > x_max (a resumed run replays what came after its checkpoint)."""
        keep = int(np.searchsorted(self.x[:self.n], x_max, side="right"))
        self.n = keep
        self._acc_x = self._acc_y = 0.0
        self._acc_n = 0

    def clear(self) -> None:
        self.n = 0
        self.group = 1
        self.total = 0
        self._acc_x = self._acc_y = 0.0
        self._acc_n = 0


class EpochSeries:
    """A per-epoch value: a dict epoch -> value (a resumed epoch overwrites the old value)."""

    def __init__(self):
        self.values: dict[int, float] = {}

    def set(self, epoch: int, value) -> None:
        if value is None:
            return
        try:
            v = float(value)
        except (TypeError, ValueError):
            return
        if math.isfinite(v):
            self.values[int(epoch)] = v

    def data(self) -> tuple[np.ndarray, np.ndarray]:
        if not self.values:
            return np.empty(0), np.empty(0)
        ks = sorted(self.values)
        return np.asarray(ks, dtype=np.float64), np.asarray([self.values[k] for k in ks], dtype=np.float64)

    def truncate_after(self, epoch: int) -> None:
        self.values = {k: v for k, v in self.values.items() if k <= epoch}

    def clear(self) -> None:
        self.values.clear()


def ema(values: np.ndarray, factor: float) -> np.ndarray:
    """TensorBoard-style debiased exponential moving average (factor 0 = no smoothing)."""
    if factor <= 0 or len(values) == 0:
        return np.asarray(values, dtype=np.float64)
    out = np.empty(len(values), dtype=np.float64)
    acc = 0.0
    w = 0.0
    for i, v in enumerate(values):
        acc = acc * factor + (1 - factor) * v
        w = w * factor + (1 - factor)
        out[i] = acc / w
    return out


def _pen(rgb, width=2.0, alpha=255, style=Qt.PenStyle.SolidLine):
    return pg.mkPen(QColor(*rgb, alpha), width=width, style=style)


def _hex(rgb) -> str:
    return "#%02x%02x%02x" % tuple(rgb[:3])


def _keyed_title(title: str, keys: list[tuple]) -> str:
    """A plot title followed by its colour key (the legend lives in the title row: it never hides a curve)."""
    head = f"<span style='font-size:10pt;font-weight:600;color:#333'>{title}</span>"
    items = [f"<span style='font-size:8.5pt;color:{_hex(rgb)}'>{mark}</span>"
             f"<span style='font-size:8pt;color:#555'>&nbsp;{text}</span>" for rgb, mark, text in keys]
    return head + "<br>" + "&nbsp;&nbsp;&nbsp;".join(items)


def _style_plot(p: pg.PlotItem, title: str, ylabel: str) -> None:
    p.setTitle(title)
    p.showGrid(x=True, y=True, alpha=0.18)
    p.setLabel("bottom", "epoch", color="#555")
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


class LivePlots(QWidget):
    """The four training-curve panels. Feed with add_events(); or load a finished run with load_run()."""

    redrawn = Signal()

    def __init__(self, parent: QWidget | None = None, compact: bool = False):
        super().__init__(parent)
        self.epochs_planned: int | None = None
        self.config: dict = {}
        self._smoothing = 0.6
        self._dirty: set[str] = set()   # plot groups to redraw: step, epoch, val, lam
        self._last_step: dict[int, tuple[int, dict]] = {}
        self.redraw_count = 0

        # --- data
        self.step_raw = {k: Series() for k in ("loss_seg", "loss_dec", "loss")}
        self.step_smooth = {k: Series() for k in ("loss_seg", "loss_dec", "loss")}
        self._ema_state = {k: [0.0, 0.0] for k in self.step_raw}
        self.epoch_loss = {k: EpochSeries() for k in ("loss_seg", "loss_dec", "loss")}
        self.val = {k: EpochSeries() for k in ("ap", "auc", "dice_mean", "dice_std", "iou_mean")}
        self.lam = {k: EpochSeries() for k in ("lambda_seg", "lambda_dec")}

        # --- widgets
        root = QVBoxLayout(self)
        root.setContentsMargins(0, 0, 0, 0)
        root.setSpacing(2)
        bar = QHBoxLayout()
        bar.setContentsMargins(6, 0, 6, 0)
        bar.addWidget(QLabel("Smoothing"))
        self.smoothing_slider = QSlider(Qt.Orientation.Horizontal)
        self.smoothing_slider.setRange(0, 99)
        self.smoothing_slider.setValue(int(self._smoothing * 100))
        self.smoothing_slider.setFixedWidth(140)
        self.smoothing_slider.setToolTip("EMA smoothing of the per-step loss curves (0 = raw interval means)")
        self.smoothing_label = QLabel(f"{self._smoothing:.2f}")
        self.smoothing_label.setMinimumWidth(32)
        self.smoothing_slider.valueChanged.connect(self._on_smoothing)
        bar.addWidget(self.smoothing_slider)
        bar.addWidget(self.smoothing_label)
        bar.addSpacing(16)
        self.log_check = QCheckBox("Log-scale loss")
        self.log_check.toggled.connect(lambda on: self.p_loss.setLogMode(y=on))
        bar.addWidget(self.log_check)
        self.raw_check = QCheckBox("Show raw steps")
        self.raw_check.setChecked(True)
        self.raw_check.toggled.connect(self._on_raw_toggled)
        bar.addWidget(self.raw_check)
        bar.addStretch(1)
        self.info_label = QLabel("")
        self.info_label.setStyleSheet("color:#666")
        bar.addWidget(self.info_label)
        root.addLayout(bar)

        self.glw = pg.GraphicsLayoutWidget()
        self.glw.setBackground("w")
        self.glw.ci.layout.setContentsMargins(4, 4, 4, 4)
        self.glw.ci.layout.setSpacing(10)
        root.addWidget(self.glw, 1)

        self.p_loss = self.glw.addPlot(row=0, col=0)
        _style_plot(self.p_loss, _keyed_title("Training loss", [
            (SEG, "▬", "segmentation"), (DEC, "▬", "decision"), (TOTAL, "▬", "total"),
            ((110, 110, 110), "●", "epoch mean")]), "loss")
        self.p_ap = self.glw.addPlot(row=0, col=1)
        _style_plot(self.p_ap, _keyed_title("Validation AP / AUC", [(AP_C, "▬●", "AP"), (AUC_C, "▬■", "AUC")]),
                    "score")
        self.p_dice = self.glw.addPlot(row=1, col=0)
        _style_plot(self.p_dice, _keyed_title("Validation Dice / IoU", [(DICE_C, "▬●", "Dice (band: ±std)"),
                                                                        (IOU_C, "▬■", "IoU")]), "score")
        self.p_lam = self.glw.addPlot(row=1, col=1)
        _style_plot(self.p_lam, _keyed_title("Loss weights (λ schedule)", [
            (SEG, "●", "seg 1−λ"), (DEC, "■", "decision δ·λ (right axis)"), ((120, 120, 120), "- -", "planned")]),
            "seg weight 1−λ")
        for p in (self.p_ap, self.p_dice):
            p.setYRange(0, 1.02, padding=0)
        self.p_lam.setYRange(0, 1.05, padding=0)

        # loss curves
        self.c_raw, self.c_smooth, self.c_epoch = {}, {}, {}
        for key, rgb, name in (("loss_seg", SEG, "segmentation"), ("loss_dec", DEC, "decision"),
                               ("loss", TOTAL, "total")):
            raw = pg.PlotDataItem(pen=_pen(rgb, 1.0, 55), antialias=False)
            raw.setZValue(-10)
            self.p_loss.addItem(raw)
            sm = self.p_loss.plot(pen=_pen(rgb, 2.0), name=name)
            ep = pg.PlotDataItem(pen=_pen(rgb, 1.0, 150, Qt.PenStyle.DashLine), symbol="o", symbolSize=7,
                                 symbolBrush=pg.mkBrush(*rgb), symbolPen=pg.mkPen("w", width=1))
            self.p_loss.addItem(ep)
            for c in (raw, sm):
                c.setClipToView(True)
                c.setDownsampling(auto=True, method="mean")
            self.c_raw[key], self.c_smooth[key], self.c_epoch[key] = raw, sm, ep

        # validation AP/AUC
        self.c_ap = self.p_ap.plot(pen=_pen(AP_C), symbol="o", symbolSize=7, symbolBrush=pg.mkBrush(*AP_C),
                                   symbolPen=pg.mkPen("w"), name="AP")
        self.c_auc = self.p_ap.plot(pen=_pen(AUC_C), symbol="s", symbolSize=7, symbolBrush=pg.mkBrush(*AUC_C),
                                    symbolPen=pg.mkPen("w"), name="AUC")

        # validation Dice/IoU
        self.c_dice_hi = pg.PlotCurveItem(pen=_pen(DICE_C, 1.0, 60))
        self.c_dice_lo = pg.PlotCurveItem(pen=_pen(DICE_C, 1.0, 60))
        self.p_dice.addItem(self.c_dice_hi)
        self.p_dice.addItem(self.c_dice_lo)
        self.dice_band = pg.FillBetweenItem(self.c_dice_lo, self.c_dice_hi, brush=pg.mkBrush(*DICE_C, 40))
        self.p_dice.addItem(self.dice_band)
        self.c_dice = self.p_dice.plot(pen=_pen(DICE_C), symbol="o", symbolSize=7, symbolBrush=pg.mkBrush(*DICE_C),
                                       symbolPen=pg.mkPen("w"), name="Dice (±std)")
        self.c_iou = self.p_dice.plot(pen=_pen(IOU_C), symbol="s", symbolSize=7, symbolBrush=pg.mkBrush(*IOU_C),
                                      symbolPen=pg.mkPen("w"), name="IoU")

        # λ schedule: seg weight on the left axis, decision weight on the right axis
        self.p_lam.showAxis("right")
        self.vb_dec = pg.ViewBox()
        self.p_lam.scene().addItem(self.vb_dec)
        self.p_lam.getAxis("right").linkToView(self.vb_dec)
        self.p_lam.getAxis("right").setLabel("decision weight δ·λ", color="#555")
        self.vb_dec.setXLink(self.p_lam)
        self.p_lam.vb.sigResized.connect(self._sync_lambda_views)
        self.c_lam_seg_plan = self.p_lam.plot(pen=_pen(SEG, 1.5, 160, Qt.PenStyle.DashLine))
        self.c_lam_seg = self.p_lam.plot(pen=None, symbol="o", symbolSize=7, symbolBrush=pg.mkBrush(*SEG),
                                         symbolPen=pg.mkPen("w"), name="seg 1−λ")
        self.c_lam_dec_plan = pg.PlotDataItem(pen=_pen(DEC, 1.5, 160, Qt.PenStyle.DashLine))
        self.c_lam_dec = pg.PlotDataItem(pen=None, symbol="s", symbolSize=7, symbolBrush=pg.mkBrush(*DEC),
                                         symbolPen=pg.mkPen("w"))
        self.vb_dec.addItem(self.c_lam_dec_plan)
        self.vb_dec.addItem(self.c_lam_dec)

        for p in (self.p_ap, self.p_dice, self.p_lam):
            p.setXLink(self.p_loss)
        self._cache_static_items()

        self._timer = QTimer(self)
        self._timer.setInterval(REDRAW_MS)
        self._timer.timeout.connect(self._redraw_if_dirty)
        self._timer.start()
        self._apply_x_range()

    def _cache_static_items(self) -> None:
        """Axes, titles and legends are text: painting them costs milliseconds each on a software raster. Cache
        them as pixmaps, so a redraw repaints only what changed (a tab switch or a new curve point no longer
        re-renders every label)."""
        cache = QGraphicsItem.CacheMode.ItemCoordinateCache
        for p in (self.p_loss, self.p_ap, self.p_dice, self.p_lam):
            for side in ("left", "bottom", "right", "top"):
                ax = p.getAxis(side)
                if ax is not None:
                    ax.setCacheMode(cache)
            p.titleLabel.setCacheMode(cache)
            if p.legend is not None:
                p.legend.setCacheMode(cache)

    # -- public API -------------------------------------------------------------------------------------
    def reset(self) -> None:
        for s in list(self.step_raw.values()) + list(self.step_smooth.values()):
            s.clear()
        for d in (self.epoch_loss, self.val, self.lam):
            for s in d.values():
                s.clear()
        self._ema_state = {k: [0.0, 0.0] for k in self.step_raw}
        self._last_step.clear()
        self.epochs_planned = None
        self.config = {}
        self.info_label.setText("")
        self._dirty.update(ALL_GROUPS)
        self._apply_x_range()
        self._redraw_if_dirty(force=True)

    @property
    def smoothing(self) -> float:
        return self._smoothing

    def set_smoothing(self, factor: float) -> None:
        self.smoothing_slider.setValue(int(round(max(0.0, min(0.99, factor)) * 100)))

    def add_events(self, events: list[dict]) -> None:
        for ev in events:
            self.add_event(ev)

    def add_event(self, ev: dict) -> None:
        kind = ev.get("event")
        if kind == "step":
            self._on_step(ev)
        elif kind == "epoch":
            e = int(ev.get("epoch", 0))
            for k in self.epoch_loss:
                self.epoch_loss[k].set(e, ev.get(k))
            for k in self.lam:
                self.lam[k].set(e, ev.get(k))
            if ev.get("epochs") and not self.epochs_planned:
                self.epochs_planned = int(ev["epochs"])
                self._apply_x_range()
            self._dirty.update(("epoch", "lam"))
        elif kind == "validation":
            e = int(ev.get("epoch", 0))
            for k in self.val:
                self.val[k].set(e, ev.get(k))
            self._dirty.add("val")
        elif kind == "run_started":
            cfg = ev.get("config") or {}
            self.set_config(cfg)
            start = int(ev.get("resumed_from_epoch") or 0)
            self._truncate_after(start)
        return None

    def set_config(self, cfg: dict) -> None:
        self.config = dict(cfg)
        if cfg.get("epochs"):
            self.epochs_planned = int(cfg["epochs"])
        self._plan_lambda()
        self._apply_x_range()
        self._dirty.update(ALL_GROUPS)

    def load_events(self, events: list[dict]) -> None:
        self.reset()
        self.add_events(events)
        self._redraw_if_dirty(force=True)

    def load_run(self, run_dir: str | Path) -> int:
        """Show a run's curves (events.jsonl, else losses.csv/validation.csv). Returns the number of events read."""
        events = read_run_events(run_dir)
        self.load_events(events)
        return len(events)

    # -- event handling ---------------------------------------------------------------------------------
    def _on_step(self, ev: dict) -> None:
        try:
            epoch = int(ev["epoch"])
            step = int(ev["step"])
            steps = max(1, int(ev.get("steps") or 1))
        except (KeyError, TypeError, ValueError):
            return
        if ev.get("epochs") and not self.epochs_planned:
            self.epochs_planned = int(ev["epochs"])
            self._apply_x_range()
        x = epoch - 1 + step / steps
        prev = self._last_step.get(epoch)
        for key in self.step_raw:
            m = ev.get(key)
            if m is None:
                continue
            m = float(m)
            # the event carries the running mean over the epoch so far: recover the mean of this interval
            if prev is not None and prev[0] < step and prev[1].get(key) is not None:
                s0, m0 = prev[0], float(prev[1][key])
                val = (step * m - s0 * m0) / (step - s0)
            else:
                val = m
            if not math.isfinite(val):
                continue
            self.step_raw[key].append(x, val)
            st = self._ema_state[key]
            f = self._smoothing
            st[0] = st[0] * f + (1 - f) * val
            st[1] = st[1] * f + (1 - f)
            self.step_smooth[key].append(x, st[0] / st[1])
        self._last_step = {epoch: (step, ev)}
        self._dirty.add("step")

    def _truncate_after(self, epoch: int) -> None:
        for s in list(self.step_raw.values()) + list(self.step_smooth.values()):
            s.truncate_after(float(epoch))
        for d in (self.epoch_loss, self.val, self.lam):
            for s in d.values():
                s.truncate_after(epoch)
        self._last_step.clear()
        self._dirty.update(ALL_GROUPS)

    def _plan_lambda(self) -> None:
        cfg = self.config
        E = int(cfg.get("epochs") or 0)
        if E <= 0:
            self.c_lam_seg_plan.setData([], [])
            self.c_lam_dec_plan.setData([], [])
            return
        delta = float(cfg.get("delta_cls_loss", 0.01))
        e = np.arange(1, E + 1, dtype=np.float64)
        if cfg.get("dyn_balanced_loss", True):
            lam = (e - 1) / E
            seg, dec = 1 - lam, delta * lam
        else:
            seg, dec = np.ones_like(e), np.full_like(e, delta)
        self.c_lam_seg_plan.setData(e, seg)
        self.c_lam_dec_plan.setData(e, dec)
        self.vb_dec.setYRange(0, max(float(dec.max()), 1e-6) * 1.05, padding=0)

    # -- drawing ----------------------------------------------------------------------------------------
    def _on_smoothing(self, value: int) -> None:
        self._smoothing = value / 100.0
        self.smoothing_label.setText(f"{self._smoothing:.2f}")
        for key, raw in self.step_raw.items():
            x, y = raw.data()
            sm = ema(y, self._smoothing)
            series = self.step_smooth[key]
            series.clear()
            series.group = raw.group
            n = len(x)
            series.x[:n] = x
            series.y[:n] = sm
            series.n = n
            # continue the EMA from the last value
            self._ema_state[key] = [float(sm[-1]) if n else 0.0, 1.0 if n else 0.0]
        self._dirty.update(ALL_GROUPS)

    def _on_raw_toggled(self, on: bool) -> None:
        for c in self.c_raw.values():
            c.setVisible(on)

    def _sync_lambda_views(self) -> None:
        self.vb_dec.setGeometry(self.p_lam.vb.sceneBoundingRect())
        self.vb_dec.linkedViewChanged(self.p_lam.vb, self.vb_dec.XAxis)

    def _apply_x_range(self) -> None:
        E = self.epochs_planned or 1
        self.p_loss.setLimits(xMin=-0.5, xMax=E + 1)
        self.p_loss.setXRange(0, E + 0.25, padding=0.01)


    def _redraw_if_dirty(self, force: bool = False) -> None:
        """setData on the curves whose data changed since the last redraw; nothing while the plots are hidden
        (a background tab), unless forced. What arrived while hidden is drawn on the first tick after the tab is
        shown, not in the show itself (that frame already repaints every plot)."""
        if not self._dirty or not (force or self.isVisible()):
            return
        groups, self._dirty = self._dirty, set()
        if "step" in groups:
            for key in self.step_raw:
                x, y = self.step_raw[key].data()
                self.c_raw[key].setData(x, y)
                xs, ys = self.step_smooth[key].data()
                self.c_smooth[key].setData(xs, ys)
        if "epoch" in groups:
            for key in self.step_raw:
                ex, ey = self.epoch_loss[key].data()
                self.c_epoch[key].setData(ex, ey)
        if "val" in groups:
            self._draw_validation()
        if "lam" in groups:
            self._draw_lambda()
        n_steps = self.step_raw["loss"].total
        n_epochs = len(self.epoch_loss["loss"].values)
        if n_steps or n_epochs:
            self.info_label.setText(f"{n_steps} step reports · {n_epochs} epochs · "
                                    f"{len(self.val['ap'].values)} validations")
        self.redraw_count += 1
        self.redrawn.emit()

    def _draw_validation(self) -> None:
        x, y = self.val["ap"].data()
        self.c_ap.setData(x, y)
        x, y = self.val["auc"].data()
        self.c_auc.setData(x, y)
        x, y = self.val["dice_mean"].data()
        self.c_dice.setData(x, y)
        sx, sd = self.val["dice_std"].data()
        if len(x) and len(sx) == len(x):
            self.c_dice_hi.setData(x, np.clip(y + sd, 0, 1))
            self.c_dice_lo.setData(x, np.clip(y - sd, 0, 1))
        else:
            self.c_dice_hi.setData([], [])
            self.c_dice_lo.setData([], [])
        x, y = self.val["iou_mean"].data()
        self.c_iou.setData(x, y)

    def _draw_lambda(self) -> None:
        x, y = self.lam["lambda_seg"].data()
        self.c_lam_seg.setData(x, y)
        x, y = self.lam["lambda_dec"].data()
        self.c_lam_dec.setData(x, y)
        if len(y) and not self.config:
            self.vb_dec.setYRange(0, max(float(y.max()), 1e-6) * 1.05, padding=0)


def read_run_events(run_dir: str | Path) -> list[dict]:
    """A run's events: RunFolder.events() when available, else events.jsonl, else rebuilt from the CSV files."""
    run_dir = Path(run_dir)
    try:
        evs = RunFolder(run_dir).events()
        if evs:
            return list(evs)
    except Exception:  # noqa: BLE001 - fall back to reading the files directly
        pass
    path = run_dir / "events.jsonl"
    events: list[dict] = []
    if path.is_file():
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                line = line.strip()
                if not line:
                    continue
                try:
                    ev = json.loads(line)
                except ValueError:
                    continue  # a line cut by a crash
                if isinstance(ev, dict) and "event" in ev:
                    events.append(ev)
    if events:
        return events
    return _events_from_csv(run_dir)


def _read_csv(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _num(v):
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _events_from_csv(run_dir: Path) -> list[dict]:
    events = []
    for row in _read_csv(run_dir / "losses.csv"):
        ev = {"event": "epoch"}
        ev.update({k: _num(v) for k, v in row.items()})
        if ev.get("epoch") is not None:
            ev["epoch"] = int(ev["epoch"])
            events.append(ev)
    for row in _read_csv(run_dir / "validation.csv"):
        ev = {"event": "validation"}
        ev.update({k: _num(v) for k, v in row.items()})
        if ev.get("epoch") is not None:
            ev["epoch"] = int(ev["epoch"])
            events.append(ev)
    return events
