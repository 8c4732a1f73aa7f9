"""The training loop: SegDecNet with mixed supervision, as the published run trained it (reference-model.md §2).

One code path for the CLI, the GUI's worker process and torchrun (DDP). The run folder is the single source of truth:
config.toml, events.jsonl, log.txt, losses.csv, validation.csv, checkpoints/, and after training the test
evaluation and the report.
"""
from __future__ import annotations

import csv
import math
import os
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from trainer import config as config_mod
from trainer.checkpoint import load_checkpoint, save_checkpoint
from trainer.device import autocast, resolve_device, resolve_precision, set_cpu_threads
from trainer.errors import CheckpointError, ConfigError, CrackError, DataError
from trainer.events import EventLog

LOSS_COLUMNS = ["epoch", "loss_seg", "loss_dec", "loss", "correct", "total", "lambda_seg", "lambda_dec", "seconds"]
VALIDATION_COLUMNS = ["epoch", "auc", "ap", "ap_sklearn", "threshold", "f_measure", "tp", "fp", "fn", "tn",
                      "seg_threshold", "dice_mean", "dice_std", "iou_mean", "iou_std",
                      "val_loss_seg", "val_loss_dec", "val_loss", "is_best"]


class StopRequested(Exception):
    pass


# ---------------------------------------------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------------------------------------------

def loss_weights(epoch: int, epochs: int, dyn_balanced: bool, delta: float) -> tuple[float, float]:
    """(weight of L_seg, weight of L_cls) at 0-based `epoch`: λ = epoch/epochs (reference-model.md §2.3)."""
    if not dyn_balanced:
        return 1.0, delta
    lam = epoch / epochs
    return 1.0 - lam, delta * lam


def combine_losses(seg_l: torch.Tensor, dec_l: torch.Tensor, is_segmented: torch.Tensor, w_seg: float,
                   w_dec: float) -> torch.Tensor:
    """Per-sample total loss. Mixed supervision: a weakly labelled positive (is_segmented 0) gets only w_dec·L_cls."""
    return w_seg * seg_l * is_segmented + w_dec * dec_l


def downsize_to_eighth(x: torch.Tensor) -> torch.Tensor:
    """The upstream 1/8 soft targets: reflection-pad by 8, average-pool with kernel 17 and stride 8."""
    return F.avg_pool2d(F.pad(x, (8, 8, 8, 8), mode="reflect"), kernel_size=17, stride=8)


def sample_losses(cls_logit: torch.Tensor, seg_logits: torch.Tensor, batch: dict, original: bool):
    """Per-sample (seg loss [B], dec loss [B]) in fp32: BCE means over pixels and the image label."""
    mask = batch["mask"]
    weight = batch["seg_weight"]
    if original:
        mask = downsize_to_eighth(mask)
        weight = downsize_to_eighth(weight)
    seg = F.binary_cross_entropy_with_logits(seg_logits.float(), mask, reduction="none")
    seg = (seg * weight).flatten(1).mean(1)
    dec = F.binary_cross_entropy_with_logits(cls_logit.float().view(-1), batch["label"].view(-1), reduction="none")
    return seg, dec


def _append_csv(path: Path, columns: list[str], row: dict) -> None:
    new = not path.exists()
    with open(path, "a", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        if new:
            w.writeheader()
        w.writerow({k: _fmt(row.get(k)) for k in columns})


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.6g}"
    if v is None:
        return ""
    return v


