"""The crack tracer: click at one end of a crack, move along it, click again. Qt-free.

Between two clicks the line follows the crack as a minimal path over the cost map of
:class:`~crackviewer.annotate.ridge.RidgeCost` (Sato ridge filter, blended with the model's probability map when one
is loaded), found by scikit-image's :class:`~skimage.graph.MCP_Geometric` (8-connected, diagonal steps cost sqrt 2).

Live preview is cheap because the search runs once per anchor, not once per mouse move:

- :meth:`Tracer.start` (a click) takes a *window* around the anchor (``margin`` px each way), computes the cost map
  there (only the ridge tiles not computed yet) and runs ``find_costs`` from the anchor over the whole window: every
  pixel of the window now knows its cheapest way back to the anchor.
- :meth:`Tracer.preview` (a mouse move) answers by ``traceback`` from the cursor - a walk along the path, a
  millisecond or two. Only when the cursor comes within ``margin / 4`` of the window's edge is the window regrown
  to cover anchor and cursor with a margin of ``max(margin, distance / 4)`` (so a drag regrows it every hundred
  pixels or so, not at every move) and the search rerun.
- Auto-anchoring (as in livewire tools) bounds the search: when the cursor leaves the window more than
  ``auto_anchor`` px from the anchor, the path previewed last is committed as a segment first and the new window
  starts from its end, so a long drag does not grow one ever larger window (None turns this off;
  :meth:`Tracer.undo_segment` takes an unwanted anchor back).
- :meth:`Tracer.commit` (the next click) keeps the segment anchor -> click and starts the next one from there;
  :meth:`Tracer.finish` returns the whole polyline and its width as a :class:`Trace`, which :func:`apply_trace`
  rasterises into the mask as one undoable stroke (:meth:`MaskModel.polyline`: ``cv2.polylines`` + round joints).

Points are ``(x, y)`` in image pixels, as in :class:`~crackviewer.annotate.mask_model.MaskModel`; a click selects the pixel
under it (``floor``), traced points are pixel centres. Clicks snap to the cheapest pixel within ``snap`` px so a
click beside a thin crack lands on it. The width is the one the user set (``width``) or is measured from the image
across the traced line (:func:`~crackviewer.annotate.ridge.estimate_width`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from skimage.graph import MCP_Geometric

from crackviewer.annotate.ridge import DEFAULT_SIGMAS, RidgeCost, estimate_width
from crackviewer.annotate.mask_model import MaskModel, Rect


@dataclass
class Trace:
    """A finished trace: the crack's centre line (``(N, 2)`` float x, y) and its width in pixels."""

    points: np.ndarray
    width: float


@dataclass
class _Window:
    """One minimal-path search: the cost-to-anchor of every pixel of rows r0:r1, columns c0:c1."""

    r0: int
    r1: int
    c0: int
    c1: int
    cost: np.ndarray
    mcp: MCP_Geometric | None = None

    def holds(self, r: int, c: int, edge: int, shape: tuple[int, int]) -> bool:
        """Is (r, c) inside, and not within ``edge`` px of a side that is not the image's own border?"""
        h, w = shape
        lo_r = self.r0 + (edge if self.r0 > 0 else 0)
        hi_r = self.r1 - (edge if self.r1 < h else 0)
        lo_c = self.c0 + (edge if self.c0 > 0 else 0)
        hi_c = self.c1 - (edge if self.c1 < w else 0)
        return lo_r <= r < hi_r and lo_c <= c < hi_c


