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

Undo is per stroke. A stroke (a whole brush drag, one polyline, one fill ...) is stored as a :class:`Change`: a list of
small patches (``y, x`` + old and new values, bit-packed) cropped to what really changed inside 64x64 tiles, so a long
diagonal stroke over a 4000x3000 image costs kilobytes, not the bounding box. History is a bounded deque with both a
step limit and a memory cap (oldest steps are dropped first). The napari Labels layer inspired the design
(history atoms, grouped strokes, bounded deque); this is our own implementation.

Listeners (``model.listeners``) get ``(change, how)`` after every committed stroke, undo and redo; the mask store
uses this to journal each completed stroke to disk before the debounced autosave, so a crash loses at most the stroke
in progress.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Iterable, NamedTuple, Sequence

import cv2
import numpy as np

TILE = 64
_SHIFT = 3                    # sub-pixel bits for cv2 drawing calls (1/8 px)
_SCALE = 1 << _SHIFT


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


def _clip_rect(x0: float, y0: float, x1: float, y1: float, w: int, h: int) -> Rect | None:
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


@dataclass
class Change:
    """One undo step: what a stroke (or a whole-mask operation) changed."""

    kind: str                      # "brush", "eraser", "polyline", "fill", "polygon", "prediction", "clear", "replace"
    patches: list[Patch] = field(default_factory=list)

    @property
    def rect(self) -> Rect | None:
        return union_rects(p.rect for p in self.patches)

    @property
    def nbytes(self) -> int:
        return sum(p.nbytes for p in self.patches)

    def writes(self, which: str) -> list[tuple[int, int, np.ndarray]]:
        """``(y, x, values)`` blocks that bring the mask to the ``which`` ("old" or "new") side of this change."""
        return [(p.y, p.x, p.values(which)) for p in self.patches]


Listener = Callable[[Change, str], None]   # (change, how) with how in {"edit", "undo", "redo"}


