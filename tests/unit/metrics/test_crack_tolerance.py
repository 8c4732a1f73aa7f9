"""Tolerance P/R/F1, ODS/OIS, pixel AP and empty-aware Dice/IoU against independent brute-force computations."""
import numpy as np
import pytest

from trainer.metrics import pixels as metrics_pixels
from trainer.metrics import overlap, tolerance as T


def brute_counts(prob, gt, k, tol):
    """Counts by explicit pairwise Euclidean distances between pixel coordinates."""
    pred = (np.floor(prob.astype(np.float64) * metrics_pixels.B).clip(0, metrics_pixels.B - 1) >= k)
    gy, gx = np.nonzero(gt)
    py, px = np.nonzero(pred)
    if gy.size and py.size:
        d2 = (gy[:, None] - py[None, :]) ** 2 + (gx[:, None] - px[None, :]) ** 2
        close = d2 <= tol * tol
        recalled, matched = int(close.any(axis=1).sum()), int(close.any(axis=0).sum())
    else:
        recalled = matched = 0
    return dict(recalled=recalled, gt=int(gy.size), matched=matched, predicted=int(py.size))


def random_case(rng, h=17, w=23, empty_gt=False):
    prob = rng.random((h, w)).astype(np.float32) ** 2
    gt = np.zeros((h, w), bool) if empty_gt else rng.random((h, w)) < 0.15
    prob[gt] = np.minimum(prob[gt] + 0.3, 1.0)
    return prob, gt


def hists(probs, gts, tol):
    hg, hn = T.batch_tolerance_histograms(np.stack(probs), np.stack(gts), tol)
    hp = np.stack([metrics_pixels.sample_histograms(p, g)[0] for p, g in zip(probs, gts)])
    hneg = np.stack([metrics_pixels.sample_histograms(p, g)[1] for p, g in zip(probs, gts)])
    return hg, hn, hp, hneg


@pytest.mark.parametrize("tol", [0.0, 1.0, 1.5, 2.0, 3.0])
def test_tolerance_counts_match_pairwise_distances(tol):
    rng = np.random.default_rng(int(tol * 10))
    cases = [random_case(rng) for _ in range(4)] + [random_case(rng, empty_gt=True)]
    probs, gts = [c[0] for c in cases], [c[1] for c in cases]
    hg, hn, hp, hneg = hists(probs, gts, tol)
    for k in [0, 1, 500, 1234, 2048, 3000, 4095, 4096]:
        got = T.counts_at(hg, hn, hp, hneg, k)
        for i, (p, g) in enumerate(zip(probs, gts)):
            want = brute_counts(p, g, k, tol)
            assert {key: int(v[i]) for key, v in got.items()} == want, (k, i)


def test_disk_is_euclidean():
    d = T.tolerance_disk(2)
    assert d.sum() == 13 and d[0, 1] == 0 and d[1, 1] == 1 and d[2, 0] == 1
    assert T.tolerance_disk(0).shape == (1, 1)
    with pytest.raises(ValueError):
        T.tolerance_disk(-1)


def test_per_sample_prf_and_empty_rules():
    # sample 0: GT empty, nothing predicted at k; sample 1: GT empty, something predicted; sample 2: GT, none predicted
    got = T.prf_from_counts(recalled=[0, 0, 0, 3], gt=[0, 0, 5, 4], matched=[0, 0, 0, 2], predicted=[0, 7, 0, 4])
    assert got["f1"].tolist()[:3] == [1.0, 0.0, 0.0]
    assert got["precision"][1] == 0 and got["precision"][2] == 1 and got["recall"][2] == 0
    p, r = 2 / 4, 3 / 4
    assert got["f1"][3] == pytest.approx(2 * p * r / (p + r))


def test_split_curve_pools_counts_and_ods_is_its_best():
    rng = np.random.default_rng(7)
    cases = [random_case(rng) for _ in range(3)] + [random_case(rng, empty_gt=True)]
    probs, gts = [c[0] for c in cases], [c[1] for c in cases]
    hg, hn, hp, hneg = hists(probs, gts, 2)
    c = T.split_curve(hg, hn, hp, hneg)
    for k in [0, 777, 2500]:
        b = [brute_counts(p, g, k, 2) for p, g in zip(probs, gts)]
        P = sum(x["matched"] for x in b) / sum(x["predicted"] for x in b)
        R = sum(x["recalled"] for x in b) / sum(x["gt"] for x in b)
        assert c["f1"][k] == pytest.approx(2 * P * R / (P + R))
    o = T.ods(hg, hn, hp, hneg)
    assert o["ods_f1"] == pytest.approx(c["f1"][:metrics_pixels.B].max())
    assert c["f1"][o["ods_bin"]] == o["ods_f1"] and o["ods_threshold"] == o["ods_bin"] / metrics_pixels.B


def _hand_case():
    """Two 1x8 images, tolerance 0. Image A: GT at x=0..3, probabilities 0.9 0.9 0.3 0.3 | 0.6 0 0 0.
    Image B: GT at x=0..1, probabilities 0.3 0.3 | 0.6 0.6 0 0 0 0."""
    pa = np.array([[0.9, 0.9, 0.3, 0.3, 0.6, 0, 0, 0]], np.float32)
    ga = np.array([[1, 1, 1, 1, 0, 0, 0, 0]], bool)
    pb = np.array([[0.3, 0.3, 0.6, 0.6, 0, 0, 0, 0]], np.float32)
    gb = np.array([[1, 1, 0, 0, 0, 0, 0, 0]], bool)
    return hists([pa, pb], [ga, gb], 0)


