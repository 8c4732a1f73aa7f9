"""trainer.runs.folder: status rules, tolerant event reading, CSV/JSON readers, find_runs, read_eval; and the fakes
(tests/fakes.py) checked against the real metrics module, since other tests rely on them."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.fakes import STATUSES, make_fake_eval, make_fake_run
from trainer.errors import ConfigError, CrackError, DataError
from trainer.runs.folder import RunFolder, find_runs
from trainer.pids import pid_alive
from trainer.runs.evaluation import read_eval
from trainer.runs.files import read_numeric_csv

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """One fake run per status, sharing one small dataset."""
    ws = tmp_path_factory.mktemp("ws")
    return {st: make_fake_run(ws, n_samples=10, size=64, status=st, name=st) for st in STATUSES}


def _append(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(text)


# ------------------------------------------------------------------------------------------------- status
@pytest.mark.parametrize("status, expected", [("finished", "finished"), ("stopped", "stopped"),
                                              ("failed", "failed"), ("running", "running"),
                                              ("interrupted", "failed")])
def test_status_rules(runs, status, expected):
    rf = RunFolder(runs[status])
    assert rf.status == expected
    if expected in ("finished", "stopped", "running"):
        assert rf.error is None
    if status == "failed":
        assert "out of memory" in rf.error
    if status == "interrupted":
        assert rf.interrupted
        assert "interrupted" in rf.error and "pid" in rf.error


def test_running_becomes_failed_when_the_writer_dies(tmp_path):
    run = make_fake_run(tmp_path, n_samples=6, status="running")
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        ev = [json.loads(x) for x in (run / "events.jsonl").read_text().splitlines()]
        ev[0]["pid"] = proc.pid
        (run / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in ev))
        rf = RunFolder(run)
        assert rf.status == "running"
        proc.kill()
        # not reaped yet: a zombie must count as dead
        deadline = time.monotonic() + 5
        while pid_alive(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert rf.status == "failed"
        assert "interrupted" in rf.error
    finally:
        proc.kill()
        proc.wait()


def test_resume_after_a_terminal_event_is_a_new_session(tmp_path):
    run = make_fake_run(tmp_path, n_samples=6, status="stopped")
    rf = RunFolder(run)
    assert rf.status == "stopped"
    _append(run / "events.jsonl", json.dumps({"event": "run_started", "time": time.time(), "pid": os.getpid(),
                                              "config": {}, "resumed_from_epoch": 4}) + "\n")
    assert rf.status == "running"       # same RunFolder object: incremental re-read picks it up
    _append(run / "events.jsonl", json.dumps({"event": "error", "time": time.time(), "kind": "data",
                                              "message": "bad image", "file": "images/x.png"}) + "\n")
    assert rf.status == "failed"
    assert rf.error == "bad image (images/x.png)"


def test_truncated_last_line_is_tolerated(tmp_path):
    run = make_fake_run(tmp_path, n_samples=6, status="running")
    rf = RunFolder(run)
    n = len(rf.events())
    _append(run / "events.jsonl", '{"event": "epoch", "epoch": 9, "los')  # writer mid-line
    assert len(rf.events()) == n
    assert rf.status == "running"
    assert rf.epochs_done() == 3
    # the writer completes the line: now it counts
    _append(run / "events.jsonl", 's": 0.1}\n')
    assert len(rf.events()) == n + 1
    assert rf.epochs_done() == 9


def test_garbage_line_in_the_middle_is_skipped_and_counted(tmp_path):
    run = make_fake_run(tmp_path, n_samples=6, status="stopped")
    lines = (run / "events.jsonl").read_text().splitlines()
    lines.insert(3, '{"event": "step", "epo{"event": "log"')  # crash mid-line, then a resume appended
    (run / "events.jsonl").write_text("\n".join(lines) + "\n")
    rf = RunFolder(run)
    assert len(rf.events()) == len(lines) - 1
    assert rf.skipped_lines == 1
    assert rf.status == "stopped"


def test_events_filter_and_tail(tmp_path):
    run = make_fake_run(tmp_path, n_samples=6, epochs=4)
    rf = RunFolder(run)
    epochs = rf.events(kinds=["epoch"])
    assert [e["epoch"] for e in epochs] == [1, 2, 3, 4]
    assert all(e["event"] != "step" for e in rf.meta_events())
    assert any(e["event"] == "step" for e in rf.events())
    evs, off = rf.read_events_since(0)
    assert len(evs) == len(rf.events())
    _append(run / "events.jsonl", json.dumps({"event": "log", "time": 1.0, "message": "hi"}) + "\n")
    more, off2 = rf.read_events_since(off)
    assert [e["message"] for e in more] == ["hi"] and off2 > off


def test_folder_without_events(tmp_path):
    d = tmp_path / "r"
    d.mkdir()
    (d / "config.toml").write_text("epochs = 3\n")
    rf = RunFolder(d)
    assert rf.status == "failed"
    assert "never started" in rf.error
    assert rf.config == {"epochs": 3}
    assert rf.events() == [] and rf.losses() == [] and rf.metrics() is None
    h = rf.headline()
    assert h["status"] == "failed" and h["epochs_total"] == 3 and h["epochs_done"] == 0


def test_bare_evaluation_folder_is_finished(tmp_path):
    ev = make_fake_eval(tmp_path / "ev", n_samples=6)
    rf = RunFolder(ev)
    assert not rf.is_run() and rf.is_eval()
    assert rf.status == "finished" and rf.error is None
    assert rf.evaluations() == [ev]
    with pytest.raises(ConfigError, match="config.toml"):
        rf.config


# ------------------------------------------------------------------------------------------------- readers
def test_config_losses_validation_metrics(runs):
    rf = RunFolder(runs["finished"])
    cfg = rf.config
    assert cfg["epochs"] == 6 and cfg["input_height"] == 64 and cfg["architecture"] == "upsampling"
    losses = rf.losses()
    assert [r["epoch"] for r in losses] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert all(isinstance(v, float) for r in losses for v in r.values())
    val = rf.validation()
    assert [r["epoch"] for r in val] == [2.0, 4.0, 6.0]
    assert set(val[0]) >= {"auc", "ap", "seg_threshold", "dice_mean", "is_best"}
    m = rf.metrics()
    assert m["split"] == "test" and m["n"] == 10
    assert rf.data_path == runs["finished"].parent / "data"
    assert rf.counts()["test"]["positives"] == 6
    assert rf.last_checkpoint() == runs["finished"] / "checkpoints" / "last.pth"
    assert rf.checkpoint("final").name == "final.pth"


def test_headline(runs):
    h = RunFolder(runs["finished"]).headline()
    assert h["status"] == "finished" and h["epochs_done"] == 6 and h["epochs_total"] == 6
    m = json.loads((runs["finished"] / "metrics.json").read_text())
    assert h["test_auc"] == m["auc"] and h["test_ap"] == m["ap"] and h["dice_mean"] == m["dice_mean"]
    val = RunFolder(runs["finished"]).validation()
    assert h["best_val_ap"] == max(r["ap"] for r in val)
    assert h["problem"] is None
    h2 = RunFolder(runs["running"]).headline()
    assert h2["status"] == "running" and h2["epochs_done"] == 3 and h2["test_auc"] is None


def test_headline_never_raises_on_broken_files(tmp_path):
    run = make_fake_run(tmp_path, n_samples=6)
    (run / "metrics.json").write_text("{not json")
    (run / "config.toml").write_text("epochs = = 3")
    h = RunFolder(run).headline()
    assert h["status"] == "finished"
    assert "metrics.json" in h["problem"]


def test_bad_files_raise_errors_naming_the_file(tmp_path):
    run = make_fake_run(tmp_path, n_samples=6)
    (run / "config.toml").write_text("epochs = = 3")
    with pytest.raises(ConfigError, match="config.toml"):
        RunFolder(run).config
    (run / "metrics.json").write_text("[1, 2]")
    with pytest.raises(DataError, match="metrics.json.*JSON object"):
        RunFolder(run).metrics()
    (run / "losses.csv").write_text("epoch,loss\n1,0.5\n2,abc\n3,0.2\n")
    with pytest.raises(DataError, match=r"losses.csv.*line 3"):
        RunFolder(run).losses()


def test_csv_truncated_last_row_and_empty_cells(tmp_path):
    p = tmp_path / "validation.csv"
    p.write_text("epoch,auc,ap,is_best\n1,,0.5,1\n2,0.9,0.8,False\n3,0.")
    rows = read_numeric_csv(p)
    assert len(rows) == 2
    assert np.isnan(rows[0]["auc"]) and rows[0]["is_best"] == 1.0 and rows[1]["is_best"] == 0.0
    assert read_numeric_csv(tmp_path / "missing.csv") == []


def test_evaluations_lists_run_and_evals(tmp_path):
    run = make_fake_run(tmp_path, n_samples=6, with_val_eval=True)
    (run / "evals" / "empty").mkdir()
    assert RunFolder(run).evaluations() == [run, run / "evals" / "val"]
    stopped = make_fake_run(tmp_path, n_samples=6, status="stopped", name="s")
    assert RunFolder(stopped).evaluations() == []


def test_find_runs(tmp_path):
    ws = tmp_path / "ws"
    make_fake_run(ws, n_samples=4, name="a")
    make_fake_run(ws / "group", n_samples=4, name="b", data=ws / "data", with_val_eval=True)
    deep = ws / "x" / "y" / "z"
    deep.mkdir(parents=True)
    (deep / "config.toml").write_text("epochs = 1\n")            # three levels down: not listed
    (ws / "notes").mkdir()
    found = find_runs(ws)
    assert sorted(r.name for r in found) == ["a", "b"]          # not evals/val, not data/, not z
    # newest first
    os.utime(ws / "a" / "events.jsonl", (time.time() + 100, time.time() + 100))
    assert [r.name for r in find_runs(ws)] == ["a", "b"]
    os.utime(ws / "group" / "b" / "events.jsonl", (time.time() + 200, time.time() + 200))
    assert [r.name for r in find_runs(ws)] == ["b", "a"]
    assert find_runs(ws / "a") == [RunFolder(ws / "a")]
    assert find_runs(tmp_path / "missing") == []


# ------------------------------------------------------------------------------------------------- read_eval
def test_read_eval(runs):
    ev = read_eval(runs["finished"])
    n = 10
    assert len(ev["names"]) == n and ev["names"][0] == "test_000"
    assert ev["labels"].dtype == np.int8 and ev["scores"].dtype == np.float32
    assert ev["hist_pos"].shape == (n, 4096) and ev["hist_neg"].shape == (n, 4096) and ev["bins"] == 4096
    assert ev["metrics"]["split"] == "test" and ev["split"] == "test"
    assert [r["name"] for r in ev["results"]] == ev["names"]
    assert isinstance(ev["results"][0]["label"], int) and isinstance(ev["results"][0]["dice"], float)
    # every pixel of every 64x64 map is in exactly one histogram
    assert np.all(ev["hist_pos"].sum(1) + ev["hist_neg"].sum(1) == 64 * 64)


def test_read_eval_errors_name_the_file(tmp_path):
    with pytest.raises(DataError, match="samples.npz"):
        read_eval(tmp_path)
    ev = make_fake_eval(tmp_path / "ev", n_samples=4)
    z = dict(np.load(ev / "samples.npz"))
    z["hist_neg"] = z["hist_neg"][:2]
    np.savez(ev / "samples.npz", **z)
    with pytest.raises(DataError, match="samples.npz.*hist_pos"):
        read_eval(ev)
    (ev / "samples.npz").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(CrackError, match="samples.npz"):
        read_eval(ev)


# ------------------------------------------------------------------------------------------------- the fakes
def test_fakes_agree_with_the_metrics_module(runs):
    """The fake evaluation's numbers are what trainer.metrics computes from the fake arrays."""
    from trainer.metrics import image as MI
    from trainer.metrics import pixels as MP

    ev = read_eval(runs["finished"])
    m = ev["metrics"]
    im = MI.image_metrics(ev["labels"], ev["scores"])
    for k in ("auc", "ap", "ap_sklearn", "best_threshold", "tp", "fp", "fn", "tn"):
        assert im[k] == pytest.approx(m[k], abs=1e-6), k
    k = MP.threshold_to_bin(m["seg_threshold"])
    dice, iou = MP.dice_iou_from_hist(ev["hist_pos"], ev["hist_neg"], k)
    assert np.allclose(dice, [r["dice"] for r in ev["results"]], atol=1e-6)
    assert np.allclose(iou, [r["iou"] for r in ev["results"]], atol=1e-6)
    assert dice.mean() == pytest.approx(m["dice_mean"])


def test_fake_histograms_come_from_the_probability_maps(runs):
    import cv2

    run = runs["finished"]
    ev = read_eval(run)
    for i in (0, 3):
        name = ev["names"][i]
        prob = cv2.imread(str(run / "probs" / f"{name}.png"), cv2.IMREAD_GRAYSCALE)
        gt = cv2.imread(str(run.parent / "data" / "masks" / f"{name}.png"), cv2.IMREAD_GRAYSCALE) > 127
        b = np.minimum((prob / 255.0 * 4096).astype(int), 4095)
        assert np.array_equal(np.bincount(b[gt], minlength=4096), ev["hist_pos"][i])
        assert np.array_equal(np.bincount(b[~gt], minlength=4096), ev["hist_neg"][i])


def test_fake_one_class_eval_is_undefined(tmp_path):
    ev = read_eval(make_fake_eval(tmp_path / "neg", n_samples=5, pos_fraction=0.0))
    m = ev["metrics"]
    assert m["auc"] is None and m["ap"] is None and "auc" in m["undefined"]
    assert int(ev["labels"].sum()) == 0
