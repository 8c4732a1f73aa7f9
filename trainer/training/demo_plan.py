"""Size the demo to the machine: time a few training steps, then pick image size, images and epochs.

Training speed differs about 10x between machines (AMX, AVX512-BF16, AVX2 only; see benchmarks/README.md), so a
fixed demo takes 3 minutes on one and 45 on another. ``plan_demo`` times the quick preset's model at two input
sizes on this machine, in the precision training will use, and chooses the largest size and the most images and
epochs that fit the time budget (5 minutes by default, less a reserve for start-up, the test evaluation and the
report, and a margin for other programs loading the machine). ``choose_plan`` is the pure arithmetic.
"""
from __future__ import annotations

import json
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from trainer.config import parse_overrides
from trainer.training.device import autocast, resolve_device, resolve_precision, set_cpu_threads
from trainer.training.losses import combine_losses, sample_losses
from trainer.training.model import SegDecNet

# The whole demo's wall-clock budget, and what is kept back for import, dataset, evaluation and report.
BUDGET_S = 300.0
RESERVE_S = 75.0
# Share of the remaining budget planned for compute: the rest absorbs other load on the machine.
LOAD_MARGIN = 0.6
BATCH = 2  # more optimiser steps per image: the small demo learns sooner than at the quick preset's 4
# Sizes tried, largest first ((height, width)). Below 128 in both dimensions the decision branch's last block sees
# one pixel and the classifier relies on the segmentation's max/mean: a slow or busy machine's last resort.
SIZES = ((128, 128), (128, 96), (128, 64), (96, 64), (64, 64))
# The smallest demo that still learns the synthetic task (test AUC well above 0.8), and the most it uses.
MIN_TRAIN_POS, MAX_TRAIN_POS = 32, 96
MIN_EPOCHS, MAX_EPOCHS = 5, 10
# Validation/test are forward passes: about a third of a training step per image.
EVAL_COST = 0.35
VAL_POS, TEST_POS = 16, 24


@dataclass
class DemoPlan:
    height: int
    width: int
    train_pos: int
    epochs: int
    validation_n_epochs: int
    precision: str
    seconds_per_step: float  # measured at this size and batch
    estimate_s: float  # the whole demo, reserve included
    measured: dict  # "HxW" -> s/step
    threads: int = 0  # CPU threads training uses (0 = all); 1 on a busy machine where it measured faster

    def dataset_counts(self) -> dict:
        """Keyword arguments for trainer.datasets.synthetic.make_synthetic_dataset (2:1 positives to negatives)."""
        return dict(n_train_pos=self.train_pos, n_train_neg=self.train_pos // 2, n_val_pos=VAL_POS,
                    n_val_neg=VAL_POS // 2, n_test_pos=TEST_POS, n_test_neg=TEST_POS // 2,
                    size=(self.height, self.width))

    def overrides(self) -> list[str]:
        """--set items for the quick preset."""
        return [f"input_height={self.height}", f"input_width={self.width}", f"epochs={self.epochs}",
                f"validation_n_epochs={self.validation_n_epochs}", f"batch_size={BATCH}"]

    def explain(self) -> str:
        m, s = divmod(int(round(self.estimate_s)), 60)
        threads = f", {self.threads} thread(s)" if self.threads else ""
        return (f"measured {self.seconds_per_step:.2f} s/step (batch {BATCH}{threads}) at "
                f"{self.height}x{self.width} {self.precision} -> {self.epochs} epochs x "
                f"{self.train_pos * 3 // 2} images, "
                f"estimated {m} min {s:02d} s")


