"""The training loop: SegDecNet with mixed supervision, as the published run trained it (reference-model.md §2).

One code path for the CLI, the GUI's worker process and torchrun (DDP). The run folder is the single source of truth:
config.toml, events.jsonl, log.txt, losses.csv, validation.csv, checkpoints/, and after training the test
evaluation and the report.
"""
from __future__ import annotations

import os
from pathlib import Path
import time
import traceback
from typing import Any, Callable

import numpy as np
import torch
from torch.utils.data import DataLoader

from torch.nn.parallel import DistributedDataParallel

from trainer import config as config_mod
from trainer.atomic import remove_stale_temps
from trainer.errors import CheckpointError, ConfigError, CrackError
from trainer.report.lines import eval_summary, validation_line
from trainer.report.run import write_run_report
from trainer.runs import events as ev
from trainer.runs import paths
from trainer.runs.curves import (LOSS_COLUMNS, VALIDATION_COLUMNS, append_row, best_validation_row,
                                 last_validation_row, truncate_rows, validation_row)
from trainer.runs.events import EventLog
from trainer.limits import check_training_memory
from trainer.training.checkpoint import load_checkpoint, load_weights, save_checkpoint
from trainer.training.device import autocast, resolve_device, resolve_precision, set_cpu_threads
from trainer.training.distributed import Distributed, is_oom
from trainer.training.evaluate import compute_validation, evaluate_split
from trainer.training.init_from import load_initial_weights
from trainer.training.losses import combine_losses, loss_weights, sample_losses
from trainer.training.model import SegDecNet
from trainer.training.resume import check_resume, resume_config
from trainer.training.run_data import prepare_run_data
from trainer.training.stop import StopRequested, install_stop_handlers, restore_stop_handlers, stop_requested
from trainer.training.summary import count_parameters


def train(data_path: str | Path, out_dir: str | Path, config: dict[str, Any] | None = None, resume: bool = False,
          events_stdout: bool = False, log_stream=None, listeners: list[Callable] | None = None) -> dict:
    """Train (or resume) a run in `out_dir`. Returns {"status", "run_dir", "epochs_done", "metrics"}.

    Raises CrackError subclasses with user-facing messages (after emitting an `error` event).
    """
    out_dir = Path(out_dir)
    first_rank = os.environ.get("RANK", "0") == "0"  # other ranks could see the files rank 0 just created
    if first_rank and not resume and (_has_started(out_dir) or paths.checkpoint_path(out_dir, "last").is_file()):
        # Checked before anything is written, so the existing run's files stay untouched.
        raise ConfigError("this run folder already holds a run: add --resume to continue it, or choose another --out",
                          out_dir)
    if first_rank and resume:
        check_resume(out_dir, config)  # before anything is written: a refused resume leaves the run as it was
    dist_ctx = Distributed()
    main = dist_ctx.is_main
    events = EventLog(out_dir if main else None, to_stdout=events_stdout and main, enabled=main,
                      log_stream=log_stream if main else None)
    for listener in listeners or []:
        events.listeners.append(listener)
    old_handlers = install_stop_handlers()
    try:
        return _train(Path(data_path), out_dir, config, resume, events, dist_ctx)
    except StopRequested:  # pragma: no cover - handled inside
        raise
    except CrackError as exc:
        events.log(f"ERROR: {exc.message}", level="error", event=False, echo=False)  # the CLI prints it once
        events.emit(ev.ERROR, kind=exc.kind, message=exc.message, file=exc.file)
        raise
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            events.emit(ev.FINISHED, status="stopped", epochs_done=None, seconds=None)
            raise
        cfg = config or {}
        if is_oom(exc):
            msg = (f"out of memory while training ({type(exc).__name__}). Reduce batch_size (now "
                   f"{cfg.get('batch_size')}) or input_height/input_width (now {cfg.get('input_height')}x"
                   f"{cfg.get('input_width')}), or use precision=bf16; then {_after_failure(out_dir)}.")
            kind = "oom"
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        else:
            msg = f"training failed: {type(exc).__name__}: {exc}. The log has the traceback; {_after_failure(out_dir)}."
            kind = "internal"
        events.log(traceback.format_exc(), level="error", event=False, echo=False)
        events.emit(ev.ERROR, kind=kind, message=msg)
        raise
    finally:
        restore_stop_handlers(old_handlers)
        events.close()
        dist_ctx.close()


def _after_failure(out_dir: Path) -> str:
    if paths.checkpoint_path(out_dir, "last").is_file():
        return "resume with --resume (the last completed epoch's checkpoint is intact)"
    return "start the run again (it failed before its first checkpoint: nothing to resume)"


def _has_started(out_dir: Path) -> bool:
    """A run started here (a failed attempt that never got to `run_started`, e.g. a wrong --data, does not count)."""
    return bool(ev.EventReader(out_dir / paths.EVENTS).events([ev.RUN_STARTED]))


