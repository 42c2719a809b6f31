"""--engine spark gives the Python path's (and DuckDB's) report, record for record, on every log
format: both SQL engines run the same text (traffic/sqlplan.py).

Spark runs in local mode (local[2], one session for the module: a JVM start costs seconds),
bound to 127.0.0.1 with its UI off. Without pyspark or Java these tests skip, saying so; the
CI's Python 3.11 run sets POLICY_LINT_REQUIRE_SPARK=1 (scripts/test.sh) and then a skip is a
failure, as POLICY_LINT_REQUIRE_E2E does for the end-to-end tests.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from policy_lint.traffic.classify import Classifier
from policy_lint.traffic.command import load_catalog_and_policy
from policy_lint.traffic.compliance import ComplianceReport
from policy_lint.traffic.sources import SourceError, read_records
from tests.traffic.test_duck import EDGE_LINES, KEY, POLICY, _days_log, firewall_sessions_logs, python_report
from tests.traffic.test_orglogs import CASES, SAMPLES, sample


def skip_or_fail(reason: str) -> None:
    if os.environ.get("POLICY_LINT_REQUIRE_SPARK") == "1":
        pytest.fail(f"required by CI but unavailable: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def spark(tmp_path_factory) -> Iterator[object]:
    try:
        import pyspark  # noqa: F401

        from policy_lint.traffic import spark as engine
    except ImportError:
        skip_or_fail("pyspark not installed (the `spark` extra; scripts/test.sh installs it)")
    try:
        session = engine.session("local[2]", tmp_path_factory.mktemp("spark"))
    except Exception as exc:  # no Java: pyspark's gateway could not start
        skip_or_fail(f"Spark could not start (Java missing?): {str(exc).splitlines()[0]}")
    yield session
    session.stop()


def spark_report(
    session,
    paths: list[Path],
    period: str | None = None,
    by_address: bool = False,
    broadcast_rows: int | None = None,
) -> dict:
    from policy_lint.traffic import spark as engine

    catalog, policy = load_catalog_and_policy(POLICY)
    report = ComplianceReport(catalog, policy, key=KEY, period=period)
    rows = engine.BROADCAST_ROWS if broadcast_rows is None else broadcast_rows
    engine.analyse(
        paths, Classifier(catalog, by_address=by_address), report, spark=session, broadcast_rows=rows
    )
    return report.to_dict()


def test_by_address_same_report(spark, tmp_path):
    logs = firewall_sessions_logs(tmp_path)
    report = spark_report(spark, logs, by_address=True)
    assert report == python_report(logs, by_address=True)
    assert "address:157.240.1.35" in report["services"]["facebook"]["hosts"]
    assert spark_report(spark, logs) == python_report(logs)


def test_tables_not_broadcast_same_report(spark, tmp_path):
    """Tables of Python rows past the broadcast limit are joined the way Spark plans them (a
    shuffle): the same report."""
    logs = firewall_sessions_logs(tmp_path)
    assert spark_report(spark, logs, by_address=True, broadcast_rows=0) == python_report(
        logs, by_address=True
    )


@pytest.mark.parametrize("name", [c[0] for c in CASES])
def test_same_report_every_format(spark, name, tmp_path):
    path = sample(name, tmp_path)
    assert spark_report(spark, [path]) == python_report([path])


def test_same_report_all_formats_together(spark, tmp_path):
    """Every format in one run, and a log with many hosts and clients: the host-table and
    client-sample caps are reached (what the report keeps depends on the records' order)."""
    paths = [sample(c[0], tmp_path) for c in CASES]
    lines = (SAMPLES / "squid-combined.log").read_text().splitlines()
    body = "".join(
        lines[i % 3].replace("10.10.0.7", f"10.10.{i % 40}.{i % 250}").replace("static.xx", f"s{i % 70}.xx")
        + "\n"
        for i in range(3000)
    )
    big = tmp_path / "squid-many.log.gz"
    big.write_bytes(gzip.compress(body.encode()))
    edges = tmp_path / "access.log"
    edges.write_text("\n".join(EDGE_LINES * 3) + "\n")
    paths += [big, edges]
    py = python_report(paths)
    assert py["services"]["facebook"]["hosts"].get("(other hosts)")
    assert spark_report(spark, paths) == py


@pytest.mark.parametrize("period", ["day", "week"])
def test_trend_same_as_python(spark, period, tmp_path):
    path = _days_log(tmp_path)
    catalog, policy = load_catalog_and_policy(POLICY)
    classifier = Classifier(catalog)
    py = ComplianceReport(catalog, policy, key=KEY, period=period)
    for rec in read_records(path):
        obs = classifier.classify(rec)
        if obs is not None:
            py.add(obs)
    got = spark_report(spark, [path], period)
    assert got == py.to_dict()
    if period == "day":
        assert got["trend"]["summary"] == [
            "facebook: blocked for guests on 14 of 30 days (accepted by a policy exception)"
        ]


def test_flow_files_are_refused(spark, tmp_path):
    har = tmp_path / "capture.har"
    har.write_text(json.dumps({"log": {"entries": []}}))
    with pytest.raises(SourceError, match="--engine python"):
        spark_report(spark, [har])


def test_cli_engine_spark(spark, tmp_path):
    """The CLI's own session (a new JVM, --master passed through): the Python path's JSON, and
    nothing on stdout but the report."""
    key = tmp_path / "key"
    key.write_bytes(KEY)
    args = [sys.executable, "-m", "policy_lint", "traffic", str(SAMPLES / "zscaler-nss-web.log")]
    args += ["--policy", str(POLICY), "--format", "json", "--pseudonym-key-file", str(key)]
    one = subprocess.run(
        [*args, "--engine", "spark", "--master", "local[1]"], capture_output=True, text=True, timeout=300
    )
    two = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert one.returncode == two.returncode == 0, one.stderr
    assert json.loads(one.stdout) == json.loads(two.stdout)


def test_cli_master_needs_spark_engine(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "policy_lint", "traffic", str(SAMPLES / "squid-combined.log")]
        + ["--master", "local[1]"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and "--master needs --engine spark" in r.stderr


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_native_squid_reader_same_as_python(spark, newline, tmp_path):
    """Plain squid logs are parsed by Spark itself (the lines its regex leaves go to Python)."""
    from policy_lint.traffic import spark as engine
    from policy_lint.traffic.duck import native_squid_ok

    path = tmp_path / "access.log"
    path.write_bytes((newline.join(EDGE_LINES * 3) + newline).encode("utf-8"))
    assert native_squid_ok(path) and engine.plain_utf8(path)  # Spark's own parse is used
    assert spark_report(spark, [path]) == python_report([path])


def test_native_squid_reader_not_used_on_bad_bytes(spark, tmp_path):
    """Invalid UTF-8 (Python replaces it, Java would too, differently) or a line past MAX_LINE
    (Python skips it): the whole file goes to the Python reader; same report."""
    from policy_lint.traffic import spark as engine
    from policy_lint.traffic.logio import MAX_LINE

    body = "\n".join(EDGE_LINES).encode()
    bad = tmp_path / "bad-utf8.log"
    bad.write_bytes(body + b"\n1655738999 1 10.10.0.\xff TCP_TUNNEL/200 0 CONNECT www.linkedin.com:443 - -\n")
    long = tmp_path / "long.log"
    long.write_bytes(body + b"\n" + b"x" * (MAX_LINE + 10) + b"\n" + body + b"\n")
    for path in (bad, long):
        assert not engine.plain_utf8(path)
        assert spark_report(spark, [path]) == python_report([path])


def test_native_squid_mutated_lines(spark, tmp_path):
    """Squid lines with random characters changed, inserted or removed: the lines Spark parses
    itself give exactly what the Python reader gives (as test_duck's differential)."""
    import random

    rng = random.Random(7)
    alphabet = "aZ09.-:/_#@?[]\"' \t\x0b\x0cé\u0660" + "TCP_DENIED/403 CONNECT http:// https://"
    base = [line for line in EDGE_LINES if line]

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

    path = tmp_path / "access.log"
    path.write_text("\n".join([base[0], *(mutate(rng.choice(base)) for _ in range(800))]) + "\n")
    assert spark_report(spark, [path]) == python_report([path])


def _nss_variants() -> list[str]:
    good = (SAMPLES / "zscaler-nss-web.log").read_text().splitlines()
    f = good[0].split("\t")
    return [
        good[0],
        good[1],
        "\t".join([f[0], f[1], f[2], "https://WWW.FACEBOOK.COM:443/x?y", *f[4:]]),  # URL form
        "\t".join([f[0], f[1], f[2], "www.facebook.com./", *f[4:]]),  # trailing dot
        "\t".join([f[0], f[1], f[2], "www.facebook.com?x=1", *f[4:]]),  # Python keeps "?x=1"
        "\t".join([f[0], f[1], f[2], "a.com/r?u=http://www.facebook.com/", *f[4:]]),  # no host
        "\t".join(["Mon Feb 30 10:00:00 2022", *f[1:]]),  # no such day
        "\t".join(["Mon Jun 20 10:00:00 0000", *f[1:]]),  # no year 0 (Python: skipped)
        "\t".join(["Mon Jun 20 10:00:00 0999", *f[1:]]),  # year 999: Python's
        "\t".join(["Mon Jun  2 10:00:00 2022", *f[1:]]),  # one-digit day: Python's way
        "\t".join([f[0], f[1], f[2], f[3], "Cautioned", *f[5:]]),  # unknown action
        "\t".join([*f[:22], "0200", *f[23:]]),  # status with a leading zero
        "\t".join([*f[:22], "700", *f[23:]]),  # no such status
        "\t".join([f[0], "", f[2], f[3], f[4], *f[5:19], "", *f[20:]]),  # no client
        "\t".join([f[0], f[1], f[2], "www.faceböok.com/", *f[4:]]),  # non-ASCII
        "\t".join(f[:22]),  # too few fields
        "# comment",
        "",
        "\x0b",
        " \t ",
        "garbage",
        *good[2:],
    ]


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_native_zscaler_reader_same_as_python(spark, newline, tmp_path):
    """Plain Zscaler NSS web logs are parsed by Spark itself; the lines it leaves (and a CR
    before each line end) go to weblogs.zscaler: same records, same skip counts."""
    from policy_lint.traffic import duck_zscaler
    from policy_lint.traffic import spark as engine
    from policy_lint.traffic.sources import SkipCounter

    variants = _nss_variants()
    path = tmp_path / "nss.log"
    path.write_bytes((newline.join(variants * 2) + newline).encode("utf-8"))
    assert duck_zscaler.eligible(path) and engine.plain_utf8(path)
    assert spark_report(spark, [path]) == python_report([path])
    with open(tmp_path / "spool.tsv", "w") as out:
        staged = engine._read_native(spark, path, 0, tmp_path, out, SkipCounter(), True)
    assert staged is not None
    parsed = spark.read.parquet(str(staged)).where("ok").count()
    assert parsed >= 2 * 7 if newline == "\n" else parsed == 0  # a CR is not plain: Python's


def test_native_zscaler_mutated_lines(spark, tmp_path):
    """Zscaler lines with random characters changed, inserted or removed: the lines Spark parses
    itself give exactly what the Python reader gives."""
    import random

    rng = random.Random(11)
    alphabet = "aZ09.-:/_#@?[]\"' \t\x0b\x0cé\u0660" + "Allowed Blocked http:// https:// Feb 30 0000 "
    base = _nss_variants()[:3]

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

    path = tmp_path / "nss.log"
    path.write_text("\n".join([base[0], *(mutate(rng.choice(base)) for _ in range(800))]) + "\n")
    assert spark_report(spark, [path]) == python_report([path])


def test_native_squid_cr_before_line_end(spark, tmp_path):
    """A CR at a line's end (CRLF log) is not a character of the last field: Python strips it,
    so such lines are left to Python (java.util.regex's $ would match before it)."""
    lines = [
        "1655738999.1 1 10.10.0.7 TCP_TUNNEL/200 0 CONNECT www.facebook.com",
        "1655738999.2 1 10.10.0.7 TCP_DENIED/403 0 CONNECT www.linkedin.com",
    ]
    path = tmp_path / "access.log"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())
    assert spark_report(spark, [path]) == python_report([path])


def test_native_squid_log_cut_into_splits(spark, tmp_path):
    """A log big enough to be cut into one split per core: the records keep the file's order
    across the splits (each split's first clients and times decide the client sample and the
    first record of a group), and the lines left to Python keep theirs."""
    from policy_lint.traffic import spark as engine

    hosts = ["www.facebook.com", "www.linkedin.com", "twitter.com", "www.example.org"]
    lines = []
    for i in range(90_000):
        client = f"10.{10 + (i // 30_000) * 10}.{i % 7}.{(i // 7) % 200}"
        status = "TCP_DENIED/403" if i % 5 == 0 else "TCP_TUNNEL/200"
        lines.append(
            f"{1655683200 + i * 31}.{i % 1000:03d}    120 {client} {status} 9000 CONNECT {hosts[i % 4]}:443 - -"
        )
        if i % 9_000 == 4_500:
            lines += EDGE_LINES
    path = tmp_path / "access.log"
    path.write_text("\n".join(lines) + "\n")
    size = path.stat().st_size
    assert -(-size // engine.split_bytes(size, 2)) == 2  # two splits: one per core of local[2]
    assert spark_report(spark, [path]) == python_report([path])


def test_split_bytes():
    from policy_lint.traffic.spark import split_bytes

    mib = 1 << 20
    for size in (0, 1, 5 * mib, 9 * mib, 110 * mib, 551 * mib, 1253 * mib, 4000 * mib):
        for cores in (1, 2, 3, 8):
            split = split_bytes(size, cores)
            splits = -(-size // split)
            assert split <= max(128 * mib, 4 * mib)
            if size >= 8 * mib * cores:  # big enough for Spark to cut: every core gets as many
                assert splits % cores == 0, (size, cores, splits)


def test_jit_options():
    from policy_lint.traffic import spark as engine

    assert engine.jit_options("local[2]", 0) == " " + engine.LOCAL_JVM_OPTIONS
    assert engine.jit_options("local[*]", engine.LONG_RUN_BYTES) == " " + engine.LONG_RUN_JVM_OPTIONS
    assert engine.jit_options("spark://127.0.0.1:7077", engine.LONG_RUN_BYTES) == ""


@pytest.mark.parametrize("log", ["access.log", "zscaler-nss-web.log"])
def test_user_names_staged_only_for_a_run_that_reads_them(spark, log, tmp_path):
    """As with DuckDB: without user audiences or --by-user, Spark stages no user name (squid's
    is a second regex over each line); the other columns are the same, and a run that reads
    users has them."""
    from policy_lint.traffic import spark as engine
    from policy_lint.traffic.sources import SkipCounter
    from tests.traffic.test_duck import SQUID_USERS

    path = tmp_path / log
    if log == "access.log":
        path.write_text("\n".join(SQUID_USERS * 3) + "\n")
    else:
        path.write_bytes((SAMPLES / log).read_bytes() * 3)
    rows = {}
    for users in (True, False):
        scratch = tmp_path / f"users-{users}"
        scratch.mkdir()
        with open(scratch / "spool.tsv", "w") as out:
            staged = engine._read_native(spark, path, 0, scratch, out, SkipCounter(), users)
        assert staged is not None
        rows[users] = [
            r.asDict() for r in spark.read.parquet(str(staged)).where("ok").orderBy("seq").collect()
        ]
    assert any(r["user_name"] for r in rows[True]) and not any(r["user_name"] for r in rows[False])
    assert len(rows[True]) == len(rows[False]) >= 3
    for with_users, without in zip(rows[True], rows[False], strict=True):
        assert {**with_users, "user_name": None} == without
