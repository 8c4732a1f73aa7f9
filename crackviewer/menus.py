"""The main window's menus (File, View, Training, Help) and status bar.

`MenusMixin` is the part of `MainWindow` that builds them; the actions call the window's public methods."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import QLabel, QMessageBox

import crackviewer


TAB_KEYS = ["dataset", "train", "runs", "inspect", "annotate"]   # the tabs, in order (View menu: Ctrl+1..5)


class MenusMixin:
    def _build_menus(self) -> None:
        mb = self.menuBar()
        m = mb.addMenu("&File")
        a = QAction("&Open dataset…", self)
        a.setShortcut(QKeySequence.StandardKey.Open)
        a.triggered.connect(self.open_dataset_dialog)
        m.addAction(a)
        a = QAction("Create the &demo dataset", self)
        a.triggered.connect(self._create_demo)
        m.addAction(a)
        self.recent_menu = m.addMenu("&Recent datasets")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        m.addSeparator()
        a = QAction("Change &workspace…", self)
        a.triggered.connect(self.change_workspace_dialog)
        m.addAction(a)
        a = QAction("Open workspace &folder", self)
        a.triggered.connect(lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.settings.workspace))))
        m.addAction(a)
        m.addSeparator()
        a = QAction("&Quit", self)
        a.setShortcut(QKeySequence.StandardKey.Quit)
        a.triggered.connect(self.close)
        m.addAction(a)
        v = mb.addMenu("&View")
        for i, key in enumerate(TAB_KEYS):
            a = QAction(key.capitalize(), self)
            a.setShortcut(QKeySequence(f"Ctrl+{i + 1}"))
            a.triggered.connect(lambda _=False, k=key: self.show_tab(k))
            v.addAction(a)
        t = mb.addMenu("&Training")
        a = QAction("&Start", self)
        a.setShortcut(QKeySequence("Ctrl+Return"))
        a.triggered.connect(lambda: (self.show_tab("train"), self.training_panel.start()))
        t.addAction(a)
        a = QAction("S&top", self)
        a.setShortcut(QKeySequence("Ctrl+."))
        a.triggered.connect(self.training_panel.stop)
        t.addAction(a)
        a = QAction("&Resume", self)
        a.triggered.connect(self.training_panel.resume)
        t.addAction(a)
        h = mb.addMenu("&Help")
        a = QAction("&About crackviewer", self)
        a.triggered.connect(self._about)
        h.addAction(a)

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
