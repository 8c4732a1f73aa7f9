"""benchmarks/gpu_check.sh on a machine without a GPU: a clear "no GPU" line and exit 0."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_gpu_check_without_gpu_says_so_and_exits_0():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: the full check is a benchmark, not a test")
    env = dict(os.environ, PYTHON=sys.executable, CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh")], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines and lines[-1].startswith("no GPU: "), proc.stdout
    assert "torch.cuda.is_available() is False" in lines[-1]


def test_gpu_check_names_a_missing_python():
    env = dict(os.environ, PYTHON="/nonexistent/python3")
    proc = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh")], capture_output=True, text=True,
                          env=env, timeout=60)
    assert proc.returncode == 2
    assert "no Python interpreter (/nonexistent/python3)" in proc.stdout
