"""The viewer's tiled level-of-detail layers (pytest-qt, offscreen): same pixels as the whole-image drawing at 1:1,
only the visible tiles drawn, an invalidated rectangle repainted, the tile cache bounded, and Annotate painting and
undoing on a large image."""
import cv2
import numpy as np
import pytest
from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QApplication

from annotate_events import drag, open_panel
from crackviewer.viewer.pyramid import Pyramid
from crackviewer.viewer.tile_cache import TileCache
from crackviewer.viewer.tiled_layer import TiledLayer
from crackviewer.viewer.view import SampleViewer

pytestmark = pytest.mark.gui


def grab_rgb(view: SampleViewer) -> np.ndarray:
    QApplication.processEvents()
    img = view.viewport().grab().toImage().convertToFormat(view.viewport().grab().toImage().Format.Format_RGB888)
    a = np.frombuffer(img.constBits(), np.uint8, img.sizeInBytes()).reshape(img.height(), img.bytesPerLine())
    return a[:, :img.width() * 3].reshape(img.height(), img.width(), 3).copy()


def shown_view(qtbot, w=800, h=600) -> SampleViewer:
    v = SampleViewer()
    qtbot.addWidget(v)
    v.resize(w, h)
    v.show()
    qtbot.waitExposed(v)
    return v


def image_origin(v: SampleViewer) -> tuple[int, int]:
    p = v.mapFromScene(QPointF(0, 0))
    return p.x(), p.y()


def test_one_to_one_shows_exactly_the_image_pixels_across_tiles(qtbot):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (500, 700, 3), dtype=np.uint8)       # two tiles across (512 px tiles)
    v = shown_view(qtbot)
    v.set_image(rgb)
    v.zoom_1to1()
    v.centerOn(350, 250)
    shot = grab_rgb(v)
    x0, y0 = image_origin(v)
    assert x0 >= 0 and y0 >= 0
    np.testing.assert_array_equal(shot[y0:y0 + 500, x0:x0 + 700], rgb)
    assert v.base.tiles_drawn == 2


def test_mask_overlay_at_one_to_one_composites_like_the_whole_image_layer(qtbot):
    rgb = np.full((300, 600, 3), 100, np.uint8)
    mask = np.zeros((300, 600), np.uint8)
    mask[100:103, 20:580] = 1
    v = shown_view(qtbot)
    v.set_image(rgb)
    lut = np.array([0, 0xFF00FF00], np.uint32)                      # opaque green
    layer = v.add_layer("mask", z=2)
    layer.set_source(Pyramid(mask, "max"), lambda t: lut[t])
    v.zoom_1to1()
    v.centerOn(300, 150)
    shot = grab_rgb(v)
    x0, y0 = image_origin(v)
    want = rgb.copy()
    want[mask > 0] = (0, 255, 0)
    np.testing.assert_array_equal(shot[y0:y0 + 300, x0:x0 + 600], want)
    np.testing.assert_array_equal(layer.pixels32, lut[mask])      # the whole-array view still works


def test_zoomed_out_draws_a_coarse_level_and_keeps_a_hairline(qtbot):
    rgb = np.full((2000, 3000, 3), 60, np.uint8)
    mask = np.zeros((2000, 3000), np.uint8)
    mask[:, 1501] = 1                                                # one pixel wide
    v = shown_view(qtbot, 400, 300)
    v.set_image(rgb)
    layer = v.add_layer("mask", z=2)
    lut = np.array([0, 0xFFFF0000], np.uint32)                      # opaque red
    layer.set_source(Pyramid(mask, "max"), lambda t: lut[t])
    v.fit()
    shot = grab_rgb(v)
    assert v.scale_factor() < 0.15
    assert v.base.tiles_drawn <= 2 and layer.tiles_drawn <= 2       # level 3: 375x250, one or two tiles
    red = (shot[..., 0] > 200) & (shot[..., 1] < 60)
    assert red.sum(axis=0).max() > 0.8 * 2000 * v.scale_factor()  # the hairline is a full-height column


