"""What a SampleViewer shows over the image: raster layers (premultiplied BGRA pixels, colour LUTs) and contour
items, plus the colour-conversion helpers they use."""
from __future__ import annotations

from typing import Iterable, Sequence

import cv2
import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QImage, QPainter, QPainterPath, QPen, QTransform
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem, QStyleOptionGraphicsItem

from figures import colors


def rgb_to_bgra(rgb: np.ndarray) -> np.ndarray:
    """HxWx3 RGB or HxW grey uint8 -> opaque HxWx4 BGRA."""
    a = np.asarray(rgb)
    if a.dtype != np.uint8:
        raise TypeError(f"expected uint8 pixels, got {a.dtype}")
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    out = np.empty(a.shape[:2] + (4,), np.uint8)
    out[..., 0:3] = a[..., 2::-1]
    out[..., 3] = 255
    return out


def color_lut(colormap: str = "inferno", min_alpha: int = 0, max_alpha: int = 235, gamma: float = 0.7) -> np.ndarray:
    """256x4 premultiplied BGRA lookup table for probability heatmaps: colour from a pyqtgraph colormap and
    alpha growing with the probability (low probabilities stay see-through)."""
    rgb = pg.colormap.get(colormap).getLookupTable(nPts=256, alpha=False).astype(np.float32)
    p = np.linspace(0.0, 1.0, 256, dtype=np.float32)
    alpha = (min_alpha + (max_alpha - min_alpha) * p ** gamma).astype(np.float32)
    lut = np.empty((256, 4), np.uint8)
    lut[:, 0:3] = np.round(rgb[:, ::-1] * alpha[:, None] / 255.0).astype(np.uint8)
    lut[:, 3] = np.round(alpha).astype(np.uint8)
    return lut


