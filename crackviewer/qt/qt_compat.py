"""Work-arounds for the Qt binding, applied once when the `crackviewer` package is imported."""
from __future__ import annotations

import sys


def guard_none_refcount() -> bool:
    """Work around PySide6 6.12.0 on Python < 3.12: every call of a void Qt method (setText, update, setData, ...)
    returns None without a new reference (the abi3 wheel assumes Python 3.12's immortal None), so None's reference
    count falls by one per call until CPython aborts with "Fatal Python error: none_dealloc" -- a window with live
    plots dies within seconds. Making None, True and False effectively immortal (what Python 3.12 does) neutralises
    it. pyproject pins PySide6-Essentials<6.12 (6.11.3 is not affected); this guard covers an environment that has
    6.12 anyway. Only applied on the affected combination; idempotent. Returns True when applied."""
    if sys.version_info >= (3, 12) or getattr(guard_none_refcount, "applied", False):
        return getattr(guard_none_refcount, "applied", False)
    if not _pyside_version().startswith("6.12."):
        return False
    import ctypes

    for obj in (None, True, False):
        cell = ctypes.c_ssize_t.from_address(id(obj))  # ob_refcnt is the first field of every PyObject
        if cell.value < 2 ** 59:
            cell.value += 2 ** 60
    guard_none_refcount.applied = True
    return True


def _pyside_version() -> str:
    """The installed PySide6 version, read from package metadata: the Qt-free models must not import PySide6."""
    from importlib import metadata

    for dist in ("PySide6-Essentials", "PySide6"):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return ""
