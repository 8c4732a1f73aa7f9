"""`crack-train` (= `python -m trainer`): train, eval, predict, measure, demo, report and device from a terminal, with no Qt.

This module only parses arguments; each subcommand lives in its own module (``trainer.cli.<command>``, a
``run(args)`` function) and is imported when it is chosen, so ``crack-train report`` or ``--help`` never load torch.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from trainer.errors import CrackError
from trainer.schema import PRESETS

EPILOG = "Config keys and the event format: see the README. Every command exits 1 with a one-line message on bad input."


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="crack-train", description="Train and evaluate SegDecNet crack segmentation.",
                                 epilog=EPILOG)
    sub = ap.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a run (or resume one)")
    t.add_argument("--data", required=True, help="dataset folder (manifest, khanhha, reference or KSDD2 layout)")
    t.add_argument("--out", required=True, help="run folder to create (or to resume with --resume)")
    t.add_argument("--config", help="TOML config file (flat keys; see the README)")
    t.add_argument("--preset", choices=list(PRESETS), help="start from a preset (default: published)")
    t.add_argument("--set", action="append", metavar="KEY=VALUE", help="override one config key (repeatable)")
    t.add_argument("--resume", action="store_true", help="continue the run in --out from its last completed epoch")
    t.add_argument("--events", action="store_true", help="also print every event to stdout as one JSON line")

    e = sub.add_parser("eval", help="evaluate a run's model on any dataset split")
    e.add_argument("--run", required=True)
    e.add_argument("--data", required=True)
    e.add_argument("--split", default="test", help="split name (a manifest without a split column is one split)")
    e.add_argument("--out", help="evaluation folder (default RUN/evals/SPLIT)")
    e.add_argument("--checkpoint", help="best, final, last or a .pth path (default: best, else final, else last)")
    e.add_argument("--seg-threshold", type=float, help="segmentation threshold (default: the run's threshold rule)")
    e.add_argument("--image-threshold", type=float, help="classification threshold for the honest operating point")
    e.add_argument("--device", default="auto")
    e.add_argument("--skip-bad", action="store_true", help="skip bad samples and list them")
    e.add_argument("--no-report", action="store_true", help="write data only, no README/figures")
    e.add_argument("--tta", action="store_true",
                   help="flip test-time augmentation: mean of 4 flips, uncertainty map per sample (uncertainty/)")
    e.add_argument("--calibrate", action="store_true",
                   help="fit a temperature on the validation split and apply it (default: config calibrate_temperature)")

    p = sub.add_parser("predict", help="binary masks and scores for new images")
    p.add_argument("--run", required=True)
    p.add_argument("inputs", nargs="+", metavar="IMAGE_OR_DIR")
    p.add_argument("--out", required=True)
    p.add_argument("--checkpoint")
    p.add_argument("--seg-threshold", type=float)
    p.add_argument("--image-threshold", type=float)
    p.add_argument("--gate", action="store_true", help="blank the mask of images classified crack-free")
    p.add_argument("--device", default="auto")
    p.add_argument("--skip-bad", action="store_true", help="skip unreadable or too large images and list them")
    p.add_argument("--native", action="store_true",
                   help="sliding windows at native resolution also for runs trained on resized images")
    p.add_argument("--overlap", type=float, help="window overlap in [0, 0.9] (default: the run's tile_overlap)")
    p.add_argument("--batch-size", type=int, default=4, help="windows per forward pass (default 4)")
    p.add_argument("--no-probs", action="store_true", help="write only masks, no probability maps")
    p.add_argument("--max-megapixels", type=float, help="largest PNG/JPEG to decode (TIFF/.npy are read in strips)")
    p.add_argument("--backend", choices=("torch", "onnxruntime"), default="torch")
    p.add_argument("--onnx", help="the .onnx file for --backend onnxruntime (crack-train export RUN --onnx FILE)")
    p.add_argument("--measure", action="store_true", help="then measure every crack: cracks.csv, images.csv, "
                                                           "cracks.geojson in --out")
    p.add_argument("--scale", type=float, help="with --measure: millimetres per pixel (default: pixels)")
    p.add_argument("--alarm-mm", type=float, help="with --measure: flag cracks wider (mm; default: measure's)")
    p.add_argument("--alarm-px", type=float, help="with --measure: flag cracks wider (px, images without a scale)")

    x = sub.add_parser("export", help="write a run's model as ONNX (dynamic height and width)")
    x.add_argument("run", metavar="RUN")
    x.add_argument("--onnx", required=True, metavar="FILE", help="the .onnx file to write")
    x.add_argument("--checkpoint", help="best, final, last or a .pth path (default: best, else final, else last)")

    d = sub.add_parser("demo", help="generate a synthetic dataset and train the quick preset on it (no download)")
    d.add_argument("--out", default="demo_out")
    d.add_argument("--data-only", action="store_true", help="only write the demo dataset (to OUT/dataset)")
    d.add_argument("--set", action="append", metavar="KEY=VALUE")
    d.add_argument("--events", action="store_true")

    r = sub.add_parser("report", help="(re)write a run's report, or compare runs side by side")
    r.add_argument("runs", nargs="+", metavar="RUN")
    r.add_argument("--out", help="output .md (comparison default: comparison.md)")

    m = sub.add_parser("measure", help="length and width of every crack: cracks.csv, images.csv, cracks.geojson")
    m.add_argument("path", metavar="RUN|EVAL_DIR|PREDICT_DIR|MASK_DIR",
                   help="a run (its evals/SPLIT), an evaluation folder, predict output or a folder of masks")
    m.add_argument("--out", required=True, help="folder for the measurement files")
    m.add_argument("--threshold", type=float, help="seg threshold for probability maps (default: the evaluation's)")
    m.add_argument("--scale", type=float, metavar="MM_PER_PX", help="millimetres per pixel (default: the dataset's "
                   "scale.json / manifest mm_per_px, else pixels)")
    m.add_argument("--alarm-mm", type=float, help="flag cracks wider than this (default: the run's width_alarm_mm)")
    m.add_argument("--alarm-px", type=float, help="flag cracks wider than this many pixels where there is no scale")
    m.add_argument("--data", help="the dataset (scale, image sizes, ground truth); default: the evaluation's")
    m.add_argument("--split", default="test", help="which evaluation of a run (default test)")

    v = sub.add_parser("device", help="which devices and precision torch offers here")
    v.add_argument("--json", action="store_true", help="one JSON object: {torch, cuda, bf16_cpu, precision_auto}")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        command = importlib.import_module(f"trainer.cli.{args.command}_cmd")
        return int(command.run(args) or 0)
    except CrackError as exc:
        print(f"crack-train: error: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("crack-train: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # keep tracebacks out of the user's face; the run's log.txt has them
        print(f"crack-train: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        if "--debug" in sys.argv or os.environ.get("CRACK_TRAIN_DEBUG"):
            raise
        return 1
