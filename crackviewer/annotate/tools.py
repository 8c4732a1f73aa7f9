"""The annotation tools: brush, eraser, crack line, polygon and fill. They speak the SampleViewer tool protocol
(press/move/release/hover/double_click; True consumes the event) and edit the current sample's `MaskModel` through
a small `ToolHost` (the Annotate panel), which repaints what the model reports as changed."""
from __future__ import annotations

from typing import Callable, Protocol

from PySide6.QtCore import QPointF, Qt

from crackviewer.annotate.mask_model import MaskModel, Rect

TOOL_HINTS = {
    "brush": "Brush: drag to paint · Alt+drag erases · Shift+click draws a straight line from the last point · "
             "[ ] size",
    "eraser": "Eraser: drag to erase · [ ] size",
    "polyline": "Crack line: click along the crack · double-click or Enter finishes · Backspace drops the last point"
                " · Esc cancels · Alt+finish erases · [ ] width",
    "fill": "Fill: click a crack pixel; similar connected pixels join the mask · Alt+click removes them · "
            "{ } tolerance",
    "polygon": "Polygon: click corners · double-click or Enter closes it · Backspace drops a corner · Esc cancels · "
               "Alt+close erases",
    "trace": "Crack tracer: click one end of a crack, move along it (the line follows the crack), click again · "
             "double-click or Enter finishes · Backspace drops a segment · Esc cancels · width in the tool options",
    "accept": "Accept a predicted crack: click it to add it to the mask · Shift+click removes a false crack from the "
              "mask · the threshold slider sets what counts as predicted",
}


class ToolHost(Protocol):
    """What a tool may use: the mask being edited and the few things the panel does for it."""

    model: MaskModel | None               # the current sample's mask, None when no sample is open
    panning: bool                         # Space is held: the view pans, tools keep still
    brush_size: float
    tolerance: float
    last_brush_point: tuple[float, float] | None

    def paint_segment(self, p0, p1, value: int) -> Rect | None: ...
    def end_stroke(self) -> None: ...
    def apply_edit(self, fn: Callable[[MaskModel], Rect | None]) -> Rect | None: ...
    def repaint_mask(self, rect: Rect | None) -> None: ...
    def show_preview(self) -> None: ...
    def move_cursor_ring(self, pos: QPointF) -> None: ...
    def flash(self, text: str, error: bool = False) -> None: ...


class Tool:
    name = "tool"

    def __init__(self, host: ToolHost):
        self.host = host

    def press(self, viewer, pos, event) -> bool:
        return False

    def move(self, viewer, pos, event) -> None:
        self.host.move_cursor_ring(pos)

    def release(self, viewer, pos, event) -> None:
        pass

    def hover(self, viewer, pos, event) -> None:
        self.host.move_cursor_ring(pos)

    def double_click(self, viewer, pos, event) -> bool:
        return False

    def cancel(self) -> None:
        pass

    def activate(self) -> None:
        pass


class BrushTool(Tool):
    def __init__(self, host: ToolHost, value: int):
        super().__init__(host)
        self.value = value
        self.name = "brush" if value else "eraser"
        self._last: tuple[float, float] | None = None
        self._stroke_value = value

    def press(self, viewer, pos, event) -> bool:
        p = self.host
        if p.model is None or p.panning:
            return False
        erase = bool(event.modifiers() & Qt.AltModifier)
        self._stroke_value = 0 if (erase or not self.value) else 1
        start = (pos.x() - 0.5, pos.y() - 0.5)       # pixel centres sit at integer + 0.5 in scene coordinates
        prev = p.last_brush_point if (event.modifiers() & Qt.ShiftModifier) else None
        p.model.begin_stroke("brush" if self._stroke_value else "eraser")
        p.paint_segment(prev or start, start, self._stroke_value)
        self._last = start
        p.move_cursor_ring(pos)
        return True

    def move(self, viewer, pos, event) -> None:
        super().move(viewer, pos, event)
        if self._last is None or self.host.model is None:
            return
        cur = (pos.x() - 0.5, pos.y() - 0.5)
        self.host.paint_segment(self._last, cur, self._stroke_value)
        self._last = cur

    def release(self, viewer, pos, event) -> None:
        if self._last is not None:
            self.host.last_brush_point = self._last
        self._last = None
        self.host.end_stroke()

    def cancel(self) -> None:
        if self._last is not None and self.host.model is not None:
            rect = self.host.model.abort_stroke()
            self.host.repaint_mask(rect)
        self._last = None


class PointsTool(Tool):
    """Click points; double-click or Enter finishes (crack polyline or polygon)."""

    closed = False

    def __init__(self, host: ToolHost):
        super().__init__(host)
        self.points: list[tuple[float, float]] = []
        self._hover: tuple[float, float] | None = None

    def press(self, viewer, pos, event) -> bool:
        if self.host.model is None or self.host.panning:
            return False
        self.points.append((pos.x() - 0.5, pos.y() - 0.5))
        self._hover = None
        self.host.show_preview()
        return True

    def move(self, viewer, pos, event) -> None:
        super().move(viewer, pos, event)

    def hover(self, viewer, pos, event) -> None:
        super().hover(viewer, pos, event)
        if self.points:
            self._hover = (pos.x() - 0.5, pos.y() - 0.5)
            self.host.show_preview()

    def double_click(self, viewer, pos, event) -> bool:
        if self.host.model is None:
            return False
        self.finish(erase=bool(event.modifiers() & Qt.AltModifier))
        return True

    def backspace(self) -> None:
        if self.points:
            self.points.pop()
            self.host.show_preview()

    def cancel(self) -> None:
        self.points = []
        self._hover = None
        self.host.show_preview()

    def finish(self, erase: bool = False) -> None:
        pts = self._dedup(self.points)
        self.points = []
        self._hover = None
        self.host.show_preview()
        if pts:
            self.apply(pts, 0 if erase else 1)

    @staticmethod
    def _dedup(pts):
        out = []
        for q in pts:
            if not out or abs(q[0] - out[-1][0]) > 1e-6 or abs(q[1] - out[-1][1]) > 1e-6:
                out.append(q)
        return out

    def preview_points(self):
        pts = list(self.points)
        if self._hover is not None and pts:
            pts.append(self._hover)
        return pts

    def apply(self, pts, value) -> None:
        raise NotImplementedError


class PolylineTool(PointsTool):
    name = "polyline"

    def apply(self, pts, value) -> None:
        self.host.apply_edit(lambda m: m.polyline(pts, self.host.brush_size, value))


class PolygonTool(PointsTool):
    name = "polygon"
    closed = True

    def apply(self, pts, value) -> None:
        if len(pts) < 3:
            self.host.flash(f"A polygon needs at least 3 corners (got {len(pts)}).")
            return
        self.host.apply_edit(lambda m: m.polygon(pts, value))


class FillTool(Tool):
    name = "fill"

    def press(self, viewer, pos, event) -> bool:
        p = self.host
        if p.model is None or p.panning:
            return False
        value = 0 if (event.modifiers() & Qt.AltModifier) else 1
        p.apply_edit(lambda m: m.flood_fill((pos.x(), pos.y()), p.tolerance, value))
        return True
