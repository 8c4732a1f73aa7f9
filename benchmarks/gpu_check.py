"""One prepared check of the CUDA path, under 8 minutes on one GPU: prints a table as it goes.

Stages (each in its own subprocess with a time box, so a hang, an OOM or a failed compile costs only its box):
training img/s at 448x448 for batch 1, 8, 32 in fp32 and bf16 + channels_last (cudnn.benchmark on), the same with
torch.compile (bf16, batch 8, compile time-boxed); inference img/s; DataLoader img/s with 4, 8 and 16 workers
on real JPEGs (--data, else ./shared/data/cracks, else generated synthetic JPEGs); a validation pass on the GPU
(trainer.evaluate.evaluate_split on a few hundred images); a one-GPU torchrun run of `trainer train` plus an NCCL
all_reduce; peak GPU memory. The LAST line is the projected time of the published run (50 epochs of 7,908
training images plus 11 validations of 1,695 images) at the fastest measured training configuration:
`published run projected: N min`. Without a GPU it prints a "no GPU: ..." line and exits 0.

Usage: python3 benchmarks/gpu_check.py [--data DIR] [--budget 450]   (or bash benchmarks/gpu_check.sh)
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HW = (448, 448)
PUBLISHED_TRAIN, PUBLISHED_EPOCHS, PUBLISHED_VAL, PUBLISHED_VALIDATIONS = 7908, 50, 1695, 11


def say(text: str = "") -> None:
    print(text, flush=True)


# --------------------------------------------------------------------------------------------------------------
# stages (run in a child process: `gpu_check.py --stage NAME --arg JSON`); each prints one JSON line per result
# --------------------------------------------------------------------------------------------------------------
def _emit(**row) -> None:
    print("RESULT " + json.dumps(row), flush=True)


def _model(channels_last: bool):
    import torch

    from trainer.training.model import SegDecNet

    torch.manual_seed(0)
    m = SegDecNet(architecture="upsampling", in_channels=3, input_height=HW[0], input_width=HW[1]).cuda()
    m.set_gradient_multiplier(0.0)
    if channels_last:
        m = m.to(memory_format=torch.channels_last)
    return m


def _batch(b: int, channels_last: bool):
    import torch

    x = torch.rand(b, 3, *HW, device="cuda")
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    mask = (torch.rand(b, 1, *HW, device="cuda") > 0.97).float()
    return dict(image=x, mask=mask, seg_weight=torch.ones_like(mask), label=torch.ones(b, device="cuda"),
                is_segmented=torch.ones(b, device="cuda"))


def _train_rate(model, b: int, precision: str, channels_last: bool, seconds: float) -> tuple[float, float]:
    import torch

    from trainer.training.losses import combine_losses, sample_losses

    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    batch = _batch(b, channels_last)

    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=precision == "bf16"):
            cls_logit, seg_logits = model(batch["image"])
        seg_l, dec_l = sample_losses(cls_logit, seg_logits, batch, False)
        combine_losses(seg_l, dec_l, batch["is_segmented"], 0.9, 0.001).sum().backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    t_first = time.perf_counter()
    for _ in range(3):
        step()
    torch.cuda.synchronize()
    warm = time.perf_counter() - t_first
    torch.cuda.reset_peak_memory_stats()
    n, t0 = 0, time.perf_counter()
    while n < 5 or (time.perf_counter() - t0 < seconds and n < 200):
        step()
        n += 1
        if n % 5 == 0:
            torch.cuda.synchronize()
    torch.cuda.synchronize()
    return n * b / (time.perf_counter() - t0), warm


def stage_train(arg: dict) -> None:
    import torch

    torch.backends.cudnn.benchmark = True
    for precision, cl in (("bf16", True), ("fp32", False)):
        for b in (1, 8, 32):
            model = None
            try:
                model = _model(cl)
                rate, warm = _train_rate(model, b, precision, cl, arg.get("seconds", 4.0))
                _emit(stage="train", config=f"{precision}{' + channels_last' if cl else ''}", batch=b,
                      img_s=rate, warmup_s=warm, peak_gb=torch.cuda.max_memory_allocated() / 2**30)
            except torch.cuda.OutOfMemoryError:
                _emit(stage="train", config=precision, batch=b, error="out of GPU memory")
            del model
            torch.cuda.empty_cache()


def stage_compile(arg: dict) -> None:
    import torch

    torch.backends.cudnn.benchmark = True
    b = arg.get("batch", 8)
    model = torch.compile(_model(True))
    rate, warm = _train_rate(model, b, "bf16", True, arg.get("seconds", 4.0))
    _emit(stage="train", config="bf16 + channels_last + compile", batch=b, img_s=rate, warmup_s=warm,
          peak_gb=torch.cuda.max_memory_allocated() / 2**30)


def stage_infer(arg: dict) -> None:
    import torch

    torch.backends.cudnn.benchmark = True
    for precision, cl in (("bf16", True), ("fp32", False)):
        model = _model(cl).eval()
        x = _batch(32, cl)["image"]
        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=precision == "bf16"):
            for _ in range(3):
                model(x)
            torch.cuda.synchronize()
            n, t0 = 0, time.perf_counter()
            while n < 5 or (time.perf_counter() - t0 < 3.0 and n < 200):
                model(x)
                n += 1
            torch.cuda.synchronize()
        _emit(stage="infer", config=f"{precision}{' + channels_last' if cl else ''}", batch=32,
              img_s=n * 32 / (time.perf_counter() - t0))


def stage_loader(arg: dict) -> None:
    import torch
    from torch.utils.data import DataLoader

    from trainer.datasets.layouts import open_dataset
    from trainer.training.dataset import CrackDataset

    index = open_dataset(arg["data"])
    records = [r for sp in ("train", "val", "test") for r in index.split(sp)]
    ds = CrackDataset(records, HW, train=True)
    for workers in (4, 8, 16):
        loader = DataLoader(ds, batch_size=32, shuffle=True, num_workers=workers, pin_memory=True,
                            persistent_workers=False, drop_last=False)
        n, t0, t_first = 0, time.perf_counter(), None
        for batch in loader:
            batch["image"].to("cuda", non_blocking=True)
            if t_first is None:
                t_first = time.perf_counter()
                n0 = len(batch["image"])
                continue
            n += len(batch["image"])
            if time.perf_counter() - t_first > arg.get("seconds", 8.0):
                break
        torch.cuda.synchronize()
        rate = n / max(time.perf_counter() - t_first, 1e-9) if n else n0 / (time.perf_counter() - t0)
        _emit(stage="loader", workers=workers, img_s=rate, images=len(ds), startup_s=t_first - t0)


def stage_validation(arg: dict) -> None:
    import torch

    from trainer.datasets.layouts import open_dataset
    from trainer.training.dataset import CrackDataset
    from trainer.training.evaluate import evaluate_split

    torch.backends.cudnn.benchmark = True
    index = open_dataset(arg["data"])
    records = [r for sp in ("test", "val", "train") for r in index.split(sp)][: arg.get("n", 300)]
    ds = CrackDataset(records, HW, train=False)
    model = _model(True).eval()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        evaluate_split(model, ds, Path(tmp) / "eval", seg_threshold=None, device=torch.device("cuda"),
                       precision="bf16", channels_last=True, write_maps=False, batch_size=16, num_workers=8)
        seconds = time.perf_counter() - t0
    _emit(stage="validation", images=len(ds), seconds=seconds, img_s=len(ds) / seconds,
          peak_gb=torch.cuda.max_memory_allocated() / 2**30)


def stage_nccl(arg: dict) -> None:  # run under torchrun
    import torch
    import torch.distributed as dist

    torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group("nccl")
    t = torch.ones(1 << 20, device="cuda")
    dist.all_reduce(t)
    torch.cuda.synchronize()
    _emit(stage="nccl", backend=dist.get_backend(), world=dist.get_world_size(), ok=bool(t[0].item() == 1.0))
    dist.destroy_process_group()


STAGES = dict(train=stage_train, compile=stage_compile, infer=stage_infer, loader=stage_loader,
              validation=stage_validation, nccl=stage_nccl)


# --------------------------------------------------------------------------------------------------------------
# the parent: time boxes, the table, the projection
# --------------------------------------------------------------------------------------------------------------
def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _run(cmd: list[str], box: float, label: str) -> list[dict]:
    """Run a child, echo its result rows as they come; on timeout or failure print why and keep what came."""
    rows: list[dict] = []
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    tail: list[str] = []
    try:
        import selectors

        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        while True:
            left = box - (time.perf_counter() - t0)
            if left <= 0:
                raise subprocess.TimeoutExpired(cmd, box)
            if not sel.select(timeout=min(left, 1.0)):
                if proc.poll() is not None:
                    break
                continue
            line = proc.stdout.readline()
            if not line:
                break
            if line.startswith("RESULT "):
                row = json.loads(line[7:])
                rows.append(row)
                say("  " + _row_text(row))
            else:
                tail = (tail + [line.rstrip()])[-8:]
        proc.wait(timeout=max(1.0, box - (time.perf_counter() - t0)))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        say(f"  {label}: stopped at its {box:.0f} s time box (partial results above)")
        return rows
    if proc.returncode:
        say(f"  {label}: failed (exit {proc.returncode}): " + " | ".join(tail[-4:]))
    return rows


def _row_text(r: dict) -> str:
    if "error" in r:
        return f"{r['stage']:<10} {r.get('config', ''):<34} batch {r.get('batch', '')}: {r['error']}"
    if r["stage"] in ("train", "infer"):
        extra = f"  peak {r['peak_gb']:.2f} GB" if "peak_gb" in r else ""
        extra += f"  warm-up {r['warmup_s']:.1f} s" if "warmup_s" in r else ""
        return f"{r['stage']:<10} {r['config']:<34} batch {r['batch']:>2}: {r['img_s']:8.1f} img/s{extra}"
    if r["stage"] == "loader":
        return (f"{'loader':<10} {r['workers']:>2} workers, batch 32, {r['images']} JPEGs: {r['img_s']:8.1f} img/s "
                f"(first batch after {r['startup_s']:.1f} s)")
    if r["stage"] == "validation":
        return (f"{'validation':<10} evaluate_split of {r['images']} images (bf16, batch 16, 8 workers): "
                f"{r['seconds']:.1f} s = {r['img_s']:.1f} img/s, peak {r['peak_gb']:.2f} GB")
    if r["stage"] == "nccl":
        return f"{'nccl':<10} all_reduce under torchrun: backend {r['backend']}, world {r['world']}, ok {r['ok']}"
    return json.dumps(r)


def _dataset(arg_data: str | None, tmp: Path) -> Path:
    if arg_data:
        if not Path(arg_data).is_dir():
            raise SystemExit(f"error: --data {arg_data}: no such folder")
        return Path(arg_data)
    for cand in (ROOT / "shared" / "data" / "cracks", ROOT / "shared" / "cracks"):
        if cand.is_dir():
            return cand
    from trainer.datasets.synthetic import make_synthetic_dataset

    out = tmp / "synthetic"
    say(f"  no real data found: generating 300 synthetic {HW[0]}x{HW[1]} JPEGs in {out}")
    make_synthetic_dataset(out, n_train_pos=120, n_train_neg=60, n_val_pos=40, n_val_neg=20, n_test_pos=40,
                           n_test_neg=20, size=HW, seed=3, image_ext=".jpg")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help="a dataset folder with JPEGs (default ./shared/data/cracks, else synthetic)")
    ap.add_argument("--budget", type=float, default=450.0, help="total seconds for all stages (default 450)")
    ap.add_argument("--stage", choices=sorted(STAGES), help=argparse.SUPPRESS)
    ap.add_argument("--arg", default="{}", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.stage:
        STAGES[args.stage](json.loads(args.arg))
        return 0

    try:
        import torch
    except ImportError:
        say(f"error: torch is not installed for {sys.executable}; install it (e.g. pip install --no-index "
            f"--find-links WHEELS_DIR torch numpy opencv-python-headless scikit-learn) or set PYTHON=...")
        return 2
    if not torch.cuda.is_available():
        say(f"no GPU: torch {torch.__version__} sees no CUDA device (torch.cuda.is_available() is False); "
            f"nothing to measure on this machine")
        return 0

    t_start = time.perf_counter()
    deadline = t_start + args.budget
    props = torch.cuda.get_device_properties(0)
    say(f"GPU: {props.name}, {props.total_memory / 2**30:.0f} GiB, torch {torch.__version__}, "
        f"CUDA {torch.version.cuda}, "
        f"cuDNN {torch.backends.cudnn.version()}, bf16 {torch.cuda.is_bf16_supported()}, "
        f"{os.cpu_count()} CPU cores")
    me = [sys.executable, str(Path(__file__).resolve())]
    rows: list[dict] = []

    def box(want: float) -> float:
        return max(5.0, min(want, deadline - time.perf_counter()))

    say("training, 448x448 (cudnn.benchmark):")
    rows += _run(me + ["--stage", "train", "--arg", json.dumps({"seconds": 4.0})], box(150), "training")
    rows += _run(me + ["--stage", "compile", "--arg", json.dumps({"batch": 8})], box(100), "torch.compile")
    say("inference, 448x448, batch 32:")
    rows += _run(me + ["--stage", "infer"], box(40), "inference")
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        data = _dataset(args.data, tmp)
        say(f"data loading ({data}):")
        rows += _run(me + ["--stage", "loader", "--arg", json.dumps({"data": str(data), "seconds": 8.0})],
                     box(60), "data loader")
        say("validation pass on the GPU:")
        rows += _run(me + ["--stage", "validation", "--arg", json.dumps({"data": str(data), "n": 300})],
                     box(60), "validation")
        say("torchrun, one GPU:")
        torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=1"]
        rows += _run(torchrun + [str(Path(__file__).resolve()), "--stage", "nccl"], box(40), "nccl")
        t0 = time.perf_counter()
        _run(torchrun + ["-m", "trainer", "train", "--data", str(data), "--out", str(tmp / "run"), "--preset",
                         "quick", "--set", "epochs=1", "--set", "device=cuda", "--set", "input_height=448",
                         "--set", "input_width=448", "--set", "num_workers=8", "--set", "save_images=false"],
             box(90), "torchrun trainer")
        ok = (tmp / "run" / "metrics.json").is_file()
        say(f"  torchrun -m trainer train (1 epoch, quick preset at 448x448): "
            f"{'finished' if ok else 'did not finish'} in {time.perf_counter() - t0:.1f} s")

    train = [r for r in rows if r["stage"] == "train" and "img_s" in r]
    val = [r for r in rows if r["stage"] == "validation"]
    peak = max([r.get("peak_gb", 0.0) for r in rows] or [0.0])
    say(f"peak GPU memory of any stage: {peak:.2f} GB; total {time.perf_counter() - t_start:.0f} s")
    if not train:
        say("published run projected: unknown min (no training figure was measured)")
        return 1
    best = max(train, key=lambda r: r["img_s"])
    b1 = [r for r in train if r["batch"] == 1]
    val_rate = val[0]["img_s"] if val else max(r["img_s"] for r in rows if r["stage"] == "infer") \
        if any(r["stage"] == "infer" for r in rows) else best["img_s"] * 3

    def project(rate: float) -> float:
        return (PUBLISHED_EPOCHS * PUBLISHED_TRAIN / rate + PUBLISHED_VALIDATIONS * PUBLISHED_VAL / val_rate) / 60

    for r in sorted(b1, key=lambda r: -r["img_s"])[:1]:
        say(f"at batch 1 ({r['config']}, the published batch size): {project(r['img_s']):.0f} min")
    say(f"fastest: {best['config']}, batch {best['batch']} ({best['img_s']:.1f} img/s), validation "
        f"{val_rate:.1f} img/s")
    say(f"published run projected: {project(best['img_s']):.0f} min")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
