#!/usr/bin/env python
"""Where one training step's time goes: the convolutions against everything else.

Runs the trainer's own step pieces in the trainer's order -- next batch from a DataLoader over
``trainer.training.dataset.CrackDataset`` (PNG decode, resize, masks), model forward + backward in the chosen precision,
``trainer.training.losses.sample_losses`` / ``combine_losses``, the SGD step, the per-step metric sums (``.item()`` /
``float()``), and a ``step`` event into an ``EventLog`` -- and times each phase with ``time.perf_counter``.
``torch.profiler`` runs on the same steps to separate the convolution kernels (forward and backward) from the
model's other layers (norms, activations, pooling, upsampling).

Used by ``benchmarks/train_speed.py`` (the "step breakdown" section); alone::

    python benchmarks/step_breakdown.py --size 448 --steps 2

Last line: ``outside the model (data, losses, optimiser, events, metrics): X %``.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PHASES = ("data", "model", "losses", "optimiser", "metrics", "events")
_CONV_OPS = ("convolution", "conv2d", "mkldnn_convolution", "convolution_backward", "_convolution",
             "cudnn_convolution", "conv_transpose")


def _is_conv(name: str) -> bool:
    return any(name == f"aten::{op}" for op in _CONV_OPS)


def measure_breakdown(data: str | Path, size: int, batch: int, precision: str, steps: int, warmup: int,
                      device: str = "cpu") -> dict:
    import numpy as np
    import torch
    from torch.utils.data import DataLoader

    from trainer.datasets.layouts import open_dataset
    from trainer.training.dataset import CrackDataset
    from trainer.training.device import autocast
    from trainer.runs.events import EventLog
    from trainer.training.model import SegDecNet
    from trainer.training.losses import combine_losses, sample_losses

    dev = torch.device(device)
    torch.manual_seed(0)
    model = SegDecNet("upsampling", "avg", 3, size, size).to(dev)
    model.set_gradient_multiplier(0.0)
    channels_last = precision == "bf16"
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    ds = CrackDataset(open_dataset(data).split("train"), (size, size), train=True)
    loader = DataLoader(ds, batch_size=batch, shuffle=True, drop_last=True, num_workers=0,
                        generator=torch.Generator().manual_seed(0))

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    times = {p: 0.0 for p in PHASES}
    total = 0.0
    conv_s = profiled_s = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        events = EventLog(Path(tmp) / "run")
        it = iter(loader)
        sums = np.zeros(6)
        for step in range(warmup + steps):
            timed = step >= warmup
            prof = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) if timed else None
            if prof:
                prof.__enter__()
            t = [time.perf_counter()]
            try:
                b = next(it)
            except StopIteration:
                it = iter(loader)
                b = next(it)
            b = {k: (v.to(dev) if isinstance(v, torch.Tensor) else v) for k, v in b.items()}
            x = b["image"].contiguous(memory_format=torch.channels_last) if channels_last else b["image"]
            sync()
            t.append(time.perf_counter())
            with autocast(dev, precision):
                cls_logit, seg_logits = model(x)
            sync()
            t.append(time.perf_counter())  # forward done; losses next
            seg_l, dec_l = sample_losses(cls_logit, seg_logits, b, False)
            is_seg = b["is_segmented"].to(seg_l.dtype).view(-1)
            tot = combine_losses(seg_l, dec_l, is_seg, 0.9, 0.001)
            sync()
            t.append(time.perf_counter())
            tot.sum().backward()
            sync()
            t.append(time.perf_counter())
            opt.step()
            opt.zero_grad(set_to_none=True)
            sync()
            t.append(time.perf_counter())
            with torch.no_grad():
                correct = ((cls_logit.detach().float().view(-1) > 0).float() == b["label"].view(-1)).sum().item()
                sums += [float((seg_l * is_seg).sum()), float(is_seg.sum()), float(dec_l.sum()),
                         float(tot.sum()), correct, len(dec_l)]
            t.append(time.perf_counter())
            events.emit("step", epoch=1, epochs=1, step=step + 1, steps=warmup + steps, loss=sums[3] / sums[5],
                        images_per_s=1.0, eta_s=0.0)
            t.append(time.perf_counter())
            if prof:
                prof.__exit__(None, None, None)
            if not timed:
                continue
            d = [t[i + 1] - t[i] for i in range(len(t) - 1)]
            times["data"] += d[0]
            times["model"] += d[1] + d[3]  # forward + backward
            times["losses"] += d[2]
            times["optimiser"] += d[4]
            times["metrics"] += d[5]
            times["events"] += d[6]
            total += t[-1] - t[0]
            avg = prof.key_averages()
            conv_s += sum(e.self_cpu_time_total for e in avg if _is_conv(e.key)) / 1e6
            profiled_s += sum(e.self_cpu_time_total for e in avg) / 1e6
    outside = sum(times[p] for p in PHASES if p != "model")
    return {
        "kind": "breakdown", "device": device, "size": size, "batch": batch, "precision": precision, "steps": steps,
        "step_s": total / steps, "phase_s": {p: v / steps for p, v in times.items()},
        "outside_share": outside / total,
        # convolution kernels' share of the profiled CPU time (profiler totals include its own overhead)
        "conv_share": conv_s / profiled_s if profiled_s else float("nan"),
    }


def print_breakdown(r: dict) -> None:
    print(f"step {r['step_s']:.3f} s ({r['device']}, {r['size']}x{r['size']}, batch {r['batch']}, "
          f"{r['precision']}, {r['steps']} timed step(s))")
    for p, v in r["phase_s"].items():
        print(f"  {p:10s} {v * 1000:9.1f} ms  {100 * v / r['step_s']:5.1f} %")
    print(f"  convolution kernels: {100 * r['conv_share']:.1f} % of the profiled CPU time; the model's other layers "
          f"(norms, activations, pooling, upsampling) are the rest of 'model'")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=448)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--data", help="dataset folder (default: a small synthetic one at --size)")
    ap.add_argument("--json", action="store_true", help="print the result as one RESULT json line too")
    args = ap.parse_args(argv)
    import torch

    from trainer.training.device import resolve_precision, set_cpu_threads

    set_cpu_threads()
    precision = resolve_precision(args.precision, torch.device(args.device))
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data
        if not data:
            from trainer.datasets.synthetic import make_synthetic_dataset

            n = max(2, (args.steps + args.warmup) * args.batch)
            data = make_synthetic_dataset(Path(tmp) / "syn", n_train_pos=n, n_train_neg=n, n_val_pos=1, n_val_neg=1,
                                          n_test_pos=1, n_test_neg=1, size=(args.size, args.size), seed=7)
        r = measure_breakdown(data, args.size, args.batch, precision, args.steps, args.warmup, args.device)
    print_breakdown(r)
    if args.json:
        print("RESULT " + json.dumps(r), flush=True)
    print(f"outside the model (data, losses, optimiser, events, metrics): {100 * r['outside_share']:.1f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
