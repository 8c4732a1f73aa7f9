"""``python -m trainer.measure RUN|EVAL_DIR|PREDICT_DIR|MASKS_DIR --out DIR [...]`` until ``crack-train measure``
exists (see ``trainer.measure.run`` for what each input means)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from trainer.errors import CrackError
from trainer.measure.export import WidthAlarm
from trainer.measure.run import DEFAULT_ALARM_MM, measure_folder
from trainer.measure.scale import load_scale


def _dataset_of(path: Path, split: str) -> Path | None:
    """The dataset an evaluation folder (or a run's evals/<split>) was made from, per its source.json."""
    for d in (path, path / "evals" / split):
        src = d / "source.json"
        if src.is_file():
            try:
                data = json.loads(src.read_text(encoding="utf-8")).get("data")
            except ValueError:
                return None
            return Path(data) if data else None
    return None


def _samples(data: Path) -> dict:
    """name -> (image, mask or None) of every sample. Uses trainer.data (which imports torch) until the torch-free
    trainer.datasets index exists."""
    from trainer.data import open_dataset

    index = open_dataset(data)
    return {r.name: (r.image_path, r.mask_path if r.has_mask else None) for r in index.samples}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m trainer.measure",
                                 description="length and width of every crack: cracks.csv, images.csv, "
                                             "cracks.geojson")
    ap.add_argument("path", help="a run, an evaluation folder, predict output or a folder of masks")
    ap.add_argument("--out", required=True, help="folder for the measurement files")
    ap.add_argument("--threshold", type=float, default=None,
                    help="seg threshold for probability maps (default: the evaluation's)")
    ap.add_argument("--scale", type=float, default=None, help="millimetres per pixel (default: none, pixels)")
    ap.add_argument("--alarm-mm", type=float, default=DEFAULT_ALARM_MM,
                    help=f"flag cracks wider than this many mm in images with a scale (default {DEFAULT_ALARM_MM})")
    ap.add_argument("--alarm-px", type=float, default=None,
                    help="flag cracks wider than this many pixels in images without a scale (default: no flag)")
    ap.add_argument("--data", default=None, help="the dataset (scale.json / manifest mm_per_px, image sizes and "
                                                 "ground truth); default: the evaluation's source.json")
    ap.add_argument("--split", default="test", help="which evaluation of a run (default test)")
    args = ap.parse_args(argv)
    path = Path(args.path)
    try:
        data = Path(args.data) if args.data else _dataset_of(path, args.split)
        if data is not None and not data.is_dir():
            data = None
        scale = load_scale(data, args.scale)
        samples = _samples(data) if data is not None and ((path / "probs").is_dir() or (path / "evals").is_dir()) \
            else None
        s = measure_folder(path, args.out, threshold=args.threshold, scale=scale,
                           alarm=WidthAlarm(args.alarm_mm, args.alarm_px),
                           samples=samples, split=args.split)
    except CrackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"measured {s.n_cracks} crack(s) in {s.n_images} image(s), unit {s.unit}"
          + (f" ({'; '.join(s.notes)})" if s.notes else ""))
    if s.accuracy is not None:
        a = s.accuracy
        if a["n_groups"]:
            print(f"against the ground truth: {a['n_groups']} matched crack group(s) "
                  f"({a['n_pred_unmatched']} predicted "
                  f"and {a['n_gt_unmatched']} true crack(s) unmatched); length MAE {a['length_mae_px']:.2f} px, "
                  f"max width MAE {a['width_max_mae_px']:.2f} px")
        else:
            print("against the ground truth: no crack matched")
    for k, f in s.files.items():
        print(f"wrote {f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
