"""The viewer's level-of-detail pyramid and tile cache (Qt-free)."""
import numpy as np
import pytest

from crackviewer.viewer.pyramid import Pyramid, reduce2
from crackviewer.viewer.tile_cache import TileCache


def brute_reduce(a: np.ndarray, mode: str) -> np.ndarray:
    """2x2 blocks one by one (partial blocks on odd edges): the reference."""
    h, w = a.shape[:2]
    out = np.zeros(((h + 1) // 2, (w + 1) // 2) + a.shape[2:], np.uint8)
    for y in range(out.shape[0]):
        for x in range(out.shape[1]):
            block = a[2 * y:2 * y + 2, 2 * x:2 * x + 2].reshape((-1,) + a.shape[2:]).astype(np.int64)
            n = len(block)
            out[y, x] = block.max(0) if mode == "max" else (block.sum(0) + n // 2) // n
    return out


@pytest.mark.parametrize("shape", [(7, 9), (8, 10), (9, 8), (1, 5), (5, 1), (11, 13, 3), (6, 7, 4)])
@pytest.mark.parametrize("mode", ["max", "mean"])
def test_reduce_equals_brute_force(shape, mode):
    a = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
    np.testing.assert_array_equal(reduce2(a, mode), brute_reduce(a, mode))


@pytest.mark.parametrize("mode", ["max", "mean"])
def test_every_level_is_the_brute_force_reduction_of_the_one_above(mode):
    a = np.random.default_rng(2).integers(0, 256, (301, 517, 3), dtype=np.uint8)
    p = Pyramid(a, mode, tile=64)
    assert p.base is a                                   # level 0 is the caller's array, not a copy
    assert [lv.shape[:2] for lv in p.levels] == [(301, 517), (151, 259), (76, 130), (38, 65), (19, 33)]
    for k in range(1, len(p.levels)):
        np.testing.assert_array_equal(p.levels[k], brute_reduce(p.levels[k - 1], mode))


def test_max_pooling_keeps_a_one_pixel_hairline_at_every_level():
    m = np.zeros((1000, 1500), np.uint8)
    m[:, 733] = 1                                        # a vertical hairline crack, one pixel wide
    m[417, :] = 1
    p = Pyramid(m, "max", tile=100)
    for k, lv in enumerate(p.levels):
        assert lv[:, 733 >> k].all() and lv[417 >> k, :].all(), k
    mean = Pyramid(m * 255, "mean", tile=100)
    assert mean.levels[-1].max() < 255                   # averaging fades it (why masks use max)


@pytest.mark.parametrize("mode", ["max", "mean"])
def test_incremental_update_equals_a_rebuild(mode):
    rng = np.random.default_rng(3)
    a = rng.integers(0, 256, (333, 401), dtype=np.uint8)
    p = Pyramid(a, mode, tile=32)
    for x0, y0, x1, y1 in [(5, 7, 40, 9), (0, 0, 1, 1), (399, 331, 401, 333), (100, 3, 101, 300), (-5, -5, 20, 20)]:
        a[max(0, y0):y1, max(0, x0):x1] = rng.integers(0, 256, (y1 - max(0, y0), x1 - max(0, x0)), dtype=np.uint8)
        p.update(x0, y0, x1, y1)
        fresh = Pyramid(a.copy(), mode, tile=32)
        for k, (got, want) in enumerate(zip(p.levels, fresh.levels)):
            np.testing.assert_array_equal(got, want, err_msg=f"level {k} after {(x0, y0, x1, y1)}")


def test_tiles_and_levels_for_a_scale():
    a = np.zeros((1000, 2100), np.uint8)
    p = Pyramid(a, "max", tile=256)
    assert len(p.levels) == 5                            # 2100 -> 1050 -> 525 -> 263 -> 132
    assert p.level_for_scale(2.0) == 0 and p.level_for_scale(1.0) == 0
    # max pyramids (masks): each level pixel at least one screen pixel
    assert [p.level_for_scale(s) for s in (0.9, 0.5, 0.3, 0.25, 0.2)] == [1, 1, 2, 2, 3]
    assert p.level_for_scale(1e-4) == 4                  # never past the last level
    mean = Pyramid(np.zeros((1000, 2100), np.uint8), "mean", tile=256)
    assert [mean.level_for_scale(s) for s in (2.0, 1.0, 0.5, 0.3, 0.25, 0.2)] == [0, 0, 1, 1, 2, 2]
    assert p.grid(0) == (9, 4) and p.grid(4) == (1, 1)
    assert p.tile(0, 8, 3).shape == (1000 - 768, 2100 - 2048)
    assert p.tile_rect(1, 4, 1) == (2048, 512, 2100, 1000)
    assert p.tiles_in(0, 250, 0, 260, 10) == [(0, 0), (1, 0)]
    assert p.tiles_in(1, 0, 0, 2100, 1000) == [(x, y) for y in range(2) for x in range(5)]
    assert p.tiles_in(2, 0, 0, 2100, 1000) == [(0, 0), (1, 0), (2, 0)]      # level 2 is 525x250


def test_small_image_has_one_level():
    p = Pyramid(np.zeros((448, 448, 3), np.uint8), "mean")
    assert len(p.levels) == 1 and p.grid(0) == (1, 1)


def test_pyramid_refuses_non_uint8():
    with pytest.raises(TypeError):
        Pyramid(np.zeros((4, 4), np.float32))


def test_lru_stays_bounded_and_drops_by_owner():
    c = TileCache(budget=10_000)
    for i in range(100):
        c.put(("a", 0, i, 0), i, 1000)
        assert c.nbytes <= 10_000
    assert len(c) == 10 and c.get(("a", 0, 99, 0)) == 99 and c.get(("a", 0, 0, 0)) is None
    c.get(("a", 0, 90, 0))                               # used: the next eviction takes 91
    c.put(("b", 0, 0, 0), "b", 1000)
    assert c.get(("a", 0, 90, 0)) == 90 and c.get(("a", 0, 91, 0)) is None
    c.drop_owner("a")
    assert len(c) == 1 and c.nbytes == 1000 and c.owner_keys("b") == {("b", 0, 0, 0)}
