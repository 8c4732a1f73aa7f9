"""Qt-free reader of run folders and evaluation folders (see docs/architecture.md, "Run folder").

Used by the GUI (runs list, curves, inspection) and by the report. Nothing here writes to a run folder.

    run = RunFolder("runs/quick-1")
    run.status          # "running" | "finished" | "stopped" | "failed"
    run.headline()      # one dict per row of a runs list
    read_eval(run.path) # per-sample arrays of the test evaluation (samples.npz + metrics.json + results.csv)

Missing optional files give empty results (no losses yet, no metrics yet); files that exist but cannot be read raise
a :class:`trainer.errors.CrackError` subclass whose message names the file and the problem.
"""
from __future__ import annotations

import csv
import json
import math
import os
import re
import time
import tomllib
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from trainer.errors import ConfigError, DataError

TERMINAL = ("finished", "error")
STATUSES = ("running", "finished", "stopped", "failed")
_EVENT_NAME = re.compile(rb'"event"\s*:\s*"([A-Za-z_]+)"')


def pid_alive(pid: Any) -> bool:
    """True when a process with this pid exists on this machine and is not a zombie."""
    try:
        pid = int(pid)
    except (TypeError, ValueError):
        return False
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        pass
    except OSError:
        return False
    # A killed child that its parent has not reaped yet still answers kill(0): look at its state.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        state = stat[stat.rindex(")") + 2:].split()[0]
        if state in ("Z", "X"):
            return False
    except (OSError, ValueError, IndexError):
        pass
    return True


def _to_float(value: str) -> float:
    v = value.strip()
    if v == "" or v.lower() in ("none", "null", "nan", "undefined"):
        return math.nan
    low = v.lower()
    if low in ("true", "yes"):
        return 1.0
    if low in ("false", "no"):
        return 0.0
    return float(v)


