"""The run report: README.md with the published report's sections, filled in from one run or evaluation folder."""
from __future__ import annotations

import os
from pathlib import Path
import time

from trainer.atomic import atomic_write_text
from trainer.errors import CrackError
from trainer.runs import paths
from trainer.schema import KEYS
from trainer.report.crack_sections import calibration_md, crack_metrics_md, measurement_md
from trainer.report.figures import figures_enabled, write_figures_json, render_figures
from trainer.report.format import fmt, fmt_param, link, num, table
from trainer.report.lines import eval_line, honest_line
from trainer.report.source import ReportSource


SPLIT_ROWS = (("train", "Train"), ("test", "Test"), ("val", "Validation"))


def image_md(src: ReportSource, rel: str, alt: str, base: Path) -> str:
    if src.has(rel):
        return f"![{alt}]({link(src.folder / rel, base)})"
    reason = src.figures.get("reason") or (src.figures.get("skipped") or {}).get(
        {paths.LOSS_PNG: "losses", paths.LOSS_SEG_PNG: "losses", paths.LOSS_DEC_PNG: "losses", paths.LOSS_VAL_PNG: "losses",
         paths.DICE_IOU_PNG: "dice_iou", paths.ARCHITECTURE_PNG: "architecture",
         paths.RELIABILITY_PNG: "reliability", paths.MEASURE_ACCURACY_PNG: "measure_accuracy"}.get(rel, ""), "")
    return f"_{rel}: not rendered{': ' + reason if reason else ''}_"


def _dataset_tables(src: ReportSource) -> str:
    h, w = src.input_hw()
    counts = src.counts()
    if counts:
        def tot(sp: str) -> int:
            c = counts.get(sp) or {}
            return int(c.get("positives", 0)) + int(c.get("negatives", 0))

        seg = sum(int((counts.get(sp) or {}).get("segmented", 0)) for sp in ("train",))
        weak = sum(int((counts.get(sp) or {}).get("weak", 0)) for sp in ("train",))
        params = [("Input channels", 3), ("Input height", h), ("Input width", w),
                  ("Train samples", tot("train")), ("Test samples", tot("test")),
                  ("Validation samples", tot("val")), ("Segmented samples", seg)]
        if weak:
            params.append(("Weakly labelled positives (train)", weak))
        rows, sp_, sn_ = [], 0, 0
        names = [s for s, _ in SPLIT_ROWS] + sorted(k for k in counts if k not in dict(SPLIT_ROWS))
        for sp in names:
            if sp not in counts:
                continue
            c = counts[sp]
            p, n = int(c.get("positives", 0)), int(c.get("negatives", 0))
            rows.append((dict(SPLIT_ROWS).get(sp, sp), p, n, p + n))
            sp_, sn_ = sp_ + p, sn_ + n
        rows.append(("**Sum**", sp_, sn_, sp_ + sn_))
        out = table(("Parameter", "Value"), params) + "\n\n" + table(("Set", "Positives", "Negatives", "Sum"), rows)
        started = src.started or {}
        extra = []
        if started.get("layout"):
            extra.append(f"layout: {started['layout']}")
        if started.get("bad_samples"):
            extra.append(f"{len(started['bad_samples'])} bad samples skipped")
        if extra:
            out += "\n\n" + "; ".join(extra).capitalize() + "."
        return out
    # a bare evaluation: the evaluated split only
    labels = [int(r.get("label", 0) or 0) for r in src.results]
    p = sum(labels)
    n = len(labels) - p
    split = src.metrics.get("split") or src.source.get("split") or "evaluated"
    params = [("Input channels", 3), ("Input height", h), ("Input width", w), ("Evaluated samples", len(labels))]
    return (table(("Parameter", "Value"), params) + "\n\n" +
            table(("Set", "Positives", "Negatives", "Sum"), [(split, p, n, p + n), ("**Sum**", p, n, p + n)]))


def _param_rows(cfg: dict, started: dict | None) -> list[tuple[str, str]]:
    rows = []
    for key, name in ((k.name, k.display_name) for k in KEYS.values()):
        if key not in cfg:
            continue
        if key in ("weighted_seg_loss_p", "weighted_seg_loss_max") and not cfg.get("weighted_seg_loss"):
            continue
        val = fmt_param(cfg[key])
        if key == "device" and started and started.get("device") and str(started["device"]) != str(cfg[key]):
            val = f"{val} → {started['device']}"
        if key == "precision" and started and started.get("precision") and str(started["precision"]) != val:
            val = f"{val} → {started['precision']}"
        rows.append((name, val))
    return rows


