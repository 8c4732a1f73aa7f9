"""Every file name of a run folder and of an evaluation folder (see docs/architecture.md, "Run folder").

A run folder::

    config.toml  events.jsonl  log.txt  losses.csv  validation.csv  STOP  thresholds.json
    checkpoints/{last,best,final}.pth
    evals/<split>/          an evaluation folder per evaluated split (the test evaluation also lands in the run
                            folder itself: metrics.json, samples.npz, ... beside config.toml)

An evaluation folder::

    metrics.json  results.csv  samples.npz  source.json  figures.json  README.md
    probs/<name>.png        8-bit probability maps (:func:`prob_png_name`)
    uncertainty/<name>.png  8-bit flip-TTA uncertainty maps (:func:`uncertainty_png_path`, with ``eval --tta``)
    dices/<dice>_dice_<name>.png   one picture per sample (:func:`dice_png_name`)
    ROC.png precision-recall.png loss*.png dice_iou.png architecture.png   report figures (:data:`PLOT_FILES`)

A measurement folder (``crack-train measure``)::

    cracks.csv  images.csv  cracks.geojson   (+ accuracy.json  crack_pairs.csv against the ground truth)

Only this module spells these names; everything else asks it.
"""
from __future__ import annotations

from pathlib import Path

# run folder
CONFIG = "config.toml"
EVENTS = "events.jsonl"
LOG = "log.txt"
LOSSES = "losses.csv"
VALIDATION = "validation.csv"
STOP = "STOP"
THRESHOLDS = "thresholds.json"
CHECKPOINTS = "checkpoints"
CHECKPOINT_KINDS = ("last", "best", "final")
EVALS = "evals"

# evaluation folder
METRICS = "metrics.json"
RESULTS = "results.csv"
SAMPLES = "samples.npz"
SOURCE = "source.json"
FIGURES_INFO = "figures.json"
REPORT = "README.md"
COMPARISON = "comparison.md"
PROBS = "probs"
UNCERTAINTY = "uncertainty"
DICES = "dices"

# measurement folder
MEASURE = "measure"                      # <eval>/measure: where the report's measurement accuracy comes from
CRACKS_CSV = "cracks.csv"
IMAGES_CSV = "images.csv"
CRACKS_GEOJSON = "cracks.geojson"
ACCURACY_JSON = "accuracy.json"
PAIRS_CSV = "crack_pairs.csv"

# report figures (written by the figures package, linked by the report)
ROC_PNG = "ROC.png"
PR_PNG = "precision-recall.png"
LOSS_PNG = "loss.png"
LOSS_SEG_PNG = "loss_seg.png"
LOSS_DEC_PNG = "loss_dec.png"
LOSS_VAL_PNG = "loss_val.png"
DICE_IOU_PNG = "dice_iou.png"
ARCHITECTURE_PNG = "architecture.png"
RELIABILITY_PNG = "reliability.png"
MEASURE_ACCURACY_PNG = "measure_accuracy.png"
PLOT_FILES = (ROC_PNG, PR_PNG, LOSS_PNG, LOSS_SEG_PNG, LOSS_DEC_PNG, LOSS_VAL_PNG, DICE_IOU_PNG, ARCHITECTURE_PNG,
              RELIABILITY_PNG, MEASURE_ACCURACY_PNG)


def safe_sample_name(name: str) -> str:
    """A sample name as a file-name part: '/' and '\\' become '__' (names such as ``train_positive/12``)."""
    return str(name).replace("/", "__").replace("\\", "__")


def prob_png_name(name: str) -> str:
    """File name of a sample's probability map inside ``probs/``."""
    return safe_sample_name(name) + ".png"


def prob_png_path(eval_dir: str | Path, name: str) -> Path:
    """``<eval_dir>/probs/<name>.png``."""
    return Path(eval_dir) / PROBS / prob_png_name(name)


def uncertainty_png_path(eval_dir: str | Path, name: str) -> Path:
    """``<eval_dir>/uncertainty/<name>.png``: a sample's flip-TTA uncertainty map (same file-name rule as probs/)."""
    return Path(eval_dir) / UNCERTAINTY / prob_png_name(name)


def dice_png_name(dice: float, name: str) -> str:
    """File name of a sample's picture in ``dices/``: ``{dice:.3f}_dice_{name}.png``."""
    return f"{float(dice):.3f}_dice_{safe_sample_name(name)}.png"


def dice_png_glob(name: str) -> str:
    """Glob that finds a sample's picture in ``dices/`` whatever its Dice."""
    return f"*_dice_{safe_sample_name(name)}.png"


def checkpoint_path(run_dir: str | Path, kind: str) -> Path:
    """``<run>/checkpoints/<kind>.pth`` for kind in :data:`CHECKPOINT_KINDS`."""
    if kind not in CHECKPOINT_KINDS:
        raise ValueError(f"checkpoint kind {kind!r}: choose one of {', '.join(CHECKPOINT_KINDS)}")
    return Path(run_dir) / CHECKPOINTS / f"{kind}.pth"


def eval_dir(run_dir: str | Path, split: str) -> Path:
    """``<run>/evals/<split>``: where ``crack-train eval`` writes an evaluation of a split."""
    return Path(run_dir) / EVALS / str(split)


def is_run_dir(folder: str | Path) -> bool:
    """A training run folder: it holds config.toml or events.jsonl."""
    folder = Path(folder)
    return (folder / CONFIG).is_file() or (folder / EVENTS).is_file()


def is_eval_dir(folder: str | Path) -> bool:
    """An evaluation folder: it holds metrics.json or samples.npz."""
    folder = Path(folder)
    return (folder / METRICS).is_file() or (folder / SAMPLES).is_file()
