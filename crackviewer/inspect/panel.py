"""The inspection window: gallery, overlay viewer, two threshold sliders, statistics, ROC/PR, comparison, export.

    panel = InspectPanel()
    panel.open_run("runs/quick-1")               # its test evaluation (or split="val" for evals/val)
    panel.open_eval("runs/quick-1/evals/val")    # any evaluation folder

Everything is bound to one :class:`~crackviewer.inspect.threshold_model.ThresholdModel`: moving a slider changes the model,
and the model's ``thresholds`` event updates the overlay, every tile's Dice and outcome, the gallery order and
filters, the statistics and the operating points on the curves, in one pass.

Keyboard (while the panel has focus): N / P next / previous sample in gallery order, G GT contour, M predicted
mask, H heatmap, E error map, S side by side, F fit, 1 one-to-one, Shift+G gate masks.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QColor, QKeySequence, QShortcut
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QFrame, QGridLayout, QGroupBox,
                               QHBoxLayout, QLabel, QMenu, QMessageBox, QProgressDialog, QPushButton, QSizePolicy,
                               QSlider, QSplitter, QTabWidget, QToolButton, QVBoxLayout, QWidget)

from crackviewer import colors
from crackviewer.inspect import export as X
from crackviewer.inspect.curves import CurvesPanel, LiveText
from crackviewer.inspect.gallery import OUTCOME_COLORS, Gallery
from crackviewer.viewer.view import OVERLAY_TITLES, CrackOverlayView
from crackviewer.inspect.threshold_model import Evaluation, SampleStore, ThresholdModel, evaluations_of, find_run_dir
from trainer import metrics as M
from trainer.errors import CrackError

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
        self.setStyleSheet("color:#444;")


# ---------------------------------------------------------------------------------------------------------------


class ThresholdControls(QGroupBox):
    """Segmentation and classification sliders, numeric fields, reset buttons and the gating toggle."""

    def __init__(self, model: ThresholdModel, parent: QWidget | None = None):
        super().__init__("Thresholds", parent)
        self.model = model
        self._sync = False

        self.seg_slider = QSlider(Qt.Horizontal)
        self.seg_slider.setRange(0, M.B)
        self.seg_slider.setSingleStep(4)
        self.seg_slider.setPageStep(128)
        self.seg_slider.setToolTip("Segmentation threshold: a pixel is crack when its probability ≥ this value "
                                   f"(snapped to the {M.B} histogram bin edges, as in evaluation)")
        self.seg_spin = QDoubleSpinBox()
        self.seg_spin.setRange(0.0, 1.0)
        self.seg_spin.setDecimals(4)
        self.seg_spin.setSingleStep(1.0 / 256)
        self.seg_spin.setKeyboardTracking(False)
        self.seg_spin.setFixedWidth(78)
        self.seg_val = QPushButton("Validation")
        self.seg_opt = QPushButton("Test-optimal")

        self.img_slider = QSlider(Qt.Horizontal)
        self.img_slider.setRange(0, IMAGE_STEPS)
        self.img_slider.setSingleStep(10)
        self.img_slider.setPageStep(500)
        self.img_slider.setToolTip("Classification threshold: an image is classified crack when its score ≥ this")
        self.img_spin = QDoubleSpinBox()
        self.img_spin.setRange(0.0, 1.0)
        self.img_spin.setDecimals(4)
        self.img_spin.setSingleStep(0.01)
        self.img_spin.setKeyboardTracking(False)
        self.img_spin.setFixedWidth(78)
        self.img_val = QPushButton("Validation")
        self.img_opt = QPushButton("Test-optimal")
        for b in (self.seg_val, self.seg_opt, self.img_val, self.img_opt):
            b.setStyleSheet("QPushButton { padding: 2px 8px; }")

        self.gate_check = QCheckBox("Gate masks of images classified crack-free")
        self.gate_check.setToolTip("Like SegDecNet at inference: no crack pixels on images whose score is below "
                                   "the classification threshold. Dice and the statistics follow. (Shift+G)")

        grid = QGridLayout(self)
        grid.setContentsMargins(8, 8, 8, 6)
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(3)
        t1 = QLabel("Segmentation (pixels)")
        t1.setStyleSheet("font-weight:600;color:#2b3038;")
        t2 = QLabel("Classification (images)")
        t2.setStyleSheet("font-weight:600;color:#2b3038;")
        grid.addWidget(t1, 0, 0, 1, 2)
        grid.addWidget(self.seg_slider, 1, 0)
        grid.addWidget(self.seg_spin, 1, 1)
        b1 = QHBoxLayout()
        b1.setSpacing(4)
        b1.addWidget(QLabel("Reset to"))
        b1.addWidget(self.seg_val)
        b1.addWidget(self.seg_opt)
        b1.addStretch(1)
        grid.addLayout(b1, 2, 0, 1, 2)
        grid.addWidget(t2, 3, 0, 1, 2)
        grid.addWidget(self.img_slider, 4, 0)
        grid.addWidget(self.img_spin, 4, 1)
        b2 = QHBoxLayout()
        b2.setSpacing(4)
        b2.addWidget(QLabel("Reset to"))
        b2.addWidget(self.img_val)
        b2.addWidget(self.img_opt)
        b2.addStretch(1)
        grid.addLayout(b2, 5, 0, 1, 2)
        grid.addWidget(self.gate_check, 6, 0, 1, 2)
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
            self.seg_slider.setValue(m.seg_bin)
            self.seg_spin.setValue(m.seg_threshold)
            self.img_slider.setValue(int(round(min(max(m.image_threshold, 0.0), 1.0) * IMAGE_STEPS)))
            self.img_spin.setValue(min(max(m.image_threshold, 0.0), 1.0))
            self.gate_check.setChecked(m.gated)
        finally:
            self._sync = False

    def _on_seg_slider(self, v: int):
        if not self._sync:
            self.model.set_seg_bin(v)

    def _on_seg_spin(self, v: float):
        if not self._sync:
            self.model.set_seg_threshold(v)

    def _on_img_slider(self, v: int):
        if not self._sync:
            self.model.set_image_threshold(v / IMAGE_STEPS)

    def _on_img_spin(self, v: float):
        if not self._sync:
            self.model.set_image_threshold(v)


# ---------------------------------------------------------------------------------------------------------------


class StatsView(QWidget):
    """Mean ± std of Dice and IoU in large type and the 2x2 image-level confusion matrix, painted directly (one
    cheap repaint per slider step, no text layout, no relayout of the window)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        from PySide6.QtGui import QFont

        self.setAttribute(Qt.WA_OpaquePaintEvent, True)
        self.setFixedHeight(118)
        self.setMinimumWidth(250)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        self._big = QFont(self.font())
        self._big.setPointSizeF(15)
        self._big.setBold(True)
        self._small = QFont(self.font())
        self._small.setPointSizeF(8.5)
        self._cell = QFont(self.font())
        self._cell.setBold(True)
        self.values: dict = {}

    def set_values(self, stats: dict) -> None:
        keys = ("dice_mean", "dice_std", "iou_mean", "iou_std", "tp", "fp", "fn", "tn")
        v = {k: stats.get(k) for k in keys}
        if v != self.values:
            self.values = v
            self.update()

    def text(self) -> str:
        v = self.values
        return (f"mean Dice {_fmt(v.get('dice_mean'))} ± {_fmt(v.get('dice_std'))} | mean IoU "
                f"{_fmt(v.get('iou_mean'))} ± {_fmt(v.get('iou_std'))} | TP {v.get('tp')} FP {v.get('fp')} "
                f"FN {v.get('fn')} TN {v.get('tn')}")

    def paintEvent(self, event) -> None:
        from PySide6.QtCore import QRect
        from PySide6.QtGui import QPainter

        v = self.values
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("white"))
        w = self.width()
        grey, dark = QColor(107, 114, 123), QColor(29, 33, 39)
        # big numbers
        for k, (label, mean, std) in enumerate((("mean Dice", "dice_mean", "dice_std"),
                                                ("mean IoU", "iou_mean", "iou_std"))):
            x = 2 + k * w // 2
            p.setFont(self._small)
            p.setPen(grey)
            p.drawText(QRect(x, 0, w // 2, 16), Qt.AlignLeft | Qt.AlignVCenter, label)
            p.setFont(self._big)
            p.setPen(dark)
            num = _fmt(v.get(mean))
            p.drawText(QRect(x, 15, w // 2, 28), Qt.AlignLeft | Qt.AlignVCenter, num)
            nw = p.fontMetrics().horizontalAdvance(num)
            p.setFont(self._small)
            p.setPen(grey)
            p.drawText(QRect(x + nw + 6, 19, w // 2, 24), Qt.AlignLeft | Qt.AlignVCenter, f"± {_fmt(v.get(std))}")
        # confusion matrix
        top, lw = 50, 104
        cw = (w - lw - 8) // 2
        p.setFont(self._small)
        p.setPen(grey)
        p.drawText(QRect(lw, top, cw, 16), Qt.AlignCenter, "GT crack")
        p.drawText(QRect(lw + cw + 4, top, cw, 16), Qt.AlignCenter, "GT crack-free")
        p.drawText(QRect(2, top + 18, lw - 4, 24), Qt.AlignLeft | Qt.AlignVCenter, "classified crack")
        p.drawText(QRect(2, top + 44, lw - 4, 24), Qt.AlignLeft | Qt.AlignVCenter, "classified free")
        for key, r, c in (("TP", 0, 0), ("FP", 0, 1), ("FN", 1, 0), ("TN", 1, 1)):
            col = QColor(*OUTCOME_COLORS[key])
            rect = QRect(lw + c * (cw + 4), top + 18 + r * 26, cw, 23)
            p.setPen(col)
            p.drawRect(rect.adjusted(0, 0, -1, -1))
            p.fillRect(QRect(rect.left(), rect.top(), 5, rect.height()), col)
            p.setFont(self._cell)
            p.setPen(dark)
            n = v.get(key.lower())
            p.drawText(rect.adjusted(5, 0, 0, 0), Qt.AlignCenter, f"{key}  {'—' if n is None else n}")
        p.end()


class StatsPanel(QGroupBox):
    """Mean ± std of Dice and IoU, and the image-level confusion matrix, at the current thresholds."""

    def __init__(self, model: ThresholdModel, parent: QWidget | None = None):
        super().__init__("Statistics", parent)
        self.model = model
        self.view = StatsView()
        self.note_label = LiveText(3)
        f = self.note_label.font()
        f.setPointSizeF(8.5)
        self.note_label.setFont(f)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 8, 8, 6)
        lay.setSpacing(4)
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
        note = (f"Dice over {s['dice_n']} of {m.n} samples at seg threshold {m.seg_threshold:.4f}"
                + (f" ({weak} weak positives without a mask left out)" if weak else "")
                + (", masks gated" if m.gated else ""))
        self.note_label.setText(
            f"<span style='color:#2b3038'>precision {_fmt(s['precision'])} · recall {_fmt(s['recall'])} · "
            f"F {_fmt(s['f_measure'])} · acc. {_fmt(s['accuracy'])}</span><br>"
            f"<span style='color:#6b727b'>{note}</span>")


# ---------------------------------------------------------------------------------------------------------------


class SampleInfoBar(QFrame):
    """The selected sample's numbers."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("statusCard")
        self.label = LiveText(2)
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
        dice = "—" if info["dice"] is None else f"{info['dice']:.3f}"
        iou = "—" if info["iou"] is None else f"{info['iou']:.3f}"
        extra = " · <i>mask gated</i>" if info["gated_out"] else ""
        if info["weak"]:
            extra += " · <i>no GT mask (weak label)</i>"
        html = (f"<b>{info['name']}</b> &nbsp; GT {label} · score <b>{info['score']:.3f}</b> → {decision} {badge}"
                f" &nbsp; Dice <b>{dice}</b> · IoU <b>{iou}</b> · crack px GT <b>{info['gt_pixels']}</b>, "
                f"predicted <b>{info['pred_pixels']}</b>{extra}")
        if problem:
            html += f"<br><span style='color:#8a5a00'>{problem}</span>"
        self.label.setText(html)


# ---------------------------------------------------------------------------------------------------------------


class ViewerPane(QWidget):
    """Overlay toolbar + :class:`CrackOverlayView` + legend + the sample's numbers."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.view = CrackOverlayView(self, bins=M.B)
        self.overlay_buttons: dict[str, QToolButton] = {}
        bar = QHBoxLayout()
        bar.setSpacing(4)
        keys = {"gt": "G", "pred": "M", "heatmap": "H", "errors": "E"}
        short = {"gt": "GT", "pred": "Mask", "heatmap": "Heatmap", "errors": "Errors"}
        for name in ("gt", "pred", "heatmap", "errors"):
            b = QToolButton()
            b.setText(short[name])
            b.setCheckable(True)
            b.setChecked(self.view.overlay_visible(name))
            b.setToolTip(f"{OVERLAY_TITLES[name]} ({keys[name]})")
            b.setStyleSheet("QToolButton { padding: 3px 6px; border: 1px solid #c4c9d0; border-radius: 4px; "
                            "background: white; } QToolButton:checked { background: #dcebf7; border-color: #0072B2;"
                            " color: #003a5c; font-weight: 600; }")
            b.toggled.connect(lambda on, n=name: self.view.set_overlay_visible(n, on))
            self.overlay_buttons[name] = b
            bar.addWidget(b)
        bar.addSpacing(4)
        op_label = QLabel("◐")
        op_label.setToolTip("Overlay opacity")
        bar.addWidget(op_label)
        self.opacity = QSlider(Qt.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(int(self.view.opacity() * 100))
        self.opacity.setFixedWidth(70)
        self.opacity.setToolTip("Opacity of the overlays")
        self.opacity.valueChanged.connect(lambda v: self.view.set_opacity(v / 100.0))
        bar.addWidget(self.opacity)
        bar.addStretch(1)
        self.sbs = QToolButton()
        self.sbs.setText("GT | Pred")
        self.sbs.setCheckable(True)
        self.sbs.setToolTip("GT and prediction next to each other, panning and zooming together (S)")
        self.sbs.setStyleSheet(self.overlay_buttons["gt"].styleSheet())
        self.sbs.toggled.connect(self.view.set_side_by_side)
        self.fit_btn = QToolButton()
        self.fit_btn.setText("Fit")
        self.fit_btn.setToolTip("Fit the image in the view (F)")
        self.fit_btn.clicked.connect(self.view.fit)
        self.one_btn = QToolButton()
        self.one_btn.setText("1:1")
        self.one_btn.setToolTip("One image pixel per screen pixel (1)")
        self.one_btn.clicked.connect(self.view.zoom_1to1)
        for b in (self.fit_btn, self.one_btn):
            b.setStyleSheet("QToolButton { padding: 3px 6px; border: 1px solid #c4c9d0; border-radius: 4px; "
                            "background: white; }")
        bar.addWidget(self.sbs)
        bar.addWidget(self.fit_btn)
        bar.addWidget(self.one_btn)

        legend = QHBoxLayout()
        legend.setSpacing(10)
        for c, text, tip, line in ((colors.TP, "TP", "crack pixel found", False),
                                   (colors.FP, "FP", "false crack pixel", False),
                                   (colors.FN, "FN", "missed crack pixel", False),
                                   (colors.GT_CONTOUR, "GT", "ground-truth contour", True),
                                   (colors.PRED, "mask", "predicted mask", False)):
            sw = _Swatch(c, text, line=line)
            sw.setToolTip(tip)
            legend.addWidget(sw)
        legend.addStretch(1)
        self.readout = QLabel("")
        self.readout.setStyleSheet("color:#555;font-family:'DejaVu Sans Mono',monospace;font-size:8.5pt;")
        legend.addWidget(self.readout)

        self.info = SampleInfoBar()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(4)
        lay.addLayout(bar)
        frame = QFrame()
        frame.setStyleSheet("QFrame { background: #26282c; border-radius: 4px; }")
        fl = QVBoxLayout(frame)
        fl.setContentsMargins(0, 0, 0, 0)
        fl.addWidget(self.view)
        lay.addWidget(frame, 1)
        lay.addLayout(legend)
        lay.addWidget(self.info)

    def sync_buttons(self) -> None:
        for name, b in self.overlay_buttons.items():
            b.blockSignals(True)
            b.setChecked(self.view.overlay_visible(name))
            b.blockSignals(False)
        self.sbs.blockSignals(True)
        self.sbs.setChecked(self.view.side_by_side())
        self.sbs.blockSignals(False)


# ---------------------------------------------------------------------------------------------------------------


class InspectPanel(QWidget):
    """The "Inspect" tab: open a run or an evaluation folder, browse, threshold, compare, export."""

    evaluationLoaded = Signal(str)
    message = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = ThresholdModel()
        self.store: SampleStore | None = None
        self.sample = None
        self._eval_dirs: list[Path] = []

        # -- top bar
        self.title = QLabel("Inspect predictions")
        self.title.setObjectName("pageTitle")
        self.eval_combo = QComboBox()
        self.eval_combo.setMinimumWidth(220)
        self.eval_combo.setToolTip("Evaluation folder (split) of this run")
        self.open_btn = QPushButton("Open…")
        self.open_btn.setToolTip("Open a run folder or an evaluation folder")
        self.data_btn = QPushButton("Locate dataset…")
        self.data_btn.setToolTip("The dataset was not found where the run recorded it: point to its folder")
        self.data_btn.setVisible(False)
        self.export_btn = QToolButton()
        self.export_btn.setText("Export")
        self.export_btn.setPopupMode(QToolButton.InstantPopup)
        self.export_btn.setStyleSheet("QToolButton { padding: 5px 14px; border: 1px solid #c4c9d0; "
                                      "border-radius: 4px; background: white; }")
        menu = QMenu(self.export_btn)
        self.act_thresholds = QAction("Save thresholds to the run (used by crack-train predict)", self)
        self.act_csv = QAction("Per-sample CSV at these thresholds…", self)
        self.act_masks = QAction("Binary mask PNGs…", self)
        for a in (self.act_thresholds, self.act_csv, self.act_masks):
            menu.addAction(a)
        self.export_btn.setMenu(menu)
        self.act_thresholds.triggered.connect(self._on_save_thresholds)
        self.act_csv.triggered.connect(self._on_export_csv)
        self.act_masks.triggered.connect(self._on_export_masks)
        self.banner = QLabel()
        self.banner.setObjectName("warningBox")
        self.banner.setWordWrap(True)
        self.banner.setVisible(False)
        self.subtitle = QLabel("Open a run to inspect its predictions.")
        self.subtitle.setObjectName("pageSubtitle")

        top = QHBoxLayout()
        top.setSpacing(6)
        top.addWidget(self.title)
        top.addSpacing(12)
        top.addWidget(self.eval_combo)
        top.addWidget(self.open_btn)
        top.addWidget(self.data_btn)
        top.addStretch(1)
        top.addWidget(self.subtitle)
        top.addSpacing(8)
        top.addWidget(self.export_btn)

        # -- samples page
        self.gallery = Gallery(self.model)
        self.viewer = ViewerPane()
        self.thresholds = ThresholdControls(self.model)
        self.stats = StatsPanel(self.model)
        self.curves = CurvesPanel(self.model)
        self.curves.setMinimumHeight(300)
        right = QWidget()
        right.setMinimumWidth(360)
        right.setMaximumWidth(520)
        rl = QVBoxLayout(right)
        rl.setContentsMargins(4, 0, 4, 4)
        rl.setSpacing(4)
        rl.addWidget(self.thresholds)
        rl.addWidget(self.stats)
        rl.addWidget(self.curves, 1)
        self.splitter = QSplitter(Qt.Horizontal)
        self.splitter.addWidget(self.gallery)
        self.splitter.addWidget(self.viewer)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setStretchFactor(2, 0)
        self.splitter.setSizes([424, 560, 400])
        self.splitter.setChildrenCollapsible(False)
        self.samples_page = QWidget()
        sl = QVBoxLayout(self.samples_page)
        sl.setContentsMargins(0, 0, 0, 0)
        sl.addWidget(self.splitter)

        from crackviewer.inspect.compare import ComparePanel

        self.compare = ComparePanel(self.model)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("subTabs")
        self.tabs.addTab(self.samples_page, "Samples")
        self.tabs.addTab(self.compare, "Compare runs")

        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 6, 8, 6)
        lay.setSpacing(6)
        lay.addLayout(top)
        lay.addWidget(self.banner)
        lay.addWidget(self.tabs, 1)

        # -- bindings
        self.eval_combo.activated.connect(self._on_eval_chosen)
        self.open_btn.clicked.connect(self._on_open)
        self.data_btn.clicked.connect(self._on_locate_dataset)
        self.model.events.current.connect(self._on_current)
        self.model.events.thresholds.connect(self._on_thresholds)
        self.viewer.info.prev_btn.clicked.connect(lambda: self.step(-1))
        self.viewer.info.next_btn.clicked.connect(lambda: self.step(1))
        self.viewer.view.right.hovered.connect(self._on_hover)
        self.viewer.view.left.hovered.connect(self._on_hover)
        self._shortcuts()
        self._set_enabled(False)

    def shutdown(self) -> None:
        """Stop the thumbnail threads (the main window calls this on close)."""
        self.gallery.loader.shutdown()

    # ------------------------------------------------------------------ opening
    def open_run(self, run_dir: str | Path, split: str | None = None) -> bool:
        """Open a run's evaluation of ``split`` (default: the test evaluation in the run folder, else the first)."""
        run_dir = Path(run_dir)
        try:
            dirs = evaluations_of(run_dir)
        except CrackError as exc:
            self._show_problem(str(exc))
            return False
        if not dirs:
            self._show_problem(f"{run_dir}: no evaluation yet. Finish training (the test split is evaluated at the "
                               "end) or run `crack-train eval --run RUN --data DATA --split val`.")
            return False
        target = dirs[0]
        if split is not None:
            for d in dirs:
                if _split_of(d) == split:
                    target = d
                    break
            else:
                self._show_problem(f"{run_dir}: no evaluation of split {split!r} "
                                   f"(found: {', '.join(_split_of(d) or d.name for d in dirs)})")
                return False
        return self.open_eval(target, siblings=dirs)

    def open_eval(self, eval_dir: str | Path, siblings: list[Path] | None = None) -> bool:
        """Open an evaluation folder (``samples.npz`` + ``metrics.json`` + ``results.csv`` + ``probs/``)."""
        eval_dir = Path(eval_dir)
        try:
            ev = Evaluation.load(eval_dir)
        except CrackError as exc:
            self._show_problem(str(exc))
            return False
        if siblings is None:
            run = find_run_dir(eval_dir)
            try:
                siblings = evaluations_of(run) if run is not None else [eval_dir]
            except CrackError:
                siblings = [eval_dir]
            if not any(_same(eval_dir, d) for d in siblings):
                siblings = [eval_dir] + list(siblings)
        self._eval_dirs = list(siblings)
        self.eval_combo.blockSignals(True)
        self.eval_combo.clear()
        for d in self._eval_dirs:
            self.eval_combo.addItem(_eval_title(d), str(d))
        for k, d in enumerate(self._eval_dirs):
            if _same(d, eval_dir):
                self.eval_combo.setCurrentIndex(k)
        self.eval_combo.blockSignals(False)

        self.store = SampleStore(ev)
        self.gallery.set_store(self.store)
        self.model.set_evaluation(ev)
        self._set_enabled(True)
        m = ev.metrics or {}
        auc = m.get("auc")
        self.subtitle.setText(f"{ev.title} · {ev.n} samples ({int(self.model.positive.sum())} crack, "
                              f"{int((~self.model.positive).sum())} crack-free)"
                              + (f" · AUC {auc:.3f}" if auc is not None else ""))
        self.store.dataset()
        self._show_problem(self.store.problem)
        self.data_btn.setVisible(self.store.problem is not None)
        if self.model.order.size:
            self.model.set_current(int(self.model.order[0]))
        self.compare.set_reference(ev)
        self.evaluationLoaded.emit(str(eval_dir))
        return True

    def _on_eval_chosen(self, k: int) -> None:
        if 0 <= k < len(self._eval_dirs):
            self.open_eval(self._eval_dirs[k], siblings=self._eval_dirs)

    def _on_open(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Open a run folder or an evaluation folder")
        if not d:
            return
        p = Path(d)
        if (p / "samples.npz").is_file():
            self.open_eval(p)
        else:
            self.open_run(p)

    def _on_locate_dataset(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Dataset folder of this evaluation")
        if d and self.store is not None:
            self.set_dataset(d)

    def set_dataset(self, path: str | Path) -> None:
        """Read images and masks from another dataset folder (the recorded one moved)."""
        if self.store is None:
            return
        self.store.set_data_path(path)
        self.store.dataset()
        self._show_problem(self.store.problem)
        self.data_btn.setVisible(self.store.problem is not None)
        self.gallery.set_store(self.store)
        self._load_current()

    def _show_problem(self, text: str | None) -> None:
        self.banner.setVisible(bool(text))
        self.banner.setText(text or "")
        if text:
            self.message.emit(text)

    def _set_enabled(self, on: bool) -> None:
        for w in (self.samples_page, self.export_btn, self.compare):
            w.setEnabled(on)

    # ------------------------------------------------------------------ selection and viewer
    def step(self, delta: int) -> None:
        self.model.step_current(delta)

    def _on_current(self, index=None, **_):
        self._load_current()

    def _load_current(self) -> None:
        i = self.model.current
        if i is None or self.store is None:
            self.sample = None
            self.viewer.info.show_info(None)
            return
        self.sample = self.store.load(i)
        v = self.viewer.view
        v.set_sample(self.sample.image, self.sample.gt, self.sample.prob8, self.sample.gt_eval,
                     threshold=self.model.seg_bin, gated=self.model.mask_blanked(i))
        self.viewer.info.show_info(self.model.sample_info(i), self.sample.problem)

    def _on_thresholds(self, **_):
        i = self.model.current
        if i is None or self.sample is None:
            return
        v = self.viewer.view
        v.set_threshold(self.model.seg_bin)
        v.set_gated(self.model.mask_blanked(i))
        self.viewer.info.show_info(self.model.sample_info(i), self.sample.problem)

    def _on_hover(self, x: int, y: int) -> None:
        s = self.sample
        if s is None or x < 0:
            self.viewer.readout.setText("")
            return
        text = f"x {x:4d} y {y:4d}"
        if s.prob8 is not None:
            h, w = s.image.shape[:2]
            ph, pw = s.prob8.shape[:2]
            px, py = min(int(x * pw / w), pw - 1), min(int(y * ph / h), ph - 1)
            p = s.prob8[py, px] / 255.0
            text += f" · p {p:.3f}"
            if s.gt_eval is not None:
                text += " · GT crack" if s.gt_eval[py, px] else " · GT bg"
        self.viewer.readout.setText(text)

    # ------------------------------------------------------------------ keyboard
    def _shortcuts(self) -> None:
        def sc(key, fn):
            s = QShortcut(QKeySequence(key), self.samples_page)
            s.setContext(Qt.WidgetWithChildrenShortcut)
            s.activated.connect(fn)
            return s

        v = self.viewer.view
        self._sc = [
            sc("N", lambda: self.step(1)),
            sc("P", lambda: self.step(-1)),
            sc("G", lambda: self.toggle_overlay("gt")),
            sc("M", lambda: self.toggle_overlay("pred")),
            sc("H", lambda: self.toggle_overlay("heatmap")),
            sc("E", lambda: self.toggle_overlay("errors")),
            sc("S", lambda: self.viewer.sbs.toggle()),
            sc("F", v.fit),
            sc("1", v.zoom_1to1),
            sc("Shift+G", lambda: self.model.set_gated(not self.model.gated)),
        ]

    def toggle_overlay(self, name: str) -> None:
        self.viewer.view.toggle_overlay(name)
        self.viewer.sync_buttons()

    # ------------------------------------------------------------------ export
    def save_thresholds(self, run_dir: str | Path | None = None) -> Path:
        path = X.save_thresholds(self.model, run_dir)
        self.message.emit(f"saved {path}: crack-train predict now uses seg {self.model.seg_threshold:.4f}, "
                          f"image {self.model.image_threshold:.4f}{', gated' if self.model.gated else ''}")
        return path

    def export_csv(self, path: str | Path, visible_only: bool = False) -> Path:
        idx = self.model.order.tolist() if visible_only else None
        return X.export_results_csv(self.model, path, idx)

    def export_masks(self, out_dir: str | Path, resolution: str = "image", progress=None) -> dict:
        if self.store is None:
            raise RuntimeError("no evaluation open")
        return X.export_masks(self.model, self.store, out_dir, resolution=resolution, progress=progress)

    def _on_save_thresholds(self) -> None:
        try:
            run = self.model.evaluation.run_dir
            if run is None:
                d = QFileDialog.getExistingDirectory(self, "Run folder to save thresholds.json into")
                if not d:
                    return
                run = Path(d)
            path = self.save_thresholds(run)
            QMessageBox.information(self, "Thresholds saved", f"{path}\n\nseg threshold {self.model.seg_threshold:.4f}"
                                    f"\nimage threshold {self.model.image_threshold:.4f}\n"
                                    f"gated: {'yes' if self.model.gated else 'no'}\n\n`crack-train predict --run "
                                    f"{run}` uses them.")
        except CrackError as exc:
            QMessageBox.warning(self, "Could not save thresholds", str(exc))

    def _on_export_csv(self) -> None:
        ev = self.model.evaluation
        default = str((ev.run_dir or ev.dir) / f"results_{ev.split or 'split'}_seg{self.model.seg_threshold:.3f}.csv")
        path, _ = QFileDialog.getSaveFileName(self, "Per-sample CSV", default, "CSV (*.csv)")
        if path:
            try:
                self.export_csv(path)
                self.message.emit(f"wrote {path}")
            except CrackError as exc:
                QMessageBox.warning(self, "Could not export", str(exc))

    def _on_export_masks(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Folder for the binary masks")
        if not d:
            return
        dlg = QProgressDialog("Writing masks…", "Cancel", 0, self.model.n, self)
        dlg.setWindowModality(Qt.WindowModal)

        def progress(done, total):
            dlg.setValue(done)
            from PySide6.QtWidgets import QApplication

            QApplication.processEvents()
            return not dlg.wasCanceled()

        try:
            res = self.export_masks(d, progress=progress)
            self.message.emit(f"wrote {res['written']} masks to {d}")
        except CrackError as exc:
            QMessageBox.warning(self, "Could not export", str(exc))
        finally:
            dlg.close()


def _split_of(d: Path) -> str | None:
    import json

    try:
        return json.loads((Path(d) / "metrics.json").read_text(encoding="utf-8")).get("split")
    except (OSError, ValueError):
        return None


def _eval_title(d: Path) -> str:
    sp = _split_of(d) or Path(d).name
    where = "run folder" if (Path(d) / "config.toml").is_file() or (Path(d) / "events.jsonl").is_file() \
        else f"{Path(d).parent.name}/{Path(d).name}"
    return f"{sp}  ({where})"


def _same(a: Path, b: Path) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return str(a) == str(b)
