"""Image and mask reading (EXIF-oriented, RGB, binarised masks) and distance-transform weights."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from trainer.errors import DataError


def _decode(path, flags: int) -> np.ndarray:
    path = Path(path)
    try:
        buf = np.fromfile(str(path), dtype=np.uint8)
    except FileNotFoundError:
        raise DataError("file not found", file=path) from None
    except IsADirectoryError:
        raise DataError("is a folder, not an image file", file=path) from None
    except OSError as e:
        raise DataError(f"cannot read file ({e.strerror or e})", file=path) from None
    if buf.size == 0:
        raise DataError("empty file (0 bytes), not an image", file=path)
    try:
        img = cv2.imdecode(buf, flags)
    except cv2.error:
        img = None
    if img is None or img.size == 0:
        raise DataError("corrupt or unsupported image: OpenCV cannot decode it", file=path)
    return img


def read_image(path, size=None) -> np.ndarray:
    """HxWx3 uint8 RGB with the EXIF orientation applied. ``size`` = (height, width) resizes with INTER_AREA.
    Raises :class:`DataError` naming the file when it is missing, unreadable or corrupt."""
    img = _decode(path, cv2.IMREAD_COLOR)  # IMREAD_COLOR applies the EXIF orientation (unlike IMREAD_UNCHANGED)
    img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    if size is not None:
        h, w = int(size[0]), int(size[1])
        if img.shape[:2] != (h, w):
            img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
    return img


def _read_mask_gray(path, shape=None, image_path=None) -> np.ndarray:
    m = _decode(path, cv2.IMREAD_GRAYSCALE)  # also EXIF-oriented, like its image
    if shape is not None and m.shape[:2] != tuple(shape[:2]):
        what = f"its image {image_path}" if image_path is not None else "its image"
        raise DataError(f"mask size {m.shape[1]}x{m.shape[0]} (WxH) differs from {what} "
                        f"({shape[1]}x{shape[0]})", file=path)
    return m


def read_mask(path, shape=None) -> np.ndarray:
    """HxW uint8 in {0, 1}, binarised once (> 127), EXIF-oriented. ``shape`` = the image's (height, width[, c]):
    a mask of another size raises :class:`DataError` naming the mask file. ``shape=None`` skips the check."""
    m = _read_mask_gray(path, shape)
    return (m > 127).astype(np.uint8)


def distance_weight(mask01: np.ndarray, p: float, max_value: float) -> np.ndarray:
    """Seg-loss weight of reference-model section 2.1 (first upstream release): on crack pixels the Euclidean
    distance to the background, normalised to max 1 over the whole image, raised to ``p`` and times
    ``max_value``; background pixels weight 1. An all-zero mask gives all ones."""
    w = np.ones(mask01.shape, np.float32)
    if not mask01.any():
        return w
    d = cv2.distanceTransform(mask01.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    d /= max(float(d.max()), 1e-12)
    fg = mask01 > 0
    w[fg] = (d[fg] ** float(p)) * float(max_value)
    return w
