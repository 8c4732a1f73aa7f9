"""A gallery tile's pictures at the current threshold (Qt images over numpy memory): the thumbnail pre-blended with
the error colours once, then one comparison and one masked copy per threshold step."""
from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtGui import QImage

from crackviewer.inspect.sample_store import Thumbnail


class TileImages:
    """Per-tile cache: the thumbnail as a QImage, its probabilities, the thumbnail pre-blended with the error colours
    (made once: where the pixel is predicted crack, TP over GT and FP elsewhere; where it is not, FN over GT and the
    plain thumbnail elsewhere), and the composite of the last threshold. A threshold step is one comparison and one
    masked copy per tile, and the tile is drawn as one opaque copy, not an image blended over another."""

    __slots__ = ("thumb", "base", "prob8", "if_pred", "if_not", "composite", "composite_img", "key")

    def __init__(self, thumb: Thumbnail, tints: tuple):
        self.thumb = thumb
        img = np.ascontiguousarray(thumb.image)
        h, w = img.shape[:2]
        bgra = cv2.cvtColor(img, cv2.COLOR_RGB2BGRA)
        self.base = QImage(bgra.data, w, h, 4 * w, QImage.Format_RGB32).copy()      # opaque: drawn as a copy
        self.prob8 = None
        if thumb.prob8 is not None:
            self.prob8 = np.ascontiguousarray(thumb.prob8, np.uint8)
            gt = (np.zeros((h, w), bool) if thumb.gt is None else np.asarray(thumb.gt, bool))
            # the thumbnail faded to 1/8 plus a colour premultiplied at 85 % (packed BGRA words; no byte overflows)
            base32 = bgra.view(np.uint32).reshape(h, w)
            faded = (base32 >> np.uint32(3)) & np.uint32(0x001F1F1F)
            fp, tp, fn = (faded + np.uint32(t32 | 0xFF000000) for t32 in tints)
            self.if_pred = np.where(gt, tp, fp)
            self.if_not = np.where(gt, fn, base32)
            self.composite = np.empty((h, w), np.uint32)
            self.composite_img = QImage(self.composite.data, w, h, 4 * w, QImage.Format_RGB32)
        self.key = None

    def recolour(self, v_min: int) -> None:
        """The composite image when pixels with ``prob8 >= v_min`` are predicted crack (``v_min`` 256: none)."""
        np.copyto(self.composite, self.if_not)
        if v_min < 256:
            np.copyto(self.composite, self.if_pred, where=self.prob8 >= np.uint8(v_min))
