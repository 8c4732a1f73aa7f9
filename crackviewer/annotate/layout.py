"""The Annotate tab's widgets, laid out: sample list on the left, canvas in the centre, tools on the right.
`AnnotateLayoutMixin._build` creates them as attributes of the panel (as Qt Designer's setupUi does) and connects
them to the panel's slots."""
from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QGraphicsEllipseItem, QGraphicsPathItem,
                               QHBoxLayout, QLabel, QLineEdit, QListView, QSizePolicy, QSplitter, QToolButton,
                               QVBoxLayout, QWidget)

from figures import colors
from crackviewer.annotate.canvas import AnnotateCanvas
from crackviewer.annotate.help_overlay import HelpOverlay
from crackviewer.annotate.layout_tools import ToolsLayoutMixin
from crackviewer.annotate.sample_list import FILTERS, SampleListModel
from crackviewer.viewer.layers import ContourItem


class AnnotateLayoutMixin(ToolsLayoutMixin):
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
        self.banner = QLabel("")                 # read-only dataset, a label an edit changed (StatusMixin.show_banner)
        self.banner.setObjectName("annotateBanner")
        self.banner.setWordWrap(True)
        self.banner.setVisible(False)
        cl.addWidget(self.banner)
        self.canvas = AnnotateCanvas(centre)
        self.canvas.setMinimumSize(320, 240)
        self.canvas.installEventFilter(self)
        self.canvas.viewport().installEventFilter(self)
        self.mask_layer = self.canvas.add_layer("mask", z=10, opacity=self._opacity)
        self.pred_item = self.canvas.add_item("prediction", ContourItem(colors.PRED, width=1.4), z=20)
        self.pred_item.setVisible(False)
        self.pred_raster = self.canvas.add_layer("prediction_raster", z=20)     # the outline of masks over 4 MP
        self.pred_raster.setVisible(False)
        self.accept_item = self.canvas.add_item("accept", ContourItem(colors.FP, width=2.2), z=25)
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

        right = self._build_right()
        split.addWidget(right)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setStretchFactor(2, 0)
        split.setSizes([250, 880, 310])
        self._set_badge("idle")
