"""Inspect's crack metrics (Qt-free): per-sample tolerance P/R/F1 and empty-aware Dice at any threshold, the split's
ODS/OIS/AP/clDice, sorting and filtering by them, the threshold rule, the leakage warning, measurements, scale."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from crackviewer.inspect import export as X
from crackviewer.inspect.measurement import measure_sample
from crackviewer.inspect.threshold_model import ThresholdModel
from scripts.crack_record_arrays import add_crack_arrays
from tests.fakes import make_fake_run
from trainer.metrics import crack_record
from trainer.metrics import pixels as MP
from trainer.measure.scale import load_scale, save_scale, scale_from_line
from trainer.runs import paths
from trainer.runs.evaluation import load_samples
from trainer.runs.thresholds import run_thresholds


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    r = make_fake_run(tmp_path_factory.mktemp("cm"), n_samples=16, size=40)
    add_crack_arrays(r)
    return r


@pytest.fixture()
def model(run) -> ThresholdModel:
    return ThresholdModel.from_eval(run)


def test_per_sample_metrics_follow_the_threshold(run, model):
    samples = load_samples(run)
    assert model.crack_view is not None
    for k in (200, 1500, 3000):
        model.set_seg_bin(k)
        ref = crack_record.columns(samples, k)
        v = model.valid
        for key in ("precision_tol", "recall_tol", "f1_tol"):
            np.testing.assert_allclose(model.metric(key)[v], ref[key][v])
        np.testing.assert_allclose(model.dice_empty_ok[v], ref["dice_empty_ok"][v])
        assert model.stats["f1_tol"] == pytest.approx(float(model.crack_view.curve["f1"][k]))


def test_crack_free_samples_are_not_scored_zero(model):
    """A crack-free image predicted empty scores 1 with empty GT handled; a stray pixel makes it 0."""
    model.set_seg_bin(MP.B)                             # nothing predicted anywhere
    neg = np.flatnonzero(~model.positive)
    assert neg.size
    for i in neg:
        info = model.sample_info(i)
        assert info["dice_empty_ok"] == 1.0
    model.set_seg_bin(0)                                # everything predicted
    assert all(model.sample_info(i)["dice_empty_ok"] == 0.0 for i in neg)


def test_split_metrics_match_the_record(run, model):
    samples = load_samples(run)
    met = json.loads((run / paths.METRICS).read_text())
    k = MP.threshold_to_bin(met["seg_threshold"])
    ref = crack_record.split_metrics(samples, k, 2.0, met["seg_threshold"], valid=model.valid)
    for key in ("ods_f1", "ois_f1", "pixel_ap", "cldice_mean", "ece_image", "ece_pixel"):
        assert model.split[key] == pytest.approx(ref[key]), key
    assert model.split["computed"] is True
    rel = model.reliability()
    assert rel["image"]["ece"] == pytest.approx(ref["ece_image"])


def test_gallery_sorts_and_filters_by_tolerance_f1(model):
    model.set_sort("f1_tol", ascending=False)
    f = model.metric("f1_tol")[model.order]
    shown = f[~np.isnan(f)]
    assert shown.size and np.all(np.diff(shown) <= 1e-12)
    model.set_metric_range("f1_tol", 0.5, 1.0)
    assert all(0.5 <= model.metric("f1_tol")[i] <= 1.0 for i in model.order)
    model.set_seg_bin(model.seg_bin + 600)              # the filter follows the slider
    assert all(0.5 <= model.metric("f1_tol")[i] <= 1.0 for i in model.order)


def test_opening_thresholds_are_the_threshold_rule(run, tmp_path):
    m = ThresholdModel.from_eval(run)
    t = run_thresholds(run)
    assert m.seg_threshold == MP.snap_threshold(t["seg_threshold"])
    assert m.image_threshold == t["image_threshold"] and m.threshold_source == t["source"]


def test_saved_thresholds_and_leakage(run, model):
    assert model.evaluation.split == "test"
    assert "leaks" in X.leakage_warning(model)
    model.set_seg_threshold(0.3)
    X.save_thresholds(model)
    again = ThresholdModel.from_eval(run)
    assert again.seg_threshold == model.seg_threshold and again.threshold_source == paths.THRESHOLDS
    (run / paths.THRESHOLDS).unlink()


def test_measurement_units_and_width_alarm():
    import cv2

    p = np.zeros((100, 100), np.uint8)
    cv2.line(p, (10, 50), (90, 50), 255, 6)             # 80 px + tips, 6 px wide on the map
    cv2.line(p, (20, 10), (80, 12), 255, 2)
    from trainer.measure.geometry import measure_mask

    m = measure_sample(p, 0.5, image_hw=(200, 200))     # image twice the map: lengths and widths double
    assert m.unit == "px" and len(m.rows) == 2
    wide = m.rows[0]
    ref = max(measure_mask(p > 127).cracks, key=lambda c: c.width_max)
    assert wide["width_max"] == pytest.approx(2 * ref.width_max) and wide["length"] == pytest.approx(2 * ref.length)
    assert 80 * 2 <= wide["length"] <= 90 * 2
    mm = measure_sample(p, 0.5, image_hw=(200, 200), mm_per_px=0.05, alarm=0.5)
    assert mm.unit == "mm" and mm.rows[0]["width_max"] == pytest.approx(wide["width_max"] * 0.05)
    assert [r["wide"] for r in mm.rows] == [True, False]
    assert measure_sample(p, 0.5, gated=True).rows == []


def test_calibrated_scale_is_saved_beside_the_dataset(tmp_path):
    mpp = scale_from_line(200.0, 10.0)
    assert mpp == pytest.approx(0.05)
    path = save_scale(tmp_path, mpp)
    assert path == tmp_path / "scale.json"
    save_scale(tmp_path, 0.02, image="a")
    s = load_scale(tmp_path)
    assert s.mm_per_px("b") == pytest.approx(0.05) and s.mm_per_px("a") == pytest.approx(0.02)
    with pytest.raises(Exception, match="greater than 0"):
        scale_from_line(100.0, -1.0)
