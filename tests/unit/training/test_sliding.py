"""Sliding-window inference: equals whole-image inference in one window, no seams, bounded memory, strip I/O."""
import tracemalloc

import cv2
import numpy as np
import pytest
import torch

from trainer.training.model import SegDecNet
from trainer.training.sliding import (IMAGE_SCORE_RULE, ArraySource, ArrayWriter, PngStripWriter, TiffSource,
                                      TorchPredictor, blend_weights, open_image_source, sliding_predict,
                                      window_starts)


def _smooth_image(h, w):
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 0] = (yy * 7 + xx * 3) % 256
    img[..., 1] = (xx * 5) % 256
    img[..., 2] = 90
    return img


def _echo(batch):
    """A fake model whose crack probability is the red channel: the map must reproduce the image exactly."""
    return batch[..., 0].max(axis=(1, 2)) / 255.0, batch[..., 0].astype(np.float32) / 255.0


def test_window_starts_cover_the_axis():
    for length in (1, 63, 64, 65, 200, 1001):
        s = window_starts(length, 64, 0.25)
        assert s[0] == 0 and s[-1] == max(0, length - 64)
        assert all(b - a <= 48 for a, b in zip(s, s[1:]))
    with pytest.raises(Exception, match="tile_overlap"):
        window_starts(100, 64, 1.0)


def test_sliding_equals_whole_image_where_the_image_fits_one_window():
    torch.manual_seed(0)
    model = SegDecNet(input_height=128, input_width=128).eval()
    img = _smooth_image(128, 128)
    res = sliding_predict(ArraySource(img), TorchPredictor(model), (128, 128), writer=ArrayWriter(np.float32))
    with torch.inference_mode():
        cls, seg = model(torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255.0)
    np.testing.assert_allclose(res["writer"].array, torch.sigmoid(seg)[0, 0].numpy(), atol=1e-4, rtol=0)
    assert res["score"] == pytest.approx(float(torch.sigmoid(cls)[0]), abs=1e-6)
    assert res["windows"] == 1 and res["rule"] == IMAGE_SCORE_RULE


def test_constant_model_gives_a_constant_map_without_seams():
    def const(batch):
        return np.full(len(batch), 0.25), np.full(batch.shape[:3], 0.3, np.float32)
    res = sliding_predict(ArraySource(_smooth_image(300, 500)), const, (64, 64), overlap=0.25,
                          writer=ArrayWriter(np.float32))
    np.testing.assert_allclose(res["writer"].array, 0.3, atol=1e-6)
    w = blend_weights(64, 64)
    assert w.min() > 0 and np.allclose(w, w[::-1, ::-1])


@pytest.mark.parametrize("hw,batch", [((300, 500), 3), ((50, 70), 2), ((64, 200), 4)])
def test_windows_land_where_they_belong(hw, batch):
    img = _smooth_image(*hw)
    res = sliding_predict(ArraySource(img), _echo, (64, 64), overlap=0.3, batch_size=batch,
                          writer=ArrayWriter(np.float32))
    np.testing.assert_allclose(res["writer"].array, img[..., 0] / 255.0, atol=1e-5)
    assert res["score"] == pytest.approx(img[..., 0].max() / 255.0)


def test_png_writer_and_tiff_source_stream_strips(tmp_path):
    import tifffile
    img = _smooth_image(333, 410)
    tifffile.imwrite(tmp_path / "tiled.tif", img, tile=(64, 64), photometric="rgb")
    tifffile.imwrite(tmp_path / "strips.tif", img, rowsperstrip=37, photometric="rgb")
    for name in ("tiled.tif", "strips.tif"):
        src = open_image_source(tmp_path / name)
        assert isinstance(src, TiffSource) and (src.height, src.width) == (333, 410)
        np.testing.assert_array_equal(src.read(50, 171), img[50:171])
    res = sliding_predict(open_image_source(tmp_path / "tiled.tif"), _echo, (64, 64),
                          writer=PngStripWriter(tmp_path / "p.png"))
    assert (res["height"], res["width"]) == (333, 410)
    np.testing.assert_array_equal(cv2.imread(str(tmp_path / "p.png"), cv2.IMREAD_UNCHANGED), img[..., 0])


def test_scaled_inference_writes_the_scaled_map():
    img = _smooth_image(200, 160)
    res = sliding_predict(ArraySource(img), _echo, (64, 64), scale=0.5, writer=ArrayWriter(np.float32))
    assert res["writer"].array.shape == (100, 80)


def test_strip_processing_memory_is_bounded(tmp_path):
    img = np.zeros((4000, 3000, 3), np.uint8)  # 36 MB of uint8 input, allocated before tracing
    img[::97] = 200

    def cheap(batch):
        return np.zeros(len(batch)), np.full(batch.shape[:3], 0.5, np.float32)

    tracemalloc.start()
    try:
        res = sliding_predict(ArraySource(img), cheap, (256, 256), overlap=0.25, batch_size=4,
                              writer=PngStripWriter(tmp_path / "big.png"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert res["windows"] == len(window_starts(4000, 256, 0.25)) * len(window_starts(3000, 256, 0.25))
    full_float = 4000 * 3000 * 4
    # strips: uint8 band 256x3000x3 (2.3 MB), two float32 accumulators of (256+192)x3000 (10.8 MB), a batch
    assert peak < 25e6, f"peak {peak / 1e6:.1f} MB; a float32 copy of the image alone is {full_float / 1e6:.0f} MB"
    assert cv2.imread(str(tmp_path / "big.png"), cv2.IMREAD_UNCHANGED).shape == (4000, 3000)
