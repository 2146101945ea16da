#!/usr/bin/env bash
# The main job: set up .venv, train on both Online Retail years, serve the API and the demo.
# Runs in dev mode (no admin token, a dev hashing key); see README "Production settings".
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export OPENBLAS_NUM_THREADS=1 OMP_WAIT_POLICY=passive
data=${RECSVC_DATA:-../shared/data/online_retail}
port=${PORT:-8000}
.venv/bin/recsvc train \
  --data "$data/online_retail_II_2009-2010.parquet" \
  --data "$data/online_retail.parquet" \
  --out models
export RECSVC_DEV_MODE=true RECSVC_DEMO=true RECSVC_CLOCK=bundle RECSVC_EVENT_STORE_URL=${RECSVC_EVENT_STORE_URL:-sqlite:///var/events.db}
mkdir -p var
cat <<MSG

  API docs:     http://127.0.0.1:$port/docs
  Demo shop:    http://127.0.0.1:$port/demo/
  Try:          curl 'http://127.0.0.1:$port/v1/items/85123A/related?k=5&country=United%20Kingdom'
                curl 'http://127.0.0.1:$port/v1/users/17850/recommendations?k=5'
                curl -X POST 'http://127.0.0.1:$port/v1/cart/recommendations' \\
                     -H 'content-type: application/json' -d '{"items": ["85123A", "71053"], "k": 5}'

MSG
exec .venv/bin/recsvc serve --models models --host 127.0.0.1 --port "$port"
