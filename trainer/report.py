"""The run report (README.md with the published report's sections, filled in from one run) and the side-by-side
comparison of several runs. Qt-free: the figures are drawn by `crackviewer.render` in a SUBPROCESS
(`render_figures`), so the training process never imports Qt.

    write_run_report("runs/r1")                         # renders the figures, then writes runs/r1/README.md
    write_run_report("evals/other", run_dir="runs/r1")  # a bare evaluation folder (crack-train eval --out)
    write_comparison(["runs/r1", "runs/r2"], "comparison.md")

Set CRACK_REPORT_FIGURES=0 in the environment to write reports without rendering figures (fast tests).
"""
from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from trainer.errors import CrackError
from trainer.runfolder import RunFolder, read_results

PLOT_FILES = ("ROC.png", "precision-recall.png", "loss.png", "loss_seg.png", "loss_dec.png", "loss_val.png",
              "dice_iou.png", "architecture.png")
ROOT = Path(__file__).resolve().parents[1]

# The published report's names first (its order), then ours.
PARAM_NAMES: list[tuple[str, str]] = [
    ("batch_size", "Batch size"),
    ("epochs", "Epochs"),
    ("learning_rate", "Learning rate"),
    ("delta_cls_loss", "Delta CLS Loss"),
    ("dilate", "Dilate"),
    ("dyn_balanced_loss", "Dynamically balanced loss"),
    ("frequency_sampling", "Frequency-of-use sampling"),
    ("gradient_adjustment", "Gradient-flow adjustment"),
    ("weighted_seg_loss", "Weighted segmentation loss"),
    ("use_best_model", "Use best model"),
    ("validate", "Validate"),
    ("validate_on_test", "Validate on test"),
    ("dice_threshold", "Dice threshold"),
    ("dice_threshold_factor", "Dice threshold factor"),
    # beyond the published table
    ("weighted_seg_loss_p", "Weighted segmentation loss p"),
    ("weighted_seg_loss_max", "Weighted segmentation loss max"),
    ("validation_n_epochs", "Validation every N epochs"),
    ("num_segmented", "Segmented samples (-1 = all positives)"),
    ("architecture", "Architecture"),
    ("decision_pooling", "Decision pooling"),
    ("input_height", "Input height"),
    ("input_width", "Input width"),
    ("grad_accumulation", "Gradient accumulation (batches per step)"),
    ("seed", "Seed"),
    ("device", "Device"),
    ("precision", "Precision"),
    ("num_workers", "Data loader workers"),
    ("skip_bad_samples", "Skip bad samples"),
    ("val_fraction", "Validation fraction (carved from train)"),
    ("save_images", "Save images"),
]
SPLIT_ROWS = (("train", "Train"), ("test", "Test"), ("val", "Validation"))


def dice_png_name(dice: float, name: str) -> str:
    """File name of a sample's picture in dices/: `{dice:.3f}_dice_{name}.png`, '/' and '\\' in the name -> '__'."""
    safe = str(name).replace("/", "__").replace("\\", "__")
    return f"{float(dice):.3f}_dice_{safe}.png"


# ------------------------------------------------------------------------------------------------------ figures
def _figures_env() -> dict:
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "offscreen"
    pp = env.get("PYTHONPATH", "")
    if str(ROOT) not in pp.split(os.pathsep):
        env["PYTHONPATH"] = str(ROOT) + (os.pathsep + pp if pp else "")
    return env


