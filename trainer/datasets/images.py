"""Image and mask reading (EXIF-oriented, RGB, binarised masks) and distance-transform weights."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from trainer.datasets.decode import decode_file as _decode
from trainer.datasets.maskcheck import DEFAULT_MASK_RULE, MASK_READ_FLAGS, gray_for_rule
from trainer.errors import DataError
from trainer.datasets.imageheader import image_size
from trainer.limits import DEFAULT_MAX_MEGAPIXELS, VIEWER_MAX_MEGAPIXELS, check_image_megapixels


def read_image(path, size=None, max_megapixels: float | None = DEFAULT_MAX_MEGAPIXELS) -> np.ndarray:
    """HxWx3 uint8 RGB with the EXIF orientation applied. ``size`` = (height, width) resizes with INTER_AREA.
    Raises :class:`DataError` naming the file when it is missing, unreadable, corrupt or over ``max_megapixels``
    (checked from the header, before decoding)."""
    img = _decode(path, cv2.IMREAD_COLOR, max_megapixels)  # IMREAD_COLOR applies the EXIF orientation (unlike IMREAD_UNCHANGED)
    cv2.cvtColor(img, cv2.COLOR_BGR2RGB, dst=img)          # in place: no second copy of a 400 MP image
    if size is not None:
        h, w = int(size[0]), int(size[1])
        if img.shape[:2] != (h, w):
            img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
    return img


_REDUCED = {1: (cv2.IMREAD_COLOR, cv2.IMREAD_GRAYSCALE),
            2: (cv2.IMREAD_REDUCED_COLOR_2, cv2.IMREAD_REDUCED_GRAYSCALE_2),
            4: (cv2.IMREAD_REDUCED_COLOR_4, cv2.IMREAD_REDUCED_GRAYSCALE_4),
            8: (cv2.IMREAD_REDUCED_COLOR_8, cv2.IMREAD_REDUCED_GRAYSCALE_8)}


def reduction_for(path, max_side: int) -> int:
    """The largest decode reduction (1, 2, 4 or 8) that keeps the image's longer side at least ``max_side``, from
    the file's header (1 when the header tells nothing)."""
    try:
        size = image_size(path)
    except OSError:
        size = None
    if not size:
        return 1
    return next((f for f in (8, 4, 2) if max(size) // f >= max_side), 1)


def read_image_reduced(path, max_side: int, max_megapixels: float | None = VIEWER_MAX_MEGAPIXELS,
                       grey: bool = False) -> np.ndarray:
    """Like :func:`read_image` (or an 8-bit grey read with ``grey``), decoded at 1/2, 1/4 or 1/8 scale when the
    image is that much larger than ``max_side`` (thumbnails of huge images). A JPEG is decoded at that scale
    directly and never held whole; other formats are decoded, shrunk and released by OpenCV."""
    flags = _REDUCED[reduction_for(path, max_side)][1 if grey else 0]
    img = _decode(path, flags, max_megapixels)
    if not grey:
        cv2.cvtColor(img, cv2.COLOR_BGR2RGB, dst=img)
    return img


def _read_mask_gray(path, shape=None, image_path=None, rule: str = DEFAULT_MASK_RULE,
                    max_megapixels: float | None = None) -> np.ndarray:
    """8-bit grey mask that ``> 127`` binarises by ``rule`` (trainer.datasets.maskcheck), EXIF-oriented."""
    if rule == DEFAULT_MASK_RULE:
        m = _decode(path, cv2.IMREAD_GRAYSCALE, max_megapixels)  # also EXIF-oriented, like its image
    else:
        m = gray_for_rule(_decode(path, MASK_READ_FLAGS, max_megapixels), rule)
    check_mask_size(m, path, shape, image_path)
    return m


def check_mask_size(m: np.ndarray, path, shape=None, image_path=None) -> None:
    """DataError naming the mask file when its size differs from its image's ``shape``."""
    if shape is not None and m.shape[:2] != tuple(shape[:2]):
        what = f"its image {image_path}" if image_path is not None else "its image"
        raise DataError(f"mask size {m.shape[1]}x{m.shape[0]} (WxH) differs from {what} "
                        f"({shape[1]}x{shape[0]})", file=path)


def read_mask(path, shape=None, rule: str = DEFAULT_MASK_RULE) -> np.ndarray:
    """HxW uint8 in {0, 1}, binarised once (> 127, or by ``rule``), EXIF-oriented. ``shape`` = the image's
    (height, width[, c]): a mask of another size raises :class:`DataError` naming the mask file. ``shape=None``
    skips the check."""
    m = _read_mask_gray(path, shape, rule=rule)
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
