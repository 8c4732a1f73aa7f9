"""crack-train predict at native resolution (issue 11): sliding windows for tiles runs (or --native), 8-bit
probability maps, the onnxruntime backend's clear error, sharding under torchrun, --measure. A tiny untrained model
in a hand-made run folder: no training needed."""
from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.fakes import make_untrained_run
from trainer.cli import main
from trainer.runs.predictions import merge_parts, shard, write_part

ROOT = Path(__file__).resolve().parents[2]


def _run(root: Path, input_mode: str) -> Path:
    from trainer.config import DEFAULTS

    extra = {"input_mode": input_mode} if "input_mode" in DEFAULTS else {}
    return make_untrained_run(root / f"run_{input_mode}", 64, 64, **extra)


@pytest.fixture(scope="module")
def resize_run(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("runs"), "resize")


def _images(root, names, shape=(100, 150)):
    out = []
    for k, n in enumerate(names):
        p = root / n
        p.parent.mkdir(parents=True, exist_ok=True)
        img = np.random.default_rng(k).integers(0, 255, shape + (3,), np.uint8)
        cv2.line(img, (5, 5), (shape[1] - 5, shape[0] - 5), (20, 20, 20), 2)
        cv2.imwrite(str(p), img)
        out.append(p)
    return out


def _rows(out):
    with open(out / "predictions.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_native_writes_full_size_masks_and_probability_maps(resize_run, tmp_path, capsys):
    imgs = _images(tmp_path / "in", ["a.png", "b.jpg"])
    out = tmp_path / "pred"
    assert main(["predict", "--run", str(resize_run), "--device", "cpu", "--native", "--seg-threshold", "0.5",
                 *map(str, imgs), "--out", str(out)]) == 0
    rows = _rows(out)
    assert [r["mask"] for r in rows] == ["a_mask.png", "b_mask.png"]
    assert [r["mode"] for r in rows] == ["tiles", "tiles"] and all(int(r["windows"]) == 6 for r in rows)
    assert rows[0]["score_rule"] == "max_window_score"
    for r in rows:
        mask = cv2.imread(str(out / r["mask"]), cv2.IMREAD_UNCHANGED)
        prob = cv2.imread(str(out / r["prob"]), cv2.IMREAD_UNCHANGED)
        assert mask.shape == prob.shape == (100, 150) and mask.dtype == prob.dtype == np.uint8
        assert set(np.unique(mask)) <= {0, 255} and int(r["crack_pixels"]) == int((mask > 0).sum())
        np.testing.assert_array_equal(mask > 0, prob >= 128)  # threshold 0.5 on the unquantised map
    err = capsys.readouterr().err
    assert "images 2/2, tiles 12/12, ETA" in err and "sliding 64x64 windows" in err


def test_resize_run_keeps_the_resize_behaviour(resize_run, tmp_path):
    imgs = _images(tmp_path / "in", ["a.png"])
    out = tmp_path / "pred"
    assert main(["predict", "--run", str(resize_run), "--device", "cpu", *map(str, imgs), "--out", str(out)]) == 0
    (row,) = _rows(out)
    assert row["mode"] == "resize" and row["windows"] == "1"
    assert cv2.imread(str(out / row["mask"]), cv2.IMREAD_GRAYSCALE).shape == (100, 150)


def test_onnxruntime_backend_needs_a_file(resize_run, tmp_path, capsys):
    imgs = _images(tmp_path / "in", ["a.png"])
    code = main(["predict", "--run", str(resize_run), "--device", "cpu", "--backend", "onnxruntime",
                 *map(str, imgs), "--out", str(tmp_path / "pred")])
    assert code == 1 and "needs --onnx FILE" in capsys.readouterr().err
    code = main(["predict", "--run", str(resize_run), "--device", "cpu", "--backend", "onnxruntime", "--onnx",
                 str(tmp_path / "missing.onnx"), *map(str, imgs), "--out", str(tmp_path / "pred")])
    assert code == 1 and "missing.onnx" in capsys.readouterr().err


def test_onnxruntime_missing_says_how_to_install(monkeypatch, tmp_path):
    from trainer.errors import ConfigError
    from trainer.training.onnx_export import onnx_session

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    with pytest.raises(ConfigError, match=r"pip install 'crackviewer\[onnx\]'"):
        onnx_session(tmp_path / "m.onnx")


def test_shards_cover_every_input_once_and_merge_in_input_order(tmp_path):
    n, world = 7, 3
    parts = [shard(n, r, world) for r in range(world)]
    assert sorted(i for p in parts for i in p) == list(range(n)) and parts[1] == [1, 4]
    for r, mine in enumerate(parts):
        write_part(tmp_path, r, [(i, {"image": f"img{i}.png", "mask": f"img{i}_mask.png"}) for i in mine])
    rows = merge_parts(tmp_path, world)
    assert [r["image"] for r in rows] == [f"img{i}.png" for i in range(n)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["predictions.csv"]


def test_measure_in_one_go(resize_run, tmp_path):
    imgs = _images(tmp_path / "in", ["a.png"])
    out = tmp_path / "pred"
    assert main(["predict", "--run", str(resize_run), "--device", "cpu", "--seg-threshold", "0", "--measure",
                 *map(str, imgs), "--out", str(out)]) == 0
    assert {"cracks.csv", "images.csv", "cracks.geojson"} <= {p.name for p in out.iterdir()}


def _torchrun():
    exe = Path(sys.executable).with_name("torchrun")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "torch.distributed.run"]


def test_torchrun_two_ranks_share_the_files_and_rank0_merges(resize_run, tmp_path):
    if shutil.which("true") is None:
        pytest.skip("no shell tools")
    imgs = _images(tmp_path / "in", ["a/x.png", "b/x.png", "c.png", "d.png"], shape=(70, 90))
    out = tmp_path / "pred"
    # "--" ends torchrun's options (it would take --run for its own --run-path)
    cmd = _torchrun() + ["--standalone", "--nproc_per_node=2", "-m", "trainer", "--", "predict", "--run",
                         str(resize_run),
                         "--device", "cpu", "--native", *map(str, imgs), "--out", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = _rows(out)
    assert [r["image"] for r in rows] == list(map(str, imgs))
    assert [r["mask"] for r in rows] == ["a/x_mask.png", "b/x_mask.png", "c_mask.png", "d_mask.png"]
    assert all((out / r["mask"]).is_file() and (out / r["prob"]).is_file() for r in rows)
    assert not list(out.glob("predictions.part*"))
