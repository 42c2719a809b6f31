"""--engine duckdb gives the Python path's report, record for record, on every log format."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from policy_lint.traffic.classify import Classifier
from policy_lint.traffic.command import load_catalog_and_policy
from policy_lint.traffic.compliance import ComplianceReport
from policy_lint.traffic.sources import SkipCounter, SourceError, read_records
from tests.audit.samples import FORTI_TRAFFIC, panos_traffic
from tests.traffic.test_orglogs import CASES, SAMPLES, sample

pytest.importorskip("duckdb")  # the `scale` extra (scripts/test.sh installs it)
from policy_lint.traffic import duck

KEY = b"0123456789abcdef0123456789abcdef"
POLICY = SAMPLES / "policy-guests.yaml"


def python_report(paths: list[Path], by_address: bool = False) -> dict:
    catalog, policy = load_catalog_and_policy(POLICY)
    classifier = Classifier(catalog, by_address=by_address)
    report = ComplianceReport(catalog, policy, key=KEY)
    for path in paths:
        skipped = SkipCounter()
        for rec in read_records(path, skipped, keep_addressed=by_address):
            obs = classifier.classify(rec)
            if obs is not None:
                report.add(obs)
        for reason, n in skipped.reasons.items():
            report.note_skipped(n, reason)
    return report.to_dict()


def duck_report(paths: list[Path], by_address: bool = False) -> dict:
    catalog, policy = load_catalog_and_policy(POLICY)
    report = ComplianceReport(catalog, policy, key=KEY)
    duck.analyse(paths, Classifier(catalog, by_address=by_address), report)
    return report.to_dict()


def firewall_sessions_logs(tmp_path: Path) -> list[Path]:
    """PAN-OS TRAFFIC and FortiGate traffic records (no host name), one log each: to Facebook's
    and Twitter's published prefixes (IPv4 and IPv6, bracketed or not) and to addresses no
    service owns."""
    panos, forti = tmp_path / "panos-traffic.log", tmp_path / "forti-traffic.log"
    panos.write_text(
        panos_traffic("10.10.0.7", "157.240.1.35", "allow", 89000)  # facebook: answered
        + "\n"
        + panos_traffic("10.20.0.5", "157.240.1.35", "deny", 0)  # facebook: denied
        + "\n"
        + panos_traffic("10.20.0.5", "8.8.8.8", "deny", 0)  # no service's address
        + "\n"
        + panos_traffic("10.20.0.6", "2a03:2880:f000::1", "allow", 0)  # facebook IPv6: allowed
        + "\n"
    )
    forti.write_text(
        "".join(
            FORTI_TRAFFIC.format(src=src, dst=dst, action=action, user="", group="", rcvd=rcvd) + "\n"
            for src, dst, action, rcvd in [
                ("10.20.0.8", "104.244.42.1", "deny", 0),  # twitter: denied
                ("10.10.0.8", "[2a03:2880:f000::1]", "close", 5),  # facebook IPv6: answered
                ("10.10.0.9", "203.0.113.9", "accept", 5),  # no service's address
            ]
        )
    )
    return [panos, forti]


def test_by_address_same_report_and_attributed(tmp_path):
    logs = firewall_sessions_logs(tmp_path)
    report = duck_report(logs, by_address=True)
    assert report == python_report(logs, by_address=True)
    fb, tw = report["services"]["facebook"], report["services"]["twitter"]
    assert fb["hosts"]["address:157.240.1.35"] == {
        "blocked": 1,
        "failed": 0,
        "inconclusive": 0,
        "reachable": 1,
    }
    assert fb["hosts"]["address:2a03:2880:f000::1"]["reachable"] == 2
    assert tw["hosts"] == {
        "address:104.244.42.1": {"blocked": 1, "failed": 0, "inconclusive": 0, "reachable": 0}
    }
    assert all("matched by destination address" in e["evidence"] for e in fb["evidence"] + tw["evidence"])
    assert report["skipped"] == 0  # records to no service's address are not the catalog's: not counted
    # without attribution, every record is one without a host name
    off = duck_report(logs)
    assert off == python_report(logs)
    assert off["skipped"] == 7 and not off["services"]["facebook"]["hosts"]


@pytest.mark.parametrize("name", [c[0] for c in CASES])
def test_same_report_every_format(name, tmp_path):
    path = sample(name, tmp_path)
    assert duck_report([path]) == python_report([path])


def test_same_report_all_formats_together_repeated(tmp_path):
    paths = [sample(c[0], tmp_path) for c in CASES]
    big = tmp_path / "squid-many.log.gz"
    lines = (SAMPLES / "squid-combined.log").read_text().splitlines()
    # many hosts and clients: the host-table and client-sample caps are reached
    body = "".join(
        lines[i % 3].replace("10.10.0.7", f"10.10.{i % 40}.{i % 250}").replace("static.xx", f"s{i % 70}.xx")
        + "\n"
        for i in range(3000)
    )
    big.write_bytes(gzip.compress(body.encode()))
    plain = tmp_path / "squid-many.log"  # the same, read by DuckDB itself: order must be kept
    plain.write_text(body)
    nss = tmp_path / "nss-many.log"
    first = (SAMPLES / "zscaler-nss-web.log").read_text().splitlines()[:3]
    nss.write_text(
        "".join(
            first[i % 3]
            .replace("10.10.0.7", f"10.10.{i % 40}.{i % 250}")
            .replace("static.xx", f"s{i % 70}.xx")
            + "\n"
            for i in range(3000)
        )
    )
    paths += [big, plain, nss]
    py = python_report(paths)
    assert py["services"]["facebook"]["hosts"].get("(other hosts)")
    assert duck_report(paths) == py
    for one in (plain, nss):  # each alone: the caps are reached within the file DuckDB read
        assert duck_report([one]) == python_report([one])


def test_flow_files_are_refused(tmp_path):
    har = tmp_path / "capture.har"
    har.write_text(json.dumps({"log": {"entries": []}}))
    with pytest.raises(SourceError, match="--engine python"):
        duck_report([har])


def test_cli_engine_duckdb_and_key_file(tmp_path):
    key = tmp_path / "key"
    key.write_bytes(KEY)
    args = [sys.executable, "-m", "policy_lint", "traffic", str(SAMPLES / "zscaler-nss-web.log")]
    args += ["--policy", str(POLICY), "--format", "json", "--pseudonym-key-file", str(key)]
    one = subprocess.run([*args, "--engine", "duckdb"], capture_output=True, text=True, timeout=120)
    two = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert one.returncode == two.returncode == 0, one.stderr  # facebook blocked for guests: accepted
    assert json.loads(one.stdout) == json.loads(two.stdout)  # same key: same pseudonyms
    assert json.loads(one.stdout)["services"]["facebook"]["accepted"] == ["guests"]


def _days_log(tmp_path: Path) -> Path:
    """30 days of squid log: facebook denied for a guest on the 14 even days, reachable for staff."""
    rows = []
    for day in range(30):
        ts = 1655683200 + day * 86400 + 3600
        if day % 2 == 0 and day < 28:
            rows.append(
                f"{ts}.000 5 10.20.0.5 TCP_DENIED/403 3850 CONNECT www.facebook.com:443 - HIER_NONE/- -"
            )
        rows.append(
            f"{ts + 60}.000 5 10.10.0.7 TCP_TUNNEL/200 9000 CONNECT www.facebook.com:443 - HIER_DIRECT/157.240.1.35 -"
        )
    path = tmp_path / "access.log"
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize("period", ["day", "week"])
def test_trend_same_in_both_engines(period, tmp_path):
    path = _days_log(tmp_path)
    catalog, policy = load_catalog_and_policy(POLICY)
    classifier = Classifier(catalog)
    py = ComplianceReport(catalog, policy, key=KEY, period=period)
    for rec in read_records(path):
        obs = classifier.classify(rec)
        if obs is not None:
            py.add(obs)
    dk = ComplianceReport(catalog, policy, key=KEY, period=period)
    duck.analyse([path], classifier, dk)
    assert dk.to_dict() == py.to_dict()
    trend = py.to_dict()["trend"]
    if period == "day":
        assert trend["summary"] == [
            "facebook: blocked for guests on 14 of 30 days (accepted by a policy exception)"
        ]
        assert trend["audiences"]["staff"]["facebook"]["2022-06-20"] == "compliant"
    else:
        assert trend["periods"][0] == "2022-W25"


def test_trend_in_text_report(tmp_path):
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "policy_lint",
            "traffic",
            str(_days_log(tmp_path)),
            "--policy",
            str(POLICY),
            "--by",
            "day",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert "trend: facebook: blocked for guests on 14 of 30 days" in r.stdout


EDGE_LINES = [
    "1655738951.000      3 10.20.0.5 TCP_DENIED/403 3850 CONNECT www.facebook.com:443 - HIER_NONE/- -",
    "   1655738952.5 120 10.10.0.7 TCP_MISS/200 9000 GET http://www.linkedin.com/feed?x=1 - HIER_DIRECT/1.2.3.4 text/html",
    "1655738953 1 10.10.0.7 TCP_MISS/200 9000 GET HTTP://WWW.LINKEDIN.COM/ - HIER_DIRECT/1.2.3.4 -",  # Python's urlsplit
    "1655738954 1 10.10.0.7 TCP_TUNNEL/200 9000 CONNECT www.facebook.com.:443 - HIER_DIRECT/1.2.3.4 -",  # trailing dot
    "1655738955 1 10.10.0.7 TCP_TUNNEL/200 9000 CONNECT "
    + "a" * 64
    + ".facebook.com:443 - HIER_DIRECT/- -",  # IDNA
    "1655738956 1 10.10.0.7 TCP_TUNNEL/200 9000 CONNECT www.faceböok.com:443 - HIER_DIRECT/- -",  # non-ASCII
    "1655738957 1 10.10.0.7 TAG_NONE/503 0 CONNECT twitter.com:443 - HIER_NONE/- -",
    "1655738958 1 10.10.0.7 TCP_MISS/502 0 GET http://twitter.com/ - HIER_DIRECT/- -",
    "1655738959 1 10.10.0.7 TCP_MISS/000 0 GET http://user@twitter.com:8080/ - HIER_DIRECT/- -",  # userinfo
    "1655738960 1 10.10.0.7 TCP_TUNNEL/200 0 CONNECT [2a03:2880::1]:443 - HIER_DIRECT/- -",
    "\x0c1655738961 1 10.10.0.7 TCP_TUNNEL/200 0 CONNECT www.linkedin.com:443 - HIER_DIRECT/- -",
    "\x0c# a comment after a form feed",
    "# a comment",
    "",
    '10.20.0.5 - - [20/Jun/2022:15:29:11 +0000] "CONNECT www.facebook.com:443 HTTP/1.1" 403 3850 "-" "-" TCP_DENIED:HIER_NONE',
    "garbage",
    "1655738962 1 10.10.0.7 TCP_TUNNEL/200 0 CONNECT www.linkedin.com:notaport - HIER_DIRECT/- -",
    "1655738963 1 10.10.0.7 TCP_MISS/200 0 GET http://www.linkedin.com:99999/ - HIER_DIRECT/- -",
]


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_native_squid_reader_same_as_python(newline, tmp_path):
    path = tmp_path / "access.log"
    path.write_bytes((newline.join(EDGE_LINES * 3) + newline).encode("utf-8"))
    assert duck_report([path]) == python_report([path])


def test_native_squid_reader_is_used(tmp_path):
    import duckdb

    path = tmp_path / "access.log"
    path.write_text("\n".join(EDGE_LINES) + "\n")
    con = duckdb.connect()
    spooled = tmp_path / "spool.tsv"
    skipped = SkipCounter()
    with open(spooled, "w") as out:
        staged = duck.native_squid(con, path, 100, out, skipped, tmp_path / "stage.parquet")
    assert staged is not None and staged.base == 100
    rows = con.execute(f"SELECT seq, host, user_name FROM ({staged.records_sql()}) ORDER BY seq").fetchall()
    # the plain lines (1, 2, 4, 7, 8): DuckDB read them; the rest went to Python
    assert [r[1] for r in rows] == [
        "www.facebook.com",
        "www.linkedin.com",
        "www.facebook.com.",
        "twitter.com",
        "twitter.com",
    ]
    assert rows[0][0] == 100 and [r[0] for r in rows] == sorted(r[0] for r in rows)  # file order
    assert skipped.reasons == {"access.log line not in squid native/common format": 4}


def test_native_squid_line_ends(tmp_path):
    """What may follow the URL (DuckDB matches the line's start only, up to the user): nothing,
    spaces, the user and anything after a space; not a tab. Same report as Python's, and DuckDB
    parsed exactly the lines Python's regex reads."""
    import duckdb

    head = "1655738964 1 10.10.0.7 TCP_TUNNEL/200 0 CONNECT twitter.com:443"
    tails = ["", "   ", " bob", " bob ", " bob \x0bx\té", "\tbob", " bob\tHIER_NONE/- -", " bob\x0b", " é"]
    path = tmp_path / "access.log"
    path.write_text("".join(head + tail + "\n" for tail in tails))
    assert duck_report([path]) == python_report([path])
    con = duckdb.connect()
    with open(tmp_path / "spool.tsv", "w") as out:
        staged = duck.native_squid(con, path, 0, out, SkipCounter(), tmp_path / "stage.parquet")
    assert staged is not None
    rows = con.execute(f"SELECT seq FROM ({staged.records_sql()}) ORDER BY seq").fetchall()
    assert [r[0] for r in rows] == [0, 1, 2, 3, 4]


def test_native_zscaler_reader_same_as_python(tmp_path):
    good = (SAMPLES / "zscaler-nss-web.log").read_text().splitlines()
    f = good[0].split("\t")
    variants = [
        good[0],
        good[1],
        "\t".join([f[0], f[1], f[2], "https://WWW.FACEBOOK.COM:443/x?y", *f[4:]]),  # URL form
        "\t".join([f[0], f[1], f[2], "www.facebook.com./", *f[4:]]),  # trailing dot
        "\t".join([f[0], f[1], f[2], "www.facebook.com?x=1", *f[4:]]),  # Python keeps "?x=1"
        "\t".join([f[0], f[1], f[2], "a.com/r?u=http://www.facebook.com/", *f[4:]]),  # no host
        "\t".join(["Mon Feb 30 10:00:00 2022", *f[1:]]),  # no such day
        "\t".join(["Mon Jun  2 10:00:00 2022", *f[1:]]),  # one-digit day: Python's way
        "\t".join([f[0], f[1], f[2], f[3], "Cautioned", *f[5:]]),  # unknown action
        "\t".join([*f[:22], "0200", *f[23:]]),  # status with a leading zero
        "\t".join([f[0], "", f[2], f[3], f[4], *f[5:19], "", *f[20:]]),  # no client
        "\t".join([f[0], f[1], f[2], "www.faceböok.com/", *f[4:]]),  # non-ASCII
        "# comment",
        "",
        "\x0b",
        "garbage",
        *good[2:],
    ]
    path = tmp_path / "nss.log"
    path.write_text("\n".join(variants * 2) + "\n")
    assert duck_report([path]) == python_report([path])
    parsed = zscaler_parsed_in_sql(path, tmp_path)
    assert parsed is not None and parsed >= 2 * 7  # DuckDB parsed the plain lines itself


def zscaler_parsed_in_sql(path: Path, tmp_path: Path) -> int | None:
    """How many records of the Zscaler log `path` DuckDB parsed itself (None: it left the whole
    file to the Python reader)."""
    import duckdb

    con = duckdb.connect()
    with open(tmp_path / "spool.tsv", "w") as out:
        staged = duck.duck_zscaler.read(con, path, 0, duck.spool, out, SkipCounter(), tmp_path / "z.parquet")
    if staged is None:
        return None
    row = con.execute(f"SELECT count(*) FROM ({staged.records_sql()})").fetchone()
    assert row is not None
    return int(row[0])


def test_native_zscaler_field_reader_edges(tmp_path):
    """The Zscaler lines DuckDB reads as tab-separated fields (the first 23 only): too few or
    more fields, a NUL or invalid UTF-8 in a field, only tabs, blank lines between garbage (the
    lines left to Python are found again by their number among the non-empty lines)."""
    good = (SAMPLES / "zscaler-nss-web.log").read_text().splitlines()
    f = good[0].split("\t")
    lines = [
        "\t".join(f[:22]).encode(),  # 22 fields: not a Zscaler line
        "\t".join(f[:23]).encode(),  # exactly 23
        "\t".join([*f, "extra", "more"]).encode(),  # past the default feed's fields
        ("\t" * 30).encode(),
        b"",
        b"",
        "\t".join([*f[:6], "\x00", *f[7:]]).encode(),  # NUL in a field not read
        "\t".join([f[0], "\x00", *f[2:]]).encode(),  # NUL as the login: Python's parse
        "\t".join([*f[:6], "x", *f[7:]]).encode().replace(b"\tx\t", b"\t\xff\t"),  # bad UTF-8, not read
        b"garbage",
        b"",
        good[1].encode(),
        b"\t".join([good[2].encode(), b"tail"]),
    ]
    path = tmp_path / "nss.log"
    path.write_bytes(b"\n".join(lines * 2) + b"\n")
    assert duck_report([path]) == python_report([path])
    # 23, more, NUL not read, bad UTF-8 not read, good[1], good[2] + tail
    assert zscaler_parsed_in_sql(path, tmp_path) == 2 * 6

    # a CR: DuckDB would end the row there, Python keeps it in the line: Python reads the file
    path.write_bytes(b"\n".join([good[0].encode(), good[1].encode().replace(b"\t", b"\r\t", 1)]) + b"\n")
    assert zscaler_parsed_in_sql(path, tmp_path) is None
    assert duck_report([path]) == python_report([path])


@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_native_zscaler_cr_found_while_duckdb_parses(where, tmp_path):
    """The CR search runs beside DuckDB's parse (duck_stage.CrWatch) on a file of 200,000 lines
    (52 MB: the parse and the search overlap): a CR anywhere sends the whole file to Python,
    whether it is found before the parse ends (the query is interrupted) or after."""
    good = (SAMPLES / "zscaler-nss-web.log").read_text().splitlines()[0].encode()
    lines = [good] * 200_000
    at = {"first": 0, "middle": len(lines) // 2, "last": len(lines) - 1}[where]
    lines[at] = good.replace(b"\t", b"\r\t", 1)
    path = tmp_path / "nss.log"
    path.write_bytes(b"\n".join(lines) + b"\n")
    assert zscaler_parsed_in_sql(path, tmp_path) is None
    assert not (tmp_path / "z.parquet").exists()
    path.write_bytes(b"\n".join([good] * 200_000) + b"\n")
    assert zscaler_parsed_in_sql(path, tmp_path) == 200_000


@pytest.mark.parametrize("seed", range(4))
def test_native_readers_agree_on_mutated_lines(seed, tmp_path):
    """Lines of both native formats with random characters changed, inserted or removed: the
    lines DuckDB parses itself must give exactly what the Python readers give."""
    import random

    rng = random.Random(seed)
    alphabet = "aZ09.-:/_#@?[]\"' \t\x0b\x0c\x00é\u0660" + "TCP_DENIED/403 CONNECT http:// https://"
    squid = [line for line in EDGE_LINES if line]
    nss = (SAMPLES / "zscaler-nss-web.log").read_text().splitlines()[:3]

    def mutate(line: str) -> str:
        chars = list(line)
        for _ in range(rng.randrange(4)):
            i = rng.randrange(len(chars) + 1)
            op = rng.randrange(3)
            if op == 0 and chars and i < len(chars):
                chars[i] = rng.choice(alphabet)
            elif op == 1:
                chars.insert(i, rng.choice(alphabet))
            elif chars and i < len(chars):
                del chars[i]
        return "".join(chars)

    for name, base in (("access.log", squid), ("nss.log", nss)):
        path = tmp_path / name
        path.write_text("\n".join([base[0], *(mutate(rng.choice(base)) for _ in range(400))]) + "\n")
        assert duck_report([path]) == python_report([path]), name


def test_native_zscaler_reads_again_only_the_lines_its_fields_cannot_stand_for(tmp_path, monkeypatch):
    """A line DuckDB leaves to Python is given to weblogs.zscaler as its 23 fields (the fields
    read; the others only name the scheme and method) unless a field read is NULL (fewer than
    23 fields, a field that is exactly NUL) or none holds a printable character: only those lines
    are read again from the file (a Python pass over it up to them). Same report either way."""
    good = (SAMPLES / "zscaler-nss-web.log").read_text().splitlines()
    f = good[0].split("\t")
    lines = {
        "good": good[0],
        "non-ASCII login": "\t".join([f[0], "josé@example.com", *f[2:]]),
        "non-ASCII host": "\t".join([*f[:3], "www.faceböok.com/", *f[4:]]),
        "unread fields odd": "\t".join(
            [*f[:2], "\x0bHTTPS é", f[3], f[4], "\x00", *f[6:21], " PUT\x0c", *f[22:]]
        ),
        "comment": "#\tFields: time login",
        "garbage": "garbage line",
        "22 fields": "\t".join(f[:22]),
        "NUL status": "\t".join([*f[:22], "\x00", *f[23:]]),
        "blank fields": "\t".join([" "] * 30),
        "blank read fields, text past them": "\t".join([" "] * 23 + ["x"]),
    }
    reread = {"garbage", "22 fields", "NUL status", "blank fields", "blank read fields, text past them"}
    path = tmp_path / "nss.log"
    path.write_text("\n".join(list(lines.values()) * 2) + "\n")
    asked: list[int] = []
    lines_at = duck.duck_zscaler.lines_at

    def recording(
        path: Path, rows: Iterable[int], total: int | None = None, size: int | None = None
    ) -> Iterator[tuple[int, str]]:
        rows = list(rows)
        asked.extend(rows)
        return lines_at(path, rows, total, size)

    monkeypatch.setattr(duck.duck_zscaler, "lines_at", recording)
    assert duck_report([path]) == python_report([path])
    names = list(lines) * 2
    assert sorted({names[row] for row in asked}) == sorted(reread)
    assert len(asked) == 2 * len(reread)


def test_auto_engine_takes_duckdb_for_large_logs_and_python_otherwise(tmp_path):
    from policy_lint.traffic.command import choose_engine

    log = SAMPLES / "squid-combined.log"
    size = log.stat().st_size
    har = tmp_path / "capture.har"
    har.write_text(json.dumps({"log": {"entries": []}}))
    assert choose_engine([log], threshold=size + 1) == "python"  # small: Python starts at once
    assert choose_engine([log], threshold=size) == "duckdb"
    assert choose_engine([log, har], threshold=size) == "python"  # HAR needs the fingerprints
    assert choose_engine([SAMPLES / "panos-url.log", SAMPLES / "zeek-ssl.json"], threshold=1) == "duckdb"


def _user_logs(tmp_path: Path) -> list[Path]:
    """Users in every path of the engine: squid native (DuckDB's parse and Python's fallback),
    squid common format (spooled), Zscaler logins (DuckDB's parse); many users, clients, hosts."""
    squid, common, nss = [], [], []
    first = (SAMPLES / "zscaler-nss-web.log").read_text().splitlines()[:3]
    for i in range(600):
        user = ["-", f"u{i % 23}", f"CORP\\u{i % 7}", "asmith"][i % 4]
        client = f"10.{10 + 10 * (i % 2)}.{i % 5}.{i % 31}"
        host = ["www.facebook.com", "static.xx.fbcdn.net", "www.linkedin.com", "example.org"][i % 4]
        tag = "TCP_DENIED/403" if i % 3 == 0 else "TCP_TUNNEL/200"
        pad = " " * (1 + i % 6)
        line = (
            f"{1655738951 + i}.000{pad}{i % 900} {client} {tag} 3850 CONNECT {host}:443 {user} HIER_NONE/- -"
        )
        squid.append(line if i % 50 else "\x0c" + line)  # a form feed: Python's parse
        common.append(
            f'{client} - {user} [20/Jun/2022:15:{i % 60:02d}:11 +0000] "CONNECT {host}:443 HTTP/1.1" 200 3850 "-" "-" TCP_TUNNEL:HIER_DIRECT'
        )
        f = first[i % 3].split("\t")
        login = [
            "jdoe@example.com",
            f"user{i % 13}@example.com",
            "None",
            '"quoted@example.com"',
            "",
            '""UNKNOWN"',  # the placeholders, also quoted: no user
            '"-"',
            '""',
            "Unknown1",
        ][i % 9]
        nss.append("\t".join([f[0], login, *f[2:19], client, *f[20:]]))
    paths = [tmp_path / "access.log", tmp_path / "common.log.gz", tmp_path / "nss.log"]
    paths[0].write_text("\n".join(squid) + "\n")
    paths[1].write_bytes(gzip.compress(("\n".join(common) + "\n").encode()))
    paths[2].write_text("\n".join(nss) + "\n")
    return paths


@pytest.mark.parametrize("max_users", [200, 5])
def test_per_user_report_same_as_python(max_users, tmp_path):
    """audit --by-user's tally (observe.TrafficSide, Python path) and byuser.ByUser on DuckDB:
    the same users under the same keyed pseudonyms, the same per-user report; the cap too."""
    from policy_lint.audit import observe
    from policy_lint.traffic.byuser import OTHER_USERS, ByUser
    from policy_lint.traffic.compliance import keyed_pseudonym

    paths = _user_logs(tmp_path)
    catalog, _ = load_catalog_and_policy(None)
    side = observe.TrafficSide(catalog, [], network_view=False, key=KEY, by_user=True)
    side.users.max_users = max_users
    side.read(paths)
    users = ComplianceReport(catalog, None, key=KEY)
    by_user = ByUser(users, lambda u: keyed_pseudonym(KEY, u, "user-"), max_users)
    duck.analyse(
        paths, Classifier(catalog, by_address=True), ComplianceReport(catalog, None, key=KEY), by_user
    )
    assert by_user.names == side.users.names
    assert users.to_dict() == side.users.report.to_dict()
    assert len(side.users.names) == min(max_users, 46)  # 23 + 7 + asmith + 15 logins
    shown = set(users.to_dict()["audiences"])
    assert all(name.startswith("user-") for name in shown - {OTHER_USERS})  # pseudonymised
    assert (OTHER_USERS in shown) == (max_users < 46)


def test_engine_load_keeps_rows_their_order_types_and_nulls():
    """DuckEngine.load makes the table of Python rows the plan joins (catalog, clients, users):
    every row, in order, typed by its column, NULL where the row holds None."""
    import duckdb

    con = duckdb.connect()
    engine = duck.DuckEngine(con)
    columns = {"client": "VARCHAR", "n": "INTEGER", "big": "BIGINT", "ok": "BOOLEAN", "ts": "DOUBLE"}
    rows = [
        ("10.0.0.2", 3, 1 << 40, True, 1.5),
        (None, None, None, None, None),
        ("it's ü\tx", -1, 0, False, None),
        *((f"10.1.{i // 250}.{i % 250}", i, i, i % 2 == 0, float(i)) for i in range(3000)),
    ]
    engine.load("clients", columns, rows)
    assert con.execute("SELECT * FROM clients").fetchall() == rows
    assert [r[1] for r in con.execute("DESCRIBE clients").fetchall()] == list(columns.values())
    engine.load("nobody", {"client": "VARCHAR", "audience": "VARCHAR"}, [])
    assert con.execute("SELECT count(*) FROM nobody").fetchone() == (0,)
    engine.load("unknown", {"client": "VARCHAR"}, [(None,), (None,)])
    assert con.execute("SELECT * FROM unknown").fetchall() == [(None,), (None,)]


SQUID_USERS = [
    "1655738951.000      3 10.20.0.5 TCP_DENIED/403 3850 CONNECT www.facebook.com:443 alice HIER_NONE/- -",
    "1655738952.5 120 10.10.0.7 TCP_MISS/200 9000 GET http://www.linkedin.com/feed - HIER_DIRECT/1.2.3.4 -",
    "1655738953 1 10.10.0.8 TCP_TUNNEL/200 9000 CONNECT twitter.com:443 CORP\\bob HIER_DIRECT/1.2.3.4 -",
]


@pytest.mark.parametrize("log", ["access.log", "zscaler-nss-web.log"])
def test_user_names_staged_only_for_a_run_that_reads_them(log, tmp_path):
    """A run without user audiences or --by-user stages no user column (a string column costs
    ~5% of a parse); the records are the same but for it, and one that reads users has them."""
    import duckdb

    path = tmp_path / log
    if log == "access.log":
        path.write_text("\n".join(SQUID_USERS * 3) + "\n")
    else:
        path.write_bytes((SAMPLES / log).read_bytes() * 3)
    con = duckdb.connect()
    rows = {}
    for users in (True, False):
        with open(tmp_path / f"spool-{users}.tsv", "w") as out:
            dest = tmp_path / f"stage-{users}.parquet"
            if log == "access.log":
                staged = duck.native_squid(con, path, 0, out, SkipCounter(), dest, users)
            else:
                staged = duck.duck_zscaler.read(con, path, 0, duck.spool, out, SkipCounter(), dest, users)
        assert staged is not None
        written = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{dest}')").fetchall()}
        assert ("user_name" in written) is users
        rows[users] = con.execute(f"SELECT * FROM ({staged.records_sql()}) ORDER BY seq").fetchall()
    names = [r[11] for r in rows[True]]
    assert any(names) and not any(r[11] for r in rows[False])
    assert [r[:11] for r in rows[True]] == [r[:11] for r in rows[False]]


def _lines_at_by_iteration(path: Path, rows: list[int]) -> list[tuple[int, str]]:
    """lines_at's meaning, the plain way: every non-empty line, numbered from 0."""
    with open(path, "rb") as fh:
        numbered = [line for line in fh.read().split(b"\n") if line]
    return [(row, numbered[row].decode("utf-8", "replace")) for row in rows if row < len(numbered)]


@pytest.mark.parametrize("seed", range(6))
def test_lines_at_finds_the_rows(seed, tmp_path, monkeypatch):
    """duck_stage.lines_at (the Zscaler lines DuckDB left to Python, found again by their number
    among the non-empty lines): the rows of reading every line, with empty lines, runs of them,
    a CR, invalid UTF-8, a last line without its line end."""
    import random

    from policy_lint.traffic import duck_stage
    from policy_lint.traffic.duck_stage import lines_at

    rng = random.Random(seed)
    pieces = [b"", b"a", b"line\tx", b"\r", b"\xff\xfe", "é".encode(), b"x" * 40]
    text = b"\n".join(rng.choice(pieces) * rng.randint(1, 3) for _ in range(rng.randint(0, 400)))
    if rng.random() < 0.5:
        text += b"\n"
    if rng.random() < 0.3:
        text = b"\n\n" + text
    path = tmp_path / "log"
    path.write_bytes(text)
    count = len([line for line in text.split(b"\n") if line])
    for _ in range(5):
        rows = sorted(rng.sample(range(count + 2), min(count + 2, rng.randint(0, 12))))
        assert list(lines_at(path, rows)) == _lines_at_by_iteration(path, rows)
    assert list(lines_at(path, range(count))) == _lines_at_by_iteration(path, list(range(count)))
    # from the end (rows among the last lines), whatever the window; the same rows from the start
    size = len(text)
    for window in (1, 5, 64, 1 << 20):
        monkeypatch.setattr(duck_stage, "TAIL_BYTES", window)
        for _ in range(5):
            rows = sorted(rng.sample(range(count), min(count, rng.randint(0, 6))))
            rows = [row for row in rows if row >= count - rng.randint(0, 8)]
            assert list(lines_at(path, rows, count, size)) == _lines_at_by_iteration(path, rows)
        assert list(lines_at(path, range(count), count, size)) == _lines_at_by_iteration(
            path, list(range(count))
        )


def test_lines_at_finds_the_last_lines_from_the_end(tmp_path, monkeypatch):
    """A truncated last line (a log copied while written) is found in the file's tail, with no
    pass over the lines before it; a file that grew since DuckDB read it is read from the start."""
    from policy_lint.traffic import duck_stage

    lines = [f"line {i}".encode() for i in range(200_000)] + [b"", b"truncat"]
    path = tmp_path / "log"
    path.write_bytes(b"\n".join(lines))
    total, size = 200_001, path.stat().st_size

    def from_start(*args: object) -> Iterator[tuple[int, str]]:
        raise AssertionError("read from the start")

    with monkeypatch.context() as patch:
        patch.setattr(duck_stage, "_lines_from_start", from_start)
        assert list(duck_stage.lines_at(path, [199_990, 200_000], total, size)) == [
            (199_990, "line 199990"),
            (200_000, "truncat"),
        ]
        with pytest.raises(AssertionError, match="from the start"):
            list(duck_stage.lines_at(path, [3, 200_000], total, size))  # row 3: not in the tail
        with open(path, "ab") as fh:
            fh.write(b"ed\nline 200001\n")  # appended since: the rows counted no longer hold
        with pytest.raises(AssertionError, match="from the start"):
            list(duck_stage.lines_at(path, [200_000], total, size))
    assert list(duck_stage.lines_at(path, [200_000], total, size)) == [(200_000, "truncated")]
