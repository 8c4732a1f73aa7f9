"""predict keeps every output (issue 15): one distinct mask name per input."""
from __future__ import annotations

from trainer.runs.predictions import mask_names


def test_distinct_stems_keep_the_flat_names(tmp_path):
    assert mask_names([tmp_path / "a" / "x.png", tmp_path / "b" / "y.jpg"]) == ["x_mask.png", "y_mask.png"]


def test_same_name_in_two_folders_mirrors_the_tree(tmp_path):
    got = mask_names([tmp_path / "run1" / "a" / "x.png", tmp_path / "run1" / "b" / "x.png", tmp_path / "run1" / "c.png"])
    assert got == ["a/x_mask.png", "b/x_mask.png", "c_mask.png"]


def test_same_stem_other_extension_case_and_duplicates_stay_distinct(tmp_path):
    got = mask_names([tmp_path / "x.png", tmp_path / "x.jpg", tmp_path / "X.PNG", tmp_path / "x.png"])
    assert len({n.casefold() for n in got}) == 4
    assert got[:2] == ["x_png_mask.png", "x_jpg_mask.png"]
    assert all(".." not in n and not n.startswith("/") for n in got)
