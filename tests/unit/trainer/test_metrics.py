"""trainer.metrics: image metrics vs sklearn, histogram thresholds vs the exact pixel PR curve, Dice/IoU from
histograms vs direct pixel computation, one-class splits."""
from __future__ import annotations

import time
import warnings

import numpy as np
import pytest
from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_curve

from trainer.metrics import image as MI
from trainer.metrics import pixels as MP


def _scores(rng, n, pos_frac=0.5):
    y = (rng.random(n) < pos_frac).astype(int)
    s = np.clip(rng.normal(0.35 + 0.35 * y, 0.2), 0, 1)
    return y, s


def _pixels(rng, n, pos_frac=0.05):
    """Realistic pixel probabilities: most background near 0, cracks high, some overlap."""
    g = rng.random(n) < pos_frac
    p = np.where(g, rng.beta(5, 2, n), rng.beta(1, 12, n)).astype(np.float32)
    return p, g


# ---------------------------------------------------------------- image level

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_image_metrics_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    y, s = _scores(rng, 300)
    m = MI.image_metrics(y, s)
    precision, recall, thr = precision_recall_curve(y, s)
    f = 2 * precision * recall / (precision + recall + 1e-8)
    ix = int(np.argmax(f))
    assert m["best_threshold"] == pytest.approx(thr[ix])
    assert m["f_measure"] == pytest.approx(f[ix])
    assert m["auc"] == pytest.approx(auc(*roc_curve(y, s)[:2]))
    assert m["ap"] == pytest.approx(auc(recall, precision))
    assert m["ap_sklearn"] == pytest.approx(average_precision_score(y, s))
    d = s >= thr[ix]
    assert (m["tp"], m["fp"], m["fn"], m["tn"]) == (int((d & (y == 1)).sum()), int((d & (y == 0)).sum()),
                                                    int((~d & (y == 1)).sum()), int((~d & (y == 0)).sum()))
    assert m["tp"] + m["fp"] + m["fn"] + m["tn"] == 300
    assert m["accuracy"] == pytest.approx((m["tp"] + m["tn"]) / 300)
    assert m["undefined"] == [] and m["undefined_reason"] is None


def test_image_metrics_at_given_threshold_is_the_honest_point():
    rng = np.random.default_rng(5)
    y, s = _scores(rng, 200)
    m = MI.image_metrics(y, s, threshold=0.6)
    d = s >= 0.6
    tp, fp, fn = int((d & (y == 1)).sum()), int((d & (y == 0)).sum()), int((~d & (y == 1)).sum())
    p, r = tp / (tp + fp), tp / (tp + fn)
    assert (m["tp"], m["fp"], m["fn"]) == (tp, fp, fn)
    assert m["threshold"] == 0.6
    assert m["f_measure"] == pytest.approx(2 * p * r / (p + r + 1e-8))
    # the test-optimal point is still reported, and is at least as good
    assert m["best_threshold"] is not None and m["best_f_measure"] >= m["f_measure"] - 1e-12


@pytest.mark.parametrize("labels,reason", [(np.ones(6), MI.REASON_ONLY_POS), (np.zeros(6), MI.REASON_ONLY_NEG)])
def test_one_class_split_is_undefined_not_nan(labels, reason):
    s = np.array([0.1, 0.2, 0.4, 0.6, 0.8, 0.9])
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # no sklearn warning spam
        m = MI.image_metrics(labels, s)
    for key in ("auc", "ap", "ap_sklearn", "best_threshold"):
        assert m[key] is None and key in m["undefined"]
    assert m["undefined_reason"] == reason == f"undefined: split has only {'positives' if labels[0] else 'negatives'}"
    assert m["threshold"] == 0.5                # counted at 0.5 when no threshold is given
    if labels[0]:
        assert (m["tp"], m["fn"], m["fp"], m["tn"]) == (3, 3, 0, 0)
        assert m["f_measure"] == pytest.approx(2 * 1 * 0.5 / 1.5, abs=1e-7)
    else:
        assert (m["tp"], m["fn"], m["fp"], m["tn"]) == (0, 0, 3, 3)
        assert m["f_measure"] is None and "f_measure" in m["undefined"]
    for v in m.values():
        assert not (isinstance(v, float) and np.isnan(v))
    m2 = MI.image_metrics(labels, s, threshold=0.3)
    assert m2["tp"] + m2["fp"] == 4


def test_roc_pr_curves():
    rng = np.random.default_rng(1)
    y, s = _scores(rng, 50)
    c = MI.roc_pr_curves(y, s)
    assert c["fpr"][0] == 0 and c["tpr"][-1] == 1 and len(c["precision"]) == len(c["recall"])
    assert MI.roc_pr_curves(np.ones(4), s[:4]) is None


# ---------------------------------------------------------------- bins and thresholds

