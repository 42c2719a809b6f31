#!/usr/bin/env bash
# The whole test suite: creates .venv, installs policy-lint with its test extras, installs
# Debian's squid where it can (root + apt-get), and runs pytest. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --config-settings editable_mode=compat -e '.[test]'
# Real programs the end-to-end tests run on 127.0.0.1: Debian's squid, unbound and dnsmasq.
missing=""
command -v squid >/dev/null 2>&1 || [ -x /usr/sbin/squid ] || missing="$missing squid"
command -v unbound >/dev/null 2>&1 || [ -x /usr/sbin/unbound ] || missing="$missing unbound"
command -v dnsmasq >/dev/null 2>&1 || [ -x /usr/sbin/dnsmasq ] || missing="$missing dnsmasq"
if [ -n "$missing" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing Debian's$missing for the end-to-end tests"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null) \
        || echo "== could not install$missing; their end-to-end tests will be skipped"
fi
exec .venv/bin/python -m pytest -q -rs "$@"
