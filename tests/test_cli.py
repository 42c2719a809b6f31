"""The command line as users run it: a real `python -m policy_lint` process per test."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import REPO

BLOCKING = """\
acl social dstdomain .facebook.com
http_access deny social
http_access allow all
"""
CLEAN = """\
acl localnet src 10.0.0.0/8
http_access allow localnet
http_access deny all
"""


def run(*args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "policy_lint", *args],
        capture_output=True,
        text=True,
        cwd=cwd or REPO,
        timeout=timeout,
    )


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def assert_clean_error(p: subprocess.CompletedProcess) -> None:
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert "Traceback" not in p.stderr
    errors = [line for line in p.stderr.splitlines() if line.startswith("policy-lint: error:")]
    assert errors, p.stderr


def test_exit_0_when_clean(tmp_path):
    p = run("check", str(write(tmp_path / "squid.conf", CLEAN)))
    assert p.returncode == 0, p.stdout + p.stderr
    assert "No findings." in p.stdout


def test_exit_1_and_ruff_style_line_when_blocked(tmp_path):
    conf = write(tmp_path / "squid.conf", BLOCKING)
    p = run("check", "squid.conf", cwd=tmp_path)
    assert p.returncode == 1
    assert p.stdout.splitlines()[0] == (
        "squid.conf:2:1: TE101 Facebook blocked for everyone by 'http_access deny social' [facebook]"
    )
    assert "    = squid.conf:1:1: acl social dstdomain .facebook.com" in p.stdout
    assert conf.exists()


def test_json_contract(tmp_path):
    conf = write(tmp_path / "squid.conf", BLOCKING)
    p = run("check", "--format", "json", str(conf))
    assert p.returncode == 1
    doc = json.loads(p.stdout)
    assert doc["version"] == 1 and doc["errors"] == []
    [f] = doc["files"]
    assert f["path"] == str(conf) and f["dialect"] == "squid"
    assert set(f["services"]) == {"facebook", "twitter", "linkedin", "ning"}
    fb = f["services"]["facebook"]
    assert fb["verdict"] == "blocked"
    assert fb["rules"] == [{"path": str(conf), "line": 2, "text": "http_access deny social"}]
    assert f["services"]["twitter"] == {"verdict": "unaffected", "audiences": [], "rules": []}
    [finding] = doc["findings"]
    assert {k: finding[k] for k in ("code", "severity", "line", "column", "service")} == {
        "code": "TE101",
        "severity": "error",
        "line": 2,
        "column": 1,
        "service": "facebook",
    }
    assert [(t["line"], t["text"]) for t in finding["trace"]] == [
        (2, "http_access deny social"),
        (1, "acl social dstdomain .facebook.com"),
    ]


def test_directory_is_walked_and_included_files_are_not_linted_twice():
    p = run("check", "--format", "json", "examples")
    doc = json.loads(p.stdout)
    # examples/network/ is the network view's example (tests/network/test_network_cli.py).
    assert [f["path"] for f in doc["files"] if not f["path"].startswith("examples/network/")] == [
        "examples/fortigate/fortigate.conf",
        "examples/paloalto/running-config.xml",
        "examples/pihole/regex.list",
        "examples/router/rules.v4",
        "examples/squid/squid.conf",
    ]
    verdicts = {f["path"]: {k: v["verdict"] for k, v in f["services"].items()} for f in doc["files"]}
    assert verdicts["examples/squid/squid.conf"] == {
        "facebook": "blocked-partial",
        "twitter": "blocked-partial",
        "linkedin": "degraded",
        "ning": "throttled",
    }
    # One /18 of Facebook's prefixes at the router; Ning's regex spared by the allow-list.
    assert verdicts["examples/router/rules.v4"]["facebook"] == "blocked-partial"
    assert verdicts["examples/pihole/regex.list"]["ning"] == "blocked-partial"
    # The office PAN-OS firewall: guests denied the three App-IDs, staff denied facebook-chat
    # (facebook-base allowed), Ning's sites blocked by a custom URL category for everyone.
    assert verdicts["examples/paloalto/running-config.xml"] == {
        "facebook": "blocked-partial",
        "twitter": "blocked-partial",
        "linkedin": "blocked-partial",
        "ning": "blocked",
    }
    assert {f["path"] for f in doc["findings"]} >= {"examples/squid/conf.d/10-bandwidth.conf"}
    # The FortiGate: guests' web filter blocks Social Networking; staff lose LinkedIn's CDN.
    assert verdicts["examples/fortigate/fortigate.conf"]["facebook"] == "blocked-partial"
    assert verdicts["examples/fortigate/fortigate.conf"]["linkedin"] == "blocked-partial"


def test_sample_policy_accepts_the_guest_exception():
    p = run("check", "--format", "json", "--policy", "sample_policies/guest-wifi-exception.yaml", "examples")
    doc = json.loads(p.stdout)
    # The guests' Facebook block, in the proxy and in the FortiGate's web filter.
    assert sorted((a["path"], a["code"], a["service"]) for a in doc["accepted"]) == [
        ("examples/fortigate/fortigate.conf", "TE102", "facebook"),
        ("examples/squid/squid.conf", "TE102", "facebook"),
    ]
    assert not [
        f
        for f in doc["findings"]
        if f["service"] == "facebook"
        and f["code"].startswith("TE1")
        and f["path"].startswith("examples/squid/")
    ]


def test_binary_file_is_a_clean_error(tmp_path):
    conf = tmp_path / "squid.conf"
    conf.write_bytes(b"\x7fELF\x00\x00binary" * 100)
    assert_clean_error(run("check", str(conf)))


def test_missing_path_is_a_clean_error(tmp_path):
    assert_clean_error(run("check", str(tmp_path / "nope.conf")))


def test_undetectable_file_is_a_clean_error(tmp_path):
    assert_clean_error(run("check", str(write(tmp_path / "notes.txt", "hello\n"))))


def test_unknown_dialect_option_is_a_clean_error(tmp_path):
    assert_clean_error(run("check", "--dialect", "nosuch", str(write(tmp_path / "squid.conf", CLEAN))))


def test_usage_error_exits_2():
    p = run("check")
    assert p.returncode == 2 and "Traceback" not in p.stderr


def test_huge_line_is_skipped_with_a_finding(tmp_path):
    conf = tmp_path / "squid.conf"
    conf.write_text("acl x dstdomain " + "a" * (20 * 1024 * 1024) + "\n" + BLOCKING)
    p = run("check", "--format", "json", str(conf))
    assert p.returncode == 1 and "Traceback" not in p.stderr
    doc = json.loads(p.stdout)
    assert {f["code"] for f in doc["findings"]} >= {"TE902", "TE101"}


def test_latin1_file_is_read_with_a_finding(tmp_path):
    conf = tmp_path / "squid.conf"
    conf.write_bytes("# Zugriff f\xfcr alle\n".encode("latin-1") + BLOCKING.encode())
    doc = json.loads(run("check", "--format", "json", str(conf)).stdout)
    assert {f["code"] for f in doc["findings"]} >= {"TE902", "TE101"}


def test_include_loop_does_not_hang(tmp_path):
    write(tmp_path / "squid.conf", "include /etc/squid/other.conf\n" + BLOCKING)
    write(tmp_path / "other.conf", "include /etc/squid/squid.conf\n")
    p = run("check", "--format", "json", "--root", str(tmp_path), str(tmp_path / "squid.conf"), timeout=60)
    doc = json.loads(p.stdout)
    assert "TE904" in {f["code"] for f in doc["findings"]}


def test_one_bad_file_does_not_lose_the_others(tmp_path):
    good = write(tmp_path / "squid.conf", BLOCKING)
    bad = tmp_path / "bad.squid"
    bad.write_bytes(b"\x00\x01\x02")
    p = run("check", "--format", "json", str(good), str(bad))
    assert p.returncode == 2
    doc = json.loads(p.stdout)
    assert [f["path"] for f in doc["files"]] == [str(good)]
    assert len(doc["errors"]) == 1 and "binary" in doc["errors"][0]


@pytest.mark.parametrize(
    "policy,needle",
    [
        ("services:\n  facebook: {severity: loud}\n", ":2: severity must be one of"),
        ("version: 1\nservics: {}\n", ":2: policy: unknown key 'servics'"),
        ("services:\n  myspace: {}\n", ":2: services: unknown service 'myspace'"),
        (
            "exceptions:\n  - {service: facebook, audience: nobody, reason: x}\n",
            ":2: exception: audience 'nobody'",
        ),
        ("a: &a [1, 2]\nb: [*a, *a]\n", ":2: YAML aliases are not allowed"),
        ("services: [unclosed\n", "invalid YAML"),
    ],
)
def test_bad_policy_is_a_clean_error_with_file_and_line(tmp_path, policy, needle):
    pol = write(tmp_path / "policy.yaml", policy)
    p = run("check", "--policy", str(pol), str(write(tmp_path / "squid.conf", CLEAN)))
    assert_clean_error(p)
    assert needle in p.stderr, p.stderr


def test_explain_prints_the_trace(tmp_path):
    conf = write(tmp_path / "squid.conf", BLOCKING)
    p = run("explain", "facebook", str(conf))
    assert p.returncode == 0, p.stderr
    assert "Facebook is blocked" in p.stdout
    deny = p.stdout.index("  deny [403] by ")
    assert "www.facebook.com (primary)" in p.stdout[deny:].splitlines()[1]
    assert "squid.conf:2:1 'http_access deny social'" in p.stdout
    assert "squid.conf:1:1: acl social dstdomain .facebook.com" in p.stdout


def test_services_table_lists_the_catalog():
    p = run("services")
    assert p.returncode == 0
    for needle in ("facebook", "fbcdn.net", "twimg.com", "licdn.com", "ning.com", "control probe"):
        assert needle in p.stdout


def test_services_addresses_show_each_asn_with_its_age():
    import datetime as dt

    from policy_lint.catalog import load_catalog

    p = run("services", "--addresses")
    assert p.returncode == 0
    fb = load_catalog().services["facebook"].asns[0]
    row = next(line for line in p.stdout.splitlines() if f"AS{fb.asn} " in line)
    v4 = sum(1 for n in fb.networks if n.version == 4)
    age = (dt.date.today() - dt.date.fromisoformat(fb.date)).days
    assert f" {v4} " in row and fb.date in row and f"{age} days" in row
    assert "ning" in p.stdout and "no address data" in p.stdout
    assert "go stale" in p.stdout


def test_rule_documents_a_code():
    p = run("rule", "te101")
    assert p.returncode == 0 and "Why it matters" in p.stdout
    assert run("rule", "TE999").returncode == 2


def test_version():
    p = run("--version")
    assert p.returncode == 0 and "policy-lint" in p.stdout


def test_check_path_does_not_import_mitmproxy(tmp_path):
    conf = write(tmp_path / "squid.conf", BLOCKING)
    code = (
        f"import sys\nfrom policy_lint.cli import main\nsys.argv=['policy-lint','check',{str(conf)!r}]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "assert not [m for m in sys.modules if m.startswith('mitmproxy')], 'mitmproxy imported'\n"
        "print('ok')\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.stdout.strip().endswith("ok"), p.stderr


def test_references_never_escape_the_root(tmp_path):
    outside = tmp_path / "outside"
    write(outside / "secret.txt", ".facebook.com\n")
    repo = tmp_path / "repo"
    write(
        repo / "squid.conf",
        """\
        acl a dstdomain "../outside/secret.txt"
        acl b dstdomain "/link/secret.txt"
        http_access deny a
        http_access deny b
        http_access allow all
    """,
    )
    (repo / "link").symlink_to(outside)
    doc = json.loads(run("check", "--format", "json", "--root", str(repo), str(repo / "squid.conf")).stdout)
    assert [f["code"] for f in doc["findings"] if f["code"] == "TE903"] == ["TE903", "TE903"]
    assert doc["files"][0]["services"]["facebook"]["verdict"] == "unknown"


# ----------------------------------------------------------------- never a silent pass (#13)

HOSTS = "127.0.0.1 localhost\n0.0.0.0 www.facebook.com\n0.0.0.0 facebook.com\n"
PF = "set skip on lo\nblock in all\npass out on egress proto tcp to any port 443\n"


@pytest.mark.parametrize(
    ("dialect", "name", "text"), [("squid", "hosts", HOSTS), ("iptables", "pf.conf", PF)]
)
def test_a_named_file_its_dialect_understands_nothing_of_exits_2(tmp_path, dialect, name, text):
    p = run("check", "--dialect", dialect, str(write(tmp_path / name, text)))
    assert_clean_error(p)
    assert "TE902" in p.stdout and "understood none of the 3 statements" in p.stdout
    assert "No findings." not in p.stdout


def test_a_pfsense_entity_bomb_is_an_input_error(tmp_path):
    from tests.test_soundness import ENTITY_BOMB

    p = run("check", str(write(tmp_path / "config.xml", ENTITY_BOMB)))
    assert_clean_error(p)
    assert "TE106" not in p.stdout


def test_no_findings_is_never_printed_beside_an_error(tmp_path):
    conf = write(tmp_path / "squid.conf", CLEAN)
    p = run("check", str(conf), str(tmp_path / "missing.conf"))
    assert_clean_error(p)
    assert "No findings." not in p.stdout
    assert "1 input could not be linted" in p.stdout


def test_a_directory_scan_says_which_files_it_skipped(tmp_path):
    write(tmp_path / "etc" / "squid.conf", CLEAN)
    write(tmp_path / "etc" / "notes.txt", "hello\n")
    p = run("check", "etc", cwd=tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "skipped 1 file of unknown kind: etc/notes.txt (use --dialect)" in p.stdout
    doc = json.loads(run("check", "--format", "json", "etc", cwd=tmp_path).stdout)
    assert doc["skipped"] == [{"path": "etc/notes.txt", "reason": "unknown kind"}]


# ----------------------------------------------------------------- explain and help (#13)


@pytest.mark.parametrize("name", ["x", "X", "twitter", "Twitter / X", "TWITTER"])
def test_explain_takes_service_names_in_any_case_and_aliases(tmp_path, name):
    conf = write(tmp_path / "squid.conf", "acl tw dstdomain .twitter.com .x.com\nhttp_access deny tw\n")
    p = run("explain", name, str(conf))
    assert p.returncode == 0, p.stderr
    assert "Twitter / X is blocked" in p.stdout


def test_explain_an_unknown_service_lists_names_and_aliases(tmp_path):
    p = run("explain", "myspace", str(write(tmp_path / "squid.conf", CLEAN)))
    assert_clean_error(p)
    assert "twitter (Twitter / X, x)" in p.stderr


def test_explain_a_directory_explains_every_config_in_it(tmp_path):
    write(tmp_path / "etc" / "squid.conf", BLOCKING)
    write(tmp_path / "etc" / "hosts", "0.0.0.0 www.facebook.com\n")
    write(tmp_path / "etc" / "notes.txt", "hello\n")
    p = run("explain", "facebook", "etc", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "etc/squid.conf (squid): Facebook is blocked" in p.stdout
    assert "etc/hosts (hosts): Facebook is blocked-partial" in p.stdout
    assert "skipped 1 file(s) of unknown kind: etc/notes.txt" in p.stdout


def test_explain_a_directory_without_configs_says_it_needs_a_file(tmp_path):
    write(tmp_path / "docs" / "notes.txt", "hello\n")
    p = run("explain", "facebook", "docs", cwd=tmp_path)
    assert_clean_error(p)
    assert "name a file" in p.stderr


def test_check_help_lists_the_dialects_without_importing_them():
    from policy_lint.dialects import DIALECTS

    p = run("check", "--help")
    assert p.returncode == 0
    listed = p.stdout[p.stdout.index("Dialects") :]
    assert all(name in listed for name in DIALECTS)
    timing = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "policy_lint", "check", "--help"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert "policy_lint.dialects." not in timing.stderr
