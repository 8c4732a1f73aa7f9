"""The Inspect tab's numbers: the threshold controls (sliders and presets), the statistics box (confusion counts,
Dice/IoU, image metrics) and the bar that describes the current sample."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, Qt, QTimer
from PySide6.QtGui import QColor, QFont, QPainter, QPalette
from PySide6.QtWidgets import (QCheckBox, QDoubleSpinBox, QFrame, QGridLayout, QGroupBox, QHBoxLayout, QLabel,
                               QPushButton, QSizePolicy, QSlider, QToolButton, QVBoxLayout, QWidget)

from crackviewer.inspect.live_text import LiveText
from crackviewer.inspect.gallery_tiles import OUTCOME_COLORS
from crackviewer.inspect.threshold_model import ThresholdModel
from trainer.metrics import pixels as metrics_pixels

IMAGE_STEPS = 10000          # classification slider resolution


def _rgb(c) -> str:
    return f"rgb({c[0]},{c[1]},{c[2]})"


def _fmt(v, nd=3) -> str:
    return "—" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.{nd}f}"


class _Swatch(QLabel):
    def __init__(self, color, text: str, line: bool = False):
        super().__init__()
        c = _rgb(color)
        shape = (f"<span style='color:{c};font-size:13pt'>▬</span>" if line
                 else f"<span style='color:{c};font-size:12pt'>■</span>")
        self.setText(f"{shape} {text}")
        self.setObjectName("legendText")


class ThresholdControls(QGroupBox):
    """Segmentation and classification sliders, numeric fields, reset buttons and the gating toggle."""

    def __init__(self, model: ThresholdModel, parent: QWidget | None = None):
        super().__init__("Thresholds", parent)
        self.model = model
        self._sync = False
        self._pending: dict = {}
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._flush)

        self.seg_slider = QSlider(Qt.Horizontal)
        self.seg_slider.setRange(0, metrics_pixels.B)
        self.seg_slider.setSingleStep(4)
        self.seg_slider.setPageStep(128)
        self.seg_slider.setToolTip("Segmentation threshold: a pixel is crack when its probability ≥ this value "
                                   f"(snapped to the {metrics_pixels.B} histogram bin edges, as in evaluation)")
        self.seg_spin = QDoubleSpinBox()
        self.seg_spin.setRange(0.0, 1.0)
        self.seg_spin.setDecimals(4)
        self.seg_spin.setSingleStep(1.0 / 256)
        self.seg_spin.setKeyboardTracking(False)
        self.seg_spin.setFixedWidth(78)
        self.seg_val = QPushButton("Validation")
        self.seg_opt = QPushButton("Test-opt.")

        self.img_slider = QSlider(Qt.Horizontal)
        self.img_slider.setRange(0, IMAGE_STEPS)
        self.img_slider.setSingleStep(10)
        self.img_slider.setPageStep(500)
        self.img_slider.setToolTip("Classification threshold: an image is classified crack when its score ≥ this")
        for sl in (self.seg_slider, self.img_slider):
            # opaque on the panel's white: moving the handle repaints the slider, not the panels behind it
            sl.setAutoFillBackground(True)
            pal = sl.palette()
            pal.setColor(QPalette.Window, QColor("white"))
            sl.setPalette(pal)
            sl.setAttribute(Qt.WA_OpaquePaintEvent, True)
        self.img_spin = QDoubleSpinBox()
        self.img_spin.setRange(0.0, 1.0)
        self.img_spin.setDecimals(4)
        self.img_spin.setSingleStep(0.01)
        self.img_spin.setKeyboardTracking(False)
        self.img_spin.setFixedWidth(78)
        self.img_val = QPushButton("Validation")
        self.img_opt = QPushButton("Test-opt.")
        for b in (self.seg_val, self.seg_opt, self.img_val, self.img_opt):
            b.setObjectName("presetButton")

        self.gate_check = QCheckBox("Gate masks of images classified crack-free")
        self.gate_check.setToolTip("Like SegDecNet at inference: no crack pixels on images whose score is below "
                                   "the classification threshold. Dice and the statistics follow. (Shift+G)")

        grid = QGridLayout(self)
        grid.setContentsMargins(8, 4, 8, 4)
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(3)
        t1 = QLabel("Segmentation (pixels)")
        t1.setObjectName("sliderTitle")
        t2 = QLabel("Classification (images)")
        t2.setObjectName("sliderTitle")
        grid.addLayout(self._title_row(t1, self.seg_val, self.seg_opt), 0, 0, 1, 2)
        grid.addWidget(self.seg_slider, 1, 0)
        grid.addWidget(self.seg_spin, 1, 1)
        grid.addLayout(self._title_row(t2, self.img_val, self.img_opt), 2, 0, 1, 2)
        grid.addWidget(self.img_slider, 3, 0)
        grid.addWidget(self.img_spin, 3, 1)
        grid.addWidget(self.gate_check, 4, 0, 1, 2)
        grid.setColumnStretch(0, 1)

        self.seg_slider.valueChanged.connect(self._on_seg_slider)
        self.seg_spin.valueChanged.connect(self._on_seg_spin)
        self.img_slider.valueChanged.connect(self._on_img_slider)
        self.img_spin.valueChanged.connect(self._on_img_spin)
        self.seg_val.clicked.connect(lambda: self.model.reset_seg("validation"))
        self.seg_opt.clicked.connect(lambda: self.model.reset_seg("optimal"))
        self.img_val.clicked.connect(lambda: self.model.reset_image("validation"))
        self.img_opt.clicked.connect(lambda: self.model.reset_image("optimal"))
        self.gate_check.toggled.connect(lambda on: None if self._sync else self.model.set_gated(on))
        model.events.thresholds.connect(self.sync)
        model.events.evaluation.connect(self._on_evaluation)
        self.setEnabled(model.evaluation is not None)
        if model.evaluation is not None:
            self._on_evaluation()

    @staticmethod
    def _title_row(title, *buttons) -> QHBoxLayout:
        """The slider's title and its reset buttons on one line (saves two rows at 1280x800)."""
        row = QHBoxLayout()
        row.setSpacing(4)
        row.addWidget(title)
        row.addStretch(1)
        for b in buttons:
            b.setToolTip("Reset to this threshold")
            row.addWidget(b)
        return row

    def _on_evaluation(self, **_):
        self.setEnabled(True)
        p = self.model.presets
        for btn, key in ((self.seg_val, "seg_validation"), (self.seg_opt, "seg_optimal"),
                         (self.img_val, "image_validation"), (self.img_opt, "image_optimal")):
            pr = p[key]
            btn.setToolTip(f"{pr.value:.4f}: {pr.source}")
        self.sync()

    def sync(self, **_):
        m = self.model
        self._sync = True
        try:
            t = min(max(m.image_threshold, 0.0), 1.0)
            # only what changed: setting a spin box to its own value still repaints it (and the panels behind it)
            for w, v in ((self.seg_slider, m.seg_bin), (self.seg_spin, m.seg_threshold),
                         (self.img_slider, int(round(t * IMAGE_STEPS))), (self.img_spin, t)):
                if w.value() != v:
                    w.setValue(v)
            self.gate_check.setChecked(m.gated)
        finally:
            self._sync = False

    def _on_seg_slider(self, v: int):
        if not self._sync:
            self._apply(self.seg_slider, lambda: self.model.set_seg_bin(self.seg_slider.value()))

    def _on_seg_spin(self, v: float):
        if not self._sync:
            self.model.set_seg_threshold(v)

    def _on_img_slider(self, v: int):
        if not self._sync:
            self._apply(self.img_slider, lambda: self.model.set_image_threshold(self.img_slider.value() / IMAGE_STEPS))

    def _apply(self, slider, update) -> None:
        """While the user drags a slider, coalesce its moves: one model update per pass of the event loop (a
        drag delivers several moves per frame on a slow machine), with the latest value. Other changes (keys,
        clicks, setValue) apply at once."""
        if not slider.isSliderDown():
            update()
            return
        self._pending[slider] = update
        if not self._timer.isActive():
            self._timer.start(0)

    def _flush(self) -> None:
        pending, self._pending = self._pending, {}
        for update in pending.values():
            update()

    def _on_img_spin(self, v: float):
        if not self._sync:
            self.model.set_image_threshold(v)


