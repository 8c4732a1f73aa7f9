"""Virtualised thumbnail gallery of an evaluated split, bound to a :class:`ThresholdModel`.

* :class:`ThumbnailLoader` reads thumbnails in background threads (most recently requested first, so the tiles on
  screen load before the ones scrolled past) into an LRU cache, and reports each with ``loaded(index)``.
* :class:`GalleryModel` (a ``QAbstractListModel``) maps gallery rows to sample indices in ``model.order``.
* :class:`TileDelegate` paints a tile: the thumbnail with the pixel error map of the current threshold, Dice and the
  image-level outcome (TP/FP/FN/TN). Only visible tiles are painted (``QListView`` in icon mode, uniform sizes), so
  thousands of samples scroll smoothly.
* :class:`Gallery` puts the list together with the sort and filter controls.
"""
from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np
from PySide6.QtCore import (QAbstractListModel, QItemSelectionModel, QModelIndex, QObject, QRect, QRectF, QSize, Qt,
                            Signal)
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QLineEdit,
                               QListView, QSizePolicy, QStyle, QStyledItemDelegate, QToolButton, QVBoxLayout, QWidget)

from figures import colors
from crackviewer.inspect.threshold_model import OUTCOMES, ThresholdModel
from crackviewer.inspect.sample_store import SampleStore, Thumbnail
from crackviewer.qt.tasks import TaskRunner
from trainer.metrics import pixels as metrics_pixels

OUTCOME_COLORS = {"TP": colors.TP, "FP": colors.FP, "FN": colors.FN, "TN": (110, 118, 125)}
OUTCOME_TIPS = {"TP": "crack image classified crack", "FP": "crack-free image classified crack",
                "FN": "crack image classified crack-free (missed)", "TN": "crack-free image classified crack-free"}
SORT_LABELS = (("dice", "Dice"), ("iou", "IoU"), ("score", "Score"), ("name", "Name"))

LIST_BG = QColor(244, 245, 247)
TILE_BG = QColor(255, 255, 255)
TILE_BG_SELECTED = QColor(226, 239, 249)
THUMB = 112          # thumbnail size (longest side, px)
TILE_W = 126
TILE_H = THUMB + 44


# ---------------------------------------------------------------------------------------------------------------


