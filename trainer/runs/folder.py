"""Run folders on disk: RunFolder (status, config, events, curves, checkpoints, evaluations), find_runs.

Qt-free and read-only: nothing here writes to a run folder. Used by the GUI (runs list, curves, inspection) and by
the report::

    run = RunFolder("runs/quick-1")
    run.status          # "running" | "finished" | "stopped" | "failed"
    run.headline()      # one dict per row of a runs list

Missing optional files give empty results (no losses yet, no metrics yet); files that exist but cannot be read raise
a :class:`trainer.errors.CrackError` subclass whose message names the file and the problem.
"""
from __future__ import annotations

import math
import time
import tomllib
from pathlib import Path
from typing import Any, Iterable

from trainer.errors import ConfigError
from trainer.pids import pid_alive
from trainer.runs import paths
from trainer.runs.events import EPOCH, ERROR, FINISHED, RUN_STARTED, TERMINAL, VALIDATION, EventReader
from trainer.runs.files import read_json_object, read_numeric_csv

STATUSES = ("running", "finished", "stopped", "failed")


class RunFolder:
    """A run folder (or a bare evaluation folder) on disk. Cheap to create; every accessor reads the files again,
    except the non-step events, which are read incrementally (only new bytes) so that polling a live run is cheap."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._events = EventReader(self.path / paths.EVENTS)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RunFolder) and other.path.resolve() == self.path.resolve()

    def __hash__(self) -> int:
        return hash(self.path.resolve())

    @property
    def name(self) -> str:
        return self.path.name

    # ---------------------------------------------------------------- files
    @property
    def events_path(self) -> Path:
        return self.path / paths.EVENTS

    @property
    def config_path(self) -> Path:
        return self.path / paths.CONFIG

    @property
    def log_path(self) -> Path:
        return self.path / paths.LOG

    def is_run(self) -> bool:
        """A training run (config.toml or events.jsonl), as opposed to a bare evaluation folder."""
        return paths.is_run_dir(self.path)

    def is_eval(self) -> bool:
        return paths.is_eval_dir(self.path)

    # ---------------------------------------------------------------- config
    @property
    def config(self) -> dict[str, Any]:
        """config.toml as a dict (a `[train]` table is flattened). Falls back to the config of the last
        `run_started` event when config.toml is missing. ConfigError when neither exists or the TOML is bad."""
        p = self.config_path
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            started = self.run_started()
            if started and isinstance(started.get("config"), dict):
                return dict(started["config"])
            raise ConfigError("config.toml not found (not a run folder?)", p) from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"not a valid TOML file: {exc}", p) from None
        if isinstance(data.get("train"), dict):
            data = {**{k: v for k, v in data.items() if k != "train"}, **data["train"]}
        return data

    def config_or_empty(self) -> dict[str, Any]:
        try:
            return self.config
        except ConfigError:
            return {}

    # ---------------------------------------------------------------- events
    @property
    def skipped_lines(self) -> int:
        """Unparseable complete lines in events.jsonl (e.g. a crash mid-line, then a resume)."""
        return self._events.skipped_lines

    def events(self, kinds: Iterable[str] | None = None) -> list[dict]:
        """Every event of events.jsonl in order (or only those named in `kinds`); see :class:`EventReader`."""
        return self._events.events(kinds)

    def meta_events(self) -> list[dict]:
        """All events except `step`, read incrementally (see :meth:`EventReader.meta_events`)."""
        return self._events.meta_events()

    def read_events_since(self, offset: int) -> tuple[list[dict], int]:
        """Events in complete lines appended after byte `offset`, and the new offset (for tailing a live run)."""
        return self._events.read_since(offset)

    def run_started(self) -> dict | None:
        """The last `run_started` event (a resume appends a new one), or None."""
        for ev in reversed(self.meta_events()):
            if ev["event"] == RUN_STARTED:
                return ev
        return None

    def _session(self) -> tuple[dict | None, dict | None]:
        """(last run_started, terminal event that follows it or None)."""
        evs = self.meta_events()
        start_i = max((i for i, e in enumerate(evs) if e["event"] == RUN_STARTED), default=-1)
        started = evs[start_i] if start_i >= 0 else None
        terminal = None
        for e in evs[start_i + 1:]:
            if e["event"] in TERMINAL:
                terminal = e
        return started, terminal

    # ---------------------------------------------------------------- status
    @property
    def status(self) -> str:
        """finished / stopped (from the `finished` event), failed (`error` event, or the writer died without a
        terminal event: "interrupted"), running (no terminal event and the `run_started` pid is alive).
        A bare evaluation folder (metrics.json, no events) is "finished"."""
        started, terminal = self._session()
        if terminal is not None:
            if terminal["event"] == ERROR:
                return "failed"
            return "stopped" if terminal.get("status") == "stopped" else "finished"
        if started is None:
            if not self.events_path.is_file() and (self.path / paths.METRICS).is_file():
                return "finished"
            # config.toml written, worker not started yet (or never): running only while its launcher says so
            return "failed"
        return "running" if pid_alive(started.get("pid")) else "failed"

    @property
    def error(self) -> str | None:
        """Why the run failed: the last `error` event's message (with its file), or the interruption."""
        started, terminal = self._session()
        if terminal is not None:
            if terminal["event"] != ERROR:
                return None
            msg = str(terminal.get("message") or "unknown error")
            f = terminal.get("file")
            return f"{msg} ({f})" if f and str(f) not in msg else msg
        if started is None:
            if not self.events_path.is_file() and (self.path / paths.METRICS).is_file():
                return None
            return "the run never started (no run_started event in events.jsonl)"
        if pid_alive(started.get("pid")):
            return None
        pid = started.get("pid")
        if paths.checkpoint_path(self.path, "last").is_file():
            return (f"interrupted: the training process (pid {pid}) ended without a final event; "
                    "resume from the last checkpoint")
        return (f"interrupted: the training process (pid {pid}) ended before the first checkpoint; nothing to "
                "resume: start the run again")

    @property
    def interrupted(self) -> bool:
        started, terminal = self._session()
        return started is not None and terminal is None and not pid_alive(started.get("pid"))

    # ---------------------------------------------------------------- tables
    def losses(self) -> list[dict[str, float]]:
        """losses.csv rows (epoch, loss_seg, loss_dec, loss, correct, total, lambda_seg, lambda_dec, seconds)."""
        return read_numeric_csv(self.path / paths.LOSSES)

    def validation(self) -> list[dict[str, float]]:
        """validation.csv rows (epoch, auc, ap, ..., is_best); undefined values are NaN."""
        return read_numeric_csv(self.path / paths.VALIDATION)

    def metrics(self) -> dict | None:
        """metrics.json of the evaluation in this folder, or None when there is none (yet)."""
        return read_json_object(self.path / paths.METRICS)

    def thresholds(self) -> dict | None:
        """thresholds.json (thresholds chosen in the GUI), or None."""
        return read_json_object(self.path / paths.THRESHOLDS)

    def evaluations(self) -> list[Path]:
        """Evaluation folders: this folder when it holds metrics.json, then every evals/<name>/ with metrics.json
        or samples.npz."""
        out = []
        if (self.path / paths.METRICS).is_file():
            out.append(self.path)
        evals = self.path / paths.EVALS
        if evals.is_dir():
            for d in sorted(evals.iterdir()):
                if d.is_dir() and paths.is_eval_dir(d):
                    out.append(d)
        return out

    def last_checkpoint(self) -> Path | None:
        """checkpoints/last.pth (what Resume starts from), or None."""
        return self.checkpoint("last")

    def checkpoint(self, kind: str = "best") -> Path | None:
        """checkpoints/<kind>.pth for kind in best/final/last, or None."""
        p = paths.checkpoint_path(self.path, kind)
        return p if p.is_file() else None

    @property
    def data_path(self) -> Path | None:
        """The dataset this run trained on: `data` (or `data_path`) of the last run_started event, else of its
        config, else `data` in config.toml."""
        started = self.run_started()
        cands = []
        if started:
            cands += [started.get("data"), started.get("data_path")]
            if isinstance(started.get("config"), dict):
                cands.append(started["config"].get("data"))
        cands.append(self.config_or_empty().get("data"))
        for c in cands:
            if c:
                return Path(str(c))
        return None

    def counts(self) -> dict | None:
        """Dataset counts of the last run_started event: {split: {positives, negatives, segmented, weak}}."""
        started = self.run_started()
        c = started.get("counts") if started else None
        return c if isinstance(c, dict) else None

    def epochs_done(self) -> int:
        evs = self.meta_events()
        done = 0
        for e in evs:
            if e["event"] == EPOCH and e.get("epoch") is not None:
                done = max(done, int(e["epoch"]))
            elif e["event"] == FINISHED and e.get("epochs_done") is not None:
                done = max(done, int(e["epochs_done"]))
        if done == 0:
            rows = self.losses()
            if rows:
                done = int(max(r.get("epoch", 0) for r in rows))
        return done

    def started_time(self) -> float | None:
        started = self.run_started()
        if started and started.get("time"):
            return float(started["time"])
        evs = self.meta_events()
        if evs and evs[0].get("time"):
            return float(evs[0]["time"])
        for p in (self.config_path, self.path / paths.METRICS):
            if p.exists():
                return p.stat().st_mtime
        return None

    def headline(self) -> dict[str, Any]:
        """One row for a runs list (see :func:`headline`). Never raises."""
        return headline(self)