class StatsView(QWidget):
    """The split's numbers at the current thresholds in large type (tolerance F1, Dice and IoU with empty GT
    handled, each beside the reference's formula) and the 2x2 image-level confusion matrix, painted directly (one
    cheap repaint per slider step, no text layout, no relayout of the window)."""

    BIG = (("F1 tol", "f1_tol"), ("Dice", "dice_empty_ok_mean"), ("IoU", "iou_empty_ok_mean"))
    KEYS = ("f1_tol", "precision_tol", "recall_tol", "dice_empty_ok_mean", "iou_empty_ok_mean", "dice_mean",
            "dice_std", "iou_mean", "iou_std", "tp", "fp", "fn", "tn")

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setAttribute(Qt.WA_OpaquePaintEvent, True)
        self.setFixedHeight(116)
        self.setMinimumWidth(250)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        self._big = QFont(self.font())
        self._big.setPointSizeF(14)
        self._big.setBold(True)
        self._small = QFont(self.font())
        self._small.setPointSizeF(8)
        self._cell = QFont(self.font())
        self._cell.setBold(True)
        self.values: dict = {}

    def set_values(self, stats: dict) -> None:
        v = {k: stats.get(k) for k in self.KEYS}
        if v != self.values:
            self.values = v
            self.update()

    def subline(self, key: str) -> str:
        v = self.values
        if key == "f1_tol":
            return f"P {_fmt(v.get('precision_tol'), 2)} · R {_fmt(v.get('recall_tol'), 2)}"
        ref = "dice_mean" if key.startswith("dice") else "iou_mean"
        return f"ref. formula {_fmt(v.get(ref))}"

    def text(self) -> str:
        v = self.values
        return (f"F1 tol {_fmt(v.get('f1_tol'))} | Dice {_fmt(v.get('dice_empty_ok_mean'))} (ref. mean Dice "
                f"{_fmt(v.get('dice_mean'))} ± {_fmt(v.get('dice_std'))}) | IoU {_fmt(v.get('iou_empty_ok_mean'))} "
                f"(ref. mean IoU {_fmt(v.get('iou_mean'))} ± {_fmt(v.get('iou_std'))}) | TP {v.get('tp')} "
                f"FP {v.get('fp')} FN {v.get('fn')} TN {v.get('tn')}")

    def paintEvent(self, event) -> None:
        v = self.values
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("white"))
        w = self.width()
        grey, dark = QColor(107, 114, 123), QColor(29, 33, 39)
        cw3 = w // 3
        for k, (label, key) in enumerate(self.BIG):
            x = 2 + k * cw3
            p.setFont(self._small)
            p.setPen(grey)
            p.drawText(QRect(x, 0, cw3, 14), Qt.AlignLeft | Qt.AlignVCenter, label)
            p.drawText(QRect(x, 38, cw3, 13), Qt.AlignLeft | Qt.AlignVCenter, self.subline(key))
            p.setFont(self._big)
            p.setPen(dark)
            p.drawText(QRect(x, 13, cw3, 27), Qt.AlignLeft | Qt.AlignVCenter, _fmt(v.get(key)))
        top, lw = 56, 104
        cw = (w - lw - 8) // 2
        p.setFont(self._small)
        p.setPen(grey)
        p.drawText(QRect(lw, top, cw, 15), Qt.AlignCenter, "GT crack")
        p.drawText(QRect(lw + cw + 4, top, cw, 15), Qt.AlignCenter, "GT crack-free")
        p.drawText(QRect(2, top + 16, lw - 4, 21), Qt.AlignLeft | Qt.AlignVCenter, "classified crack")
        p.drawText(QRect(2, top + 39, lw - 4, 21), Qt.AlignLeft | Qt.AlignVCenter, "classified free")
        for key, r, c in (("TP", 0, 0), ("FP", 0, 1), ("FN", 1, 0), ("TN", 1, 1)):
            col = QColor(*OUTCOME_COLORS[key])
            rect = QRect(lw + c * (cw + 4), top + 16 + r * 23, cw, 21)
            p.setPen(col)
            p.drawRect(rect.adjusted(0, 0, -1, -1))
            p.fillRect(QRect(rect.left(), rect.top(), 5, rect.height()), col)
            p.setFont(self._cell)
            p.setPen(dark)
            n = v.get(key.lower())
            p.drawText(rect.adjusted(5, 0, 0, 0), Qt.AlignCenter, f"{key}  {'—' if n is None else n}")
        p.end()