def test_bin_edge_snapping_rule():
    rng = np.random.default_rng(0)
    p = np.concatenate([rng.random(20000).astype(np.float32),
                        np.arange(MP.B + 1, dtype=np.float32) / MP.B,          # every edge exactly, incl. 1.0
                        np.nextafter(np.arange(1, MP.B, dtype=np.float32) / MP.B, np.float32(0))])
    b = MP.prob_to_bin(p)
    assert b.min() >= 0 and b.max() == MP.B - 1
    for k in [0, 1, 2, 17, 409, 2048, 4000, MP.B - 1]:
        assert np.array_equal(b >= k, p >= k / MP.B), k
    assert not (b >= MP.B).any()                 # k = B (threshold 1.0) predicts nothing
    assert MP.threshold_to_bin(0.0) == 0 and MP.threshold_to_bin(1.0) == MP.B and MP.threshold_to_bin(1.5) == MP.B
    assert MP.threshold_to_bin(-0.2) == 0
    for k in [0, 1, 100, 4095, 4096]:
        assert MP.threshold_to_bin(MP.bin_to_threshold(k)) == k
    t = 0.30001
    k = MP.threshold_to_bin(t)
    assert MP.bin_to_threshold(k) >= t > MP.bin_to_threshold(k - 1)   # snapped up to the next edge
    with pytest.raises(ValueError):
        MP.threshold_to_bin(float("nan"))


def test_sample_histograms_and_stride():
    rng = np.random.default_rng(3)
    maps = [_pixels(rng, n) for n in (1000, 777, 1234)]
    for stride in (1, 3, 10):
        tot_p = np.zeros(MP.B, np.int64)
        tot_n = np.zeros(MP.B, np.int64)
        off = 0
        for p, g in maps:
            hp, hn = MP.sample_histograms(p, g, stride, off)
            tot_p += hp
            tot_n += hn
            off = MP.next_offset(off, p.size, stride)
        allp = np.concatenate([m[0] for m in maps])[::stride]
        allg = np.concatenate([m[1] for m in maps])[::stride]
        assert np.array_equal(tot_p, np.bincount(MP.prob_to_bin(allp[allg]), minlength=MP.B))
        assert np.array_equal(tot_n, np.bincount(MP.prob_to_bin(allp[~allg]), minlength=MP.B))
        assert tot_p.sum() + tot_n.sum() == allp.size


@pytest.mark.parametrize("seed", range(6))
def test_histogram_threshold_within_one_bin_of_sklearn(seed):
    rng = np.random.default_rng(seed)
    p, g = _pixels(rng, 30000, pos_frac=[0.02, 0.05, 0.2][seed % 3])
    precision, recall, thr = precision_recall_curve(g, p)
    f = 2 * precision * recall / (precision + recall + 1e-8)
    exact = float(thr[int(np.argmax(f))])
    hp, hn = MP.sample_histograms(p, g)
    t, f1 = MP.seg_threshold_pr(hp, hn)
    assert abs(t - exact) <= 1 / MP.B, (t, exact)
    assert f1 == pytest.approx(f.max(), abs=2e-3)
    # the histogram F1 is the exact F1 of the decision p >= t
    d = p >= t
    tp = (d & g).sum()
    pr, rc = tp / d.sum(), tp / g.sum()
    assert f1 == pytest.approx(2 * pr * rc / (pr + rc + 1e-8), rel=1e-9)


def test_seg_threshold_pr_edge_cases():
    assert MP.seg_threshold_pr(np.zeros(MP.B), np.ones(MP.B)) == (None, 0.0)
    hp = np.zeros(MP.B, np.int64)
    hn = np.zeros(MP.B, np.int64)
    hp[3000] = 50
    hn[100] = 1000
    t, f1 = MP.seg_threshold_pr(hp, hn)          # perfect separation: threshold at the crack bin, not in the gap
    assert t == 3000 / MP.B and f1 == pytest.approx(1.0, abs=1e-7)
    with pytest.raises(ValueError):
        MP.seg_threshold_pr(np.zeros(10), np.zeros(10))


def test_seg_threshold_min_max():
    maxima = np.array([0.9, 0.41, 0.77], np.float32)
    t = MP.seg_threshold_min_max(maxima)
    assert t == MP.bin_to_threshold(int(0.41 * MP.B)) and t <= 0.41
    for m in maxima:                            # every positive keeps at least its maximum pixel
        assert MP.prob_to_bin(m) >= MP.threshold_to_bin(t)
    assert MP.seg_threshold_min_max([]) is None


# ---------------------------------------------------------------- Dice / IoU

def _direct_dice_iou(p, g, thr, keep=True):
    pred = (p >= thr) & keep
    inter = float((pred & g).sum())
    dice = (2 * inter + 1e-15) / (g.sum() + pred.sum() + 1e-15)
    iou = (inter + 1e-15) / (g.sum() + pred.sum() - inter + 1e-15)
    return dice, iou


