"""Sizes checked before memory is allocated: images by their header, checkpoints by their metadata.

* :func:`check_image_megapixels` reads an image's width and height from its header
  (:mod:`trainer.datasets.imageheader`) and raises :class:`DataError` naming the file, its size, the memory a
  decode would take and the key that raises the limit (``max_megapixels``), before anything is decoded. A 3 MB PNG
  can decode to 32000x32000 (3 GB as colour).
* :func:`check_checkpoint_input_size` checks ``input_height`` / ``input_width`` from a checkpoint's metadata
  against the config's bounds (:func:`trainer.config.validate_config`) before a model is built: a checkpoint that
  claims 20000x20000 is refused with a message naming the file.
"""
from __future__ import annotations

import math
import os
from typing import Any, Mapping

from trainer.config import DEFAULTS, validate_config
from trainer.datasets.imageheader import image_size
from trainer.errors import CheckpointError, ConfigError, DataError
from trainer.schema import KEYS

MAX_MEGAPIXELS_KEY = "max_megapixels"
DEFAULT_MAX_MEGAPIXELS = KEYS[MAX_MEGAPIXELS_KEY].default     # 250 MP = 750 MB decoded as 8-bit colour
VIEWER_MAX_MEGAPIXELS = 1000.0
"""What the app's viewers (Dataset, Inspect, Annotate) open: a 20000x20000 mosaic (400 MP, 1.2 GB as RGB) and up to
1000 MP, just under OpenCV's own decode limit of 2**30 pixels. Training keeps the config's ``max_megapixels``."""

BACKGROUND_OPEN_MEGAPIXELS = 40.0
"""Images from this size up are opened by the app's viewers on a worker thread (decoding a 400 MP PNG takes seconds),
while the window stays responsive and says what it is opening."""


def opens_in_background(path) -> tuple[bool, float]:
    """``(True, megapixels)`` when the image at ``path`` is large enough to be opened on a worker thread (its header
    is read, nothing decoded); ``(False, megapixels or 0)`` otherwise or when the header cannot be read."""
    try:
        size = image_size(path)
    except OSError:
        return False, 0.0          # the synchronous open reports the file's problem
    if size is None:
        return False, 0.0
    mp = size[0] * size[1] / 1e6
    return mp >= BACKGROUND_OPEN_MEGAPIXELS, mp


def _gb(n: float) -> str:
    return f"{n / 1e9:.1f} GB"


def check_image_megapixels(path: str | os.PathLike, max_megapixels: float = DEFAULT_MAX_MEGAPIXELS
                           ) -> tuple[int, int] | None:
    """``(width, height)`` from the header (None when the header tells nothing); raises :class:`DataError` when the
    image is larger than ``max_megapixels``. Unreadable files are left to the decoder to report."""
    try:
        size = image_size(path)
    except OSError:
        return None
    if size is None:
        return None
    w, h = size
    mp = w * h / 1e6
    if mp > max_megapixels:
        need = math.ceil(mp)
        raise DataError(f"image is {w}x{h} ({mp:.0f} megapixels; decoding it takes about {_gb(w * h * 3)} of "
                        f"memory), over the limit of {max_megapixels:g} megapixels. Shrink the image, or set "
                        f"{MAX_MEGAPIXELS_KEY} = {need} if this machine has the memory", file=path)
    return size


def check_checkpoint_input_size(meta: Mapping[str, Any], file: str | os.PathLike,
                                cfg: Mapping[str, Any] | None = None) -> tuple[int, int]:
    """``(height, width)`` a checkpoint's model is built for, checked against the config bounds first.

    ``meta`` is the checkpoint's metadata; missing keys fall back to ``cfg`` (the run's config), then the defaults.
    Raises :class:`CheckpointError` naming the file when a size is not an integer or is out of bounds.
    """
    base = dict(DEFAULTS)
    base.update(cfg or {})
    out = []
    for key in ("input_height", "input_width"):
        raw = meta.get(key, base[key])
        if isinstance(raw, bool) or not isinstance(raw, (int, float)) or raw != int(raw):
            raise CheckpointError(f"the checkpoint's {key} = {raw!r} is not a whole number of pixels; it is damaged "
                                  "or not a crack-train checkpoint", file=file)
        out.append(int(raw))
    try:
        validate_config(dict(DEFAULTS, input_height=out[0], input_width=out[1]))
    except ConfigError as e:
        raise CheckpointError(f"the checkpoint claims a model input of {out[1]}x{out[0]} (WxH): {e}. It was not "
                              "loaded; use a checkpoint written by crack-train", file=file) from None
    return out[0], out[1]


# Training memory on CPU, measured with benchmarks/train_speed.py (peak RSS 0.9-1.1 GB at 448x448, batch 1, fp32):
# the process itself plus about 4 KB per input pixel per sample in a batch (activations, gradients, workspace).
BASE_TRAIN_BYTES = 500e6
TRAIN_BYTES_PER_PIXEL = 4096


def training_memory_bytes(cfg: Mapping[str, Any]) -> float:
    """The estimated peak memory of a CPU training run with ``cfg`` (bytes)."""
    return BASE_TRAIN_BYTES + TRAIN_BYTES_PER_PIXEL * cfg["input_height"] * cfg["input_width"] * cfg["batch_size"]


def available_memory_bytes() -> float | None:
    """MemAvailable of /proc/meminfo (None where it cannot be read)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def check_training_memory(cfg: Mapping[str, Any], available: float | None = None) -> None:
    """Refuse (ConfigError) a CPU training run whose estimated memory exceeds what this machine has available, with
    the batch size or input size that would fit."""
    available = available_memory_bytes() if available is None else available
    need = training_memory_bytes(cfg)
    if available is None or need <= available:
        return
    h, w, b = cfg["input_height"], cfg["input_width"], cfg["batch_size"]
    room = max(available - BASE_TRAIN_BYTES, 0.0) / TRAIN_BYTES_PER_PIXEL   # pixels x samples that fit
    fit_batch = int(room // (h * w))
    side = int(math.sqrt(room / b)) // 8 * 8
    ideas = []
    if fit_batch >= 1:
        ideas.append(f"batch_size = {fit_batch}")
    if side >= 64:
        ideas.append(f"input_height = input_width = {min(side, h, w)} (at batch_size {b})")
    fix = " or ".join(ideas) if ideas else "a machine with more memory"
    raise ConfigError(f"this run needs about {_gb(need)} of memory (input {w}x{h} (WxH), batch_size {b}) but this "
                      f"machine has {_gb(available)} available; it would be killed part-way. Use {fix}")
