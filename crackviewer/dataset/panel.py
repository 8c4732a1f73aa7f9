"""Dataset tab: open a folder in any supported layout; counts, segmented vs weak, thumbnails, bad samples.

Nothing here blocks the GUI thread on disk I/O: the index is built (`trainer.data.open_dataset`) and every file is
checked (`validate_records`) in a thread pool, and thumbnails are decoded by worker threads only for the tiles
the view actually shows (the list view is virtualised, so 11,000 images cost nothing until scrolled into view).
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QListView,
                               QPushButton, QSizePolicy, QSplitter, QStackedWidget, QTableWidget, QTabWidget, QVBoxLayout,
                               QWidget)

from crackviewer.dataset.mask_rule import MaskRuleBox
from crackviewer.dataset.summary import DatasetSummaryMixin
from crackviewer.dataset.thumbnails import ThumbnailDelegate, ThumbnailModel
from crackviewer.dataset.widest import WidestCracks
from crackviewer.dataset.widgets import SPLIT_TITLES, CompositionBars, WelcomePage
from crackviewer.qt.tasks import TaskRunner
from trainer.datasets.layouts import open_dataset as open_index



class DatasetView(DatasetSummaryMixin, QWidget):
    """The Dataset tab. open_dataset(path) loads in the background and emits datasetOpened(path, index)."""

    datasetOpened = Signal(str, object)
    datasetFailed = Signal(str, str)
    checkFinished = Signal(list)          # [(file, reason)] found by the full file check
    sampleActivated = Signal(str)         # double-click on a tile: sample name
    demoCreated = Signal(str)             # path of the demo dataset, once written
    openDialogRequested = Signal()
    maskRuleChosen = Signal(str)          # "nonzero" chosen for masks stored as 0/1 etc.

    def __init__(self, parent: QWidget | None = None, workspace: Path | None = None):
        super().__init__(parent)
        self.workspace = Path(workspace) if workspace else None
        self.index = None
        self.path: Path | None = None
        self.file_bad: list[tuple[str, str]] = []
        self.check_warnings: list[str] = []
        self.checking = False
        self.loading = False
        self._generation = 0
        self.tasks = TaskRunner(self, threads=1)
        self.demo_process = None

        self.stack = QStackedWidget()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.stack)

        self.welcome = WelcomePage()
        self.welcome.openRequested.connect(self.openDialogRequested)
        self.welcome.demoRequested.connect(self.create_demo)
        self.welcome.recentRequested.connect(self.open_dataset)
        self.stack.addWidget(self.welcome)

        page = QWidget()
        self.stack.addWidget(page)
        v = QVBoxLayout(page)
        v.setContentsMargins(12, 10, 12, 10)
        v.setSpacing(8)

        # header
        head = QHBoxLayout()
        self.title = QLabel("")
        self.title.setObjectName("pageTitle")
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        head.addWidget(self.title, 1)
        self.open_button = QPushButton("Open dataset…")
        self.open_button.clicked.connect(self.openDialogRequested)
        self.reload_button = QPushButton("Reload")
        self.reload_button.setToolTip("Read the folder again (after masks were added or files changed)")
        self.reload_button.clicked.connect(self.reload)
        head.addWidget(self.reload_button)
        head.addWidget(self.open_button)
        v.addLayout(head)
        self.subtitle = QLabel("")
        self.subtitle.setObjectName("pageSubtitle")
        self.subtitle.setWordWrap(True)
        v.addWidget(self.subtitle)

        split = QSplitter(Qt.Orientation.Horizontal)
        v.addWidget(split, 1)

        # left: counts, supervision, problems
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 6, 0)
        lv.setSpacing(6)
        lv.addWidget(self._section("Samples per split"))
        self.counts_table = QTableWidget(0, 6)
        self.counts_table.setHorizontalHeaderLabels(["Set", "Positives", "Negatives", "Sum", "Segmented", "Weak"])
        self.counts_table.verticalHeader().setVisible(False)
        self.counts_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.counts_table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.counts_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.counts_table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.counts_table.setAlternatingRowColors(True)
        self.counts_table.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.counts_table.setToolTip("Positives = crack images, negatives = crack-free images.\n"
                                     "Segmented = positives with a pixel mask (segmentation + classification loss);\n"
                                     "weak = positives without a mask (classification loss only).")
        lv.addWidget(self.counts_table)
        self.composition = CompositionBars()
        lv.addWidget(self.composition)
        self.supervision = QLabel("")
        self.supervision.setWordWrap(True)
        self.supervision.setObjectName("infoBox")
        lv.addWidget(self.supervision)
        self.layout_note = QLabel("")
        self.layout_note.setWordWrap(True)
        self.layout_note.setObjectName("layoutNote")
        self.layout_note.setTextFormat(Qt.TextFormat.RichText)
        lv.addWidget(self.layout_note)
        self.mask_rule_box = MaskRuleBox()
        self.mask_rule_box.ruleChosen.connect(self.maskRuleChosen)
        self.mask_rule_box.ruleChosen.connect(lambda _rule: self._measured_gen.clear())
        lv.addWidget(self.mask_rule_box)
        self.problems_title = self._section("Problems")
        lv.addWidget(self.problems_title)
        self.check_label = QLabel("")
        self.check_label.setWordWrap(True)
        lv.addWidget(self.check_label)
        self.bad_table = QTableWidget(0, 2)
        self.bad_table.setHorizontalHeaderLabels(["File", "Reason"])
        self.bad_table.verticalHeader().setVisible(False)
        self.bad_table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        self.bad_table.horizontalHeader().setStretchLastSection(True)
        self.bad_table.setColumnWidth(0, 170)
        self.bad_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.bad_table.setWordWrap(True)
        self.bad_table.setAlternatingRowColors(True)
        lv.addWidget(self.bad_table, 1)
        self.warnings_label = QLabel("")
        self.warnings_label.setWordWrap(True)
        self.warnings_label.setObjectName("warningBox")
        self.warnings_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lv.addWidget(self.warnings_label)
        lv.addStretch(1)
        self._left_layout = lv
        split.addWidget(left)

        # right: thumbnails
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(6, 0, 0, 0)
        rv.setSpacing(6)
        bar = QHBoxLayout()
        bar.addWidget(self._section("Samples"))
        bar.addStretch(1)
        self.split_combo = QComboBox()
        self.split_combo.setMinimumWidth(110)
        self.split_combo.currentIndexChanged.connect(self._apply_filter)
        self.kind_combo = QComboBox()
        for text, key in (("All samples", "all"), ("Crack (positives)", "pos"), ("Crack-free (negatives)", "neg"),
                          ("Segmented positives", "seg"), ("Weakly labelled positives", "weak")):
            self.kind_combo.addItem(text, key)
        self.kind_combo.currentIndexChanged.connect(self._apply_filter)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Filter by name…")
        self.search.setClearButtonEnabled(True)
        self.search.setMaximumWidth(200)
        self.search.textChanged.connect(self._apply_filter)
        bar.addWidget(QLabel("Split"))
        bar.addWidget(self.split_combo)
        bar.addWidget(self.kind_combo)
        bar.addWidget(self.search)
        rv.addLayout(bar)
        self.model = ThumbnailModel(self)
        self.list = QListView()
        self.list.setViewMode(QListView.ViewMode.IconMode)
        self.list.setResizeMode(QListView.ResizeMode.Adjust)
        self.list.setMovement(QListView.Movement.Static)
        self.list.setUniformItemSizes(True)
        self.list.setSpacing(4)
        self.list.setLayoutMode(QListView.LayoutMode.Batched)
        self.list.setBatchSize(200)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setItemDelegate(ThumbnailDelegate(self.list))
        self.list.setModel(self.model)
        self.list.doubleClicked.connect(
            lambda idx: self.sampleActivated.emit(idx.data(ThumbnailModel.NameRole)))
        self.list.setToolTip("")
        rv.addWidget(self.list, 1)
        self.shown_label = QLabel("")
        self.shown_label.setObjectName("mutedLabel")
        rv.addWidget(self.shown_label)
        self.right_tabs = QTabWidget()
        self.right_tabs.setObjectName("subTabs")
        self.right_tabs.addTab(right, "Samples")
        self.widest = WidestCracks()
        self.widest.sampleActivated.connect(self.sampleActivated)
        self.right_tabs.addTab(self.widest, "Widest cracks")
        self.right_tabs.currentChanged.connect(self._maybe_measure)
        self._measured_gen: set[int] = set()
        split.addWidget(self.right_tabs)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setSizes([480, 900])

        self.stack.setCurrentWidget(self.welcome)

    @staticmethod
    def _section(text: str) -> QLabel:
        lab = QLabel(text)
        lab.setObjectName("sectionTitle")
        return lab

    # -- opening -----------------------------------------------------------------------------------------
    def show_welcome(self, recent: list[str] | None = None) -> None:
        if recent is not None:
            self.welcome.set_recent(recent)
        self.stack.setCurrentWidget(self.welcome)

    def open_dataset(self, path: str | Path) -> None:
        """Index the folder in the background; datasetOpened / datasetFailed follow."""
        path = Path(path)
        self._generation += 1
        gen = self._generation
        self.title.setText(f"Opening {path} …")
        self.loading = True
        self.tasks.run(lambda: open_index(path, skip_bad=True), lambda index: self._opened(path, index, gen),
                       lambda msg: self._open_failed(path, msg, gen))

    def reload(self) -> None:
        if self.path is not None:
            self.open_dataset(self.path)

    def refresh_counts(self) -> None:
        """Re-read the index after masks or labels changed (annotation): counts, filters and the thumbnails of the
        samples whose mask or label changed are updated; other thumbnails stay cached and no file check runs."""
        if self.path is None:
            return
        path, gen = self.path, self._generation
        self.tasks.run(lambda: open_index(path, skip_bad=True), lambda index: self._recounted(index, gen))

    def _recounted(self, index, gen: int) -> None:
        if gen != self._generation or self.index is None:
            return
        old = {s.name: (s.label, s.has_mask) for s in self.index.samples}
        changed = [s.name for s in index.samples if old.get(s.name) != (s.label, s.has_mask)]
        for name in changed:
            self.model.cache.pop(name, None)
        self.index = index
        self._fill_counts()
        self._apply_filter()
        self._fill_problems()

    def _open_failed(self, path: Path, message: str, gen: int) -> None:
        if gen != self._generation:
            return
        self.loading = False
        self.title.setText(str(self.path) if self.path else "")
        prefix = f"{path}: "
        if message.startswith(prefix):             # the trainer's message names the folder: name it once
            message = message[len(prefix):]
        if self.index is None:
            self.stack.setCurrentWidget(self.welcome)
            self.welcome.status.setText(f"<span style='color:#b00020'>Could not open {path}:<br>{message}</span>")
        self.datasetFailed.emit(str(path), message)

    def _opened(self, path: Path, index, gen: int) -> None:
        if gen != self._generation:
            return
        self.loading = False
        self.index = index
        self.path = path
        self.file_bad = []
        self.check_warnings = []
        self.stack.setCurrentIndex(1)
        n = len(index.samples)
        self.title.setText(str(path))
        self.subtitle.setText(f"{n:,} images · {index.layout} layout · "
                              f"{len(index.splits)} split{'s' if len(index.splits) != 1 else ''}"
                              + (" (no split column: one split named 'all')" if index.single_split else ""))
        self._fill_counts()
        splits = index.splits
        self.split_combo.blockSignals(True)
        self.split_combo.clear()
        self.split_combo.addItem("All", None)
        for sp in splits:
            self.split_combo.addItem(SPLIT_TITLES.get(sp, sp), sp)
        self.split_combo.blockSignals(False)
        self.model.clear_cache()
        self._apply_filter()
        self._fill_problems()
        self.datasetOpened.emit(str(path), index)
        self.start_check()
        self._maybe_measure()

    def _check_failed(self, message: str, gen: int) -> None:
        if gen != self._generation:
            return
        self.checking = False
        self.check_label.setText(f"File check failed: {message}")

    # -- filling -----------------------------------------------------------------------------------------
    # -- demo --------------------------------------------------------------------------------------------