def _truncate_csv(path: Path, max_epoch: int) -> list[dict]:
    """Keep the rows of epochs <= max_epoch (on resume, rows of an interrupted epoch are dropped)."""
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    keep = [r for r in rows if r.get("epoch") and int(r["epoch"]) <= max_epoch]
    if len(keep) != len(rows) and rows:
        with open(path, "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0].keys()))
            w.writeheader()
            w.writerows(keep)
    return keep


def _is_oom(exc: BaseException) -> bool:
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    text = str(exc).lower()
    return isinstance(exc, (RuntimeError, MemoryError)) and (
        "out of memory" in text or "can't allocate memory" in text or isinstance(exc, MemoryError))


class _Dist:
    """torchrun / DDP context (a no-op in a single process)."""

    def __init__(self):
        self.world_size = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.enabled = self.world_size > 1
        self._initialised_here = False

    def init(self, device: torch.device) -> None:
        if not self.enabled:
            return
        import torch.distributed as dist

        if not dist.is_initialized():
            backend = "nccl" if device.type == "cuda" else "gloo"
            dist.init_process_group(backend=backend)
            self._initialised_here = True

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            import torch.distributed as dist

            dist.barrier()

    def all_sum(self, values: list[float], device: torch.device) -> list[float]:
        if not self.enabled:
            return values
        import torch.distributed as dist

        t = torch.tensor(values, dtype=torch.float64, device=device)
        dist.all_reduce(t)
        return t.tolist()

    def any_flag(self, flag: bool, device: torch.device) -> bool:
        if not self.enabled:
            return flag
        return self.all_sum([1.0 if flag else 0.0], device)[0] > 0

    def close(self) -> None:
        if self.enabled and self._initialised_here:
            import torch.distributed as dist

            dist.destroy_process_group()


# ---------------------------------------------------------------------------------------------------------------
# the public entry point
# ---------------------------------------------------------------------------------------------------------------

def train(data_path: str | Path, out_dir: str | Path, config: dict[str, Any] | None = None, resume: bool = False,
          events_stdout: bool = False, log_stream=None, listeners: list[Callable] | None = None) -> dict:
    """Train (or resume) a run in `out_dir`. Returns {"status", "run_dir", "epochs_done", "metrics"}.

    Raises CrackError subclasses with user-facing messages (after emitting an `error` event).
    """
    out_dir = Path(out_dir)
    first_rank = os.environ.get("RANK", "0") == "0"  # other ranks could see the files rank 0 just created
    if first_rank and not resume and (_has_started(out_dir) or (out_dir / "checkpoints" / "last.pth").is_file()):
        # Checked before anything is written, so the existing run's files stay untouched.
        raise ConfigError("this run folder already holds a run: add --resume to continue it, or choose another --out",
                          out_dir)
    if first_rank and resume:
        _check_resume(out_dir, config)       # before anything is written: a refused resume leaves the run as it was
    dist_ctx = _Dist()
    main = dist_ctx.is_main
    events = EventLog(out_dir if main else None, to_stdout=events_stdout and main, enabled=main,
                      log_stream=log_stream if main else None)
    for listener in listeners or []:
        events.listeners.append(listener)
    old_handlers = _install_stop_handlers()
    try:
        return _train(Path(data_path), out_dir, config, resume, events, dist_ctx)
    except StopRequested:  # pragma: no cover - handled inside
        raise
    except CrackError as exc:
        events.log(f"ERROR: {exc.message}", level="error", event=False, echo=False)  # the CLI prints it once
        events.emit("error", kind=exc.kind, message=exc.message, file=exc.file)
        raise
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            events.emit("finished", status="stopped", epochs_done=None, seconds=None)
            raise
        cfg = config or {}
        if _is_oom(exc):
            msg = (f"out of memory while training ({type(exc).__name__}). Reduce batch_size (now "
                   f"{cfg.get('batch_size')}) or input_height/input_width (now {cfg.get('input_height')}x"
                   f"{cfg.get('input_width')}), or use precision=bf16; then resume with --resume "
                   "(the last completed epoch's checkpoint is intact).")
            kind = "oom"
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        else:
            msg = f"training failed: {type(exc).__name__}: {exc}. The log has the traceback; resume with --resume."
            kind = "internal"
        events.log(traceback.format_exc(), level="error", event=False, echo=False)
        events.emit("error", kind=kind, message=msg)
        raise
    finally:
        _restore_stop_handlers(old_handlers)
        events.close()
        dist_ctx.close()


RESUMABLE_KEYS = ("device", "precision", "num_workers", "epochs")   # the keys --set may change on resume


def _check_resume(out_dir: Path, config: dict[str, Any] | None) -> None:
    """Refuse a resume with nothing to resume from, or with --set keys a resume cannot change (named, with the fix)."""
    last = out_dir / "checkpoints" / "last.pth"
    cfg_path = out_dir / "config.toml"
    if not cfg_path.is_file():
        raise ConfigError("cannot resume: no config.toml in the run folder (was a run started here?)", out_dir)
    if not last.is_file():
        raise ConfigError(f"cannot resume: there is no checkpoint to resume from ({last} is missing: the run stopped "
                          "before its first epoch ended, or its checkpoints were deleted). Nothing was changed; start "
                          f"it again in a new folder with --config {cfg_path}", out_dir)
    if not config:
        return
    saved = config_mod.load_config(cfg_path)
    changed = {k: (saved[k], v) for k, v in config.items() if k in saved and v != saved[k]}
    refused = {k: ab for k, ab in changed.items() if k not in RESUMABLE_KEYS}
    if refused:
        applied = [k for k in changed if k in RESUMABLE_KEYS]
        raise ConfigError("cannot change on resume: " + ", ".join(f"{k} ({a} -> {b})" for k, (a, b) in refused.items())
                          + f". A resumed run keeps its config; only {', '.join(RESUMABLE_KEYS)} can change"
                          + (f" (would apply: {', '.join(applied)})" if applied else "")
                          + ". Drop those --set keys, or start a new run with them", cfg_path)


def _has_started(out_dir: Path) -> bool:
    """A run started here (a failed attempt that never got to `run_started`, e.g. a wrong --data, does not count)."""
    path = out_dir / "events.jsonl"
    if not path.is_file():
        return False
    with open(path, encoding="utf-8", errors="replace") as fh:
        return any('"event": "run_started"' in line for line in fh)


_STOP = {"flag": False}


def request_stop() -> None:
    """Ask a running train() in this process to stop between steps (used by tests and signal handlers)."""
    _STOP["flag"] = True


def _install_stop_handlers():
    _STOP["flag"] = False
    saved = {}
    if threading_main():
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                saved[sig] = signal.signal(sig, lambda *_: request_stop())
            except (ValueError, OSError):
                pass
    return saved


def _restore_stop_handlers(saved) -> None:
    for sig, handler in saved.items():
        try:
            signal.signal(sig, handler)
        except (ValueError, OSError):
            pass


def threading_main() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _train(data_path: Path, out_dir: Path, config: dict | None, resume: bool, events: EventLog, dist_ctx: _Dist) -> dict:
    from trainer.data import CrackDataset, open_dataset, validate_records
    from trainer.evaluate import compute_validation, evaluate_split
    from trainer.model import SegDecNet, count_parameters

    t_run = time.time()
    ckpt_dir = out_dir / "checkpoints"
    last_path = ckpt_dir / "last.pth"
    stop_file = out_dir / "STOP"

    # -- configuration and resume state ----------------------------------------------------------------------
    state = None
    if resume:
        if not (out_dir / "config.toml").is_file():
            raise ConfigError("cannot resume: no config.toml in the run folder (was a run started here?)", out_dir)
        saved_cfg = config_mod.load_config(out_dir / "config.toml")
        if config:
            changed = {k: (saved_cfg[k], config[k]) for k in config if k in saved_cfg and config[k] != saved_cfg[k]
                       and k in RESUMABLE_KEYS}
            saved_cfg.update({k: v for k, (_, v) in changed.items()})
            if changed:
                events.log("resume: applying changed " + ", ".join(f"{k}: {a} -> {b}" for k, (a, b) in changed.items()),
                           level="warning")
        cfg = config_mod.validate_config(saved_cfg)
        if last_path.is_file():
            state = load_checkpoint(last_path)
    else:
        cfg = config_mod.validate_config(dict(config or config_mod.DEFAULTS))
    if dist_ctx.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        config_mod.save_config(cfg, out_dir / "config.toml")
        if stop_file.exists():
            stop_file.unlink()

    # -- device -------------------------------------------------------------------------------------------------
    device = resolve_device(cfg["device"], dist_ctx.local_rank if dist_ctx.enabled else None)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    else:
        set_cpu_threads()
    dist_ctx.init(device)
    precision = resolve_precision(cfg["precision"], device)
    channels_last = precision == "bf16"
    world = dist_ctx.world_size
    if cfg["batch_size"] % world:
        raise ConfigError(f"batch_size = {cfg['batch_size']} is the global batch and must be divisible by the "
                          f"{world} processes")
    per_rank_batch = cfg["batch_size"] // world

    # -- data ----------------------------------------------------------------------------------------------------
    index = open_dataset(data_path, val_fraction=cfg["val_fraction"], seed=cfg["seed"],
                         skip_bad=cfg["skip_bad_samples"])
    for w in getattr(index, "warnings", []) or []:
        events.log(f"warning: {w}", level="warning")
    train_records = index.split("train")
    val_split = "test" if cfg["validate_on_test"] else "val"
    val_records = index.split(val_split) if cfg["validate"] else []
    test_records = index.split("test")
    bad_all = list(getattr(index, "bad", []) or [])
    checked = {}
    for name, recs in (("train", train_records), (val_split, val_records), ("test", test_records)):
        if name in checked or not recs:
            continue
        mask_warnings: list[str] = []
        good, bad = validate_records(recs, skip_bad=cfg["skip_bad_samples"], warnings=mask_warnings,
                                     mask_rule=cfg["mask_rule"], max_megapixels=cfg["max_megapixels"])
        for w in mask_warnings:
            events.log(f"warning: {w}", level="warning")
        checked[name] = good
        bad_all.extend(bad)
    train_records = checked.get("train", train_records)
    val_records = checked.get(val_split, val_records) if cfg["validate"] else []
    test_records = checked.get("test", test_records)
    for file, reason in bad_all:
        events.log(f"skipped bad sample {file}: {reason}", level="warning")
    if not train_records:
        raise DataError("the train split is empty (after skipping bad samples)", data_path)
    hw = (cfg["input_height"], cfg["input_width"])
    weighted = (cfg["weighted_seg_loss_p"], cfg["weighted_seg_loss_max"]) if cfg["weighted_seg_loss"] else None
    rule = cfg["mask_rule"]
    train_ds = CrackDataset(train_records, hw, dilate=cfg["dilate"], num_segmented=cfg["num_segmented"],
                            seed=cfg["seed"], weighted=weighted, train=True, mask_rule=rule)
    val_ds = (CrackDataset(val_records, hw, dilate=cfg["dilate"], seed=cfg["seed"], train=False, mask_rule=rule)
              if val_records else None)
    test_ds = (CrackDataset(test_records, hw, dilate=cfg["dilate"], seed=cfg["seed"], train=False, mask_rule=rule)
               if test_records else None)
    counts = index.counts()
    counts["train"]["segmented_used"] = int(np.sum(train_ds.is_segmented & (train_ds.labels == 1)))
    counts["train"]["weak_used"] = int(np.sum(~train_ds.is_segmented & (train_ds.labels == 1)))
    for name, split_counts in counts.items():
        if split_counts.get("positives", 0) == 0 or split_counts.get("negatives", 0) == 0:
            which = "positives" if split_counts.get("negatives", 0) == 0 else "negatives"
            events.log(f"warning: the {name} split has only {which}; image-level metrics on it are undefined",
                       level="warning")

    # -- model, optimiser, sampler ---------------------------------------------------------------------------
    torch.manual_seed(cfg["seed"])
    model = SegDecNet(architecture=cfg["architecture"], decision_pooling=cfg["decision_pooling"], in_channels=3,
                      input_height=hw[0], input_width=hw[1])
    model.set_gradient_multiplier(0.0 if cfg["gradient_adjustment"] else 1.0)
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg["learning_rate"])
    from trainer.sampler import FrequencySampler

    sampler = FrequencySampler(train_ds.labels, cfg["frequency_sampling"], seed=cfg["seed"], rank=dist_ctx.rank,
                               world_size=world)
    start_epoch = 0
    best_ap, best_epoch = -1.0, 0
    if state is not None:
        try:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            sampler.load_state_dict(state["sampler"])
        except (KeyError, RuntimeError, ValueError) as exc:
            raise CheckpointError(f"does not match this run's model or data: {str(exc).splitlines()[0]}",
                                  last_path) from None
        torch.set_rng_state(state["rng_cpu"])
        if device.type == "cuda" and "rng_cuda" in state:
            torch.cuda.set_rng_state(state["rng_cuda"], device)
        start_epoch = int(state["epoch"])
        best_ap, best_epoch = float(state.get("best_ap", -1.0)), int(state.get("best_epoch", 0))
    if dist_ctx.is_main:
        _truncate_csv(out_dir / "losses.csv", start_epoch)
        _truncate_csv(out_dir / "validation.csv", start_epoch)
    train_model = model
    if dist_ctx.enabled:
        from torch.nn.parallel import DistributedDataParallel as DDP

        train_model = DDP(model, device_ids=[device.index] if device.type == "cuda" else None)

    pin = device.type == "cuda"
    n_epoch_samples = len(sampler)
    loader = DataLoader(train_ds, batch_size=per_rank_batch, sampler=sampler, num_workers=cfg["num_workers"],
                        drop_last=n_epoch_samples >= per_rank_batch, pin_memory=pin,
                        persistent_workers=cfg["num_workers"] > 0)
    steps_per_epoch = len(loader)
    epochs = cfg["epochs"]
    params = count_parameters(model)
    events.emit("run_started", config=cfg, data=str(Path(data_path).resolve()), device=str(device),
                precision=precision, channels_last=channels_last, counts=counts, layout=index.layout,
                resumed_from_epoch=start_epoch, world_size=world, pid=os.getpid(), parameters=params,
                bad_samples=[{"file": f, "reason": r} for f, r in bad_all])
    events.log(f"{'resuming' if start_epoch else 'starting'} run {out_dir.name}: {cfg['architecture']} "
               f"({params:,} parameters) on {device} with {precision}"
               f"{' + channels_last' if channels_last else ''}, {world} process(es); "
               f"train {len(train_ds)} samples, {steps_per_epoch} steps/epoch", event=False)
    if start_epoch >= epochs and state is not None and state.get("finished"):
        events.log("the run had already finished; nothing to resume", event=True)

    # -- the epochs -------------------------------------------------------------------------------------------
    original = cfg["architecture"] == "original"
    accum = cfg["grad_accumulation"]
    last_val: dict | None = None
    best_val: dict | None = _best_validation_row(out_dir) if start_epoch else None
    last_val = _last_validation_row(out_dir) if start_epoch else None
    step_times: list[float] = []
    stopped = False
    epoch = start_epoch
    for epoch in range(start_epoch, epochs):
        sampler.set_epoch(epoch)
        w_seg, w_dec = loss_weights(epoch, epochs, cfg["dyn_balanced_loss"], cfg["delta_cls_loss"])
        train_model.train()
        sums = np.zeros(6)  # seg_sum, n_seg, dec_sum, total_sum, correct, n
        t_epoch = time.time()
        t_last_event = 0.0
        optimizer.zero_grad(set_to_none=True)
        for step, batch in enumerate(loader, start=1):
            if dist_ctx.any_flag(_STOP["flag"] or stop_file.exists(), device):
                stopped = True
                break
            t_step = time.time()
            batch = {k: (v.to(device, non_blocking=pin) if isinstance(v, torch.Tensor) else v) for k, v in batch.items()}
            x = batch["image"]
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with autocast(device, precision):
                cls_logit, seg_logits = train_model(x)
            seg_l, dec_l = sample_losses(cls_logit, seg_logits, batch, original)
            is_seg = batch["is_segmented"].to(seg_l.dtype).view(-1)
            total = combine_losses(seg_l, dec_l, is_seg, w_seg, w_dec)
            # Sum of per-sample losses (the reference accumulated batch-1 gradients); DDP averages over ranks,
            # so scale by the world size to keep the global-batch gradient identical to one process.
            (total.sum() * world / accum).backward()
            if step % accum == 0 or step == steps_per_epoch:
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
            with torch.no_grad():
                correct = ((cls_logit.detach().float().view(-1) > 0).float() == batch["label"].view(-1)).sum().item()
                sums += [float((seg_l * is_seg).sum()), float(is_seg.sum()), float(dec_l.sum()),
                         float(total.sum()), correct, len(dec_l)]
            step_times.append(time.time() - t_step)
            now = time.time()
            if dist_ctx.is_main and (now - t_last_event > 0.5 or step == steps_per_epoch or step == 1):
                t_last_event = now
                per_step = (now - t_epoch) / step
                remaining = (steps_per_epoch - step) + (epochs - epoch - 1) * steps_per_epoch
                events.emit("step", epoch=epoch + 1, epochs=epochs, step=step, steps=steps_per_epoch,
                            loss_seg=sums[0] / max(sums[1], 1), loss_dec=sums[2] / max(sums[5], 1),
                            loss=sums[3] / max(sums[5], 1),
                            images_per_s=(sums[5] * world) / max(now - t_epoch, 1e-9),
                            eta_s=remaining * per_step)
        if stopped:
            break
        tot = dist_ctx.all_sum(sums.tolist(), device)
        seconds = time.time() - t_epoch
        row = dict(epoch=epoch + 1, loss_seg=tot[0] / max(tot[1], 1), loss_dec=tot[2] / max(tot[5], 1),
                   loss=tot[3] / max(tot[5], 1), correct=int(tot[4]), total=int(tot[5]), lambda_seg=w_seg,
                   lambda_dec=w_dec, seconds=round(seconds, 3))
        if dist_ctx.is_main:
            _append_csv(out_dir / "losses.csv", LOSS_COLUMNS, row)
            events.emit("epoch", epochs=epochs, **row)
            events.log(f"Epoch {epoch + 1}/{epochs} ==> avg_loss_seg={row['loss_seg']:.5f}, "
                       f"avg_loss_dec={row['loss_dec']:.5f}, avg_loss={row['loss']:.5f}, "
                       f"correct={row['correct']}/{row['total']}, in {seconds:.2f}s/epoch", event=False)

        # -- validation (rank 0) ---------------------------------------------------------------------------
        is_best = False
        if val_ds is not None and (epoch % cfg["validation_n_epochs"] == 0 or epoch == epochs - 1):
            if dist_ctx.is_main:
                model.eval()
                v = compute_validation(model, val_ds, dice_threshold=cfg["dice_threshold"],
                                       dice_threshold_factor=cfg["dice_threshold_factor"], device=device,
                                       precision=precision, channels_last=channels_last)
                ap = v.get("ap")
                is_best = ap is not None and ap > best_ap
                if is_best:
                    best_ap, best_epoch = float(ap), epoch + 1
                vrow = _validation_row(epoch + 1, v, is_best)
                last_val = vrow
                if is_best:
                    best_val = vrow
                _append_csv(out_dir / "validation.csv", VALIDATION_COLUMNS, vrow)
                events.emit("validation", **vrow)
                events.log(_validation_line(vrow, val_split.upper(), len(val_ds)), event=False)
                if is_best:
                    save_checkpoint(ckpt_dir / "best.pth", _payload(model, optimizer, sampler, epoch + 1, best_ap,
                                                                    best_epoch, cfg, device, hw))
                    events.emit("checkpoint", epoch=epoch + 1, path=str(ckpt_dir / "best.pth"), kind="best")
            dist_ctx.barrier()
        if dist_ctx.is_main:
            save_checkpoint(last_path, _payload(model, optimizer, sampler, epoch + 1, best_ap, best_epoch, cfg, device,
                                                hw, finished=epoch + 1 == epochs))
            events.emit("checkpoint", epoch=epoch + 1, path=str(last_path), kind="last")
        dist_ctx.barrier()

    epochs_done = epoch if stopped else epochs
    if stopped:
        events.log(f"stopped on request during epoch {epoch + 1}; the checkpoint of epoch {epoch} is kept. "
                   "Resume with --resume.", event=False)
        events.emit("finished", status="stopped", epochs_done=epochs_done, seconds=round(time.time() - t_run, 1))
        return {"status": "stopped", "run_dir": str(out_dir), "epochs_done": epochs_done, "metrics": None}

    # -- after training: final weights, best model, test evaluation, report -------------------------------------
    metrics = None
    if dist_ctx.is_main:
        save_checkpoint(ckpt_dir / "final.pth", _payload(model, optimizer, sampler, epochs, best_ap, best_epoch, cfg,
                                                         device, hw, finished=True))
        events.emit("checkpoint", epoch=epochs, path=str(ckpt_dir / "final.pth"), kind="final")
        used = "final"
        if cfg["use_best_model"] and (ckpt_dir / "best.pth").is_file():
            model.load_state_dict(load_checkpoint(ckpt_dir / "best.pth", map_location=device)["model"])
            used = f"best (epoch {best_epoch}, validation AP {best_ap:.6f})"
        if test_ds is not None:
            model.eval()
            seg_thr = float(last_val["seg_threshold"]) if last_val and last_val.get("seg_threshold") is not None else 0.5
            honest = None
            if best_val is not None:
                honest = dict(image_threshold=best_val.get("threshold"), seg_threshold=best_val.get("seg_threshold"))
            events.log(f"evaluating the test split ({len(test_ds)} samples) with the {used} weights", event=False)
            metrics = evaluate_split(model, test_ds, out_dir, seg_threshold=seg_thr, device=device,
                                     precision=precision, channels_last=channels_last, write_maps=True,
                                     events=events, dice_threshold_factor=cfg["dice_threshold_factor"], honest=honest)
            metrics = dict(metrics)
            events.emit("evaluation", split="test", out_dir=str(out_dir), weights=used, **_flat_metrics(metrics))
            events.log(_eval_line(out_dir.name, metrics), event=False)
            _write_report(out_dir, events, cfg)
        events.emit("finished", status="finished", epochs_done=epochs, seconds=round(time.time() - t_run, 1))
    dist_ctx.barrier()
    return {"status": "finished", "run_dir": str(out_dir), "epochs_done": epochs, "metrics": metrics}


