"""`policy-lint traffic --engine duckdb`: the classification and the aggregation in SQL.

Plain squid native access.logs and Zscaler default-feed web logs are read by DuckDB itself
(native_squid here, duck_zscaler): the lines whose parse is provably the Python readers' are
parsed in SQL, the rest are handed to those readers. Every other input comes from the same
streaming readers as the Python path (sources.read_records: every log format, compressed or not,
with the same skip counting), spooled to a temporary TSV file on disk (never held in memory).
DuckDB, with a memory limit and a spill directory, does the rest in SQL:
  1. host -> (service, role): the control host, then the catalog's exact hosts (first service
     wins, as Classifier._lookup), then the longest catalog domain the host is or ends with
     (``host = domain OR ends_with(host, '.' || domain)``; ties: catalog order).
  2. outcome/how/evidence: classify.py's rules, in its order, for what log records carry (no
     response headers or body: flow files and HAR, whose block pages need the fingerprints,
     are refused here -- use the Python engine). Address facts (is a DNS answer a sinkhole, which
     service owns an address) are computed once per distinct address by the same Python code
     (fingerprints.is_sinkhole, catalog.service_for_ip): DuckDB's inet extension is not part of
     the wheel, and one implementation of address arithmetic is one fewer to keep identical.
  3. groups of identical observations (service, role, host, outcome, how, evidence, audience --
     each distinct client's audience found once by the report's own subnet matching -- and the
     UTC day when a trend is asked for) with their count, first record and time span, fed to ComplianceReport in the order of their
     first record: the report (hosts table caps, evidence, client samples, audiences, policy
     exceptions) is then identical to the Python path's, which tests/traffic/test_duck.py checks
     on every sample format.
Not modelled here: loopback detection of a refused peer is a regex (127.x.y.z, ::1) where the
Python path uses ipaddress; only flow files produce such errors, and those are refused.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from policy_lint.traffic import duck_zscaler
from policy_lint.traffic.classify import Classifier
from policy_lint.traffic.compliance import ComplianceReport
from policy_lint.traffic.record import FlowRecord, Observation
from policy_lint.traffic.sources import SkipCounter, SourceError, read_records, sniff

MEMORY_LIMIT = "512MB"
_COLUMNS = {
    "seq": "BIGINT",
    "ts": "DOUBLE",
    "host": "VARCHAR",
    "client": "VARCHAR",
    "status": "INTEGER",
    "tag": "VARCHAR",
    "error": "VARCHAR",
    "server_ip": "VARCHAR",
    "via_upstream": "BOOLEAN",
    "verdict": "VARCHAR",
    "reason": "VARCHAR",
}
_CLEAN = str.maketrans({"\t": " ", "\n": " ", "\r": " "})


def _cell(value: str | None) -> str:
    return value.translate(_CLEAN) if value else ""


def spool(records: Iterable[FlowRecord], out: Any, start: int = 0) -> int:
    """Write records as TSV rows; returns the next sequence number."""
    seq = start
    for r in records:
        if r.headers or r.body_prefix:
            raise SourceError("--engine duckdb reads logs; flow files and HAR need --engine python")
        out.write(
            f"{seq}\t{r.timestamp!r}\t{_cell(r.host)}\t{_cell(r.client)}\t"
            f"{'' if r.status is None else r.status}\t{_cell(r.proxy_tag)}\t{_cell(r.error)}\t"
            f"{_cell(r.server_ip)}\t{'true' if r.via_upstream else 'false'}\t{_cell(r.verdict)}\t"
            f"{_cell(r.reason)}\n"
        )
        seq += 1
    return seq


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _classify_sql(classifier: Classifier) -> str:
    fp = classifier.fp
    control = ", ".join(_lit(a) for a in classifier.catalog.control_addresses) or "NULL"
    tag120 = "substring(coalesce(tag, ''), 1, 120)"
    err120 = "substring(error, 1, 120)"
    errors = "\n".join(
        f"WHEN contains(le, {_lit(needle)}) THEN ['blocked', {_lit(how)}, {err120}]"
        for how, needle in fp.errors
    )
    refused = " OR ".join(f"contains(le, {_lit(n)})" for n in fp.refused) or "false"
    audit = " OR ".join(f"contains(le, {_lit(n)})" for n in fp.audit_path) or "false"
    statuses = ", ".join(str(s) for s in sorted(fp.statuses)) or "NULL"
    loopback = "regexp_matches(trim(p, '[]'), '^(127\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}|::1)$')"
    return f"""
    CASE
      WHEN server_ip IS NOT NULL AND NOT via_upstream AND sinkhole AND server_ip NOT IN ({control})
        THEN ['blocked', 'dns-sinkhole', 'resolved to ' || server_ip]
      WHEN tag IS NOT NULL AND contains(upper(tag), 'DENIED')
        THEN ['blocked', 'proxy-denied', tag || '/' || coalesce(CAST(status AS VARCHAR), 'None')]
      WHEN verdict = 'denied' THEN ['blocked', 'filter-denied', substring(coalesce(tag, 'denied'), 1, 120)]
      WHEN verdict = 'unknown' THEN ['inconclusive', 'action-not-modelled', {tag120}]
      WHEN error IS NOT NULL THEN CASE
        WHEN regexp_matches(le, 'refused http connect request: 50[234]\\b[^(]*$')
          THEN ['failed', 'proxy-error', {err120}]
        {errors}
        WHEN {refused} THEN CASE
          WHEN via_upstream OR p IS NULL OR {loopback} THEN ['inconclusive', 'audit-path', {err120}]
          ELSE ['blocked', 'refused', {err120}] END
        WHEN {audit} THEN ['inconclusive', 'audit-path', {err120}]
        ELSE ['failed', 'error', {err120}] END
      WHEN status IS NULL THEN CASE
        WHEN verdict = 'answered' THEN ['reachable', 'answered', substring(coalesce(reason, tag, ''), 1, 120)]
        WHEN verdict = 'allowed' THEN ['reachable', 'filter-allowed', substring(coalesce(tag, 'allowed'), 1, 120)]
        ELSE ['failed', 'no-response', ''] END
      WHEN status IN ({statuses}) THEN CASE
        WHEN server_ip IS NOT NULL AND service IS NOT NULL AND coalesce(ip_service, '') <> service
          THEN ['blocked', 'http-' || status, 'HTTP ' || status || ' from ' || server_ip]
        ELSE ['reachable', 'http-' || status, 'HTTP ' || status || ' from the service'] END
      WHEN status >= 500 THEN ['failed', 'http-' || status, 'HTTP ' || status]
      ELSE ['reachable', 'http', 'HTTP ' || status]
    END
    """


def _peer_sql() -> str:
    """classify._refused_peer: the address a refused connect names, else the record's."""
    pattern = "'connect call failed \\(''([^'']{1,64})'','"
    return f"CASE WHEN regexp_matches(le, {pattern}) THEN regexp_extract(le, {pattern}, 1) ELSE server_ip END"