class MaskModel:
    """The editable {0,1} mask of one sample (see the module docstring)."""

    def __init__(self, mask: np.ndarray, *, image: np.ndarray | None = None,
                 history_limit: int = 200, history_bytes: int = 64 << 20):
        mask = np.asarray(mask)
        if mask.ndim != 2:
            raise ValueError(f"a mask must be 2-D (HxW), got shape {mask.shape}")
        self._mask = np.ascontiguousarray((mask > 0).astype(np.uint8))
        if image is not None and tuple(image.shape[:2]) != self._mask.shape:
            raise ValueError(f"image shape {image.shape[:2]} differs from mask shape {self._mask.shape}")
        self.image = image
        self.history_limit = int(history_limit)
        self.history_bytes = int(history_bytes)
        self._undo: deque[Change] = deque()
        self._redo: list[Change] = []
        self._undo_bytes = 0
        self._stroke_kind: str | None = None
        self._stroke_tiles: dict[tuple[int, int], np.ndarray] = {}
        self._stroke_rect: Rect | None = None
        self.revision = 0          # bumps on every change of the mask (edits, undo, redo)
        self.listeners: list[Listener] = []

    # ------------------------------------------------------------------ state
    @property
    def mask(self) -> np.ndarray:
        """The live mask array (HxW uint8 {0,1}). Treat as read-only: edit through the tools."""
        return self._mask

    @property
    def shape(self) -> tuple[int, int]:
        return self._mask.shape  # type: ignore[return-value]

    @property
    def in_stroke(self) -> bool:
        return self._stroke_kind is not None

    @property
    def can_undo(self) -> bool:
        return bool(self._undo) and not self.in_stroke

    @property
    def can_redo(self) -> bool:
        return bool(self._redo) and not self.in_stroke

    @property
    def undo_depth(self) -> int:
        return len(self._undo)

    @property
    def redo_depth(self) -> int:
        return len(self._redo)

    @property
    def history_nbytes(self) -> int:
        return self._undo_bytes + sum(c.nbytes for c in self._redo)

    def crack_pixels(self) -> int:
        return int(np.count_nonzero(self._mask))

    # ---------------------------------------------------------------- strokes
    def begin_stroke(self, kind: str) -> None:
        """Start grouping edits into one undo step (a brush drag). Ends a stroke left open."""
        if self.in_stroke:
            self.end_stroke()
        self._stroke_kind = kind
        self._stroke_tiles = {}
        self._stroke_rect = None

    def end_stroke(self) -> Change | None:
        """Close the open stroke; returns its Change (None when nothing changed) and notifies listeners."""
        if not self.in_stroke:
            return None
        kind = self._stroke_kind or "edit"
        patches = []
        for (ty, tx), old in self._stroke_tiles.items():
            y0, x0 = ty * TILE, tx * TILE
            new = self._mask[y0:y0 + old.shape[0], x0:x0 + old.shape[1]]
            diff = old != new
            if not diff.any():
                continue
            rows = np.flatnonzero(diff.any(axis=1))
            cols = np.flatnonzero(diff.any(axis=0))
            r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
            patches.append(Patch.from_arrays(y0 + r0, x0 + c0, old[r0:r1, c0:c1], new[r0:r1, c0:c1].copy()))
        self._stroke_kind = None
        self._stroke_tiles = {}
        self._stroke_rect = None
        if not patches:
            return None
        change = Change(kind, patches)
        self._push_undo(change)
        self._redo.clear()
        self._notify(change, "edit")
        return change

    def abort_stroke(self) -> Rect | None:
        """Roll back the open stroke (nothing enters the history); returns the rectangle to repaint."""
        if not self.in_stroke:
            return None
        rect = None
        for (ty, tx), old in self._stroke_tiles.items():
            y0, x0 = ty * TILE, tx * TILE
            self._mask[y0:y0 + old.shape[0], x0:x0 + old.shape[1]] = old
            rect = Rect(x0, y0, old.shape[1], old.shape[0]).union(rect) if rect else \
                Rect(x0, y0, old.shape[1], old.shape[0])
        self._stroke_kind = None
        self._stroke_tiles = {}
        self._stroke_rect = None
        if rect is not None:
            self.revision += 1
        return rect

    def _backup(self, rect: Rect) -> None:
        """Keep the pre-stroke values of every tile ``rect`` touches (first touch only)."""
        h, w = self._mask.shape
        tiles = self._stroke_tiles
        for ty in range(rect.y // TILE, (rect.y + rect.h - 1) // TILE + 1):
            for tx in range(rect.x // TILE, (rect.x + rect.w - 1) // TILE + 1):
                if (ty, tx) not in tiles:
                    tiles[(ty, tx)] = self._mask[ty * TILE:min((ty + 1) * TILE, h),
                                                 tx * TILE:min((tx + 1) * TILE, w)].copy()
        self._stroke_rect = rect.union(self._stroke_rect)

    def _single(self, kind: str, rect: Rect | None, op: Callable[[], None]) -> Rect | None:
        """Run ``op`` (which writes only inside ``rect``) as its own undo step."""
        if rect is None:
            return None
        if self.in_stroke:
            self.end_stroke()
        self.begin_stroke(kind)
        self._backup(rect)
        op()
        self.revision += 1
        change = self.end_stroke()
        return change.rect if change else None

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
        rect = _clip_rect(min(p0[0], p1[0]) - r - 1, min(p0[1], p1[1]) - r - 1,
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
        rect = _clip_rect(pts[:, 0].min() - r, pts[:, 1].min() - r, pts[:, 0].max() + r, pts[:, 1].max() + r, w, h)
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
        rect = _clip_rect(pts[:, 0].min() - 1, pts[:, 1].min() - 1, pts[:, 0].max() + 1, pts[:, 1].max() + 1, w, h)
        value = 1 if value else 0

        def op():
            view = self._mask[rect.slices]
            fx = np.round((pts - (rect.x, rect.y)) * _SCALE).astype(np.int32).reshape(-1, 1, 2)
            cv2.fillPoly(view, [fx], value, cv2.LINE_8, _SHIFT)
        return self._single("polygon" if value else "polygon-erase", rect, op)

    def fill_region(self, seed: Sequence[float], tolerance: float, *, image: np.ndarray | None = None,
                    connectivity: int = 8, fixed_range: bool = True) -> tuple[np.ndarray, Rect] | None:
        """The image region a flood fill from ``seed`` reaches (HxW bool for the returned rect), without editing.

        ``tolerance`` is in grey levels (0..255, per channel). ``fixed_range`` compares every pixel with the seed pixel
        (predictable on textured surfaces); otherwise neighbours are compared with each other.
        """
        img = self.image if image is None else image
        if img is None:
            raise ValueError("flood fill needs the sample's image")
        h, w = self._mask.shape
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

    # ------------------------------------------------------------- undo/redo
    def undo(self) -> Rect | None:
        if self.in_stroke:
            self.end_stroke()
        if not self._undo:
            return None
        change = self._undo.pop()
        self._undo_bytes -= change.nbytes
        self._apply(change, "old")
        self._redo.append(change)
        self._notify(change, "undo")
        return change.rect

    def redo(self) -> Rect | None:
        if self.in_stroke:
            self.end_stroke()
        if not self._redo:
            return None
        change = self._redo.pop()
        self._apply(change, "new")
        self._push_undo(change)
        self._notify(change, "redo")
        return change.rect

    def _apply(self, change: Change, which: str) -> None:
        for y, x, vals in change.writes(which):
            self._mask[y:y + vals.shape[0], x:x + vals.shape[1]] = vals
        self.revision += 1

    def _push_undo(self, change: Change) -> None:
        self._undo.append(change)
        self._undo_bytes += change.nbytes
        while self._undo and (len(self._undo) > self.history_limit or
                              (self._undo_bytes > self.history_bytes and len(self._undo) > 1)):
            old = self._undo.popleft()
            self._undo_bytes -= old.nbytes

    def _notify(self, change: Change, how: str) -> None:
        for fn in list(self.listeners):
            fn(change, how)


def prediction_mask(prob: np.ndarray, threshold: float, shape: tuple[int, int]) -> np.ndarray:
    """Binary {0,1} uint8 mask of ``shape`` from a probability map (float 0..1 or uint8 0..255) at ``threshold``."""
    p = np.asarray(prob)
    if p.ndim == 3:
        p = p[..., 0]
    if p.dtype == np.uint8:
        p = p.astype(np.float32) / 255.0
    else:
        p = p.astype(np.float32)
    h, w = shape
    if p.shape != (h, w):
        p = cv2.resize(p, (w, h), interpolation=cv2.INTER_LINEAR)
    return (p >= float(threshold)).astype(np.uint8)
