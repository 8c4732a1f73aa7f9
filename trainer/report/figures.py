"""Report figures: drawn by the figures package (``python -m figures.render``) in a SUBPROCESS, so the trainer never
imports Qt. When the figures package (or PySide6/pyqtgraph) is not installed, the report is written without
figures and says why (figures.json's ``reason``, quoted by the report), and a log line says so too.
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from trainer.atomic import atomic_write_text
from trainer.runs import paths

ROOT = Path(__file__).resolve().parents[2]
RENDER_MODULE = "figures.render"


def figures_enabled() -> bool:
    """Reports render figures unless CRACK_REPORT_FIGURES=0 is set (fast tests)."""
    return os.environ.get("CRACK_REPORT_FIGURES", "1") != "0"


def figures_missing() -> str | None:
    """Why figures cannot be drawn in this installation (a sentence), or None when they can."""
    if importlib.util.find_spec("figures") is None:
        return "the figures package is not installed (the report has no figures)"
    missing = [m for m in ("PySide6", "pyqtgraph") if importlib.util.find_spec(m) is None]
    if missing:
        return f"{' and '.join(missing)} not installed (pip install PySide6-Essentials pyqtgraph)"
    return None


def _figures_env() -> dict:
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "offscreen"
    pp = env.get("PYTHONPATH", "")
    if str(ROOT) not in pp.split(os.pathsep):
        env["PYTHONPATH"] = str(ROOT) + (os.pathsep + pp if pp else "")
    return env


def write_figures_json(folder: Path, info: dict) -> None:
    """figures.json: what the renderer drew, skipped or failed (the report quotes its reasons)."""
    try:
        atomic_write_text(folder / paths.FIGURES_INFO, json.dumps(info, indent=2) + "\n")
    except OSError:
        pass


def read_figures_json(folder: Path) -> dict | None:
    try:
        return json.loads((folder / paths.FIGURES_INFO).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def render_figures(folder: str | Path, run_dir: str | Path | None = None, data: str | Path | None = None, *,
                   dices: bool = True, timeout: float | None = None) -> bool:
    """Draw every figure of `folder` with ``python -m figures.render`` in a subprocess (offscreen Qt).

    Returns True when all drawable figures were written. On failure (the figures package or PySide6/pyqtgraph
    missing, a crash, a timeout) returns False and records the reason in folder/figures.json, which the report
    quotes, and prints it as a log line on stderr."""
    folder = Path(folder).resolve()  # the renderer runs with cwd=folder, so relative paths would point elsewhere
    run_dir = Path(run_dir).resolve() if run_dir is not None else None
    data = Path(data).resolve() if data is not None else None
    missing = figures_missing()
    if missing:
        print(f"report figures not drawn: {missing}", file=sys.stderr)
        write_figures_json(folder, {"rendered": False, "reason": missing})
        return False
    cmd = [sys.executable, "-m", RENDER_MODULE, str(folder)]
    if run_dir is not None:
        cmd += ["--run", str(run_dir)]
    if data is not None:
        cmd += ["--data", str(data)]
    if not dices:
        cmd.append("--no-dices")
    if timeout is None:
        n = 0
        try:
            n = sum(1 for _ in (folder / paths.PROBS).iterdir()) if (folder / paths.PROBS).is_dir() else 0
        except OSError:
            pass
        timeout = 180 + 0.5 * n
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=_figures_env(),
                              cwd=str(folder))
    except subprocess.TimeoutExpired:
        write_figures_json(folder, {"rendered": False, "reason": f"rendering took longer than {timeout:.0f} s"})
        return False
    except OSError as exc:
        write_figures_json(folder, {"rendered": False, "reason": f"cannot start {sys.executable}: {exc}"})
        return False
    if proc.returncode == 0:
        return True
    info = read_figures_json(folder)
    if info and info.get("errors"):
        info["reason"] = "; ".join(f"{k}: {v}" for k, v in info["errors"].items())
    else:
        tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-3:]
        info = {"rendered": False, "reason": f"renderer exited with status {proc.returncode}: "
                + " | ".join(tail)[-400:], "seconds": round(time.perf_counter() - t0, 2)}
    info["rendered"] = False
    write_figures_json(folder, info)
    return False
