#!/usr/bin/env bash
# Mirror the Dockerfile's install without Docker: a fresh venv with only the serving
# dependencies must import and start the service, and must not have training libraries.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(mktemp -d)/image-venv
trap 'rm -rf "$(dirname "$venv")"' EXIT
python_bin=${PYTHON:-python3.11}
command -v "$python_bin" >/dev/null || python_bin=python3
"$python_bin" -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check -c requirements.lock .
for heavy in polars implicit lightfm scipy; do
  if "$venv/bin/python" -c "import $heavy" 2>/dev/null; then
    echo "image-check: $heavy is installed in the serving image" >&2; exit 1
  fi
done
RECSVC_DEV_MODE=true "$venv/bin/python" -c "import recsvc.main"
"$venv/bin/recsvc" serve --help >/dev/null
echo "image-check: serving-only install imports and starts its CLI"
