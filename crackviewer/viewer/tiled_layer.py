"""The viewer's raster layer: draws only the visible tiles, at the pyramid level matching the zoom.

A :class:`TiledLayer` draws from one or more :class:`~crackviewer.viewer.pyramid.Pyramid` s of the same size (the
*sources*) through a *colour function* ``colour(*tiles) -> HxWx4 premultiplied BGRA uint8 (or HxW uint32 ARGB)``,
called on demand per tile: a photo becomes opaque pixels, a mask a colour, a probability map a LUT with a threshold,
a probability map and a GT mask together a TP/FP/FN error map. Drawn tiles (QImages) live in the app's byte-bounded
LRU :func:`~crackviewer.viewer.tile_cache.shared_cache`, so memory does not grow with the image.

* Zoomed out, the level of :meth:`Pyramid.level_for_scale` is drawn (a photo's finer level shrunk smoothly, a
  mask's coarser one without smoothing so a hairline keeps its colour); magnified, level 0 with nearest-neighbour
  pixels (pixel-exact work). An image that fits in one tile has level 0 only, drawn as before.
* A repaint has a time budget for making new tiles (:func:`begin_frame`, set by the view's ``paintEvent``): a
  tile still missing when it is spent is drawn from the nearest coarser level already made (blurred for a moment)
  and made between repaints, then only its rectangle repainted, so zooming and panning never wait for a screenful
  of new tiles.
* After the sources changed under a rectangle (``pyramid.update(...)`` then :meth:`TiledLayer.invalidate`), the
  cached tiles are recoloured in that rectangle only, at every level, and only that rectangle is repainted.
  :meth:`TiledLayer.invalidate_all` after a threshold or colour change: only the tiles then on screen get
  recoloured.
* The older whole-array calls still work: :meth:`set_bgra` (a premultiplied BGRA array, mean-pooled), :meth:`set_rgb`,
  :meth:`paint_mask`, and :attr:`pixels` / :attr:`pixels32`, which render level 0 whole: for small images and tests,
  never on the paint path.
"""
from __future__ import annotations

import itertools
import math
import time
from typing import Callable, Sequence

import numpy as np
from PySide6.QtCore import QRectF, QTimer
from PySide6.QtGui import QImage, QPainter, QTransform
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem

from crackviewer.viewer.layers import premul_bgra, rgb_to_bgra
from crackviewer.viewer.pyramid import Pyramid
from crackviewer.viewer.tile_cache import TileCache, shared_cache

Colour = Callable[..., np.ndarray]
_owner_ids = itertools.count(1)
FRAME_BUDGET_S = 0.012
"""Time one repaint of a view may spend making new tiles, all its layers together."""
REFINE_BUDGET_S = 0.006
"""Time one refinement round (an event between repaints) of one layer may spend making tiles."""
_frame_deadline: list[float | None] = [None]
_frame_made = [0]


def begin_frame(budget_s: float = FRAME_BUDGET_S) -> None:
    """A view starts painting: tiles made from now on share ``budget_s`` (until :func:`end_frame`); at least one
    is made per repaint whatever the time, so the refinement always ends."""
    _frame_deadline[0] = time.perf_counter() + budget_s
    _frame_made[0] = 0


def end_frame() -> None:
    """No budget (a paint outside a view, e.g. rendering to an image, makes every tile it needs)."""
    _frame_deadline[0] = None


def _out_of_time() -> bool:
    d = _frame_deadline[0]
    return d is not None and time.perf_counter() > d


def _identity(tile: np.ndarray) -> np.ndarray:
    return tile


def to_qimage(pixels: np.ndarray) -> tuple[QImage, np.ndarray]:
    """Premultiplied BGRA (HxWx4 uint8) or ARGB (HxW uint32) -> a QImage over the same (contiguous) memory, and
    that memory (keep it alive as long as the image)."""
    a = np.ascontiguousarray(pixels)
    if a.dtype == np.uint32:
        a = a.view(np.uint8).reshape(a.shape + (4,))
    h, w = a.shape[:2]
    return QImage(a.data, w, h, w * 4, QImage.Format_ARGB32_Premultiplied), a


