"""Compare two runs (or two checkpoints) on the same split, sample by sample.

* A scatter of per-sample Dice, A (x) against B (y): points above the diagonal are samples where B is better.
  Clicking a point opens that sample: A's and B's error maps side by side and a difference map that shows where B
  fixes A (B right, A wrong) and where B breaks it (A right, B wrong). The three views pan and zoom together.
* A summary: mean Dice of both, how many samples B wins, loses or ties (overall, positives, negatives), image-level
  outcome changes, and the largest gains and losses (clickable).

A is the inspection window's model (its thresholds follow the main sliders); B has its own thresholds, by default
the ones chosen on its validation set, so each run is judged at its own operating point.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QFileDialog, QGridLayout, QGroupBox, QHBoxLayout, QLabel,
                               QListWidget, QListWidgetItem, QPushButton, QSplitter, QVBoxLayout, QWidget)

from crackviewer.inspect.compare_model import LOSS, TIE, TIE_EPS, WIN, Comparison, diff_map_bgra  # noqa: F401
from crackviewer.inspect.compare_pair import PairViews, _f, _rgb, _signed
from crackviewer.inspect.evaluation_folder import Evaluation, evaluations_of
from crackviewer.inspect.sample_store import SampleStore
from crackviewer.inspect.threshold_model import ThresholdModel
from trainer.errors import CrackError
from trainer.runs import paths


class _PassiveScatter(pg.ScatterPlotItem):
    """A marker that lets clicks through to the points below it."""

    def mouseClickEvent(self, ev):
        ev.ignore()


class ComparePanel(QWidget):
    """Run A (the inspection window's evaluation) against run B on the same split."""

    pairSelected = Signal(str)

    def __init__(self, model_a: ThresholdModel, parent: QWidget | None = None):
        super().__init__(parent)
        self.a = model_a
        self.b = ThresholdModel()
        self.store_a: SampleStore | None = None
        self.store_b: SampleStore | None = None
        self.cmp: Comparison | None = None
        self.current_pair: int | None = None
        self._dirty = False

        # -- top bar
        self.a_label = QLabel("A: —")
        self.a_label.setObjectName("runA")
        self.b_combo = QComboBox()
        self.b_combo.setMinimumWidth(240)
        self.b_combo.setToolTip("Evaluation B: another run or checkpoint evaluated on the same split")
        self.open_b = QPushButton("Open B…")
        self.open_b.setToolTip("A run folder or an evaluation folder (e.g. crack-train eval --checkpoint ... --out DIR)")
        self.b_seg = QDoubleSpinBox()
        self.b_seg.setRange(0.0, 1.0)
        self.b_seg.setDecimals(4)
        self.b_seg.setSingleStep(1 / 256)
        self.b_seg.setKeyboardTracking(False)
        self.b_seg.setToolTip("B's segmentation threshold (default: chosen on B's validation set)")
        self.b_img = QDoubleSpinBox()
        self.b_img.setRange(0.0, 1.0)
        self.b_img.setDecimals(4)
        self.b_img.setSingleStep(0.01)
        self.b_img.setKeyboardTracking(False)
        self.b_img.setToolTip("B's classification threshold")
        self.b_reset = QPushButton("B: validation thresholds")
        self.b_same = QPushButton("B: same as A")
        top = QHBoxLayout()
        top.setSpacing(6)
        top.addWidget(self.a_label)
        top.addSpacing(12)
        lb = QLabel("B:")
        lb.setObjectName("runB")
        top.addWidget(lb)
        top.addWidget(self.b_combo)
        top.addWidget(self.open_b)
        top.addSpacing(12)
        top.addWidget(QLabel("B seg"))
        top.addWidget(self.b_seg)
        top.addWidget(QLabel("B image"))
        top.addWidget(self.b_img)
        top.addWidget(self.b_reset)
        top.addWidget(self.b_same)
        top.addStretch(1)

        # -- scatter
        self.plot, self.scatter, self.sel_marker = scatter_plot(self._tip)
        self.scatter.sigClicked.connect(self._on_scatter_click)

        # -- summary
        self.summary = QLabel("Open run B to compare.")
        self.summary.setTextFormat(Qt.RichText)
        self.summary.setWordWrap(True)
        self.summary.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        self.gains = QListWidget()
        self.losses = QListWidget()
        for lw in (self.gains, self.losses):
            lw.setMaximumHeight(150)
            lw.itemClicked.connect(self._on_list_click)
        sbox = QGroupBox("Where B wins and loses")
        sl = QVBoxLayout(sbox)
        sl.addWidget(self.summary)
        lists = QGridLayout()
        g1 = QLabel("Largest gains (B better)")
        g1.setObjectName("gainsTitle")
        g2 = QLabel("Largest losses (B worse)")
        g2.setObjectName("lossesTitle")
        lists.addWidget(g1, 0, 0)
        lists.addWidget(g2, 0, 1)
        lists.addWidget(self.gains, 1, 0)
        lists.addWidget(self.losses, 1, 1)
        sl.addLayout(lists)
        sl.addStretch(1)

        # -- sample views
        self.pair = PairViews()
        self.views, self.view_titles, self.pair_info = self.pair.views, self.pair.view_titles, self.pair.pair_info
        upper = QSplitter(Qt.Horizontal)
        upper.addWidget(self.plot)
        upper.addWidget(sbox)
        upper.setSizes([520, 700])
        outer = QSplitter(Qt.Vertical)
        outer.addWidget(upper)
        outer.addWidget(self.pair)
        outer.setSizes([380, 460])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.setSpacing(6)
        lay.addLayout(top)
        lay.addWidget(outer, 1)

        self.open_b.clicked.connect(self._on_open_b)
        self.b_combo.activated.connect(self._on_b_chosen)
        self.b_seg.valueChanged.connect(lambda v: self.b.set_seg_threshold(v) if self.b.evaluation else None)
        self.b_img.valueChanged.connect(lambda v: self.b.set_image_threshold(v) if self.b.evaluation else None)
        self.b_reset.clicked.connect(self._reset_b)
        self.b_same.clicked.connect(self._same_as_a)
        self.a.events.thresholds.connect(self._on_change)
        self.b.events.thresholds.connect(self._on_change)
        self.b.events.thresholds.connect(self._sync_b_controls)
        self._b_dirs: list[Path] = []
        self._set_b_enabled(False)

    # ------------------------------------------------------------------ inputs
    def set_reference(self, ev: Evaluation) -> None:
        """A changed (the inspection window opened another evaluation)."""
        self.store_a = SampleStore(ev)
        self.a_label.setText(f"A: {ev.title}")
        if self.b.evaluation is not None:
            self._pair()

    def open_b_path(self, path: str | Path) -> bool:
        """Open B from a run folder (its evaluation of A's split) or an evaluation folder."""
        p = Path(path)
        try:
            if (p / paths.SAMPLES).is_file():
                target = p
                self._b_dirs = [p]
            else:
                dirs = evaluations_of(p)
                if not dirs:
                    raise CrackError(f"{p}: no evaluation folder (samples.npz) in this run")
                split = self.a.evaluation.split if self.a.evaluation is not None else None
                target = next((d for d in dirs if Evaluation.load(d).split == split), dirs[0])
                self._b_dirs = dirs
            ev = Evaluation.load(target)
        except CrackError as exc:
            self.summary.setText(f"<span style='color:#b00020'>{exc}</span>")
            return False
        self.b_combo.blockSignals(True)
        self.b_combo.clear()
        for d in self._b_dirs:
            try:
                title = Evaluation.load(d).title if d != target else ev.title
            except CrackError:
                title = str(d)
            self.b_combo.addItem(title, str(d))
        self.b_combo.setCurrentIndex(max(0, [str(d) for d in self._b_dirs].index(str(target))))
        self.b_combo.blockSignals(False)
        self.store_b = SampleStore(ev)
        self.b.set_evaluation(ev, thresholds="validation")
        self._set_b_enabled(True)
        self._pair()
        return True

    def _on_open_b(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Run B (a run folder or an evaluation folder)")
        if d:
            self.open_b_path(d)

    def _on_b_chosen(self, k: int) -> None:
        if 0 <= k < len(self._b_dirs):
            try:
                ev = Evaluation.load(self._b_dirs[k])
            except CrackError as exc:
                self.summary.setText(f"<span style='color:#b00020'>{exc}</span>")
                return
            self.store_b = SampleStore(ev)
            self.b.set_evaluation(ev, thresholds="validation")
            self._pair()

    def _reset_b(self) -> None:
        if self.b.evaluation is not None:
            self.b.set_thresholds(seg=self.b.presets["seg_validation"].value,
                                  image=self.b.presets["image_validation"].value)

    def _same_as_a(self) -> None:
        if self.b.evaluation is not None:
            self.b.set_thresholds(seg=self.a.seg_threshold, image=self.a.image_threshold, gated=self.a.gated)

    def _sync_b_controls(self, **_):
        for sb, v in ((self.b_seg, self.b.seg_threshold), (self.b_img, self.b.image_threshold)):
            sb.blockSignals(True)
            sb.setValue(min(max(v, 0.0), 1.0))
            sb.blockSignals(False)

    def _set_b_enabled(self, on: bool) -> None:
        for w in (self.b_seg, self.b_img, self.b_reset, self.b_same, self.b_combo):
            w.setEnabled(on)

    # ------------------------------------------------------------------ pairing and drawing
    def _pair(self) -> None:
        if self.a.evaluation is None or self.b.evaluation is None:
            return
        self.cmp = Comparison(self.a, self.b)
        self._sync_b_controls()
        self.current_pair = None
        self.refresh()
        s = self.cmp.summary()
        if s["gains"] or s["losses"]:
            # open the largest loss on a crack image (the most telling one), else the largest change
            pos = self.a.positive[self.cmp.ia]
            cands = [k for k in s["losses"] if pos[k]] or s["losses"] or s["gains"]
            self.select_pair(cands[0])

    def _on_change(self, **_):
        if self.cmp is None:
            return
        if not self.isVisible():
            self._dirty = True
            return
        self.refresh()
        if self.current_pair is not None:
            self._show_pair(self.current_pair)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._dirty and self.cmp is not None:
            self._dirty = False
            self.refresh()
            if self.current_pair is not None:
                self._show_pair(self.current_pair)

    def refresh(self) -> None:
        c = self.cmp
        if c is None:
            return
        da, db = c.dice()
        v = c.verdict()
        ok = v != 2
        brushes = np.empty(c.n, object)
        cols = {1: pg.mkBrush(*WIN, 210), -1: pg.mkBrush(*LOSS, 210), 0: pg.mkBrush(*TIE, 160)}
        for k, b in cols.items():
            brushes[v == k] = b
        idx = np.flatnonzero(ok)
        self.scatter.setData(x=da[idx], y=db[idx], brush=list(brushes[idx]), data=idx)
        s = c.summary()
        self._summary(s)
        if self.current_pair is not None:
            self.sel_marker.setData([da[self.current_pair]], [db[self.current_pair]])

    def _summary(self, s: dict) -> None:
        self.summary.setText(summary_html(s, self.a, self.b))
        c = self.cmp
        names = c.names()
        da, db = c.dice()
        for lw, ks in ((self.gains, s["gains"]), (self.losses, s["losses"])):
            lw.clear()
            for k in ks:
                it = QListWidgetItem(f"{names[k]}   {da[k]:.3f} → {db[k]:.3f}  ({db[k] - da[k]:+.3f})")
                it.setData(Qt.UserRole, int(k))
                lw.addItem(it)

    def _tip(self, x, y, data):
        if self.cmp is None:
            return ""
        return f"{self.cmp.names()[int(data)]}\nDice A {x:.3f}, B {y:.3f}"

    def _on_scatter_click(self, _item, points, _ev=None) -> None:
        if len(points):
            self.select_pair(int(points[0].data()))

    def _on_list_click(self, item: QListWidgetItem) -> None:
        self.select_pair(int(item.data(Qt.UserRole)))

    def select_pair(self, k: int) -> None:
        """Open pair ``k`` (index into the comparison) in the three views."""
        if self.cmp is None:
            return
        self.current_pair = int(k)
        da, db = self.cmp.dice()
        self.sel_marker.setData([da[k]], [db[k]])
        self._show_pair(k)
        self.pairSelected.emit(self.cmp.names()[k])

    def _show_pair(self, k: int) -> None:
        if self.store_a is not None and self.store_b is not None:
            self.pair.show_pair(self.a, self.b, self.store_a, self.store_b, self.cmp, k)


def summary_html(s: dict, a: ThresholdModel, b: ThresholdModel) -> str:
    """The comparison's summary as rich text (``s``: :meth:`Comparison.summary`)."""
    a_name = a.evaluation.title if a.evaluation else "A"
    b_name = b.evaluation.title if b.evaluation else "B"

    def row(name, d):
        return (f"<tr><td>{name}</td><td align=right style='color:{_rgb(WIN)}'><b>{d['wins']}</b></td>"
                f"<td align=right style='color:{_rgb(LOSS)}'><b>{d['losses']}</b></td>"
                f"<td align=right>{d['ties']}</td></tr>")

    delta = (s["dice_b"] - s["dice_a"]) if s["dice_a"] is not None else None
    better = ("B" if delta > 0 else "A") if delta is not None and abs(delta) > 1e-12 else "neither"
    extra = ""
    if s["only_a"] or s["only_b"]:
        extra = (f"<br><span style='color:#8a5a00'>{s['only_a']} samples only in A and {s['only_b']} only in B "
                 "are left out (not the same split?)</span>")
    html = (
        f"<b>{s['n']}</b> samples in both. &nbsp; A = {a_name} (seg {a.seg_threshold:.3f}), "
        f"B = {b_name} (seg {b.seg_threshold:.3f}).<br>"
        f"mean Dice: A <b>{_f(s['dice_a'])}</b> · B <b>{_f(s['dice_b'])}</b> · Δ <b>{_signed(delta)}</b> "
        f"→ <b>{better}</b> is better on average.<br>"
        f"<table cellspacing=0 cellpadding=3><tr><th align=left>Dice (|Δ| &gt; {TIE_EPS})&nbsp;&nbsp;</th>"
        f"<th>&nbsp;B wins&nbsp;</th><th>&nbsp;B loses&nbsp;</th><th>&nbsp;ties&nbsp;</th></tr>"
        + row("all samples", s["all"]) + row("crack images", s["positives"])
        + row("crack-free images", s["negatives"]) + "</table>"
        f"Image classification: B fixes <b style='color:{_rgb(WIN)}'>{s['fixed']}</b> and breaks "
        f"<b style='color:{_rgb(LOSS)}'>{s['broken']}</b> decisions "
        f"(correct: A {s['correct_a']}, B {s['correct_b']} of {s['n']})." + extra)
    return html


def scatter_plot(tip):
    """The A-vs-B Dice scatter: (plot widget, scatter item, selection marker)."""
    plot = pg.PlotWidget(background="w")
    pi = plot.getPlotItem()
    pi.setTitle("<span style='font-size:9.5pt;font-weight:600;color:#222'>Per-sample Dice: A vs B</span>")
    pi.setLabel("bottom", "Dice A", color="#444")
    pi.setLabel("left", "Dice B", color="#444")
    pi.showGrid(x=True, y=True, alpha=0.2)
    pi.setXRange(-0.02, 1.02, padding=0)
    pi.setYRange(-0.02, 1.02, padding=0)
    pi.hideButtons()
    pi.setMenuEnabled(False)
    diag = pg.PlotCurveItem([0, 1], [0, 1], pen=pg.mkPen((160, 160, 160), width=1, style=Qt.DashLine))
    pi.addItem(diag)
    band_hi = pg.PlotCurveItem([0, 1 - TIE_EPS], [TIE_EPS, 1], pen=pg.mkPen((210, 210, 210), width=1))
    band_lo = pg.PlotCurveItem([TIE_EPS, 1], [0, 1 - TIE_EPS], pen=pg.mkPen((210, 210, 210), width=1))
    pi.addItem(band_hi)
    pi.addItem(band_lo)
    scatter = pg.ScatterPlotItem(size=8, pen=pg.mkPen(255, 255, 255, 180, width=0.8), hoverable=True,
                                      hoverSize=12, tip=tip)
    pi.addItem(scatter)
    sel_marker = _PassiveScatter(size=16, symbol="o", pen=pg.mkPen("#111", width=2), brush=None)
    pi.addItem(sel_marker)
    t1 = pg.TextItem("B better ↑", color=WIN, anchor=(0, 0))
    t1.setPos(0.02, 0.98)
    t2 = pg.TextItem("B worse ↓", color=LOSS, anchor=(1, 1))
    t2.setPos(0.98, 0.02)
    pi.addItem(t1)
    pi.addItem(t2)
    return plot, scatter, sel_marker
