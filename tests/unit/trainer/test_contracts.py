"""The one-module contracts: atomic writing, run-folder paths, the event line parser, the threshold rule and
finding an evaluation folder's run and dataset (all torch-free)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.fakes import make_fake_eval, make_fake_run
from trainer.atomic import atomic_write_bytes, atomic_write_text, remove_stale_temps, temp_path
from trainer.errors import ConfigError
from trainer.runs import paths
from trainer.runs.evaluation import find_eval_sources
from trainer.runs.events import EventLog, EventReader, parse_event_line
from trainer.runs.thresholds import run_thresholds


# ------------------------------------------------------------------------------------------------- atomic
def test_atomic_write_replaces_whole_files_and_leaves_no_temp(tmp_path):
    p = tmp_path / "sub" / "a.txt"
    atomic_write_text(p, "one")
    atomic_write_bytes(p, b"two")
    assert p.read_text() == "two"
    assert [f.name for f in p.parent.iterdir()] == ["a.txt"]
    with pytest.raises(OSError, match="is a folder|the target is a folder"):
        atomic_write_bytes(tmp_path / "sub", b"x")


def test_remove_stale_temps_keeps_live_writers(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".m.png.{dead.pid}.1.tmp"
    live = tmp_path / f".m.png.{os.getpid()}.1.tmp"
    other = tmp_path / "keep.tmp"
    for f in (stale, live, other):
        f.write_bytes(b"x")
    assert remove_stale_temps(tmp_path) == [stale]
    assert live.exists() and other.exists()
    assert temp_path(tmp_path / "m.png").name.startswith(f".m.png.{os.getpid()}.")


# ------------------------------------------------------------------------------------------------- paths
def test_sample_file_names():
    assert paths.prob_png_name("train_positive/12") == "train_positive__12.png"
    assert paths.prob_png_path("E", "a\\b").as_posix() == "E/probs/a__b.png"
    assert paths.dice_png_name(0.5, "a/b") == "0.500_dice_a__b.png"
    assert paths.checkpoint_path("R", "best").as_posix() == "R/checkpoints/best.pth"
    with pytest.raises(ValueError):
        paths.checkpoint_path("R", "worst")


# ------------------------------------------------------------------------------------------------- events
@pytest.mark.parametrize("line, ok", [
    ('{"event": "epoch", "epoch": 1}', True), (b'{"event": "step"}\n', True), ("", False), ("plain output", False),
    ('{"event": "cut', False), ('{"no_event": 1}', False), ('{"event": 3}', False), (b"\xff\xfe{", False),
])
def test_one_tolerant_event_parser(line, ok):
    assert (parse_event_line(line) is not None) is ok


def test_event_reader_skips_bad_lines_and_reads_incrementally(tmp_path):
    log = EventLog(tmp_path)
    log.emit("run_started", pid=1)
    log.emit("step", step=1)
    log.close()
    with open(tmp_path / paths.EVENTS, "a", encoding="utf-8") as fh:
        fh.write('{"event": "broken\n{"event": "epoch", "epoch": 1}\n{"event": "fini')
    r = EventReader(tmp_path / paths.EVENTS)
    assert [e["event"] for e in r.events()] == ["run_started", "step", "epoch"] and r.skipped_lines == 1
    assert [e["event"] for e in r.meta_events()] == ["run_started", "epoch"]
    with open(tmp_path / paths.EVENTS, "a", encoding="utf-8") as fh:
        fh.write('shed", "status": "finished"}\n')
    assert [e["event"] for e in r.meta_events()] == ["run_started", "epoch", "finished"]


# ------------------------------------------------------------------------------------------------- thresholds
def test_threshold_rule_precedence(tmp_path):
    run = make_fake_run(tmp_path)
    m = json.loads((run / paths.METRICS).read_text())
    t = run_thresholds(run)
    assert (t["seg_threshold"], t["seg_source"]) == (m["honest"]["seg_threshold"], "chosen on validation")
    assert (t["image_threshold"], t["gated"]) == (m["honest"]["image_threshold"], False)
    (run / paths.THRESHOLDS).write_text(json.dumps({"seg_threshold": 0.25, "gated": True}))
    t = run_thresholds(run)
    assert (t["seg_threshold"], t["source"], t["gated"]) == (0.25, "thresholds.json", True)
    assert t["image_source"] == "chosen on validation"
    (run / paths.THRESHOLDS).write_text(json.dumps({"seg_threshold": 1.5}))
    with pytest.raises(ConfigError) as exc:
        run_thresholds(run)
    assert "thresholds.json" in str(exc.value) and "between 0 and 1" in str(exc.value)


def test_threshold_rule_without_files_is_half(tmp_path):
    t = run_thresholds(tmp_path)
    assert (t["seg_threshold"], t["image_threshold"], t["source"]) == (0.5, 0.5, "default 0.5")


def test_an_evaluation_folder_finds_its_run_and_dataset(tmp_path):
    run = make_fake_run(tmp_path, with_val_eval=True)
    found, data, _ = find_eval_sources(paths.eval_dir(run, "val"))
    assert found is not None and found.path == run and data == tmp_path / "data"
    ev = make_fake_eval(tmp_path / "elsewhere", tmp_path / "data", split="val")
    (ev / paths.SOURCE).write_text(json.dumps({"run": str(run), "data": str(tmp_path / "data")}))
    found, data, source = find_eval_sources(ev)
    assert found.path == run and data == tmp_path / "data" and source["run"] == str(run)
    assert find_eval_sources(tmp_path / "nothing")[:2] == (None, None)
