"""Qt-free level-of-detail pyramid of a 2-D (HxW) or HxWxC uint8 array, read tile by tile.

Level 0 *is* the array given (no copy: a 20000x20000 photo stays one 1.2 GB array, and the mask a tool edits is the
same memory the viewer draws from). Level ``k`` has ``ceil(H / 2**k) x ceil(W / 2**k)`` pixels, each made of the
2x2 block of level ``k - 1`` below it (a block on the right or bottom edge of an odd-sized level has fewer
pixels). Levels stop once the whole level fits in one tile.

Two reductions:

* ``"mean"`` (photos, premultiplied colour): the rounded mean of the block, ``(a + b + c + d + 2) // 4``.
* ``"max"`` (masks, probability maps, label codes): the block's maximum, so a one-pixel-wide hairline crack stays
  visible at every zoom-out level (averaging would fade it to nothing after two or three levels).

:meth:`Pyramid.update` recomputes a changed rectangle of level 0 through every level (a brush stroke costs a few
small blocks, not a rebuild); :meth:`Pyramid.tile` returns a view of tile ``(level, tx, ty)``.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

TILE = 512
MODES = ("mean", "max")


def _reduce_even(a: np.ndarray, mode: str) -> np.ndarray:
    """2x2 blocks of an array whose height and width are even."""
    if mode == "max":
        rows = np.maximum(a[0::2], a[1::2])
        return np.maximum(rows[:, 0::2], rows[:, 1::2])
    h, w = a.shape[0] // 2, a.shape[1] // 2
    if a.ndim == 2 or a.shape[2] <= 4:
        # INTER_AREA at exactly 1/2 is the rounded 2x2 mean, vectorised by OpenCV
        return cv2.resize(a, (w, h), interpolation=cv2.INTER_AREA).reshape((h, w) + a.shape[2:])
    s = a[0::2, 0::2].astype(np.uint16) + a[0::2, 1::2] + a[1::2, 0::2] + a[1::2, 1::2]
    return ((s + 2) // 4).astype(np.uint8)


def _reduce_line(a: np.ndarray, mode: str, axis: int) -> np.ndarray:
    """Pairs along ``axis`` of a one-pixel-thick edge strip (its length along ``axis`` may be odd)."""
    n = a.shape[axis]
    even = np.take(a, np.arange(0, n - n % 2), axis=axis)
    first, second = np.take(even, np.arange(0, even.shape[axis], 2), axis=axis), \
        np.take(even, np.arange(1, even.shape[axis], 2), axis=axis)
    if mode == "max":
        out = np.maximum(first, second)
    else:
        out = ((first.astype(np.uint16) + second + 1) // 2).astype(np.uint8)
    if n % 2:
        out = np.concatenate([out, np.take(a, [n - 1], axis=axis)], axis=axis)
    return out


def reduce2(a: np.ndarray, mode: str, out: np.ndarray | None = None) -> np.ndarray:
    """One level down: ``ceil(H/2) x ceil(W/2)`` blocks of 2x2 (partial blocks on an odd right/bottom edge)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    h, w = a.shape[:2]
    h2, w2 = (h + 1) // 2, (w + 1) // 2
    if out is None:
        out = np.empty((h2, w2) + a.shape[2:], np.uint8)
    he, we = h - h % 2, w - w % 2
    if he and we:
        out[:he // 2, :we // 2] = _reduce_even(a[:he, :we], mode)
    if h % 2 and we:                                  # bottom edge: horizontal pairs of the last row
        out[h2 - 1:, :we // 2] = _reduce_line(a[h - 1:, :we], mode, axis=1)
    if w % 2:                                         # right edge: vertical pairs of the last column
        out[:, w2 - 1:] = _reduce_line(a[:, w - 1:], mode, axis=0)
    return out


class Pyramid:
    """Levels by factors of two of ``base`` (see the module docstring); ``tile`` is the tile side in pixels."""

    def __init__(self, base: np.ndarray, mode: str = "mean", tile: int = TILE):
        base = np.asarray(base)
        if base.dtype != np.uint8:
            raise TypeError(f"pyramid levels are uint8, got {base.dtype}")
        if base.ndim not in (2, 3):
            raise ValueError(f"expected an HxW or HxWxC array, got shape {base.shape}")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.mode = mode
        self.tile_size = int(tile)
        self.levels: list[np.ndarray] = [base]
        while max(self.levels[-1].shape[:2]) > self.tile_size:
            self.levels.append(reduce2(self.levels[-1], mode))

    @property
    def base(self) -> np.ndarray:
        return self.levels[0]

    @property
    def width(self) -> int:
        return self.levels[0].shape[1]

    @property
    def height(self) -> int:
        return self.levels[0].shape[0]

    @property
    def nbytes(self) -> int:
        """Memory of the coarser levels (level 0 belongs to the caller)."""
        return sum(a.nbytes for a in self.levels[1:])

    def level_for_scale(self, scale: float) -> int:
        """The level to draw at ``scale`` screen pixels per level-0 pixel (1 = 100 %; 0 when magnified).

        ``"mean"``: the coarsest level still at least as sharp as the screen (``2**k <= 1/scale``), shrunk smoothly.
        ``"max"``: the finest level no sharper than the screen (``2**k >= 1/scale``), so every level pixel covers at
        least one screen pixel and is drawn without smoothing: a hairline keeps its full colour instead of being
        blended to half by the final shrink."""
        if scale <= 0 or scale >= 1.0:
            return 0
        x = math.log2(1.0 / scale)
        k = int(math.ceil(x - 1e-9)) if self.mode == "max" else int(math.floor(x + 1e-9))
        return max(0, min(len(self.levels) - 1, k))

    def grid(self, level: int) -> tuple[int, int]:
        """Tiles across and down at ``level``."""
        h, w = self.levels[level].shape[:2]
        t = self.tile_size
        return (w + t - 1) // t, (h + t - 1) // t

    def tile(self, level: int, tx: int, ty: int) -> np.ndarray:
        """A view of tile ``(tx, ty)`` of ``level`` (smaller on the right and bottom edges)."""
        t = self.tile_size
        return self.levels[level][ty * t:(ty + 1) * t, tx * t:(tx + 1) * t]

    def tile_rect(self, level: int, tx: int, ty: int) -> tuple[int, int, int, int]:
        """Tile ``(tx, ty)`` of ``level`` in level-0 pixels: ``(x0, y0, x1, y1)``, clipped to the image."""
        f, t = 1 << level, self.tile_size
        return (tx * t * f, ty * t * f, min(self.width, (tx + 1) * t * f), min(self.height, (ty + 1) * t * f))

    def tiles_in(self, level: int, x0: float, y0: float, x1: float, y1: float) -> list[tuple[int, int]]:
        """The tiles of ``level`` that meet the level-0 rectangle ``[x0, x1) x [y0, y1)``."""
        span = self.tile_size << level
        nx, ny = self.grid(level)
        tx0, ty0 = max(0, int(x0 // span)), max(0, int(y0 // span))
        tx1, ty1 = min(nx, int(math.ceil(x1 / span))), min(ny, int(math.ceil(y1 / span)))
        return [(tx, ty) for ty in range(ty0, ty1) for tx in range(tx0, tx1)]

    def update(self, x0: int, y0: int, x1: int, y1: int) -> None:
        """Level 0 changed in ``[x0, x1) x [y0, y1)``: recompute that rectangle in every coarser level."""
        x0, y0 = max(0, int(x0)), max(0, int(y0))
        x1, y1 = min(self.width, int(x1)), min(self.height, int(y1))
        if x1 <= x0 or y1 <= y0:
            return
        for k in range(1, len(self.levels)):
            src, dst = self.levels[k - 1], self.levels[k]
            # the whole 2x2 blocks of the level above that hold the changed pixels
            x0, y0 = x0 - x0 % 2, y0 - y0 % 2
            x1, y1 = min(src.shape[1], x1 + x1 % 2), min(src.shape[0], y1 + y1 % 2)
            reduce2(src[y0:y1, x0:x1], self.mode, out=dst[y0 // 2:(y1 + 1) // 2, x0 // 2:(x1 + 1) // 2])
            x0, y0, x1, y1 = x0 // 2, y0 // 2, (x1 + 1) // 2, (y1 + 1) // 2
