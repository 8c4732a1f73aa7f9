"""Offscreen pyqtgraph/QPainter figures shared by the run report (python -m figures.render) and the app.

Never imports crackviewer; the app imports figures (the palette in figures.colors, the plot builders).
"""
