"""The pieces of mask editing history: dirty rectangles, bit-packed patches and the undo step (`Change`), and the
one rule that turns a probability map into a mask (`prediction_mask`). Qt-free."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, NamedTuple

import cv2
import numpy as np

TILE = 64


class Rect(NamedTuple):
    """An axis-aligned rectangle in mask pixel coordinates (x, y = top-left; w, h > 0)."""

    x: int
    y: int
    w: int
    h: int

    def union(self, other: "Rect | None") -> "Rect":
        if other is None:
            return self
        x0, y0 = min(self.x, other.x), min(self.y, other.y)
        x1 = max(self.x + self.w, other.x + other.w)
        y1 = max(self.y + self.h, other.y + other.h)
        return Rect(x0, y0, x1 - x0, y1 - y0)

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.y, self.y + self.h), slice(self.x, self.x + self.w)


def union_rects(rects: Iterable[Rect | None]) -> Rect | None:
    out: Rect | None = None
    for r in rects:
        if r is not None:
            out = r if out is None else out.union(r)
    return out


def clip_rect(x0: float, y0: float, x1: float, y1: float, w: int, h: int) -> Rect | None:
    """Rect covering [x0, x1] x [y0, y1] (inclusive, floats allowed), clipped to a w x h mask."""
    xa, ya = max(int(np.floor(x0)), 0), max(int(np.floor(y0)), 0)
    xb, yb = min(int(np.ceil(x1)) + 1, w), min(int(np.ceil(y1)) + 1, h)
    if xb <= xa or yb <= ya:
        return None
    return Rect(xa, ya, xb - xa, yb - ya)


@dataclass
class Patch:
    """Old and new values of a rectangle of the mask, bit-packed ({0,1} values, 1 bit each)."""

    y: int
    x: int
    h: int
    w: int
    old_bits: np.ndarray
    new_bits: np.ndarray

    @classmethod
    def from_arrays(cls, y: int, x: int, old: np.ndarray, new: np.ndarray) -> "Patch":
        h, w = old.shape
        return cls(int(y), int(x), int(h), int(w), np.packbits(old, axis=None), np.packbits(new, axis=None))

    def values(self, which: str) -> np.ndarray:
        bits = self.old_bits if which == "old" else self.new_bits
        return np.unpackbits(bits, count=self.h * self.w).reshape(self.h, self.w)

    @property
    def rect(self) -> Rect:
        return Rect(self.x, self.y, self.w, self.h)

    @property
    def nbytes(self) -> int:
        return int(self.old_bits.nbytes + self.new_bits.nbytes) + 64


_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], np.int64)


@dataclass
class Change:
    """One undo step: what a stroke (or a whole-mask operation) changed."""

    kind: str                      # "brush", "eraser", "polyline", "fill", "polygon", "prediction", "clear", "replace"
    patches: list[Patch] = field(default_factory=list)

    @property
    def rect(self) -> Rect | None:
        return union_rects(p.rect for p in self.patches)

    label: tuple[int, int] | None = None   # (before, after): the image label this edit changed, undone with it

    @property
    def nbytes(self) -> int:
        return sum(p.nbytes for p in self.patches)

    def pixel_delta(self) -> int:
        """Crack pixels added by the change (negative: removed), from the bit-packed patches."""
        return sum(int(_POPCOUNT[p.new_bits].sum()) - int(_POPCOUNT[p.old_bits].sum()) for p in self.patches)

    @property
    def changed_pixels(self) -> int:
        return int(sum(int(np.count_nonzero(p.values("old") != p.values("new"))) for p in self.patches))

    def writes(self, which: str) -> list[tuple[int, int, np.ndarray]]:
        """``(y, x, values)`` blocks that bring the mask to the ``which`` ("old" or "new") side of this change."""
        return [(p.y, p.x, p.values(which)) for p in self.patches]


Listener = Callable[[Change, str], None]   # (change, how) with how in {"edit", "undo", "redo"}


def prediction_mask(prob: np.ndarray, threshold: float, shape: tuple[int, int]) -> np.ndarray:
    """Binary {0,1} uint8 mask of ``shape`` from a probability map (float 0..1 or uint8 0..255) at ``threshold``.
    An 8-bit map stays 8-bit (resized as uint8, then a 256-entry table): no float copy at the image's size."""
    p = np.asarray(prob)
    if p.ndim == 3:
        p = p[..., 0]
    h, w = shape
    if p.dtype == np.uint8:
        if p.shape != (h, w):
            p = cv2.resize(p, (w, h), interpolation=cv2.INTER_LINEAR)
        table = (np.arange(256, dtype=np.float32) / 255.0) >= float(threshold)
        return table[p].view(np.uint8)
    p = p.astype(np.float32)
    if p.shape != (h, w):
        p = cv2.resize(p, (w, h), interpolation=cv2.INTER_LINEAR)
    return (p >= float(threshold)).astype(np.uint8)
