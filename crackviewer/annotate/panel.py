"""The annotation panel: paint and correct crack masks, flip image labels, never lose an edit.

``AnnotatePanel(QWidget)``:

* ``open_dataset(path)`` - any layout ``trainer.data`` reads; masks are written back in that layout
  (:mod:`crackviewer.annotate.mask_store`);
* ``open_sample(name)`` - show a sample (its unsaved edits, or strokes recovered from the crash journal, included);
* ``set_prediction_source(path)`` - an evaluation or run folder of the current model: enables "start from the
  prediction", the prediction outline and the review queue (:mod:`crackviewer.annotate.review_queue`).

Left: the sample list with filters (all / segmented / weak / negative / unsaved / review queue), a split filter and
a search field, and the dataset counts. Centre: the image with the editable mask (a :class:`SampleViewer` from the
inspection window, so zoom and pan behave the same). Right: tools, sizes, opacity, the image label, undo/redo and
the save state.

Editing goes through :class:`~crackviewer.annotate.mask_model.MaskModel`; each tool returns the dirty rectangle, and only
that rectangle of the overlay's pixels is recoloured and repainted. Every completed stroke is appended to the
sample's journal at once, and a debounced autosave (300 ms after the last stroke) writes the mask atomically in a
worker thread. A failing save leaves the sample "unsaved" and shows why; the edits stay in memory (and in the
journal) and the save is retried after the next stroke or with Ctrl+S.
"""
from __future__ import annotations

import concurrent.futures as cf
import html
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QEvent, QModelIndex, QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QPainterPath, QPen
from PySide6.QtWidgets import (QAbstractItemView, QApplication, QButtonGroup, QCheckBox, QComboBox,
                               QDoubleSpinBox, QFileDialog, QGraphicsEllipseItem, QGraphicsPathItem,
                               QGridLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QListView, QPushButton,
                               QSizePolicy, QSlider, QSpinBox, QSplitter, QToolButton, QVBoxLayout, QWidget)

from crackviewer import colors
from crackviewer.annotate.canvas import AnnotateCanvas
from crackviewer.annotate.help_overlay import HelpOverlay
from crackviewer.annotate.keys import ANNOTATE_SHORTCUTS, TOOLS, key_of
from crackviewer.annotate.mask_model import MaskModel, Rect, prediction_mask
from crackviewer.annotate.mask_store import LabelError, MaskSaveError, MaskStore
from crackviewer.annotate.review_queue import PredictionSource, ReviewItem, rank, score_sample
from crackviewer.annotate.sample_list import FILTERS, SampleListModel, sample_kind
from crackviewer.annotate.session import Bridge, Session
from crackviewer.annotate.tools import TOOL_HINTS, PointsTool, PolygonTool, PolylineTool, Tool, make_tools
from crackviewer.qt.shortcuts import bind
from crackviewer.qt.style import set_state
from crackviewer.viewer.view import ContourItem, mask_contours
from trainer.data import read_image
from trainer.errors import CrackError

SAVE_BADGE_TEXT = {"idle": "No sample open", "saved": "✔ Saved to the dataset", "saving": "● Saving…",
                   "unsaved": "● Unsaved changes (autosave pending)", "failed": "✖ Not saved"}
AUTOSAVE_MS = 300
RECENT_SESSIONS = 8                     # saved samples whose undo history is kept when the user moves on
MASK_COLOR = colors.GT_CONTOUR          # the mask being edited is ground truth: the GT colour everywhere
ERASE_COLOR = colors.FN


# ------------------------------------------------------------------------------------------------------------------
# the panel


