"""The editable crack mask of one sample, with per-stroke undo/redo. Qt-free.

The mask is an ``HxW`` uint8 array holding 0 (background) and 1 (crack), at the image's own (oriented) resolution.
Every tool is a plain numpy / OpenCV operation on that array and returns the *dirty rectangle* it changed, so a
view can repaint only that part:

- :meth:`MaskModel.brush` - a round stamp dragged along a segment (``cv2.line`` with a thickness, round caps);
  value 1 paints, value 0 erases.
- :meth:`MaskModel.polyline` - a crack centre line with a width (``cv2.polylines``), one undo step.
- :meth:`MaskModel.flood_fill` - flood fill on the *image* with a grey-level tolerance
  (``cv2.floodFill`` with ``FLOODFILL_MASK_ONLY``), the region is added to (or removed from) the mask.
- :meth:`MaskModel.polygon` - a filled polygon (``cv2.fillPoly``).
- :meth:`MaskModel.from_prediction` - the model's probability map at a threshold, resized to the mask.
- :meth:`MaskModel.paint_region` - a given region (e.g. one predicted crack component) set to 0 or 1.

Undo/redo and listeners come from :class:`~crackviewer.annotate.mask_history.MaskHistory`: every tool is one undo
step (a brush drag between ``begin_stroke`` and ``end_stroke`` is one too).
"""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from crackviewer.annotate.mask_change import TILE, Change, Patch, Rect, clip_rect, prediction_mask, union_rects
from crackviewer.annotate.mask_history import MaskHistory

__all__ = ["Change", "MaskModel", "Patch", "Rect", "image_region", "prediction_mask", "union_rects"]

_SHIFT = 3                    # sub-pixel bits for cv2 drawing calls (1/8 px)
_SCALE = 1 << _SHIFT


