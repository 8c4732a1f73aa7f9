"""ROC and precision-recall curves with the current operating points; clicking a curve sets a threshold.

Four small pyqtgraph plots bound to a :class:`~crackviewer.inspect.threshold_model.ThresholdModel`:

* image-level ROC and PR (the classification threshold; a click picks the nearest curve point's threshold);
* pixel-level PR of the split, strict (grey) and with the crack tolerance (blue, issue 13; the segmentation
  threshold; a click picks the nearest point's bin edge);
* mean Dice and IoU against the segmentation threshold (a click sets the threshold under the mouse).

A double-click opens the plot under the mouse in a larger window. Moving a slider only moves the markers (the curves are drawn once per evaluation), so it costs well under 1 ms.
"""
from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, QTimer, Signal
from PySide6.QtWidgets import QGraphicsItem, QVBoxLayout, QWidget

from crackviewer.inspect.live_text import LiveText
from crackviewer.inspect.plot_style import CURVE, IOU_CURVE, POINT, _marker, _move, _pen, _style, _style_title
from crackviewer.inspect.plot_window import enlarge_plot
from crackviewer.inspect.threshold_model import ThresholdModel

class CurvesPanel(QWidget):
    """ROC, PR, pixel PR and Dice-vs-threshold plots with operating points; clicks set thresholds."""

    imageThresholdPicked = Signal(float)
    segThresholdPicked = Signal(float)
    SETTLE_MS = 120      # the operating points follow a slider drag this long after its last step

    def __init__(self, model: ThresholdModel, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = model
        self.glw = pg.GraphicsLayoutWidget()
        self.glw.setMinimumSize(280, 140)
        self.glw.setBackground("w")
        self.glw.ci.layout.setContentsMargins(2, 2, 2, 2)
        self.glw.ci.layout.setSpacing(4)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.glw)

        self.p_roc = self.glw.addPlot(row=0, col=0)
        self.p_pr = self.glw.addPlot(row=0, col=1)
        self.p_pix = self.glw.addPlot(row=1, col=0)
        self.p_dice = self.glw.addPlot(row=1, col=1)
        _style(self.p_roc, "ROC (images)", "FPR", "TPR")
        _style(self.p_pr, "PR (images)", "recall", "precision")
        _style(self.p_pix, "PR (pixels)", "recall", "precision")
        _style(self.p_dice, "Dice (—), IoU (--)", "seg threshold", "mean")

        self.p_roc.plot([0, 1], [0, 1], pen=_pen((170, 170, 170), 1, Qt.DashLine))
        self.c_roc = self.p_roc.plot([], [], pen=_pen(CURVE, 2))
        self.c_pr = self.p_pr.plot([], [], pen=_pen(CURVE, 2))
        self.c_pix = self.p_pix.plot([], [], pen=_pen(IOU_CURVE, 1.5))
        self.c_tol = self.p_pix.plot([], [], pen=_pen(CURVE, 2))
        self.c_iou = self.p_dice.plot([], [], pen=_pen(IOU_CURVE, 1.5, Qt.DashLine))
        self.c_dice = self.p_dice.plot([], [], pen=_pen(CURVE, 2))
        # the curves never move while a slider does: cache their pixels so that a moving marker only blits them
        for c in (self.c_roc, self.c_pr, self.c_pix, self.c_tol, self.c_iou, self.c_dice):
            c.curve.setCacheMode(QGraphicsItem.DeviceCoordinateCache)
        self.m_roc, self.m_pr, self.m_pix, self.m_dice = _marker(), _marker(), _marker(), _marker()
        self.m_tol = _marker()
        for p, m in ((self.p_roc, self.m_roc), (self.p_pr, self.m_pr), (self.p_pix, self.m_pix),
                     (self.p_pix, self.m_tol), (self.p_dice, self.m_dice)):
            m.setZValue(10)
            p.addItem(m)
        # readouts under the plots (text items inside the plots would repaint the curves on every step)
        self.readout = LiveText(2)
        f = self.readout.font()
        f.setPointSizeF(8.5)
        self.readout.setFont(f)
        lay.addWidget(self.readout)
        self._image_line = ""
        self.msg_roc = pg.TextItem(anchor=(0.5, 0.5), color="#8a6d00")
        self.msg_pr = pg.TextItem(anchor=(0.5, 0.5), color="#8a6d00")
        self.msg_roc.setPos(0.5, 0.5)
        self.msg_pr.setPos(0.5, 0.5)
        self.p_roc.addItem(self.msg_roc)
        self.p_pr.addItem(self.msg_pr)
        for p in (self.p_roc, self.p_pr, self.p_pix, self.p_dice):
            p.setToolTip("Click a point of the curve to use its threshold; double-click to enlarge")
        self.glw.scene().sigMouseClicked.connect(self._on_click)
        self._dice_key = None
        self.enlarged = None
        model.events.evaluation.connect(self._on_evaluation)
        # a slider drag moves the thresholds many times a second: the operating points (and the plots' repaint,
        # the costliest part of a step) follow once the drag pauses, coalesced by this timer
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(self.SETTLE_MS)
        self._settle.timeout.connect(self.flush)
        model.events.thresholds.connect(self._on_thresholds)
        if model.evaluation is not None:
            self._on_evaluation()

    # ------------------------------------------------------------------ model -> plots
    def _on_evaluation(self, **_):
        m = self.model
        c = m.image_curves()
        if c is None:
            self.c_roc.setData([], [])
            self.c_pr.setData([], [])
            und = "undefined: this split has only one class"
            self.msg_roc.setText(und)
            self.msg_pr.setText(und)
            _style_title(self.p_roc, "ROC (images)")
            _style_title(self.p_pr, "PR (images)")
        else:
            self.msg_roc.setText("")
            self.msg_pr.setText("")
            self.c_roc.setData(c["fpr"], c["tpr"])
            self.c_pr.setData(c["recall"], c["precision"])
            auc = c.get("auc")
            ap = c.get("ap")
            _style_title(self.p_roc, "ROC" + (f" · AUC {auc:.3f}" if auc is not None else " (images)"))
            _style_title(self.p_pr, "PR" + (f" · AP {ap:.3f}" if ap is not None else " (images)"))
        pc = m.pixel_curve()
        self.c_pix.setData(pc["recall"], pc["precision"])
        tc = m.tolerance_curve()
        self.c_tol.setData([], []) if tc is None else self.c_tol.setData(tc["recall"], tc["precision"])
        tol = (m.split or {}).get("tolerance_px")
        _style_title(self.p_pix, "PR (pixels)" if tc is None else
                     f"PR pixels: strict, ±{tol if tol is not None else 2:g} px")
        self._dice_key = None
        self.flush()

    def _on_thresholds(self, **_):
        self._settle.start()        # restarts: one update SETTLE_MS after the last step

    @property
    def pending(self) -> bool:
        """Whether the operating points still wait for the thresholds to settle."""
        return self._settle.isActive()

    def flush(self) -> None:
        """Move the operating points and the readout to the current thresholds now."""
        self._settle.stop()
        m = self.model
        if m.evaluation is None:
            return
        op = m.image_operating_point()
        dot = f"<span style='color:rgb{tuple(POINT)}'>●</span>"
        if m.image_curves() is not None:
            _move(self.m_roc, op["fpr"], op["tpr"])
            _move(self.m_pr, op["recall"], op["precision"])
            image_line = (f"{dot} <b>images</b> t {m.image_threshold:.3f}: TPR {op['tpr']:.3f} · "
                          f"FPR {op['fpr']:.3f} · P {op['precision']:.3f}")
        else:
            self.m_roc.setData([], [])
            self.m_pr.setData([], [])
            image_line = f"{dot} <b>images</b>: ROC and PR undefined on a one-class split"
        px = m.pixel_operating_point()
        _move(self.m_pix, px["recall"], px["precision"])
        to = m.tolerance_operating_point()
        self.m_tol.setData([], []) if to is None else _move(self.m_tol, to["recall"], to["precision"])
        key = (m.gated, m.image_threshold if m.gated else None)
        if key != self._dice_key:
            dc = m.dice_curve()
            self.c_dice.setData(dc["threshold"], dc["dice"])
            self.c_iou.setData(dc["threshold"], dc["iou"])
            self._dice_key = key
        s = m.stats
        dm, im = s["dice_mean"], s["iou_mean"]
        _move(self.m_dice, m.seg_threshold, dm if dm is not None else 0.0)
        dice = f" · Dice {dm:.3f}" if dm is not None else ""
        self.readout.setText(f"{image_line}<br>{dot} <b>pixels</b> t {m.seg_threshold:.3f}"
                             f"{' (gated)' if m.gated else ''}: P {px['precision']:.3f} R {px['recall']:.3f}"
                             + (f" · tol F1 {to['f1']:.3f}" if to is not None else "") + dice)

    # ------------------------------------------------------------------ clicks -> model
    def _plot_under(self, scene_pos: QPointF):
        for name, p in (("roc", self.p_roc), ("pr", self.p_pr), ("pixel", self.p_pix), ("dice", self.p_dice)):
            if p.vb.sceneBoundingRect().contains(scene_pos):
                return name, p
        return None, None

    def click_at(self, curve: str, x: float, y: float) -> float | None:
        """What a click at plot coordinates (x, y) of ``curve`` ("roc", "pr", "pixel", "dice") does; returns the
        threshold it set (None when the curve is undefined)."""
        m = self.model
        if curve in ("roc", "pr"):
            t = m.nearest_image_threshold(curve, x, y, aspect=self._aspect(curve))
            if t is not None:
                m.set_image_threshold(t)
                self.imageThresholdPicked.emit(t)
            return t
        if curve == "pixel" and m.tolerance_curve() is not None:
            curve = "tolerance"
        t = m.nearest_seg_threshold(curve, x, y, aspect=self._aspect("pixel" if curve == "tolerance" else curve))
        m.set_seg_threshold(t)
        self.segThresholdPicked.emit(m.seg_threshold)
        return m.seg_threshold

    def _aspect(self, curve: str) -> float:
        p = {"roc": self.p_roc, "pr": self.p_pr, "pixel": self.p_pix, "dice": self.p_dice}[curve]
        r = p.vb.sceneBoundingRect()
        (x0, x1), (y0, y1) = p.vb.viewRange()
        if r.width() <= 0 or r.height() <= 0:
            return 1.0
        # distance in screen pixels: scale x units to y units by the pixels per unit on each axis
        return (r.width() / (x1 - x0)) / (r.height() / (y1 - y0))

    def _on_click(self, ev) -> None:
        if ev.button() != Qt.LeftButton or self.model.evaluation is None:
            return
        name, p = self._plot_under(ev.scenePos())
        if p is None:
            return
        if ev.double():
            self.enlarged = enlarge_plot(p, self)
            ev.accept()
            return
        pt = p.vb.mapSceneToView(ev.scenePos())
        self.click_at(name, pt.x(), pt.y())
        ev.accept()

    def scene_pos_of(self, curve: str, x: float, y: float) -> QPointF:
        """Scene position of plot coordinates (for tests that click)."""
        p = {"roc": self.p_roc, "pr": self.p_pr, "pixel": self.p_pix, "dice": self.p_dice}[curve]
        return p.vb.mapViewToScene(QPointF(x, y))