def _write_report(out_dir: Path, events: EventLog, cfg: dict) -> None:
    try:
        from trainer.report import write_run_report
    except ImportError as exc:  # pragma: no cover
        events.log(f"report not written: {exc}", level="warning")
        return
    try:
        write_run_report(out_dir)
        events.log(f"report written: {out_dir / 'README.md'}", event=False)
    except Exception as exc:  # the run itself succeeded; a report failure must not fail it
        events.log(f"report not written: {type(exc).__name__}: {exc}", level="warning")


def _payload(model, optimizer, sampler, epoch, best_ap, best_epoch, cfg, device, hw, finished=False) -> dict:
    p = {
        "model": {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()},
        "optimizer": optimizer.state_dict(),
        "sampler": sampler.state_dict(),
        "rng_cpu": torch.get_rng_state(),
        "epoch": int(epoch),
        "best_ap": float(best_ap),
        "best_epoch": int(best_epoch),
        "finished": bool(finished),
        "config": dict(cfg),
        "meta": {"architecture": cfg["architecture"], "decision_pooling": cfg["decision_pooling"],
                 "input_height": int(hw[0]), "input_width": int(hw[1]), "in_channels": 3, "channel_order": "RGB",
                 "format": "crackviewer-1"},
    }
    if device.type == "cuda":
        p["rng_cuda"] = torch.cuda.get_rng_state(device)
    return p


