"""What the trainer refuses or says before it hurts (issues 15 and 17): bounds on every key, a run that cannot fit
in memory, masks the engine would misread (a `data` error event naming files and fix), a stop before the first
checkpoint that says there is nothing to resume, and a failed-run reason that does not promise a checkpoint."""
import json
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from trainer.config import DEFAULTS, load_config, validate_config
from trainer.errors import ConfigError, DataError
from trainer.limits import check_training_memory, training_memory_bytes
from trainer.runs.folder import RunFolder
from trainer.training.loop import train

TINY = ["input_height=128", "input_width=64", "batch_size=2", "save_images=false", "validate=false",
        "precision=fp32", "epochs=1"]


def events_of(run):
    return [json.loads(line) for line in (Path(run) / "events.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("key, value, words", [
    ("input_height", 100000, "between 64 and 4096"), ("num_workers", 1000000, "between 0 and 64"),
    ("learning_rate", float("nan"), "finite"), ("seed", -1, "between 0 and"), ("max_megapixels", 0.0, "between"),
    ("lambda_constant", -0.1, "between 0 and 1"), ("mask_rule", "any", "threshold, nonzero")])
def test_every_key_is_bounded(key, value, words):
    with pytest.raises(ConfigError, match=key) as info:
        validate_config(dict(DEFAULTS, **{key: value}))
    assert words in str(info.value)


def test_a_run_that_cannot_fit_in_memory_is_refused_with_what_would_fit():
    cfg = dict(DEFAULTS, input_height=4096, input_width=4096, batch_size=8)
    with pytest.raises(ConfigError) as info:
        check_training_memory(cfg, available=8e9)
    msg = str(info.value)
    assert "needs about" in msg and "8.0 GB available" in msg and "input_height = input_width = " in msg
    fit = int(msg.split("input_height = input_width = ")[1].split()[0])
    assert training_memory_bytes(dict(cfg, input_height=fit, input_width=fit)) <= 8e9
    check_training_memory(dict(DEFAULTS), available=8e9)         # the published size fits in 8 GB


def test_masks_stored_as_0_1_stop_training_with_a_data_event_unless_mask_rule_says_so(tiny_dataset, tmp_path):
    data = tmp_path / "data01"
    shutil.copytree(tiny_dataset, data)
    for m in (data / "masks").glob("*.png"):
        cv2.imwrite(str(m), (cv2.imread(str(m), cv2.IMREAD_GRAYSCALE) > 127).astype(np.uint8))   # 0/1 masks
    run = tmp_path / "run"
    with pytest.raises(DataError, match='values 0, 1.*mask_rule = "nonzero"'):
        train(data, run, load_config(None, TINY))
    err = events_of(run)[-1]
    assert err["event"] == "error" and err["kind"] == "data" and err["file"].endswith(".png")
    assert 'mask_rule = "nonzero"' in err["message"]
    ok = train(data, tmp_path / "run_nonzero", load_config(None, TINY + ["mask_rule=nonzero"]))
    assert ok["status"] == "finished"


def test_a_stop_before_the_first_checkpoint_says_there_is_nothing_to_resume(tiny_dataset, tmp_path):
    run = tmp_path / "run"

    def stop_at_first_step(rec):
        if rec["event"] == "step":
            (run / "STOP").touch()

    result = train(tiny_dataset, run, load_config(None, TINY), listeners=[stop_at_first_step])
    assert result["status"] == "stopped" and result["epochs_done"] == 0
    log = (run / "log.txt").read_text()
    assert "stopped during epoch 1 before the first checkpoint: nothing to resume; start the run again" in log
    assert "checkpoint of epoch 0" not in log
    assert not (run / "STOP").exists()
    with pytest.raises(ConfigError, match="cannot resume: there is no checkpoint to resume from"):
        train(tiny_dataset, run, None, resume=True)


def test_failed_run_reason_promises_a_checkpoint_only_when_there_is_one(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "events.jsonl").write_text(json.dumps({"event": "run_started", "pid": 2**22 + 12345, "t": 1.0}) + "\n")
    assert "nothing to resume: start the run again" in RunFolder(run).error
    (run / "checkpoints").mkdir()
    (run / "checkpoints" / "last.pth").write_bytes(b"x")
    assert RunFolder(run).error.endswith("resume from the last checkpoint")
    assert os.path.exists(run / "events.jsonl")
