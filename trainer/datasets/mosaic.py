"""Large synthetic crack images: a ``grid x grid`` mosaic of synthetic crack scenes (issue 11's test data).

Each cell is a :func:`trainer.datasets.scenes.render_sample` scene of ``cell x cell`` pixels, with a crack with
probability ``crack_fraction``; cracks keep the few-pixel widths the scenes draw, so in a 4x4 mosaic of 512-pixel
cells (2048x2048) they are hairlines that resizing the whole image to a network input erases. The mosaic's label is
1 when any cell has a crack. :func:`make_mosaic_dataset` writes the manifest layout of
:mod:`trainer.datasets.synthetic` (``images/``, ``masks/`` 0/255, ``manifest.csv``).
"""
from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np

from trainer.datasets.scenes import render_sample
from trainer.errors import DataError

_SPLITS = {"train": 1, "val": 2, "test": 3}


def mosaic_sample(rng: np.random.Generator, grid: int = 4, cell: int = 512, crack_fraction: float = 0.5,
                  force_crack: bool = True):
    """``(rgb uint8 [grid*cell]^2 x 3, mask uint8 0/255, label)``; ``force_crack`` puts a crack in at least one
    cell."""
    n = grid * cell
    img = np.zeros((n, n, 3), np.uint8)
    mask = np.zeros((n, n), np.uint8)
    cracks = rng.random(grid * grid) < crack_fraction
    if force_crack and not cracks.any():
        cracks[int(rng.integers(0, grid * grid))] = True
    for k in range(grid * grid):
        y, x = (k // grid) * cell, (k % grid) * cell
        im, m, _, _ = render_sample(rng, (cell, cell), bool(cracks[k]))
        img[y:y + cell, x:x + cell], mask[y:y + cell, x:x + cell] = im, m
    return img, mask, int(mask.any())


def make_mosaic_dataset(out_dir, n_train: int = 4, n_val: int = 1, n_test: int = 2, grid: int = 4,
                        cell: int = 512, seed: int = 0, negatives_per_split: int = 1) -> Path:
    """Write crack mosaics (and ``negatives_per_split`` crack-free ones per split) in the manifest layout."""
    out = Path(out_dir)
    if grid < 1 or cell < 16:
        raise DataError(f"mosaic grid {grid} and cell {cell} px must be at least 1 and 16")
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    rows = []
    for sp, n in (("train", n_train), ("val", n_val), ("test", n_test)):
        for k in range(int(n) + int(negatives_per_split)):
            rng = np.random.default_rng([int(seed), _SPLITS[sp], k])
            crack = k < n
            img, mask, label = mosaic_sample(rng, grid, cell, 0.5 if crack else 0.0, force_crack=crack)
            name = f"mosaic_{sp}_{k:03d}"
            if not cv2.imwrite(str(out / "images" / f"{name}.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR)):
                raise DataError("cannot write image", file=out / "images" / f"{name}.png")
            cv2.imwrite(str(out / "masks" / f"{name}.png"), mask)
            rows.append({"name": name, "label": label, "split": sp, "width": img.shape[1], "height": img.shape[0],
                         "source": "mosaic"})
    with open(out / "manifest.csv", "w", newline="", encoding="utf-8") as f:
        wr = csv.DictWriter(f, fieldnames=["name", "label", "split", "width", "height", "source"])
        wr.writeheader()
        wr.writerows(rows)
    return out
