"""The training loop: λ schedule, mixed supervision, events, resume (bit-exact), stop, SIGKILL, bad runs."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from trainer.training.checkpoint import load_checkpoint
from trainer.config import load_config
from trainer.errors import CheckpointError, ConfigError
from trainer.training.losses import combine_losses, loss_weights
from trainer.training.loop import train

ROOT = Path(__file__).resolve().parents[3]
TINY = ["epochs=2", "input_height=128", "input_width=64", "validation_n_epochs=1", "batch_size=2",
        "learning_rate=0.1", "save_images=false"]


def tiny_cfg(*extra):
    return load_config(None, TINY + list(extra))


def events_of(run):
    return [json.loads(line) for line in (Path(run) / "events.jsonl").read_text().splitlines()]


def test_lambda_schedule_matches_the_published_logs():
    # E = 50, δ = 0.01: epoch index 0 trains segmentation only; 0.98/0.0002 at e=1; 0.02/0.0098 at e=49
    assert loss_weights(0, 50, True, 0.01) == (1.0, 0.0)
    seg, dec = loss_weights(1, 50, True, 0.01)
    assert seg == pytest.approx(0.98) and dec == pytest.approx(0.0002)
    seg, dec = loss_weights(49, 50, True, 0.01)
    assert seg == pytest.approx(0.02) and dec == pytest.approx(0.0098)
    assert loss_weights(10, 50, False, 0.01) == (1.0, 0.01)


def test_weakly_labelled_samples_get_only_the_classification_loss():
    seg = torch.tensor([0.5, 0.7, 0.9])
    dec = torch.tensor([0.1, 0.2, 0.3])
    is_seg = torch.tensor([1.0, 0.0, 1.0])
    total = combine_losses(seg, dec, is_seg, 0.6, 0.004)
    assert total.tolist() == pytest.approx([0.6 * 0.5 + 0.004 * 0.1, 0.004 * 0.2, 0.6 * 0.9 + 0.004 * 0.3])


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, synthetic_dataset):
    run = tmp_path_factory.mktemp("runs") / "run"
    result = train(synthetic_dataset, run, tiny_cfg())
    assert result["status"] == "finished"
    return run


def test_run_folder_and_event_stream(finished_run):
    for name in ("config.toml", "events.jsonl", "log.txt", "losses.csv", "validation.csv", "metrics.json",
                 "results.csv", "samples.npz", "checkpoints/last.pth", "checkpoints/final.pth"):
        assert (finished_run / name).exists(), name
    ev = events_of(finished_run)
    kinds = [e["event"] for e in ev]
    assert kinds[0] == "run_started" and kinds[-1] == "finished"
    for k in ("step", "epoch", "validation", "checkpoint", "evaluation"):
        assert k in kinds
    start = ev[0]
    assert start["config"]["epochs"] == 2 and start["device"] == "cpu" and start["counts"]["train"]["positives"] == 8
    steps = [e for e in ev if e["event"] == "step"]
    assert all("images_per_s" in e and "eta_s" in e for e in steps)
    epochs = [e for e in ev if e["event"] == "epoch"]
    assert [e["epoch"] for e in epochs] == [1, 2]
    assert epochs[0]["lambda_seg"] == 1.0 and epochs[0]["lambda_dec"] == 0.0
    assert epochs[1]["lambda_seg"] == 0.5 and epochs[1]["lambda_dec"] == pytest.approx(0.005)
    assert ev[-1]["status"] == "finished"
    assert load_config(finished_run / "config.toml")["epochs"] == 2


def test_existing_run_folder_is_refused_and_left_untouched(finished_run, synthetic_dataset):
    before = (finished_run / "events.jsonl").read_bytes()
    with pytest.raises(ConfigError) as exc:
        train(synthetic_dataset, finished_run, tiny_cfg())
    assert "--resume" in str(exc.value)
    assert (finished_run / "events.jsonl").read_bytes() == before


def test_resume_gives_the_same_weights_as_an_uninterrupted_run(tmp_path, synthetic_dataset):
    cfg = tiny_cfg("epochs=3", "validate=false", "precision=fp32")
    full = tmp_path / "full"
    train(synthetic_dataset, full, cfg)

    part = tmp_path / "part"

    def stop_after_epoch_1(rec):
        if rec["event"] == "checkpoint" and rec.get("kind") == "last" and rec["epoch"] == 1:
            (part / "STOP").touch()

    result = train(synthetic_dataset, part, cfg, listeners=[stop_after_epoch_1])
    assert result["status"] == "stopped" and result["epochs_done"] == 1
    assert events_of(part)[-1] == {**events_of(part)[-1], "event": "finished", "status": "stopped"}
    result = train(synthetic_dataset, part, None, resume=True)
    assert result["status"] == "finished"
    a = load_checkpoint(full / "checkpoints" / "final.pth")
    b = load_checkpoint(part / "checkpoints" / "final.pth")
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    assert torch.equal(a["sampler"]["counts"], b["sampler"]["counts"])
    rows = (part / "losses.csv").read_text().splitlines()
    assert len(rows) == 4  # header + 3 epochs, no duplicate of the interrupted epoch


def test_sigkill_during_epoch_3_then_resume_finishes(tmp_path, synthetic_dataset):
    run = tmp_path / "killed"
    cmd = [sys.executable, "-m", "trainer", "train", "--data", str(synthetic_dataset), "--out", str(run),
           "--set", "epochs=3", "--set", "input_height=128", "--set", "input_width=64", "--set", "validate=false",
           "--set", "save_images=false", "--events"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        for line in proc.stdout:
            rec = json.loads(line)
            if rec["event"] == "step" and rec["epoch"] == 3:
                proc.send_signal(signal.SIGKILL)
                break
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert load_checkpoint(run / "checkpoints" / "last.pth")["epoch"] == 2
    assert not list((run / "checkpoints").glob("*.tmp")), "no half-written checkpoint"
    done = subprocess.run(cmd + ["--resume"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    ev = [json.loads(x) for x in done.stdout.splitlines()]
    assert ev[0]["event"] == "run_started" and ev[0]["resumed_from_epoch"] == 2
    assert [e["epoch"] for e in ev if e["event"] == "epoch"] == [3]
    assert ev[-1]["event"] == "finished" and ev[-1]["status"] == "finished"
    assert (run / "metrics.json").is_file()


def test_hostile_checkpoint_is_refused_without_running_code(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    bad = tmp_path / "evil.pth"
    torch.save({"model": Evil()}, bad)
    with pytest.raises(CheckpointError) as exc:
        load_checkpoint(bad)
    assert "evil.pth" in str(exc.value) and "refused" in str(exc.value)
    assert not marker.exists()
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError) as exc:
        load_checkpoint(junk)
    assert "junk.pth" in str(exc.value)
