"""The Dataset tab's thumbnail grid: thumbnails decoded on worker threads only for the tiles the (virtualised) list
shows, cached, and painted with the sample's kind and split."""
from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, QRect, QSize, Qt, QTimer
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from figures import colors
from figures.qimage import array_to_qimage
from crackviewer.qt.tasks import TaskRunner
from trainer.datasets.images import read_image_reduced
from trainer.errors import CrackError


THUMB = 120


def make_thumbnail(image_path: str, mask_path: str | None, size: int = THUMB) -> QImage:
    """A size x size RGB thumbnail (letterboxed) with the GT mask tinted on top; runs on a worker thread."""
    img = read_image_reduced(image_path, size)          # a 20000x20000 mosaic is decoded at 1/8 (never held whole)
    h, w = img.shape[:2]
    scale = size / max(h, w)
    tw, th = max(1, int(round(w * scale))), max(1, int(round(h * scale)))
    small = cv2.resize(img, (tw, th), interpolation=cv2.INTER_AREA)
    if mask_path:
        try:
            m = read_image_reduced(mask_path, size, grey=True)
        except (CrackError, cv2.error):
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
