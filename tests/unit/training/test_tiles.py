"""Tile planning for input_mode = "tiles": determinism, resume, crack/crack-free tiles, padding, sampling."""
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from trainer.datasets.records import SampleRecord
from trainer.training.tiles import TileDataset, TilePlanner, TileSampler, tile_plan_summary


def _write(root: Path, name: str, h: int, w: int, crack_rows=()):
    img = np.full((h, w, 3), 160, np.uint8)
    mask = np.zeros((h, w), np.uint8)
    for r in crack_rows:
        img[r, :] = 20
        mask[r, :] = 255
    (root / "images").mkdir(exist_ok=True)
    (root / "masks").mkdir(exist_ok=True)
    cv2.imwrite(str(root / "images" / f"{name}.png"), img)
    cv2.imwrite(str(root / "masks" / f"{name}.png"), mask)
    return SampleRecord(name, root / "images" / f"{name}.png", root / "masks" / f"{name}.png", True,
                        int(bool(crack_rows)), "train")


@pytest.fixture
def records(tmp_path):
    return [
        _write(tmp_path, "crack_wide", 200, 300, crack_rows=(10,)),   # crack near the top only
        _write(tmp_path, "free", 150, 250),                           # crack-free image
        _write(tmp_path, "small", 40, 50, crack_rows=(5,)),           # smaller than a tile: padded
    ]


def test_plan_is_a_pure_function_of_seed_and_epoch(records):
    a = TilePlanner(records, (64, 64), seed=7)
    b = TilePlanner(records, (64, 64), seed=7)
    np.testing.assert_array_equal(a.plan(3), b.plan(3))
    np.testing.assert_array_equal(a.plan(3), a.plan(3))  # planning other epochs in between changes nothing
    offs = {a.offsets(0, e) for e in range(8)}
    assert len(offs) > 1, "offsets must change across epochs"
    assert not np.array_equal(TilePlanner(records, (64, 64), seed=8).plan(3), a.plan(3))
    for e in range(4):  # tile origins on the 8-pixel grid, tiles inside the canvas
        t = a.plan(e)
        assert (t[:, 1] % 8 == 0).all() and (t[:, 2] % 8 == 0).all()
        for i, y, x, _, _ in t:
            ch, cw = a.canvas(i)
            assert 0 <= y <= ch - 64 and 0 <= x <= cw - 64


def test_every_canvas_pixel_is_covered_each_epoch(records):
    p = TilePlanner(records, (64, 64), seed=1)
    for e in range(3):
        t = p.plan(e)
        for i in range(len(records)):
            ch, cw = p.canvas(i)
            cov = np.zeros((ch, cw), bool)
            for _, y, x, _, _ in t[t[:, 0] == i]:
                cov[y:y + 64, x:x + 64] = True
            assert cov.all()


def test_crack_and_crack_free_tiles_match_the_mask(records):
    p = TilePlanner(records, (64, 64), seed=2)
    t = p.plan(1)
    free = t[t[:, 0] == 1]
    assert len(free) and (free[:, 3] == 0).all()  # every tile of a crack-free image is crack-free
    wide = t[t[:, 0] == 0]
    for _, y, x, label, _ in wide:
        assert label == int(y <= 10 < y + 64)  # crack tile exactly when the tile holds row 10
    assert set(wide[:, 3]) == {0, 1}  # background of a crack image gives crack-free tiles
    ds = TileDataset(p)
    for i, y, x, label, _ in t:
        item = ds[(i, y, x, label)]
        assert bool(item["mask"].sum() > 0) == bool(label)


def test_small_image_is_padded_and_padding_is_not_in_the_loss(records):
    p = TilePlanner(records, (64, 64), seed=0)
    t = p.plan(0)
    small = t[t[:, 0] == 2]
    assert len(small) == 1 and tuple(small[0, 1:3]) == (0, 0)
    item = TileDataset(p)[tuple(small[0, :4])]
    assert item["image"].shape == (3, 64, 64)
    valid = item["valid"][0]
    assert valid[:40, :50].all() and valid.sum() == 40 * 50
    assert (item["seg_weight"][0][valid == 0] == 0).all()
    assert (item["image"][:, 40:, :] == 0).all() and (item["image"][:, :, 50:] == 0).all()
    assert item["label"] == 1 and item["mask"][0, 5, :50].all()
    assert set(item) >= {"image", "mask", "seg_weight", "is_segmented", "label", "index", "valid"}


def test_tile_scale_plans_on_the_scaled_image(records):
    p = TilePlanner(records, (64, 64), scale=0.5)
    assert (p.geometry[0].height, p.geometry[0].width) == (100, 150)
    item = TileDataset(p)[(1, 0, 0, 0)]
    assert item["valid"][0].sum() == 64 * 64


def test_weak_positives_give_no_tiles(records, tmp_path):
    weak = SampleRecord("weak", records[0].image_path, tmp_path / "none.png", False, 1, "train")
    p = TilePlanner(records + [weak], (64, 64))
    assert (p.plan(0)[:, 0] != 3).all() and p.warnings
    s = tile_plan_summary({"train": p})["train"]
    assert s["weak_skipped"] == 1 and s["images"] == 3
    assert s["tiles"] == s["crack_tiles"] + s["crack_free_tiles"] and s["crack_tiles"] > 0


def test_sampler_balances_tiles_and_resumes_exactly(records):
    p = TilePlanner(records, (64, 64), seed=5)
    s = TileSampler(p, seed=5)
    orders = []
    for e in range(4):
        s.set_epoch(e)
        tiles = list(s)
        pos = [t for t in tiles if t[3] == 1]
        neg = [t for t in tiles if t[3] == 0]
        assert len(pos) == int(p.plan(e)[:, 3].sum()) and len(neg) == min(len(pos), len(p.plan(e)) - len(pos))
        orders.append(tiles)
        if e == 1:
            state = s.state_dict()
    r = TileSampler(TilePlanner(records, (64, 64), seed=5), seed=5)
    r.load_state_dict(state)
    for e in (2, 3):
        r.set_epoch(e)
        assert list(r) == orders[e]
    assert isinstance(state["region_counts"], torch.Tensor) and int(state["region_counts"].sum()) > 0


def test_2048_mosaic_of_hairline_cracks_gives_crack_and_crack_free_tiles(tmp_path):
    """Issue 11's test image: a 4x4 mosaic of synthetic crack scenes, 2048x2048, cracks a few pixels wide."""
    from trainer.datasets.mosaic import mosaic_sample

    img, mask, label = mosaic_sample(np.random.default_rng(0), grid=4, cell=512)
    assert img.shape == (2048, 2048, 3) and mask.shape == (2048, 2048) and label == 1
    crack = mask > 0
    assert 0 < crack.mean() < 0.05
    # hairlines: the widest point of any crack (twice the distance to the background) is a few pixels
    width = 2 * cv2.distanceTransform(crack.astype(np.uint8), cv2.DIST_L2, 5).max()
    assert width <= 16
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    cv2.imwrite(str(tmp_path / "images" / "m.png"), img)
    cv2.imwrite(str(tmp_path / "masks" / "m.png"), mask)
    rec = SampleRecord("m", tmp_path / "images" / "m.png", tmp_path / "masks" / "m.png", True, 1, "train")
    plan = TilePlanner([rec], (448, 448), seed=1).plan(0)
    assert len(plan) >= 16 and 0 < plan[:, 3].sum() < len(plan)   # crack tiles and background tiles
