"""Every shortcut of the Annotate tab, once: the panel binds them (`qt.shortcuts.bind`) and the help overlay lists
them (`qt.shortcuts.help_sections`)."""
from __future__ import annotations

from crackviewer.qt.shortcuts import Shortcut

TOOLS = [("brush", "Brush"), ("eraser", "Eraser"), ("polyline", "Crack line"), ("fill", "Fill"),
         ("polygon", "Polygon"), ("trace", "Tracer"), ("accept", "Accept")]

ANNOTATE_SHORTCUTS = [
    Shortcut("tool_brush", ("B",), "Brush  (Alt+drag erases, Shift+click: straight line)", "Tools"),
    Shortcut("tool_eraser", ("E",), "Eraser", "Tools"),
    Shortcut("tool_polyline", ("L",), "Crack line: click points, double-click or Enter ends", "Tools"),
    Shortcut("tool_fill", ("G",), "Flood fill with tolerance  (Alt+click removes)", "Tools"),
    Shortcut("tool_polygon", ("P",), "Polygon: click corners, double-click or Enter closes", "Tools"),
    Shortcut("tool_trace", ("T",), "Crack tracer: click one end, move along the crack, click; double-click or "
             "Enter ends", "Tools"),
    Shortcut("tool_accept", ("A",), "Accept a predicted crack (click)  ·  Shift+click removes a false one", "Tools"),
    Shortcut("prediction_replace", ("R",), "Start from the prediction (replace the mask)", "Tools"),
    Shortcut("prediction_add", ("Shift+R",), "Start from the prediction (add to the mask)", "Tools"),
    Shortcut("size_down", ("[",), "Brush and line width  −", "Tools"),
    Shortcut("size_up", ("]",), "Brush and line width  +", "Tools"),
    Shortcut("tolerance_down", ("{", "Shift+{", "Shift+["), "Fill tolerance  −", "Tools", shown="{"),
    Shortcut("tolerance_up", ("}", "Shift+}", "Shift+]"), "Fill tolerance  +", "Tools", shown="}"),
    Shortcut("finish", ("Return", "Enter"), "Finish the line or trace, or close the polygon", "Tools", shown="Enter"),
    Shortcut("finish_erase", ("Alt+Return",), "Finish the line, trace or polygon, erasing", "Tools",
             shown="Alt+Enter"),
    Shortcut("backspace", ("Backspace",), "Drop the last point or traced segment", "Tools"),
    Shortcut("escape", ("Escape",), "Cancel the line, trace or polygon", "Tools", shown="Esc"),
    Shortcut("predict_sample", ("Ctrl+P",), "Predict this sample with the source's run", "Tools"),
    Shortcut("undo", ("Ctrl+Z",), "Undo the last stroke", "Mask"),
    Shortcut("redo", ("Ctrl+Shift+Z", "Ctrl+Y"), "Redo", "Mask"),
    Shortcut("toggle_label", ("C",), "Image label: crack / no crack", "Mask"),
    Shortcut("toggle_mask", ("V",), "Show / hide the mask", "Mask"),
    Shortcut("opacity_down", (",",), "Mask opacity  −", "Mask"),
    Shortcut("opacity_up", (".",), "Mask opacity  +", "Mask"),
    Shortcut("toggle_prediction", ("O",), "Prediction outline on / off", "Mask"),
    Shortcut("save", ("Ctrl+S",), "Save now (saving is automatic)", "Mask"),
    Shortcut("", (), "Zoom at the cursor", "View and samples", shown="Wheel"),
    Shortcut("", (), "Pan", "View and samples", shown="Middle-drag, Space+drag"),
    Shortcut("fit", ("F",), "Fit the image", "View and samples"),
    Shortcut("zoom_1to1", ("1",), "100 %", "View and samples"),
    Shortcut("zoom_in", ("+", "="), "Zoom in", "View and samples", shown="+"),
    Shortcut("zoom_out", ("-",), "Zoom out", "View and samples", shown="−"),
    Shortcut("next_sample", ("D", "PgDown"), "Next sample", "View and samples"),
    Shortcut("previous_sample", ("S", "PgUp"), "Previous sample", "View and samples"),
    Shortcut("help", ("F1", "?", "Shift+?", "Shift+/"), "This help", "View and samples", shown="F1  or  ?"),
]

_BY_ACTION = {s.action: s for s in ANNOTATE_SHORTCUTS if s.action}


def key_of(action: str) -> str:
    """The key the buttons and tooltips name for `action` (its first key sequence)."""
    return _BY_ACTION[action].keys[0]