def analyse(paths: Iterable[Path], classifier: Classifier, report: ComplianceReport) -> None:
    """Read, classify and aggregate `paths` into `report` (skips noted on it)."""
    import duckdb

    with tempfile.TemporaryDirectory(prefix="policy-lint-duck-") as tmp:
        spool_path = Path(tmp) / "records.tsv"
        con = duckdb.connect(
            config={"memory_limit": MEMORY_LIMIT, "temp_directory": str(Path(tmp) / "spill")}
        )
        try:
            con.execute(f"SET threads = {max(1, min(os.cpu_count() or 1, 4))}")
            con.execute(f"CREATE TABLE native ({', '.join(f'{k} {v}' for k, v in _COLUMNS.items())})")
            seq = 0
            with open(spool_path, "w", encoding="utf-8") as out:
                for path in paths:
                    if sniff(path) in ("har", "mitm") and not _is_org_log(path):
                        raise SourceError(
                            f"{path}: --engine duckdb reads logs; flow files and HAR need --engine python"
                        )
                    skipped = SkipCounter()
                    lines: int | None = None
                    if _native_squid_ok(path):
                        lines = native_squid(con, path, seq, out, skipped)
                    elif duck_zscaler.eligible(path):
                        lines = duck_zscaler.read(con, path, seq, spool, out, skipped)
                    if lines is None:  # not a plain squid log, or DuckDB refused it: the Python readers
                        skipped = SkipCounter()
                        seq = spool(read_records(path, skipped), out, seq)
                    else:
                        seq += lines
                    for reason, n in skipped.reasons.items():
                        report.note_skipped(n, reason)
            _run(con, spool_path, classifier, report)
        finally:
            con.close()


# squid native lines DuckDB reads itself: printable ASCII only (no \v, \r, non-ASCII digits or
# spaces, where Python's and RE2's \s and \d differ), the host as Python's IDNA codec accepts it
# (labels of 1..63 characters), the URL forms whose host Python's urlsplit gives plainly. Every
# other line goes through sources.squid_line: same records, same skip reasons.
_NATIVE_RE = r"^(\d+(?:\.\d+)?)\s+-?\d+\s+(\S+)\s+([A-Z_]+)/(\d{1,3})\s+\d+\s+(\S+)\s+(\S+)"
_HOST_RE = r"(?:[A-Za-z0-9-]{1,63}\.)*[A-Za-z0-9-]{1,63}\.?"
_CONNECT_RE = rf"({_HOST_RE})(?::[0-9]{{1,5}})?"
_URL_RE = rf"(?:https?|ftp)://({_HOST_RE})(?::[0-9]{{1,4}})?(?:[/?#][!-~]*)?"


