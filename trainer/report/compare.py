"""The side-by-side comparison of several runs (comparison.md)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from trainer.atomic import atomic_write_text
from trainer.errors import CrackError
from trainer.runs import paths
from trainer.schema import KEYS
from trainer.report.figures import figures_enabled, render_figures
from trainer.report.format import fmt, fmt_param, link, num, table
from trainer.report.lines import eval_line, honest_line
from trainer.report.run import dice_table, image_md, threshold_source
from trainer.report.source import ReportSource


def _metric_specs() -> list[tuple[str, Any, bool, str]]:
    def mg(key):
        return lambda s: s.metrics.get(key)

    def hg(key):
        return lambda s: (s.metrics.get("honest") or {}).get(key)

    return [
        ("AUC", mg("auc"), True, ".6f"),
        ("AP (reference, trapezoid)", mg("ap"), True, ".6f"),
        ("AP (sklearn)", mg("ap_sklearn"), True, ".6f"),
        ("F-measure (test-optimal thr)", mg("f_measure"), True, ".3f"),
        ("FP (test-optimal thr)", mg("fp"), False, "d"),
        ("FN (test-optimal thr)", mg("fn"), False, "d"),
        ("Dice mean", mg("dice_mean"), True, ".4f"),
        ("IoU mean", mg("iou_mean"), True, ".4f"),
        ("Honest F-measure", hg("f_measure"), True, ".3f"),
        ("Honest FP", hg("fp"), False, "d"),
        ("Honest FN", hg("fn"), False, "d"),
        ("Honest Dice mean", hg("dice_mean"), True, ".4f"),
        ("Honest IoU mean", hg("iou_mean"), True, ".4f"),
        ("Best validation AP", lambda s: (s.best_val() or {}).get("ap"), True, ".6f"),
        ("Final training loss", lambda s: s.final_loss("loss"), False, ".5f"),
        ("Final segmentation loss", lambda s: s.final_loss("loss_seg"), False, ".5f"),
        ("Final decision loss", lambda s: s.final_loss("loss_dec"), False, ".5f"),
    ]


def better_run(values: Sequence[float | None], higher_is_better: bool) -> int | None:
    """Index of the strictly best value, None on a tie for best or when any value is missing."""
    vals = [num(v) for v in values]
    if any(v is None for v in vals) or len(vals) < 2:
        return None
    best = max(vals) if higher_is_better else min(vals)
    idx = [i for i, v in enumerate(vals) if abs(v - best) <= 1e-12]
    return idx[0] if len(idx) == 1 else None


def write_comparison(run_dirs: Sequence[str | Path], out_md: str | Path, *, render_missing: bool | None = None
                     ) -> Path:
    """One markdown report with the runs side by side ("Run 1 | Run 2 | …" columns), a per-metric table naming
    the better run (higher is better, except FP/FN/losses), and the figures next to each other. Image paths are
    relative to out_md. A run whose figures were never rendered (no figures.json) gets them rendered first, unless
    render_missing=False or CRACK_REPORT_FIGURES=0."""
    if len(run_dirs) < 2:
        raise CrackError("a comparison needs at least two runs")
    for d in run_dirs:
        if not Path(d).is_dir():
            raise CrackError("run folder not found", d)
    if render_missing is None:
        render_missing = figures_enabled()
    if render_missing:
        for d in run_dirs:
            if not (Path(d) / paths.FIGURES_INFO).is_file():
                render_figures(d)
    out = Path(out_md)
    out.parent.mkdir(parents=True, exist_ok=True)
    base = out.parent
    srcs = [ReportSource(d) for d in run_dirs]
    cols = [f"Run {i + 1}" for i in range(len(srcs))]
    L = ["# Comparison of " + ", ".join(f"{c} (`{s.name}`)" for c, s in zip(cols, srcs)), ""]
    L.append(table(("", *cols), [
        ("Folder", *[f"[{s.name}]({link(s.folder, base)})" for s in srcs]),
        ("Dataset", *[f"`{s.data.name}`" if s.data else "n/a" for s in srcs]),
        ("Status", *[(s.run.status if s.run else "evaluation") for s in srcs]),
        ("Epochs", *[f"{s.run.epochs_done() if s.run else 'n/a'}/{s.config.get('epochs', 'n/a')}" for s in srcs]),
    ]))

    # metrics with the better run named
    specs = _metric_specs()
    rows, wins = [], [0] * len(srcs)
    ties = 0
    for label, get, hib, spec in specs:
        vals = [get(s) for s in srcs]
        if all(num(v) is None for v in vals):
            continue
        b = better_run(vals, hib)
        cells = []
        for i, v in enumerate(vals):
            txt = fmt(v, spec)
            cells.append(f"**{txt}**" if b == i else txt)
        if b is not None:
            wins[b] += 1
            verdict = cols[b]
        elif any(num(v) is None for v in vals):
            verdict = "n/a"
        else:
            verdict = "tie"
            ties += 1
        rows.append((label + ("" if hib else " (lower is better)"), *cells, verdict))
    L += ["", "## Summary", "", table(("Metric", *cols, "Better"), rows)]
    if rows:
        parts = [f"{c} is better on {w} of {len(rows)} metrics" for c, w in zip(cols, wins)]
        L += ["", "; ".join(parts) + (f"; {ties} ties." if ties else ".")]

    L += ["", "## Model architecture"]
    for c, s in zip(cols, srcs):
        L += ["", f"### {c}", "", image_md(s, paths.ARCHITECTURE_PNG, f"{c.lower().replace(' ', '')}_architecture", base)]

    L += ["", "## Dataset", ""]
    keys = ["Input channels", "Input height", "Input width", "Train samples", "Test samples", "Validation samples",
            "Segmented samples"]
    vals = []
    for s in srcs:
        c = s.counts() or {}
        h, w = s.input_hw()

        def tot(sp, c=c):
            x = c.get(sp) or {}
            return int(x.get("positives", 0)) + int(x.get("negatives", 0)) if x else "n/a"

        vals.append([3, h, w, tot("train"), tot("test"), tot("val"),
                     (c.get("train") or {}).get("segmented", "n/a")])
    L.append(table(("Parameter", *cols), [(k, *[v[i] for v in vals]) for i, k in enumerate(keys)]))

    L += ["", "## Run parameters", ""]
    prow = []
    for key, name in ((k.name, k.display_name) for k in KEYS.values()):
        vs = [s.config.get(key) for s in srcs]
        if all(v is None for v in vs):
            continue
        if key in ("weighted_seg_loss_p", "weighted_seg_loss_max") and not any(
                s.config.get("weighted_seg_loss") for s in srcs):
            continue
        txt = [fmt_param(v) if v is not None else "n/a" for v in vs]
        differs = len(set(txt)) > 1
        prow.append((f"**{name}**" if differs else name, *txt))
    L.append(table(("Parameter", *cols), prow))
    L += ["", "Parameters in **bold** differ between the runs."]

    L += ["", "## Test Evaluation", ""]
    for c, s in zip(cols, srcs):
        L.append(f"{c}: {eval_line(s.metrics)}" if s.metrics else f"{c}: no evaluation")
        L.append("")
    for c, s in zip(cols, srcs):
        hl = honest_line(s.metrics) if s.metrics else None
        if hl:
            L += [f"{c}: {hl}", ""]

    def side(rel: str, alt: str) -> str:
        return "\n".join([" | ".join(cols), " | ".join(":---:" for _ in cols),
                          " | ".join(image_md(s, rel, alt, base) for s in srcs)])

    L += ["## ROC", "", side(paths.ROC_PNG, "ROC"), "", "## Precision Recall", "",
          side(paths.PR_PNG, "precision-recall"), "", "## Losses", "",
          "### Loss Segmentation", "", side(paths.LOSS_SEG_PNG, "loss_seg"), "",
          "### Loss Decision", "", side(paths.LOSS_DEC_PNG, "loss_dec"), "",
          "### Total Loss", "", side(paths.LOSS_PNG, "loss"), "",
          "### Validation", "", side(paths.LOSS_VAL_PNG, "loss_val"), "",
          "### Dice and IoU", "", side(paths.DICE_IOU_PNG, "dice_iou"), "", "## Dices"]
    for c, s in zip(cols, srcs):
        L += ["", f"### {c}"]
        if s.metrics:
            L += [f"Threshold = {fmt(s.metrics.get('seg_threshold'))} ({threshold_source(s)})", "", dice_table(s.metrics)]
        else:
            L.append("No evaluation.")
    picks = srcs[0].dice_picks()
    pic_rows = []
    for _, name, d in picks:
        cells = []
        for s in srcs:
            f = s.dice_file(name)
            cells.append(f"![dice_output]({link(f, base)})" if f else f"_{name}: no picture_")
        if any(not c.startswith("_") for c in cells):
            pic_rows.append(" | ".join(cells))
    if pic_rows:
        L += ["", "The same samples in every run (worst, median and best of Run 1):", "",
              " | ".join(cols), " | ".join(":---:" for _ in cols), *pic_rows]

    L += ["", "## Outputs", ""]
    for c, s in zip(cols, srcs):
        log = s.run.log_path if s.run else None
        L += [f"[{c}]({link(log, base)})" if log is not None and log.is_file() else f"{c}: no log.txt", ""]
    atomic_write_text(out, "\n".join(L).rstrip() + "\n")
    return out