def _random_maps(rng, n=12, hw=(40, 48)):
    probs, gts = [], []
    for i in range(n):
        g = np.zeros(hw, bool)
        if i % 3:                               # positives: a random band; every third sample is a negative
            r = rng.integers(5, hw[0] - 5)
            g[r - 2:r + 2, rng.integers(0, 10):] = True
        p = np.clip(rng.normal(0.05, 0.05, hw) + g * rng.uniform(0.3, 0.9), 0, 1).astype(np.float32)
        if i == 3:
            p[:] = 0.01                         # a negative with an all-low map: empty prediction -> 1
        probs.append(p)
        gts.append(g)
    return probs, gts


def test_dice_from_hist_equals_direct_pixel_computation():
    rng = np.random.default_rng(7)
    probs, gts = _random_maps(rng)
    hists = [MP.sample_histograms(p, g) for p, g in zip(probs, gts)]
    hp = np.stack([h[0] for h in hists]).astype(np.uint32)
    hn = np.stack([h[1] for h in hists]).astype(np.uint32)
    scores = rng.random(len(probs))
    cum = MP.CumulativeHist(hp, hn, scores=scores)
    for t in [0.0, 0.05, 0.123456, 0.3, 0.5, 0.77, 0.999, 1.0]:
        k = MP.threshold_to_bin(t)
        tk = MP.bin_to_threshold(k)
        dice, iou = MP.dice_iou_from_hist(hp, hn, k)
        for i, (p, g) in enumerate(zip(probs, gts)):
            dd, ii = _direct_dice_iou(p, g, tk) if k < MP.B else _direct_dice_iou(p, g, 2.0)
            assert dice[i] == pytest.approx(dd, rel=1e-12, abs=1e-15)
            assert iou[i] == pytest.approx(ii, rel=1e-12, abs=1e-15)
        cd, ci = cum.dice_iou(k)
        assert np.array_equal(cd, dice) and np.array_equal(ci, iou)      # one formula, exact agreement
        # gating: samples scoring below the image threshold predict nothing
        gate = scores >= 0.5
        gd, gi = MP.dice_iou_from_hist(hp, hn, k, gate=gate)
        cgd, cgi = cum.dice_iou(k, image_threshold=0.5)
        assert np.array_equal(gd, cgd) and np.array_equal(gi, cgi)
        for i, (p, g) in enumerate(zip(probs, gts)):
            dd, ii = _direct_dice_iou(p, g, tk if k < MP.B else 2.0, keep=bool(gate[i]))
            assert gd[i] == pytest.approx(dd, rel=1e-12, abs=1e-15)
    # the all-low negative: empty prediction at 0.5 scores exactly 1; a gated-off negative also scores 1
    d, i = MP.dice_iou_from_hist(hp[3], hn[3], MP.threshold_to_bin(0.5))
    assert d == 1.0 and i == 1.0
    # a negative with false-positive pixels scores ~0
    d0, _ = MP.dice_iou_from_hist(hp[0], hn[0], 0)
    assert d0 < 1e-10


def test_dice_stats_population_std_and_valid():
    d = np.array([1.0, 0.5, 0.0, 0.25])
    i = d / 2
    s = MP.dice_stats(d, i)
    assert s["dice_mean"] == pytest.approx(d.mean()) and s["dice_std"] == pytest.approx(np.std(d))
    assert s["iou_std"] == pytest.approx(np.std(i)) and s["dice_n"] == 4
    v = MP.dice_valid(labels=[1, 0, 1, 1], segmented=[True, False, False, True])
    assert v.tolist() == [True, True, False, True]
    s2 = MP.dice_stats(d, i, v)
    assert s2["dice_n"] == 3 and s2["dice_mean"] == pytest.approx(np.mean([1.0, 0.5, 0.25]))
    assert MP.dice_stats([], [])["dice_mean"] is None


def test_cumulative_hist_speed_and_curve():
    rng = np.random.default_rng(0)
    n = 1695
    hp = rng.integers(0, 20, (n, MP.B), dtype=np.uint32)
    hn = rng.integers(0, 60, (n, MP.B), dtype=np.uint32)
    cum = MP.CumulativeHist(hp, hn, scores=rng.random(n))
    k = 1234
    ref = MP.dice_iou_from_hist(hp, hn, k)
    assert np.array_equal(cum.dice_iou(k)[0], ref[0])
    best = 1e9
    for j in range(30):
        t0 = time.perf_counter()
        cum.dice_iou(100 + j)
        cum.dice_iou(100 + j, image_threshold=0.5)
        best = min(best, (time.perf_counter() - t0) / 2)
    assert best < 1e-3, f"{best * 1e3:.3f} ms per threshold at {n} samples"
    curve = cum.mean_curve(ks=[0, k, MP.B])
    assert curve["dice"][1] == pytest.approx(ref[0].mean())
    assert curve["threshold"].tolist() == [0.0, k / MP.B, 1.0]
    with pytest.raises(ValueError):
        cum.dice_iou(MP.B + 1)
    with pytest.raises(ValueError):
        MP.CumulativeHist(hp, hn).dice_iou(5, image_threshold=0.5)   # gating needs scores
