#!/usr/bin/env bash
# The traffic tests on Python 3.12, where pip resolves mitmproxy 12 (Python 3.11 gets 11.0.2:
# mitmproxy 11.1+ needs 3.12). Creates .venv312 with python3.12, installs '.[test,traffic]' and
# runs tests/traffic plus tests/e2e/test_traffic_e2e.py when it exists.
# Extra arguments go to pytest. scripts/test.sh (Python 3.11) runs everything else.
#
# Where python3.12 comes from, in order: PATH (a usable one), pyenv's newest 3.12.x (this
# project's machines carry pyenv with a 3.12), else Debian's package `python3.12` installed with
# apt-get when the distribution has one (as root; Debian 12 has none, Debian 13 has 3.13 only,
# Ubuntu 24.04 has it). Nothing is downloaded from anywhere else: PyPI has no interpreters, and
# the npm and PyPI "portable Python" packages fetch their builds from outside the registries.
# Without python3.12 it says so and fails under CI (CI=true or POLICY_LINT_REQUIRE_E2E=1), so the
# Python 3.12 run cannot vanish; elsewhere it exits 0.
set -euo pipefail
cd "$(dirname "$0")/.."

find_python312() {
    # A pyenv shim named python3.12 exists even when 3.12 is not the selected version, and then
    # refuses to run: try it, then pyenv's own 3.12.x interpreters directly (no shim involved).
    if command -v python3.12 >/dev/null 2>&1 \
        && python3.12 -c 'import sys; assert sys.version_info[:2] == (3, 12)' >/dev/null 2>&1; then
        command -v python3.12
        return 0
    fi
    local root candidate
    root="$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")"
    for candidate in $(ls -d "$root"/versions/3.12*/bin/python3.12 2>/dev/null | sort -V -r); do
        if "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 12)' >/dev/null 2>&1; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

install_python312() {
    # Debian's package, where the distribution has one (apt-cache policy prints a candidate).
    [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 || return 1
    apt-get update -qq >/dev/null 2>&1 || true
    local candidate
    candidate="$(apt-cache policy python3.12 2>/dev/null | awk '/Candidate:/ {print $2}')"
    if [ -z "$candidate" ] || [ "$candidate" = "(none)" ]; then
        echo "== apt has no python3.12 package here ($(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME"))" >&2
        return 1
    fi
    echo "== installing Debian's python3.12 $candidate (with python3.12-venv)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3.12 python3.12-venv \
        >/dev/null || return 1
    command -v python3.12
}

required() { [ "${CI:-}" = true ] || [ "${POLICY_LINT_REQUIRE_E2E:-}" = 1 ]; }

if ! py312="$(find_python312)" && ! py312="$(install_python312)"; then
    if required; then
        echo "== FAILED: python3.12 not found (PATH, pyenv) nor installable from Debian's packages: the Python 3.12 / mitmproxy 12 run is required under CI"
        exit 1
    fi
    echo "== python3.12 not found (PATH, pyenv) nor installable from Debian's packages: skipping the Python 3.12 / mitmproxy 12 run"
    exit 0
fi
echo "== Python 3.12 run with $py312 ($("$py312" -c 'import platform; print(platform.python_version())'))"

start=$SECONDS
if [ ! -x .venv312/bin/python ]; then
    "$py312" -m venv .venv312
fi
# The addon is specified for mitmproxy 12.2.x on Python 3.12+, so that is what this run tests by
# default (pip alone would take the newest 12.x, 12.3.1 when this was written, which passes too).
# PY312_MITMPROXY picks another one, e.g. PY312_MITMPROXY='mitmproxy==12.3.*'.
# pip warns once per package about this machine's configured local index directories that do
# not exist; those lines say nothing about the install and are dropped.
quiet_pip() {
    .venv312/bin/python -m pip install --quiet --disable-pip-version-check "$@" 2>&1 \
        | { grep -v "is ignored: it is neither a file nor a directory" || true; }
    return "${PIPESTATUS[0]}"
}
quiet_pip --config-settings editable_mode=compat -e '.[test,traffic]' "${PY312_MITMPROXY:-mitmproxy==12.2.*}"
mitm_version() { .venv312/bin/python -c 'import importlib.metadata as m; print(m.version("mitmproxy"))'; }
echo "== installed in $((SECONDS - start)) s: mitmproxy $(mitm_version)"

targets=(tests/traffic)
[ -e tests/e2e/test_traffic_e2e.py ] && targets+=(tests/e2e/test_traffic_e2e.py)
set +e
.venv312/bin/python -m pytest -q -rs -p no:cacheprovider "${targets[@]}" "$@"
status=$?
set -e
echo "== Python 3.12 run: mitmproxy $(mitm_version), pytest exit $status, $((SECONDS - start)) s in all"
exit $status
