"""Zoomable image viewer with raster overlay layers (inspection and annotation share it).

Two levels:

* :class:`SampleViewer` — a generic ``QGraphicsView``: one base image plus any number of named
  :class:`RasterLayer` overlays (and vector items such as contours). Wheel zooms under the mouse, dragging pans,
  :meth:`SampleViewer.fit` / :meth:`SampleViewer.zoom_1to1`. It knows nothing about cracks or metrics.
* :class:`CrackOverlayView` — a widget built on it for crack inspection: the image with a GT contour, the predicted
  mask, a probability heatmap and a pixel TP/FP/FN error map (colours from :mod:`crackviewer.colors`), an opacity
  setting, and a side-by-side mode (GT | prediction) whose two views pan and zoom together.

Editable overlay layers (API for painting tools)
------------------------------------------------
A :class:`RasterLayer` keeps its pixels in a numpy array that *is* the memory of the QImage it paints, so a tool
writes pixels and asks for a repaint of just the changed rectangle::

    layer = viewer.add_layer("mask", z=10, opacity=0.6)     # transparent, same size as the image
    layer.paint_mask(mask[y0:y1, x0:x1], x0, y0, color=(230, 159, 0))   # writes + repaints only that rectangle
    # or, low level: write premultiplied BGRA into layer.pixels[y0:y1, x0:x1] then layer.update_rect(x0, y0, x1, y1)

:meth:`SampleViewer.set_image` resets every raster layer to the image size (transparent). A layer given an array of
another size with :meth:`RasterLayer.set_bgra` keeps that resolution and is stretched over the image (used for maps
at the model's input resolution); :meth:`RasterLayer.to_layer` maps image coordinates to its pixels.

Mouse input goes to an optional *tool* first (``viewer.set_tool(tool)``): an object with
``press(viewer, pos, event)``, ``move(viewer, pos, event)`` and ``release(viewer, pos, event)`` methods, where ``pos``
is a ``QPointF`` in image pixel coordinates. A method returning ``True`` consumes the event; otherwise the left button
pans. The middle button always pans, the wheel always zooms. ``viewer.hovered`` reports the pixel under the cursor.
"""
from __future__ import annotations

import weakref
from typing import Iterable, Sequence

import cv2
import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (QBrush, QColor, QImage, QPainter, QPainterPath, QPen, QTransform)
from PySide6.QtWidgets import (QFrame, QGraphicsItem, QGraphicsPathItem, QGraphicsScene, QGraphicsView,
                               QHBoxLayout, QLabel, QSizePolicy, QStyleOptionGraphicsItem, QVBoxLayout, QWidget)

from crackviewer import colors

MIN_SCALE = 1 / 64
MAX_SCALE = 64.0


from crackviewer.qt.qt_compat import guard_none_refcount  # noqa: E402,F401  (applied on package import)

# ---------------------------------------------------------------------------------------------------------------
# pixel helpers (numpy; all colours are straight RGB tuples, layers store premultiplied BGRA = QImage ARGB32_Premul)


