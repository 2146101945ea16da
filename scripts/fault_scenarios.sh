#!/usr/bin/env bash
# Run every reliability scenario of issue 5 locally - the slow ones included - and print one
# result line per scenario, then the figures the tests recorded (JSON lines).
#
#   bash scripts/fault_scenarios.sh            # full budgets: 1,500 API requests, 300 files
#   RECSVC_FUZZ_EXAMPLES=300 bash scripts/fault_scenarios.sh
#
# Scenario 4 (reload under load) and the load test are benchmarks/load_test.py.
# The tmpfs and chattr scenarios need root (they skip otherwise, and say so).
set -uo pipefail
cd "$(dirname "$0")/.."

export OPENBLAS_NUM_THREADS=1 OMP_WAIT_POLICY=passive RECSVC_SLOW=1
export RECSVC_FUZZ_EXAMPLES=${RECSVC_FUZZ_EXAMPLES:-1500}
export RECSVC_ADAPTER_EXAMPLES=${RECSVC_ADAPTER_EXAMPLES:-300}
RECSVC_RELIABILITY_REPORT=$(mktemp --suffix=.jsonl)
export RECSVC_RELIABILITY_REPORT
logs=$(mktemp -d)
status=0

scenario() {  # scenario NAME PYTEST-ARGS...
  local name=$1 log
  shift
  log="$logs/$(echo "$name" | tr -c 'a-z0-9' '_').log"
  local start=$SECONDS
  .venv/bin/pytest -q -p no:cacheprovider -rs "$@" >"$log" 2>&1
  local code=$?
  local outcome="PASS"
  [ "$code" -ne 0 ] && outcome="FAIL" && status=1
  local summary
  summary=$(grep -E '^[0-9]+ (passed|failed)|(passed|failed|skipped|error).* in [0-9.]+s' "$log" | tail -1)
  printf '%-4s  %-48s %s [%ss] log: %s\n' "$outcome" "$name" "$summary" "$((SECONDS - start))" "$log"
}

faults=tests/reliability/test_faults.py
scenario "bad input: adapters and parsers (hypothesis)" tests/reliability/test_adapter_fuzz.py
scenario "bad input: API fuzzing (schemathesis)" tests/reliability/test_api_fuzz.py -k generated
scenario "bad input: API hand-picked cases" tests/reliability/test_api_fuzz.py -k "not generated"
scenario "fault 1: broken bundle refused while serving" $faults -k "broken_bundle or poller or test_start_"
scenario "fault 2: training killed at every stage" $faults -k "training_killed or killed_one"
scenario "fault 2: disk full during export" $faults -k "during_export"
scenario "fault 3: service killed while events stream" $faults -k "acknowledged_events"
printf '%-4s  %-48s %s\n' "----" "fault 4: reload under load" "see benchmarks/load_test.py"
scenario "fault 5: event store locked/read-only/full" $faults -k "store or volume or gives_503"
scenario "security and privacy" tests/reliability/test_security.py

echo
echo "figures recorded by the tests ($RECSVC_RELIABILITY_REPORT):"
cat "$RECSVC_RELIABILITY_REPORT"
exit $status
