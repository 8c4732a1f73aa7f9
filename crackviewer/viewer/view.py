"""Zoomable image viewer with raster overlay layers (inspection and annotation share it).

Two levels:

* :class:`SampleViewer` — a generic ``QGraphicsView``: one base image plus any number of named
  raster overlays (:class:`~crackviewer.viewer.tiled_layer.TiledLayer`) and vector items such as contours.
  Wheel zooms under the mouse, dragging pans,
  :meth:`SampleViewer.fit` / :meth:`SampleViewer.zoom_1to1`. It knows nothing about cracks or metrics.
* :class:`CrackOverlayView` — a widget built on it for crack inspection: the image with a GT contour, the predicted
  mask, a probability heatmap and a pixel TP/FP/FN error map (colours from :mod:`figures.colors`), an opacity
  setting, and a side-by-side mode (GT | prediction) whose two views pan and zoom together.

Overlay layers (API for painting tools)
---------------------------------------
Every raster layer is a :class:`~crackviewer.viewer.tiled_layer.TiledLayer`: it draws only the visible tiles of
level-of-detail pyramids (:mod:`crackviewer.viewer.pyramid`) through a colour function, so a 20000x20000 mosaic
costs no more per repaint than a 448x448 photo. A tool edits its source array (the pyramid's level 0), then asks
for the coarser levels and a repaint of just the changed rectangle::

    layer = viewer.add_layer("mask", z=10, opacity=0.6)          # empty, the size of the image
    pyr = Pyramid(mask01, "max")                                 # level 0 is mask01 itself
    layer.set_source(pyr, lambda m: lut32[m])                    # {0,1} -> premultiplied ARGB
    mask01[y0:y1, x0:x1] = ...                                   # the edit
    layer.update_rect(x0, y0, x1, y1)                            # levels + tiles + repaint of that rectangle only

:meth:`SampleViewer.set_image` clears every raster layer at the image size (nothing allocated). A layer whose
sources are of another size is stretched over the image (maps at the model's input resolution);
:meth:`TiledLayer.to_layer` maps image coordinates to its pixels. Small whole-array layers can still use
:meth:`TiledLayer.set_bgra` and :attr:`TiledLayer.pixels`.

Mouse input goes to an optional *tool* first (``viewer.set_tool(tool)``): an object with
``press(viewer, pos, event)``, ``move(viewer, pos, event)`` and ``release(viewer, pos, event)`` methods, where ``pos``
is a ``QPointF`` in image pixel coordinates. A method returning ``True`` consumes the event; otherwise the left button
pans. The middle button always pans, the wheel always zooms. ``viewer.hovered`` reports the pixel under the cursor.
"""
from __future__ import annotations

import weakref
from typing import Sequence

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QTransform
from PySide6.QtWidgets import QFrame, QGraphicsItem, QGraphicsScene, QGraphicsView, QSizePolicy, QWidget

from figures import colors
from crackviewer.viewer.layers import rgb_to_bgra
from crackviewer.viewer.pyramid import Pyramid
from crackviewer.viewer.tiled_layer import TiledLayer, begin_frame, end_frame

MIN_SCALE = 1 / 64
MAX_SCALE = 64.0


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
        self.base = TiledLayer("image", 1, 1)
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
    def set_image(self, rgb: np.ndarray, keep_view: bool = True, pyramid: Pyramid | None = None) -> None:
        """Show a new base image (HxWx3 RGB or HxW grey, uint8; drawn from a pyramid whose level 0 is ``rgb``
        itself, not a copy). Layers of another size are cleared at the image size. ``keep_view``: keep zoom and
        position when the size is unchanged (next/previous sample). ``pyramid``: ``rgb``'s pyramid when the caller built it already
        (two views of one image share it)."""
        h, w = rgb.shape[:2]
        same = (w, h) == (self.base.width, self.base.height)
        if pyramid is None or pyramid.base is not rgb:
            pyramid = Pyramid(rgb, "mean")
        self.base.set_source(pyramid, rgb_to_bgra)
        self.base.set_cover(w, h)
        for layer in self._layers.values():
            if isinstance(layer, TiledLayer):
                layer.set_cover(w, h)
                if (layer.width, layer.height) != (w, h):
                    layer.resize(w, h)
        self.scene().setSceneRect(QRectF(0, 0, w, h))
        if not (same and keep_view) or self._fit_mode:
            self.fit()

    # -- layers
    def add_layer(self, name: str, z: float = 1.0, opacity: float = 1.0) -> TiledLayer:
        """An empty raster layer the size of the image, drawn above layers with a lower ``z``."""
        if name in self._layers:
            raise ValueError(f"layer {name!r} exists")
        layer = TiledLayer(name, self.base.width, self.base.height)
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

    def tiles_pending(self) -> bool:
        """Some layer drew tiles from a coarser level in the last repaint (sharp ones follow in the next)."""
        return any(isinstance(it, TiledLayer) and it.isVisible() and it.pending
                   for it in [self.base, *self._layers.values()])

    # -- events
    def paintEvent(self, event) -> None:
        begin_frame()                  # new tiles share one time budget per repaint (see tiled_layer)
        try:
            super().paintEvent(event)
        finally:
            end_frame()

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
