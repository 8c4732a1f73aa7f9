"""The Annotate tab's canvas: the shared SampleViewer plus double-click for the point tools."""
from __future__ import annotations

from PySide6.QtCore import Qt

from crackviewer.viewer.view import SampleViewer


class AnnotateCanvas(SampleViewer):
    """The shared SampleViewer plus double-click and Space-pan for the annotation tools."""

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802 - Qt API
        tool = self.tool()
        if event.button() == Qt.LeftButton and tool is not None and tool.double_click(self, self.image_pos(
                event.position()), event):
            event.accept()
            return
        super().mouseDoubleClickEvent(event)
