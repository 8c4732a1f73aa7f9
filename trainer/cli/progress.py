"""Terminal output of a training run: the progress bar, log lines that do not tear it, the closing summary."""
from __future__ import annotations

import sys
from pathlib import Path

from trainer.report.format import fmt
from trainer.runs import events as ev
from trainer.runs import paths


def duration(s: float) -> str:
    s = int(s)
    if s >= 3600:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"


class ProgressPrinter:
    """A one-line progress bar on stderr (a TTY), or a line per epoch otherwise."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._drawn = False

    def clear(self) -> None:
        if self.tty and self._drawn:
            self.stream.write("\r\033[K")
            self._drawn = False

    def __call__(self, rec: dict) -> None:
        if rec["event"] != ev.STEP or not self.tty:
            return
        width = 28
        frac = rec["step"] / max(rec["steps"], 1)
        bar = "#" * int(frac * width) + "-" * (width - int(frac * width))
        eta = duration(rec.get("eta_s") or 0)
        self.stream.write(f"\r\033[Kepoch {rec['epoch']}/{rec['epochs']} [{bar}] {rec['step']}/{rec['steps']} "
                          f"{rec.get('images_per_s', 0):.1f} img/s  ETA {eta}  loss {rec.get('loss', 0):.4f}")
        self.stream.flush()
        self._drawn = True


class LogStream:
    """log.txt lines echoed to stderr without tearing the progress bar."""

    def __init__(self, progress: ProgressPrinter):
        self.progress = progress

    def write(self, s: str) -> None:
        self.progress.clear()
        sys.stderr.write(s)

    def flush(self) -> None:
        sys.stderr.flush()


def print_result(result: dict) -> None:
    """The closing lines of ``crack-train train`` / ``demo``: test metrics and the run's main files."""
    run = Path(result["run_dir"])
    if result["status"] == "stopped":
        if not paths.checkpoint_path(run, "last").is_file():
            print(f"Stopped before the first checkpoint: nothing to resume; start the run again in {run}")
            return
        print(f"Stopped after {result['epochs_done']} completed epoch(s). Resume: crack-train train --resume "
              f"--data ... --out {run}")
        return
    print(f"Run folder: {run}")
    m = result.get("metrics") or {}
    if m:
        u = "undefined"
        print(f"  test AUC {fmt(m.get('auc'), undefined=u)}  AP {fmt(m.get('ap'), undefined=u)}  "
              f"F {fmt(m.get('f_measure'), undefined=u)}  FP {m.get('fp')}  FN {m.get('fn')}  "
              f"Dice {fmt(m.get('dice_mean'), undefined=u)} ± {fmt(m.get('dice_std'), undefined=u)}")
    for p in (run / paths.REPORT, run / paths.METRICS, run / paths.RESULTS, paths.checkpoint_path(run, "best")):
        if p.exists():
            print(f"  {p}")
