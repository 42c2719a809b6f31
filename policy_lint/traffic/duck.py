"""`policy-lint traffic --engine duckdb`: the classification and the aggregation in SQL.

Plain squid native access.logs and Zscaler default-feed web logs are read by DuckDB itself
(native_squid here, duck_zscaler): the lines whose parse is provably the Python readers' are
parsed in SQL and staged to Parquet files on disk in file order (duck_stage), the rest are handed
to those readers. Every other input comes from the same streaming readers as the Python path
(sources.read_records: every log format, compressed or not, with the same skip counting),
spooled to a temporary TSV file on disk (never held in memory). DuckDB, with a memory limit and
a spill directory, does the rest in SQL: the classification and the aggregation of sqlplan.py
(host -> service suffix match over a catalog table, classify.py's outcome rules, groups per
service, audience and day fed to ComplianceReport, whose report is then the Python path's --
checked on every sample format by tests/traffic/test_duck.py), with the records grouped before
they are classified (sqlgroups): nothing is kept per record, so memory does not grow with the
input. Records carry their user and group (squid's user column, Zscaler's login, the other
logs' user fields: sqlplan.RECORD_COLUMNS) for audiences of users and the per-user report.
Flow files and HAR (block pages need the response fingerprints) are refused: use the Python
engine.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from policy_lint.traffic import duck_zscaler, sqlgroups, sqlplan
from policy_lint.traffic.byuser import ByUser
from policy_lint.traffic.classify import Classifier
from policy_lint.traffic.compliance import ComplianceReport
from policy_lint.traffic.duck_stage import Staged, left_to_python, lit, read_lines_sql, stage
from policy_lint.traffic.record import FlowRecord
from policy_lint.traffic.sources import SkipCounter, SourceError, read_records, sniff

MEMORY_LIMIT = "512MB"
_COLUMNS = sqlplan.RECORD_COLUMNS
_CLEAN = str.maketrans({"\t": " ", "\n": " ", "\r": " "})


def _cell(value: str | None) -> str:
    return value.translate(_CLEAN) if value else ""


def spool(records: Iterable[FlowRecord], out: Any, start: int = 0) -> int:
    """Write records as TSV rows (sqlplan.RECORD_COLUMNS); returns the next sequence number."""
    seq = start
    for r in records:
        if r.headers or r.body_prefix:
            raise SourceError("--engine duckdb reads logs; flow files and HAR need --engine python")
        out.write(
            f"{seq}\t{r.timestamp!r}\t{_cell(r.host)}\t{_cell(r.client)}\t"
            f"{'' if r.status is None else r.status}\t{_cell(r.proxy_tag)}\t{_cell(r.error)}\t"
            f"{_cell(r.server_ip)}\t{'true' if r.via_upstream else 'false'}\t{_cell(r.verdict)}\t"
            f"{_cell(r.reason)}\t{_cell(r.user)}\t{_cell(r.group)}\n"
        )
        seq += 1
    return seq


def analyse(
    paths: Iterable[Path],
    classifier: Classifier,
    report: ComplianceReport,
    by_user: ByUser | None = None,
) -> None:
    """Read, classify and aggregate `paths` into `report` (skips noted on it), and per user
    into `by_user` when given."""
    import duckdb

    # user names are staged only for a run that reads them: a string column costs ~5% of a parse
    users = sqlgroups.reads_user_names(report, by_user)
    with tempfile.TemporaryDirectory(prefix="policy-lint-duck-") as tmp:
        spool_path = Path(tmp) / "records.tsv"
        con = duckdb.connect(
            config={"memory_limit": MEMORY_LIMIT, "temp_directory": str(Path(tmp) / "spill")}
        )
        try:
            con.execute(f"SET threads = {max(1, min(os.cpu_count() or 1, 4))}")
            seq = 0
            staged: list[Staged] = []
            with open(spool_path, "w", encoding="utf-8") as out:
                for i, path in enumerate(paths):
                    if not reads(path):
                        raise SourceError(
                            f"{path}: --engine duckdb reads logs; flow files and HAR need --engine python"
                        )
                    skipped = SkipCounter()
                    dest = Path(tmp) / f"stage-{i}.parquet"
                    done: Staged | None = None
                    if native_squid_ok(path):
                        done = native_squid(con, path, seq, out, skipped, dest, users)
                    elif duck_zscaler.eligible(path):
                        done = duck_zscaler.read(con, path, seq, spool, out, skipped, dest, users)
                    if (
                        done is None
                    ):  # not a plain squid/Zscaler log, or DuckDB refused it: the Python readers
                        skipped = SkipCounter()
                        records = read_records(path, skipped, keep_addressed=classifier.by_address)
                        seq = spool(records, out, seq)
                    else:
                        staged.append(done)
                        seq += done.rows
                    for reason, n in skipped.reasons.items():
                        report.note_skipped(n, reason)
            _run(con, spool_path, staged, classifier, report, by_user)
        finally:
            con.close()


# squid native lines DuckDB reads itself: the fields Python's squid regex reads (time, elapsed,
# client, tag/code, bytes, method, URL, user) printable ASCII apart by runs of spaces (squid pads
# the elapsed time; no \t, \v, non-ASCII digits or spaces, where Python's and RE2's \s and \d
# differ), the user followed by a space or the end (what follows is not read), the host as
# Python's IDNA codec accepts it (labels of 1..63 characters), the URL forms whose host Python's
# urlsplit gives plainly. Every other line goes through sources.squid_line: same records, same
# skip reasons.
# Speed: ONE regex checks the line as it is (no capture groups: RE2's fast path) and
# the fields are then cut by one string_split -- collapsing the runs of spaces first, or regex
# capture groups, cost more than the check itself (bench/traffic_scale.py).
_HOST_RE = r"(?:[A-Za-z0-9-]{1,63}\.)*[A-Za-z0-9-]{1,63}\.?"
_CONNECT_FORM = rf"{_HOST_RE}(?::[0-9]{{1,5}})?"
_URL_FORM = rf"(?:https?|ftp)://{_HOST_RE}(?::[0-9]{{1,4}})?(?:[/?#][!-~]*)?"
_NATIVE_FIELDS = (
    r"[0-9]+(?:\.[0-9]+)?",  # time
    r"-?[0-9]+",  # elapsed
    r"[!-~]+",  # client
    r"[A-Z_]+/[0-9]{1,3}",  # tag/code
    r"[0-9]+",  # bytes
    r"[!-~]+",  # method
    rf"(?:{_CONNECT_FORM}|{_URL_FORM})",  # URL
)
# The line with its runs of spaces collapsed to one (what --engine spark matches).
NATIVE_LINE_RE = " ".join(_NATIVE_FIELDS) + r"(?: [\t -~]*)?"
# The line as it is: leading spaces, runs of spaces, then nothing, or the user and anything. Matched
# as the line's start (regexp_matches, anchored by ^ only): the same lines as a full match of
# `...(?: +(?:[!-~]+(?: .*)?)?)?`, but RE2 stops after the user where a full match reads the free
# text that follows to its end (a fifth of the check's cost on squid's usual lines).
NATIVE_RAW_LINE_RE = "^ *" + " +".join(_NATIVE_FIELDS) + r"(?:$| +$| +[!-~]+(?:$| ))"


def spool_squid_lines(lines: Iterable[tuple[int, str]], out: Any, skipped: SkipCounter) -> None:
    """The lines an engine's own parse left to Python, as (seq, line) in file order, read by
    sources.squid_line and spooled to `out` (DuckDB's and Spark's squid parses share it)."""
    from policy_lint.traffic.sources import squid_line

    for seq, text in lines:
        line = text.strip()  # as logio.lines and the squid reader: Python's strip
        if not line or line.startswith("#"):
            continue
        rec = squid_line(line)
        if rec is None:
            skipped.skip("access.log line not in squid native/common format")
        else:
            spool((rec,), out, seq)


def native_squid_ok(path: Path) -> bool:
    from policy_lint.traffic.logio import compression

    with open(path, "rb") as fh:
        bom = fh.read(3) == b"\xef\xbb\xbf"  # DuckDB drops a BOM, Python keeps it in line 1
    return not bom and compression(path) is None and not _is_org_log(path) and sniff(path) == "squid"


def native_squid(
    con: Any, path: Path, base: int, out: Any, skipped: SkipCounter, dest: Path, users: bool = True
) -> Staged | None:
    """A plain squid access.log read by DuckDB: its parsed lines staged to `dest`, the lines it
    leaves to Python spooled to `out` (sequence numbers from `base` on), the user names only
    with `users`; None when DuckDB cannot read the file as plain lines (a \r, invalid UTF-8, a
    line past MAX_LINE): then nothing was added and the caller reads it the Python way."""
    import duckdb

    # A line is parsed here when NATIVE_RAW_LINE_RE matches; f = its fields (the runs of spaces dropped).
    parsed = f"""
        SELECT line, CASE WHEN ok THEN list_filter(string_split(line, ' '), lambda x: x <> '') END AS f, ok
        FROM (SELECT line, regexp_matches(line, {lit(NATIVE_RAW_LINE_RE)}) AS ok
              FROM {read_lines_sql(path)})"""
    # CONNECT takes host[:port] only (a URL there is left to Python); other methods: a URL
    # when the target has "://", else host[:port] (the regex admitted one of both forms).
    fields = f"""
        SELECT *, ok AND NOT (method = 'CONNECT' AND contains(url, '://')) AS good,
               split_part(f[4], '/', 1) AS tag, CAST(split_part(f[4], '/', 2) AS INTEGER) AS code
        FROM (SELECT *, f[6] AS method, f[7] AS url FROM ({parsed}))"""
    host = """lower(CASE WHEN NOT contains(url, '://') THEN split_part(url, ':', 1)
                     ELSE split_part(split_part(split_part(split_part(split_part(url, '://', 2), '/', 1), '?', 1), '#', 1), ':', 1) END)"""
    select = f"""
        SELECT good AS ok, CASE WHEN good THEN CAST(f[1] AS DOUBLE) END AS ts,
               CASE WHEN good THEN {host} END AS host, CASE WHEN good THEN f[3] END AS client,
               CASE WHEN good AND NOT failed THEN nullif(code, 0) END AS status, CASE WHEN good THEN tag END AS tag,
               CASE WHEN good AND failed THEN 'squid ' || tag || '/' || CAST(code AS VARCHAR) END AS error,
               CAST(NULL AS VARCHAR) AS verdict, CASE WHEN good AND f[8] <> '-' THEN f[8] END AS user_name,
               CASE WHEN NOT good AND trim(line, ' \t') <> '' AND NOT starts_with(trim(line, ' \t'), '#')
                    THEN line END AS raw
        FROM (SELECT *, starts_with(tag, 'TAG_NONE') OR code = 0 OR (code >= 500 AND NOT contains(tag, 'DENIED')) AS failed
              FROM ({fields}))"""
    try:
        staged = stage(con, select, dest, base, null=("verdict",) if users else ("verdict", "user_name"))
        spool_squid_lines(left_to_python(con, staged), out, skipped)
    except duckdb.Error:
        dest.unlink(missing_ok=True)
        return None
    return staged


def reads(path: Path) -> bool:
    """Whether this engine reads path: a log, not a flow file or HAR."""
    return sniff(path) not in ("har", "mitm") or _is_org_log(path)


def _is_org_log(path: Path) -> bool:
    from policy_lint.traffic.logread import detect

    return detect(path) is not None


class DuckEngine:
    """sqlplan.Engine on a DuckDB connection."""

    dialect = sqlplan.DUCKDB

    def __init__(self, con: Any) -> None:
        self.con = con

    def create(self, name: str, select: str, small: bool = False) -> None:
        self.con.execute(f"CREATE TEMP TABLE {name} AS {select}")

    def load(self, name: str, columns: dict[str, str], rows: list[tuple[Any, ...]]) -> None:
        self.con.execute(f"CREATE TEMP TABLE {name} ({', '.join(f'{k} {v}' for k, v in columns.items())})")
        if rows:
            # one statement, a list parameter per column, unnested side by side (in order):
            # executemany runs one INSERT per row, ~0.35 ms each -- 3.5 s for 10,000 clients
            cells = ", ".join(f"CAST(unnest(?) AS {kind})" for kind in columns.values())
            self.con.execute(
                f"INSERT INTO {name} SELECT {cells}", [list(column) for column in zip(*rows, strict=True)]
            )

    def rows(self, select: str) -> Iterator[tuple[Any, ...]]:
        cur = self.con.execute(select)
        while batch := cur.fetchmany(10000):
            yield from batch


def _run(
    con: Any,
    spool_path: Path,
    staged: list[Staged],
    classifier: Classifier,
    report: ComplianceReport,
    by_user: ByUser | None,
) -> None:
    columns = "{" + ", ".join(f"{lit(k)}: {lit(v)}" for k, v in sqlplan.RECORD_COLUMNS.items()) + "}"
    spooled = (
        f"SELECT * FROM read_csv({lit(str(spool_path))}, delim = '\t', quote = '', escape = '', "
        f"header = false, columns = {columns}, nullstr = '', auto_detect = false)"
    )
    con.execute(f"CREATE VIEW rec AS {' UNION ALL '.join([spooled, *(s.records_sql() for s in staged)])}")
    sqlgroups.run(DuckEngine(con), classifier, report, by_user)
