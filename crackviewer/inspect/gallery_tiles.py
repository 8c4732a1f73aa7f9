"""The gallery's tiles (Qt): :class:`GalleryModel` maps rows to ``model.order``; :class:`TileDelegate` paints a
tile (the thumbnail with the pixel error map of the current threshold, the metric the gallery is sorted by, the
image-level outcome badge); :class:`GalleryView` is the virtualised list. Only visible tiles are painted."""
from __future__ import annotations

from collections import OrderedDict

import numpy as np
from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, QRect, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListView, QStyle, QStyledItemDelegate, QWidget

from crackviewer.inspect.sample_store import Thumbnail
from crackviewer.inspect.tile_images import TileImages
from crackviewer.inspect.thumbnail_loader import THUMB, ThumbnailLoader
from crackviewer.inspect.threshold_model import OUTCOMES, ThresholdModel
from figures import colors
from trainer.metrics import pixels as metrics_pixels

OUTCOME_COLORS = {"TP": colors.TP, "FP": colors.FP, "FN": colors.FN, "TN": (110, 118, 125)}
OUTCOME_TIPS = {"TP": "crack image classified crack", "FP": "crack-free image classified crack",
                "FN": "crack image classified crack-free (missed)", "TN": "crack-free image classified crack-free"}
METRIC_LABELS = {"dice": "Dice (ref.)", "dice_empty_ok": "Dice", "iou": "IoU (ref.)", "iou_empty_ok": "IoU",
                 "f1_tol": "F1 tol", "precision_tol": "P tol", "recall_tol": "R tol", "cldice": "clDice",
                 "uncertainty": "Unc."}
"""Short names of the per-sample metrics (tiles, sort menu). "Dice" is the empty-aware Dice (an empty GT predicted
empty scores 1); "Dice (ref.)" the reference's formula, kept for comparison with the published report."""

LIST_BG = QColor(244, 245, 247)
TILE_BG = QColor(255, 255, 255)
TILE_BG_SELECTED = QColor(226, 239, 249)
TILE_W = 126
TILE_H = THUMB + 44
RESORT_DELAY_MS = 150

class GalleryModel(QAbstractListModel):
    """Rows = ``model.order`` (filtered, sorted sample indices)."""

    SampleRole = Qt.UserRole + 1

    def __init__(self, model: ThresholdModel, parent: QObject | None = None):
        super().__init__(parent)
        self.model = model
        self._order = model.order.copy()
        # a re-sort caused by a threshold step waits until the threshold has rested this long: tiles recolour live,
        # but they do not jump around under the user's eyes while the slider moves (and a step stays cheap)
        self._resort = QTimer(self)
        self._resort.setSingleShot(True)
        self._resort.setInterval(RESORT_DELAY_MS)
        self._resort.timeout.connect(self._apply_order)
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
        self._resort.stop()
        self.beginResetModel()
        self._order = self.model.order.copy()
        self.endResetModel()

    # Whole-range content changes (every tile's Dice after a threshold step, a re-sort with the same rows) are
    # announced with these instead of dataChanged: on a wrapping QListView, dataChanged over all rows schedules a
    # relayout of every row (O(n) Python calls per slider step); the rows keep their size, so a repaint suffices.
    contentChanged = Signal()
    reordered = Signal()     # same rows, new order (the view must move its current index to the same sample)

    @property
    def resort_pending(self) -> bool:
        """A threshold step changed the order and the gallery will re-sort once the threshold rests."""
        return self._resort.isActive()

    def _on_view(self, cause: str | None = None, **_):
        """New order or filter. A pure re-sort caused by a threshold step is deferred (see ``RESORT_DELAY_MS``);
        anything else (sort key, filters, or a threshold step that changes which samples pass a filter) applies at
        once."""
        new = self.model.order
        if cause == "thresholds" and new.size == self._order.size and new.size:
            if not np.array_equal(new, self._order):
                self._resort.start()
            return
        self._apply_order()

    def _apply_order(self) -> None:
        """Same number of rows (a re-sort): the rows just show other samples (no relayout of thousands of tiles) and
        ``reordered`` tells the view to move its selection. Otherwise a layout change that keeps the selection on the
        same sample."""
        self._resort.stop()
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
        if self._order.size:
            self.contentChanged.emit()      # every visible tile's colours and number change


