"""The record format: collector -> samples.npz arrays -> results columns, metrics.json entries and the app's view."""
import json

import numpy as np
import pytest

from trainer.metrics import pixels as metrics_pixels
from trainer.metrics import centreline as C, crack_record as R, tolerance as T


@pytest.fixture()
def samples(tmp_path):
    rng = np.random.default_rng(11)
    n, h, w = 5, 24, 32
    prob = (rng.random((n, h, w)) * 0.6).astype(np.float32)
    gt = np.zeros((n, h, w), bool)
    for i in range(1, n):
        gt[i, rng.integers(3, 20), :] = True
        gt[i, :, rng.integers(3, 28)] = True
    prob[gt] += 0.35
    col = R.CrackCollector(n, tolerance=2, cldice_threshold=0.5)
    col.add(np.array([3, 4]), prob[3:], gt[3:])
    col.add(np.array([0, 1, 2]), prob[:3], gt[:3])
    hp = np.stack([metrics_pixels.sample_histograms(prob[i], gt[i])[0] for i in range(n)]).astype(np.uint32)
    hn = np.stack([metrics_pixels.sample_histograms(prob[i], gt[i])[1] for i in range(n)]).astype(np.uint32)
    np.savez_compressed(tmp_path / "samples.npz", hist_pos=hp, hist_neg=hn, labels=(gt.any(axis=(1, 2))).astype(np.int8),
                        scores=rng.random(n).astype(np.float32), **col.arrays())
    with np.load(tmp_path / "samples.npz") as z:
        d = {k: z[k] for k in z.files}
    d["_prob"], d["_gt"] = prob, gt
    return d


def test_columns_match_direct_computation(samples):
    k = metrics_pixels.threshold_to_bin(0.5)
    cols = R.columns(samples, k)
    assert set(R.RESULTS_COLUMNS) <= set(cols)
    for i in range(5):
        p, g = samples["_prob"][i], samples["_gt"][i]
        hg, hn = T.sample_tolerance_histograms(p, g)
        hp, hneg = metrics_pixels.sample_histograms(p, g)
        want = T.per_sample_prf(hg, hn, hp, hneg, k)
        assert cols["f1_tol"][i] == pytest.approx(float(want["f1"]))
        assert cols["cldice"][i] == pytest.approx(C.cldice(p, g, 0.5))
    assert cols["dice_empty_ok"][0] == 0.0          # sample 0: no GT, false positives at 0.5
    gated = R.columns(samples, k, gate=np.array([0, 1, 1, 1, 1], bool))
    assert gated["f1_tol"][0] == 1.0 and gated["dice_empty_ok"][0] == 1.0


def test_split_metrics_is_json_and_has_the_keys(samples):
    k = metrics_pixels.threshold_to_bin(0.5)
    m = R.split_metrics(samples, k, 2, 0.5, temperature=dict(image=1.3, pixel=None, fitted_on="val"))
    assert set(R.METRICS_KEYS) <= set(m)
    json.dumps(m)
    assert 0 < m["ods_f1"] <= 1 and 0 < m["ois_f1"] <= 1 and 0 < m["pixel_ap"] <= 1
    assert m["ods_f1"] >= m["f1_tol"]
    assert len(m["reliability"]["pixel"]["counts"]) == 15
    assert R.split_metrics(samples, k, 2, None)["cldice_mean"] is None


def test_view_agrees_with_columns_at_every_threshold(samples):
    view = R.CrackView(samples, metrics_pixels.CumulativeHist(samples["hist_pos"], samples["hist_neg"], samples["scores"]))
    for t in (0.1, 0.5, 0.77):
        k = metrics_pixels.threshold_to_bin(t)
        a, cols = view.at(k), R.columns(samples, k)
        for key in ("precision_tol", "recall_tol", "f1_tol", "dice_empty_ok", "iou_empty_ok"):
            assert np.allclose(a[key], cols[key]), key
        assert np.allclose(a["tsens"], C.tsens_at(samples["skel_hist_gt"], k))
        gate = samples["scores"] >= 0.4
        g = view.at(k, image_threshold=0.4)
        assert np.allclose(g["f1_tol"], R.columns(samples, k, gate=gate)["f1_tol"])


def test_without_cldice_nothing_skeletal_is_written(samples):
    col = R.CrackCollector(2, cldice=False)
    col.add([0, 1], samples["_prob"][:2], samples["_gt"][:2])
    a = col.arrays()
    assert set(a) == {"tol_hist_gt", "tol_hist_near"}
    assert np.array_equal(a["tol_hist_gt"], samples["tol_hist_gt"][:2])
    s = dict(hist_pos=samples["hist_pos"][:2], hist_neg=samples["hist_neg"][:2], labels=samples["labels"][:2],
             scores=samples["scores"][:2], **a)
    assert np.isnan(R.columns(s, 2048)["cldice"]).all()
    assert R.split_metrics(s, 2048, 2, 0.5)["cldice_mean"] is None
    view = R.CrackView(s)
    assert view.at(2048)["tsens"] is None and view.cldice_at_operating is None
    # clDice asked for but its threshold chosen after the pass: no counts until set_cldice was called for all
    col = R.CrackCollector(2)
    col.add([0, 1], samples["_prob"][:2], samples["_gt"][:2])
    assert "cldice_counts" not in col.arrays() and "skel_hist_gt" in col.arrays()


def test_check_samples_names_the_file(samples):
    from trainer.errors import DataError

    R.check_samples(samples, "x/samples.npz")
    bad = dict(samples, tol_hist_near=samples["tol_hist_near"][:2])
    with pytest.raises(DataError, match=r"x/samples.npz: tol_hist_near has shape \(2, 4096\), expected \(5, 4096\)"):
        R.check_samples(bad, "x/samples.npz")
    old = {k: v for k, v in samples.items() if k != "tol_hist_gt"}
    with pytest.raises(DataError, match="no tol_hist_gt.*evaluate the split again"):
        R.check_samples(old, "x/samples.npz")
