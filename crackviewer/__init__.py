"""crackviewer: the PySide6 + pyqtgraph desktop app."""
from crackviewer.qt.qt_compat import guard_none_refcount

__version__ = "0.1.0"

guard_none_refcount()  # every Qt process of the app imports this package first
