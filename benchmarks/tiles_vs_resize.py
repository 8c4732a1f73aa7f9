"""Dice of a tiny run trained on tiles vs one trained on resized images, on mosaics of hairline cracks (issue 11).

Data: :func:`trainer.datasets.mosaic.make_mosaic_dataset`, a ``grid x grid`` mosaic of synthetic crack scenes per
image (default 4x4 cells of 128 px = 512x512 so that both runs train in minutes on a CPU; ``--cell 512`` gives the
issue's 2048x2048). Both runs use the same data, seed, input size (``--input``), epochs and learning rate; only
``input_mode`` differs. The tiles run is evaluated per image at full resolution in sliding windows; the resize run
at its input size, as it trains (so its Dice is on the squashed image). Nothing is asserted: the figures are printed,
the last line is ``Dice tiles - resize: N``.

    .venv/bin/python benchmarks/tiles_vs_resize.py [--cell 128] [--epochs 6] [--input 128]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cell", type=int, default=128)
    ap.add_argument("--grid", type=int, default=4)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--input", type=int, default=128)
    ap.add_argument("--train", type=int, default=4, help="crack mosaics in train (plus one crack-free)")
    args = ap.parse_args()

    from trainer.config import load_config
    from trainer.datasets.mosaic import make_mosaic_dataset
    from trainer.training.loop import train

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        data = make_mosaic_dataset(Path(tmp) / "mosaics", n_train=args.train, n_val=1, n_test=2, grid=args.grid,
                                   cell=args.cell, seed=0)
        side = args.grid * args.cell
        print(f"mosaics of {side}x{side} ({args.grid}x{args.grid} cells of {args.cell} px): {args.train}+1 train, "
              f"1+1 val, 2+1 test; made in {time.perf_counter() - t0:.0f} s", flush=True)
        dice = {}
        for mode in ("tiles", "resize"):
            sets = [f"input_mode={mode}", f"input_height={args.input}", f"input_width={args.input}",
                    f"epochs={args.epochs}", "batch_size=4", "learning_rate=0.5", "precision=fp32", "device=cpu",
                    f"validation_n_epochs={args.epochs}", "save_images=false", "seed=1"]
            t0 = time.perf_counter()
            res = train(data, Path(tmp) / mode, load_config(None, sets))
            m = res["metrics"] or {}
            dice[mode] = float(m.get("dice_mean") or 0.0)
            print(f"{mode:6s}: test Dice {dice[mode]:.4f}, AP {m.get('ap')}, trained and evaluated in "
                  f"{time.perf_counter() - t0:.0f} s", flush=True)
        print(f"Dice tiles - resize: {dice['tiles'] - dice['resize']:.4f}")


if __name__ == "__main__":
    main()
