"""The Annotate tab's help: every shortcut of `annotate.keys`, over the canvas (F1 or ?; Esc or a click closes it)."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from crackviewer.annotate.keys import ANNOTATE_SHORTCUTS
from crackviewer.qt.shortcuts import help_sections


class HelpOverlay(QFrame):
    """Every shortcut, over the canvas (F1 or ?; Esc or a click closes it)."""

    def __init__(self, parent: QWidget):
        super().__init__(parent)
        self.setObjectName("annotateHelp")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(24, 16, 24, 14)
        lay.setSpacing(6)
        title = QLabel("Annotation shortcuts")
        title.setObjectName("helpTitle")
        lay.addWidget(title)
        cols = QHBoxLayout()
        cols.setSpacing(30)
        sections = help_sections(ANNOTATE_SHORTCUTS)
        for group in (sections[:1], sections[1:]):
            cols.addLayout(self._column(group), 1)
        lay.addLayout(cols)
        foot = QLabel("Every stroke is saved automatically into the dataset, in its own layout; the first edit of a "
                      "mask keeps the original in .crackviewer/backup/.   Esc or a click closes this.")
        foot.setObjectName("helpFoot")
        foot.setWordWrap(True)
        lay.addWidget(foot)
        self.hide()

    @staticmethod
    def _column(sections) -> QGridLayout:
        grid = QGridLayout()
        grid.setHorizontalSpacing(14)
        grid.setVerticalSpacing(3)
        r = 0
        for section, rows in sections:
            head = QLabel(section)
            head.setObjectName("helpSection")
            grid.addWidget(head, r, 0, 1, 2)
            r += 1
            for keys, text in rows:
                kl = QLabel(keys)
                kl.setObjectName("helpKey")
                grid.addWidget(kl, r, 0, Qt.AlignmentFlag.AlignTop)
                vl = QLabel(text)
                vl.setWordWrap(True)
                grid.addWidget(vl, r, 1, Qt.AlignmentFlag.AlignTop)
                r += 1
        grid.setRowStretch(r, 1)
        grid.setColumnStretch(1, 1)
        return grid

    def mousePressEvent(self, event) -> None:  # noqa: N802
        self.hide()

    def place(self) -> None:
        par = self.parentWidget()
        if par is None:
            return
        w = max(300, min(par.width() - 30, 920))
        self.setFixedWidth(w)
        lay = self.layout()
        lay.activate()
        h = lay.totalHeightForWidth(w) if lay.hasHeightForWidth() else lay.totalSizeHint().height()
        self.setFixedHeight(min(max(h, 100), max(100, par.height() - 16)))
        self.move((par.width() - self.width()) // 2, max(8, (par.height() - self.height()) // 2))
