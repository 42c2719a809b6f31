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
    har = {"log": {"entries": [
        {"startedDateTime": "2026-11-24T03:00:00Z", "request": {"method": "GET", "url": "https://www.facebook.com/x?y=1"},
         "response": {"status": 200, "headers": [], "content": {"text": "hello"}}, "serverIPAddress": "157.240.1.35"},
        {"startedDateTime": "2026-11-24T03:00:01Z", "request": {"method": "GET", "url": "https://twitter.com/"},
         "response": {"status": 0, "_error": "net::ERR_CONNECTION_RESET"}},
        {"request": {}},
    ]}}
    p = tmp_path / "x.har"
    p.write_text(json.dumps(har))
    sk = SkipCounter()
    recs = list(read_records(p, sk))
    assert [r.host for r in recs] == ["www.facebook.com", "twitter.com"]
    assert recs[1].status is None and "RESET" in recs[1].error
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
        ("www.facebook.com", 403, "TCP_DENIED"), ("www.linkedin.com", 200, "TCP_TUNNEL"),
        ("www.ning.com", None, "TAG_NONE"), ("twitter.com", 403, "TCP_DENIED"),
        ("www.linkedin.com", 200, "TCP_MISS")]
    assert sk.count == 2


def test_unreadable(tmp_path):
    with pytest.raises(SourceError):
        list(read_records(tmp_path / "missing.log"))
