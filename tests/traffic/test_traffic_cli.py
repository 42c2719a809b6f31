from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.traffic.test_sources import ACCESS_LOG


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "policy_lint", "traffic", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_access_log_json(tmp_path):
    p = tmp_path / "access.log"
    p.write_text(ACCESS_LOG)
    r = run(p, "--format", "json")
    assert r.returncode == 1, r.stderr
    d = json.loads(r.stdout)
    assert d["services"]["facebook"]["verdict"] == "blocked"
    assert d["services"]["linkedin"]["verdict"] == "compliant"
    assert d["skipped"] == 2
    assert "10.0.0.5" not in r.stdout


def test_no_pseudonymise(tmp_path):
    p = tmp_path / "access.log"
    p.write_text(ACCESS_LOG)
    r = run(p, "--format", "json", "--no-pseudonymise")
    assert "10.0.0.5" in r.stdout


def test_compliant_exit_zero(tmp_path):
    p = tmp_path / "access.log"
    p.write_text(
        "1795921201.000 250 10.0.0.6 TCP_TUNNEL/200 5000 CONNECT www.linkedin.com:443 - HIER_DIRECT/1.2.3.4 -\n"
    )
    r = run(p)
    assert r.returncode == 0 and "linkedin" in r.stdout
    assert "not enough evidence" in r.stderr


def test_input_errors(tmp_path):
    bad = tmp_path / "bad.har"
    bad.write_text("{nope")
    r = run(bad)
    assert r.returncode == 2 and "not JSON" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = run(tmp_path / "missing.log")
    assert r.returncode == 2


def test_output_file(tmp_path):
    p = tmp_path / "access.log"
    p.write_text(ACCESS_LOG)
    out = tmp_path / "report.html"
    r = run(p, "--output-file", out)
    assert r.returncode == 1 and out.read_text().startswith("<!doctype html>")


def test_check_does_not_import_mitmproxy():
    code = "import sys, policy_lint.cli; assert 'mitmproxy' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0


def test_blocks_in_an_audience_with_an_unexpired_exception_do_not_fail_the_run(tmp_path):
    # The same exceptions `check` honours: guests may not use Facebook until the exception
    # expires; the evidence stays in the report, the exit status does not count it.
    log = tmp_path / "access.log"
    log.write_text(
        "1764576000.120 85 10.10.3.21 TCP_TUNNEL/200 6120 CONNECT www.facebook.com:443 - HIER_DIRECT/157.240.0.35 -\n"
        "1764576002.004 0 10.50.7.9 TCP_DENIED/403 3950 CONNECT www.facebook.com:443 - HIER_NONE/- text/html\n"
    )

    def policy(expires: str) -> Path:
        path = tmp_path / f"policy-{expires}.yaml"
        path.write_text(
            "version: 1\nservices:\n  facebook: {severity: error}\naudiences:\n"
            "  guest-wifi: {networks: [10.50.0.0/16]}\n  staff: {networks: [10.10.0.0/16]}\n"
            f"exceptions:\n  - {{service: facebook, audience: guest-wifi, reason: NET-142, expires: {expires}}}\n"
        )
        return path

    import json
    import subprocess
    import sys

    run = [sys.executable, "-m", "policy_lint", "traffic", "--format", "json", str(log), "--policy"]
    valid = subprocess.run(run + [str(policy("2999-12-31"))], capture_output=True, text=True)
    assert valid.returncode == 0, valid.stderr
    data = json.loads(valid.stdout)
    assert data["services"]["facebook"]["verdict"] == "blocked"
    assert data["services"]["facebook"]["accepted"] == ["guest-wifi"]
    assert "accepted by policy exceptions: facebook" in valid.stderr
    expired = subprocess.run(run + [str(policy("2020-01-01"))], capture_output=True, text=True)
    assert expired.returncode == 1 and json.loads(expired.stdout)["services"]["facebook"]["accepted"] == []


def test_firewall_records_without_host_names_attributed_by_address(tmp_path):
    """PAN-OS TRAFFIC / FortiGate traffic sessions carry addresses only: by default `traffic`
    attributes them to the service whose published prefixes hold the destination (as `audit`
    does); --no-by-address counts them as records without a host name."""
    from tests.traffic.test_duck import firewall_sessions_logs

    logs = [str(p) for p in firewall_sessions_logs(tmp_path)]
    base = [sys.executable, "-m", "policy_lint", "traffic", *logs, "--format", "json", "--engine", "python"]
    on = subprocess.run(base, capture_output=True, text=True, timeout=120)
    assert on.returncode == 1, on.stderr  # Facebook and Twitter sessions were denied
    data = json.loads(on.stdout)
    assert set(data["services"]["facebook"]["hosts"]) == {"address:157.240.1.35", "address:2a03:2880:f000::1"}
    assert data["services"]["twitter"]["verdict"] == "blocked"
    assert data["skipped"] == 0
    off = subprocess.run([*base, "--no-by-address"], capture_output=True, text=True, timeout=120)
    assert off.returncode == 0, off.stderr  # nothing attributable: no service seen
    data = json.loads(off.stdout)
    assert not data["services"]["facebook"]["hosts"]
    assert data["skipped_reasons"] == {
        "PAN-OS syslog CSV record without a host name": 4,
        "FortiGate key=value record without a host name": 3,
    }
