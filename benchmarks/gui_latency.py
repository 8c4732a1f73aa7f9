"""GUI responsiveness while a real training runs through the app's worker path.

Builds the real main window offscreen, opens a small synthetic dataset, presses Start on the Train tab (the worker
is `python -m trainer train ... --events` in a QProcess, as in the app), and probes the GUI event loop with a 5 ms
timer until the run ends. Every probe interval longer than 5 ms is a stall of (interval - 5 ms). While it trains,
the benchmark also acts like a user: it switches tabs (Train -> Runs -> Dataset -> Train) every few seconds.

    python benchmarks/gui_latency.py [--epochs 3] [--size 64] [--data DIR] [--no-user]

Prints the run, the event counts and the stall distribution; the last line is `gui stall p99: N ms`.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")   # no display: render offscreen (same pixels)
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))



import numpy as np  # noqa: E402
from PySide6.QtCore import Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

PROBE_MS = 5


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--size", type=int, default=64, help="input height and width (multiple of 8)")
    ap.add_argument("--data", help="dataset folder (default: a small synthetic one in a temp folder)")
    ap.add_argument("--no-user", action="store_true", help="do not switch tabs while training")
    ap.add_argument("--timeout", type=float, default=900, help="give up after this many seconds")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="gui-latency-"))
    if args.data:
        data = Path(args.data)
    else:
        from trainer.datasets.synthetic import make_synthetic_dataset

        data = make_synthetic_dataset(tmp / "data", n_train_pos=12, n_train_neg=6, n_val_pos=4, n_val_neg=2,
                                      n_test_pos=4, n_test_neg=2, size=(96, 96), seed=11)
    os.environ.setdefault("CRACK_REPORT_FIGURES", "0")

    app = QApplication.instance() or QApplication([])
    from crackviewer.app import create_window, parse_args
    from crackviewer.qt.style import apply_style
    from crackviewer.qt.settings import AppSettings

    apply_style(app)
    settings = AppSettings(tmp / "settings.ini", workspace=tmp / "ws")
    win = create_window(parse_args(["--dataset", str(data), "--tab", "train"]), settings=settings,
                        probe_devices=False)
    win.confirm_close = False
    win.resize(1400, 900)
    win.show()
    tp = win.training_panel

    stamps: list[float] = []
    state = {"phase": "loading", "t_start": None, "t_end": None, "outcome": None, "events": 0, "steps": 0,
             "tab_switches": 0, "deadline": time.monotonic() + args.timeout}

    probe = QTimer()
    probe.setTimerType(Qt.TimerType.PreciseTimer)
    probe.setInterval(PROBE_MS)
    probe.timeout.connect(lambda: stamps.append(time.perf_counter()) if state["phase"] == "training" else None)

    def count(events):
        state["events"] += len(events)
        state["steps"] += sum(1 for e in events if e.get("event") == "step")

    tp.worker.eventsReceived.connect(count)

    def ended(run_dir, outcome):
        state["t_end"] = time.perf_counter()
        state["outcome"] = outcome
        state["phase"] = "done"
        QTimer.singleShot(300, app.quit)

    tp.runEnded.connect(ended)

    tabs = ["train", "runs", "dataset", "train"]
    user = QTimer()
    user.setInterval(3000)

    def act_like_a_user():
        if state["phase"] == "training":
            win.show_tab(tabs[state["tab_switches"] % len(tabs)])
            state["tab_switches"] += 1

    user.timeout.connect(act_like_a_user)

    def start_when_ready():
        ready = win.dataset_view.index is not None
        if time.monotonic() > state["deadline"]:
            print("timed out before training started", file=sys.stderr)
            app.quit()
            return
        if not ready:
            QTimer.singleShot(200, start_when_ready)
            return
        tp.apply_preset("quick")
        tp.set_config({"epochs": args.epochs, "input_height": args.size, "input_width": args.size,
                       "batch_size": 2, "validation_n_epochs": 1, "save_images": False})
        tp.name_edit.setText("latency")
        state["phase"] = "training"
        state["t_start"] = time.perf_counter()
        probe.start()
        if not args.no_user:
            user.start()
        if not tp.start():
            print(f"could not start: {tp.error_message.text()}", file=sys.stderr)
            app.quit()

    def watchdog():
        if time.monotonic() > state["deadline"] and state["phase"] != "done":
            print("timed out; stopping the worker", file=sys.stderr)
            tp.worker.kill()
            app.quit()

    dog = QTimer()
    dog.timeout.connect(watchdog)
    dog.start(1000)
    QTimer.singleShot(100, start_when_ready)
    app.exec()
    probe.stop()
    user.stop()
    dog.stop()

    outcome = state["outcome"] or {}
    if tp.worker.is_running():
        tp.worker.kill()
        tp.worker.wait(10_000)
    if len(stamps) < 10:
        print("not enough probe samples", file=sys.stderr)
        return 1
    intervals = np.diff(np.asarray(stamps)) * 1000.0
    stalls = np.clip(intervals - PROBE_MS, 0, None)
    duration = (state["t_end"] or stamps[-1]) - state["t_start"]
    print(f"run: {tp.run_dir} ({outcome.get('status', 'unknown')}), {args.epochs} epochs at {args.size}x{args.size}, "
          f"dataset {data}")
    print(f"training wall time seen by the GUI: {duration:.1f} s; events received: {state['events']} "
          f"({state['steps']} step reports); plot redraws: {tp.plots.redraw_count}; tab switches: "
          f"{state['tab_switches']}")
    print(f"probe: {len(intervals)} intervals of a {PROBE_MS} ms timer "
          f"(mean interval {intervals.mean():.2f} ms)")
    for q in (50, 90, 99, 99.9):
        print(f"stall p{q}: {np.percentile(stalls, q):.1f} ms")
    print(f"max stall: {stalls.max():.1f} ms; stalls > 16 ms: {(stalls > 16).sum()}; "
          f"stalls > 50 ms: {(stalls > 50).sum()}")
    print(f"gui stall p50: {np.percentile(stalls, 50):.1f} ms, p99: {np.percentile(stalls, 99):.1f} ms, "
          f"max: {stalls.max():.1f} ms")
    from PySide6.QtCore import QEvent

    win.deleteLater()
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
    print(f"gui stall p99: {np.percentile(stalls, 99):.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
