"""The correction loop, measured (issue 14, part 4): fine-tune from the current model after correcting its worst
samples, against a run from scratch with the same budget.

1. The run's model predicts every sample of the dataset's val split (never the test split). The val split is cut in
   two halves by name (seeded): a **pool** the simulated annotator may correct and a **held-out** half.
2. The annotator "corrects" the ``--correct`` pool samples with the lowest Dice by copying their ground truth: they
   join the training split with their true masks (a new manifest of links in ``--work``; nothing is copied).
3. Two runs train on that dataset for ``--epochs`` epochs: one with ``init_from`` = the run (the published λ
   schedule over the new epochs unless ``--set lambda_mode=constant``), one from random weights.
4. Dice (the reference formula, at threshold 0.5) of the crack samples of the held-out half, before and after,
   and the minutes each run took.

Usage::

    python benchmarks/correction_loop.py --run /work/runs/real160 --data ../shared/data/cracks --work /tmp/loop
    python benchmarks/correction_loop.py --demo --work /tmp/loop      # self-contained: synthetic data, tiny runs

Last line: ``correction loop held-out Dice gain, fine-tune vs scratch: N Dice``.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

THRESHOLD = 0.5


def sample_dice(model, hw, device, precision, records) -> dict[str, float]:
    """Per-sample Dice at :data:`THRESHOLD` of the crack samples with masks."""
    from trainer.datasets.images import read_image, read_mask
    from trainer.metrics.pixels import dice_iou_from_counts
    from trainer.training.predict import predict_image

    out = {}
    for r in records:
        if r.label != 1 or not r.has_mask:
            continue
        img = read_image(r.image_path)
        gt = read_mask(r.mask_path, img.shape).astype(bool)
        _, prob = predict_image(model, img, hw, device, precision)
        pred = prob >= THRESHOLD
        dice, _ = dice_iou_from_counts([int((pred & gt).sum())], [int((pred & ~gt).sum())], [int(gt.sum())])
        out[r.name] = float(dice[0])
    return out


def model_dice(run: Path, records) -> float:
    from trainer.training.predict import load_run_model

    model, _, hw, device, precision, _ = load_run_model(run, None, "cpu")
    d = sample_dice(model, hw, device, precision, records)
    return float(np.mean(list(d.values()))) if d else float("nan")


def write_dataset(out: Path, train, val, test) -> Path:
    """A manifest dataset of links to the original files: ``train`` + corrected samples, ``val``, ``test``."""
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(exist_ok=True)
    rows = ["name,label,split"]
    for split, recs in (("train", train), ("val", val), ("test", test)):
        for r in recs:
            img = out / "images" / r.image_path.name
            if not img.exists():
                os.symlink(r.image_path.resolve(), img)
            if r.has_mask:
                m = out / "masks" / f"{Path(r.image_path.name).stem}.png"
                if not m.exists():
                    os.symlink(r.mask_path.resolve(), m)
            rows.append(f"{Path(r.image_path.name).stem},{r.label},{split}")
    (out / "manifest.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return out


def demo_inputs(work: Path) -> tuple[Path, Path]:
    """A synthetic dataset and a short base run on it (for --demo)."""
    from trainer.config import load_config
    from trainer.datasets.synthetic import make_synthetic_dataset
    from trainer.training.loop import train

    data = make_synthetic_dataset(work / "demo_data", n_train_pos=8, n_train_neg=4, n_val_pos=12, n_val_neg=4,
                                  n_test_pos=2, n_test_neg=2, size=(64, 64), seed=5)
    run = work / "demo_base"
    if not (run / "checkpoints" / "final.pth").is_file():
        train(data, run, load_config(None, ["input_height=128", "input_width=64", "epochs=2", "batch_size=2",
                                            "validate=false", "save_images=false", "learning_rate=0.5"]))
    return run, data


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", type=Path, help="the run whose model is corrected (a run folder)")
    ap.add_argument("--data", type=Path, help="its dataset (manifest layout with a val split)")
    ap.add_argument("--work", type=Path, required=True, help="folder for the new dataset and the two runs")
    ap.add_argument("--correct", type=int, default=10, help="how many worst pool samples the annotator corrects")
    ap.add_argument("--epochs", type=int, default=2, help="the budget of both runs, in epochs")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override for both runs")
    ap.add_argument("--demo", action="store_true", help="synthetic data and a tiny base run instead of --run/--data")
    args = ap.parse_args(argv)

    from trainer.config import load_config, parse_overrides
    from trainer.datasets.layouts import open_dataset
    from trainer.runs import paths
    from trainer.training.loop import train
    from trainer.training.predict import load_run_model

    os.environ.setdefault("CRACK_REPORT_FIGURES", "0")
    args.work.mkdir(parents=True, exist_ok=True)
    run, data = demo_inputs(args.work) if args.demo else (args.run, args.data)
    if run is None or data is None:
        ap.error("give --run and --data, or --demo")
    cfg = load_config(run / paths.CONFIG)
    index = open_dataset(data, val_fraction=cfg["val_fraction"], seed=cfg["seed"])
    val = sorted(index.split("val"), key=lambda r: r.name)
    rng = np.random.default_rng(cfg["seed"])
    order = rng.permutation(len(val))
    pool = [val[i] for i in order[: len(val) // 2]]
    heldout = [val[i] for i in order[len(val) // 2:]]

    t0 = time.time()
    model, _, hw, device, precision, ckpt = load_run_model(run, None, "cpu")
    pool_dice = sample_dice(model, hw, device, precision, pool)
    worst = sorted(pool_dice, key=pool_dice.get)[: args.correct]
    corrected = [r for r in pool if r.name in worst]
    before = model_dice(run, heldout)
    print(f"run {run} ({ckpt.name}): pool {len(pool)}, held-out {len(heldout)} samples; corrected the "
          f"{len(corrected)} worst pool samples (Dice {np.mean([pool_dice[n] for n in worst]):.3f} before) "
          f"in {time.time() - t0:.0f} s", flush=True)
    new_data = write_dataset(args.work / "corrected_data", index.split("train") + corrected, heldout,
                             index.split("test"))

    base = {k: v for k, v in cfg.items() if k not in ("init_from",)}
    base.update(epochs=args.epochs, save_images=False)
    base.update(parse_overrides(args.set))
    results = {}
    for name, extra in (("fine-tune", {"init_from": str(run.resolve())}), ("scratch", {"init_from": ""})):
        out = args.work / name
        if out.exists():
            shutil.rmtree(out)
        t = time.time()
        train(new_data, out, dict(base, **extra))
        minutes = (time.time() - t) / 60
        results[name] = (model_dice(out, heldout), minutes)
        print(f"{name}: held-out Dice {results[name][0]:.3f} after {args.epochs} epoch(s), {minutes:.1f} min",
              flush=True)

    print("\n| model | held-out Dice (threshold 0.5) | minutes |\n|---|---|---|")
    print(f"| the run, before correction | {before:.3f} | - |")
    for name, (d, m) in results.items():
        print(f"| {name} with {len(corrected)} corrected samples | {d:.3f} | {m:.1f} |")
    (args.work / "correction_loop.json").write_text(json.dumps(
        {"before": before, "corrected": worst, **{k: {"dice": d, "minutes": m} for k, (d, m) in results.items()}},
        indent=1), encoding="utf-8")
    gain = results["fine-tune"][0] - results["scratch"][0]
    print(f"correction loop held-out Dice gain, fine-tune vs scratch: {gain:+.3f} Dice")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
