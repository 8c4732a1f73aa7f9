"""Reliability diagrams of an evaluation (issue 13): for image scores and for pixels, the observed share of cracks
against the predicted probability in each confidence bin, with the expected calibration error (ECE) in the title.
A perfectly calibrated model lies on the diagonal. Drawn once per evaluation (thresholds do not change it);
double-click a plot to enlarge it."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget

from crackviewer.inspect.live_text import LiveText
from crackviewer.inspect.plot_style import CURVE, _pen, _style, _style_title
from crackviewer.inspect.plot_window import enlarge_plot
from crackviewer.inspect.threshold_model import ThresholdModel

GAP = (213, 94, 0)      # bars of the gap to the diagonal


class ReliabilityPanel(QWidget):
    """Image and pixel reliability diagrams side by side."""

    def __init__(self, model: ThresholdModel, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = model
        self.glw = pg.GraphicsLayoutWidget()
        self.glw.setBackground("w")
        self.glw.setMinimumSize(280, 140)
        self.plots = {"image": self.glw.addPlot(row=0, col=0), "pixel": self.glw.addPlot(row=0, col=1)}
        self.curves, self.bars = {}, {}
        for kind, p in self.plots.items():
            _style(p, kind, "predicted", "observed")
            p.plot([0, 1], [0, 1], pen=_pen((170, 170, 170), 1, Qt.DashLine))
            self.bars[kind] = pg.BarGraphItem(x0=[], x1=[], height=[], brush=pg.mkBrush(*GAP, 70), pen=None)
            p.addItem(self.bars[kind])
            self.curves[kind] = p.plot([], [], pen=_pen(CURVE, 2), symbol="o", symbolSize=5,
                                       symbolBrush=pg.mkBrush(*CURVE), symbolPen=None)
            p.setToolTip("Double-click to enlarge")
        self.note = LiveText(3)
        f = self.note.font()
        f.setPointSizeF(8.5)
        self.note.setFont(f)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.glw, 1)
        lay.addWidget(self.note)
        self.enlarged = None
        self.glw.scene().sigMouseClicked.connect(self._on_click)
        model.events.evaluation.connect(self.refresh)
        if model.evaluation is not None:
            self.refresh()

    def refresh(self, **_) -> None:
        rel = self.model.reliability()
        eces = {}
        for kind, p in self.plots.items():
            r = rel.get(kind) or {}
            conf, acc = np.asarray(r.get("confidence", [])), np.asarray(r.get("accuracy", []))
            counts, edges = np.asarray(r.get("counts", [])), np.asarray(r.get("edges", []))
            ok = np.isfinite(conf) & np.isfinite(acc) & (counts > 0) if conf.size else np.zeros(0, bool)
            self.curves[kind].setData(conf[ok], acc[ok])
            if edges.size == conf.size + 1 and ok.any():
                self.bars[kind].setOpts(x0=edges[:-1][ok], x1=edges[1:][ok], y0=np.minimum(conf, acc)[ok],
                                        height=np.abs(acc - conf)[ok])
            ece = r.get("ece")
            eces[kind] = ece
            _style_title(p, f"{kind} · ECE {ece:.3f}" if ece is not None else kind)
        t = (self.model.split or {}).get("temperature")
        temp = ""
        if isinstance(t, dict) and t:
            temp = " · temperature " + ", ".join(f"{k} {v:.2f}" for k, v in t.items() if isinstance(v, (int, float)))
        elif isinstance(t, (int, float)):
            temp = f" · temperature {t:.2f}"
        self.note.setText("<span style='color:#2b3038'>Reliability: share of cracks per predicted probability bin; "
                          "bars: gap to the diagonal</span><br><span style='color:#6b727b'>ECE image "
                          f"{_f(eces.get('image'))} · pixel {_f(eces.get('pixel'))}{temp}</span>")

    def _on_click(self, ev) -> None:
        if not ev.double():
            return
        for p in self.plots.values():
            if p.vb.sceneBoundingRect().contains(ev.scenePos()):
                self.enlarged = enlarge_plot(p, self)
                ev.accept()
                return


def _f(v) -> str:
    return "—" if v is None else f"{v:.3f}"
