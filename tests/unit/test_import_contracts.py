"""The import rules of pyproject.toml's [tool.importlinter] hold (trainer never imports Qt or the app, the layers
inside trainer, figures never imports the app, the GUI never imports torch), and a break would be caught."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PACKAGES = ("trainer", "figures", "crackviewer")


def _lint(cwd: Path) -> subprocess.CompletedProcess:
    if not LINT_IMPORTS.is_file():
        pytest.skip(f"import-linter is not installed next to {sys.executable} (pip install import-linter)")
    env = dict(os.environ, PYTHONPATH=str(cwd))
    return subprocess.run([str(LINT_IMPORTS), str(cwd / "pyproject.toml"), "--no-cache", "--no-logo"], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=300)


def test_import_contracts_hold():
    proc = _lint(ROOT)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


def test_a_gui_module_importing_torch_breaks_the_contracts(tmp_path):
    for pkg in PACKAGES:
        shutil.copytree(ROOT / pkg, tmp_path / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    gui_module = tmp_path / "crackviewer" / "__init__.py"
    gui_module.write_text(gui_module.read_text(encoding="utf-8") + "\nimport torch  # noqa: F401\n", encoding="utf-8")
    proc = _lint(tmp_path)
    assert proc.returncode != 0, proc.stdout[-4000:]
    assert "gui-no-torch" in proc.stdout or "never imports torch" in proc.stdout
    assert "BROKEN" in proc.stdout
