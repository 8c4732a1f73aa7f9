#!/usr/bin/env python
"""Training speed of SegDecNet: images/s, achieved TFLOP/s against the machine's matmul peak, peak memory, and
data-loading stalls.

What it measures (each configuration in its own subprocess, so peak RSS is per configuration):

* training images/s = forward + backward + SGD step (batch 1 unless ``--batch``), the published run's loss
  (BCE seg + 0.01 * BCE cls, gradient adjustment on), for both architectures, in fp32 (contiguous) and in bf16
  autocast + channels_last, on the CPU and, when ``torch.cuda.is_available()``, on CUDA;
* achieved model TFLOP/s = ``trainer.training.summary.flops_per_image`` (forward + backward, FlopCounterMode) x images/s, next
  to the machine's own bf16 and fp32 matmul TFLOP/s (a timed ``torch.matmul`` of large square matrices, measured in
  the same run), as a ratio;
* peak RSS (``resource.getrusage``; includes ~0.25 GB for ``import torch``) and, on CUDA, peak allocated GPU memory;
* data-loading stall: a DataLoader over ``trainer.training.dataset.CrackDataset`` of a synthetic dataset
  (``trainer.datasets.synthetic.make_synthetic_dataset``) feeding the auto-precision upsampling model; the share of step time
  spent waiting for the next batch, for a few ``num_workers`` values.

The last line is the headline: ``train upsampling <size> auto-precision: N img/s`` ("auto" = bf16 where the hardware
supports it fast: the rule of ``trainer.training.capability.auto_precision`` -- CUDA with bf16, or a CPU with native
bf16 (AMX/AVX512-BF16) whose timed convolution ran faster in bf16). A "step breakdown" section
(``benchmarks/step_breakdown.py``) prints the share of the trainer's step spent outside the model (target < 5 %).

Usage::

    python benchmarks/train_speed.py                 # 448x448, 2 warm-up + 5 timed steps per configuration
    python benchmarks/train_speed.py --quick         # CI-sized: 128x128, 1 + 2 steps
    python benchmarks/train_speed.py --batch 4 --steps 10 --device cuda --json out.json
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PUBLISHED_TRAIN_IMAGES = 7908  # train split of the published run
PUBLISHED_EPOCHS = 50
PUBLISHED_SECONDS_PER_EPOCH = 1600  # from the published logs (GPU, batch 1, 448x448)


# --------------------------------------------------------------------------------------------------------------------
# helpers (used in the main process and in the workers)
# --------------------------------------------------------------------------------------------------------------------
def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _cpu_seconds() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _load_average() -> str:
    try:
        return "load average " + ", ".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:
        return "load average unknown"


def _peak_rss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024.0 if sys.platform != "darwin" else kb / (1024.0 * 1024.0)


def bf16_supported(device_type: str) -> bool:
    import torch

    if device_type == "cuda":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except Exception:
        return False


def auto_precision(device_type: str) -> str:
    """The same rule as training's precision = "auto" (trainer.training.device.resolve_precision)."""
    import torch

    from trainer.training.device import resolve_precision

    return resolve_precision("auto", torch.device(device_type))


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_matmul(device_type: str, dtype_name: str, n: int, min_seconds: float = 0.5) -> dict:
    """TFLOP/s of ``torch.matmul`` on two n x n matrices after a warm-up: ``tflops`` from the median repeat and
    ``best_tflops`` from the fastest, which is the peak estimate (on a shared machine the median is a worse moment)."""
    import torch

    device = torch.device(device_type)
    dtype = {"bf16": torch.bfloat16, "fp32": torch.float32}[dtype_name]
    g = torch.Generator(device="cpu").manual_seed(0)
    a = torch.randn(n, n, generator=g).to(device=device, dtype=dtype)
    b = torch.randn(n, n, generator=g).to(device=device, dtype=dtype)
    for _ in range(2):
        torch.matmul(a, b)
    _sync(device)
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < 3 or (time.perf_counter() - start < min_seconds and len(times) < 200):
        t0 = time.perf_counter()
        torch.matmul(a, b)
        _sync(device)
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    return {"n": n, "dtype": dtype_name, "device": device_type, "seconds": med, "reps": len(times),
            "tflops": 2.0 * n ** 3 / med / 1e12, "best_tflops": 2.0 * n ** 3 / min(times) / 1e12}


