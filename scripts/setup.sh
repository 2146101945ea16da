#!/usr/bin/env bash
# Create or update .venv with the service, training and test dependencies.
# Idempotent; safe to run on every invocation of the quick-start commands.
#
# lightfm 1.17 (the newest release, sdist only) cannot be built under PEP 517 build
# isolation (lyst/lightfm#687, #725): its setup.py writes to __builtins__. It builds on the
# legacy `setup.py bdist_wheel` path, which pip < 25.3 still takes when numpy, setuptools
# and wheel are already installed *in an earlier pip call*. Hence the three steps below.
set -euo pipefail
cd "$(dirname "$0")/.."

python_bin=${PYTHON:-}
if [ -z "$python_bin" ]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      python_bin=$candidate; break
    fi
  done
fi
if [ -z "$python_bin" ]; then
  echo "setup: Python 3.11 is required (set PYTHON=/path/to/python3.11)" >&2
  exit 2
fi

[ -x .venv/bin/python ] || "$python_bin" -m venv .venv
pip=(.venv/bin/python -m pip --disable-pip-version-check -q)
lock=(-c requirements.lock)
"${pip[@]}" install "pip>=23.2,<25.3"
"${pip[@]}" install "${lock[@]}" numpy scipy setuptools wheel cython
if ! .venv/bin/python -c 'import lightfm' 2>/dev/null; then
  "${pip[@]}" install "${lock[@]}" --no-build-isolation "lightfm==1.17"
fi
"${pip[@]}" install "${lock[@]}" -e ".[train,test,spark]"
