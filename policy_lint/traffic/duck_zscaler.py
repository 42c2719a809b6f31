"""A plain Zscaler NSS default-feed web log read by DuckDB itself (`--engine duckdb`).

The lines whose parse is provably weblogs.zscaler's -- printable ASCII and tabs only, at least 23
fields, the time ``Mon Jun 20 15:29:11 2022`` with two-digit day and valid clock (DuckDB's
try_strptime must accept it too), the URL host plain (``host[:port][/path]`` without "://", or
``http(s)://host[:port][/?#...]``) -- are parsed in SQL; every other line is handed to
weblogs.zscaler, with the same skip reasons. A file DuckDB cannot read as plain lines (a CR,
invalid UTF-8, a line past MAX_LINE) returns None: the caller reads it the Python way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from policy_lint.traffic.logio import MAX_LINE, compression
from policy_lint.traffic.sources import SkipCounter

_DAY = "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_MON = "(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_TIME_RE = rf"{_DAY} {_MON} (?:0[1-9]|[12][0-9]|3[01]) (?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9] [0-9]{{4}}"
_HOST = r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.?"
_BARE_RE = rf"({_HOST})(?::[0-9]{{1,5}})?(?:/[!-~]*)?"
_URL_RE = rf"https?://({_HOST})(?::[0-9]{{1,4}})?(?:[/?#][!-~]*)?"
REASON = "line not in Zscaler NSS web format"


def lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def eligible(path: Path) -> bool:
    from policy_lint.traffic.logread import detect

    with open(path, "rb") as fh:
        bom = fh.read(3) == b"\xef\xbb\xbf"
    return not bom and compression(path) is None and detect(path) == "zscaler"


def read_lines_sql(path: Path) -> str:
    """The file's lines, in order (empty lines are NULL rows), read in parallel."""
    return (
        f"read_csv({lit(str(path))}, columns = {{'line': 'VARCHAR'}}, delim = '\x01', quote = '', "
        "escape = '', header = false, auto_detect = false, new_line = '\\n', "
        f"max_line_size = {MAX_LINE - 8})"
    )


def stage(con: Any, select: str) -> int:
    """Materialise `select` (one row per line of the file, in file order) as table `stage`: its
    rowid is then the line's index (an order-preserving insert: DuckDB keeps insertion order
    unless told not to, even when the CSV is read in parallel). Returns the number of lines."""
    con.execute("DROP TABLE IF EXISTS stage")
    con.execute(f"CREATE TEMP TABLE stage AS {select}")
    row = con.execute("SELECT count(*) FROM stage").fetchone()
    return int(row[0]) if row else 0


def read(con: Any, path: Path, base: int, spool: Any, out: Any, skipped: SkipCounter) -> int | None:
    import duckdb

    from policy_lint.traffic.weblogs import zscaler

    fields = f"""
        SELECT line, f, line IS NOT NULL AND trim(line, ' \t') <> '' AND NOT starts_with(line, '#') AS relevant,
               strlen(line) = length(line) AND NOT regexp_matches(line, '[\\x00-\\x08\\x0a-\\x1f\\x7f]') AND len(f) >= 23 AND regexp_full_match(f[1], {lit(_TIME_RE)}) AS plain
        FROM (SELECT line, string_split(line, '\t') AS f FROM {read_lines_sql(path)})"""
    u = "trim(f[4])"
    host = f"""CASE WHEN NOT contains({u}, '://') AND regexp_full_match({u}, {lit(_BARE_RE)})
                    THEN rtrim(lower(regexp_extract({u}, {lit("^" + _BARE_RE)}, 1)), '.')
                    WHEN regexp_full_match({u}, {lit(_URL_RE)})
                    THEN rtrim(lower(regexp_extract({u}, {lit("^" + _URL_RE)}, 1)), '.') END"""
    status = "CASE WHEN regexp_full_match(trim(f[23]), '0*[1-5][0-9][0-9]') THEN TRY_CAST(trim(f[23]) AS INTEGER) END"
    ts = "epoch(try_strptime(f[1], '%a %b %d %H:%M:%S %Y'))"
    parsed = f"""
        SELECT *, relevant AND plain AND host IS NOT NULL AND host <> '' AND ts IS NOT NULL AS ok
        FROM (SELECT *, CASE WHEN relevant AND plain THEN {host} END AS host,
                     CASE WHEN relevant AND plain THEN {ts} END AS ts, {status} AS status,
                     lower(trim(f[5])) AS action FROM ({fields}))"""
    select = f"""
        SELECT ok, CASE WHEN ok THEN ts END AS ts, CASE WHEN ok THEN host END AS host,
               CASE WHEN ok THEN coalesce(nullif(trim(f[20]), ''), nullif(trim(f[2]), '')) END AS client,
               CASE WHEN ok AND action = 'allowed' THEN status END AS status,
               CASE WHEN ok THEN 'Zscaler ' || trim(f[5])
                    || CASE WHEN trim(f[12]) <> '' THEN ' (' || trim(f[12]) || ')' ELSE '' END END AS tag,
               CASE WHEN ok THEN CASE WHEN action = 'blocked' THEN 'denied'
                    WHEN action = 'allowed' THEN CASE WHEN status IS NULL THEN 'allowed' END
                    ELSE 'unknown' END END AS verdict,
               CASE WHEN relevant AND NOT ok THEN line END AS raw
        FROM ({parsed})"""
    try:
        total = stage(con, select)
        con.execute(
            f"""INSERT INTO native SELECT {base} + rowid, ts, host, client, status, tag, NULL, NULL, true, verdict, NULL
                FROM stage WHERE ok"""
        )
        cur = con.execute("SELECT rowid, raw FROM stage WHERE raw IS NOT NULL ORDER BY rowid")
        while batch := cur.fetchmany(10000):
            for n, line in batch:
                if not line.strip():  # whitespace SQL did not trim (\v, \f): not a line to Python
                    continue
                try:
                    rec = zscaler(line)
                except (ValueError, KeyError, IndexError, TypeError):
                    skipped.skip(REASON)
                    continue
                if rec is None:
                    continue
                if not rec.host:
                    skipped.skip("Zscaler NSS web record without a host name")
                    continue
                spool((rec,), out, base + n)
    except duckdb.Error:
        con.execute(f"DELETE FROM native WHERE seq >= {base}")
        return None
    return int(total)
