"""Training from the GUI: a real tiny training in the worker process with live updates; stop and resume; a killed
worker; a worker that reports an error. Plus the event plumbing and the bounded live plots.

The trainings are tiny (64x64, a dozen images, 2 epochs) but real: `python -m trainer train ... --events` in a
QProcess, exactly what the app runs.
"""
from __future__ import annotations

import json
import os
import signal
import stat
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt


pytestmark = pytest.mark.gui

TINY = dict(input_height=64, input_width=64, batch_size=2, validation_n_epochs=1, save_images=False,
            learning_rate=0.1, epochs=2)


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory) -> Path:
    from trainer.datasets.synthetic import make_synthetic_dataset

    out = tmp_path_factory.mktemp("tiny") / "cracks"
    return make_synthetic_dataset(out, n_train_pos=4, n_train_neg=2, n_val_pos=2, n_val_neg=2, n_test_pos=2,
                                  n_test_neg=1, size=(64, 64), seed=5)


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch, tiny_dataset):
    from crackviewer.main_window import MainWindow
    from crackviewer.qt.settings import AppSettings

    monkeypatch.setenv("CRACK_REPORT_FIGURES", "0")   # the worker writes its report without rendering figures
    ini = tmp_path / "settings.ini"
    monkeypatch.setenv("CRACKVIEWER_SETTINGS", str(ini))
    win = MainWindow(AppSettings(ini, workspace=tmp_path / "ws"), probe_devices=False, optional_panels=False)
    win.confirm_close = False
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    with qtbot.waitSignal(win.dataset_view.datasetOpened, timeout=60_000):
        win.open_dataset(tiny_dataset)
    win.show_tab("train")
    yield win
    tp = win.training_panel
    if tp.worker.is_running():
        tp.worker.kill()
        tp.worker.wait(10_000)


def _events(tp) -> list[dict]:
    got: list[dict] = []
    tp.worker.eventsReceived.connect(got.extend)
    return got


def _has(events, event_name, **fields) -> bool:
    return any(e.get("event") == event_name and all(e.get(k) == v for k, v in fields.items()) for e in events)


# ------------------------------------------------------------------------------------------------ real trainings
@pytest.mark.slow
def test_train_live_updates_then_stop_resume_and_open_finished_run(window, qtbot):
    from trainer.runs.folder import RunFolder

    tp = window.training_panel
    window.show_tab("train")
    tp.set_config(TINY)
    tp.name_edit.setText("gui-live")
    events = _events(tp)
    qtbot.mouseClick(tp.start_button, Qt.MouseButton.LeftButton)
    run = window.settings.runs_dir / "gui-live"
    assert tp.run_dir == run
    assert tp.state in ("starting", "running")
    assert not tp.start_button.isEnabled() and tp.stop_button.isEnabled() and not tp.form.isEnabled()
    assert "--events" in tp.worker.command and "--config" in tp.worker.command
    assert RunFolder(run).config["epochs"] == 2             # RUN/config.toml, written by the GUI

    # live updates: step events reach the plots, the progress bar and the numbers
    qtbot.waitUntil(lambda: _has(events, "step"), timeout=180_000)
    qtbot.waitUntil(lambda: tp.plots.step_raw["loss"].total > 0, timeout=5_000)
    assert tp.state == "running"
    assert tp.progress.value() > 0
    assert tp.stat_labels["epoch"].text().endswith("/ 2")
    assert "cpu" in tp.device_label.text()
    qtbot.waitUntil(lambda: tp.plots.redraw_count > 0 and len(tp.plots.c_smooth["loss"].getData()[0] or []) > 0,
                    timeout=5_000)

    # epoch 1 done (loss point, validation point, checkpoint); stop at the first step of epoch 2
    qtbot.waitUntil(lambda: _has(events, "step", epoch=2), timeout=240_000)
    assert list(tp.plots.epoch_loss["loss"].values) == [1]
    assert list(tp.plots.val["ap"].values) == [1]
    assert tp.plots.lam["lambda_seg"].values == {1: 1.0}
    with qtbot.waitSignal(tp.runEnded, timeout=120_000) as ended:
        qtbot.mouseClick(tp.stop_button, Qt.MouseButton.LeftButton)
        assert tp.state == "stopping"
    outcome = ended.args[1]
    assert outcome["status"] == "stopped", outcome
    assert outcome["resumable"]
    assert tp.state == "stopped"
    assert tp.resume_button.isEnabled() and tp.start_button.isEnabled()
    assert RunFolder(run).status == "stopped"
    assert not (run / "STOP").exists()              # removed once the worker has ended

    # resume: continues from epoch 1 and finishes
    n_before = len(events)
    with qtbot.waitSignal(tp.runEnded, timeout=400_000) as ended:
        qtbot.mouseClick(tp.resume_button, Qt.MouseButton.LeftButton)
        assert "--resume" in tp.worker.command
    outcome = ended.args[1]
    assert outcome["status"] == "finished", outcome
    resumed = [e for e in events[n_before:] if e["event"] == "run_started"]
    assert resumed and resumed[0]["resumed_from_epoch"] == 1
    assert _has(events[n_before:], "evaluation")
    assert sorted(tp.plots.epoch_loss["loss"].values) == [1, 2]          # epoch 1 not duplicated
    assert sorted(tp.plots.val["ap"].values) == [1, 2]
    assert tp.state == "finished" and tp.progress.value() == 1000
    assert "test" in tp.progress.format()
    for name in ("checkpoints/final.pth", "metrics.json", "README.md", "losses.csv", "validation.csv"):
        assert (run / name).is_file(), name

    # open the finished run in the Runs tab: status, metrics, curves, report, config
    rv = window.runs_view
    qtbot.mouseClick(tp.show_run_button, Qt.MouseButton.LeftButton)
    assert window.current_tab() == "runs"
    assert rv.current == run
    assert rv.status_of(run) == "finished"
    assert rv.run_status.text() == "finished"
    assert rv.metric_labels["auc"].text() != "–"
    assert sorted(rv.plots.epoch_loss["loss"].values) == [1, 2]
    assert "crack" in rv.report.toPlainText().lower()
    assert rv.config_table.rowCount() >= 20
    assert rv.inspect_button.isEnabled()


