from __future__ import annotations

import json

import pytest
from mitmproxy import io

from policy_lint.traffic.sources import SkipCounter, SourceError, read_records, sniff
from tests.traffic.helpers import make_flow


def write_flows(path, flows):
    with open(path, "wb") as fh:
        w = io.FlowWriter(fh)
        for f in flows:
            w.add(f)


def test_mitm_file(tmp_path):
    p = tmp_path / "cap.mitm"
    write_flows(p, [make_flow("www.facebook.com"), make_flow("twitter.com", status=403)])
    assert sniff(p) == "mitm"
    recs = list(read_records(p))
    assert [r.host for r in recs] == ["www.facebook.com", "twitter.com"]


def test_truncated_and_corrupt_mitm(tmp_path):
    p = tmp_path / "cap.mitm"
    write_flows(p, [make_flow("www.facebook.com") for _ in range(5)])
    data = p.read_bytes()
    trunc = tmp_path / "trunc.mitm"
    trunc.write_bytes(data[: len(data) * 3 // 5 + 17])  # mid-record
    sk = SkipCounter()
    recs = list(read_records(trunc, sk))
    assert 1 <= len(recs) < 5 and sk.count == 1
    # Flows written one file each and concatenated: the record boundaries are then known exactly
    # (tnetstring lengths vary with timestamps, so dividing the file would not find them).
    parts = []
    for n in range(5):
        one_flow = tmp_path / f"flow{n}.mitm"
        write_flows(one_flow, [make_flow("www.facebook.com")])
        parts.append(one_flow.read_bytes())
    corrupt = tmp_path / "corrupt.mitm"
    corrupt.write_bytes(parts[0] + b"999999:garbage" + b"".join(parts[1:]))
    sk = SkipCounter()
    recs = list(read_records(corrupt, sk))
    assert len(recs) == 1 and sk.count == 1


def test_har(tmp_path):
    har = {
        "log": {
            "entries": [
                {
                    "startedDateTime": "2026-11-24T03:00:00Z",
                    "request": {"method": "GET", "url": "https://www.facebook.com/x?y=1"},
                    "response": {"status": 200, "headers": [], "content": {"text": "hello"}},
                    "serverIPAddress": "157.240.1.35",
                },
                {
                    "startedDateTime": "2026-11-24T03:00:01Z",
                    "request": {"method": "GET", "url": "https://twitter.com/"},
                    "response": {"status": 0, "_error": "net::ERR_CONNECTION_RESET"},
                },
                {"request": {}},
            ]
        }
    }
    p = tmp_path / "x.har"
    p.write_text(json.dumps(har))
    sk = SkipCounter()
    recs = list(read_records(p, sk))
    assert [r.host for r in recs] == ["www.facebook.com", "twitter.com"]
    assert recs[1].status is None and recs[1].error is not None and "RESET" in recs[1].error
    assert sk.count == 1


def test_har_not_json(tmp_path):
    p = tmp_path / "bad.har"
    p.write_text("{ this is not json")
    with pytest.raises(SourceError, match="not JSON"):
        list(read_records(p))


ACCESS_LOG = """\
1795921200.123     12 10.0.0.5 TCP_DENIED/403 3924 CONNECT www.facebook.com:443 - HIER_NONE/- text/html
1795921201.000    250 10.0.0.6 TCP_TUNNEL/200 5000 CONNECT www.linkedin.com:443 - HIER_DIRECT/13.107.42.14 -
1795921202.000      3 10.0.0.6 TAG_NONE/503 0 CONNECT www.ning.com:443 - HIER_NONE/- -
this is garbage
\x00\x01\x02 binary junk
10.0.0.7 - - [24/Nov/2026:03:00:03 +0000] "GET http://twitter.com/home HTTP/1.1" 403 3500 "-" "curl/8" TCP_DENIED:HIER_NONE
10.0.0.8 - - [24/Nov/2026:03:00:04 +0000] "GET http://www.linkedin.com/ HTTP/1.1" 200 100 TCP_MISS:HIER_DIRECT
"""


def test_access_log(tmp_path):
    p = tmp_path / "access.log"
    p.write_text(ACCESS_LOG)
    assert sniff(p) == "squid"
    sk = SkipCounter()
    recs = list(read_records(p, sk))
    assert [(r.host, r.status, r.proxy_tag) for r in recs] == [
        ("www.facebook.com", 403, "TCP_DENIED"),
        ("www.linkedin.com", 200, "TCP_TUNNEL"),
        ("www.ning.com", None, "TAG_NONE"),
        ("twitter.com", 403, "TCP_DENIED"),
        ("www.linkedin.com", 200, "TCP_MISS"),
    ]
    assert sk.count == 2


def test_unreadable(tmp_path):
    with pytest.raises(SourceError):
        list(read_records(tmp_path / "missing.log"))


# ------------------------------------------------------------------ the fast path for flow files


def _variants():
    """(id, flow) for every outcome kind the classifier tells apart, and the awkward shapes."""
    from mitmproxy.proxy.mode_specs import ProxyMode
    from mitmproxy.test import tflow

    def upstream(f):
        f.client_conn.proxy_mode = ProxyMode.parse("upstream:http://127.0.0.1:3128")
        f.server_conn.via = ("http", ("127.0.0.1", 3128))
        return f

    def reverse(f):
        f.client_conn.proxy_mode = ProxyMode.parse("reverse:http://10.0.0.5:8080")
        return f

    def h2(f):
        f.request.http_version = "HTTP/2.0"
        f.request.authority = "mobile.twitter.com:443"
        return f

    def host_header(f):
        f.request.headers["Host"] = "WWW.LinkedIn.com.:8443"
        return f

    def no_peers(f):
        f.server_conn.peername = None  # a server connection that never came up
        return f

    def no_content(f):
        f.response.raw_content = None
        return f

    def odd_reason(f):
        f.response.reason = b"Forbidden \xe9"
        return f

    def bad_host(f):
        f.request.data.host = b"\xff\xfebad"
        return f

    squid = {"X-Squid-Error": "ERR_ACCESS_DENIED 0", "Content-Type": "text/html"}
    return [
        ("reachable", make_flow("www.linkedin.com")),
        ("reachable-upstream", upstream(make_flow("www.linkedin.com", server_ip="127.0.0.1"))),
        ("reverse", reverse(make_flow("www.linkedin.com", server_ip="10.0.0.5"))),
        (
            "squid-block-page",
            upstream(
                make_flow(
                    "www.facebook.com",
                    status=403,
                    body=b"ERR_ACCESS_DENIED",
                    headers=squid,
                    server_ip="127.0.0.1",
                )
            ),
        ),
        (
            "squid-dns-fail",
            make_flow("www.facebook.com", status=503, headers={"X-Squid-Error": "ERR_DNS_FAIL 0"}),
        ),
        (
            "vendor-page",
            make_flow("twitter.com", status=403, body=b"<title>FortiGuard Web Filtering</title>"),
        ),
        ("http-403", make_flow("twitter.com", status=403, body=b"nope", server_ip="203.0.113.9")),
        ("http-404", make_flow("www.linkedin.com", status=404)),
        ("http-503", make_flow("www.ning.com", status=503)),
        (
            "connect-refused",
            upstream(
                make_flow(
                    "www.facebook.com",
                    status=None,
                    server_ip="127.0.0.1",
                    error="Upstream proxy 127.0.0.1:3128 refused HTTP CONNECT request: 403 Forbidden",
                )
            ),
        ),
        ("reset", make_flow("www.ning.com", status=None, error="Connection reset by peer")),
        ("server-closed", upstream(make_flow("www.ning.com", status=None, error="server closed connection"))),
        (
            "refused",
            make_flow(
                "www.ning.com", status=None, error="[Errno 111] Connect call failed ('203.0.113.7', 443)"
            ),
        ),
        ("timeout", make_flow("www.ning.com", status=None, error="Timeout after 30s")),
        ("dns-sinkhole", make_flow("twitter.com", server_ip="0.0.0.0")),
        ("control", make_flow("www.example.com", server_ip="93.184.215.14")),
        ("unrelated", make_flow("example.org")),
        ("idn", make_flow("bücher.example")),
        ("http2-authority", h2(make_flow("twitter.com"))),
        ("host-header", host_header(make_flow("www.linkedin.com", scheme="http"))),
        ("no-server-peer", no_peers(make_flow("www.linkedin.com"))),
        ("no-content", no_content(make_flow("www.linkedin.com"))),
        ("odd-reason", odd_reason(make_flow("twitter.com", status=403))),
        ("many-headers", make_flow("www.facebook.com", headers={f"x-h{i}": "v" * 1000 for i in range(300)})),
        ("big-body", make_flow("www.facebook.com", body=b"B" * (10 * 1024 * 1024))),
        ("tcp-flow", tflow.ttcpflow()),
        ("bad-host", bad_host(make_flow("www.facebook.com"))),  # last: see below
    ]


def _slow(path):
    from policy_lint.traffic import sources

    sk = SkipCounter()
    with open(path, "rb") as fh:
        return list(sources.mitm_slow(fh, sk)), sk


def test_fast_path_equals_mitmproxys_reader(tmp_path, monkeypatch):
    from policy_lint.traffic import sources

    def no_fallback(*args):
        raise AssertionError("current-format flows must not need mitmproxy's reader")

    monkeypatch.setattr(sources, "slow_record", no_fallback)
    variants = _variants()
    p = tmp_path / "all.mitm"
    write_flows(p, [f for _, f in variants])
    fast_sk = SkipCounter()
    fast = list(read_records(p, fast_sk))
    slow, slow_sk = _slow(p)
    assert fast == slow
    assert len(fast) == len(variants) - 2  # the bad host skipped, the TCP flow ignored
    # A host that is not text: mitmproxy cannot even build that flow and its reader stops the
    # whole file there; the fast path skips that one flow (and would go on).
    assert fast_sk.reasons == {"flow without a usable host": 1}
    assert slow_sk.reasons == {"flow file corrupt or truncated: FlowReadException": 1}
    # and one flow per file, so that a mismatch names its kind
    for name, flow in variants[:-1]:
        one = tmp_path / f"{name}.mitm"
        write_flows(one, [flow])
        assert list(read_records(one)) == _slow(one)[0], name


def test_fast_path_falls_back_for_other_versions(tmp_path, monkeypatch):
    from mitmproxy.io import tnetstring

    from policy_lint.traffic import sources

    old = make_flow("twitter.com", status=403, body=b"FortiGuard Web Filtering").get_state()
    old["version"] = 20  # compat migrates 20 -> 21: only mitmproxy's reader knows how
    p = tmp_path / "mixed.mitm"
    with open(p, "wb") as fh:
        write_flows(tmp_path / "a.mitm", [make_flow("www.facebook.com")])
        fh.write((tmp_path / "a.mitm").read_bytes())
        tnetstring.dump(old, fh)
        fh.write((tmp_path / "a.mitm").read_bytes())
    used: list[int] = []
    real = sources.slow_record

    def counting(*a):
        used.append(1)
        return real(*a)

    monkeypatch.setattr(sources, "slow_record", counting)
    recs = list(read_records(p))
    assert [r.host for r in recs] == ["www.facebook.com", "twitter.com", "www.facebook.com"]
    assert used == [1] and recs == _slow(p)[0]


def test_fast_path_does_not_copy_a_big_body(tmp_path):
    import tracemalloc

    from policy_lint.traffic.record import BODY_PREFIX_LIMIT

    p = tmp_path / "big.mitm"
    write_flows(p, [make_flow("www.facebook.com", body=b"B" * (10 * 1024 * 1024))])
    tracemalloc.start()
    try:
        recs = list(read_records(p))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(recs) == 1 and recs[0].body_prefix == b"B" * BODY_PREFIX_LIMIT
    assert peak < 1024 * 1024  # not one copy of the 10 MB body


def test_fast_path_skips_an_unreadable_flow_and_goes_on(tmp_path):
    from mitmproxy.io import tnetstring

    broken = make_flow("twitter.com").get_state()
    broken["response"]["status_code"] = "not a number"  # framing fine, state nonsense
    del broken["server_conn"]
    p = tmp_path / "broken.mitm"
    with open(p, "wb") as fh:
        tnetstring.dump(make_flow("www.facebook.com").get_state(), fh)
        tnetstring.dump(broken, fh)
        tnetstring.dump(make_flow("www.linkedin.com").get_state(), fh)
    sk = SkipCounter()
    recs = list(read_records(p, sk))
    assert [r.host for r in recs] == ["www.facebook.com", "www.linkedin.com"]
    assert sk.count == 1 and next(iter(sk.reasons)).startswith("unreadable flow")


def test_empty_flow_file(tmp_path):
    p = tmp_path / "empty.mitm"
    p.write_bytes(b"")
    sk = SkipCounter()
    assert list(read_records(p, sk)) == [] and sk.count == 0


def test_a_capture_truncated_while_it_is_read_stops_cleanly(tmp_path):
    # Another process truncating the file under the fast reader's memory map must not kill us
    # (SIGBUS): what was read is kept, the rest is counted as skipped.
    p = tmp_path / "live.mitm"
    write_flows(p, [make_flow("www.facebook.com") for _ in range(20)])
    sk = SkipCounter()
    records = read_records(p, sk)
    first = next(records)
    with open(p, "r+b") as fh:
        fh.truncate(100)
    rest = list(records)
    assert first.host == "www.facebook.com" and rest == []
    assert sk.reasons == {"flow file truncated while being read": 1}
