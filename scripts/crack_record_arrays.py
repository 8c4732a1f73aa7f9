"""Add the crack metrics' arrays (tolerance histograms, clDice counts; :mod:`trainer.metrics.crack_record`) to an
evaluation folder made before ``crack-train eval`` wrote them, from its ``probs/`` and the dataset's GT masks.

    python scripts/crack_record_arrays.py EVAL_DIR [--data DATASET] [--tolerance 2]

Also used by the Inspect tests to build evaluation folders with crack metrics. ``--uncertainty-from DIR`` copies
``uncertainty/<name>.png`` maps and their scores (``trainer.metrics.uncertainty``) when such maps exist.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crackviewer.inspect.evaluation_folder import Evaluation  # noqa: E402
from crackviewer.inspect.sample_store import SampleStore  # noqa: E402
from trainer.metrics import tolerance as metrics_tolerance  # noqa: E402
from trainer.metrics.crack_record import CrackCollector  # noqa: E402
from trainer.metrics.uncertainty import UNCERTAINTY_MAX, uncertainty_score  # noqa: E402
from trainer.runs import paths  # noqa: E402
from trainer.runs.evaluation import load_samples, write_samples  # noqa: E402


def add_crack_arrays(eval_dir: str | Path, data: str | Path | None = None,
                     tolerance: float = metrics_tolerance.TOLERANCE_PX, uncertainty_max: float = UNCERTAINTY_MAX["std"]) -> dict:
    """Compute and add the arrays; returns them. Uncertainty scores come from ``uncertainty/<name>.png`` when that
    folder exists (8-bit maps scaled by ``uncertainty_max``)."""
    ev = Evaluation.load(eval_dir)
    store = SampleStore(ev, data)
    seg = (ev.metrics or {}).get("seg_threshold", 0.5)
    col = CrackCollector(ev.n, tolerance=tolerance, cldice_threshold=seg)
    unc_dir = Path(eval_dir) / paths.UNCERTAINTY
    for i in range(ev.n):
        s = store.load(i)
        if s.prob8 is None:
            raise SystemExit(f"{store.prob_path(i)}: no probability map; evaluate with maps written")
        gt = s.gt_eval if s.gt_eval is not None else np.zeros(s.prob8.shape, np.uint8)
        col.add([i], (s.prob8.astype(np.float32) / 255.0)[None], (gt > 0)[None])
        if unc_dir.is_dir():
            u = store.uncertainty8(i)
            if u is not None:
                col.set_uncertainty(i, uncertainty_score(u.astype(np.float32) / 255.0 * uncertainty_max))
    arrays = load_samples(eval_dir)
    new = col.arrays()
    arrays.update(new)
    write_samples(Path(eval_dir), **arrays)
    return new


def write_uncertainty_maps(eval_dir: str | Path, maps: dict[str, np.ndarray]) -> None:
    """Write 8-bit uncertainty maps ``{name: u8}`` where ``crack-train eval --tta`` puts them (tests, demos)."""
    for name, u8 in maps.items():
        p = paths.uncertainty_png_path(eval_dir, name)
        p.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(p), u8)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("eval_dir")
    ap.add_argument("--data", default=None)
    ap.add_argument("--tolerance", type=float, default=metrics_tolerance.TOLERANCE_PX)
    a = ap.parse_args(argv)
    new = add_crack_arrays(a.eval_dir, a.data, a.tolerance)
    print(f"added {', '.join(sorted(new))} to {Path(a.eval_dir) / paths.SAMPLES}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
