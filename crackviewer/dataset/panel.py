"""Dataset tab: open a folder in any supported layout; counts, segmented vs weak, thumbnails, bad samples.

Nothing here blocks the GUI thread on disk I/O: the index is built (`trainer.data.open_dataset`) and every file is
checked (`validate_records`) in a thread pool, and thumbnails are decoded by worker threads only for the tiles
the view actually shows (the list view is virtualised, so 11,000 images cost nothing until scrolled into view).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QFileDialog, QFrame, QHBoxLayout, QHeaderView, QLabel,
                               QLineEdit, QListView, QPlainTextEdit, QPushButton, QSizePolicy, QSplitter,
                               QStackedWidget, QStyle, QStyledItemDelegate, QStyleOptionViewItem, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from crackviewer import colors
from crackviewer.qimage import array_to_qimage
from crackviewer.qt.tasks import TaskRunner
from crackviewer.train.training_process import TrainerCommand
from trainer.data import read_image

THUMB = 120
SPLIT_TITLES = {"train": "Train", "val": "Validation", "test": "Test", "all": "All"}


def _open_index(path: Path):
    """trainer.data.open_dataset, imported here on the pool thread: trainer.data imports torch (seconds), which
    must not happen on the GUI thread."""
    from trainer.data import open_dataset

    return open_dataset(path, skip_bad=True)


def make_thumbnail(image_path: str, mask_path: str | None, size: int = THUMB) -> QImage:
    """A size x size RGB thumbnail (letterboxed) with the GT mask tinted on top; runs on a worker thread."""
    from trainer.data import read_image

    img = read_image(image_path)
    h, w = img.shape[:2]
    scale = size / max(h, w)
    tw, th = max(1, int(round(w * scale))), max(1, int(round(h * scale)))
    small = cv2.resize(img, (tw, th), interpolation=cv2.INTER_AREA)
    if mask_path:
        try:
            m = cv2.imdecode(np.fromfile(mask_path, dtype=np.uint8), cv2.IMREAD_GRAYSCALE)
        except (OSError, cv2.error):
            m = None
        if m is not None and m.size:
            ms = cv2.resize(m, (tw, th), interpolation=cv2.INTER_AREA)
            _, ms = cv2.threshold(ms, 40, 255, cv2.THRESH_BINARY)
            tinted = cv2.addWeighted(small, 0.35, np.full_like(small, colors.FP), 0.65, 0)
            cv2.copyTo(tinted, ms, small)
    canvas = np.full((size, size, 3), 236, np.uint8)
    y0, x0 = (size - th) // 2, (size - tw) // 2
    canvas[y0:y0 + th, x0:x0 + tw] = small
    return array_to_qimage(canvas)


# ------------------------------------------------------------------------------------------------ thumbnails model
class ThumbnailModel(QAbstractListModel):
    """Virtualised list of samples; thumbnails are requested when a tile is painted and cached (LRU-ish)."""

    NameRole = Qt.ItemDataRole.UserRole + 1
    RecordRole = Qt.ItemDataRole.UserRole + 2

    def __init__(self, parent: QObject | None = None, max_cache: int = 3000):
        super().__init__(parent)
        self.records: list = []
        self.cache: dict[str, QPixmap] = {}
        self.failed: dict[str, str] = {}
        self.pending: set[str] = set()
        self.max_cache = max_cache
        self.tasks = TaskRunner(self, threads=2, newest_first=True)
        self._generation = 0
        self.loaded_count = 0
        self._row_of: dict[str, int] = {}
        self._changed_rows: set[int] = set()
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(40)
        self._flush_timer.timeout.connect(self._flush_changed)

    def set_records(self, records: list) -> None:
        self._changed_rows.clear()
        self.beginResetModel()
        self.records = list(records)
        self._row_of = {r.name: i for i, r in enumerate(self.records)}
        self.endResetModel()

    def clear_cache(self) -> None:
        self._generation += 1
        self.cache.clear()
        self.failed.clear()
        self.pending.clear()

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802 - Qt API
        return 0 if parent.isValid() else len(self.records)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.row() >= len(self.records):
            return None
        rec = self.records[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return rec.name
        if role == self.NameRole:
            return rec.name
        if role == self.RecordRole:
            return rec
        if role == Qt.ItemDataRole.DecorationRole:
            pix = self.cache.get(rec.name)
            if pix is None and rec.name not in self.failed:
                self._request(rec)
            return pix
        if role == Qt.ItemDataRole.ToolTipRole:
            kind = "crack" if rec.label == 1 else "crack-free"
            sup = (" · segmented (pixel mask)" if rec.has_mask else " · weakly labelled (no mask)") if rec.label else ""
            err = f"\n⚠ {self.failed[rec.name]}" if rec.name in self.failed else ""
            return f"{rec.name}\n{kind}{sup} · split {rec.split}\n{rec.image_path}{err}"
        return None

    def _request(self, rec) -> None:
        if rec.name in self.pending:
            return
        self.pending.add(rec.name)
        gen = self._generation
        mask = str(rec.mask_path) if rec.has_mask else None

        def work(path=str(rec.image_path)):  # a tile of an older dataset is not worth decoding any more
            return make_thumbnail(path, mask) if gen == self._generation else None

        self.tasks.run(work, lambda img, n=rec.name, g=gen: self._loaded(n, img, g),
                       lambda msg, n=rec.name, g=gen: self._failed(n, msg, g))

    def _loaded(self, name: str, img: QImage, gen: int) -> None:
        if gen != self._generation:
            return
        self.pending.discard(name)
        if len(self.cache) >= self.max_cache:
            for k in list(self.cache)[: self.max_cache // 4]:
                del self.cache[k]
        self.cache[name] = QPixmap.fromImage(img)
        self.loaded_count += 1
        row = self._row_of.get(name)
        if row is not None:
            self._changed_rows.add(row)
            if not self._flush_timer.isActive():
                self._flush_timer.start()

    def _flush_changed(self) -> None:
        """One dataChanged per batch of loaded thumbnails (a repaint per 40 ms, not per image)."""
        if not self._changed_rows:
            return
        rows, self._changed_rows = self._changed_rows, set()
        top, bottom = min(rows), max(rows)
        if bottom < len(self.records):
            self.dataChanged.emit(self.index(top), self.index(bottom), [Qt.ItemDataRole.DecorationRole])

    def _failed(self, name: str, message: str, gen: int) -> None:
        if gen != self._generation:
            return
        self.pending.discard(name)
        self.failed[name] = message
        row = self._row_of.get(name)
        if row is not None:
            idx = self.index(row)
            self.dataChanged.emit(idx, idx)


class ThumbnailDelegate(QStyledItemDelegate):
    """A tile: thumbnail, a label badge (crack / no crack / weak) and the sample name. Fonts and badges are built
    once (a tile paint is a few blits and one text draw)."""

    BADGES = {"crack": QColor(213, 94, 0), "weak": QColor(204, 121, 167), "no crack": QColor(0, 158, 115)}

    def __init__(self, parent=None):
        super().__init__(parent)
        self._badges: dict[str, QPixmap] = {}
        self._name_font: QFont | None = None
        self._pen_sel = QPen(QColor(0, 114, 178), 2)
        self._pen = QPen(QColor(215, 215, 215), 1)
        self._names: dict[tuple[str, int], str] = {}

    def sizeHint(self, option, index) -> QSize:  # noqa: N802
        return QSize(THUMB + 14, THUMB + 34)

    def _badge(self, text: str, base: QFont) -> QPixmap:
        pix = self._badges.get(text)
        if pix is None:
            f = QFont(base)
            f.setPointSizeF(max(6.5, f.pointSizeF() - 1.5))
            f.setBold(True)
            fm = QFontMetrics(f)
            w, h = fm.horizontalAdvance(text) + 10, fm.height() + 2
            pix = QPixmap(w, h)
            pix.fill(Qt.GlobalColor.transparent)
            p = QPainter(pix)
            p.setRenderHint(QPainter.RenderHint.Antialiasing)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(self.BADGES[text])
            p.drawRoundedRect(QRect(0, 0, w, h), 3, 3)
            p.setFont(f)
            p.setPen(QColor("white"))
            p.drawText(QRect(0, 0, w, h), Qt.AlignmentFlag.AlignCenter, text)
            p.end()
            self._badges[text] = pix
        return pix

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        model = index.model()
        row = index.row()
        rec = model.records[row] if hasattr(model, "records") and row < len(model.records) else None
        if rec is None:
            return
        painter.save()
        r = option.rect.adjusted(3, 3, -3, -3)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        painter.setPen(self._pen_sel if selected else self._pen)
        painter.setBrush(QColor(232, 242, 250) if selected else QColor(255, 255, 255))
        painter.drawRect(r)
        img_rect = QRect(r.x() + (r.width() - THUMB) // 2, r.y() + 4, THUMB, THUMB)
        pix = index.data(Qt.ItemDataRole.DecorationRole)
        if isinstance(pix, QPixmap) and not pix.isNull():
            painter.drawPixmap(img_rect, pix)
        else:
            painter.fillRect(img_rect, QColor(240, 240, 240))
            painter.setPen(QColor(150, 150, 150))
            text = "unreadable" if rec.name in getattr(model, "failed", {}) else "loading…"
            painter.drawText(img_rect, Qt.AlignmentFlag.AlignCenter, text)
        badge = "crack" if rec.label == 1 and rec.has_mask else "weak" if rec.label == 1 else "no crack"
        painter.drawPixmap(img_rect.x() + 4, img_rect.y() + 4, self._badge(badge, option.font))
        if self._name_font is None:
            self._name_font = QFont(option.font)
            self._name_font.setPointSizeF(max(7.0, self._name_font.pointSizeF() - 1))
        painter.setFont(self._name_font)
        painter.setPen(QColor(50, 50, 50))
        name_rect = QRect(r.x() + 4, img_rect.bottom() + 4, r.width() - 8, r.bottom() - img_rect.bottom() - 4)
        key = (rec.name, name_rect.width())
        name = self._names.get(key)
        if name is None:
            name = painter.fontMetrics().elidedText(rec.name, Qt.TextElideMode.ElideMiddle, name_rect.width())
            self._names[key] = name
        painter.drawText(name_rect, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop, name)
        painter.restore()


class CompositionBars(QWidget):
    """One stacked bar per split: segmented positives, weakly labelled positives, negatives (with counts)."""

    COLOURS = (("segmented", QColor(213, 94, 0)), ("weak", QColor(204, 121, 167)), ("negatives", QColor(0, 158, 115)))

    def __init__(self, parent=None):
        super().__init__(parent)
        self.rows: list[tuple[str, dict]] = []
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)

    def set_counts(self, counts: dict) -> None:
        self.rows = [(SPLIT_TITLES.get(sp, sp), c) for sp, c in counts.items()]
        self.setFixedHeight(22 * len(self.rows) + 26)
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        fm = p.fontMetrics()
        label_w = 84
        width = self.width() - label_w - 8
        biggest = max((c["positives"] + c["negatives"] for _, c in self.rows), default=1) or 1
        y = 2
        for title, c in self.rows:
            p.setPen(QColor(60, 60, 60))
            p.drawText(QRect(0, y, label_w - 6, 18), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                       title)
            x = label_w
            for key, colour in self.COLOURS:
                n = c[key]
                if n <= 0:
                    continue
                w = max(2, int(round(width * n / biggest)))
                p.fillRect(QRect(x, y + 2, w, 14), colour)
                if fm.horizontalAdvance(str(n)) + 6 < w:
                    p.setPen(QColor("white"))
                    p.drawText(QRect(x, y + 2, w, 14), Qt.AlignmentFlag.AlignCenter, f"{n:,}")
                x += w
            y += 22
        x = label_w
        for key, colour in self.COLOURS:
            p.fillRect(QRect(x, y + 5, 10, 10), colour)
            p.setPen(QColor(80, 80, 80))
            text = {"segmented": "segmented crack", "weak": "weak crack (no mask)", "negatives": "crack-free"}[key]
            p.drawText(x + 14, y + 14, text)
            x += 14 + fm.horizontalAdvance(text) + 14
        p.end()


LAYOUT_NOTES = {
    "manifest": "<b>manifest</b> layout: <tt>manifest.csv</tt> (name,label[,split]), <tt>images/</tt>, "
                "<tt>masks/&lt;name&gt;.png</tt>.",
    "khanhha": "<b>khanhha</b> layout: <tt>{train,test}/{images,masks}/</tt> (JPEG masks, <tt>noncrack_*</tt> "
               "negatives); val is carved out of train (seeded, stratified).",
    "reference": "<b>reference</b> layout: <tt>{train,val,test}_{positive,negative}/&lt;n&gt;.jpg</tt> with "
                 "<tt>&lt;n&gt;_GT.jpg</tt> masks.",
    "ksdd2": "<b>KSDD2</b> layout: <tt>{train,test}/&lt;id&gt;.png</tt> with <tt>&lt;id&gt;_GT.png</tt>; val is "
             "carved out of train.",
}


# ------------------------------------------------------------------------------------------------ welcome page
class WelcomePage(QWidget):
    """Shown when no dataset is open: open a folder, or create the synthetic demo dataset (no download)."""

    openRequested = Signal()
    demoRequested = Signal()
    recentRequested = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        outer = QVBoxLayout(self)
        outer.addStretch(1)
        card = QFrame()
        card.setObjectName("welcomeCard")
        card.setMaximumWidth(640)
        lay = QVBoxLayout(card)
        lay.setContentsMargins(36, 30, 36, 30)
        lay.setSpacing(12)
        title = QLabel("Welcome to crackviewer")
        title.setObjectName("welcomeTitle")
        lay.addWidget(title)
        text = QLabel(
            "Train SegDecNet crack-segmentation models, watch them learn, inspect every prediction and fix the "
            "masks — in one window.<br><br>Open a dataset folder in any supported layout (manifest, khanhha "
            "crack_segmentation, the reference's <i>train_positive/…</i> folders, or KSDD2), or start with the "
            "built-in synthetic demo dataset: it is generated on this machine in a few seconds and needs no "
            "download.")
        text.setWordWrap(True)
        text.setTextFormat(Qt.TextFormat.RichText)
        lay.addWidget(text)
        row = QHBoxLayout()
        self.demo_button = QPushButton("Create the demo dataset")
        self.demo_button.setObjectName("primaryButton")
        self.demo_button.setToolTip("Runs `crack-train demo --data-only` in the workspace and opens the result")
        self.demo_button.clicked.connect(self.demoRequested)
        self.open_button = QPushButton("Open a dataset folder…")
        self.open_button.clicked.connect(self.openRequested)
        row.addWidget(self.demo_button)
        row.addWidget(self.open_button)
        row.addStretch(1)
        lay.addLayout(row)
        steps = QHBoxLayout()
        steps.setSpacing(14)
        for i, (head, body) in enumerate((("Open data", "the demo, or your own folder"),
                                          ("Train", "watch the curves live; stop and resume"),
                                          ("Inspect & fix", "every sample's Dice; paint better masks")), start=1):
            num = QLabel(str(i))
            num.setObjectName("stepNumber")
            num.setFixedSize(22, 22)
            num.setAlignment(Qt.AlignmentFlag.AlignCenter)
            txt = QLabel(f"<b>{head}</b><br><span style='color:#5b626b'>{body}</span>")
            txt.setWordWrap(True)
            steps.addWidget(num, 0, Qt.AlignmentFlag.AlignTop)
            steps.addWidget(txt, 1)
        lay.addSpacing(8)
        lay.addLayout(steps)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setStyleSheet("color:#555")
        lay.addWidget(self.status)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumHeight(110)
        self.log.setVisible(False)
        lay.addWidget(self.log)
        self.recent_box = QWidget()
        rlay = QVBoxLayout(self.recent_box)
        rlay.setContentsMargins(0, 8, 0, 0)
        rlay.addWidget(QLabel("<b>Recent datasets</b>"))
        self.recent_layout = QVBoxLayout()
        rlay.addLayout(self.recent_layout)
        lay.addWidget(self.recent_box)
        self.recent_box.setVisible(False)
        h = QHBoxLayout()
        h.addStretch(1)
        h.addWidget(card, 3)
        h.addStretch(1)
        outer.addLayout(h)
        outer.addStretch(2)

    def set_recent(self, paths: list[str]) -> None:
        while self.recent_layout.count():
            item = self.recent_layout.takeAt(0)
            if item.widget():
                item.widget().deleteLater()
        shown = 0
        for p in paths:
            if not Path(p).exists():
                continue
            b = QPushButton(p)
            b.setFlat(True)
            b.setObjectName("linkButton")
            b.setCursor(Qt.CursorShape.PointingHandCursor)
            b.clicked.connect(lambda _=False, p=p: self.recentRequested.emit(p))
            self.recent_layout.addWidget(b)
            shown += 1
        self.recent_box.setVisible(shown > 0)

    def set_busy(self, busy: bool, message: str = "") -> None:
        self.demo_button.setEnabled(not busy)
        self.open_button.setEnabled(not busy)
        self.status.setText(message)
        if busy:
            self.log.clear()
            self.log.setVisible(True)


# ------------------------------------------------------------------------------------------------ the view
def _item(text: Any, bold: bool = False, align=Qt.AlignmentFlag.AlignRight) -> QTableWidgetItem:
    it = QTableWidgetItem(str(text))
    it.setTextAlignment(align | Qt.AlignmentFlag.AlignVCenter)
    it.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
    if bold:
        f = it.font()
        f.setBold(True)
        it.setFont(f)
    return it


class DatasetView(QWidget):
    """The Dataset tab. open_dataset(path) loads in the background and emits datasetOpened(path, index)."""

    datasetOpened = Signal(str, object)
    datasetFailed = Signal(str, str)
    checkFinished = Signal(list)          # [(file, reason)] found by the full file check
    sampleActivated = Signal(str)         # double-click on a tile: sample name
    demoCreated = Signal(str)             # path of the demo dataset, once written
    openDialogRequested = Signal()

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
        self.layout_note.setStyleSheet("color:#4a4f57;")
        self.layout_note.setTextFormat(Qt.TextFormat.RichText)
        lv.addWidget(self.layout_note)
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
        self.shown_label.setStyleSheet("color:#666")
        rv.addWidget(self.shown_label)
        split.addWidget(right)
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
        self.tasks.run(lambda: _open_index(path), lambda index: self._opened(path, index, gen),
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
        self.tasks.run(lambda: _open_index(path), lambda index: self._recounted(index, gen))

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

    def start_check(self) -> None:
        """Decode every image and mask in the background and list the bad ones with their reasons."""
        if self.index is None:
            return
        records = list(self.index.samples)
        gen = self._generation
        self.checking = True
        self.check_label.setText(f"Checking all {len(records):,} images and masks…")
        t0 = time.monotonic()

        def work():
            from trainer.data import validate_records

            warns: list[str] = []
            _, bad = validate_records(records, skip_bad=True, warnings=warns)
            return bad, warns

        self.tasks.run(work, lambda r: self._checked(r, gen, time.monotonic() - t0),
                       lambda msg: self._check_failed(msg, gen))

    def _checked(self, result, gen: int, seconds: float) -> None:
        if gen != self._generation:
            return
        self.checking = False
        self.file_bad, self.check_warnings = result
        self.check_label.setText(f"All {len(self.index.samples):,} images and masks decoded in {seconds:.1f} s: "
                                 + (f"<b style='color:#b00020'>{len(self.file_bad)} bad</b>." if self.file_bad
                                    else "no problems."))
        self._fill_problems()
        self.checkFinished.emit(list(self.file_bad))

    def _check_failed(self, message: str, gen: int) -> None:
        if gen != self._generation:
            return
        self.checking = False
        self.check_label.setText(f"File check failed: {message}")

    # -- filling -----------------------------------------------------------------------------------------
    def _fill_counts(self) -> None:
        counts = self.index.counts()
        rows = list(counts.items())
        t = self.counts_table
        t.setRowCount(len(rows) + 1)
        tot = {"positives": 0, "negatives": 0, "segmented": 0, "weak": 0}
        for i, (sp, c) in enumerate(rows):
            t.setItem(i, 0, _item(SPLIT_TITLES.get(sp, sp), align=Qt.AlignmentFlag.AlignLeft))
            t.setItem(i, 1, _item(f"{c['positives']:,}"))
            t.setItem(i, 2, _item(f"{c['negatives']:,}"))
            t.setItem(i, 3, _item(f"{c['positives'] + c['negatives']:,}"))
            t.setItem(i, 4, _item(f"{c['segmented']:,}"))
            t.setItem(i, 5, _item(f"{c['weak']:,}"))
            for k in tot:
                tot[k] += c[k]
        r = len(rows)
        t.setItem(r, 0, _item("Sum", True, Qt.AlignmentFlag.AlignLeft))
        t.setItem(r, 1, _item(f"{tot['positives']:,}", True))
        t.setItem(r, 2, _item(f"{tot['negatives']:,}", True))
        t.setItem(r, 3, _item(f"{tot['positives'] + tot['negatives']:,}", True))
        t.setItem(r, 4, _item(f"{tot['segmented']:,}", True))
        t.setItem(r, 5, _item(f"{tot['weak']:,}", True))
        t.resizeRowsToContents()
        h = t.horizontalHeader().height() + sum(t.rowHeight(i) for i in range(t.rowCount())) + 2 * t.frameWidth()
        t.setFixedHeight(h + 2)
        pos = tot["positives"]
        if pos:
            pct = 100.0 * tot["segmented"] / pos
            self.supervision.setText(
                f"<b>Supervision.</b> {tot['segmented']:,} of {pos:,} positives are <b>segmented</b> "
                f"({pct:.0f} %): they have a pixel mask and get the segmentation loss. "
                f"{tot['weak']:,} are <b>weakly labelled</b> (image label only, classification loss only)."
                + ("" if tot["weak"] else " This is fully supervised training, as in the published run."))
        else:
            self.supervision.setText("<b>Supervision.</b> No crack images in this dataset.")
        self.counts = counts
        self.totals = tot
        self.composition.set_counts(counts)
        note = LAYOUT_NOTES.get(self.index.layout, f"<b>{self.index.layout}</b> layout.")
        if self.index.bad:
            note += f" {len(self.index.bad)} sample(s) were skipped when indexing (see Problems)."
        self.layout_note.setText(note + " Masks drawn in Annotate are written in this layout.")

    def _fill_problems(self) -> None:
        bad = list(self.index.bad) + [b for b in self.file_bad if b not in self.index.bad]
        t = self.bad_table
        t.setRowCount(len(bad))
        for i, (f, reason) in enumerate(bad):
            name = Path(f).name
            it = _item(name, align=Qt.AlignmentFlag.AlignLeft)
            it.setToolTip(str(f))
            t.setItem(i, 0, it)
            it2 = _item(reason, align=Qt.AlignmentFlag.AlignLeft)
            it2.setToolTip(reason)
            t.setItem(i, 1, it2)
        t.resizeRowsToContents()
        t.setVisible(bool(bad))
        self._left_layout.setStretch(self._left_layout.count() - 1, 0 if bad else 1)
        self.problems_title.setText(f"Problems ({len(bad)} bad sample{'s' if len(bad) != 1 else ''})" if bad
                                    else "Problems")
        warns = list(self.index.warnings) + [w for w in self.check_warnings if w not in self.index.warnings]
        if warns:
            self.warnings_label.setText("<b>Warnings</b><br>" + "<br>".join(f"• {w}" for w in warns[:12])
                                        + (f"<br>… and {len(warns) - 12} more" if len(warns) > 12 else ""))
        self.warnings_label.setVisible(bool(warns))

    def bad_samples(self) -> list[tuple[str, str]]:
        return list(self.index.bad) + [b for b in self.file_bad if b not in self.index.bad] if self.index else []

    def _apply_filter(self) -> None:
        if self.index is None:
            return
        split = self.split_combo.currentData()
        kind = self.kind_combo.currentData()
        text = self.search.text().strip().lower()
        out = []
        for s in self.index.samples:
            if split is not None and s.split != split:
                continue
            if kind == "pos" and s.label != 1:
                continue
            if kind == "neg" and s.label != 0:
                continue
            if kind == "seg" and not (s.label == 1 and s.has_mask):
                continue
            if kind == "weak" and not (s.label == 1 and not s.has_mask):
                continue
            if text and text not in s.name.lower():
                continue
            out.append(s)
        self.model.set_records(out)
        self.shown_label.setText(f"{len(out):,} of {len(self.index.samples):,} samples shown · orange tint = "
                                 "ground-truth crack mask · double-click a tile to open it in Annotate")

    # -- demo --------------------------------------------------------------------------------------------
    def create_demo(self) -> None:
        """`python -m trainer demo --out WORKSPACE/demo --data-only` in a QProcess, then open WORKSPACE/demo/dataset."""
        if self.workspace is None:
            self.welcome.status.setText("No workspace folder is set.")
            return
        if self.demo_process is not None and self.demo_process.is_running():
            return
        out = self.workspace / "demo"
        data = out / "dataset"
        if (data / "manifest.csv").is_file():
            self.welcome.status.setText(f"Opening the demo dataset in {data} …")
            self.open_dataset(data)
            self.demoCreated.emit(str(data))
            return
        out.mkdir(parents=True, exist_ok=True)
        self.welcome.set_busy(True, f"Generating the synthetic demo dataset in {data} …")
        proc = TrainerCommand(["demo", "--out", str(out), "--data-only"], self)
        proc.output.connect(lambda lines: self.welcome.log.appendPlainText("\n".join(lines)))
        proc.done.connect(lambda code, lines: self._demo_done(code, lines, data))
        self.demo_process = proc
        proc.start()

    def _demo_done(self, code: int, lines: list[str], data: Path) -> None:
        self.welcome.set_busy(False, "")
        self.welcome.log.setVisible(code != 0)
        if code != 0 or not (data / "manifest.csv").is_file():
            tail = "<br>".join(lines[-6:])
            self.welcome.status.setText(f"<span style='color:#b00020'>The demo dataset could not be created "
                                        f"(exit code {code}).</span><br><tt>{tail}</tt>")
            return
        self.open_dataset(data)
        self.demoCreated.emit(str(data))

    def pick_folder(self, start: str | None = None) -> str | None:
        path = QFileDialog.getExistingDirectory(self, "Open a dataset folder", start or str(Path.home()))
        return path or None
