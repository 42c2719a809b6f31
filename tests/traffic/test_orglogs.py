"""Organisation logs (#21): each vendor's documented layout, read from samples written from it,
classified by the shared classifier; bad input is counted, never fatal."""

from __future__ import annotations

import gzip
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import zstandard

from policy_lint.catalog import load_catalog
from policy_lint.traffic.classify import Classifier
from policy_lint.traffic.logio import MAX_LINE, TOO_LONG, TRUNCATED
from policy_lint.traffic.logread import detect
from policy_lint.traffic.sources import SkipCounter, SourceError, read_records

SAMPLES = Path(__file__).parent / "samples"


def pihole_db(tmp_path: Path) -> Path:
    db = tmp_path / "pihole-FTL.db"
    con = sqlite3.connect(db)
    con.executescript((SAMPLES / "pihole-FTL.sql").read_text())
    con.commit()
    con.close()
    return db


def sample(name: str, tmp_path: Path) -> Path:
    return pihole_db(tmp_path) if name == "pihole-FTL.sql" else SAMPLES / name


def outcomes(path: Path) -> tuple[dict[str, tuple[str, str]], SkipCounter]:
    classifier = Classifier(load_catalog())
    skipped = SkipCounter()
    out: dict[str, tuple[str, str]] = {}
    for rec in read_records(path, skipped):
        obs = classifier.classify(rec)
        if obs is not None:
            out.setdefault(f"{obs.host}@{obs.client}", (obs.outcome, obs.how))
    return out, skipped


# (sample, format detected, {host@client: (outcome, how)}, {skip reason: count})
CASES = [
    (
        "zscaler-nss-web.log",
        "zscaler",
        {
            "www.facebook.com@10.20.0.5": ("blocked", "filter-denied"),  # action Blocked
            "www.linkedin.com@10.10.0.7": ("reachable", "http"),  # Allowed, respcode 200
            "static.xx.fbcdn.net@10.10.0.7": ("reachable", "http"),
        },
        {"line not in Zscaler NSS web format": 2},  # garbage, and a line with too few fields
    ),
    (
        "panos-url.log",
        "panos",
        {
            "www.facebook.com@10.20.0.5": ("blocked", "filter-denied"),  # block-url
            "www.linkedin.com@10.10.0.7": ("reachable", "filter-allowed"),  # alert
            "twitter.com@10.20.0.6": ("inconclusive", "action-not-modelled"),  # unknown action
        },
        # the TRAFFIC record has no host name; the last line is truncated
        {"PAN-OS syslog CSV record without a host name": 1, "line not in PAN-OS syslog CSV format": 1},
    ),
    (
        "fortigate.log",
        "fortigate",
        {
            "www.facebook.com@10.20.0.5": ("blocked", "filter-denied"),  # webfilter blocked
            "www.linkedin.com@10.10.0.7": ("reachable", "filter-allowed"),  # passthrough
            "static.xx.fbcdn.net@10.10.0.7": ("reachable", "answered"),  # close, bytes received
        },
        {"FortiGate key=value record without a host name": 1, "line not in FortiGate key=value format": 1},
    ),
    (
        "umbrella-dns.csv",
        "umbrella",
        {
            "www.facebook.com@10.20.0.5": ("blocked", "filter-denied"),
            "www.linkedin.com@10.10.0.7": ("reachable", "answered"),  # Allowed, NOERROR
            "nosuch.twitter.com@10.10.0.7": ("failed", "error"),  # NXDOMAIN: no filter verdict
        },
        {"line not in Cisco Umbrella CSV format": 1},
    ),
    (
        "umbrella-proxy.csv",
        "umbrella",
        {
            "www.facebook.com@10.20.0.5": ("blocked", "filter-denied"),
            "www.linkedin.com@10.10.0.7": ("reachable", "http"),
        },
        {},
    ),
    (
        "adguard-querylog.json",
        "jsonl",
        {
            "www.facebook.com@10.20.0.5": ("blocked", "filter-denied"),  # IsFiltered
            "www.linkedin.com@10.10.0.7": ("reachable", "answered"),
        },
        {"JSON log line unreadable": 1},
    ),
    (
        "suricata-eve.json",
        "jsonl",
        {
            "www.facebook.com@10.20.0.5": ("blocked", "dns-sinkhole"),  # answer 0.0.0.0
            "www.linkedin.com@10.10.0.7": ("reachable", "answered"),  # tls with certificate
            "twitter.com@10.10.0.7": ("reachable", "http"),  # http status 301
        },
        {"JSON log line unreadable": 1},
    ),
    (
        "zeek-dns.log",
        "zeek-tsv",
        {
            "www.facebook.com@10.20.0.5": ("blocked", "dns-sinkhole"),
            "www.linkedin.com@10.10.0.7": ("reachable", "answered"),  # CNAME, then an address
        },
        {"Zeek TSV row unreadable": 1},
    ),
    (
        "zeek-ssl.json",
        "jsonl",
        {
            "www.facebook.com@10.20.0.5": ("failed", "error"),  # established false
            "www.linkedin.com@10.10.0.7": ("reachable", "answered"),
            "twitter.com@10.10.0.7": ("reachable", "http"),  # a Zeek http.log JSON line
        },
        {},
    ),
    (
        "pihole-FTL.sql",
        "pihole-db",
        {
            "www.facebook.com@10.20.0.5": ("blocked", "filter-denied"),  # status 1 gravity
            "www.linkedin.com@10.10.0.7": ("reachable", "answered"),  # status 2 forwarded
            "static.xx.fbcdn.net@10.20.0.5": ("blocked", "filter-denied"),  # status 4 regex
            "twitter.com@10.10.0.7": ("inconclusive", "action-not-modelled"),  # status 0 unknown
        },
        {},
    ),
    (
        "squid-combined.log",
        None,  # plain squid logs stay with sources' own reader
        {
            "www.facebook.com@10.20.0.5": ("blocked", "proxy-denied"),
            "www.linkedin.com@10.10.0.7": ("reachable", "http"),
            "static.xx.fbcdn.net@10.10.0.7": ("reachable", "http"),
        },
        {"access.log line not in squid native/common format": 1},
    ),
]