def _read_text(path: Path) -> str | None:
    """The file's text, or None when it does not exist; unreadable -> DataError naming the file."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read: {exc}", path) from None


def read_numeric_csv(path: Path) -> list[dict[str, float]]:
    """Rows of a CSV whose cells are all numbers, as floats (empty / None / nan cells -> NaN, True/False -> 1/0).

    A missing file gives []. A truncated last line (a writer in the middle of a row) is dropped.
    """
    path = Path(path)
    text = _read_text(path)
    if text is None:
        return []
    complete = text.endswith("\n")
    lines = text.splitlines()
    if not lines:
        return []
    reader = csv.DictReader(lines)
    if not reader.fieldnames:
        return []
    rows: list[dict[str, float]] = []
    data_lines = len(lines) - 1
    for i, raw in enumerate(reader, start=2):
        last = i - 1 == data_lines
        if None in raw or any(v is None for v in raw.values()):
            if last and not complete:
                break  # partial last row
            raise DataError(f"line {i}: expected {len(reader.fieldnames)} columns", path)
        try:
            rows.append({k: _to_float(v) for k, v in raw.items()})
        except ValueError as exc:
            if last and not complete:
                break
            raise DataError(f"line {i}: not a number ({exc})", path) from None
    return rows


def _read_json(path: Path) -> dict | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read: {exc}", path) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"not valid JSON: {exc}", path) from None
    if not isinstance(data, dict):
        raise DataError("expected a JSON object", path)
    return data


def _parse_event_line(line: bytes) -> dict | None:
    try:
        rec = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if isinstance(rec, dict) and isinstance(rec.get("event"), str):
        return rec
    return None


class RunFolder:
    """A run folder (or a bare evaluation folder) on disk. Cheap to create; every accessor reads the files again,
    except the non-step events, which are read incrementally (only new bytes) so that polling a live run is cheap."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._meta: list[dict] = []
        self._meta_offset = 0
        self._meta_ident: tuple | None = None
        self.skipped_lines = 0  # unparseable complete lines in events.jsonl (e.g. a crash mid-line, then a resume)

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
        return self.path / "events.jsonl"

    @property
    def config_path(self) -> Path:
        return self.path / "config.toml"

    @property
    def log_path(self) -> Path:
        return self.path / "log.txt"

    def is_run(self) -> bool:
        """A training run (config.toml or events.jsonl), as opposed to a bare evaluation folder."""
        return self.config_path.is_file() or self.events_path.is_file()

    def is_eval(self) -> bool:
        return (self.path / "metrics.json").is_file() or (self.path / "samples.npz").is_file()

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
    def events(self, kinds: Iterable[str] | None = None) -> list[dict]:
        """Every event of events.jsonl in order (or only those named in `kinds`). A missing file gives [].

        Tolerant: a truncated last line (the writer is mid-line, or crashed) and any unparseable line are skipped;
        their count is in `self.skipped_lines`."""
        want = {k.encode() for k in kinds} if kinds is not None else None
        out: list[dict] = []
        skipped = 0
        lines, _, tail = self._read_event_lines(0)
        for line in lines:
            if want is not None:
                m = _EVENT_NAME.search(line)
                if m is None or m.group(1) not in want:
                    continue
            rec = _parse_event_line(line)
            if rec is None:
                skipped += 1
                continue
            out.append(rec)
        if tail:
            rec = _parse_event_line(tail)
            if rec is not None and (want is None or rec["event"].encode() in want):
                out.append(rec)
        if kinds is None:
            self.skipped_lines = skipped
        return out

    def _read_event_lines(self, offset: int) -> tuple[list[bytes], int, bytes]:
        """(complete lines from offset, offset after the last complete line, trailing partial line)."""
        p = self.events_path
        try:
            with open(p, "rb") as fh:
                fh.seek(offset)
                data = fh.read()
        except FileNotFoundError:
            return [], offset, b""
        except OSError as exc:
            raise DataError(f"cannot read: {exc}", p) from None
        cut = data.rfind(b"\n") + 1
        lines = [ln for ln in data[:cut].split(b"\n") if ln.strip()]
        return lines, offset + cut, data[cut:]

    def meta_events(self) -> list[dict]:
        """All events except `step` (which can be hundreds of thousands), read incrementally: only bytes appended
        since the previous call are parsed. Includes a complete-but-unterminated last line."""
        p = self.events_path
        try:
            st = p.stat()
            ident = (st.st_ino, st.st_dev)
        except FileNotFoundError:
            self._meta, self._meta_offset, self._meta_ident = [], 0, None
            return []
        if ident != self._meta_ident or st.st_size < self._meta_offset:
            self._meta, self._meta_offset, self._meta_ident = [], 0, ident
        lines, self._meta_offset, tail = self._read_event_lines(self._meta_offset)
        for line in lines:
            m = _EVENT_NAME.search(line)
            if m is not None and m.group(1) == b"step":
                continue
            rec = _parse_event_line(line)
            if rec is not None:
                self._meta.append(rec)
        out = list(self._meta)
        if tail:
            rec = _parse_event_line(tail)
            if rec is not None and rec["event"] != "step":
                out.append(rec)
        return out

    def read_events_since(self, offset: int) -> tuple[list[dict], int]:
        """Events in complete lines appended after byte `offset`, and the new offset (for tailing a live run)."""
        lines, new_offset, _ = self._read_event_lines(offset)
        return [r for r in map(_parse_event_line, lines) if r is not None], new_offset

    def run_started(self) -> dict | None:
        """The last `run_started` event (a resume appends a new one), or None."""
        for ev in reversed(self.meta_events()):
            if ev["event"] == "run_started":
                return ev
        return None

    def _session(self) -> tuple[dict | None, dict | None]:
        """(last run_started, terminal event that follows it or None)."""
        evs = self.meta_events()
        start_i = max((i for i, e in enumerate(evs) if e["event"] == "run_started"), default=-1)
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
            if terminal["event"] == "error":
                return "failed"
            return "stopped" if terminal.get("status") == "stopped" else "finished"
        if started is None:
            if not self.events_path.is_file() and (self.path / "metrics.json").is_file():
                return "finished"
            # config.toml written, worker not started yet (or never): running only while its launcher says so
            return "failed"
        return "running" if pid_alive(started.get("pid")) else "failed"

    @property
    def error(self) -> str | None:
        """Why the run failed: the last `error` event's message (with its file), or the interruption."""
        started, terminal = self._session()
        if terminal is not None:
            if terminal["event"] != "error":
                return None
            msg = str(terminal.get("message") or "unknown error")
            f = terminal.get("file")
            return f"{msg} ({f})" if f and str(f) not in msg else msg
        if started is None:
            if not self.events_path.is_file() and (self.path / "metrics.json").is_file():
                return None
            return "the run never started (no run_started event in events.jsonl)"
        if pid_alive(started.get("pid")):
            return None
        pid = started.get("pid")
        return (f"interrupted: the training process (pid {pid}) ended without a final event; "
                "resume from the last checkpoint")

    @property
    def interrupted(self) -> bool:
        started, terminal = self._session()
        return started is not None and terminal is None and not pid_alive(started.get("pid"))

    # ---------------------------------------------------------------- tables
    def losses(self) -> list[dict[str, float]]:
        """losses.csv rows (epoch, loss_seg, loss_dec, loss, correct, total, lambda_seg, lambda_dec, seconds)."""
        return read_numeric_csv(self.path / "losses.csv")

    def validation(self) -> list[dict[str, float]]:
        """validation.csv rows (epoch, auc, ap, ..., is_best); undefined values are NaN."""
        return read_numeric_csv(self.path / "validation.csv")

    def metrics(self) -> dict | None:
        """metrics.json of the evaluation in this folder, or None when there is none (yet)."""
        return _read_json(self.path / "metrics.json")

    def thresholds(self) -> dict | None:
        """thresholds.json (thresholds chosen in the GUI), or None."""
        return _read_json(self.path / "thresholds.json")

    def evaluations(self) -> list[Path]:
        """Evaluation folders: this folder when it holds metrics.json, then every evals/<name>/ with metrics.json
        or samples.npz."""
        out = []
        if (self.path / "metrics.json").is_file():
            out.append(self.path)
        evals = self.path / "evals"
        if evals.is_dir():
            for d in sorted(evals.iterdir()):
                if d.is_dir() and ((d / "metrics.json").is_file() or (d / "samples.npz").is_file()):
                    out.append(d)
        return out

    def last_checkpoint(self) -> Path | None:
        """checkpoints/last.pth (what Resume starts from), or None."""
        p = self.path / "checkpoints" / "last.pth"
        return p if p.is_file() else None

    def checkpoint(self, kind: str = "best") -> Path | None:
        """checkpoints/<kind>.pth for kind in best/final/last, or None."""
        p = self.path / "checkpoints" / f"{kind}.pth"
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
            if e["event"] == "epoch" and e.get("epoch") is not None:
                done = max(done, int(e["epoch"]))
            elif e["event"] == "finished" and e.get("epochs_done") is not None:
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
        for p in (self.config_path, self.path / "metrics.json"):
            if p.exists():
                return p.stat().st_mtime
        return None

    def headline(self) -> dict[str, Any]:
        """One row for a runs list. Never raises: problems go into "problem".

        Keys: name, path, status, error, epochs_done, epochs_total, best_val_ap, best_epoch, test_auc, test_ap,
        test_f, dice_mean, started (unix time), problem."""
        h: dict[str, Any] = {"name": self.name, "path": str(self.path), "status": "failed", "error": None,
                             "epochs_done": 0, "epochs_total": None, "best_val_ap": None, "best_epoch": None,
                             "test_auc": None, "test_ap": None, "test_f": None, "dice_mean": None,
                             "started": None, "problem": None}
        problems = []
        try:
            h["status"] = self.status
            h["error"] = self.error
            h["epochs_done"] = self.epochs_done()
            h["started"] = self.started_time()
        except Exception as exc:  # noqa: BLE001 - a runs list must show every folder
            problems.append(str(exc))
        try:
            ep = self.config_or_empty().get("epochs")
            if ep is None:
                started = self.run_started()
                ep = (started or {}).get("config", {}).get("epochs")
            h["epochs_total"] = int(ep) if ep is not None else None
        except Exception as exc:  # noqa: BLE001
            problems.append(str(exc))
        try:
            best = None
            for r in self.validation():
                ap = r.get("ap", math.nan)
                if not math.isnan(ap) and (best is None or ap > best[0]):
                    best = (ap, r.get("epoch"))
            if best is None:
                for e in self.meta_events():
                    if e["event"] == "validation" and isinstance(e.get("ap"), (int, float)):
                        if best is None or e["ap"] > best[0]:
                            best = (float(e["ap"]), e.get("epoch"))
            if best is not None:
                h["best_val_ap"] = best[0]
                h["best_epoch"] = int(best[1]) if best[1] is not None and not math.isnan(best[1]) else None
        except Exception as exc:  # noqa: BLE001
            problems.append(str(exc))
        try:
            m = self.metrics()
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

    def is_run(d: Path) -> bool:
        return (d / "config.toml").is_file() or (d / "events.jsonl").is_file()

    if is_run(root):
        found.append(RunFolder(root))
    else:
        for d1 in _subdirs(root):
            if is_run(d1):
                found.append(RunFolder(d1))
                continue
            for d2 in _subdirs(d1):
                if is_run(d2):
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


