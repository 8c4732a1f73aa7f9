"""Training on tiles at the image's own resolution (``input_mode = "tiles"``; ``"resize"`` is the default).

The rules, in one place:

* **Canvas.** An image is first scaled by ``tile_scale`` (1.0 = native resolution; INTER_AREA when shrinking,
  INTER_LINEAR when enlarging; the mask is dilated at native resolution first, resized with INTER_AREA and binarised
  (> 127) as :class:`trainer.training.dataset.CrackDataset` does). Its *canvas* is the scaled image padded at the
  bottom and right
  to a multiple of 8 and to at least one tile. Padding pixels have ``valid = 0`` and ``seg_weight = 0``, so they
  add nothing to the segmentation loss; the training loop must also average over valid pixels only
  (``sum(bce * seg_weight) / sum(valid)`` instead of a mean over all pixels), or padded tiles weigh less.
* **Tile grid of an epoch.** Tiles are ``input_height x input_width`` crops of the canvas on a grid with stride =
  tile size, shifted by a random offset ``(oy, ox)`` (multiples of 8 in ``[0, tile)``) drawn per image from
  ``default_rng([seed, epoch, image index, 0x711E])``; start positions are clipped into the canvas and duplicates
  dropped, so every canvas pixel is in at least one tile. The plan of epoch ``e`` is a pure function of
  ``(seed, e)`` and the records: resume replans it exactly.
* **Crack tiles and crack-free tiles.** A tile with at least ``min_crack_pixels`` mask pixels (after dilation,
  scaling and binarising) is a crack tile (label 1, positive); any other tile is crack-free (label 0, negative): the
  tiles of crack-free images and the background tiles of crack images. Counting is exact and cheap: each segmented
  image keeps the integral image of its crack-pixel counts per 8x8 canvas cell (tile edges are on that grid).
* **Weak positives** (crack images without a segmentation mask, or not among ``num_segmented``) cannot be tiled by
  crack content: in tiles mode they contribute no tiles; ``warnings`` says how many were left out.
* **Sampling.** :class:`TileSampler` runs the published frequency-of-use rule
  (:class:`trainer.training.sampler.FrequencySampler`) on each epoch's tiles: every crack tile plus as many crack-free
  tiles, drawn by frequency of use. Use counts are kept per *region* (image, cell of the unshifted tile grid holding
  the tile centre), which is stable across epochs although the tiles move. The sampler yields tile descriptors
  ``(record index, y, x, label)`` that :class:`TileDataset` reads, so the dataset is stateless and safe in
  DataLoader workers.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from trainer.datasets.images import _decode, _read_mask_gray, distance_weight
from trainer.datasets.records import CHANNEL_ORDER, SampleRecord
from trainer.errors import DataError
from trainer.schema import KEYS
from trainer.training.sampler import FrequencySampler

__all__ = ["INPUT_MODES", "CELL", "TileGeometry", "TilePlanner", "TileDataset", "TileSampler", "tile_plan_summary",
           "scaled_size", "scale_image", "crop_padded"]

INPUT_MODES = KEYS["input_mode"].choices  # the config schema is their home
CELL = 8  # tile origins and canvas sizes are multiples of this (the encoder downsamples by 8)
_OFFSET_SALT = 0x711E


def scaled_size(height: int, width: int, scale: float) -> tuple[int, int]:
    """Size of an image of ``height x width`` at ``scale`` (at least 1 pixel each way)."""
    return max(1, int(round(height * scale))), max(1, int(round(width * scale)))


def scale_image(img: np.ndarray, scale: float, mask: bool = False) -> np.ndarray:
    """``img`` resized by ``scale`` (INTER_AREA to shrink or for masks, INTER_LINEAR to enlarge); 1.0 is a no-op."""
    if scale == 1.0:
        return img
    h, w = scaled_size(img.shape[0], img.shape[1], scale)
    interp = cv2.INTER_AREA if (mask or scale < 1.0) else cv2.INTER_LINEAR
    return cv2.resize(img, (w, h), interpolation=interp)


def crop_padded(img: np.ndarray, y: int, x: int, th: int, tw: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``th x tw`` crop at (y, x), zero-padded where it leaves the image, and its valid-pixel mask (uint8 0/1)."""
    h, w = img.shape[:2]
    out = np.zeros((th, tw) + img.shape[2:], img.dtype)
    valid = np.zeros((th, tw), np.uint8)
    y1, x1 = min(h, y + th), min(w, x + tw)
    if y1 > y and x1 > x:
        out[: y1 - y, : x1 - x] = img[y:y1, x:x1]
        valid[: y1 - y, : x1 - x] = 1
    return out, valid


