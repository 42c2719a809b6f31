"""`policy-lint audit`: the comparison rules, who a log names, attribution by address, the
audiences on both sides, outputs and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from policy_lint.audit.compare import AGREE, BYPASS, HIDDEN, UNKNOWN, compare
from policy_lint.catalog import load_catalog
from policy_lint.identity import user_matches
from policy_lint.traffic.classify import Classifier
from policy_lint.traffic.compliance import keyed_pseudonym
from policy_lint.traffic.record import FlowRecord
from policy_lint.traffic.sources import SkipCounter, read_records, squid_line
from policy_lint.traffic.weblogs import fortigate, panos, umbrella, zscaler
from tests.audit.samples import ACCESS_LOG, FORTI_TRAFFIC, POLICY, panos_traffic, write_config

SAMPLES = Path(__file__).parents[1] / "traffic" / "samples"


def run(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "policy_lint", "audit", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=180,
    )


def got(record: FlowRecord | None) -> FlowRecord:
    assert record is not None
    return record


def rows(report: dict, audience: str) -> dict[str, dict]:
    return {r["service"]: r for r in report["rows"] + report["users"] if r["audience"] == audience}


# ------------------------------------------------------------------ the comparison, one rule each


@pytest.mark.parametrize(
    ("static", "traffic", "requests", "status"),
    [
        ("blocked", "blocked", 3, AGREE),
        ("blocked", "compliant", 3, BYPASS),  # a bypass, or the deployed config differs
        ("blocked", "degraded", 3, BYPASS),  # the primary site got through
        ("blocked-partial", "blocked", 3, AGREE),
        ("blocked-partial", "compliant", 3, UNKNOWN),  # may be the part it lets through
        ("degraded", "degraded", 3, AGREE),
        ("degraded", "compliant", 3, BYPASS),
        ("degraded", "blocked", 3, HIDDEN),
        ("unaffected", "compliant", 3, AGREE),
        ("allowed", "compliant", 3, AGREE),
        ("throttled", "compliant", 3, AGREE),
        ("unaffected", "blocked", 3, HIDDEN),  # a layer the repository does not hold
        ("allowed", "degraded", 3, HIDDEN),
        ("unknown", "blocked", 3, UNKNOWN),  # never agreement
        ("unknown", "compliant", 3, UNKNOWN),
        ("blocked", "inconclusive", 0, UNKNOWN),  # no traffic proves nothing
        ("unaffected", "inconclusive", 2, UNKNOWN),
    ],
)
def test_compare(static, traffic, requests, status):
    assert compare(static, traffic, requests)[0] == status


def test_unknown_says_which_side():
    assert "static side" in compare("unknown", "blocked", 1)[1]
    assert "traffic side" in compare("blocked", "inconclusive", 0)[1]
    assert "both sides" in compare("unknown", "inconclusive", 0)[1]


# ------------------------------------------------------------------ who a log names


def test_users_from_each_log():
    zs = (SAMPLES / "zscaler-nss-web.log").read_text().splitlines()[0]
    assert got(zscaler(zs)).user == "jdoe@example.com"  # login, field 2
    pan = (SAMPLES / "panos-url.log").read_text().splitlines()[1]
    assert got(panos(pan)).user == "corp\\asmith"  # Source User, field 12
    assert got(panos((SAMPLES / "panos-url.log").read_text().splitlines()[0])).user is None  # empty
    forti = got(
        fortigate(
            FORTI_TRAFFIC.format(
                src="10.1.1.1", dst="1.1.1.1", action="deny", user="bob", group="Sales", rcvd=0
            )
        )
    )
    assert (forti.user, forti.group) == ("bob", "Sales")
    dns = (SAMPLES / "umbrella-dns.csv").read_text().splitlines()
    assert got(umbrella(dns[1])).user == "asmith"  # Most Granular Identity of type AD Users
    assert got(umbrella(dns[0])).user is None  # a network identity is no user
    native = squid_line(ACCESS_LOG.splitlines()[1])
    assert native is not None and native.user == "asmith"  # native format's user column
    assert got(squid_line(ACCESS_LOG.splitlines()[0])).user is None  # "-"
    common = squid_line(
        '10.0.0.5 - bob [20/Jun/2022:15:29:11 +0000] "CONNECT www.facebook.com:443 HTTP/1.1" 200 512 TCP_TUNNEL:HIER_DIRECT'
    )
    assert common is not None and common.user == "bob"


def test_umbrella_without_the_type_column_names_no_user():
    line = '"2022-06-20 15:30:02","asmith","asmith,HQ","10.10.0.7","203.0.113.1","Allowed","1 (A)","NOERROR","www.linkedin.com."'
    assert got(umbrella(line)).user is None


@pytest.mark.parametrize(
    ("log_user", "wanted", "match"),
    [
        ("asmith", "asmith", True),
        ("ASmith", "asmith", True),
        ("corp\\asmith", "asmith", True),  # a bare policy name: any domain's account
        ("asmith@example.com", "asmith", True),
        ("corp\\asmith", "corp\\asmith", True),
        ("other\\asmith", "corp\\asmith", False),  # a qualified policy name: that account only
        ("asmith@example.com", "asmith@example.org", False),
        ("bsmith", "asmith", False),
    ],
)
def test_user_matching(log_user, wanted, match):
    assert user_matches(log_user, wanted) is match


# ------------------------------------------------------------------ attribution by address


def test_firewall_records_without_host_are_matched_by_address(tmp_path):
    log = tmp_path / "panos.log"
    log.write_text(
        "\n".join(
            [
                panos_traffic("10.10.0.7", "157.240.1.35", "allow", 89000),  # facebook's prefix
                panos_traffic("10.20.0.5", "104.244.42.1", "deny", 0),  # twitter's prefix
                panos_traffic("10.10.0.7", "8.8.8.8", "allow", 500),  # nobody's
            ]
        )
        + "\n"
    )
    classifier = Classifier(load_catalog(), by_address=True)
    skipped = SkipCounter()
    obs = [classifier.classify(r) for r in read_records(log, skipped, keep_addressed=True)]
    got = {(o.service, o.outcome, o.host) for o in obs if o is not None}
    assert got == {
        ("facebook", "reachable", "address:157.240.1.35"),
        ("twitter", "blocked", "address:104.244.42.1"),
    }
    fb = next(o for o in obs if o is not None and o.service == "facebook")
    assert fb.role == "primary" and fb.how == "answered+by-address"
    assert "matched by destination address 157.240.1.35" in fb.evidence
    assert skipped.count == 0


def test_without_keep_addressed_they_stay_records_without_a_host(tmp_path):
    log = tmp_path / "panos.log"
    log.write_text(panos_traffic("10.10.0.7", "157.240.1.35", "allow", 89000) + "\n")
    skipped = SkipCounter()
    assert list(read_records(log, skipped)) == []
    assert skipped.reasons == {"PAN-OS syslog CSV record without a host name": 1}
    # and `traffic`'s classifier (no by_address) says nothing about a host-less record
    rec = panos(panos_traffic("10.10.0.7", "157.240.1.35", "allow", 89000))
    assert Classifier(load_catalog()).classify(got(rec)) is None


def test_fortigate_traffic_without_hostname_by_address():
    rec = fortigate(
        FORTI_TRAFFIC.format(src="10.10.0.8", dst="104.244.42.1", action="deny", user="", group="", rcvd=0)
    )
    obs = Classifier(load_catalog(), by_address=True).classify(got(rec))
    assert obs is not None and (obs.service, obs.outcome, obs.how) == (
        "twitter",
        "blocked",
        "filter-denied+by-address",
    )


# ------------------------------------------------------------------ the command


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path, Path]:
    cfg = write_config(tmp_path)
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    log = tmp_path / "access.log"
    log.write_text(ACCESS_LOG)
    return cfg, policy, log


def test_both_directions_of_disagreement(setup):
    cfg, policy, log = setup
    r = run(cfg, log, "--policy", policy, "--format", "json")
    assert r.returncode == 1, r.stderr
    d = json.loads(r.stdout)
    guests, staff = rows(d, "guests"), rows(d, "staff")
    assert guests["facebook"]["status"] == BYPASS
    assert guests["facebook"]["static"]["verdict"] == "blocked"
    assert "squid.conf:5" in guests["facebook"]["static"]["decided_by"]
    assert guests["facebook"]["traffic"]["verdict"] == "compliant"
    assert staff["linkedin"]["status"] == HIDDEN
    assert staff["facebook"]["status"] == AGREE
    assert guests["twitter"]["status"] == UNKNOWN  # no traffic: never agreement
    # everyone: squid blocks facebook for some clients only -> blocked-partial, not compared
    assert rows(d, "everyone")["facebook"]["static"]["verdict"] == "blocked-partial"
    assert rows(d, "everyone")["facebook"]["status"] == UNKNOWN
    # a user audience: squid tells clients apart by address only, so the static side is unknown
    marketing = rows(d, "marketing")
    assert marketing["linkedin"]["static"]["verdict"] == "unknown"
    assert marketing["linkedin"]["traffic"]["verdict"] == "blocked"  # matched by the log's user
    assert marketing["linkedin"]["status"] == UNKNOWN
    assert "config-blocks-traffic-passes: facebook for guests" in r.stderr
    assert "10.20.0.5" not in r.stdout and "asmith" not in json.dumps(d["users"])


def test_agreement_exits_clean(tmp_path):
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    (cfg / "squid.conf").write_text(
        "http_port 3128\nacl lan src 10.0.0.0/8\nhttp_access allow lan\nhttp_access deny all\n"
    )
    log = tmp_path / "access.log"
    log.write_text(ACCESS_LOG.splitlines()[2] + "\n")
    r = run(cfg, log, "--format", "json")
    assert r.returncode == 0, r.stdout + r.stderr
    d = json.loads(r.stdout)
    assert rows(d, "everyone")["facebook"]["status"] == AGREE
    assert d["summary"][AGREE] == 1 and d["summary"][UNKNOWN] == 3  # twitter, linkedin, ning: no traffic
    assert "unknown on one side" in r.stderr


def test_per_user_pseudonymised_with_the_auditors_key(setup, tmp_path):
    cfg, policy, log = setup
    key = tmp_path / "key"
    key.write_bytes(b"k" * 32)
    r = run(cfg, log, "--policy", policy, "--format", "json", "--by-user", "--pseudonym-key-file", key)
    d = json.loads(r.stdout)
    shown = keyed_pseudonym(b"k" * 32, "asmith", "user-")
    user = rows(d, shown)
    assert user["linkedin"]["traffic"]["verdict"] == "blocked"
    assert user["facebook"]["traffic"]["verdict"] == "compliant"
    assert "asmith" not in json.dumps(d["users"])  # the policy's own audience lists it: that stays
    plain = run(cfg, log, "--policy", policy, "--format", "json", "--by-user", "--no-pseudonymise")
    assert rows(json.loads(plain.stdout), "asmith")["linkedin"]["traffic"]["verdict"] == "blocked"


def test_user_audience_decided_by_a_config_that_names_users(tmp_path):
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    # squid proxy_auth ACL: the user asmith is denied LinkedIn, everyone else allowed
    (cfg / "squid.conf").write_text(
        "http_port 3128\nauth_param basic program /usr/lib/squid/basic_ncsa_auth /etc/squid/passwd\n"
        "acl marketing proxy_auth asmith\nacl pro dstdomain .linkedin.com\n"
        "http_access deny marketing pro\nhttp_access allow all\n"
    )
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    log = tmp_path / "access.log"
    log.write_text(ACCESS_LOG)
    d = json.loads(run(cfg, log, "--policy", policy, "--format", "json", "--by-user").stdout)
    marketing = rows(d, "marketing")
    assert marketing["linkedin"]["static"]["verdict"] == "blocked"
    assert marketing["linkedin"]["status"] == AGREE  # the log's asmith was denied LinkedIn
    assert marketing["facebook"]["status"] == AGREE


def test_network_view_segments_and_unmatched_clients(tmp_path):
    cfg = write_config(tmp_path, with_network=True)
    log = tmp_path / "access.log"
    log.write_text(ACCESS_LOG + ACCESS_LOG.splitlines()[0].replace("10.20.0.5", "192.168.9.9") + "\n")
    r = run(cfg, log, "--format", "json")
    d = json.loads(r.stdout)
    assert d["network_view"] is True
    assert rows(d, "guest")["facebook"]["status"] == BYPASS
    assert rows(d, "office")["linkedin"]["status"] == HIDDEN
    lab = rows(d, "lab")  # named by interface only: no log record can match it
    assert lab["facebook"]["traffic"]["requests"] == 0 and lab["facebook"]["status"] == UNKNOWN
    nowhere = rows(d, "(clients in no segment)")
    assert nowhere["facebook"]["static"]["verdict"] == "unknown"
    assert nowhere["facebook"]["status"] == UNKNOWN
    assert "everyone" not in {a["name"] for a in d["audiences"]}


def test_markdown_and_html_outputs(setup, tmp_path):
    cfg, policy, log = setup
    md = run(cfg, log, "--policy", policy)
    assert md.stdout.startswith("# Technology Enablement audit")
    assert "| guests | facebook | **config-blocks-traffic-passes** |" in md.stdout
    out = tmp_path / "audit.html"
    r = run(cfg, log, "--policy", policy, "-o", out)
    assert r.returncode == 1 and r.stdout == ""
    page = out.read_text()
    assert 'data-audience="guests" data-service="facebook" data-status="config-blocks-traffic-passes"' in page
    # self-contained: no external resource of any kind
    for needle in ("<script", "<link", "src=", "url(", "@import", "http://", "https://"):
        assert needle not in page


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("{tmp}/nope", "{log}"), "not a directory"),
        (("{cfg}", "{tmp}/missing.log"), "no such file"),
        (("{empty}", "{log}"), "no config"),
        (("{cfg}", "{log}", "--policy", "{tmp}/nope.yaml"), "cannot read policy"),
        (("{cfg}", "{log}", "--format", "pdf"), "usage"),
    ],
)
def test_bad_input_exit_2(setup, tmp_path, args, message):
    cfg, _policy, log = setup
    empty = tmp_path / "empty"
    empty.mkdir()
    r = run(*(a.format(tmp=tmp_path, cfg=cfg, log=log, empty=empty) for a in args))
    assert r.returncode == 2, r.stdout + r.stderr
    assert message in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_garbage_log_is_counted_not_fatal(setup, tmp_path):
    cfg, policy, _log = setup
    junk = tmp_path / "junk.log"
    junk.write_bytes(b"\x00\xff binary \x00\n" * 5 + ACCESS_LOG.encode())
    r = run(cfg, junk, "--policy", policy, "--format", "json")
    assert r.returncode == 1, r.stderr
    d = json.loads(r.stdout)
    assert d["traffic"]["skipped"] == 5
    assert rows(d, "guests")["facebook"]["status"] == BYPASS


def test_policy_audiences_along_a_segments_path(tmp_path):
    cfg = write_config(tmp_path, with_network=True)
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    log = tmp_path / "access.log"
    log.write_text(ACCESS_LOG)
    d = json.loads(run(cfg, log, "--policy", policy, "--format", "json").stdout)
    # staff (10.10.0.0/16) lies inside the office segment: that segment's path decides
    assert rows(d, "staff")["linkedin"]["status"] == HIDDEN
    assert rows(d, "staff")["facebook"]["static"]["verdict"] == "unaffected"
    # guests (10.20.0.0/16) is wider than the guest segment (10.20.0.0/24): path not known
    guests = rows(d, "guests")["facebook"]
    assert (
        guests["static"]["verdict"] == "unknown" and "not all inside one segment" in guests["static"]["note"]
    )
    assert guests["status"] == UNKNOWN
    # users with several segments: path not known either
    assert rows(d, "marketing")["linkedin"]["static"]["verdict"] == "unknown"


def test_rows_an_exception_covers_are_marked(setup, tmp_path):
    cfg, _policy, log = setup
    policy = tmp_path / "excepted.yaml"
    policy.write_text(
        POLICY
        + "exceptions:\n  - {service: facebook, audience: guests, reason: bandwidth, expires: 2999-12-31}\n"
    )
    r = run(cfg, log, "--policy", policy, "--format", "json")
    d = json.loads(r.stdout)
    assert rows(d, "guests")["facebook"]["accepted"] is True
    assert rows(d, "guests")["facebook"]["status"] == BYPASS  # the comparison stands
    assert rows(d, "staff")["facebook"]["accepted"] is False
    assert d["static_findings"] == []  # check's TE102 is accepted by the exception
    assert r.returncode == 1  # the disagreement still fails the run


def test_firewall_logs_by_address_and_group_in_the_report(setup, tmp_path):
    cfg, policy, _log = setup
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "panos.log").write_text(
        panos_traffic("10.20.0.9", "157.240.1.35", "allow", 5000, "corp\\asmith") + "\n"
    )
    (logs / "forti.log").write_text(
        FORTI_TRAFFIC.format(
            src="10.99.0.8", dst="108.174.10.10", action="deny", user="bob", group="Sales", rcvd=0
        )
        + "\n"
    )
    d = json.loads(run(cfg, logs, "--policy", policy, "--format", "json").stdout)
    assert rows(d, "guests")["facebook"]["status"] == BYPASS  # a session to facebook's prefix, allowed
    sales = rows(d, "sales")["linkedin"]  # matched by FortiGate's group= only (10.99/16 is no audience)
    assert sales["traffic"]["verdict"] == "blocked"
    assert rows(d, "marketing")["facebook"]["traffic"]["verdict"] == "compliant"  # CORP\asmith -> asmith
    evidence = d["traffic"]["evidence"]["linkedin"][0]
    assert evidence["host"] == "address:108.174.10.10"
    assert "matched by destination address 108.174.10.10" in evidence["evidence"]
