"""The right side of the Train tab: the status card (state, run, device, progress, speed, ETA, best validation AP),
the error banner of a failed run, and the worker's events and log lines rendered into them.

`ProgressMixin` is the part of `TrainingPanel` that owns this."""
from __future__ import annotations

import time

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QFrame, QGridLayout, QHBoxLayout, QLabel, QPlainTextEdit, QProgressBar, QPushButton,
                               QSizePolicy, QVBoxLayout, QWidget)

from crackviewer.qt.style import set_state
from crackviewer.qt.text import fmt_rate, human_duration
from trainer.runs.folder import RunFolder


class ProgressMixin:
    def _build_status_card(self) -> QWidget:
        card = QFrame()
        card.setObjectName("statusCard")
        g = QGridLayout(card)
        g.setContentsMargins(14, 10, 14, 10)
        g.setHorizontalSpacing(18)
        g.setVerticalSpacing(4)
        top = QHBoxLayout()
        self.state_badge = QLabel("Idle")
        self.state_badge.setObjectName("stateBadge")
        self.state_badge.setFixedHeight(22)
        self.state_badge.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        top.addWidget(self.state_badge)
        top.addSpacing(6)
        self.run_label = QLabel("No run yet")
        self.run_label.setObjectName("runLabel")
        self.run_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        top.addWidget(self.run_label, 1)
        self.device_label = QLabel("")
        self.device_label.setObjectName("smallCaption")
        top.addWidget(self.device_label)
        self.show_run_button = QPushButton("Show in Runs")
        self.show_run_button.clicked.connect(lambda: self.run_dir and self.openRunRequested.emit(str(self.run_dir)))
        self.inspect_button = QPushButton("Inspect")
        self.inspect_button.clicked.connect(lambda: self.run_dir and self.inspectRequested.emit(str(self.run_dir)))
        self.retrain_button = QPushButton("Retrain from this run")
        self.retrain_button.setToolTip("Fill the form for a fine-tune of this run (its parameters, its weights, a "
                                       "short schedule) on the open dataset; then press Start training")
        self.retrain_button.clicked.connect(lambda: self.run_dir and self.retrain_from(self.run_dir))
        top.addWidget(self.show_run_button)
        top.addWidget(self.inspect_button)
        top.addWidget(self.retrain_button)
        g.addLayout(top, 0, 0, 1, 6)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setFormat("")
        self.progress.setTextVisible(False)
        self.progress.setProperty("thin", True)
        self.progress_label = QLabel("")
        self.progress_label.setMinimumWidth(260)
        self.progress_label.setObjectName("progressLabel")
        prow = QHBoxLayout()
        prow.addWidget(self.progress, 1)
        prow.addSpacing(10)
        prow.addWidget(self.progress_label)
        g.addLayout(prow, 1, 0, 1, 6)
        self.stat_labels: dict[str, QLabel] = {}
        for col, (key, caption) in enumerate((("epoch", "epoch"), ("step", "step"), ("speed", "speed"),
                                              ("eta", "time left (ETA)"), ("elapsed", "elapsed"),
                                              ("val", "best validation AP"))):
            v = QVBoxLayout()
            num = QLabel("–")
            num.setObjectName("bigNumber")
            cap = QLabel(caption)
            cap.setObjectName("smallCaption")
            v.addWidget(num)
            v.addWidget(cap)
            g.addLayout(v, 2, col)
            self.stat_labels[key] = num
        return card

    def _build_error_banner(self) -> QWidget:
        self.error_banner = QFrame()
        self.error_banner.setObjectName("errorBanner")
        v = QVBoxLayout(self.error_banner)
        v.setContentsMargins(12, 10, 12, 10)
        v.setSpacing(6)
        top = QHBoxLayout()
        self.error_title = QLabel("Training failed")
        self.error_title.setObjectName("errorTitle")
        top.addWidget(self.error_title, 1)
        self.error_resume = QPushButton("Resume from the last checkpoint")
        self.error_resume.setObjectName("primaryButton")
        self.error_resume.clicked.connect(self.resume)
        self.error_toggle = QPushButton("Log tail")
        self.error_toggle.setCheckable(True)
        self.error_toggle.setChecked(True)
        self.error_dismiss = QPushButton("Dismiss")
        self.error_dismiss.clicked.connect(lambda: self.error_banner.setVisible(False))
        top.addWidget(self.error_resume)
        top.addWidget(self.error_toggle)
        top.addWidget(self.error_dismiss)
        v.addLayout(top)
        self.error_message = QLabel("")
        self.error_message.setWordWrap(True)
        self.error_message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_message.setObjectName("errorMessage")
        v.addWidget(self.error_message)
        self.error_log = QPlainTextEdit()
        self.error_log.setObjectName("logView")
        self.error_log.setReadOnly(True)
        self.error_log.setMaximumHeight(110)          # leaves the plots room at 1280x800
        self.error_log.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.error_toggle.toggled.connect(self.error_log.setVisible)
        v.addWidget(self.error_log)
        self.error_banner.setVisible(False)
        return self.error_banner

    def _on_events(self, events: list[dict]) -> None:
        self.events_received += len(events)
        self.plots.add_events(events)
        for ev in events:
            kind = ev.get("event")
            if kind == "step":
                self.last_step = ev
            elif kind == "run_started":
                self.run_started_event = ev
                if self.state in ("starting", "idle"):
                    self._set_state("running")
                prec = ev.get("precision", "")
                cl = " + channels_last" if ev.get("channels_last") else ""
                params = ev.get("parameters")
                self.device_label.setText(f"{ev.get('device', '?')} · {prec}{cl}"
                                          + (f" · {params:,} parameters" if isinstance(params, int) else ""))
            elif kind == "epoch":
                self.last_step = dict(self.last_step or {}, epoch=ev.get("epoch"), epochs=ev.get("epochs"),
                                      step=(self.last_step or {}).get("steps", 1),
                                      steps=(self.last_step or {}).get("steps", 1))
            elif kind == "validation":
                self._update_best_ap()
            elif kind == "checkpoint" and ev.get("kind") == "final":
                if self.state == "running":
                    self._set_state("evaluating")
            elif kind == "evaluation":
                self.last_evaluation = ev
        self._update_progress()

    def _update_best_ap(self) -> None:
        """The best validation AP so far: of the curves, and of the run's validation.csv (a resumed run knows its
        earlier validations at once, before the next one)."""
        vals = dict(self.plots.val["ap"].values)
        if self.run_dir is not None:
            for row in RunFolder(self.run_dir).validation():
                ap, e = row.get("ap"), row.get("epoch")
                if ap == ap and e == e and ap is not None and e is not None:   # not NaN
                    vals.setdefault(int(e), float(ap))
        if vals:
            e, ap = max(vals.items(), key=lambda kv: kv[1])
            self.stat_labels["val"].setText(f"{ap:.4f}")
            self.stat_labels["val"].setToolTip(f"epoch {e}")

    def _update_progress(self) -> None:
        ev = self.last_step
        if not ev:
            return
        epoch, epochs = int(ev.get("epoch") or 0), int(ev.get("epochs") or 0)
        step, steps = int(ev.get("step") or 0), max(1, int(ev.get("steps") or 1))
        if epochs:
            frac = ((epoch - 1) + step / steps) / epochs
            self.progress.setValue(int(round(1000 * max(0.0, min(1.0, frac)))))
            self._progress_text(f"{100 * frac:.1f} %  ·  epoch {epoch} of {epochs}")
        self.stat_labels["epoch"].setText(f"{epoch} / {epochs}" if epochs else "–")
        self.stat_labels["step"].setText(f"{step} / {steps}")
        ips = ev.get("images_per_s")
        if isinstance(ips, (int, float)):
            self.stat_labels["speed"].setText(fmt_rate(ips))
        eta = ev.get("eta_s")
        if self.state == "evaluating":
            self.stat_labels["eta"].setText("evaluating")
        elif isinstance(eta, (int, float)):
            self.stat_labels["eta"].setText(human_duration(eta))

    def _progress_text(self, text: str) -> None:
        self.progress.setFormat(text)
        self.progress_label.setText(text)

    def _tick(self) -> None:
        """Elapsed training time of the whole run: earlier sessions (before a resume) plus this one."""
        if self._t_start is not None:
            self.stat_labels["elapsed"].setText(human_duration(self._elapsed_before + time.monotonic()
                                                               - self._t_start))

    def _reset_stats(self) -> None:
        for lab in self.stat_labels.values():
            lab.setText("–")
        self.progress.setValue(0)
        self._progress_text("")
        self.device_label.setText("")

    def _on_log_lines(self, lines: list[str]) -> None:
        self._append_log(lines)
        if self.state == "starting" and lines:      # importing torch, indexing the data…: say what is happening
            self._progress_text(f"starting: {lines[-1].strip()[:110]}")

    def _append_log(self, lines: list[str]) -> None:
        if lines:
            self.log_view.appendPlainText("\n".join(lines))

    def _crash_tail(self, outcome: dict) -> list[str]:
        """log.txt's last lines, then the worker's own output without the lines log.txt already shows (the
        trainer echoes each log line to stderr: the panel showed them twice)."""
        log_tail = outcome.get("log_tail") or []
        seen = {ln.strip() for ln in log_tail}
        own = [ln for ln in outcome.get("stderr_tail") or [] if ln.strip() not in seen]
        tail = []
        if log_tail:
            tail += [f"── {self.run_dir / 'log.txt' if self.run_dir else 'log.txt'} (last lines) ──"] + log_tail[-20:]
        if own:
            tail += ["── worker output (last lines) ──"] + own[-20:]
        return tail

    def _show_error(self, title: str, message: str, tail: list[str], resumable: bool) -> None:
        self.error_title.setText(title)
        self.error_message.setText(message)
        self.error_log.setPlainText("\n".join(tail))
        self.error_log.setVisible(bool(tail) and self.error_toggle.isChecked())
        self.error_toggle.setVisible(bool(tail))
        self.error_resume.setVisible(resumable)
        self.error_banner.setVisible(True)
        if tail:
            sb = self.error_log.verticalScrollBar()
            sb.setValue(sb.maximum())

    def _set_state(self, state: str) -> None:
        self.state = state
        titles = {"idle": "Idle", "starting": "Starting…", "running": "Training", "stopping": "Stopping…",
                  "evaluating": "Evaluating test split", "finished": "Finished", "stopped": "Stopped",
                  "failed": "Failed", "crashed": "Crashed"}
        self.state_badge.setText(titles.get(state, state))
        set_state(self.state_badge, "state", state)
        self._update_buttons()
        self.stateChanged.emit(state)
