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
test_spark.py check the reports equal the Python path's on every sample format). This module
holds the parts; sqlgroups.run is the plan both engines run:
  1. `hostmap`: host -> (service, role): the control host, then the catalog's exact hosts (first
     service wins, as Classifier._lookup), then the longest catalog domain the host is or ends
     with (``name = domain OR right(name, length(domain) + 1) = '.' || domain``; ties: catalog
     order), once per distinct host. Address facts (is an answer a sinkhole, which service owns
     an address, and with by_address the service a host-less record is attributed to: record_join)
     come from the same Python code as the Python path, once per distinct address (`ipinfo`).
  2. rule_cases: outcome/how/evidence by classify.py's rules in its order. A CASE gives the
     number of the first rule that matches; outcome, how and evidence are read off that number
     (no arrays or structs: they are written differently in each engine).
Not modelled: loopback detection of a refused peer is a regex (127.x.y.z, ::1) where the Python
path uses ipaddress; only flow files produce such errors, and the SQL engines refuse those.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from policy_lint.traffic.classify import Classifier

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
    "user_name": "VARCHAR",  # FlowRecord.user and .group: the audience, --by-user
    "group_name": "VARCHAR",
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


def rule_cases(d: Dialect, classifier: Classifier) -> tuple[str, str, str, str, str]:
    """The classification as SQL parts (sqlgroups classifies its groups of records with them):
    (the CASE giving the number `k` of the first matching rule, then outcome, how and evidence as
    `CASE k ...` branches, and the peer `p` a refused connect names). The columns they read:
    server_ip, via_upstream, sinkhole, ip_service, tag, status, verdict, reason,
    service, `le` (lower(error)) and `p`."""
    rules = _rules(d, classifier)
    pick = " ".join(f"WHEN {cond} THEN {i}" for i, (cond, _, _, _) in enumerate(rules))
    outcome = " ".join(f"WHEN {i} THEN {d.lit(o)}" for i, (_, o, _, _) in enumerate(rules))
    how = " ".join(f"WHEN {i} THEN {h}" for i, (_, _, h, _) in enumerate(rules))
    evidence = " ".join(f"WHEN {i} THEN {e}" for i, (_, _, _, e) in enumerate(rules))
    peer_re = r"connect call failed \('([^']{1,64})',"
    peer = (
        f"CASE WHEN {d.regexp('le', peer_re)} THEN regexp_extract(le, {d.lit(peer_re)}, 1) ELSE server_ip END"
    )
    return pick, outcome, how, evidence, peer


@dataclass(frozen=True)
class RecordJoin:
    """How a record of `rec r` meets its service: by its host (`hostmap m`), and with
    by_address (Classifier.by_address) a record without a host name also by its destination
    address (`ipinfo ia`, whose addr_* columns hold Classifier.address_attribution's answer):
    that service's primary, shown as "address:<ip>", as classify._by_address."""

    source: str  # the FROM clause: every record, `matched` or not
    matched: str  # a record of a catalog or control host, or attributed by address
    service: str
    role: str
    host: str  # the host the report shows
    by_address: str  # true for a record attributed by address
    where: str  # "matched by destination address ..." for those


def record_join(by_address: bool) -> RecordJoin:
    if not by_address:
        return RecordJoin(
            "rec r LEFT JOIN hostmap m ON m.host = r.host",
            "m.host IS NOT NULL",
            "m.service",
            "m.role",
            "r.host",
            "false",
            "''",
        )
    attributed = "m.host IS NULL"
    return RecordJoin(
        "rec r LEFT JOIN hostmap m ON m.host = r.host LEFT JOIN ipinfo ia ON ia.ip = r.server_ip",
        "(m.host IS NOT NULL OR (coalesce(r.host, '') = '' AND ia.addr_service IS NOT NULL))",
        f"CASE WHEN {attributed} THEN ia.addr_service ELSE m.service END",
        f"CASE WHEN {attributed} THEN 'primary' ELSE m.role END",
        f"CASE WHEN {attributed} THEN ia.addr_host ELSE r.host END",
        attributed,
        f"CASE WHEN {attributed} THEN ia.addr_where ELSE '' END",
    )


def marked_by_address(how: str, evidence: str) -> tuple[str, str]:
    """`how` and `evidence` (SQL) of a row whose column `by_address` may be true, marked as
    classify._by_address marks them ("+by-address"; the evidence with where it was matched,
    240 characters at most)."""
    return (
        f"CASE WHEN by_address THEN ({how}) || '+by-address' ELSE {how} END",
        f"CASE WHEN by_address THEN substring(({evidence}) || '; ' || addr_where, 1, 240) ELSE {evidence} END",
    )


def load_catalog_tables(engine: Engine, classifier: Classifier) -> None:
    """`exact`, `domains` and `hostmap` (one row per distinct host of `rec`), and `ipinfo`: the
    address facts, once per distinct address, by the Python path's code."""
    catalog = classifier.catalog
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
    ips = [r[0] for r in engine.rows("SELECT DISTINCT server_ip FROM rec WHERE server_ip IS NOT NULL")]

    def attribution(ip: str) -> tuple[str | None, str | None, str | None]:
        found = classifier.address_attribution(ip) if classifier.by_address else None
        return found if found is not None else (None, None, None)

    engine.load(
        "ipinfo",
        {
            "ip": "VARCHAR",
            "sinkhole": "BOOLEAN",
            "ip_service": "VARCHAR",
            "addr_service": "VARCHAR",
            "addr_host": "VARCHAR",
            "addr_where": "VARCHAR",
        },
        [(ip, *classifier.address_facts(ip), *attribution(ip)) for ip in ips],
    )
