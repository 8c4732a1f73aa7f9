"""The data behind the live training curves (Qt-free): bounded series fed by trainer events, and a run's events read
back from its folder.

Speed: every series holds at most `MAX_POINTS` points; when full, neighbouring points are averaged pairwise and new
points are averaged in groups of the same size, so memory and draw cost stay bounded however long the run.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from trainer.runs import events as ev_names
from trainer.runs.folder import RunFolder

MAX_POINTS = 4000
ALL_GROUPS = ("step", "epoch", "val", "lam")
LOSS_KEYS = ("loss_seg", "loss_dec", "loss")
VAL_KEYS = ("ap", "auc", "dice_mean", "dice_std", "iou_mean")
LAMBDA_KEYS = ("lambda_seg", "lambda_dec")


class Series:
    """An (x, y) series with bounded size: pairwise averaging when full, then averaging new points in groups."""

    def __init__(self, cap: int = MAX_POINTS):
        self.cap = cap
        self.x = np.empty(cap, dtype=np.float64)
        self.y = np.empty(cap, dtype=np.float64)
        self.n = 0
        self.group = 1          # raw points per stored point
        self._acc_x = 0.0
        self._acc_y = 0.0
        self._acc_n = 0
        self.total = 0          # raw points ever appended

    def __len__(self) -> int:
        return self.n + (1 if self._acc_n else 0)

    def append(self, x: float, y: float) -> None:
        if y is None or not math.isfinite(y):
            return
        self.total += 1
        self._acc_x += x
        self._acc_y += y
        self._acc_n += 1
        if self._acc_n < self.group:
            return
        if self.n == self.cap:
            half = self.cap // 2
            self.x[:half] = 0.5 * (self.x[0:2 * half:2] + self.x[1:2 * half:2])
            self.y[:half] = 0.5 * (self.y[0:2 * half:2] + self.y[1:2 * half:2])
            self.n = half
            self.group *= 2
        self.x[self.n] = self._acc_x / self._acc_n
        self.y[self.n] = self._acc_y / self._acc_n
        self.n += 1
        self._acc_x = self._acc_y = 0.0
        self._acc_n = 0

    def data(self) -> tuple[np.ndarray, np.ndarray]:
        if self._acc_n:  # show the partial group too
            x = np.append(self.x[:self.n], self._acc_x / self._acc_n)
            y = np.append(self.y[:self.n], self._acc_y / self._acc_n)
            return x, y
        return self.x[:self.n], self.y[:self.n]

    def truncate_after(self, x_max: float) -> None:
        """Drop points with x > x_max (a resumed run replays what came after its checkpoint)."""
        keep = int(np.searchsorted(self.x[:self.n], x_max, side="right"))
        self.n = keep
        self._acc_x = self._acc_y = 0.0
        self._acc_n = 0

    def clear(self) -> None:
        self.n = 0
        self.group = 1
        self.total = 0
        self._acc_x = self._acc_y = 0.0
        self._acc_n = 0


class EpochSeries:
    """A per-epoch value: a dict epoch -> value (a resumed epoch overwrites the old value)."""

    def __init__(self):
        self.values: dict[int, float] = {}

    def set(self, epoch: int, value) -> None:
        if value is None:
            return
        try:
            v = float(value)
        except (TypeError, ValueError):
            return
        if math.isfinite(v):
            self.values[int(epoch)] = v

    def data(self) -> tuple[np.ndarray, np.ndarray]:
        if not self.values:
            return np.empty(0), np.empty(0)
        ks = sorted(self.values)
        return np.asarray(ks, dtype=np.float64), np.asarray([self.values[k] for k in ks], dtype=np.float64)

    def truncate_after(self, epoch: int) -> None:
        self.values = {k: v for k, v in self.values.items() if k <= epoch}

    def clear(self) -> None:
        self.values.clear()


def ema(values: np.ndarray, factor: float) -> np.ndarray:
    """TensorBoard-style debiased exponential moving average (factor 0 = no smoothing)."""
    if factor <= 0 or len(values) == 0:
        return np.asarray(values, dtype=np.float64)
    out = np.empty(len(values), dtype=np.float64)
    acc = 0.0
    w = 0.0
    for i, v in enumerate(values):
        acc = acc * factor + (1 - factor) * v
        w = w * factor + (1 - factor)
        out[i] = acc / w
    return out


def planned_lambda(cfg: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(epochs, seg weight 1-λ, decision weight δ·λ) planned by a config; empty arrays when epochs is unknown."""
    E = int(cfg.get("epochs") or 0)
    if E <= 0:
        return np.empty(0), np.empty(0), np.empty(0)
    delta = float(cfg.get("delta_cls_loss", 0.01))
    e = np.arange(1, E + 1, dtype=np.float64)
    if cfg.get("dyn_balanced_loss", True):
        lam = (e - 1) / E
        return e, 1 - lam, delta * lam
    return e, np.ones_like(e), np.full_like(e, delta)


