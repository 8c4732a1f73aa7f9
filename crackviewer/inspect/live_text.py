"""Rich text that changes on every slider step without relayouting the window (Qt)."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPainter, QTextDocument, QTextOption
from PySide6.QtWidgets import QSizePolicy, QWidget


class LiveText(QWidget):
    """Rich text that changes on every slider step. Unlike a QLabel, setting the text only repaints this widget: its
    height is fixed to ``lines`` text lines, so the window's layouts are not recomputed. When a text does not fit
    in that height at the current width (a narrow window), the widget grows to show all of it: it never clips."""

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

    def _base_height(self) -> int:
        return int(self.fontMetrics().lineSpacing() * self._lines * 1.3) + 2

    def _fix_height(self) -> None:
        self.setFixedHeight(max(self._base_height(), self._text_height()))

    def _sync_doc(self) -> None:
        """The document's font and width follow the widget's (set only when they change: setting either lays the
        text out again)."""
        if self._doc.defaultFont() != self.font():
            self._doc.setDefaultFont(self.font())
        if self._doc.textWidth() != self.width():
            self._doc.setTextWidth(self.width())

    def _text_height(self) -> int:
        """Height of the current text at the current width (0 before the widget has a width)."""
        if not self._html or self.width() < 20:
            return 0
        self._sync_doc()
        return int(self._doc.size().height()) + 2

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            self._fix_height()

    def setFont(self, font) -> None:
        super().setFont(font)
        self._fix_height()

    def setText(self, html: str) -> None:
        if html != self._html:
            self._html = html
            self._doc.setHtml(html)
            if self._text_height() > self.height():      # rare: grows once, then steps repaint only again
                self._fix_height()
            self.update()

    def text(self) -> str:
        return self._html

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), self._bg)
        self._sync_doc()
        self._doc.drawContents(p)
        p.end()