def _premul(color: Sequence[int], alpha: int = 255) -> np.ndarray:
    r, g, b = (int(c) for c in color[:3])
    return np.array([b * alpha // 255, g * alpha // 255, r * alpha // 255, alpha], np.uint8)


def mask_to_bgra(mask: np.ndarray, color: Sequence[int], alpha: int = 255) -> np.ndarray:
    """Boolean HxW mask -> premultiplied BGRA: ``color`` where True, transparent elsewhere."""
    out = np.zeros(mask.shape + (4,), np.uint8)
    out[mask.astype(bool)] = _premul(color, alpha)
    return out


def error_map_bgra(pred: np.ndarray, gt: np.ndarray, alpha: int = 255) -> np.ndarray:
    """Pixel TP/FP/FN map (colours of :mod:`figures.colors`; TN transparent) as premultiplied BGRA."""
    pred = pred.astype(bool)
    gt = gt.astype(bool)
    table = np.stack([np.zeros(4, np.uint8), _premul(colors.FN, alpha), _premul(colors.FP, alpha),
                      _premul(colors.TP, alpha)])
    code = pred.astype(np.uint8) * 2 + gt.astype(np.uint8)       # 0 TN, 1 FN, 2 FP, 3 TP
    return table[code]


def premul_u32(color: Sequence[int], alpha: int = 255) -> int:
    """A colour as one premultiplied ARGB32 pixel value (the uint32 seen through :attr:`RasterLayer.pixels32`)."""
    b, g, r, a = (int(x) for x in _premul(color, alpha))
    return (a << 24) | (r << 16) | (g << 8) | b


def mask_contours(mask: np.ndarray) -> list[np.ndarray]:
    """Outer and inner contours of a binary mask as a list of Nx2 float arrays (x, y) on pixel edges."""
    m = (np.asarray(mask) > 0).astype(np.uint8)
    if not m.any():
        return []
    # upscale x2 so contours trace pixel *edges* (a one-pixel crack gets a thin closed outline, not a point)
    big = cv2.resize(m, (m.shape[1] * 2, m.shape[0] * 2), interpolation=cv2.INTER_NEAREST)
    found = cv2.findContours(big, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    cnts = found[0] if len(found) == 2 else found[1]
    out = []
    for c in cnts:
        pts = c.reshape(-1, 2).astype(np.float64)
        # contour pixel centres in the x2 grid -> edges in the original grid
        pts = (pts + 0.5) / 2.0
        out.append(pts)
    return out


class RasterLayer(QGraphicsItem):
    """An image layer whose pixels live in :attr:`pixels`, a writable HxWx4 uint8 numpy array (premultiplied BGRA)
    that backs the QImage drawn on screen. Write into it, then call :meth:`update_rect` for the changed region."""

    def __init__(self, name: str, width: int, height: int, parent: QGraphicsItem | None = None):
        super().__init__(parent)
        self.name = name
        self.setFlag(QGraphicsItem.ItemUsesExtendedStyleOption, True)
        self._cover = (width, height)
        self._alloc(width, height)

    # -- storage
    def _alloc(self, width: int, height: int) -> None:
        self.prepareGeometryChange()
        self._pixels = np.zeros((max(1, height), max(1, width), 4), np.uint8)
        self._qimage = QImage(self._pixels.data, self._pixels.shape[1], self._pixels.shape[0],
                              self._pixels.shape[1] * 4, QImage.Format_ARGB32_Premultiplied)
        self._apply_cover()

    def set_cover(self, width: int, height: int) -> None:
        """The image area (in scene pixels) this layer covers. A layer whose own pixel size differs (e.g. a
        probability map at the model's input resolution over the full-resolution photo) is stretched to cover it."""
        self._cover = (int(width), int(height))
        self._apply_cover()

    def _apply_cover(self) -> None:
        cw, ch = self._cover
        sx, sy = cw / self._pixels.shape[1], ch / self._pixels.shape[0]
        self.setTransform(QTransform.fromScale(sx, sy) if (sx, sy) != (1.0, 1.0) else QTransform())

    def to_layer(self, x: float, y: float) -> tuple[int, int]:
        """Image (scene) coordinates -> this layer's pixel indices (column, row)."""
        cw, ch = self._cover
        return (int(np.floor(x * self._pixels.shape[1] / cw)), int(np.floor(y * self._pixels.shape[0] / ch)))

    @property
    def pixels(self) -> np.ndarray:
        """HxWx4 premultiplied BGRA; writes show up after :meth:`update_rect`."""
        return self._pixels

    @property
    def pixels32(self) -> np.ndarray:
        """The same memory as :attr:`pixels` seen as HxW uint32 premultiplied ARGB (one value per pixel): the fast
        way to write a whole layer through a lookup table (``np.take(lut32, codes, out=layer.pixels32)``)."""
        return self._pixels.view(np.uint32)[..., 0]

    def ensure_size(self, width: int, height: int) -> None:
        """Reallocate (transparent) only if the pixel size differs."""
        if (width, height) != (self.width, self.height):
            self._alloc(width, height)

    @property
    def width(self) -> int:
        return self._pixels.shape[1]

    @property
    def height(self) -> int:
        return self._pixels.shape[0]

    def resize(self, width: int, height: int) -> None:
        """Reallocate (transparent) at a new pixel size (still stretched over the covered image area)."""
        if (width, height) != (self.width, self.height):
            self._alloc(width, height)
        else:
            self._pixels[...] = 0
        self.update()

    def set_bgra(self, bgra: np.ndarray | None) -> None:
        """Replace all pixels (premultiplied BGRA; storage follows the array's size and is stretched over the image
        when that differs); ``None`` clears the layer."""
        if bgra is None:
            self._pixels[...] = 0
        else:
            h, w = bgra.shape[:2]
            if (w, h) != (self.width, self.height):
                self._alloc(w, h)
            self._pixels[...] = bgra
        self.update()

    def set_rgb(self, rgb: np.ndarray) -> None:
        """Replace all pixels by an opaque RGB (or grey) image."""
        self.set_bgra(rgb_to_bgra(rgb))

    def clear(self) -> None:
        self.set_bgra(None)

    def paint_mask(self, mask: np.ndarray, x: int, y: int, color: Sequence[int], alpha: int = 255) -> None:
        """Write a boolean patch at (x, y): ``color`` where True, transparent where False; repaint only that rect."""
        h, w = mask.shape[:2]
        x0, y0 = max(0, x), max(0, y)
        x1, y1 = min(self.width, x + w), min(self.height, y + h)
        if x1 <= x0 or y1 <= y0:
            return
        sub = mask[y0 - y:y1 - y, x0 - x:x1 - x].astype(bool)
        region = self._pixels[y0:y1, x0:x1]
        region[...] = 0
        region[sub] = _premul(color, alpha)
        self.update_rect(x0, y0, x1, y1)

    def update_rect(self, x0: int, y0: int, x1: int, y1: int) -> None:
        """Schedule a repaint of pixels [x0, x1) x [y0, y1) only."""
        self.update(QRectF(x0, y0, x1 - x0, y1 - y0))

    # -- QGraphicsItem
    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, self.width, self.height)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget=None) -> None:
        r = option.exposedRect.intersected(self.boundingRect()).toAlignedRect()
        if r.isEmpty():
            return
        scale = painter.worldTransform().m11()
        # nearest-neighbour when magnified (pixel-exact work), smooth when shrunk
        painter.setRenderHint(QPainter.SmoothPixmapTransform, scale < 1.0)
        painter.drawImage(QRectF(r), self._qimage, QRectF(r))


class ContourItem(QGraphicsPathItem):
    """Polylines (e.g. a GT outline) drawn with a cosmetic pen: crisp at every zoom."""

    def __init__(self, color: Sequence[int] = colors.GT_CONTOUR, width: float = 1.6, parent=None):
        super().__init__(parent)
        pen = QPen(QColor(*color[:3]))
        pen.setCosmetic(True)
        pen.setWidthF(width)
        pen.setJoinStyle(Qt.RoundJoin)
        self.setPen(pen)
        self.setBrush(QBrush(Qt.NoBrush))

    def set_contours(self, contours: Iterable[np.ndarray]) -> None:
        path = QPainterPath()
        for pts in contours:
            if len(pts) == 0:
                continue
            path.moveTo(float(pts[0][0]), float(pts[0][1]))
            for x, y in pts[1:]:
                path.lineTo(float(x), float(y))
            path.closeSubpath()
        self.setPath(path)
