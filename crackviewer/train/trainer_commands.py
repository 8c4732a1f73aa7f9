"""Short `python -m trainer ...` subprocesses of the GUI: the device probe and one-off commands (e.g. the demo
dataset). The GUI never imports torch; these ask the trainer instead."""
from __future__ import annotations

import json
import sys

from PySide6.QtCore import QObject, QProcess, Signal

from crackviewer.train.worker_io import PROJECT_ROOT, LineSplitter, trainer_environment


class DeviceProbe(QObject):
    """Asks `python -m trainer device --json` (THE device/precision resolution) which devices torch sees, so the
    GUI never imports torch.

    probed(dict): {"cuda": [{"index", "name", "memory_gb", "bf16"}], "torch": version, "bf16_cpu": bool,
                   "precision_auto": str, "error": str|None}
    """

    probed = Signal(dict)

    def __init__(self, parent: QObject | None = None, python: str | None = None):
        super().__init__(parent)
        self.python = python or sys.executable
        self.result: dict | None = None
        self.process: QProcess | None = None

    def start(self) -> None:
        proc = QProcess(self)
        proc.setProgram(self.python)
        proc.setArguments(["-m", "trainer", "device", "--json"])
        proc.setWorkingDirectory(str(PROJECT_ROOT))
        proc.setProcessEnvironment(trainer_environment())
        proc.finished.connect(self._done)
        proc.errorOccurred.connect(self._failed)
        self.process = proc
        proc.start()

    def _done(self, code: int, status) -> None:
        text = bytes(self.process.readAllStandardOutput()).decode("utf-8", "replace").strip().splitlines()
        result = {"cuda": [], "torch": None, "bf16_cpu": False, "error": f"probe exited with {code}"}
        if text:
            try:
                result = json.loads(text[-1])
            except ValueError:
                pass
        self.result = result
        self.probed.emit(result)

    def _failed(self, error) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self.result = {"cuda": [], "torch": None, "bf16_cpu": False, "error": "could not start python"}
            self.probed.emit(self.result)


class TrainerCommand(QObject):
    """Runs one short `python -m trainer ...` command (e.g. `demo --data-only`) and reports its output.

    output(list[str]) while it runs; done(exit_code: int, lines: list[str]) at the end (exit_code -1 = crash).
    """

    output = Signal(list)
    done = Signal(int, list)

    def __init__(self, args: list[str], parent: QObject | None = None, python: str | None = None):
        super().__init__(parent)
        self.args = ["-m", "trainer"] + list(args)
        self.python = python or sys.executable
        self.lines: list[str] = []
        self._split = LineSplitter()
        self.process = QProcess(self)
        self.process.setProgram(self.python)
        self.process.setArguments(self.args)
        self.process.setProcessEnvironment(trainer_environment())
        self.process.setWorkingDirectory(str(PROJECT_ROOT))
        self.process.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        self.process.readyReadStandardOutput.connect(self._read)
        self.process.finished.connect(self._finished)
        self.process.errorOccurred.connect(self._error)

    def start(self) -> None:
        self.process.start()

    def is_running(self) -> bool:
        return self.process.state() != QProcess.ProcessState.NotRunning

    def kill(self) -> None:
        if self.is_running():
            self.process.kill()

    def _read(self) -> None:
        lines = self._split.feed(bytes(self.process.readAllStandardOutput()))
        if lines:
            self.lines.extend(lines)
            self.output.emit(lines)

    def _finished(self, code: int, status) -> None:
        self._read()
        rest = self._split.flush()
        if rest:
            self.lines.extend(rest)
            self.output.emit(rest)
        crashed = status == QProcess.ExitStatus.CrashExit
        self.done.emit(-1 if crashed else code, list(self.lines))

    def _error(self, error) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self.lines.append(f"could not start {self.python}: {self.process.errorString()}")
            self.done.emit(-1, list(self.lines))
