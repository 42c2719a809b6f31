#!/usr/bin/env bash
# The whole test suite: creates .venv, installs policy-lint with its test extras, installs the
# Debian programs the end-to-end tests run where it can (root + apt-get), and runs pytest.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --config-settings editable_mode=compat -e '.[test,traffic,scale,spark]'
# Real programs the end-to-end tests run on 127.0.0.1 (Debian packages): squid, unbound,
# dnsmasq, squidGuard, Privoxy, e2guardian, HAProxy, nginx (and its stream module); iptables and nft (syntax authority for the packet
# filter dialects), Chromium (renders the HTML traffic report). policy-rc.d keeps apt from starting them as services.
need() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ]; }
missing=""
need squid || missing="$missing squid"
need unbound || missing="$missing unbound"
need dnsmasq || missing="$missing dnsmasq-base"
need squidGuard || missing="$missing squidguard"
need privoxy || missing="$missing privoxy"
need e2guardian || missing="$missing e2guardian"
need iptables-restore || missing="$missing iptables"
need nft || missing="$missing nftables"
need ip || missing="$missing iproute2"  # network namespaces for tests/e2e/test_network_netns.py
need chromium || missing="$missing chromium"
need haproxy || missing="$missing haproxy"
need nginx || missing="$missing nginx"
need java || missing="$missing default-jre-headless"  # --engine spark (tests/traffic/test_spark.py)
[ -e /usr/lib/nginx/modules/ngx_stream_module.so ] || missing="$missing libnginx-mod-stream"
if [ -n "$missing" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing Debian's$missing for the end-to-end tests"
    made_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=1
    fi
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null) \
        || echo "== could not install$missing; their end-to-end tests will be skipped"
    [ -z "$made_policy" ] || rm -f /usr/sbin/policy-rc.d
fi
status=0
# The project's own checks (configured in pyproject.toml, the same as .pre-commit-config.yaml):
# lint, format and types, on a full run only (arguments select tests).
if [ $# -eq 0 ]; then
    echo "== ruff check, ruff format --check, mypy"
    .venv/bin/ruff check --quiet . || status=1
    .venv/bin/ruff format --check --quiet . || status=1
    .venv/bin/mypy || status=1
fi
# Spark's tests (tests/traffic/test_spark.py) run here, on Python 3.11 with the `spark` extra and
# Java installed above; under CI a skipped Spark test is a failure (the Python 3.12 run below
# installs no pyspark and does not require them).
if [ "${POLICY_LINT_REQUIRE_E2E:-}" = 1 ] || [ "${CI:-}" = true ]; then
    export POLICY_LINT_REQUIRE_SPARK=1
fi
.venv/bin/python -m pytest -q -rs "$@" || status=$?
unset POLICY_LINT_REQUIRE_SPARK
# The traffic tests again on Python 3.12 with mitmproxy 12, on a full run only: arguments select
# tests of the 3.11 run. Without a Python 3.12 (PATH, pyenv, or Debian's package) it fails under
# CI and is skipped, saying so, elsewhere.
if [ $# -eq 0 ]; then
    bash scripts/test-py312.sh || status=$?
fi
exit $status
