#!/usr/bin/env bash
# Install what the browser tests (tests/browser/) need: Debian's Chromium and the Python
# `playwright` package in .venv. Idempotent.
#
# No browser is downloaded: `playwright install` is never run. The tests launch Debian's
# /usr/bin/chromium through Playwright's `executable_path`, so the Python package (which
# ships its own driver) is all Playwright needs.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-browser: /usr/bin/chromium is missing; run as root or: sudo apt-get install chromium chromium-driver" >&2
    exit 2
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-dejavu-core >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  echo "install-browser: .venv is missing; run scripts/setup.sh first" >&2
  exit 2
fi
if ! .venv/bin/python -c 'import playwright' 2>/dev/null; then
  .venv/bin/python -m pip --disable-pip-version-check -q install "playwright>=1.45,<2"
fi
