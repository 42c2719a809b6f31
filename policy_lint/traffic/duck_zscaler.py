"""A plain Zscaler NSS default-feed web log read by DuckDB itself (`--engine duckdb`).

The lines whose parse is provably weblogs.zscaler's are parsed in SQL: at least 23 tab-separated
fields, the time ``Mon Jun 20 15:29:11 2022`` with two-digit day and valid clock (DuckDB's
try_strptime must accept it too), the URL host plain (``host[:port][/path]`` without "://", or
``http(s)://host[:port][/?#...]``), and the other fields the record takes (login, action, rule,
client address, status) ASCII without the control characters Python's str.strip() removes and
DuckDB's trim() keeps (\v, \f, \x1c-\x1f): the fields it does not read may hold anything. Every
other line is handed to weblogs.zscaler, with the same skip reasons. A file DuckDB cannot read as
plain lines (a CR, invalid UTF-8, a line past MAX_LINE) returns None: the caller reads it the
Python way.
Speed: the line is split once (string_split) and every check is on the short fields it uses; the
host is cut out by split_part once its form has been checked, not by a second regex.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from policy_lint.traffic.duck_stage import Staged, left_to_python, lit, read_lines_sql, stage
from policy_lint.traffic.logio import compression
from policy_lint.traffic.sources import SkipCounter

_DAY = "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_MON = "(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_TIME_RE = rf"{_DAY} {_MON} (?:0[1-9]|[12][0-9]|3[01]) (?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9] [0-9]{{4}}"
_HOST = r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.?"
_BARE_RE = rf"{_HOST}(?::[0-9]{{1,5}})?(?:/[!-~]*)?"
_URL_RE = rf"https?://{_HOST}(?::[0-9]{{1,4}})?(?:[/?#][!-~]*)?"
REASON = "line not in Zscaler NSS web format"


def eligible(path: Path) -> bool:
    from policy_lint.traffic.logread import detect

    with open(path, "rb") as fh:
        bom = fh.read(3) == b"\xef\xbb\xbf"
    return not bom and compression(path) is None and detect(path) == "zscaler"


_FIELD = "(?:[!-~](?:[ -~]*[!-~])?)?"  # empty, or printable ASCII with no space around
_USED_RE = "\t".join([_FIELD] * 5)


def read(
    con: Any, path: Path, base: int, spool: Any, out: Any, skipped: SkipCounter, dest: Path
) -> Staged | None:
    """Stage the plain lines parsed in SQL to `dest`, the others read by weblogs.zscaler and
    spooled to `out` (sequence numbers from `base` on); None when DuckDB cannot read the file."""
    import duckdb

    from policy_lint.traffic.weblogs import zscaler

    # The fields read (f[i] is Python's f[i - 1]). Login, action, rule, client and status must be
    # printable ASCII without spaces around (checked at once, joined by tabs): Python's strip()
    # then leaves them as they are and SQL needs no trim(); the URL and time are checked whole.
    split = f"SELECT line, string_split(line, chr(9)) AS f FROM {read_lines_sql(path)}"
    cut = f"""
        SELECT line, len(f) AS nf, f[1] AS t, f[2] AS login, f[4] AS u, f[5] AS act, f[12] AS rule,
               f[20] AS cip, f[23] AS code,
               concat_ws(chr(9), f[2], f[5], f[12], f[20], f[23]) AS used
        FROM ({split})"""
    plain = f"nf >= 23 AND regexp_full_match(used, {lit(_USED_RE)}) AND regexp_full_match(t, {lit(_TIME_RE)})"
    # the form checked, the host is what precedes the port, path, query or fragment
    after = "substr(u, strpos(u, '://') + 3)"
    host = f"""CASE WHEN NOT contains(u, '://')
                    THEN CASE WHEN regexp_full_match(u, {lit(_BARE_RE)}) THEN split_part(split_part(u, '/', 1), ':', 1) END
                    WHEN regexp_full_match(u, {lit(_URL_RE)})
                    THEN split_part(split_part(split_part(split_part({after}, '/', 1), '?', 1), '#', 1), ':', 1) END"""
    status = "CASE WHEN regexp_full_match(code, '0*[1-5][0-9][0-9]') THEN TRY_CAST(code AS INTEGER) END"
    ts = "epoch(try_strptime(t, '%a %b %d %H:%M:%S %Y'))"
    who = "trim(login, '\"')"  # weblogs._who: strip() (nothing to strip here), then the quotes
    parsed = f"""
        SELECT *, coalesce(host <> '' AND ts IS NOT NULL, false) AS ok
        FROM (SELECT *, CASE WHEN {plain} THEN rtrim(lower({host}), '.') END AS host,
                     CASE WHEN {plain} THEN {ts} END AS ts FROM ({cut}))"""
    # what the parsed lines' fields say, computed for them only
    said = f"""
        SELECT *, CASE WHEN ok THEN lower(act) END AS action, CASE WHEN ok THEN {status} END AS code_ok,
               CASE WHEN ok THEN {who} END AS who
        FROM ({parsed})"""
    # a line not parsed here goes to Python unless blank or a comment (both checked there again)
    select = f"""
        SELECT ok, ts, host, CASE WHEN ok THEN coalesce(nullif(cip, ''), nullif(login, '')) END AS client,
               CASE WHEN action = 'allowed' THEN code_ok END AS status,
               CASE WHEN ok THEN 'Zscaler ' || act || CASE WHEN rule <> '' THEN ' (' || rule || ')' ELSE '' END END AS tag,
               CAST(NULL AS VARCHAR) AS error,
               CASE WHEN ok THEN CASE WHEN action = 'blocked' THEN 'denied'
                    WHEN action = 'allowed' THEN CASE WHEN code_ok IS NULL THEN 'allowed' END
                    ELSE 'unknown' END END AS verdict,
               CASE WHEN who <> '' AND lower(who) NOT IN ('-', 'none', 'unknown') THEN who END AS user_name,
               CASE WHEN NOT ok AND line IS NOT NULL AND NOT starts_with(line, '#') AND trim(line, ' \t') <> ''
                    THEN line END AS raw
        FROM ({said})"""
    try:
        staged = stage(con, select, dest, base)
        for seq, line in left_to_python(con, staged):
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
            spool((rec,), out, seq)
    except duckdb.Error:
        dest.unlink(missing_ok=True)
        return None
    return staged
