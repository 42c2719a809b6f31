#!/usr/bin/env bash
# Differential fuzzing campaigns against Debian's squid, squidGuard, unbound and dnsmasq on
# 127.0.0.1 (tests/e2e/daemon_fuzz.py): generated configs run through the real program and
# through policy-lint; prints examples run and disagreements found per daemon. Each disagreeing
# config is saved under fuzz-failures/daemons/ with the probes that differ; shrink it with the
# test (tests/e2e/test_daemon_fuzz.py) and keep it there as an @example once understood.
# A daemon that is not installed is skipped, saying so.
#   scripts/fuzz-daemons.sh [EXAMPLES_PER_DAEMON (default 100)] [SEED (default: the date)] [DAEMON...]
set -euo pipefail
cd "$(dirname "$0")/.."
examples="${1:-100}"
seed="${2:-$(date +%Y%m%d)}"
shift $(( $# > 2 ? 2 : $# ))
.venv/bin/python - "$examples" "$seed" "$@" <<'PY'
import shutil, sys, time
from pathlib import Path
from policy_lint.catalog import load_catalog
from tests.e2e.daemon_fuzz import DAEMONS, campaign
from tests.e2e.dnsmasq_harness import find_dnsmasq
from tests.e2e.squid_harness import find_squid
from tests.e2e.squidguard_harness import find_squidguard
from tests.e2e.unbound_harness import find_checkconf, find_unbound

examples, seed = int(sys.argv[1]), int(sys.argv[2])
chosen = sys.argv[3:] or list(DAEMONS)
present = {
    "squid": find_squid() is not None,
    "squidguard": find_squidguard() is not None,
    "unbound": find_unbound() is not None and find_checkconf() is not None,
    "dnsmasq": find_dnsmasq() is not None,
}
catalog = load_catalog()
out = Path("fuzz-failures/daemons")
total = 0
for daemon in chosen:
    if not present[daemon]:
        print(f"{daemon}: not installed, skipped")
        continue
    start = time.time()
    tally = campaign(daemon, examples, seed, catalog, out)
    total += tally.disagreements
    print(f"{daemon}: {tally.examples} examples (seed {seed}), {tally.disagreements} disagreements, {time.time() - start:.0f} s")
    for path in tally.saved[:10]:
        print(f"  {path}")
sys.exit(1 if total else 0)
PY