def rgba_to_bgra_premultiplied(rgba: np.ndarray) -> np.ndarray:
    """HxWx4 straight-alpha RGBA (uint8) -> HxWx4 premultiplied BGRA, the memory order of QImage.Format_ARGB32_Premultiplied."""
    rgba = np.asarray(rgba, dtype=np.uint8)
    out = np.empty_like(rgba)
    a = rgba[..., 3:4].astype(np.uint16)
    out[..., 0:3] = ((rgba[..., 2::-1].astype(np.uint16) * a + 127) // 255).astype(np.uint8)
    out[..., 3] = rgba[..., 3]
    return out


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
    import pyqtgraph as pg

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
    """Pixel TP/FP/FN map (colours of :mod:`crackviewer.colors`; TN transparent) as premultiplied BGRA."""
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


# ---------------------------------------------------------------------------------------------------------------
# graphics items


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

    def set_rgba(self, rgba: np.ndarray) -> None:
        """Replace all pixels from a straight-alpha RGBA array."""
        self.set_bgra(rgba_to_bgra_premultiplied(rgba))

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

    def write_bgra(self, patch: np.ndarray, x: int, y: int) -> None:
        """Write a premultiplied BGRA patch at (x, y) and repaint only that rectangle."""
        h, w = patch.shape[:2]
        x0, y0 = max(0, x), max(0, y)
        x1, y1 = min(self.width, x + w), min(self.height, y + h)
        if x1 <= x0 or y1 <= y0:
            return
        self._pixels[y0:y1, x0:x1] = patch[y0 - y:y1 - y, x0 - x:x1 - x]
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


# ---------------------------------------------------------------------------------------------------------------
# the view


class SampleViewer(QGraphicsView):
    """Generic zoom/pan image view with named overlay layers. See the module docstring for the layer/tool API."""

    hovered = Signal(int, int)          # image pixel under the cursor (-1, -1 when outside)
    viewChanged = Signal()              # zoom or scroll changed (used to link views)
    zoomChanged = Signal(float)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setBackgroundBrush(QColor(38, 40, 44))
        self.setFrameShape(QFrame.NoFrame)
        self.setRenderHint(QPainter.SmoothPixmapTransform, True)
        self.setTransformationAnchor(QGraphicsView.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.MinimalViewportUpdate)
        self.setOptimizationFlag(QGraphicsView.DontAdjustForAntialiasing, True)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.StrongFocus)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)     # pan by dragging; bars only eat room
        self.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.base = RasterLayer("image", 1, 1)
        self.base.setZValue(0)
        self.scene().addItem(self.base)
        self._layers: dict[str, QGraphicsItem] = {}
        self._fit_mode = True
        self._tool = None
        self._pan_from: QPointF | None = None
        self._tool_active = False
        self.horizontalScrollBar().valueChanged.connect(self._emit_view_changed)
        self.verticalScrollBar().valueChanged.connect(self._emit_view_changed)

    # -- image
    def set_image(self, rgb: np.ndarray, keep_view: bool = True) -> None:
        """Show a new base image (HxWx3 RGB or HxW grey, uint8). Layers are resized (cleared) to match.
        ``keep_view``: keep zoom and position when the size is unchanged (next/previous sample)."""
        h, w = rgb.shape[:2]
        same = (w, h) == (self.base.width, self.base.height)
        self.base.set_rgb(rgb)
        self.base.set_cover(w, h)
        for layer in self._layers.values():
            if isinstance(layer, RasterLayer):
                layer.set_cover(w, h)
                if (layer.width, layer.height) != (w, h):
                    layer.resize(w, h)
        self.scene().setSceneRect(QRectF(0, 0, w, h))
        if not (same and keep_view) or self._fit_mode:
            self.fit()

    def image_size(self) -> tuple[int, int]:
        """(width, height) of the base image."""
        return self.base.width, self.base.height

    # -- layers
    def add_layer(self, name: str, z: float = 1.0, opacity: float = 1.0) -> RasterLayer:
        """A transparent raster layer the size of the image, drawn above layers with a lower ``z``."""
        if name in self._layers:
            raise ValueError(f"layer {name!r} exists")
        layer = RasterLayer(name, self.base.width, self.base.height)
        layer.set_cover(self.base.width, self.base.height)
        layer.setZValue(z)
        layer.setOpacity(opacity)
        self.scene().addItem(layer)
        self._layers[name] = layer
        return layer

    def add_item(self, name: str, item: QGraphicsItem, z: float = 1.0) -> QGraphicsItem:
        """Add a vector item (e.g. :class:`ContourItem`) under a name; it uses image pixel coordinates."""
        if name in self._layers:
            raise ValueError(f"layer {name!r} exists")
        item.setZValue(z)
        self.scene().addItem(item)
        self._layers[name] = item
        return item

    def layer(self, name: str) -> QGraphicsItem:
        return self._layers[name]

    def layer_names(self) -> list[str]:
        return list(self._layers)

    def remove_layer(self, name: str) -> None:
        item = self._layers.pop(name)
        self.scene().removeItem(item)

    def set_layer_visible(self, name: str, visible: bool) -> None:
        self._layers[name].setVisible(bool(visible))

    def set_layer_opacity(self, name: str, opacity: float) -> None:
        self._layers[name].setOpacity(float(opacity))

    # -- zoom
    def scale_factor(self) -> float:
        return self.transform().m11()

    def fit(self) -> None:
        """Fit the whole image in the view (and keep fitting on resize until the user zooms)."""
        self._fit_mode = True
        r = self.scene().sceneRect()
        if r.width() <= 0 or r.height() <= 0 or self.viewport().width() < 2:
            return
        self.fitInView(r, Qt.KeepAspectRatio)
        self.zoomChanged.emit(self.scale_factor())
        self._emit_view_changed()

    def zoom_1to1(self) -> None:
        """One image pixel per screen pixel, centred where the view was centred."""
        centre = self.mapToScene(self.viewport().rect().center())
        self._fit_mode = False
        self.setTransform(QTransform())
        self.centerOn(centre)
        self.zoomChanged.emit(1.0)
        self._emit_view_changed()

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        """Multiply the zoom by ``factor`` (clamped), keeping ``anchor`` (viewport coords) fixed on screen."""
        s = self.scale_factor()
        factor = max(MIN_SCALE / s, min(MAX_SCALE / s, factor))
        if abs(factor - 1.0) < 1e-9:
            return
        self._fit_mode = False
        if anchor is not None:
            before = self.mapToScene(anchor.toPoint())
            self.setTransformationAnchor(QGraphicsView.NoAnchor)
            self.scale(factor, factor)
            after = self.mapToScene(anchor.toPoint())
            d = after - before
            self.translate(d.x(), d.y())
            self.setTransformationAnchor(QGraphicsView.AnchorUnderMouse)
        else:
            self.setTransformationAnchor(QGraphicsView.AnchorViewCenter)
            self.scale(factor, factor)
            self.setTransformationAnchor(QGraphicsView.AnchorUnderMouse)
        self.zoomChanged.emit(self.scale_factor())
        self._emit_view_changed()

    def view_center(self) -> QPointF:
        return self.mapToScene(self.viewport().rect().center())

    def set_view(self, scale: float, center: QPointF) -> None:
        """Set zoom and centre (used to link views)."""
        self._fit_mode = False
        self.setTransform(QTransform.fromScale(scale, scale))
        self.centerOn(center)

    # -- tools
    def set_tool(self, tool) -> None:
        """Install a mouse tool (see module docstring) or ``None`` for pan-only."""
        self._tool = tool
        self._tool_active = False

    def tool(self):
        return self._tool

    def image_pos(self, view_pos) -> QPointF:
        """Viewport position -> image pixel coordinates (floating point)."""
        return self.mapToScene(view_pos.toPoint() if hasattr(view_pos, "toPoint") else view_pos)

    # -- events
    def _emit_view_changed(self, *args) -> None:
        self.viewChanged.emit()

    def wheelEvent(self, event) -> None:
        delta = event.angleDelta().y() or event.angleDelta().x()
        if delta == 0:
            return
        self.zoom_by(1.0015 ** delta, event.position())
        event.accept()

    def mousePressEvent(self, event) -> None:
        pos = self.image_pos(event.position())
        if event.button() == Qt.LeftButton and self._tool is not None and self._tool.press(self, pos, event):
            self._tool_active = True
            event.accept()
            return
        if event.button() in (Qt.LeftButton, Qt.MiddleButton):
            self._pan_from = event.position()
            self.viewport().setCursor(Qt.ClosedHandCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        pos = self.image_pos(event.position())
        x, y = int(np.floor(pos.x())), int(np.floor(pos.y()))
        inside = 0 <= x < self.base.width and 0 <= y < self.base.height
        self.hovered.emit(x if inside else -1, y if inside else -1)
        if self._tool_active and self._tool is not None:
            self._tool.move(self, pos, event)
            event.accept()
            return
        if self._pan_from is not None:
            d = event.position() - self._pan_from
            self._pan_from = event.position()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - int(round(d.x())))
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - int(round(d.y())))
            self._fit_mode = False
            event.accept()
            return
        if self._tool is not None and hasattr(self._tool, "hover"):
            self._tool.hover(self, pos, event)
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        if self._tool_active and self._tool is not None:
            self._tool_active = False
            self._tool.release(self, self.image_pos(event.position()), event)
            event.accept()
            return
        if self._pan_from is not None:
            self._pan_from = None
            self.viewport().unsetCursor()
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def leaveEvent(self, event) -> None:
        self.hovered.emit(-1, -1)
        super().leaveEvent(event)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._fit_mode:
            self.fit()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._fit_mode:
            self.fit()


