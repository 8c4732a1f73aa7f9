"""DDP through torchrun on CPU (gloo, 2 processes): same result as one process with the same global batch; resume."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from trainer.training.checkpoint import load_checkpoint
from trainer.config import load_config
from trainer.training.model import SegDecNet
from trainer.training.loop import train

ROOT = Path(__file__).resolve().parents[2]
SETS = ["epochs=2", "input_height=128", "input_width=64", "batch_size=2", "learning_rate=0.1", "precision=fp32",
        "validate=false", "save_images=false"]


def torchrun_cmd():
    exe = Path(sys.executable).with_name("torchrun")
    if exe.exists():
        return [str(exe)]
    if shutil.which("torchrun"):
        return ["torchrun"]
    return [sys.executable, "-m", "torch.distributed.run"]


def test_two_gloo_processes_match_one_process_and_resume(tmp_path, synthetic_dataset):
    single = tmp_path / "single"
    train(synthetic_dataset, single, load_config(None, SETS))

    run = tmp_path / "ddp"
    cmd = torchrun_cmd() + ["--standalone", "--nproc_per_node=2", "-m", "trainer", "train", "--data",
                            str(synthetic_dataset), "--out", str(run), "--events"]
    for s in SETS:
        cmd += ["--set", s]
    env = {**__import__("os").environ, "OMP_NUM_THREADS": "1"}
    # First part: stop after epoch 1 (STOP file), as the GUI's Stop button does.
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    events = []
    for line in proc.stdout:
        if not line.startswith("{"):
            continue
        rec = json.loads(line)
        events.append(rec)
        if rec["event"] == "checkpoint" and rec.get("kind") == "last" and rec["epoch"] == 1:
            (run / "STOP").touch()
    err = proc.stderr.read()
    assert proc.wait(timeout=300) == 0, err
    assert events[0]["world_size"] == 2
    assert events[-1]["event"] == "finished" and events[-1]["status"] == "stopped"
    # Resume with the same launcher and arguments.
    done = subprocess.run(cmd + ["--resume"], cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    ev = [json.loads(x) for x in done.stdout.splitlines() if x.startswith("{")]
    assert ev[0]["resumed_from_epoch"] == 1 and ev[-1]["status"] == "finished"
    # written once: one run_started per launch, one losses row per epoch
    assert len((run / "losses.csv").read_text().splitlines()) == 3
    a = load_checkpoint(single / "checkpoints" / "final.pth")["model"]
    b = load_checkpoint(run / "checkpoints" / "final.pth")["model"]
    torch.manual_seed(1337)
    init = SegDecNet("upsampling", "avg", 3, 128, 64).state_dict()

    def dist(x, y):
        return sum(((x[k].double() - y[k].double()) ** 2).sum() for k in x).sqrt().item()

    # Per step the DDP gradient equals the single-process one to ~1e-6 (float summation order); over 12 SGD steps
    # that noise grows, so compare the runs relative to how far training moved the weights.
    update = dist(a, init)
    assert update > 0.05
    assert dist(a, b) < 0.05 * update, (dist(a, b), update)
    assert (run / "metrics.json").is_file()


def test_one_step_gradient_of_a_global_batch_equals_the_sum_of_per_rank_gradients():
    """What DDP with loss x world_size computes (the mean over ranks of world_size x per-rank sums) is the
    single-process global-batch gradient, up to float summation order."""
    import torch.nn.functional as F

    torch.manual_seed(0)
    m = SegDecNet("upsampling", "avg", 3, 128, 64)
    m.set_gradient_multiplier(0.0)
    x = torch.rand(2, 3, 128, 64)
    y = (torch.rand(2, 1, 128, 64) > 0.9).float()

    def grads(xx, yy):
        m.zero_grad()
        _, seg = m(xx)
        F.binary_cross_entropy_with_logits(seg, yy, reduction="none").flatten(1).mean(1).sum().backward()
        return {k: p.grad.clone() for k, p in m.named_parameters() if p.grad is not None}

    world = 2
    full = grads(x, y)
    ranks = [grads(x[i:i + 1], y[i:i + 1]) for i in range(world)]
    for k, g in full.items():
        ddp = sum(world * r[k] for r in ranks) / world
        assert (g - ddp).norm() <= 1e-5 * (g.norm() + 1e-12), k
