"""The app's look: the Fusion style, a light palette, `resources/style.qss` and pyqtgraph on white."""
from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QWidget

from crackviewer.qt.icons import RESOURCES

STYLE_FILE = RESOURCES / "style.qss"
PALETTE = {QPalette.ColorRole.Window: "#f4f5f7", QPalette.ColorRole.Base: "white",
           QPalette.ColorRole.AlternateBase: "#f8f9fb", QPalette.ColorRole.Highlight: "#cfe3f3",
           QPalette.ColorRole.HighlightedText: "#111111", QPalette.ColorRole.Button: "white",
           QPalette.ColorRole.WindowText: "#1d2127", QPalette.ColorRole.Text: "#1d2127",
           QPalette.ColorRole.ToolTipBase: "#fffef2"}


def apply_style(app: QApplication) -> None:
    """Fusion + the light, flat style sheet of resources/style.qss; pyqtgraph on white."""
    app.setStyle("Fusion")
    pal = app.palette()
    for role, colour in PALETTE.items():
        pal.setColor(role, QColor(colour))
    app.setPalette(pal)
    app.setStyleSheet(STYLE_FILE.read_text(encoding="utf-8"))
    pg.setConfigOptions(antialias=True, background="w", foreground="#444")


def set_state(widget: QWidget, name: str, value: str) -> None:
    """Set a dynamic property the style sheet selects on (e.g. `QLabel#stateBadge[state="failed"]`) and restyle."""
    widget.setProperty(name, value)
    widget.style().unpolish(widget)
    widget.style().polish(widget)
