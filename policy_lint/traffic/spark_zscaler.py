"""A plain Zscaler NSS default-feed web log parsed by Spark itself (`--engine spark`).

The same split as duck_zscaler (DuckDB's): the lines whose parse is provably weblogs.zscaler's --
printable ASCII and tabs only, at least 23 tab-separated fields, the time ``Mon Jun 20 15:29:11
2022`` with a two-digit day, a valid clock and a year from 1000 (Spark's try_to_timestamp must
accept the date too: Feb 30 is left to Python, which skips it), the URL host plain
(``host[:port][/path]`` without "://", or ``http(s)://host[:port][/?#...]``) -- are parsed in
Spark SQL; every other line is handed to weblogs.zscaler, with the Python reader's skip reasons
(logread: "line not in Zscaler NSS web format", "... record without a host name").

Spark SQL specifics (Spark 4 runs ANSI SQL: an array index past the end is an error, so fields
are read with get(), which gives NULL): java.util.regex anchors with \\z, not $ ($ also matches
before a final line terminator), and the day-of-week name is only checked by the regex, as
Python's reader only checks it is a day name.
"""

from __future__ import annotations

from typing import Any

from policy_lint.traffic import sqlplan

_DAY = "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_MON = "(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
TIME_RE = (
    rf"{_DAY} {_MON} (?:0[1-9]|[12][0-9]|3[01]) (?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9] [1-9][0-9]{{3}}"
)
_HOST = r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.?"
BARE_RE = rf"({_HOST})(?::[0-9]{{1,5}})?(?:/[!-~]*)?"
URL_RE = rf"https?://({_HOST})(?::[0-9]{{1,4}})?(?:[/?#][!-~]*)?"
END = r")\z"  # java.util.regex: $ would also match before a final line terminator
NOT_PLAIN = r"[^\t -~]"  # a character other than a tab or printable ASCII


def parse_sql(view: str, base: int, users: bool = True) -> str:
    """The lines of `view` (one `value` per line, in file order) as rows of the record columns
    (sqlplan.RECORD_COLUMNS) plus `ok` (parsed here) and `raw` (a line left to Python); the
    user names only with `users` (NULL otherwise)."""
    d = sqlplan.SPARK

    def full(value: str, pattern: str) -> str:
        return f"({value} RLIKE {d.lit('^(?:' + pattern + END)})"

    u = "trim(get(f, 3))"
    host = f"""CASE WHEN instr({u}, '://') = 0 AND {full(u, BARE_RE)}
                    THEN regexp_extract({u}, {d.lit("^" + BARE_RE)}, 1)
                    WHEN {full(u, URL_RE)} THEN regexp_extract({u}, {d.lit("^" + URL_RE)}, 1) END"""
    status = f"CASE WHEN {full('trim(get(f, 22))', '0*[1-5][0-9][0-9]')} THEN try_cast(trim(get(f, 22)) AS INT) END"
    # the day-of-week name is checked by TIME_RE only; the rest is a date Spark must accept
    ts = "CAST(unix_seconds(try_to_timestamp(substring(get(f, 0), 5), 'MMM dd HH:mm:ss yyyy')) AS DOUBLE)"
    who = "trim(BOTH '\"' FROM trim(get(f, 1)))"  # the login as weblogs._who: strip(), then the quotes
    user_name = (
        "CASE WHEN ok AND who <> '' AND lower(who) NOT IN ('-', 'none', 'unknown') THEN who END"
        if users
        else "CAST(NULL AS STRING)"
    )
    relevant = f"trim(BOTH {d.lit(' ' + chr(9))} FROM line) <> '' AND NOT startswith(line, '#')"
    plain = f"NOT (line RLIKE {d.lit(NOT_PLAIN)}) AND size(f) >= 23 AND {full('get(f, 0)', TIME_RE)}"
    return f"""
        SELECT {base} + id AS seq, ok, CASE WHEN ok THEN ts END AS ts, CASE WHEN ok THEN h END AS host,
               CASE WHEN ok THEN coalesce(nullif(trim(get(f, 19)), ''), nullif(trim(get(f, 1)), '')) END AS client,
               CASE WHEN ok AND action = 'allowed' THEN status END AS status,
               CASE WHEN ok THEN 'Zscaler ' || trim(get(f, 4))
                    || CASE WHEN trim(get(f, 11)) <> '' THEN ' (' || trim(get(f, 11)) || ')' ELSE '' END END AS tag,
               CAST(NULL AS STRING) AS error, CAST(NULL AS STRING) AS server_ip, true AS via_upstream,
               CASE WHEN ok THEN CASE WHEN action = 'blocked' THEN 'denied'
                    WHEN action = 'allowed' THEN CASE WHEN status IS NULL THEN 'allowed' END
                    ELSE 'unknown' END END AS verdict,
               CAST(NULL AS STRING) AS reason,
               {user_name} AS user_name,
               CAST(NULL AS STRING) AS group_name,
               CASE WHEN relevant AND NOT ok THEN line END AS raw
        FROM (
          SELECT *, relevant AND plain AND h IS NOT NULL AND h <> '' AND ts IS NOT NULL AS ok
          FROM (
            SELECT *, CASE WHEN relevant AND plain THEN TRIM(TRAILING '.' FROM lower({host})) END AS h,
                   CASE WHEN relevant AND plain THEN {ts} END AS ts,
                   CASE WHEN relevant AND plain THEN {status} END AS status,
                   lower(trim(get(f, 4))) AS action,
                   {who} AS who
            FROM (
              SELECT id, line, f, {relevant} AS relevant, CASE WHEN {relevant} THEN {plain} ELSE false END AS plain
              FROM (SELECT monotonically_increasing_id() AS id, value AS line,
                           split(value, {d.lit(chr(9))}, -1) AS f FROM {view}) a
            ) b
          ) c
        ) e
    """


def python_lines(lines: Any, spool: Any, out: Any, skipped: Any) -> None:
    """The lines Spark left, as (seq, line) in file order, through weblogs.zscaler as
    logread's reader takes them: spooled with their sequence numbers, bad ones counted."""
    from policy_lint.traffic.duck_zscaler import read_line

    for seq, text in lines:
        # as logio.lines (Spark's text reader split at \n only)
        read_line(text.rstrip("\r\n"), seq, spool, out, skipped)
