"""crack-train predict: masks, probability maps and crack scores for new images, at the run's thresholds.

Runs trained on tiles predict at native resolution in sliding windows (``--native`` does it for resize runs too);
see :mod:`trainer.training.predict`. Under ``torchrun`` each rank predicts every ``world_size``-th file and rank 0
merges ``predictions.csv`` (:mod:`trainer.runs.predictions`). One bad image stops the command with its name unless
``--skip-bad`` is given, which skips and lists it. ``--measure`` measures the cracks of the masks afterwards.
Under torchrun on several machines ``--out`` must be a shared folder (rank 0 reads the other ranks' parts).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

from trainer.cli.progress import duration
from trainer.datasets.imageheader import image_size
from trainer.datasets.records import IMAGE_EXTS
from trainer.errors import CrackError, DataError
from trainer.measure.export import WidthAlarm
from trainer.measure.run import DEFAULT_ALARM_MM, measure_folder
from trainer.measure.scale import load_scale
from trainer.runs.predictions import mask_names, merge_parts, prob_name, shard, write_part, write_predictions
from trainer.runs.thresholds import run_thresholds

EXTS = set(IMAGE_EXTS) | {".tif", ".tiff", ".npy"}


def find_inputs(items: list[str]) -> list[Path]:
    """The image files named by ``items`` (files, or the images directly in a folder; ``*_GT`` masks left out)."""
    found: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            found.extend(sorted(q for q in p.iterdir() if q.is_file() and q.suffix.lower() in EXTS
                                and not q.stem.endswith("_GT")))
        elif p.is_file():
            found.append(p)
        else:
            raise DataError("no such image or folder", p)
    if not found:
        raise DataError("no images found (looked for " + ", ".join(sorted(EXTS)) + ")", items[0])
    return found


class ProgressLine:
    """``images i/n, tiles t/T, ETA`` on stderr: redrawn in place on a terminal, a line every few seconds otherwise.
    ``T`` is estimated up front from the image headers (one window per image in resize mode)."""

    def __init__(self, n_images: int, n_windows: int, stream=None, every_s: float = 5.0):
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.n_images, self.total = n_images, max(1, n_windows)
        self.images = self.base = self.windows = 0
        self.t0, self.last, self.every_s = time.perf_counter(), 0.0, every_s

    def tiles(self, done: int, total: int) -> None:
        self.windows = self.base + done
        self._draw(force=False)

    def image_done(self, windows: int) -> None:
        self.images += 1
        self.base += windows
        self.windows = self.base
        self._draw(force=self.images == self.n_images)

    def _draw(self, force: bool) -> None:
        now = time.perf_counter()
        if not force and now - self.last < (0.2 if self.tty else self.every_s):
            return
        self.last = now
        rate = self.windows / max(now - self.t0, 1e-9)
        eta = duration(max(0, self.total - self.windows) / rate) if rate > 0 else "?"
        text = f"images {self.images}/{self.n_images}, tiles {self.windows}/{self.total}, ETA {eta}"
        self.stream.write(f"\r\033[K{text}" if self.tty else text + "\n")
        if self.tty and force:
            self.stream.write("\n")
        self.stream.flush()


def _setup(args, dist):
    # crack-train answers --help and bad input without loading torch
    from trainer.training.predict import PredictSettings, load_run_model, make_predictor

    run_dir = Path(args.run)
    model, cfg, hw, device, precision, ckpt = load_run_model(run_dir, args.checkpoint, args.device,
                                                             dist.local_rank if dist.enabled else None)
    dist.init(device)
    thr = run_thresholds(run_dir)
    seg_thr = args.seg_threshold if args.seg_threshold is not None else thr["seg_threshold"]
    img_thr = args.image_threshold if args.image_threshold is not None else thr["image_threshold"]
    kw = {"batch_size": args.batch_size, "probs": not args.no_probs}
    if args.overlap is not None:
        kw["overlap"] = args.overlap
    if args.max_megapixels is not None:
        kw["max_megapixels"] = args.max_megapixels
    settings = PredictSettings.of_run(cfg, hw, seg_thr, img_thr, native=args.native,
                                      gated=args.gate or bool(thr.get("gated")), **kw)
    predictor = make_predictor(model, device, precision, args.backend, args.onnx)
    source = thr["source"] if args.seg_threshold is None else "--seg-threshold"
    how = (f"sliding {hw[0]}x{hw[1]} windows, overlap {settings.overlap:g}, scale {settings.scale:g}"
           if settings.mode == "tiles" else f"resized to {hw[0]}x{hw[1]}")
    note = (f"with {ckpt} on {args.backend} ({how}; seg threshold {seg_thr:.4f}, image threshold {img_thr:.4f}"
            f"{', gated' if settings.gated else ''}; from {source})")
    return predictor, settings, note


def _predict_share(predictor, settings, images, names, mine, out, skip_bad, progress):
    # crack-train answers --help and bad input without loading torch
    from trainer.training.predict import predict_file

    rows, skipped = [], []
    for i in mine:
        p, name = images[i], names[i]
        prob = prob_name(name) if settings.probs else ""
        try:
            row = predict_file(predictor, p, out / name, out / prob if prob else None, settings,
                               progress=progress.tiles)
        except DataError as e:   # a bad image (a full disk is a WriteError and always stops)
            if not skip_bad:
                raise
            skipped.append(e.message)
            print(f"skipped bad image {e.message}", file=sys.stderr)
            progress.image_done(settings.windows(None))
            continue
        rows.append((i, dict(image=str(p), mask=name, prob=prob, **row)))
        progress.image_done(row["windows"])
    return rows, skipped


def run(args) -> int:
    # crack-train answers --help and bad input without loading torch
    from trainer.training.distributed import Distributed

    dist = Distributed()
    try:
        return _run(args, dist)
    finally:
        dist.close()


def _run(args, dist) -> int:
    images = find_inputs(args.inputs)
    names = mask_names(images)   # of ALL inputs, on every rank: distinct across shards
    out = Path(args.out)
    predictor, settings, note = _setup(args, dist)
    mine = shard(len(images), dist.rank, dist.world_size)
    if dist.is_main:
        print(f"predicting {len(images)} image(s){f' on {dist.world_size} processes' if dist.enabled else ''} {note}",
              file=sys.stderr)
    sizes = []
    for i in mine:
        try:
            sizes.append(image_size(images[i]))
        except OSError:
            sizes.append(None)
    progress = ProgressLine(len(mine), sum(settings.windows(s) for s in sizes))
    failure = None
    rows, skipped = [], []
    try:
        rows, skipped = _predict_share(predictor, settings, images, names, mine, out, args.skip_bad, progress)
        if dist.enabled:
            write_part(out, dist.rank, rows)
    except CrackError as e:
        failure = e
    if dist.any_flag(failure is not None, getattr(predictor, "device", None) or _cpu()):
        if failure is None:
            raise DataError("another process of this torchrun failed (its message is above); nothing was merged")
        _raise(failure, args.skip_bad)
    dist.barrier()
    if not dist.is_main:
        return 0
    all_rows = merge_parts(out, dist.world_size) if dist.enabled else [r for _, r in rows]
    if not all_rows:
        raise DataError(f"all {len(images)} image(s) were bad; nothing was predicted", args.inputs[0])
    if not dist.enabled:
        write_predictions(out, all_rows)
    n_skipped = len(images) - len(all_rows)
    print(f"wrote {len(all_rows)} mask(s) and {out / 'predictions.csv'}"
          + (f"; skipped {n_skipped} bad image(s) listed above" if n_skipped else ""))
    if args.measure:
        _measure(out, args)
    return 0


def _cpu():
    # crack-train answers --help and bad input without loading torch
    import torch
    return torch.device("cpu")


def _raise(e: CrackError, skip_bad: bool):
    if isinstance(e, DataError) and not skip_bad:
        raise DataError(f"{e.message}. Use --skip-bad to skip bad images and list them") from None
    raise e


def _measure(out: Path, args) -> None:
    alarm = WidthAlarm(DEFAULT_ALARM_MM if args.alarm_mm is None else args.alarm_mm, args.alarm_px)
    summary = measure_folder(out, out, scale=load_scale(None, args.scale), alarm=alarm)
    print(f"measured {summary.n_cracks} crack(s) in {summary.n_images} image(s) ({summary.unit}): "
          + ", ".join(str(p) for p in summary.files.values()))
