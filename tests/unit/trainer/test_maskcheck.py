"""Mask sanity (issue 15): masks stored as 0/1, 0/100, 16-bit 0/1 or red-on-black are found and named, and read
correctly with mask_rule = "nonzero"; a crack sample with an empty mask is named too."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from trainer.config import DEFAULTS, validate_config
from trainer.datasets.images import read_mask
from trainer.datasets.layouts import open_dataset
from trainer.datasets.validation import validate_records
from trainer.training.dataset import CrackDataset
from trainer.datasets.maskcheck import binarise, check_mask, check_mask_files, findings_error, read_mask_raw
from trainer.errors import ConfigError, DataError

H, W = 24, 32


def _crack() -> np.ndarray:
    m = np.zeros((H, W), bool)
    m[10:13, 4:28] = True
    return m


def _bad_masks() -> dict[str, np.ndarray]:
    c = _crack()
    red = np.zeros((H, W, 3), np.uint8)
    red[c] = (0, 0, 255)                      # BGR: red crack on black
    return {"zero_one": c.astype(np.uint8), "zero_hundred": c.astype(np.uint8) * 100,
            "sixteen_bit": c.astype(np.uint16), "red_on_black": red}


def _dataset(root: Path, masks: dict[str, np.ndarray]) -> Path:
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    rows = ["name,label,split"]
    for name, m in masks.items():
        cv2.imwrite(str(root / "images" / f"{name}.png"), np.full((H, W, 3), 128, np.uint8))
        cv2.imwrite(str(root / "masks" / f"{name}.png"), m)
        rows.append(f"{name},1,train")
    for i in range(2):
        cv2.imwrite(str(root / "images" / f"neg{i}.png"), np.full((H, W, 3), 90, np.uint8))
        rows.append(f"neg{i},0,train")
    (root / "manifest.csv").write_text("\n".join(rows) + "\n")
    return root


def test_each_bad_format_is_found_and_named(tmp_path):
    root = _dataset(tmp_path / "ds", _bad_masks())
    findings = check_mask_files([(root / "masks" / f"{n}.png", 1) for n in _bad_masks()])
    assert [Path(f.file).stem for f in findings] == list(_bad_masks())
    assert all(f.kind == "format" and 'mask_rule = "nonzero"' in f.reason for f in findings)
    assert "values 0, 1" in findings[0].reason and "values 0, 100" in findings[1].reason
    assert "16-bit" in findings[2].reason and "red 255" in findings[3].reason
    err = findings_error(findings)
    assert err.file.endswith("zero_one.png") and "3 more masks" in str(err) and "red_on_black.png" in str(err)


def test_training_validation_stops_naming_files_and_fix(tmp_path):
    root = _dataset(tmp_path / "ds", _bad_masks())
    recs = open_dataset(root).split("train")
    with pytest.raises(DataError) as info:
        validate_records(recs)
    msg = str(info.value)
    assert "zero_one.png" in msg and 'mask_rule = "nonzero"' in msg and "3 more" in msg
    good, bad = validate_records(recs, skip_bad=True)
    assert sorted(Path(f).stem for f, _ in bad) == sorted(_bad_masks())


def test_nonzero_rule_reads_them_correctly(tmp_path):
    root = _dataset(tmp_path / "ds", _bad_masks())
    recs = open_dataset(root).split("train")
    good, bad = validate_records(recs, mask_rule="nonzero")
    assert bad == [] and len(good) == len(recs)
    want = _crack().astype(np.uint8)
    for name in _bad_masks():
        path = root / "masks" / f"{name}.png"
        assert np.array_equal(read_mask(path, (H, W), rule="nonzero"), want), name
        assert np.array_equal(binarise(read_mask_raw(path), "nonzero"), want), name
        assert not read_mask(path, (H, W)).any()          # what the default rule made of them: nothing
    ds = CrackDataset(good, (H, W), mask_rule="nonzero", train=False)
    for i, r in enumerate(ds.records):
        assert float(ds[i]["mask"].sum()) == (want.sum() if r.label == 1 else 0), r.name


def test_good_masks_and_jpeg_noise_pass_and_empty_crack_mask_is_named(tmp_path):
    m255 = _crack().astype(np.uint8) * 255
    assert check_mask(m255, "a.png") is None
    ok, buf = cv2.imencode(".jpg", m255, [cv2.IMWRITE_JPEG_QUALITY, 75])
    assert check_mask(cv2.imdecode(buf, cv2.IMREAD_UNCHANGED), "a.jpg") is None
    assert check_mask(np.zeros((H, W), np.uint8), "n.png", positive=False) is None
    f = check_mask(np.zeros((H, W), np.uint8), "e.png", positive=True)
    assert f.kind == "empty" and f.file == "e.png" and "weakly labelled" in f.reason
    root = _dataset(tmp_path / "ds", {"empty": np.zeros((H, W), np.uint8), "fine": m255})
    with pytest.raises(DataError, match="empty.png.*labelled crack but its mask is empty"):
        validate_records(open_dataset(root).samples)


def test_mask_rule_is_a_config_key_with_choices():
    assert DEFAULTS["mask_rule"] == "threshold"
    validate_config(dict(DEFAULTS, mask_rule="nonzero"))
    with pytest.raises(ConfigError, match="mask_rule"):
        validate_config(dict(DEFAULTS, mask_rule="any"))
    with pytest.raises(ConfigError, match="mask_rule"):
        binarise(np.zeros((2, 2), np.uint8), "any")