@pytest.mark.slow
def test_killed_worker_shows_error_and_window_stays_usable(window, qtbot):
    from trainer.runs.folder import RunFolder

    tp = window.training_panel
    tp.set_config({**TINY, "validate": False})
    tp.name_edit.setText("gui-kill")
    events = _events(tp)
    assert tp.start()
    run = tp.run_dir
    qtbot.waitUntil(lambda: _has(events, "checkpoint", kind="last", epoch=1), timeout=240_000)
    pid = tp.worker.pid()
    assert pid and pid != os.getpid()
    with qtbot.waitSignal(tp.runEnded, timeout=60_000) as ended:
        os.kill(pid, signal.SIGKILL)
    outcome = ended.args[1]
    assert outcome["status"] == "crashed"
    assert outcome["exit_signal"] == signal.SIGKILL
    assert outcome["resumable"]
    # the window is alive and shows what happened
    assert tp.error_banner.isVisible()
    assert "crashed" in tp.error_title.text()
    assert "SIGKILL" in tp.error_message.text()
    assert "Epoch 1/2" in tp.error_log.toPlainText()                 # the log tail (RUN/log.txt)
    assert tp.error_resume.isVisible()
    assert tp.state == "crashed"
    assert RunFolder(run).status == "failed"
    # ... and usable
    assert tp.start_button.isEnabled() and tp.form.isEnabled() and not tp.stop_button.isEnabled()
    tp.form.set_value("epochs", 5)
    assert tp.form.value("epochs") == 5
    tp.form.set_value("epochs", 2)
    window.show_tab("runs")
    assert window.runs_view.status_of(run) == "failed"
    window.show_tab("train")
    # Resume is offered and continues from the checkpoint of epoch 1
    n_before = len(events)
    qtbot.mouseClick(tp.error_resume, Qt.MouseButton.LeftButton)
    assert not tp.error_banner.isVisible()
    qtbot.waitUntil(lambda: _has(events[n_before:], "run_started"), timeout=120_000)
    started = [e for e in events[n_before:] if e["event"] == "run_started"][0]
    assert started["resumed_from_epoch"] == 1
    with qtbot.waitSignal(tp.runEnded, timeout=120_000) as ended:
        tp.stop()
    assert ended.args[1]["status"] in ("stopped", "finished")


