"""The main window's menus (File, View, Training, Help) and status bar.

`MenusMixin` is the part of `MainWindow` that builds them; the actions call the window's public methods. The window's
own shortcuts are rows of `WINDOW_SHORTCUTS` (the shortcut registry), which set the menu keys and feed
Help ▸ Shortcuts together with the Inspect and Annotate tables."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import QLabel, QMessageBox

import crackviewer
from crackviewer.annotate.keys import ANNOTATE_SHORTCUTS
from crackviewer.inspect.keys import INSPECT_SHORTCUTS
from crackviewer.qt.shortcut_help import ShortcutsDialog
from crackviewer.qt.shortcuts import Shortcut

TAB_KEYS = ["dataset", "train", "runs", "inspect", "annotate"]   # the tabs, in order (View menu: Ctrl+1..5)

WINDOW_SHORTCUTS = [
    Shortcut("open_dataset", ("Ctrl+O",), "Open a dataset folder", "Window"),
    Shortcut("open_run", ("Ctrl+Shift+O",), "Open a run folder (from anywhere) in the Runs tab", "Window"),
    Shortcut("quit", ("Ctrl+Q",), "Quit", "Window"),
    *[Shortcut(f"tab_{key}", (f"Ctrl+{i + 1}",), f"Show the {key.capitalize()} tab", "Window")
      for i, key in enumerate(TAB_KEYS)],
    Shortcut("train_start", ("Ctrl+Return",), "Start training with the form's parameters", "Train"),
    Shortcut("train_stop", ("Ctrl+.",), "Stop training (press again to kill the worker)", "Train"),
    Shortcut("", (), "Enlarge a plot", "Plots", shown="Double-click"),
    Shortcut("shortcuts", ("Ctrl+F1",), "Every tab's shortcuts (this list)", "Help"),
]
_KEYS = {s.action: s.keys for s in WINDOW_SHORTCUTS if s.action}


class MenusMixin:
    def _action(self, menu, title: str, handler, shortcut: str | None = None) -> QAction:
        a = QAction(title, self)
        if shortcut:
            a.setShortcuts([QKeySequence(k) for k in _KEYS[shortcut]])
        a.triggered.connect(handler)
        menu.addAction(a)
        return a

    def _build_menus(self) -> None:
        mb = self.menuBar()
        m = mb.addMenu("&File")
        self._action(m, "&Open dataset…", self.open_dataset_dialog, "open_dataset")
        self._action(m, "Open &run…", self.open_run_dialog, "open_run")
        self._action(m, "Create the &demo dataset", self._create_demo)
        self.recent_menu = m.addMenu("&Recent datasets")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        m.addSeparator()
        self._action(m, "Change &workspace…", self.change_workspace_dialog)
        self._action(m, "Open workspace &folder",
                     lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.settings.workspace))))
        m.addSeparator()
        self._action(m, "&Quit", self.close, "quit")
        v = mb.addMenu("&View")
        for key in TAB_KEYS:
            self._action(v, key.capitalize(), lambda _=False, k=key: self.show_tab(k), f"tab_{key}")
        t = mb.addMenu("&Training")
        self._action(t, "&Start", lambda: (self.show_tab("train"), self.training_panel.start()), "train_start")
        self._action(t, "S&top", self.training_panel.stop, "train_stop")
        self._action(t, "&Resume", self.training_panel.resume)
        self._action(t, "Retrain from the selected &run",
                     lambda: self.runs_view.current and self.retrain_run(str(self.runs_view.current)))
        h = mb.addMenu("&Help")
        self._action(h, "&Shortcuts", self.show_shortcuts, "shortcuts")
        self._action(h, "&About crackviewer", self._about)

    def shortcut_tables(self) -> list[tuple[str, list[Shortcut]]]:
        """Every tab's shortcut table, as Help ▸ Shortcuts lists them."""
        return [("Window and Train", WINDOW_SHORTCUTS), ("Inspect", INSPECT_SHORTCUTS),
                ("Annotate", ANNOTATE_SHORTCUTS)]

    def show_shortcuts(self) -> ShortcutsDialog:
        dlg = ShortcutsDialog(self.shortcut_tables(), self)
        self.shortcuts_dialog = dlg
        dlg.show()
        return dlg

    def _build_status_bar(self) -> None:
        sb = self.statusBar()
        self.train_state_label = QLabel("")
        self.train_state_label.setObjectName("trainState")
        self.workspace_label = QLabel("")
        sb.addPermanentWidget(self.train_state_label)
        sb.addPermanentWidget(self.workspace_label)
        self._update_workspace_label()

    def _update_workspace_label(self) -> None:
        self.workspace_label.setText(f"workspace: {self.settings.workspace}")

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        for p in self.settings.recent_datasets:
            a = QAction(p, self)
            a.setEnabled(Path(p).exists())
            a.triggered.connect(lambda _=False, p=p: self.open_dataset(p))
            self.recent_menu.addAction(a)
        if not self.recent_menu.actions():
            a = QAction("(none)", self)
            a.setEnabled(False)
            self.recent_menu.addAction(a)

    def _about(self) -> None:
        QMessageBox.about(self, "About crackviewer",
                          f"<h3>crackviewer {crackviewer.__version__}</h3>"
                          "<p>Train SegDecNet crack-segmentation models, watch them learn, inspect every prediction "
                          "and correct the masks.</p>"
                          f"<p>Workspace: <tt>{self.settings.workspace}</tt><br>"
                          f"Settings: <tt>{self.settings.file_name}</tt></p>")