def _op_table(m: dict) -> str:
    u = "undefined"
    rows = [("Reference: thresholds chosen on this split", fmt(m.get("best_threshold"), ".6f", u),
             fmt(m.get("f_measure"), ".3f", u), fmt(m.get("tp"), "d"), fmt(m.get("fp"), "d"), fmt(m.get("fn"), "d"),
             fmt(m.get("tn"), "d"), fmt(m.get("seg_threshold"), ".4f", u), fmt(m.get("dice_mean"), ".4f", u),
             fmt(m.get("iou_mean"), ".4f", u))]
    h = m.get("honest")
    if h:
        rows.append(("Honest: thresholds chosen on validation", fmt(h.get("image_threshold"), ".6f", u),
                     fmt(h.get("f_measure"), ".3f", u), fmt(h.get("tp"), "d"), fmt(h.get("fp"), "d"),
                     fmt(h.get("fn"), "d"), fmt(h.get("tn"), "d"), fmt(h.get("seg_threshold"), ".4f", u),
                     fmt(h.get("dice_mean"), ".4f", u), fmt(h.get("iou_mean"), ".4f", u)))
    return table(("Operating point", "Image thr", "F-measure", "TP", "FP", "FN", "TN", "Seg thr", "Dice", "IoU"),
                  rows)


def dice_table(m: dict) -> str:
    return table(("", "mean", "std"), [("**Dice**", fmt(m.get("dice_mean")), fmt(m.get("dice_std"))),
                                        ("**IoU**", fmt(m.get("iou_mean")), fmt(m.get("iou_std")))])


def threshold_source(src: ReportSource) -> str:
    s = src.metrics.get("seg_threshold_source")
    if s == "split":
        return "chosen on this split"
    if s == "default":
        return "default: no threshold could be chosen"
    return "From validation"


def _validation_table(rows: list[dict]) -> str:
    out = []
    for r in rows:
        best = " ★" if num(r.get("is_best")) else ""
        out.append((fmt(r.get("epoch"), "d") + best, fmt(r.get("auc")), fmt(r.get("ap")),
                    fmt(r.get("f_measure"), ".3f"),
                    fmt(r.get("fp"), "d"), fmt(r.get("fn"), "d"), fmt(r.get("seg_threshold")),
                    fmt(r.get("dice_mean")), fmt(r.get("iou_mean")), fmt(r.get("val_loss"))))
    return table(("Epoch", "AUC", "AP", "F-measure", "FP", "FN", "Seg thr", "Dice", "IoU", "Val loss"), out)


def write_run_report(eval_or_run_dir: str | Path, run_dir: str | Path | None = None, *, render: bool | None = None,
                     data: str | Path | None = None) -> Path:
    """Write `README.md` into the run (or evaluation) folder with the published report's sections, filled in from
    this run's files. Renders the figures first (subprocess) unless `render=False` or CRACK_REPORT_FIGURES=0.
    Returns the README path."""
    folder = Path(eval_or_run_dir)
    if not folder.is_dir():
        raise CrackError("folder not found", folder)
    if render is None:
        render = figures_enabled()
    if render:
        render_figures(folder, run_dir=run_dir, data=data)
    elif not (folder / paths.FIGURES_INFO).is_file() and not any((folder / f).is_file() for f in paths.PLOT_FILES):
        write_figures_json(folder, {"rendered": False, "reason": "rendering disabled (CRACK_REPORT_FIGURES=0 or "
                                     "render=False)"})
    src = ReportSource(folder, run_dir)
    md = _run_markdown(src, folder)
    out = folder / paths.REPORT
    atomic_write_text(out, md)
    return out


def _weights(src: ReportSource) -> str | None:
    """Which weights the evaluation used: the run's `evaluation` event for this folder, else metrics.json."""
    if src.run is not None:
        for e in reversed(src.run.meta_events()):
            if e.get("event") == "evaluation" and e.get("weights") and \
                    Path(str(e.get("out_dir", ""))).resolve() == src.folder.resolve():
                return str(e["weights"])
    ck = src.metrics.get("checkpoint") or src.source.get("checkpoint")
    return f"`{Path(str(ck)).name}`" if ck else None