class TiledLayer(QGraphicsItem):
    """A raster layer drawn tile by tile from pyramids; see the module docstring."""

    def __init__(self, name: str, width: int, height: int, parent: QGraphicsItem | None = None,
                 cache: TileCache | None = None):
        super().__init__(parent)
        self.name = name
        self.setFlag(QGraphicsItem.ItemUsesExtendedStyleOption, True)
        self._cache = cache if cache is not None else shared_cache()
        self._owner = (name, next(_owner_ids))
        self._sources: list[Pyramid] = []
        self._colour: Colour = _identity
        self._size = (max(1, int(width)), max(1, int(height)))
        self._cover = self._size
        self._bgra: np.ndarray | None = None           # the array of set_bgra (legacy writes go there)
        self.tiles_drawn = 0                            # tiles drawn by the last paint (benchmarks, tests)
        self.pending = False                            # the last paint drew some tiles from a coarser level
        self._drawn_level = 0                           # the level the last paint drew
        self._refine_scheduled = False
        self._wanted: set[tuple[int, int, int]] = set()    # tiles drawn from a coarser level, to make next

    # -- sources
    def set_source(self, sources: Pyramid | Sequence[Pyramid] | None, colour: Colour | None = None) -> None:
        """Draw ``colour(*tiles)`` of ``sources`` (pyramids of one size); ``None`` clears the layer."""
        if isinstance(sources, Pyramid):
            sources = [sources]
        sources = list(sources or [])
        if sources:
            sizes = {(p.width, p.height) for p in sources}
            if len(sizes) != 1:
                raise ValueError(f"sources of different sizes: {sorted(sizes)}")
        self._cache.drop_owner(self._owner)
        self._wanted.clear()
        self._sources = sources
        self._colour = colour or _identity
        self._bgra = None
        size = (sources[0].width, sources[0].height) if sources else self._cover
        if size != self._size:
            self.prepareGeometryChange()
            self._size = size
            self._apply_cover()
        self.update()

    def set_colour(self, colour: Colour) -> None:
        """A new colour function over the same sources (threshold, colour, opacity of a class): recolour all."""
        self._colour = colour
        self.invalidate_all()

    @property
    def sources(self) -> list[Pyramid]:
        return list(self._sources)

    @property
    def has_source(self) -> bool:
        return bool(self._sources)

    # -- geometry
    def set_cover(self, width: int, height: int) -> None:
        """The image area (in scene pixels) this layer covers; a layer of another pixel size (a probability map at
        the model's input resolution over the full-resolution photo) is stretched over it."""
        self._cover = (int(width), int(height))
        if not self._sources and self._size != self._cover:
            self.prepareGeometryChange()
            self._size = self._cover
        self._apply_cover()

    def _apply_cover(self) -> None:
        (cw, ch), (w, h) = self._cover, self._size
        sx, sy = cw / w, ch / h
        self.setTransform(QTransform.fromScale(sx, sy) if (sx, sy) != (1.0, 1.0) else QTransform())

    def to_layer(self, x: float, y: float) -> tuple[int, int]:
        """Image (scene) coordinates -> this layer's pixel indices (column, row)."""
        (cw, ch), (w, h) = self._cover, self._size
        return int(np.floor(x * w / cw)), int(np.floor(y * h / ch))

    @property
    def width(self) -> int:
        return self._size[0]

    @property
    def height(self) -> int:
        return self._size[1]

    # -- repaint
    def invalidate(self, x0: int, y0: int, x1: int, y1: int) -> None:
        """The sources changed in layer pixels ``[x0, x1) x [y0, y1)`` (their pyramids already updated): the cached
        tiles over it are recoloured there, at every level, and only that rectangle is repainted.

        A colour function works pixel by pixel or looks at most one pixel around (:func:`mask_edges`), so the block
        grown by one pixel and recoloured from a margin of one more inside its tile has the pixels a whole new tile
        would have: a brush segment costs a few small blocks, not a 512x512 tile per level."""
        if self._sources:
            p, t = self._sources[0], self._sources[0].tile_size
            x0, y0, x1, y1 = max(0, int(x0)), max(0, int(y0)), int(math.ceil(x1)), int(math.ceil(y1))
            for k in range(len(p.levels)):
                f = 1 << k
                lx0, ly0, lx1, ly1 = x0 >> k, y0 >> k, -(-x1 // f), -(-y1 // f)
                for tx, ty in p.tiles_in(k, x0, y0, x1, y1):
                    item = self._cache.peek((self._owner, k, tx, ty))
                    if item is not None:
                        self._recolour(item[1], k, tx * t, ty * t, lx0, ly0, lx1, ly1)
        m = 1 << self._drawn_level             # what a neighbourhood colour may change around it, as drawn
        self.update(QRectF(x0 - m, y0 - m, x1 - x0 + 2 * m, y1 - y0 + 2 * m))

    def _recolour(self, arr: np.ndarray, k: int, ox: int, oy: int, lx0: int, ly0: int, lx1: int, ly1: int) -> None:
        """Recolour level ``k``'s pixels ``[lx0, lx1) x [ly0, ly1)`` in the cached tile ``arr`` at ``(ox, oy)``."""
        th, tw = arr.shape[:2]
        if min(lx1 - ox, tw) <= max(lx0 - ox, 0) or min(ly1 - oy, th) <= max(ly0 - oy, 0):
            return
        # the changed block grown by the one pixel a neighbourhood colour reaches, computed with a margin of one more
        bx0, by0, bx1, by1 = max(lx0 - ox - 1, 0), max(ly0 - oy - 1, 0), min(lx1 - ox + 1, tw), min(ly1 - oy + 1, th)
        mx0, my0, mx1, my1 = max(bx0 - 1, 0), max(by0 - 1, 0), min(bx1 + 1, tw), min(by1 + 1, th)
        block = self._colour(*[q.levels[k][oy + my0:oy + my1, ox + mx0:ox + mx1] for q in self._sources])
        if block.dtype == np.uint32:
            block = block.view(np.uint8).reshape(block.shape + (4,))
        arr[by0:by1, bx0:bx1] = block[by0 - my0:by1 - my0, bx0 - mx0:bx1 - mx0]

    def update_rect(self, x0: int, y0: int, x1: int, y1: int) -> None:
        """Pixels ``[x0, x1) x [y0, y1)`` of level 0 changed: update the pyramids there, then :meth:`invalidate`."""
        for p in self._sources:
            p.update(x0, y0, x1, y1)
        self.invalidate(x0, y0, x1, y1)

    def invalidate_all(self) -> None:
        """Everything changed (colour, threshold): drop every cached tile of this layer and repaint."""
        self._cache.drop_owner(self._owner)
        self.update()

    # -- whole-array calls (small images, tests)
    def set_bgra(self, bgra: np.ndarray | None) -> None:
        """Draw a premultiplied BGRA array (its own size, stretched over the covered area); ``None`` clears."""
        if bgra is None:
            self.set_source(None)
            return
        bgra = np.ascontiguousarray(bgra, np.uint8)
        self.set_source(Pyramid(bgra, "mean"))
        self._bgra = bgra

    def set_rgb(self, rgb: np.ndarray) -> None:
        """Draw an opaque RGB (or grey) image: the array itself is the pyramid's level 0 (no copy)."""
        self.set_source(Pyramid(rgb, "mean"), rgb_to_bgra)

    def clear(self) -> None:
        self.set_source(None)

    def resize(self, width: int, height: int) -> None:
        """Clear, at a new pixel size (nothing allocated)."""
        self.set_source(None)
        if (width, height) != self._size:
            self.prepareGeometryChange()
            self._size = (max(1, int(width)), max(1, int(height)))
            self._apply_cover()

    def ensure_size(self, width: int, height: int) -> None:
        """A writable transparent BGRA of this size behind :attr:`pixels` (allocated: small layers only)."""
        if self._bgra is None or (width, height) != self._size:
            self.set_bgra(np.zeros((height, width, 4), np.uint8))

    @property
    def pixels(self) -> np.ndarray:
        """Level 0 rendered whole as HxWx4 premultiplied BGRA. After :meth:`set_bgra` / :meth:`ensure_size` this is
        the layer's own array (writes show after :meth:`update_rect`); otherwise a fresh rendering."""
        if self._bgra is not None:
            return self._bgra
        if not self._sources:
            return np.zeros((self.height, self.width, 4), np.uint8)
        out = self._colour(*[p.base for p in self._sources])
        return to_qimage(out)[1]

    @property
    def pixels32(self) -> np.ndarray:
        """:attr:`pixels` seen as HxW uint32 premultiplied ARGB (one value per pixel)."""
        return self.pixels.view(np.uint32)[..., 0]

    def paint_mask(self, mask: np.ndarray, x: int, y: int, color: Sequence[int], alpha: int = 255) -> None:
        """Write a boolean patch at (x, y) into :attr:`pixels`: ``color`` where True, transparent elsewhere."""
        if self._bgra is None:
            self.ensure_size(self.width, self.height)
        h, w = mask.shape[:2]
        x0, y0 = max(0, x), max(0, y)
        x1, y1 = min(self.width, x + w), min(self.height, y + h)
        if x1 <= x0 or y1 <= y0:
            return
        region = self._bgra[y0:y1, x0:x1]
        region[...] = 0
        region[mask[y0 - y:y1 - y, x0 - x:x1 - x].astype(bool)] = premul_bgra(color, alpha)
        self.update_rect(x0, y0, x1, y1)

    # -- QGraphicsItem
    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, self.width, self.height)

    def _cached(self, level: int, tx: int, ty: int) -> QImage | None:
        item = self._cache.get((self._owner, level, tx, ty))
        return None if item is None else item[0]

    def _make(self, level: int, tx: int, ty: int) -> QImage:
        img, arr = to_qimage(self._colour(*[p.tile(level, tx, ty) for p in self._sources]))
        self._cache.put((self._owner, level, tx, ty), (img, arr), arr.nbytes)
        return img

    def _draw_coarser(self, painter: QPainter, level: int, tx: int, ty: int) -> None:
        """Tile ``(level, tx, ty)`` drawn from the nearest coarser level already made (the coarsest level, one
        tile for the whole image, is made when none is)."""
        pyr = self._sources[0]
        x0, y0, x1, y1 = pyr.tile_rect(level, tx, ty)
        top = len(pyr.levels) - 1
        for k in range(level + 1, top + 1):
            ctx, cty = tx >> (k - level), ty >> (k - level)
            img = self._cached(k, ctx, cty)
            if img is None and k == top:
                img = self._make(k, 0, 0)
            if img is not None:
                f, t = 1 << k, pyr.tile_size
                src = QRectF(x0 / f - ctx * t, y0 / f - cty * t, (x1 - x0) / f, (y1 - y0) / f)
                painter.drawImage(QRectF(x0, y0, x1 - x0, y1 - y0), img, src)
                return

    def _refine(self) -> None:
        """Make the tiles the last repaint drew from a coarser level, for at most :data:`REFINE_BUDGET_S`, and repaint
        just their rectangles (cheap: the tiles are made by then); the rest in the next round."""
        self._refine_scheduled = False
        try:
            deadline = time.perf_counter() + REFINE_BUDGET_S
            for key in list(self._wanted):
                self._wanted.discard(key)
                level, tx, ty = key
                if not self._sources or level >= len(self._sources[0].levels):
                    continue
                if level != self._drawn_level:
                    continue                    # the view has moved to another level since
                if self._cached(level, tx, ty) is None:
                    self._make(level, tx, ty)
                x0, y0, x1, y1 = self._sources[0].tile_rect(level, tx, ty)
                self.update(QRectF(x0, y0, x1 - x0, y1 - y0))
                if time.perf_counter() > deadline:
                    break
            self.pending = bool(self._wanted)
            if self._wanted:
                self._refine_scheduled = True
                QTimer.singleShot(0, self._refine)
        except RuntimeError:          # the item was deleted meanwhile
            pass

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget=None) -> None:
        self.tiles_drawn = 0
        self.pending = bool(self._wanted)
        if not self._sources:
            return
        bounds = self.boundingRect()
        r = option.exposedRect.intersected(bounds)
        if r.isEmpty():
            return
        t = painter.worldTransform()
        scale = math.hypot(t.m11(), t.m12())
        pyr = self._sources[0]
        level = self._drawn_level = pyr.level_for_scale(scale)
        f = 1 << level
        # nearest-neighbour when magnified (pixel-exact work), smooth when shrunk
        smooth = scale * f < 1.0
        painter.setRenderHint(QPainter.SmoothPixmapTransform, smooth)
        w, h = self.width, self.height
        for tx, ty in pyr.tiles_in(level, r.left(), r.top(), r.right(), r.bottom()):
            img = self._cached(level, tx, ty)
            if img is None:
                if _frame_made[0] and _out_of_time():
                    # over budget: a coarser level's pixels now, this tile in a following repaint
                    painter.setRenderHint(QPainter.SmoothPixmapTransform, pyr.mode == "mean")
                    self._draw_coarser(painter, level, tx, ty)
                    painter.setRenderHint(QPainter.SmoothPixmapTransform, smooth)
                    self._wanted.add((level, tx, ty))
                    continue
                img = self._make(level, tx, ty)
                _frame_made[0] += 1
            self._wanted.discard((level, tx, ty))
            x0, y0 = tx * pyr.tile_size * f, ty * pyr.tile_size * f
            # a tile of a coarse level may reach past the image by less than one of its pixels: clip it
            tw, th = min(img.width() * f, w - x0), min(img.height() * f, h - y0)
            painter.drawImage(QRectF(x0, y0, tw, th), img, QRectF(0, 0, tw / f, th / f))
            self.tiles_drawn += 1
        self.pending = bool(self._wanted)
        if self.pending and not self._refine_scheduled:
            self._refine_scheduled = True
            QTimer.singleShot(0, self._refine)
