"""Per-stroke undo/redo of a {0,1} mask. Qt-free.

A stroke (a whole brush drag, one polyline, one fill ...) is stored as a :class:`~crackviewer.annotate.mask_change.
Change`: small patches (``y, x`` + old and new values, bit-packed) cropped to what really changed inside 64x64 tiles,
so a long diagonal stroke over a 4000x3000 image costs kilobytes, not the bounding box. History is a bounded deque
with both a step limit and a memory cap (oldest steps are dropped first). The napari Labels layer inspired the
design (history atoms, grouped strokes, bounded deque); this is our own implementation.

Listeners (``history.listeners``) get ``(change, how)`` after every committed stroke, undo and redo; the Annotate
tab uses this to journal each completed stroke to disk before the debounced autosave.
"""
from __future__ import annotations

from collections import deque
from typing import Callable

import numpy as np

from crackviewer.annotate.mask_change import TILE, Change, Listener, Patch, Rect


class MaskHistory:
    """A {0,1} mask with per-stroke undo/redo (see the module docstring); :class:`MaskModel` adds the tools."""

    def __init__(self, mask: np.ndarray, *, history_limit: int = 200, history_bytes: int = 64 << 20):
        mask = np.asarray(mask)
        if mask.ndim != 2:
            raise ValueError(f"a mask must be 2-D (HxW), got shape {mask.shape}")
        self._mask = np.ascontiguousarray(np.asarray(mask) > 0).view(np.uint8)     # one bool copy, seen as uint8
        self.history_limit = int(history_limit)
        self.history_bytes = int(history_bytes)
        self._undo: deque[Change] = deque()
        self._redo: list[Change] = []
        self._undo_bytes = 0
        self._stroke_kind: str | None = None
        self._stroke_tiles: dict[tuple[int, int], np.ndarray] = {}
        self._stroke_rect: Rect | None = None
        self.revision = 0          # bumps on every change of the mask (edits, undo, redo)
        self._count: tuple[int, int] | None = None       # (revision, crack pixels) when known
        self._stroke_count: int | None = None
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
    def last_change(self) -> Change | None:
        """The step Ctrl+Z would undo (None when there is none)."""
        return self._undo[-1] if self._undo else None

    @property
    def history_nbytes(self) -> int:
        return self._undo_bytes + sum(c.nbytes for c in self._redo)

    def crack_pixels(self) -> int:
        """Crack pixels of the mask. Counted once, then kept up to date from each change's patches (a count of a
        20000x20000 mask takes 40 ms; the status line asks after every stroke)."""
        if self._count is None or self._count[0] != self.revision:
            self._count = (self.revision, int(np.count_nonzero(self._mask)))
        return self._count[1]

    def _count_before(self) -> int | None:
        """The crack-pixel count as it stands now, when known without counting."""
        return self._count[1] if self._count is not None and self._count[0] == self.revision else None

    def _count_after(self, before: int | None, change: Change, sign: int) -> None:
        if before is not None:
            self._count = (self.revision, before + sign * change.pixel_delta())

    # ---------------------------------------------------------------- strokes
    def begin_stroke(self, kind: str) -> None:
        """Start grouping edits into one undo step (a brush drag). Ends a stroke left open."""
        if self.in_stroke:
            self.end_stroke()
        self._stroke_kind = kind
        self._stroke_tiles = {}
        self._stroke_rect = None
        self._stroke_count = self._count_before()

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
        self._count_after(self._stroke_count, change, +1)
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

    # ------------------------------------------------------------- undo/redo
    def undo(self) -> Rect | None:
        if self.in_stroke:
            self.end_stroke()
        if not self._undo:
            return None
        change = self._undo.pop()
        self._undo_bytes -= change.nbytes
        before = self._count_before()
        self._apply(change, "old")
        self._count_after(before, change, -1)
        self._redo.append(change)
        self._notify(change, "undo")
        return change.rect

    def redo(self) -> Rect | None:
        if self.in_stroke:
            self.end_stroke()
        if not self._redo:
            return None
        change = self._redo.pop()
        before = self._count_before()
        self._apply(change, "new")
        self._count_after(before, change, +1)
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
