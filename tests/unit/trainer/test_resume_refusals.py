"""Resume surprises (issue 15): nothing to resume from, or --set keys a resume cannot change, is refused with a
clear message before anything in the run folder is touched."""
from __future__ import annotations

from trainer.cli import main
from trainer.config import DEFAULTS, save_config


def _run(tmp_path, with_checkpoint: bool):
    run = tmp_path / "run"
    run.mkdir()
    save_config(dict(DEFAULTS), run / "config.toml")
    (run / "losses.csv").write_text("epoch,loss\n1,0.5\n")
    if with_checkpoint:
        (run / "checkpoints").mkdir()
        (run / "checkpoints" / "last.pth").write_bytes(b"not read: the check comes first")
    return run, {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}


def test_resume_without_a_checkpoint_is_refused(tmp_path, capsys):
    run, before = _run(tmp_path, with_checkpoint=False)
    assert main(["train", "--data", str(tmp_path / "data"), "--out", str(run), "--resume"]) == 1
    err = capsys.readouterr().err
    assert "cannot resume: there is no checkpoint to resume from" in err and "last.pth is missing" in err
    assert f"--config {run / 'config.toml'}" in err
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before   # losses.csv kept, no events


def test_set_keys_a_resume_cannot_change_are_named(tmp_path, capsys):
    run, before = _run(tmp_path, with_checkpoint=True)
    assert main(["train", "--data", str(tmp_path / "data"), "--out", str(run), "--resume",
                 "--set", "learning_rate=0.9", "--set", "epochs=7", "--set", "seed=1337"]) == 1
    err = capsys.readouterr().err
    assert f"cannot change on resume: learning_rate ({DEFAULTS['learning_rate']} -> 0.9)" in err
    assert "would apply: epochs" in err and "seed" not in err.split("only")[0]     # unchanged keys are not named
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before