class AnnotatePanel(QWidget):
    """Paint and correct crack masks (see the module docstring)."""

    sampleChanged = Signal(str)          # a sample's mask or label was saved (the dataset's counts may change)
    countsChanged = Signal(object)       # {split: {positives, negatives, segmented, weak}} after a save
    sampleOpened = Signal(str)
    saveStateChanged = Signal(str)       # "saved" | "unsaved" | "saving" | "failed"

    def __init__(self, parent: QWidget | None = None, *, autosave_ms: int = AUTOSAVE_MS):
        super().__init__(parent)
        self.store: MaskStore | None = None
        self.source: PredictionSource | None = None
        self.session: Session | None = None
        # recently edited samples, kept in memory with their undo history (all unsaved ones, plus the last
        # RECENT_SESSIONS saved ones) so going back to a sample keeps Ctrl+Z working
        self._sessions: dict[str, Session] = {}
        self._errors: dict[str, str] = {}
        self._review: dict[str, ReviewItem] = {}
        self._review_missing: list[str] = []
        self._ranking = False
        self.last_brush_point: tuple[float, float] | None = None
        self.panning = False
        self.brush_size = 6.0
        self.tolerance = 18.0
        self._opacity = 0.6
        self._pred_cache: tuple[str, np.ndarray | None] | None = None
        self._bridge = Bridge()
        self._bridge.saveDone.connect(self._on_save_done)
        self._bridge.rankDone.connect(self._on_rank_done)
        self._bridge.rankProgress.connect(self._on_rank_progress)
        self._saver = cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="mask-save")
        self._ranker = cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="review-rank")
        self._autosave = QTimer(self)
        self._autosave.setSingleShot(True)
        self._autosave.setInterval(int(autosave_ms))
        self._autosave.timeout.connect(self._autosave_fire)
        self._lut = np.zeros(2, np.uint32)
        self._set_mask_color(MASK_COLOR)
        self._build()
        self._tools = make_tools(self)
        self._tool_name = "brush"
        self.set_tool("brush")
        self._make_shortcuts()
        self._update_enabled()
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.save_all)

    # ============================================================== UI construction
    def _build(self) -> None:
        outer = QHBoxLayout(self)
        outer.setContentsMargins(6, 6, 6, 6)
        split = QSplitter(Qt.Horizontal, self)
        split.setChildrenCollapsible(False)
        outer.addWidget(split)

        # ---- left: samples
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 4, 0)
        ll.setSpacing(5)
        t = QLabel("Samples")
        t.setObjectName("sectionTitle")
        ll.addWidget(t)
        self.filter_combo = QComboBox()
        for key, text in FILTERS:
            self.filter_combo.addItem(text, key)
        self.filter_combo.setToolTip("Which samples to list. Weak = labelled crack but without a mask; "
                                     "the review queue ranks samples by how much the model disagrees with them")
        self.filter_combo.currentIndexChanged.connect(self._on_filter_changed)
        self.split_combo = QComboBox()
        self.split_combo.setToolTip("Limit the list to one split")
        self.split_combo.currentIndexChanged.connect(lambda *_: self._refresh_list())
        row = QHBoxLayout()
        row.addWidget(self.filter_combo, 1)
        ll.addLayout(row)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search names…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(lambda *_: self._refresh_list())
        self.review_refresh = QToolButton()
        self.review_refresh.setText("↻")
        self.review_refresh.setToolTip("Re-rank the review queue (after edits or a new evaluation)")
        self.review_refresh.clicked.connect(lambda: self._start_ranking(force=True))
        row2 = QHBoxLayout()
        row2.addWidget(self.split_combo)
        row2.addWidget(self.search, 1)
        row2.addWidget(self.review_refresh)
        ll.addLayout(row2)
        self.list_model = SampleListModel(self)
        self.list_view = QListView()
        self.list_view.setModel(self.list_model)
        self.list_view.setUniformItemSizes(True)
        self.list_view.setSelectionMode(QAbstractItemView.SingleSelection)
        self.list_view.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.list_view.setIconSize(QSize(12, 12))
        self.list_view.selectionModel().currentChanged.connect(self._on_list_current)
        ll.addWidget(self.list_view, 1)
        self.list_note = QLabel("")
        self.list_note.setObjectName("smallCaption")
        self.list_note.setWordWrap(True)
        ll.addWidget(self.list_note)
        self.counts_label = QLabel("No dataset open.")
        self.counts_label.setTextFormat(Qt.RichText)
        self.counts_label.setWordWrap(True)
        self.counts_label.setObjectName("countsBox")
        ll.addWidget(self.counts_label)
        left.setMinimumWidth(230)
        split.addWidget(left)

        # ---- centre: canvas + status line
        centre = QWidget()
        cl = QVBoxLayout(centre)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.setSpacing(3)
        self.title_label = QLabel("Open a dataset to annotate")
        self.title_label.setObjectName("pageTitle")
        cl.addWidget(self.title_label)
        self.canvas = AnnotateCanvas(centre)
        self.canvas.setMinimumSize(320, 240)
        self.canvas.installEventFilter(self)
        self.canvas.viewport().installEventFilter(self)
        self.mask_layer = self.canvas.add_layer("mask", z=10, opacity=self._opacity)
        self.pred_item = self.canvas.add_item("prediction", ContourItem(colors.PRED, width=1.4), z=20)
        self.pred_item.setVisible(False)
        self.preview_item = QGraphicsPathItem()
        self.canvas.add_item("preview", self.preview_item, z=30)
        self.preview_line = QGraphicsPathItem()
        self.canvas.add_item("preview_line", self.preview_line, z=31)
        self.ring = QGraphicsEllipseItem()
        pen = QPen(QColor(255, 255, 255, 230))
        pen.setCosmetic(True)
        pen.setWidthF(1.5)
        self.ring.setPen(pen)
        self.ring.setVisible(False)
        self.canvas.add_item("ring", self.ring, z=40)
        self.ring_dark = QGraphicsEllipseItem()
        pen = QPen(QColor(0, 0, 0, 170))
        pen.setCosmetic(True)
        pen.setWidthF(1.0)
        pen.setStyle(Qt.DashLine)
        self.ring_dark.setPen(pen)
        self.ring_dark.setVisible(False)
        self.canvas.add_item("ring_dark", self.ring_dark, z=41)
        self.canvas.hovered.connect(self._on_hover)
        self.canvas.zoomChanged.connect(lambda *_: self._update_cursor_text())
        cl.addWidget(self.canvas, 1)
        self.hint_label = QLabel("")
        self.hint_label.setObjectName("smallCaption")
        self.hint_label.setWordWrap(True)
        cl.addWidget(self.hint_label)
        srow = QHBoxLayout()
        srow.setSpacing(8)
        self.status_label = QLabel("")
        self.status_label.setObjectName("smallCaption")
        self.status_label.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        srow.addWidget(self.status_label, 1)
        self.cursor_label = QLabel("")             # updated on every mouse move: fixed size, never relayouts
        self.cursor_label.setObjectName("smallCaption")
        self.cursor_label.setFixedWidth(190)
        self.cursor_label.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
        srow.addWidget(self.cursor_label)
        cl.addLayout(srow)
        self.help = HelpOverlay(self.canvas)
        split.addWidget(centre)

        # ---- right: tools
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
        self.pred_check = QCheckBox("Outline   T")
        self.pred_check.setToolTip("Show the prediction's outline over the mask")
        self.pred_check.toggled.connect(self._on_pred_toggle)
        pg.addWidget(self.pred_check, 1, 2)
        self.source_button = QPushButton("Prediction source…")
        self.source_button.setToolTip("An evaluation folder of the current model on this dataset (or a run folder)")
        self.source_button.clicked.connect(self._choose_source)
        pg.addWidget(self.source_button, 2, 0, 1, 3)
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
        split.addWidget(right)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setStretchFactor(2, 0)
        split.setSizes([250, 880, 310])
        self._set_badge("idle")

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

    def _make_shortcuts(self) -> None:
        """Bind every row of annotate.keys.ANNOTATE_SHORTCUTS (the help overlay lists the same rows)."""
        def size_down():
            size = self.brush_size
            self.size_slider.setValue(max(1, int(round(size / 1.25))) if size > 4 else int(size) - 1)

        handlers = {f"tool_{key}": (lambda k=key: self.set_tool(k)) for key, _text in TOOLS}
        handlers.update({
            "prediction_replace": lambda: self.start_from_prediction("replace"),
            "prediction_add": lambda: self.start_from_prediction("union"),
            "size_down": size_down,
            "size_up": lambda: self.size_slider.setValue(max(int(self.brush_size) + 1,
                                                             int(round(self.brush_size * 1.25)))),
            "tolerance_down": lambda: self.tol_slider.setValue(int(self.tolerance) - 4),
            "tolerance_up": lambda: self.tol_slider.setValue(int(self.tolerance) + 4),
            "finish": self._finish_points,
            "finish_erase": lambda: self._finish_points(erase=True),
            "backspace": self._backspace,
            "escape": self._escape,
            "undo": self.undo,
            "redo": self.redo,
            "toggle_label": lambda: self.set_label(0 if self._current_label() == 1 else 1),
            "toggle_mask": self.mask_check.toggle,
            "opacity_down": lambda: self.opacity_slider.setValue(self.opacity_slider.value() - 10),
            "opacity_up": lambda: self.opacity_slider.setValue(self.opacity_slider.value() + 10),
            "toggle_prediction": self.pred_check.toggle,
            "save": lambda: self.save_now(),
            "fit": self.canvas.fit,
            "zoom_1to1": self.canvas.zoom_1to1,
            "zoom_in": lambda: self.canvas.zoom_by(1.25),
            "zoom_out": lambda: self.canvas.zoom_by(0.8),
            "next_sample": lambda: self.step_sample(1),
            "previous_sample": lambda: self.step_sample(-1),
            "help": self.toggle_help,
        })
        bind(self, ANNOTATE_SHORTCUTS, handlers)

    # ============================================================== dataset and samples
    def open_dataset(self, path) -> bool:
        """Open a dataset folder (any layout). Unsaved edits of the previous one are saved first."""
        self.save_all()
        try:
            store = MaskStore(path)
        except CrackError as e:
            self.flash(f"Cannot open the dataset: {e.message}", error=True)
            return False
        store.remove_stale_temp_files()
        self.store = store
        self.session = None
        self._sessions.clear()
        self._errors.clear()
        self._review.clear()
        self._pred_cache = None
        self.split_combo.blockSignals(True)
        self.split_combo.clear()
        self.split_combo.addItem("all splits", None)
        for sp in store.index.splits:
            self.split_combo.addItem(sp, sp)
        self.split_combo.blockSignals(False)
        self._update_counts()
        self._refresh_list()
        pending = store.pending_journals()
        if pending:
            self.flash(f"Recovering unsaved strokes of {len(pending)} sample(s) from the journal: "
                        f"{', '.join(pending[:5])}{'…' if len(pending) > 5 else ''}")
            for name in pending:
                self._recover(name)
        names = self.list_model.names
        if names:
            self.open_sample(names[0])
        else:
            self._show_empty()
        return True

    def _recover(self, name: str) -> None:
        """Replay a crash journal into a session and save it (the journal stays until a save covers it)."""
        try:
            s = self._load_session(name)
        except CrackError as e:
            self._errors[name] = e.message
            return
        if s.recovered:
            self._sessions[name] = s
            self._save_sync(s)

    def _load_session(self, name: str) -> Session:
        rec = self.store.record(name)
        image = read_image(rec.image_path)
        mask, n = self.store.load_mask(name, image.shape[:2])
        model = MaskModel(mask, image=image)
        s = Session(name, image, model, saved_revision=model.revision, recovered=n)
        if n:
            model.revision += 1                      # recovered strokes are not on disk yet
        model.listeners.append(lambda ch, how, s=s: self._on_model_change(s, ch, how))
        return s

    def open_sample(self, name: str) -> bool:
        """Show sample ``name`` for editing; the previous sample is saved first (kept in memory if that fails)."""
        if self.store is None:
            return False
        if self.session is not None and self.session.name == name:
            return True
        self._leave_sample()
        try:
            s = self._sessions.get(name) or self._load_session(name)
        except CrackError as e:
            self.flash(f"Cannot open {name}: {e.message}", error=True)
            return False
        self.session = s
        self.canvas.set_image(s.image, keep_view=True)
        self._layer_px = self.mask_layer.pixels.view(np.uint32).reshape(self.mask_layer.height,
                                                                        self.mask_layer.width)
        self.repaint_mask(None, full=True)
        self._pred_cache = None
        self.last_brush_point = None
        for t in self._tools.values():
            t.cancel()
        self._update_prediction_outline()
        self._select_in_list(name)
        self._update_enabled()
        self._update_status()
        self._set_badge()
        if s.recovered and s.unsaved:
            self.flash(f"{name}: {s.recovered} stroke(s) recovered from the journal.")
        self.sampleOpened.emit(name)
        return True

    def _leave_sample(self) -> None:
        s = self.session
        if s is None:
            return
        for t in self._tools.values():
            t.cancel()
        if s.model.in_stroke:
            self.end_stroke()
        self._autosave.stop()
        if s.unsaved:
            self._save_sync(s)
        self._sessions.pop(s.name, None)
        if s.unsaved or s.model.undo_depth or s.model.redo_depth:
            self._sessions[s.name] = s            # unsaved edits stay in memory; history survives a visit elsewhere
        self.session = None
        self._prune_sessions()

    def _prune_sessions(self) -> None:
        """Drop the oldest *saved* sessions beyond RECENT_SESSIONS (unsaved ones are never dropped)."""
        saved = [n for n, x in self._sessions.items() if not x.unsaved and not x.saving]
        for n in saved[:max(0, len(saved) - RECENT_SESSIONS)]:
            self._sessions.pop(n, None)

    def _show_empty(self) -> None:
        self.title_label.setText("No sample matches the filter")
        self._update_enabled()

    def step_sample(self, step: int) -> None:
        names = self.list_model.names
        if not names:
            return
        cur = self.session.name if self.session else None
        i = names.index(cur) + step if cur in names else 0
        i = max(0, min(len(names) - 1, i))
        self.open_sample(names[i])

    def current_name(self) -> str | None:
        return self.session.name if self.session else None

    # ============================================================== list, filters, counts
    def _filter_key(self) -> str:
        return self.filter_combo.currentData()

    def _on_filter_changed(self, *_):
        if self._filter_key() == "review":
            self._start_ranking()
        self._refresh_list()

    def set_filter(self, key: str) -> None:
        for i in range(self.filter_combo.count()):
            if self.filter_combo.itemData(i) == key:
                self.filter_combo.setCurrentIndex(i)
                return
        raise ValueError(f"unknown filter {key!r}")

    def _refresh_list(self) -> None:
        if self.store is None:
            self.list_model.set_names([])
            return
        key = self._filter_key()
        split = self.split_combo.currentData()
        text = self.search.text().strip().lower()
        recs = self.store.records()
        note = ""
        review = None
        if key == "review":
            review = self._review
            order = [n for n in sorted(self._review, key=lambda n: (-self._review[n].priority, n))]
            by = {r.name: r for r in recs}
            recs = [by[n] for n in order if n in by]
            if self.source is None:
                note = "The review queue needs a prediction source (an evaluation of the current model)."
            elif self._ranking:
                note = "Ranking samples…"
            else:
                note = (f"{len(recs)} samples ranked by model disagreement"
                        + (f"; {len(self._review_missing)} not in the evaluation" if self._review_missing else ""))
        out = []
        for r in recs:
            if split is not None and r.split != split:
                continue
            if text and text not in r.name.lower():
                continue
            k = sample_kind(r)
            if key in ("segmented", "weak", "negative") and k != key:
                continue
            if key == "unsaved" and not self.is_unsaved(r.name):
                continue
            out.append(r.name)
        self.list_model.set_names(out, review)
        if key != "review":
            note = f"{len(out)} of {len(self.store.records())} samples"
        self.list_note.setText(note)
        if self.session is not None:
            self._select_in_list(self.session.name)

    def _select_in_list(self, name: str) -> None:
        try:
            row = self.list_model.names.index(name)
        except ValueError:
            self.list_view.clearSelection()
            return
        idx = self.list_model.index(row)
        sm = self.list_view.selectionModel()
        sm.blockSignals(True)
        sm.setCurrentIndex(idx, sm.SelectionFlag.ClearAndSelect)
        sm.blockSignals(False)
        self.list_view.scrollTo(idx)

    def _on_list_current(self, current: QModelIndex, _prev=None) -> None:
        if current.isValid() and current.row() < len(self.list_model.names):
            self.open_sample(self.list_model.names[current.row()])

    def _update_counts(self) -> None:
        if self.store is None:
            self.counts_label.setText("No dataset open.")
            return
        counts = self.store.counts()
        rows = []
        tot = {"positives": 0, "negatives": 0, "segmented": 0, "weak": 0}
        for sp, c in counts.items():
            for k in tot:
                tot[k] += c[k]
            rows.append(f"<tr><td><b>{html.escape(sp)}</b></td><td align=right>{c['segmented']}</td>"
                        f"<td align=right>{c['weak']}</td><td align=right>{c['negatives']}</td></tr>")
        head = ("<tr><td></td><td align=right style='color:#00795a'>segm.</td>"
                "<td align=right style='color:#a86f00'>weak</td><td align=right style='color:#6b727b'>neg.</td></tr>")
        rows.append(f"<tr><td><b>total</b></td><td align=right><b>{tot['segmented']}</b></td>"
                    f"<td align=right><b>{tot['weak']}</b></td><td align=right><b>{tot['negatives']}</b></td></tr>")
        self.counts_label.setText(f"<div style='font-weight:600'>{html.escape(self.store.root.name)} "
                                  f"<span style='color:#6b727b; font-weight:400'>({self.store.layout})</span></div>"
                                  f"<table cellspacing=0 cellpadding=1 width='100%'>{head}{''.join(rows)}</table>")

    def counts(self) -> dict:
        return self.store.counts() if self.store is not None else {}

    def is_unsaved(self, name: str) -> bool:
        if self.session is not None and self.session.name == name:
            return self.session.unsaved
        s = self._sessions.get(name)
        return bool(s is not None and s.unsaved) or name in self._errors

    def save_error(self, name: str) -> str | None:
        if self.session is not None and self.session.name == name:
            return self.session.error
        s = self._sessions.get(name)
        if s is not None and s.error:
            return s.error
        return self._errors.get(name)

    # ============================================================== tools
    def set_tool(self, name: str) -> None:
        if name not in self._tools:
            raise ValueError(f"unknown tool {name!r}")
        old = self._tool_name
        if old and old != name and hasattr(self, "_tools"):
            self._tools[old].cancel()
        self._tool_name = name
        if hasattr(self, "_tools"):
            self.canvas.set_tool(self._tools[name])
        self.tool_buttons[name].setChecked(True)
        self.hint_label.setText(TOOL_HINTS[name])
        self.canvas.viewport().setCursor(Qt.CrossCursor)
        self.show_preview()
        self.ring.setVisible(False)
        self.ring_dark.setVisible(False)

    @property
    def tool_name(self) -> str:
        return self._tool_name

    @property
    def model(self) -> MaskModel | None:
        """The mask being edited (the tools' ToolHost.model)."""
        return self.session.model if self.session is not None else None

    @property
    def tool(self) -> Tool:
        return self._tools[self._tool_name]

    def _on_size(self, v: int) -> None:
        self.brush_size = float(max(1, v))
        self.show_preview()

    def _on_tolerance(self, v: int) -> None:
        self.tolerance = float(max(0, v))

    def _on_opacity(self, v: int) -> None:
        self._opacity = max(0, min(100, v)) / 100.0
        self.mask_layer.setOpacity(self._opacity)

    def set_opacity(self, opacity: float) -> None:
        self.opacity_slider.setValue(int(round(opacity * 100)))

    def move_cursor_ring(self, pos: QPointF) -> None:
        if self._tool_name not in ("brush", "eraser", "polyline") or self.session is None:
            self.ring.setVisible(False)
            self.ring_dark.setVisible(False)
            return
        r = self.brush_size / 2.0
        rect = QRectF(pos.x() - r, pos.y() - r, 2 * r, 2 * r)
        self.ring.setRect(rect)
        self.ring_dark.setRect(rect)
        self.ring.setVisible(True)
        self.ring_dark.setVisible(True)

    def show_preview(self) -> None:
        tool = self._tools.get(self._tool_name) if hasattr(self, "_tools") else None
        path = QPainterPath()
        pts = tool.preview_points() if isinstance(tool, PointsTool) else []
        if pts:
            path.moveTo(pts[0][0] + 0.5, pts[0][1] + 0.5)
            for x, y in pts[1:]:
                path.lineTo(x + 0.5, y + 0.5)
            if isinstance(tool, PolygonTool) and len(pts) > 2:
                path.closeSubpath()
        c = QColor(*MASK_COLOR)
        if isinstance(tool, PolylineTool):
            c.setAlpha(170)
            pen = QPen(c, self.brush_size, Qt.SolidLine, Qt.RoundCap, Qt.RoundJoin)
            self.preview_item.setPen(pen)
            self.preview_item.setBrush(Qt.NoBrush)
        else:
            c.setAlpha(80)
            pen = QPen(QColor(*MASK_COLOR), 1.5)
            pen.setCosmetic(True)
            self.preview_item.setPen(pen)
            self.preview_item.setBrush(QBrush(c))
        self.preview_item.setPath(path)
        line_pen = QPen(QColor(255, 255, 255, 220), 1.2, Qt.DashLine)
        line_pen.setCosmetic(True)
        self.preview_line.setPen(line_pen)
        marks = QPainterPath(path)
        for x, y in tool.points if isinstance(tool, PointsTool) else []:
            marks.addEllipse(QPointF(x + 0.5, y + 0.5), 1.5, 1.5)
        self.preview_line.setPath(marks)

    def _finish_points(self, erase: bool = False) -> None:
        tool = self.tool
        if isinstance(tool, PointsTool) and tool.points:
            tool.finish(erase=erase)

    def _backspace(self) -> None:
        tool = self.tool
        if isinstance(tool, PointsTool):
            tool.backspace()

    def _escape(self) -> None:
        if self.help.isVisible():
            self.help.hide()
            return
        self.tool.cancel()

    def toggle_help(self) -> None:
        if self.help.isVisible():
            self.help.hide()
        else:
            self.help.place()
            self.help.show()
            self.help.raise_()

    # ============================================================== editing
    def _set_mask_color(self, color) -> None:
        r, g, b = (int(c) for c in color[:3])
        px = np.array([[0, 0, 0, 0], [b, g, r, 255]], np.uint8)      # premultiplied BGRA (opaque colour)
        self._lut = px.view(np.uint32).ravel().copy()

    def repaint_mask(self, rect: Rect | None, full: bool = False) -> None:
        """Recolour the overlay pixels of ``rect`` from the mask and repaint only that rectangle."""
        s = self.session
        if s is None:
            return
        if full:
            self._layer_px[...] = self._lut[s.model.mask]
            self.mask_layer.update()
            return
        if rect is None:
            return
        ys, xs = rect.slices
        self._layer_px[ys, xs] = self._lut[s.model.mask[ys, xs]]
        self.mask_layer.update_rect(rect.x, rect.y, rect.x + rect.w, rect.y + rect.h)

    def paint_segment(self, p0, p1, value: int) -> Rect | None:
        """One brush segment p0 -> p1 (mask pixel coordinates) inside the open stroke; repaints its rectangle."""
        s = self.session
        if s is None:
            return None
        rect = s.model.brush(p0, p1, self.brush_size, value)
        self.repaint_mask(rect)
        return rect

    def end_stroke(self) -> None:
        s = self.session
        if s is None:
            return
        s.model.end_stroke()           # listeners journal it and schedule the autosave
        self._autosave.start()         # also restarts a timer that fired mid-stroke

    def apply_edit(self, fn) -> Rect | None:
        """Run one single-step edit ``fn(model) -> rect`` (polyline, polygon, fill, prediction, clear)."""
        s = self.session
        if s is None:
            return None
        try:
            rect = fn(s.model)
        except ValueError as e:
            self.flash(str(e), error=True)
            return None
        self.repaint_mask(rect)
        return rect

    def undo(self) -> None:
        s = self.session
        if s is None:
            return
        self.tool.cancel()
        self.repaint_mask(s.model.undo())

    def redo(self) -> None:
        s = self.session
        if s is None:
            return
        self.tool.cancel()
        self.repaint_mask(s.model.redo())

    def _on_model_change(self, s: Session, change, how: str) -> None:
        """A stroke, undo or redo completed: journal it now, save after the debounce."""
        try:
            self.store.journal_append(s.name, s.model.shape, change.writes("old" if how == "undo" else "new"))
        except MaskSaveError as e:
            s.error = e.message
        self._autosave.start()
        self._after_edit(s)

    def _after_edit(self, s: Session) -> None:
        if s is self.session:
            self._update_enabled()
            self._update_status()
            self._set_badge()
            if self.pred_check.isChecked():
                pass
        self.list_model.refresh_name(s.name)

    def start_from_prediction(self, mode: str = "replace") -> None:
        s = self.session
        if s is None:
            return
        prob = self._prob()
        if prob is None:
            self.flash("No prediction for this sample: choose a prediction source (an evaluation folder of the "
                        "current model that covers this sample).", error=True)
            return
        rect = self.apply_edit(lambda m: m.from_prediction(prob, self.thr_spin.value(), mode))
        if rect is None:
            self.flash("The prediction does not change the mask.")

    # ============================================================== labels
    def _current_label(self) -> int | None:
        if self.session is None or self.store is None:
            return None
        return self.store.record(self.session.name).label

    def set_label(self, label: int) -> bool:
        """Set the image label of the current sample; 'no crack' clears the mask (undoable)."""
        s = self.session
        if s is None:
            return False
        try:
            if label == 0 and s.model.crack_pixels():
                self.store.set_label(s.name, 0)
                self.apply_edit(lambda m: m.clear())       # journaled + autosaved like any stroke
            else:
                self.store.set_label(s.name, label)
                if s.model.crack_pixels() == 0:
                    s.saved_revision = -1                  # settle the mask file with the new label
                    self._autosave.start()
        except LabelError as e:
            self.flash(e.message, error=True)
            self._update_enabled()
            return False
        except MaskSaveError as e:
            s.error = e.message
            self._set_badge()
            self._update_enabled()
            return False
        self._update_enabled()
        self._update_status()
        self._update_counts()
        self.list_model.refresh_name(s.name)
        self.sampleChanged.emit(s.name)
        self.countsChanged.emit(self.store.counts())
        return True

    # ============================================================== saving
    def _autosave_fire(self) -> None:
        s = self.session
        if s is None:
            return
        if s.model.in_stroke:
            return                       # the end of the stroke restarts the timer
        self._start_save(s)

    def _start_save(self, s: Session) -> None:
        if s.saving:
            s.resave = True
            return
        if not s.dirty and s.error is None:
            return
        s.saving = True
        s.resave = False
        snap = s.model.mask.copy()
        rev = s.model.revision
        covered = self.store.journal_size(s.name)
        fut = self._saver.submit(self.store.save_mask, s.name, snap, covered)
        s.future, s.future_rev = fut, rev
        fut.add_done_callback(lambda f, s=s: self._bridge.saveDone.emit((s, f)))
        self._set_badge()

    def _finish_future(self, s: Session, fut) -> bool:
        """Take the result of a finished save (once per future). False when it was handled already."""
        if id(fut) in s.futures_done:
            return False
        s.futures_done.add(id(fut))
        s.saving = False
        try:
            res = fut.result()
        except CrackError as e:
            s.error = e.message
        except Exception as e:          # noqa: BLE001 - any failure must keep the sample unsaved, with the reason
            s.error = f"{type(e).__name__}: {e}"
        else:
            s.error = None
            self._errors.pop(s.name, None)
            s.saved_revision = s.future_rev
            self._saved(s, res)
        return True

    def _on_save_done(self, payload) -> None:
        s, fut = payload
        if not self._finish_future(s, fut):
            return
        if s.resave and s.dirty:
            self._start_save(s)
        elif s is not self.session:
            self._prune_sessions()
        self.list_model.refresh_name(s.name)
        if s is self.session:
            self._set_badge()
            self._update_enabled()

    def _saved(self, s: Session, res) -> None:
        if self.store is None:
            return
        self._update_counts()
        if s is self.session:
            self._update_status()
        self.sampleChanged.emit(s.name)
        self.countsChanged.emit(self.store.counts())
        if self.source is not None and s.name in self._review:
            try:
                it = score_sample(self.store.record(s.name), self.source, mask=s.model.mask)
            except CrackError:
                it = None
            if it is not None:
                self._review[s.name] = it

    def _save_sync(self, s: Session) -> bool:
        """Finish any running save of ``s``, then save it in this thread. True when everything is on disk."""
        if s.saving and s.future is not None:
            try:
                s.future.result()
            except Exception:           # noqa: BLE001 - taken by _finish_future
                pass
            self._finish_future(s, s.future)
        if not s.unsaved:
            return True
        rev = s.model.revision
        try:
            res = self.store.save_mask(s.name, s.model.mask.copy(), self.store.journal_size(s.name))
        except CrackError as e:
            s.error = e.message
        except Exception as e:          # noqa: BLE001
            s.error = f"{type(e).__name__}: {e}"
        else:
            s.error = None
            self._errors.pop(s.name, None)
            s.saved_revision = rev
            self._saved(s, res)
        self.list_model.refresh_name(s.name)
        if s is self.session:
            self._set_badge()
            self._update_enabled()
        return not s.unsaved

    def save_now(self, wait: bool = True) -> bool:
        """Save the current sample now (Ctrl+S). Returns True when it is on disk."""
        s = self.session
        if s is None:
            return True
        self._autosave.stop()
        if s.model.in_stroke:
            self.end_stroke()
            self._autosave.stop()
        if wait:
            return self._save_sync(s)
        self._start_save(s)
        return False

    def save_all(self) -> bool:
        """Save every sample with unsaved edits (before quitting or switching datasets). True when all are saved."""
        ok = True
        if self.session is not None:
            ok = self.save_now(wait=True) and ok
        for s in list(self._sessions.values()):
            if s.unsaved:
                ok = self._save_sync(s) and ok
        return ok

    def has_unsaved(self) -> bool:
        return (self.session is not None and self.session.unsaved) or any(s.unsaved for s in self._sessions.values())

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Process events until no save is pending (tests and scripts)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            QApplication.processEvents()
            busy = self._autosave.isActive() or any(
                s.saving for s in [self.session, *self._sessions.values()] if s is not None)
            if not busy:
                return True
            time.sleep(0.005)
        return False

    @property
    def save_state(self) -> str:
        s = self.session
        if s is None:
            return "idle"
        if s.error:
            return "failed"
        if s.saving:
            return "saving"
        return "unsaved" if s.dirty else "saved"

    def _set_badge(self, state: str | None = None) -> None:
        state = state or self.save_state
        s = self.session
        text = SAVE_BADGE_TEXT[state]
        detail = ""
        if state == "failed" and s is not None:
            err = s.error or ""
            if self.store is not None:          # paths inside the dataset: show them relative to it
                err = err.replace(str(self.store.root) + "/", "")
            detail = (f"<div style='font-weight:400; margin-top:3px'>{html.escape(err)}</div>"
                      "<div style='font-weight:400; color:#6b2b33; margin-top:3px'>Your edits are kept; the save is "
                      "retried after the next stroke or with Ctrl+S.</div>")
        elif state == "saved" and s is not None and self.store is not None:
            rec = self.store.record(s.name)
            where = rec.mask_path.relative_to(self.store.root) if rec.has_mask else "no mask file (empty)"
            detail = f"<div style='font-weight:400; color:#3d6b5c; margin-top:2px'>{html.escape(str(where))}</div>"
        set_state(self.save_badge, "state", state)
        self.save_badge.setText(f"{text}{detail}")
        self.saveStateChanged.emit(state)

    # ============================================================== prediction source & review queue
    def set_prediction_source(self, eval_dir) -> bool:
        """Use an evaluation (or run) folder of the current model: prediction tools, outline and review queue."""
        try:
            src = PredictionSource(eval_dir)
        except CrackError as e:
            self.flash(f"Prediction source: {e.message}", error=True)
            return False
        self.source = src
        self._pred_cache = None
        self._review.clear()
        self._review_missing = []
        self.thr_spin.blockSignals(True)
        self.thr_spin.setValue(src.seg_threshold)
        self.thr_spin.blockSignals(False)
        covered = len(src.names() & {r.name for r in self.store.records()}) if self.store else len(src.names())
        total = len(self.store.records()) if self.store else 0
        self.source_label.setText(f"{Path(eval_dir).name}: {covered}/{total} samples covered, "
                                  f"threshold {src.seg_threshold:.3f}")
        self.source_label.setToolTip(str(eval_dir))
        self._update_prediction_outline()
        self._update_enabled()
        if self._filter_key() == "review":
            self._start_ranking(force=True)
        return True

    def _choose_source(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Evaluation or run folder of the current model")
        if d:
            self.set_prediction_source(d)

    def _prob(self) -> np.ndarray | None:
        s = self.session
        if s is None or self.source is None:
            return None
        if self._pred_cache is None or self._pred_cache[0] != s.name:
            self._pred_cache = (s.name, self.source.prob(s.name))
        return self._pred_cache[1]

    def _on_pred_toggle(self, on: bool) -> None:
        self.pred_item.setVisible(bool(on))
        self._update_prediction_outline()

    def _update_prediction_outline(self) -> None:
        if not self.pred_check.isChecked() or self.session is None:
            self.pred_item.set_contours([])
            return
        prob = self._prob()
        if prob is None:
            self.pred_item.set_contours([])
            return
        pm = prediction_mask(prob, self.thr_spin.value(), self.session.model.shape)
        self.pred_item.set_contours(mask_contours(pm))

    def _start_ranking(self, force: bool = False) -> None:
        if self.source is None or self.store is None or self._ranking:
            self._refresh_list()
            return
        if self._review and not force:
            return
        self._ranking = True
        recs = self.store.records()
        src = self.source
        bridge = self._bridge

        def job():
            return rank(recs, src, progress=lambda i, n: bridge.rankProgress.emit(i, n) if i % 16 == 0 else None)
        fut = self._ranker.submit(job)
        fut.add_done_callback(lambda f: bridge.rankDone.emit(f))
        self._refresh_list()

    def _on_rank_progress(self, i: int, n: int) -> None:
        if self._filter_key() == "review":
            self.list_note.setText(f"Ranking samples… {i}/{n}")

    def _on_rank_done(self, fut) -> None:
        self._ranking = False
        try:
            items, missing = fut.result()
        except Exception as e:          # noqa: BLE001
            self.flash(f"Review queue failed: {e}", error=True)
            items, missing = [], []
        self._review = {it.name: it for it in items}
        self._review_missing = missing
        self._refresh_list()
        self._update_status()

    def review_items(self) -> list[ReviewItem]:
        return sorted(self._review.values(), key=lambda it: (-it.priority, it.name))

    # ============================================================== status
    def _on_hover(self, x: int, y: int) -> None:
        self._hover_xy = (x, y)
        self._update_cursor_text()
        if x < 0:
            self.ring.setVisible(False)
            self.ring_dark.setVisible(False)

    def _update_cursor_text(self) -> None:
        """Cursor position and zoom: the only text touched on mouse moves (cheap, fixed-size label)."""
        xy = getattr(self, "_hover_xy", (-1, -1))
        pos = f"x {xy[0]}, y {xy[1]}   " if xy[0] >= 0 else ""
        self.cursor_label.setText(f"{pos}zoom {self.canvas.scale_factor() * 100:.0f}%")

    def _update_status(self) -> None:
        """Sample title, size, crack pixels, history depth and the label button (after opening, edits, saves)."""
        s = self.session
        if s is None or self.store is None:
            self.status_label.setText("")
            return
        rec = self.store.record(s.name)
        h, w = s.model.shape
        kind = {"segmented": "crack · segmented", "weak": "crack · weak label (no mask)",
                "negative": "no crack"}[sample_kind(rec)]
        self.title_label.setTextFormat(Qt.RichText)
        self.title_label.setText(f"{html.escape(s.name)}   <span style='font-size:10pt; color:#5b626b; "
                                 f"font-weight:400'>{html.escape(rec.split)} · {kind}</span>")
        self.status_label.setText(
            f"{w}×{h} px · {s.model.crack_pixels():,} crack px · undo {s.model.undo_depth} / "
            f"redo {s.model.redo_depth}")
        label = rec.label
        self.label_button.blockSignals(True)
        self.label_button.setChecked(label == 1)
        self.label_button.setText("Label: crack   C" if label == 1 else "Label: no crack   C")
        self.label_button.blockSignals(False)
        self._update_cursor_text()
        it = self._review.get(s.name)
        if it is not None:
            self.review_label.setText(f"<b>Review priority {it.priority * 100:.0f}%</b> ({it.kind}): "
                                      f"{html.escape(it.reason)}")
        self.review_label.setVisible(it is not None)

    def _update_enabled(self) -> None:
        s = self.session
        has = s is not None
        for w in (self.undo_button,):
            w.setEnabled(has and s.model.can_undo)
        self.redo_button.setEnabled(has and s.model.can_redo)
        self.clear_button.setEnabled(has)
        self.label_button.setEnabled(has)
        self.save_button.setEnabled(has)
        has_pred = has and self.source is not None and self.source.covers(s.name)
        self.pred_button.setEnabled(has_pred)
        self.pred_add_button.setEnabled(has_pred)
        self.pred_check.setEnabled(self.source is not None)
        if has:
            self.undo_button.setText(f"Undo ({s.model.undo_depth})")
            self.redo_button.setText(f"Redo ({s.model.redo_depth})")

    def flash(self, text: str, error: bool = False) -> None:
        color = "#9d0020" if error else "#2b3038"
        self.hint_label.setText(f"<span style='color:{color}'>{html.escape(text)}</span>")
        self.hint_label.setTextFormat(Qt.RichText)
        QTimer.singleShot(6000, self, lambda: self.hint_label.setText(TOOL_HINTS[self._tool_name]))

    # ============================================================== events
    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt API
        et = event.type()
        if et == QEvent.KeyPress and event.key() == Qt.Key_Space and not event.isAutoRepeat():
            self.panning = True
            self.canvas.viewport().setCursor(Qt.OpenHandCursor)
            return True
        if et == QEvent.KeyRelease and event.key() == Qt.Key_Space and not event.isAutoRepeat():
            self.panning = False
            self.canvas.viewport().setCursor(Qt.CrossCursor)
            return True
        if et == QEvent.Resize and obj is self.canvas and self.help.isVisible():
            self.help.place()
        if et == QEvent.Leave and obj is self.canvas.viewport():
            self.ring.setVisible(False)
            self.ring_dark.setVisible(False)
        return super().eventFilter(obj, event)

    def closeEvent(self, event) -> None:  # noqa: N802
        self.save_all()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Save everything and stop the worker threads (the app calls this before quitting)."""
        self.save_all()
        self._saver.shutdown(wait=True)
        self._ranker.shutdown(wait=False, cancel_futures=True)


