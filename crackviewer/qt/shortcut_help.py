"""Help ▸ Shortcuts: every tab's shortcuts, listed from the shortcut registry (`qt.shortcuts`): the same rows that
bind the keys, so the list cannot drift from the bindings."""
from __future__ import annotations

from html import escape
from typing import Iterable

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from crackviewer.qt.shortcuts import Shortcut, help_sections


def shortcuts_html(tables: Iterable[tuple[str, Iterable[Shortcut]]]) -> str:
    """One heading per tab, one table per section: keys | what they do."""
    parts = []
    for tab, table in tables:
        parts.append(f"<h3>{escape(tab)}</h3>")
        for section, rows in help_sections(table):
            parts.append(f"<p><b>{escape(section)}</b></p><table cellspacing='0' cellpadding='3'>")
            for keys, text in rows:
                parts.append(f"<tr><td width='170'><tt>{escape(keys)}</tt></td><td>{escape(text)}</td></tr>")
            parts.append("</table>")
    return "\n".join(parts)


class ShortcutsDialog(QDialog):
    def __init__(self, tables: list[tuple[str, list[Shortcut]]], parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.setObjectName("shortcutsDialog")
        lay = QVBoxLayout(self)
        self.text = QTextBrowser()
        self.text.setHtml(shortcuts_html(tables))
        lay.addWidget(self.text, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)
        self.resize(620, 700)
