"""Sizes checked before memory is allocated (issue 15): image headers, the megapixel limit, checkpoint metadata."""
from __future__ import annotations

import resource
import struct
import tracemalloc
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from trainer.datasets.imageheader import image_size
from trainer.errors import CheckpointError, DataError
from trainer.limits import check_checkpoint_input_size, check_image_megapixels


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def zero_png(w: int, h: int) -> bytes:
    """A VALID 8-bit grey PNG of w x h zeros, built without compressing w*h bytes: one row block compressed with a
    full flush is independent of the history, so it can be repeated; then an empty final block and the adler32."""
    rows = 64
    assert h % rows == 0
    co = zlib.compressobj(9)
    head = co.compress(bytes((w + 1) * rows))
    block = head + co.flush(zlib.Z_FULL_FLUSH)
    zhdr, body = block[:2], block[2:]
    n = (w + 1) * h
    adler = ((n % 65521) << 16) | 1                     # adler32 of n zero bytes
    idat = zhdr + body * (h // rows) + b"\x03\x00" + struct.pack(">I", adler)
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def test_zero_png_builder_is_a_real_png(tmp_path):
    p = tmp_path / "z.png"
    p.write_bytes(zero_png(40, 128))
    img = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
    assert img.shape == (128, 40) and not img.any()


@pytest.mark.parametrize("ext", [".png", ".jpg", ".bmp", ".tif", ".webp", ".pgm", ".ppm"])
@pytest.mark.parametrize("colour", [False, True])
def test_header_size_matches_the_decoded_size(tmp_path, ext, colour):
    if ext == ".pgm" and colour or ext == ".ppm" and not colour:
        pytest.skip("PNM: grey is .pgm, colour is .ppm")
    img = np.random.default_rng(0).integers(0, 255, (37, 53, 3) if colour else (37, 53), np.uint8)
    p = tmp_path / f"a{ext}"
    if not cv2.imwrite(str(p), img):
        pytest.skip(f"this OpenCV cannot write {ext}")
    assert image_size(p) == (53, 37)
    if ext == ".webp":
        lossless = tmp_path / "b.webp"
        cv2.imwrite(str(lossless), img, [cv2.IMWRITE_WEBP_QUALITY, 101])
        assert image_size(lossless) == (53, 37)


def test_unknown_or_cut_short_header_gives_none(tmp_path):
    (tmp_path / "x.txt").write_bytes(b"hello")
    (tmp_path / "cut.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (tmp_path / "cut.jpg").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF")
    assert image_size(tmp_path / "x.txt") is None
    assert image_size(tmp_path / "cut.png") is None
    assert image_size(tmp_path / "cut.jpg") is None


def test_huge_png_is_refused_before_any_allocation(tmp_path):
    from trainer.datasets.images import read_image
    from trainer.datasets.layouts import open_dataset
    from trainer.datasets.validation import validate_records

    data = zero_png(32000, 32000)                    # 1 GB of grey pixels, 3 GB as colour, ~1 MB on disk
    assert len(data) < 4_000_000
    root = tmp_path / "ds"
    (root / "images").mkdir(parents=True)
    (root / "images" / "huge.png").write_bytes(data)
    cv2.imwrite(str(root / "images" / "ok.png"), np.zeros((16, 16, 3), np.uint8))
    (root / "manifest.csv").write_text("name,label,split\nhuge,0,train\nok,0,train\n")
    recs = open_dataset(root).samples
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss      # KiB on Linux
    tracemalloc.start()
    with pytest.raises(DataError) as info:
        read_image(root / "images" / "huge.png")
    msg = str(info.value)
    assert "huge.png" in msg and "32000x32000" in msg and "max_megapixels = 1024" in msg
    with pytest.raises(DataError, match="huge.png.*over the limit of 250 megapixels"):
        validate_records(recs, workers=1)
    good, bad = validate_records(recs, skip_bad=True, workers=1)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert [r.name for r in good] == ["ok"] and Path(bad[0][0]).name == "huge.png"
    assert traced_peak < 50_000_000
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before < 200_000   # < 200 MB, not GBs
    # the limit is a key: raised, the header check lets the file through to the decoder
    assert check_image_megapixels(root / "images" / "huge.png", 2000) == (32000, 32000)


def test_checkpoint_metadata_is_checked_before_building(tmp_path):
    ck = tmp_path / "best.pth"
    assert check_checkpoint_input_size({"input_height": 448, "input_width": 448}, ck) == (448, 448)
    assert check_checkpoint_input_size({}, ck, {"input_height": 128, "input_width": 96}) == (128, 96)
    with pytest.raises(CheckpointError) as info:
        check_checkpoint_input_size({"input_height": 20000, "input_width": 20000}, ck)
    msg = str(info.value)
    assert str(ck) in msg and "20000x20000" in msg and "must be between 64 and 4096" in msg
    for bad in ("448", 448.5, None, True):
        with pytest.raises(CheckpointError, match="whole number"):
            check_checkpoint_input_size({"input_height": bad}, ck)


def test_predict_refuses_a_checkpoint_claiming_a_huge_input(tmp_path):
    """The CLI's model loader checks the metadata before SegDecNet allocates anything."""
    from trainer.training.checkpoint import save_checkpoint
    from trainer.training.predict import load_run_model as _load_run_model

    run = tmp_path / "run"
    save_checkpoint(run / "checkpoints" / "best.pth",
                    {"model": {}, "meta": {"input_height": 20000, "input_width": 20000}, "config": {}})
    with pytest.raises(CheckpointError, match="best.pth.*20000x20000"):
        _load_run_model(run, None, "cpu")
