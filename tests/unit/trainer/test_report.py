"""trainer.report (README.md, comparison), figures (plots, architecture, Dice panel) and the offscreen
render subprocess (figures.render) on fake runs."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from tests.fakes import make_fake_eval, make_fake_run
from trainer.report import compare as RC
from trainer.report import figures as RFig
from trainer.report import run as RR
from trainer.runs import paths
from trainer.errors import CrackError
from trainer.runs.evaluation import read_eval, read_results

SECTIONS = ["## Model architecture", "## Dataset", "## Run parameters", "## Test Evaluation", "## ROC",
            "## Precision Recall", "## Losses", "### Loss Segmentation", "### Loss Decision", "### Total Loss",
            "### Validation", "### Dice and IoU", "## Dices", "## Log"]


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("report")


@pytest.fixture(scope="module")
def good_bad(ws) -> tuple[Path, Path]:
    good = make_fake_run(ws, n_samples=12, name="good", quality=0.95, seed=1)
    bad = make_fake_run(ws, n_samples=12, name="bad", quality=0.3, seed=2, data=ws / "data",
                        config={"learning_rate": 0.05})
    return good, bad


# ------------------------------------------------------------------------------------------------- run report
def test_run_report_has_every_section_and_this_runs_numbers(good_bad):
    run = good_bad[0]
    md_path = RR.write_run_report(run, render=False)
    md = md_path.read_text()
    assert md_path == run / "README.md"
    pos = [md.index(s) for s in SECTIONS]
    assert pos == sorted(pos), "sections out of the published order"
    m = json.loads((run / "metrics.json").read_text())
    line = (f"EVAL on TEST AUC={m['auc']:.6f}, and AP={m['ap']:.6f}, w/ best thr={m['best_threshold']:.6f} "
            f"at f-m={m['f_measure']:.3f} and FP={m['fp']}, FN={m['fn']}")
    assert line in md
    h = m["honest"]
    assert f"image thr={h['image_threshold']:.6f}" in md and f"FP={h['fp']}, FN={h['fn']}" in md
    assert f"Threshold = {m['seg_threshold']:.4f} (From validation)" in md
    assert f"| **Dice** | {m['dice_mean']:.4f} | {m['dice_std']:.4f} |" in md
    assert f"| **IoU** | {m['iou_mean']:.4f} | {m['iou_std']:.4f} |" in md
    # dataset counts table from run_started.counts
    assert "| Train | 7 | 5 | 12 |" in md and "| Test | 7 | 5 | 12 |" in md and "| Validation | 4 | 2 | 6 |" in md
    assert "| **Sum** | 18 | 12 | 30 |" in md
    assert "| Segmented samples | 7 |" in md and "| Input height | 64 |" in md
    # run parameters with the published names
    for name, value in [("Batch size", "4"), ("Epochs", "6"), ("Learning rate", "0.5"), ("Delta CLS Loss", "0.01"),
                        ("Dynamically balanced loss", "True"), ("Gradient-flow adjustment", "True"),
                        ("Validate on test", "False"), ("Dice threshold", "2"), ("Dice threshold factor", "1")]:
        assert f"| {name} | {value} |" in md
    assert "[log.txt](./log.txt)" in md
    # figures were not rendered: the report says so instead of linking missing files
    assert "figures not rendered" in md and "![ROC](./ROC.png)" not in md


def test_eval_folder_report_uses_the_runs_config(good_bad, tmp_path):
    run = good_bad[0]
    ev = make_fake_eval(tmp_path / "other_eval", n_samples=8, split="all")
    (ev / "source.json").write_text(json.dumps({"run": str(run), "data": str(tmp_path / "other_eval_data"),
                                                "split": "all"}))
    md = RR.write_run_report(ev, run_dir=run, render=False).read_text()
    assert md.startswith("# Evaluation of good on other_eval_data (all)")
    assert "## Evaluation (all)" in md and "EVAL on ALL AUC=" in md
    labels = read_eval(ev)["labels"]
    p = int(labels.sum())
    assert f"| all | {p} | {len(labels) - p} | {len(labels)} |" in md
    assert "| Learning rate | 0.5 |" in md
    assert f"[log.txt]({Path('..') / 'good' / 'log.txt'})" in md or "log.txt" in md


def test_one_class_split_says_undefined(tmp_path):
    ev = make_fake_eval(tmp_path / "neg", n_samples=5, pos_fraction=0.0)
    md = RR.write_run_report(ev, render=False).read_text()
    assert "AUC=undefined, and AP=undefined" in md
    assert "Undefined on this split: auc" in md
    assert "nan" not in md.lower().replace("nan_", "")


def test_report_of_a_running_run(tmp_path):
    run = make_fake_run(tmp_path, n_samples=6, status="running")
    md = RR.write_run_report(run, render=False).read_text()
    assert "status running" in md and "3/6 epochs" in md
    assert "No evaluation yet" in md


def test_render_failure_is_reported(tmp_path, monkeypatch):
    run = make_fake_run(tmp_path, n_samples=4)
    real = RFig.importlib.util.find_spec
    monkeypatch.setattr(RFig.importlib.util, "find_spec", lambda n, *a: None if n == "PySide6" else real(n, *a))
    assert RFig.render_figures(run) is False
    md = RR.write_run_report(run).read_text()
    assert "> figures not rendered: PySide6 not installed" in md


def test_report_without_the_figures_package(tmp_path, monkeypatch, capsys):
    run = make_fake_run(tmp_path, n_samples=4)
    real = RFig.importlib.util.find_spec
    monkeypatch.setattr(RFig.importlib.util, "find_spec", lambda n, *a: None if n == "figures" else real(n, *a))
    assert RFig.render_figures(run) is False
    assert "figures package is not installed" in capsys.readouterr().err
    md = RR.write_run_report(run).read_text()
    assert "> figures not rendered: the figures package is not installed" in md


def test_dice_png_name():
    assert paths.dice_png_name(0.41349, "43") == "0.413_dice_43.png"
    assert paths.dice_png_name(1.0, "train_positive/12") == "1.000_dice_train_positive__12.png"


# ------------------------------------------------------------------------------------------------- comparison
def test_better_run():
    assert RC.better_run([0.9, 0.95], True) == 1
    assert RC.better_run([3, 1, 2], False) == 1
    assert RC.better_run([0.5, 0.5], True) is None          # tie
    assert RC.better_run([0.5, None], True) is None         # undefined somewhere


def test_comparison_names_the_better_run(good_bad, tmp_path):
    good, bad = good_bad
    for r in good_bad:  # fake figures so that image links are written
        (r / "ROC.png").write_bytes(b"png")
        (r / "dices").mkdir(exist_ok=True)
        for row in read_results(r / "results.csv"):
            (r / "dices" / paths.dice_png_name(row["dice"], row["name"])).write_bytes(b"png")
    out = tmp_path / "cmp" / "both.md"
    RC.write_comparison([bad, good], out, render_missing=False)
    md = out.read_text()
    assert "Run 1 (`bad`), Run 2 (`good`)" in md
    mb, mg = (json.loads((r / "metrics.json").read_text()) for r in (bad, good))

    def verdict(label: str) -> str:
        row = next(ln for ln in md.splitlines() if ln.startswith(f"| {label}"))
        return row.rstrip(" |").split("|")[-1].strip()

    exp_auc = "Run 2" if mg["auc"] > mb["auc"] else ("Run 1" if mb["auc"] > mg["auc"] else "tie")
    assert verdict("AUC") == exp_auc == "Run 2"
    exp_fp = "Run 2" if mg["fp"] < mb["fp"] else ("Run 1" if mb["fp"] < mg["fp"] else "tie")
    assert verdict("FP (test-optimal thr) (lower is better)") == exp_fp
    assert verdict("Final training loss (lower is better)") == "Run 2"   # quality 0.95 learns faster
    assert verdict("Dice mean") == ("Run 2" if mg["dice_mean"] > mb["dice_mean"] else "Run 1")
    assert "| **Learning rate** | 0.05 | 0.5 |" in md                     # differing parameter in bold
    assert "Run 1: EVAL on TEST AUC=" in md and "Run 2: EVAL on TEST AUC=" in md
    # side-by-side images with paths relative to the md file, and they resolve
    assert "![ROC](../../bad/ROC.png) | ![ROC](../../good/ROC.png)" in md.replace(str(tmp_path), "")  \
        or re.search(r"!\[ROC\]\((\S+)\) \| !\[ROC\]\((\S+)\)", md)
    for rel in re.findall(r"!\[(?:ROC|dice_output)\]\(([^)]+)\)", md):
        assert (out.parent / rel).resolve().is_file(), rel
    assert md.count("![dice_output]") >= 2 * 4   # the same samples for both runs
    assert "[Run 1](" in md and "log.txt" in md


def test_comparison_needs_two_runs(good_bad, tmp_path):
    with pytest.raises(CrackError):
        RC.write_comparison([good_bad[0]], tmp_path / "x.md")


# ------------------------------------------------------------------------------------------------- figures (in process)
def test_dice_panel_colours_and_captions(qapp):
    from figures import colors
    from figures.dice_panel import dice_panel
    from figures.qimage import qimage_to_array

    h = w = 64
    img = np.full((h, w, 3), 128, np.uint8)
    gt = np.zeros((h, w), np.uint8)
    gt[10:20, 10:20] = 1                    # GT square
    prob = np.zeros((h, w), np.float32)
    prob[10:20, 15:25] = 0.9                # prediction shifted right: TP 10x5, FP 10x5, FN 10x5
    q = dice_panel(img, gt, prob, threshold=0.5, dice=0.5, iou=1 / 3)
    a = qimage_to_array(q)[..., :3]
    assert q.width() > 5 * 256 and q.height() > 256     # 64 px maps are upscaled to 256 px panels
    rgb = {tuple(c) for c in a.reshape(-1, 3)[::7]}
    for c in (colors.TP, colors.FP, colors.FN):
        assert tuple(c) in rgb

    def count(c):
        return int(np.all(a == np.array(c, np.uint8), axis=-1).sum())

    # equal areas of TP, FP, FN in the overlap panel (plus the 3 legend swatches of equal size)
    n_tp, n_fp, n_fn = count(colors.TP), count(colors.FP), count(colors.FN)
    assert n_tp > 800 and abs(n_tp - n_fp) <= 0.02 * n_tp and abs(n_tp - n_fn) <= 0.02 * n_tp


def test_predicted_mask_matches_histogram_rule():
    from figures.dice_panel import predicted_mask

    p = np.array([0.0, 0.2499, 0.25, 0.5, 1.0], np.float32)
    assert predicted_mask(p, 0.25).tolist() == [False, False, True, True, True]
    u8 = np.array([0, 63, 64, 255], np.uint8)           # 64/255 = 0.251 >= 0.25
    assert predicted_mask(u8, 0.25).tolist() == [False, False, True, True]


def test_architecture_figure_and_plots_build(qapp):
    from figures.architecture import architecture_figure
    from figures.plots import dice_iou_plot, loss_plot, loss_val_plot, pr_plot, render_widget, roc_plot
    from figures.qimage import qimage_to_array

    rows = [{"name": "input", "type": "Input", "out_shape": (1, 3, 64, 64), "params": 0},
            {"name": "stage1", "type": "ConvBlock", "out_shape": (1, 32, 64, 64), "params": 2464},
            {"name": "fc", "type": "Linear", "out_shape": (1, 1), "params": 67},
            {"name": "cls_logit", "type": "Output", "out_shape": (1,), "params": 0}]
    img = architecture_figure(rows)
    assert img.width() > 400 and img.height() > 200
    a = qimage_to_array(img)
    assert (a[..., :3] < 100).any()          # text and boxes were drawn on the white background
    losses = [{"epoch": e, "loss": 1 / e, "loss_seg": 0.5 / e, "loss_dec": 0.7 / e} for e in range(1, 5)]
    val = [{"epoch": 2, "ap": 0.7, "dice_mean": 0.5, "dice_std": 0.1, "iou_mean": 0.4, "iou_std": 0.1},
           {"epoch": 4, "ap": 0.8, "dice_mean": float("nan"), "dice_std": float("nan"), "iou_mean": 0.5,
            "iou_std": 0.1}]
    for w in (roc_plot([0, 0, 1], [0, 1, 1], 1.0, point=(0.0, 1.0, "thr")), pr_plot([0, 1], [1, 1], None),
              loss_plot(losses, "loss_seg", validation=val), loss_val_plot(losses, val), dice_iou_plot(val)):
        im = render_widget(w, (400, 300))
        assert (im.width(), im.height()) == (400, 300)
        px = qimage_to_array(im)[..., :3]
        assert (px == 255).all(axis=-1).mean() > 0.5      # white background
        w.deleteLater()
    with pytest.raises(ValueError):
        loss_plot(losses, "nope")


# ------------------------------------------------------------------------------------------------- render subprocess
def test_render_subprocess_writes_every_png(tmp_path, monkeypatch):
    """The one test that spawns Python + Qt: every figure of a small fake run, then the report links them.
    The folder is given relative to the working directory, as `crack-train report runs/R` does."""
    import cv2

    run = make_fake_run(tmp_path, n_samples=6, size=64, epochs=4)
    monkeypatch.chdir(run.parent)
    assert RFig.render_figures(Path(run.name)) is True, (run / "figures.json").read_text()
    info = json.loads((run / "figures.json").read_text())
    assert info["rendered"] and not info["errors"] and list(info["skipped"]) == ["measure_accuracy"]
    assert "crack-train measure" in info["skipped"]["measure_accuracy"]     # says how to get it
    for name in paths.PLOT_FILES:
        if name == paths.MEASURE_ACCURACY_PNG:
            continue
        img = cv2.imread(str(run / name))
        assert img is not None, name
        if name != "architecture.png":
            assert img.shape[:2] == (600, 800), name
        assert img.std() > 10, f"{name} looks blank"
    rows = read_results(run / "results.csv")
    expected = sorted(paths.dice_png_name(r["dice"], r["name"]) for r in rows)
    assert sorted(p.name for p in (run / "dices").glob("*.png")) == expected
    panel = cv2.imread(str(run / "dices" / expected[-1]))
    assert panel.shape[1] > 5 * 256
    md = RR.write_run_report(run, render=False).read_text()
    assert "figures not rendered" not in md
    for rel in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md):
        assert (run / rel).is_file(), rel
    assert "![ROC](./ROC.png)" in md and "![architecture](./architecture.png)" in md
    assert md.count("![dice_output](./dices/") >= 3


def test_panel_mask_agrees_with_the_histogram_dice(tmp_path):
    """The Dice panel's mask (from the 8-bit map) gives the Dice that results.csv has (from the histograms)."""
    import cv2

    from figures.dice_panel import predicted_mask

    ev_dir = make_fake_eval(tmp_path / "ev", n_samples=8)
    ev = read_eval(ev_dir)
    thr = ev["metrics"]["seg_threshold"]
    for i, name in enumerate(ev["names"]):
        prob = cv2.imread(str(ev_dir / "probs" / f"{name}.png"), cv2.IMREAD_GRAYSCALE)
        gt = cv2.imread(str(tmp_path / "ev_data" / "masks" / f"{name}.png"), cv2.IMREAD_GRAYSCALE) > 127
        pred = predicted_mask(prob, thr)
        tp, fp, g = (pred & gt).sum(), (pred & ~gt).sum(), gt.sum()
        assert (2 * tp + 1e-15) / (g + tp + fp + 1e-15) == pytest.approx(ev["results"][i]["dice"], abs=1e-6)


