"""The detail side of the Runs tab: the selected run's header, headline metrics, README report and config table.

`RunDetailMixin` is the part of `RunsView` that fills them."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QColor, QDesktopServices
from PySide6.QtWidgets import (QAbstractItemView, QFrame, QGridLayout, QHBoxLayout, QHeaderView, QLabel,
                               QPlainTextEdit, QPushButton, QTableWidget, QTableWidgetItem, QTabWidget, QTextBrowser,
                               QVBoxLayout, QWidget)

from crackviewer.qt.style import set_state
from crackviewer.qt.text import fmt_number, human_duration
from crackviewer.runs.report_view import report_html
from crackviewer.train.live_plots import LivePlots
from crackviewer.train.timing import training_seconds
from trainer.config import DEFAULTS, KEY_DOCS
from trainer.runs import paths


class RunDetailMixin:
    def _build_detail(self) -> QWidget:
        """The lower half: the run's header and buttons, its headline metrics, and Curves / Report / Config / Log."""
        detail = QWidget()
        dv = QVBoxLayout(detail)
        dv.setContentsMargins(0, 4, 0, 0)
        dv.setSpacing(6)
        top = QHBoxLayout()
        self.run_title = QLabel("Select a run")
        self.run_title.setObjectName("runTitle")
        self.run_title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        top.addWidget(self.run_title)
        self.run_status = QLabel("")
        self.run_status.setObjectName("stateBadge")
        self.run_status.setFixedHeight(22)
        self.run_status.setVisible(False)
        top.addWidget(self.run_status)
        top.addStretch(1)
        self.inspect_button = QPushButton("Inspect predictions")
        self.inspect_button.setObjectName("primaryButton")
        self.inspect_button.clicked.connect(lambda: self.current and self.inspectRequested.emit(str(self.current)))
        self.resume_button = QPushButton("Resume training")
        self.resume_button.clicked.connect(lambda: self.current and self.resumeRequested.emit(str(self.current)))
        self.retrain_button = QPushButton("Retrain from this run")
        self.retrain_button.setObjectName("retrainButton")
        self.retrain_button.clicked.connect(lambda: self.current and self.retrainRequested.emit(str(self.current)))
        self.folder_button = QPushButton("Open folder")
        self.folder_button.clicked.connect(
            lambda: self.current and QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.current))))
        for b in (self.inspect_button, self.retrain_button, self.resume_button, self.folder_button):
            b.setEnabled(False)
            top.addWidget(b)
        dv.addLayout(top)
        self.metrics_card = QFrame()
        self.metrics_card.setObjectName("statusCard")
        self.metrics_grid = QGridLayout(self.metrics_card)
        self.metrics_grid.setContentsMargins(14, 8, 14, 8)
        self.metrics_grid.setHorizontalSpacing(22)
        self.metric_labels: dict[str, QLabel] = {}
        for col, (key, caption) in enumerate((("auc", "test AUC"), ("ap", "test AP"), ("f", "test F1 (val. threshold)"),
                                              ("fpfn", "FP / FN"), ("dice", "Dice (mean ± std)"),
                                              ("iou", "IoU (mean ± std)"), ("seg_thr", "seg. threshold"),
                                              ("time", "training time"))):
            num = QLabel("–")
            num.setObjectName("bigNumber")
            cap = QLabel(caption)
            cap.setObjectName("smallCaption")
            self.metrics_grid.addWidget(num, 0, col)
            self.metrics_grid.addWidget(cap, 1, col)
            self.metric_labels[key] = num
        self.problem_label = QLabel("")
        self.problem_label.setWordWrap(True)
        self.problem_label.setObjectName("warningBox")
        self.problem_label.setVisible(False)
        dv.addWidget(self.metrics_card)
        dv.addWidget(self.problem_label)

        self.tabs = QTabWidget()
        self.tabs.setObjectName("subTabs")
        self.plots = LivePlots()
        self.tabs.addTab(self.plots, "Curves")
        self.report = QTextBrowser()
        self.report.setOpenExternalLinks(True)
        self.tabs.addTab(self.report, "Report")
        self.config_table = QTableWidget(0, 4)
        self.config_table.setHorizontalHeaderLabels(["Key", "Value", "Published run", "Group"])
        self.config_table.verticalHeader().setVisible(False)
        self.config_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.config_table.setAlternatingRowColors(True)
        self.config_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.config_table.horizontalHeader().setStretchLastSection(True)
        self.tabs.addTab(self.config_table, "Config")
        self.log = QPlainTextEdit()
        self.log.setObjectName("logView")
        self.log.setReadOnly(True)
        self.log.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.tabs.addTab(self.log, "Log")
        dv.addWidget(self.tabs, 1)
        self.placeholder = QLabel("Select a run above to see its curves, its report, its config and its log.\n"
                                  "Runs started from a terminal (crack-train train --out WORKSPACE/runs/NAME) "
                                  "appear here too, and are followed live while they train.")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setObjectName("placeholder")
        dv.addWidget(self.placeholder, 1)
        self.metrics_card.setVisible(False)
        self.tabs.setVisible(False)
        return detail

    def _update_detail_header(self) -> None:
        if self.current is None:
            return
        rf = self.folders.get(str(self.current))
        status = rf.status if rf is not None else "failed"
        self.run_status.setText(status)
        self.run_status.setVisible(True)
        self.placeholder.setVisible(False)
        self.metrics_card.setVisible(True)
        self.tabs.setVisible(True)
        set_state(self.run_status, "state", status)
        has_checkpoint = rf is not None and rf.last_checkpoint() is not None
        resumable = status in ("stopped", "failed") and has_checkpoint
        self.resume_button.setEnabled(resumable)
        self.resume_button.setToolTip(
            "Continue from the last completed epoch (checkpoints/last.pth)" if resumable else
            "Nothing to resume: no checkpoint was saved (the run ended before its first epoch did)"
            if status in ("stopped", "failed") else f"Nothing to resume: the run is {status}")
        self.inspect_button.setEnabled(status == "finished" and rf is not None and bool(rf.evaluations()))
        can_retrain = status != "running" and rf is not None and any(
            rf.checkpoint(kind) for kind in paths.CHECKPOINT_KINDS)
        self.retrain_button.setEnabled(can_retrain)
        self.retrain_button.setToolTip(
            "Fine-tune a new run from this run's weights on the open dataset (your corrected masks): the Train tab "
            "opens with this run's parameters and a short schedule" if can_retrain else
            "Nothing to retrain from: the run is still training or saved no checkpoint")
        self.folder_button.setEnabled(True)
        err = rf.error if rf is not None else None
        if err and not has_checkpoint:      # the folder's truth, whatever the message suggests
            err += " — no checkpoint was saved, so this run cannot be resumed: start it again."
        self.problem_label.setText(f"<b>{status.capitalize()}:</b> {err}" if err else "")
        self.problem_label.setVisible(bool(err))
        following = status == "running"
        if following and not self.poll.isActive():
            self.poll.start()
        elif not following:
            self.poll.stop()

    def _fill_metrics(self, rf, events: list[dict]) -> None:
        try:
            m = rf.metrics() or {}
        except Exception:  # noqa: BLE001
            m = {}
        lab = self.metric_labels
        lab["auc"].setText(fmt_number(m.get("auc")))
        lab["ap"].setText(fmt_number(m.get("ap")))
        lab["fpfn"].setText(f"{m['fp']} / {m['fn']}" if m.get("fp") is not None and m.get("fn") is not None
                            else "–")
        lab["dice"].setText(f"{fmt_number(m.get('dice_mean'), 3)} ± {fmt_number(m.get('dice_std'), 3)}"
                            if m.get("dice_mean") is not None else "–")
        lab["iou"].setText(f"{fmt_number(m.get('iou_mean'), 3)} ± {fmt_number(m.get('iou_std'), 3)}"
                           if m.get("iou_mean") is not None else "–")
        lab["seg_thr"].setText(fmt_number(m.get("seg_threshold")))
        honest = m.get("honest") or {}
        lab["f"].setText(fmt_number(honest.get("f_measure"), 3))
        lab["f"].setToolTip(f"F1 on the test split at the validation-chosen image threshold; at the test-chosen "
                            f"threshold it is {fmt_number(m.get('f_measure'), 3)}")
        lab["time"].setText(human_duration(training_seconds(events)))

    def _load_report(self, path: Path) -> None:
        readme = path / "README.md"
        if readme.is_file():
            self.report.setSearchPaths([str(path)])
            self.report.document().setBaseUrl(QUrl.fromLocalFile(str(path) + "/"))
            width = max(400, min(640, self.report.viewport().width() - 40 if self.report.isVisible() else 640))
            try:
                self.report.setHtml(report_html(readme, width))
            except OSError as exc:
                self.report.setPlainText(f"Cannot read {readme}: {exc}")
        else:
            self.report.setHtml("<p style='color:#666'>No report yet: <tt>README.md</tt> is written when a run "
                                "finishes (or with <tt>crack-train report RUN</tt>).</p>")

    def _fill_config(self, rf) -> None:
        cfg = rf.config_or_empty()
        keys = [k for k in DEFAULTS if k in cfg] + [k for k in cfg if k not in DEFAULTS]
        t = self.config_table
        t.setRowCount(len(keys))
        for row, k in enumerate(keys):
            group, doc, published = KEY_DOCS.get(k, ("", "", ""))
            items = [QTableWidgetItem(k), QTableWidgetItem(str(cfg[k])), QTableWidgetItem(published),
                     QTableWidgetItem(group)]
            for it in items:
                it.setToolTip(doc)
            if k in DEFAULTS and cfg[k] != DEFAULTS[k]:
                items[1].setForeground(QColor("#0072B2"))
                f = items[1].font()
                f.setBold(True)
                items[1].setFont(f)
            for col, it in enumerate(items):
                t.setItem(row, col, it)