@pytest.mark.parametrize(("name", "fmt", "expected", "skips"), CASES, ids=[c[0] for c in CASES])
def test_format(name, fmt, expected, skips, tmp_path):
    path = sample(name, tmp_path)
    assert detect(path) == fmt
    got, skipped = outcomes(path)
    assert got == expected
    assert skipped.reasons == skips


@pytest.mark.parametrize("name", [c[0] for c in CASES if c[0] != "pihole-FTL.sql"])
@pytest.mark.parametrize("codec", ["gz", "zst"])
def test_compressed_reads_the_same(name, codec, tmp_path):
    plain = SAMPLES / name
    data = plain.read_bytes()
    packed = gzip.compress(data) if codec == "gz" else zstandard.ZstdCompressor().compress(data)
    path = tmp_path / f"{name}.{codec}"
    path.write_bytes(packed)
    assert outcomes(path)[0] == outcomes(plain)[0]


@pytest.mark.parametrize("codec", ["gz", "zst"])
def test_truncated_compressed_keeps_what_came_before(codec, tmp_path):
    first = (SAMPLES / "zscaler-nss-web.log").read_text().splitlines()[0]
    # distinct lines (sizes vary) so that the compressed stream has many blocks
    data = "".join(first.replace("\t512\t", f"\t{i * 7919 % 100003}\t") + "\n" for i in range(20000)).encode()
    packed = gzip.compress(data) if codec == "gz" else zstandard.ZstdCompressor().compress(data)
    path = tmp_path / f"nss.log.{codec}"
    path.write_bytes(packed[: len(packed) // 2])
    classifier = Classifier(load_catalog())
    skipped = SkipCounter()
    n = sum(1 for r in read_records(path, skipped) if classifier.classify(r))
    assert 0 < n < 20000
    assert skipped.reasons.get(TRUNCATED) == 1


def test_overlong_line_is_skipped_not_held(tmp_path):
    path = tmp_path / "nss.log"
    good = (SAMPLES / "zscaler-nss-web.log").read_text().splitlines()[0]
    path.write_text(f"{good}\n{good}{'x' * (3 * MAX_LINE)}\n{good}\n")
    got, skipped = outcomes(path)
    assert got == {"www.facebook.com@10.20.0.5": ("blocked", "filter-denied")}
    assert skipped.reasons == {TOO_LONG: 1}


def test_binary_garbage_after_a_good_line(tmp_path):
    path = tmp_path / "fortigate.log"
    good = (SAMPLES / "fortigate.log").read_bytes().splitlines()[0]
    path.write_bytes(good + b"\n" + bytes(range(256)) * 40 + b"\n")
    got, skipped = outcomes(path)
    assert got == {"www.facebook.com@10.20.0.5": ("blocked", "filter-denied")}
    assert skipped.count >= 1


def test_pihole_database_not_a_pihole_database(tmp_path):
    db = tmp_path / "other.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    with pytest.raises(SourceError, match="not a Pi-hole FTL database"):
        list(read_records(db))


def test_pihole_database_truncated(tmp_path):
    db = pihole_db(tmp_path)
    con = sqlite3.connect(db)
    con.executemany(
        "INSERT INTO queries (timestamp, type, status, domain, client) VALUES (?, 1, 1, ?, '10.0.0.1')",
        [(1655738951 + i, f"h{i}.facebook.com") for i in range(5000)],
    )
    con.commit()
    con.close()
    cut = tmp_path / "cut.db"
    cut.write_bytes(db.read_bytes()[: db.stat().st_size // 2])
    skipped = SkipCounter()
    try:
        n = sum(1 for _ in read_records(cut, skipped))
    except SourceError as exc:  # SQLite may refuse the file outright: one line, no traceback
        assert "Pi-hole" in str(exc) or "SQLite" in str(exc)
    else:
        assert n < 5006


def test_panos_syslog_header_and_quoted_url():
    line = (SAMPLES / "panos-url.log").read_text().splitlines()[0]
    assert line.startswith("Jun 20 15:29:11 fw01 1,")
    from policy_lint.traffic.weblogs import panos

    rec = panos(line)
    assert rec is not None
    assert (rec.host, rec.client, rec.verdict) == ("www.facebook.com", "10.20.0.5", "denied")


def test_fortigate_eventtime_nanoseconds_wins():
    from policy_lint.traffic.weblogs import fortigate

    rec = fortigate((SAMPLES / "fortigate.log").read_text().splitlines()[0])
    assert rec is not None
    assert rec.timestamp == pytest.approx(1655738951.123456789)


def test_mixed_directory_cli(tmp_path):
    logs = tmp_path / "logs"
    shutil.copytree(SAMPLES, logs, ignore=shutil.ignore_patterns("*.sql"))
    pihole_db(logs)
    (logs / "eve.json.gz").write_bytes(gzip.compress((SAMPLES / "suricata-eve.json").read_bytes()))
    r = subprocess.run(
        [sys.executable, "-m", "policy_lint", "traffic", str(logs), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 1, r.stderr  # facebook blocked
    d = json.loads(r.stdout)
    assert d["services"]["facebook"]["verdict"] == "blocked"
    assert d["services"]["linkedin"]["verdict"] == "compliant"
    assert d["skipped"] > 0
    assert "10.20.0.5" not in r.stdout  # pseudonymised
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("name", [c[0] for c in CASES if c[0] != "pihole-FTL.sql"])
def test_mutated_lines_never_crash(name, tmp_path):
    """Every sample with random characters changed, inserted or removed: read, classified and
    reported without an exception escaping; what was not readable is counted."""
    import random

    from policy_lint.traffic.command import load_catalog_and_policy
    from policy_lint.traffic.compliance import ComplianceReport

    rng = random.Random(name)
    alphabet = 'aZ09.-:/_#@?[]{}",\t\x0b\x0c\x00é\u0660 Blocked allowed 403 TCP_DENIED http:// ='
    base = (SAMPLES / name).read_text().splitlines()
    lines = [base[0]]
    for _ in range(300):
        chars = list(rng.choice(base))
        for _ in range(rng.randrange(1, 5)):
            i = rng.randrange(len(chars) + 1)
            if i < len(chars) and rng.random() < 0.5:
                chars[i] = rng.choice(alphabet)
            else:
                chars.insert(i, rng.choice(alphabet))
        lines.append("".join(chars))
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    catalog, policy = load_catalog_and_policy(None)
    classifier = Classifier(catalog)
    report = ComplianceReport(catalog, policy, period="week")
    skipped = SkipCounter()
    for rec in read_records(path, skipped):
        obs = classifier.classify(rec)
        if obs is not None:
            report.add(obs)
    report.to_dict()
