"""crack-train measure: length and width of every crack of a run's evaluation, ``predict`` output or a folder of
masks -> cracks.csv, images.csv, cracks.geojson (+ accuracy.json, crack_pairs.csv against the ground truth)."""
from __future__ import annotations

import sys
from pathlib import Path

from trainer.datasets.layouts import open_dataset
from trainer.errors import DataError
from trainer.measure.export import WidthAlarm
from trainer.measure.run import measure_folder
from trainer.measure.scale import load_scale
from trainer.runs import paths
from trainer.runs.evaluation import find_eval_sources
from trainer.schema import KEYS


def eval_folder_of(path: Path, split: str) -> Path | None:
    """The evaluation folder ``path`` stands for (itself, or a run's ``evals/<split>`` / test evaluation)."""
    if (path / paths.PROBS).is_dir():
        return path
    d = paths.eval_dir(path, split)
    return d if (d / paths.PROBS).is_dir() else None


def dataset_samples(data: Path) -> dict:
    """name -> (image file, mask file or None) of every sample of the dataset."""
    return {r.name: (r.image_path, r.mask_path if r.has_mask else None) for r in open_dataset(data).samples}


def _alarm_mm(args, run) -> float:
    if args.alarm_mm is not None:
        return float(args.alarm_mm)
    cfg = run.config_or_empty() if run is not None else {}
    return float(cfg.get("width_alarm_mm", KEYS["width_alarm_mm"].default))


def run(args) -> int:
    path = Path(args.path)
    if not path.is_dir():
        raise DataError("no such folder", file=path)
    ev = eval_folder_of(path, args.split)
    run_folder, data, samples = None, None, None
    if ev is not None:
        run_folder, data, _ = find_eval_sources(ev, data=args.data)
    elif args.data:
        data = Path(args.data)
    if data is not None and not data.is_dir():
        print(f"dataset {data} not found: measuring without image sizes and ground truth", file=sys.stderr)
        data = None
    if data is not None and ev is not None:
        samples = dataset_samples(data)
    alarm = WidthAlarm(_alarm_mm(args, run_folder), args.alarm_px)
    s = measure_folder(ev or path, args.out, threshold=args.threshold, scale=load_scale(data, args.scale),
                       alarm=alarm, samples=samples, split=args.split)
    print(f"measured {s.n_cracks} crack(s) in {s.n_images} image(s), unit {s.unit}"
          + (f" ({'; '.join(s.notes)})" if s.notes else ""))
    if s.accuracy is not None:
        a = s.accuracy
        if a["n_groups"]:
            print(f"against the ground truth: {a['n_groups']} matched crack group(s) ({a['n_pred_unmatched']} "
                  f"predicted and {a['n_gt_unmatched']} true crack(s) unmatched); length MAE "
                  f"{a['length_mae_px']:.2f} px, max width MAE {a['width_max_mae_px']:.2f} px")
        else:
            print("against the ground truth: no crack matched")
    for f in s.files.values():
        print(f"wrote {f}")
    return 0
