"""crack-train eval / predict / report / error handling, as a user runs them."""
import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from trainer.cli import main
from trainer.config import load_config
from trainer.training.loop import train

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def run(tmp_path_factory, synthetic_dataset):
    r = tmp_path_factory.mktemp("cli") / "run"
    train(synthetic_dataset, r, load_config(None, ["epochs=1", "input_height=128", "input_width=64",
                                                   "batch_size=2", "learning_rate=0.1"]))
    return r


def test_eval_on_another_dataset_without_split_column(run, synthetic_dataset, tmp_path, capsys):
    other = tmp_path / "other"
    shutil.copytree(synthetic_dataset, other)
    rows = list(csv.DictReader(open(other / "manifest.csv")))
    with open(other / "manifest.csv", "w", newline="") as fh:  # name,label only: one split
        w = csv.writer(fh)
        w.writerow(["name", "label"])
        for r in rows:
            w.writerow([r["name"], r["label"]])
    out = tmp_path / "eval"
    assert main(["eval", "--run", str(run), "--data", str(other), "--split", "whatever", "--out", str(out)]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["n"] == len(rows)
    for f in ("results.csv", "samples.npz", "README.md", "source.json"):
        assert (out / f).exists(), f
    assert len(list((out / "probs").glob("*.png"))) == len(rows)
    assert "EVAL on WHATEVER" in capsys.readouterr().out
    # the same evaluation at an explicit threshold gives the mean Dice of the stored histograms at that threshold
    from trainer.metrics.pixels import CumulativeHist, threshold_to_bin
    out2 = tmp_path / "eval2"
    assert main(["eval", "--run", str(run), "--data", str(other), "--out", str(out2), "--seg-threshold", "0.3",
                 "--no-report"]) == 0
    m2 = json.loads((out2 / "metrics.json").read_text())
    npz = np.load(out2 / "samples.npz")
    dice, _ = CumulativeHist(npz["hist_pos"], npz["hist_neg"]).dice_iou(threshold_to_bin(0.3))
    assert m2["dice_mean"] == pytest.approx(float(np.nanmean(dice)), abs=1e-9)


def test_predict_uses_thresholds_saved_in_the_run(run, synthetic_dataset, tmp_path):
    images = sorted((synthetic_dataset / "images").iterdir())[:3]
    (run / "thresholds.json").write_text(json.dumps({"seg_threshold": 1.0, "image_threshold": 0.5}))
    try:
        out = tmp_path / "pred"
        assert main(["predict", "--run", str(run), *map(str, images), "--out", str(out)]) == 0
        rows = list(csv.DictReader(open(out / "predictions.csv")))
        assert len(rows) == 3
        for r, img in zip(rows, images):
            mask = cv2.imread(str(out / r["mask"]), cv2.IMREAD_GRAYSCALE)
            assert mask.shape == cv2.imread(str(img)).shape[:2]  # the image's own size
            assert int(r["crack_pixels"]) == int((mask > 0).sum()) == 0  # threshold 1.0 from thresholds.json
        out2 = tmp_path / "pred2"
        assert main(["predict", "--run", str(run), str(images[0].parent), "--out", str(out2),
                     "--seg-threshold", "0.0"]) == 0
        rows = list(csv.DictReader(open(out2 / "predictions.csv")))
        assert len(rows) == len(list(images[0].parent.iterdir()))
        assert all(int(r["crack_pixels"]) > 0 for r in rows)
    finally:
        (run / "thresholds.json").unlink()


def test_measure_a_runs_test_split_against_its_ground_truth(run, tmp_path, capsys):
    out = tmp_path / "measure"
    assert main(["measure", str(run), "--out", str(out), "--scale", "0.1", "--alarm-mm", "0.2"]) == 0
    text = capsys.readouterr().out
    assert "unit mm" in text and "against the ground truth" in text
    for f in ("cracks.csv", "images.csv", "cracks.geojson", "accuracy.json", "crack_pairs.csv"):
        assert (out / f).is_file(), f
    images = list(csv.DictReader(open(out / "images.csv")))
    assert len(images) == len(list((run / "probs").glob("*.png")))
    cracks = list(csv.DictReader(open(out / "cracks.csv")))
    assert all(c["wide"] == str(int(float(c["width_max"]) > 0.2)) for c in cracks)
    assert not (ROOT / "trainer" / "measure" / "__main__.py").exists()     # one entry point: crack-train measure


def test_report_and_comparison(run, tmp_path):
    other = tmp_path / "run_b"
    shutil.copytree(run, other)
    out = tmp_path / "cmp.md"
    assert main(["report", str(run), str(other), "--out", str(out)]) == 0
    text = out.read_text()
    assert "Run 1" in text and "Run 2" in text and "AUC" in text


@pytest.mark.parametrize("args, words", [
    (["train", "--data", "/nonexistent/data", "--out", "{tmp}/r"], "/nonexistent/data"),
    (["train", "--data", "{data}", "--out", "{tmp}/r", "--set", "epochs=-1"], "epochs"),
    (["eval", "--run", "{tmp}/norun", "--data", "{data}"], "norun"),
])
def test_bad_input_gives_one_line_and_exit_1(args, words, tmp_path, synthetic_dataset):
    argv = [a.format(tmp=tmp_path, data=synthetic_dataset) for a in args]
    r = subprocess.run([sys.executable, "-m", "trainer", *argv], cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    assert r.stderr.startswith("crack-train: error:") and words in r.stderr, r.stderr


def test_device_json_reports_what_torch_offers():
    import json

    r = subprocess.run([sys.executable, "-m", "trainer", "device", "--json"], cwd=ROOT, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout.strip().splitlines()[-1])
    assert set(info) >= {"torch", "cuda", "bf16_cpu", "precision_auto"}
    assert info["precision_auto"] in ("bf16", "fp32") and isinstance(info["cuda"], list)
