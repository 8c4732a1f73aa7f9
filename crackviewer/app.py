"""crackviewer entry point: `crackviewer` (console script) and `python main.py`.

    crackviewer [--dataset DIR] [--run RUN_DIR] [--workspace DIR] [--settings FILE.ini] [--tab NAME]

Without --dataset it reopens the last dataset and run; with no dataset at all it offers the synthetic demo dataset.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

NO_DISPLAY_MESSAGE = ("crackviewer needs a display: set DISPLAY (e.g. run under xvfb-run) "
                      "or QT_QPA_PLATFORM=offscreen")

ACCENT = "#0072B2"

STYLE_SHEET = f"""
QWidget {{ font-size: 10pt; }}
QMainWindow {{ background: #f4f5f7; }}
QTabWidget#mainTabs::pane {{ border: none; border-top: 1px solid #d5d9df; background: #fbfbfc; }}
QTabWidget#mainTabs > QTabBar::tab {{ padding: 8px 20px; margin-right: 2px; color: #4a4f57; background: transparent;
    border: none; border-bottom: 3px solid transparent; font-size: 10.5pt; }}
QTabWidget#mainTabs > QTabBar::tab:selected {{ color: {ACCENT}; border-bottom: 3px solid {ACCENT}; font-weight: 600; }}
QTabWidget#mainTabs > QTabBar::tab:hover:!selected {{ color: #1d2127; border-bottom: 3px solid #c9d3de; }}
QTabWidget#subTabs::pane {{ border: 1px solid #d5d9df; border-radius: 4px; background: white; top: -1px; }}
QTabWidget#subTabs > QTabBar::tab {{ padding: 5px 14px; background: #eceef1; border: 1px solid #d5d9df;
    border-bottom: none; border-top-left-radius: 4px; border-top-right-radius: 4px; margin-right: 2px; color: #444; }}
