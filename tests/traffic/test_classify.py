from __future__ import annotations

import pytest

from policy_lint.traffic.classify import Classifier
from policy_lint.traffic.mitm import record_from_flow
from policy_lint.traffic.record import BODY_PREFIX_LIMIT
from tests.traffic.helpers import make_flow


@pytest.fixture(scope="module")
def classifier(catalog):
    return Classifier(catalog)


def obs(classifier, flow):
    rec = record_from_flow(flow)
    assert rec is not None
    return classifier.classify(rec)


def test_reachable(classifier):
    o = obs(classifier, make_flow("www.facebook.com"))
    assert (o.service, o.role, o.outcome) == ("facebook", "primary", "reachable")


def test_squid_header_403_is_blocked(classifier):
    f = make_flow("www.facebook.com", status=403, body=b"<html>denied</html>",
                  headers={"X-Squid-Error": "ERR_ACCESS_DENIED 0"}, server_ip="127.0.0.1")
    o = obs(classifier, f)
    assert o.outcome == "blocked" and o.how == "block-page:squid"
    assert "ERR_ACCESS_DENIED" in o.evidence


@pytest.mark.parametrize("body,vendor", [
    (b"<title>FortiGuard Web Filtering</title>", "fortiguard"),
    (b"This page was blocked by squidGuard", "squidguard"),
    (b"<h1>Pi-hole</h1> blocked", "pihole"),
    (b"Zscaler: Website blocked", "zscaler"),
])
def test_block_pages(classifier, body, vendor):
    o = obs(classifier, make_flow("twitter.com", status=403, body=body))
    assert o.outcome == "blocked" and o.how == f"block-page:{vendor}"
    assert body.decode() not in o.evidence  # content-free evidence


def test_service_own_403_is_reachable(classifier, catalog):
    # 403 with no fingerprint from an address in the service's own prefixes: the service said no
    svc = catalog.services["facebook"]
    ip = str(next(iter(svc.networks)).network_address + 1) if svc.networks else "157.240.1.35"
    o = obs(classifier, make_flow("www.facebook.com", status=403, body=b"nope", server_ip=ip))
    assert o.outcome == "reachable"


def test_404_is_reachable(classifier):
    assert obs(classifier, make_flow("www.linkedin.com", status=404)).outcome == "reachable"


def test_refused_connect_is_blocked(classifier):
    f = make_flow("www.facebook.com", status=None,
                  error="Upstream proxy 127.0.0.1:3128 refused HTTP CONNECT request: 403 Forbidden")
    o = obs(classifier, f)
    assert o.outcome == "blocked" and o.how == "connect-refused"


def test_upstream_down_is_inconclusive(classifier):
    f = make_flow("www.facebook.com", status=None, error="[Errno 111] Connect call failed ('127.0.0.1', 3128)")
    assert obs(classifier, f).outcome == "inconclusive"


def test_reset_is_blocked(classifier):
    f = make_flow("www.ning.com", status=None, error="Connection reset by peer")
    o = obs(classifier, f)
    assert o.outcome == "blocked" and o.how == "reset"


def test_timeout_is_failed(classifier):
    f = make_flow("www.ning.com", status=None, error="Timeout after 30s")
    assert obs(classifier, f).outcome == "failed"


def test_dns_sinkhole(classifier):
    o = obs(classifier, make_flow("twitter.com", server_ip="0.0.0.0"))
    assert o.outcome == "blocked" and o.how == "dns-sinkhole"


def test_unrelated_host_is_none(classifier):
    assert classifier.classify(record_from_flow(make_flow("example.org"))) is None


def test_control_host(classifier, catalog):
    o = obs(classifier, make_flow(catalog.control_host, server_ip="93.184.216.34"))
    assert o.service is None and o.role == "control"


def test_ten_mb_body_is_capped_and_flow_untouched(classifier):
    big = b"A" * (10 * 1024 * 1024)
    f = make_flow("www.facebook.com", body=big)
    rec = record_from_flow(f)
    assert len(rec.body_prefix) == BODY_PREFIX_LIMIT
    assert f.response.raw_content == big


def test_non_utf8_host_is_skipped():
    f = make_flow("www.facebook.com")
    f.request.data.host = b"\xff\xfebad"
    assert record_from_flow(f) is None


def test_idn_host_is_punycode(classifier):
    f = make_flow("bücher.example")
    assert record_from_flow(f).host == "xn--bcher-kva.example"


def test_header_count_capped():
    headers = {f"x-h{i}": "v" * 1000 for i in range(500)}
    rec = record_from_flow(make_flow("www.facebook.com", headers=headers))
    assert len(rec.headers) <= 64 and all(len(v) <= 256 for _, v in rec.headers)
