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


def lines_sql(path: Path) -> str:
    """The file's lines in order, numbered from 0 (empty lines are NULL rows)."""
    return (
        f"(SELECT row_number() OVER () - 1 AS n, line FROM read_csv({lit(str(path))}, "
        "columns = {'line': 'VARCHAR'}, delim = '\x01', quote = '', escape = '', header = false, "
        f"auto_detect = false, parallel = false, new_line = '\\n', max_line_size = {MAX_LINE - 8}))"
    )


def read(con: Any, path: Path, base: int, spool: Any, out: Any, skipped: SkipCounter) -> int | None:
    import duckdb

    from policy_lint.traffic.weblogs import zscaler

    lines = lines_sql(path)
    fields = f"""
        (SELECT n, line, f, regexp_full_match(line, '[ -~\t]*') AND len(f) >= 23
                AND regexp_full_match(f[1], {lit(_TIME_RE)}) AS plain
         FROM (SELECT n, line, string_split(line, '\t') AS f FROM {lines}
               WHERE line IS NOT NULL AND trim(line, ' \t') <> '' AND NOT starts_with(line, '#')))"""
    u = "trim(f[4])"
    host = f"""CASE WHEN NOT contains({u}, '://') AND regexp_full_match({u}, {lit(_BARE_RE)})
                    THEN rtrim(lower(regexp_extract({u}, {lit("^" + _BARE_RE)}, 1)), '.')
                    WHEN regexp_full_match({u}, {lit(_URL_RE)})
                    THEN rtrim(lower(regexp_extract({u}, {lit("^" + _URL_RE)}, 1)), '.') END"""
    status = (
        "CASE WHEN regexp_full_match(trim(f[23]), '0*[1-5][0-9][0-9]') THEN CAST(trim(f[23]) AS INTEGER) END"
    )
    ts = "epoch(try_strptime(f[1], '%a %b %d %H:%M:%S %Y'))"
    parsed = (
        f"SELECT *, {host} AS host, {ts} AS ts, {status} AS status, lower(trim(f[5])) AS action FROM {fields}"
    )
    try:
        total = con.execute(f"SELECT count(*) FROM {lines}").fetchone()[0]
        con.execute(
            f"""
            INSERT INTO native
            SELECT {base} + n, ts, host,
                   coalesce(nullif(trim(f[20]), ''), nullif(trim(f[2]), '')),
                   CASE WHEN action = 'allowed' THEN status END,
                   'Zscaler ' || trim(f[5]) || CASE WHEN trim(f[12]) <> '' THEN ' (' || trim(f[12]) || ')' ELSE '' END,
                   NULL, NULL, true,
                   CASE WHEN action = 'blocked' THEN 'denied'
                        WHEN action = 'allowed' THEN CASE WHEN status IS NULL THEN 'allowed' END
                        ELSE 'unknown' END,
                   NULL
            FROM ({parsed}) WHERE plain AND host IS NOT NULL AND host <> '' AND ts IS NOT NULL
            """
        )
        cur = con.execute(
            f"SELECT n, line FROM ({parsed}) WHERE NOT (plain AND host IS NOT NULL AND host <> '' AND ts IS NOT NULL) ORDER BY n"
        )
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