QTabWidget#subTabs > QTabBar::tab:selected {{ background: white; color: #111; font-weight: 600; }}
QLabel#pageTitle {{ font-size: 14pt; font-weight: 600; color: #1d2127; }}
QLabel#pageSubtitle {{ color: #5b626b; }}
QLabel#sectionTitle {{ font-size: 10.5pt; font-weight: 600; color: #2b3038; padding-top: 4px; }}
QLabel#welcomeTitle {{ font-size: 20pt; font-weight: 600; color: #1d2127; }}
QFrame#welcomeCard {{ background: white; border: 1px solid #dde1e6; border-radius: 8px; }}
QLabel#infoBox {{ background: #eef5fb; border: 1px solid #cfe2f3; border-radius: 4px; padding: 8px; color: #1f3447; }}
QLabel#warningBox {{ background: #fff8e6; border: 1px solid #efd79c; border-radius: 4px; padding: 8px; color: #4d3a00; }}
QFrame#errorBanner {{ background: #fdecee; border: 1px solid #efb3bb; border-radius: 5px; }}
QFrame#statusCard {{ background: white; border: 1px solid #dde1e6; border-radius: 6px; }}
QLabel#stateBadge {{ border-radius: 9px; padding: 2px 10px; font-weight: 600; color: white; background: #7a828c; }}
QLabel#bigNumber {{ font-size: 15pt; font-weight: 600; color: #1d2127; }}
QLabel#smallCaption {{ color: #6b727b; font-size: 8.5pt; }}
QPushButton {{ padding: 5px 14px; border: 1px solid #c4c9d0; border-radius: 4px; background: white; color: #1d2127; }}
QPushButton:hover {{ background: #eef3f8; border-color: #9fb3c8; }}
QPushButton:pressed {{ background: #dde7f1; }}
QPushButton:disabled {{ color: #a0a5ab; background: #f2f3f5; border-color: #dcdfe3; }}
QPushButton#primaryButton {{ background: {ACCENT}; color: white; border-color: #005f94; font-weight: 600; }}
QPushButton#primaryButton:hover {{ background: #0a7fc2; }}
QPushButton#primaryButton:disabled {{ background: #9cc3dc; color: #eef5fa; border-color: #9cc3dc; }}
QPushButton#dangerButton {{ color: #b00020; border-color: #e3a9b1; }}
QPushButton#dangerButton:hover {{ background: #fdecee; }}
QPushButton#linkButton {{ border: none; color: {ACCENT}; text-align: left; padding: 2px 0; background: transparent; }}
QPushButton#linkButton:hover {{ text-decoration: underline; }}
QGroupBox {{ font-weight: 600; color: #2b3038; border: 1px solid #dde1e6; border-radius: 6px; margin-top: 16px;
    padding: 10px 8px 6px 8px; background: white; }}
QGroupBox::title {{ subcontrol-origin: margin; subcontrol-position: top left; left: 10px; padding: 0 4px; }}
QProgressBar {{ border: 1px solid #c9ced5; border-radius: 4px; text-align: center; background: #eef0f3;
    min-height: 18px; color: #1d2127; }}
QProgressBar::chunk {{ background: {ACCENT}; border-radius: 3px; }}
QProgressBar[thin="true"] {{ min-height: 10px; max-height: 10px; border-radius: 5px; border: none; background: #e3e7ec; }}
QProgressBar[thin="true"]::chunk {{ border-radius: 5px; }}
QLabel#stepNumber {{ background: {ACCENT}; color: white; border-radius: 11px; font-weight: 700; }}
QHeaderView::section {{ background: #f0f2f5; border: none; border-bottom: 1px solid #d5d9df;
    border-right: 1px solid #e3e6ea; padding: 4px 6px; font-weight: 600; color: #333; }}
QTableWidget, QTableView, QListView, QPlainTextEdit, QTextBrowser {{ border: 1px solid #d5d9df; border-radius: 4px;
    background: white; selection-background-color: #cfe3f3; selection-color: #111; }}
QTableWidget, QTableView {{ gridline-color: #eceef1; alternate-background-color: #f8f9fb; }}
QPlainTextEdit#logView {{ font-family: "DejaVu Sans Mono", monospace; font-size: 8.5pt; color: #2b3038; }}
QScrollArea#formScroll {{ border: none; background: transparent; }}
QStatusBar {{ background: #eceef1; color: #444; border-top: 1px solid #d5d9df; }}
QToolTip {{ background: #fffef2; color: #222; border: 1px solid #c9c4a0; padding: 4px; }}
QSplitter::handle {{ background: transparent; }}
"""


from crackviewer.qt_compat import guard_none_refcount as guard_pyside_refcount_bug  # noqa: E402


def display_problem() -> str | None:
    """The no-display message when Qt could not open any window here, else None."""
    if os.environ.get("QT_QPA_PLATFORM"):
        return None
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return NO_DISPLAY_MESSAGE
    return None


def apply_style(app) -> None:
    """Fusion + a light, flat style sheet; pyqtgraph on white."""
    import pyqtgraph as pg
    from PySide6.QtGui import QColor, QPalette

    app.setStyle("Fusion")
    pal = app.palette()
    pal.setColor(QPalette.ColorRole.Window, QColor("#f4f5f7"))
    pal.setColor(QPalette.ColorRole.Base, QColor("white"))
    pal.setColor(QPalette.ColorRole.AlternateBase, QColor("#f8f9fb"))
    pal.setColor(QPalette.ColorRole.Highlight, QColor("#cfe3f3"))
    pal.setColor(QPalette.ColorRole.HighlightedText, QColor("#111111"))
    pal.setColor(QPalette.ColorRole.Button, QColor("white"))
    pal.setColor(QPalette.ColorRole.WindowText, QColor("#1d2127"))
    pal.setColor(QPalette.ColorRole.Text, QColor("#1d2127"))
    pal.setColor(QPalette.ColorRole.ToolTipBase, QColor("#fffef2"))
    app.setPalette(pal)
    app.setStyleSheet(STYLE_SHEET)
    pg.setConfigOptions(antialias=True, background="w", foreground="#444")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="crackviewer", description="Train, inspect and correct crack-segmentation "
                                 "models (SegDecNet) in one desktop app.")
    ap.add_argument("--dataset", help="open this dataset folder (default: the last one)")
    ap.add_argument("--run", help="open this run folder in the Runs tab (default: the last one)")
    ap.add_argument("--workspace", help="folder for runs and the demo dataset (default: ~/crackviewer-workspace, "
                    "or $CRACKVIEWER_WORKSPACE)")
    ap.add_argument("--settings", help="settings file (.ini) to use instead of the user's (also "
                    "$CRACKVIEWER_SETTINGS)")
    ap.add_argument("--tab", choices=["dataset", "train", "runs", "inspect", "annotate"], help="tab to show first")
    ap.add_argument("--no-restore", action="store_true", help="do not reopen the last dataset and run")
    ap.add_argument("--quit-after", type=float, metavar="SECONDS",
                    help="smoke test: print what the window shows and quit after SECONDS")
    return ap.parse_args(argv)


def create_window(args: argparse.Namespace | None = None, settings=None, **window_kwargs):
    """The main window, configured from parsed args (used by main(), tests, screenshots and the benchmark).
    window_kwargs go to MainWindow (probe_devices, optional_panels)."""
    from crackviewer.main_window import MainWindow
    from crackviewer.settings import AppSettings

    args = args or parse_args([])
    if settings is None:
        settings = AppSettings(args.settings, workspace=args.workspace)
    window_kwargs.setdefault("optional_panels", "deferred")
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
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationName("crackviewer")
    app.setOrganizationName("crackviewer")
    app.setApplicationDisplayName("crackviewer")
    apply_style(app)
    win = create_window(args)
    win.show()
    if args.quit_after is not None:
        from PySide6.QtCore import QTimer

        deadline = [60.0]
        quit_timer = QTimer(win)
        quit_timer.setSingleShot(True)

        def report_and_quit():
            busy = win.dataset_view.loading or getattr(win, "_placeholders", False)
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
    from PySide6.QtCore import QEvent

    win.deleteLater()
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
    del win
    return int(code)


if __name__ == "__main__":
    raise SystemExit(main())