class StatsPanel(QGroupBox):
    """The split's metrics at the current thresholds, its threshold-free crack metrics, and the confusion matrix."""

    def __init__(self, model: ThresholdModel, parent: QWidget | None = None):
        super().__init__("Statistics", parent)
        self.model = model
        self.view = StatsView()
        self.note_label = LiveText(3)
        f = self.note_label.font()
        f.setPointSizeF(8)
        self.note_label.setFont(f)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 6, 8, 4)
        lay.setSpacing(2)
        lay.addWidget(self.view)
        lay.addWidget(self.note_label)
        model.events.thresholds.connect(self.refresh)
        if model.evaluation is not None:
            self.refresh()

    def text(self) -> str:
        return self.view.text() + " | " + self.note_label.text()

    def refresh(self, **_):
        s = self.model.stats
        self.view.set_values(s)
        m = self.model
        weak = int((m.positive & ~m.segmented).sum())
        sp = m.split or {}
        crack = ("no crack metrics in this evaluation (evaluate again for tolerance F1, ODS/OIS, clDice)"
                 if m.split is None else
                 f"F1 ODS <b>{_fmt(sp.get('ods_f1'))}</b> OIS <b>{_fmt(sp.get('ois_f1'))}</b> · AP "
                 f"<b>{_fmt(sp.get('pixel_ap'))}</b> · clDice <b>{_fmt(sp.get('cldice_mean'))}</b>")
        tol = sp.get("tolerance_px")
        note = (f"Dice of {s['dice_n']}/{m.n}" + (f" ({weak} weak out)" if weak else "")
                + (", gated" if m.gated else "") + " · empty GT+pred = 1"
                + (f" · tol. {tol:g} px" if tol is not None else ""))
        self.note_label.setText(
            f"<span style='color:#2b3038'>{crack}</span><br>"
            f"<span style='color:#2b3038'>images: P {_fmt(s['precision'])} · R {_fmt(s['recall'])} · "
            f"F {_fmt(s['f_measure'])} · acc. {_fmt(s['accuracy'])}</span><br>"
            f"<span style='color:#6b727b'>{note}</span>")


