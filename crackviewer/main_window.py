"""The main window: tabs Dataset, Train, Runs, Inspect, Annotate; menus; session restore; safe close."""
from __future__ import annotations

import traceback
from pathlib import Path

from PySide6.QtCore import QSize, QTimer
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox, QTabWidget, QWidget

from crackviewer.annotate.panel import AnnotatePanel
from crackviewer.dataset.panel import DatasetView
from crackviewer.inspect.panel import InspectPanel
from crackviewer.menus import MenusMixin
from crackviewer.qt.icons import icon
from crackviewer.qt.settings import AppSettings
from crackviewer.runs.compare import CompareRuns
from crackviewer.runs.panel import RunsView
from crackviewer.train.panel import TrainingPanel
from trainer.errors import CrackError
from trainer.runs.folder import RunFolder


class MainWindow(MenusMixin, QMainWindow):
    def __init__(self, settings: AppSettings | None = None, probe_devices: bool = True,
                 optional_panels: bool = True):
        """optional_panels=False leaves out the Inspect and Annotate tabs (tests of the other tabs)."""
        super().__init__()
        self.settings = settings or AppSettings()
        self.confirm_close = True
        self.setWindowTitle("crackviewer")
        self.setMinimumSize(QSize(1100, 720))
        self.resize(1400, 900)
        self.panels: dict[str, QWidget] = {}
        self.inspect_panel = None
        self.annotate_panel = None
        self.dataset_path: Path | None = None
        self._pending_inspect: str | None = None
        self._inspected: str | None = None

        self.tabs = QTabWidget()
        self.tabs.setObjectName("mainTabs")
        self.tabs.setDocumentMode(True)
        self.tabs.setIconSize(QSize(18, 18))
        self.setCentralWidget(self.tabs)

        ws = self.settings.workspace
        self.dataset_view = DatasetView(workspace=ws)
        self.training_panel = TrainingPanel(self.settings, probe_devices=probe_devices)
        self.runs_view = RunsView(workspace=ws, extra_runs=self.settings.opened_runs)
        self.add_panel("Dataset", self.dataset_view, "dataset")
        self.add_panel("Train", self.training_panel, "train")
        self.add_panel("Runs", self.runs_view, "runs")
        if optional_panels:
            self.inspect_panel = InspectPanel()
            self.annotate_panel = AnnotatePanel()
            self.add_panel("Inspect", self.inspect_panel, "inspect")
            self.add_panel("Annotate", self.annotate_panel, "annotate")
            self.annotate_panel.sampleChanged.connect(self._on_annotation_changed)
            self.annotate_panel.workspace = Path(self.settings.workspace)

        self._annot_timer = QTimer(self)          # annotation edits come in bursts: recount the dataset once after
        self._annot_timer.setSingleShot(True)
        self._annot_timer.setInterval(1500)
        self._annot_timer.timeout.connect(self.dataset_view.refresh_counts)
        self._wire()
        self._build_menus()
        self._build_status_bar()
        geo = self.settings.get_bytes("window_geometry")
        if geo is not None:
            self.restoreGeometry(geo)
        self.tabs.currentChanged.connect(self._on_tab_changed)

    # ------------------------------------------------------------------------------------------- panels
    def add_panel(self, title: str, widget: QWidget, key: str | None = None) -> int:
        """Add a tab (any QWidget); returns its index."""
        key = key or title.lower()
        self.panels[key] = widget
        return self.tabs.addTab(widget, icon(key), title)

    # ------------------------------------------------------------------------------------------- wiring
    def _wire(self) -> None:
        dv, tp, rv = self.dataset_view, self.training_panel, self.runs_view
        dv.openDialogRequested.connect(self.open_dataset_dialog)
        dv.datasetOpened.connect(self._on_dataset_opened)
        dv.datasetFailed.connect(self._dataset_failed)
        dv.sampleActivated.connect(self._open_sample_in_annotate)
        dv.maskRuleChosen.connect(self._set_mask_rule)
        tp.runStarted.connect(self._on_run_started)
        tp.runEnded.connect(self._on_run_ended)
        tp.stateChanged.connect(self._on_training_state)
        tp.openRunRequested.connect(self.show_run)
        tp.inspectRequested.connect(self.inspect_run)
        rv.runOpened.connect(self._on_run_opened)
        rv.resumeRequested.connect(self._resume_run)
        rv.retrainRequested.connect(self.retrain_run)
        rv.inspectRequested.connect(self.inspect_run)
        rv.compareRequested.connect(self.compare_runs)

    # ------------------------------------------------------------------------------------------- session
    def restore_session(self, dataset: str | None = None, run: str | None = None, restore: bool = True) -> None:
        """Open the given (or last) dataset and run; with no dataset, show the welcome page with the demo offer."""
        ds = Path(dataset) if dataset else (self.settings.last_dataset if restore else None)
        if ds is not None and ds.exists():
            self.open_dataset(ds)
        else:
            self.dataset_view.show_welcome(self.settings.recent_datasets)
            self.show_tab("dataset")
        self.runs_view.refresh()
        if run:
            self.open_run(run)
            return
        rn = self.settings.last_run if restore else None
        if rn is not None and rn.exists():
            self.show_run(str(rn), switch=False)

    def open_dataset(self, path: str | Path) -> None:
        self.dataset_view.open_dataset(path)

    def dialog_start(self) -> str:
        """Where file dialogs start: beside the open dataset, else in the workspace (never $HOME by default)."""
        return str(self.dataset_path.parent) if self.dataset_path else str(self.settings.workspace)

    def open_dataset_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a dataset folder", self.dialog_start())
        if path:
            self.open_dataset(path)

    def _dataset_failed(self, path: str, message: str) -> None:
        """A folder that is not a dataset: a dialog naming the folder once and what was looked for."""
        self.statusBar().showMessage(f"Could not open {Path(path).name} as a dataset", 15000)
        box = QMessageBox(QMessageBox.Icon.Warning, "Not a dataset", f"Could not open <b>{Path(path).name}</b> "
                          "as a crack dataset.", QMessageBox.StandardButton.Ok, self)
        box.setInformativeText(f"Folder: {path}\n\n{message}")
        box.setObjectName("datasetFailedDialog")
        self.dataset_failed_dialog = box
        box.open()

    def open_run_dialog(self) -> None:
        """File ▸ Open run…: add a run folder from anywhere to the Runs tab (remembered in the settings)."""
        path = QFileDialog.getExistingDirectory(self, "Open a run folder", str(self.settings.runs_dir))
        if path:
            self.open_run(path)

    def open_run(self, path: str | Path) -> bool:
        """Add a run folder (from anywhere) to the Runs tab and show it; False, with a dialog, if it is not one."""
        path = Path(path).resolve()
        if not RunFolder(path).is_run():
            QMessageBox.warning(self, "Not a run folder", f"{path} holds no config.toml or events.jsonl: it is not "
                                "a training run folder.")
            return False
        self.settings.add_opened_run(path)
        self.runs_view.add_run(path)
        self.show_run(str(path))
        return True

    def change_workspace_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Choose the workspace folder", str(self.settings.workspace))
        if path:
            self.set_workspace(path)

    def set_workspace(self, path: str | Path) -> None:
        self.settings.workspace = path
        self.dataset_view.workspace = Path(path)
        self.runs_view.set_workspace(Path(path))
        if self.annotate_panel is not None:
            self.annotate_panel.workspace = Path(path)
        self._update_workspace_label()

    def _create_demo(self) -> None:
        self.show_tab("dataset")
        if self.dataset_view.index is not None:
            self.dataset_view.stack.setCurrentWidget(self.dataset_view.welcome)
        self.dataset_view.create_demo()

    def _on_dataset_opened(self, path: str, index) -> None:
        self.dataset_path = Path(path)
        self.settings.last_dataset = path
        self.settings.add_recent_dataset(path)
        counts = index.counts()
        pos = sum(c["positives"] for c in counts.values())
        neg = sum(c["negatives"] for c in counts.values())
        summary = f"{len(index.samples):,} images ({pos:,} crack, {neg:,} crack-free), {index.layout} layout"
        self.training_panel.set_dataset(path, summary)
        self.setWindowTitle(f"crackviewer — {Path(path).name}")
        self.statusBar().showMessage(f"Opened {path}: {summary}", 8000)
        self._open_in_annotate(path)

    def _open_in_annotate(self, path) -> None:
        if self.annotate_panel is not None:
            try:
                self.annotate_panel.open_dataset(str(path))
            except Exception as exc:  # noqa: BLE001 - a panel's failure must not break the shell
                self.statusBar().showMessage(f"Annotate could not open the dataset: {exc}", 15000)

    def _set_mask_rule(self, rule: str) -> None:
        """The Dataset tab's mask check chose how masks are read: the training form's mask_rule key follows."""
        self.training_panel.form.set_value("mask_rule", rule)
        self.statusBar().showMessage(f"Training reads masks with mask_rule = {rule}", 10000)

    def _on_annotation_changed(self, *args) -> None:
        self._annot_timer.start()

    def _open_sample_in_annotate(self, name: str) -> None:
        if self.annotate_panel is not None:
            try:
                self.annotate_panel.show_sample(name)
            except Exception as exc:  # noqa: BLE001
                self.statusBar().showMessage(f"Annotate could not open {name}: {exc}", 15000)
                return
            self.show_tab("annotate")

    # ------------------------------------------------------------------------------------------- runs
    def show_run(self, path: str, switch: bool = True) -> None:
        self.runs_view.refresh()
        if not self.runs_view.select_run(path):
            self.runs_view.open_run(path)
        if switch:
            self.show_tab("runs")

    def _on_run_opened(self, path: str) -> None:
        self.settings.last_run = path
        self._pending_inspect = path
        if self.tabs.currentWidget() is self.inspect_panel:
            self._deliver_inspect()

    def inspect_run(self, path: str) -> None:
        self._pending_inspect = path
        self.show_tab("inspect")
        self._deliver_inspect()

    def _deliver_inspect(self) -> None:
        """Hand the opened run to the Inspect panel (lazily: only when that tab is shown)."""
        path = self._pending_inspect
        if path is None or self.inspect_panel is None:
            return
        if path == self._inspected:
            return
        rf = RunFolder(path)
        if not rf.evaluations():
            self.statusBar().showMessage(f"{Path(path).name} has no evaluation yet (it is {rf.status}).", 8000)
            return
        try:
            self.inspect_panel.open_run(path)
            self._inspected = path
        except Exception as exc:  # noqa: BLE001
            self.statusBar().showMessage(f"Inspect could not open {path}: {exc}", 15000)

    def compare_runs(self, paths: list[str]) -> CompareRuns:
        """Overlay the training curves of several runs in a window of their own."""
        win = CompareRuns(paths, self)
        self.compare_window = win
        win.show()
        return win

    def _resume_run(self, path: str) -> None:
        if self.training_panel.is_training():
            QMessageBox.information(self, "Training is running",
                                    "Another run is training. Stop it first, then resume this one.")
            return
        self.training_panel.set_resume_target(path)
        self.show_tab("train")

    def retrain_run(self, path: str) -> None:
        """Retrain from this run: the Train tab with the form filled for a fine-tune of `path` on the open dataset."""
        if self.training_panel.is_training():
            QMessageBox.information(self, "Training is running",
                                    "Another run is training. Wait for it (or stop it), then retrain from this one.")
            return
        try:
            self.training_panel.prepare_retrain(path)
        except (ValueError, CrackError) as exc:
            QMessageBox.warning(self, "Cannot retrain from this run", str(exc))
            return
        self.show_tab("train")
        self.statusBar().showMessage(f"Fine-tune of {Path(path).name}: check the parameters, then press Start "
                                     "training", 15000)

    def _on_run_started(self, path: str) -> None:
        self.runs_view.refresh()

    def _on_run_ended(self, path: str, outcome: dict) -> None:
        self.runs_view.refresh()
        first = outcome["message"].splitlines()[0]
        self.statusBar().showMessage(f"{Path(path).name}: {first}", 20000)
        if outcome["status"] in ("failed", "crashed") and self.current_tab() != "train":
            # the error and the log tail are on the Train tab: flag it until the user looks
            self.tabs.setTabText(self.tabs.indexOf(self.training_panel), "Train ⚠")
        if outcome["status"] == "finished" and self.runs_view.current == Path(path):
            self.runs_view.open_run(path)

    def _on_training_state(self, state: str) -> None:
        names = {"running": "● training", "starting": "● starting", "stopping": "● stopping",
                 "evaluating": "● evaluating"}
        self.train_state_label.setText(names.get(state, ""))

    # ------------------------------------------------------------------------------------------- tabs
    def show_tab(self, key: str) -> None:
        w = self.panels.get(key)
        if w is not None:
            self.tabs.setCurrentWidget(w)

    def current_tab(self) -> str:
        w = self.tabs.currentWidget()
        for k, p in self.panels.items():
            if p is w:
                return k
        return ""

    def _on_tab_changed(self, index: int) -> None:
        if self.tabs.widget(index) is self.training_panel:
            self.tabs.setTabText(index, "Train")
        if self.tabs.widget(index) is self.inspect_panel:
            self._deliver_inspect()

    # ------------------------------------------------------------------------------------------- misc
    def closeEvent(self, event) -> None:  # noqa: N802
        if self.training_panel.is_training():
            if self.confirm_close:
                r = QMessageBox.question(
                    self, "Training is running",
                    "A training run is in progress. Stop it and quit? It keeps its last completed epoch, and you "
                    "can resume it later from the Runs tab.",
                    QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel)
                if r != QMessageBox.StandardButton.Yes:
                    event.ignore()
                    return
            self.statusBar().showMessage("Stopping the training run…")
            self.training_panel.shutdown()
        for panel in (self.annotate_panel, self.inspect_panel):
            if panel is not None:
                try:
                    panel.shutdown()
                except Exception:  # noqa: BLE001 - the window must close even when a panel's shutdown fails
                    traceback.print_exc()
        self.settings.set_bytes("window_geometry", self.saveGeometry())
        self.settings.sync()
        super().closeEvent(event)
