"""crack-train report: (re)write a run's report, or compare runs side by side."""
from __future__ import annotations

from pathlib import Path

from trainer.atomic import atomic_write_text
from trainer.errors import ConfigError
from trainer.report.compare import write_comparison
from trainer.report.run import write_run_report
from trainer.runs import paths


def run(args) -> int:
    runs = [Path(r) for r in args.runs]
    for r in runs:
        if not r.is_dir():
            raise ConfigError("run folder not found", r)
    if len(runs) == 1:
        write_run_report(runs[0])
        target = Path(args.out) if args.out else runs[0] / paths.REPORT
        if args.out:
            atomic_write_text(target, (runs[0] / paths.REPORT).read_text(encoding="utf-8"))
        print(f"report: {target}")
        return 0
    out = Path(args.out or paths.COMPARISON)
    write_comparison(runs, out)
    print(f"comparison report: {out}")
    return 0
