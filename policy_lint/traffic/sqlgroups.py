"""The plan both SQL engines run (`--engine duckdb` and `--engine spark`), from sqlplan's parts.

The records of `rec` are first grouped by everything the classification and the report read of
a record -- host (with its service and role, or the service its destination address is
attributed to: sqlplan.record_join), status, tag, error, server address, upstream flag, verdict,
reason, the record's audience, and the UTC day when a trend is asked for -- with each group's
count, first sequence number, time of that first record and non-zero time span. Only these
groups (a few per host, audience and day) are classified, by classify.py's rules
(sqlplan.rule_cases), and grouped again by what the report shows: the count is the sum, the first
record the first of the first pre-group, the span the union. Groups are fed to ComplianceReport in
the order of their first record, so the report is the Python path's -- and nothing is kept per
record: memory follows the distinct observations, not the input.

The audiences are read with the distinct clients (with audiences of users or groups in the
policy: the distinct clients, users and groups), in one pass, each with its first record of a
service (`min(seq)`): identity.AudienceMatcher, in Python, gives each its audience, and the first
MAX_CLIENTS_LISTED clients of each audience are the client sample. Records with a user (column
`user_name` of `rec`) can feed a per-user report (byuser.ByUser, `--by-user`): the audience is then the user's shown name, given to the
first `max_users` users in order of their first record of a service, the rest under `other`.
"""

from __future__ import annotations

from policy_lint.traffic import sqlplan
from policy_lint.traffic.byuser import ByUser
from policy_lint.traffic.classify import Classifier
from policy_lint.traffic.compliance import MAX_CLIENTS_LISTED, ComplianceReport
from policy_lint.traffic.record import Observation

# what a record's classification and its report entry depend on (besides the audience)
_KEY = ("host", "status", "tag", "error", "server_ip", "via_upstream", "verdict", "reason")


def reads_user_names(report: ComplianceReport, by_user: ByUser | None) -> bool:
    """Whether run() reads the records' user names (audiences of users or groups, a per-user
    report): an engine need not stage them otherwise."""
    return by_user is not None or report.audiences_name_people


def run(
    engine: sqlplan.Engine, classifier: Classifier, report: ComplianceReport, by_user: ByUser | None = None
) -> None:
    """Classify and aggregate the engine's table `rec` into `report` (and `by_user`)."""
    sqlplan.load_catalog_tables(engine, classifier)
    join = sqlplan.record_join(classifier.by_address)
    first = f"min(CASE WHEN {join.matched} AND {join.service} IS NOT NULL THEN r.seq END)"
    if report.audiences_name_people:
        on = _people(engine, join, first, report)
    else:
        # every client (its audience), with its first record of a service (the client sample)
        firsts = list(
            engine.rows(
                f"SELECT r.client, {first} FROM {join.source} WHERE r.client IS NOT NULL GROUP BY r.client"
            )
        )
        audiences = {client: report.audience_of(client) for client, _ in firsts}
        engine.load("clientinfo", {"client": "VARCHAR", "audience": "VARCHAR"}, list(audiences.items()))
        _note_clients(report, [(audiences[c], c, seq) for c, seq in firsts if seq is not None])
        on = "ci.client = r.client"
    other = engine.dialect.lit(report.audience_of(None))
    _feed(
        engine,
        classifier,
        report,
        join,
        f"coalesce(ci.audience, {other})",
        f"LEFT JOIN clientinfo ci ON {on}",
        "true",
    )
    if by_user is not None:
        _users(engine, classifier, join, by_user)


_WHO = ("client", "user_name", "group_name")


def _people(engine: sqlplan.Engine, join: sqlplan.RecordJoin, first: str, report: ComplianceReport) -> str:
    """With audiences given by users or groups, a record's audience depends on its client, user
    and group (identity.AudienceMatcher): `clientinfo` gets one row per distinct triple ('' for
    none: the join is a plain equality), the client sample each client's first record of a
    service in each audience. Returns the join condition."""
    rows = list(
        engine.rows(
            f"SELECT {', '.join(f'r.{k}' for k in _WHO)}, {first} FROM {join.source} GROUP BY 1, 2, 3"
        )
    )
    info: list[tuple[str, str, str, str]] = []
    sample: dict[tuple[str, str], int] = {}
    for client, user, group, seq in rows:
        audience = report.audience_of(client, user, group)
        info.append((client or "", user or "", group or "", audience))
        if client is not None and seq is not None:
            key = (audience, client)
            sample[key] = min(seq, sample.get(key, seq))
    engine.load("clientinfo", {**dict.fromkeys(_WHO, "VARCHAR"), "audience": "VARCHAR"}, info)
    _note_clients(report, [(audience, client, seq) for (audience, client), seq in sample.items()])
    return " AND ".join(f"ci.{k} = coalesce(r.{k}, '')" for k in _WHO)