class MaskModel(MaskHistory):
    """The editable {0,1} mask of one sample and its editing tools (see the module docstring)."""

    def __init__(self, mask: np.ndarray, *, image: np.ndarray | None = None,
                 history_limit: int = 200, history_bytes: int = 64 << 20):
        super().__init__(mask, history_limit=history_limit, history_bytes=history_bytes)
        if image is not None and tuple(image.shape[:2]) != self._mask.shape:
            raise ValueError(f"image shape {image.shape[:2]} differs from mask shape {self._mask.shape}")
        self.image = image

    # ------------------------------------------------------------------ tools
    def brush(self, p0: Sequence[float], p1: Sequence[float] | None, size: float, value: int = 1) -> Rect | None:
        """Stamp a round brush of diameter ``size`` along the segment p0 -> p1 (x, y in mask pixels).

        Inside an open stroke (``begin_stroke``) the segment joins that stroke's undo step; otherwise it is its own
        step. Returns the dirty rectangle (None when the segment lies outside the mask).
        """
        p1 = p0 if p1 is None else p1
        size = max(1.0, float(size))
        r = size / 2.0
        h, w = self._mask.shape
        rect = clip_rect(min(p0[0], p1[0]) - r - 1, min(p0[1], p1[1]) - r - 1,
                          max(p0[0], p1[0]) + r + 1, max(p0[1], p1[1]) + r + 1, w, h)
        if rect is None:
            return None
        value = 1 if value else 0
        own = not self.in_stroke
        if own:
            self.begin_stroke("brush" if value else "eraser")
        self._backup(rect)
        # draw into the dirty rectangle only (a view of the mask), with sub-pixel coordinates
        view = self._mask[rect.slices]
        a = (int(round((p0[0] - rect.x) * _SCALE)), int(round((p0[1] - rect.y) * _SCALE)))
        b = (int(round((p1[0] - rect.x) * _SCALE)), int(round((p1[1] - rect.y) * _SCALE)))
        if size <= 1.0:
            cv2.line(view, a, b, value, 1, cv2.LINE_8, _SHIFT)
        else:
            cv2.circle(view, a, int(round(r * _SCALE)), value, -1, cv2.LINE_8, _SHIFT)
            if a != b:
                cv2.circle(view, b, int(round(r * _SCALE)), value, -1, cv2.LINE_8, _SHIFT)
                # a thick line between the two end discs (its own caps are round too)
                cv2.line(view, a, b, value, max(1, int(round(size))), cv2.LINE_8, _SHIFT)
        self.revision += 1
        if own:
            change = self.end_stroke()
            return change.rect if change else None
        return rect

    def polyline(self, points: Sequence[Sequence[float]], width: float, value: int = 1) -> Rect | None:
        """Rasterise a crack centre line through ``points`` with a line ``width`` (pixels); one undo step."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        if len(pts) == 0:
            return None
        width = max(1.0, float(width))
        if len(pts) == 1:
            return self.brush(pts[0], None, width, value)
        h, w = self._mask.shape
        r = width / 2.0 + 1
        rect = clip_rect(pts[:, 0].min() - r, pts[:, 1].min() - r, pts[:, 0].max() + r, pts[:, 1].max() + r, w, h)
        value = 1 if value else 0

        def op():
            view = self._mask[rect.slices]
            fx = np.round((pts - (rect.x, rect.y)) * _SCALE).astype(np.int32).reshape(-1, 1, 2)
            cv2.polylines(view, [fx], False, value, max(1, int(round(width))), cv2.LINE_8, _SHIFT)
            if width > 2:   # round joints and ends, so thick lines do not show notches at the vertices
                for q in fx.reshape(-1, 2):
                    cv2.circle(view, (int(q[0]), int(q[1])), int(round(width / 2 * _SCALE)), value, -1,
                               cv2.LINE_8, _SHIFT)
        return self._single("polyline" if value else "polyline-erase", rect, op)

    def polygon(self, points: Sequence[Sequence[float]], value: int = 1) -> Rect | None:
        """Fill the polygon through ``points`` (at least 3); one undo step."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        if len(pts) < 3:
            return None
        h, w = self._mask.shape
        rect = clip_rect(pts[:, 0].min() - 1, pts[:, 1].min() - 1, pts[:, 0].max() + 1, pts[:, 1].max() + 1, w, h)
        value = 1 if value else 0

        def op():
            view = self._mask[rect.slices]
            fx = np.round((pts - (rect.x, rect.y)) * _SCALE).astype(np.int32).reshape(-1, 1, 2)
            cv2.fillPoly(view, [fx], value, cv2.LINE_8, _SHIFT)
        return self._single("polygon" if value else "polygon-erase", rect, op)

    def fill_region(self, seed: Sequence[float], tolerance: float, *, image: np.ndarray | None = None,
                    connectivity: int = 8, fixed_range: bool = True) -> tuple[np.ndarray, Rect] | None:
        """The image region a flood fill from ``seed`` reaches (:func:`image_region`), without editing."""
        img = self.image if image is None else image
        if img is None:
            raise ValueError("flood fill needs the sample's image")
        return image_region(img, seed, tolerance, connectivity=connectivity, fixed_range=fixed_range)

    def flood_fill(self, seed: Sequence[float], tolerance: float, value: int = 1, *, image: np.ndarray | None = None,
                   connectivity: int = 8, fixed_range: bool = True) -> Rect | None:
        """Add (value 1) or remove (value 0) the image region reachable from ``seed`` within ``tolerance``."""
        found = self.fill_region(seed, tolerance, image=image, connectivity=connectivity, fixed_range=fixed_range)
        if found is None:
            return None
        region, rect = found
        value = 1 if value else 0

        def op():
            self._mask[rect.slices][region] = value
        return self._single("fill" if value else "fill-erase", rect, op)

    def paint_region(self, region: np.ndarray, rect: Rect, value: int = 1, kind: str = "region") -> Rect | None:
        """Set the pixels where ``region`` (bool, ``rect``'s size) is True to ``value``; one undo step.

        Only the 64x64 tiles holding region pixels are kept for undo, so a long thin component across a large image
        costs what a brush stroke along it would, not its whole bounding box.
        """
        region = np.asarray(region, dtype=bool)
        if region.shape != (rect.h, rect.w):
            raise ValueError(f"region shape {region.shape} differs from its rectangle {rect}")
        # which 64x64 tiles hold region pixels: the region placed on the tile grid, "any" per tile
        oy, ox = rect.y % TILE, rect.x % TILE
        nty, ntx = -(-(oy + rect.h) // TILE), -(-(ox + rect.w) // TILE)
        grid = np.zeros((nty * TILE, ntx * TILE), bool)
        grid[oy:oy + rect.h, ox:ox + rect.w] = region
        touched = np.argwhere(grid.reshape(nty, TILE, ntx, TILE).any(axis=(1, 3)))
        if len(touched) == 0:
            return None
        if self.in_stroke:
            self.end_stroke()
        self.begin_stroke(kind)
        for ty, tx in touched.tolist():
            self._backup(Rect((rect.x // TILE + tx) * TILE, (rect.y // TILE + ty) * TILE, 1, 1))
        np.copyto(self._mask[rect.slices], np.uint8(1 if value else 0), where=region)
        self.revision += 1
        change = self.end_stroke()
        return change.rect if change else None

    def from_prediction(self, prob: np.ndarray, threshold: float, mode: str = "replace") -> Rect | None:
        """Set the mask from a probability map thresholded at ``threshold`` (crack where p >= threshold).

        ``prob`` is float in [0, 1] or uint8 0..255 (an evaluation folder's ``probs/<name>.png``), at any resolution:
        it is resized (bilinear) to the mask's size first. ``mode`` "replace" discards the current mask, "union"
        adds the prediction to it. One undo step.
        """
        pred = prediction_mask(prob, threshold, self.shape)
        if mode == "union":
            new = np.maximum(self._mask, pred)
        elif mode == "replace":
            new = pred
        else:
            raise ValueError(f"mode must be 'replace' or 'union', got {mode!r}")
        return self.set_mask(new, kind="prediction")

    def set_mask(self, new: np.ndarray, kind: str = "replace") -> Rect | None:
        """Replace the whole mask (one undo step); only the changed part enters the history."""
        new = np.asarray(new)
        if new.shape != self._mask.shape:
            raise ValueError(f"new mask shape {new.shape} differs from {self._mask.shape}")
        new = (new > 0).astype(np.uint8)
        diff = new != self._mask
        if not diff.any():
            return None
        rows = np.flatnonzero(diff.any(axis=1))
        cols = np.flatnonzero(diff.any(axis=0))
        rect = Rect(int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1))

        def op():
            self._mask[rect.slices] = new[rect.slices]
        return self._single(kind, rect, op)

    def clear(self) -> Rect | None:
        return self.set_mask(np.zeros_like(self._mask), kind="clear")


def image_region(img: np.ndarray, seed: Sequence[float], tolerance: float, *, connectivity: int = 8,
                 fixed_range: bool = True) -> tuple[np.ndarray, Rect] | None:
    """The region of ``img`` a flood fill from ``seed`` (x, y) reaches: (bool array of the rect, rect) or None.

    ``tolerance`` is in grey levels (0..255, per channel). ``fixed_range`` compares every pixel with the seed pixel
    (predictable on textured surfaces); otherwise neighbours are compared with each other.
    """
    h, w = img.shape[:2]
    x, y = int(np.floor(seed[0])), int(np.floor(seed[1]))
    if not (0 <= x < w and 0 <= y < h):
        return None
    img = np.ascontiguousarray(img)
    if img.dtype != np.uint8:
        raise ValueError(f"flood fill expects a uint8 image, got {img.dtype}")
    t = float(max(0.0, tolerance))
    diff = (t,) * (img.shape[2] if img.ndim == 3 else 1)
    ff = np.zeros((h + 2, w + 2), np.uint8)
    flags = (4 if connectivity == 4 else 8) | cv2.FLOODFILL_MASK_ONLY | (1 << 8)
    if fixed_range:
        flags |= cv2.FLOODFILL_FIXED_RANGE
    _, _, _, (rx, ry, rw, rh) = cv2.floodFill(img, ff, (x, y), 0, diff, diff, flags)
    if rw <= 0 or rh <= 0:
        return None
    rect = Rect(int(rx), int(ry), int(rw), int(rh))
    return ff[1 + ry:1 + ry + rh, 1 + rx:1 + rx + rw].astype(bool), rect
