#!/usr/bin/env bash
# The main job on the bundled sample configs: creates .venv, installs policy-lint, lints examples/.
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
[ "$status" -le 1 ]
