"""ReportSource: everything a report needs about one run or evaluation folder (files read once).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from trainer.report.figures import read_figures_json
from trainer.report.format import num
from trainer.runs import paths
from trainer.runs.evaluation import find_eval_sources, read_results
from trainer.runs.folder import RunFolder


class ReportSource:
    """Everything a report needs about one run / evaluation folder."""

    def __init__(self, folder: str | Path, run_dir: str | Path | None = None):
        self.folder = Path(folder)
        self.run, self.data, self.source = find_eval_sources(self.folder, run_dir)
        here = RunFolder(self.folder)
        self.is_run_folder = self.run is not None and self.run.path.resolve() == self.folder.resolve()
        self.metrics = here.metrics() or {}
        self.config = self.run.config_or_empty() if self.run else {}
        self.losses = self.run.losses() if self.run else []
        self.validation = self.run.validation() if self.run else []
        self.started = self.run.run_started() if self.run else None
        self.results = read_results(self.folder / paths.RESULTS)
        self.figures = read_figures_json(self.folder) or {}
        self.name = self.run.name if self.run else self.folder.name

    def has(self, rel: str) -> bool:
        return (self.folder / rel).is_file()

    def input_hw(self) -> tuple[Any, Any]:
        hw = self.metrics.get("input_hw")
        if hw:
            return hw[0], hw[1]
        return self.config.get("input_height", "n/a"), self.config.get("input_width", "n/a")

    def counts(self) -> dict | None:
        c = (self.started or {}).get("counts")
        return c if isinstance(c, dict) and not (self.source and not self.is_run_folder) else None

    def dice_picks(self, n_each: int = 2) -> list[tuple[str, str, float]]:
        """(group, name, dice) of the worst, median and best positives with a Dice (falls back to all samples)."""
        rows = [r for r in self.results if num(r.get("dice")) is not None]
        pos = [r for r in rows if int(r.get("label", 0) or 0) == 1]
        pool = sorted(pos or rows, key=lambda r: (float(r["dice"]), r["name"]))
        if not pool:
            return []
        picks: list[tuple[str, str, float]] = []
        seen = set()
        mid = len(pool) // 2
        groups = (("worst", pool[:n_each]), ("median", pool[max(0, mid - n_each // 2):][:n_each]),
                  ("best", pool[::-1][:n_each][::-1]))
        for g, rs in groups:
            for r in rs:
                if r["name"] not in seen:
                    seen.add(r["name"])
                    picks.append((g, r["name"], float(r["dice"])))
        return picks

    def dice_file(self, name: str, dice: float | None = None) -> Path | None:
        d = self.folder / paths.DICES
        if dice is not None and (d / paths.dice_png_name(dice, name)).is_file():
            return d / paths.dice_png_name(dice, name)
        hits = sorted(d.glob(paths.dice_png_glob(name))) if d.is_dir() else []
        return hits[0] if hits else None

    def best_val(self) -> dict | None:
        best = None
        for r in self.validation:
            if num(r.get("ap")) is not None and (best is None or r["ap"] > best["ap"]):
                best = r
        return best

    def final_loss(self, key: str) -> float | None:
        return num(self.losses[-1].get(key)) if self.losses else None