class Tracer:
    """Minimal-path crack tracing with a cheap live preview (see the module docstring).

    ``image``: HxW or HxWxC (uint8, uint16 or float in 0..1). ``prob``: the model's probability map (float 0..1 or
    uint8 0..255, any size; resized to the image) or None. ``width``: the line width in pixels, None to measure it.
    """

    def __init__(self, image: np.ndarray, prob: np.ndarray | None = None, *, width: float | None = None,
                 margin: int = 160, snap: int = 3, auto_anchor: int | None = 320,
                 sigmas: Sequence[float] = DEFAULT_SIGMAS,
                 ridge_weight: float = 1.0, prob_weight: float = 1.0, eps: float = 0.02):
        self.costs = RidgeCost(image, prob, sigmas=sigmas, ridge_weight=ridge_weight, prob_weight=prob_weight,
                               eps=eps)
        if width is not None and width <= 0:
            raise ValueError(f"the trace width must be positive, got {width}")
        self.width = None if width is None else float(width)
        self.margin = max(8, int(margin))
        self.snap = max(0, int(snap))
        self.auto_anchor = None if not auto_anchor else max(self.margin, int(auto_anchor))
        self._last: np.ndarray | None = None               # the last previewed path (row, col)
        self._anchor: tuple[int, int] | None = None      # (row, col) the current segment starts from
        self._segments: list[np.ndarray] = []              # committed segments, (N, 2) row, col each
        self._window: _Window | None = None
        self.searches = 0                                   # how many minimal-path searches ran (for benchmarks)

    # ------------------------------------------------------------------ state
    @property
    def shape(self) -> tuple[int, int]:
        return self.costs.shape

    @property
    def active(self) -> bool:
        """True between :meth:`start` and :meth:`finish` / :meth:`cancel`."""
        return self._anchor is not None

    @property
    def anchor(self) -> tuple[float, float] | None:
        """Where the current segment starts, (x, y), or None."""
        return None if self._anchor is None else (float(self._anchor[1]), float(self._anchor[0]))

    @property
    def segment_count(self) -> int:
        """How many segments are committed (clicks and auto-anchors)."""
        return len(self._segments)

    @property
    def points(self) -> np.ndarray:
        """The committed polyline so far, (N, 2) float x, y (empty before the first commit)."""
        return _xy(self._joined())

    # ---------------------------------------------------------------- actions
    def start(self, pt: Sequence[float]) -> tuple[float, float]:
        """Begin a trace at ``pt`` (x, y); returns the (snapped) anchor. Drops a trace in progress."""
        r, c = self._pixel(pt)
        self._segments = []
        self._anchor = None
        self._last = None
        win = self._make_window((r, c), (r, c))
        self._anchor = self._snapped(win, r, c)
        self._search(win)
        return self.anchor  # type: ignore[return-value]

    def preview(self, pt: Sequence[float], search: bool = True) -> np.ndarray:
        """The path from the anchor to ``pt`` (x, y), (N, 2) float x, y: call on every mouse move.

        With ``search=False`` a cursor outside the search window gets the path to the window pixel nearest to it
        instead (a traceback, never a search): a canvas can pass it while the mouse moves fast and ask again with
        ``search=True`` when the mouse rests (see :meth:`needs_search`).
        """
        return _xy(self._path_to(pt, search))

    def needs_search(self, pt: Sequence[float]) -> bool:
        """Would ``preview(pt)`` run a new search (tenths of a second) because ``pt`` left the search window?"""
        if self._anchor is None:
            return False
        r, c = self._pixel(pt)
        return self._window is None or not self._window.holds(r, c, self._edge, self.shape)

    def commit(self, pt: Sequence[float]) -> np.ndarray:
        """Keep the path anchor -> ``pt`` and start the next segment at its end; returns that segment (x, y)."""
        path = self._path_to(pt)
        if len(path) > 1:
            self._keep(path)
            self._search(self._make_window(self._anchor, self._anchor))
        return _xy(path)

    def warm(self, pt: Sequence[float], tiles: int = 1) -> bool:
        """Idle-time work: compute up to ``tiles`` ridge tiles of the window a click at ``pt`` would search (nearest
        first); True when it is complete. A GUI calls this while the mouse hovers, so the click itself only runs
        the minimal-path search."""
        r, c = self._pixel(pt)
        m = self.margin + self.snap
        return self.costs.warm(r - m, r + m + 1, c - m, c + m + 1, (r, c), tiles)

    def undo_segment(self) -> bool:
        """Drop the last committed segment (the anchor goes back to its start); False when none is left."""
        if not self._segments:
            return False
        seg = self._segments.pop()
        self._anchor = (int(seg[0, 0]), int(seg[0, 1]))
        self._last = None
        self._search(self._make_window(self._anchor, self._anchor))
        return True

    def finish(self, pt: Sequence[float] | None = None) -> Trace | None:
        """End the trace (committing ``pt`` first when given); None when nothing was traced."""
        if pt is not None and self.active:
            self.commit(pt)
        path = self._joined()
        self.cancel()
        if len(path) < 2:
            return None
        return Trace(_xy(path), self.width if self.width is not None else self.measure_width(path))

    def cancel(self) -> None:
        self._anchor = None
        self._segments = []
        self._window = None
        self._last = None

    def measure_width(self, path_rc: np.ndarray | None = None) -> float:
        """The width of the dark line along ``path_rc`` (row, col; default: the committed polyline), in pixels."""
        path = self._joined() if path_rc is None else np.asarray(path_rc)
        fallback = 2.0 * min(self.costs.sigmas) + 1.0
        if len(path) < 3:
            return fallback
        reach = 4.0 * max(self.costs.sigmas)
        h, w = self.shape
        pad = int(reach) + 2
        r0, c0 = max(int(path[:, 0].min()) - pad, 0), max(int(path[:, 1].min()) - pad, 0)
        r1, c1 = min(int(path[:, 0].max()) + pad + 1, h), min(int(path[:, 1].max()) + pad + 1, w)
        grey = self.costs.grey(r0, r1, c0, c1)
        return estimate_width(grey, path - (r0, c0), reach=reach, fallback=fallback)

    # ---------------------------------------------------------------- helpers
    def _pixel(self, pt: Sequence[float]) -> tuple[int, int]:
        h, w = self.shape
        x, y = float(pt[0]), float(pt[1])
        if not (np.isfinite(x) and np.isfinite(y)):
            raise ValueError(f"a trace point must be finite, got {tuple(pt)}")
        return min(max(int(np.floor(y)), 0), h - 1), min(max(int(np.floor(x)), 0), w - 1)

    def _make_window(self, a: tuple[int, int], p: tuple[int, int]) -> _Window:
        h, w = self.shape
        dist = float(np.hypot(a[0] - p[0], a[1] - p[1]))
        m = int(max(self.margin, dist / 4))
        r0, r1 = max(min(a[0], p[0]) - m, 0), min(max(a[0], p[0]) + m + 1, h)
        c0, c1 = max(min(a[1], p[1]) - m, 0), min(max(a[1], p[1]) + m + 1, w)
        return _Window(r0, r1, c0, c1, self.costs.cost(r0, r1, c0, c1))

    def _snapped(self, win: _Window, r: int, c: int) -> tuple[int, int]:
        """The cheapest pixel within ``snap`` px of (r, c) inside the window (ties: the nearest)."""
        if not self.snap:
            return r, c
        s = self.snap
        ra, rb = max(r - s, win.r0), min(r + s + 1, win.r1)
        ca, cb = max(c - s, win.c0), min(c + s + 1, win.c1)
        patch = win.cost[ra - win.r0:rb - win.r0, ca - win.c0:cb - win.c0]
        yy, xx = np.mgrid[ra:rb, ca:cb]
        d2 = (yy - r) ** 2 + (xx - c) ** 2
        score = np.where(d2 <= s * s, patch + 1e-6 * d2, np.inf)
        i = int(np.argmin(score))
        return int(yy.flat[i]), int(xx.flat[i])

    def _search(self, win: _Window) -> None:
        """Run the minimal-path search from the anchor over ``win`` and make it the current window."""
        assert self._anchor is not None
        win.mcp = MCP_Geometric(win.cost, fully_connected=True)
        win.mcp.find_costs([(self._anchor[0] - win.r0, self._anchor[1] - win.c0)])
        self._window = win
        self.searches += 1

    @property
    def _edge(self) -> int:
        return max(4, self.margin // 4)

    def _path_to(self, pt: Sequence[float], search: bool = True) -> np.ndarray:
        if self._anchor is None:
            raise RuntimeError("start the trace (Tracer.start) before asking for a path")
        r, c = self._pixel(pt)
        win = self._window
        if win is not None and not search:
            r, c = min(max(r, win.r0), win.r1 - 1), min(max(c, win.c0), win.c1 - 1)
        elif win is None or not win.holds(r, c, self._edge, self.shape):
            far = np.hypot(r - self._anchor[0], c - self._anchor[1]) > (self.auto_anchor or np.inf)
            if far and self._last is not None and len(self._last) > 1:
                self._keep(self._last)          # auto-anchor: the path shown last becomes a committed segment
            win = self._make_window(self._anchor, (r, c))
            self._search(win)
        r, c = self._snapped(win, r, c)
        assert win.mcp is not None
        path = np.asarray(win.mcp.traceback((r - win.r0, c - win.c0)), dtype=np.int64).reshape(-1, 2)
        self._last = path + (win.r0, win.c0)
        return self._last

    def _keep(self, path: np.ndarray) -> None:
        """Commit ``path`` (row, col) as a segment; its end becomes the anchor (the caller runs the search)."""
        self._segments.append(path)
        self._anchor = (int(path[-1, 0]), int(path[-1, 1]))
        self._last = None

    def _joined(self) -> np.ndarray:
        if not self._segments:
            return np.zeros((0, 2), np.int64)
        parts = [self._segments[0]] + [s[1:] for s in self._segments[1:]]
        return np.concatenate(parts, axis=0)


def _xy(path_rc: np.ndarray) -> np.ndarray:
    """(N, 2) row, col -> (N, 2) float x, y."""
    p = np.asarray(path_rc).reshape(-1, 2)
    return p[:, ::-1].astype(np.float64)


def apply_trace(mask: MaskModel, trace: Trace, value: int = 1) -> Rect | None:
    """Rasterise ``trace`` into ``mask`` with its width: one undoable stroke. Returns the dirty rectangle."""
    return mask.polyline(trace.points, trace.width, value)
