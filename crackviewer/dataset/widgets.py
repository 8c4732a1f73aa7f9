"""The Dataset tab's smaller widgets: the welcome page (open a folder, create the demo dataset, recent datasets),
the per-split composition bars and the table cells of the counts table."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QRect, Qt, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import (QFrame, QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QSizePolicy, QTableWidgetItem,
                               QVBoxLayout, QWidget)

SPLIT_TITLES = {"train": "Train", "val": "Validation", "test": "Test", "all": "All"}


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
        self.status.setObjectName("welcomeStatus")
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
def table_item(text: Any, bold: bool = False, align=Qt.AlignmentFlag.AlignRight) -> QTableWidgetItem:
    it = QTableWidgetItem(str(text))
    it.setTextAlignment(align | Qt.AlignmentFlag.AlignVCenter)
    it.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
    if bold:
        f = it.font()
        f.setBold(True)
        it.setFont(f)
    return it
