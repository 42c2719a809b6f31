from __future__ import annotations

import ipaddress
import json

from policy_lint.policy import NamedAudience, strict_policy
from policy_lint.traffic.compliance import ComplianceReport
from policy_lint.traffic.record import Observation


def o(service, outcome, role="primary", host=None, client="10.0.0.1", ts=1795921200.0):
    return Observation(ts, service, role, host or f"www.{service}.com", outcome, "x", "ev", client)


def test_verdicts(catalog):
    r = ComplianceReport(catalog)
    r.add(o("facebook", "blocked"))
    r.add(o("facebook", "reachable"))
    r.add(o("twitter", "reachable"))
    r.add(o("linkedin", "reachable"))
    r.add(o("linkedin", "blocked", role="cdn", host="static.licdn.com"))
    r.add(o("ning", "inconclusive"))
    d = r.to_dict()
    assert d["version"] == 1
    assert {k: v["verdict"] for k, v in d["services"].items()} == {
        "facebook": "blocked",
        "twitter": "compliant",
        "linkedin": "degraded",
        "ning": "inconclusive",
    }
    assert d["services"]["facebook"]["outcomes"]["blocked"] == 1
    assert d["window"]["start"].startswith("2026-11-")
    json.dumps(d)


def test_audiences_and_pseudonyms(catalog):
    pol = strict_policy(catalog)
    pol.audiences["guest-wifi"] = NamedAudience("guest-wifi", (ipaddress.ip_network("10.9.0.0/16"),))
    r = ComplianceReport(catalog, pol, key=b"k" * 32)
    r.add(o("facebook", "blocked", client="10.9.1.1"))
    r.add(o("facebook", "reachable", client="192.0.2.7"))
    d = r.to_dict()
    assert d["audiences"]["guest-wifi"]["services"]["facebook"]["verdict"] == "blocked"
    assert d["audiences"]["other clients"]["services"]["facebook"]["verdict"] == "compliant"
    text = json.dumps(d)
    assert "10.9.1.1" not in text and "192.0.2.7" not in text
    assert r.pseudonym("10.9.1.1") == r.pseudonym("10.9.1.1") != "10.9.1.1"
    assert ComplianceReport(catalog, pseudonymise=False).pseudonym("10.9.1.1") == "10.9.1.1"


def test_bounded(catalog):
    r = ComplianceReport(catalog)
    for i in range(5000):
        r.add(
            o("facebook", "blocked", role="cdn", host=f"h{i}.fbcdn.net", client=f"10.0.{i // 250}.{i % 250}")
        )
    s = r.to_dict()["services"]["facebook"]
    assert len(s["hosts"]) <= 51 and len(s["evidence"]) <= 5
    assert s["requests"] == 5000


def test_skipped_and_summary(catalog):
    r = ComplianceReport(catalog)
    r.note_skipped(3, "garbage")
    assert r.to_dict()["skipped"] == 3
    assert any(line.startswith("facebook: inconclusive") for line in r.summary_lines())


def test_blocked_hygiene_host_is_not_degraded(catalog):
    # Blocking only a service's ads/trackers/widgets is privacy hygiene: the verdict stays
    # compliant; the block is still counted in the outcomes and the host table.
    r = ComplianceReport(catalog)
    r.add(o("facebook", "reachable"))
    r.add(o("facebook", "blocked", role="ads", host="ads.facebook.com"))
    r.add(o("facebook", "blocked", role="tracking", host="pixel.facebook.com"))
    r.add(o("twitter", "blocked", role="analytics", host="analytics.twitter.com"))  # nothing else seen
    r.add(o("linkedin", "reachable"))
    r.add(o("linkedin", "blocked", role="widget", host="platform.linkedin.com"))
    r.add(o("linkedin", "blocked", role="api", host="api.linkedin.com"))  # supporting: degraded
    d = r.to_dict()
    fb = d["services"]["facebook"]
    assert fb["verdict"] == "compliant"
    assert fb["outcomes"]["blocked"] == 2 and fb["hosts"]["ads.facebook.com"]["blocked"] == 1
    assert d["services"]["twitter"]["verdict"] == "inconclusive"
    assert d["services"]["linkedin"]["verdict"] == "degraded"
    assert d["audiences"]["other clients"]["services"]["facebook"]["verdict"] == "compliant"


def test_blocked_api_host_degrades_not_blocks(catalog):
    # The classifier's role for api.linkedin.com is the catalog's ("api"), so blocking only it
    # degrades LinkedIn; it used to be read as the primary (domain linkedin.com) -> "blocked".
    from policy_lint.traffic.classify import Classifier
    from policy_lint.traffic.record import FlowRecord

    c = Classifier(catalog)
    r = ComplianceReport(catalog)
    for host, status in (("www.linkedin.com", 200), ("api.linkedin.com", 403)):
        obs = c.classify(
            FlowRecord(
                1795921200.0,
                host,
                443,
                "https",
                status=status,
                headers=(("x-squid-error", "ERR_ACCESS_DENIED 0"),) if status == 403 else (),
            )
        )
        assert obs is not None, host
        r.add(obs)
    assert r.verdict("linkedin") == "degraded"


def test_absurd_log_time_does_not_crash_the_report():
    """A log line whose time is past year 9999 (garbage that parses as a number) is counted,
    its time shown as unknown: no traceback."""
    from policy_lint.catalog import load_catalog
    from policy_lint.traffic.compliance import ComplianceReport
    from policy_lint.traffic.record import Observation

    report = ComplianceReport(load_catalog(), period="day")
    report.add(Observation(1e15, "facebook", "primary", "www.facebook.com", "blocked", "proxy-denied", "x"))
    d = report.to_dict()
    assert d["services"]["facebook"]["verdict"] == "blocked"
    assert d["window"]["end"] is None