def _validation_row(epoch: int, v: dict, is_best: bool) -> dict:
    row = {"epoch": epoch, "is_best": int(is_best)}
    for col in VALIDATION_COLUMNS:
        if col in ("epoch", "is_best"):
            continue
        key = col
        if col == "threshold":
            key = "threshold" if "threshold" in v else "best_threshold"
        row[col] = v.get(key)
    return row


def _validation_rows(out_dir: Path) -> list[dict]:
    """validation.csv as numbers (the run-folder reader), with empty cells as None (undefined metrics)."""
    from trainer.runfolder import read_numeric_csv

    return [{k: (None if math.isnan(v) else v) for k, v in row.items()}
            for row in read_numeric_csv(out_dir / "validation.csv")]


def _best_validation_row(out_dir: Path) -> dict | None:
    rows = [r for r in _validation_rows(out_dir) if r.get("is_best") == 1]
    return rows[-1] if rows else None


def _last_validation_row(out_dir: Path) -> dict | None:
    rows = _validation_rows(out_dir)
    return rows[-1] if rows else None


def _f(v, spec=".6f"):
    return "undefined" if v is None else format(v, spec)


def _validation_line(v: dict, split: str, n: int) -> str:
    return (f"VALIDATION on {split} set || AUC={_f(v.get('auc'))}, and AP={_f(v.get('ap'))}, with best thr="
            f"{_f(v.get('threshold'))} at f-measure={_f(v.get('f_measure'), '.3f')} and FP={v.get('fp')}, "
            f"FN={v.get('fn')}, TOTAL SAMPLES={n}\nDice: mean: {_f(v.get('dice_mean'), '.4f')}, std: "
            f"{_f(v.get('dice_std'), '.4f')}, IOU: mean: {_f(v.get('iou_mean'), '.4f')}, std: "
            f"{_f(v.get('iou_std'), '.4f')}, Dice Threshold: {_f(v.get('seg_threshold'))}")


