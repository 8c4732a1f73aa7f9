"""The training worker: `python -m trainer train ... --events` in a QProcess, with its events streamed to the GUI.

Training never runs inside the GUI process. The worker is exactly the command a user runs in a terminal
(`crack-train train`), so the GUI and the CLI share one code path. Its stdout carries one JSON event per line
(see docs/architecture.md, "Events"); its stderr carries the human log. When the worker crashes, runs out of
memory or is killed, the GUI process is unaffected: `TrainingProcess.ended` reports what happened, with the
log tail, and the run can be resumed from its last checkpoint.
"""
from __future__ import annotations

import os
import signal
import sys
from collections import deque
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QTimer, Signal

from crackviewer.train.worker_io import PROJECT_ROOT, LineSplitter, tail_lines, trainer_environment
from trainer.runs import paths
from trainer.runs.events import ERROR, FINISHED, parse_event_line


def build_train_args(data: str | Path, run_dir: str | Path, config_file: str | Path | None = None,
                     resume: bool = False) -> list[str]:
    """Arguments after the interpreter: `-m trainer train --data D --out R [--config F] [--resume] --events`."""
    args = ["-m", "trainer", "train", "--data", str(data), "--out", str(run_dir)]
    if config_file:
        args += ["--config", str(config_file)]
    if resume:
        args.append("--resume")
    args.append("--events")
    return args


def signal_name(num: int) -> str:
    try:
        return signal.Signals(num).name
    except ValueError:
        return f"signal {num}"


