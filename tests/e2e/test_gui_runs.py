"""Runs tab: every run folder under the workspace with status and headline metrics; opening a run shows its curves,
report (markdown with its PNGs), config and log; resume and inspect hand-offs; a running run is followed live.

Uses realistic fake run folders (tests/fakes.py): no torch, milliseconds.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtCore import Qt

from tests.fakes import make_fake_dataset, make_fake_run

pytestmark = pytest.mark.gui


@pytest.fixture
def workspace(tmp_path) -> Path:
    ws = tmp_path / "ws"
    runs = ws / "runs"
    data = make_fake_dataset(tmp_path / "data", size=64, seed=2)
    t0 = time.time() - 3600
    make_fake_run(runs, name="a-finished", data=data, epochs=6, status="finished", quality=0.9, start_time=t0)
    make_fake_run(runs, name="b-stopped", data=data, epochs=6, status="stopped", start_time=t0 + 100)
    make_fake_run(runs, name="c-failed", data=data, epochs=6, status="failed", start_time=t0 + 200)
    make_fake_run(runs, name="d-running", data=data, epochs=6, status="running", start_time=t0 + 300)
    make_fake_run(runs, name="e-interrupted", data=data, epochs=6, status="interrupted", start_time=t0 + 400)
    # a run one level deeper (e.g. the demo's run folder) is found too
    make_fake_run(ws / "demo", name="run", data=data, epochs=4, status="finished", start_time=t0 + 500)
    return ws


@pytest.fixture
def window(qtbot, tmp_path, workspace, monkeypatch):
    from crackviewer.main_window import MainWindow
    from crackviewer.qt.settings import AppSettings

    ini = tmp_path / "settings.ini"
    monkeypatch.setenv("CRACKVIEWER_SETTINGS", str(ini))
    win = MainWindow(AppSettings(ini, workspace=workspace), probe_devices=False, optional_panels=False)
    win.confirm_close = False
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    win.show_tab("runs")
    return win


def _row_texts(rv, path) -> list[str]:
    for row in range(rv.table.rowCount()):
        if rv.table.item(row, 0).data(Qt.ItemDataRole.UserRole) == str(path):
            return [rv.table.item(row, c).text() for c in range(rv.table.columnCount())]
    raise AssertionError(f"{path} not listed")


def test_lists_every_run_with_status_and_headline_metrics(window, workspace):
    rv = window.runs_view
    runs = workspace / "runs"
    assert sorted(Path(p).name for p in rv.run_paths()) == sorted(
        ["a-finished", "b-stopped", "c-failed", "d-running", "e-interrupted", "run"])
    expected = {"a-finished": "finished", "b-stopped": "stopped", "c-failed": "failed", "d-running": "running",
                "e-interrupted": "failed"}
    for name, status in expected.items():
        assert rv.status_of(runs / name) == status
        assert status in _row_texts(rv, runs / name)[1]
    assert rv.status_of(workspace / "demo" / "run") == "finished"
    metrics = json.loads((runs / "a-finished" / "metrics.json").read_text())
    row = _row_texts(rv, runs / "a-finished")
    assert row[2] == "6 / 6"
    assert row[4] == f"{metrics['auc']:.4f}" and row[5] == f"{metrics['ap']:.4f}"
    assert row[7] == f"{metrics['dice_mean']:.4f}"
    assert row[3].startswith("0.") and "(ep " in row[3]              # best validation AP and its epoch
    assert _row_texts(rv, runs / "b-stopped")[4] == "–"              # no test evaluation yet
    assert rv.refresh_timer.isActive()                               # a running run: the list refreshes itself


def test_open_finished_run_shows_curves_report_config_and_log(window, workspace, qtbot):
    rv = window.runs_view
    run = workspace / "runs" / "a-finished"
    # the run's report: markdown with a table and a PNG (as the trainer's report writes it)
    png = np.full((300, 1600, 3), 255, np.uint8)
    cv2.line(png, (0, 299), (1599, 0), (0, 114, 178), 5)
    cv2.imwrite(str(run / "ROC.png"), png)
    (run / "README.md").write_text("# Results of training on crack_segmentation dataset\n\n"
                                   "| Set | Positives | Negatives |\n|---|---|---|\n| Test | 24 | 16 |\n\n"
                                   "## ROC\n\n![ROC](./ROC.png)\n", encoding="utf-8")
    opened = []
    rv.runOpened.connect(opened.append)
    assert rv.select_run(run)
    assert opened == [str(run)]
    assert rv.current == run
    assert rv.run_status.text() == "finished" and rv.run_status.isVisible()
    m = json.loads((run / "metrics.json").read_text())
    assert rv.metric_labels["auc"].text() == f"{m['auc']:.4f}"
    assert rv.metric_labels["fpfn"].text() == f"{m['fp']} / {m['fn']}"
    assert rv.metric_labels["dice"].text().startswith(f"{m['dice_mean']:.3f} ±")
    # curves from the run's events
    assert sorted(rv.plots.epoch_loss["loss"].values) == [1, 2, 3, 4, 5, 6]
    assert rv.plots.step_raw["loss"].total > 0
    from trainer.runs.folder import RunFolder

    assert sorted(rv.plots.val["ap"].values) == [int(r["epoch"]) for r in RunFolder(run).validation()]
    assert len(rv.plots.val["ap"].values) >= 3
    assert rv.plots.lam["lambda_seg"].values
    # the report, with its picture scaled to the view
    text = rv.report.toPlainText()
    assert "Results of training" in text and "Positives" in text
    html = rv.report.document().toHtml()
    assert "ROC.png" in html
    assert 'width="' in html                                         # the 1600 px image was scaled down
    # config and log
    keys = [rv.config_table.item(r, 0).text() for r in range(rv.config_table.rowCount())]
    assert "learning_rate" in keys and "architecture" in keys
    assert "Epoch 6/6" in rv.log.toPlainText()
    assert rv.inspect_button.isEnabled()
    assert not rv.resume_button.isEnabled()                          # finished runs are not resumed
    assert window.settings.last_run == run


def test_open_run_without_report_or_events_falls_back(window, workspace):
    rv = window.runs_view
    run = workspace / "runs" / "b-stopped"
    (run / "events.jsonl").unlink()                                   # only the CSV files remain
    rv.refresh()
    rv.open_run(run)
    assert sorted(rv.plots.epoch_loss["loss"].values) == [1, 2, 3, 4]
    assert "No report yet" in rv.report.toPlainText()


def test_failed_run_shows_why_and_resume_goes_to_train(window, workspace):
    rv = window.runs_view
    tp = window.training_panel
    run = workspace / "runs" / "c-failed"
    rv.select_run(run)
    assert rv.problem_label.isVisible() if rv.isVisible() else True
    assert "out of memory" in rv.problem_label.text()
    assert rv.resume_button.isEnabled()
    rv.resume_button.click()
    assert window.current_tab() == "train"
    assert tp.resume_target == run
    assert tp.resume_button.isEnabled()
    assert tp.run_label.text() == "c-failed"
    assert tp.form.value("epochs") == 6                              # the run's config is shown
    assert tp.plots.epoch_loss["loss"].values                        # and its curves so far


def test_inspect_button_hands_the_run_to_the_inspect_panel(window, workspace):
    from PySide6.QtWidgets import QWidget

    class StubInspect(QWidget):
        def __init__(self):
            super().__init__()
            self.opened = []

        def open_run(self, path, split=None):
            self.opened.append(path)
            return True

    stub = StubInspect()
    window.add_panel("Inspect", stub, "inspect")
    window.inspect_panel = stub
    rv = window.runs_view
    run = workspace / "runs" / "a-finished"
    rv.select_run(run)
    rv.inspect_button.click()
    assert window.current_tab() == "inspect"
    assert stub.opened == [str(run)]
    # a run without an evaluation is not handed over
    rv.select_run(workspace / "runs" / "b-stopped")
    window.show_tab("inspect")
    assert stub.opened == [str(run)]


def test_running_run_is_followed_live(window, workspace, qtbot):
    rv = window.runs_view
    run = workspace / "runs" / "d-running"
    rv.select_run(run)
    assert rv.poll.isActive()
    n = len(rv.plots.epoch_loss["loss"].values)
    with open(run / "events.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"event": "epoch", "time": time.time(), "epoch": n + 1, "epochs": 6, "loss_seg": 0.1,
                             "loss_dec": 0.2, "loss": 0.1, "lambda_seg": 0.5, "lambda_dec": 0.005}) + "\n")
    qtbot.waitUntil(lambda: len(rv.plots.epoch_loss["loss"].values) == n + 1, timeout=5_000)
    with open(run / "events.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"event": "finished", "time": time.time(), "status": "stopped", "epochs_done": n + 1,
                             "seconds": 10}) + "\n")
    qtbot.waitUntil(lambda: rv.status_of(run) == "stopped", timeout=5_000)
    qtbot.waitUntil(lambda: not rv.poll.isActive(), timeout=5_000)
    assert rv.run_status.text() == "stopped"


def test_new_run_folder_appears_on_refresh_and_sorting(window, workspace, qtbot):
    rv = window.runs_view
    n = rv.table.rowCount()
    make_fake_run(workspace / "runs", name="f-new", data=workspace.parent / "data", epochs=3, status="finished",
                  quality=0.3)
    rv.refresh_button.click()
    assert rv.table.rowCount() == n + 1
    rv.table.sortItems(4, Qt.SortOrder.DescendingOrder)              # by test AUC, missing values last
    col = [rv.table.item(r, 4).text() for r in range(rv.table.rowCount())]
    nums = [float(c) for c in col if c != "–"]
    assert nums == sorted(nums, reverse=True)
    assert col[-1] == "–"


def test_no_runs_yet_title_goes_when_a_run_appears(qtbot, tmp_path, monkeypatch):
    """Issue 17 bug 7: "No runs yet — start one in the Train tab" stayed above a table that lists a run."""
    from crackviewer.main_window import MainWindow
    from crackviewer.qt.settings import AppSettings

    ws = tmp_path / "empty-ws"
    win = MainWindow(AppSettings(tmp_path / "s.ini", workspace=ws), probe_devices=False, optional_panels=False)
    qtbot.addWidget(win)
    rv = win.runs_view
    rv.refresh()
    assert rv.run_title.text().startswith("No runs yet")
    make_fake_run(ws / "runs", name="first", epochs=3)
    rv.refresh()
    assert rv.table.rowCount() == 1
    assert "No runs yet" not in rv.run_title.text()


def test_table_headlines_the_f1_at_the_validation_chosen_threshold(window, workspace):
    rv = window.runs_view
    run = workspace / "runs" / "a-finished"
    metrics = json.loads((run / "metrics.json").read_text())
    col = [rv.table.horizontalHeaderItem(c).text() for c in range(rv.table.columnCount())].index("Test F1 (val thr.)")
    assert _row_texts(rv, run)[col] == f"{metrics['honest']['f_measure']:.4f}"
    rv.select_run(run)
    assert rv.metric_labels["f"].text() == f"{metrics['honest']['f_measure']:.3f}"
    assert f"{metrics['f_measure']:.3f}" in rv.metric_labels["f"].toolTip()     # the test-chosen one, as a note


def test_resumed_run_counts_its_whole_training_time_and_first_start(window, workspace):
    """Issue 17 bug 6: after a resume, "Started" and "Training time" counted only the resumed part."""
    import datetime as dt

    from trainer.runs.events import EventLog
    from trainer.runs.folder import RunFolder

    run = workspace / "runs" / "b-stopped"
    events = RunFolder(run).events()
    t_first, t_end = events[0]["time"], events[-1]["time"]
    log = EventLog(run)
    t2 = t_end + 3000
    log.emit("run_started", time=t2, config=RunFolder(run).config, resumed_from_epoch=4, pid=4_000_000)
    log.emit("epoch", time=t2 + 60, epoch=5, epochs=6, loss=0.1, loss_seg=0.1, loss_dec=0.1)
    log.emit("finished", time=t2 + 100, status="stopped", epochs_done=5, seconds=100.0)
    log.close()
    rv = window.runs_view
    rv.refresh()
    col = [rv.table.horizontalHeaderItem(c).text() for c in range(rv.table.columnCount())].index(
        "Started")
    assert _row_texts(rv, run)[col] == dt.datetime.fromtimestamp(t_first).strftime("%Y-%m-%d %H:%M")
    rv.select_run(run)
    from crackviewer.qt.text import human_duration
    assert rv.metric_labels["time"].text() == human_duration((t_end - t_first) + 100)


def test_compare_overlays_the_curves_of_selected_runs(window, workspace, qtbot):
    from PySide6.QtCore import QItemSelectionModel

    rv = window.runs_view
    runs = [workspace / "runs" / "a-finished", workspace / "runs" / "b-stopped"]
    assert not rv.compare_button.isEnabled()
    sel = rv.table.selectionModel()
    for run in runs:
        for row in range(rv.table.rowCount()):
            if rv.table.item(row, 0).data(Qt.ItemDataRole.UserRole) == str(run):
                sel.select(rv.table.model().index(row, 0), QItemSelectionModel.SelectionFlag.Select
                           | QItemSelectionModel.SelectionFlag.Rows)
    assert rv.compare_button.isEnabled()
    qtbot.mouseClick(rv.compare_button, Qt.MouseButton.LeftButton)
    win = window.compare_window
    assert win.isVisible() and set(win.curves) == {str(r) for r in runs}
    for path, (c_loss, c_ap) in win.curves.items():
        x, _ = c_loss.getData()
        assert len(x) == (6 if path.endswith("a-finished") else 4)     # one point per epoch trained
        assert len(c_ap.getData()[0]) >= 1
    assert len(win.p_loss.listDataItems()) == 2
    win.close()


def test_failed_run_without_checkpoint_does_not_promise_a_resume(window, workspace):
    """Issue 17 bug 4: the failed-run text said "then Resume" for a run with no checkpoint."""
    run = workspace / "runs" / "c-failed"
    for ck in (run / "checkpoints").glob("*.pth"):
        ck.unlink()
    rv = window.runs_view
    rv.refresh()
    rv.select_run(run)
    assert not rv.resume_button.isEnabled()
    assert "no checkpoint" in rv.resume_button.toolTip()
    assert "cannot be resumed" in rv.problem_label.text()
