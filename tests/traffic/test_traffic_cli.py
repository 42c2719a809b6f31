from __future__ import annotations

import json
import subprocess
import sys

from tests.traffic.test_sources import ACCESS_LOG


def run(*args):
    return subprocess.run([sys.executable, "-m", "policy_lint", "traffic", *map(str, args)],
                          capture_output=True, text=True, timeout=120)


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
    p.write_text("1795921201.000 250 10.0.0.6 TCP_TUNNEL/200 5000 CONNECT www.linkedin.com:443 - HIER_DIRECT/1.2.3.4 -\n")
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