def _fake_trainer(tmp_path: Path, body: str) -> Path:
    """An executable that stands in for the Python interpreter: it ignores `-m trainer train` and runs body."""
    script = tmp_path / "fake_python"
    script.write_text(f"#!{sys.executable}\nimport json, sys, time\nfrom pathlib import Path\n"
                      "args = sys.argv[1:]\nrun = Path(args[args.index('--out') + 1])\nrun.mkdir(parents=True, "
                      "exist_ok=True)\n" + body)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_worker_error_event_out_of_memory_is_shown(window, qtbot, tmp_path):
    tp = window.training_panel
    tp.worker.python = str(_fake_trainer(tmp_path, (
        "print(json.dumps({'event': 'run_started', 'time': time.time(), 'config': {'epochs': 3}, "
        "'resumed_from_epoch': 0, 'device': 'cuda:0', 'precision': 'bf16', 'pid': 1}), flush=True)\n"
        "(run / 'log.txt').write_text('starting run\\nCUDA out of memory. Tried to allocate 2.00 GiB\\n')\n"
        "print('Traceback (most recent call last): ... torch.OutOfMemoryError', file=sys.stderr, flush=True)\n"
        "print(json.dumps({'event': 'error', 'time': time.time(), 'kind': 'oom', 'message': "
        "'out of memory while training. Reduce batch_size (now 4)'}), flush=True)\n"
        "sys.exit(1)\n")))
    tp.set_config(TINY)
    with qtbot.waitSignal(tp.runEnded, timeout=30_000) as ended:
        assert tp.start()
    outcome = ended.args[1]
    assert outcome["status"] == "failed" and outcome["error_kind"] == "oom"
    assert tp.error_banner.isVisible()
    assert tp.error_title.text() == "Training ran out of memory"
    assert "Reduce batch_size" in tp.error_message.text()
    assert "cannot be resumed" in tp.error_message.text()       # no checkpoint: the banner says so (bug 4)
    assert "then resume" not in tp.error_message.text()
    tail = tp.error_log.toPlainText()
    assert "CUDA out of memory" in tail and "OutOfMemoryError" in tail
    assert not tp.error_resume.isVisible()          # no checkpoint yet: nothing to resume
    assert tp.start_button.isEnabled()
    assert "cuda:0 · bf16" in tp.device_label.text()


def test_worker_that_cannot_start_is_reported(window, qtbot, tmp_path):
    tp = window.training_panel
    tp.worker.python = str(tmp_path / "no-such-python")
    tp.set_config(TINY)
    with qtbot.waitSignal(tp.runEnded, timeout=30_000) as ended:
        tp.start()
        window.show_tab("runs")                  # the user looks elsewhere while it fails
    assert ended.args[1]["status"] == "failed"
    assert "could not start" in tp.error_message.text()
    assert tp.start_button.isEnabled()
    train_index = window.tabs.indexOf(tp)
    assert window.tabs.tabText(train_index) == "Train ⚠"      # flagged until the user looks
    assert "could not start" in window.statusBar().currentMessage()
    window.show_tab("train")
    assert window.tabs.tabText(train_index) == "Train"


def test_start_refuses_bad_parameters_and_existing_run(window, qtbot):
    tp = window.training_panel
    tp.set_config({**TINY, "input_height": 100})           # not a multiple of 8
    assert not tp.start()
    assert "multiple of 8" in tp.error_message.text()
    assert not tp.worker.is_running()
    tp.set_config(TINY)
    existing = window.settings.runs_dir / "taken"
    existing.mkdir(parents=True)
    (existing / "config.toml").write_text("epochs = 1\n")
    tp.name_edit.setText("taken")
    assert not tp.start()
    assert "already holds a run" in tp.error_message.text()


# ------------------------------------------------------------------------------------------------ plumbing
def test_line_splitter_keeps_unfinished_lines():
    from crackviewer.train.worker_io import LineSplitter
    from trainer.runs.events import parse_event_line

    s = LineSplitter()
    ev = json.dumps({"event": "step", "epoch": 1, "loss": 0.5})
    data = (ev + "\n" + "plain line\r\n" + ev[:10]).encode()
    out = []
    for i in range(0, len(data), 7):              # arbitrary chunk boundaries
        out += s.feed(data[i:i + 7])
    assert out == [ev, "plain line"]
    out = s.feed((ev[10:] + "\nprogress 1\rprogress 2\r").encode())
    assert out == [ev, "progress 1", "progress 2"]
    assert s.flush() == []
    assert parse_event_line(out[0])["loss"] == 0.5     # the trainer's one parser reads the worker's lines


