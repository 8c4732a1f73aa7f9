"""Decoding one image file with OpenCV: the one place that turns unreadable files into DataErrors naming the file
(used by the image and mask readers and by the mask-format check)."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from trainer.errors import DataError
from trainer.limits import check_image_megapixels


def decode_file(path, flags: int, max_megapixels: float | None = None) -> np.ndarray:
    """Decode an image file; with ``max_megapixels`` its header size is checked first (nothing allocated)."""
    path = Path(path)
    if max_megapixels is not None:
        check_image_megapixels(path, max_megapixels)
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
