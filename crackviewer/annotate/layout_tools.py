"""The right-hand column of the Annotate tab: save badge, tools and their options, prediction, mask and label.
`ToolsLayoutMixin._build_right` creates the widgets as attributes of the panel and connects them to its slots."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QDoubleSpinBox, QGridLayout, QGroupBox, QLabel, QPushButton,
                               QSizePolicy, QSlider, QSpinBox, QToolButton, QVBoxLayout, QWidget)

from crackviewer.annotate.keys import TOOLS, key_of
from crackviewer.annotate.tools import TOOL_HINTS


class ToolsLayoutMixin:
    def _build_right(self) -> QWidget:
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(4, 0, 0, 0)
        rl.setSpacing(6)

        self.save_badge = QLabel("")
        self.save_badge.setObjectName("saveBadge")
        self.save_badge.setWordWrap(True)
        self.save_badge.setTextFormat(Qt.RichText)
        rl.addWidget(self.save_badge)

        tools_box = QGroupBox("Tools")
        tools_box.setObjectName("toolsBox")
        tv = QVBoxLayout(tools_box)
        tv.setSpacing(6)
        bg = QGridLayout()
        bg.setSpacing(4)
        tv.addLayout(bg)
        tg = QGridLayout()
        tg.setSpacing(4)
        tv.addLayout(tg)
        self.tool_group = QButtonGroup(self)
        self.tool_group.setExclusive(True)
        self.tool_buttons: dict[str, QToolButton] = {}
        for i, (key, text) in enumerate(TOOLS):
            b = QToolButton()
            b.setText(f"{text}  {key_of('tool_' + key)}")
            b.setCheckable(True)
            b.setToolButtonStyle(Qt.ToolButtonTextOnly)
            b.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
            b.setToolTip(TOOL_HINTS[key])
            b.clicked.connect(lambda _=False, k=key: self.set_tool(k))
            self.tool_group.addButton(b)
            self.tool_buttons[key] = b
            bg.addWidget(b, i // 3, i % 3)
        self.size_slider, self.size_spin = self._slider_row(tg, 0, "Size", 1, 200, int(self.brush_size), " px",
                                                            "Brush diameter and crack-line width in image pixels "
                                                            "([ and ])")
        self.size_slider.valueChanged.connect(self._on_size)
        self.tol_slider, self.tol_spin = self._slider_row(tg, 1, "Tolerance", 0, 128, int(self.tolerance), "",
                                                          "Flood fill: how far (grey levels) a pixel may differ "
                                                          "from the clicked one ({ and })")
        self.tol_slider.valueChanged.connect(self._on_tolerance)
        tg.addWidget(QLabel("Trace width"), 2, 0)
        self.trace_width_spin = QDoubleSpinBox()
        self.trace_width_spin.setRange(0.0, 100.0)
        self.trace_width_spin.setDecimals(1)
        self.trace_width_spin.setSingleStep(0.5)
        self.trace_width_spin.setSuffix(" px")
        self.trace_width_spin.setSpecialValueText("measured")
        self.trace_width_spin.setToolTip("Crack tracer: the width of the traced line; 'measured' estimates it from "
                                         "the image across the line")
        tg.addWidget(self.trace_width_spin, 2, 1, 1, 2)
        tg.addWidget(QLabel("Accept at"), 3, 0)
        self.accept_slider = QSlider(Qt.Horizontal)
        self.accept_slider.setRange(1, 99)
        self.accept_slider.setValue(50)
        self.accept_slider.setToolTip("Accept tool: the probability a pixel needs to belong to a predicted crack "
                                      "component (the highlight under the cursor follows it)")
        self.accept_label = QLabel("0.50")
        self.accept_slider.valueChanged.connect(self._on_accept_threshold)
        tg.addWidget(self.accept_slider, 3, 1)
        tg.addWidget(self.accept_label, 3, 2)
        rl.addWidget(tools_box)

        pred_box = QGroupBox("Prediction")
        pg = QGridLayout(pred_box)
        pg.setSpacing(4)
        self.pred_button = QPushButton("From prediction  R")
        self.pred_button.setToolTip("Replace the mask by the model's prediction at this threshold, then correct it "
                                    "(one undo step)")
        self.pred_button.clicked.connect(lambda: self.start_from_prediction("replace"))
        self.pred_add_button = QPushButton("Add  ⇧R")
        self.pred_add_button.setToolTip("Add the prediction to the current mask")
        self.pred_add_button.clicked.connect(lambda: self.start_from_prediction("union"))
        pg.addWidget(self.pred_button, 0, 0, 1, 2)
        pg.addWidget(self.pred_add_button, 0, 2)
        pg.addWidget(QLabel("Threshold"), 1, 0)
        self.thr_spin = QDoubleSpinBox()
        self.thr_spin.setRange(0.0, 1.0)
        self.thr_spin.setDecimals(3)
        self.thr_spin.setSingleStep(0.05)
        self.thr_spin.setValue(0.5)
        self.thr_spin.setToolTip("Segmentation threshold for the prediction (from the evaluation, or chosen in "
                                 "the inspection window)")
        self.thr_spin.valueChanged.connect(lambda *_: self._update_prediction_outline())
        pg.addWidget(self.thr_spin, 1, 1)
        self.pred_check = QCheckBox(f"Outline   {key_of('toggle_prediction')}")
        self.pred_check.setToolTip("Show the prediction's outline over the mask")
        self.pred_check.toggled.connect(self._on_pred_toggle)
        pg.addWidget(self.pred_check, 1, 2)
        self.source_button = QPushButton("Prediction source…")
        self.source_button.setToolTip("Choose a run's evaluation on this dataset (the workspace's runs are listed)")
        self.source_button.clicked.connect(self._choose_source)
        pg.addWidget(self.source_button, 2, 0, 1, 2)
        self.predict_button = QPushButton("Predict this")
        self.predict_button.setToolTip(f"Run the source's model on this sample now ({key_of('predict_sample')}); "
                                       "its probability map becomes the prediction")
        self.predict_button.clicked.connect(self.predict_sample)
        pg.addWidget(self.predict_button, 2, 2)
        self.source_label = QLabel("No prediction source.")
        self.source_label.setObjectName("smallCaption")
        self.source_label.setWordWrap(True)
        pg.addWidget(self.source_label, 3, 0, 1, 3)
        self.review_label = QLabel("")
        self.review_label.setObjectName("reviewNote")
        self.review_label.setWordWrap(True)
        self.review_label.setVisible(False)
        pg.addWidget(self.review_label, 4, 0, 1, 3)
        rl.addWidget(pred_box)

        view_box = QGroupBox("Mask")
        vg = QGridLayout(view_box)
        vg.setSpacing(4)
        self.opacity_slider, self.opacity_spin = self._slider_row(vg, 0, "Opacity", 0, 100,
                                                                  int(self._opacity * 100), " %",
                                                                  "Mask opacity (, and .)")
        self.opacity_slider.valueChanged.connect(self._on_opacity)
        self.mask_check = QCheckBox("Show mask   V")
        self.mask_check.setChecked(True)
        self.mask_check.toggled.connect(self.mask_layer.setVisible)
        vg.addWidget(self.mask_check, 1, 0, 1, 3)
        self.label_button = QPushButton("Label: crack   C")
        self.label_button.setCheckable(True)
        self.label_button.setToolTip("The image label: crack or no crack. A crack without a mask is weakly "
                                     "labelled; painting makes it segmented. Setting 'no crack' clears the mask.")
        self.label_button.clicked.connect(lambda checked: self.set_label(1 if checked else 0))
        vg.addWidget(self.label_button, 2, 0, 1, 3)
        self.undo_button = QPushButton("Undo")
        self.undo_button.setToolTip("Undo the last stroke (Ctrl+Z)")
        self.undo_button.clicked.connect(self.undo)
        self.redo_button = QPushButton("Redo")
        self.redo_button.setToolTip("Redo (Ctrl+Shift+Z or Ctrl+Y)")
        self.redo_button.clicked.connect(self.redo)
        vg.addWidget(self.undo_button, 3, 0, 1, 2)
        vg.addWidget(self.redo_button, 3, 2)
        self.clear_button = QPushButton("Clear mask")
        self.clear_button.setToolTip("Erase the whole mask (one undo step)")
        self.clear_button.clicked.connect(lambda: self.apply_edit(lambda m: m.clear()))
        self.save_button = QPushButton("Save now")
        self.save_button.setToolTip("Saving is automatic after every stroke; this forces it now (Ctrl+S)")
        self.save_button.clicked.connect(lambda: self.save_now())
        vg.addWidget(self.clear_button, 4, 0, 1, 2)
        vg.addWidget(self.save_button, 4, 2)
        rl.addWidget(view_box)

        self.help_button = QPushButton("Shortcuts   F1")
        self.help_button.clicked.connect(self.toggle_help)
        rl.addWidget(self.help_button)
        rl.addStretch(1)
        right.setMinimumWidth(300)
        right.setMaximumWidth(360)
        return right

    def _slider_row(self, grid: QGridLayout, row: int, text: str, lo: int, hi: int, value: int, suffix: str,
                    tip: str):
        lab = QLabel(text)
        lab.setToolTip(tip)
        sl = QSlider(Qt.Horizontal)
        sl.setRange(lo, hi)
        sl.setValue(value)
        sl.setToolTip(tip)
        sp = QSpinBox()
        sp.setRange(lo, hi)
        sp.setValue(value)
        sp.setSuffix(suffix)
        sp.setToolTip(tip)
        sl.valueChanged.connect(sp.setValue)
        sp.valueChanged.connect(sl.setValue)
        grid.addWidget(lab, row, 0)
        grid.addWidget(sl, row, 1)
        grid.addWidget(sp, row, 2)
        return sl, sp
