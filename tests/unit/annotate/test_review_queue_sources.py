"""The review queue's prediction source: THE threshold rule, prob_png_path, and ranking by flip-TTA uncertainty;
the prediction-source list of a workspace. Qt-free."""
import json
from pathlib import Path

import cv2
import numpy as np

from crackviewer.annotate.review_queue import PredictionSource, rank
from trainer.datasets.records import SampleRecord
from trainer.runs.paths import prob_png_path

NAMES = ["w1", "w2", "n1"]


def make_eval(d: Path, uncertainty=None, thresholds=None) -> Path:
    (d / "probs").mkdir(parents=True)
    for n in NAMES:
        cv2.imwrite(str(prob_png_path(d, n)), np.full((8, 8), 40, np.uint8))
    hist = np.zeros((3, 16), np.uint32)
    arrays = dict(names=np.array(NAMES), labels=np.array([1, 1, 0], np.int8),
                  scores=np.array([0.5, 0.95, 0.1], np.float32), hist_pos=hist, hist_neg=hist)
    if uncertainty is not None:
        arrays["uncertainty"] = np.asarray(uncertainty, np.float32)
    np.savez(d / "samples.npz", **arrays)
    (d / "metrics.json").write_text(json.dumps({"seg_threshold": 0.4, "decision_threshold": 0.5}))
    if thresholds is not None:
        (d / "thresholds.json").write_text(json.dumps(thresholds))
    return d


def recs(tmp_path):
    return [SampleRecord(n, tmp_path / f"{n}.png", tmp_path / f"{n}_m.png", False, 1 if n[0] == "w" else 0, "train")
            for n in NAMES]


def test_ranks_by_score_without_uncertainty_and_by_uncertainty_with_it(tmp_path):
    src = PredictionSource(make_eval(tmp_path / "a"))
    items, missing = rank(recs(tmp_path), src)
    assert not missing and [it.name for it in items][0] == "w1"          # score at the threshold: most uncertain
    src = PredictionSource(make_eval(tmp_path / "b", uncertainty=[0.05, 0.9, 0.3]))
    items, _ = rank(recs(tmp_path), src)
    assert [it.name for it in items] == ["w2", "n1", "w1"]
    assert items[0].extra["uncertainty"] == np.float32(0.9) and "uncertainty 0.90" in items[0].reason


def test_thresholds_follow_the_run_rule(tmp_path):
    src = PredictionSource(make_eval(tmp_path / "a", thresholds={"seg_threshold": 0.3, "image_threshold": 0.7}))
    assert src.seg_threshold == 0.3 and src.image_threshold == 0.7
    assert src.prob_path("w1") == prob_png_path(tmp_path / "a", "w1")
    assert PredictionSource(make_eval(tmp_path / "b")).seg_threshold == 0.4      # metrics.json


def test_source_choices_list_the_workspace_runs_with_coverage(tmp_path):
    from crackviewer.annotate.sources import source_choices
    run = tmp_path / "ws" / "run1"
    make_eval(run / "evals" / "train")
    (run / "config.toml").write_text("")
    make_eval(run)                               # the run's own test evaluation
    other = tmp_path / "elsewhere" / "run2"
    make_eval(other / "evals" / "val")
    (other / "config.toml").write_text("")
    got = source_choices(tmp_path / "ws", [other], {"w1", "n1", "zz"})
    assert [(c.run, c.path, c.covered) for c in got] == [
        ("run1", run, 2), ("run1", run / "evals" / "train", 2), ("run2", other / "evals" / "val", 2)]