class TrainingProcess(QObject):
    """One training worker process. Reusable: call start() again after it has ended.

    Signals:
      eventsReceived(list[dict])  new events, in order (batched per read, to keep the GUI cheap)
      logLines(list[str])         human log lines (stderr, and stdout lines that are not events)
      started()                   the process is running
      ended(dict)                 outcome: status (finished|stopped|failed|crashed), message, exit_code,
                                  exit_signal, error_kind, log_tail (list[str]), run_dir, resumable (bool)
    """

    eventsReceived = Signal(list)
    logLines = Signal(list)
    started = Signal()
    ended = Signal(dict)

    def __init__(self, parent: QObject | None = None, python: str | None = None):
        super().__init__(parent)
        self.python = python or sys.executable
        self.process: QProcess | None = None
        self.run_dir: Path | None = None
        self.command: list[str] = []
        self._out = LineSplitter()
        self._err = LineSplitter()
        self._stderr_tail: deque[str] = deque(maxlen=200)
        self._terminal: dict | None = None   # last finished/error event
        self._stop_requested = False
        self._stop_timer = QTimer(self)
        self._stop_timer.setSingleShot(True)
        self._stop_timer.timeout.connect(self._escalate_stop)
        self._stop_stage = 0
        self.events_seen = 0
        self.nice = 0   # the worker's nice level (settings "worker_nice"); 0 = as fast as the CLI

    # -- state -------------------------------------------------------------------------------------------
    def is_running(self) -> bool:
        return self.process is not None and self.process.state() != QProcess.ProcessState.NotRunning

    def pid(self) -> int | None:
        if not self.is_running():
            return None
        pid = int(self.process.processId())
        return pid or None

    # -- control -----------------------------------------------------------------------------------------
    def start(self, data: str | Path, run_dir: str | Path, config_file: str | Path | None = None,
              resume: bool = False, extra_args: list[str] | None = None) -> list[str]:
        """Launch the worker; returns the full command line. Raises RuntimeError when one is already running."""
        if self.is_running():
            raise RuntimeError("a training process is already running")
        self.run_dir = Path(run_dir)
        self.run_dir.parent.mkdir(parents=True, exist_ok=True)
        stop_file = self.run_dir / paths.STOP
        if stop_file.exists():  # a stale stop request would end the new run at once
            stop_file.unlink()
        args = build_train_args(data, self.run_dir, config_file, resume) + list(extra_args or [])
        self.command = [self.python] + args
        self._out, self._err = LineSplitter(), LineSplitter()
        self._stderr_tail.clear()
        self._terminal = None
        self._stop_requested = False
        self._stop_stage = 0
        self.events_seen = 0

        proc = QProcess(self)
        proc.setProgram(self.python)
        proc.setArguments(args)
        proc.setProcessEnvironment(trainer_environment())
        proc.setWorkingDirectory(str(PROJECT_ROOT))
        proc.readyReadStandardOutput.connect(self._read_stdout)
        proc.readyReadStandardError.connect(self._read_stderr)
        proc.finished.connect(self._on_finished)
        proc.errorOccurred.connect(self._on_error)
        proc.started.connect(self._lower_priority)
        proc.started.connect(self.started)
        self.process = proc
        proc.start()
        return self.command

    def _lower_priority(self) -> None:
        """Run the worker at the nice level of the setting (0 by default: as fast as `crack-train` from a shell; a
        higher level keeps the GUI responsive on a machine with few cores, at the cost of training speed). Set
        right after exec, before torch creates its threads, so they all inherit it."""
        nice = self.nice
        pid = self.pid()
        if nice and pid and hasattr(os, "setpriority"):
            try:
                os.setpriority(os.PRIO_PROCESS, pid, nice)
            except OSError:
                pass

    def request_stop(self, grace_s: float = 30.0) -> None:
        """Ask the trainer to stop between steps (RUN/STOP). It saves the last completed epoch and exits.

        If it has not exited after grace_s, send SIGTERM; 15 s later, SIGKILL.
        """
        if not self.is_running():
            return
        self._stop_requested = True
        try:
            (self.run_dir / paths.STOP).write_text("stop requested from crackviewer\n", encoding="utf-8")
        except OSError:
            self.process.terminate()
        self._stop_stage = 1
        self._stop_timer.start(int(grace_s * 1000))

    def _escalate_stop(self) -> None:
        if not self.is_running():
            return
        if self._stop_stage == 1:
            self.logLines.emit(["crackviewer: the trainer did not stop in time; sending SIGTERM"])
            self.process.terminate()
            self._stop_stage = 2
            self._stop_timer.start(15_000)
        else:
            self.logLines.emit(["crackviewer: the trainer ignored SIGTERM; killing it"])
            self.process.kill()

    def kill(self) -> None:
        """SIGKILL the worker at once (no checkpoint for the epoch in progress)."""
        if self.is_running():
            self._stop_requested = True
            self.process.kill()

    def wait(self, msecs: int = 30_000) -> bool:
        return True if self.process is None else self.process.waitForFinished(msecs)

    # -- I/O ---------------------------------------------------------------------------------------------
    def _read_stdout(self) -> None:
        if self.process is None:
            return
        self._dispatch_stdout(self._out.feed(bytes(self.process.readAllStandardOutput())))

    def _dispatch_stdout(self, lines: list[str]) -> None:
        events, plain = [], []
        for line in lines:
            ev = parse_event_line(line)
            if ev is None:
                plain.append(line)
                continue
            events.append(ev)
            if ev["event"] in (FINISHED, ERROR):
                self._terminal = ev
        if events:
            self.events_seen += len(events)
            self.eventsReceived.emit(events)
        if plain:
            self._stderr_tail.extend(plain)
            self.logLines.emit(plain)

    def _read_stderr(self) -> None:
        if self.process is None:
            return
        lines = self._err.feed(bytes(self.process.readAllStandardError()))
        if lines:
            self._stderr_tail.extend(lines)
            self.logLines.emit(lines)

    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            msg = f"could not start the training process ({self.python}): {self.process.errorString()}"
            self.ended.emit(self._outcome("failed", msg, exit_code=None, exit_signal=None))

    def _on_finished(self, exit_code: int, exit_status: QProcess.ExitStatus) -> None:
        self._stop_timer.stop()
        stop_file = self.run_dir / paths.STOP if self.run_dir else None
        if stop_file is not None and stop_file.exists():     # served its purpose; a later resume must not see it
            stop_file.unlink(missing_ok=True)
        # Drain whatever is left in the pipes.
        self._dispatch_stdout(self._out.feed(bytes(self.process.readAllStandardOutput())) + self._out.flush())
        rest = self._err.feed(bytes(self.process.readAllStandardError())) + self._err.flush()
        if rest:
            self._stderr_tail.extend(rest)
            self.logLines.emit(rest)

        crashed = exit_status == QProcess.ExitStatus.CrashExit
        sig = exit_code if crashed else (exit_code - 128 if exit_code > 128 else None)
        term = self._terminal
        if term is not None and term["event"] == FINISHED:
            status = term.get("status", "finished")
            if status not in ("finished", "stopped"):
                status = "finished"
            msg = "Training finished." if status == "finished" else self._stopped_message(term)
            self.ended.emit(self._outcome(status, msg, exit_code, sig if crashed else None))
            return
        if term is not None and term["event"] == ERROR:
            kind = term.get("kind", "internal")
            msg = term.get("message", "the trainer reported an error")
            if term.get("file") and str(term["file"]) not in msg:
                msg = f"{term['file']}: {msg}"
            if kind == "oom":
                msg += ("\nOut of memory: lower batch_size or the input size, or choose precision bf16, "
                        + ("then resume." if self.has_checkpoint() else "then start the run again."))
            self.ended.emit(self._outcome("failed", msg, exit_code, sig if crashed else None, kind))
            return
        if crashed or (sig is not None and sig > 0):
            name = signal_name(sig) if sig else "a signal"
            if sig == signal.SIGKILL:
                why = ("It was killed (SIGKILL) — by a user, or by the system when memory ran out.")
            elif sig == signal.SIGTERM and self._stop_requested:
                why = "It was terminated after a stop request."
            else:
                why = f"It was ended by {name}."
            msg = f"The training process ended abnormally. {why}"
            self.ended.emit(self._outcome("crashed", msg, exit_code, sig))
            return
        if exit_code != 0:
            last = next((ln for ln in reversed(self._stderr_tail) if ln.strip()), "")
            msg = f"The training process exited with code {exit_code}." + (f"\n{last}" if last else "")
            self.ended.emit(self._outcome("failed", msg, exit_code, None))
            return
        self.ended.emit(self._outcome("failed", "The training process exited without reporting that it finished.",
                                      exit_code, None))

    def has_checkpoint(self) -> bool:
        """Whether the run folder holds the checkpoint a resume starts from (read from disk, not assumed)."""
        return bool(self.run_dir and paths.checkpoint_path(self.run_dir, "last").is_file())

    def _stopped_message(self, term: dict) -> str:
        done = term.get("epochs_done")
        if not self.has_checkpoint():
            return ("Training stopped before the first epoch ended: no checkpoint was saved, so there is nothing to "
                    "resume. Start the run again.")
        return f"Training stopped after epoch {done if done is not None else '?'}; resume continues from there."

    def _outcome(self, status: str, message: str, exit_code, exit_signal, kind: str | None = None) -> dict:
        log_file = (self.run_dir / paths.LOG) if self.run_dir else None
        resumable = self.has_checkpoint()
        return {
            "status": status,
            "message": message,
            "exit_code": exit_code,
            "exit_signal": exit_signal,
            "error_kind": kind,
            "stderr_tail": list(self._stderr_tail)[-40:],
            "log_tail": tail_lines(log_file, 40) if log_file else [],
            "run_dir": str(self.run_dir) if self.run_dir else None,
            "resumable": resumable and status != "finished",
            "command": list(self.command),
        }