class ViewLink:
    """Keeps several :class:`SampleViewer` s at the same zoom and centre (side-by-side comparison)."""

    def __init__(self, views: Sequence[SampleViewer]):
        self._views = [weakref.ref(v) for v in views]
        self._busy = False
        for v in views:
            v.viewChanged.connect(lambda v=v: self._sync(v))

    def _sync(self, source: SampleViewer) -> None:
        if self._busy or not source.isVisible():
            return
        self._busy = True
        try:
            scale, centre = source.scale_factor(), source.view_center()
            for ref in self._views:
                v = ref()
                if v is not None and v is not source and v.isVisible():
                    v.set_view(scale, centre)
                    v._fit_mode = source._fit_mode
        finally:
            self._busy = False


# ---------------------------------------------------------------------------------------------------------------
# crack inspection composition


OVERLAYS = ("gt", "pred", "heatmap", "errors")
OVERLAY_TITLES = {"gt": "GT contour", "pred": "Predicted mask", "heatmap": "Probability heatmap",
                  "errors": "Error map (TP/FP/FN)"}


def prob_to_bin_lut(bins: int) -> np.ndarray:
    """For 8-bit probability maps: histogram bin index of each stored value v (p = v/255), as in the eval histograms."""
    v = np.arange(256, dtype=np.float64) / 255.0
    return np.minimum((v * bins).astype(np.int64), bins - 1)


