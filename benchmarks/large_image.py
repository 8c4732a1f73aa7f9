"""Time and peak memory of sliding-window predict (trainer.training.sliding) on a 4000x3000 photo and a 20000x20000
mosaic.

Each case runs in its own subprocess, which reports its own peak resident memory (``ru_maxrss``: everything, torch
and the model included) and its resident memory just before predict starts (``before``: Python, torch, the model),
so ``peak - before`` is what predict itself added. It runs predict's own path for one image
(``trainer.training.predict.predict_file`` in tiles mode): windows 448x448, overlap 0.25, batch 4, fp32, the mask and
the probability map streamed to 8-bit PNGs through the checked atomic writer.

Cases:
  4000x3000 real     a JPEG photo (decoded once as uint8: OpenCV cannot read JPEG in strips), the real SegDecNet
                     ("upsampling", random weights): 108 windows
  20000x20000 cheap  a tiled, zlib-compressed TIFF written on disk tile by tile (never held in memory), read strip
                     by strip; a cheap stand-in network (1x1 conv 3->4, ReLU, 3x3 conv 4->1; max as the image
                     score) because the real network needs 3600 windows x about a second on 2 CPU cores (an hour)
  20000x20000 real   the same mosaic with the real SegDecNet on its first row of windows only (``--real-rows``, 60
                     windows per row): the memory of the real network on the widest strip, which is what bounds
                     the whole image (every strip has the same size)

The last line is ``predict 20000x20000 peak memory: N MB`` (the cheap-network case over the whole mosaic).

    .venv/bin/python benchmarks/large_image.py                # all three cases
    .venv/bin/python benchmarks/large_image.py --skip-real    # the cheap 20000x20000 case only (about a minute)
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WINDOW, OVERLAP, BATCH = (448, 448), 0.25, 4


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


_PERIOD = 1024
_TEXTURE = None


def _tile(y: int, x: int, th: int, tw: int) -> np.ndarray:
    """A tile of the synthetic mosaic: a textured gray (periodic, 1024 px) with dark hairline cracks, 2 px wide every
    997 rows and 3 px wide every 1499 columns. Tiles must not straddle a texture period (256-pixel tiles do not)."""
    global _TEXTURE
    if _TEXTURE is None:
        yy, xx = np.mgrid[0:_PERIOD, 0:_PERIOD]
        _TEXTURE = (150 + 20 * np.sin(yy * 2 * np.pi / 256) * np.cos(xx * 2 * np.pi / 512)).astype(np.uint8)
    ty, tx = y % _PERIOD, x % _PERIOD
    if ty + th <= _PERIOD and tx + tw <= _PERIOD:
        t = _TEXTURE[ty:ty + th, tx:tx + tw].copy()
    else:
        t = np.tile(_TEXTURE, (th // _PERIOD + 2, tw // _PERIOD + 2))[ty:ty + th, tx:tx + tw].copy()
    t[(np.arange(y, y + th) % 997) < 2, :] = 40
    t[:, (np.arange(x, x + tw) % 1499) < 3] = 40
    return np.repeat(t[..., None], 3, axis=2)


def make_mosaic(path: Path, h: int, w: int, tile: int = 256) -> None:
    import tifffile

    def tiles():
        for y in range(0, h, tile):
            for x in range(0, w, tile):
                yield _tile(y, x, tile, tile)
    tifffile.imwrite(path, tiles(), shape=(h, w, 3), dtype=np.uint8, tile=(tile, tile), photometric="rgb",
                     compression="zlib")


def make_photo(path: Path, h: int, w: int) -> None:
    import cv2
    cv2.imwrite(str(path), _tile(0, 0, h, w), [cv2.IMWRITE_JPEG_QUALITY, 95])


def run_case(args) -> None:
    """Child process: build the model, predict one image, print a JSON line with the figures."""
    import torch
    from torch import nn

    from trainer.training.device import set_cpu_threads
    from trainer.training.model import SegDecNet
    from trainer.training.predict import PredictSettings, predict_file
    from trainer.training.sliding import TorchPredictor, open_image_source

    class CheapNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Conv2d(3, 4, 1), nn.Conv2d(4, 1, 3, padding=1)

        def forward(self, x):
            seg = self.b(torch.relu(self.a(x)))
            return seg.amax(dim=(1, 2, 3)), seg

    set_cpu_threads()
    torch.manual_seed(0)
    model = SegDecNet(input_height=WINDOW[0], input_width=WINDOW[1]) if args.model == "real" else CheapNet()
    source = open_image_source(args.image)
    if args.rows:  # only the first `rows` rows of windows: a source cut to that height
        class Top:
            height, width, name = min(source.height, WINDOW[0] + (args.rows - 1) * 336), source.width, source.name
            read = staticmethod(source.read)
        source = Top()
    before = _rss_mb()
    t0, last = time.perf_counter(), [0.0]

    def progress(done, total):
        now = time.perf_counter()
        if now - last[0] > 15 or done == total:
            last[0] = now
            eta = (now - t0) / done * (total - done)
            print(f"  {done}/{total} windows, ETA {eta:.0f} s", file=sys.stderr, flush=True)

    settings = PredictSettings(mode="tiles", hw=WINDOW, seg_threshold=0.5, image_threshold=0.5, overlap=OVERLAP,
                               batch_size=BATCH)
    mask = args.out.with_name(args.out.stem + "_mask.png")
    res = predict_file(TorchPredictor(model.eval()), args.image, mask, args.out, settings, progress=progress,
                       source=source)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "windows": res["windows"], "peak_mb": peak, "before_mb": before,
                      "height": res["height"], "width": res["width"], "score": res["score"]}))


def child(image: Path, model: str, out: Path, rows: int = 0) -> dict:
    cmd = [sys.executable, __file__, "--case", "--image", str(image), "--model", model, "--out", str(out),
           "--rows", str(rows)]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    if proc.returncode:
        raise SystemExit(f"case {image.name} ({model}) failed with exit code {proc.returncode}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def report(what: str, r: dict) -> None:
    print(f"{what}: {r['seconds']:.1f} s, {r['windows']} windows ({r['windows'] / r['seconds']:.2f} windows/s), "
          f"map {r['width']}x{r['height']}, peak memory {r['peak_mb']:.0f} MB "
          f"(before predict {r['before_mb']:.0f} MB, predict added {r['peak_mb'] - r['before_mb']:.0f} MB)",
          flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--image", type=Path)
    ap.add_argument("--model", choices=("real", "cheap"), default="real")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--rows", type=int, default=0)
    ap.add_argument("--skip-real", action="store_true", help="only the cheap 20000x20000 case")
    ap.add_argument("--real-rows", type=int, default=1, help="rows of windows for the real network on the mosaic (0 = skip that case)")
    ap.add_argument("--photo-rows", type=int, default=0,
                    help="rows of windows for the real network on the photo (0 = all 9 rows, 108 windows; fewer on a slow machine)")
    ap.add_argument("--size", type=int, default=20000, help="mosaic side (pixels)")
    ap.add_argument("--mosaic", type=Path, help="reuse a mosaic TIFF written by an earlier run (else one is written)")
    args = ap.parse_args()
    if args.case:
        run_case(args)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        mosaic = args.mosaic or tmp / "mosaic.tif"
        if not mosaic.is_file():
            t = time.perf_counter()
            make_mosaic(mosaic, args.size, args.size)
            print(f"wrote a {args.size}x{args.size} tiled TIFF in {time.perf_counter() - t:.0f} s "
                  f"({mosaic.stat().st_size / 1e6:.0f} MB on disk)", flush=True)
        if not args.skip_real:
            make_photo(tmp / "photo.jpg", 3000, 4000)
            rows = f", first {args.photo_rows} row(s) of windows" if args.photo_rows else ""
            report(f"predict 4000x3000 (real SegDecNet, JPEG{rows})",
                   child(tmp / "photo.jpg", "real", tmp / "p1.png", rows=args.photo_rows))
            if args.real_rows:
                report(f"predict {args.size}x{args.size} (real SegDecNet, first {args.real_rows} row(s) of windows)",
                       child(mosaic, "real", tmp / "p2.png", rows=args.real_rows))
        r = child(mosaic, "cheap", tmp / "p3.png")
        report(f"predict {args.size}x{args.size} (cheap stand-in network, whole mosaic)", r)
        print(f"predict {args.size}x{args.size} peak memory: {r['peak_mb']:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
