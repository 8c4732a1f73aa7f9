"""The Annotate tab's key bindings: a handler for every action of `annotate.keys.ANNOTATE_SHORTCUTS` (the help
overlay lists the same rows)."""
from __future__ import annotations

from crackviewer.annotate.keys import ANNOTATE_SHORTCUTS, TOOLS
from crackviewer.qt.shortcuts import bind


def bind_annotate_shortcuts(panel) -> None:
    """Bind every shortcut of the table to `panel` (an AnnotatePanel)."""
    def size_down():
        size = panel.brush_size
        panel.size_slider.setValue(max(1, int(round(size / 1.25))) if size > 4 else int(size) - 1)

    handlers = {f"tool_{key}": (lambda k=key: panel.set_tool(k)) for key, _text in TOOLS}
    handlers.update({
        "prediction_replace": lambda: panel.start_from_prediction("replace"),
        "prediction_add": lambda: panel.start_from_prediction("union"),
        "predict_sample": panel.predict_sample,
        "size_down": size_down,
        "size_up": lambda: panel.size_slider.setValue(max(int(panel.brush_size) + 1,
                                                         int(round(panel.brush_size * 1.25)))),
        "tolerance_down": lambda: panel.tol_slider.setValue(int(panel.tolerance) - 4),
        "tolerance_up": lambda: panel.tol_slider.setValue(int(panel.tolerance) + 4),
        "finish": panel._finish_points,
        "finish_erase": lambda: panel._finish_points(erase=True),
        "backspace": panel._backspace,
        "escape": panel._escape,
        "undo": panel.undo,
        "redo": panel.redo,
        "toggle_label": lambda: panel.set_label(0 if panel._current_label() == 1 else 1),
        "toggle_mask": panel.mask_check.toggle,
        "opacity_down": lambda: panel.opacity_slider.setValue(panel.opacity_slider.value() - 10),
        "opacity_up": lambda: panel.opacity_slider.setValue(panel.opacity_slider.value() + 10),
        "toggle_prediction": panel.pred_check.toggle,
        "save": lambda: panel.save_now(),
        "fit": panel.canvas.fit,
        "zoom_1to1": panel.canvas.zoom_1to1,
        "zoom_in": lambda: panel.canvas.zoom_by(1.25),
        "zoom_out": lambda: panel.canvas.zoom_by(0.8),
        "next_sample": lambda: panel.step_sample(1),
        "previous_sample": lambda: panel.step_sample(-1),
        "help": panel.toggle_help,
    })
    bind(panel, ANNOTATE_SHORTCUTS, handlers)