# ------------------------------------------------------------------------------------------------- crack sections
def test_crack_sections_quote_metrics_calibration_and_measurements(tmp_path):
    from trainer.report.crack_sections import calibration_md, crack_metrics_md, measurement_md

    m = dict(tolerance_px=2.0, ods_f1=0.71, ods_threshold=0.42, ois_f1=0.75, pixel_ap=0.66, precision_tol=0.8,
             recall_tol=0.6, f1_tol=0.686, cldice_mean=0.58, cldice_threshold=0.5, dice_empty_ok_mean=0.81,
             iou_empty_ok_mean=0.7, dice_mean=0.5, iou_mean=0.4, seg_threshold=0.5, ece_image=0.03, ece_pixel=0.01,
             ece_image_raw=0.09, ece_pixel_raw=0.02, temperature=dict(image=1.7, pixel=1.2, fitted_on="val"))
    text = "\n".join(crack_metrics_md(m))
    for s in ("ODS F1", "0.7100", "OIS F1", "0.7500", "clDice", "0.5800", "empty ground truth", "0.8100",
              "reference formula", "0.5000"):
        assert s in text, s
    assert crack_metrics_md({"dice_mean": 0.5}) == []            # an evaluation from before the crack metrics
    cal = "\n".join(calibration_md(m, lambda rel, alt: f"![{alt}]({rel})"))
    assert "0.0300" in cal and "T = 1.700" in cal and "0.0900" in cal and "![reliability diagram](reliability.png)" in cal
    # measurements: a hint without a measure/ folder, then the alarm and the accuracy
    assert "crack-train measure" in "\n".join(measurement_md(tmp_path, lambda r, a: r, 0.3))
    d = tmp_path / paths.MEASURE
    d.mkdir()
    (d / paths.CRACKS_CSV).write_text("image,crack,unit,length,width_max,wide\na,1,mm,12.5,0.45,1\na,2,mm,3,0.1,0\n")
    (d / paths.ACCURACY_JSON).write_text(json.dumps(dict(n_groups=2, n_pred_unmatched=1, n_gt_unmatched=0,
                                                         length_mae_px=3.25, width_max_mae_px=0.5, length_mae_mm=0.3,
                                                         width_max_mae_mm=0.05, n_groups_mm=2)))
    text = "\n".join(measurement_md(tmp_path, lambda r, a: f"![{a}]({r})", 0.3))
    assert "1 crack(s) wider than 0.3 mm" in text and "| a | 1 | 0.450 mm |" in text
    assert "length MAE 3.25 px" in text and "0.300 mm" in text and "measure_accuracy.png" in text


def test_reliability_and_measurement_figures_build(qapp):
    from figures.crack_plots import measure_scatter_plot, reliability_plot
    from figures.plots import render_widget
    from figures.qimage import qimage_to_array
    from trainer.metrics import calibration as K

    rng = np.random.default_rng(0)
    s = rng.random(50)
    rel = dict(image=K.reliability_scores(s > 0.5, s), pixel=K.reliability_pixels(np.ones(4096), np.ones(4096)))
    pairs = [dict(gt_length_px=10 * i, pred_length_px=10 * i + 2, gt_width_max_px=i, pred_width_max_px=i + 0.5)
             for i in range(1, 6)]
    for w in (reliability_plot(rel, 0.01, 0.2, temperature=dict(image=1.5, pixel=None)),
              measure_scatter_plot(pairs, dict(length_mae_px=2.0, width_max_mae_px=0.5))):
        px = qimage_to_array(render_widget(w, (400, 300)))[..., :3]
        assert (px == 255).all(axis=-1).mean() > 0.4 and (px < 120).any()     # white, with dark text/points
        w.deleteLater()
