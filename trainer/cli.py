"""`crack-train` (= `python -m trainer`): train, eval, predict, demo and report from a terminal, with no Qt."""
from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import time
from pathlib import Path

from trainer.errors import CrackError

EPILOG = "Config keys and the event format: see the README. Every command exits 1 with a one-line message on bad input."


class ProgressPrinter:
    """A one-line progress bar on stderr (a TTY), or a line per epoch otherwise."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._drawn = False

    def clear(self) -> None:
        if self.tty and self._drawn:
            self.stream.write("\r\033[K")
            self._drawn = False

    def __call__(self, rec: dict) -> None:
        if rec["event"] != "step" or not self.tty:
            return
        width = 28
        frac = rec["step"] / max(rec["steps"], 1)
        bar = "#" * int(frac * width) + "-" * (width - int(frac * width))
        eta = _duration(rec.get("eta_s") or 0)
        self.stream.write(f"\r\033[Kepoch {rec['epoch']}/{rec['epochs']} [{bar}] {rec['step']}/{rec['steps']} "
                          f"{rec.get('images_per_s', 0):.1f} img/s  ETA {eta}  loss {rec.get('loss', 0):.4f}")
        self.stream.flush()
        self._drawn = True


class _LogStream:
    """log.txt lines echoed to stderr without tearing the progress bar."""

    def __init__(self, progress: ProgressPrinter):
        self.progress = progress

    def write(self, s: str) -> None:
        self.progress.clear()
        sys.stderr.write(s)

    def flush(self) -> None:
        sys.stderr.flush()


def _duration(s: float) -> str:
    s = int(s)
    if s >= 3600:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"


# -----------------------------------------------------------------------------------------------------------------

def cmd_train(args) -> int:
    from trainer.config import load_config, parse_overrides
    from trainer.train import train

    if args.resume:
        cfg = parse_overrides(args.set) if args.set else None
    else:
        cfg = load_config(args.config, args.set, preset=args.preset)
    progress = ProgressPrinter()
    result = train(args.data, args.out, cfg, resume=args.resume, events_stdout=args.events,
                   log_stream=_LogStream(progress), listeners=[progress])
    progress.clear()
    if not args.events:
        _print_result(result)
    return 0


def _print_result(result: dict) -> None:
    run = Path(result["run_dir"])
    if result["status"] == "stopped":
        print(f"Stopped after {result['epochs_done']} completed epoch(s). Resume: crack-train train --resume "
              f"--data ... --out {run}")
        return
    print(f"Run folder: {run}")
    m = result.get("metrics") or {}
    if m:
        print(f"  test AUC {_fmt(m.get('auc'))}  AP {_fmt(m.get('ap'))}  F {_fmt(m.get('f_measure'))}  "
              f"FP {m.get('fp')}  FN {m.get('fn')}  Dice {_fmt(m.get('dice_mean'))} ± {_fmt(m.get('dice_std'))}")
    for name in ("README.md", "metrics.json", "results.csv", "checkpoints/best.pth"):
        if (run / name).exists():
            print(f"  {run / name}")


def _fmt(v) -> str:
    return "undefined" if v is None else f"{v:.4f}"


def _load_run_model(run: Path, checkpoint: str | None, device_name: str = "auto"):
    """The model of a run folder (best/final/last checkpoint or a path), its config and device/precision."""
    import torch

    from trainer.checkpoint import load_checkpoint
    from trainer.config import load_config
    from trainer.device import resolve_device, resolve_precision, set_cpu_threads
    from trainer.errors import ConfigError
    from trainer.model import SegDecNet

    if not run.is_dir():
        raise ConfigError("run folder not found", run)
    if checkpoint and Path(checkpoint).suffix == ".pth":
        ckpt_path = Path(checkpoint)
    else:
        order = [checkpoint] if checkpoint else ["best", "final", "last"]
        ckpt_path = None
        for name in order:
            p = run / "checkpoints" / f"{name}.pth"
            if p.is_file():
                ckpt_path = p
                break
        if ckpt_path is None:
            raise ConfigError(f"no checkpoint ({', '.join(o + '.pth' for o in order)}) in {run / 'checkpoints'}", run)
    state = load_checkpoint(ckpt_path)
    cfg = load_config(run / "config.toml") if (run / "config.toml").is_file() else dict(state.get("config", {}))
    meta = state.get("meta", {})
    from trainer.limits import check_checkpoint_input_size

    hw = check_checkpoint_input_size(meta, ckpt_path, cfg)    # before anything is allocated
    model = SegDecNet(architecture=meta.get("architecture", cfg["architecture"]),
                      decision_pooling=meta.get("decision_pooling", cfg["decision_pooling"]), in_channels=3,
                      input_height=hw[0], input_width=hw[1])
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as exc:
        from trainer.errors import CheckpointError

        raise CheckpointError(f"weights do not fit the model: {str(exc).splitlines()[0]}", ckpt_path) from None
    device = resolve_device(device_name if device_name != "auto" else cfg.get("device", "auto"))
    if device.type == "cpu":
        set_cpu_threads()
    precision = resolve_precision(cfg.get("precision", "auto"), device)
    model.to(device).eval()
    if precision == "bf16":
        model.to(memory_format=torch.channels_last)
    return model, cfg, hw, device, precision, ckpt_path


def _honest_thresholds(run: Path) -> dict | None:
    from trainer.train import _best_validation_row

    row = _best_validation_row(run)
    if row is None:
        return None
    return dict(image_threshold=row.get("threshold"), seg_threshold=row.get("seg_threshold"))


def _run_thresholds(run: Path) -> dict:
    """Thresholds to use with a run: thresholds.json (chosen in the GUI) > metrics.json > validation > 0.5."""
    out = {"seg_threshold": 0.5, "image_threshold": 0.5, "gated": False, "source": "default 0.5"}
    m = _read_json(run / "metrics.json")
    if m:
        h = m.get("honest") or {}
        seg = h.get("seg_threshold", m.get("seg_threshold"))
        img = h.get("image_threshold")
        if seg is not None:
            out["seg_threshold"] = seg
        if img is not None:
            out["image_threshold"] = img
        out["source"] = "metrics.json (chosen on validation)"
    t = _read_json(run / "thresholds.json")
    if t:
        for k in ("seg_threshold", "image_threshold", "gated"):
            if t.get(k) is not None:
                out[k] = t[k]
        out["source"] = "thresholds.json"
    return out


def _read_json(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        from trainer.errors import ConfigError

        raise ConfigError(f"not valid JSON: {exc}", path) from None


def cmd_eval(args) -> int:
    from trainer.data import CrackDataset, open_dataset, validate_records
    from trainer.evaluate import evaluate_split
    from trainer.events import EventLog

    run = Path(args.run)
    model, cfg, hw, device, precision, ckpt = _load_run_model(run, args.checkpoint, args.device)
    index = open_dataset(args.data, val_fraction=cfg["val_fraction"], seed=cfg["seed"], skip_bad=args.skip_bad)
    records = index.split(args.split)
    rule = cfg.get("mask_rule", "threshold")
    records, bad = validate_records(records, skip_bad=args.skip_bad, mask_rule=rule,
                                    max_megapixels=cfg.get("max_megapixels", 250.0))
    for f, r in bad:
        print(f"skipped bad sample {f}: {r}", file=sys.stderr)
    ds = CrackDataset(records, hw, dilate=cfg["dilate"], seed=cfg["seed"], train=False, mask_rule=rule)
    out = Path(args.out) if args.out else run / "evals" / args.split
    thr = _run_thresholds(run)
    seg_thr = args.seg_threshold if args.seg_threshold is not None else thr["seg_threshold"]
    m_run = _read_json(run / "metrics.json") or {}
    if args.seg_threshold is None and m_run.get("seg_threshold") is not None:
        seg_thr = m_run["seg_threshold"]
    honest = _honest_thresholds(run)
    if args.image_threshold is not None:
        honest = dict(honest or {}, image_threshold=args.image_threshold)
        honest.setdefault("seg_threshold", seg_thr)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    print(f"evaluating {len(ds)} samples of split '{args.split}' from {args.data} with {ckpt} on {device} ({precision})",
          file=sys.stderr)
    events = EventLog(None, enabled=False)
    metrics = evaluate_split(model, ds, out, seg_threshold=float(seg_thr), device=device, precision=precision,
                             channels_last=precision == "bf16", write_maps=True, events=events,
                             dice_threshold_factor=cfg["dice_threshold_factor"], honest=honest, split=args.split,
                             checkpoint=str(ckpt))
    (out / "source.json").write_text(json.dumps({"run": str(run.resolve()), "data": str(Path(args.data).resolve()),
                                                 "split": args.split, "checkpoint": str(ckpt)}, indent=2))
    if not args.no_report:
        from trainer.report import write_run_report

        try:
            write_run_report(out, run_dir=run)
        except Exception as exc:
            print(f"report not written: {exc}", file=sys.stderr)
    from trainer.train import _eval_line

    print(_eval_line(run.name, metrics).replace("EVAL on TEST", f"EVAL on {args.split.upper()}"))
    print(f"Evaluation folder: {out} ({time.time() - t0:.1f} s)")
    return 0


IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}


def cmd_predict(args) -> int:
    import cv2
    import numpy as np
    import torch

    from trainer.data import read_image
    from trainer.device import autocast
    from trainer.diskfull import atomic_write_checked, write_png_checked
    from trainer.errors import DataError
    from trainer.predict_names import mask_names

    run = Path(args.run)
    model, cfg, hw, device, precision, ckpt = _load_run_model(run, args.checkpoint, args.device)
    thr = _run_thresholds(run)
    seg_thr = args.seg_threshold if args.seg_threshold is not None else thr["seg_threshold"]
    img_thr = args.image_threshold if args.image_threshold is not None else thr["image_threshold"]
    gated = args.gate or bool(thr.get("gated"))
    paths: list[Path] = []
    for item in args.inputs:
        p = Path(item)
        if p.is_dir():
            paths.extend(sorted(q for q in p.iterdir() if q.suffix.lower() in IMAGE_EXTS and not q.stem.endswith("_GT")))
        elif p.is_file():
            paths.append(p)
        else:
            raise DataError("no such image or folder", p)
    if not paths:
        raise DataError("no images found (looked for " + ", ".join(sorted(IMAGE_EXTS)) + ")", args.inputs[0])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"predicting {len(paths)} image(s) with {ckpt} (seg threshold {seg_thr:.4f}, image threshold {img_thr:.4f}"
          f"{', gated' if gated else ''}; from {thr['source'] if args.seg_threshold is None else '--seg-threshold'})",
          file=sys.stderr)
    rows, skipped = [], []
    max_mp = cfg.get("max_megapixels", 250.0)
    with torch.inference_mode():
        for p, out_name in zip(paths, mask_names(paths)):
            try:
                img = read_image(p, max_megapixels=max_mp)
            except DataError as e:
                if not args.skip_bad:
                    raise DataError(f"{e.message}. Use --skip-bad to skip bad images and list them") from None
                skipped.append(e.message)
                print(f"skipped bad image {e.message}", file=sys.stderr)
                continue
            h0, w0 = img.shape[:2]
            x = cv2.resize(img, (hw[1], hw[0]), interpolation=cv2.INTER_AREA)
            t = torch.from_numpy(x).permute(2, 0, 1).float().div(255).unsqueeze(0).to(device)
            if precision == "bf16":
                t = t.contiguous(memory_format=torch.channels_last)
            with autocast(device, precision):
                cls_logit, seg_logits = model(t)
            score = float(torch.sigmoid(cls_logit.float()).view(-1)[0])
            prob = torch.sigmoid(seg_logits.float())[0, 0].cpu().numpy()
            prob = cv2.resize(prob, (w0, h0), interpolation=cv2.INTER_LINEAR)
            decision = int(score >= img_thr)
            mask = (prob >= seg_thr).astype(np.uint8) * 255
            if gated and not decision:
                mask[:] = 0
            write_png_checked(out / out_name, mask)       # checked and atomic: a failure names the file
            rows.append(dict(image=str(p), mask=out_name, score=f"{score:.6f}", decision=decision,
                             crack_pixels=int((mask > 0).sum())))
    if not rows:
        raise DataError(f"all {len(paths)} image(s) were bad; nothing was predicted", args.inputs[0])
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0].keys()))
    w.writeheader()
    w.writerows(rows)
    atomic_write_checked(out / "predictions.csv", buf.getvalue().encode("utf-8"))
    print(f"wrote {len(rows)} mask(s) and {out / 'predictions.csv'}"
          + (f"; skipped {len(skipped)} bad image(s) listed above" if skipped else ""))
    return 0


def cmd_demo(args) -> int:
    from trainer.config import load_config
    from trainer.synthetic import make_synthetic_dataset
    from trainer.train import train

    out = Path(args.out)
    data = out / "dataset"
    t0 = time.time()
    if not (data / "manifest.csv").is_file():
        print(f"generating the synthetic crack dataset in {data} ...", file=sys.stderr)
        make_synthetic_dataset(data, n_train_pos=96, n_train_neg=48, n_val_pos=24, n_val_neg=12, n_test_pos=24,
                               n_test_neg=12, size=(160, 160), seed=7)
    print(f"dataset ready in {time.time() - t0:.1f} s: {data}", file=sys.stderr)
    if args.data_only:
        print(data)
        return 0
    run = out / "run"
    cfg = load_config(None, args.set, preset="quick")
    resume = (run / "checkpoints" / "last.pth").is_file()
    progress = ProgressPrinter()
    result = train(data, run, cfg if not resume else None, resume=resume, events_stdout=args.events,
                   log_stream=_LogStream(progress), listeners=[progress])
    progress.clear()
    _print_result(result)
    print(f"Demo finished in {_duration(time.time() - t0)}. Open it in the app: crackviewer (Runs tab), or read "
          f"{run / 'README.md'}")
    return 0


def cmd_report(args) -> int:
    from trainer.report import write_comparison, write_run_report

    runs = [Path(r) for r in args.runs]
    for r in runs:
        if not r.is_dir():
            from trainer.errors import ConfigError

            raise ConfigError("run folder not found", r)
    if len(runs) == 1:
        write_run_report(runs[0])
        target = Path(args.out) if args.out else runs[0] / "README.md"
        if args.out:
            target.write_text((runs[0] / "README.md").read_text(encoding="utf-8"), encoding="utf-8")
        print(f"report: {target}")
        return 0
    out = Path(args.out or "comparison.md")
    write_comparison(runs, out)
    print(f"comparison report: {out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="crack-train", description="Train and evaluate SegDecNet crack segmentation.",
                                 epilog=EPILOG)
    sub = ap.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a run (or resume one)")
    t.add_argument("--data", required=True, help="dataset folder (manifest, khanhha, reference or KSDD2 layout)")
    t.add_argument("--out", required=True, help="run folder to create (or to resume with --resume)")
    t.add_argument("--config", help="TOML config file (flat keys; see the README)")
    t.add_argument("--preset", choices=["published", "quick"], help="start from a preset (default: published)")
    t.add_argument("--set", action="append", metavar="KEY=VALUE", help="override one config key (repeatable)")
    t.add_argument("--resume", action="store_true", help="continue the run in --out from its last completed epoch")
    t.add_argument("--events", action="store_true", help="also print every event to stdout as one JSON line")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("eval", help="evaluate a run's model on any dataset split")
    e.add_argument("--run", required=True)
    e.add_argument("--data", required=True)
    e.add_argument("--split", default="test", help="split name (a manifest without a split column is one split)")
    e.add_argument("--out", help="evaluation folder (default RUN/evals/SPLIT)")
    e.add_argument("--checkpoint", help="best, final, last or a .pth path (default: best, else final, else last)")
    e.add_argument("--seg-threshold", type=float, help="segmentation threshold (default: the run's validation choice)")
    e.add_argument("--image-threshold", type=float, help="classification threshold for the honest operating point")
    e.add_argument("--device", default="auto")
    e.add_argument("--skip-bad", action="store_true", help="skip bad samples and list them")
    e.add_argument("--no-report", action="store_true", help="write data only, no README/figures")
    e.set_defaults(func=cmd_eval)

    p = sub.add_parser("predict", help="binary masks and scores for new images")
    p.add_argument("--run", required=True)
    p.add_argument("inputs", nargs="+", metavar="IMAGE_OR_DIR")
    p.add_argument("--out", required=True)
    p.add_argument("--checkpoint")
    p.add_argument("--seg-threshold", type=float)
    p.add_argument("--image-threshold", type=float)
    p.add_argument("--gate", action="store_true", help="blank the mask of images classified crack-free")
    p.add_argument("--skip-bad", action="store_true", help="skip unreadable or too large images and list them")
    p.add_argument("--device", default="auto")
    p.set_defaults(func=cmd_predict)

    d = sub.add_parser("demo", help="generate a synthetic dataset and train the quick preset on it (no download)")
    d.add_argument("--out", default="demo_out")
    d.add_argument("--data-only", action="store_true", help="only write the demo dataset (to OUT/dataset)")
    d.add_argument("--set", action="append", metavar="KEY=VALUE")
    d.add_argument("--events", action="store_true")
    d.set_defaults(func=cmd_demo)

    r = sub.add_parser("report", help="(re)write a run's report, or compare runs side by side")
    r.add_argument("runs", nargs="+", metavar="RUN")
    r.add_argument("--out", help="output .md (comparison default: comparison.md)")
    r.set_defaults(func=cmd_report)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CrackError as exc:
        print(f"crack-train: error: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("crack-train: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # keep tracebacks out of the user's face; the run's log.txt has them
        print(f"crack-train: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        if "--debug" in sys.argv or __import__("os").environ.get("CRACK_TRAIN_DEBUG"):
            raise
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