def _canvas_len(n: int, tile: int) -> int:
    return max(tile, -(-n // CELL) * CELL)


def _starts(canvas: int, tile: int, offset: int) -> np.ndarray:
    s = np.clip(np.arange(-offset, canvas, tile), 0, canvas - tile)
    return np.unique(s)


@dataclass(frozen=True)
class TileGeometry:
    """What the planner knows about one image: scaled size, and the crack-count integral (None = no crack pixels)."""
    height: int             # scaled image height
    width: int              # scaled image width
    integral: np.ndarray | None  # (canvas_h/8 + 1) x (canvas_w/8 + 1) int64 integral of crack pixels per 8x8 cell

    def crack_pixels(self, y: int, x: int, th: int, tw: int) -> int:
        if self.integral is None:
            return 0
        a, b, c, d = y // CELL, x // CELL, (y + th) // CELL, (x + tw) // CELL
        s = self.integral
        return int(s[c, d] - s[a, d] - s[c, b] + s[a, b])


def _cell_integral(mask01: np.ndarray, canvas_h: int, canvas_w: int) -> np.ndarray:
    m = np.zeros((canvas_h, canvas_w), np.int64)
    m[: mask01.shape[0], : mask01.shape[1]] = mask01
    cells = m.reshape(canvas_h // CELL, CELL, canvas_w // CELL, CELL).sum(axis=(1, 3))
    out = np.zeros((cells.shape[0] + 1, cells.shape[1] + 1), np.int64)
    out[1:, 1:] = cells.cumsum(0).cumsum(1)
    return out


class TilePlanner:
    """Plans the tiles of each epoch over ``records`` (see the module docstring for the rules).

    ``is_segmented`` (bool per record) says which positives have a usable mask (as :class:`CrackDataset` decides;
    default: positives with a mask file). ``sizes`` optionally maps an image path (str) to its native
    ``(height, width)`` so crack-free images need not be decoded here; otherwise each crack-free image is decoded
    once (cv2 cannot read a size from the header alone) and each segmented mask once.
    """

    def __init__(self, records, tile_hw, *, scale: float = 1.0, dilate: int = 1, seed: int = 1337,
                 is_segmented=None, min_crack_pixels: int = 1, sizes: dict | None = None):
        self.records: list[SampleRecord] = list(records)
        self.th, self.tw = int(tile_hw[0]), int(tile_hw[1])
        if self.th % CELL or self.tw % CELL or self.th < CELL or self.tw < CELL:
            raise DataError(f"tile size {self.th}x{self.tw} must be positive multiples of {CELL}")
        if not (scale > 0 and math.isfinite(scale)):
            raise DataError(f"tile_scale must be a positive number, got {scale!r}")
        self.scale, self.dilate, self.seed = float(scale), int(dilate), int(seed)
        self.min_crack_pixels = max(1, int(min_crack_pixels))
        seg = (np.array([r.label == 0 or r.has_mask for r in self.records], bool) if is_segmented is None
               else np.asarray(is_segmented, bool))
        self.is_segmented = seg
        self.warnings: list[str] = []
        self.geometry: list[TileGeometry | None] = []
        sizes = sizes or {}
        weak = 0
        for i, r in enumerate(self.records):
            if r.label == 1 and not seg[i]:
                self.geometry.append(None)
                weak += 1
                continue
            self.geometry.append(self._geometry(r, sizes.get(str(r.image_path))))
        if weak:
            self.warnings.append(f"{weak} crack image(s) without a segmentation mask give no tiles "
                                 f"(tiles need a mask to tell crack tiles from crack-free ones)")
        self._region_base: list[int] = []
        n = 0
        for g in self.geometry:
            self._region_base.append(n)
            if g is not None:
                n += (_canvas_len(g.height, self.th) // self.th + 1) * (_canvas_len(g.width, self.tw) // self.tw + 1)
        self.num_regions = n

    def _geometry(self, r: SampleRecord, size) -> TileGeometry:
        if r.label == 1:
            m = _read_mask_gray(r.mask_path)
            if self.dilate > 1:
                m = cv2.dilate(m, np.ones((self.dilate, self.dilate), np.uint8))
            m = (scale_image(m, self.scale, mask=True) > 127).astype(np.uint8)
            h, w = m.shape
            ch, cw = _canvas_len(h, self.th), _canvas_len(w, self.tw)
            return TileGeometry(h, w, _cell_integral(m, ch, cw) if m.any() else None)
        if size is None:
            size = _decode(r.image_path, cv2.IMREAD_GRAYSCALE).shape[:2]
        h, w = scaled_size(int(size[0]), int(size[1]), self.scale)
        return TileGeometry(h, w, None)

    def canvas(self, i: int) -> tuple[int, int]:
        g = self.geometry[i]
        return _canvas_len(g.height, self.th), _canvas_len(g.width, self.tw)

    def offsets(self, i: int, epoch: int) -> tuple[int, int]:
        rng = np.random.default_rng([self.seed, int(epoch), int(i), _OFFSET_SALT])
        return (int(rng.integers(0, self.th // CELL)) * CELL, int(rng.integers(0, self.tw // CELL)) * CELL)

    def plan(self, epoch: int) -> np.ndarray:
        """All tiles of ``epoch``: int64 array [N, 5] of (record index, y, x, label, region id), in record order."""
        rows = []
        for i, g in enumerate(self.geometry):
            if g is None:
                continue
            ch, cw = self.canvas(i)
            oy, ox = self.offsets(i, epoch)
            ncols = cw // self.tw + 1
            for y in _starts(ch, self.th, oy):
                for x in _starts(cw, self.tw, ox):
                    crack = g.crack_pixels(int(y), int(x), self.th, self.tw) >= self.min_crack_pixels
                    cell = ((y + self.th // 2) // self.th) * ncols + (x + self.tw // 2) // self.tw
                    region = self._region_base[i] + cell
                    rows.append((i, y, x, int(crack), region))
        return np.array(rows, np.int64).reshape(-1, 5)


class TileSampler(Sampler):
    """Frequency-of-use sampling over each epoch's tiles (crack tiles = positives, crack-free tiles = negatives).

    Yields ``(record index, y, x, label)`` tuples for :class:`TileDataset`. Call :meth:`set_epoch` in order;
    ``state_dict``/``load_state_dict`` carry the per-region use counts for resume.
    """

    def __init__(self, planner: TilePlanner, frequency_sampling: bool = True, seed: int = 0, rank: int = 0,
                 world_size: int = 1):
        self.planner = planner
        self.frequency_sampling, self.seed = bool(frequency_sampling), int(seed)
        self.rank, self.world_size = int(rank), int(world_size)
        self.region_counts = np.zeros(planner.num_regions, np.int64)
        self.epoch, self._planned_epoch = 0, -1
        self._tiles: np.ndarray | None = None
        self._inner: FrequencySampler | None = None

    def set_epoch(self, epoch: int) -> None:
        if epoch == self._planned_epoch:
            return
        tiles = self.planner.plan(epoch)
        inner = FrequencySampler(tiles[:, 3], self.frequency_sampling, seed=self.seed, rank=self.rank,
                                 world_size=self.world_size)
        neg_regions = tiles[inner.neg, 4]
        inner.counts = self.region_counts[neg_regions].copy()
        before = inner.counts.copy()
        inner.set_epoch(epoch)
        np.add.at(self.region_counts, neg_regions, inner.counts - before)
        self._tiles, self._inner, self.epoch, self._planned_epoch = tiles, inner, epoch, epoch

    def _check_planned(self) -> None:
        if self._inner is None:  # fresh: epoch 0; resumed after epoch e: epoch e + 1 (as set_epoch would)
            self.set_epoch(self._planned_epoch + 1 if self._planned_epoch >= 0 else self.epoch)

    def __iter__(self):
        self._check_planned()
        t = self._tiles
        return iter([(int(t[k, 0]), int(t[k, 1]), int(t[k, 2]), int(t[k, 3])) for k in self._inner])

    def __len__(self) -> int:
        self._check_planned()
        return len(self._inner)

    def state_dict(self) -> dict:
        return {"region_counts": torch.from_numpy(self.region_counts.copy()), "epoch": self._planned_epoch}

    def load_state_dict(self, state: dict) -> None:
        c = state["region_counts"]
        c = c.numpy() if isinstance(c, torch.Tensor) else np.asarray(c)
        if c.shape != self.region_counts.shape:
            raise ValueError(f"tile sampler state has {c.shape[0]} regions, this dataset has "
                             f"{self.region_counts.shape[0]} (different images, tile size or tile_scale?)")
        self.region_counts = c.astype(np.int64).copy()
        # the counts include the saved epoch; the trainer resumes at the next epoch boundary (set_epoch(saved + 1))
        self._planned_epoch = self.epoch = int(state["epoch"])
        self._tiles, self._inner = None, None


class TileDataset(Dataset):
    """Reads the tiles a :class:`TileSampler` yields; items have :class:`CrackDataset`'s keys plus ``valid``.

    ``__getitem__((i, y, x, label))`` decodes record ``i``, scales it by the planner's ``tile_scale``, crops the
    ``th x tw`` tile at (y, x) (zero padding outside the image), and returns ``image`` float32 [3,th,tw] RGB in
    [0,1], ``mask`` float32 [1,th,tw], ``seg_weight`` float32 [1,th,tw] (0 on padding; distance weights are
    normalised per tile), ``valid`` float32 [1,th,tw], ``is_segmented`` (True), ``label`` (1 crack tile, 0 not) and
    ``index`` (the record index).
    """

    channel_order = CHANNEL_ORDER

    def __init__(self, planner: TilePlanner, weighted=None):
        self.planner = planner
        self.records = planner.records
        self.weighted = None if weighted in (None, False) else (float(weighted[0]), float(weighted[1]))

    def __len__(self) -> int:  # tiles of epoch 0 (the sampler decides what an epoch really holds)
        return len(self.planner.plan(0))

    def __getitem__(self, tile) -> dict:
        i, y, x, label = (int(v) for v in tile)
        p, rec = self.planner, self.records[i]
        raw = _decode(rec.image_path, cv2.IMREAD_COLOR)
        img = scale_image(cv2.cvtColor(raw, cv2.COLOR_BGR2RGB), p.scale)
        crop, valid = crop_padded(img, y, x, p.th, p.tw)
        if rec.label == 1:
            m = _read_mask_gray(rec.mask_path, raw.shape, image_path=rec.image_path)
            if p.dilate > 1:
                m = cv2.dilate(m, np.ones((p.dilate, p.dilate), np.uint8))
            m = (scale_image(m, p.scale, mask=True) > 127).astype(np.uint8)
            mask, _ = crop_padded(m, y, x, p.th, p.tw)
        else:
            mask = np.zeros((p.th, p.tw), np.uint8)
        if self.weighted is not None and mask.any():
            weight = distance_weight(mask, *self.weighted)
        else:
            weight = np.ones((p.th, p.tw), np.float32)
        weight *= valid
        image = torch.from_numpy(np.ascontiguousarray(crop.transpose(2, 0, 1))).float().div_(255.0)
        return {
            "image": image,
            "mask": torch.from_numpy(mask.astype(np.float32))[None],
            "seg_weight": torch.from_numpy(weight)[None],
            "valid": torch.from_numpy(valid.astype(np.float32))[None],
            "is_segmented": torch.tensor(True),
            "label": torch.tensor(float(label), dtype=torch.float32),
            "index": i,
        }


def tile_plan_summary(planners: dict, epoch: int = 0) -> dict:
    """``{split: {"images", "tiles", "crack_tiles", "crack_free_tiles", "tile_height", "tile_width", "tile_scale",
    "weak_skipped"}}`` of ``epoch``'s plan, for the ``run_started`` event."""
    out = {}
    for split, p in planners.items():
        t = p.plan(epoch)
        crack = int(t[:, 3].sum()) if len(t) else 0
        out[split] = {"images": int(sum(g is not None for g in p.geometry)), "tiles": int(len(t)),
                      "crack_tiles": crack, "crack_free_tiles": int(len(t)) - crack,
                      "tile_height": p.th, "tile_width": p.tw, "tile_scale": p.scale,
                      "weak_skipped": int(sum(g is None for g in p.geometry))}
    return out
