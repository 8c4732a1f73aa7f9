"""ThresholdModel (Qt-free): agreement with the evaluation, thresholds, gating, sorting/filtering, curves, export."""
from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from crackviewer.inspect import export as X
from crackviewer.inspect.threshold_model import OUTCOMES, ThresholdModel
from crackviewer.inspect.evaluation_folder import Evaluation
from crackviewer.inspect.sample_store import SampleStore
from tests.fakes import make_fake_eval, make_fake_run
from trainer.metrics import image as MI
from trainer.metrics import pixels as MP


@pytest.fixture(scope="module")
def fake_run(tmp_path_factory) -> Path:
    return make_fake_run(tmp_path_factory.mktemp("tm"), n_samples=30, size=48, with_val_eval=True)


@pytest.fixture()
def model(fake_run) -> ThresholdModel:
    return ThresholdModel.from_eval(fake_run)


def _results(run: Path) -> dict[str, dict]:
    with open(run / "results.csv", newline="") as fh:
        return {r["name"]: r for r in csv.DictReader(fh)}


def test_qt_free():
    import subprocess

    code = ("import sys; import crackviewer.inspect.threshold_model, crackviewer.inspect.export; "
            "bad = [m for m in sys.modules if m.startswith(('PySide6', 'pyqtgraph'))]; print(bad); "
            "sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[3],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_agrees_with_results_csv_at_eval_threshold(fake_run, model):
    """The window shows what the evaluation wrote: same per-sample Dice/IoU and the same mean at its threshold."""
    met = json.loads((fake_run / "metrics.json").read_text())
    model.set_seg_threshold(met["seg_threshold"])
    assert model.seg_threshold == MP.snap_threshold(met["seg_threshold"])
    rows = _results(fake_run)
    assert len(rows) == model.n
    for name, r in rows.items():
        i = model.index_of(name)
        assert model.dice[i] == pytest.approx(float(r["dice"]), abs=1e-6)
        assert model.iou[i] == pytest.approx(float(r["iou"]), abs=1e-6)
    assert model.stats["dice_mean"] == pytest.approx(met["dice_mean"], abs=1e-12)
    assert model.stats["iou_std"] == pytest.approx(met["iou_std"], abs=1e-12)


def test_mean_dice_equals_trainer_metrics_at_any_threshold(model):
    ev = model.evaluation
    valid = MP.dice_valid(ev.labels, ev.segmented)
    for t in (0.05, 0.3141, 0.5, 0.77, 0.999, 1.0):
        model.set_seg_threshold(t)
        d, i = MP.dice_iou_from_hist(ev.hist_pos, ev.hist_neg, MP.threshold_to_bin(t))
        ref = MP.dice_stats(d, i, valid)
        assert model.stats["dice_mean"] == ref["dice_mean"]
        assert model.stats["iou_mean"] == ref["iou_mean"]
        np.testing.assert_array_equal(model.dice_all, d)


def test_agrees_with_a_real_evaluate_split(synthetic_dataset, tmp_path):
    """A real (untrained) SegDecNet evaluated by trainer.evaluate at two thresholds: the model, loaded from the
    evaluation folder, shows the evaluation's mean Dice at each."""
    torch = pytest.importorskip("torch")
    from trainer.training.dataset import CrackDataset
    from trainer.datasets.layouts import open_dataset
    from trainer.training.evaluate import evaluate_split
    from trainer.training.model import SegDecNet

    torch.manual_seed(0)
    torch.set_num_threads(1)
    net = SegDecNet(input_height=128, input_width=64)
    recs = open_dataset(synthetic_dataset).split("test")
    ds = CrackDataset(recs, (128, 64), train=False)
    out = tmp_path / "ev"
    met = evaluate_split(net, ds, out, seg_threshold=0.5, device="cpu", precision="fp32")
    m = ThresholdModel.from_eval(out)
    for t in (0.5, met["split_best"]["seg_threshold"] or 0.25):
        met_t = evaluate_split(net, ds, tmp_path / f"ev_{t}", seg_threshold=t, device="cpu", precision="fp32",
                               write_maps=False)
        m.set_seg_threshold(t)
        assert m.stats["dice_mean"] == pytest.approx(met_t["dice_mean"], abs=1e-12)
        assert m.stats["iou_mean"] == pytest.approx(met_t["iou_mean"], abs=1e-12)
    # the overlay rule on the 8-bit maps matches the histograms up to the 8-bit rounding of the maps
    st = SampleStore(m.evaluation, data_path=synthetic_dataset)
    m.set_seg_threshold(0.5)
    for i in range(m.n):
        d = st.load(i)
        pred = X.predicted_mask(d.prob8, m.seg_bin) > 0
        assert abs(int(pred.sum()) - int(m.pred_pixels[i])) <= 0.02 * d.prob8.size


def _real_runs() -> list[Path]:
    runs = Path(__file__).resolve().parents[3] / "runs"
    if not runs.is_dir():
        return []
    out = []
    for d in sorted(runs.iterdir()):
        for ev in [d, *sorted((d / "evals").glob("*"))] if (d / "evals").is_dir() else [d]:
            if (ev / "samples.npz").is_file() and (ev / "results.csv").is_file() and (ev / "metrics.json").is_file():
                out.append(ev)
    return out


@pytest.mark.parametrize("ev_dir", _real_runs() or [None], ids=lambda p: "no-real-run" if p is None else p.name)
def test_agrees_with_crack_train_eval_on_real_runs(ev_dir):
    """Every real evaluation under runs/ (written by crack-train train/eval): the window's per-sample Dice and its
    mean at the evaluation's threshold are what crack-train wrote; at other thresholds, what trainer.metrics gives."""
    if ev_dir is None:
        pytest.skip("no real run folder with an evaluation under runs/ yet")
    met = json.loads((ev_dir / "metrics.json").read_text())
    m = ThresholdModel.from_eval(ev_dir)
    m.set_gated(False)
    m.set_seg_threshold(met["seg_threshold"])
    if met.get("dice_mean") is not None:
        assert m.stats["dice_mean"] == pytest.approx(met["dice_mean"], abs=1e-12)
        assert m.stats["iou_mean"] == pytest.approx(met["iou_mean"], abs=1e-12)
    for name, r in _results(ev_dir).items():
        if r["dice"] not in ("", None):
            assert m.dice[m.index_of(name)] == pytest.approx(float(r["dice"]), abs=1e-6)
    ev = m.evaluation
    valid = MP.dice_valid(ev.labels, ev.segmented)
    for t in (0.2, 0.5, 0.8):
        m.set_seg_threshold(t)
        d, i = MP.dice_iou_from_hist(ev.hist_pos, ev.hist_neg, MP.threshold_to_bin(t))
        assert m.stats["dice_mean"] == MP.dice_stats(d, i, valid)["dice_mean"]


def test_seg_threshold_event_and_snapping(model):
    seen = []
    model.events.thresholds.connect(lambda **kw: seen.append(kw["model"].seg_bin))
    model.set_seg_threshold(0.30001)
    assert model.seg_bin == MP.threshold_to_bin(0.30001)
    assert model.seg_threshold >= 0.30001
    assert seen == [model.seg_bin]
    model.set_seg_threshold(0.30001)          # unchanged: no event
    assert len(seen) == 1
    d_lo = model.stats["dice_mean"]
    model.set_seg_bin(MP.B)                     # threshold 1.0: nothing predicted
    assert model.pred_pixels.sum() == 0
    assert model.stats["dice_mean"] != d_lo


def test_image_threshold_outcomes(model):
    for t in (0.2, 0.5, 0.8):
        model.set_image_threshold(t)
        ref = MI.confusion_counts(model.labels, model.scores, t)
        assert (model.stats["tp"], model.stats["fp"], model.stats["fn"], model.stats["tn"]) == \
            (ref["tp"], ref["fp"], ref["fn"], ref["tn"])
        for i in range(model.n):
            o = OUTCOMES[model.outcome[i]]
            pos, dec = model.labels[i] > 0, model.scores[i] >= t
            assert o == {(True, True): "TP", (False, True): "FP", (True, False): "FN", (False, False): "TN"}[
                (bool(pos), bool(dec))]


def test_gating_blanks_masks_and_updates_numbers(model):
    model.set_image_threshold(0.6)
    model.set_seg_threshold(0.4)
    ungated = model.stats["dice_mean"]
    model.set_gated(True)
    ev = model.evaluation
    gate = model.scores >= 0.6
    d, i = MP.dice_iou_from_hist(ev.hist_pos, ev.hist_neg, model.seg_bin, gate=gate)
    np.testing.assert_array_equal(model.dice_all, d)
    assert model.stats["dice_mean"] == MP.dice_stats(d, i, MP.dice_valid(ev.labels, ev.segmented))["dice_mean"]
    assert model.stats["dice_mean"] != ungated
    blanked = np.flatnonzero(~gate)
    assert blanked.size and all(model.pred_pixels[k] == 0 and model.mask_blanked(k) for k in blanked)
    neg_blanked = [k for k in blanked if model.labels[k] == 0]
    assert all(model.dice[k] == 1.0 for k in neg_blanked)       # empty prediction on a negative scores 1
    # gating follows the image threshold
    model.set_image_threshold(0.0)
    assert not any(model.mask_blanked(k) for k in range(model.n))
    assert model.stats["dice_mean"] == pytest.approx(
        MP.dice_stats(*MP.dice_iou_from_hist(ev.hist_pos, ev.hist_neg, model.seg_bin),
                     MP.dice_valid(ev.labels, ev.segmented))["dice_mean"])


def test_presets(fake_run, model):
    met = json.loads((fake_run / "metrics.json").read_text())
    ev = model.evaluation
    model.reset_seg("optimal")
    t, _ = MP.seg_threshold_pr(ev.hist_pos.sum(0, dtype=np.int64), ev.hist_neg.sum(0, dtype=np.int64))
    assert model.seg_threshold == t
    model.reset_seg("validation")
    assert model.seg_threshold == MP.snap_threshold(met["honest"]["seg_threshold"])
    model.reset_image("optimal")
    assert model.image_threshold == met["best_threshold"]
    model.reset_image("validation")
    assert model.image_threshold == met["honest"]["image_threshold"]


def test_sort_and_filters(model):
    model.set_seg_threshold(0.5)
    model.set_sort("dice", ascending=True)
    d = model.dice[model.order]
    assert np.all(np.diff(d[~np.isnan(d)]) >= 0)
    assert model.order[0] == int(np.nanargmin(model.dice))      # the worst sample is the first tile
    model.set_ascending(False)
    d = model.dice[model.order]
    assert np.all(np.diff(d) <= 0)
    model.set_sort("score", ascending=True)
    assert np.all(np.diff(model.scores[model.order]) >= 0)
    model.set_sort("name")
    assert [model.names[i] for i in model.order] == sorted(model.names)
    model.set_sort("iou", ascending=True)
    assert np.all(np.diff(model.iou[model.order]) >= 0)

    model.set_outcome_filter(["FN", "FP"])
    assert model.visible_count == model.stats["fn"] + model.stats["fp"]
    assert all(OUTCOMES[model.outcome[i]] in ("FN", "FP") for i in model.order)
    model.reset_filters()
    model.set_label_filter("negative")
    assert model.visible_count == int((model.labels == 0).sum())
    model.set_label_filter("positive")
    assert all(model.labels[i] == 1 for i in model.order)
    model.reset_filters()
    model.set_dice_range(0.2, 0.8)
    assert model.visible_count == int(((model.dice >= 0.2) & (model.dice <= 0.8)).sum())
    model.reset_filters()
    name = model.names[3]
    model.set_text_filter(name.upper())
    assert [model.names[i] for i in model.order] == [name]
    model.reset_filters()
    assert model.visible_count == model.n


def test_order_follows_threshold_when_sorted_by_dice(model):
    model.set_sort("dice", ascending=True)
    views = []
    model.events.view.connect(lambda **kw: views.append(kw["model"].order.copy()))
    model.set_seg_threshold(0.1)
    model.set_seg_threshold(0.9)
    assert len(views) == 2
    for o in views[-1:]:
        d = model.dice[o]
        assert np.all(np.diff(d[~np.isnan(d)]) >= 0)


def test_weak_positives_have_no_dice_and_sort_last(tmp_path):
    rng = np.random.default_rng(1)
    n = 6
    hp = rng.integers(0, 50, (n, MP.B)).astype(np.uint32)
    hn = rng.integers(0, 50, (n, MP.B)).astype(np.uint32)
    seg = np.array([1, 1, 0, 1, 1, 1], bool)          # sample 2 is a weak positive
    ev = Evaluation.from_arrays([f"s{k}" for k in range(n)], [1] * n, rng.random(n), hp, hn, segmented=seg)
    m = ThresholdModel(ev)
    assert np.isnan(m.dice[2]) and m.sample_info(2)["weak"]
    assert m.stats["dice_n"] == 5
    m.set_sort("dice", ascending=True)
    assert m.order[-1] == 2
    m.set_ascending(False)
    assert m.order[-1] == 2
    m.set_dice_range(0.0, 0.99)
    assert 2 not in m.order


def test_step_current(model):
    model.set_sort("name")
    model.set_current(int(model.order[0]))
    model.step_current(1)
    assert model.current == int(model.order[1])
    model.step_current(-5)
    assert model.current == int(model.order[0])
    model.step_current(10_000)
    assert model.current == int(model.order[-1])


def test_curve_points_give_thresholds(model):
    c = model.image_curves()
    k = len(c["fpr"]) // 2
    t = model.nearest_image_threshold("roc", c["fpr"][k], c["tpr"][k])
    model.set_image_threshold(t)
    op = model.image_operating_point()
    assert (op["fpr"], op["tpr"]) == pytest.approx((c["fpr"][k], c["tpr"][k]))
    kp = len(c["recall"]) // 2
    t = model.nearest_image_threshold("pr", c["recall"][kp], c["precision"][kp])
    model.set_image_threshold(t)
    op = model.image_operating_point()
    assert (op["recall"], op["precision"]) == pytest.approx((c["recall"][kp], c["precision"][kp]))
    pc = model.pixel_curve(step=1)
    ks = 1500
    t = model.nearest_seg_threshold("pixel", pc["recall"][ks], pc["precision"][ks])
    model.set_seg_threshold(t)
    po = model.pixel_operating_point()
    assert (po["recall"], po["precision"]) == pytest.approx((pc["recall"][ks], pc["precision"][ks]))
    dc = model.dice_curve()
    assert dc["dice"].shape == dc["threshold"].shape


def test_one_class_split_has_no_image_curves(tmp_path):
    ev_dir = make_fake_eval(tmp_path / "ev", n_samples=8, size=32, pos_fraction=1.0)
    m = ThresholdModel.from_eval(ev_dir)
    assert m.image_curves() is None
    assert m.presets["image_optimal"].source.startswith("default")
    assert m.stats["dice_mean"] is not None


def test_missing_eval_names_the_file(tmp_path):
    from trainer.errors import DataError

    with pytest.raises(DataError) as e:
        ThresholdModel.from_eval(tmp_path)
    assert "samples.npz" in str(e.value)


def test_sample_store_and_missing_dataset(fake_run, tmp_path):
    m = ThresholdModel.from_eval(fake_run)
    st = SampleStore(m.evaluation)
    d = st.load(0)
    assert d.problem is None and d.image.ndim == 3 and d.prob8 is not None
    assert d.gt_eval.shape == d.prob8.shape
    gone = SampleStore(m.evaluation, data_path=tmp_path / "nowhere")
    d = gone.load(0)
    assert d.image.shape[:2] == d.prob8.shape and "not found" in d.problem
    th = st.thumbnail(0, 40)
    assert max(th.image.shape[:2]) == 40 and th.prob8.shape == th.image.shape[:2]


# ------------------------------------------------------------------------------------------------ export


def test_export_csv_masks_and_thresholds(tmp_path_factory):
    run = make_fake_run(tmp_path_factory.mktemp("exp"), n_samples=12, size=40)
    m = ThresholdModel.from_eval(run)
    m.set_thresholds(seg=0.42, image=0.55, gated=True)
    p = X.export_results_csv(m, tmp_path_factory.mktemp("o") / "r.csv")
    rows = list(csv.DictReader(open(p)))
    assert len(rows) == m.n
    for r in rows:
        i = m.index_of(r["name"])
        assert float(r["dice"]) == pytest.approx(m.dice[i], abs=1e-6)
        assert r["outcome"] == OUTCOMES[m.outcome[i]]
        assert float(r["seg_threshold"]) == pytest.approx(m.seg_threshold) and r["gated"] == "1"

    st = SampleStore(m.evaluation)
    out = tmp_path_factory.mktemp("masks")
    res = X.export_masks(m, st, out)
    assert res["written"] == m.n and not res["problems"]
    import cv2

    for i in range(m.n):
        mask = cv2.imread(str(out / f"{m.names[i]}.png"), cv2.IMREAD_UNCHANGED)
        assert set(np.unique(mask)) <= {0, 255}
        if m.mask_blanked(i):
            assert mask.max() == 0
        else:
            # same resolution as the maps here: the mask is the histogram rule on the 8-bit map
            assert (mask > 0).sum() == (X.predicted_mask(st.prob8(i), m.seg_bin) > 0).sum()

    path = X.save_thresholds(m)
    assert path == run / "thresholds.json"
    saved = json.loads(path.read_text())
    assert saved["seg_threshold"] == m.seg_threshold and saved["image_threshold"] == 0.55 and saved["gated"] is True
    # crack-train predict reads them
    from trainer.runs.thresholds import run_thresholds as _run_thresholds

    thr = _run_thresholds(run)
    assert (thr["seg_threshold"], thr["image_threshold"], thr["gated"]) == (m.seg_threshold, 0.55, True)
    # and the window reopens at the saved thresholds
    m2 = ThresholdModel.from_eval(run)
    assert (m2.seg_threshold, m2.image_threshold, m2.gated) == (m.seg_threshold, 0.55, True)


def test_save_thresholds_read_only_folder_names_file(tmp_path_factory):
    import os

    from trainer.errors import DataError

    run = make_fake_run(tmp_path_factory.mktemp("ro"), n_samples=6, size=32)
    m = ThresholdModel.from_eval(run)
    os.chmod(run, 0o555)
    try:
        if os.access(run, os.W_OK):
            pytest.skip("running as root: folders stay writable")
        with pytest.raises(DataError) as e:
            X.save_thresholds(m)
        assert "thresholds.json" in str(e.value)
    finally:
        os.chmod(run, 0o755)