class CrackOverlayView(QWidget):
    """Image + GT contour + predicted mask + heatmap + TP/FP/FN error map, single or side by side (GT | prediction).

    Feed it a sample with :meth:`set_sample` (image, GT mask and 8-bit probability map, all at image resolution),
    then :meth:`set_threshold` (a histogram bin index ``k`` of ``bins``: a pixel is predicted crack when
    ``bin(p) >= k``, exactly the rule of the evaluation histograms) and :meth:`set_gated`.
    """

    def __init__(self, parent: QWidget | None = None, bins: int = 4096):
        super().__init__(parent)
        self.bins = bins
        self._bin_lut = prob_to_bin_lut(bins)
        self._heat_lut = color_lut("inferno")
        self._image: np.ndarray | None = None
        self._gt: np.ndarray | None = None
        self._gt_eval: np.ndarray | None = None
        self._prob: np.ndarray | None = None
        self._k = bins // 2
        self._gated = False
        self._visible = {"gt": True, "pred": False, "heatmap": False, "errors": True}
        self._opacity = 0.7
        self._side_by_side = False
        self._code16: np.ndarray | None = None
        self._stale: set[str] = set()
        self._pred_u32 = premul_u32(colors.PRED)
        self._tp_u32 = premul_u32(colors.TP)
        self._fp_u32 = premul_u32(colors.FP)
        self._fn_u32 = premul_u32(colors.FN)

        self.left = SampleViewer(self)
        self.right = SampleViewer(self)
        self._left_title = self._title_label("Ground truth")
        self._right_title = self._title_label("Prediction")
        for v in (self.left, self.right):
            v.add_layer("heatmap", z=1)
            v.add_layer("pred", z=2)
            v.add_layer("errors", z=3)
            v.add_item("gt", ContourItem(colors.GT_CONTOUR), z=5)
        self.left.add_layer("gt_fill", z=4)
        self._link = ViewLink([self.left, self.right])
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        self._columns = []
        for title, view in ((self._left_title, self.left), (self._right_title, self.right)):
            box = QWidget(self)
            col = QVBoxLayout(box)
            col.setContentsMargins(0, 0, 0, 0)
            col.setSpacing(0)
            col.addWidget(title)
            col.addWidget(view, 1)
            lay.addWidget(box, 1)
            self._columns.append(box)
        self._apply_mode()

    @staticmethod
    def _title_label(text: str) -> QLabel:
        lab = QLabel(text)
        lab.setAlignment(Qt.AlignCenter)
        lab.setStyleSheet("background:#26282c;color:#d8d8d8;padding:2px;font-weight:600;")
        return lab

    # -- inputs
    def set_sample(self, image: np.ndarray, gt: np.ndarray | None, prob8: np.ndarray | None,
                   gt_eval: np.ndarray | None = None, *, threshold: int | None = None,
                   gated: bool | None = None) -> None:
        """Show a sample.

        ``image``: HxWx3 uint8 RGB (full resolution). ``gt``: HxW {0,1} mask at image resolution, for the contour
        (None: no mask). ``prob8``: uint8 probability*255 map, at any resolution (the model's input size: it is
        stretched over the image). ``gt_eval``: the GT at the map's resolution as the evaluation used it, for the
        pixel error map (default: ``gt`` resized to the map with area averaging, > 0.5). ``threshold`` and
        ``gated``: as :meth:`set_threshold` / :meth:`set_gated`, applied before the first render.
        """
        if threshold is not None:
            self._k = int(threshold)
        if gated is not None:
            self._gated = bool(gated)
        self._code16 = None
        self._image = image
        self._gt = None if gt is None else (np.asarray(gt) > 0)
        self._prob = prob8
        if prob8 is not None:
            if gt_eval is None and self._gt is not None:
                ph, pw = prob8.shape[:2]
                g = self._gt.astype(np.uint8) * 255
                if g.shape != (ph, pw):
                    g = cv2.resize(g, (pw, ph), interpolation=cv2.INTER_AREA)
                gt_eval = g > 127
            self._gt_eval = None if gt_eval is None else (np.asarray(gt_eval) > 0)
        else:
            self._gt_eval = None
        self.right.set_image(image)
        self.left.set_image(image)
        contours = mask_contours(self._gt) if self._gt is not None else []
        for v in (self.left, self.right):
            v.layer("gt").set_contours(contours)
        if self._gt is not None:
            self.left.layer("gt_fill").set_bgra(mask_to_bgra(self._gt, colors.GT_CONTOUR, 150))
        else:
            self.left.layer("gt_fill").clear()
        self._render_heatmap()
        self._render_prediction()

    def set_threshold(self, k: int) -> None:
        k = int(k)
        if k != self._k:
            self._k = k
            self._render_prediction()

    def set_gated(self, gated: bool) -> None:
        gated = bool(gated)
        if gated != self._gated:
            self._gated = gated
            self._render_prediction()

    def set_overlay_visible(self, name: str, visible: bool) -> None:
        if name not in OVERLAYS:
            raise KeyError(name)
        self._visible[name] = bool(visible)
        if visible and name in self._stale:
            self._render_prediction()
        self._apply_mode()

    def overlay_visible(self, name: str) -> bool:
        return self._visible[name]

    def toggle_overlay(self, name: str) -> bool:
        self.set_overlay_visible(name, not self._visible[name])
        return self._visible[name]

    def set_opacity(self, opacity: float) -> None:
        self._opacity = float(opacity)
        self._apply_mode()

    def opacity(self) -> float:
        return self._opacity

    def set_side_by_side(self, on: bool) -> None:
        self._side_by_side = bool(on)
        self._apply_mode()
        if on:
            self.left.set_view(self.right.scale_factor(), self.right.view_center())
            self.left._fit_mode = self.right._fit_mode

    def side_by_side(self) -> bool:
        return self._side_by_side

    def fit(self) -> None:
        self.right.fit()
        if self._side_by_side:
            self.left.fit()

    def zoom_1to1(self) -> None:
        self.right.zoom_1to1()

    # -- rendering
    def _render_heatmap(self) -> None:
        layer = self.right.layer("heatmap")
        if self._prob is None:
            layer.clear()
        else:
            layer.set_bgra(self._heat_lut[self._prob])

    @property
    def pred_mask(self) -> np.ndarray | None:
        """The predicted mask shown (bool, at the map's resolution), or None without a map."""
        if self._prob is None:
            return None
        if self._gated:
            return np.zeros(self._prob.shape, bool)
        return (self._bin_lut >= self._k)[self._prob]

    def _codes(self) -> np.ndarray:
        """Per pixel ``prob8 | gt << 8`` (uint16), computed once per sample: one table lookup per threshold step."""
        if self._code16 is None:
            code = self._prob.astype(np.uint16)
            if self._gt_eval is not None:
                code |= self._gt_eval.astype(np.uint16) << 8
            self._code16 = code
        return self._code16

    def _render_prediction(self) -> None:
        """Predicted mask and error map for the current threshold: a 512-entry table applied to the per-pixel codes,
        written straight into the visible layers (hidden layers are rendered when they are switched on)."""
        r = self.right
        if self._prob is None or self._image is None:
            r.layer("pred").clear()
            r.layer("errors").clear()
            self._stale = set()
            return
        pred_v = np.zeros(256, bool) if self._gated else (self._bin_lut >= self._k)
        h, w = self._prob.shape
        codes = self._codes()
        self._stale = set()
        for name in ("pred", "errors"):
            if not self._visible[name]:
                self._stale.add(name)
                continue
            lut = np.zeros(512, np.uint32)
            if name == "pred":
                lut[:256][pred_v] = self._pred_u32
                lut[256:][pred_v] = self._pred_u32
            elif self._gt_eval is None:
                # no ground truth (weakly labelled sample): nothing is an error, show the prediction itself
                lut[:256][pred_v] = self._pred_u32
            else:
                lut[:256][pred_v] = self._fp_u32
                lut[256:][pred_v] = self._tp_u32
                lut[256:][~pred_v] = self._fn_u32
            layer = r.layer(name)
            layer.ensure_size(w, h)
            np.take(lut, codes, out=layer.pixels32)
        # the whole layer changed: repaint the viewport in this update pass (an item update() would be processed
        # by the scene in a later event and cost a second repaint pass of the window)
        r.viewport().update()

    def _apply_mode(self) -> None:
        sbs = self._side_by_side
        self._columns[0].setVisible(sbs)
        self._left_title.setVisible(sbs)
        self._right_title.setVisible(sbs)
        op = self._opacity
        vis = self._visible
        # main (right) view: every overlay that is switched on
        r = self.right
        r.set_layer_visible("heatmap", vis["heatmap"])
        r.set_layer_opacity("heatmap", min(1.0, op + 0.15))
        r.set_layer_visible("pred", vis["pred"])
        r.set_layer_opacity("pred", op)
        r.set_layer_visible("errors", vis["errors"])
        r.set_layer_opacity("errors", op)
        r.set_layer_visible("gt", vis["gt"] and not sbs)
        # left view in side-by-side: the GT only (filled + outline)
        lv = self.left
        lv.set_layer_visible("heatmap", False)
        lv.set_layer_visible("pred", False)
        lv.set_layer_visible("errors", False)
        lv.set_layer_visible("gt_fill", True)
        lv.set_layer_opacity("gt_fill", op)
        lv.set_layer_visible("gt", True)
