"""Render the main window offscreen in its key states, for the README: docs/screenshots/*.png.

    python scripts/screenshots.py [--out docs/screenshots] [--epochs N] [--size PX | --size HxW] [--workspace DIR]
                                  [--dataset DIR] [--run RUN_DIR] [--steps N]
    xvfb-run -a -s "-screen 0 1400x900x24" python scripts/screenshots.py     # the same, in a real X window

What it does, exactly as a user would (nothing is faked):
  1. welcome.png   - a fresh start: no dataset, the demo is offered;
  2. dataset.png   - the demo dataset (created by `crack-train demo --data-only` through the welcome page), or the
                     dataset given with --dataset; dataset-widest.png: its Widest cracks table;
  3. training.png  - the "Quick CPU" preset on the demo data (as a new user would run it), mid-training;
  4. runs.png      - the runs list with that run finished, its curves and headline metrics;
  5. report.png    - the same run's report (README.md with its figures) in the Runs tab;
  6. crashed.png   - a second run whose worker was killed (SIGKILL): the error, the log tail, Resume;
  7. dataset-1280x800.png, runs-1280x800.png, training-1280x800.png - the same window at 1280x800.
The window is 1400x900 (7: 1280x800). Takes a few minutes on a CPU (the training, on the demo data, is real).

On a slow or busy CPU, `--run RUN_DIR --steps N` shows a finished run copied from RUN_DIR (read, never modified) in
runs.png and report.png instead of waiting for the screenshot run; training.png is taken after N step reports of
the live run, which is then killed for crashed.png (before its first checkpoint: nothing to resume, and it says so).
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")   # no display: render offscreen (same pixels)
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QEvent, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402


class Script:
    """Runs a list of (name, step) in the Qt event loop: a step is polled every 200 ms until it returns True."""

    def __init__(self, app, steps, timeout_s: float):
        self.app, self.steps, self.i = app, steps, 0
        self.t_step = time.monotonic()
        self.timeout_s = timeout_s
        self.failed: str | None = None
        self.timer = QTimer()
        self.timer.setInterval(200)
        self.timer.timeout.connect(self.tick)

    def run(self) -> None:
        self.timer.start()
        self.app.exec()

    def tick(self) -> None:
        if self.i >= len(self.steps):
            self.timer.stop()
            self.app.quit()
            return
        name, fn = self.steps[self.i]
        try:
            done = fn()
        except Exception as exc:  # noqa: BLE001 - report which step broke, then stop
            self.failed = f"{name}: {type(exc).__name__}: {exc}"
            done = None
        if done is None and self.failed:
            self.timer.stop()
            self.app.quit()
            return
        if done:
            print(f"[{time.strftime('%H:%M:%S')}] {name}: done", flush=True)
            self.i += 1
            self.t_step = time.monotonic()
        elif time.monotonic() - self.t_step > self.timeout_s:
            self.failed = f"{name}: timed out after {self.timeout_s:.0f} s"
            self.timer.stop()
            self.app.quit()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    ap.add_argument("--workspace", help="workspace folder (default: a new temporary folder)")
    ap.add_argument("--epochs", type=int, help="epochs of the screenshot run (default: the quick preset's)")
    ap.add_argument("--size", help="input size: PX (square) or HxW (default: the quick preset's)")
    ap.add_argument("--dataset", help="show this dataset in dataset.png (the training still uses the demo data)")
    ap.add_argument("--run", help="a finished run folder to copy and show in runs.png / report.png (see above)")
    ap.add_argument("--steps", type=int, default=4, help="with --run: step reports before training.png")
    ap.add_argument("--shot-at-epoch", type=int, default=None, help="take training.png after this epoch "
                    "(default: half of --epochs)")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds allowed per step")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ws = Path(args.workspace) if args.workspace else Path(tempfile.mkdtemp(prefix="crackviewer-shots-"))
    from trainer.config import DEFAULTS
    from trainer.schema import PRESETS

    quick = {**DEFAULTS, **PRESETS["quick"]}
    epochs = args.epochs or quick["epochs"]
    shot_epoch = args.shot_at_epoch or max(2, epochs // 2)

    app = QApplication.instance() or QApplication([])
    from crackviewer.app import create_window, parse_args
    from crackviewer.qt.style import apply_style
    from crackviewer.qt.settings import AppSettings

    apply_style(app)
    settings = AppSettings(ws / "settings.ini", workspace=ws)
    win = create_window(parse_args(["--no-restore"]), settings=settings, probe_devices=False)
    win.confirm_close = False
    win.resize(1400, 900)
    win.show()
    tp, dv, rv = win.training_panel, win.dataset_view, win.runs_view
    state: dict = {}

    def grab(name: str, settle_ms: int = 0) -> bool:
        path = out / name
        win.grab().save(str(path))
        print(f"  wrote {path}")
        return True

    def wait_ms(ms: int):
        def step():
            t = state.setdefault(("wait", id(step)), time.monotonic())
            return time.monotonic() - t >= ms / 1000
        return step

    def welcome():
        return grab("welcome.png")

    def create_demo():
        dv.welcome.demo_button.click()
        return True

    def demo_opened():
        return dv.index is not None and not dv.loading and not dv.checking and (
            state.get("demo") is None or dv.path == state["demo"])

    def open_shown_dataset():
        state["demo"] = dv.path
        if args.dataset:
            win.open_dataset(args.dataset)
        return True

    def shown_dataset_opened():
        return dv.index is not None and not dv.loading and not dv.checking and (
            not args.dataset or dv.path == Path(args.dataset))

    def dataset_shot():
        win.show_tab("dataset")
        # wait for the visible thumbnails
        visible = min(24, len(dv.model.records))
        return dv.model.loaded_count >= visible and grab("dataset.png")

    def widest_shot():
        if dv.right_tabs.currentWidget() is not dv.widest:
            dv.right_tabs.setCurrentWidget(dv.widest)
            return False
        return not dv.widest.measuring and grab("dataset-widest.png")

    def reopen_demo():
        dv.right_tabs.setCurrentIndex(0)
        if dv.path != state["demo"]:
            win.open_dataset(state["demo"])
        return True

    def start_training():
        win.show_tab("train")
        tp.apply_preset("quick")        # what a new user picks
        over = {}
        if args.epochs:
            over["epochs"] = args.epochs
        if args.size:
            h, _, w = str(args.size).partition("x")
            over.update(input_height=int(h), input_width=int(w or h))
        if over:
            tp.set_config(over)
        tp.name_edit.setText("demo-quick")
        events = state["events"] = []
        tp.worker.eventsReceived.connect(events.extend)
        ended = state["ended"] = []
        tp.runEnded.connect(lambda path, outcome: ended.append(outcome))
        if not tp.start():
            raise RuntimeError(tp.error_message.text())
        return True

    def training_shot_early():
        steps = [e for e in state["events"] if e.get("event") == "step"]
        return len(steps) >= args.steps and grab("training.png")

    def kill_early():
        os.kill(tp.worker.pid(), signal.SIGKILL)
        return True

    def copy_run():
        import shutil

        src = Path(args.run)
        dst = settings.runs_dir / f"{src.parent.name}-{src.name}"       # e.g. demo-run
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.pth"))   # the checkpoints are not shown
        state["run"] = dst
        return True

    def show_copied_run():
        win.show_run(str(state["run"]))
        rv.tabs.setCurrentIndex(0)
        return True

    def training_shot():
        done = [e for e in state["events"] if e.get("event") == "validation"]
        if len(done) < shot_epoch:
            return False
        steps = [e for e in state["events"] if e.get("event") == "step" and e.get("epoch") == shot_epoch + 1]
        if len(steps) < 2:   # a little into the next epoch: the per-step curve is visibly growing
            return False
        return grab("training.png")

    def training_finished():
        if not state["ended"]:
            return False
        if state["ended"][-1]["status"] != "finished":
            raise RuntimeError(f"the screenshot run ended {state['ended'][-1]['status']}: "
                               f"{state['ended'][-1]['message']}")
        return True

    def runs_shot():
        win.show_run(str(tp.run_dir))
        rv.tabs.setCurrentIndex(0)
        return True

    def report_shot():
        rv.tabs.setCurrentWidget(rv.report)
        rv.open_run(rv.current)   # fits the report's images to the now visible browser
        return True

    def report_scroll():
        sb = rv.report.verticalScrollBar()
        doc = rv.report.document()
        # scroll to the "Losses" section if there is one, so the shot shows figures, not only tables
        cursor = doc.find("ROC")
        if not cursor.isNull():
            top = rv.report.cursorRect(cursor).top()
            sb.setValue(sb.value() + top - 12)   # the ROC section at the top of the view
        else:
            sb.setValue(sb.maximum() // 3)
        return True

    def start_crash_run():
        win.show_tab("train")
        tp.set_config({"epochs": 3, "input_height": 128, "input_width": 64, "validate": False})
        tp.name_edit.setText("killed-run")
        state["events"].clear()
        state["ended"].clear()
        if not tp.start():
            raise RuntimeError(tp.error_message.text())
        return True

    def kill_after_first_checkpoint():
        if any(e.get("event") == "checkpoint" and e.get("kind") == "last" for e in state["events"]) \
                and any(e.get("event") == "step" and e.get("epoch") == 2 for e in state["events"]):
            os.kill(tp.worker.pid(), signal.SIGKILL)
            return True
        return False

    def crashed_shot():
        return bool(state["ended"]) and grab("crashed.png")

    def small_window():
        win.resize(1280, 800)
        win.show_tab("dataset")
        rv.tabs.setCurrentIndex(0)          # the run's curves
        return True

    def small_shot(tab: str):
        def step():
            win.show_tab(tab)
            app.processEvents()
            return grab(f"{'training' if tab == 'train' else tab}-1280x800.png")
        return step

    head = [
        ("start up", wait_ms(800)),
        ("welcome page", welcome),
        ("create the demo dataset", create_demo),
        ("demo dataset opened", demo_opened),
        ("open the dataset to show", open_shown_dataset),
        ("dataset opened", shown_dataset_opened),
        ("settle", wait_ms(600)),
        ("dataset view", dataset_shot),
        ("widest cracks", widest_shot),
        ("reopen the demo data", reopen_demo),
        ("demo opened", demo_opened),
        ("start a quick training", start_training),
    ]
    runs_and_report = [      # after the Runs tab shows the run: its picture, then the report's
        ("settle", wait_ms(800)),
        ("runs.png", lambda: grab("runs.png")),
        ("report", report_shot),
        ("scroll", report_scroll),
        ("settle", wait_ms(800)),
        ("report.png", lambda: grab("report.png")),
    ]
    live = [
        (f"training (epoch {shot_epoch} of {epochs})", training_shot),
        ("training finished", training_finished),
        ("runs list", runs_shot),
        *runs_and_report,
        ("start a run to kill", start_crash_run),
        ("SIGKILL the worker", kill_after_first_checkpoint),
        ("crashed.png", crashed_shot),
    ]
    copied = [
        (f"training ({args.steps} step reports)", training_shot_early),
        ("SIGKILL the worker", kill_early),
        ("crashed.png", crashed_shot),
        ("copy the finished run", copy_run),
        ("runs list", show_copied_run),
        *runs_and_report,
    ]
    tail = [
        ("1280x800", small_window),
        ("settle", wait_ms(800)),
        ("dataset 1280x800", small_shot("dataset")),
        ("training 1280x800", small_shot("train")),
        ("runs 1280x800", small_shot("runs")),
    ]
    steps = head + (copied if args.run else live) + tail
    script = Script(app, steps, args.timeout)
    script.run()
    if tp.worker.is_running():
        tp.worker.kill()
        tp.worker.wait(10_000)
    win.deleteLater()
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
    if script.failed:
        print(f"screenshots failed at {script.failed}", file=sys.stderr)
        return 1
    print(f"screenshots in {out} (workspace {ws})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
