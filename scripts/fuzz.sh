#!/usr/bin/env bash
# Longer parser-fuzzing campaigns than CI runs: mutated real configs (examples/ and the shared
# corpus) and random bytes into every dialect. Prints cases run and failures found; failing inputs
# are kept under fuzz-failures/ with the traceback. Then differential fuzzing against the real
# daemons (scripts/fuzz-daemons.sh: squid, squidGuard, unbound, dnsmasq on 127.0.0.1), with
# DAEMON_EXAMPLES examples each (default 100; 0 skips it).
#   scripts/fuzz.sh [CASES_PER_DIALECT (default 200)] [SEED (default: the date)]
set -euo pipefail
cd "$(dirname "$0")/.."
cases="${1:-200}"
seed="${2:-$(date +%Y%m%d)}"
status=0
.venv/bin/python - "$cases" "$seed" <<'PY' || status=1
import sys, time
from pathlib import Path
from policy_lint.catalog import load_catalog
from policy_lint.policy import strict_policy
from tests.fuzz.parsers import campaign, save

cases, seed = int(sys.argv[1]), int(sys.argv[2])
catalog = load_catalog()
run = failed = 0
start = time.time()
for dialect, failure in campaign(cases, seed, catalog, strict_policy(catalog)):
    run += 1
    if failure is not None:
        failed += 1
        print(f"FAIL {dialect}: {failure.mutation} of {failure.seed} -> {save(failure, Path('fuzz-failures'))}")
print(f"parser fuzzing: {run} cases (seed {seed}), {failed} failures, {time.time() - start:.0f} s")
sys.exit(1 if failed else 0)
PY
daemon_examples="${DAEMON_EXAMPLES:-100}"
if [ "$daemon_examples" -gt 0 ]; then
    bash scripts/fuzz-daemons.sh "$daemon_examples" "$seed" || status=1
fi
exit $status
