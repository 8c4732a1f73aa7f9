"""crackviewer entry point: `crackviewer` (console script) and `python main.py`.

    crackviewer [--dataset DIR] [--run RUN_DIR] [--workspace DIR] [--settings FILE.ini] [--tab NAME]

Without --dataset it reopens the last dataset and run; with no dataset at all it offers the synthetic demo dataset.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from PySide6.QtCore import QEvent, QTimer
from PySide6.QtWidgets import QApplication

from crackviewer.main_window import MainWindow
from crackviewer.menus import TAB_KEYS
from crackviewer.qt.qt_compat import guard_none_refcount as guard_pyside_refcount_bug
from crackviewer.qt.settings import AppSettings
from crackviewer.qt.style import apply_style

NO_DISPLAY_MESSAGE = ("crackviewer needs a display: set DISPLAY (e.g. run under xvfb-run) "
                      "or QT_QPA_PLATFORM=offscreen")


def display_problem() -> str | None:
    """The no-display message when Qt could not open any window here, else None."""
    if os.environ.get("QT_QPA_PLATFORM"):
        return None
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return NO_DISPLAY_MESSAGE
    return None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="crackviewer", description="Train, inspect and correct crack-segmentation "
                                 "models (SegDecNet) in one desktop app.")
    ap.add_argument("--dataset", help="open this dataset folder (default: the last one)")
    ap.add_argument("--run", help="open this run folder in the Runs tab, wherever it is (it is remembered and "
                    "listed from then on; default: the last run)")
    ap.add_argument("--workspace", help="folder for runs and the demo dataset (default: ~/crackviewer-workspace, "
                    "or $CRACKVIEWER_WORKSPACE)")
    ap.add_argument("--settings", help="settings file (.ini) to use instead of the user's (also "
                    "$CRACKVIEWER_SETTINGS)")
    ap.add_argument("--tab", choices=TAB_KEYS, help="tab to show first")
    ap.add_argument("--no-restore", action="store_true", help="do not reopen the last dataset and run")
    ap.add_argument("--quit-after", type=float, metavar="SECONDS",
                    help="smoke test: print what the window shows and quit after SECONDS")
    return ap.parse_args(argv)


def create_window(args: argparse.Namespace | None = None, settings=None, **window_kwargs):
    """The main window, configured from parsed args (used by main(), tests, screenshots and the benchmark).
    window_kwargs go to MainWindow (probe_devices, optional_panels)."""
    args = args or parse_args([])
    if settings is None:
        settings = AppSettings(args.settings, workspace=args.workspace)
    win = MainWindow(settings, **window_kwargs)
    win.restore_session(dataset=args.dataset, run=args.run, restore=not args.no_restore)
    if args.tab:
        win.show_tab(args.tab)
    return win


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    problem = display_problem()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    if args.settings:
        os.environ["CRACKVIEWER_SETTINGS"] = str(Path(args.settings).resolve())
    guard_pyside_refcount_bug()
    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationName("crackviewer")
    app.setOrganizationName("crackviewer")
    app.setApplicationDisplayName("crackviewer")
    apply_style(app)
    win = create_window(args)
    win.show()
    if args.quit_after is not None:
        deadline = [60.0]
        quit_timer = QTimer(win)
        quit_timer.setSingleShot(True)

        def report_and_quit():
            busy = win.dataset_view.loading
            if busy and deadline[0] > 0:  # still opening the dataset / building panels: give it time
                deadline[0] -= 0.25
                quit_timer.start(250)
                return
            ds = win.dataset_view.path
            print(f"crackviewer ok: window {win.width()}x{win.height()}, tabs "
                  f"{[win.tabs.tabText(i) for i in range(win.tabs.count())]}, current tab {win.current_tab()}, "
                  f"dataset {ds if ds else 'none (welcome page)'}, runs {len(win.runs_view.headlines)}", flush=True)
            win.confirm_close = False
            win.close()
            app.quit()

        quit_timer.timeout.connect(report_and_quit)
        quit_timer.start(int(args.quit_after * 1000))
    code = app.exec()
    # Delete the window while Qt is still fully alive: a PySide6 widget tree left to Python's final garbage
    # collection can crash the interpreter on exit.
    win.deleteLater()
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
    del win
    return int(code)


if __name__ == "__main__":
    raise SystemExit(main())