def _eval_line(run: str, m: dict) -> str:
    line = (f"{run} EVAL on TEST AUC={_f(m.get('auc'))}, and AP={_f(m.get('ap'))}, w/ best thr="
            f"{_f(m.get('best_threshold'))} at f-m={_f(m.get('f_measure'), '.3f')} and FP={m.get('fp')}, "
            f"FN={m.get('fn')}\nDice: mean: {_f(m.get('dice_mean'), '.4f')}, std: {_f(m.get('dice_std'), '.4f')}, "
            f"IOU: mean: {_f(m.get('iou_mean'), '.4f')}, std: {_f(m.get('iou_std'), '.4f')}, Dice Threshold: "
            f"{_f(m.get('seg_threshold'))}")
    h = m.get("honest")
    if h:
        line += (f"\nHonest operating point (thresholds chosen on validation): image thr="
                 f"{_f(h.get('image_threshold'))}, FP={h.get('fp')}, FN={h.get('fn')}, f-m="
                 f"{_f(h.get('f_measure'), '.3f')}; seg thr={_f(h.get('seg_threshold'))}, Dice "
                 f"{_f(h.get('dice_mean'), '.4f')} ± {_f(h.get('dice_std'), '.4f')}")
    return line


def _flat_metrics(m: dict) -> dict:
    return {k: v for k, v in m.items() if k not in ("split", "out_dir")}