def _train_seconds(s_per_img: float, train_pos: int, epochs: int, val_every: int) -> float:
    samples = train_pos + train_pos // 2  # the sampler's epoch: every positive + as many negatives as exist
    n_val = sum(1 for e in range(epochs) if e % val_every == 0 or e == epochs - 1)  # the trainer's rule
    evals = n_val * (VAL_POS * 3 // 2) + TEST_POS * 3 // 2
    return s_per_img * (epochs * samples + EVAL_COST * evals)


def choose_plan(step_s: dict[tuple[int, int], float], precision: str, budget_s: float = BUDGET_S,
                reserve_s: float = RESERVE_S, spent_s: float = 0.0, margin: float = LOAD_MARGIN) -> DemoPlan:
    """The plan from measured seconds per training step (batch BATCH) at each size of SIZES.

    Picks the largest size whose smallest demo fits ``margin`` of the time left, then grows images and epochs
    up to their maxima. If nothing fits, the smallest demo at the smallest size (and an honest estimate).
    """
    sizes = [s for s in SIZES if s in step_s] or sorted(step_s, key=lambda hw: -hw[0] * hw[1])
    usable = max(1.0, (budget_s - reserve_s - spent_s) * margin)
    for hw in sizes + [None]:
        last = hw is None
        hw = hw or sizes[-1]
        per_img = step_s[hw] / BATCH
        val_every = 2
        if not last and _train_seconds(per_img, MIN_TRAIN_POS, MIN_EPOCHS, val_every) > usable:
            continue
        pos, epochs = MIN_TRAIN_POS, MIN_EPOCHS
        while True:  # grow: images first (more variety), then epochs
            grown = False
            for cand in ((pos + 8, epochs), (pos, epochs + 1)):
                if cand[0] <= MAX_TRAIN_POS and cand[1] <= MAX_EPOCHS and \
                        _train_seconds(per_img, cand[0], cand[1], val_every) <= usable:
                    pos, epochs, grown = cand[0], cand[1], True
                    break
            if not grown:
                break
        compute = _train_seconds(per_img, pos, epochs, val_every)
        estimate = reserve_s + spent_s + compute
        return DemoPlan(hw[0], hw[1], pos, epochs, val_every, precision, step_s[hw], estimate,
                        {f"{h}x{w}": round(v, 3) for (h, w), v in step_s.items()})
    raise AssertionError("unreachable")


def measure_step_seconds(hw: tuple[int, int], precision: str, steps: int = 2, warmup: int = 1) -> float:
    """Median seconds of one training step (forward, losses, backward, SGD) of the quick preset's model."""
    device = torch.device("cpu")
    torch.manual_seed(0)
    model = SegDecNet(architecture="upsampling", in_channels=3, input_height=hw[0], input_width=hw[1])
    model.train()
    channels_last = precision == "bf16"
    if channels_last:
        model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    b = BATCH
    batch = dict(image=torch.rand(b, 3, *hw), mask=(torch.rand(b, 1, *hw) > 0.95).float(),
                 seg_weight=torch.ones(b, 1, *hw), label=torch.ones(b), is_segmented=torch.ones(b))
    x = batch["image"].contiguous(memory_format=torch.channels_last) if channels_last else batch["image"]
    times = []
    for i in range(warmup + steps):
        t = time.perf_counter()
        with autocast(device, precision):
            cls_logit, seg_logits = model(x)
        seg_l, dec_l = sample_losses(cls_logit, seg_logits, batch, False)
        combine_losses(seg_l, dec_l, batch["is_segmented"], 0.9, 0.001).sum().backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if i >= warmup:
            times.append(time.perf_counter() - t)
    times.sort()
    return times[len(times) // 2]


def _busy() -> bool:
    """More runnable work than cores (1-minute load average): spinning OpenMP threads then slow each other."""
    try:
        return os.getloadavg()[0] >= (os.cpu_count() or 1) - 0.25
    except OSError:
        return False


def plan_demo(precision: str, budget_s: float = BUDGET_S, spent_s: float = 0.0) -> DemoPlan:
    """Time the smallest size of SIZES with 1 and (on a quiet machine) all threads; keep the faster thread count;
    extrapolate the larger sizes by pixels and time the largest one that could fit; then plan."""
    t0 = time.perf_counter()
    small = SIZES[-1]
    n_all = torch.get_num_threads()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        timings = {}
        for n in ([1] if n_all > 1 else []) + ([n_all] if n_all == 1 or not _busy() else []):
            torch.set_num_threads(n)
            timings[n] = measure_step_seconds(small, precision, steps=1)
        threads = min(timings, key=timings.get)
        torch.set_num_threads(threads)
        step_s = {hw: timings[threads] * (hw[0] * hw[1]) / (small[0] * small[1]) for hw in SIZES}
        first = choose_plan(step_s, precision, budget_s=budget_s, spent_s=spent_s + time.perf_counter() - t0)
        hw = (first.height, first.width)
        if hw != small:  # confirm the extrapolated size with a real step before committing to it
            step_s[hw] = measure_step_seconds(hw, precision, steps=1)
    plan = choose_plan(step_s, precision, budget_s=budget_s, spent_s=spent_s + time.perf_counter() - t0)
    plan.threads = threads
    plan.measured = {f"{h}x{w}": round(v, 3) for (h, w), v in step_s.items()}
    plan.measured.update({f"{small[0]}x{small[1]} {n} thread(s)": round(v, 3) for n, v in timings.items()})
    return plan


def plan_for_config(cfg: dict, user_sets: list[str] | None, plan_file, spent_s: float = 0.0) -> DemoPlan | None:
    """Plan (or reload the saved plan of) a CPU demo and apply it to ``cfg``; the user's --set keys win.

    None on a GPU, where the quick preset as it is takes well under a minute.
    """
    device = resolve_device(cfg["device"])
    if device.type != "cpu":
        return None
    plan_file = Path(plan_file)
    plan = None
    if plan_file.is_file():
        try:
            plan = DemoPlan(**json.loads(plan_file.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            plan = None
    if plan is None:
        set_cpu_threads()
        plan = plan_demo(resolve_precision(cfg["precision"], device), spent_s=spent_s)
        plan_file.parent.mkdir(parents=True, exist_ok=True)
        plan_file.write_text(json.dumps(plan.__dict__, indent=1), encoding="utf-8")
    if plan.threads and not os.environ.get("CRACKVIEWER_THREADS"):
        os.environ["CRACKVIEWER_THREADS"] = str(plan.threads)  # read by trainer.training.device.set_cpu_threads
    user = parse_overrides(user_sets)
    for item in plan.overrides():
        key, _, _ = item.partition("=")
        if key not in user:
            cfg.update(parse_overrides([item]))
    return plan
