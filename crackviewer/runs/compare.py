"""Several runs' training curves overlaid (Runs tab ▸ select runs ▸ Compare curves): the epoch mean of the total
training loss and the validation AP, one colour per run, read from each run's events (or CSV files)."""
from __future__ import annotations

from pathlib import Path

import pyqtgraph as pg
from PySide6.QtWidgets import QDialog, QLabel, QVBoxLayout, QWidget

from crackviewer.qt.plots import enlarge_on_double_click, hex_colour, keyed_title, pen, style_plot
from crackviewer.train.curves import TrainingCurves, read_run_events

# Okabe-Ito, colour-blind safe
RUN_COLOURS = [(0, 114, 178), (213, 94, 0), (0, 158, 115), (204, 121, 167), (230, 159, 0), (86, 180, 233),
               (0, 0, 0), (240, 228, 66)]


def run_curves(run_dir: str | Path) -> TrainingCurves:
    curves = TrainingCurves()
    for ev in read_run_events(run_dir):
        curves.add_event(ev)
    return curves


class CompareRuns(QDialog):
    """A window with the training loss and validation AP of several runs on shared epoch axes."""

    def __init__(self, run_dirs: list[str | Path], parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("compareRuns")
        self.setWindowTitle(f"Compare {len(run_dirs)} runs")
        self.run_dirs = [Path(p) for p in run_dirs]
        lay = QVBoxLayout(self)
        note = QLabel("Epoch means of the total training loss and validation AP. Double-click a plot to enlarge it.")
        note.setObjectName("smallCaption")
        lay.addWidget(note)
        self.glw = pg.GraphicsLayoutWidget()
        self.glw.setBackground("w")
        lay.addWidget(self.glw, 1)
        keys = [(RUN_COLOURS[i % len(RUN_COLOURS)], "▬", p.name) for i, p in enumerate(self.run_dirs)]
        self.p_loss = self.glw.addPlot(row=0, col=0)
        style_plot(self.p_loss, keyed_title("Training loss (epoch mean)", keys), "loss")
        self.p_ap = self.glw.addPlot(row=0, col=1)
        style_plot(self.p_ap, keyed_title("Validation AP", keys), "AP")
        self.p_ap.setXLink(self.p_loss)
        self.curves: dict[str, tuple[pg.PlotDataItem, pg.PlotDataItem]] = {}
        for i, run in enumerate(self.run_dirs):
            rgb = RUN_COLOURS[i % len(RUN_COLOURS)]
            data = run_curves(run)
            lx, ly = data.epoch_loss["loss"].data()
            ax, ay = data.val["ap"].data()
            style = dict(symbol="o", symbolSize=6, symbolBrush=pg.mkBrush(*rgb), symbolPen=pg.mkPen("w"))
            c_loss = self.p_loss.plot(lx, ly, pen=pen(rgb), name=run.name, **style)
            c_ap = self.p_ap.plot(ax, ay, pen=pen(rgb), name=run.name, **style)
            c_loss.setToolTip(f"<span style='color:{hex_colour(rgb)}'>{run}</span>")
            self.curves[str(run)] = (c_loss, c_ap)
        enlarge_on_double_click(self.glw, [self.p_loss, self.p_ap], self)
        self.resize(1000, 480)
