"""The training worker: `python -m trainer train ... --events` in a QProcess, with its events streamed to the GUI.

Training never runs inside the GUI process. The worker is exactly the command a user runs in a terminal
(`crack-train train`), so the GUI and the CLI share one code path. Its stdout carries one JSON event per line
(see docs/architecture.md, "Events"); its stderr carries the human log. When the worker crashes, runs out of
memory or is killed, the GUI process is unaffected: `TrainingProcess.ended` reports what happened, with the
log tail, and the run can be resumed from its last checkpoint.
"""
from __future__ import annotations

import json
import os
import signal
import sys
from collections import deque
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def trainer_environment() -> QProcessEnvironment:
    """The GUI's environment, plus unbuffered output and the project root on PYTHONPATH (works uninstalled too)."""
    env = QProcessEnvironment.systemEnvironment()
    paths = [str(PROJECT_ROOT)]
    old = env.value("PYTHONPATH", "")
    if old:
        paths.append(old)
    env.insert("PYTHONPATH", os.pathsep.join(paths))
    env.insert("PYTHONUNBUFFERED", "1")
    env.insert("PYTHONIOENCODING", "utf-8")
    # The worker must never try to talk to a display (it imports no Qt, but be explicit).
    env.remove("QT_QPA_PLATFORM")
    return env