class ThumbnailLoader(QObject):
    """Loads :class:`Thumbnail` s on a TaskRunner (newest request first); LRU cache."""

    loaded = Signal(int)

    def __init__(self, store: SampleStore | None = None, size: int = THUMB, workers: int = 2, cache: int = 1200,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.size = size
        self._store = store
        self._cache: OrderedDict[int, Thumbnail] = OrderedDict()
        self._cache_max = cache
        self._queued: set[int] = set()
        self._gen = 0
        self._lock = threading.Lock()
        self._stopped = False
        self.tasks = TaskRunner(self, threads=workers, newest_first=True)

    def set_store(self, store: SampleStore | None) -> None:
        with self._lock:
            self._store = store
            self._gen += 1
            self._cache.clear()
            self._queued.clear()

    def get(self, i: int) -> Thumbnail | None:
        """The cached thumbnail, or None (then call :meth:`request`)."""
        with self._lock:
            t = self._cache.get(i)
            if t is not None:
                self._cache.move_to_end(i)
            return t

    def has(self, i: int) -> bool:
        with self._lock:
            return i in self._cache

    def request(self, i: int) -> None:
        with self._lock:
            if self._store is None or self._stopped or i in self._cache or i in self._queued:
                return
            self._queued.add(i)
            store, gen = self._store, self._gen
        self.tasks.run(lambda: self._load(store, gen, i), self._emit_loaded)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until nothing is queued or loading (tests, screenshots)."""
        return self.tasks.wait(timeout)

    def shutdown(self) -> None:
        self._stopped = True

    def _load(self, store: SampleStore, gen: int, i: int) -> int | None:
        if gen != self._gen or self._stopped:       # a tile of an older evaluation: not worth reading any more
            return None
        try:
            thumb = store.thumbnail(i, self.size)
        except Exception:  # noqa: BLE001 - a broken file gives an empty tile, not a dead thread
            thumb = None
        with self._lock:
            if gen != self._gen:
                return None
            self._queued.discard(i)
            self._cache[i] = thumb if thumb is not None else Thumbnail(i, np.zeros((8, 8, 3), np.uint8), None, None)
            while len(self._cache) > self._cache_max:
                self._cache.popitem(last=False)
        return i

    def _emit_loaded(self, i: int | None) -> None:
        if i is not None and not self._stopped:
            self.loaded.emit(i)


# ---------------------------------------------------------------------------------------------------------------


class GalleryModel(QAbstractListModel):
    """Rows = ``model.order`` (filtered, sorted sample indices)."""

    SampleRole = Qt.UserRole + 1

    def __init__(self, model: ThresholdModel, parent: QObject | None = None):
        super().__init__(parent)
        self.model = model
        self._order = model.order.copy()
        model.events.view.connect(self._on_view)
        model.events.thresholds.connect(self._on_thresholds)
        model.events.evaluation.connect(self._on_reset)

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else self._n

    @property
    def _order(self) -> np.ndarray:
        return self.__order

    @_order.setter
    def _order(self, order: np.ndarray) -> None:
        self.__order = order
        self._n = int(order.size)

    def sample_at(self, row: int) -> int:
        return int(self._order[row])

    def row_of(self, sample: int) -> int | None:
        hits = np.flatnonzero(self._order == sample)
        return int(hits[0]) if hits.size else None

    def data(self, index: QModelIndex, role: int = Qt.DisplayRole):
        if not index.isValid() or index.row() >= self._order.size:
            return None
        i = int(self._order[index.row()])
        m = self.model
        if role == self.SampleRole:
            return i
        if role == Qt.DisplayRole:
            return m.names[i]
        if role == Qt.ToolTipRole:
            info = m.sample_info(i)
            dice = "—" if info["dice"] is None else f"{info['dice']:.3f}"
            iou = "—" if info["iou"] is None else f"{info['iou']:.3f}"
            return (f"<b>{info['name']}</b><br>label {'crack' if info['label'] else 'crack-free'}, "
                    f"score {info['score']:.3f} → {info['outcome']}<br>Dice {dice}, IoU {iou}<br>"
                    f"GT {info['gt_pixels']} px, predicted {info['pred_pixels']} px")
        return None

    def _on_reset(self, **_):
        self.beginResetModel()
        self._order = self.model.order.copy()
        self.endResetModel()

    # Whole-range content changes (every tile's Dice after a threshold step, a re-sort with the same rows) are
    # announced with these instead of dataChanged: on a wrapping QListView, dataChanged over all rows schedules a
    # relayout of every row (O(n) Python calls per slider step); the rows keep their size, so a repaint suffices.
    contentChanged = Signal()
    reordered = Signal()     # same rows, new order (the view must move its current index to the same sample)

    def _on_view(self, **_):
        """New order or filter. Same number of rows (a re-sort as the threshold moves): the rows just show other
        samples (``dataChanged``; no relayout of thousands of tiles) and ``reordered`` tells the view to move its
        selection. Otherwise a layout change that keeps the selection on the same sample."""
        new = self.model.order
        if np.array_equal(new, self._order):
            return
        if new.size == self._order.size and new.size:
            self._order = new.copy()
            self.contentChanged.emit()
            self.reordered.emit()
            return
        self.layoutAboutToBeChanged.emit()
        old_order = self._order
        self._order = new.copy()
        pos = np.full(self.model.n, -1, np.int64)
        pos[self._order] = np.arange(self._order.size)
        persistent = self.persistentIndexList()
        if persistent:
            moved = []
            for idx in persistent:
                r = idx.row()
                row = int(pos[old_order[r]]) if 0 <= r < old_order.size else -1
                moved.append(self.index(row) if row >= 0 else QModelIndex())
            self.changePersistentIndexList(persistent, moved)
        self.layoutChanged.emit()

    def _on_thresholds(self, **_):
        if self._order.size and np.array_equal(self._order, self.model.order):
            self.contentChanged.emit()


# ---------------------------------------------------------------------------------------------------------------


class _TileImages:
    """Per-tile cache: the thumbnail as a QImage, its pixel codes, and the error overlay of the last threshold."""

    __slots__ = ("thumb", "base", "codes", "overlay", "overlay_img", "key")

    def __init__(self, thumb: Thumbnail):
        self.thumb = thumb
        img = np.ascontiguousarray(thumb.image)
        h, w = img.shape[:2]
        bgra = np.empty((h, w, 4), np.uint8)
        bgra[..., :3] = img[..., ::-1]
        bgra[..., 3] = 255
        self.base = QImage(bgra.data, w, h, 4 * w, QImage.Format_RGB32).copy()      # opaque: drawn as a copy
        self.codes = None
        if thumb.prob8 is not None:
            c = thumb.prob8.astype(np.uint16)
            if thumb.gt is not None:
                c |= thumb.gt.astype(np.uint16) << 8
            self.codes = c
        self.overlay = np.zeros((h, w), np.uint32)
        self.overlay_img = QImage(self.overlay.data, w, h, 4 * w, QImage.Format_ARGB32_Premultiplied)
        self.key = None


class TileDelegate(QStyledItemDelegate):
    """Paints one tile: the thumbnail with the pixel error map of the current threshold, Dice and the outcome badge.

    Everything that does not change with the threshold (tile frames, badges, the thumbnail itself) is drawn once
    into cached images; a threshold step only re-runs a 512-entry colour table over each visible thumbnail."""

    ALPHA = 217          # error colours at 85 % over the thumbnail

    def __init__(self, model: ThresholdModel, loader: ThumbnailLoader, parent: QObject | None = None):
        super().__init__(parent)
        self.model = model
        self.loader = loader
        self.overlay = "errors"          # "errors" | "none"
        self.paint_count = 0             # tiles painted so far (benchmarks)
        self._tiles: OrderedDict[int, _TileImages] = OrderedDict()
        v = np.arange(256, dtype=np.float64) / 255.0
        self._bin_lut = np.minimum((v * metrics_pixels.B).astype(np.int64), metrics_pixels.B - 1)
        self._lut_key = None
        self._lut = np.zeros(512, np.uint32)
        self._font = QFont()
        self._font.setPointSizeF(8.5)
        self._bold = QFont(self._font)
        self._bold.setBold(True)
        self._badge_font = QFont(self._font)
        self._badge_font.setPointSizeF(7.5)
        self._badge_font.setBold(True)
        self._fm = QFontMetrics(self._font)
        self._names: dict[int, str] = {}
        # opaque pictures (corners painted in the list's background) are copied, not blended: cheaper per tile
        self._frames = {state: self._frame(state) for state in ("normal", "hover", "selected")}
        self._badges = {(o, sel): self._badge(o, sel) for o in OUTCOMES for sel in (False, True)}
        self._gated_tag = self._tag("gated")
        a = self.ALPHA

        def u32(c):
            return (a << 24) | ((c[0] * a // 255) << 16) | ((c[1] * a // 255) << 8) | (c[2] * a // 255)

        self._tp, self._fp, self._fn = u32(colors.TP), u32(colors.FP), u32(colors.FN)

    # -- cached pictures
    @staticmethod
    def _frame(state: str) -> QPixmap:
        pix = QPixmap(TILE_W - 4, TILE_H - 4)
        pix.fill(LIST_BG)
        p = QPainter(pix)
        p.setRenderHint(QPainter.Antialiasing, True)
        path = QPainterPath()
        path.addRoundedRect(QRectF(0.5, 0.5, pix.width() - 1, pix.height() - 1), 5, 5)
        p.fillPath(path, TILE_BG_SELECTED if state == "selected" else TILE_BG)
        pen = {"selected": QPen(QColor(0, 114, 178), 2), "hover": QPen(QColor(150, 170, 190), 1),
               "normal": QPen(QColor(221, 225, 230), 1)}[state]
        p.setPen(pen)
        p.drawPath(path)
        p.end()
        return pix

    def _badge(self, outcome: str, selected: bool) -> QPixmap:
        pix = QPixmap(26, 15)
        pix.fill(TILE_BG_SELECTED if selected else TILE_BG)
        p = QPainter(pix)
        p.setRenderHint(QPainter.Antialiasing, True)
        path = QPainterPath()
        path.addRoundedRect(QRectF(0, 0, 26, 15), 3, 3)
        p.fillPath(path, QColor(*OUTCOME_COLORS[outcome]))
        p.setFont(self._badge_font)
        p.setPen(QColor(255, 255, 255))
        p.drawText(QRect(0, 0, 26, 15), Qt.AlignCenter, outcome)
        p.end()
        return pix

    def _tag(self, text: str) -> QPixmap:
        pix = QPixmap(37, 14)
        pix.fill(QColor(0, 0, 0, 150))
        p = QPainter(pix)
        p.setFont(self._badge_font)
        p.setPen(QColor(255, 255, 255))
        p.drawText(QRect(0, 0, 37, 14), Qt.AlignCenter, text)
        p.end()
        return pix

    def clear_cache(self) -> None:
        self._tiles.clear()
        self._names.clear()

    def sizeHint(self, option, index) -> QSize:
        return QSize(TILE_W, TILE_H)

    # -- per threshold
    def _table(self, blank: bool) -> np.ndarray:
        key = (self.model.seg_bin, blank)
        if key != self._lut_key:
            pred = np.zeros(256, bool) if blank else (self._bin_lut >= self.model.seg_bin)
            lut = np.zeros(512, np.uint32)
            lut[:256][pred] = self._fp
            lut[256:][pred] = self._tp
            lut[256:][~pred] = self._fn
            self._lut, self._lut_key = lut, key
        return self._lut

    def _tile(self, i: int, thumb: Thumbnail) -> _TileImages:
        t = self._tiles.get(i)
        if t is None or t.thumb is not thumb:
            t = _TileImages(thumb)
            self._tiles[i] = t
            while len(self._tiles) > 800:
                self._tiles.popitem(last=False)
        else:
            self._tiles.move_to_end(i)
        if self.overlay == "errors" and t.codes is not None:
            blank = self.model.mask_blanked(i)
            key = (self.model.seg_bin, blank)
            if t.key != key:
                np.take(self._table(blank), t.codes, out=t.overlay)
                t.key = key
        return t

    def paint(self, painter: QPainter, option, index: QModelIndex) -> None:
        i = index.data(GalleryModel.SampleRole)
        if i is None:
            return
        self.paint_count += 1
        m = self.model
        r = option.rect.adjusted(2, 2, -2, -2)
        # the selected tile is the model's current sample (the view's selection model only tracks the current row)
        state = ("selected" if i == m.current else "hover" if option.state & QStyle.State_MouseOver else "normal")
        painter.drawPixmap(r.topLeft(), self._frames[state])
        tr = QRect(r.left() + (r.width() - THUMB) // 2, r.top() + 4, THUMB, THUMB)
        thumb = self.loader.get(i)
        if thumb is None:
            self.loader.request(i)
            painter.fillRect(tr, QColor(236, 238, 241))
            painter.setPen(QColor(140, 146, 152))
            painter.setFont(self._font)
            painter.drawText(tr, Qt.AlignCenter, "loading…")
        else:
            t = self._tile(i, thumb)
            pw, ph = t.base.width(), t.base.height()
            s = min(THUMB / max(pw, 1), THUMB / max(ph, 1))
            dw, dh = int(pw * s), int(ph * s)
            target = QRect(tr.left() + (THUMB - dw) // 2, tr.top() + (THUMB - dh) // 2, dw, dh)
            smooth = (dw, dh) != (pw, ph)
            if smooth:
                painter.setRenderHint(QPainter.SmoothPixmapTransform, True)
            painter.drawImage(target, t.base)
            if self.overlay == "errors" and t.codes is not None:
                painter.drawImage(target, t.overlay_img)
            if smooth:
                painter.setRenderHint(QPainter.SmoothPixmapTransform, False)
        # Dice + badge
        outcome = OUTCOMES[int(m.outcome[i])]
        y = tr.bottom() + 4
        painter.drawPixmap(r.right() - 30, y + 2, self._badges[(outcome, state == "selected")])
        d = m.dice[i]
        painter.setFont(self._bold)
        painter.setPen(QColor(29, 33, 39))
        painter.drawText(QRect(r.left() + 5, y, r.width() - 36, 19), Qt.AlignLeft | Qt.AlignVCenter,
                         "Dice —" if np.isnan(d) else f"Dice {d:.3f}")
        name = self._names.get(i)
        if name is None:
            name = self._names[i] = self._fm.elidedText(m.names[i], Qt.ElideMiddle, r.width() - 10)
        painter.setFont(self._font)
        painter.setPen(QColor(107, 114, 123))
        painter.drawText(QRect(r.left() + 5, y + 18, r.width() - 10, 16), Qt.AlignLeft | Qt.AlignVCenter, name)
        if m.mask_blanked(i):
            painter.drawPixmap(tr.right() - 40, tr.top() + 3, self._gated_tag)


# ---------------------------------------------------------------------------------------------------------------


class GalleryView(QListView):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        # list mode + wrapping lays tiles out as a grid with the cheap uniform-size flow layout (icon mode keeps a
        # spatial index of every item and relayouts all of them on each re-sort)
        self.setViewMode(QListView.ListMode)
        self.setUniformItemSizes(True)
        self.setMovement(QListView.Static)
        self.setResizeMode(QListView.Adjust)
        self.setWrapping(True)
        self.setFlow(QListView.LeftToRight)
        self.setSpacing(2)
        # no selection model selection: the current index is the selected sample, and moving it costs nothing when
        # a re-sort moves the sample to another row (a ClearAndSelect walks every row of the model)
        self.setSelectionMode(QAbstractItemView.NoSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollPerPixel)
        self.verticalScrollBar().setSingleStep(24)
        self.setMouseTracking(True)
        self.setLayoutMode(QListView.SinglePass)
        self.setStyleSheet("QListView { background: #f4f5f7; border: 1px solid #dde1e6; border-radius: 4px; }")


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
            c = OUTCOME_COLORS[o]
            b.setStyleSheet(
                "QToolButton { padding: 1px 6px; border: 1px solid #555; border-radius: 3px; color: #888; }"
                f"QToolButton:checked {{ background: rgb({c[0]},{c[1]},{c[2]}); color: white; border-color: "
                f"rgb({c[0]},{c[1]},{c[2]}); font-weight: 600; }}")
            b.toggled.connect(self._on_outcomes)
            self.outcome_buttons[o] = b
        self.label_combo = QComboBox()
        self.label_combo.addItem("all labels", "all")
        self.label_combo.addItem("positives", "positive")
        self.label_combo.addItem("negatives", "negative")
        self.label_combo.setToolTip("Show crack images (positives), crack-free images (negatives) or both")
        self.dice_lo = QDoubleSpinBox()
        self.dice_hi = QDoubleSpinBox()
        for sb, v in ((self.dice_lo, 0.0), (self.dice_hi, 1.0)):
            sb.setRange(0.0, 1.0)
            sb.setDecimals(2)
            sb.setSingleStep(0.05)
            sb.setValue(v)
            sb.setFixedWidth(62)
            sb.setToolTip("Show samples whose Dice lies in this range (samples without a mask drop out when "
                          "the range is narrowed)")
        self.errors_check = QCheckBox("error map")
        self.errors_check.setChecked(True)
        self.errors_check.setToolTip("Colour the tiles with the pixel TP/FP/FN map of the current threshold")
        self.count_label = QLabel()
        self.count_label.setStyleSheet("color: #9aa0a6;")

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
        row3.addWidget(QLabel("Dice"))
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

    def _sync_controls(self, **_):
        m = self.model
        self._syncing = True
        try:
            self.sort_combo.setCurrentIndex([k for k, _ in SORT_LABELS].index(m.sort_key))
            self.order_button.setChecked(not m.ascending)
            self.order_button.setText("↓" if not m.ascending else "↑")
            for o, b in self.outcome_buttons.items():
                b.setChecked(o in m.outcome_filter)
            self.label_combo.setCurrentIndex(["all", "positive", "negative"].index(m.label_filter))
            self.dice_lo.setValue(m.dice_range[0])
            self.dice_hi.setValue(m.dice_range[1])
            if self.search.text().strip().lower() != m.text_filter:
                self.search.setText(m.text_filter)
        finally:
            self._syncing = False
        text = f"{m.visible_count} of {m.n} samples shown" if m.n else "no evaluation loaded"
        if text != self.count_label.text():
            self.count_label.setText(text)

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
            self.model.set_dice_range(self.dice_lo.value(), self.dice_hi.value())

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
