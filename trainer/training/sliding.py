"""Sliding-window inference on images of any size, in bounded memory.

Windows. ``window = (th, tw)`` (the training tile size) slides over the image with ``overlap`` (0.25 = a quarter of
a window; the stride is rounded down to a multiple of 8); the last window of each row and column is placed flush
with the image edge, so every pixel is covered. An image smaller than a window is zero-padded to it (as in tiles
training) and the padding is cut from the output.

Blending. Each window's crack probabilities (sigmoid of the segmentation logits) are weighted by a separable cosine
window ``w(i) = max(sin(pi (i + 0.5) / n), BLEND_FLOOR)`` and the map is ``sum(w p) / sum(w)``. The weights vary
smoothly and never reach zero, so there is no seam step at window borders, and a model with a constant output gives
exactly that constant everywhere. Where the image fits in one window the map is the whole-image output.

Image score (THE rule): the image's crack score is the **maximum over its windows of the window decision score**
(sigmoid of the classification logit of each window). A crack anywhere in a large photo makes the photo a crack
image; reports name this rule via :data:`IMAGE_SCORE_RULE`.

Memory. The image is processed in horizontal strips, one row of windows at a time: only the strip's uint8 rows
(``th x W x 3``), one batch of float32 windows and two float32 accumulators of ``(th + stride) x W`` are held, so
memory grows with the image *width*, never with its area. Finished rows leave as uint8 (probability x 255, rounded)
through a writer: :class:`PngStripWriter` streams an 8-bit PNG to disk row by row (zlib, no full-size buffer),
:class:`ArrayWriter` collects a small map in memory.

Input. :func:`open_image_source` reads strips without decoding the whole image where the format allows it:
TIFF (tiled or stripped, via tifffile; only the segments a strip touches are decoded) and ``.npy`` (memory-mapped
uint8 HxWx3). PNG/JPEG/BMP/WebP cannot be decoded in strips by OpenCV: those are decoded once as uint8 RGB
(H x W x 3 bytes: 36 MB for 4000x3000, 1.2 GB for 20000x20000), never as float. Very large images should be TIFF.

Scale. ``scale != 1`` runs the windows on the image resized by ``scale`` (the training ``tile_scale``); each strip
is resampled on its own (:class:`ScaledSource`, INTER_AREA for shrinking, INTER_LINEAR for enlarging), and the map
is written at the scaled resolution.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch

from trainer.datasets.images import read_image
from trainer.errors import DataError
from trainer.training.device import autocast
from trainer.training.map_writers import ArrayWriter, PngStripWriter, TeeWriter, to_uint8  # noqa: F401

__all__ = ["IMAGE_SCORE_RULE", "BLEND_FLOOR", "window_starts", "blend_weights", "ArraySource", "TiffSource",
           "ScaledSource", "open_image_source", "to_uint8", "ArrayWriter", "TorchPredictor", "PngStripWriter",
           "TeeWriter",
           "sliding_predict"]

IMAGE_SCORE_RULE = "max_window_score"  # the image score is the maximum of the windows' decision scores
BLEND_FLOOR = 1e-3

# predict(batch uint8 [B, th, tw, 3] RGB) -> (window scores float [B] in [0,1], crack probabilities float [B, th, tw])
Predictor = Callable[[np.ndarray], "tuple[np.ndarray, np.ndarray]"]


def window_starts(length: int, window: int, overlap: float) -> list[int]:
    """Window start positions along one axis: stride = window x (1 - overlap) rounded down to a multiple of 8 (at
    least 8); the last window is flush with the end. A length up to one window gives [0]."""
    if not 0.0 <= overlap < 1.0:
        raise DataError(f"tile_overlap must be in [0, 1), got {overlap!r}")
    if length <= window:
        return [0]
    stride = max(8, int(window * (1.0 - overlap)) // 8 * 8)
    starts = list(range(0, length - window, stride))
    starts.append(length - window)
    return starts


def blend_weights(th: int, tw: int) -> np.ndarray:
    """The separable cosine blending window [th, tw] float32, in (0, 1], floored at :data:`BLEND_FLOOR`."""
    def one(n):
        return np.maximum(np.sin(np.pi * (np.arange(n) + 0.5) / n), BLEND_FLOOR)
    return np.outer(one(th), one(tw)).astype(np.float32)


# --------------------------------------------------------------------------------------------------------------------
# sources: height, width, read(y0, y1) -> uint8 [y1-y0, W, 3] RGB

class ArraySource:
    """Rows of an in-memory or memory-mapped uint8 H x W x 3 RGB array."""

    def __init__(self, array: np.ndarray, name: str = "<array>"):
        if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
            raise DataError(f"expected a uint8 H x W x 3 image, got {array.dtype} {array.shape}", file=name)
        self.array, self.name = array, name
        self.height, self.width = array.shape[:2]

    def read(self, y0: int, y1: int) -> np.ndarray:
        return np.asarray(self.array[y0:y1])


class TiffSource:
    """Rows of an 8-bit RGB (or gray) TIFF, decoding only the tiles or strips a row range touches."""

    def __init__(self, path):
        import tifffile  # optional extra [tiff]: only .tif/.tiff inputs need it
        self.name = str(path)
        try:
            self._tif = tifffile.TiffFile(str(path))
        except Exception as e:  # tifffile raises many kinds
            raise DataError(f"cannot read TIFF ({e})", file=path) from None
        page = self._tif.pages[0]
        if page.dtype != np.uint8 or page.samplesperpixel not in (1, 3) or page.planarconfig != 1:
            raise DataError(f"only 8-bit gray or RGB (contiguous) TIFF is supported, got {page.dtype} with "
                            f"{page.samplesperpixel} samples", file=path)
        self._page = page
        self.height, self.width = int(page.imagelength), int(page.imagewidth)
        self._tiled = page.is_tiled
        self._seg_h = int(page.tilelength) if self._tiled else int(page.rowsperstrip or self.height)
        self._seg_w = int(page.tilewidth) if self._tiled else self.width
        self._per_row = -(-self.width // self._seg_w)

    def read(self, y0: int, y1: int) -> np.ndarray:
        page, fh = self._page, self._tif.filehandle
        out = np.zeros((y1 - y0, self.width, 3), np.uint8)
        decode = page.decode
        for r in range(y0 // self._seg_h, -(-y1 // self._seg_h)):
            for c in range(self._per_row):
                idx = r * self._per_row + c
                off, n = page.dataoffsets[idx], page.databytecounts[idx]
                data = None
                if n:
                    fh.seek(off)
                    data = fh.read(n)
                seg, _, shape = decode(data, idx, jpegtables=page.jpegtables)
                if seg is None:
                    continue
                seg = seg.reshape(shape[1], shape[2], shape[3])
                sy, sx = r * self._seg_h, c * self._seg_w
                a, b = max(y0, sy), min(y1, sy + seg.shape[0], self.height)
                w = min(seg.shape[1], self.width - sx)
                if b <= a or w <= 0:
                    continue
                part = seg[a - sy:b - sy, :w]
                out[a - y0:b - y0, sx:sx + w] = part if part.shape[2] == 3 else part[..., :1]
        return out

    def close(self) -> None:
        self._tif.close()


class ScaledSource:
    """Rows of ``source`` resized by ``scale``; each strip is resampled from the native rows it covers."""

    def __init__(self, source, scale: float):
        self.source, self.scale = source, float(scale)
        self.height = max(1, int(round(source.height * scale)))
        self.width = max(1, int(round(source.width * scale)))
        self.name = getattr(source, "name", "<image>")

    def read(self, y0: int, y1: int) -> np.ndarray:
        a = int(math.floor(y0 / self.scale))
        b = min(self.source.height, max(a + 1, int(math.ceil(y1 / self.scale))))
        band = self.source.read(a, b)
        interp = cv2.INTER_AREA if self.scale < 1 else cv2.INTER_LINEAR
        return cv2.resize(band, (self.width, y1 - y0), interpolation=interp)


def open_image_source(path):
    """A strip source for ``path``: TIFF read by segments, ``.npy`` memory-mapped, anything else decoded once as
    uint8 RGB (see the module docstring for the memory this takes)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in (".tif", ".tiff"):
        return TiffSource(p)
    if suffix == ".npy":
        try:
            return ArraySource(np.load(p, mmap_mode="r"), str(p))
        except (OSError, ValueError) as e:
            raise DataError(f"cannot memory-map .npy ({e})", file=p) from None
    return ArraySource(read_image(p), str(p))


