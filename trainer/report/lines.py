"""The one-line console/log summaries of a validation and of an evaluation (the reference's wording)."""
from __future__ import annotations

from trainer.report.format import fmt


U = "undefined"


def _f(v, spec=".6f"):
    return fmt(v, spec, U)


def validation_line(v: dict, split: str, n: int) -> str:
    return (f"VALIDATION on {split} set || AUC={_f(v.get('auc'))}, and AP={_f(v.get('ap'))}, with best thr="
            f"{_f(v.get('threshold'))} at f-measure={_f(v.get('f_measure'), '.3f')} and FP={v.get('fp')}, "
            f"FN={v.get('fn')}, TOTAL SAMPLES={n}\nDice: mean: {_f(v.get('dice_mean'), '.4f')}, std: "
            f"{_f(v.get('dice_std'), '.4f')}, IOU: mean: {_f(v.get('iou_mean'), '.4f')}, std: "
            f"{_f(v.get('iou_std'), '.4f')}, Dice Threshold: {_f(v.get('seg_threshold'))}")


def eval_summary(run: str, m: dict) -> str:
    """The log's evaluation summary of run ``run`` (reference wording, Dice line, honest operating point)."""
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


def eval_line(m: dict, split: str | None = None) -> str:
    """The reference's line: `EVAL on TEST AUC=…, and AP=…, w/ best thr=… at f-m=… and FP=…, FN=…`."""
    s = (split or m.get("split") or "test").upper()
    return (f"EVAL on {s} AUC={fmt(m.get('auc'), '.6f', U)}, and AP={fmt(m.get('ap'), '.6f', U)}, w/ best "
            f"thr={fmt(m.get('best_threshold'), '.6f', U)} at f-m={fmt(m.get('f_measure'), '.3f', U)} and "
            f"FP={fmt(m.get('fp'), 'd')}, FN={fmt(m.get('fn'), 'd')}")


def honest_line(m: dict) -> str | None:
    h = m.get("honest")
    if not h:
        return None
    return (f"Honest (thresholds chosen on validation at the best epoch): image thr="
            f"{fmt(h.get('image_threshold'), '.6f', U)} → f-m={fmt(h.get('f_measure'), '.3f', U)}, "
            f"FP={fmt(h.get('fp'), 'd')}, FN={fmt(h.get('fn'), 'd')}; seg thr={fmt(h.get('seg_threshold'), '.4f', U)}"
            f" → Dice {fmt(h.get('dice_mean'))} ± {fmt(h.get('dice_std'))}, IoU {fmt(h.get('iou_mean'))} ± "
            f"{fmt(h.get('iou_std'))}")
