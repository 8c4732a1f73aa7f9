"""Every shortcut of the Inspect tab's samples page, once (bound by `qt.shortcuts.bind`; a help can list the same
rows with `qt.shortcuts.help_sections`)."""
from __future__ import annotations

from crackviewer.qt.shortcuts import Shortcut

INSPECT_SHORTCUTS = [
    Shortcut("next_sample", ("N",), "Next sample in gallery order", "Samples"),
    Shortcut("previous_sample", ("P",), "Previous sample in gallery order", "Samples"),
    Shortcut("overlay_gt", ("G",), "Ground-truth contour on / off", "Overlays"),
    Shortcut("overlay_pred", ("M",), "Predicted mask on / off", "Overlays"),
    Shortcut("overlay_heatmap", ("H",), "Probability heatmap on / off", "Overlays"),
    Shortcut("overlay_errors", ("E",), "Error map (TP/FP/FN) on / off", "Overlays"),
    Shortcut("overlay_uncertainty", ("U",), "Uncertainty map on / off (evaluations with --tta)", "Overlays"),
    Shortcut("overlay_measure", ("C",), "Measured cracks (skeletons coloured by width) on / off", "Overlays"),
    Shortcut("side_by_side", ("S",), "Side by side (GT | prediction)", "Overlays"),
    Shortcut("gate", ("Shift+G",), "Blank the masks of images classified crack-free", "Overlays"),
    Shortcut("fit", ("F",), "Fit the image", "View"),
    Shortcut("zoom_1to1", ("1",), "100 %", "View"),
]
