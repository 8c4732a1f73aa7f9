"""Training on tiles (issue 11): the train split in tiles, validation/test whole images in sliding windows, the tile
plan in run_started, padding out of the loss, and a bit-exact resume."""
from __future__ import annotations

import json

import pytest
import torch

from trainer.config import load_config
from trainer.datasets.synthetic import make_synthetic_dataset
from trainer.runs import events as ev
from trainer.training.checkpoint import load_checkpoint
from trainer.training.losses import sample_losses
from trainer.training.loop import train

SETS = ["input_mode=tiles", "input_height=64", "input_width=64", "epochs=2", "batch_size=2", "precision=fp32",
        "device=cpu", "learning_rate=0.1", "save_images=false", "validation_n_epochs=1"]


@pytest.fixture(scope="module")
def wide_dataset(tmp_path_factory):
    """Images of 64x100: two 64x64 tiles each (the second offset or padded); few images, the network is heavy."""
    return make_synthetic_dataset(tmp_path_factory.mktemp("wide") / "cracks", n_train_pos=2, n_train_neg=1,
                                  n_val_pos=1, n_val_neg=0, n_test_pos=1, n_test_neg=1, size=(64, 100), seed=5)


@pytest.fixture(scope="module")
def full_run(tmp_path_factory, wide_dataset):
    run = tmp_path_factory.mktemp("tiles") / "full"
    train(wide_dataset, run, load_config(None, SETS))
    return run


def _events(run):
    return ev.EventReader(run / "events.jsonl").events()


@pytest.mark.slow
def test_tiles_run_records_its_plan_and_evaluates_full_images(full_run):
    started = [e for e in _events(full_run) if e["event"] == ev.RUN_STARTED][0]
    plan = started["tile_plan"]["train"]
    assert plan["images"] == 3 and plan["tiles"] == plan["crack_tiles"] + plan["crack_free_tiles"] >= 3
    assert (plan["tile_height"], plan["tile_width"], plan["tile_scale"]) == (64, 64, 1.0)
    metrics = json.loads((full_run / "metrics.json").read_text())
    assert metrics["image_score_rule"] == "max_window_score" and metrics["input_hw"] == [64, 100]
    assert "Image score rule: `max_window_score`" in (full_run / "README.md").read_text()
    assert len((full_run / "validation.csv").read_text().splitlines()) == 3  # header + 2 validations


@pytest.mark.slow
def test_eval_of_a_tiles_run_is_per_image_at_full_resolution(tmp_path, wide_dataset, full_run):
    from trainer.cli import main

    out = tmp_path / "eval"
    assert main(["eval", "--run", str(full_run), "--data", str(wide_dataset), "--split", "test", "--out", str(out),
                 "--device", "cpu", "--no-report"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["image_score_rule"] == "max_window_score" and metrics["input_hw"] == [64, 100]


@pytest.mark.slow
def test_tiles_run_resumes_bit_exactly(tmp_path, wide_dataset, full_run):
    part = tmp_path / "part"

    def stop_after_epoch_1(rec):
        if rec["event"] == "checkpoint" and rec.get("kind") == "last" and rec["epoch"] == 1:
            (part / "STOP").touch()

    assert train(wide_dataset, part, load_config(None, SETS), listeners=[stop_after_epoch_1])["status"] == "stopped"
    assert train(wide_dataset, part, None, resume=True)["status"] == "finished"
    a, b = (load_checkpoint(r / "checkpoints" / "final.pth") for r in (full_run, part))
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    assert torch.equal(a["sampler"]["region_counts"], b["sampler"]["region_counts"])


def test_padding_adds_nothing_to_the_segmentation_loss():
    torch.manual_seed(0)
    logits = torch.randn(1, 1, 8, 8)
    mask = (torch.rand(1, 1, 8, 8) > 0.7).float()
    valid = torch.zeros(1, 1, 8, 8)
    valid[..., :5, :6] = 1
    batch = {"mask": mask * valid, "seg_weight": valid, "valid": valid, "label": torch.ones(1)}
    seg, _ = sample_losses(torch.zeros(1), logits, batch, original=False)
    inner = {"mask": mask[..., :5, :6], "seg_weight": torch.ones(1, 1, 5, 6), "label": torch.ones(1)}
    seg_inner, _ = sample_losses(torch.zeros(1), logits[..., :5, :6], inner, original=False)
    torch.testing.assert_close(seg, seg_inner)
