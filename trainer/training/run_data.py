"""The datasets of a training run: open the dataset, check the records each split uses, build the torch datasets
and count what the run trains on (warnings and skipped bad samples go to the run's log)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trainer.datasets.layouts import open_dataset
from trainer.datasets.validation import validate_records
from trainer.errors import DataError
from trainer.runs.events import EventLog
from trainer.training.dataset import CrackDataset


@dataclass
class RunData:
    train: CrackDataset
    val: CrackDataset | None
    test: CrackDataset | None
    val_split: str           # "val", or "test" with validate_on_test
    counts: dict             # {split: {positives, negatives, segmented, weak}} + train segmented_used / weak_used
    layout: str
    bad: list                # (file, reason) of the skipped bad samples


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
    return RunData(train_ds, val_ds, test_ds, val_split, counts, index.layout, bad_all)