def format_override(key: str, value: Any) -> str:
    """One `--set key=value` argument in the TOML-literal form `trainer.config.parse_overrides` reads."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (int, float)):
        text = repr(value)
    else:
        text = json.dumps(str(value))  # a TOML basic string
    return f"{key}={text}"


def build_train_args(data: str | Path, run_dir: str | Path, overrides: dict[str, Any] | None = None,
                     resume: bool = False, config_file: str | Path | None = None) -> list[str]:
    """Arguments after the interpreter: `-m trainer train --data D --out R [--config F] [--set k=v ...] --events`."""
    args = ["-m", "trainer", "train", "--data", str(data), "--out", str(run_dir)]
    if config_file:
        args += ["--config", str(config_file)]
    for key, value in (overrides or {}).items():
        args += ["--set", format_override(key, value)]
    if resume:
        args.append("--resume")
    args.append("--events")
    return args


class LineSplitter:
    """Turns arbitrary byte chunks into complete text lines; keeps the unfinished tail for the next chunk.

    A carriage return (a terminal progress bar redrawing itself) also ends a line; empty lines are dropped.
    """

    def __init__(self):
        self._buf = b""

    def feed(self, chunk: bytes) -> list[str]:
        self._buf += chunk
        if b"\n" not in self._buf and b"\r" not in self._buf:
            return []
        data = self._buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        *lines, self._buf = data.split(b"\n")
        return [ln.decode("utf-8", "replace").rstrip() for ln in lines if ln.strip()]

    def flush(self) -> list[str]:
        rest, self._buf = self._buf, b""
        text = rest.decode("utf-8", "replace").strip()
        return [text] if text else []


def parse_event_line(line: str) -> dict | None:
    """The event dict of one stdout line, or None when the line is not an event (plain output)."""
    s = line.strip()
    if not (s.startswith("{") and s.endswith("}")):
        return None
    try:
        obj = json.loads(s)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) and isinstance(obj.get("event"), str) else None


def tail_lines(path: str | Path, n: int = 40, max_bytes: int = 64_000) -> list[str]:
    """The last n lines of a text file (reads at most max_bytes from its end); [] if it does not exist."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - max_bytes))
            data = fh.read()
    except OSError:
        return []
    lines = data.decode("utf-8", "replace").splitlines()
    if size > max_bytes and lines:
        lines = lines[1:]  # the first one is probably cut
    return lines[-n:]


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
        self.nice = 5

    # -- state -------------------------------------------------------------------------------------------
    def is_running(self) -> bool:
        return self.process is not None and self.process.state() != QProcess.ProcessState.NotRunning

    def pid(self) -> int | None:
        if not self.is_running():
            return None
        pid = int(self.process.processId())
        return pid or None

    # -- control -----------------------------------------------------------------------------------------
    def start(self, data: str | Path, run_dir: str | Path, overrides: dict[str, Any] | None = None,
              resume: bool = False, config_file: str | Path | None = None,
              extra_args: list[str] | None = None) -> list[str]:
        """Launch the worker; returns the full command line. Raises RuntimeError when one is already running."""
        if self.is_running():
            raise RuntimeError("a training process is already running")
        self.run_dir = Path(run_dir)
        self.run_dir.parent.mkdir(parents=True, exist_ok=True)
        stop_file = self.run_dir / "STOP"
        if stop_file.exists():  # a stale stop request would end the new run at once
            stop_file.unlink()
        args = build_train_args(data, self.run_dir, overrides, resume, config_file) + list(extra_args or [])
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
        """Run the worker at a lower CPU priority (nice, default 5; $CRACKVIEWER_WORKER_NICE): on a machine with
        few cores the trainer's threads would otherwise starve the GUI thread. Set right after exec, before torch
        creates its threads, so they all inherit it. Training speed is unchanged while the GUI is idle."""
        try:
            nice = int(os.environ.get("CRACKVIEWER_WORKER_NICE", str(self.nice)))
        except ValueError:
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
            (self.run_dir / "STOP").write_text("stop requested from crackviewer\n", encoding="utf-8")
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
            if ev["event"] in ("finished", "error"):
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
        # Drain whatever is left in the pipes.
        self._dispatch_stdout(self._out.feed(bytes(self.process.readAllStandardOutput())) + self._out.flush())
        rest = self._err.feed(bytes(self.process.readAllStandardError())) + self._err.flush()
        if rest:
            self._stderr_tail.extend(rest)
            self.logLines.emit(rest)

        crashed = exit_status == QProcess.ExitStatus.CrashExit
        sig = exit_code if crashed else (exit_code - 128 if exit_code > 128 else None)
        term = self._terminal
        if term is not None and term["event"] == "finished":
            status = term.get("status", "finished")
            if status not in ("finished", "stopped"):
                status = "finished"
            msg = ("Training finished." if status == "finished"
                   else f"Training stopped after epoch {term.get('epochs_done', '?')}; resume continues from there.")
            self.ended.emit(self._outcome(status, msg, exit_code, sig if crashed else None))
            return
        if term is not None and term["event"] == "error":
            kind = term.get("kind", "internal")
            msg = term.get("message", "the trainer reported an error")
            if term.get("file") and str(term["file"]) not in msg:
                msg = f"{term['file']}: {msg}"
            if kind == "oom":
                msg += ("\nOut of memory: lower batch_size or the input size, or choose precision bf16, "
                        "then resume.")
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

    def _outcome(self, status: str, message: str, exit_code, exit_signal, kind: str | None = None) -> dict:
        log_file = (self.run_dir / "log.txt") if self.run_dir else None
        resumable = bool(self.run_dir and (self.run_dir / "checkpoints" / "last.pth").is_file())
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


PROBE_CODE = r"""
import json, sys
out = {"cuda": [], "torch": None, "bf16_cpu": False, "error": None}
try:
    import torch
    out["torch"] = torch.__version__
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            out["cuda"].append({"index": i, "name": p.name, "memory_gb": round(p.total_memory / 2**30, 1),
                                "bf16": bool(torch.cuda.is_bf16_supported())})
    try:
        out["bf16_cpu"] = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except Exception:
        pass
except Exception as exc:
    out["error"] = f"{type(exc).__name__}: {exc}"
print(json.dumps(out))
"""


class DeviceProbe(QObject):
    """Asks a short-lived `python -c` process which devices torch sees, so the GUI never imports torch.

    probed(dict): {"cuda": [{"index", "name", "memory_gb", "bf16"}], "torch": version, "bf16_cpu": bool,
                   "error": str|None}
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
        proc.setArguments(["-c", PROBE_CODE])
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
