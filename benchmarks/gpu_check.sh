#!/usr/bin/env bash
# One prepared check of the CUDA path (under 8 minutes on one GPU); see benchmarks/gpu_check.py.
# Usage: bash benchmarks/gpu_check.sh [--data DIR] [--budget SECONDS]
# Python: $PYTHON, else ./.venv/bin/python, else python3. If torch is missing and a wheel folder is given
# ($WHEELS, or ./wheels), torch and the project's dependencies are installed from it offline first.
set -u
cd "$(dirname "$0")/.."
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
if ! command -v "$PY" >/dev/null 2>&1; then
  echo "error: no Python interpreter ($PY) found; set PYTHON=/path/to/python" ; exit 2
fi
if ! "$PY" -c "import torch" >/dev/null 2>&1; then
  WHEELS="${WHEELS:-wheels}"
  if [ -d "$WHEELS" ]; then
    echo "torch is missing for $PY: installing from $WHEELS (offline)"
    "$PY" -m pip install -q --no-index --find-links "$WHEELS" torch numpy opencv-python-headless scikit-learn \
      || { echo "error: could not install torch from $WHEELS"; exit 2; }
  else
    echo "error: torch is not installed for $PY and no wheel folder (\$WHEELS or ./wheels) was found;"
    echo "       install torch + numpy + opencv-python-headless + scikit-learn, or set PYTHON=... to a venv that has them"
    exit 2
  fi
fi
exec "$PY" benchmarks/gpu_check.py "$@"
