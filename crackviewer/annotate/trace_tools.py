"""The two model-assisted tools of the Annotate tab: the crack tracer and "accept a predicted crack".

- :class:`TraceTool` (key T): click at one end of a crack, move, click again; between clicks the preview follows
  the crack (:class:`~crackviewer.annotate.tracer.Tracer`, blended with the loaded prediction when there is one).
  While the mouse moves the preview is a traceback only (``preview(pt, search=False)``, a millisecond or two); when
  the mouse rests :data:`REST_MS` and the cursor left the search window, the search runs and the preview is redone.
  Double-click or Enter finishes: the traced line, with the width set in the tool options (or the one measured from
  the image), becomes mask pixels in one undoable stroke (:func:`~crackviewer.annotate.tracer.apply_trace`).
  Backspace drops the last segment, Esc cancels. While the mouse hovers, the ridge filter around the cursor is
  computed one tile at a time in idle time (:meth:`~crackviewer.annotate.tracer.Tracer.warm`), so a click on a large
  photo only runs the search.
- :class:`AcceptTool` (key A): click a predicted crack component to add it to the mask, shift-click to remove the
  mask's component under the click (:func:`~crackviewer.annotate.accept.accept_component`); the component under
  the cursor is highlighted at the tool's threshold.

Both speak the SampleViewer tool protocol and edit the mask through the panel (the tools' ``ToolHost``), which
supplies the sample's tracer and prediction (``host.tracer()``, ``host.predicted()``).
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QTimer, Qt

from crackviewer.annotate.accept import accept_component
from crackviewer.annotate.tools import PointsTool, Tool
from crackviewer.annotate.tracer import apply_trace

REST_MS = 60                      # the mouse rests this long: run the window search the fast preview skipped
WARM_MS = 10                      # between two idle-time ridge tiles around the cursor (one tile: tens of ms)


class TraceTool(PointsTool):
    """The crack tracer (module docstring). ``points`` are the clicked anchors, drawn as markers."""

    name = "trace"

    def __init__(self, host):
        super().__init__(host)
        self._tracer = None
        self._path: np.ndarray = np.zeros((0, 2))
        self._rest_pt: tuple[float, float] | None = None
        self._rest = QTimer()
        self._rest.setSingleShot(True)
        self._rest.setInterval(REST_MS)
        self._rest.timeout.connect(self._on_rest)
        # idle time: the ridge filter around the cursor is computed one tile per timer tick before the click needs it
        self._warm_pt: tuple[float, float] | None = None
        self._warm = QTimer()
        self._warm.setInterval(WARM_MS)
        self._warm.timeout.connect(self._on_warm)

    @property
    def warming(self) -> bool:
        """Ridge tiles around the cursor are still being computed in idle time."""
        return self._warm.isActive()

    @property
    def active(self) -> bool:
        return self._tracer is not None and self._tracer.active

    def press(self, viewer, pos, event) -> bool:
        if self.host.model is None or self.host.panning:
            return False
        pt = (pos.x(), pos.y())
        if not self.active:
            self._tracer = self.host.tracer()
            if self._tracer is None:
                return False
            self._tracer.width = self.host.trace_width
            anchor = self._tracer.start(pt)
            self.points = [(anchor[0], anchor[1])]
            self._path = np.zeros((0, 2))
        else:
            seg = self._tracer.commit(pt)
            if len(seg):
                self.points.append((float(seg[-1][0]), float(seg[-1][1])))
            self._path = np.zeros((0, 2))
        self.host.show_preview()
        return True

    def hover(self, viewer, pos, event) -> None:
        Tool.hover(self, viewer, pos, event)
        if self.host.model is not None:
            self._warm_pt = (pos.x(), pos.y())
            if not self._warm.isActive():
                self._warm.start()
        if not self.active:
            return
        self._rest_pt = (pos.x(), pos.y())
        self._path = self._tracer.preview(self._rest_pt, search=False)
        self._rest.start()
        self.host.show_preview()

    def _on_warm(self) -> None:
        tracer = self._tracer if self.active else self.host.tracer()
        if tracer is None or self._warm_pt is None or tracer.warm(self._warm_pt):
            self._warm.stop()

    def _on_rest(self) -> None:
        if self.active and self._rest_pt is not None and self._tracer.needs_search(self._rest_pt):
            self._path = self._tracer.preview(self._rest_pt, search=True)
            self.host.show_preview()

    def double_click(self, viewer, pos, event) -> bool:
        if self.host.model is None or not self.active:
            return False
        self.finish(erase=bool(event.modifiers() & Qt.AltModifier), pt=(pos.x(), pos.y()))
        return True

    def finish(self, erase: bool = False, pt=None) -> None:
        if not self.active:
            return
        trace = self._tracer.finish(pt)
        self._reset()
        if trace is not None:
            self.host.apply_edit(lambda m: apply_trace(m, trace, 0 if erase else 1))
            self.host.flash(f"Traced {len(trace.points)} px of crack, {trace.width:.1f} px wide.")

    def backspace(self) -> None:
        if self.active and self._tracer.undo_segment():
            self.points = self.points[:-1]
            self._path = np.zeros((0, 2))
        elif self.active:
            self.cancel()
            return
        self.host.show_preview()

    def cancel(self) -> None:
        if self._tracer is not None:
            self._tracer.cancel()
        self._reset()

    def _reset(self) -> None:
        self._rest.stop()
        self._warm.stop()
        self._rest_pt = None
        self.points = []
        self._path = np.zeros((0, 2))
        self.host.show_preview()

    def preview_points(self):
        """The committed polyline plus the live path to the cursor, (x, y) pixel coordinates."""
        if not self.active:
            return []
        done = self._tracer.points
        parts = [p for p in (done, self._path) if len(p)]
        if not parts:
            return list(self.points)
        return [tuple(q) for q in np.concatenate(parts, axis=0)]

    def preview_width(self) -> float:
        w = self.host.trace_width
        if w is None and self._tracer is not None:
            w = 2.0 * min(self._tracer.costs.sigmas) + 1.0
        return float(w or 1.0)


class AcceptTool(Tool):
    """Accept a predicted crack with a click, remove a false one with shift-click (module docstring)."""

    name = "accept"

    def press(self, viewer, pos, event) -> bool:
        p = self.host
        if p.model is None or p.panning:
            return False
        remove = bool(event.modifiers() & Qt.ShiftModifier)
        pred = p.predicted()
        if pred is None and not remove:
            p.flash("No prediction for this sample: choose a prediction source or use Predict this sample.",
                    error=True)
            return True
        pt = (pos.x(), pos.y())
        rect = p.apply_edit(lambda m: accept_component(m, pred, p.accept_threshold, pt, remove=remove))
        if rect is None:
            p.flash("No crack in the mask under the click." if remove else
                    "No predicted crack under the click at this threshold (or it is in the mask already).")
        p.highlight_component(None)
        return True

    def hover(self, viewer, pos, event) -> None:
        super().hover(viewer, pos, event)
        self.host.highlight_component((pos.x(), pos.y()))

    def cancel(self) -> None:
        self.host.highlight_component(None)
