"""trainer.datasets: every layout, the khanhha/KSDD2 val carve, each bad input, skip_bad, mixed supervision,
mask binarisation, EXIF orientation, lazy loading and dilation."""
from __future__ import annotations

import csv
import importlib.util
import struct
import tracemalloc
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from trainer.datasets import images as DI
from trainer.datasets import records as DR
from trainer.training.dataset import CrackDataset
from trainer.datasets.layouts import open_dataset
from trainer.datasets.images import read_image, read_mask
from trainer.datasets.validation import validate_records
from trainer.errors import DataError

ROOT = Path(__file__).resolve().parents[3]


# ---------------------------------------------------------------------------------------------------------------------
# helpers

def _load_converter():
    spec = importlib.util.spec_from_file_location("convert_layout", ROOT / "scripts" / "convert_layout.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


convert_layout = _load_converter()


def _write(path: Path, arr: np.ndarray, params=()) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), arr, list(params))
    return path


def _rgb(h=16, w=24, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _mask(h=16, w=24, crack=True) -> np.ndarray:
    m = np.zeros((h, w), np.uint8)
    if crack:
        m[h // 2 - 1:h // 2 + 1, 2:w - 2] = 255
    return m


def make_manifest(root: Path, rows, *, header=("name", "label", "split"), size=(16, 24), write_files=True,
                  skip_mask=()) -> Path:
    """A tiny manifest dataset: rows = (name, label, split) or (name, label)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "images").mkdir(exist_ok=True)
    (root / "masks").mkdir(exist_ok=True)
    with open(root / "manifest.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for r in rows:
            w.writerow(r)
    if write_files:
        for i, r in enumerate(rows):
            name, label = r[0], str(r[1]) == "1"
            if "/" in name or "\\" in name or name.startswith(".."):
                continue
            _write(root / "images" / f"{name}.png", _rgb(*size, seed=i))
            if name not in skip_mask:
                _write(root / "masks" / f"{name}.png", _mask(*size, crack=bool(label)))
    return root


def _basic_rows():
    return [("p1", 1, "train"), ("p2", 1, "train"), ("n1", 0, "train"),
            ("p3", 1, "val"), ("n2", 0, "val"), ("p4", 1, "test"), ("n3", 0, "test")]


@pytest.fixture(scope="module")
def syn(tmp_path_factory) -> Path:
    from trainer.datasets.synthetic import make_synthetic_dataset
    return make_synthetic_dataset(tmp_path_factory.mktemp("syn") / "ds", 6, 4, 3, 2, 3, 2, size=(48, 48), seed=5)


@pytest.fixture(scope="module")
def converted(syn, tmp_path_factory):
    out = {}
    base = tmp_path_factory.mktemp("conv")
    for layout in ("khanhha", "reference", "ksdd2"):
        convert_layout.convert_dataset(syn, base / layout, layout)
        out[layout] = base / layout
    return out


def _mapping(root: Path) -> dict:
    with open(root / "conversion.csv", newline="") as f:
        return {r["name"]: r for r in csv.DictReader(f)}


# ---------------------------------------------------------------------------------------------------------------------
# layouts

def test_manifest_layout_synthetic(syn):
    idx = open_dataset(syn)
    assert idx.layout == "manifest" and idx.splits == ["train", "val", "test"]
    assert idx.counts() == {"train": {"positives": 6, "negatives": 4, "segmented": 6, "weak": 0},
                            "val": {"positives": 3, "negatives": 2, "segmented": 3, "weak": 0},
                            "test": {"positives": 3, "negatives": 2, "segmented": 3, "weak": 0}}
    assert all(s.has_mask and s.mask_path == syn / "masks" / f"{s.name}.png" for s in idx.samples)
    assert open_dataset(syn / "manifest.csv").samples == idx.samples  # the csv path works too
    assert idx.sample_by_name(idx.samples[3].name) == idx.samples[3]
    with pytest.raises(DataError, match="no sample named 'nope'"):
        idx.sample_by_name("nope")
    good, bad = validate_records(idx.samples)
    assert len(good) == len(idx.samples) and bad == []


@pytest.mark.parametrize("layout", ["khanhha", "reference", "ksdd2"])
def test_converted_layouts_read_back(syn, converted, layout):
    src = open_dataset(syn)
    idx = open_dataset(converted[layout])
    assert idx.layout == layout
    names = [s.name for s in idx.samples]
    assert len(set(names)) == len(names) == len(src.samples)
    assert not any("/" in n or "\\" in n for n in names)
    mapping = _mapping(converted[layout])
    assert set(mapping) == set(names)
    src_by = {s.name: s for s in src.samples}
    for s in idx.samples:  # every sample keeps its label; test stays test
        orig = src_by[mapping[s.name]["source_name"]]
        assert s.label == orig.label and s.has_mask
        assert (s.split == "test") == (orig.split == "test")
        if layout == "reference":
            assert s.split == orig.split
    if layout == "khanhha":
        assert all(s.image_path.suffix == ".jpg" and s.mask_path.suffix == ".jpg" for s in idx.samples)
        assert all(s.image_path.name.startswith("noncrack_") == (s.label == 0) for s in idx.samples)
    if layout == "reference":
        assert all(s.name == f"{s.image_path.parent.name}_{s.image_path.stem}" for s in idx.samples)
        assert all(s.mask_path.name == f"{s.image_path.stem}_GT.jpg" for s in idx.samples)
    if layout in ("khanhha", "ksdd2"):  # val carved out of train, both classes present
        c = idx.counts()
        assert set(c) == {"train", "val", "test"} and c["val"]["positives"] >= 1 and c["val"]["negatives"] >= 1
        assert c["train"]["positives"] + c["val"]["positives"] == 9
    # the pixels arrive unchanged (JPEG images approximately; JPEG masks exactly after binarisation)
    ds_new = CrackDataset(idx.samples, (48, 48))
    ds_src = CrackDataset([src_by[mapping[s.name]["source_name"]] for s in idx.samples], (48, 48))
    for i in range(len(idx.samples)):
        a, b = ds_new[i], ds_src[i]
        tol = 0.0 if layout == "ksdd2" else 0.1
        assert float((a["image"] - b["image"]).abs().mean()) <= tol / 4 + 1e-7
        diff = float((a["mask"] != b["mask"]).float().mean())
        assert diff <= 0.002, (layout, idx.samples[i].name, diff)
        assert a["label"] == b["label"]


def test_real_data_manifest(shared_cracks):
    idx = open_dataset(shared_cracks)
    assert idx.layout == "manifest" and len(idx.samples) == 473
    c = idx.counts()
    assert sum(v["positives"] for v in c.values()) == 358 and sum(v["negatives"] for v in c.values()) == 115
    assert c["train"] == {"positives": 251, "negatives": 79, "segmented": 251, "weak": 0}
    exts = {s.image_path.suffix for s in idx.samples}
    assert exts == {".jpg", ".png"}
    ds = CrackDataset(idx.split("test"), (64, 96))
    item = ds[0]
    assert item["image"].shape == (3, 64, 96) and item["mask"].shape == (1, 64, 96)
    assert set(torch.unique(item["mask"]).tolist()) <= {0.0, 1.0}


def test_real_data_subset_in_every_layout(shared_cracks, tmp_path):
    """Real images (CFD JPEGs, masonry PNGs, crack-free tiles) converted to each layout read back the same."""
    idx = open_dataset(shared_cracks)
    picks = [s for s in idx.samples if s.name.startswith("cfd_")][:3] + \
            [s for s in idx.samples if s.name.startswith("masonry_")][:3] + \
            [s for s in idx.samples if s.name.startswith("cfdtile_")][:3]
    sub = tmp_path / "sub"
    (sub / "images").mkdir(parents=True)
    (sub / "masks").mkdir()
    with open(sub / "manifest.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["name", "label", "split"])
        for s in picks:
            (sub / "images" / s.image_path.name).symlink_to(s.image_path)
            (sub / "masks" / s.mask_path.name).symlink_to(s.mask_path)
            w.writerow([s.name, s.label, s.split])
    src = CrackDataset(open_dataset(sub).samples, (56, 56))
    ref_masks = {r.name: src[i]["mask"] for i, r in enumerate(src.records)}
    for layout in ("khanhha", "reference", "ksdd2"):
        convert_layout.convert_dataset(sub, tmp_path / layout, layout)
        new = open_dataset(tmp_path / layout, val_fraction=0.0)
        assert new.layout == layout and len(new.samples) == len(picks)
        mp = _mapping(tmp_path / layout)
        good, bad = validate_records(new.samples)
        assert bad == []
        ds = CrackDataset(new.samples, (56, 56))
        for i, r in enumerate(ds.records):
            assert float((ds[i]["mask"] != ref_masks[mp[r.name]["source_name"]]).float().mean()) < 0.003


def _khanhha(root: Path, n_pos=40, n_neg=20, test=(3, 2), size=(8, 8)):
    for sp, (npos, nneg) in (("train", (n_pos, n_neg)), ("test", test)):
        for i in range(npos):
            _write(root / sp / "images" / f"CFD_{sp}{i:03d}.jpg", _rgb(*size, seed=i))
            _write(root / sp / "masks" / f"CFD_{sp}{i:03d}.jpg", _mask(*size))
        for i in range(nneg):
            _write(root / sp / "images" / f"noncrack_{sp}{i:03d}.jpg", _rgb(*size, seed=100 + i))
            _write(root / sp / "masks" / f"noncrack_{sp}{i:03d}.jpg", _mask(*size, crack=False))
    return root


def test_khanhha_val_carve_is_stratified_and_seeded(tmp_path):
    root = _khanhha(tmp_path / "kh")
    a = open_dataset(root, val_fraction=0.25, seed=7)
    assert a.layout == "khanhha"
    c = a.counts()
    assert c["val"]["positives"] == 10 and c["val"]["negatives"] == 5
    assert c["train"]["positives"] == 30 and c["train"]["negatives"] == 15
    assert c["test"] == {"positives": 3, "negatives": 2, "segmented": 3, "weak": 0}
    val_a = {s.name for s in a.split("val")}
    assert val_a == {s.name for s in open_dataset(root, val_fraction=0.25, seed=7).split("val")}
    assert val_a != {s.name for s in open_dataset(root, val_fraction=0.25, seed=8).split("val")}
    assert all(s.name.startswith("CFD_train") or s.name.startswith("noncrack_train") for s in a.split("val"))
    none = open_dataset(root, val_fraction=0.0)
    assert none.splits == ["train", "test"]
    with pytest.raises(DataError, match="'val' is empty or does not exist.*train \\(60\\), test \\(5\\)"):
        none.split("val")


def test_khanhha_missing_mask_is_weak_and_new_mask_path(tmp_path):
    root = _khanhha(tmp_path / "kh", n_pos=4, n_neg=2)
    (root / "train" / "masks" / "CFD_train001.jpg").unlink()
    idx = open_dataset(root, val_fraction=0.0)
    rec = idx.sample_by_name("CFD_train001")
    assert not rec.has_mask and rec.label == 1
    assert rec.mask_path == root / "train" / "masks" / "CFD_train001.png"
    assert idx.counts()["train"]["weak"] == 1 and idx.counts()["train"]["segmented"] == 3


def test_khanhha_colliding_stems_are_prefixed(tmp_path):
    root = tmp_path / "kh"
    for sp in ("train", "test"):
        _write(root / sp / "images" / "a.jpg", _rgb())
        _write(root / sp / "masks" / "a.jpg", _mask())
        _write(root / sp / "images" / "noncrack_b.jpg", _rgb())
    idx = open_dataset(root, val_fraction=0.0)
    assert sorted(s.name for s in idx.samples) == ["test_a", "test_noncrack_b", "train_a", "train_noncrack_b"]


def test_reference_layout_names_and_labels(tmp_path):
    root = tmp_path / "ref"
    for folder, crack in (("train_positive", True), ("train_negative", False), ("test_positive", True),
                          ("val_negative", False)):
        for n in (1, 2):
            _write(root / folder / f"{n}.jpg", _rgb(seed=n))
            if not (folder == "test_positive" and n == 2):
                _write(root / folder / f"{n}_GT.jpg", _mask(crack=crack))
    idx = open_dataset(root)
    assert idx.layout == "reference"
    assert sorted(s.name for s in idx.split("train")) == ["train_negative_1", "train_negative_2",
                                                         "train_positive_1", "train_positive_2"]
    weak = idx.sample_by_name("test_positive_2")
    assert not weak.has_mask and weak.mask_path == root / "test_positive" / "2_GT.png"
    assert idx.counts()["test"] == {"positives": 2, "negatives": 0, "segmented": 1, "weak": 1}
    assert any("'test'" in w and "only" in w for w in idx.warnings)


def test_ksdd2_labels_come_from_masks(tmp_path):
    root = tmp_path / "ksdd2"
    for sp in ("train", "test"):
        for i in range(6):
            sid = f"{sp}{i}"
            _write(root / sp / f"{sid}.png", _rgb(seed=i))
            m = _mask(crack=i % 2 == 0)
            if i == 1:
                m[3, 3] = 120  # below the binarisation threshold: still crack-free
            _write(root / sp / f"{sid}_GT.png", m)
    idx = open_dataset(root, val_fraction=0.34)
    assert idx.layout == "ksdd2"
    labels = {s.name: s.label for s in idx.samples}
    assert labels["train0"] == 1 and labels["train1"] == 0 and labels["test3"] == 0 and labels["test4"] == 1
    assert idx.counts()["val"] == {"positives": 1, "negatives": 1, "segmented": 1, "weak": 0}
    (root / "test" / "test5_GT.png").unlink()
    with pytest.raises(DataError, match=r"test5\.png.*no mask test5_GT\.png"):
        open_dataset(root)
    assert any(f.endswith("test5.png") for f, _ in open_dataset(root, skip_bad=True).bad)


# ---------------------------------------------------------------------------------------------------------------------
# bad input: each error names the file and the problem

def test_missing_folder(tmp_path):
    with pytest.raises(DataError) as e:
        open_dataset(tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in str(e.value) and "does not exist" in str(e.value)
    assert e.value.file == str(tmp_path / "nowhere")


def test_not_a_dataset_lists_layouts(tmp_path):
    (tmp_path / "random").mkdir()
    (tmp_path / "random" / "notes.txt").write_text("hi")
    with pytest.raises(DataError) as e:
        open_dataset(tmp_path / "random")
    msg = str(e.value)
    assert str(tmp_path / "random") in msg and "not a crack dataset" in msg
    for what in ("manifest.csv", "train/images", "{positive,negative}", "_GT.png"):
        assert what in msg
    (tmp_path / "random" / "images").mkdir()
    with pytest.raises(DataError, match="images/ but no manifest.csv"):
        open_dataset(tmp_path / "random")


def test_manifest_missing_columns(tmp_path):
    root = make_manifest(tmp_path / "m", [("a", "train")], header=("name", "split"), write_files=False)
    with pytest.raises(DataError) as e:
        open_dataset(root)
    assert str(root / "manifest.csv") in str(e.value) and "missing column(s) label" in str(e.value)


@pytest.mark.parametrize("bad_name", ["../x", "a/b", "/etc/passwd", "..\\y", ".."])
def test_manifest_name_with_path(tmp_path, bad_name):
    root = make_manifest(tmp_path / "m", _basic_rows() + [(bad_name, 1, "train")])
    with pytest.raises(DataError) as e:
        open_dataset(root)
    msg = str(e.value)
    assert str(root / "manifest.csv") in msg and "line 9" in msg and repr(bad_name) in msg and "path" in msg


def test_manifest_duplicate_names(tmp_path):
    root = make_manifest(tmp_path / "m", _basic_rows() + [("p1", 1, "test")])
    with pytest.raises(DataError) as e:
        open_dataset(root)
    assert str(root / "manifest.csv") in str(e.value) and "duplicate name 'p1' (first on line 2)" in str(e.value)


def test_manifest_image_missing(tmp_path):
    root = make_manifest(tmp_path / "m", _basic_rows())
    (root / "images" / "p2.png").unlink()
    with pytest.raises(DataError) as e:
        open_dataset(root)
    assert str(root / "images" / "p2.*") in str(e.value) and "image file missing" in str(e.value)


def test_manifest_bad_label_and_images_folder(tmp_path):
    root = make_manifest(tmp_path / "m", _basic_rows() + [("p9", "maybe", "train")])
    with pytest.raises(DataError, match=r"manifest\.csv: line 9: label 'maybe' of 'p9' is not 0 or 1"):
        open_dataset(root)
    root2 = make_manifest(tmp_path / "m2", _basic_rows(), write_files=False)
    (root2 / "images").rmdir()
    with pytest.raises(DataError) as e:
        open_dataset(root2)
    assert str(root2 / "images") in str(e.value) and "images/ folder is missing" in str(e.value)


def test_empty_manifest(tmp_path):
    root = make_manifest(tmp_path / "m", [])
    with pytest.raises(DataError, match="no usable samples"):
        open_dataset(root)
    (root / "manifest.csv").write_text("")
    with pytest.raises(DataError, match=r"manifest\.csv: empty manifest"):
        open_dataset(root)


@pytest.mark.parametrize("kind", ["garbage", "truncated", "empty"])
def test_corrupt_image(tmp_path, kind):
    root = make_manifest(tmp_path / "m", _basic_rows())
    bad = root / "images" / "p2.png"
    raw = bad.read_bytes()
    bad.write_bytes({"garbage": b"this is not an image" * 10, "truncated": raw[: len(raw) // 3],
                     "empty": b""}[kind])
    idx = open_dataset(root)  # existence only: fine at open time
    with pytest.raises(DataError) as e:
        validate_records(idx.samples)
    assert str(bad) in str(e.value) and ("corrupt" in str(e.value) or "empty file" in str(e.value))
    ds = CrackDataset(idx.samples, (8, 8))
    with pytest.raises(DataError) as e2:
        ds[[r.name for r in ds.records].index("p2")]
    assert e2.value.file == str(bad)
    with pytest.raises(DataError, match="p2.png"):
        read_image(bad)


def test_corrupt_mask(tmp_path):
    root = make_manifest(tmp_path / "m", _basic_rows())
    (root / "masks" / "p1.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    with pytest.raises(DataError) as e:
        open_dataset(root, validate=True)
    assert str(root / "masks" / "p1.png") in str(e.value)


def test_mask_size_mismatch(tmp_path):
    root = make_manifest(tmp_path / "m", _basic_rows())
    _write(root / "masks" / "p3.png", _mask(10, 10))
    idx = open_dataset(root)
    with pytest.raises(DataError) as e:
        validate_records(idx.samples)
    msg = str(e.value)
    assert str(root / "masks" / "p3.png") in msg and "mask size 10x10 (WxH) differs" in msg and "24x16" in msg
    ds = CrackDataset(idx.split("val"), (8, 8))
    with pytest.raises(DataError, match="p3.png: mask size"):
        ds[0]
    with pytest.raises(DataError, match="mask size"):
        read_mask(root / "masks" / "p3.png", (16, 24, 3))


def test_several_bad_files_in_one_message(tmp_path):
    root = make_manifest(tmp_path / "m", _basic_rows())
    (root / "images" / "p1.png").write_bytes(b"junk")
    (root / "images" / "n2.png").write_bytes(b"junk")
    _write(root / "masks" / "p4.png", _mask(5, 5))
    with pytest.raises(DataError) as e:
        validate_records(open_dataset(root).samples)
    msg = str(e.value)
    assert "and 2 more bad samples" in msg and "skip_bad_samples" in msg
    assert "p1.png" in msg and "n2.png" in msg and "p4.png" in msg


def test_empty_and_unknown_split(tmp_path):
    root = make_manifest(tmp_path / "m", [r for r in _basic_rows() if r[2] != "val"])
    idx = open_dataset(root)
    with pytest.raises(DataError) as e:
        idx.split("val")
    assert str(root) in str(e.value) and "available splits: train (3), test (2)" in str(e.value)
    with pytest.raises(DataError, match="'tset' is empty or does not exist"):
        idx.split("tset")


def test_skip_bad_lists_bad_samples(tmp_path):
    rows = _basic_rows() + [("../evil", 1, "train"), ("p1", 1, "test"), ("ghost", 0, "test")]
    root = make_manifest(tmp_path / "m", rows)
    (root / "images" / "ghost.png").unlink()
    (root / "images" / "p2.png").write_bytes(b"junk")
    _write(root / "masks" / "p3.png", _mask(4, 4))
    idx = open_dataset(root, skip_bad=True, validate=True)
    assert sorted(s.name for s in idx.samples) == ["n1", "n2", "n3", "p1", "p4"]
    files = [f for f, _ in idx.bad]
    reasons = " | ".join(r for _, r in idx.bad)
    assert len(idx.bad) == 5
    assert files.count(str(root / "manifest.csv")) == 2 and "has a path in it" in reasons and "duplicate" in reasons
    assert str(root / "images" / "ghost.*") in files
    assert str(root / "images" / "p2.png") in files and str(root / "masks" / "p3.png") in files
    # the trainer's path: open without validation, then validate_records on the records it uses
    idx2 = open_dataset(root, skip_bad=True)
    good, bad = validate_records(idx2.split("train") + idx2.split("val"), skip_bad=True)
    assert [s.name for s in good] == ["p1", "n1", "n2"]
    assert sorted(Path(f).name for f, _ in bad) == ["p2.png", "p3.png"]


def test_one_class_split_warns_but_works(tmp_path):
    rows = [("p1", 1, "train"), ("n1", 0, "train"), ("p2", 1, "test"), ("p3", 1, "test")]
    idx = open_dataset(make_manifest(tmp_path / "m", rows))
    assert len(idx.split("test")) == 2
    assert any("'test'" in w and "crack (positive) images only" in w for w in idx.warnings)
    assert not any("'train'" in w for w in idx.warnings)


def test_label_mask_disagreement_is_a_warning(tmp_path):
    root = make_manifest(tmp_path / "m", _basic_rows())
    _write(root / "masks" / "n1.png", _mask())  # crack pixels in a crack-free sample's mask
    warnings = []
    good, bad = validate_records(open_dataset(root).samples, warnings=warnings)
    assert len(good) == 7 and bad == []
    assert any("n1.png" in w and "labelled crack-free" in w for w in warnings)
    ds = CrackDataset(open_dataset(root).samples, (16, 24))
    assert float(ds[[r.name for r in ds.records].index("n1")]["mask"].sum()) == 0.0


def test_manifest_without_split_column(tmp_path):
    root = make_manifest(tmp_path / "m", [("a", 1), ("b", 0), ("c", 1)], header=("name", "label"))
    idx = open_dataset(root)
    assert idx.single_split and idx.splits == ["all"]
    assert len(idx.split("test")) == len(idx.split("train")) == len(idx.split("all")) == 3
    assert idx.counts() == {"all": {"positives": 2, "negatives": 1, "segmented": 2, "weak": 0}}


def test_manifest_extras_ignored_and_other_extensions(tmp_path):
    root = make_manifest(tmp_path / "m", [("a", 1, "train", "x"), ("b", 0, "train", "y")],
                         header=("name", "label", "split", "source"), write_files=False)
    _write(root / "images" / "a.jpg", _rgb())
    _write(root / "images" / "b.bmp", _rgb())
    _write(root / "masks" / "a.bmp", _mask())
    idx = open_dataset(root)
    a, b = idx.sample_by_name("a"), idx.sample_by_name("b")
    assert a.image_path.name == "a.jpg" and a.mask_path.name == "a.bmp" and a.has_mask
    assert b.image_path.name == "b.bmp" and not b.has_mask and b.mask_path == root / "masks" / "b.png"
    _write(root / "images" / "a.png", _rgb())
    with pytest.raises(DataError, match="ambiguous: several image files for 'a'"):
        open_dataset(root)


# ---------------------------------------------------------------------------------------------------------------------
# mixed supervision

def _mixed(tmp_path, n_pos=10, n_neg=4, n_weak=3):
    rows = [(f"p{i}", 1, "train") for i in range(n_pos)] + [(f"n{i}", 0, "train") for i in range(n_neg)]
    skip = {f"p{i}" for i in range(n_pos - n_weak, n_pos)} | {"n0"}
    return make_manifest(tmp_path / "mixed", rows, skip_mask=skip)


def test_mixed_supervision_missing_mask_is_weak(tmp_path):
    idx = open_dataset(_mixed(tmp_path))
    assert idx.counts()["train"] == {"positives": 10, "negatives": 4, "segmented": 7, "weak": 3}
    ds = CrackDataset(idx.samples, (16, 24))
    assert ds.is_segmented.dtype == bool and ds.labels.tolist() == [1] * 10 + [0] * 4
    assert ds.is_segmented.tolist() == [True] * 7 + [False] * 3 + [True] * 4  # negatives always segmented
    weak = ds[8]
    assert weak["is_segmented"].item() is False and weak["label"].item() == 1.0 and weak["mask"].sum() == 0
    neg_no_mask = ds[10]
    assert neg_no_mask["is_segmented"].item() is True and neg_no_mask["mask"].sum() == 0
    assert ds[0]["mask"].sum() > 0


def test_num_segmented_picks_exactly_n_seeded(tmp_path):
    recs = open_dataset(_mixed(tmp_path)).samples
    a = CrackDataset(recs, (16, 24), num_segmented=4, seed=1)
    pos_seg = a.is_segmented & (a.labels == 1)
    assert pos_seg.sum() == 4
    assert not any(a.is_segmented[i] for i in (7, 8, 9))  # never a positive without a mask
    assert a.is_segmented[a.labels == 0].all()
    b = CrackDataset(recs, (16, 24), num_segmented=4, seed=1)
    assert (a.is_segmented == b.is_segmented).all()
    picks = {tuple(np.flatnonzero(CrackDataset(recs, (16, 24), num_segmented=4, seed=s).is_segmented[:7]))
             for s in range(8)}
    assert len(picks) > 1  # the seed matters
    rev = CrackDataset(recs[::-1], (16, 24), num_segmented=4, seed=1)  # independent of record order
    assert {r.name for r, s in zip(rev.records, rev.is_segmented) if s} == \
           {r.name for r, s in zip(a.records, a.is_segmented) if s}
    assert CrackDataset(recs, (16, 24), num_segmented=0).is_segmented.tolist() == [False] * 10 + [True] * 4
    assert CrackDataset(recs, (16, 24), num_segmented=-1).is_segmented[:7].all()
    big = CrackDataset(recs, (16, 24), num_segmented=50)
    assert big.is_segmented[:7].all() and "only 7 positives have masks" in big.warnings[0]
    evalset = CrackDataset(recs, (16, 24), num_segmented=2, train=False)  # evaluation: every mask counts
    assert evalset.is_segmented[:7].all()
    item = a[int(np.flatnonzero(~a.is_segmented)[0])]
    assert item["mask"].sum() == 0 and item["is_segmented"].item() is False


# ---------------------------------------------------------------------------------------------------------------------
# pixels: binarisation, orientation, channel order, dilation, weights

def test_noisy_jpeg_mask_binarised_once(tmp_path):
    h, w = 48, 64
    clean = np.zeros((h, w), np.uint8)
    cv2.line(clean, (3, 5), (60, 40), 255, 3)
    clean[40:46, 2:10] = 100   # grey, below threshold
    clean[2:8, 50:60] = 200    # grey, above threshold
    root = make_manifest(tmp_path / "m", [("a", 1, "train"), ("b", 0, "train")], size=(h, w), write_files=False)
    _write(root / "images" / "a.png", _rgb(h, w))
    _write(root / "images" / "b.png", _rgb(h, w))
    _write(root / "masks" / "a.jpg", clean, [cv2.IMWRITE_JPEG_QUALITY, 60])
    noisy = cv2.imread(str(root / "masks" / "a.jpg"), cv2.IMREAD_GRAYSCALE)
    assert len(np.unique(noisy)) > 10  # the JPEG really is noisy
    rec = open_dataset(root).sample_by_name("a")
    m = read_mask(rec.mask_path, (h, w))
    assert m.dtype == np.uint8 and set(np.unique(m)) == {0, 1}
    expect = (clean > 127).astype(np.uint8)
    assert (m != expect).mean() < 0.01
    item = CrackDataset([rec], (h, w))[0]
    assert set(torch.unique(item["mask"]).tolist()) == {0.0, 1.0}
    assert (item["mask"][0].numpy() != expect).mean() < 0.01
    small = CrackDataset([rec], (24, 32))[0]["mask"]
    assert set(torch.unique(small).tolist()) == {0.0, 1.0} and small.shape == (1, 24, 32)


def _jpeg_with_orientation(img_bgr: np.ndarray, orientation: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", img_bgr, [cv2.IMWRITE_JPEG_QUALITY, 100])
    buf = buf.tobytes()
    assert ok and buf[:2] == b"\xff\xd8"
    ifd = struct.pack(">H", 1) + struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack(">I", 0)
    tiff = b"MM" + struct.pack(">HI", 42, 8) + ifd
    payload = b"Exif\x00\x00" + tiff
    app1 = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return buf[:2] + app1 + buf[2:]


def test_exif_orientation_applied(tmp_path):
    h, w = 16, 32
    bgr = np.zeros((h, w, 3), np.uint8)
    bgr[:, :8] = (0, 0, 255)  # red band on the left (BGR)
    root = make_manifest(tmp_path / "m", [("a", 1, "train")], write_files=False)
    (root / "images" / "a.jpg").write_bytes(_jpeg_with_orientation(bgr, 6))  # 6 = rotate 90 degrees clockwise
    img = read_image(root / "images" / "a.jpg")
    assert img.shape == (w, h, 3)  # width and height swapped
    assert img[:8, :, 0].mean() > 200 and img[-8:, :, 0].mean() < 50  # the left band is now on top, and red (RGB)
    # a mask drawn on the upright picture matches; one of the raw size does not
    up = np.zeros((w, h), np.uint8)
    up[:4] = 255
    _write(root / "masks" / "a.png", up)
    rec = open_dataset(root).samples[0]
    assert validate_records([rec])[1] == []
    item = CrackDataset([rec], (w, h))[0]
    assert item["image"].shape == (3, w, h) and float(item["image"][0, :8].mean()) > 0.8
    assert float(item["mask"][0, :4].mean()) == 1.0 and float(item["mask"][0, 4:].sum()) == 0.0
    _write(root / "masks" / "a.png", _mask(h, w))
    with pytest.raises(DataError, match="a.png: mask size 32x16"):
        validate_records([rec])


def test_channel_order_rgb_and_value_range(tmp_path):
    root = make_manifest(tmp_path / "m", [("a", 0, "train")], write_files=False)
    bgr = np.zeros((10, 12, 3), np.uint8)
    bgr[..., 0] = 255  # pure blue in BGR
    _write(root / "images" / "a.png", bgr)
    ds = CrackDataset(open_dataset(root).samples, (20, 24))
    assert ds.channel_order == DR.CHANNEL_ORDER == "RGB"
    x = ds[0]["image"]
    assert x.dtype == torch.float32 and x.shape == (3, 20, 24)
    assert float(x[2].min()) == 1.0 and float(x[:2].max()) == 0.0
    assert read_image(root / "images" / "a.png", size=(5, 6)).shape == (5, 6, 3)


def test_dilation_before_resize(tmp_path):
    root = make_manifest(tmp_path / "m", [("a", 1, "train")], size=(32, 32), write_files=False)
    _write(root / "images" / "a.png", _rgb(32, 32))
    m = np.zeros((32, 32), np.uint8)
    m[10, 10] = 255
    m[20, 5:25] = 255
    _write(root / "masks" / "a.png", m)
    recs = open_dataset(root).samples
    plain = CrackDataset(recs, (32, 32))[0]["mask"][0]
    dil = CrackDataset(recs, (32, 32), dilate=5)[0]["mask"][0]
    assert float(plain.sum()) == 21.0
    assert float(dil[8:13, 8:13].sum()) == 25.0 and float(dil[7, 10]) == 0.0  # the dot became a 5x5 square
    assert float(dil[18:23, 3:27].sum()) == 5 * 24  # the line became 5 px thick
    assert float(dil.sum()) == 25 + 5 * 24
    # dilated before resizing: a 1-px line halved in size would vanish, a dilated one survives
    assert float(CrackDataset(recs, (16, 16))[0]["mask"].sum()) < float(
        CrackDataset(recs, (16, 16), dilate=5)[0]["mask"].sum())


def test_seg_weight_distance_transform(tmp_path):
    root = make_manifest(tmp_path / "m", [("a", 1, "train"), ("b", 0, "train")], size=(32, 32), write_files=False)
    _write(root / "images" / "a.png", _rgb(32, 32))
    _write(root / "images" / "b.png", _rgb(32, 32))
    m = np.zeros((32, 32), np.uint8)
    m[8:25, 8:25] = 255
    _write(root / "masks" / "a.png", m)
    recs = open_dataset(root).samples
    ds = CrackDataset(recs, (32, 32), weighted=(2.0, 3.0))
    wgt = ds[0]["seg_weight"][0].numpy()
    assert wgt.dtype == np.float32 and wgt.shape == (32, 32)
    assert wgt[0, 0] == 1.0 and np.all(wgt[m == 0] == 1.0)  # background weight 1
    assert abs(wgt[16, 16] - 3.0) < 1e-5  # deepest pixel = max
    assert wgt[8, 16] < wgt[12, 16] < wgt[16, 16]  # grows towards the centre
    assert abs(wgt[12, 16] - 3.0 * (5 / 9) ** 2) < 0.05  # (d / dmax)^p * max, d = 5 vs 9
    assert np.all(ds[1]["seg_weight"].numpy() == 1.0)
    assert np.all(CrackDataset(recs, (32, 32))[0]["seg_weight"].numpy() == 1.0)
    assert np.all(DI.distance_weight(np.zeros((4, 4), np.uint8), 2, 1) == 1.0)


def test_items_collate_in_a_dataloader(syn):
    ds = CrackDataset(open_dataset(syn).split("train"), (32, 40))
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=3, shuffle=False)))
    assert batch["image"].shape == (3, 3, 32, 40) and batch["image"].dtype == torch.float32
    assert batch["mask"].shape == (3, 1, 32, 40) and batch["seg_weight"].shape == (3, 1, 32, 40)
    assert batch["label"].dtype == torch.float32 and batch["is_segmented"].dtype == torch.bool
    assert batch["index"].tolist() == [0, 1, 2]
    assert float(batch["image"].min()) >= 0.0 and float(batch["image"].max()) <= 1.0


# ---------------------------------------------------------------------------------------------------------------------
# lazy loading

def test_lazy_loading_reads_nothing_at_construction(syn, monkeypatch):
    recs = open_dataset(syn).samples
    many = [DR.SampleRecord(f"s{i}", r.image_path, r.mask_path, r.has_mask, r.label, "train")
            for i, r in enumerate(recs * 20)][:400]
    calls = {"decode": 0, "read": 0}
    real_decode, real_fromfile, real_imread = cv2.imdecode, np.fromfile, cv2.imread

    def count(key, fn):
        def wrapper(*a, **k):
            calls[key] += 1
            return fn(*a, **k)
        return wrapper

    monkeypatch.setattr(cv2, "imdecode", count("decode", real_decode))
    monkeypatch.setattr(cv2, "imread", count("read", real_imread))
    monkeypatch.setattr(np, "fromfile", count("read", real_fromfile))
    ds = CrackDataset(many, (48, 48), weighted=(2, 1))
    assert len(ds) == 400 and calls == {"decode": 0, "read": 0}
    pos = int(np.flatnonzero(ds.labels == 1)[0])
    neg = int(np.flatnonzero(ds.labels == 0)[0])
    ds[pos]
    assert calls == {"decode": 2, "read": 2}  # one image + one mask
    ds[neg]
    assert calls == {"decode": 3, "read": 3}  # a negative's mask is not read


def test_peak_memory_does_not_grow_with_n(syn):
    recs = open_dataset(syn).samples

    def peak(n):
        many = [DR.SampleRecord(f"s{i}", r.image_path, r.mask_path, r.has_mask, r.label, "train")
                for i, r in enumerate((recs * (n // len(recs) + 1))[:n])]
        tracemalloc.start()
        ds = CrackDataset(many, (64, 64))
        for i in range(len(ds)):
            ds[i]
        p = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return p

    small, large = peak(10), peak(120)
    assert large < small * 1.5 + 200_000, (small, large)


def test_label_overrides_for_name_encoded_layouts(tmp_path):
    """crackviewer records label edits of khanhha/reference datasets in .crackviewer/labels.json."""
    root = _khanhha(tmp_path / "kh", n_pos=8, n_neg=4)
    before = open_dataset(root, val_fraction=0.25)
    ov = root / ".crackviewer" / "labels.json"
    ov.parent.mkdir()
    ov.write_text('{"noncrack_train000": 1, "CFD_test000": 0, "ghost": 1}')
    after = open_dataset(root, val_fraction=0.25)
    assert after.sample_by_name("noncrack_train000").label == 1 and after.sample_by_name("CFD_test000").label == 0
    assert [s.split for s in after.samples] == [s.split for s in before.samples]  # the val carve does not move
    assert any("ghost" in w for w in after.warnings)
    ov.write_text('{"CFD_test000": "yes"}')
    with pytest.raises(DataError) as e:
        open_dataset(root)
    assert str(ov) in str(e.value) and "0 or 1" in str(e.value)
    ov.write_text("{broken")
    with pytest.raises(DataError, match="cannot read the label overrides"):
        open_dataset(root)
