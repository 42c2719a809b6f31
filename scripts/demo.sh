#!/usr/bin/env bash
# The main job on the bundled sample configs: creates .venv, installs policy-lint, lints examples/,
# then reads the office proxy's access.log with `policy-lint traffic`.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --config-settings editable_mode=compat -e .
echo "== policy-lint check examples/  (exit status 1 means findings, as a linter's does)"
set +e
.venv/bin/policy-lint check --policy sample_policies/technology-enablement.yaml examples/
status=$?
set -e
echo "== exit status: $status"
[ "$status" -le 1 ] || exit "$status"
echo
echo "== policy-lint traffic examples/traffic/access.log  (what the office proxy actually did)"
set +e
.venv/bin/policy-lint traffic --policy sample_policies/guest-wifi-exception.yaml examples/traffic/access.log
status=$?
set -e
echo "== exit status: $status"
[ "$status" -le 1 ]
