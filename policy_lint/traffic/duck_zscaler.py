"""A plain Zscaler NSS default-feed web log read by DuckDB itself (`--engine duckdb`).

The lines whose parse is provably weblogs.zscaler's are parsed in SQL: at least 23 tab-separated
fields, the time ``Mon Jun 20 15:29:11 2022`` with two-digit day and valid clock (DuckDB's
try_strptime must accept it too), the URL host plain (``host[:port][/path]`` without "://", or
``http(s)://host[:port][/?#...]``), and the other fields the record takes (login, action, rule,
client address, status) ASCII without the control characters Python's str.strip() removes and
DuckDB's trim() keeps (\v, \f, \x1c-\x1f): the fields it does not read may hold anything. Every
other line is handed to weblogs.zscaler, with the same skip reasons. A file DuckDB cannot read
(a CR: searched for while DuckDB parses, duck_stage.CrWatch; invalid UTF-8 in a field read, a
line past MAX_LINE) returns None: the caller reads it the Python way.
Speed: DuckDB's CSV reader cuts the lines into their first 23 fields (duck_stage.read_fields_sql:
cheaper than reading whole lines and splitting them in SQL), one regex checks the time and the
short fields read at once, the host is cut out by strpos once its form has been checked; a line
left to Python is handed over as the fields read (all the record takes), and read again from
the file by its number (duck_stage.lines_at) only when they cannot stand for it; no user name
is staged for a run that reads none.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from policy_lint.traffic.duck_stage import (
    CrWatch,
    Staged,
    left_to_python,
    lines_at,
    lit,
    read_fields_sql,
    stage,
    unparsed,
)
from policy_lint.traffic.logio import compression
from policy_lint.traffic.logread import NAMES
from policy_lint.traffic.sources import SkipCounter

_DAY = "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_MON = "(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_TIME_RE = rf"{_DAY} {_MON} (?:0[1-9]|[12][0-9]|3[01]) (?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9] [0-9]{{4}}"
_HOST = r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.?"
_BARE_RE = rf"{_HOST}(?::[0-9]{{1,5}})?(?:/[!-~]*)?"
_URL_RE = rf"https?://{_HOST}(?::[0-9]{{1,4}})?(?:[/?#][!-~]*)?"
# the skip reasons of logread's reader (sources.read_records) for a line weblogs.zscaler refuses
REASON = f"line not in {NAMES['zscaler']} format"
NO_HOST = f"{NAMES['zscaler']} record without a host name"


def eligible(path: Path) -> bool:
    from policy_lint.traffic.logread import detect

    with open(path, "rb") as fh:
        bom = fh.read(3) == b"\xef\xbb\xbf"
    return not bom and compression(path) is None and detect(path) == "zscaler"


_FIELD = "(?:[!-~](?:[ -~]*[!-~])?)?"  # empty, or printable ASCII with no space around
# the time, then login, action, rule, client address and status
_PLAIN_RE = "\t".join([_TIME_RE] + [_FIELD] * 5)


def read(
    con: Any,
    path: Path,
    base: int,
    spool: Any,
    out: Any,
    skipped: SkipCounter,
    dest: Path,
    users: bool = True,
) -> Staged | None:
    """Stage the plain lines parsed in SQL to `dest` (their user names only with `users`), the
    others read by weblogs.zscaler and spooled to `out` (sequence numbers from `base` on); None
    when DuckDB cannot read the file."""
    import duckdb

    # The fields read (f<i> is Python's f[i - 1]); f23 present = 23 fields or more. One regex
    # checks the time and the fields login, action, rule, client and status at once (joined by
    # tabs): printable ASCII without spaces around, so Python's strip() leaves them as they are
    # and SQL needs no trim().
    checked = f"""
        SELECT f1 AS t, f2 AS login, f4 AS u, f5 AS act, f12 AS rule, f20 AS cip, f23 AS code,
               f23 IS NOT NULL AND regexp_full_match(concat_ws(chr(9), f1, f2, f5, f12, f20, f23),
                                                     {lit(_PLAIN_RE)}) AS plain
        FROM {read_fields_sql(path, 23)}"""
    # the form checked, the host is what precedes the port, path, query or fragment
    after = "substr(u, strpos(u, '://') + 3)"
    before_slash = "CASE WHEN contains(u, '/') THEN left(u, strpos(u, '/') - 1) ELSE u END"
    host = f"""CASE WHEN NOT contains(u, '://')
                    THEN CASE WHEN regexp_full_match(u, {lit(_BARE_RE)}) THEN {_before_colon(before_slash)} END
                    WHEN regexp_full_match(u, {lit(_URL_RE)})
                    THEN split_part(split_part(split_part(split_part({after}, '/', 1), '?', 1), '#', 1), ':', 1) END"""
    status = "CASE WHEN regexp_full_match(code, '0*[1-5][0-9][0-9]') THEN TRY_CAST(code AS INTEGER) END"
    ts = "epoch(try_strptime(t, '%a %b %d %H:%M:%S %Y'))"
    # weblogs._who: strip() (nothing to strip here), then the quotes (trim() only when there are
    # any: a new string per line otherwise)
    who = "CASE WHEN starts_with(login, '\"') OR ends_with(login, '\"') THEN trim(login, '\"') ELSE login END"
    # the trailing dots dropped (rtrim() only when there is one: it costs as much as a regex)
    parsed = f"""
        SELECT *, coalesce(host <> '' AND ts IS NOT NULL, false) AS ok
        FROM (SELECT *, CASE WHEN ends_with(h, '.') THEN rtrim(h, '.') ELSE h END AS host
              FROM (SELECT *, CASE WHEN plain THEN lower({host}) END AS h,
                           CASE WHEN plain THEN {ts} END AS ts FROM ({checked})))"""
    # what the parsed lines' fields say, computed for them only
    said = f"""
        SELECT *, CASE WHEN ok THEN lower(act) END AS action, CASE WHEN ok THEN {status} END AS code_ok,
               CASE WHEN ok THEN {who} END AS who
        FROM ({parsed})"""
    # A line not parsed here goes to Python. Its fields read are all weblogs.zscaler reads (the
    # others give only the scheme and method, which no record column holds): those 23 fields
    # with the others empty make the same record, when no field read is NULL (fewer than 23
    # fields, or a field that is exactly NUL) and one holds a printable character (the line is not
    # blank); a comment is its first field. Any other line is read again from the file by its
    # number (lines_at): a line that is read again costs a Python pass over the file up to it.
    # The fields are ASCII: lower() keeps their length, and no name longer than "unknown" needs
    # it; concat() makes the tag in one string, where || makes one per step.
    select = f"""
        SELECT ok, ts, host, CASE WHEN ok THEN coalesce(nullif(cip, ''), nullif(login, '')) END AS client,
               CASE WHEN action = 'allowed' THEN code_ok END AS status,
               CASE WHEN ok THEN concat('Zscaler ', act, CASE WHEN rule <> '' THEN concat(' (', rule, ')') ELSE '' END) END AS tag,
               CAST(NULL AS VARCHAR) AS error,
               CASE WHEN ok THEN CASE WHEN action = 'blocked' THEN 'denied'
                    WHEN action = 'allowed' THEN CASE WHEN code_ok IS NULL THEN 'allowed' END
                    ELSE 'unknown' END END AS verdict,
               CASE WHEN who <> '' AND (length(who) > 7 OR lower(who) NOT IN ('-', 'none', 'unknown')) THEN who END AS user_name,
               CASE WHEN NOT ok THEN {_python_line()} END AS raw
        FROM ({said})"""
    null = ("error",) if users else ("error", "user_name")
    size = path.stat().st_size  # lines_at finds the last lines from the end while it is the same
    try:
        with CrWatch(con, path) as cr:  # a CR ends DuckDB's row, not Python's line
            staged = stage(con, select, dest, base, null=null)
        if cr.found:
            dest.unlink(missing_ok=True)
            return None
        for seq, line in left_to_python(con, staged):
            read_line(line, seq, spool, out, skipped)
        for row, line in lines_at(path, unparsed(con, staged), staged.rows, size):
            read_line(line, staged.base + row, spool, out, skipped)
    except duckdb.Error:
        dest.unlink(missing_ok=True)
        return None
    return staged


# the fields weblogs.zscaler reads, by their number in the line (1-based), as read() names them
_READ = {1: "t", 2: "login", 4: "u", 5: "act", 12: "rule", 20: "cip", 23: "code"}


def _python_line() -> str:
    """SQL: the text weblogs.zscaler reads as it reads the line (see read()), NULL when only the
    line itself will do."""
    read = " AND ".join(f"{name} IS NOT NULL" for name in _READ.values())
    fields = ", ".join(_READ.get(i, "''") for i in range(1, 24))
    return f"""CASE WHEN {read} AND regexp_matches(concat(t, login, u, act, rule, cip, code), '[!-~]')
                    THEN concat_ws(chr(9), {fields})
                    WHEN starts_with(t, '#') THEN t END"""


def read_line(line: str, seq: int, spool: Any, out: Any, skipped: SkipCounter) -> None:
    """A line an engine's parse left to weblogs.zscaler, as logread's reader takes it: spooled
    as record `seq`, or counted as skipped (DuckDB's and Spark's Zscaler parses share it)."""
    from policy_lint.traffic.weblogs import zscaler

    # blank lines, comments: not records (logio.lines, logread._lines)
    if not line.strip() or line.startswith("#"):
        return
    try:
        rec = zscaler(line)
    except (ValueError, KeyError, IndexError, TypeError):
        skipped.skip(REASON)
        return
    if rec is None:
        return
    if not rec.host:
        skipped.skip(NO_HOST)
        return
    spool((rec,), out, seq)


def _before_colon(text: str) -> str:
    return f"CASE WHEN contains({text}, ':') THEN left({text}, strpos({text}, ':') - 1) ELSE {text} END"