def _train(data_path: Path, out_dir: Path, config: dict | None, resume: bool, events: EventLog, dist_ctx: Distributed) -> dict:

    t_run = time.time()
    ckpt_dir = out_dir / paths.CHECKPOINTS
    last_path = paths.checkpoint_path(out_dir, "last")
    stop_file = out_dir / paths.STOP
    best_path = paths.checkpoint_path(out_dir, "best")
    final_path = paths.checkpoint_path(out_dir, "final")

    # -- configuration and resume state ----------------------------------------------------------------------
    state = None
    if resume:
        cfg, applied = resume_config(out_dir, config)
        if applied:
            events.log(applied, level="warning")
        state = load_checkpoint(last_path)
    else:
        cfg = config_mod.validate_config(dict(config or config_mod.DEFAULTS))
    if dist_ctx.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        for stale in remove_stale_temps(out_dir) + remove_stale_temps(ckpt_dir):
            events.log(f"removed {stale.name}, a temporary file a killed process left behind", event=False)
        config_mod.save_config(cfg, out_dir / paths.CONFIG)
        if stop_file.exists():
            stop_file.unlink()

    # -- device -------------------------------------------------------------------------------------------------
    device = resolve_device(cfg["device"], dist_ctx.local_rank if dist_ctx.enabled else None)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    else:
        set_cpu_threads()
        check_training_memory(cfg)  # before the data and the model take any memory
    dist_ctx.init(device)
    precision = resolve_precision(cfg["precision"], device)
    channels_last = precision == "bf16"
    world = dist_ctx.world_size
    if cfg["batch_size"] % world:
        raise ConfigError(f"batch_size = {cfg['batch_size']} is the global batch and must be divisible by the "
                          f"{world} processes")
    per_rank_batch = cfg["batch_size"] // world

    # -- data ----------------------------------------------------------------------------------------------------
    hw = (cfg["input_height"], cfg["input_width"])
    data = prepare_run_data(data_path, cfg, events)
    train_ds, val_ds, test_ds, val_split = data.train, data.val, data.test, data.val_split

    # -- model, optimiser, sampler ---------------------------------------------------------------------------
    torch.manual_seed(cfg["seed"])
    model = SegDecNet(architecture=cfg["architecture"], decision_pooling=cfg["decision_pooling"], in_channels=3,
                      input_height=hw[0], input_width=hw[1])
    model.set_gradient_multiplier(0.0 if cfg["gradient_adjustment"] else 1.0)
    init_info = load_initial_weights(model, cfg) if state is None else None  # fine-tune: the starting weights
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg["learning_rate"])
    sampler = data.make_sampler(dist_ctx.rank, world)  # frequency-of-use over samples, or over tiles
    start_epoch = 0
    best_ap, best_epoch = -1.0, 0
    if state is not None:
        load_weights(model, state, last_path, f"{cfg['architecture']} model for {hw[1]}x{hw[0]} (WxH) input")
        try:
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
        truncate_rows(out_dir / paths.LOSSES, start_epoch)
        truncate_rows(out_dir / paths.VALIDATION, start_epoch)
    train_model = model
    if dist_ctx.enabled:
        train_model = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    pin = device.type == "cuda"
    n_epoch_samples = len(sampler)
    loader = DataLoader(train_ds, batch_size=per_rank_batch, sampler=sampler, num_workers=cfg["num_workers"],
                        drop_last=n_epoch_samples >= per_rank_batch, pin_memory=pin,
                        persistent_workers=cfg["num_workers"] > 0)
    steps_per_epoch = len(loader)
    epochs = cfg["epochs"]
    params = count_parameters(model)
    events.emit(ev.RUN_STARTED, config=cfg, data=str(Path(data_path).resolve()), device=str(device),
                precision=precision, channels_last=channels_last, counts=data.counts, layout=data.layout,
                resumed_from_epoch=start_epoch, world_size=world, pid=os.getpid(), parameters=params,
                init_from=init_info if init_info else (cfg["init_from"] or None),
                bad_samples=[{"file": f, "reason": r} for f, r in data.bad], tile_plan=data.tile_plan)
    events.log(f"{'resuming' if start_epoch else 'starting'} run {out_dir.name}: {cfg['architecture']} "
               f"({params:,} parameters) on {device} with {precision}"
               f"{' + channels_last' if channels_last else ''}, {world} process(es); "
               f"train {len(train_ds)} samples, {steps_per_epoch} steps/epoch", event=False)
    if init_info:
        events.log(f"fine-tuning from {init_info['checkpoint']} ({init_info['holds']})", event=False)
    if start_epoch >= epochs and state is not None and state.get("finished"):
        events.log("the run had already finished; nothing to resume", event=True)

    # -- the epochs -------------------------------------------------------------------------------------------
    original = cfg["architecture"] == "original"
    accum = cfg["grad_accumulation"]
    last_val: dict | None = None
    best_val: dict | None = best_validation_row(out_dir) if start_epoch else None
    last_val = last_validation_row(out_dir) if start_epoch else None
    step_times: list[float] = []
    stopped = False
    epoch = start_epoch
    for epoch in range(start_epoch, epochs):
        sampler.set_epoch(epoch)
        steps_per_epoch = len(loader)  # tiles runs: the number of crack tiles varies per epoch
        w_seg, w_dec = loss_weights(epoch, epochs, cfg["dyn_balanced_loss"], cfg["delta_cls_loss"],
                                    cfg["lambda_constant"] if cfg["lambda_mode"] == "constant" else None)
        train_model.train()
        sums = np.zeros(6)  # seg_sum, n_seg, dec_sum, total_sum, correct, n
        t_epoch = time.time()
        t_last_event = 0.0
        optimizer.zero_grad(set_to_none=True)
        for step, batch in enumerate(loader, start=1):
            if dist_ctx.any_flag(stop_requested() or stop_file.exists(), device):
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
                events.emit(ev.STEP, epoch=epoch + 1, epochs=epochs, step=step, steps=steps_per_epoch,
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
            append_row(out_dir / paths.LOSSES, LOSS_COLUMNS, row)
            events.emit(ev.EPOCH, epochs=epochs, **row)
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
                vrow = validation_row(epoch + 1, v, is_best)
                last_val = vrow
                if is_best:
                    best_val = vrow
                append_row(out_dir / paths.VALIDATION, VALIDATION_COLUMNS, vrow)
                events.emit(ev.VALIDATION, **vrow)
                events.log(validation_line(vrow, val_split.upper(), len(val_ds)), event=False)
                if is_best:
                    save_checkpoint(best_path, _payload(model, optimizer, sampler, epoch + 1, best_ap,
                                                                    best_epoch, cfg, device, hw))
                    events.emit(ev.CHECKPOINT, epoch=epoch + 1, path=str(best_path), kind="best")
            dist_ctx.barrier()
        if dist_ctx.is_main:
            save_checkpoint(last_path, _payload(model, optimizer, sampler, epoch + 1, best_ap, best_epoch, cfg, device,
                                                hw, finished=epoch + 1 == epochs))
            events.emit(ev.CHECKPOINT, epoch=epoch + 1, path=str(last_path), kind="last")
        dist_ctx.barrier()

    epochs_done = epoch if stopped else epochs
    if stopped:
        if dist_ctx.is_main and stop_file.exists():
            stop_file.unlink()  # honoured: a later resume must not stop at once
        events.log(stop_message(epoch, last_path.is_file()), event=False)
        events.emit(ev.FINISHED, status="stopped", epochs_done=epochs_done, seconds=round(time.time() - t_run, 1))
        return {"status": "stopped", "run_dir": str(out_dir), "epochs_done": epochs_done, "metrics": None}

    # -- after training: final weights, best model, test evaluation, report -------------------------------------
    metrics = None
    if dist_ctx.is_main:
        save_checkpoint(final_path, _payload(model, optimizer, sampler, epochs, best_ap, best_epoch, cfg,
                                                         device, hw, finished=True))
        events.emit(ev.CHECKPOINT, epoch=epochs, path=str(final_path), kind="final")
        used = "final"
        if cfg["use_best_model"] and (best_path).is_file():
            model.load_state_dict(load_checkpoint(best_path, map_location=device)["model"])
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
                                     events=events, dice_threshold_factor=cfg["dice_threshold_factor"], honest=honest,
                                     tolerance_px=float(cfg["tolerance_px"]))
            metrics = dict(metrics)
            events.emit(ev.EVALUATION, split="test", out_dir=str(out_dir), weights=used, **{k: v for k, v in metrics.items() if k not in ("split", "out_dir")})
            events.log(eval_summary(out_dir.name, metrics), event=False)
            _write_report(out_dir, events, cfg)
        events.emit(ev.FINISHED, status="finished", epochs_done=epochs, seconds=round(time.time() - t_run, 1))
    dist_ctx.barrier()
    return {"status": "finished", "run_dir": str(out_dir), "epochs_done": epochs, "metrics": metrics}


def stop_message(epoch: int, has_checkpoint: bool) -> str:
    """What a stop during 0-based ``epoch`` leaves: the truth about what a resume can continue from."""
    if not has_checkpoint:
        return (f"stopped during epoch {epoch + 1} before the first checkpoint: nothing to resume; start the run "
                "again")
    return (f"stopped on request during epoch {epoch + 1}; the checkpoint of epoch {epoch} is kept. "
            "Resume with --resume.")


def _write_report(out_dir: Path, events: EventLog, cfg: dict) -> None:
    try:
        write_run_report(out_dir)
        events.log(f"report written: {out_dir / paths.REPORT}", event=False)
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