def _make_model(arch: str, size: int, device, precision: str):
    import torch

    from trainer.training.model import SegDecNet

    torch.manual_seed(0)
    model = SegDecNet(arch, "avg", 3, size, size).to(device)
    model.set_gradient_multiplier(0.0)  # gradient_adjustment = true, as in the published run
    if precision == "bf16":
        model = model.to(memory_format=torch.channels_last)
    model.train()
    return model


def _train_step(model, opt, images, masks, labels, device, precision):
    import torch
    import torch.nn.functional as F

    if precision == "bf16":
        images = images.contiguous(memory_format=torch.channels_last)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=(precision == "bf16")):
        cls, seg = model(images)
    if seg.shape[-2:] != masks.shape[-2:]:  # "original": 1/8 resolution soft targets
        masks = F.avg_pool2d(masks, 8)
    loss = F.binary_cross_entropy_with_logits(seg, masks) + 0.01 * F.binary_cross_entropy_with_logits(cls, labels)
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    return loss


# --------------------------------------------------------------------------------------------------------------------
# workers (each runs in its own process)
# --------------------------------------------------------------------------------------------------------------------
def worker_train(cfg: dict) -> dict:
    """Compute-only training speed of one (device, architecture, precision) on in-memory random inputs."""
    import torch

    from trainer.training.summary import flops_per_image

    device = torch.device(cfg["device"])
    if cfg.get("threads"):
        torch.set_num_threads(int(cfg["threads"]))
    size, batch, precision = cfg["size"], cfg["batch"], cfg["precision"]
    model = _make_model(cfg["arch"], size, device, precision)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    g = torch.Generator(device="cpu").manual_seed(1)
    images = torch.rand(batch, 3, size, size, generator=g).to(device)
    masks = (torch.rand(batch, 1, size, size, generator=g) > 0.95).float().to(device)
    labels = torch.ones(batch, device=device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    for _ in range(cfg["warmup"]):
        loss = _train_step(model, opt, images, masks, labels, device, precision)
    _sync(device)
    step_times = []
    cpu_start = _cpu_seconds()
    t_start = time.perf_counter()
    for _ in range(cfg["steps"]):
        t0 = time.perf_counter()
        loss = _train_step(model, opt, images, masks, labels, device, precision)
        if device.type == "cpu":
            step_times.append(time.perf_counter() - t0)
    _sync(device)
    total = time.perf_counter() - t_start
    cpu_used = _cpu_seconds() - cpu_start
    img_s = cfg["steps"] * batch / total
    flops = flops_per_image(model, (size, size), train=True)
    out = {
        "kind": "train", "device": device.type, "arch": cfg["arch"], "precision": precision, "size": size,
        "batch": batch, "steps": cfg["steps"], "threads": torch.get_num_threads(),
        "img_s": img_s, "step_s": total / cfg["steps"],
        "step_s_median": statistics.median(step_times) if step_times else total / cfg["steps"],
        "gflop_per_img": flops / 1e9, "model_tflops": flops * img_s / 1e12,
        "peak_rss_mb": _peak_rss_mb(), "final_loss": float(loss.detach()),
        "cpu_s_per_step": cpu_used / cfg["steps"],
        # images/s had the process had its threads' cores to itself (process CPU time / threads); an estimate for a
        # shared machine. OpenMP spin-waiting counts as CPU time, so this is still conservative.
        "img_s_cpu_time": cfg["steps"] * batch / max(cpu_used / torch.get_num_threads(), 1e-9),
    }
    if device.type == "cuda":
        out["cuda_peak_mb"] = torch.cuda.max_memory_allocated(device) / 2 ** 20
        out["gpu"] = torch.cuda.get_device_name(device)
    return out


def worker_stall(cfg: dict) -> dict:
    """Train the auto-precision upsampling model from a DataLoader; time spent waiting for batches vs. step time."""
    import torch
    from torch.utils.data import DataLoader

    from trainer.training.dataset import CrackDataset
    from trainer.datasets.layouts import open_dataset

    device = torch.device(cfg["device"])
    if cfg.get("threads"):
        torch.set_num_threads(int(cfg["threads"]))
    size, batch, precision, workers = cfg["size"], cfg["batch"], cfg["precision"], cfg["num_workers"]
    index = open_dataset(cfg["data"])
    ds = CrackDataset(index.split("train"), (size, size))
    model = _make_model("upsampling", size, device, precision)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    pin = device.type == "cuda"
    loader = DataLoader(ds, batch_size=batch, shuffle=True, num_workers=workers, pin_memory=pin,
                        drop_last=True, persistent_workers=workers > 0,
                        generator=torch.Generator().manual_seed(0))
    n_total = cfg["warmup"] + cfg["steps"]
    it = iter(loader)
    waits, totals = [], []
    t_first = time.perf_counter()
    for step in range(n_total):
        _sync(device)
        t0 = time.perf_counter()
        try:
            b = next(it)
        except StopIteration:  # a new epoch: starting the iterator is part of the waiting
            it = iter(loader)
            b = next(it)
        t1 = time.perf_counter()
        images = b["image"].to(device, non_blocking=pin)
        masks = b["mask"].to(device, non_blocking=pin)
        labels = b["label"].to(device, non_blocking=pin)
        _train_step(model, opt, images, masks, labels, device, precision)
        _sync(device)
        t2 = time.perf_counter()
        if step >= cfg["warmup"]:
            waits.append(t1 - t0)
            totals.append(t2 - t0)
    del it, loader
    return {
        "kind": "stall", "device": device.type, "precision": precision, "size": size, "batch": batch,
        "num_workers": workers, "steps": len(totals), "threads": torch.get_num_threads(),
        "wait_share": sum(waits) / sum(totals), "wait_ms_mean": 1000 * statistics.mean(waits),
        "step_s": statistics.mean(totals), "img_s": batch * len(totals) / sum(totals),
        "wall_s": time.perf_counter() - t_first, "peak_rss_mb": _peak_rss_mb(),
    }


def _run_worker(cfg: dict, timeout: float) -> dict:
    """Run one configuration in a fresh Python process; return its JSON result (or an error record)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(cfg)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=str(ROOT))
    except subprocess.TimeoutExpired:
        return {**cfg, "error": f"timed out after {timeout:.0f} s"}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    return {**cfg, "error": f"exit code {proc.returncode}: " + " | ".join(tail)}


# --------------------------------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------------------------------
def _make_stall_dataset(out_dir: Path, n_images: int, size: int) -> Path:
    from trainer.datasets.synthetic import make_synthetic_dataset

    n_pos = max(1, (n_images * 3) // 4)
    n_neg = max(1, n_images - n_pos)
    return Path(make_synthetic_dataset(out_dir, n_train_pos=n_pos, n_train_neg=n_neg, n_val_pos=1, n_val_neg=1,
                                       n_test_pos=1, n_test_neg=1, size=(size, size), seed=7))


def _fmt(v, spec=".2f", none="-"):
    return none if v is None else format(v, spec)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=None, help="timed steps per configuration (default 5; quick 2)")
    ap.add_argument("--warmup", type=int, default=None, help="untimed warm-up steps (default 2; quick 1)")
    ap.add_argument("--size", type=int, default=None, help="input height = width (default 448; quick 128)")
    ap.add_argument("--batch", type=int, default=1, help="images per step (default 1, as the published run)")
    ap.add_argument("--quick", action="store_true", help="CI-sized run: 128x128, 1 warm-up + 2 timed steps")
    ap.add_argument("--device", choices=["auto", "cpu", "cuda", "all"], default="all",
                    help="all (default) = CPU and, if present, CUDA; auto = CUDA if present else CPU")
    ap.add_argument("--archs", default="original,upsampling", help="comma-separated architectures")
    ap.add_argument("--precisions", default="fp32,bf16",
                    help="comma-separated: fp32 (contiguous) and/or bf16 (autocast + channels_last)")
    ap.add_argument("--threads", type=int, default=None, help="CPU threads (default: all usable cores)")
    ap.add_argument("--stall-workers", default=None,
                    help="DataLoader num_workers values for the stall test (default CPU 0,2; CUDA 0,4,8)")
    ap.add_argument("--stall-batch", type=int, default=None, help="batch for the stall test (default --batch)")
    ap.add_argument("--stall-steps", type=int, default=None, help="timed steps of the stall test (default --steps)")
    ap.add_argument("--no-stall", action="store_true", help="skip the data-loading stall test")
    ap.add_argument("--matmul-n", type=int, default=None, help="matrix size (default CPU 2048, CUDA 8192)")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per configuration before giving up")
    ap.add_argument("--json", type=Path, default=None, help="also write every result to this JSON file")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.worker is not None:
        cfg = json.loads(args.worker)
        if cfg["kind"] == "breakdown":
            from benchmarks.step_breakdown import measure_breakdown

            res = measure_breakdown(cfg["data"], cfg["size"], cfg["batch"], cfg["precision"], cfg["steps"],
                                    cfg["warmup"], cfg["device"])
        else:
            res = worker_train(cfg) if cfg["kind"] == "train" else worker_stall(cfg)
        print("RESULT " + json.dumps(res), flush=True)
        return 0

    import torch

    size = args.size or (128 if args.quick else 448)
    steps = args.steps or (2 if args.quick else 5)
    warmup = args.warmup if args.warmup is not None else (1 if args.quick else 2)
    if size % 8 or size < 64:
        ap.error(f"--size {size}: must be a multiple of 8 and at least 64")
    if args.batch < 1 or steps < 1 or warmup < 0:
        ap.error("--batch and --steps must be >= 1, --warmup >= 0")
    archs = [a.strip() for a in args.archs.split(",") if a.strip()]
    precisions = [p.strip() for p in args.precisions.split(",") if p.strip()]
    for a in archs:
        if a not in ("original", "upsampling"):
            ap.error(f"--archs: unknown architecture {a!r} (original, upsampling)")
    for p in precisions:
        if p not in ("fp32", "bf16"):
            ap.error(f"--precisions: unknown precision {p!r} (fp32, bf16)")
    has_cuda = torch.cuda.is_available()
    if args.device == "cuda" and not has_cuda:
        ap.error("--device cuda: torch sees no CUDA device here")
    devices = {"cpu": ["cpu"], "cuda": ["cuda"], "auto": ["cuda" if has_cuda else "cpu"],
               "all": ["cpu"] + (["cuda"] if has_cuda else [])}[args.device]
    threads = args.threads or _cpu_count()
    torch.set_num_threads(threads)
    headline_device = "cuda" if "cuda" in devices else "cpu"

    print(f"# train_speed: torch {torch.__version__}, Python {platform.python_version()}, "
          f"{platform.processor() or platform.machine()}, {threads} CPU thread(s) of {os.cpu_count()}")
    print(f"# input {size}x{size}, batch {args.batch}, {warmup} warm-up + {steps} timed steps per configuration; "
          f"devices: {', '.join(devices)}")
    for dev in devices:
        extra = f" ({torch.cuda.get_device_name(0)})" if dev == "cuda" else ""
        print(f"# {dev}{extra}: bf16 supported = {bf16_supported(dev)}, auto precision = {auto_precision(dev)}")
    if "cpu" in devices:
        try:
            print(f"# cpu: AMX = {torch.cpu._is_amx_tile_supported()}, "
                  f"capability = {torch.backends.cpu.get_cpu_capability()}")
        except Exception:
            pass
    print(f"# the CPU may be shared with other work ({_load_average()} on {os.cpu_count()} cores): wall-clock CPU "
          "figures are then a lower bound; img/s(cpu-time) = images per second of this process's own CPU time "
          "/ threads", flush=True)

    results: dict = {"size": size, "batch": args.batch, "steps": steps, "warmup": warmup, "threads": threads,
                     "torch": torch.__version__, "matmul": [], "train": [], "stall": []}

    # ---- machine peak: matmul ----
    print("\n## matmul peak (torch.matmul, n x n; peak = fastest repeat, median shown too)")
    peaks: dict[tuple[str, str], float] = {}
    for dev in devices:
        n = args.matmul_n or ((512 if args.quick else 2048) if dev == "cpu" else 8192)
        # bf16 only when asked for: on a CPU that emulates it (AVX2 only) one 2048 bf16 matmul takes about a minute
        for prec in [p for p in ("bf16", "fp32") if p in precisions or p == "fp32"]:
            r = measure_matmul(dev, prec, n, min_seconds=0.3 if args.quick else 2.0)
            peaks[(dev, prec)] = r["best_tflops"]
            results["matmul"].append(r)
            note = ""
            if dev == "cuda" and prec == "fp32":
                note = f" (float32_matmul_precision = {torch.get_float32_matmul_precision()})"
            print(f"{dev:5s} {prec:5s} n={n:5d}: peak {r['best_tflops']:8.3f} TFLOP/s (median {r['tflops']:.3f}, "
                  f"{r['reps']} reps){note}", flush=True)

    # ---- training speed ----
    print("\n## training speed (forward + backward + SGD step; random in-memory inputs)")
    header = (f"{'device':6s} {'arch':10s} {'precision':22s} {'img/s':>8s} {'s/step':>8s} {'GFLOP/img':>9s} "
              f"{'TFLOP/s':>8s} {'of matmul':>9s} {'peak RSS':>9s} {'GPU mem':>8s} {'img/s(cpu-time)':>15s}")
    print(header)
    by_key: dict[tuple[str, str, str], dict] = {}
    for dev in devices:
        for arch in archs:
            for prec in precisions:
                cfg = {"kind": "train", "device": dev, "arch": arch, "precision": prec, "size": size,
                       "batch": args.batch, "steps": steps, "warmup": warmup, "threads": threads}
                r = _run_worker(cfg, args.timeout)
                results["train"].append(r)
                label = "bf16 autocast+ch_last" if prec == "bf16" else "fp32"
                if "error" in r:
                    print(f"{dev:6s} {arch:10s} {label:22s} FAILED: {r['error']}", flush=True)
                    continue
                by_key[(dev, arch, prec)] = r
                r["matmul_tflops"] = peaks[(dev, prec)]
                r["ratio_to_matmul"] = r["model_tflops"] / peaks[(dev, prec)]
                gpu = f"{r['cuda_peak_mb'] / 1024:.2f} GB" if "cuda_peak_mb" in r else "-"
                cpu_est = f"{r['img_s_cpu_time']:.3f}" if dev == "cpu" else "-"
                print(f"{dev:6s} {arch:10s} {label:22s} {r['img_s']:8.3f} {r['step_s']:8.3f} "
                      f"{r['gflop_per_img']:9.1f} {r['model_tflops']:8.3f} {100 * r['ratio_to_matmul']:8.1f}% "
                      f"{r['peak_rss_mb'] / 1024:7.2f} GB {gpu:>8s} {cpu_est:>15s}", flush=True)

    # ---- data-loading stalls ----
    if not args.no_stall:
        print("\n## data-loading stall (DataLoader over CrackDataset of a synthetic dataset -> upsampling, "
              "auto precision)")
        with tempfile.TemporaryDirectory(prefix="train_speed_") as tmp:
            stall_batch = args.stall_batch or args.batch
            stall_steps = args.stall_steps or steps
            n_images = max(4, (warmup + stall_steps) * stall_batch)
            t0 = time.perf_counter()
            try:
                data = _make_stall_dataset(Path(tmp) / "synthetic", n_images, size)
            except Exception as e:  # noqa: BLE001 - report and go on with the headline
                print(f"could not build the synthetic dataset: {type(e).__name__}: {e}")
                data = None
            if data is not None:
                print(f"# synthetic dataset: {n_images} train images at {size}x{size} "
                      f"(generated in {time.perf_counter() - t0:.1f} s)")
                print(f"{'device':6s} {'workers':>7s} {'batch':>5s} {'img/s':>8s} {'s/step':>8s} "
                      f"{'wait ms':>8s} {'wait share':>10s}")
                for dev in devices:
                    default_workers = "0,2" if dev == "cpu" else "0,4,8"
                    for w in [int(v) for v in (args.stall_workers or default_workers).split(",") if v.strip()]:
                        cfg = {"kind": "stall", "device": dev, "precision": auto_precision(dev), "size": size,
                               "batch": stall_batch, "steps": stall_steps, "warmup": warmup, "threads": threads,
                               "num_workers": w, "data": str(data)}
                        r = _run_worker(cfg, args.timeout)
                        results["stall"].append(r)
                        if "error" in r:
                            print(f"{dev:6s} {w:7d} FAILED: {r['error']}", flush=True)
                            continue
                        print(f"{dev:6s} {w:7d} {stall_batch:5d} {r['img_s']:8.3f} {r['step_s']:8.3f} "
                              f"{r['wait_ms_mean']:8.1f} {100 * r['wait_share']:9.1f}%", flush=True)
                print("\n## step breakdown (the trainer's step: data, model, losses, optimiser, metrics, events; "
                      "target: outside the model < 5 %)")
                for dev in devices:
                    r = _run_worker({"kind": "breakdown", "device": dev, "precision": auto_precision(dev),
                                     "size": size, "batch": stall_batch, "steps": min(stall_steps, 3),
                                     "warmup": 1, "data": str(data)}, args.timeout)
                    results.setdefault("breakdown", []).append(r)
                    if "error" in r:
                        print(f"{dev}: FAILED: {r['error']}", flush=True)
                        continue
                    from benchmarks.step_breakdown import print_breakdown

                    print_breakdown(r)
                    print(f"  outside the model (data, losses, optimiser, events, metrics): "
                          f"{100 * r['outside_share']:.1f} % of the step", flush=True)

    # ---- projection and headline ----
    auto = auto_precision(headline_device)
    head = by_key.get((headline_device, "upsampling", auto))
    if head is None and "upsampling" in archs and auto in precisions:
        print(f"\nno result for upsampling/{auto} on {headline_device}")
    if head is not None and size == 448:
        epoch_s = PUBLISHED_TRAIN_IMAGES / head["img_s"]
        print(f"\n## projection: published run ({PUBLISHED_TRAIN_IMAGES} train images x {PUBLISHED_EPOCHS} epochs, "
              f"training compute only, no validation)")
        print(f"{headline_device} upsampling {auto}: {epoch_s / 60:.1f} min/epoch, "
              f"{epoch_s * PUBLISHED_EPOCHS / 3600:.1f} h for {PUBLISHED_EPOCHS} epochs "
              f"(published: {PUBLISHED_SECONDS_PER_EPOCH / 60:.0f} min/epoch, "
              f"{PUBLISHED_SECONDS_PER_EPOCH * PUBLISHED_EPOCHS / 3600:.1f} h)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
        print(f"\nresults written to {args.json}")
    print(f"# finished at {_load_average()}")
    value = head["img_s"] if head is not None else float("nan")
    print(f"train upsampling {size} auto-precision: {value:.2f} img/s")
    return 0 if head is not None else 1


if __name__ == "__main__":
    sys.exit(main())