def _native_squid_ok(path: Path) -> bool:
    from policy_lint.traffic.logio import compression

    with open(path, "rb") as fh:
        bom = fh.read(3) == b"\xef\xbb\xbf"  # DuckDB drops a BOM, Python keeps it in line 1
    return not bom and compression(path) is None and not _is_org_log(path) and sniff(path) == "squid"


def native_squid(con: Any, path: Path, base: int, out: Any, skipped: SkipCounter) -> int | None:
    """A plain squid access.log read by DuckDB: rows into `native`, the lines it leaves to
    Python spooled to `out`; returns the number of lines (sequence numbers used), or None when
    DuckDB cannot read the file as plain lines (a \r, invalid UTF-8, a line past MAX_LINE):
    then nothing was added and the caller reads it the Python way."""
    import duckdb

    from policy_lint.traffic.sources import squid_line

    relevant = "t IS NOT NULL AND t <> '' AND NOT starts_with(t, '#')"
    # One regex pass a line: a failed match extracts '' (the time group is never empty when it
    # matches); printable ASCII by byte length = character length plus one character class.
    parsed = f"""
        SELECT *, {relevant} AND strlen(t) = length(t) AND NOT regexp_matches(t, '[\\x00-\\x08\\x0a-\\x1f\\x7f]')
                  AND m.ts <> '' AS native
        FROM (SELECT t, regexp_extract(t, {_lit(_NATIVE_RE)}, ['ts', 'client', 'tag', 'code', 'method', 'url']) AS m
              FROM (SELECT trim(line, ' \t') AS t FROM {duck_zscaler.read_lines_sql(path)}))"""
    host = f"""nullif(lower(CASE WHEN m.method = 'CONNECT' OR NOT contains(m.url, '://')
                    THEN regexp_extract(m.url, {_lit("^" + _CONNECT_RE + "$")}, 1)
                    ELSE regexp_extract(m.url, {_lit("^" + _URL_RE + "$")}, 1) END), '')"""
    stage = f"""
        SELECT ok, CASE WHEN ok THEN CAST(m.ts AS DOUBLE) END AS ts, CASE WHEN ok THEN host END AS host,
               CASE WHEN ok THEN m.client END AS client,
               CASE WHEN ok AND NOT failed THEN nullif(code, 0) END AS status, CASE WHEN ok THEN m.tag END AS tag,
               CASE WHEN ok AND failed THEN 'squid ' || m.tag || '/' || code END AS error,
               CASE WHEN {relevant} AND NOT ok THEN t END AS raw
        FROM (SELECT *, native AND host IS NOT NULL AS ok,
                     starts_with(m.tag, 'TAG_NONE') OR code = 0 OR (code >= 500 AND NOT contains(m.tag, 'DENIED')) AS failed
              FROM (SELECT *, {host} AS host, TRY_CAST(m.code AS INTEGER) AS code FROM ({parsed})))"""
    try:
        total = duck_zscaler.stage(con, stage)
        con.execute(
            f"""INSERT INTO native SELECT {base} + rowid, ts, host, client, status, tag, error, NULL, true, NULL, NULL
                FROM stage WHERE ok"""
        )
        cur = con.execute("SELECT rowid, raw FROM stage WHERE raw IS NOT NULL ORDER BY rowid")
        while batch := cur.fetchmany(10000):
            for n, text in batch:
                line = text.strip()  # Python's strip: more than the spaces and tabs SQL trimmed
                if not line or line.startswith("#"):
                    continue
                rec = squid_line(line)
                if rec is None:
                    skipped.skip("access.log line not in squid native/common format")
                else:
                    spool((rec,), out, base + n)
    except duckdb.Error:
        con.execute(f"DELETE FROM native WHERE seq >= {base}")
        return None
    return int(total)


def _is_org_log(path: Path) -> bool:
    from policy_lint.traffic.logread import detect

    return detect(path) is not None