def test_start_writes_config_toml_and_passes_it_with_config(window, qtbot, tmp_path):
    """The form's config goes to RUN/config.toml through trainer.config.save_config; the worker gets --config."""
    from trainer.config import load_config

    tp = window.training_panel
    tp.worker.python = str(tmp_path / "no-such-python")
    tp.set_config({**TINY, "architecture": "original", "dyn_balanced_loss": False, "num_segmented": -1})
    tp._select_combo(tp.precision_combo, "fp32")
    with qtbot.waitSignal(tp.runEnded, timeout=30_000):
        assert tp.start()
    cmd = tp.worker.command
    cfg_file = Path(cmd[cmd.index("--config") + 1])
    assert cfg_file == tp.run_dir / "config.toml"
    assert "--set" not in cmd and cmd[-1] == "--events"
    assert load_config(cfg_file) == tp.config()


def test_series_stays_bounded_and_keeps_the_shape():
    from crackviewer.train.curves import Series

    s = Series(cap=1000)
    xs = np.arange(100_000, dtype=float)
    for x in xs:
        s.append(x, 2.0 * x)
    x, y = s.data()
    assert len(x) <= 1001
    assert s.total == 100_000
    assert np.allclose(y, 2 * x)                  # averaging groups keeps a linear curve exact
    assert x[0] < 100 and x[-1] > 99_000
    s.truncate_after(50_000.0)
    assert s.data()[0][-1] <= 50_000


def test_live_plots_throttle_redraws_and_cap_points(qtbot):
    from crackviewer.train.curves import MAX_POINTS
    from crackviewer.train.live_plots import LivePlots

    w = LivePlots()
    qtbot.addWidget(w)
    w.show()
    events = [{"event": "run_started", "config": {"epochs": 400, "delta_cls_loss": 0.01, "dyn_balanced_loss": True},
               "resumed_from_epoch": 0}]
    steps = 100
    for e in range(1, 401):
        for s in range(1, steps + 1):
            events.append({"event": "step", "epoch": e, "epochs": 400, "step": s, "steps": steps,
                           "loss_seg": 0.5 / e, "loss_dec": 0.6 / e, "loss": 0.4 / e})
        events.append({"event": "epoch", "epoch": e, "epochs": 400, "loss_seg": 0.5 / e, "loss_dec": 0.6 / e,
                       "loss": 0.4 / e, "lambda_seg": 1 - (e - 1) / 400, "lambda_dec": 0.01 * (e - 1) / 400})
    before = w.redraw_count
    for i in range(0, len(events), 500):        # 40,000 step events arrive in bursts
        w.add_events(events[i:i + 500])
    assert w.redraw_count == before             # nothing drawn synchronously: the 10 Hz timer draws
    qtbot.waitUntil(lambda: w.redraw_count > before, timeout=2_000)
    assert w.step_raw["loss"].total == 400 * steps
    assert len(w.step_raw["loss"].data()[0]) <= MAX_POINTS + 1
    assert len(w.epoch_loss["loss"].values) == 400
    # a resumed run replays from its checkpoint: later points are dropped, not duplicated
    w.add_event({"event": "run_started", "config": {"epochs": 400}, "resumed_from_epoch": 100})
    assert max(w.epoch_loss["loss"].values) == 100
    assert w.step_raw["loss"].data()[0][-1] <= 100
    # the smoothing slider recomputes the smoothed curve from the stored raw points
    w.set_smoothing(0.0)
    qtbot.waitUntil(lambda: w.smoothing == 0.0, timeout=1_000)
    raw_y = w.step_raw["loss"].data()[1]
    assert np.allclose(w.step_smooth["loss"].data()[1], raw_y)


def test_step_running_means_become_interval_means(qtbot):
    from crackviewer.train.live_plots import LivePlots

    w = LivePlots()
    qtbot.addWidget(w)
    w.set_smoothing(0.0)
    # batch losses 1, 3 | 5, 7 reported as running means at steps 2 and 4 of a 4-step epoch
    w.add_events([{"event": "step", "epoch": 1, "epochs": 1, "step": 2, "steps": 4, "loss": 2.0},
                  {"event": "step", "epoch": 1, "epochs": 1, "step": 4, "steps": 4, "loss": 4.0}])
    x, y = w.step_raw["loss"].data()
    assert list(x) == [0.5, 1.0]
    assert list(y) == [2.0, 6.0]


def _three_epochs() -> list[dict]:
    evs = []
    for e in range(1, 4):
        for s in range(1, 11):
            evs.append({"event": "step", "epoch": e, "step": s, "steps": 10, "loss_seg": 0.5 / e, "loss_dec": 0.3 / e,
                        "loss": 0.8 / e})
        evs.append({"event": "epoch", "epoch": e, "loss_seg": 0.5 / e, "loss_dec": 0.3 / e, "loss": 0.8 / e,
                    "lambda_seg": 1 - (e - 1) / 10, "lambda_dec": 0.01 * (e - 1) / 10})
    return evs


