"""The colour helpers of the viewer's raster layers (premultiplied BGRA pixels, colour LUTs, mask and error-map
colours) and its vector contour items (:class:`ContourItem`, :func:`mask_contours`). The raster layer itself is
:class:`crackviewer.viewer.tiled_layer.TiledLayer`."""
from __future__ import annotations

from typing import Iterable, Sequence

import cv2
import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsPathItem

from figures import colors


def rgb_to_bgra(rgb: np.ndarray) -> np.ndarray:
    """HxWx3 RGB or HxW grey uint8 -> opaque HxWx4 BGRA."""
    a = np.asarray(rgb)
    if a.dtype != np.uint8:
        raise TypeError(f"expected uint8 pixels, got {a.dtype}")
    return cv2.cvtColor(a, cv2.COLOR_GRAY2BGRA if a.ndim == 2 else cv2.COLOR_RGB2BGRA)


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


def premul_bgra(color: Sequence[int], alpha: int = 255) -> np.ndarray:
    r, g, b = (int(c) for c in color[:3])
    return np.array([b * alpha // 255, g * alpha // 255, r * alpha // 255, alpha], np.uint8)


def mask_to_bgra(mask: np.ndarray, color: Sequence[int], alpha: int = 255) -> np.ndarray:
    """Boolean HxW mask -> premultiplied BGRA: ``color`` where True, transparent elsewhere."""
    out = np.zeros(mask.shape + (4,), np.uint8)
    out[mask.astype(bool)] = premul_bgra(color, alpha)
    return out


def error_map_bgra(pred: np.ndarray, gt: np.ndarray, alpha: int = 255) -> np.ndarray:
    """Pixel TP/FP/FN map (colours of :mod:`figures.colors`; TN transparent) as premultiplied BGRA."""
    pred = pred.astype(bool)
    gt = gt.astype(bool)
    table = np.stack([np.zeros(4, np.uint8), premul_bgra(colors.FN, alpha), premul_bgra(colors.FP, alpha),
                      premul_bgra(colors.TP, alpha)])
    code = pred.astype(np.uint8) * 2 + gt.astype(np.uint8)       # 0 TN, 1 FN, 2 FP, 3 TP
    return table[code]


def lut_u32(lut: np.ndarray) -> np.ndarray:
    """A Nx4 premultiplied BGRA table (:func:`color_lut`) as N uint32 ARGB values: ``lut_u32(t)[codes]`` colours a
    tile several times faster than ``t[codes]``."""
    return np.ascontiguousarray(lut, np.uint8).view(np.uint32).ravel()


def mask_edges(mask: np.ndarray) -> np.ndarray:
    """The pixels just outside a {0,1} uint8 mask (its 3x3 dilation minus the mask) as {0,1} uint8: an outline
    drawn as pixels that, like a vector contour, leaves the mask's own pixels (a hairline crack) visible. Outside the
    array counts as continuing its border, so a tile of a larger mask gets no false outline along its sides."""
    ring = cv2.dilate(mask, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_REPLICATE)
    return ring & ~mask & 1


def premul_u32(color: Sequence[int], alpha: int = 255) -> int:
    """A colour as one premultiplied ARGB32 pixel value (the uint32 seen through :attr:`TiledLayer.pixels32`)."""
    b, g, r, a = (int(x) for x in premul_bgra(color, alpha))
    return (a << 24) | (r << 16) | (g << 8) | b


CONTOUR_MAX_PIXELS = 2048 * 2048
"""Masks larger than this (4 MP) get no vector contours: the outline of a 4000x3000 mask of cracks has about 100,000
vertices, 0.2 s to trace and 50-100 ms to stroke on every repaint (zoom and pan would stall). The viewers draw
such outlines as pixels instead (:func:`mask_edges` per tile)."""


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
