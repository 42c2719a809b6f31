"""`policy-lint traffic --engine duckdb`: the classification and the aggregation in SQL.

Plain squid native access.logs and Zscaler default-feed web logs are read by DuckDB itself
(native_squid here, duck_zscaler): the lines whose parse is provably the Python readers' are
parsed in SQL, the rest are handed to those readers. Every other input comes from the same
streaming readers as the Python path (sources.read_records: every log format, compressed or not,
with the same skip counting), spooled to a temporary TSV file on disk (never held in memory).
DuckDB, with a memory limit and a spill directory, does the rest in SQL: the classification and
the aggregation of sqlplan.py, the portable SQL text `--engine spark` runs too (see there: host ->
service suffix match over a catalog table, classify.py's outcome rules, groups per service,
audience and day fed to ComplianceReport, whose report is then the Python path's -- checked on
every sample format by tests/traffic/test_duck.py). Flow files and HAR (block pages need the
response fingerprints) are refused: use the Python engine.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from policy_lint.traffic import duck_zscaler, sqlplan
from policy_lint.traffic.classify import Classifier
from policy_lint.traffic.compliance import ComplianceReport
from policy_lint.traffic.record import FlowRecord
from policy_lint.traffic.sources import SkipCounter, SourceError, read_records, sniff

MEMORY_LIMIT = "512MB"
_COLUMNS = sqlplan.RECORD_COLUMNS
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
                    if not reads(path):
                        raise SourceError(
                            f"{path}: --engine duckdb reads logs; flow files and HAR need --engine python"
                        )
                    skipped = SkipCounter()
                    lines: int | None = None
                    if native_squid_ok(path):
                        lines = native_squid(con, path, seq, out, skipped)
                    elif duck_zscaler.eligible(path):
                        lines = duck_zscaler.read(con, path, seq, spool, out, skipped)
                    if lines is None:  # not a plain squid log, or DuckDB refused it: the Python readers
                        skipped = SkipCounter()
                        seq = spool(
                            read_records(path, skipped, keep_addressed=classifier.by_address), out, seq
                        )
                    else:
                        seq += lines
                    for reason, n in skipped.reasons.items():
                        report.note_skipped(n, reason)
            _run(con, spool_path, classifier, report)
        finally:
            con.close()


# squid native lines DuckDB reads itself: printable ASCII only (no \v, \r, non-ASCII digits or
# spaces, where Python's and RE2's \s and \d differ), fields apart by spaces only (runs of up to
# 16: squid pads the elapsed time), the host as Python's IDNA codec accepts it (labels of 1..63
# characters), the URL forms whose host Python's urlsplit gives plainly. Every other line goes
# through sources.squid_line: same records, same skip reasons.
# Speed: the runs of spaces are collapsed by plain replace() (four passes), ONE regex checks the
# whole line (a full match, no capture groups: RE2's fast path), and the fields are then cut by
# string_split / split_part -- regex capture groups cost twice as much (bench/traffic_scale.py).
_HOST_RE = r"(?:[A-Za-z0-9-]{1,63}\.)*[A-Za-z0-9-]{1,63}\.?"
_CONNECT_FORM = rf"{_HOST_RE}(?::[0-9]{{1,5}})?"
_URL_FORM = rf"(?:https?|ftp)://{_HOST_RE}(?::[0-9]{{1,4}})?(?:[/?#][!-~]*)?"
NATIVE_LINE_RE = (
    r"[0-9]+(?:\.[0-9]+)? -?[0-9]+ [!-~]+ [A-Z_]+/[0-9]{1,3} [0-9]+ [!-~]+ "
    rf"(?:{_CONNECT_FORM}|{_URL_FORM})(?: [\t -~]*)?"
)
_COLLAPSED = "replace(replace(replace(replace(trim(line), '    ', ' '), '  ', ' '), '  ', ' '), '  ', ' ')"


def native_squid_ok(path: Path) -> bool:
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

    # A line is parsed here when its collapsed form is fully matched; f = its fields.
    parsed = f"""
        SELECT line, CASE WHEN ok THEN string_split(c, ' ') END AS f, ok
        FROM (SELECT line, c, regexp_full_match(c, {_lit(NATIVE_LINE_RE)}) AS ok
              FROM (SELECT line, {_COLLAPSED} AS c FROM {duck_zscaler.read_lines_sql(path)}))"""
    # CONNECT takes host[:port] only (a URL there is left to Python); other methods: a URL
    # when the target has "://", else host[:port] (the regex admitted one of both forms).
    fields = """
        SELECT *, ok AND NOT (method = 'CONNECT' AND contains(url, '://')) AS good,
               split_part(f[4], '/', 1) AS tag, CAST(split_part(f[4], '/', 2) AS INTEGER) AS code
        FROM (SELECT *, f[6] AS method, f[7] AS url FROM ({parsed}))"""
    host = """lower(CASE WHEN NOT contains(url, '://') THEN split_part(url, ':', 1)
                     ELSE split_part(split_part(split_part(split_part(split_part(url, '://', 2), '/', 1), '?', 1), '#', 1), ':', 1) END)"""
    stage = f"""
        SELECT good AS ok, CASE WHEN good THEN CAST(f[1] AS DOUBLE) END AS ts,
               CASE WHEN good THEN {host} END AS host, CASE WHEN good THEN f[3] END AS client,
               CASE WHEN good AND NOT failed THEN nullif(code, 0) END AS status, CASE WHEN good THEN tag END AS tag,
               CASE WHEN good AND failed THEN 'squid ' || tag || '/' || CAST(code AS VARCHAR) END AS error,
               CASE WHEN NOT good AND trim(line, ' \t') <> '' AND NOT starts_with(trim(line, ' \t'), '#')
                    THEN line END AS raw
        FROM (SELECT *, starts_with(tag, 'TAG_NONE') OR code = 0 OR (code >= 500 AND NOT contains(tag, 'DENIED')) AS failed
              FROM ({fields.format(parsed=parsed)}))"""
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
            self.con.executemany(f"INSERT INTO {name} VALUES ({', '.join('?' for _ in columns)})", rows)

    def rows(self, select: str) -> Iterator[tuple[Any, ...]]:
        cur = self.con.execute(select)
        while batch := cur.fetchmany(10000):
            yield from batch


def _run(con: Any, spool_path: Path, classifier: Classifier, report: ComplianceReport) -> None:
    columns = "{" + ", ".join(f"{_lit(k)}: {_lit(v)}" for k, v in _COLUMNS.items()) + "}"
    con.execute(
        f"CREATE VIEW rec AS SELECT * FROM read_csv({_lit(str(spool_path))}, delim = '\t', quote = '', "
        f"escape = '', header = false, columns = {columns}, nullstr = '', auto_detect = false) "
        "UNION ALL SELECT * FROM native"
    )
    sqlplan.run(DuckEngine(con), classifier, report)
