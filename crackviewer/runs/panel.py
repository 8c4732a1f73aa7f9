"""Runs tab: every run folder under the workspace with its status and headline metrics; a run's curves, report,
config and log.

The list comes from `trainer.runfolder.find_runs` / `RunFolder.headline()` (Qt-free). RunFolder objects are kept
between refreshes, so polling reads only the bytes appended to each events.jsonl. A run that is still training
(started here or from a terminal) is followed live: its new events are tailed once a second into the curves.
"""
from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QColor, QDesktopServices, QTextCursor
from PySide6.QtWidgets import (QAbstractItemView, QFrame, QGridLayout, QHBoxLayout, QHeaderView, QLabel, QPlainTextEdit,
                               QPushButton, QSplitter, QTableWidget, QTableWidgetItem, QTabWidget, QTextBrowser,
                               QVBoxLayout, QWidget)

from crackviewer.qt.text import fmt_number
from crackviewer.runs.detail import RunDetailMixin
from crackviewer.train.curves import read_run_events
from crackviewer.train.live_plots import LivePlots
from crackviewer.train.worker_io import tail_lines
from trainer.runs.folder import RunFolder, find_runs

STATUS_COLOURS = {"running": "#0072B2", "finished": "#00875a", "stopped": "#b5651d", "failed": "#b00020"}
COLUMNS = ["Run", "Status", "Epochs", "Best val AP", "Test AUC", "Test AP", "Test F1", "Dice", "Started", "Folder"]


class _SortItem(QTableWidgetItem):
    """Sorts by a hidden key (numbers as numbers, missing values last)."""

    def __init__(self, text: str, key: Any = None):
        super().__init__(text)
        self.key = key

    def __lt__(self, other):  # noqa: D105
        a, b = self.key, getattr(other, "key", None)
        if a is None or b is None:  # a missing value sorts below every value
            if (a is None) != (b is None):
                return a is None
            return self.text() < other.text()
        try:
            return a < b
        except TypeError:
            return str(a) < str(b)


