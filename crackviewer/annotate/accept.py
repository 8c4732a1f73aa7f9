"""Accept a predicted crack with a click, or remove a false one with shift-click. Qt-free.

- :func:`component_at` - the connected component (8-connected) of ``prob >= threshold`` under the click, or of the
  nearest predicted pixel within ``radius`` px; the canvas can show it as a hover highlight while the threshold
  slider moves.
- :func:`accept_component` - adds that component to the mask as one undoable stroke (kind ``"accept"``), or, with
  ``remove=True``, clears the *mask's* own component under the click (kind ``"reject"``), also one stroke.

Both edits go through :meth:`MaskModel.paint_region`, which keeps only the tiles the component touches in the
history, so undo/redo and the mask store's journal treat them like any other stroke. The probability map is the evaluation folder's
``probs/<name>.png`` (uint8) or a float map, at any resolution: it is binarised at the mask's size by
:func:`crackviewer.annotate.mask_model.prediction_mask`, the one place that rule lives.
"""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from crackviewer.annotate.mask_model import MaskModel, Rect, prediction_mask

DEFAULT_RADIUS = 3


def _seed_near(binary: np.ndarray, pt: Sequence[float], radius: int) -> tuple[int, int] | None:
    """The set pixel (row, col) of ``binary`` under ``pt`` (x, y), else the nearest one within ``radius`` px."""
    h, w = binary.shape
    x, y = float(pt[0]), float(pt[1])
    if not (np.isfinite(x) and np.isfinite(y)):
        raise ValueError(f"a click point must be finite, got {tuple(pt)}")
    c, r = int(np.floor(x)), int(np.floor(y))
    if not (-radius <= r < h + radius and -radius <= c < w + radius):
        return None
    r0, r1 = max(r - radius, 0), min(r + radius + 1, h)
    c0, c1 = max(c - radius, 0), min(c + radius + 1, w)
    if r1 <= r0 or c1 <= c0:
        return None
    rows, cols = np.nonzero(binary[r0:r1, c0:c1])
    if len(rows) == 0:
        return None
    d2 = (rows + r0 - r) ** 2 + (cols + c0 - c) ** 2
    i = int(np.argmin(d2))
    if d2[i] > radius * radius:
        return None
    return int(rows[i] + r0), int(cols[i] + c0)


def binary_component_at(binary: np.ndarray, pt: Sequence[float], radius: int = DEFAULT_RADIUS
                        ) -> tuple[np.ndarray, Rect] | None:
    """The 8-connected component of a {0,1} map under/nearest ``pt``: (bool region of rect, rect), or None."""
    seed = _seed_near(binary, pt, radius)
    if seed is None:
        return None
    h, w = binary.shape
    src = np.ascontiguousarray(binary, dtype=np.uint8)
    fill = np.zeros((h + 2, w + 2), np.uint8)
    flags = 8 | cv2.FLOODFILL_MASK_ONLY | cv2.FLOODFILL_FIXED_RANGE | (1 << 8)
    _, _, _, (x, y, rw, rh) = cv2.floodFill(src, fill, (seed[1], seed[0]), 0, 0, 0, flags)
    rect = Rect(int(x), int(y), int(rw), int(rh))
    return fill[1 + y:1 + y + rh, 1 + x:1 + x + rw].astype(bool), rect


class PredictedCracks:
    """One sample's probability map, binarised at the mask's size on demand; the last threshold's map is kept.

    Hold one per sample in the canvas: clicks and hover highlights at the same threshold then skip the full-size
    resize and comparison (about 0.1 s on a 4000x3000 photo).
    """

    def __init__(self, prob: np.ndarray, shape: tuple[int, int]):
        self.prob = prob
        self.shape = (int(shape[0]), int(shape[1]))
        self._threshold: float | None = None
        self._binary: np.ndarray | None = None

    def binary(self, threshold: float) -> np.ndarray:
        """The {0,1} uint8 map of ``prob >= threshold`` at ``shape`` (:func:`prediction_mask`'s rule)."""
        if self._binary is None or self._threshold != float(threshold):
            self._binary = prediction_mask(self.prob, threshold, self.shape)
            self._threshold = float(threshold)
        return self._binary

    def component_at(self, threshold: float, pt: Sequence[float], *, radius: int = DEFAULT_RADIUS
                     ) -> tuple[np.ndarray, Rect] | None:
        return binary_component_at(self.binary(threshold), pt, radius)


def component_at(prob: np.ndarray | PredictedCracks, threshold: float, pt: Sequence[float],
                 shape: tuple[int, int], *, radius: int = DEFAULT_RADIUS) -> tuple[np.ndarray, Rect] | None:
    """The predicted crack component (``prob >= threshold`` at ``shape``) under/nearest the click ``pt`` (x, y)."""
    pred = prob if isinstance(prob, PredictedCracks) else PredictedCracks(prob, shape)
    if pred.shape != tuple(shape):
        raise ValueError(f"the prediction was binarised at {pred.shape}, the mask is {tuple(shape)}")
    return pred.component_at(threshold, pt, radius=radius)


def accept_component(mask: MaskModel, prob: np.ndarray | PredictedCracks | None, threshold: float,
                     pt: Sequence[float], *, remove: bool = False, radius: int = DEFAULT_RADIUS) -> Rect | None:
    """Add the predicted component under ``pt`` to ``mask`` (or, ``remove=True``, clear the mask's component there).

    One undoable stroke; returns the changed rectangle, or None when there is nothing under the click (or nothing
    changes, e.g. the component is already in the mask). ``prob`` is not needed for ``remove``.
    """
    if remove:
        found = binary_component_at(mask.mask, pt, radius)
    else:
        if prob is None:
            raise ValueError("accepting a predicted crack needs the probability map of the sample")
        found = component_at(prob, threshold, pt, mask.shape, radius=radius)
    if found is None:
        return None
    region, rect = found
    return mask.paint_region(region, rect, 0 if remove else 1, kind="reject" if remove else "accept")
