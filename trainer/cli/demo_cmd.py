"""crack-train demo: generate the synthetic dataset and train the quick preset on it."""
from __future__ import annotations

import sys
import time
from pathlib import Path

from trainer.cli.progress import LogStream, ProgressPrinter, duration, print_result
from trainer.config import load_config
from trainer.datasets.records import MANIFEST
from trainer.datasets.synthetic import make_synthetic_dataset
from trainer.runs import paths
from trainer.training.loop import train


def run(args) -> int:
    out = Path(args.out)
    data = out / "dataset"
    t0 = time.time()
    if not (data / MANIFEST).is_file():
        print(f"generating the synthetic crack dataset in {data} ...", file=sys.stderr)
        make_synthetic_dataset(data, n_train_pos=96, n_train_neg=48, n_val_pos=24, n_val_neg=12, n_test_pos=24,
                               n_test_neg=12, size=(160, 160), seed=7)
    print(f"dataset ready in {time.time() - t0:.1f} s: {data}", file=sys.stderr)
    if args.data_only:
        print(data)
        return 0
    run_dir = out / "run"
    cfg = load_config(None, args.set, preset="quick")
    resume = paths.checkpoint_path(run_dir, "last").is_file()
    progress = ProgressPrinter()
    result = train(data, run_dir, cfg if not resume else None, resume=resume, events_stdout=args.events,
                   log_stream=LogStream(progress), listeners=[progress])
    progress.clear()
    print_result(result)
    print(f"Demo finished in {duration(time.time() - t0)}. Open it in the app: crackviewer (Runs tab), or read "
          f"{run_dir / paths.REPORT}")
    return 0
