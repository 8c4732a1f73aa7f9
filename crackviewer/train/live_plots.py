"""Live training curves (pyqtgraph), fed by trainer events; stays fast for long runs.

Four panels, all with the epoch on the x axis:
  1. training loss: segmentation, decision and total; per step (the mean of each reporting interval, EMA-smoothed
     with a user-set factor, raw values faint behind) and per epoch (markers);
  2. validation AP and AUC;
  3. validation Dice and IoU (mean, with a ±std band for Dice);
  4. the λ schedule: the loss weights (1−λ) for segmentation and δ·λ for the decision (right axis); planned values
     dashed as soon as the config is known, actual values as markers.

The data live in a Qt-free `TrainingCurves` (train.curves); events only mark groups dirty and a 10 Hz QTimer
redraws what changed. Curves clip to the view and downsample automatically. A double-click enlarges a plot.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QCheckBox, QGraphicsItem, QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from crackviewer.qt.plots import enlarge_on_double_click, keyed_title, pen, set_log_y, style_plot
from crackviewer.train.curves import ALL_GROUPS, TrainingCurves, planned_lambda, read_run_events
from figures import colors

REDRAW_MS = 100

SEG = colors.CURVE_A            # blue
DEC = colors.CURVE_B            # vermillion
TOTAL = (70, 70, 70)
AP_C = (0, 114, 178)
AUC_C = (0, 158, 115)
DICE_C = (0, 114, 178)
IOU_C = (230, 159, 0)


class LivePlots(QWidget):
    """The four training-curve panels. Feed with add_events(); or load a finished run with load_run()."""

    redrawn = Signal()

    def __init__(self, parent: QWidget | None = None, compact: bool = False):
        super().__init__(parent)
        self.redraw_count = 0
        self.curves = TrainingCurves()
        self._smoothing = self.curves.smoothing
        c = self.curves
        self.step_raw, self.step_smooth, self.epoch_loss, self.val, self.lam = (
            c.step_raw, c.step_smooth, c.epoch_loss, c.val, c.lam)

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
        self.log_check.toggled.connect(self._on_log_toggled)
        bar.addWidget(self.log_check)
        self.raw_check = QCheckBox("Show raw steps")
        self.raw_check.setChecked(True)
        self.raw_check.toggled.connect(self._on_raw_toggled)
        bar.addWidget(self.raw_check)
        bar.addStretch(1)
        self.info_label = QLabel("")
        self.info_label.setObjectName("mutedLabel")
        bar.addWidget(self.info_label)
        root.addLayout(bar)

        self.glw = pg.GraphicsLayoutWidget()
        self.glw.setBackground("w")
        self.glw.ci.layout.setContentsMargins(4, 4, 4, 4)
        self.glw.ci.layout.setSpacing(10)
        root.addWidget(self.glw, 1)

        self.p_loss = self.glw.addPlot(row=0, col=0)
        style_plot(self.p_loss, keyed_title("Training loss", [
            (SEG, "▬", "segmentation"), (DEC, "▬", "decision"), (TOTAL, "▬", "total"),
            ((110, 110, 110), "●", "epoch mean")]), "loss")
        self.p_ap = self.glw.addPlot(row=0, col=1)
        style_plot(self.p_ap, keyed_title("Validation AP / AUC", [(AP_C, "▬●", "AP"), (AUC_C, "▬■", "AUC")]),
                    "score")
        self.p_dice = self.glw.addPlot(row=1, col=0)
        style_plot(self.p_dice, keyed_title("Validation Dice / IoU", [(DICE_C, "▬●", "Dice (band: ±std)"),
                                                                        (IOU_C, "▬■", "IoU")]), "score")
        self.p_lam = self.glw.addPlot(row=1, col=1)
        style_plot(self.p_lam, keyed_title("Loss weights (λ schedule)", [
            (SEG, "●", "seg 1−λ"), (DEC, "■", "decision δ·λ (right axis)"), ((120, 120, 120), "- -", "planned")]),
            "seg weight 1−λ")
        for p in (self.p_ap, self.p_dice):
            p.setYRange(0, 1.02, padding=0)
        self.p_lam.setYRange(0, 1.05, padding=0)

        # loss curves
        self.c_raw, self.c_smooth, self.c_epoch = {}, {}, {}
        for key, rgb, name in (("loss_seg", SEG, "segmentation"), ("loss_dec", DEC, "decision"),
                               ("loss", TOTAL, "total")):
            raw = pg.PlotDataItem(pen=pen(rgb, 1.0, 55), antialias=False)
            raw.setZValue(-10)
            self.p_loss.addItem(raw)
            sm = self.p_loss.plot(pen=pen(rgb, 2.0), name=name)
            ep = pg.PlotDataItem(pen=pen(rgb, 1.0, 150, Qt.PenStyle.DashLine), symbol="o", symbolSize=7,
                                 symbolBrush=pg.mkBrush(*rgb), symbolPen=pg.mkPen("w", width=1))
            self.p_loss.addItem(ep)
            for c in (raw, sm):
                c.setClipToView(True)
                c.setDownsampling(auto=True, method="mean")
            self.c_raw[key], self.c_smooth[key], self.c_epoch[key] = raw, sm, ep

        # validation AP/AUC
        self.c_ap = self.p_ap.plot(pen=pen(AP_C), symbol="o", symbolSize=7, symbolBrush=pg.mkBrush(*AP_C),
                                   symbolPen=pg.mkPen("w"), name="AP")
        self.c_auc = self.p_ap.plot(pen=pen(AUC_C), symbol="s", symbolSize=7, symbolBrush=pg.mkBrush(*AUC_C),
                                    symbolPen=pg.mkPen("w"), name="AUC")

        # validation Dice/IoU
        self.c_dice_hi = pg.PlotCurveItem(pen=pen(DICE_C, 1.0, 60))
        self.c_dice_lo = pg.PlotCurveItem(pen=pen(DICE_C, 1.0, 60))
        self.p_dice.addItem(self.c_dice_hi)
        self.p_dice.addItem(self.c_dice_lo)
        self.dice_band = pg.FillBetweenItem(self.c_dice_lo, self.c_dice_hi, brush=pg.mkBrush(*DICE_C, 40))
        self.p_dice.addItem(self.dice_band)
        self.c_dice = self.p_dice.plot(pen=pen(DICE_C), symbol="o", symbolSize=7, symbolBrush=pg.mkBrush(*DICE_C),
                                       symbolPen=pg.mkPen("w"), name="Dice (±std)")
        self.c_iou = self.p_dice.plot(pen=pen(IOU_C), symbol="s", symbolSize=7, symbolBrush=pg.mkBrush(*IOU_C),
                                      symbolPen=pg.mkPen("w"), name="IoU")

        # λ schedule: seg weight on the left axis, decision weight on the right axis
        self.p_lam.showAxis("right")
        self.vb_dec = pg.ViewBox()
        self.p_lam.scene().addItem(self.vb_dec)
        self.p_lam.getAxis("right").linkToView(self.vb_dec)
        self.p_lam.getAxis("right").setLabel("decision weight δ·λ", color="#555")
        self.vb_dec.setXLink(self.p_lam)
        self.p_lam.vb.sigResized.connect(self._sync_lambda_views)
        self.c_lam_seg_plan = self.p_lam.plot(pen=pen(SEG, 1.5, 160, Qt.PenStyle.DashLine))
        self.c_lam_seg = self.p_lam.plot(pen=None, symbol="o", symbolSize=7, symbolBrush=pg.mkBrush(*SEG),
                                         symbolPen=pg.mkPen("w"), name="seg 1−λ")
        self.c_lam_dec_plan = pg.PlotDataItem(pen=pen(DEC, 1.5, 160, Qt.PenStyle.DashLine))
        self.c_lam_dec = pg.PlotDataItem(pen=None, symbol="s", symbolSize=7, symbolBrush=pg.mkBrush(*DEC),
                                         symbolPen=pg.mkPen("w"))
        self.vb_dec.addItem(self.c_lam_dec_plan)
        self.vb_dec.addItem(self.c_lam_dec)

        for p in (self.p_ap, self.p_dice, self.p_lam):
            p.setXLink(self.p_loss)
        self._cache_static_items()
        enlarge_on_double_click(self.glw, [self.p_loss, self.p_ap, self.p_dice, self.p_lam], self)

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
    @property
    def epochs_planned(self) -> int | None:
        return self.curves.epochs_planned

    @property
    def config(self) -> dict:
        return self.curves.config

    def reset(self) -> None:
        self.curves.reset()
        self.info_label.setText("")
        self._plan_lambda()
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
        planned, config = self.curves.epochs_planned, self.curves.config
        self.curves.add_event(ev)
        if self.curves.config is not config:
            self._plan_lambda()
        if self.curves.epochs_planned != planned:
            self._apply_x_range()

    def set_config(self, cfg: dict) -> None:
        self.curves.set_config(cfg)
        self._plan_lambda()
        self._apply_x_range()

    def load_events(self, events: list[dict]) -> None:
        self.reset()
        self.add_events(events)
        self._redraw_if_dirty(force=True)

    def load_run(self, run_dir: str | Path) -> int:
        """Show a run's curves (events.jsonl, else losses.csv/validation.csv). Returns the number of events read."""
        events = read_run_events(run_dir)
        self.load_events(events)
        return len(events)

    def _plan_lambda(self) -> None:
        e, seg, dec = planned_lambda(self.curves.config)
        self.c_lam_seg_plan.setData(e, seg)
        self.c_lam_dec_plan.setData(e, dec)
        if len(dec):
            self.vb_dec.setYRange(0, max(float(dec.max()), 1e-6) * 1.05, padding=0)

    # -- drawing ----------------------------------------------------------------------------------------
    def _on_smoothing(self, value: int) -> None:
        self._smoothing = value / 100.0
        self.smoothing_label.setText(f"{self._smoothing:.2f}")
        self.curves.set_smoothing(self._smoothing)

    def _on_log_toggled(self, on: bool) -> None:
        """Log or linear loss axis; the shared epoch range and the planned λ schedule stay as they were (switching
        the log mode autoranges the linked x axes to the data otherwise)."""
        set_log_y(self.p_loss, on)
        self.p_loss.enableAutoRange(y=True)
        self._apply_x_range()
        self._plan_lambda()
        self.curves.dirty.update(ALL_GROUPS)
        self._redraw_if_dirty(force=True)

    def _on_raw_toggled(self, on: bool) -> None:
        for c in self.c_raw.values():
            c.setVisible(on)

    def _sync_lambda_views(self) -> None:
        self.vb_dec.setGeometry(self.p_lam.vb.sceneBoundingRect())
        self.vb_dec.linkedViewChanged(self.p_lam.vb, self.vb_dec.XAxis)

    def _apply_x_range(self) -> None:
        E = self.epochs_planned or 1
        self.p_loss.setLimits(xMin=-0.5, xMax=E + 1)
        self.p_loss.enableAutoRange(x=False)
        self.p_loss.setXRange(0, E + 0.25, padding=0.01)

    def _redraw_if_dirty(self, force: bool = False) -> None:
        """setData on the curves whose data changed since the last redraw; nothing while the plots are hidden
        (a background tab), unless forced. What arrived while hidden is drawn on the first tick after the tab is
        shown, not in the show itself (that frame already repaints every plot)."""
        if not self.curves.dirty or not (force or self.isVisible()):
            return
        groups = set(self.curves.dirty)
        self.curves.dirty.clear()
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
