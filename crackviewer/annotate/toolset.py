"""Every tool of the Annotate tab, by the name its button and shortcut use (``annotate.keys.TOOLS``)."""
from __future__ import annotations

from crackviewer.annotate.tools import BrushTool, FillTool, PolygonTool, PolylineTool, Tool, ToolHost
from crackviewer.annotate.trace_tools import AcceptTool, TraceTool


def make_tools(host: ToolHost) -> dict[str, Tool]:
    return {"brush": BrushTool(host, 1), "eraser": BrushTool(host, 0), "polyline": PolylineTool(host),
            "fill": FillTool(host), "polygon": PolygonTool(host), "trace": TraceTool(host),
            "accept": AcceptTool(host)}
