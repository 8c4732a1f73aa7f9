"""Reliability diagrams, ECE and temperature scaling."""
import numpy as np
import pytest

from trainer.metrics import pixels as metrics_pixels
from trainer.metrics import calibration as K


def test_ece_hand_made():
    # 4 bins: [0,.25) scores .1 .1 labels 0 0 -> conf .1 acc 0; [.75,1] scores .8 .8 .9 .9 labels 1 1 1 0 -> conf .85
    # acc .75. ECE = 2/6 * .1 + 4/6 * .1 = .1
    r = K.reliability_scores([0, 0, 1, 1, 1, 0], [0.1, 0.1, 0.8, 0.8, 0.9, 0.9], n_bins=4)
    assert r["ece"] == pytest.approx(0.1)
    assert r["counts"].tolist() == [2, 0, 0, 4]
    assert r["confidence"][3] == pytest.approx(0.85) and r["accuracy"][3] == pytest.approx(0.75)
    assert np.isnan(r["accuracy"][1])
    assert K.reliability_scores([1], [1.0], n_bins=4)["counts"][3] == 1       # p = 1 in the last bin


def test_pixel_reliability_from_histograms_matches_pixels():
    rng = np.random.default_rng(0)
    p = rng.random(20000).astype(np.float32)
    y = rng.random(20000) < p ** 2
    hp, hn = metrics_pixels.sample_histograms(p, y)
    rp = K.reliability_pixels(hp, hn)
    # exactly the pixels' diagram once each pixel stands at its bin centre (15 bins do not align with 4096)
    rs = K.reliability_scores(y, K.bin_centres()[metrics_pixels.prob_to_bin(p)])
    assert rp["counts"].tolist() == rs["counts"].tolist()
    assert np.allclose(rp["accuracy"], rs["accuracy"]) and np.allclose(rp["confidence"], rs["confidence"])
    assert rp["ece"] == pytest.approx(rs["ece"])
    # and close to the raw pixels' ECE
    assert rp["ece"] == pytest.approx(K.reliability_scores(y, p)["ece"], abs=0.01)


def test_temperature_fit_recovers_known_temperature():
    rng = np.random.default_rng(1)
    z = rng.normal(0, 3, 200000)
    y = rng.random(z.size) < K.sigmoid(z)               # calibrated at logits z
    scores = K.sigmoid(z * 2.5)                          # overconfident by T = 2.5
    fit = K.fit_temperature_scores(y, scores)
    assert fit["temperature"] == pytest.approx(2.5, rel=0.03)
    assert fit["nll_after"] < fit["nll_before"]
    hp, hn = metrics_pixels.sample_histograms(scores.astype(np.float32), y)
    assert K.fit_temperature_pixels(hp, hn)["temperature"] == pytest.approx(2.5, rel=0.05)
    cal = K.apply_temperature_scores(scores, fit["temperature"])
    assert K.reliability_scores(y, cal)["ece"] < K.reliability_scores(y, scores)["ece"] / 3
    assert K.fit_temperature_scores([1, 1], [0.2, 0.9])["temperature"] is None


def test_temperature_on_histograms_moves_bins_like_pixels():
    rng = np.random.default_rng(4)
    p = rng.random((3, 500)).astype(np.float32)
    g = rng.random((3, 500)) < 0.3
    h = np.stack([metrics_pixels.sample_histograms(p[i], g[i])[0] for i in range(3)]).astype(np.uint32)
    t = 1.7
    moved = K.apply_temperature_hist(h, t)
    assert moved.dtype == h.dtype and moved.shape == h.shape
    assert (moved.sum(axis=1) == h.sum(axis=1)).all()
    # each pixel moves by its bin centre: compare with binning the bin-centre-scaled probabilities directly
    c = K.bin_centres()[metrics_pixels.prob_to_bin(p)]
    want = np.stack([np.bincount(metrics_pixels.prob_to_bin(K.sigmoid(K.logit(c[i][g[i]]) / t)), minlength=metrics_pixels.B) for i in range(3)])
    assert np.array_equal(moved, want)
    rec = K.temperature_record(dict(temperature=t, nll_before=1.0, nll_after=0.5), None, "val")
    assert rec["image"] == t and rec["pixel"] is None and rec["fitted_on"] == "val"
