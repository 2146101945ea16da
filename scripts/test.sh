#!/usr/bin/env bash
# Set up .venv and run every check CI runs: lint, types, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/install-browser.sh
export OPENBLAS_NUM_THREADS=1 OMP_WAIT_POLICY=passive
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
bash scripts/image-check.sh
.venv/bin/pytest -q "$@"