# ---------------------------------------------------------------------------------------------------------------


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
        self._tiles: OrderedDict[int, TileImages] = OrderedDict()
        self._font = QFont()
        self._font.setPointSizeF(8.5)
        self._bold = QFont(self._font)
        self._bold.setBold(True)
        self._badge_font = QFont(self._font)
        self._badge_font.setPointSizeF(7.5)
        self._badge_font.setBold(True)
        self._fm = QFontMetrics(self._font)
        self._names: dict[tuple, QPixmap] = {}       # tile chrome per (sample, state, outcome, size, dpr)
        self._text_pen = QPen(QColor(29, 33, 39))
        # opaque pictures (corners painted in the list's background) are copied, not blended: cheaper per tile
        self._frames = {state: self._frame(state) for state in ("normal", "hover", "selected")}
        self._badges = {(o, sel): self._badge(o, sel) for o in OUTCOMES for sel in (False, True)}
        self._gated_tag = self._tag("gated")
        a = self.ALPHA

        def u32(c):
            return (a << 24) | ((c[0] * a // 255) << 16) | ((c[1] * a // 255) << 8) | (c[2] * a // 255)

        self._tints = tuple(u32(c) & 0x00FFFFFF for c in (colors.FP, colors.TP, colors.FN))   # premultiplied BGR

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
    def _v_min(self, blank: bool) -> int:
        """The smallest 8-bit probability predicted crack at the current threshold (256: none; a blanked mask)."""
        if blank:
            return 256
        return metrics_pixels.prob8_min_at_bin(self.model.seg_bin)

    def _tile(self, i: int, thumb: Thumbnail) -> TileImages:
        t = self._tiles.get(i)
        if t is None or t.thumb is not thumb:
            t = TileImages(thumb, self._tints)
            self._tiles[i] = t
            while len(self._tiles) > 800:
                self._tiles.popitem(last=False)
        else:
            self._tiles.move_to_end(i)
        if self.overlay == "errors" and t.prob8 is not None:
            v_min = self._v_min(self.model.mask_blanked(i))
            if t.key != v_min:
                t.recolour(v_min)
                t.key = v_min
        return t

    def _chrome(self, i: int, state: str, outcome: str, size: tuple[int, int], dpr: float) -> QPixmap:
        """Everything of a tile that a segmentation-threshold step does not change, drawn once into one picture:
        the frame, the outcome badge and the sample's (elided) name. A step then draws this picture, the recoloured
        thumbnail and the metric's number."""
        key = (i, state, outcome, size, dpr)
        pix = self._names.get(key)
        if pix is None:
            if len(self._names) > 2000:
                self._names.clear()
            w, h = size
            h += 2          # the name's descenders reach 2 px into the tile's margin (drawn in the list's colour)
            pix = QPixmap(int(w * dpr), int(h * dpr))
            pix.setDevicePixelRatio(dpr)
            pix.fill(LIST_BG)
            p = QPainter(pix)
            p.drawPixmap(0, 0, self._frames[state])
            y = 4 + THUMB + 4
            selected = state == "selected"
            p.drawPixmap(w - 31, y + 2, self._badges[(outcome, selected)])
            p.fillRect(QRect(5, y + 18, w - 10, 16), TILE_BG_SELECTED if selected else TILE_BG)
            p.setFont(self._font)
            p.setPen(QColor(107, 114, 123))
            name = self._fm.elidedText(self.model.names[i], Qt.ElideMiddle, w - 10)
            p.drawText(QRect(5, y + 18, w - 10, 16), Qt.AlignLeft | Qt.AlignVCenter, name)
            p.end()
            self._names[key] = pix
        return pix

    def paint(self, painter: QPainter, option, index: QModelIndex) -> None:
        lm = index.model()
        row = index.row()
        if not isinstance(lm, GalleryModel) or not 0 <= row < lm.rowCount():
            return
        i = lm.sample_at(row)
        self.paint_count += 1
        m = self.model
        r = option.rect.adjusted(2, 2, -2, -2)
        # the selected tile is the model's current sample (the view's selection model only tracks the current row)
        state = ("selected" if i == m.current else "hover" if option.state & QStyle.State_MouseOver else "normal")
        outcome = OUTCOMES[int(m.outcome[i])]
        painter.drawPixmap(r.topLeft(), self._chrome(i, state, outcome, (r.width(), r.height()),
                                                     painter.device().devicePixelRatioF()))
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
            painter.drawImage(target, t.composite_img if self.overlay == "errors" and t.prob8 is not None else t.base)
            if smooth:
                painter.setRenderHint(QPainter.SmoothPixmapTransform, False)
        # the metric's number (changes with the threshold)
        painter.setFont(self._bold)
        painter.setPen(self._text_pen)
        painter.drawText(QRect(r.left() + 5, tr.bottom() + 4, r.width() - 36, 19), Qt.AlignLeft | Qt.AlignVCenter,
                         tile_text(m, i))
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
        self.setObjectName("inspectGallery")


def tile_text(m: ThresholdModel, i: int) -> str:
    """The number under a tile: the metric the gallery is sorted by (else the empty-aware Dice); a crack-free image
    classified crack-free says so instead of scoring its stray pixels."""
    key = m.sort_key if m.sort_key in METRIC_LABELS else "dice_empty_ok"
    if key.startswith(("dice", "iou")) and m.labels[i] == 0 and m.outcome[i] == 3:
        return "no crack ✓"
    d = m.metric(key)[i]
    return f"{METRIC_LABELS[key]} —" if np.isnan(d) else f"{METRIC_LABELS[key]} {d:.3f}"
