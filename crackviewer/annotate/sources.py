"""Choosing the prediction source in the Annotate tab: a list of the runs and evaluations of the workspace (and of
run folders opened before), each with how many of the dataset's samples it covers, instead of a bare folder dialog.

Qt-free part: :func:`source_choices`; the dialog: :class:`SourceDialog`."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QFileDialog, QLabel, QListWidget, QListWidgetItem,
                               QPushButton, QVBoxLayout)

from trainer.runs import paths
from trainer.runs.evaluation import load_samples
from trainer.runs.folder import RunFolder, find_runs


@dataclass(frozen=True)
class SourceChoice:
    path: Path            # an evaluation folder (a run folder is its own test evaluation)
    run: str              # the run's name
    title: str            # what the list shows
    covered: int          # samples of the dataset it has a prediction for


def _names(eval_dir: Path) -> set[str]:
    try:
        return {str(n) for n in load_samples(eval_dir / paths.SAMPLES).get("names", [])}
    except Exception:     # noqa: BLE001 - an unreadable evaluation is listed as covering nothing
        return set()


def source_choices(workspace: Path | None, extra_runs: Iterable[Path], dataset_names: set[str]) -> list[SourceChoice]:
    """Every evaluation of the runs under ``workspace`` and of ``extra_runs`` (newest run first), with coverage."""
    runs: list[RunFolder] = find_runs(workspace) if workspace is not None else []
    seen = {r.path.resolve() for r in runs}
    for p in extra_runs:
        if Path(p).is_dir() and Path(p).resolve() not in seen:
            runs.append(RunFolder(p))
            seen.add(Path(p).resolve())
    out = []
    for run in runs:
        for ev in run.evaluations():
            if not (ev / paths.SAMPLES).is_file():
                continue
            where = "test" if ev == run.path else f"{ev.parent.name}/{ev.name}"
            covered = len(_names(ev) & dataset_names)
            out.append(SourceChoice(ev, run.name, f"{run.name}  ·  {where}  ·  {covered} samples", covered))
    return out


class SourceDialog(QDialog):
    """Pick one of :func:`source_choices`, or open another run or evaluation folder."""

    def __init__(self, parent, choices: list[SourceChoice], start_dir: Path | None):
        super().__init__(parent)
        self.setWindowTitle("Prediction source")
        self.chosen: Path | None = None
        self._start = start_dir
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("Evaluations of the workspace's runs on this dataset (samples covered):"))
        self.list = QListWidget()
        for c in choices:
            it = QListWidgetItem(c.title)
            it.setData(Qt.UserRole, str(c.path))
            it.setToolTip(str(c.path))
            if not c.covered:
                it.setForeground(Qt.gray)
            self.list.addItem(it)
        if not choices:
            self.list.addItem("No evaluated runs found: evaluate a run on this dataset, or open its folder.")
        self.list.setCurrentRow(0)
        self.list.itemDoubleClicked.connect(lambda *_: self.accept())
        lay.addWidget(self.list, 1)
        other = QPushButton("Open another run or evaluation folder…")
        other.clicked.connect(self._browse)
        lay.addWidget(other)
        bb = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        bb.accepted.connect(self.accept)
        bb.rejected.connect(self.reject)
        lay.addWidget(bb)
        self.resize(560, 360)

    def _browse(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Run or evaluation folder", str(self._start or ""))
        if d:
            self.chosen = Path(d)
            super().accept()

    def accept(self) -> None:
        it = self.list.currentItem()
        if it is not None and it.data(Qt.UserRole):
            self.chosen = Path(it.data(Qt.UserRole))
        super().accept()
