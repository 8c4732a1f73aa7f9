"""numpy <-> QImage conversion, shared by every view that shows pixels."""
from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage


def array_to_qimage(arr: np.ndarray) -> QImage:
    """A deep-copied QImage of a uint8 array: HxW (grayscale), HxWx3 (RGB) or HxWx4 (RGBA, not premultiplied)."""
    a = np.ascontiguousarray(arr)
    if a.dtype != np.uint8:
        raise TypeError(f"expected uint8 pixels, got {a.dtype}")
    h, w = a.shape[:2]
    if a.ndim == 2:
        fmt, bpl = QImage.Format_Grayscale8, w
    elif a.shape[2] == 3:
        fmt, bpl = QImage.Format_RGB888, 3 * w
    elif a.shape[2] == 4:
        fmt, bpl = QImage.Format_RGBA8888, 4 * w
    else:
        raise ValueError(f"unsupported pixel shape {a.shape}")
    return QImage(a.data, w, h, bpl, fmt).copy()


def qimage_to_array(img: QImage) -> np.ndarray:
    """HxWx4 uint8 RGBA copy of a QImage."""
    img = img.convertToFormat(QImage.Format_RGBA8888)
    w, h = img.width(), img.height()
    ptr = img.constBits()
    a = np.frombuffer(ptr, dtype=np.uint8, count=img.bytesPerLine() * h).reshape(h, img.bytesPerLine())
    return a[:, : 4 * w].reshape(h, w, 4).copy()
