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

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QTextCursor
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QPushButton, QSplitter,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from crackviewer.qt.text import fmt_number
from crackviewer.runs.detail import RunDetailMixin
from crackviewer.runs.retrain import started_from
from crackviewer.train.curves import read_run_events
from crackviewer.train.worker_io import tail_lines
from crackviewer.train.timing import first_started
from trainer.runs.folder import RunFolder, find_runs

STATUS_COLOURS = {"running": "#0072B2", "finished": "#00875a", "stopped": "#b5651d", "failed": "#b00020"}
COLUMNS = ["Run", "Status", "Epochs", "Best val AP", "Test AUC", "Test AP", "Test F1 (val thr.)", "Dice", "Started",
           "Folder"]
F1_TIP = ("F1 on the test split at the image threshold chosen on the validation split (an honest estimate); the F1 "
          "at the threshold chosen on the test split itself is in the run's report.")


def run_headline(rf: RunFolder) -> dict:
    """RunFolder.headline() plus what the Runs table headlines: the test F1 at the validation-chosen threshold
    (metrics.json "honest"), and the time the run was first started (a resume does not move it)."""
    h = rf.headline()
    try:
        honest = (rf.metrics() or {}).get("honest") or {}
        h["val_thr_f"] = honest.get("f_measure")
        h["started"] = first_started(rf.meta_events()) or h.get("started")
    except Exception:  # noqa: BLE001 - a runs list must show every folder
        h["val_thr_f"] = None
    try:
        h["from"] = started_from(rf)        # "from <old run>" for a fine-tune
    except Exception:  # noqa: BLE001
        h["from"] = None
    return h


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
    retrainRequested = Signal(str)          # fine-tune a new run from this one (Train tab, form filled)

    compareRequested = Signal(list)         # several selected runs: overlay their curves

    def __init__(self, workspace: Path | None = None, parent: QWidget | None = None,
                 extra_runs: list[str] | None = None):
        super().__init__(parent)
        self.workspace = Path(workspace) if workspace else None
        self.extra_runs: list[Path] = [Path(p) for p in extra_runs or []]   # opened from anywhere (File ▸ Open run)
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
        self.compare_button = QPushButton("Compare curves")
        self.compare_button.setToolTip("Select several runs (Ctrl+click or Shift+click) to overlay their training "
                                       "loss and validation AP curves")
        self.compare_button.setEnabled(False)
        self.compare_button.clicked.connect(lambda: self.compareRequested.emit(self.selected_paths()))
        head.addWidget(self.compare_button)
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
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.horizontalHeaderItem(COLUMNS.index("Test F1 (val thr.)")).setToolTip(F1_TIP)
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

        detail = self._build_detail()
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

    def add_run(self, path: str | Path) -> None:
        """List a run folder that is not under the workspace (File ▸ Open run…, `crackviewer --run`)."""
        path = Path(path)
        if path not in self.extra_runs:
            self.extra_runs.append(path)
        self.refresh()

    def _run_folders(self) -> list[RunFolder]:
        found = list(find_runs(self.workspace)) if self.workspace is not None else []
        seen = {rf.path.resolve() for rf in found}
        for p in self.extra_runs:
            if p.resolve() not in seen and RunFolder(p).is_run():
                found.append(RunFolder(p))
                seen.add(p.resolve())
        return found

    def refresh(self) -> None:
        if self.workspace is None and not self.extra_runs:
            return
        extra = f" and {len(self.extra_runs)} opened run folder(s)" if self.extra_runs else ""
        self.where.setText(f"  in {self.workspace}{extra}")
        found = []
        for rf in self._run_folders():
            key = str(rf.path)
            if key not in self.folders:
                self.folders[key] = rf
            found.append(self.folders[key])
        self.headlines = [run_headline(rf) for rf in found]
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
        elif self.current is None:
            self.run_title.setText("Select a run")

    def _fill_row(self, row: int, h: dict) -> None:
        path = Path(h["path"])
        origin = h.get("from")
        name = _SortItem(f"{h['name']}   ← from {origin}" if origin else h["name"], h["name"].lower())
        name.setData(Qt.ItemDataRole.UserRole, str(path))
        name.setToolTip(f"{path}\nfine-tuned from {origin}" if origin else str(path))
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
                 _SortItem(fmt_number(h.get("test_ap")), h.get("test_ap")), _SortItem(fmt_number(h.get("val_thr_f")), h.get("val_thr_f")),
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

    def selected_paths(self) -> list[str]:
        rows = sorted(r.row() for r in self.table.selectionModel().selectedRows())
        return [self.table.item(r, 0).data(Qt.ItemDataRole.UserRole) for r in rows]

    def _on_selection(self) -> None:
        paths = self.selected_paths()
        self.compare_button.setEnabled(len(paths) >= 2)
        if len(paths) == 1:
            self.open_run(paths[0])

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
