"""measure_folder on a folder of masks, on predict output, on an evaluation folder; the real masks."""
import csv
import json
import shutil

import cv2
import numpy as np
import pytest

import measure_synth as synth
from trainer.errors import DataError
from trainer.cli import main as crack_train
from trainer.measure.export import WidthAlarm, read_csv_rows
from trainer.measure.run import measure_folder, prob_mask
from trainer.metrics.pixels import B, threshold_to_bin

SHAPE = (120, 160)


def _png(path, arr):
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), arr)


def _crack(i):
    return synth.straight(SHAPE, (80.3, 60.2 + 10 * i), 100, 3 + 2 * i, 10 * i)


def test_masks_folder_with_scale(tmp_path):
    for i in range(3):
        _png(tmp_path / "masks" / f"m{i}.png", _crack(i).astype(np.uint8) * 255)
    _png(tmp_path / "masks" / "empty.png", np.zeros(SHAPE, np.uint8))
    s = measure_folder(tmp_path / "masks", tmp_path / "out", scale=0.5, alarm=WidthAlarm(mm=3.0))
    assert (s.n_images, s.n_cracks, s.unit) == (4, 3, "mm")
    rows = read_csv_rows(s.files["cracks"])
    assert [r["image"] for r in rows] == ["m0", "m1", "m2"]
    assert [r["wide"] for r in rows] == [0, 0, 1]                   # widths 3, 5, 7 px x 0.5: 1.5, 2.5, 3.5 mm
    assert rows[2]["width_median"] == pytest.approx(3.5, abs=0.25)
    assert rows[0]["length"] == pytest.approx(50, rel=0.02)
    images = read_csv_rows(s.files["images"])
    assert images[0]["image"] == "empty" and images[0]["n_cracks"] == 0


def test_predict_output(tmp_path):
    d = tmp_path / "pred"
    rows = []
    for i in range(2):
        _png(d / f"img{i}_mask.png", _crack(i).astype(np.uint8) * 255)
        rows.append({"image": f"/somewhere/img{i}.jpg", "mask": f"img{i}_mask.png", "score": "0.9"})
    with open(d / "predictions.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    s = measure_folder(d, tmp_path / "out")
    assert s.unit == "px" and [r["image"] for r in read_csv_rows(s.files["images"])] == ["img0", "img1"]


def test_prob_mask_uses_the_bin_edge_rule():
    v = np.arange(256, dtype=np.uint8)
    for t in (0.0, 0.3, 0.5, 0.77, 1.0):
        k = threshold_to_bin(t)
        expect = np.minimum((v / 255.0 * B).astype(int), B - 1) >= k
        assert np.array_equal(prob_mask(v, t), expect)
    assert prob_mask(v, 0.5).sum() == 128 and not prob_mask(v, 1.0).any()


def _eval_folder(tmp_path, names):
    ev = tmp_path / "run" / "evals" / "test"
    samples = {}
    for i, name in enumerate(names):
        gt = synth.straight((2 * SHAPE[0], 2 * SHAPE[1]), (160.3, 120.2 + 10 * i), 200, 8, 10 * i)
        small = cv2.resize(gt.astype(np.float32), (SHAPE[1], SHAPE[0]), interpolation=cv2.INTER_AREA)
        _png(ev / "probs" / f"{name}.png", np.round(small * 230).astype(np.uint8))
        _png(tmp_path / "data" / "masks" / f"{name}.png", gt.astype(np.uint8) * 255)
        _png(tmp_path / "data" / "images" / f"{name}.png", np.zeros(gt.shape + (3,), np.uint8))
        samples[name] = (tmp_path / "data" / "images" / f"{name}.png", tmp_path / "data" / "masks" / f"{name}.png")
    (ev / "results.csv").write_text("name,label\n" + "".join(f"{n},1\n" for n in names))
    (ev / "metrics.json").write_text(json.dumps({"seg_threshold": 0.5}))
    return ev, samples


def test_eval_folder_resized_to_images_and_matched(tmp_path):
    ev, samples = _eval_folder(tmp_path, ["a", "b"])
    s = measure_folder(tmp_path / "run", tmp_path / "out", samples=samples, scale=0.1)
    images = read_csv_rows(s.files["images"])
    assert [(r["height"], r["width"]) for r in images] == [(240, 320)] * 2       # image size, not map size
    acc = json.loads(s.files["accuracy"].read_text())
    assert acc["n_groups"] == 2 and acc["length_mae_px"] < 200 * 0.05 and acc["width_max_mae_px"] < 1.5
    assert acc["length_mae_mm"] == pytest.approx(acc["length_mae_px"] * 0.1)
    assert len(read_csv_rows(s.files["pairs"])) == 2
    assert s.notes == ["threshold 0.5"]


def test_eval_folder_without_dataset(tmp_path):
    ev, _ = _eval_folder(tmp_path, ["a"])
    s = measure_folder(ev, tmp_path / "out", threshold=0.95)               # 230/255 < 0.95: nothing
    assert s.n_cracks == 0 and "accuracy" not in s.files
    assert measure_folder(ev, tmp_path / "out2").n_cracks == 1
    with pytest.raises(DataError, match="image size is unknown"):
        measure_folder(ev, tmp_path / "out3", scale=0.1)


def test_bad_inputs_name_the_folder(tmp_path):
    with pytest.raises(DataError, match="no mask images"):
        measure_folder(tmp_path, tmp_path / "out")
    with pytest.raises(DataError, match="no such folder"):
        measure_folder(tmp_path / "nope", tmp_path / "out")
    (tmp_path / "r" / "evals").mkdir(parents=True)
    with pytest.raises(DataError, match="no evaluation of split 'test'"):
        measure_folder(tmp_path / "r", tmp_path / "out")


def test_real_masks_give_plausible_numbers(shared_cracks, tmp_path, capsys):
    names = [r["name"] for r in csv.DictReader(open(shared_cracks / "manifest.csv")) if r["label"] == "1"]
    picked = names[:: max(len(names) // 8, 1)][:8]
    for n in picked:
        shutil.copy(shared_cracks / "masks" / f"{n}.png", tmp_path / f"{n}.png")
    assert crack_train(["measure", str(tmp_path), "--out", str(tmp_path / "out"), "--alarm-px", "5"]) == 0
    assert "unit px" in capsys.readouterr().out
    images = read_csv_rows(tmp_path / "out" / "images.csv")
    assert len(images) == len(picked)
    for r in images:
        diag = (r["height"] ** 2 + r["width"] ** 2) ** 0.5
        assert r["n_cracks"] >= 1 and 0 < r["cracked_fraction"] < 0.5
        assert 0.5 < r["max_width"] < 60 and 0 < r["total_length"] < 20 * diag
    cracks = read_csv_rows(tmp_path / "out" / "cracks.csv")
    assert all(c["wide"] == int(c["width_max"] > 5) for c in cracks)
    for c in cracks:
        assert 0 < c["width_median"] <= c["width_p95"] <= c["width_max"] + 1e-6
        assert c["width_mean"] > 0 and c["length"] > 0 and 0 <= c["orientation_deg"] < 180
        # a crack's area is about its length times its mean width
        if c["length"] > 30:
            assert 0.5 < c["area_px"] / (c["length"] * c["width_mean"]) < 2.0


def test_measurement_never_imports_torch_or_qt():
    import subprocess
    import sys

    code = ("import sys, trainer.measure.run, trainer.cli.measure_cmd; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'PySide6')]; print(bad); "
            "raise SystemExit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