# --------------------------------------------------------------------------------------------------------------------

def sliding_predict(source, predict: Predictor, window, *, overlap: float = 0.25, batch_size: int = 4,
                    writer=None, scale: float = 1.0, progress: Callable[[int, int], None] | None = None) -> dict:
    """Run ``predict`` over ``source`` in blended sliding windows, strip by strip; hand the finished rows of the
    probability map to ``writer`` (an :class:`ArrayWriter` (uint8) if None).

    Returns ``{"score": image score (max of the window scores), "rule": IMAGE_SCORE_RULE, "windows": n, "height",
    "width" (of the map), "writer": writer}``. ``progress(done_windows, total_windows)`` is called after each batch.
    """
    if scale != 1.0:
        source = ScaledSource(source, scale)
    th, tw = int(window[0]), int(window[1])
    H, W = source.height, source.width
    writer = writer if writer is not None else ArrayWriter()
    ys, xs = window_starts(H, th, overlap), window_starts(W, tw, overlap)
    writer.begin(H, W)
    try:
        _slide(source, predict, writer, ys, xs, (th, tw), batch_size, progress, state := {"score": 0.0})
    except BaseException:
        if hasattr(writer, "abort"):
            writer.abort()
        raise
    writer.close()
    return {"score": state["score"], "rule": IMAGE_SCORE_RULE, "windows": len(ys) * len(xs), "height": H,
            "width": W, "writer": writer}


