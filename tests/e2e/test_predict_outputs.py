"""crack-train predict keeps every output, checks every write and can skip bad images (issue 15). A tiny
untrained model in a hand-made run folder: no training needed."""
from __future__ import annotations

import csv
import errno
import os

import cv2
import numpy as np
import pytest

from tests.fakes import make_untrained_run
from trainer.cli import main


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    return make_untrained_run(tmp_path_factory.mktemp("run"), 128, 64, config_file=False)


def _images(root, names):
    out = []
    for n in names:
        p = root / n
        p.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(p), np.random.default_rng(len(out)).integers(0, 255, (40, 48, 3), np.uint8))
        out.append(p)
    return out


def _rows(out):
    with open(out / "predictions.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_same_file_name_in_two_folders_keeps_both_masks(tiny_run, tmp_path):
    imgs = _images(tmp_path / "in", ["a/x.png", "b/x.png", "c.png"])
    out = tmp_path / "pred"
    assert main(["predict", "--run", str(tiny_run), "--device", "cpu", *map(str, imgs), "--out", str(out),
                 "--seg-threshold", "0"]) == 0
    rows = _rows(out)
    assert [r["mask"] for r in rows] == ["a/x_mask.png", "b/x_mask.png", "c_mask.png"]
    assert all(cv2.imread(str(out / r["mask"]), cv2.IMREAD_GRAYSCALE).shape == (40, 48) for r in rows)


def test_skip_bad_lists_what_it_skipped(tiny_run, tmp_path, capsys):
    imgs = _images(tmp_path / "in", ["good.png"])
    bad = tmp_path / "in" / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    out = tmp_path / "pred"
    assert main(["predict", "--run", str(tiny_run), "--device", "cpu", str(bad), *map(str, imgs),
                 "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "broken.png" in err and "--skip-bad" in err and not (out / "predictions.csv").exists()
    assert main(["predict", "--run", str(tiny_run), "--device", "cpu", str(bad), *map(str, imgs),
                 "--out", str(out), "--skip-bad"]) == 0
    captured = capsys.readouterr()
    assert "skipped bad image" in captured.err and "broken.png" in captured.err
    assert "skipped 1 bad image(s)" in captured.out
    assert [r["mask"] for r in _rows(out)] == ["good_mask.png"]


def test_full_disk_names_the_file_and_leaves_nothing_half_written(tiny_run, tmp_path, monkeypatch, capsys):
    from trainer import atomic as diskfull

    imgs = _images(tmp_path / "in", ["p.png"])
    out = tmp_path / "pred"
    out.mkdir()

    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(diskfull.os, "write", full)
    code = main(["predict", "--run", str(tiny_run), "--device", "cpu", *map(str, imgs), "--out", str(out)])
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert code == 1 and f"disk full while writing {out / 'p_prob.png'}: free space on" in err
    assert os.listdir(out) == []                  # no 0-byte mask, no temp file, no predictions.csv