def _write_figures_json(folder: Path, info: dict) -> None:
    try:
        (folder / "figures.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    except OSError:
        pass


def render_figures(folder: str | Path, run_dir: str | Path | None = None, data: str | Path | None = None, *,
                   dices: bool = True, timeout: float | None = None) -> bool:
    """Draw every figure of `folder` with `python -m crackviewer.render` in a subprocess (offscreen Qt).

    Returns True when all drawable figures were written. On failure (PySide6/pyqtgraph missing, a crash, a
    timeout) returns False and records the reason in folder/figures.json, which the report quotes."""
    folder = Path(folder).resolve()  # the renderer runs with cwd=folder, so relative paths would point elsewhere
    run_dir = Path(run_dir).resolve() if run_dir is not None else None
    data = Path(data).resolve() if data is not None else None
    missing = [m for m in ("PySide6", "pyqtgraph") if importlib.util.find_spec(m) is None]
    if missing:
        _write_figures_json(folder, {"rendered": False, "reason": f"{' and '.join(missing)} not installed "
                                     "(pip install PySide6-Essentials pyqtgraph)"})
        return False
    cmd = [sys.executable, "-m", "crackviewer.render", str(folder)]
    if run_dir is not None:
        cmd += ["--run", str(run_dir)]
    if data is not None:
        cmd += ["--data", str(data)]
    if not dices:
        cmd.append("--no-dices")
    if timeout is None:
        n = 0
        try:
            n = sum(1 for _ in (folder / "probs").iterdir()) if (folder / "probs").is_dir() else 0
        except OSError:
            pass
        timeout = 180 + 0.5 * n
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=_figures_env(),
                              cwd=str(folder))
    except subprocess.TimeoutExpired:
        _write_figures_json(folder, {"rendered": False, "reason": f"rendering took longer than {timeout:.0f} s"})
        return False
    except OSError as exc:
        _write_figures_json(folder, {"rendered": False, "reason": f"cannot start {sys.executable}: {exc}"})
        return False
    if proc.returncode == 0:
        return True
    info = _read_figures_json(folder)
    if info and info.get("errors"):
        info["reason"] = "; ".join(f"{k}: {v}" for k, v in info["errors"].items())
    else:
        tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-3:]
        info = {"rendered": False, "reason": f"renderer exited with status {proc.returncode}: "
                + " | ".join(tail)[-400:], "seconds": round(time.perf_counter() - t0, 2)}
    info["rendered"] = False
    _write_figures_json(folder, info)
    return False