def _slide(source, predict, writer, ys, xs, window, batch_size, progress, state) -> None:
    th, tw = window
    H, W = source.height, source.width
    pw = max(W, tw)  # padded width of the accumulators
    weight = blend_weights(th, tw)
    total, done, score = len(ys) * len(xs), 0, 0.0
    num = np.zeros((0, pw), np.float32)
    den = np.zeros((0, pw), np.float32)
    acc_y0 = 0  # image row of num[0]
    for k, y in enumerate(ys):
        band = source.read(y, min(H, y + th))
        if band.shape[0] < th or band.shape[1] < tw:
            pad = np.zeros((th, pw, 3), np.uint8)
            pad[: band.shape[0], : band.shape[1]] = band
            band = pad
        need = y + th - acc_y0  # grow the accumulators to cover this row of windows
        if need > len(num):
            num = np.concatenate([num, np.zeros((need - len(num), pw), np.float32)])
            den = np.concatenate([den, np.zeros((need - len(den), pw), np.float32)])
        r0 = y - acc_y0
        for b in range(0, len(xs), batch_size):
            bx = xs[b:b + batch_size]
            batch = np.stack([band[:, x:x + tw] for x in bx])
            scores, probs = predict(batch)
            score = max(score, float(np.max(scores)))
            state["score"] = score
            for x, p in zip(bx, probs):
                num[r0:r0 + th, x:x + tw] += weight * p
                den[r0:r0 + th, x:x + tw] += weight
            done += len(bx)
            if progress is not None:
                progress(done, total)
        final = (ys[k + 1] if k + 1 < len(ys) else H) - acc_y0  # rows no later window touches
        final = min(final, H - acc_y0)
        if final > 0:
            p = num[:final, :W] / den[:final, :W]
            writer.write(p)
            num, den, acc_y0 = num[final:].copy(), den[final:].copy(), acc_y0 + final


class TorchPredictor:
    """The :data:`Predictor` of a SegDecNet: uint8 windows -> (sigmoid of the decision logits, crack probabilities at
    window size; the 1/8 maps of ``architecture="original"`` are upsampled bilinearly)."""

    def __init__(self, model, device="cpu", precision: str = "fp32"):
        self.model = model.eval()
        self.device, self.precision = torch.device(device), precision

    def __call__(self, batch: np.ndarray):
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(batch)).to(self.device).permute(0, 3, 1, 2).float().div_(255.0)
            with autocast(self.device, self.precision):
                cls, seg = self.model(x)
            seg = seg.float()
            if seg.shape[-2:] != x.shape[-2:]:
                seg = torch.nn.functional.interpolate(seg, size=x.shape[-2:], mode="bilinear", align_corners=False)
            return torch.sigmoid(cls.float()).cpu().numpy(), torch.sigmoid(seg[:, 0]).cpu().numpy()
