"""Fine-tuning (issue 14, part 3): init_from loads the starting weights, refuses a checkpoint of another
architecture or size with a message naming both, records where the run started, and a fine-tuned run resumes
bit-exactly; the constant λ of a short schedule."""
import json
from pathlib import Path

import pytest
import torch

from trainer.config import load_config
from trainer.errors import CheckpointError, ConfigError
from trainer.training.checkpoint import load_checkpoint, save_checkpoint
from trainer.training.init_from import init_checkpoint, load_initial_weights
from trainer.training.losses import loss_weights
from trainer.training.loop import train
from trainer.training.model import SegDecNet

TINY = ["input_height=128", "input_width=64", "batch_size=2", "learning_rate=0.1", "save_images=false",
        "validate=false", "precision=fp32"]


def cfg_of(*extra):
    return load_config(None, TINY + list(extra))


def model_for(cfg):
    return SegDecNet(architecture=cfg["architecture"], decision_pooling=cfg["decision_pooling"], in_channels=3,
                     input_height=cfg["input_height"], input_width=cfg["input_width"])


def events_of(run):
    return [json.loads(line) for line in (Path(run) / "events.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def base_run(tmp_path_factory, tiny_dataset):
    run = tmp_path_factory.mktemp("base") / "run"
    train(tiny_dataset, run, cfg_of("epochs=1"))
    return run


def test_init_from_loads_the_starting_weights(base_run):
    cfg = cfg_of("epochs=1", f"init_from={json.dumps(str(base_run))}")
    assert init_checkpoint(cfg["init_from"]) == base_run / "checkpoints" / "final.pth"   # run folder -> final
    model = model_for(cfg)
    info = load_initial_weights(model, cfg)
    saved = load_checkpoint(base_run / "checkpoints" / "final.pth")["model"]
    for k, v in model.state_dict().items():
        assert torch.equal(v, saved[k]), k
    assert info["run"] == str(base_run.resolve()) and info["epoch"] == 1
    assert load_initial_weights(model_for(cfg_of()), cfg_of()) is None   # "" = random weights


def test_init_from_refuses_another_architecture_or_size_or_nothing(base_run, tmp_path):
    ck = str(base_run / "checkpoints" / "final.pth")
    with pytest.raises(CheckpointError, match="upsampling model for 64x128.*architecture 'upsampling' vs "
                                              "'original'.*Set architecture = 'upsampling'"):
        cfg = cfg_of(f"init_from={json.dumps(ck)}", "architecture=original")
        load_initial_weights(model_for(cfg), cfg)
    with pytest.raises(CheckpointError, match="input_height 128 vs 256"):
        cfg = cfg_of(f"init_from={json.dumps(ck)}", "input_height=256")
        load_initial_weights(model_for(cfg), cfg)
    state = load_checkpoint(ck)
    state["model"] = {k: v for i, (k, v) in enumerate(state["model"].items()) if i}   # one tensor missing
    save_checkpoint(tmp_path / "cut.pth", state)
    with pytest.raises(CheckpointError, match=r"cut.pth: holds a upsampling model .* do not fit \(1 missing: "):
        cfg = cfg_of(f"init_from={json.dumps(str(tmp_path / 'cut.pth'))}")
        load_initial_weights(model_for(cfg), cfg)
    with pytest.raises(ConfigError, match="init_from = .*nowhere.*no such checkpoint file or run folder"):
        init_checkpoint(str(tmp_path / "nowhere"))


def test_fine_tuned_run_records_its_start_and_resumes_bit_exactly(base_run, tiny_dataset, tmp_path):
    cfg = cfg_of("epochs=2", f"init_from={json.dumps(str(base_run))}", "lambda_mode=constant",
                 "lambda_constant=0.3")
    full = tmp_path / "full"
    train(tiny_dataset, full, cfg)
    started = next(e for e in events_of(full) if e["event"] == "run_started")
    assert started["init_from"]["checkpoint"] == str((base_run / "checkpoints" / "final.pth").resolve())
    assert f'init_from = "{base_run}"' in (full / "config.toml").read_text()
    lambdas = [line.split(",") for line in (full / "losses.csv").read_text().splitlines()]
    col = lambdas[0].index("lambda_seg")
    assert [float(r[col]) for r in lambdas[1:]] == [0.7, 0.7]                       # constant λ = 0.3

    part = tmp_path / "part"

    def stop_after_epoch_1(rec):
        if rec["event"] == "checkpoint" and rec.get("kind") == "last" and rec["epoch"] == 1:
            (part / "STOP").touch()

    assert train(tiny_dataset, part, cfg, listeners=[stop_after_epoch_1])["status"] == "stopped"
    assert not (part / "STOP").exists()                                              # honoured, then removed
    stale = [part / ".losses.csv.999999.0.tmp", part / "checkpoints" / ".last.pth.999999.3.tmp"]
    for p in stale:
        p.write_bytes(b"half")                                                      # a killed writer's leftovers
    assert train(tiny_dataset, part, None, resume=True)["status"] == "finished"
    assert not any(p.exists() for p in stale)
    a = load_checkpoint(full / "checkpoints" / "final.pth")["model"]
    b = load_checkpoint(part / "checkpoints" / "final.pth")["model"]
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_constant_lambda_weights():
    assert loss_weights(5, 10, True, 0.01, 0.3) == pytest.approx((0.7, 0.003))
    assert loss_weights(5, 10, True, 0.01) == pytest.approx((0.5, 0.005))
    with pytest.raises(ConfigError, match="lambda_constant"):
        cfg_of("lambda_constant=1.5")
