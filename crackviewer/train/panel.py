"""Train tab: the run-parameter form, device and precision, Start / Stop / Resume, live progress, curves and log.

The form is generated from THE config schema (`trainer.schema`), so a new config key shows up here without GUI
changes. Start writes RUN/config.toml with `trainer.config.save_config` and the worker reads it with `--config`. Training runs in a worker process
(`crackviewer.train.training_process.TrainingProcess`); this panel only renders its events.
"""
from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QPlainTextEdit, QSplitter, QVBoxLayout, QWidget

from crackviewer.train.live_plots import LivePlots
from crackviewer.train.parameters import ParametersMixin
from crackviewer.train.progress import ProgressMixin
from crackviewer.train.timing import training_seconds
from crackviewer.train.trainer_commands import DeviceProbe
from crackviewer.train.training_process import TrainingProcess
from crackviewer.train.worker_io import tail_lines
from trainer import config as tc
from trainer.config import save_config, validate_config
from trainer.errors import ConfigError
from trainer.runs import paths
from trainer.runs.folder import RunFolder


class TrainingPanel(ParametersMixin, ProgressMixin, QWidget):
    """The Train tab."""

    runStarted = Signal(str)                # run dir
    runEnded = Signal(str, dict)            # run dir, outcome (see TrainingProcess.ended)
    stateChanged = Signal(str)
    openRunRequested = Signal(str)          # "show in Runs"
    inspectRequested = Signal(str)

    def __init__(self, settings=None, parent: QWidget | None = None, probe_devices: bool = True):
        super().__init__(parent)
        self.settings = settings
        self.presets = {name: {**tc.DEFAULTS, **over} for name, over in tc.PRESETS.items()}
        self.data_path: Path | None = None
        self.run_dir: Path | None = None
        self.resume_target: Path | None = None
        self.state = "idle"
        self.worker = TrainingProcess(self)
        self.worker.eventsReceived.connect(self._on_events)
        self.worker.logLines.connect(self._on_log_lines)
        self.worker.ended.connect(self._on_ended)
        self.worker.started.connect(lambda: self._append_log([f"$ {' '.join(self.worker.command)}"]))
        self.last_outcome: dict | None = None
        self.last_step: dict | None = None
        self.last_evaluation: dict | None = None
        self.run_started_event: dict | None = None
        self.events_received = 0
        self._t_start: float | None = None
        self._elapsed_before = 0.0          # training time of the run's earlier sessions (before a resume)

        root = QHBoxLayout(self)
        root.setContentsMargins(10, 8, 10, 8)
        root.setSpacing(10)

        root.addWidget(self._build_parameters())

        # ---------------- right: status, error, plots, log
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        rv.setSpacing(8)
        rv.addWidget(self._build_status_card())
        rv.addWidget(self._build_error_banner())
        split = QSplitter(Qt.Orientation.Vertical)
        self.plots = LivePlots()
        split.addWidget(self.plots)
        self.log_view = QPlainTextEdit()
        self.log_view.setObjectName("logView")
        self.log_view.setReadOnly(True)
        self.log_view.setMaximumBlockCount(5000)
        self.log_view.setPlaceholderText("The trainer's log appears here.")
        self.log_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        split.addWidget(self.log_view)
        split.setStretchFactor(0, 4)
        split.setStretchFactor(1, 1)
        split.setSizes([560, 150])
        rv.addWidget(split, 1)
        root.addWidget(right, 1)

        self._elapsed_timer = QTimer(self)
        self._elapsed_timer.setInterval(1000)
        self._elapsed_timer.timeout.connect(self._tick)

        self.apply_preset("quick")
        self._restore_form()
        self._set_state("idle")
        self.probe = DeviceProbe(self)
        self.probe.probed.connect(self._on_probe)
        if probe_devices:
            QTimer.singleShot(300, self.probe.start)

    # ------------------------------------------------------------------------------------------- building
    # ------------------------------------------------------------------------------------------- presets/form
    # ------------------------------------------------------------------------------------------- devices
    # ------------------------------------------------------------------------------------------- dataset
    def set_dataset(self, path: str | Path | None, summary: str = "") -> None:
        self.data_path = Path(path) if path else None
        if self.data_path is None:
            self.dataset_label.setText("<i>no dataset open — open one in the Dataset tab</i>")
        else:
            extra = f"<br><span style='color:#6b727b'>{summary}</span>" if summary else ""
            self.dataset_label.setText(f"<b>{self.data_path.name}</b>{extra}")
            self.dataset_label.setToolTip(str(self.data_path))
        self._update_buttons()

    # ------------------------------------------------------------------------------------------- runs
    def workspace_runs(self) -> Path:
        if self.settings is not None:
            return self.settings.runs_dir
        return Path.home() / "crackviewer-workspace" / "runs"

    def new_run_dir(self) -> Path:
        name = self.name_edit.text().strip()
        if not name:
            preset = self.preset_combo.currentData()
            prefix = preset if preset in self.presets else "custom"
            name = f"{prefix}-{time.strftime('%Y%m%d-%H%M%S')}"
        safe = "".join(c if (c.isalnum() or c in "-_.") else "_" for c in name)
        return self.workspace_runs() / safe

    def start(self) -> bool:
        """Start a new run with the form's parameters. Returns False (and says why) when it cannot."""
        if self.worker.is_running():
            return False
        if self.data_path is None:
            self._show_error("No dataset", "Open a dataset in the Dataset tab first (or create the demo dataset).",
                             [], resumable=False)
            return False

        try:
            cfg = validate_config(self.config())
        except ConfigError as exc:
            self._show_error("Invalid run parameters", exc.message, [], resumable=False)
            return False
        run_dir = self.new_run_dir()
        if paths.is_run_dir(run_dir) or (run_dir / paths.CONFIG).exists():
            self._show_error("Run folder exists", f"{run_dir} already holds a run. Choose another run name, or "
                             "open that run in the Runs tab to resume it.", [], resumable=False)
            return False
        run_dir.mkdir(parents=True, exist_ok=True)
        save_config(cfg, run_dir / paths.CONFIG)
        self.name_edit.clear()
        self._launch(run_dir, resume=False)
        return True

    def resume(self) -> bool:
        """Resume self.resume_target (or the current run) from its last checkpoint."""
        target = self.resume_target or self.run_dir
        if target is None or self.worker.is_running():
            return False
        data = self._run_data_path(target) or self.data_path
        if data is None:
            self._show_error("No dataset", f"Cannot tell which dataset {target} was trained on; open it in the "
                             "Dataset tab and press Resume again.", [], resumable=False)
            return False
        self.data_path = Path(data) if self.data_path is None else self.data_path
        self._launch(Path(target), resume=True, data=Path(data))
        return True

    def _run_data_path(self, run_dir: Path) -> Path | None:
        try:
            p = RunFolder(run_dir).data_path
            return p if p and p.exists() else None
        except Exception:  # noqa: BLE001
            return None

    def _launch(self, run_dir: Path, resume: bool, data: Path | None = None) -> None:
        self.run_dir = run_dir
        self.resume_target = None
        self.error_banner.setVisible(False)
        self.last_outcome = None
        self.last_step = None
        self.last_evaluation = None
        self.run_started_event = None
        self.events_received = 0
        if resume:
            self.plots.load_run(run_dir)   # the curves so far; the new run_started truncates what gets replayed
            self._append_log([f"— resuming {run_dir} —"])
        else:
            self.plots.reset()
            self.plots.set_config(self.config())
            self.log_view.clear()
        self.run_label.setText(run_dir.name)
        self.run_label.setToolTip(str(run_dir))
        self._reset_stats()
        self._elapsed_before = (training_seconds(RunFolder(run_dir).events()) or 0.0) if resume else 0.0
        if resume:
            self._update_best_ap()
        self._t_start = time.monotonic()
        self._elapsed_timer.start()
        self.worker.nice = self.nice_spin.value()
        self.worker.start(data or self.data_path, run_dir, None if resume else run_dir / paths.CONFIG, resume=resume)
        self._set_state("starting")
        self._progress_text("starting the worker: importing torch, reading the dataset…")
        if self.settings is not None:
            self.settings.last_run = str(run_dir)
        self.runStarted.emit(str(run_dir))

    def stop(self) -> None:
        if not self.worker.is_running():
            return
        if self.state == "stopping":
            self._append_log(["crackviewer: killing the worker (second Stop)"])
            self.worker.kill()
            return
        self.worker.request_stop()
        self._set_state("stopping")

    def set_resume_target(self, run_dir: str | Path | None) -> None:
        """Offer Resume for an earlier run (from the Runs tab); loads its config and curves."""
        if self.worker.is_running():
            return
        if run_dir is None:
            self.resume_target = None
            self._update_buttons()
            return
        run_dir = Path(run_dir)
        self.resume_target = run_dir
        self.run_dir = run_dir
        try:
            rf = RunFolder(run_dir)
            cfg = rf.config_or_empty()
            if cfg:
                self.set_config(cfg)
            status = rf.status
        except Exception:  # noqa: BLE001
            status = "failed"
        self.plots.load_run(run_dir)
        self.run_label.setText(run_dir.name)
        self.run_label.setToolTip(str(run_dir))
        self.log_view.setPlainText("\n".join(tail_lines(run_dir / paths.LOG, 200)))
        self._set_state(status if status in ("finished", "stopped", "failed") else "idle")
        self._update_buttons()

    # ------------------------------------------------------------------------------------------- events
    def _on_ended(self, outcome: dict) -> None:
        self._elapsed_timer.stop()
        self._tick()
        self.last_outcome = outcome
        status = outcome["status"]
        if status == "finished":
            self.progress.setValue(1000)
            ev = self.last_evaluation or {}
            parts = []
            for key, title in (("auc", "AUC"), ("ap", "AP"), ("dice_mean", "Dice"), ("iou_mean", "IoU")):
                if isinstance(ev.get(key), (int, float)):
                    parts.append(f"{title} {ev[key]:.4f}")
            self._progress_text("finished" + (" · test " + ", ".join(parts) if parts else ""))
            self.stat_labels["eta"].setText("done")
        elif status == "stopped":
            self._progress_text(self.progress.format().split("  ·")[0] + "  ·  stopped")
            self.stat_labels["eta"].setText("stopped")
        else:
            self.stat_labels["eta"].setText("–")
            title = "The training process crashed" if status == "crashed" else "Training failed"
            if outcome.get("error_kind") == "oom":
                title = "Training ran out of memory"
            message = outcome["message"]
            if not outcome.get("resumable"):        # the truth of the run folder, whatever the message says
                message += ("\nNo checkpoint was saved (the run ended before its first epoch did), so it cannot be "
                            "resumed: start it again.")
            self._show_error(title, message, self._crash_tail(outcome), resumable=bool(outcome.get("resumable")))
        self.resume_target = Path(outcome["run_dir"]) if outcome.get("resumable") else None
        self._set_state(status)
        self._append_log([f"— {outcome['message'].splitlines()[0]} —"])
        self.runEnded.emit(str(self.run_dir) if self.run_dir else "", outcome)

    # ------------------------------------------------------------------------------------------- state
    def _update_buttons(self) -> None:
        running = self.worker.is_running()
        self.start_button.setEnabled(not running and self.data_path is not None)
        self.stop_button.setEnabled(running)
        self.stop_button.setText("Kill now" if self.state == "stopping" else "Stop")
        target = self.resume_target
        can_resume = (not running and target is not None
                      and RunFolder(target).last_checkpoint() is not None)
        self.resume_button.setEnabled(can_resume)
        reason = "" if can_resume or running else self._resume_reason()
        self.resume_reason.setText(reason)
        self.resume_reason.setVisible(bool(reason))
        self.resume_button.setToolTip(reason or "Continue the run from its last completed epoch "
                                                "(checkpoints/last.pth)")
        self.form.setEnabled(not running)
        for w in (self.preset_combo, self.device_combo, self.precision_combo, self.name_edit, self.nice_spin):
            w.setEnabled(not running)
        has_run = self.run_dir is not None
        self.show_run_button.setEnabled(has_run)
        self.inspect_button.setEnabled(has_run and self.state == "finished")
        self.retrain_button.setEnabled(has_run and not running and self.state == "finished")

    def _resume_reason(self) -> str:
        """Why Resume is greyed out, read from the run folder."""
        target = self.resume_target or self.run_dir
        if target is None:
            return "Resume: no stopped or failed run (choose one in the Runs tab)."
        rf = RunFolder(target)
        if rf.last_checkpoint() is None:
            return (f"Resume: {target.name} has no checkpoint (it ended before its first epoch did); "
                    "start it again.")
        if rf.status == "finished":
            return f"Resume: {target.name} has finished all its epochs."
        return f"Resume: choose {target.name} in the Runs tab to resume it."

    def is_training(self) -> bool:
        return self.worker.is_running()

    def shutdown(self, timeout_ms: int = 15_000) -> None:
        """Stop the worker (it saves its last completed epoch), waiting up to timeout_ms, then kill it."""
        if self.worker.is_running():
            self.worker.request_stop(grace_s=timeout_ms / 1000)
            if not self.worker.wait(timeout_ms):
                self.worker.kill()
                self.worker.wait(5000)
