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

import cv2
import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QFileDialog, QFrame, QGridLayout, QGroupBox, QHBoxLayout,
                               QLabel, QListWidget, QListWidgetItem, QPushButton, QSplitter, QVBoxLayout, QWidget)

from figures import colors
from crackviewer.inspect.evaluation_folder import Evaluation, evaluations_of
from crackviewer.inspect.sample_store import SampleStore
from crackviewer.inspect.threshold_model import ThresholdModel
from crackviewer.viewer.layers import ContourItem, error_map_bgra, mask_contours
from crackviewer.viewer.view import SampleViewer, ViewLink
from trainer.metrics import pixels as metrics_pixels
from trainer.errors import CrackError

TIE_EPS = 0.01          # |Dice B - Dice A| below this is a tie
WIN = colors.WIN
LOSS = colors.LOSS
TIE = (150, 150, 150)
BOTH_WRONG = (120, 120, 120)


def _rgb(c) -> str:
    return f"rgb({c[0]},{c[1]},{c[2]})"


def diff_map_bgra(pred_a: np.ndarray, pred_b: np.ndarray, gt: np.ndarray, alpha: int = 255) -> np.ndarray:
    """Premultiplied BGRA difference map: WIN where only B is right, LOSS where only A is right, grey where both are
    wrong, transparent where both are right."""
    a_ok = pred_a.astype(bool) == gt.astype(bool)
    b_ok = pred_b.astype(bool) == gt.astype(bool)
    code = np.zeros(gt.shape, np.uint8)
    code[b_ok & ~a_ok] = 1
    code[a_ok & ~b_ok] = 2
    code[~a_ok & ~b_ok] = 3
    table = np.zeros((4, 4), np.uint8)
    for k, c in ((1, WIN), (2, LOSS), (3, BOTH_WRONG)):
        a = alpha if k != 3 else alpha // 2
        table[k] = [c[2] * a // 255, c[1] * a // 255, c[0] * a // 255, a]
    return table[code]


class _PassiveScatter(pg.ScatterPlotItem):
    """A marker that lets clicks through to the points below it."""

    def mouseClickEvent(self, ev):
        ev.ignore()


class Comparison:
    """Qt-free pairing of two models on their common samples."""

    def __init__(self, a: ThresholdModel, b: ThresholdModel):
        self.a, self.b = a, b
        names_b = {n: i for i, n in enumerate(b.names)}
        ia, ib = [], []
        for i, n in enumerate(a.names):
            j = names_b.get(n)
            if j is not None:
                ia.append(i)
                ib.append(j)
        self.ia = np.asarray(ia, np.int64)
        self.ib = np.asarray(ib, np.int64)
        self.only_a = a.n - len(ia)
        self.only_b = b.n - len(ib)

    @property
    def n(self) -> int:
        return int(self.ia.size)

    def names(self) -> list[str]:
        return [self.a.names[i] for i in self.ia]

    def dice(self) -> tuple[np.ndarray, np.ndarray]:
        return self.a.dice[self.ia], self.b.dice[self.ib]

    def delta(self) -> np.ndarray:
        da, db = self.dice()
        return db - da

    def verdict(self) -> np.ndarray:
        """Per pair: 1 B wins, -1 B loses, 0 tie, 2 no Dice (weak label)."""
        d = self.delta()
        out = np.zeros(d.shape, np.int8)
        with np.errstate(invalid="ignore"):
            out[d > TIE_EPS] = 1
            out[d < -TIE_EPS] = -1
        out[np.isnan(d)] = 2
        return out

    def summary(self) -> dict:
        da, db = self.dice()
        v = self.verdict()
        pos = self.a.positive[self.ia]
        ok = v != 2

        def counts(sel):
            return dict(wins=int(((v == 1) & sel).sum()), losses=int(((v == -1) & sel).sum()),
                        ties=int(((v == 0) & sel).sum()))

        oa = self.a.outcome[self.ia]
        ob = self.b.outcome[self.ib]
        correct_a = (oa == 0) | (oa == 3)
        correct_b = (ob == 0) | (ob == 3)
        d = db - da
        order = np.argsort(np.where(ok, d, 0.0))
        gains = [int(k) for k in order[::-1] if ok[k] and d[k] > TIE_EPS][:8]
        losses = [int(k) for k in order if ok[k] and d[k] < -TIE_EPS][:8]
        return dict(
            n=self.n, only_a=self.only_a, only_b=self.only_b,
            dice_a=float(np.nanmean(da[ok])) if ok.any() else None,
            dice_b=float(np.nanmean(db[ok])) if ok.any() else None,
            all=counts(ok), positives=counts(ok & pos), negatives=counts(ok & ~pos),
            fixed=int((~correct_a & correct_b).sum()), broken=int((correct_a & ~correct_b).sum()),
            correct_a=int(correct_a.sum()), correct_b=int(correct_b.sum()),
            gains=gains, losses=losses,
        )


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
        self.a_label.setStyleSheet(f"font-weight:600;color:{_rgb(colors.CURVE_A)};")
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
        lb.setStyleSheet(f"font-weight:600;color:{_rgb(colors.CURVE_B)};")
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
        self.plot = pg.PlotWidget(background="w")
        pi = self.plot.getPlotItem()
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
        self.scatter = pg.ScatterPlotItem(size=8, pen=pg.mkPen(255, 255, 255, 180, width=0.8), hoverable=True,
                                          hoverSize=12, tip=self._tip)
        self.scatter.sigClicked.connect(self._on_scatter_click)
        pi.addItem(self.scatter)
        self.sel_marker = _PassiveScatter(size=16, symbol="o", pen=pg.mkPen("#111", width=2), brush=None)
        pi.addItem(self.sel_marker)
        t1 = pg.TextItem("B better ↑", color=WIN, anchor=(0, 0))
        t1.setPos(0.02, 0.98)
        t2 = pg.TextItem("B worse ↓", color=LOSS, anchor=(1, 1))
        t2.setPos(0.98, 0.02)
        pi.addItem(t1)
        pi.addItem(t2)

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
        g1.setStyleSheet(f"color:{_rgb(WIN)};font-weight:600;")
        g2 = QLabel("Largest losses (B worse)")
        g2.setStyleSheet(f"color:{_rgb(LOSS)};font-weight:600;")
        lists.addWidget(g1, 0, 0)
        lists.addWidget(g2, 0, 1)
        lists.addWidget(self.gains, 1, 0)
        lists.addWidget(self.losses, 1, 1)
        sl.addLayout(lists)
        sl.addStretch(1)

        # -- sample views
        self.views = [SampleViewer(), SampleViewer(), SampleViewer()]
        self.view_titles = [QLabel("A"), QLabel("B"), QLabel("Difference")]
        for v in self.views:
            v.add_layer("overlay", z=2, opacity=0.8)
            v.add_item("gt", ContourItem(colors.GT_CONTOUR, 1.2), z=5)
        self._link = ViewLink(self.views)
        vrow = QHBoxLayout()
        vrow.setSpacing(3)
        for t, v in zip(self.view_titles, self.views):
            col = QVBoxLayout()
            col.setSpacing(0)
            t.setAlignment(Qt.AlignCenter)
            t.setStyleSheet("background:#26282c;color:#e0e0e0;padding:3px;font-weight:600;")
            col.addWidget(t)
            col.addWidget(v, 1)
            vrow.addLayout(col, 1)
        legend = QLabel(
            f"<span style='color:{_rgb(colors.TP)}'>■</span> TP &nbsp; <span style='color:{_rgb(colors.FP)}'>■</span>"
            f" FP &nbsp; <span style='color:{_rgb(colors.FN)}'>■</span> FN &nbsp;&nbsp;│&nbsp;&nbsp; difference: "
            f"<span style='color:{_rgb(WIN)}'>■</span> B fixes A &nbsp; <span style='color:{_rgb(LOSS)}'>■</span> "
            f"B breaks A &nbsp; <span style='color:{_rgb(BOTH_WRONG)}'>■</span> both wrong &nbsp; "
            f"<span style='color:{_rgb(colors.GT_CONTOUR)}'>▬</span> GT contour")
        legend.setStyleSheet("color:#444;")
        self.pair_info = QLabel("Click a point of the scatter.")
        self.pair_info.setTextFormat(Qt.RichText)
        vbox = QWidget()
        vl = QVBoxLayout(vbox)
        vl.setContentsMargins(0, 0, 0, 0)
        vl.setSpacing(3)
        vl.addWidget(self.pair_info)
        frame = QFrame()
        frame.setStyleSheet("QFrame { background: #26282c; border-radius: 4px; }")
        frame.setLayout(vrow)
        vl.addWidget(frame, 1)
        vl.addWidget(legend)

        upper = QSplitter(Qt.Horizontal)
        upper.addWidget(self.plot)
        upper.addWidget(sbox)
        upper.setSizes([520, 700])
        outer = QSplitter(Qt.Vertical)
        outer.addWidget(upper)
        outer.addWidget(vbox)
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
            if (p / "samples.npz").is_file():
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
        a_name = self.a.evaluation.title if self.a.evaluation else "A"
        b_name = self.b.evaluation.title if self.b.evaluation else "B"

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
            f"<b>{s['n']}</b> samples in both. &nbsp; A = {a_name} (seg {self.a.seg_threshold:.3f}), "
            f"B = {b_name} (seg {self.b.seg_threshold:.3f}).<br>"
            f"mean Dice: A <b>{_f(s['dice_a'])}</b> · B <b>{_f(s['dice_b'])}</b> · Δ <b>{_signed(delta)}</b> "
            f"→ <b>{better}</b> is better on average.<br>"
            f"<table cellspacing=0 cellpadding=3><tr><th align=left>Dice (|Δ| &gt; {TIE_EPS})&nbsp;&nbsp;</th>"
            f"<th>&nbsp;B wins&nbsp;</th><th>&nbsp;B loses&nbsp;</th><th>&nbsp;ties&nbsp;</th></tr>"
            + row("all samples", s["all"]) + row("crack images", s["positives"])
            + row("crack-free images", s["negatives"]) + "</table>"
            f"Image classification: B fixes <b style='color:{_rgb(WIN)}'>{s['fixed']}</b> and breaks "
            f"<b style='color:{_rgb(LOSS)}'>{s['broken']}</b> decisions "
            f"(correct: A {s['correct_a']}, B {s['correct_b']} of {s['n']})." + extra)
        self.summary.setText(html)
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
        c = self.cmp
        ia, ib = int(c.ia[k]), int(c.ib[k])
        sa = self.store_a.load(ia) if self.store_a else None
        sb = self.store_b.load(ib) if self.store_b else None
        if sa is None or sb is None:
            return
        preds = []
        for model, s, i in ((self.a, sa, ia), (self.b, sb, ib)):
            if s.prob8 is None:
                preds.append(None)
                continue
            pred = metrics_pixels.prob_to_bin(s.prob8.astype(np.float64) / 255.0) >= model.seg_bin
            if model.mask_blanked(i):
                pred[:] = False
            preds.append(pred)
        gt = sa.gt_eval
        contours = mask_contours(sa.gt) if sa.gt is not None else []
        # B's map at A's resolution (two models may have different input sizes)
        if preds[1] is not None and preds[0] is not None and preds[1].shape != preds[0].shape:
            h, w = preds[0].shape
            preds[1] = cv2.resize(preds[1].astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
        g = gt if gt is not None else (np.zeros_like(preds[0]) if preds[0] is not None else None)
        layers = [error_map_bgra(p, g) if p is not None and g is not None else None for p in preds[:2]]
        diff = diff_map_bgra(preds[0], preds[1], g) if all(x is not None for x in (preds[0], preds[1], g)) else None
        for v, lay in zip(self.views, layers + [diff]):
            v.set_image(sa.image)
            v.layer("gt").set_contours(contours)
            if lay is None:
                v.layer("overlay").clear()
            else:
                v.layer("overlay").set_bgra(lay)
        ia_info, ib_info = self.a.sample_info(ia), self.b.sample_info(ib)
        self.view_titles[0].setText(f"A · Dice {_f(ia_info['dice'])} · {ia_info['outcome']}")
        self.view_titles[1].setText(f"B · Dice {_f(ib_info['dice'])} · {ib_info['outcome']}")
        d = (ib_info["dice"] - ia_info["dice"]) if ia_info["dice"] is not None and ib_info["dice"] is not None \
            else None
        self.view_titles[2].setText(f"Difference · Δ Dice {_signed(d)}")
        label = "crack" if ia_info["label"] else "crack-free"
        self.pair_info.setText(f"<b>{ia_info['name']}</b> ({label}) &nbsp; score A {ia_info['score']:.3f} → "
                               f"{ia_info['outcome']}, B {ib_info['score']:.3f} → {ib_info['outcome']} &nbsp; "
                               f"crack px GT {ia_info['gt_pixels']}, A {ia_info['pred_pixels']}, "
                               f"B {ib_info['pred_pixels']}")


def _f(v) -> str:
    return "—" if v is None else f"{v:.3f}"


def _signed(v) -> str:
    return "—" if v is None else f"{v:+.3f}"
