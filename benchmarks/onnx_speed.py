"""CPU inference speed of the real SegDecNet (random weights, fp32): torch vs onnxruntime, images/s at 448x448.

The model is exported once with :func:`trainer.training.onnx_export.export_onnx` (dynamic height and width), then
both backends run the same batches (``--batch`` images of ``--size`` x ``--size``) for ``--repeat`` timed rounds
after one warm-up round; the best round counts. Both use every core the process may run on. The last line is
``onnxruntime/torch speed: X x``.

    .venv/bin/python benchmarks/onnx_speed.py                  # 448x448, batch 4, 3 rounds
    .venv/bin/python benchmarks/onnx_speed.py --size 256 --repeat 2
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from trainer.training.model import SegDecNet  # noqa: E402
from trainer.training.onnx_export import OnnxPredictor, export_onnx  # noqa: E402


def _best(fn, repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=448)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    threads = len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = SegDecNet(input_height=args.size, input_width=args.size).eval()
    x = np.random.default_rng(0).random((args.batch, 3, args.size, args.size), dtype=np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        path = export_onnx(model, Path(tmp) / "model.onnx", (args.size, args.size))
        print(f"export: {time.perf_counter() - t:.1f} s ({path.stat().st_size / 1e6:.1f} MB)")
        ort = OnnxPredictor(path, threads=threads)
        xt = torch.from_numpy(x)

        def run_torch():
            with torch.inference_mode():
                model(xt)

        t_torch = _best(run_torch, args.repeat)
        t_ort = _best(lambda: ort.raw(x), args.repeat)
    n = args.batch
    print(f"threads: {threads}, batch {n} of {args.size}x{args.size}, fp32, best of {args.repeat}")
    print(f"torch {torch.__version__}: {n / t_torch:.2f} img/s")
    import onnxruntime
    print(f"onnxruntime {onnxruntime.__version__}: {n / t_ort:.2f} img/s")
    print(f"onnxruntime/torch speed: {t_torch / t_ort:.2f} x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
