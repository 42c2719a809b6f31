"""The live addon's short cuts in policy_lint/traffic/mitm.py give what the full path gives.

flow_host (cached on the raw Host bytes) must equal record_from_flow's host for every way a
request names its host, and a record keeping only the headers the classifier reads must be
classified exactly as the full record is.
"""

from __future__ import annotations

import pytest
from mitmproxy.test import tflow

from policy_lint.traffic.classify import Classifier
from policy_lint.traffic.mitm import flow_host, record_from_flow
from tests.traffic.helpers import make_flow

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _h1(host_header: str | None, host: str = "127.0.0.1"):
    f = tflow.tflow(resp=True)
    f.request.host = host
    if host_header is None:
        f.request.headers.pop("Host", None)
    else:
        f.request.headers["Host"] = host_header
    return f


def _h2(authority: bytes, host_header: str | None = None):
    f = _h1(host_header)
    f.request.data.http_version = b"HTTP/2.0"
    f.request.data.authority = authority
    return f


FLOWS = {
    "host header": lambda: _h1("www.facebook.com"),
    "host header with port": lambda: _h1("WWW.Facebook.COM:8443"),
    "trailing dot": lambda: _h1("twitter.com."),
    "ipv6 literal": lambda: _h1("[::1]:8080"),
    "idn": lambda: _h1("bücher.example"),
    "no host header": lambda: _h1(None, host="static.licdn.com"),
    "two host headers": lambda: _two_hosts(),
    "h2 authority": lambda: _h2(b"www.linkedin.com:443"),
    "h2 empty authority, host header": lambda: _h2(b"", "www.ning.com"),
    "h2 idn authority": lambda: _h2("bücher.example".encode("idna")),
    "undecodable host": lambda: _undecodable(),
}


def _two_hosts():
    f = _h1("a.example")
    f.request.headers.add("Host", "b.example")
    return f


def _undecodable():
    f = _h1(None)
    f.request.data.host = b"\xff\xfebad"  # as old flow files carry
    return f


@pytest.mark.parametrize("make", FLOWS.values(), ids=FLOWS.keys())
def test_flow_host_equals_the_records_host(make):
    flow = make()
    record = record_from_flow(flow)
    assert flow_host(flow) == (record.host if record else None)
    assert flow_host(flow) == flow_host(make())  # and again, from the cache


def test_flow_host_reads_without_touching_the_flow():
    flow = _h2(b"www.linkedin.com")
    before = flow.get_state()
    flow_host(flow)
    assert flow.get_state() == before


HEADERS = [
    {"X-Squid-Error": "ERR_ACCESS_DENIED 0", "Server": "squid/5.7"},
    {"X-Squid-Error": "ERR_DNS_FAIL 0"},
    {"Content-Type": "text/html", "Set-Cookie": "a=b", "Server": "nginx"},
    {f"x-h{i}": "v" for i in range(100)} | {"X-Squid-Error": "ERR_ACCESS_DENIED 0"},  # past the cap
    {},
]


@pytest.mark.parametrize("status", [200, 403, 503])
@pytest.mark.parametrize("headers", HEADERS)
def test_only_the_read_headers_classify_the_same(catalog, status, headers):
    classifier = Classifier(catalog)
    flow = make_flow("www.facebook.com", status=status, headers=headers, server_ip="10.0.0.1")
    full = record_from_flow(flow)
    short = record_from_flow(flow, host=flow_host(flow), header_names=classifier.header_names)
    assert full is not None and short is not None
    assert {n for n, _ in short.headers} <= {n.decode() for n in classifier.header_names}
    assert classifier.classify(short) == classifier.classify(full)


def test_every_header_a_fingerprint_reads_is_kept(catalog):
    classifier = Classifier(catalog)
    for _vendor, name, _value in classifier.fp.headers:
        assert name.encode() in classifier.header_names