class RunsView(RunDetailMixin, QWidget):
    """The Runs tab. runOpened(path) when the user opens (selects) a run."""

    runOpened = Signal(str)
    resumeRequested = Signal(str)
    inspectRequested = Signal(str)

    def __init__(self, workspace: Path | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.workspace = Path(workspace) if workspace else None
        self.folders: dict[str, Any] = {}       # path -> RunFolder (kept for incremental reads)
        self.headlines: list[dict] = []
        self.current: Path | None = None
        self._tail_offset = 0
        self._following = False

        v = QVBoxLayout(self)
        v.setContentsMargins(12, 10, 12, 10)
        v.setSpacing(8)
        head = QHBoxLayout()
        title = QLabel("Runs")
        title.setObjectName("pageTitle")
        head.addWidget(title)
        self.where = QLabel("")
        self.where.setObjectName("pageSubtitle")
        head.addWidget(self.where, 1)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        head.addWidget(self.refresh_button)
        v.addLayout(head)

        split = QSplitter(Qt.Orientation.Vertical)
        v.addWidget(split, 1)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setSortingEnabled(True)
        self.table.setShowGrid(False)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        hh.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        hh.setStretchLastSection(True)
        self.table.setColumnWidth(0, 240)
        self.table.itemSelectionChanged.connect(self._on_selection)
        split.addWidget(self.table)

        # detail
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
        self.folder_button = QPushButton("Open folder")
        self.folder_button.clicked.connect(
            lambda: self.current and QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.current))))
        for b in (self.inspect_button, self.resume_button, self.folder_button):
            b.setEnabled(False)
            top.addWidget(b)
        dv.addLayout(top)
        self.metrics_card = QFrame()
        self.metrics_card.setObjectName("statusCard")
        self.metrics_grid = QGridLayout(self.metrics_card)
        self.metrics_grid.setContentsMargins(14, 8, 14, 8)
        self.metrics_grid.setHorizontalSpacing(22)
        self.metric_labels: dict[str, QLabel] = {}
        for col, (key, caption) in enumerate((("auc", "test AUC"), ("ap", "test AP"), ("f", "F1 at best threshold"),
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
        split.addWidget(detail)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 3)
        split.setSizes([150, 700])

        self.poll = QTimer(self)
        self.poll.setInterval(1000)
        self.poll.timeout.connect(self._poll)
        self.refresh_timer = QTimer(self)
        self.refresh_timer.setInterval(5000)
        self.refresh_timer.timeout.connect(self._auto_refresh)

    # ------------------------------------------------------------------------------------------- list
    def set_workspace(self, workspace: Path) -> None:
        self.workspace = Path(workspace)
        self.folders.clear()
        self.refresh()

    def refresh(self) -> None:
        if self.workspace is None:
            return
        self.where.setText(f"  in {self.workspace}")
        found = []
        for rf in find_runs(self.workspace):
            key = str(rf.path)
            if key not in self.folders:
                self.folders[key] = rf
            found.append(self.folders[key])
        self.headlines = [rf.headline() for rf in found]
        selected = str(self.current) if self.current else None
        self.table.setSortingEnabled(False)
        self.table.blockSignals(True)
        self.table.setRowCount(len(self.headlines))
        for row, h in enumerate(self.headlines):
            self._fill_row(row, h)
        self.table.blockSignals(False)
        self.table.setSortingEnabled(True)
        if selected:
            self.select_run(selected, emit=False)
        if any(h["status"] == "running" for h in self.headlines):
            if self.isVisible():
                self.refresh_timer.start()
        else:
            self.refresh_timer.stop()
        if not self.headlines:
            self.run_title.setText("No runs yet — start one in the Train tab")

    def _fill_row(self, row: int, h: dict) -> None:
        path = Path(h["path"])
        name = _SortItem(h["name"], h["name"].lower())
        name.setData(Qt.ItemDataRole.UserRole, str(path))
        name.setToolTip(str(path))
        status = h["status"]
        st = _SortItem(f"●  {status}", status)
        st.setForeground(QColor(STATUS_COLOURS.get(status, "#555")))
        if h.get("error"):
            st.setToolTip(h["error"])
        done, total = h.get("epochs_done") or 0, h.get("epochs_total")
        ep = _SortItem(f"{done} / {total}" if total else str(done), done)
        best = h.get("best_val_ap")
        best_text = fmt_number(best) + (f"  (ep {h['best_epoch']})" if best is not None and h.get("best_epoch") else "")
        items = [name, st, ep, _SortItem(best_text, best), _SortItem(fmt_number(h.get("test_auc")), h.get("test_auc")),
                 _SortItem(fmt_number(h.get("test_ap")), h.get("test_ap")), _SortItem(fmt_number(h.get("test_f")), h.get("test_f")),
                 _SortItem(fmt_number(h.get("dice_mean")), h.get("dice_mean"))]
        started = h.get("started")
        stamp = _dt.datetime.fromtimestamp(started).strftime("%Y-%m-%d %H:%M") if started else "–"
        items.append(_SortItem(stamp, started or 0))
        try:
            rel = str(path.relative_to(self.workspace)) if self.workspace else str(path)
        except ValueError:
            rel = str(path)
        items.append(_SortItem(rel, rel))
        for col, it in enumerate(items):
            if col >= 2:
                it.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                                    if col < 8 else Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
            self.table.setItem(row, col, it)

    def run_paths(self) -> list[str]:
        return [h["path"] for h in self.headlines]

    def status_of(self, path: str | Path) -> str | None:
        for h in self.headlines:
            if Path(h["path"]) == Path(path):
                return h["status"]
        return None

    def select_run(self, path: str | Path, emit: bool = True) -> bool:
        path = str(Path(path))
        for row in range(self.table.rowCount()):
            it = self.table.item(row, 0)
            if it is not None and it.data(Qt.ItemDataRole.UserRole) == path:
                if not emit:
                    self.table.blockSignals(True)
                self.table.selectRow(row)
                if not emit:
                    self.table.blockSignals(False)
                    self._update_detail_header()
                return True
        return False

    def _on_selection(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return
        path = self.table.item(rows[0].row(), 0).data(Qt.ItemDataRole.UserRole)
        self.open_run(path)

    # ------------------------------------------------------------------------------------------- detail
    def open_run(self, path: str | Path) -> None:
        """Show a run's curves, report, config and log; follow it live when it is still running."""
        path = Path(path)
        self.current = path
        rf = self.folders.get(str(path)) or RunFolder(path)
        self.folders[str(path)] = rf
        self.run_title.setText(path.name)
        self.run_title.setToolTip(str(path))

        events = rf.events() or read_run_events(path)   # no events.jsonl: rebuilt from losses/validation.csv
        self.plots.load_events(events)
        self._tail_offset = rf.events_path.stat().st_size if rf.events_path.is_file() else 0
        self._fill_metrics(rf, events)
        self._load_report(path)
        self._fill_config(rf)
        self.log.setPlainText("\n".join(tail_lines(rf.log_path, 500, max_bytes=256_000)))
        self.log.moveCursor(QTextCursor.MoveOperation.End)
        self._update_detail_header()
        self.runOpened.emit(str(path))

    # ------------------------------------------------------------------------------------------- live follow
    def _poll(self) -> None:
        if self.current is None:
            self.poll.stop()
            return
        rf = self.folders.get(str(self.current))
        if rf is None:
            return
        events, self._tail_offset = rf.read_events_since(self._tail_offset)
        if events:
            self.plots.add_events(events)
            if any(e.get("event") in ("finished", "error", "evaluation") for e in events):
                self.refresh()
                self.open_run(self.current)
                return
        if rf.status != "running":
            self.refresh()
            self._update_detail_header()

    def _auto_refresh(self) -> None:
        if self.isVisible():
            self.refresh()

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        self.refresh()

    def hideEvent(self, event) -> None:  # noqa: N802
        super().hideEvent(event)
        self.refresh_timer.stop()
        self.poll.stop()

    def sizeHint(self) -> QSize:  # noqa: D102
        return QSize(1200, 800)
