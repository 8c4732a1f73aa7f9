"""Finding and loading evaluation folders for the Inspect tab (Qt-free): which run an evaluation belongs to, the
evaluations of a run, and an Evaluation (its samples.npz histograms, results and metrics)."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from trainer.metrics import pixels as metrics_pixels
from trainer.errors import DataError
from trainer.runs.folder import RunFolder
from trainer.runs.evaluation import read_eval

_NUM = re.compile(r"(\d+)")


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"cannot read JSON ({exc})", path) from None
    return data if isinstance(data, dict) else None


def find_run_dir(eval_dir: Path) -> Path | None:
    """The run folder an evaluation folder belongs to: itself (test evaluation written after training),
    ``RUN/evals/<split>``'s RUN, or ``source.json``'s ``run`` (``crack-train eval --out DIR``)."""
    eval_dir = Path(eval_dir)
    if (eval_dir / "config.toml").is_file() or (eval_dir / "events.jsonl").is_file():
        return eval_dir
    if eval_dir.parent.name == "evals" and ((eval_dir.parent.parent / "config.toml").is_file()
                                          or (eval_dir.parent.parent / "events.jsonl").is_file()):
        return eval_dir.parent.parent
    src = _read_json(eval_dir / "source.json") if (eval_dir / "source.json").is_file() else None
    if src and src.get("run") and Path(src["run"]).is_dir():
        return Path(src["run"])
    return None


@dataclass
class Evaluation:
    """One evaluation folder in memory (everything except the probability maps)."""

    dir: Path
    names: list[str]
    labels: np.ndarray            # int8 [N]
    scores: np.ndarray            # float32 [N]
    segmented: np.ndarray         # bool [N]
    hist_pos: np.ndarray          # uint32 [N, B]
    hist_neg: np.ndarray          # uint32 [N, B]
    metrics: dict = field(default_factory=dict)
    results: list = field(default_factory=list)
    split: str | None = None
    run_dir: Path | None = None
    data_path: Path | None = None
    config: dict = field(default_factory=dict)
    saved_thresholds: dict | None = None     # thresholds.json of the run, if any

    @property
    def n(self) -> int:
        return len(self.names)

    @property
    def title(self) -> str:
        run = self.run_dir.name if self.run_dir is not None else self.dir.name
        return f"{run} · {self.split or 'split?'}"

    @classmethod
    def load(cls, eval_dir: str | Path) -> "Evaluation":
        """Read an evaluation folder (``samples.npz`` + ``metrics.json`` + ``results.csv``) and find its run and
        dataset. :class:`DataError` naming the file when ``samples.npz`` is missing or inconsistent."""

        d = Path(eval_dir)
        ev = read_eval(d)
        if ev["bins"] != metrics_pixels.B:
            raise DataError(f"histograms have {ev['bins']} bins, this version reads {metrics_pixels.B}", d / "samples.npz")
        run_dir = find_run_dir(d)
        config: dict = {}
        data_path = None
        saved = None
        src = _read_json(d / "source.json") if (d / "source.json").is_file() else None
        if src and src.get("data"):
            data_path = Path(src["data"])
        if run_dir is not None:
            rf = RunFolder(run_dir)
            config = rf.config_or_empty()
            if data_path is None:
                data_path = rf.data_path
            try:
                saved = rf.thresholds()
            except DataError:
                saved = None
        metrics = ev["metrics"] or {}
        if data_path is None and metrics.get("data"):
            data_path = Path(metrics["data"])
        return cls(dir=d, names=list(ev["names"]), labels=ev["labels"], scores=ev["scores"],
                   segmented=ev["segmented"], hist_pos=ev["hist_pos"], hist_neg=ev["hist_neg"], metrics=metrics,
                   results=ev["results"], split=ev["split"] or metrics.get("split"), run_dir=run_dir,
                   data_path=data_path, config=config, saved_thresholds=saved)

    @classmethod
    def from_arrays(cls, names, labels, scores, hist_pos, hist_neg, segmented=None, metrics=None,
                    directory: str | Path = ".") -> "Evaluation":
        """An in-memory evaluation (benchmarks, tests)."""
        labels = np.asarray(labels).astype(np.int8)
        seg = np.asarray(segmented).astype(bool) if segmented is not None else labels > 0
        return cls(dir=Path(directory), names=[str(n) for n in names], labels=labels,
                   scores=np.asarray(scores, np.float32), segmented=seg, hist_pos=np.asarray(hist_pos),
                   hist_neg=np.asarray(hist_neg), metrics=dict(metrics or {}))


def evaluations_of(run_dir: str | Path) -> list[Path]:
    """Evaluation folders of a run (the test evaluation in the run folder first, then ``evals/*``)."""
    return RunFolder(run_dir).evaluations()


def natural_key(s: str):
    return [int(t) if t.isdigit() else t.lower() for t in _NUM.split(s)]
