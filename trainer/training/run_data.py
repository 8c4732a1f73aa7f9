"""The datasets of a training run: open the dataset, check the records each split uses, build the torch datasets
and count what the run trains on (warnings and skipped bad samples go to the run's log).

``input_mode = "resize"``: :class:`CrackDataset` for every split and the published :class:`FrequencySampler`.
``input_mode = "tiles"``: the train split is planned in tiles (:class:`TilePlanner`, :class:`TileSampler`,
:class:`TileDataset`; the plan of epoch 0 is ``tile_plan`` for ``run_started``), validation and test are whole
images through sliding windows (:class:`trainer.training.sliding_eval.FullImageDataset`). ``make_sampler`` builds
the train sampler of either mode (both carry their state in the checkpoint for a bit-exact resume).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trainer.datasets.layouts import open_dataset
from trainer.datasets.validation import validate_records
from trainer.errors import DataError
from trainer.runs.events import EventLog
from trainer.training.dataset import CrackDataset
from trainer.training.sampler import FrequencySampler
from trainer.training.sliding_eval import FullImageDataset
from trainer.training.tiles import TileDataset, TilePlanner, TileSampler, tile_plan_summary


@dataclass
class RunData:
    train: CrackDataset
    val: CrackDataset | None
    test: CrackDataset | None
    val_split: str           # "val", or "test" with validate_on_test
    counts: dict             # {split: {positives, negatives, segmented, weak}} + train segmented_used / weak_used
    layout: str
    bad: list                # (file, reason) of the skipped bad samples
    cfg: dict | None = None
    tile_plan: dict | None = None   # tiles mode: tile_plan_summary of the train split (epoch 0)

    def make_sampler(self, rank: int = 0, world_size: int = 1):
        """The train sampler: frequency-of-use over samples (resize) or over each epoch's tiles (tiles)."""
        cfg = self.cfg or {}
        if getattr(self.train, "planner", None) is not None:
            return TileSampler(self.train.planner, cfg.get("frequency_sampling", True), seed=cfg.get("seed", 0),
                               rank=rank, world_size=world_size)
        return FrequencySampler(self.train.labels, cfg.get("frequency_sampling", True), seed=cfg.get("seed", 0),
                                rank=rank, world_size=world_size)


def prepare_run_data(data_path: Path, cfg: dict, events: EventLog) -> RunData:
    """The train/val/test datasets of a run with config ``cfg``; DataError when the train split is empty."""
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
    counts = index.counts()
    counts["train"]["segmented_used"] = int(np.sum(train_ds.is_segmented & (train_ds.labels == 1)))
    counts["train"]["weak_used"] = int(np.sum(~train_ds.is_segmented & (train_ds.labels == 1)))
    tile_plan = None
    if cfg.get("input_mode", "resize") == "tiles":
        train_ds, val_ds, test_ds, tile_plan = _tiles(cfg, hw, train_ds, val_records, test_records, weighted, events)
        counts["train"]["weak_used"] = 0  # weak positives give no tiles (see trainer.training.tiles)
    else:
        val_ds = CrackDataset(val_records, hw, dilate=cfg["dilate"], seed=cfg["seed"], train=False,
                              mask_rule=rule) if val_records else None
        test_ds = CrackDataset(test_records, hw, dilate=cfg["dilate"], seed=cfg["seed"], train=False,
                               mask_rule=rule) if test_records else None
    for name, split_counts in counts.items():
        if split_counts.get("positives", 0) == 0 or split_counts.get("negatives", 0) == 0:
            which = "positives" if split_counts.get("negatives", 0) == 0 else "negatives"
            events.log(f"warning: the {name} split has only {which}; image-level metrics on it are undefined",
                       level="warning")
    return RunData(train_ds, val_ds, test_ds, val_split, counts, index.layout, bad_all, cfg, tile_plan)


def _tiles(cfg, hw, crack_ds, val_records, test_records, weighted, events):
    """(train TileDataset, val and test FullImageDataset or None, tile plan summary) of a tiles run."""
    planner = TilePlanner(crack_ds.records, hw, scale=cfg["tile_scale"], dilate=cfg["dilate"], seed=cfg["seed"],
                          is_segmented=crack_ds.is_segmented)
    for w in planner.warnings:
        events.log(f"warning: {w}", level="warning")
    train_ds = TileDataset(planner, weighted)
    if len(planner.plan(0)) == 0:
        raise DataError("tiles mode: the train split gives no tiles (no image with a mask, or none crack-free)")

    def full(records):
        return FullImageDataset(records, hw, overlap=cfg["tile_overlap"], scale=cfg["tile_scale"],
                                dilate=cfg["dilate"]) if records else None
    return train_ds, full(val_records), full(test_records), tile_plan_summary({"train": planner})


def eval_dataset(records, cfg: dict, hw):
    """The dataset ``crack-train eval`` runs a run's model on: whole images in sliding windows for tiles runs, else
    images resized to the run's input size."""
    if cfg.get("input_mode", "resize") == "tiles":
        return FullImageDataset(records, hw, overlap=cfg.get("tile_overlap", 0.25), scale=cfg.get("tile_scale", 1.0),
                                dilate=cfg["dilate"])
    return CrackDataset(records, hw, dilate=cfg["dilate"], seed=cfg["seed"], train=False,
                        mask_rule=cfg.get("mask_rule", "threshold"))