def crack_free_ok(info: dict) -> bool:
    """A crack-free image classified crack-free: shown as such, not as a Dice of its stray pixels."""
    return info["label"] == 0 and info["outcome"] == "TN"


class SampleInfoBar(QFrame):
    """The selected sample's numbers."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("statusCard")
        self.label = LiveText(3)
        self.label.setText("No sample selected")
        self.prev_btn = QToolButton()
        self.prev_btn.setText("◀")
        self.prev_btn.setToolTip("Previous sample in gallery order (P)")
        self.next_btn = QToolButton()
        self.next_btn.setText("▶")
        self.next_btn.setToolTip("Next sample in gallery order (N)")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(8, 4, 8, 4)
        lay.addWidget(self.prev_btn)
        lay.addWidget(self.label, 1)
        lay.addWidget(self.next_btn)

    def show_info(self, info: dict | None, problem: str | None = None) -> None:
        if info is None:
            self.label.setText("No sample selected")
            return
        col = _rgb(OUTCOME_COLORS[info["outcome"]])
        badge = (f"<span style='background:{col};color:white;font-weight:600;'>&nbsp;{info['outcome']}&nbsp;</span>")
        label = "crack" if info["label"] else "crack-free"
        decision = "crack" if info["decision"] else "crack-free"
        unc = "" if info.get("uncertainty") is None else f" · unc. {_fmt(info['uncertainty'])}"
        if crack_free_ok(info):
            scores = "<b>no crack ✓</b>" + (f" ({info['fp_pixels']} stray px)" if info["fp_pixels"] else "") + unc
        else:
            ref = f" (ref. formula {_fmt(info['dice'])})" if info["dice"] != info.get("dice_empty_ok") else ""
            scores = (f"Dice <b>{_fmt(info.get('dice_empty_ok'))}</b>{ref} · IoU <b>{_fmt(info.get('iou_empty_ok'))}"
                      "</b>" + ("" if info.get("f1_tol") is None else f" · F1 tol <b>{_fmt(info['f1_tol'])}</b>")
                      + ("" if info.get("cldice") is None else f" · clDice <b>{_fmt(info['cldice'])}</b>") + unc)
        extra = " · <i>mask gated</i>" if info["gated_out"] else ""
        if info["weak"]:
            extra += " · <i>no GT mask (weak label)</i>"
        html = (f"<b>{info['name']}</b> &nbsp; GT {label} · score <b>{info['score']:.3f}</b> → {decision} {badge}"
                f" &nbsp; {scores} · crack px GT <b>{info['gt_pixels']}</b>, "
                f"predicted <b>{info['pred_pixels']}</b>{extra}")
        if problem:
            html += f"<br><span style='color:#8a5a00'>{problem}</span>"
        self.label.setText(html)
