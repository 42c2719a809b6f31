"""The classification and the aggregation of `policy-lint traffic`, ONCE, as portable SQL text.

Both `--engine duckdb` (duck.py) and `--engine spark` (spark.py) run exactly this SQL: each engine
only provides a table `rec` of log records (columns RECORD_COLUMNS, `seq` the record's position
in the input) and an `Engine` that can run a query, register a small table of Python rows and
stream a result. What differs between the two SQL dialects is kept in `Dialect`: how a string
literal is written (DuckDB doubles a quote and takes backslashes as they are; Spark SQL escapes
both with a backslash) and the name of the regex-search predicate (`regexp_matches(x, p)` /
`x RLIKE p`). Everything else is standard SQL both engines run: CASE, instr, right, substring,
min_by, row_number() OVER, GROUP BY. The regexes used are ones RE2 (DuckDB) and java.util.regex
(Spark) read alike: ASCII classes, no look-around, unanchored search.

What the SQL does (classify.py's rules for what log records carry; tests/traffic/test_duck.py and
test_spark.py check the reports equal the Python path's on every sample format):
  1. `hostmap`: host -> (service, role): the control host, then the catalog's exact hosts (first
     service wins, as Classifier._lookup), then the longest catalog domain the host is or ends
     with (``name = domain OR right(name, length(domain) + 1) = '.' || domain``; ties: catalog
     order), once per distinct host.
  2. `classified`: outcome/how/evidence by classify.py's rules in its order. A CASE gives the
     number of the first rule that matches; outcome, how and evidence are read off that number
     (no arrays or structs: they are written differently in each engine). Address facts (is an
     answer a sinkhole, which service owns an address) and each client's audience come from the
     same Python code as the Python path, once per distinct address / client (tables `ipinfo`,
     `clientinfo`).
  3. groups of identical observations (and the UTC day when a trend is asked for) with their
     count, first record and time span, fed to ComplianceReport in the order of their first
     record, and the first MAX_CLIENTS_LISTED clients of each audience in order of appearance:
     the report is then the Python path's.
  `run(..., grouped_from=T)` (Spark's way) first groups the records of table T into `rec`
  (grouped_rec_sql: one row per distinct set of the columns the classification reads, with the
  count, first record and span); the steps above then read one row per group, not per record.
Not modelled: loopback detection of a refused peer is a regex (127.x.y.z, ::1) where the Python
path uses ipaddress; only flow files produce such errors, and the SQL engines refuse those.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from policy_lint.traffic.classify import Classifier
from policy_lint.traffic.compliance import MAX_CLIENTS_LISTED, ComplianceReport
from policy_lint.traffic.record import Observation

# The columns of `rec`, with their SQL type (both engines know these names).
RECORD_COLUMNS = {
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


@dataclass(frozen=True)
class Dialect:
    """The per-engine part of the SQL: literals and the regex-search predicate."""

    name: str
    backslash_escapes: bool  # Spark SQL reads \\ and \' in literals; DuckDB takes them as text
    regexp_template: str  # "{0}" the value, "{1}" the pattern literal

    def lit(self, text: str) -> str:
        if self.backslash_escapes:
            return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
        return "'" + text.replace("'", "''") + "'"

    def regexp(self, value: str, pattern: str) -> str:
        """SQL for "`pattern` is found in `value`" (a search, not a full match)."""
        return self.regexp_template.format(value, self.lit(pattern))


DUCKDB = Dialect("duckdb", backslash_escapes=False, regexp_template="regexp_matches({0}, {1})")
SPARK = Dialect("spark", backslash_escapes=True, regexp_template="({0} RLIKE {1})")


class Engine(Protocol):
    """What the shared plan needs of an engine holding the table `rec`."""

    dialect: Dialect

    def create(self, name: str, select: str, small: bool = False) -> None:
        """Make `select` available as table/view `name` (`small`: a few rows per distinct
        host/address, worth keeping computed)."""

    def load(self, name: str, columns: dict[str, str], rows: list[tuple[Any, ...]]) -> None:
        """A table `name` of Python rows."""

    def rows(self, select: str) -> Iterator[tuple[Any, ...]]:
        """The result of `select`, streamed in its order."""


# ----------------------------------------------------------------------- the SQL


def hostmap_sql() -> str:
    return """
        SELECT host, service, role FROM (
          SELECT host, service, role,
                 row_number() OVER (PARTITION BY host ORDER BY r1, r2, r3) AS pick
          FROM (
            SELECT h.host, e.service, e.role, e.prio AS r1, 0 AS r2, 0 AS r3
            FROM (SELECT DISTINCT host FROM rec WHERE host IS NOT NULL) h JOIN exact e ON e.host = h.host
            UNION ALL  -- after every exact host: the longest domain, then catalog order
            SELECT h.host, d.service, d.role, 1000000000 AS r1, -length(d.domain) AS r2, d.ord AS r3
            FROM (SELECT host, trim(TRAILING '.' FROM lower(host)) AS name  -- as service_for_host
                  FROM (SELECT DISTINCT host FROM rec WHERE host IS NOT NULL) u) h
            JOIN domains d ON h.name = d.domain OR right(h.name, length(d.domain) + 1) = '.' || d.domain
          ) cand
        ) ranked WHERE pick = 1
    """


# (outcome, how, evidence) of each rule, in classify.py's order; `how`/`evidence` are SQL.
def _rules(d: Dialect, classifier: Classifier) -> list[tuple[str, str, str, str]]:
    """(condition, outcome, how SQL, evidence SQL), first match wins."""
    fp = classifier.fp
    lit = d.lit
    control = ", ".join(lit(a) for a in classifier.catalog.control_addresses) or "NULL"
    tag120 = "substring(coalesce(tag, ''), 1, 120)"
    err120 = "substring(error, 1, 120)"
    status_s = "CAST(status AS STRING)"

    def has(value: str, needles: Iterable[str]) -> str:
        return " OR ".join(f"instr({value}, {lit(n)}) > 0" for n in needles) or "false"

    loopback = d.regexp("p", r"^\[*(127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}|::1)\]*$")
    unreachable = d.regexp("le", r"refused http connect request: 50[234]\b[^(]*$")
    rules = [
        (
            f"server_ip IS NOT NULL AND NOT via_upstream AND sinkhole AND server_ip NOT IN ({control})",
            "blocked",
            lit("dns-sinkhole"),
            "'resolved to ' || server_ip",
        ),
        (
            "tag IS NOT NULL AND instr(upper(tag), 'DENIED') > 0",
            "blocked",
            lit("proxy-denied"),
            f"tag || '/' || coalesce({status_s}, 'None')",
        ),
        ("verdict = 'denied'", "blocked", lit("filter-denied"), "substring(coalesce(tag, 'denied'), 1, 120)"),
        ("verdict = 'unknown'", "inconclusive", lit("action-not-modelled"), tag120),
        (f"error IS NOT NULL AND {unreachable}", "failed", lit("proxy-error"), err120),
    ]
    rules += [
        (f"error IS NOT NULL AND {has('le', [n])}", "blocked", lit(how), err120) for how, n in fp.errors
    ]
    refused = f"error IS NOT NULL AND ({has('le', fp.refused)})"
    rules += [
        (
            f"{refused} AND (via_upstream OR p IS NULL OR {loopback})",
            "inconclusive",
            lit("audit-path"),
            err120,
        ),
        (refused, "blocked", lit("refused"), err120),
        (f"error IS NOT NULL AND ({has('le', fp.audit_path)})", "inconclusive", lit("audit-path"), err120),
        ("error IS NOT NULL", "failed", lit("error"), err120),
        (
            "status IS NULL AND verdict = 'answered'",
            "reachable",
            lit("answered"),
            "substring(coalesce(reason, tag, ''), 1, 120)",
        ),
        (
            "status IS NULL AND verdict = 'allowed'",
            "reachable",
            lit("filter-allowed"),
            "substring(coalesce(tag, 'allowed'), 1, 120)",
        ),
        ("status IS NULL", "failed", lit("no-response"), "''"),
    ]
    statuses = ", ".join(str(s) for s in sorted(fp.statuses)) or "NULL"
    rules += [
        (
            f"status IN ({statuses}) AND server_ip IS NOT NULL AND service IS NOT NULL"
            " AND coalesce(ip_service, '') <> service",
            "blocked",
            f"'http-' || {status_s}",
            f"'HTTP ' || {status_s} || ' from ' || server_ip",
        ),
        (
            f"status IN ({statuses})",
            "reachable",
            f"'http-' || {status_s}",
            f"'HTTP ' || {status_s} || ' from the service'",
        ),
        ("status >= 500", "failed", f"'http-' || {status_s}", f"'HTTP ' || {status_s}"),
        ("true", "reachable", lit("http"), f"'HTTP ' || {status_s}"),
    ]
    return rules


def classified_sql(d: Dialect, classifier: Classifier, other_audience: str, carry: str = "") -> str:
    """`classified`: a row per row of `rec` (`carry`: more of rec's columns to keep, ", a, b")."""
    rules = _rules(d, classifier)
    pick = " ".join(f"WHEN {cond} THEN {i}" for i, (cond, _, _, _) in enumerate(rules))
    outcome = " ".join(f"WHEN {i} THEN {d.lit(o)}" for i, (_, o, _, _) in enumerate(rules))
    how = " ".join(f"WHEN {i} THEN {h}" for i, (_, _, h, _) in enumerate(rules))
    evidence = " ".join(f"WHEN {i} THEN {e}" for i, (_, _, _, e) in enumerate(rules))
    # classify._refused_peer: the address a refused connect names, else the record's
    peer_re = r"connect call failed \('([^']{1,64})',"
    peer = (
        f"CASE WHEN {d.regexp('le', peer_re)} THEN regexp_extract(le, {d.lit(peer_re)}, 1) ELSE server_ip END"
    )
    return f"""
        SELECT seq, ts, host, client, service, role, audience,
               CASE k {outcome} END AS outcome, CASE k {how} END AS how, CASE k {evidence} END AS evidence{carry}
        FROM (
          SELECT *, CASE {pick} END AS k
          FROM (
            SELECT j.*, {peer} AS p
            FROM (
              SELECT r.*, m.service, m.role, coalesce(i.sinkhole, false) AS sinkhole, i.ip_service,
                     lower(r.error) AS le, coalesce(ci.audience, {d.lit(other_audience)}) AS audience
              FROM rec r JOIN hostmap m ON m.host = r.host LEFT JOIN ipinfo i ON i.ip = r.server_ip
              LEFT JOIN clientinfo ci ON ci.client = r.client
            ) j
          ) k0
        ) k1
    """


def clients_sql() -> str:
    """The client sample: the first MAX_CLIENTS_LISTED distinct clients of each audience."""
    return f"""
        SELECT audience, client, first FROM (
          SELECT audience, client, first, row_number() OVER (PARTITION BY audience ORDER BY first) AS n
          FROM (SELECT audience, client, min(seq) AS first FROM classified
                WHERE service IS NOT NULL AND client IS NOT NULL GROUP BY audience, client) c
        ) s WHERE n <= {MAX_CLIENTS_LISTED} ORDER BY first
    """


def groups_sql(by_day: bool) -> str:
    """Groups of identical observations, in the order of their first record. With a trend,
    one group per UTC day too (a week is a union of days): each group's first record then falls
    in the period its observations belong to."""
    day = ", floor(ts / 86400)" if by_day else ""
    return f"""
        SELECT service, role, host, outcome, how, evidence, audience, count(*) AS n, min(seq) AS first,
               min_by(ts, seq) AS ts0, min(CASE WHEN ts <> 0 THEN ts END) AS lo,
               max(CASE WHEN ts <> 0 THEN ts END) AS hi
        FROM classified GROUP BY service, role, host, outcome, how, evidence, audience{day}
        ORDER BY first
    """


# Grouped first (`run(..., grouped=True)`): the classification reads a record's host, client
# (for its audience), status, tag, error, server address, via_upstream, verdict and reason, never
# its sequence number or time; so the records that agree on all of these (and on the UTC day,
# with a trend) are classified once, as one row carrying their count, first record (`seq`), the
# first record's time (`ts`) and their time span (`lo`, `hi`). Every aggregate of the plan is
# one of these again (count: sum; min(seq): min; min_by(ts, seq): min_by over the rows' first
# records; the span: min/max), so the report is the same as record by record, from a table of
# one row per distinct observation instead of one per record.
_GROUP_KEY = "host, client, status, tag, error, server_ip, via_upstream, verdict, reason"


def grouped_rec_sql(source: str, by_day: bool) -> str:
    """The records of table `source` grouped (the columns of `rec`, plus n, lo, hi, day)."""
    day = "floor(ts / 86400)" if by_day else "CAST(NULL AS BIGINT)"
    return f"""
        SELECT {_GROUP_KEY}, day, count(*) AS n, min(seq) AS seq, min_by(ts, seq) AS ts,
               min(CASE WHEN ts <> 0 THEN ts END) AS lo, max(CASE WHEN ts <> 0 THEN ts END) AS hi
        FROM (SELECT *, {day} AS day FROM {source}) r GROUP BY {_GROUP_KEY}, day
    """


def grouped_groups_sql() -> str:
    """groups_sql over a `classified` of grouped rows (grouped_rec_sql's)."""
    return """
        SELECT service, role, host, outcome, how, evidence, audience, sum(n) AS n, min(seq) AS first,
               min_by(ts, seq) AS ts0, min(lo) AS lo, max(hi) AS hi
        FROM classified GROUP BY service, role, host, outcome, how, evidence, audience, day
        ORDER BY first
    """


# ----------------------------------------------------------------------- the plan


def run(
    engine: Engine, classifier: Classifier, report: ComplianceReport, grouped_from: str | None = None
) -> None:
    """Classify and aggregate the engine's table `rec` into `report`; with `grouped_from`, `rec`
    is first made from that table of records, grouped (grouped_rec_sql)."""
    catalog = classifier.catalog
    d = engine.dialect
    if grouped_from is not None:
        engine.create("rec", grouped_rec_sql(grouped_from, report.trend is not None))
    exact: list[tuple[Any, ...]] = [(catalog.control_host, None, "control", 0)]
    exact += [(h, s, r, 1 + i) for i, (h, (s, r)) in enumerate(classifier.exact_hosts().items())]
    engine.load(
        "exact", {"host": "VARCHAR", "service": "VARCHAR", "role": "VARCHAR", "prio": "INTEGER"}, exact
    )
    doms = [(dm.domain, svc.id, dm.role) for svc in catalog.services.values() for dm in svc.domains]
    engine.load(
        "domains",
        {"domain": "VARCHAR", "service": "VARCHAR", "role": "VARCHAR", "ord": "INTEGER"},
        [(*dm, i) for i, dm in enumerate(doms)],
    )
    engine.create("hostmap", hostmap_sql(), small=True)
    # address facts and audiences, once per distinct address / client, by the Python path's code
    ips = [r[0] for r in engine.rows("SELECT DISTINCT server_ip FROM rec WHERE server_ip IS NOT NULL")]
    engine.load(
        "ipinfo",
        {"ip": "VARCHAR", "sinkhole": "BOOLEAN", "ip_service": "VARCHAR"},
        [(ip, *classifier.address_facts(ip)) for ip in ips],
    )
    clients = [r[0] for r in engine.rows("SELECT DISTINCT client FROM rec WHERE client IS NOT NULL")]
    engine.load(
        "clientinfo",
        {"client": "VARCHAR", "audience": "VARCHAR"},
        [(c, report.audience_of(c)) for c in clients],
    )
    carry = "" if grouped_from is None else ", n, lo, hi, day"
    engine.create("classified", classified_sql(d, classifier, report.audience_of(None), carry))
    for audience, client, _ in engine.rows(clients_sql()):
        report.note_client(audience, client)
    groups = groups_sql(report.trend is not None) if grouped_from is None else grouped_groups_sql()
    for service, role, host, outcome, how, evidence, audience, n, _first, ts0, lo, hi in engine.rows(groups):
        obs = Observation(ts0, service, role, host, outcome, how, evidence, None)
        report.add(obs, n, (lo, hi), audience)