def _read_figures_json(folder: Path) -> dict | None:
    try:
        return json.loads((folder / "figures.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


# ------------------------------------------------------------------------------------------------------ formatting
def _num(v: Any) -> float | None:
    if v is None or isinstance(v, bool):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def fmt(v: Any, spec: str = ".4f", undefined: str = "n/a") -> str:
    f = _num(v)
    if f is None:
        return undefined
    if spec == "d":
        return str(int(round(f)))
    return format(f, spec)


def _fmt_param(v: Any) -> str:
    if isinstance(v, bool):
        return "True" if v else "False"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], align: str | None = None) -> str:
    sep = [(":---:" if align == "center" else "-----------") for _ in header]
    lines = ["| " + " | ".join(str(h) for h in header) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _link(path: Path, base: Path) -> str:
    rel = os.path.relpath(path, base).replace(os.sep, "/")
    if not rel.startswith("."):
        rel = "./" + rel
    return f"<{rel}>" if any(c in rel for c in " ()") else rel


def eval_line(m: dict, split: str | None = None) -> str:
    """The reference's line: `EVAL on TEST AUC=…, and AP=…, w/ best thr=… at f-m=… and FP=…, FN=…`."""
    s = (split or m.get("split") or "test").upper()
    u = "undefined"
    return (f"EVAL on {s} AUC={fmt(m.get('auc'), '.6f', u)}, and AP={fmt(m.get('ap'), '.6f', u)}, w/ best "
            f"thr={fmt(m.get('best_threshold'), '.6f', u)} at f-m={fmt(m.get('f_measure'), '.3f', u)} and "
            f"FP={fmt(m.get('fp'), 'd')}, FN={fmt(m.get('fn'), 'd')}")


def honest_line(m: dict) -> str | None:
    h = m.get("honest")
    if not h:
        return None
    u = "undefined"
    return (f"Honest (thresholds chosen on validation at the best epoch): image thr="
            f"{fmt(h.get('image_threshold'), '.6f', u)} → f-m={fmt(h.get('f_measure'), '.3f', u)}, "
            f"FP={fmt(h.get('fp'), 'd')}, FN={fmt(h.get('fn'), 'd')}; seg thr={fmt(h.get('seg_threshold'), '.4f', u)}"
            f" → Dice {fmt(h.get('dice_mean'))} ± {fmt(h.get('dice_std'))}, IoU {fmt(h.get('iou_mean'))} ± "
            f"{fmt(h.get('iou_std'))}")


# ------------------------------------------------------------------------------------------------------ gathering
class _Source:
    """Everything a report needs about one run / evaluation folder."""

    def __init__(self, folder: str | Path, run_dir: str | Path | None = None):
        self.folder = Path(folder)
        self.source = {}
        sp = self.folder / "source.json"
        if sp.is_file():
            try:
                self.source = json.loads(sp.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                self.source = {}
        here = RunFolder(self.folder)
        if run_dir is not None:
            self.run: RunFolder | None = RunFolder(run_dir)
        elif here.is_run():
            self.run = here
        elif self.source.get("run") and Path(self.source["run"]).is_dir():
            self.run = RunFolder(self.source["run"])
        elif self.folder.parent.name == "evals" and RunFolder(self.folder.parent.parent).is_run():
            self.run = RunFolder(self.folder.parent.parent)
        else:
            self.run = None
        self.is_run_folder = self.run is not None and self.run.path.resolve() == self.folder.resolve()
        self.metrics = here.metrics() or {}
        self.config = self.run.config_or_empty() if self.run else {}
        self.losses = self.run.losses() if self.run else []
        self.validation = self.run.validation() if self.run else []
        self.started = self.run.run_started() if self.run else None
        self.results = read_results(self.folder / "results.csv")
        self.figures = _read_figures_json(self.folder) or {}
        data = self.source.get("data") or (self.run.data_path if self.run else None)
        self.data = Path(data) if data else None
        self.name = self.run.name if self.run else self.folder.name

    def has(self, rel: str) -> bool:
        return (self.folder / rel).is_file()

    def input_hw(self) -> tuple[Any, Any]:
        hw = self.metrics.get("input_hw")
        if hw:
            return hw[0], hw[1]
        return self.config.get("input_height", "n/a"), self.config.get("input_width", "n/a")

    def counts(self) -> dict | None:
        c = (self.started or {}).get("counts")
        return c if isinstance(c, dict) and not (self.source and not self.is_run_folder) else None

    def dice_picks(self, n_each: int = 2) -> list[tuple[str, str, float]]:
        """(group, name, dice) of the worst, median and best positives with a Dice (falls back to all samples)."""
        rows = [r for r in self.results if _num(r.get("dice")) is not None]
        pos = [r for r in rows if int(r.get("label", 0) or 0) == 1]
        pool = sorted(pos or rows, key=lambda r: (float(r["dice"]), r["name"]))
        if not pool:
            return []
        picks: list[tuple[str, str, float]] = []
        seen = set()
        mid = len(pool) // 2
        groups = (("worst", pool[:n_each]), ("median", pool[max(0, mid - n_each // 2):][:n_each]),
                  ("best", pool[::-1][:n_each][::-1]))
        for g, rs in groups:
            for r in rs:
                if r["name"] not in seen:
                    seen.add(r["name"])
                    picks.append((g, r["name"], float(r["dice"])))
        return picks

    def dice_file(self, name: str, dice: float | None = None) -> Path | None:
        d = self.folder / "dices"
        if dice is not None and (d / dice_png_name(dice, name)).is_file():
            return d / dice_png_name(dice, name)
        safe = str(name).replace("/", "__").replace("\\", "__")
        hits = sorted(d.glob(f"*_dice_{safe}.png")) if d.is_dir() else []
        return hits[0] if hits else None

    def best_val(self) -> dict | None:
        best = None
        for r in self.validation:
            if _num(r.get("ap")) is not None and (best is None or r["ap"] > best["ap"]):
                best = r
        return best

    def final_loss(self, key: str) -> float | None:
        return _num(self.losses[-1].get(key)) if self.losses else None


def _image(src: _Source, rel: str, alt: str, base: Path) -> str:
    if src.has(rel):
        return f"![{alt}]({_link(src.folder / rel, base)})"
    reason = src.figures.get("reason") or (src.figures.get("skipped") or {}).get(
        {"loss.png": "losses", "loss_seg.png": "losses", "loss_dec.png": "losses", "loss_val.png": "losses",
         "dice_iou.png": "dice_iou", "architecture.png": "architecture"}.get(rel, ""), "")
    return f"_{rel}: not rendered{': ' + reason if reason else ''}_"


def _dataset_tables(src: _Source) -> str:
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
        out = _table(("Parameter", "Value"), params) + "\n\n" + _table(("Set", "Positives", "Negatives", "Sum"), rows)
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
    return (_table(("Parameter", "Value"), params) + "\n\n" +
            _table(("Set", "Positives", "Negatives", "Sum"), [(split, p, n, p + n), ("**Sum**", p, n, p + n)]))


def _param_rows(cfg: dict, started: dict | None) -> list[tuple[str, str]]:
    rows = []
    for key, name in PARAM_NAMES:
        if key not in cfg:
            continue
        if key in ("weighted_seg_loss_p", "weighted_seg_loss_max") and not cfg.get("weighted_seg_loss"):
            continue
        val = _fmt_param(cfg[key])
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
    return _table(("Operating point", "Image thr", "F-measure", "TP", "FP", "FN", "TN", "Seg thr", "Dice", "IoU"),
                  rows)


def _dice_table(m: dict) -> str:
    return _table(("", "mean", "std"), [("**Dice**", fmt(m.get("dice_mean")), fmt(m.get("dice_std"))),
                                        ("**IoU**", fmt(m.get("iou_mean")), fmt(m.get("iou_std")))])


def _thr_source(src: _Source) -> str:
    s = src.metrics.get("seg_threshold_source")
    if s == "split":
        return "chosen on this split"
    if s == "default":
        return "default: no threshold could be chosen"
    return "From validation"


def _validation_table(rows: list[dict]) -> str:
    out = []
    for r in rows:
        best = " ★" if _num(r.get("is_best")) else ""
        out.append((fmt(r.get("epoch"), "d") + best, fmt(r.get("auc")), fmt(r.get("ap")),
                    fmt(r.get("f_measure"), ".3f"),
                    fmt(r.get("fp"), "d"), fmt(r.get("fn"), "d"), fmt(r.get("seg_threshold")),
                    fmt(r.get("dice_mean")), fmt(r.get("iou_mean")), fmt(r.get("val_loss"))))
    return _table(("Epoch", "AUC", "AP", "F-measure", "FP", "FN", "Seg thr", "Dice", "IoU", "Val loss"), out)


# ------------------------------------------------------------------------------------------------------ run report
def write_run_report(eval_or_run_dir: str | Path, run_dir: str | Path | None = None, *, render: bool | None = None,
                     data: str | Path | None = None) -> Path:
    """Write `README.md` into the run (or evaluation) folder with the published report's sections, filled in from
    this run's files. Renders the figures first (subprocess) unless `render=False` or CRACK_REPORT_FIGURES=0.
    Returns the README path."""
    folder = Path(eval_or_run_dir)
    if not folder.is_dir():
        raise CrackError("folder not found", folder)
    if render is None:
        render = os.environ.get("CRACK_REPORT_FIGURES", "1") != "0"
    if render:
        render_figures(folder, run_dir=run_dir, data=data)
    elif not (folder / "figures.json").is_file() and not any((folder / f).is_file() for f in PLOT_FILES):
        _write_figures_json(folder, {"rendered": False, "reason": "rendering disabled (CRACK_REPORT_FIGURES=0 or "
                                     "render=False)"})
    src = _Source(folder, run_dir)
    md = _run_markdown(src, folder)
    out = folder / "README.md"
    tmp = out.with_suffix(".md.tmp")
    tmp.write_text(md, encoding="utf-8")
    os.replace(tmp, out)
    return out


def _weights(src: _Source) -> str | None:
    """Which weights the evaluation used: the run's `evaluation` event for this folder, else metrics.json."""
    if src.run is not None:
        for e in reversed(src.run.meta_events()):
            if e.get("event") == "evaluation" and e.get("weights") and \
                    Path(str(e.get("out_dir", ""))).resolve() == src.folder.resolve():
                return str(e["weights"])
    ck = src.metrics.get("checkpoint") or src.source.get("checkpoint")
    return f"`{Path(str(ck)).name}`" if ck else None


def _run_markdown(src: _Source, base: Path) -> str:
    m = src.metrics
    cfg = src.config
    dataset = src.data.name if src.data else "an unknown dataset"
    L: list[str] = []
    if src.is_run_folder or (src.run and not src.metrics):
        L.append(f"# Results of training on {dataset}")
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

    L += ["", "## Model architecture", "", _image(src, "architecture.png", "architecture", base)]
    if src.started and src.started.get("parameters"):
        L += ["", f"SegDecNet, {cfg.get('architecture', '?')} decoder, {cfg.get('decision_pooling', '?')} decision "
                  f"pooling: {int(src.started['parameters']):,} parameters."]

    L += ["", "## Dataset", "", _dataset_tables(src)]
    if cfg:
        L += ["", "## Run parameters", "", _table(("Parameter", "Value"), _param_rows(cfg, src.started))]

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
        if m.get("undefined"):
            L += ["", f"Undefined on this split: {', '.join(map(str, m['undefined']))}"
                      f"{' (' + str(m['undefined_reason']) + ')' if m.get('undefined_reason') else ''}."]
        L += ["", _op_table(m)]
        if not m.get("honest"):
            L += ["", "No honest operating point: the run has no validation thresholds."]
    else:
        L.append("No evaluation yet (metrics.json is missing: the run has not finished).")

    L += ["", "## ROC", "", _image(src, "ROC.png", "ROC", base),
          "", "## Precision Recall", "", _image(src, "precision-recall.png", "precision-recall", base),
          "", "## Losses", "",
          "### Loss Segmentation", "", _image(src, "loss_seg.png", "loss_seg", base), "",
          "### Loss Decision", "", _image(src, "loss_dec.png", "loss_dec", base), "",
          "### Total Loss", "", _image(src, "loss.png", "loss", base), "",
          "### Validation", "", _image(src, "loss_val.png", "loss_val", base)]
    if src.validation:
        L += ["", _validation_table(src.validation), "", "★ = best validation AP (the weights used for test when "
              "`use_best_model` is on)."]
    L += ["", "### Dice and IoU", "", _image(src, "dice_iou.png", "dice_iou", base)]

    L += ["", "## Dices", ""]
    if m:
        L += [f"Threshold = {fmt(m.get('seg_threshold'))} ({_thr_source(src)})", "", _dice_table(m)]
        h = m.get("honest")
        if h and _num(h.get("seg_threshold")) is not None:
            L += ["", f"Honest: threshold = {fmt(h.get('seg_threshold'))} (best validation epoch)", "",
                  _dice_table(h)]
        picks = src.dice_picks()
        pics = [(g, n, d, src.dice_file(n, d)) for g, n, d in picks]
        pics = [p for p in pics if p[3] is not None]
        if pics:
            L += ["", "Worst, median and best positives:", ""]
            for g, n, d, f in pics:
                L += [f"![dice_output]({_link(f, base)})", ""]
            n_all = len(list((src.folder / "dices").glob("*.png")))
            L.append(f"All {n_all} pictures (file name = Dice, then sample name): "
                     f"[dices/]({_link(src.folder / 'dices', base)})")
        elif not (src.folder / "dices").is_dir():
            reason = (src.figures.get("skipped") or {}).get("dices") or src.figures.get("reason") or "not rendered"
            L += ["", f"_dices/: {reason}_"]
    else:
        L.append("No evaluation yet.")

    L += ["", "## Log", ""]
    log = (src.run.log_path if src.run else None)
    if log is not None and log.is_file():
        L.append(f"[log.txt]({_link(log, base)})")
    else:
        L.append("_no log.txt_")
    return "\n".join(L) + "\n"


# ------------------------------------------------------------------------------------------------------ comparison
# (label, getter, higher_is_better, format)
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
    vals = [_num(v) for v in values]
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
        render_missing = os.environ.get("CRACK_REPORT_FIGURES", "1") != "0"
    if render_missing:
        for d in run_dirs:
            if not (Path(d) / "figures.json").is_file():
                render_figures(d)
    out = Path(out_md)
    out.parent.mkdir(parents=True, exist_ok=True)
    base = out.parent
    srcs = [_Source(d) for d in run_dirs]
    cols = [f"Run {i + 1}" for i in range(len(srcs))]
    L = ["# Comparison of " + ", ".join(f"{c} (`{s.name}`)" for c, s in zip(cols, srcs)), ""]
    L.append(_table(("", *cols), [
        ("Folder", *[f"[{s.name}]({_link(s.folder, base)})" for s in srcs]),
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
        if all(_num(v) is None for v in vals):
            continue
        b = better_run(vals, hib)
        cells = []
        for i, v in enumerate(vals):
            txt = fmt(v, spec)
            cells.append(f"**{txt}**" if b == i else txt)
        if b is not None:
            wins[b] += 1
            verdict = cols[b]
        elif any(_num(v) is None for v in vals):
            verdict = "n/a"
        else:
            verdict = "tie"
            ties += 1
        rows.append((label + ("" if hib else " (lower is better)"), *cells, verdict))
    L += ["", "## Summary", "", _table(("Metric", *cols, "Better"), rows)]
    if rows:
        parts = [f"{c} is better on {w} of {len(rows)} metrics" for c, w in zip(cols, wins)]
        L += ["", "; ".join(parts) + (f"; {ties} ties." if ties else ".")]

    L += ["", "## Model architecture"]
    for c, s in zip(cols, srcs):
        L += ["", f"### {c}", "", _image(s, "architecture.png", f"{c.lower().replace(' ', '')}_architecture", base)]

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
    L.append(_table(("Parameter", *cols), [(k, *[v[i] for v in vals]) for i, k in enumerate(keys)]))

    L += ["", "## Run parameters", ""]
    prow = []
    for key, name in PARAM_NAMES:
        vs = [s.config.get(key) for s in srcs]
        if all(v is None for v in vs):
            continue
        if key in ("weighted_seg_loss_p", "weighted_seg_loss_max") and not any(
                s.config.get("weighted_seg_loss") for s in srcs):
            continue
        txt = [_fmt_param(v) if v is not None else "n/a" for v in vs]
        differs = len(set(txt)) > 1
        prow.append((f"**{name}**" if differs else name, *txt))
    L.append(_table(("Parameter", *cols), prow))
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
                          " | ".join(_image(s, rel, alt, base) for s in srcs)])

    L += ["## ROC", "", side("ROC.png", "ROC"), "", "## Precision Recall", "",
          side("precision-recall.png", "precision-recall"), "", "## Losses", "",
          "### Loss Segmentation", "", side("loss_seg.png", "loss_seg"), "",
          "### Loss Decision", "", side("loss_dec.png", "loss_dec"), "",
          "### Total Loss", "", side("loss.png", "loss"), "",
          "### Validation", "", side("loss_val.png", "loss_val"), "",
          "### Dice and IoU", "", side("dice_iou.png", "dice_iou"), "", "## Dices"]
    for c, s in zip(cols, srcs):
        L += ["", f"### {c}"]
        if s.metrics:
            L += [f"Threshold = {fmt(s.metrics.get('seg_threshold'))} ({_thr_source(s)})", "", _dice_table(s.metrics)]
        else:
            L.append("No evaluation.")
    picks = srcs[0].dice_picks()
    pic_rows = []
    for _, name, d in picks:
        cells = []
        for s in srcs:
            f = s.dice_file(name)
            cells.append(f"![dice_output]({_link(f, base)})" if f else f"_{name}: no picture_")
        if any(not c.startswith("_") for c in cells):
            pic_rows.append(" | ".join(cells))
    if pic_rows:
        L += ["", "The same samples in every run (worst, median and best of Run 1):", "",
              " | ".join(cols), " | ".join(":---:" for _ in cols), *pic_rows]

    L += ["", "## Outputs", ""]
    for c, s in zip(cols, srcs):
        log = s.run.log_path if s.run else None
        L += [f"[{c}]({_link(log, base)})" if log is not None and log.is_file() else f"{c}: no log.txt", ""]
    out.write_text("\n".join(L).rstrip() + "\n", encoding="utf-8")
    return out
