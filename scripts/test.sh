#!/usr/bin/env bash
# Installs what is missing, then runs the whole test suite (offscreen Qt, no display needed).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export QT_QPA_PLATFORM=offscreen
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