def _run_markdown(src: ReportSource, base: Path) -> str:
    m = src.metrics
    cfg = src.config
    dataset = "an unknown dataset"
    if src.data:
        generic = src.data.name.lower() in ("dataset", "data", "") and src.data.parent.name
        dataset = f"{src.data.parent.name}/{src.data.name}" if generic else src.data.name
    L: list[str] = []
    if src.is_run_folder or (src.run and not src.metrics):
        L.append(f"# Run {src.name}: training on {dataset}")
    else:
        L.append(f"# Evaluation of {src.name} on {dataset} ({m.get('split') or src.source.get('split') or '?'})")
    facts = []
    if src.run:
        facts.append(f"run `{src.run.name}`")
        try:
            status = src.run.status
            started = src.started or {}
            if status == "running" and m and str(started.get("pid")) == str(os.getpid()):
                status = "finished"  # the training process writes its report after the test evaluation
            facts.append(f"status {status}")
        except CrackError:
            pass
        done = src.run.epochs_done()
        if cfg.get("epochs"):
            facts.append(f"{done}/{cfg['epochs']} epochs")
        st = src.started or {}
        if st.get("device"):
            facts.append(f"{st['device']}, {st.get('precision', '?')}")
        if st.get("time"):
            facts.append("started " + time.strftime("%Y-%m-%d %H:%M", time.localtime(float(st["time"]))))
    if src.data:
        facts.append(f"data `{src.data}`")
    weights = _weights(src)
    if weights:
        facts.append(f"weights: {weights}")
    if facts:
        L.append("")
        L.append("; ".join(facts) + ".")
    if src.figures.get("rendered") is False:
        L += ["", f"> figures not rendered: {src.figures.get('reason', 'unknown reason')}"]

    L += ["", "## Model architecture", "", image_md(src, paths.ARCHITECTURE_PNG, "architecture", base)]
    if src.started and src.started.get("parameters"):
        L += ["", f"SegDecNet, {cfg.get('architecture', '?')} decoder, {cfg.get('decision_pooling', '?')} decision "
                  f"pooling: {int(src.started['parameters']):,} parameters."]

    L += ["", "## Dataset", "", _dataset_tables(src)]
    if cfg:
        L += ["", "## Run parameters", "", table(("Parameter", "Value"), _param_rows(cfg, src.started))]

    L += ["", "## Test Evaluation" if (m.get("split") in (None, "test")) else f"## Evaluation ({m.get('split')})", ""]
    if m:
        L.append(f"{src.name}: {eval_line(m)}")
        hl = honest_line(m)
        if hl:
            L += ["", hl]
        L += ["", f"AUC = {fmt(m.get('auc'), '.6f', 'undefined')}; AP = {fmt(m.get('ap'), '.6f', 'undefined')} "
                  f"(trapezoid area under the PR curve, as the reference) and "
                  f"{fmt(m.get('ap_sklearn'), '.6f', 'undefined')} (sklearn average_precision_score); "
                  f"{m.get('n', len(src.results))} samples."]
        if m.get("image_score_rule") not in (None, "whole_image"):  # tiles runs: full resolution, sliding windows
            L += ["", f"Image score rule: `{m['image_score_rule']}` (each image predicted at full resolution in "
                      "sliding windows; see trainer/training/sliding.py)."]
        if m.get("undefined"):
            L += ["", f"Undefined on this split: {', '.join(map(str, m['undefined']))}"
                      f"{' (' + str(m['undefined_reason']) + ')' if m.get('undefined_reason') else ''}."]
        L += ["", _op_table(m)]
        if not m.get("honest"):
            L += ["", "No honest operating point: the run has no validation thresholds."]
        L += crack_metrics_md(m)
    else:
        L.append("No evaluation yet (metrics.json is missing: the run has not finished).")

    L += ["", "## ROC", "", image_md(src, paths.ROC_PNG, "ROC", base),
          "", "## Precision Recall", "", image_md(src, paths.PR_PNG, "precision-recall", base),
          "", "## Losses", "",
          "### Loss Segmentation", "", image_md(src, paths.LOSS_SEG_PNG, "loss_seg", base), "",
          "### Loss Decision", "", image_md(src, paths.LOSS_DEC_PNG, "loss_dec", base), "",
          "### Total Loss", "", image_md(src, paths.LOSS_PNG, "loss", base), "",
          "### Validation", "", image_md(src, paths.LOSS_VAL_PNG, "loss_val", base)]
    if src.validation:
        L += ["", _validation_table(src.validation), "", "★ = best validation AP (the weights used for test when "
              "`use_best_model` is on)."]
    L += ["", "### Dice and IoU", "", image_md(src, paths.DICE_IOU_PNG, "dice_iou", base)]

    if m:
        def img(rel: str, alt: str) -> str:
            return image_md(src, rel, alt, base)
        L += calibration_md(m, img)
        L += measurement_md(src.folder, img, cfg.get("width_alarm_mm", KEYS["width_alarm_mm"].default))

    L += ["", "## Dices", ""]
    if m:
        L += [f"Threshold = {fmt(m.get('seg_threshold'))} ({threshold_source(src)})", "", dice_table(m)]
        h = m.get("honest")
        if h and num(h.get("seg_threshold")) is not None:
            L += ["", f"Honest: threshold = {fmt(h.get('seg_threshold'))} (best validation epoch)", "",
                  dice_table(h)]
        picks = src.dice_picks()
        pics = [(g, n, d, src.dice_file(n, d)) for g, n, d in picks]
        pics = [p for p in pics if p[3] is not None]
        if pics:
            L += ["", "Worst, median and best positives:", ""]
            for g, n, d, f in pics:
                L += [f"![dice_output]({link(f, base)})", ""]
            n_all = len(list((src.folder / paths.DICES).glob("*.png")))
            L.append(f"All {n_all} pictures (file name = Dice, then sample name): "
                     f"[dices/]({link(src.folder / paths.DICES, base)})")
        elif not (src.folder / paths.DICES).is_dir():
            reason = (src.figures.get("skipped") or {}).get("dices") or src.figures.get("reason") or "not rendered"
            L += ["", f"_dices/: {reason}_"]
    else:
        L.append("No evaluation yet.")

    L += ["", "## Log", ""]
    log = (src.run.log_path if src.run else None)
    if log is not None and log.is_file():
        L.append(f"[log.txt]({link(log, base)})")
    else:
        L.append("_no log.txt_")
    return "\n".join(L) + "\n"
