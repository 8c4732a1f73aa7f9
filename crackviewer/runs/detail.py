"""The detail side of the Runs tab: the selected run's header, headline metrics, README report and config table.

`RunDetailMixin` is the part of `RunsView` that fills them."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QTableWidgetItem

from crackviewer.qt.style import set_state
from crackviewer.qt.text import fmt_number, human_duration
from crackviewer.runs.report_view import report_html
from trainer.config import DEFAULTS, KEY_DOCS



class RunDetailMixin:
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
        resumable = status in ("stopped", "failed") and rf is not None and rf.last_checkpoint() is not None
        self.resume_button.setEnabled(resumable)
        self.inspect_button.setEnabled(status == "finished" and rf is not None and bool(rf.evaluations()))
        self.folder_button.setEnabled(True)
        err = rf.error if rf is not None else None
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
        lab["f"].setText(fmt_number(m.get("f_measure"), 3))
        lab["fpfn"].setText(f"{m['fp']} / {m['fn']}" if m.get("fp") is not None and m.get("fn") is not None
                            else "–")
        lab["dice"].setText(f"{fmt_number(m.get('dice_mean'), 3)} ± {fmt_number(m.get('dice_std'), 3)}"
                            if m.get("dice_mean") is not None else "–")
        lab["iou"].setText(f"{fmt_number(m.get('iou_mean'), 3)} ± {fmt_number(m.get('iou_std'), 3)}"
                           if m.get("iou_mean") is not None else "–")
        lab["seg_thr"].setText(fmt_number(m.get("seg_threshold")))
        secs = None
        for ev in events:
            if ev.get("event") == "finished" and isinstance(ev.get("seconds"), (int, float)):
                secs = (secs or 0) + ev["seconds"]
        lab["time"].setText(human_duration(secs) if secs is not None else "–")

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
