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
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel,
                               QLineEdit, QListView, QSizePolicy, QStyle, QStyledItemDelegate, QToolButton,
                               QVBoxLayout, QWidget)

from crackviewer import colors
from crackviewer.threshold_model import OUTCOMES, SampleStore, ThresholdModel, Thumbnail

OUTCOME_COLORS = {"TP": colors.TP, "FP": colors.FP, "FN": colors.FN, "TN": (110, 118, 125)}
OUTCOME_TIPS = {"TP": "crack image classified crack", "FP": "crack-free image classified crack",
                "FN": "crack image classified crack-free (missed)", "TN": "crack-free image classified crack-free"}
SORT_LABELS = (("dice", "Dice"), ("iou", "IoU"), ("score", "Score"), ("name", "Name"))

THUMB = 112          # thumbnail size (longest side, px)
TILE_W = 128
TILE_H = THUMB + 44


# ---------------------------------------------------------------------------------------------------------------


class ThumbnailLoader(QObject):
    """Loads :class:`Thumbnail` s in worker threads; LIFO queue, LRU cache."""

    loaded = Signal(int)

    def __init__(self, store: SampleStore | None = None, size: int = THUMB, workers: int = 2, cache: int = 1200,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.size = size
        self._store = store
        self._cache: OrderedDict[int, Thumbnail | None] = OrderedDict()
        self._cache_max = cache
        self._pending: list[int] = []
        self._queued: set[int] = set()
        self._gen = 0
        self._cv = threading.Condition()
        self._stop = False
        self._threads = [threading.Thread(target=self._work, name=f"thumbs-{k}", daemon=True) for k in range(workers)]
        for t in self._threads:
            t.start()

    def set_store(self, store: SampleStore | None) -> None:
        with self._cv:
            self._store = store
            self._gen += 1
            self._cache.clear()
            self._pending.clear()
            self._queued.clear()

    def get(self, i: int) -> Thumbnail | None:
        """The cached thumbnail, or None (then call :meth:`request`)."""
        with self._cv:
            t = self._cache.get(i)
            if t is not None:
                self._cache.move_to_end(i)
            return t

    def has(self, i: int) -> bool:
        with self._cv:
            return i in self._cache

    def request(self, i: int) -> None:
        with self._cv:
            if self._store is None or i in self._cache:
                return
            if i in self._queued:
                try:
                    self._pending.remove(i)       # move to the top of the stack
                except ValueError:
                    return                        # being loaded right now
            self._pending.append(i)
            self._queued.add(i)
            self._cv.notify()

    def pending(self) -> int:
        with self._cv:
            return len(self._pending)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until the queue is empty and nothing is loading (tests, screenshots)."""
        import time

        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self._cv:
                if not self._pending and not self._queued:
                    return True
            time.sleep(0.005)
        return False

    def shutdown(self) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify_all()

    def _work(self) -> None:
        while True:
            with self._cv:
                while not self._pending and not self._stop:
                    self._cv.wait()
                if self._stop:
                    return
                i = self._pending.pop()
                store, gen = self._store, self._gen
            try:
                thumb = store.thumbnail(i, self.size) if store is not None else None
            except Exception:  # noqa: BLE001 - a broken file gives an empty tile, not a dead thread
                thumb = None
            with self._cv:
                if gen != self._gen:
                    continue
                self._queued.discard(i)
                self._cache[i] = thumb if thumb is not None else Thumbnail(i, np.zeros((8, 8, 3), np.uint8),
                                                                           None, None)
                while len(self._cache) > self._cache_max:
                    self._cache.popitem(last=False)
            try:
                self.loaded.emit(i)
            except RuntimeError:      # the QObject was deleted while we worked
                return


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
        model.events.evaluation.connect(self._on_view)

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else int(self._order.size)

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

    def _on_view(self, **_):
        self.beginResetModel()
        self._order = self.model.order.copy()
        self.endResetModel()

    def _on_thresholds(self, **_):
        if self._order.size and np.array_equal(self._order, self.model.order):
            self.dataChanged.emit(self.index(0), self.index(int(self._order.size) - 1), [Qt.DisplayRole])


# ---------------------------------------------------------------------------------------------------------------


class TileDelegate(QStyledItemDelegate):
    """Paints one tile: error-coloured thumbnail, Dice and outcome badge."""

    def __init__(self, model: ThresholdModel, loader: ThumbnailLoader, parent: QObject | None = None):
        super().__init__(parent)
        self.model = model
        self.loader = loader
        self.overlay = "errors"          # "errors" | "none"
        self._pix: OrderedDict[int, tuple[tuple, QPixmap]] = OrderedDict()
        self._bin_lut = None
        self._font = QFont()
        self._font.setPointSizeF(8.5)
        self._bold = QFont(self._font)
        self._bold.setBold(True)
        self._badge_font = QFont(self._font)
        self._badge_font.setPointSizeF(7.5)
        self._badge_font.setBold(True)
        err = np.zeros((4, 3), np.float32)
        err[1] = colors.FN
        err[2] = colors.FP
        err[3] = colors.TP
        self._err_rgb = err

    def clear_cache(self) -> None:
        self._pix.clear()

    def sizeHint(self, option, index) -> QSize:
        return QSize(TILE_W, TILE_H)

    def _composite(self, i: int, thumb: Thumbnail) -> QPixmap:
        from trainer import metrics as M

        m = self.model
        blank = m.mask_blanked(i)
        key = (m.seg_bin, blank, self.overlay, id(thumb))
        hit = self._pix.get(i)
        if hit is not None and hit[0] == key:
            self._pix.move_to_end(i)
            return hit[1]
        img = thumb.image
        if self.overlay == "errors" and thumb.prob8 is not None:
            if self._bin_lut is None:
                v = np.arange(256, dtype=np.float64) / 255.0
                self._bin_lut = np.minimum((v * M.B).astype(np.int64), M.B - 1)
            pred = (self._bin_lut >= m.seg_bin)[thumb.prob8] if not blank else np.zeros(thumb.prob8.shape, bool)
            gt = thumb.gt if thumb.gt is not None else np.zeros_like(pred)
            code = pred.astype(np.uint8) * 2 + gt.astype(np.uint8)
            on = code > 0
            if on.any():
                img = img.copy()
                a = 0.85
                img[on] = (img[on].astype(np.float32) * (1 - a) + self._err_rgb[code[on]] * a).astype(np.uint8)
        h, w = img.shape[:2]
        qimg = QImage(np.ascontiguousarray(img).data, w, h, 3 * w, QImage.Format_RGB888).copy()
        pix = QPixmap.fromImage(qimg)
        self._pix[i] = (key, pix)
        while len(self._pix) > 600:
            self._pix.popitem(last=False)
        return pix

    def paint(self, painter: QPainter, option, index: QModelIndex) -> None:
        i = index.data(GalleryModel.SampleRole)
        if i is None:
            return
        m = self.model
        r = option.rect.adjusted(2, 2, -2, -2)
        selected = bool(option.state & QStyle.State_Selected)
        hover = bool(option.state & QStyle.State_MouseOver)
        painter.save()
        painter.setRenderHint(QPainter.Antialiasing, True)
        bg = QColor(255, 255, 255) if not selected else QColor(226, 239, 249)
        path = QPainterPath()
        path.addRoundedRect(QRectF(r).adjusted(0.5, 0.5, -0.5, -0.5), 5, 5)
        painter.fillPath(path, bg)
        if selected:
            pen = QPen(QColor(0, 114, 178), 2)
        elif hover:
            pen = QPen(QColor(150, 170, 190), 1)
        else:
            pen = QPen(QColor(221, 225, 230), 1)
        painter.setPen(pen)
        painter.drawPath(path)
        # thumbnail
        tr = QRect(r.left() + (r.width() - THUMB) // 2, r.top() + 4, THUMB, THUMB)
        thumb = self.loader.get(i)
        if thumb is None:
            self.loader.request(i)
            painter.fillRect(tr, QColor(236, 238, 241))
            painter.setPen(QColor(140, 146, 152))
            painter.setFont(self._font)
            painter.drawText(tr, Qt.AlignCenter, "loading…")
        else:
            pix = self._composite(i, thumb)
            pw, ph = pix.width(), pix.height()
            s = min(THUMB / max(pw, 1), THUMB / max(ph, 1))
            dw, dh = int(pw * s), int(ph * s)
            target = QRect(tr.left() + (THUMB - dw) // 2, tr.top() + (THUMB - dh) // 2, dw, dh)
            painter.setRenderHint(QPainter.SmoothPixmapTransform, True)
            painter.drawPixmap(target, pix)
        # Dice + badge
        outcome = OUTCOMES[int(m.outcome[i])]
        y = tr.bottom() + 4
        badge_w = 26
        badge = QRect(r.right() - badge_w - 4, y + 2, badge_w, 15)
        painter.setPen(Qt.NoPen)
        bpath = QPainterPath()
        bpath.addRoundedRect(QRectF(badge), 3, 3)
        painter.fillPath(bpath, QColor(*OUTCOME_COLORS[outcome]))
        painter.setFont(self._badge_font)
        painter.setPen(QColor(255, 255, 255))
        painter.drawText(badge, Qt.AlignCenter, outcome)
        d = m.dice[i]
        painter.setFont(self._bold)
        painter.setPen(QColor(29, 33, 39))
        text = "Dice —" if np.isnan(d) else f"Dice {d:.3f}"
        painter.drawText(QRect(r.left() + 5, y, r.width() - badge_w - 10, 19), Qt.AlignLeft | Qt.AlignVCenter, text)
        # name
        painter.setFont(self._font)
        painter.setPen(QColor(107, 114, 123))
        fm = QFontMetrics(self._font)
        name = fm.elidedText(m.names[i], Qt.ElideMiddle, r.width() - 10)
        painter.drawText(QRect(r.left() + 5, y + 18, r.width() - 10, 16), Qt.AlignLeft | Qt.AlignVCenter, name)
        if m.mask_blanked(i):
            tag = QRect(tr.right() - 40, tr.top() + 3, 37, 14)
            painter.setPen(Qt.NoPen)
            painter.fillRect(tag, QColor(0, 0, 0, 150))
            painter.setFont(self._badge_font)
            painter.setPen(QColor(255, 255, 255))
            painter.drawText(tag, Qt.AlignCenter, "gated")
        painter.restore()


# ---------------------------------------------------------------------------------------------------------------


class GalleryView(QListView):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setViewMode(QListView.IconMode)
        self.setUniformItemSizes(True)
        self.setMovement(QListView.Static)
        self.setResizeMode(QListView.Adjust)
        self.setWrapping(True)
        self.setFlow(QListView.LeftToRight)
        self.setSpacing(3)
        self.setSelectionMode(QAbstractItemView.SingleSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollPerPixel)
        self.verticalScrollBar().setSingleStep(24)
        self.setMouseTracking(True)
        self.setUniformItemSizes(True)
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
        self.count_label.setText(f"{m.visible_count} of {m.n} samples shown" if m.n else "no evaluation loaded")

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
                sm.setCurrentIndex(idx, QItemSelectionModel.ClearAndSelect)
            finally:
                self._syncing = False
        if scroll:
            self.view.scrollTo(idx)

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
    def first_tile_sample(self) -> int | None:
        return self.list_model.sample_at(0) if self.list_model.rowCount() else None

    def click_row(self, row: int) -> None:
        """Select a tile as a click would."""
        self.view.setCurrentIndex(self.list_model.index(row))

    def closeEvent(self, event) -> None:
        self.loader.shutdown()
        super().closeEvent(event)
