"""The Inspect tab's image pane: the sample viewer with its overlay buttons, opacity, side-by-side switch and the
pixel read-out under the cursor."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QSizePolicy, QSlider, QToolButton, QVBoxLayout, QWidget

from figures import colors
from crackviewer.inspect.stats import SampleInfoBar, _Swatch
from crackviewer.viewer.colorbar import ColorBar
from crackviewer.viewer.overlay import (HEATMAP_COLORMAP, MASK_COLOR, OVERLAY_TITLES, UNCERTAINTY_COLORMAP,
                                        CrackOverlayView)
from trainer.metrics.uncertainty import UNCERTAINTY_MAX


class ViewerPane(QWidget):
    """Overlay toolbar + :class:`CrackOverlayView` + colour bars + legend + the sample's numbers."""

    overlayToggled = Signal(str, bool)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.view = CrackOverlayView(self)
        self.overlay_buttons: dict[str, QToolButton] = {}
        bar = QHBoxLayout()
        bar.setSpacing(4)
        keys = {"gt": "G", "pred": "M", "heatmap": "H", "errors": "E", "uncertainty": "U", "measure": "C"}
        short = {"gt": "GT", "pred": "Mask", "heatmap": "Heat", "errors": "Errors", "uncertainty": "Unc.",
                 "measure": "Cracks"}
        for name in ("gt", "pred", "heatmap", "errors", "uncertainty", "measure"):
            b = QToolButton()
            b.setText(short[name])
            b.setCheckable(True)
            b.setChecked(self.view.overlay_visible(name))
            b.setToolTip(f"{OVERLAY_TITLES[name]} ({keys[name]})")
            b.setObjectName("viewerButton")
            b.toggled.connect(lambda on, n=name: self._toggle(n, on))
            self.overlay_buttons[name] = b
            bar.addWidget(b)
        op_label = QLabel("◐")
        op_label.setToolTip("Overlay opacity")
        self.opacity = QSlider(Qt.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(int(self.view.opacity() * 100))
        self.opacity.setFixedWidth(50)
        self.opacity.setToolTip("Opacity of the overlays")
        self.opacity.valueChanged.connect(lambda v: self.view.set_opacity(v / 100.0))
        bar.addStretch(1)
        bar2 = QHBoxLayout()
        bar2.setSpacing(4)
        bar2.addWidget(op_label)
        bar2.addWidget(self.opacity)
        self.sbs = QToolButton()
        self.sbs.setText("GT|Pred")
        self.sbs.setCheckable(True)
        self.sbs.setToolTip("GT and prediction next to each other, panning and zooming together (S)")
        self.sbs.setObjectName("viewerButton")
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
            b.setObjectName("viewerButton")
        bar2.addWidget(self.sbs)
        bar2.addWidget(self.fit_btn)
        bar2.addWidget(self.one_btn)

        legend = QHBoxLayout()
        legend.setSpacing(10)
        for c, text, tip, line in ((colors.TP, "TP", "crack pixel found", False),
                                   (colors.FP, "FP", "false crack pixel", False),
                                   (colors.FN, "FN", "missed crack pixel", False),
                                   (colors.GT_CONTOUR, "GT", "ground-truth contour", True),
                                   (MASK_COLOR, "mask", "predicted mask", False)):
            sw = _Swatch(c, text, line=line)
            sw.setToolTip(tip)
            legend.addWidget(sw)
        legend.addStretch(1)
        bar2.addSpacing(8)
        self.readout = QLabel("")
        self.readout.setObjectName("readout")
        self.readout.setMinimumWidth(0)
        self.readout.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        bar2.addWidget(self.readout, 1)

        self.info = SampleInfoBar()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(4)
        lay.addLayout(bar)
        lay.addLayout(bar2)
        frame = QFrame()
        frame.setObjectName("darkFrame")
        fl = QVBoxLayout(frame)
        fl.setContentsMargins(0, 0, 0, 0)
        fl.addWidget(self.view)
        lay.addWidget(frame, 1)
        self.heat_bar = ColorBar(HEATMAP_COLORMAP, "probability", 0.0, 1.0)
        self.unc_bar = ColorBar(UNCERTAINTY_COLORMAP, "uncertainty (std)", 0.0, UNCERTAINTY_MAX["std"])
        for b in (self.heat_bar, self.unc_bar):
            b.setVisible(False)
            lay.addWidget(b)
        lay.addLayout(legend)
        lay.addWidget(self.info)

    def _toggle(self, name: str, on: bool) -> None:
        self.view.set_overlay_visible(name, on)
        self._sync_bars()
        self.overlayToggled.emit(name, on)

    def _sync_bars(self) -> None:
        self.heat_bar.setVisible(self.view.overlay_visible("heatmap"))
        self.unc_bar.setVisible(self.view.overlay_visible("uncertainty"))

    def set_uncertainty_available(self, on: bool) -> None:
        b = self.overlay_buttons["uncertainty"]
        b.setEnabled(on)
        b.setToolTip(OVERLAY_TITLES["uncertainty"] + (" (U)" if on else ": this evaluation has no uncertainty maps "
                                                      "(evaluate with crack-train eval --tta)"))
        if not on and b.isChecked():
            b.setChecked(False)
