"""Loading evaluation folders for the Inspect tab (Qt-free): an Evaluation (its samples.npz histograms, the crack
metrics' arrays, results and metrics), with its run and dataset found by
:func:`trainer.runs.evaluation.find_eval_sources`."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from trainer.errors import CrackError, DataError
from trainer.metrics import crack_record
from trainer.metrics import pixels as metrics_pixels
from trainer.runs import paths
from trainer.runs.evaluation import find_eval_sources, read_eval
from trainer.runs.folder import RunFolder

_NUM = re.compile(r"(\d+)")
CRACK_KEYS = crack_record.SAMPLES_KEYS + (crack_record.SAMPLES_KEY_UNCERTAINTY,)


@dataclass
class Evaluation:
    """One evaluation folder in memory (everything except the probability and uncertainty maps)."""

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
    crack: dict = field(default_factory=dict)     # samples.npz's crack arrays (crack_record.SAMPLES_KEYS, ...)
    on_disk: bool = False                         # a real folder (thresholds and maps are read from it)

    @property
    def n(self) -> int:
        return len(self.names)

    @property
    def title(self) -> str:
        run = self.run_dir.name if self.run_dir is not None else self.dir.name
        return f"{run} · {self.split or 'split?'}"

    def samples_dict(self) -> dict:
        """The ``samples.npz``-like dict :class:`trainer.metrics.crack_record.CrackView` reads."""
        return dict(hist_pos=self.hist_pos, hist_neg=self.hist_neg, labels=self.labels, scores=self.scores,
                    **self.crack)

    @property
    def has_crack_metrics(self) -> bool:
        return all(k in self.crack for k in crack_record.SAMPLES_KEYS[:2])

    @classmethod
    def load(cls, eval_dir: str | Path) -> "Evaluation":
        """Read an evaluation folder (``samples.npz`` + ``metrics.json`` + ``results.csv``) and find its run and
        dataset. :class:`DataError` naming the file when ``samples.npz`` is missing or inconsistent."""
        d = Path(eval_dir)
        ev = read_eval(d)
        if ev["bins"] != metrics_pixels.B:
            raise DataError(f"histograms have {ev['bins']} bins, this version reads {metrics_pixels.B}",
                            d / paths.SAMPLES)
        crack = read_crack_arrays(d, len(ev["names"]))
        try:
            run, data_path, _ = find_eval_sources(d)
        except CrackError:
            run, data_path = None, None
        config = run.config_or_empty() if run is not None else {}
        metrics = ev["metrics"] or {}
        if data_path is None and metrics.get("data"):
            data_path = Path(metrics["data"])
        return cls(dir=d, names=list(ev["names"]), labels=ev["labels"], scores=ev["scores"],
                   segmented=ev["segmented"], hist_pos=ev["hist_pos"], hist_neg=ev["hist_neg"], metrics=metrics,
                   results=ev["results"], split=ev["split"] or metrics.get("split"),
                   run_dir=None if run is None else Path(run.path), data_path=data_path, config=config,
                   crack=crack, on_disk=True)

    @classmethod
    def from_arrays(cls, names, labels, scores, hist_pos, hist_neg, segmented=None, metrics=None,
                    directory: str | Path = ".", crack: dict | None = None) -> "Evaluation":
        """An in-memory evaluation (benchmarks, tests)."""
        labels = np.asarray(labels).astype(np.int8)
        seg = np.asarray(segmented).astype(bool) if segmented is not None else labels > 0
        return cls(dir=Path(directory), names=[str(n) for n in names], labels=labels,
                   scores=np.asarray(scores, np.float32), segmented=seg, hist_pos=np.asarray(hist_pos),
                   hist_neg=np.asarray(hist_neg), metrics=dict(metrics or {}), crack=dict(crack or {}))


def read_crack_arrays(eval_dir: Path, n: int) -> dict:
    """The crack metrics' arrays of ``samples.npz`` (only those members are decompressed); {} for an evaluation made
    before they existed. A present but malformed array raises DataError naming the file."""
    p = Path(eval_dir) / paths.SAMPLES
    with np.load(p, allow_pickle=False) as z:
        out = {k: z[k] for k in CRACK_KEYS if k in z.files}
        if not out:
            return {}
    # check_samples only needs hist_pos's shape: a zero-strided stand-in
    crack_record.check_samples({**out, "hist_pos": np.broadcast_to(np.uint32(0), (n, metrics_pixels.B))}, p)
    return out


def evaluations_of(run_dir: str | Path) -> list[Path]:
    """Evaluation folders of a run (the test evaluation in the run folder first, then ``evals/*``)."""
    return RunFolder(run_dir).evaluations()


def natural_key(s: str):
    return [int(t) if t.isdigit() else t.lower() for t in _NUM.split(s)]


def split_of(d: Path) -> str | None:
    try:
        return json.loads((Path(d) / paths.METRICS).read_text(encoding="utf-8")).get("split")
    except (OSError, ValueError):
        return None


def eval_title(d: Path) -> str:
    sp = split_of(d) or Path(d).name
    where = "run folder" if paths.is_run_dir(d) else f"{Path(d).parent.name}/{Path(d).name}"
    return f"{sp}  ({where})"


def same_dir(a: Path, b: Path) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return str(a) == str(b)
