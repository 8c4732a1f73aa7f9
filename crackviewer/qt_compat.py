"""Work-arounds for the Qt binding we ship with, applied once when `crackviewer` is imported."""
from __future__ import annotations

import sys

_NONE_GUARDED = False


def guard_none_refcount() -> bool:
    """Work around PySide6 6.12 on Python 3.11: every call of a C++ method that returns void (``QLabel.setText``,
    ``QWidget.setVisible``, ...) drops one reference to ``None`` without having taken it (on Python >= 3.12 ``None``
    is immortal, so this goes unnoticed there). After ~90,000 such calls -- a few hundred repaints of a busy window --
    CPython aborts with "Fatal Python error: none_dealloc". Giving ``None`` a huge reference count makes it
    effectively immortal, as it is on 3.12+. Idempotent; a no-op on Python >= 3.12. Returns True when applied."""
    global _NONE_GUARDED
    if sys.version_info >= (3, 12) or _NONE_GUARDED:
        return False
    import ctypes

    ctypes.c_ssize_t.from_address(id(None)).value += 1 << 40
    _NONE_GUARDED = True
    return True
