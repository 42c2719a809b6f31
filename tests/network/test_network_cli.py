"""The network view through the command line: the table after the per-file lines, JSON's
additive `network` key, and byte-identical output for a repository without segments."""

from __future__ import annotations

import json

from tests.network.repos import OFFICE, VPS, write_repo
from tests.test_cli import run


def test_text_table_follows_the_file_lines(tmp_path):
    root = write_repo(tmp_path, OFFICE)
    out = run("check", str(root), "--root", str(root), "--no-trace").stdout
    lines = out.splitlines()
    header = lines.index("network verdicts (segment x service, along each segment's path):")
    assert all("(" in line for line in lines[header - 3 : header])  # the per-file verdict lines
    rows = {line.split()[0]: line.split()[2:] for line in lines[header + 2 : header + 4]}
    assert rows["staff"][0] == "blocked" and rows["guest"][0] == "unaffected"
    assert rows["guest"][2] == "blocked"  # linkedin: squid's guest rule


def test_json_network_contract(tmp_path):
    root = write_repo(tmp_path, OFFICE)
    doc = json.loads(run("check", str(root), "--root", str(root), "--format", "json").stdout)
    assert doc["version"] == 1
    guest = next(s for s in doc["network"]["segments"] if s["name"] == "guest")
    assert guest["clients"] == ["10.50.0.0/24"]
    assert [p.rsplit("/", 2)[-2] for p in guest["path"]] == ["pihole", "squid", "router"]
    li = guest["services"]["linkedin"]
    assert li["verdict"] == "blocked"
    assert li["decided_by"]["line"] == 5 and li["decided_by"]["path"].endswith("squid.conf")
    assert [x["verdict"] for x in guest["services"]["facebook"]["layers"]] == [
        "bypassed",
        "unaffected",
        "unaffected",
    ]
    network_findings = [f for f in doc["findings"] if f["code"] == "TE110"]
    assert any(f["path"].endswith("squid.conf") and f["line"] == 5 for f in network_findings)


def test_sarif_carries_network_findings_at_the_deciding_rule(tmp_path):
    root = write_repo(tmp_path, VPS)
    doc = json.loads(run("check", str(root), "--root", str(root), "--format", "sarif").stdout)
    results = [r for r in doc["runs"][0]["results"] if r["ruleId"] == "TE110"]
    assert results
    loc = results[0]["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"].endswith("iptables.rules") or loc["artifactLocation"][
        "uri"
    ].endswith("dnsmasq.conf")


def test_no_segments_no_change(tmp_path):
    files_only = {k: v for k, v in OFFICE.items() if k != ".policy-lint.yaml"}
    root = write_repo(tmp_path, files_only)
    text = run("check", str(root), "--root", str(root)).stdout
    assert "network verdicts" not in text and "TE110" not in text
    doc = json.loads(run("check", str(root), "--root", str(root), "--format", "json").stdout)
    assert "network" not in doc


def test_bad_network_settings_exit_2_with_file_and_line(tmp_path):
    root = write_repo(tmp_path, OFFICE)
    (root / ".policy-lint.yaml").write_text(
        "network:\n  segments:\n    - name: a\n      path: [x]\n      oops: 1\n"
    )
    proc = run("check", str(root))
    assert proc.returncode == 2
    assert ".policy-lint.yaml:5:" in proc.stderr and "oops" in proc.stderr and "Traceback" not in proc.stderr


def test_explain_segment_walks_the_path(tmp_path):
    root = write_repo(tmp_path, OFFICE)
    proc = run("explain", "facebook", str(root), "--segment", "guest", "--root", str(root))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("segment guest (10.50.0.0/24")
    assert "1. dns" in lines[2] and "bypassed" in lines[2] and "resolver is 9.9.9.9" in lines[2]
    assert "2. proxy" in lines[3] and "3. firewall" in lines[4]
    assert "=> network verdict: unaffected" in proc.stdout
    staff = run("explain", "facebook", str(root), "--segment", "staff", "--root", str(root)).stdout
    assert "=> network verdict: blocked (decided at" in staff and "regex.list:1:1" in staff


def test_explain_unknown_segment_is_an_error(tmp_path):
    root = write_repo(tmp_path, OFFICE)
    proc = run("explain", "facebook", str(root), "--segment", "nope")
    assert proc.returncode == 2 and "no segment 'nope' (known: staff, guest)" in proc.stderr


def test_the_example_network_differs_from_its_files():
    doc = json.loads(run("check", "examples/network", "--format", "json").stdout)
    files = {f["path"]: {k: v["verdict"] for k, v in f["services"].items()} for f in doc["files"]}
    assert files["examples/network/pihole/regex.list"]["facebook"] == "blocked"
    assert files["examples/network/squid/squid.conf"]["linkedin"] == "blocked-partial"
    net = {s["name"]: {k: v["verdict"] for k, v in s["services"].items()} for s in doc["network"]["segments"]}
    assert net == {
        "staff": {
            "facebook": "blocked",
            "twitter": "unaffected",
            "linkedin": "unaffected",
            "ning": "unaffected",
        },
        "guest": {
            "facebook": "unaffected",
            "twitter": "unaffected",
            "linkedin": "blocked",
            "ning": "unaffected",
        },
    }


def test_github_and_junit_carry_network_findings(tmp_path):
    root = write_repo(tmp_path, OFFICE)
    github = run("check", str(root), "--root", str(root), "--format", "github").stdout
    assert any(
        line.startswith("::error file=") and "squid.conf,line=5" in line and "TE110" in line
        for line in github.splitlines()
    )
    junit = run("check", str(root), "--root", str(root), "--format", "junit").stdout
    assert 'type="TE110"' in junit and 'type="TE111"' in junit
