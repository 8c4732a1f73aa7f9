"""The inspection window: gallery, overlay viewer, two threshold sliders, statistics, ROC/PR, comparison, export.

    panel = InspectPanel()
    panel.open_run("runs/quick-1")               # its test evaluation (or split="val" for evals/val)
    panel.open_eval("runs/quick-1/evals/val")    # any evaluation folder

Everything is bound to one :class:`~crackviewer.inspect.threshold_model.ThresholdModel`: moving a slider changes the model,
and the model's ``thresholds`` event updates the overlay, every tile's Dice and outcome, the gallery order and
filters, the statistics and the operating points on the curves, in one pass.

Keyboard (while the panel has focus): N / P next / previous sample in gallery order, G GT contour, M predicted
mask, H heatmap, E error map, S side by side, F fit, 1 one-to-one, Shift+G gate masks.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (QComboBox, QFileDialog, QHBoxLayout, QLabel, QMenu, QPushButton, QSizePolicy, QSplitter,
                               QTabWidget, QToolButton, QVBoxLayout, QWidget)

from crackviewer.inspect import export as X
from crackviewer.inspect import export_actions
from crackviewer.inspect.compare import ComparePanel
from crackviewer.inspect.curves import CurvesPanel
from crackviewer.inspect.reliability import ReliabilityPanel
from crackviewer.inspect.evaluation_folder import Evaluation, eval_title, evaluations_of, same_dir, split_of
from crackviewer.inspect.gallery import Gallery
from crackviewer.inspect.keys import INSPECT_SHORTCUTS
from crackviewer.inspect.measure_panel import MeasurePanel
from crackviewer.inspect.sample_controller import SampleController
from crackviewer.inspect.sample_store import SampleStore
from crackviewer.inspect.stats import StatsPanel, ThresholdControls
from crackviewer.inspect.threshold_model import ThresholdModel
from crackviewer.inspect.viewer_pane import ViewerPane
from crackviewer.qt.shortcuts import bind
from trainer.errors import CrackError
from trainer.runs import paths


# ---------------------------------------------------------------------------------------------------------------


class InspectPanel(QWidget):
    """The "Inspect" tab: open a run or an evaluation folder, browse, threshold, compare, export."""

    evaluationLoaded = Signal(str)
    message = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = ThresholdModel()
        self.store: SampleStore | None = None
        self._eval_dirs: list[Path] = []

        # -- top bar
        self.title = QLabel("Inspect predictions")
        self.title.setObjectName("pageTitle")
        self.eval_combo = QComboBox()
        self.eval_combo.setMinimumWidth(220)
        self.eval_combo.setToolTip("Evaluation folder (split) of this run")
        self.open_btn = QPushButton("Open…")
        self.open_btn.setToolTip("Open a run folder or an evaluation folder")
        self.data_btn = QPushButton("Locate dataset…")
        self.data_btn.setToolTip("The dataset was not found where the run recorded it: point to its folder")
        self.data_btn.setVisible(False)
        self.export_btn = QToolButton()
        self.export_btn.setText("Export")
        self.export_btn.setPopupMode(QToolButton.InstantPopup)
        self.export_btn.setObjectName("exportButton")
        menu = QMenu(self.export_btn)
        self.act_thresholds = QAction("Save thresholds to the run (used by crack-train predict)", self)
        self.act_csv = QAction("Per-sample CSV at these thresholds…", self)
        self.act_masks = QAction("Binary mask PNGs…", self)
        for a in (self.act_thresholds, self.act_csv, self.act_masks):
            menu.addAction(a)
        self.export_btn.setMenu(menu)
        self.act_thresholds.triggered.connect(lambda: export_actions.on_save_thresholds(self))
        self.act_csv.triggered.connect(lambda: export_actions.on_export_csv(self))
        self.act_masks.triggered.connect(lambda: export_actions.on_export_masks(self))
        self.banner = QLabel()
        self.banner.setObjectName("warningBox")
        self.banner.setWordWrap(True)
        self.banner.setVisible(False)
        self.subtitle = QLabel("Open a run to inspect its predictions.")
        self.subtitle.setObjectName("pageSubtitle")
        self.subtitle.setMinimumWidth(0)
        self.subtitle.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)

        top = QHBoxLayout()
        top.setSpacing(6)
        top.addWidget(self.title)
        top.addSpacing(12)
        top.addWidget(self.eval_combo)
        top.addWidget(self.open_btn)
        top.addWidget(self.data_btn)
        top.addStretch(1)
        top.addWidget(self.subtitle)
        top.addSpacing(8)
        top.addWidget(self.export_btn)

        # -- samples page
        self.gallery = Gallery(self.model)
        self.viewer = ViewerPane()
        self.thresholds = ThresholdControls(self.model)
        self.stats = StatsPanel(self.model)
        self.curves = CurvesPanel(self.model)
        self.reliability = ReliabilityPanel(self.model)
        self.curve_tabs = QTabWidget()
        self.curve_tabs.setObjectName("subTabs")
        self.curve_tabs.addTab(self.curves, "Curves")
        self.curve_tabs.addTab(self.reliability, "Calibration")
        self.measure = MeasurePanel()
        self.curve_tabs.addTab(self.measure, "Cracks")
        self.samples = SampleController(self.model, self.viewer, self.measure, self)
        right = QWidget()
        right.setMinimumWidth(360)
        right.setMaximumWidth(520)
        rl = QVBoxLayout(right)
        rl.setContentsMargins(4, 0, 4, 4)
        rl.setSpacing(4)
        rl.addWidget(self.thresholds)
        rl.addWidget(self.stats)
        rl.addWidget(self.curve_tabs, 1)
        self.splitter = QSplitter(Qt.Horizontal)
        self.splitter.addWidget(self.gallery)
        self.splitter.addWidget(self.viewer)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setStretchFactor(2, 0)
        self.splitter.setSizes([424, 560, 400])
        self.splitter.setChildrenCollapsible(False)
        self.samples_page = QWidget()
        sl = QVBoxLayout(self.samples_page)
        sl.setContentsMargins(0, 0, 0, 0)
        sl.addWidget(self.splitter)


        self.compare = ComparePanel(self.model)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("subTabs")
        self.tabs.addTab(self.samples_page, "Samples")
        self.tabs.addTab(self.compare, "Compare runs")

        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 6, 8, 6)
        lay.setSpacing(6)
        lay.addLayout(top)
        lay.addWidget(self.banner)
        lay.addWidget(self.tabs, 1)

        # -- bindings
        self.eval_combo.activated.connect(self._on_eval_chosen)
        self.open_btn.clicked.connect(self._on_open)
        self.data_btn.clicked.connect(self._on_locate_dataset)
        self.viewer.info.prev_btn.clicked.connect(lambda: self.step(-1))
        self.viewer.info.next_btn.clicked.connect(lambda: self.step(1))
        self.samples.message.connect(self.message)
        self.curve_tabs.currentChanged.connect(self._on_curve_tab)
        self._shortcuts()
        self._set_enabled(False)

    def shutdown(self) -> None:
        """Stop the thumbnail threads (the main window calls this on close)."""
        self.gallery.loader.shutdown()

    # ------------------------------------------------------------------ opening
    def open_run(self, run_dir: str | Path, split: str | None = None) -> bool:
        """Open a run's evaluation of ``split`` (default: the test evaluation in the run folder, else the first)."""
        run_dir = Path(run_dir)
        try:
            dirs = evaluations_of(run_dir)
        except CrackError as exc:
            self._show_problem(str(exc))
            return False
        if not dirs:
            self._show_problem(f"{run_dir}: no evaluation yet. Finish training (the test split is evaluated at the "
                               "end) or run `crack-train eval --run RUN --data DATA --split val`.")
            return False
        target = dirs[0]
        if split is not None:
            for d in dirs:
                if split_of(d) == split:
                    target = d
                    break
            else:
                self._show_problem(f"{run_dir}: no evaluation of split {split!r} "
                                   f"(found: {', '.join(split_of(d) or d.name for d in dirs)})")
                return False
        return self.open_eval(target, siblings=dirs)

    def open_eval(self, eval_dir: str | Path, siblings: list[Path] | None = None) -> bool:
        """Open an evaluation folder (``samples.npz`` + ``metrics.json`` + ``results.csv`` + ``probs/``)."""
        eval_dir = Path(eval_dir)
        try:
            ev = Evaluation.load(eval_dir)
        except CrackError as exc:
            self._show_problem(str(exc))
            return False
        if siblings is None:
            run = ev.run_dir
            try:
                siblings = evaluations_of(run) if run is not None else [eval_dir]
            except CrackError:
                siblings = [eval_dir]
            if not any(same_dir(eval_dir, d) for d in siblings):
                siblings = [eval_dir] + list(siblings)
        self._eval_dirs = list(siblings)
        self.eval_combo.blockSignals(True)
        self.eval_combo.clear()
        for d in self._eval_dirs:
            self.eval_combo.addItem(eval_title(d), str(d))
        for k, d in enumerate(self._eval_dirs):
            if same_dir(d, eval_dir):
                self.eval_combo.setCurrentIndex(k)
        self.eval_combo.blockSignals(False)

        self.store = SampleStore(ev)
        self.gallery.set_store(self.store)
        self.samples.set_store(self.store)
        self.model.set_evaluation(ev)
        self._set_enabled(True)
        m = ev.metrics or {}
        auc = m.get("auc")
        self.subtitle.setText(f"{ev.title} · {ev.n} samples ({int(self.model.positive.sum())} crack, "
                              f"{int((~self.model.positive).sum())} crack-free)"
                              + (f" · AUC {auc:.3f}" if auc is not None else ""))
        self.store.dataset()
        self._show_problem(self.store.problem)
        self.data_btn.setVisible(self.store.problem is not None)
        if self.model.order.size:
            self.model.set_current(int(self.model.order[0]))
        self.compare.set_reference(ev)
        self.evaluationLoaded.emit(str(eval_dir))
        return True

    def _on_eval_chosen(self, k: int) -> None:
        if 0 <= k < len(self._eval_dirs):
            self.open_eval(self._eval_dirs[k], siblings=self._eval_dirs)

    def _on_open(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Open a run folder or an evaluation folder")
        if not d:
            return
        p = Path(d)
        if paths.is_eval_dir(p) and not paths.is_run_dir(p):
            self.open_eval(p)
        else:
            self.open_run(p)

    def _on_locate_dataset(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Dataset folder of this evaluation")
        if d and self.store is not None:
            self.set_dataset(d)

    def set_dataset(self, path: str | Path) -> None:
        """Read images and masks from another dataset folder (the recorded one moved)."""
        if self.store is None:
            return
        self.store.set_data_path(path)
        self.store.dataset()
        self._show_problem(self.store.problem)
        self.data_btn.setVisible(self.store.problem is not None)
        self.gallery.set_store(self.store)
        self.samples.set_store(self.store)
        self.samples.load_current()

    def _show_problem(self, text: str | None) -> None:
        self.banner.setVisible(bool(text))
        self.banner.setText(text or "")
        if text:
            self.message.emit(text)

    def _set_enabled(self, on: bool) -> None:
        for w in (self.samples_page, self.export_btn, self.compare):
            w.setEnabled(on)

    # ------------------------------------------------------------------ selection and viewer
    def step(self, delta: int) -> None:
        self.model.step_current(delta)

    # ------------------------------------------------------------------ keyboard
    def _shortcuts(self) -> None:
        """Bind every row of inspect.keys.INSPECT_SHORTCUTS on the samples page."""
        v = self.viewer.view
        handlers = {
            "next_sample": lambda: self.step(1),
            "previous_sample": lambda: self.step(-1),
            "overlay_gt": lambda: self.toggle_overlay("gt"),
            "overlay_pred": lambda: self.toggle_overlay("pred"),
            "overlay_heatmap": lambda: self.toggle_overlay("heatmap"),
            "overlay_errors": lambda: self.toggle_overlay("errors"),
            "overlay_uncertainty": lambda: self.toggle_overlay("uncertainty"),
            "overlay_measure": lambda: self.toggle_overlay("measure"),
            "side_by_side": lambda: self.viewer.sbs.toggle(),
            "gate": lambda: self.model.set_gated(not self.model.gated),
            "fit": v.fit,
            "zoom_1to1": v.zoom_1to1,
        }
        self._sc = bind(self.samples_page, INSPECT_SHORTCUTS, handlers)

    def toggle_overlay(self, name: str) -> None:
        b = self.viewer.overlay_buttons[name]
        if b.isEnabled():
            b.toggle()

    def _on_curve_tab(self, k: int) -> None:
        self.samples.measure_tab_visible = self.curve_tabs.widget(k) is self.measure
        self.samples.remeasure()

    @property
    def sample(self):
        return self.samples.sample

    # ------------------------------------------------------------------ export
    def save_thresholds(self, run_dir: str | Path | None = None) -> Path:
        return export_actions.save_thresholds(self, run_dir)

    def export_csv(self, path: str | Path, visible_only: bool = False) -> Path:
        idx = self.model.order.tolist() if visible_only else None
        return X.export_results_csv(self.model, path, idx)

    def export_masks(self, out_dir: str | Path, resolution: str = "image", progress=None) -> dict:
        if self.store is None:
            raise RuntimeError("no evaluation open")
        return X.export_masks(self.model, self.store, out_dir, resolution=resolution, progress=progress)
