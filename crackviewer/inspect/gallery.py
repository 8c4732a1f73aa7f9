"""Virtualised thumbnail gallery of an evaluated split with its sort and filter controls, bound to a
:class:`ThresholdModel`: sort by any per-sample metric (Dice, tolerance F1, clDice, uncertainty, ...), filter by
outcome, label, name and a range of one metric. Tiles: :mod:`crackviewer.inspect.gallery_tiles`."""
from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, QModelIndex
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QLineEdit, QSizePolicy,
                               QToolButton, QVBoxLayout, QWidget)

from crackviewer.inspect.gallery_order import METRIC_KEYS
from crackviewer.inspect.gallery_tiles import (METRIC_LABELS, OUTCOME_COLORS, OUTCOME_TIPS, GalleryModel,  # noqa: F401
                                               GalleryView, TileDelegate)
from crackviewer.inspect.sample_store import SampleStore
from crackviewer.inspect.thumbnail_loader import ThumbnailLoader
from crackviewer.inspect.threshold_model import OUTCOMES, ThresholdModel

SORT_LABELS = tuple((k, METRIC_LABELS[k]) for k in METRIC_KEYS) + (("score", "Score"), ("name", "Name"))


class Gallery(QWidget):
    """Sort/filter controls + the virtualised tile list, bound to a :class:`ThresholdModel`."""

    def __init__(self, model: ThresholdModel, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = model
        self.loader = ThumbnailLoader(parent=self)
        stop = self.loader.shutdown
        self.destroyed.connect(lambda *_: stop())
        self.list_model = GalleryModel(model, self)
        self.view = GalleryView(self)
        self.delegate = TileDelegate(model, self.loader, self.view)
        self.view.setItemDelegate(self.delegate)
        self.view.setModel(self.list_model)
        self.loader.loaded.connect(self._on_loaded)
        self._syncing = False

        # -- controls
        self.sort_combo = QComboBox()
        for key, label in SORT_LABELS:
            self.sort_combo.addItem(label, key)
        self.sort_combo.setToolTip("Sort the tiles")
        self.order_button = QToolButton()
        self.order_button.setCheckable(True)
        self.order_button.setToolTip("Ascending / descending")
        self.order_button.setFixedWidth(34)
        self.search = QLineEdit()
        self.search.setPlaceholderText("name…")
        self.search.setClearButtonEnabled(True)
        self.search.setToolTip("Show only samples whose name contains this text")

        self.outcome_buttons: dict[str, QToolButton] = {}
        for o in OUTCOMES:
            b = QToolButton()
            b.setText(o)
            b.setCheckable(True)
            b.setChecked(True)
            b.setToolTip(f"Show {o}: {OUTCOME_TIPS[o]} (at the current classification threshold)")
            b.setObjectName(f"outcome{o}")
            b.toggled.connect(self._on_outcomes)
            self.outcome_buttons[o] = b
        self.label_combo = QComboBox()
        self.label_combo.addItem("all labels", "all")
        self.label_combo.addItem("positives", "positive")
        self.label_combo.addItem("negatives", "negative")
        self.label_combo.setToolTip("Show crack images (positives), crack-free images (negatives) or both")
        self.range_combo = QComboBox()
        for key in METRIC_KEYS:
            self.range_combo.addItem(METRIC_LABELS[key], key)
        self.range_combo.setToolTip("The metric whose range the two fields filter by")
        self.dice_lo = QDoubleSpinBox()
        self.dice_hi = QDoubleSpinBox()
        for sb, v in ((self.dice_lo, 0.0), (self.dice_hi, 1.0)):
            sb.setRange(0.0, 1.0)
            sb.setDecimals(2)
            sb.setSingleStep(0.05)
            sb.setValue(v)
            sb.setFixedWidth(62)
            sb.setToolTip("Show samples whose chosen metric lies in this range (samples without it drop out "
                          "when the range is narrowed)")
        self.errors_check = QCheckBox("error map")
        self.errors_check.setChecked(True)
        self.errors_check.setToolTip("Colour the tiles with the pixel TP/FP/FN map of the current threshold")
        self.count_label = QLabel()
        self.count_label.setObjectName("mutedNote")

        row1 = QHBoxLayout()
        row1.setSpacing(4)
        row1.addWidget(QLabel("Sort"))
        row1.addWidget(self.sort_combo)
        row1.addWidget(self.order_button)
        row1.addWidget(self.search, 1)
        row2 = QHBoxLayout()
        row2.setSpacing(3)
        for o in OUTCOMES:
            row2.addWidget(self.outcome_buttons[o])
        row2.addSpacing(6)
        row2.addWidget(self.label_combo, 1)
        row3 = QHBoxLayout()
        row3.setSpacing(4)
        row3.addWidget(self.range_combo)
        row3.addWidget(self.dice_lo)
        row3.addWidget(QLabel("–"))
        row3.addWidget(self.dice_hi)
        row3.addStretch(1)
        row3.addWidget(self.errors_check)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(4)
        lay.addLayout(row1)
        lay.addLayout(row2)
        lay.addLayout(row3)
        lay.addWidget(self.view, 1)
        lay.addWidget(self.count_label)
        self.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Expanding)

        self.sort_combo.currentIndexChanged.connect(self._on_sort)
        self.order_button.toggled.connect(self._on_order)
        self.search.textChanged.connect(self.model.set_text_filter)
        self.label_combo.currentIndexChanged.connect(lambda _: self.model.set_label_filter(self.label_combo.currentData()))
        self.range_combo.currentIndexChanged.connect(self._on_dice_range)
        self.dice_lo.valueChanged.connect(self._on_dice_range)
        self.dice_hi.valueChanged.connect(self._on_dice_range)
        self.errors_check.toggled.connect(self._on_errors_toggled)
        self.view.selectionModel().currentChanged.connect(self._on_current_row)
        self.list_model.modelReset.connect(self._after_reset)
        self.list_model.reordered.connect(self._after_reset)
        self.list_model.contentChanged.connect(self.view.viewport().update)
        model.events.view.connect(self._sync_controls)
        model.events.current.connect(self._on_model_current)
        model.events.evaluation.connect(self._on_evaluation)
        self._sync_controls()

    # -- binding: model -> widgets
    def set_store(self, store: SampleStore | None) -> None:
        self.delegate.clear_cache()
        self.loader.set_store(store)
        self.view.viewport().update()

    def _on_evaluation(self, **_):
        self.delegate.clear_cache()

    def _sync_controls(self, cause: str | None = None, **_):
        if cause != "thresholds":           # a threshold step changes no control, only the count below
            self._sync_widgets()
        m = self.model
        text = f"{m.visible_count} of {m.n} samples shown" if m.n else "no evaluation loaded"
        if text != self.count_label.text():
            self.count_label.setText(text)

    def _sync_widgets(self) -> None:
        m = self.model
        self._syncing = True
        try:
            self.sort_combo.setCurrentIndex([k for k, _ in SORT_LABELS].index(m.sort_key))
            self.order_button.setChecked(not m.ascending)
            self.order_button.setText("↓" if not m.ascending else "↑")
            for o, b in self.outcome_buttons.items():
                b.setChecked(o in m.outcome_filter)
            self.label_combo.setCurrentIndex(["all", "positive", "negative"].index(m.label_filter))
            self.range_combo.setCurrentIndex(list(METRIC_KEYS).index(m.range_key))
            self.dice_lo.setValue(m.dice_range[0])
            self.dice_hi.setValue(m.dice_range[1])
            if self.search.text().strip().lower() != m.text_filter:
                self.search.setText(m.text_filter)
        finally:
            self._syncing = False

    def _after_reset(self):
        cur = self.model.current
        if cur is not None:
            row = self.list_model.row_of(cur)
            if row is not None:
                self._select_row(row, scroll=False)

    def _on_model_current(self, index=None, **_):
        if index is None:
            return
        row = self.list_model.row_of(index)
        if row is not None:
            self._select_row(row, scroll=True)

    def _select_row(self, row: int, scroll: bool) -> None:
        idx = self.list_model.index(row)
        sm = self.view.selectionModel()
        if sm.currentIndex() != idx:
            self._syncing = True
            try:
                sm.setCurrentIndex(idx, QItemSelectionModel.NoUpdate)
            finally:
                self._syncing = False
        if scroll:
            self.view.scrollTo(idx)
        self.view.viewport().update()

    def _on_loaded(self, i: int) -> None:
        row = self.list_model.row_of(i)
        if row is not None:
            idx = self.list_model.index(row)
            self.view.update(idx)

    # -- binding: widgets -> model
    def _on_sort(self, _=None):
        if not self._syncing:
            self.model.set_sort(self.sort_combo.currentData())

    def _on_order(self, descending: bool):
        self.order_button.setText("↓" if descending else "↑")
        if not self._syncing:
            self.model.set_ascending(not descending)

    def _on_outcomes(self, _=None):
        if not self._syncing:
            self.model.set_outcome_filter([o for o, b in self.outcome_buttons.items() if b.isChecked()])

    def _on_dice_range(self, _=None):
        if not self._syncing:
            self.model.set_metric_range(self.range_combo.currentData(), self.dice_lo.value(), self.dice_hi.value())

    def _on_errors_toggled(self, on: bool):
        self.delegate.overlay = "errors" if on else "none"
        self.view.viewport().update()

    def _on_current_row(self, current: QModelIndex, _previous=None):
        if self._syncing or not current.isValid():
            return
        self.model.set_current(self.list_model.sample_at(current.row()))

    # -- helpers for tests / shortcuts
    def closeEvent(self, event) -> None:
        self.loader.shutdown()
        super().closeEvent(event)
