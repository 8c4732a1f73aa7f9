"""Evaluation overhead: inference alone vs everything else evaluate_split does (metrics, thresholds, histograms,
the crack metrics of issue 13 (tolerance histograms, skeletons for clDice, calibration), writing results.csv /
samples.npz / probs/*.png / metrics.json).

A split of N synthetic samples (in memory, so disk reads of the dataset are not measured) is run through the real
SegDecNet (random weights) through ``trainer.training.evaluate.evaluate_split`` (``--repeat`` times, the fastest run is kept).

    inference       = the forward passes inside evaluate_split (timed around each model call)
    everything else = evaluate_split's wall time outside them + the PNG writer thread's busy time (counted in full,
                      although it runs while the next batch is in the network: an upper bound)

Both come from the same run. As a cross-check, the difference between evaluate_split's wall time and a pure
inference loop (same DataLoader, precision and layout) is printed with ``--cross-check`` (noisy on a shared CPU). The last line is
``eval overhead: X %`` = everything else / inference.

    .venv/bin/python benchmarks/eval_speed.py            # N=60 at 448x448, bf16 when the CPU supports it
    .venv/bin/python benchmarks/eval_speed.py --n 20 --size 256 --precision fp32
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from trainer.training.device import resolve_precision  # noqa: E402
from trainer.training.evaluate import evaluate_split  # noqa: E402
from trainer.metrics.image import image_metrics  # noqa: E402
from trainer.training.model import SegDecNet  # noqa: E402


class SyntheticSplit(torch.utils.data.Dataset):
    """N in-memory samples with the CrackDataset item contract; 3 of 4 are positives with a crack-like band."""

    def __init__(self, n: int, size: int, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.items = []

        class R:
            def __init__(self, name, label):
                self.name, self.label, self.split = name, label, "test"

        self.records = []
        for i in range(n):
            label = int(i % 4 != 0)
            img = (0.45 + 0.1 * rng.standard_normal((3, size, size))).astype(np.float32)
            mask = np.zeros((1, size, size), np.float32)
            if label:
                r = int(rng.integers(size // 8, size - size // 8))
                w = max(size // 100, 2)
                mask[0, r - w:r + w, :] = 1
                img[:, r - w:r + w, :] -= 0.3
            self.items.append(dict(image=torch.from_numpy(np.clip(img, 0, 1)), mask=torch.from_numpy(mask),
                                   seg_weight=torch.ones(1, size, size), is_segmented=torch.tensor(True),
                                   label=torch.tensor(float(label)), index=i))
            self.records.append(R(f"test_{'positive' if label else 'negative'}/{i}", label))

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


def pure_inference(model, ds, precision: str, channels_last: bool, batch_size: int) -> float:
    loader = torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=False, num_workers=0)
    t0 = time.perf_counter()
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
        for batch in loader:
            x = batch["image"]
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            model(x)
    return time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=60, help="samples in the split (default 60)")
    ap.add_argument("--size", type=int, default=448, help="input height = width (default 448, multiple of 8)")
    ap.add_argument("--precision", choices=["auto", "bf16", "fp32"], default="auto")
    ap.add_argument("--architecture", choices=["upsampling", "original"], default="upsampling")
    ap.add_argument("--batch", type=int, default=1, help="inference batch size (default 1)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    ap.add_argument("--repeat", type=int, default=1, help="repetitions; the fastest is kept (default 1)")
    ap.add_argument("--cross-check", action="store_true",
                    help="also time a pure inference loop before each evaluate_split (doubles the run time)")
    args = ap.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    dev = torch.device("cpu")
    precision = resolve_precision(args.precision, dev)
    channels_last = precision == "bf16"
    torch.manual_seed(0)
    model = SegDecNet(architecture=args.architecture, input_height=args.size, input_width=args.size).eval()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    ds = SyntheticSplit(args.n, args.size)
    print(f"eval_speed: N={args.n} at {args.size}x{args.size}, SegDecNet({args.architecture}), {precision}"
          f"{' + channels_last' if channels_last else ''}, batch {args.batch}, torch threads {torch.get_num_threads()}")

    # warm-up: oneDNN kernel selection, allocator, and the one-time sklearn import (paid once per process, by the
    # first validation during training; not a per-split cost)
    t0 = time.perf_counter()
    image_metrics([0, 1], [0.2, 0.8])
    print(f"one-time sklearn import: {time.perf_counter() - t0:.2f} s (not counted)")
    pure_inference(model, torch.utils.data.Subset(ds, range(min(2, len(ds)))), precision, channels_last, args.batch)

    inf_times, eval_times, breakdowns = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(max(args.repeat, 1)):
            if args.cross_check:
                inf_times.append(pure_inference(model, ds, precision, channels_last, args.batch))
            out = Path(tmp) / f"ev{r}"
            t0 = time.perf_counter()
            m = evaluate_split(model, ds, out, seg_threshold=0.5, device="cpu", precision=precision,
                               channels_last=channels_last, write_maps=True, batch_size=args.batch,
                               honest=dict(image_threshold=0.5, seg_threshold=0.4))
            eval_times.append(time.perf_counter() - t0)
            breakdowns.append(m["timing"])
            files = sum(1 for _ in (out / "probs").iterdir())
            size_mb = sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 2 ** 20
            pure = f"pure inference {inf_times[-1]:.3f} s | " if args.cross_check else ""
            print(f"  run {r + 1}: {pure}evaluate_split {eval_times[-1]:.3f} s "
                  f"(forward {m['timing']['forward_s']:.3f}, post {m['timing']['postprocess_s']:.3f}, "
                  f"finish {m['timing']['finish_s']:.3f}, load {m['timing']['load_s']:.3f}) | "
                  f"{files} maps, {size_mb:.1f} MB written")

    ev = min(eval_times)
    b = breakdowns[int(np.argmin(eval_times))]
    fwd = b["forward_s"]
    # everything else, measured in the same run: wall time outside the forward passes (post-processing, histograms,
    # metrics, thresholds, results.csv/samples.npz/metrics.json) plus the PNG writer thread's busy time, counted in
    # full although it overlaps with the next forward pass (an upper bound, insensitive to other load on the CPU)
    other = (b["total_s"] - fwd) + b["png_thread_s"]
    print(f"inference (forward passes inside evaluate_split): {fwd:.3f} s  ({fwd / args.n * 1e3:.1f} ms/sample)")
    print(f"everything else: {other:.3f} s  ({other / args.n * 1e3:.2f} ms/sample) = post-processing "
          f"{b['postprocess_s']:.3f} + metrics/thresholds/files {b['finish_s']:.3f} + data loader {b['load_s']:.3f} "
          f"+ PNG thread {b['png_thread_s']:.3f} (overlapped); of which crack metrics (tolerance histograms, "
          f"skeletons) {b.get('crack_metrics_s', 0.0):.3f} s ({b.get('crack_metrics_s', 0.0) / args.n * 1e3:.1f} "
          f"ms/sample)")
    if inf_times:
        inf = min(inf_times)
        print(f"cross-check: pure inference run {inf:.3f} s vs evaluate_split wall {ev:.3f} s "
              f"(difference {ev - inf:+.3f} s, {100 * (ev - inf) / inf:+.1f} %; noisy when the CPU is shared)")
    print(f"ratio everything else / inference: {other / fwd:.3f} (target < 0.10)")
    print(f"eval overhead: {100 * other / fwd:.1f} %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
