"""Rich text that changes on every slider step without relayouting the window (Qt)."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPainter, QTextDocument, QTextOption
from PySide6.QtWidgets import QSizePolicy, QWidget


class LiveText(QWidget):
    """Rich text that changes on every slider step. Unlike a QLabel, setting the text only repaints this widget:
    it never asks the window's layouts to recompute (its height is fixed to ``lines`` text lines)."""

    def __init__(self, lines: int = 1, parent: QWidget | None = None, background: str = "white"):
        super().__init__(parent)
        self._bg = QColor(background)
        # opaque: a text change repaints this widget only, not the styled panels behind it
        self.setAttribute(Qt.WA_OpaquePaintEvent, True)
        self._doc = QTextDocument(self)
        self._doc.setDocumentMargin(0)
        opt = QTextOption()
        opt.setWrapMode(QTextOption.WrapAtWordBoundaryOrAnywhere)
        self._doc.setDefaultTextOption(opt)
        self._html = ""
        self._lines = lines
        self._fix_height()
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        self.setMinimumWidth(60)

    def _fix_height(self) -> None:
        self.setFixedHeight(int(self.fontMetrics().lineSpacing() * self._lines * 1.3) + 2)

    def setFont(self, font) -> None:
        super().setFont(font)
        self._fix_height()

    def setText(self, html: str) -> None:
        if html != self._html:
            self._html = html
            self._doc.setHtml(html)
            self.update()

    def text(self) -> str:
        return self._html

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), self._bg)
        self._doc.setDefaultFont(self.font())
        self._doc.setTextWidth(self.width())
        self._doc.drawContents(p)
        p.end()
