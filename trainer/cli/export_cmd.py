"""crack-train export RUN --onnx FILE: a run's model as one ONNX file with dynamic batch, height and width
(:mod:`trainer.training.onnx_export`), for ``crack-train predict --backend onnxruntime --onnx FILE``."""
from __future__ import annotations

import sys
import time
from pathlib import Path

from trainer.errors import ConfigError


def run(args) -> int:
    # crack-train answers --help and bad input without loading torch
    from trainer.training.onnx_export import check_onnx, export_onnx
    from trainer.training.predict import load_run_model

    out = Path(args.onnx)
    if out.suffix.lower() != ".onnx":
        raise ConfigError("the ONNX file name must end in .onnx", out)
    model, cfg, hw, device, precision, ckpt = load_run_model(Path(args.run), args.checkpoint, "cpu")
    print(f"exporting {ckpt} ({cfg['architecture']}, example input {hw[0]}x{hw[1]}) to {out}; this takes a few "
          "minutes on a CPU", file=sys.stderr)
    t0 = time.perf_counter()
    export_onnx(model, out, hw)
    diff = check_onnx(model, out, hw)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - t0:.0f} s; onnxruntime agrees "
          f"with torch within {diff:.1e} on a {hw[0]}x{hw[1]} input")
    return 0
