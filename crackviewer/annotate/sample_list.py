"""The Annotate tab's sample list: filters, kinds (segmented / weak / negative) and the list model."""
from __future__ import annotations

import html

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QIcon, QPainter, QPen, QPixmap

from figures import colors
from crackviewer.annotate.review_queue import ReviewItem

EDITED_MARK = "✎"            # changed since the dataset was opened (saved)
PREDICTED_MARK = "◇"         # the prediction source covers it (or it was predicted here)
UNSAVED_MARK = "•"
MARKS_LEGEND = f"{EDITED_MARK} edited  ·  {PREDICTED_MARK} has a prediction  ·  {UNSAVED_MARK} unsaved"

KIND_COLORS = {"segmented": colors.GT_CONTOUR, "weak": colors.FP, "negative": (150, 156, 164)}
FILTERS = [("all", "All samples"), ("segmented", "Segmented (crack + mask)"), ("weak", "Weak (crack, no mask)"),
           ("negative", "Negative (no crack)"), ("unsaved", "Unsaved edits"),
           ("review", "Review queue (worst first)")]


def sample_kind(rec) -> str:
    if rec.label == 0:
        return "negative"
    return "segmented" if rec.has_mask else "weak"


def dot_icon(color, hollow=False, size=12) -> QIcon:
    pm = QPixmap(size, size)
    pm.fill(Qt.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.Antialiasing, True)
    c = QColor(*color)
    if hollow:
        p.setPen(QPen(c, 2))
        p.setBrush(Qt.NoBrush)
    else:
        p.setPen(Qt.NoPen)
        p.setBrush(c)
    p.drawEllipse(QRectF(2, 2, size - 4, size - 4))
    p.end()
    return QIcon(pm)


class SampleListModel(QAbstractListModel):
    """Rows of sample names, with kind icons, unsaved marks and (in review mode) priorities."""

    def __init__(self, panel: QObject):
        super().__init__(panel)
        self.panel = panel          # the Annotate panel: store, edited, is_unsaved, has_prediction, save_error
        self.names: list[str] = []
        self.review: dict[str, ReviewItem] = {}
        self._icons = {k: dot_icon(c, hollow=(k == "negative")) for k, c in KIND_COLORS.items()}

    def set_names(self, names: list[str], review: dict[str, ReviewItem] | None = None) -> None:
        self.beginResetModel()
        self.names = list(names)
        self.review = review or {}
        self.endResetModel()

    def refresh_name(self, name: str) -> None:
        try:
            row = self.names.index(name)
        except ValueError:
            return
        idx = self.index(row)
        self.dataChanged.emit(idx, idx)

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802 - Qt API
        return 0 if parent.isValid() else len(self.names)

    def data(self, index: QModelIndex, role: int = Qt.DisplayRole):
        if not index.isValid() or index.row() >= len(self.names):
            return None
        name = self.names[index.row()]
        store = self.panel.store
        if store is None:
            return None
        rec = store.record(name)
        unsaved = self.panel.is_unsaved(name)
        if role == Qt.DisplayRole:
            it = self.review.get(name)
            txt = name if it is None else f"{name}   {it.priority * 100:.0f}%"
            marks = [m for m, on in ((PREDICTED_MARK, self.panel.has_prediction(name)),
                                     (EDITED_MARK, name in self.panel.edited), (UNSAVED_MARK, unsaved)) if on]
            return txt + ("  " + " ".join(marks) if marks else "")
        if role == Qt.DecorationRole:
            return self._icons[sample_kind(rec)]
        if role == Qt.ToolTipRole:
            kind = {"segmented": "crack, segmented", "weak": "crack, no mask (weak label)",
                    "negative": "no crack"}[sample_kind(rec)]
            tip = f"<b>{html.escape(name)}</b><br>{rec.split} · {kind}"
            it = self.review.get(name)
            if it is not None:
                tip += f"<br>review priority {it.priority:.2f}: {html.escape(it.reason)}"
            err = self.panel.save_error(name)
            if err:
                tip += f"<br><span style='color:#b00020'>save failed: {html.escape(err)}</span>"
            elif unsaved:
                tip += "<br>unsaved edits"
            elif name in self.panel.edited:
                tip += "<br>edited (saved)"
            if self.panel.has_prediction(name):
                tip += "<br>has a prediction"
            return tip
        if role == Qt.FontRole and unsaved:
            f = QFont()
            f.setItalic(True)
            f.setBold(True)
            return f
        if role == Qt.ForegroundRole and self.panel.save_error(name):
            return QBrush(QColor(176, 0, 32))
        return None