def test_log_scale_loss_on_and_off_keeps_the_epoch_range_and_the_planned_lambda(qtbot):
    """Issue 17 bug 3: toggling "Log-scale loss" autoranged every linked x axis to the data (0.03-0.7 of a 10-epoch
    run) for good, and the planned λ schedule left the view."""
    from crackviewer.train.live_plots import LivePlots

    plots = LivePlots()
    qtbot.addWidget(plots)
    plots.resize(900, 600)
    plots.show()
    plots.set_config({"epochs": 10, "delta_cls_loss": 0.01, "dyn_balanced_loss": True})
    plots.add_events(_three_epochs())
    plots._redraw_if_dirty(force=True)

    def x_ranges():
        return [tuple(p.vb.viewRange()[0]) for p in (plots.p_loss, plots.p_ap, plots.p_dice, plots.p_lam)]

    before = x_ranges()
    assert all(hi > 10 for _, hi in before)
    for on in (True, False):
        plots.log_check.setChecked(on)
        qtbot.wait(10)
        assert all(lo < 0.5 and hi > 10 for lo, hi in x_ranges()), (on, x_ranges())
        x, _ = plots.c_lam_seg_plan.getData()
        assert x is not None and len(x) == 10 and plots.c_lam_seg_plan.isVisible()
        # log axis: only decades are labelled (the 2..9 labels overlapped)
        assert plots.p_loss.getAxis("left").style["maxTickLevel"] == (0 if on else 1)


def test_double_click_enlarges_a_plot(qtbot):
    from PySide6.QtCore import QPointF

    from crackviewer.qt.plots import EnlargedPlot
    from crackviewer.train.live_plots import LivePlots

    plots = LivePlots()
    qtbot.addWidget(plots)
    plots.resize(900, 600)
    plots.show()
    plots.set_config({"epochs": 10})
    plots.add_events(_three_epochs())
    plots._redraw_if_dirty(force=True)
    centre = plots.p_lam.sceneBoundingRect().center()
    view_pos = plots.glw.mapFromScene(QPointF(centre))
    vp, left = plots.glw.viewport(), Qt.MouseButton.LeftButton
    qtbot.mouseClick(vp, left, pos=view_pos)
    qtbot.mouseDClick(vp, left, pos=view_pos)        # what a real double-click sends: press, release, dbl, release
    qtbot.mouseRelease(vp, left, pos=view_pos)
    qtbot.waitUntil(lambda: bool(plots.enlarged), timeout=3000)
    dlg = plots.enlarged[-1]
    assert isinstance(dlg, EnlargedPlot) and "λ schedule" in dlg.windowTitle()
    assert dlg.width() > plots.p_lam.sceneBoundingRect().width()
    assert len(dlg.view.getPlotItem().listDataItems()) >= 2      # the planned and actual seg weights
    dlg.close()


# ------------------------------------------------------------------------------------------------ issue 17
def test_stop_during_the_first_epoch_says_there_is_nothing_to_resume(window, qtbot, tmp_path):
    """Issue 17 bug 4: a stop before the first checkpoint said "resume continues from there" with Resume disabled
    and no reason; the STOP file stayed in the run folder."""
    tp = window.training_panel
    tp.worker.python = str(_fake_trainer(tmp_path, (
        "print(json.dumps({'event': 'run_started', 'time': time.time(), 'config': {'epochs': 3}, "
        "'resumed_from_epoch': 0, 'device': 'cpu', 'precision': 'fp32', 'pid': 1}), flush=True)\n"
        "while not (run / 'STOP').exists(): time.sleep(0.05)\n"
        "print(json.dumps({'event': 'finished', 'time': time.time(), 'status': 'stopped', 'epochs_done': 0}), "
        "flush=True)\n")))
    tp.set_config(TINY)
    assert tp.start()
    qtbot.waitUntil(lambda: tp.state == "running", timeout=20_000)
    with qtbot.waitSignal(tp.runEnded, timeout=20_000) as ended:
        tp.stop()
    outcome = ended.args[1]
    assert outcome["status"] == "stopped" and not outcome["resumable"]
    assert "no checkpoint" in outcome["message"] and "resume continues" not in outcome["message"]
    assert not (tp.run_dir / "STOP").exists()
    assert not tp.resume_button.isEnabled()
    assert tp.resume_reason.isVisible() and "no checkpoint" in tp.resume_reason.text()
    assert tp.resume_button.toolTip() == tp.resume_reason.text()


