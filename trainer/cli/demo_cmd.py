"""crack-train demo: size the quick preset to this machine (trainer.training.demo_plan), generate the synthetic
dataset and train on it; the last lines give the test AUC and Dice and how to open the run."""
from __future__ import annotations

import sys
import time
from pathlib import Path

from trainer.cli.progress import LogStream, ProgressPrinter, duration, print_result
from trainer.config import load_config
from trainer.datasets.records import MANIFEST
from trainer.datasets.synthetic import make_synthetic_dataset
from trainer.runs import paths
from trainer.training.demo_plan import plan_for_config
from trainer.training.loop import train

DEMO_PLAN = "demo_plan.json"
FULL_DATASET = dict(n_train_pos=96, n_train_neg=48, n_val_pos=24, n_val_neg=12, n_test_pos=24, n_test_neg=12,
                    size=(160, 160))


def _fmt(v) -> str:
    return "n/a" if v is None else f"{float(v):.3f}"


def run(args) -> int:
    out = Path(args.out)
    data = out / "dataset"
    t0 = time.time()
    cfg = load_config(None, args.set, preset="quick")
    plan = None if args.data_only else plan_for_config(cfg, args.set, out / DEMO_PLAN, time.time() - t0)
    if plan:
        print(plan.explain())
    if not (data / MANIFEST).is_file():
        print(f"generating the synthetic crack dataset in {data} ...", file=sys.stderr)
        make_synthetic_dataset(data, seed=7, **(plan.dataset_counts() if plan else FULL_DATASET))
    print(f"dataset ready in {time.time() - t0:.1f} s: {data}", file=sys.stderr)
    if args.data_only:
        print(data)
        return 0
    run_dir = out / "run"
    resume = paths.checkpoint_path(run_dir, "last").is_file()
    progress = ProgressPrinter()
    result = train(data, run_dir, cfg if not resume else None, resume=resume, events_stdout=args.events,
                   log_stream=LogStream(progress), listeners=[progress])
    progress.clear()
    print_result(result)
    m = result.get("metrics") or {}
    print(f"Demo finished in {duration(time.time() - t0)}. Report: {run_dir / paths.REPORT}")
    print(f"Open it in the app: crackviewer --run {run_dir}")
    if m:
        print(f"demo test AUC {_fmt(m.get('auc'))}, Dice {_fmt(m.get('dice_mean'))}")
    return 0
