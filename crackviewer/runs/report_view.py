"""The run's README report as HTML for the Runs tab (images scaled to the pane's width)."""
from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QImage, QTextDocument


def report_html(readme: Path, max_width: int) -> str:
    """A run's README.md as HTML for a QTextBrowser, with images wider than max_width scaled down (keeps aspect).
    Image paths stay relative: the browser resolves them against the run folder (searchPaths)."""
    base = readme.parent
    doc = QTextDocument()
    doc.setMarkdown(readme.read_text(encoding="utf-8", errors="replace"))
    html = doc.toHtml()

    def scale(m: re.Match) -> str:
        src = m.group(1)
        url = QUrl(src)
        path = Path(url.toLocalFile()) if url.isLocalFile() else base / src
        img = QImage(str(path))
        if img.isNull() or img.width() <= max_width:
            return m.group(0)
        h = round(img.height() * max_width / img.width())
        return f'<img src="{src}" width="{max_width}" height="{h}"'

    return re.sub(r'<img src="([^"]+)"', scale, html)
