"""Editing in the Annotate tab: the panel's side of the tools' `ToolHost` (paint, apply an edit, undo/redo, the
cursor ring and the point-tool preview) and the image label. Every edit goes through the sample's `MaskModel`;
only the dirty rectangle of the mask layer is recoloured and repainted.

`EditingMixin` is the part of `AnnotatePanel` that owns this."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainterPath, QPen

from figures import colors
from crackviewer.annotate.mask_model import Rect
from crackviewer.annotate.mask_store import LabelError, MaskSaveError
from crackviewer.annotate.session import Session
from crackviewer.annotate.tools import PointsTool, PolygonTool, PolylineTool
from crackviewer.annotate.trace_tools import TraceTool
from crackviewer.viewer.pyramid import Pyramid

MASK_COLOR = colors.GT_CONTOUR          # the mask being edited is ground truth: the GT colour everywhere


class EditingMixin:
    def move_cursor_ring(self, pos: QPointF) -> None:
        if self._tool_name not in ("brush", "eraser", "polyline") or self.session is None:
            self.ring.setVisible(False)
            self.ring_dark.setVisible(False)
            return
        r = self.brush_size / 2.0
        rect = QRectF(pos.x() - r, pos.y() - r, 2 * r, 2 * r)
        self.ring.setRect(rect)
        self.ring_dark.setRect(rect)
        self.ring.setVisible(True)
        self.ring_dark.setVisible(True)

    def show_preview(self) -> None:
        tool = self._tools.get(self._tool_name) if hasattr(self, "_tools") else None
        path = QPainterPath()
        pts = tool.preview_points() if isinstance(tool, PointsTool) else []
        if pts:
            path.moveTo(pts[0][0] + 0.5, pts[0][1] + 0.5)
            for x, y in pts[1:]:
                path.lineTo(x + 0.5, y + 0.5)
            if isinstance(tool, PolygonTool) and len(pts) > 2:
                path.closeSubpath()
        c = QColor(*MASK_COLOR)
        if isinstance(tool, (PolylineTool, TraceTool)):
            c.setAlpha(170)
            width = tool.preview_width() if isinstance(tool, TraceTool) else self.brush_size
            pen = QPen(c, width, Qt.SolidLine, Qt.RoundCap, Qt.RoundJoin)
            self.preview_item.setPen(pen)
            self.preview_item.setBrush(Qt.NoBrush)
        else:
            c.setAlpha(80)
            pen = QPen(QColor(*MASK_COLOR), 1.5)
            pen.setCosmetic(True)
            self.preview_item.setPen(pen)
            self.preview_item.setBrush(QBrush(c))
        self.preview_item.setPath(path)
        line_pen = QPen(QColor(255, 255, 255, 220), 1.2, Qt.DashLine)
        line_pen.setCosmetic(True)
        self.preview_line.setPen(line_pen)
        marks = QPainterPath(path)
        for x, y in tool.points if isinstance(tool, PointsTool) else []:
            marks.addEllipse(QPointF(x + 0.5, y + 0.5), 1.5, 1.5)
        self.preview_line.setPath(marks)

    def _finish_points(self, erase: bool = False) -> None:
        tool = self.tool
        if isinstance(tool, PointsTool) and (tool.points or getattr(tool, "active", False)):
            tool.finish(erase=erase)

    def _backspace(self) -> None:
        tool = self.tool
        if isinstance(tool, PointsTool):
            tool.backspace()

    def _escape(self) -> None:
        if self.help.isVisible():
            self.help.hide()
            return
        self.tool.cancel()

    # ============================================================== tool options
    def _on_size(self, v: int) -> None:
        self.brush_size = float(max(1, v))
        self.show_preview()

    def _on_tolerance(self, v: int) -> None:
        self.tolerance = float(max(0, v))

    def _on_opacity(self, v: int) -> None:
        self._opacity = max(0, min(100, v)) / 100.0
        self.mask_layer.setOpacity(self._opacity)

    def set_opacity(self, opacity: float) -> None:
        self.opacity_slider.setValue(int(round(opacity * 100)))

    def toggle_help(self) -> None:
        if self.help.isVisible():
            self.help.hide()
        else:
            self.help.place()
            self.help.show()
            self.help.raise_()

    # ============================================================== editing
    def _set_mask_color(self, color) -> None:
        r, g, b = (int(c) for c in color[:3])
        px = np.array([[0, 0, 0, 0], [b, g, r, 255]], np.uint8)      # premultiplied BGRA (opaque colour)
        self._lut = px.view(np.uint32).ravel().copy()
        if getattr(self, "mask_layer", None) is not None and self.mask_layer.has_source:
            self.mask_layer.invalidate_all()

    def _mask_colour(self, tile: np.ndarray) -> np.ndarray:
        """The overlay's colour function: a {0,1} mask tile (max-pooled when zoomed out) -> premultiplied ARGB."""
        return self._lut[tile]

    def repaint_mask(self, rect: Rect | None, full: bool = False) -> None:
        """Bring the overlay's pyramid up to date over ``rect`` of the mask and repaint only that rectangle
        (``full``: the whole mask, e.g. a newly opened sample)."""
        s = self.session
        if s is None:
            return
        if full:
            pyr = self._mask_pyramid
            if pyr is None or pyr.base is not s.model.mask:
                self._mask_pyramid = Pyramid(s.model.mask, "max")      # level 0 is the model's own mask array
                self.mask_layer.set_source(self._mask_pyramid, self._mask_colour)
            else:
                self.mask_layer.update_rect(0, 0, pyr.width, pyr.height)
            return
        if rect is None:
            return
        self.mask_layer.update_rect(rect.x, rect.y, rect.x + rect.w, rect.y + rect.h)

    def paint_segment(self, p0, p1, value: int) -> Rect | None:
        """One brush segment p0 -> p1 (mask pixel coordinates) inside the open stroke; repaints its rectangle."""
        s = self.session
        if s is None:
            return None
        rect = s.model.brush(p0, p1, self.brush_size, value)
        self.repaint_mask(rect)
        return rect

    def end_stroke(self) -> None:
        s = self.session
        if s is None:
            return
        s.model.end_stroke()           # listeners journal it and schedule the autosave
        self._autosave.start()         # also restarts a timer that fired mid-stroke

    def apply_edit(self, fn) -> Rect | None:
        """Run one single-step edit ``fn(model) -> rect`` (polyline, polygon, fill, prediction, clear)."""
        s = self.session
        if s is None or self._refuse_read_only():
            return None
        try:
            rect = fn(s.model)
        except ValueError as e:
            self.flash(str(e), error=True)
            return None
        self.repaint_mask(rect)
        return rect

    def undo(self) -> None:
        s = self.session
        if s is None or self._refuse_read_only():
            return
        self.tool.cancel()
        self.repaint_mask(s.model.undo())

    def redo(self) -> None:
        s = self.session
        if s is None or self._refuse_read_only():
            return
        self.tool.cancel()
        self.repaint_mask(s.model.redo())

    def _on_model_change(self, s: Session, change, how: str) -> None:
        """A stroke, undo or redo completed: settle the label it implies, journal it now, save after the debounce.

        An edit that puts crack pixels on a crack-free image makes it a crack: the change remembers that label
        change (``change.label``), so its undo gives the old label back, and the user is told."""
        if how == "edit" and change.label is None and self._label_of(s) == 0 and s.model.crack_pixels():
            change.label = (0, 1)
            self.show_banner(f"This makes {s.name} a crack image (Ctrl+Z undoes both the edit and the label).")
        if change.label is not None:
            s.label = change.label[0] if how == "undo" else change.label[1]
            if how == "undo":
                self.show_banner(f"{s.name} is {'a crack' if s.label else 'crack-free'} again.")
        self.edited.add(s.name)
        try:
            self.store.journal_append(s.name, s.model.shape, change.writes("old" if how == "undo" else "new"))
        except MaskSaveError as e:
            s.error = e.message
        self._autosave.start()
        self._after_edit(s)

    def _after_edit(self, s: Session) -> None:
        if s is self.session:
            self._update_enabled()
            self._update_status()
            self._set_badge()
        self.list_model.refresh_name(s.name)

    # ============================================================== labels
    def _label_of(self, s: Session) -> int:
        """The image label of ``s`` as its edit history has it (the dataset's until an edit changed it)."""
        return s.label if s.label is not None else self.store.record(s.name).label

    def _current_label(self) -> int | None:
        if self.session is None or self.store is None:
            return None
        return self._label_of(self.session)

    def set_label(self, label: int) -> bool:
        """Set the image label of the current sample; 'no crack' clears the mask (one undo step with the label)."""
        s = self.session
        if s is None or self._refuse_read_only():
            return False
        try:
            if label == 0 and s.model.crack_pixels():
                old = self._label_of(s)
                self.store.set_label(s.name, 0)
                s.label = 0
                if self.apply_edit(lambda m: m.clear()) is not None and s.model.last_change is not None:
                    s.model.last_change.label = (old, 0)   # undoing the clear gives the label back
            else:
                self.store.set_label(s.name, label)
                s.label = int(label)
                if s.model.crack_pixels() == 0:
                    s.saved_revision = -1                  # settle the mask file with the new label
                    self._autosave.start()
        except LabelError as e:
            self.flash(e.message, error=True)
            self._update_enabled()
            return False
        except MaskSaveError as e:
            s.error = e.message
            self._set_badge()
            self._update_enabled()
            return False
        self._update_enabled()
        self._update_status()
        self._update_counts()
        self.edited.add(s.name)
        self.list_model.refresh_name(s.name)
        self.sampleChanged.emit(s.name)
        self.countsChanged.emit(self.store.counts())
        return True