def _run(con: Any, spool_path: Path, classifier: Classifier, report: ComplianceReport) -> None:
    catalog = classifier.catalog
    columns = "{" + ", ".join(f"{_lit(k)}: {_lit(v)}" for k, v in _COLUMNS.items()) + "}"
    con.execute(
        f"CREATE VIEW rec AS SELECT * FROM read_csv({_lit(str(spool_path))}, delim = '\t', quote = '', "
        f"escape = '', header = false, columns = {columns}, nullstr = '', auto_detect = false) "
        "UNION ALL SELECT * FROM native"
    )
    # catalog tables
    con.execute("CREATE TABLE exact (host VARCHAR, service VARCHAR, role VARCHAR, prio INTEGER)")
    rows: list[tuple[str, str | None, str, int]] = [(catalog.control_host, None, "control", 0)]
    rows += [(h, s, r, 1 + i) for i, (h, (s, r)) in enumerate(classifier.exact_hosts().items())]
    con.executemany("INSERT INTO exact VALUES (?, ?, ?, ?)", rows)
    con.execute("CREATE TABLE domains (domain VARCHAR, service VARCHAR, role VARCHAR, ord INTEGER)")
    doms = [(d.domain, svc.id, d.role) for svc in catalog.services.values() for d in svc.domains]
    con.executemany("INSERT INTO domains VALUES (?, ?, ?, ?)", [(*d, i) for i, d in enumerate(doms)])
    con.execute(
        """
        CREATE TABLE hostmap AS
        WITH h AS (SELECT DISTINCT host FROM rec WHERE host IS NOT NULL),
        cand AS (
          SELECT h.host, e.service, e.role, [e.prio, 0, 0] AS rank FROM h JOIN exact e USING (host)
          UNION ALL  -- after every exact host: the longest domain, then catalog order
          SELECT h.host, d.service, d.role, [1000000000, -length(d.domain), d.ord] AS rank
          FROM (SELECT host, rtrim(lower(host), '.') AS name FROM h) h  -- as catalog.service_for_host
          JOIN domains d ON h.name = d.domain OR ends_with(h.name, '.' || d.domain))
        SELECT host, arg_min(service, rank) AS service, arg_min(role, rank) AS role
        FROM cand GROUP BY host
        """
    )
    # address facts, once per distinct address
    con.execute("CREATE TABLE ipinfo (ip VARCHAR, sinkhole BOOLEAN, ip_service VARCHAR)")
    ips = [
        r[0] for r in con.execute("SELECT DISTINCT server_ip FROM rec WHERE server_ip IS NOT NULL").fetchall()
    ]
    if ips:
        con.executemany(
            "INSERT INTO ipinfo VALUES (?, ?, ?)", [(ip, *classifier.address_facts(ip)) for ip in ips]
        )
    decide = _classify_sql(classifier)
    # With a trend, one group per UTC day too (a week is a union of days): each group's first
    # record then falls in the period its observations belong to.
    by_day = ", floor(ts / 86400)" if report.trend is not None else ""
    # audiences, once per distinct client (the report's own subnet matching)
    con.execute("CREATE TABLE clientinfo (client VARCHAR, audience VARCHAR)")
    clients = [
        r[0] for r in con.execute("SELECT DISTINCT client FROM rec WHERE client IS NOT NULL").fetchall()
    ]
    if clients:
        con.executemany("INSERT INTO clientinfo VALUES (?, ?)", [(c, report.audience_of(c)) for c in clients])
    other = _lit(report.audience_of(None))
    con.execute(
        f"""
        CREATE TEMP TABLE classified AS
        WITH j AS (
          SELECT r.*, m.service, m.role, coalesce(i.sinkhole, false) AS sinkhole, i.ip_service,
                 lower(r.error) AS le, coalesce(ci.audience, {other}) AS audience
          FROM rec r JOIN hostmap m USING (host) LEFT JOIN ipinfo i ON i.ip = r.server_ip
          LEFT JOIN clientinfo ci ON ci.client = r.client),
        k AS (SELECT *, {_peer_sql()} AS p FROM j)
        SELECT seq, ts, host, client, service, role, audience, {decide} AS o FROM k
        """
    )
    # the client sample: the first MAX_CLIENTS_LISTED distinct clients of each audience
    from policy_lint.traffic.compliance import MAX_CLIENTS_LISTED

    for audience, client, _ in con.execute(
        f"""SELECT audience, client, min(seq) AS first FROM classified
            WHERE service IS NOT NULL AND client IS NOT NULL GROUP BY audience, client
            QUALIFY row_number() OVER (PARTITION BY audience ORDER BY first) <= {MAX_CLIENTS_LISTED}
            ORDER BY first"""
    ).fetchall():
        report.note_client(audience, client)
    cur = con.execute(
        f"""
        SELECT service, role, host, o[1], o[2], o[3], audience, count(*) AS n, min(seq) AS first,
               arg_min(ts, seq), min(ts) FILTER (WHERE ts <> 0), max(ts) FILTER (WHERE ts <> 0)
        FROM classified GROUP BY service, role, host, o[1], o[2], o[3], audience{by_day} ORDER BY first
        """
    )
    while True:
        batch = cur.fetchmany(10000)
        if not batch:
            break
        for service, role, host, outcome, how, evidence, audience, n, _first, ts0, lo, hi in batch:
            obs = Observation(ts0, service, role, host, outcome, how, evidence, None)
            report.add(obs, n, (lo, hi), audience)
