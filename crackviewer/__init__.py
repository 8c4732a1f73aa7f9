"""crackviewer: the PySide6 + pyqtgraph desktop app."""
__version__ = "0.1.0"