def test_ods_ois_hand_made():
    # Candidate thresholds that matter: 0.9 / 0.6 / 0.3.
    # A: t=0.9: P=1,R=.5,F=2/3;  t=0.6: P=2/3,R=.5,F=4/7;  t=0.3: P=4/5,R=1,F=8/9  -> best 8/9 at 0.3
    # B: t=0.9: nothing (F=0);   t=0.6: P=0,F=0;           t=0.3: P=2/4,R=1,F=2/3 -> best 2/3 at 0.3
    # pooled: t=0.9: P=2/2,R=2/6 -> F=.5; t=0.6: P=2/5,R=2/6 -> 4/11; t=0.3: P=6/9,R=6/6 -> F=.8  => ODS .8 at 0.3
    hg, hn, hp, hneg = _hand_case()
    o = T.ods(hg, hn, hp, hneg)
    assert o["ods_f1"] == pytest.approx(0.8)
    assert o["ods_bin"] == metrics_pixels.prob_to_bin(np.float32(0.3)) and o["ods_threshold"] == o["ods_bin"] / metrics_pixels.B
    s = T.ois(hg, hn, hp, hneg)
    assert s["ois_f1"] == pytest.approx((8 / 9 + 2 / 3) / 2)
    # pooled at each image's best (0.3 for both) = the pooled 0.3 point
    assert s["ois_f1_pooled"] == pytest.approx(0.8)
    assert s["ois_n"] == 2


def test_ois_leaves_out_images_without_crack():
    hg, hn, hp, hneg = _hand_case()
    pe = np.full((1, 8), 0.7, np.float32)
    ge = np.zeros((1, 8), bool)
    hg2, hn2, hp2, hneg2 = hists([pe], [ge], 0)
    s = T.ois(*(np.concatenate([a, b]) for a, b in zip((hg, hn, hp, hneg), (hg2, hn2, hp2, hneg2))))
    assert s["ois_n"] == 2 and np.isnan(s["best_f1"][2]) and s["best_bin"][2] == -1
    assert s["ois_f1"] == pytest.approx((8 / 9 + 2 / 3) / 2)
    # but the negative's false positives lower ODS: pooled at 0.3 P = 6/17, R = 1
    o = T.ods(*(np.concatenate([a, b]) for a, b in zip((hg, hn, hp, hneg), (hg2, hn2, hp2, hneg2))))
    assert o["ods_f1"] < 0.8
    assert T.ods(hg2, hn2, hp2, hneg2)["ods_f1"] is None


def test_pixel_ap_equals_sklearn_on_bins():
    from sklearn.metrics import average_precision_score

    rng = np.random.default_rng(3)
    cases = [random_case(rng) for _ in range(3)]
    hp = sum(metrics_pixels.sample_histograms(p, g)[0] for p, g in cases)
    hn = sum(metrics_pixels.sample_histograms(p, g)[1] for p, g in cases)
    y = np.concatenate([g.ravel() for _, g in cases])
    s = np.concatenate([metrics_pixels.prob_to_bin(p.ravel()) for p, _ in cases])
    assert overlap.pixel_ap(hp, hn) == pytest.approx(average_precision_score(y, s), abs=1e-12)
    assert overlap.pixel_ap(np.zeros(metrics_pixels.B), hn) is None


def test_dice_iou_empty_ok_against_masks():
    rng = np.random.default_rng(5)
    cases = [random_case(rng) for _ in range(3)] + [random_case(rng, empty_gt=True)]
    cases.append((np.zeros((9, 9), np.float32), np.zeros((9, 9), bool)))       # empty GT, empty prediction
    hp = np.stack([metrics_pixels.sample_histograms(p, g)[0] for p, g in cases])
    hn = np.stack([metrics_pixels.sample_histograms(p, g)[1] for p, g in cases])
    k = metrics_pixels.threshold_to_bin(0.5)
    d, i = overlap.dice_iou_empty_ok_from_hist(hp, hn, k)
    for j, (p, g) in enumerate(cases):
        pred = metrics_pixels.prob_to_bin(p) >= k
        inter, union, tot = (pred & g).sum(), (pred | g).sum(), pred.sum() + g.sum()
        want_d = 1.0 if tot == 0 else 2 * inter / tot
        want_i = 1.0 if union == 0 else inter / union
        assert d[j] == pytest.approx(want_d) and i[j] == pytest.approx(want_i)
    assert d[3] == 0.0 and i[3] == 0.0 and d[4] == 1.0 and i[4] == 1.0
    ref_d, _ = metrics_pixels.dice_iou_from_hist(hp, hn, k)
    assert ref_d[4] == pytest.approx(1.0) and 0 < ref_d[3] < 1e-12        # the reference: ~0, not exactly 0
    gd, _ = overlap.dice_iou_empty_ok_from_hist(hp, hn, k, gate=np.array([1, 1, 1, 0, 1], bool))
    assert gd[3] == 1.0 and gd[0] == d[0]


def test_bin_image_equals_prob_to_bin():
    p = np.array([[-0.5, -1e-9, 0.0, 1 / metrics_pixels.B, 0.5, 0.99999, 1.0, 1.5]], np.float32)
    assert T.bin_image(p).tolist() == metrics_pixels.prob_to_bin(p).tolist()
    r = np.random.default_rng(0).random((30, 30))
    assert np.array_equal(T.bin_image(r), metrics_pixels.prob_to_bin(r))
    with pytest.raises(ValueError, match="NaN"):
        T.bin_image(np.array([[np.nan]]))


def test_prob8_min_at_bin_is_the_8bit_form_of_the_threshold_rule():
    from trainer.metrics import pixels as MP

    v = np.arange(256)
    bins = MP.prob_to_bin(v / 255.0)
    for k in range(0, MP.B + 1, 7):
        assert np.array_equal(v >= MP.prob8_min_at_bin(k), bins >= k)
    assert MP.prob8_min_at_bin(MP.B) == 256