@pytest.mark.parametrize("edges", [False, True])
def test_invalidate_recolours_cached_tiles_in_place_like_new_tiles(qtbot, edges):
    from crackviewer.viewer.layers import mask_edges

    rgb = np.full((1100, 1100, 3), 30, np.uint8)
    mask = np.zeros((1100, 1100), np.uint8)
    v = shown_view(qtbot)
    v.set_image(rgb)
    cache = TileCache()
    layer = TiledLayer("mask", 1100, 1100, cache=cache)
    layer.setZValue(2)
    v.scene().addItem(layer)
    pyr = Pyramid(mask, "max")
    lut = np.array([0, 0xFFFFFFFF], np.uint32)
    colour = (lambda t: lut[mask_edges(t)]) if edges else (lambda t: lut[t])
    layer.set_source(pyr, colour)
    v.zoom_1to1()
    v.centerOn(300, 300)
    grab_rgb(v)
    v.fit()                                                         # a coarse level cached too
    grab_rgb(v)
    v.zoom_1to1()
    v.centerOn(300, 300)
    before = cache.owner_keys(layer._owner)
    assert (layer._owner, 0, 0, 0) in before and any(k[1] > 0 for k in before)
    for rect in [(200, 200, 260, 210), (509, 100, 515, 600), (0, 0, 3, 3)]:  # the second crosses a tile border
        x0, y0, x1, y1 = rect
        mask[y0:y1, x0:x1] = 1
        layer.update_rect(*rect)
        assert cache.owner_keys(layer._owner) == before            # refreshed in place, nothing dropped
        for key in before:
            _, k, tx, ty = key
            np.testing.assert_array_equal(cache.peek(key)[1].view(np.uint32)[..., 0],
                                          colour(pyr.tile(k, tx, ty)), err_msg=str((key, rect)))
    shot = grab_rgb(v)
    x0, y0 = image_origin(v)
    inside, ring = shot[y0 + 200:y0 + 210, x0 + 200:x0 + 260], shot[y0 + 199, x0 + 200:x0 + 260]
    if edges:                                                       # the outline just outside the painted block
        assert (ring == 255).all() and (inside == 30).all()
    else:
        assert (inside == 255).all() and (ring == 30).all()
    layer.invalidate_all()
    assert not cache.owner_keys(layer._owner)


def test_tile_cache_stays_bounded_while_panning(qtbot):
    rgb = np.random.default_rng(1).integers(0, 256, (2048, 2048, 3), dtype=np.uint8)
    v = shown_view(qtbot, 600, 600)
    cache = TileCache(budget=3 * 512 * 512 * 4)                    # three tiles
    layer = TiledLayer("photo", 2048, 2048, cache=cache)
    v.scene().addItem(layer)
    v.scene().setSceneRect(0, 0, 2048, 2048)
    layer.set_rgb(rgb)
    v.zoom_1to1()
    for x in range(0, 2048, 256):
        for y in (256, 1024, 1800):
            v.centerOn(x, y)
            grab_rgb(v)
            assert cache.nbytes <= cache.budget
    assert len(cache) <= 3


def test_annotate_paints_and_undoes_on_a_large_image(qtbot, tmp_path):
    H, W = 2000, 3000
    root = tmp_path / "ds"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    img = np.full((H, W, 3), 170, np.uint8)
    cv2.imwrite(str(root / "images" / "big.jpg"), img)
    cv2.imwrite(str(root / "masks" / "big.png"), np.zeros((H, W), np.uint8))
    (root / "manifest.csv").write_text("name,label,split\nbig,1,train\n")
    panel = open_panel(qtbot, root, autosave_ms=60_000)
    try:
        assert panel.session.model.mask.shape == (H, W)
        panel.canvas.zoom_1to1()
        panel.canvas.centerOn(1500, 1000)
        panel.set_tool("brush")
        panel.size_slider.setValue(5)
        drag(panel, [(1450, 1000), (1500, 1000), (1550, 1002)])
        mask = panel.session.model.mask
        assert mask[1000, 1450:1550].all() and mask.sum() < 5000
        pyr = panel._mask_pyramid
        assert pyr.base is mask and pyr.levels[3][1000 >> 3, 1500 >> 3] == 1     # the coarse levels follow
        shown = panel.mask_layer.pixels[..., 3] > 0
        np.testing.assert_array_equal(shown, mask > 0)
        panel.undo()
        assert not mask.any() and not pyr.levels[-1].any()
        assert not (panel.mask_layer.pixels[..., 3] > 0).any()
    finally:
        panel.shutdown()