def headline(run: RunFolder) -> dict[str, Any]:
    """One row for a runs list of ``run``. Never raises: problems go into "problem".

    Keys: name, path, status, error, epochs_done, epochs_total, best_val_ap, best_epoch, test_auc, test_ap,
    test_f, dice_mean, started (unix time), problem."""
    h: dict[str, Any] = {"name": run.name, "path": str(run.path), "status": "failed", "error": None,
                         "epochs_done": 0, "epochs_total": None, "best_val_ap": None, "best_epoch": None,
                         "test_auc": None, "test_ap": None, "test_f": None, "dice_mean": None,
                         "started": None, "problem": None}
    problems = []
    try:
        h["status"] = run.status
        h["error"] = run.error
        h["epochs_done"] = run.epochs_done()
        h["started"] = run.started_time()
    except Exception as exc:  # noqa: BLE001 - a runs list must show every folder
        problems.append(str(exc))
    try:
        ep = run.config_or_empty().get("epochs")
        if ep is None:
            started = run.run_started()
            ep = (started or {}).get("config", {}).get("epochs")
        h["epochs_total"] = int(ep) if ep is not None else None
    except Exception as exc:  # noqa: BLE001
        problems.append(str(exc))
    try:
        best = None
        for r in run.validation():
            ap = r.get("ap", math.nan)
            if not math.isnan(ap) and (best is None or ap > best[0]):
                best = (ap, r.get("epoch"))
        if best is None:
            for e in run.meta_events():
                if e["event"] == VALIDATION and isinstance(e.get("ap"), (int, float)):
                    if best is None or e["ap"] > best[0]:
                        best = (float(e["ap"]), e.get("epoch"))
        if best is not None:
            h["best_val_ap"] = best[0]
            h["best_epoch"] = int(best[1]) if best[1] is not None and not math.isnan(best[1]) else None
    except Exception as exc:  # noqa: BLE001
        problems.append(str(exc))
    try:
        m = run.metrics()
        if m:
            h["test_auc"], h["test_ap"] = m.get("auc"), m.get("ap")
            h["test_f"], h["dice_mean"] = m.get("f_measure"), m.get("dice_mean")
    except Exception as exc:  # noqa: BLE001
        problems.append(str(exc))
    h["problem"] = "; ".join(problems) or None
    return h


def find_runs(workspace: str | Path) -> list[RunFolder]:
    """Run folders (config.toml or events.jsonl) under `workspace`, one or two levels down (and the workspace
    itself if it is one). Does not descend into a run (its evals/ are evaluations, not runs). Newest first."""
    root = Path(workspace)
    if not root.is_dir():
        return []
    found: list[RunFolder] = []

    if paths.is_run_dir(root):
        found.append(RunFolder(root))
    else:
        for d1 in _subdirs(root):
            if paths.is_run_dir(d1):
                found.append(RunFolder(d1))
                continue
            for d2 in _subdirs(d1):
                if paths.is_run_dir(d2):
                    found.append(RunFolder(d2))

    def key(r: RunFolder) -> float:
        for p in (r.events_path, r.config_path):
            try:
                return p.stat().st_mtime
            except OSError:
                continue
        return 0.0

    found.sort(key=lambda r: (-key(r), str(r.path)))
    return found


def _subdirs(d: Path) -> list[Path]:
    try:
        return sorted(p for p in d.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return []