def _users(engine: sqlplan.Engine, classifier: Classifier, join: sqlplan.RecordJoin, by_user: ByUser) -> None:
    service_rec = f"FROM {join.source} WHERE {join.matched} AND {join.service} IS NOT NULL"
    order = sorted(
        engine.rows(f"SELECT r.user_name, min(r.seq) {service_rec} AND r.user_name IS NOT NULL GROUP BY 1"),
        key=lambda row: row[1],
    )
    shown = {user: by_user.name(user) for user, _ in order}  # in the order users first appear
    engine.load("usermap", {"user_name": "VARCHAR", "shown": "VARCHAR"}, list(shown.items()))
    users = "JOIN usermap u ON u.user_name = r.user_name"
    clients = engine.rows(
        f"SELECT u.shown, r.client, min(r.seq) FROM {join.source} {users}"
        f" WHERE {join.matched} AND {join.service} IS NOT NULL AND r.client IS NOT NULL GROUP BY 1, 2"
    )
    _note_clients(by_user.report, list(clients))
    _feed(engine, classifier, by_user.report, join, "u.shown", users, f"{join.service} IS NOT NULL")


def _note_clients(report: ComplianceReport, rows: list[tuple[str, str, int]]) -> None:
    """(audience, client, first record) -> the first MAX_CLIENTS_LISTED clients of each audience,
    noted in order of appearance."""
    taken: dict[str, int] = {}
    for audience, client, _ in sorted(rows, key=lambda row: row[2]):
        if taken.get(audience, 0) < MAX_CLIENTS_LISTED:
            taken[audience] = taken.get(audience, 0) + 1
            report.note_client(audience, client)


def pregroup_sql(join: sqlplan.RecordJoin, audience: str, extra: str, where: str, by_day: bool) -> str:
    """The records of a catalog host or attributed by address (sqlplan.record_join), grouped by
    what their classification reads, with each group's count, first record, its time, and the
    non-zero time span."""
    key = ", ".join(f"r.{k}" for k in _KEY if k != "host")
    facts = f"{join.host}, {join.service}, {join.role}, {join.by_address}, {join.where}"
    day = ", floor(r.ts / 86400) AS day" if by_day else ""
    day_key = ", floor(r.ts / 86400)" if by_day else ""
    return f"""
        SELECT {join.host} AS host, {key}, {join.service} AS service, {join.role} AS role,
               {join.by_address} AS by_address, {join.where} AS addr_where, {audience} AS audience{day},
               count(*) AS n, min(r.seq) AS first, min_by(r.ts, r.seq) AS ts0,
               min(CASE WHEN r.ts <> 0 THEN r.ts END) AS lo, max(CASE WHEN r.ts <> 0 THEN r.ts END) AS hi
        FROM {join.source} {extra}
        WHERE {join.matched} AND {where}
        GROUP BY {key}, {facts}, {audience}{day_key}
    """


def groups_sql(d: sqlplan.Dialect, classifier: Classifier, pregroups: str, by_day: bool) -> str:
    """The report's groups (service, role, shown host, outcome, how, evidence, audience, and day
    with a trend), from the classified pre-groups, in the order of their first record."""
    pick, outcome, how, evidence, peer = sqlplan.rule_cases(d, classifier)
    how, evidence = sqlplan.marked_by_address(f"CASE k {how} END", f"CASE k {evidence} END")
    day = ", day" if by_day else ""
    return f"""
        SELECT service, role, host, outcome, how, evidence, audience, sum(n) AS n, min(first) AS first,
               min_by(ts0, first) AS ts0, min(lo) AS lo, max(hi) AS hi
        FROM (
          SELECT *, CASE k {outcome} END AS outcome, {how} AS how, {evidence} AS evidence
          FROM (
            SELECT *, CASE {pick} END AS k
            FROM (
              SELECT j.*, {peer} AS p
              FROM (
                SELECT g.*, coalesce(i.sinkhole, false) AS sinkhole, i.ip_service, lower(g.error) AS le
                FROM ({pregroups}) g LEFT JOIN ipinfo i ON i.ip = g.server_ip
              ) j
            ) k0
          ) k1
        ) c
        GROUP BY service, role, host, outcome, how, evidence, audience{day}
        ORDER BY first
    """


def _feed(
    engine: sqlplan.Engine,
    classifier: Classifier,
    report: ComplianceReport,
    join: sqlplan.RecordJoin,
    audience: str,
    extra: str,
    where: str,
) -> None:
    by_day = report.trend is not None
    query = groups_sql(engine.dialect, classifier, pregroup_sql(join, audience, extra, where, by_day), by_day)
    for service, role, host, outcome, how, evidence, aud, n, _first, ts0, lo, hi in engine.rows(query):
        obs = Observation(ts0, service, role, host, outcome, how, evidence, None)
        report.add(obs, int(n), (lo, hi), aud)
