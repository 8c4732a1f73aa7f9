"""Reading images for the app's viewers: the viewers' megapixel limit, in-place colour order, reduced thumbnails."""
import struct
import zlib

import cv2
import numpy as np
import pytest

from trainer.datasets.images import read_image, read_image_reduced, reduction_for
from trainer.errors import DataError
from trainer.limits import DEFAULT_MAX_MEGAPIXELS, VIEWER_MAX_MEGAPIXELS, check_image_megapixels


def _png_header_only(path, w, h):
    """A PNG whose header says w x h (its pixels are never decoded by the checks below)."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk
                     + struct.pack(">I", zlib.crc32(chunk) & 0xFFFFFFFF))
    return path


def test_a_20000x20000_image_passes_the_viewer_limit_not_the_training_one(tmp_path):
    p = _png_header_only(tmp_path / "mosaic.png", 20000, 20000)
    assert DEFAULT_MAX_MEGAPIXELS < 400 <= VIEWER_MAX_MEGAPIXELS
    assert check_image_megapixels(p, VIEWER_MAX_MEGAPIXELS) == (20000, 20000)
    with pytest.raises(DataError, match="max_megapixels"):
        check_image_megapixels(p, DEFAULT_MAX_MEGAPIXELS)
    assert reduction_for(p, 120) == 8 and reduction_for(p, 5000) == 4 and reduction_for(p, 6000) == 2
    assert reduction_for(p, 20000) == 1


def test_read_image_is_rgb_and_the_reduced_read_is_smaller(tmp_path):
    rgb = np.zeros((1600, 2000, 3), np.uint8)
    rgb[..., 0] = 200                                       # red
    rgb[800:, :, 2] = 120                                   # bottom half bluish
    p = tmp_path / "photo.png"
    cv2.imwrite(str(p), rgb[..., ::-1])
    full = read_image(p, max_megapixels=VIEWER_MAX_MEGAPIXELS)
    np.testing.assert_array_equal(full, rgb)
    small = read_image_reduced(p, 120)
    assert small.shape == (200, 250, 3)                     # decoded at 1/8
    assert tuple(small[10, 10]) == (200, 0, 0) and tuple(small[190, 10]) == (200, 0, 120)
    grey = read_image_reduced(p, 500, grey=True)
    assert grey.shape == (400, 500)                         # 1/4 keeps the long side >= 500
