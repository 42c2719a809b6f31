"""Hosts-file semantics, one rule per test, and bad input (NUL bytes, CRLF, 10^6 malformed
lines, a file too large to read)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from policy_lint.dialects.dns import hosts
from policy_lint.engine import Options, lint_paths
from policy_lint.policy import strict_policy
from tests.conftest import verdicts

ALL_FACEBOOK = "0.0.0.0 facebook.com www.facebook.com m.facebook.com\n"


def codes(report) -> list[str]:
    return [f.code for f in report.findings]


def test_exact_names_only_subdomains_still_resolve(lint):
    report = lint({"hosts": "0.0.0.0 facebook.com\n"})
    assert verdicts(report)["facebook"] == "blocked-partial"
    msg = next(f.message for f in report.findings if f.service == "facebook")
    assert "www.facebook.com" in msg and "still reachable" in msg


def test_every_primary_name_listed_is_a_block(lint):
    report = lint({"hosts": ALL_FACEBOOK})
    v = verdicts(report)
    assert v["facebook"] == "blocked"
    assert v["twitter"] == v["linkedin"] == v["ning"] == "unaffected"
    f = next(f for f in report.findings if f.code == "TE101")
    assert "sinkhole 0.0.0.0" in f.message and (f.span.line, f.span.col) == (1, 1)


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "127.1.2.3", "::1", "::", "0", "127.1", "0:0:0:0:0:0:0:0", "::ffff:127.0.0.1"]
)
def test_sinkhole_addresses(lint, address):
    report = lint({"hosts": f"{address} facebook.com www.facebook.com m.facebook.com\n"})
    assert verdicts(report)["facebook"] == "blocked"


def test_private_address_is_a_block_page(lint):
    report = lint({"hosts": "10.10.10.1 facebook.com www.facebook.com m.facebook.com\n"})
    assert verdicts(report)["facebook"] == "blocked"
    assert "non-public 10.10.10.1" in next(f.message for f in report.findings if f.code == "TE101")


def test_pinning_an_address_of_the_service_is_allowed(lint, catalog):
    addr = catalog.services["facebook"].addresses[0]
    report = lint({"hosts": f"{addr} www.facebook.com\n"})
    assert verdicts(report)["facebook"] == "allowed"
    assert not [c for c in codes(report) if c.startswith("TE1")]


def test_pinning_an_address_of_another_service_is_a_block(lint, catalog):
    addr = catalog.services["twitter"].addresses[0]
    report = lint({"hosts": f"{addr} facebook.com www.facebook.com m.facebook.com\n"})
    assert verdicts(report)["facebook"] == "blocked"


def test_pinning_an_unknown_public_address_is_unknown(lint):
    report = lint({"hosts": "198.51.100.7 www.linkedin.com\n".replace("198.51.100.7", "8.8.4.4")})
    assert verdicts(report)["linkedin"] == "unknown"
    assert "TE106" in codes(report)


def test_first_line_wins(lint, catalog):
    addr = catalog.services["facebook"].addresses[0]
    report = lint(
        {"hosts": f"{addr} www.facebook.com\n0.0.0.0 www.facebook.com facebook.com m.facebook.com\n"}
    )
    # www.facebook.com keeps Facebook's own address: not every entry point is blocked
    assert verdicts(report)["facebook"] == "blocked-partial"


def test_comments_whole_line_and_trailing(lint):
    report = lint(
        {
            "hosts": """
        # 0.0.0.0 twitter.com x.com
        0.0.0.0 linkedin.com www.linkedin.com#trailing comment without a space
        0.0.0.0 example.org # facebook.com www.facebook.com
    """
        }
    )
    v = verdicts(report)
    assert v["twitter"] == "unaffected"
    assert v["linkedin"] == "blocked"
    assert v["facebook"] == "unaffected"


def test_names_are_case_insensitive(lint):
    report = lint({"hosts": "0.0.0.0 FaceBook.COM WWW.FACEBOOK.COM m.Facebook.com\n"})
    assert verdicts(report)["facebook"] == "blocked"


def test_windows_line_endings(tmp_path, catalog):
    p = tmp_path / "hosts"
    p.write_bytes(
        b"# Windows\r\n0.0.0.0 facebook.com\r\n0.0.0.0\twww.facebook.com\r\n0.0.0.0 m.facebook.com\r\n\r\n"
    )
    report = lint_paths([p], catalog, strict_policy(catalog), Options(root=tmp_path))
    assert verdicts(report)["facebook"] == "blocked"
    assert not [f for f in report.findings if f.code == "TE902"]
    f = next(f for f in report.findings if f.code == "TE101")
    assert f.span.text == "0.0.0.0 facebook.com"


def test_nul_byte_is_reported_and_the_line_read_up_to_it(tmp_path, catalog):
    p = tmp_path / "hosts"
    p.write_bytes(b"0.0.0.0 twitter.com\n" * 200 + b"0.0.0.0 x.com\x00garbage\n")
    report = lint_paths([p], catalog, strict_policy(catalog), Options(root=tmp_path))
    nul = [f for f in report.findings if f.code == "TE902" and "NUL" in f.message]
    assert nul and nul[0].span.line == 201
    assert verdicts(report)["twitter"] == "blocked-partial"  # twitter.com and x.com only


def test_binary_file_is_refused_with_a_clear_message(tmp_path, catalog):
    p = tmp_path / "hosts"
    p.write_bytes(b"\x00\x01\x02" * 5000)
    report = lint_paths([p], catalog, strict_policy(catalog), Options(root=tmp_path, dialect="hosts"))
    assert report.errors and "binary" in report.errors[0]


def test_non_utf8_is_read_as_latin1(tmp_path, catalog):
    p = tmp_path / "hosts"
    p.write_bytes(b"# caf\xe9\n0.0.0.0 facebook.com www.facebook.com m.facebook.com\n")
    report = lint_paths([p], catalog, strict_policy(catalog), Options(root=tmp_path))
    assert verdicts(report)["facebook"] == "blocked"
    assert any(f.code == "TE902" and "UTF-8" in f.message for f in report.findings)


def test_malformed_lines_are_counted_once(lint):
    report = lint(
        {
            "hosts": """
        0.0.0.0 facebook.com
        facebook.com
        ||twitter.com^
        0.0.0.0 www.facebook.com
    """
        }
    )
    bad = [f for f in report.findings if f.code == "TE902"]
    assert len(bad) == 1 and bad[0].message.startswith("2 of ")
    assert bad[0].span.line == 3
    assert verdicts(report)["twitter"] == "unaffected"


def test_a_million_malformed_lines_in_bounded_time(tmp_path, catalog):
    p = tmp_path / "hosts"
    with open(p, "w") as fh:
        fh.write("0.0.0.0 facebook.com\n")
        for i in range(1_000_000):
            fh.write(f"this is not a hosts line {i}\n")
    t = time.monotonic()
    report = lint_paths([p], catalog, strict_policy(catalog), Options(root=tmp_path, dialect="hosts"))
    assert time.monotonic() - t < 20
    bad = [f for f in report.findings if f.code == "TE902"]
    assert len(bad) == 1 and "1000000 of 1000001 lines" in bad[0].message
    assert verdicts(report)["facebook"] == "blocked-partial"


def test_a_2gb_file_given_by_mistake_is_refused_without_reading_it(tmp_path, catalog):
    p = tmp_path / "hosts"
    with open(p, "wb") as fh:
        fh.truncate(2 * 1024**3)  # sparse: nothing is written
    t = time.monotonic()
    report = lint_paths([p], catalog, strict_policy(catalog), Options(root=tmp_path, dialect="hosts"))
    assert time.monotonic() - t < 5
    assert report.errors and "too large" in report.errors[0]


def test_lines_across_chunk_boundaries(tmp_path, catalog, monkeypatch):
    monkeypatch.setattr(hosts, "CHUNK_BYTES", 50)
    p = tmp_path / "hosts"
    lines = [f"0.0.0.0 filler{i}.example.net" for i in range(40)]
    lines[17] = "0.0.0.0 facebook.com www.facebook.com"
    lines[33] = "0.0.0.0 m.facebook.com"
    lines[25] = "not a hosts line"
    p.write_text("\n".join(lines))  # no final newline
    scan = hosts.scan_hosts(p, "hosts", hosts.wanted_names(catalog))
    assert scan.entries["facebook.com"][0].span.line == 18
    assert scan.entries["m.facebook.com"][0].span.line == 34
    assert scan.malformed == 1 and scan.malformed_examples[0][0] == 26
    assert scan.lines == 40


def test_only_candidate_lines_are_parsed(tmp_path, catalog, monkeypatch):
    p = tmp_path / "hosts"
    p.write_text(
        "".join(f"0.0.0.0 ads{i}.tracker.example\n" for i in range(5000)) + "0.0.0.0 box.com x.com\n"
    )
    parsed: list[int] = []
    real = hosts.parse_line

    def spy(scan: hosts.HostsScan, names: frozenset[str], raw: bytes, n: int) -> None:
        parsed.append(n)
        real(scan, names, raw, n)

    monkeypatch.setattr(hosts, "parse_line", spy)
    scan = hosts.scan_hosts(p, "hosts", hosts.wanted_names(catalog))
    assert parsed == [5001]
    assert "x.com" in scan.entries


@pytest.mark.parametrize(
    "name,head,claimed",
    [
        ("hosts", "", True),
        ("hosts.allow", "ALL: 10.0.0.0/8\n", False),
        ("linkedin", "0.0.0.0 a.linkedin.com\n0.0.0.0 b.linkedin.com\n0.0.0.0 c.linkedin.com\n", True),
        ("list.txt", "facebook.com\ntwitter.com\nlinkedin.com\n", False),
        ("squid.conf", "acl a src 10.0.0.0/8\nhttp_access allow a\n", False),
        # a squid access.log: the epoch timestamp looked like a numeric address
        (
            "proxy-2025-12-01",
            "1764576000.120     85 10.10.3.21 TCP_TUNNEL/200 6120 CONNECT x.com:443 - HIER_DIRECT/1.2.3.4 -\n"
            "1764576002.004      0 10.50.7.9 TCP_DENIED/403 3950 CONNECT www.facebook.com:443 - HIER_NONE/- -\n"
            "1764576010.311     61 10.10.4.2 TCP_TUNNEL/200 7010 CONNECT www.linkedin.com:443 - HIER_DIRECT/1.2.3.5 -\n",
            False,
        ),
        ("access.log", "0.0.0.0 facebook.com\n", False),
    ],
)
def test_detection(name, head, claimed):
    assert (hosts.detect(Path(name), head) >= 0.5) == claimed


def test_hosts_d_directory_name_is_recognised():
    assert hosts.detect(Path("hosts.d/linkedin"), "# list\n") >= 0.5
