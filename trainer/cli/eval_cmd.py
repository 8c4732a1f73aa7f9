"""crack-train eval: evaluate a run's model on any dataset split into an evaluation folder."""
from __future__ import annotations

import sys
import time
from pathlib import Path

from trainer.datasets.layouts import open_dataset
from trainer.metrics import calibration as K
from trainer.datasets.validation import validate_records
from trainer.report.lines import eval_summary
from trainer.report.run import write_run_report
from trainer.runs import paths
from trainer.runs.evaluation import load_samples, write_source
from trainer.runs.events import EventLog
from trainer.runs.thresholds import honest_thresholds, reference_seg_threshold
from trainer.schema import KEYS
from trainer.training.evaluate import evaluate_split
from trainer.training.predict import load_run_model
from trainer.training.run_data import eval_dataset


def _key(cfg: dict, name: str):
    """A config value, the schema default for a run made before the key existed."""
    return cfg.get(name, KEYS[name].default)


def _dataset(index, split: str, cfg, hw, skip_bad: bool):
    records, bad = validate_records(index.split(split), skip_bad=skip_bad)
    for f, r in bad:
        print(f"skipped bad sample {f}: {r}", file=sys.stderr)
    return eval_dataset(records, cfg, hw)  # tiles runs: whole images in sliding windows


def _fit_temperature(run_dir: Path, model, index, cfg, hw, args, device, precision) -> dict:
    """Temperature of image scores and pixels fitted on the validation split (its evaluation folder, evaluated
    here without maps when missing)."""
    val_dir = paths.eval_dir(run_dir, "val")
    if not (val_dir / paths.METRICS).is_file():
        print("fitting the temperature: evaluating the validation split first", file=sys.stderr)
        evaluate_split(model, _dataset(index, "val", cfg, hw, args.skip_bad), val_dir, seg_threshold=None,
                       device=device, precision=precision, write_maps=False, cldice=False, split="val",
                       tolerance_px=float(_key(cfg, "tolerance_px")))
    s = load_samples(val_dir)
    rec = K.temperature_record(K.fit_temperature_scores(s["labels"], s["scores"]),
                               K.fit_temperature_pixels(s["hist_pos"], s["hist_neg"]), fitted_on="val")
    print(f"temperature fitted on validation: image {rec['image']}, pixel {rec['pixel']}", file=sys.stderr)
    return rec


def run(args) -> int:
    run_dir = Path(args.run)
    model, cfg, hw, device, precision, ckpt = load_run_model(run_dir, args.checkpoint, args.device)
    index = open_dataset(args.data, val_fraction=cfg["val_fraction"], seed=cfg["seed"], skip_bad=args.skip_bad)
    ds = _dataset(index, args.split, cfg, hw, args.skip_bad)
    temperature = None
    if (args.calibrate or _key(cfg, "calibrate_temperature")) and args.split != "val":
        temperature = _fit_temperature(run_dir, model, index, cfg, hw, args, device, precision)
    out = Path(args.out) if args.out else paths.eval_dir(run_dir, args.split)
    seg_thr = args.seg_threshold if args.seg_threshold is not None else reference_seg_threshold(run_dir)
    honest = honest_thresholds(run_dir)
    if args.image_threshold is not None:
        honest = dict(honest or {}, image_threshold=args.image_threshold)
        honest.setdefault("seg_threshold", seg_thr)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    print(f"evaluating {len(ds)} samples of split '{args.split}' from {args.data} with {ckpt} on {device} ({precision})",
          file=sys.stderr)
    metrics = evaluate_split(model, ds, out, seg_threshold=float(seg_thr), device=device, precision=precision,
                             channels_last=precision == "bf16", write_maps=True, events=EventLog(None, enabled=False),
                             dice_threshold_factor=cfg["dice_threshold_factor"], honest=honest, split=args.split,
                             checkpoint=str(ckpt), tolerance_px=float(_key(cfg, "tolerance_px")), tta=args.tta,
                             temperature=temperature)
    write_source(out, run_dir, Path(args.data), args.split, ckpt, temperature=temperature, tta=args.tta)
    if not args.no_report:
        try:
            write_run_report(out, run_dir=run_dir)
        except Exception as exc:  # noqa: BLE001 - the evaluation itself succeeded
            print(f"report not written: {exc}", file=sys.stderr)
    print(eval_summary(run_dir.name, metrics).replace("EVAL on TEST", f"EVAL on {args.split.upper()}"))
    print(f"Evaluation folder: {out} ({time.time() - t0:.1f} s)")
    return 0