class TrainingCurves:
    """Every curve of a run, fed with trainer events (add_event); `dirty` names the plot groups that changed."""

    def __init__(self):
        self.step_raw = {k: Series() for k in LOSS_KEYS}
        self.step_smooth = {k: Series() for k in LOSS_KEYS}
        self.epoch_loss = {k: EpochSeries() for k in LOSS_KEYS}
        self.val = {k: EpochSeries() for k in VAL_KEYS}
        self.lam = {k: EpochSeries() for k in LAMBDA_KEYS}
        self.smoothing = 0.6
        self._ema_state = {k: [0.0, 0.0] for k in LOSS_KEYS}
        self._last_step: dict[int, tuple[int, dict]] = {}
        self.epochs_planned: int | None = None
        self.config: dict = {}
        self.dirty: set[str] = set()

    def reset(self) -> None:
        for s in list(self.step_raw.values()) + list(self.step_smooth.values()):
            s.clear()
        for d in (self.epoch_loss, self.val, self.lam):
            for s in d.values():
                s.clear()
        self._ema_state = {k: [0.0, 0.0] for k in LOSS_KEYS}
        self._last_step.clear()
        self.epochs_planned = None
        self.config = {}
        self.dirty.update(ALL_GROUPS)

    def set_config(self, cfg: dict) -> None:
        self.config = dict(cfg)
        if cfg.get("epochs"):
            self.epochs_planned = int(cfg["epochs"])
        self.dirty.update(ALL_GROUPS)

    def add_event(self, ev: dict) -> None:
        kind = ev.get("event")
        if kind == ev_names.STEP:
            self._on_step(ev)
        elif kind == ev_names.EPOCH:
            e = int(ev.get("epoch", 0))
            for k in self.epoch_loss:
                self.epoch_loss[k].set(e, ev.get(k))
            for k in self.lam:
                self.lam[k].set(e, ev.get(k))
            if ev.get("epochs") and not self.epochs_planned:
                self.epochs_planned = int(ev["epochs"])
            self.dirty.update(("epoch", "lam"))
        elif kind == ev_names.VALIDATION:
            e = int(ev.get("epoch", 0))
            for k in self.val:
                self.val[k].set(e, ev.get(k))
            self.dirty.add("val")
        elif kind == ev_names.RUN_STARTED:
            self.set_config(ev.get("config") or {})
            self._truncate_after(int(ev.get("resumed_from_epoch") or 0))

    def set_smoothing(self, factor: float) -> None:
        """Recompute the smoothed step curves with a new EMA factor."""
        self.smoothing = factor
        for key, raw in self.step_raw.items():
            x, y = raw.data()
            sm = ema(y, factor)
            series = self.step_smooth[key]
            series.clear()
            series.group = raw.group
            n = len(x)
            series.x[:n] = x
            series.y[:n] = sm
            series.n = n
            self._ema_state[key] = [float(sm[-1]) if n else 0.0, 1.0 if n else 0.0]   # continue the EMA
        self.dirty.update(ALL_GROUPS)

    def _on_step(self, ev: dict) -> None:
        try:
            epoch = int(ev["epoch"])
            step = int(ev["step"])
            steps = max(1, int(ev.get("steps") or 1))
        except (KeyError, TypeError, ValueError):
            return
        if ev.get("epochs") and not self.epochs_planned:
            self.epochs_planned = int(ev["epochs"])
        x = epoch - 1 + step / steps
        prev = self._last_step.get(epoch)
        for key in self.step_raw:
            m = ev.get(key)
            if m is None:
                continue
            m = float(m)
            # the event carries the running mean over the epoch so far: recover the mean of this interval
            if prev is not None and prev[0] < step and prev[1].get(key) is not None:
                s0, m0 = prev[0], float(prev[1][key])
                val = (step * m - s0 * m0) / (step - s0)
            else:
                val = m
            if not math.isfinite(val):
                continue
            self.step_raw[key].append(x, val)
            st = self._ema_state[key]
            f = self.smoothing
            st[0] = st[0] * f + (1 - f) * val
            st[1] = st[1] * f + (1 - f)
            self.step_smooth[key].append(x, st[0] / st[1])
        self._last_step = {epoch: (step, ev)}
        self.dirty.add("step")

    def _truncate_after(self, epoch: int) -> None:
        for s in list(self.step_raw.values()) + list(self.step_smooth.values()):
            s.truncate_after(float(epoch))
        for d in (self.epoch_loss, self.val, self.lam):
            for s in d.values():
                s.truncate_after(epoch)
        self._last_step.clear()
        self.dirty.update(ALL_GROUPS)


def read_run_events(run_dir: str | Path) -> list[dict]:
    """A run's events (events.jsonl through RunFolder), else rebuilt from its losses.csv and validation.csv."""
    rf = RunFolder(run_dir)
    try:
        events = rf.events()
    except OSError:
        events = []
    if events:
        return list(events)
    rebuilt = []
    for name, rows in ((ev_names.EPOCH, rf.losses()), (ev_names.VALIDATION, rf.validation())):
        for row in rows:
            if row.get("epoch") is not None and math.isfinite(row["epoch"]):
                vals = {k: (v if isinstance(v, float) and math.isfinite(v) else None) for k, v in row.items()}
                rebuilt.append({**vals, "event": name, "epoch": int(row["epoch"])})
    return rebuilt