def test_resume_counts_the_whole_run_and_shows_the_best_validation_ap_at_once(window, qtbot, tmp_path):
    """Issue 17 bug 6: after a resume, "elapsed" counted only the resumed part and "best validation AP" showed "–"
    until the next validation."""
    from crackviewer.qt.text import human_duration
    from crackviewer.train.timing import training_seconds
    from tests.fakes import make_fake_run
    from trainer.runs.folder import RunFolder

    tp = window.training_panel
    run = make_fake_run(window.settings.runs_dir, name="halfway", data=window.dataset_view.path, epochs=6,
                        status="stopped")
    before = training_seconds(RunFolder(run).events())
    best = max(r["ap"] for r in RunFolder(run).validation())
    tp.worker.python = str(_fake_trainer(tmp_path, "time.sleep(30)\n"))
    tp.set_resume_target(run)
    assert tp.resume_button.isEnabled() and not tp.resume_reason.isVisible()
    assert tp.resume()
    assert tp.stat_labels["val"].text() == f"{best:.4f}"            # at once, from validation.csv
    tp._tick()
    assert tp.stat_labels["elapsed"].text() == human_duration(before)
    assert tp.state == "starting" and "starting" in tp.progress_label.text()   # says what is happening
    tp.worker.kill()
    tp.worker.wait(5000)


def test_crash_panel_shows_each_log_line_once(window):
    tp = window.training_panel
    tp.run_dir = Path("/runs/x")
    tail = tp._crash_tail({"log_tail": ["18:00 epoch 1", "18:01 epoch 2"],
                           "stderr_tail": ["18:00 epoch 1", "18:01 epoch 2", "Traceback: boom"]})
    text = "\n".join(tail)
    assert text.count("epoch 2") == 1 and "Traceback: boom" in text


def test_small_input_size_gets_a_warning_in_the_form(window):
    tp = window.training_panel
    tp.set_config({"input_height": 128, "input_width": 128})
    assert not tp.form.size_warning.isVisible()
    tp.set_config({"input_height": 64, "input_width": 64})
    assert tp.form.size_warning.isVisible() and "128" in tp.form.size_warning.text()
    assert tp.log_view.lineWrapMode() == tp.log_view.LineWrapMode.WidgetWidth     # long log lines wrap


def test_speed_has_sensible_precision_on_a_cpu():
    from crackviewer.qt.text import fmt_rate

    assert fmt_rate(0.0323) == "0.032 img/s"
    assert fmt_rate(0.00323) == "310 s/img"
    assert fmt_rate(3.456) == "3.46 img/s" and fmt_rate(250.3) == "250 img/s"
    assert fmt_rate(None) == "–"


def test_locked_controls_and_stop_look_different_when_disabled(window, qtbot):
    from crackviewer.qt.style import apply_style
    from PySide6.QtWidgets import QApplication

    apply_style(QApplication.instance())
    tp = window.training_panel

    def look(w):
        img = w.grab().toImage()
        return img.pixelColor(img.width() // 2, img.height() // 2 - 1).name(), img.pixelColor(3, img.height() // 2).name()

    stop_disabled = look(tp.stop_button)
    spin = tp.form.widgets["epochs"]
    spin_enabled = look(spin)
    tp.stop_button.setEnabled(True)
    tp.form.setEnabled(False)
    qtbot.wait(10)
    assert look(tp.stop_button) != stop_disabled
    assert look(spin) != spin_enabled


def test_worker_priority_is_a_setting_with_the_cli_speed_by_default(window, qtbot, tmp_path):
    """Issue 17: the worker ran at nice 5 with no setting (3-4x slower than the CLI on a busy machine)."""
    tp = window.training_panel
    assert tp.nice_spin.value() == 0 and window.settings.worker_nice == 0
    tp.nice_spin.setValue(7)
    assert window.settings.worker_nice == 7
    tp.worker.python = str(_fake_trainer(tmp_path, "time.sleep(30)\n"))
    tp.set_config(TINY)
    assert tp.start()
    qtbot.waitUntil(lambda: tp.worker.pid() is not None, timeout=10_000)
    qtbot.waitUntil(lambda: os.getpriority(os.PRIO_PROCESS, tp.worker.pid()) == 7, timeout=5_000)
    assert not tp.nice_spin.isEnabled()                # locked while the run trains
    tp.worker.kill()
    tp.worker.wait(5000)
