"""trainer.datasets.synthetic: the layout it writes, determinism, variety of cracks and distractors, and that crack-free
images are not separable by naive image statistics."""
from __future__ import annotations

import csv
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from trainer.datasets import scenes as SC
from trainer.datasets import synthetic as S
from trainer.datasets.layouts import open_dataset
from trainer.datasets.validation import validate_records
from trainer.errors import DataError


def _rows(root: Path):
    with open(root / "manifest.csv", newline="") as f:
        return list(csv.DictReader(f))


def _files(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def mixed(tmp_path_factory) -> Path:
    return S.make_synthetic_dataset(tmp_path_factory.mktemp("syn") / "ds", 30, 30, 4, 4, 4, 4, size=(64, 64), seed=11)


def test_manifest_layout_and_masks(mixed):
    rows = _rows(mixed)
    assert list(rows[0].keys())[:6] == ["name", "label", "split", "width", "height", "source"]
    assert len(rows) == 76 and {r["source"] for r in rows} == {"synthetic"}
    count = {(r["split"], r["label"]) for r in rows}
    assert count == {(sp, lab) for sp in ("train", "val", "test") for lab in ("0", "1")}
    assert sum(r["split"] == "train" and r["label"] == "1" for r in rows) == 30
    for r in rows:
        img = cv2.imread(str(mixed / "images" / f"{r['name']}.png"), cv2.IMREAD_UNCHANGED)
        m = cv2.imread(str(mixed / "masks" / f"{r['name']}.png"), cv2.IMREAD_UNCHANGED)
        assert img.shape == (64, 64, 3) and img.dtype == np.uint8 and m.shape == (64, 64)
        assert (int(r["width"]), int(r["height"])) == (64, 64)
        assert set(np.unique(m)) <= {0, 255}
        px = int((m > 0).sum())
        if r["label"] == "1":
            assert px >= 16, r["name"]  # 0.4 % of the image at least
        else:
            assert px == 0
    idx = open_dataset(mixed)
    assert idx.layout == "manifest" and len(idx.samples) == 76 and idx.warnings == []
    assert validate_records(idx.samples)[1] == []
    assert "Synthetic crack dataset" in (mixed / "README.md").read_text()


def test_deterministic_for_a_seed(tmp_path):
    a = S.make_synthetic_dataset(tmp_path / "a", 3, 2, 1, 1, 1, 1, size=(40, 48), seed=4)
    b = S.make_synthetic_dataset(tmp_path / "b", 3, 2, 1, 1, 1, 1, size=(40, 48), seed=4)
    c = S.make_synthetic_dataset(tmp_path / "c", 3, 2, 1, 1, 1, 1, size=(40, 48), seed=5)
    fa, fb, fc = _files(a), _files(b), _files(c)
    assert fa == fb
    imgs = [k for k in fa if k.startswith("images/")]
    assert len(imgs) == 9 and all(fa[k] != fc[k] for k in imgs)
    assert cv2.imread(str(a / "images" / "syn_val_0000.png")).shape == (40, 48, 3)


def test_val_and_test_do_not_depend_on_train_count(tmp_path):
    a = S.make_synthetic_dataset(tmp_path / "a", 2, 2, 2, 1, 2, 1, size=(32, 32), seed=9)
    b = S.make_synthetic_dataset(tmp_path / "b", 7, 5, 2, 1, 2, 1, size=(32, 32), seed=9)
    fa, fb = _files(a), _files(b)
    shared = [k for k in fa if "_val_" in k or "_test_" in k]
    assert len(shared) == 12 and all(fa[k] == fb[k] for k in shared)


def test_variety_of_textures_and_distractors(mixed):
    rows = _rows(mixed)
    assert {r["texture"] for r in rows} == set(SC.TEXTURES)
    neg = [r for r in rows if r["label"] == "0"]
    assert all(r["distractors"] for r in neg)  # every crack-free image carries a distractor
    kinds = {d for r in neg for d in r["distractors"].split("+")}
    assert len(kinds) >= 5 and kinds <= set(SC.DISTRACTORS)
    assert any(r["distractors"] for r in rows if r["label"] == "1")  # and some crack images do too


def test_cracks_vary_in_width_and_contrast_and_are_darker(mixed):
    widths, contrasts = [], []
    for r in _rows(mixed):
        if r["label"] != "1":
            continue
        g = cv2.imread(str(mixed / "images" / f"{r['name']}.png"), cv2.IMREAD_GRAYSCALE).astype(np.float32)
        m = cv2.imread(str(mixed / "masks" / f"{r['name']}.png"), cv2.IMREAD_GRAYSCALE) > 0
        ring = (cv2.dilate(m.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0) & ~m
        contrasts.append(1.0 - g[m].mean() / g[ring].mean())
        widths.append(2 * cv2.distanceTransform(m.astype(np.uint8), cv2.DIST_L2, 5).max())
    contrasts, widths = np.array(contrasts), np.array(widths)
    assert (contrasts > 0.03).mean() >= 0.9  # the labelled pixels are darker than their surroundings
    assert contrasts.max() - contrasts.min() > 0.25  # some cracks are faint, some strong
    assert widths.min() <= 3.0 and widths.max() >= 5.0  # hairline to wide


def test_cracks_branch(monkeypatch):
    calls = []
    real = SC._walk

    def spy(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(SC, "_walk", spy)
    cracks = 0
    real_render = SC._render_cracks

    def count_render(rng, h, w):
        nonlocal cracks
        before = len(calls)
        out = real_render(rng, h, w)
        cracks += 1
        assert len(calls) > before
        return out

    monkeypatch.setattr(SC, "_render_cracks", count_render)
    for k in range(15):
        SC.render_sample(np.random.default_rng(k), (64, 64), crack=True)
    assert cracks >= 15 and len(calls) >= 2 * cracks  # on average more walks (branches) than crack systems


def test_crack_free_not_separable_by_naive_statistics(mixed):
    """Distractors keep simple image statistics (brightness, contrast, dark-line response) near chance."""
    rows = [r for r in _rows(mixed) if r["split"] == "train"]
    y = [int(r["label"]) for r in rows]
    feats: dict[str, list[float]] = {"mean": [], "std": [], "min": [], "blackhat": []}
    for r in rows:
        g = cv2.imread(str(mixed / "images" / f"{r['name']}.png"), cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255
        bh = cv2.morphologyEx(g, cv2.MORPH_BLACKHAT, np.ones((7, 7), np.uint8))
        feats["mean"].append(-g.mean())
        feats["std"].append(g.std())
        feats["min"].append(-g.min())
        feats["blackhat"].append(float(np.percentile(bh, 99)))
    for k, v in feats.items():
        auc = roc_auc_score(y, v)
        assert 0.15 < auc < 0.85, (k, auc)


def test_fast_enough(tmp_path):
    t = time.perf_counter()
    S.make_synthetic_dataset(tmp_path / "s", 20, 20, 0, 0, 0, 0, size=(160, 160), seed=1)
    per_image = (time.perf_counter() - t) / 40
    assert per_image < 0.15, f"{per_image * 1000:.0f} ms per 160x160 image"  # ~13 ms on an idle core


def test_overwrite_rules_and_options(tmp_path):
    out = S.make_synthetic_dataset(tmp_path / "d", 3, 3, 0, 0, 1, 1, size=(32, 32), seed=0)
    assert len(list((out / "images").iterdir())) == 8
    S.make_synthetic_dataset(out, 1, 1, 0, 0, 0, 0, size=(32, 32), seed=0, image_ext=".jpg")  # replaces it
    assert sorted(p.name for p in (out / "images").iterdir()) == ["syn_train_0000.jpg", "syn_train_0001.jpg"]
    assert len(open_dataset(out).samples) == 2
    other = tmp_path / "other"
    other.mkdir()
    (other / "thesis.txt").write_text("precious")
    with pytest.raises(DataError) as e:
        S.make_synthetic_dataset(other, 1, 1, 0, 0, 0, 0, size=(32, 32))
    assert str(other) in str(e.value) and "refusing to overwrite" in str(e.value)
    assert (other / "thesis.txt").read_text() == "precious"
    with pytest.raises(DataError, match="at least 16x16"):
        S.make_synthetic_dataset(tmp_path / "x", 1, 1, 0, 0, 0, 0, size=(8, 8))
    with pytest.raises(DataError, match="negative sample count"):
        S.make_synthetic_dataset(tmp_path / "y", -1, 1, 0, 0, 0, 0, size=(32, 32))