def read_results(path: str | Path) -> list[dict[str, Any]]:
    """results.csv rows: name (str), label/decision/segmented (int), score/dice/iou/... (float)."""
    path = Path(path)
    text = _read_text(path)
    if text is None:
        return []
    rows = []
    reader = csv.DictReader(text.splitlines())
    if not reader.fieldnames or "name" not in reader.fieldnames:
        raise DataError("no 'name' column (expected name,label,score,decision,dice,iou)", path)
    for i, raw in enumerate(reader, start=2):
        row: dict[str, Any] = {}
        for k, v in raw.items():
            if k is None or v is None:
                raise DataError(f"line {i}: wrong number of columns", path)
            if k == "name":
                row[k] = v
                continue
            try:
                f = _to_float(v)
            except ValueError:
                row[k] = v
                continue
            row[k] = int(f) if k in ("label", "decision", "segmented", "gt_pixels", "pred_pixels") \
                and not math.isnan(f) else f
        rows.append(row)
    return rows


def read_eval(eval_dir: str | Path) -> dict[str, Any]:
    """Everything an evaluation folder holds, except the probability maps.

    Returns {"dir", "names" (list[str]), "labels" (int8 [N]), "scores" (float32 [N]), "segmented" (bool [N]),
    "hist_pos", "hist_neg" (uint32 [N, B]), "bins" (B), "metrics" (dict, {} if missing), "results" (list of
    dicts from results.csv, [] if missing), "split"}. DataError (naming the file) when samples.npz is missing or
    inconsistent."""
    d = Path(eval_dir)
    npz_path = d / "samples.npz"
    if not npz_path.is_file():
        raise DataError("samples.npz not found: not an evaluation folder (run crack-train eval first)", npz_path)
    try:
        with np.load(npz_path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as exc:  # noqa: BLE001 - zip/format errors come in many types
        raise DataError(f"cannot read: {exc}", npz_path) from None
    missing = [k for k in ("names", "labels", "scores", "hist_pos", "hist_neg") if k not in arrays]
    if missing:
        raise DataError(f"missing arrays: {', '.join(missing)}", npz_path)
    names = [str(n) for n in arrays["names"].tolist()]
    n = len(names)
    hp, hn = arrays["hist_pos"], arrays["hist_neg"]
    if hp.ndim != 2 or hp.shape != hn.shape or hp.shape[0] != n:
        raise DataError(f"hist_pos {hp.shape} / hist_neg {hn.shape} do not match {n} names", npz_path)
    for k in ("labels", "scores"):
        if arrays[k].shape != (n,):
            raise DataError(f"{k} has shape {arrays[k].shape}, expected ({n},)", npz_path)
    segmented = arrays.get("segmented")
    if segmented is None or segmented.shape != (n,):
        segmented = np.asarray(arrays["labels"]) > 0
    metrics = _read_json(d / "metrics.json") or {}
    return {
        "dir": d,
        "names": names,
        "labels": np.asarray(arrays["labels"]).astype(np.int8),
        "scores": np.asarray(arrays["scores"]).astype(np.float32),
        "segmented": np.asarray(segmented).astype(bool),
        "hist_pos": hp.astype(np.uint32, copy=False),
        "hist_neg": hn.astype(np.uint32, copy=False),
        "bins": int(hp.shape[1]),
        "metrics": metrics,
        "results": read_results(d / "results.csv"),
        "split": metrics.get("split"),
    }


def wait_for_status(run: RunFolder, statuses: Iterable[str], timeout: float = 10.0, poll: float = 0.05) -> str:
    """Poll until run.status is one of `statuses` (tests and scripts); returns the last status seen."""
    want = set(statuses)
    end = time.monotonic() + timeout
    st = run.status
    while st not in want and time.monotonic() < end:
        time.sleep(poll)
        st = run.status
    return st
