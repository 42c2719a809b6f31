"""A log file DuckDB parses itself (duck.native_squid, duck_zscaler), staged on disk.

The parse query gives one row per line (the parsed ones `ok`, the ones left to the Python
reader with their text in `raw`, or found again in the file by their number: lines_at), in file
order. The lines come whole (read_lines_sql) or already cut into their first fields by DuckDB's
CSV reader (read_fields_sql: cheaper than cutting them in SQL). The rows are written to a Parquet
file in the run's temporary directory (COPY keeps the order: DuckDB preserves insertion order,
also when the file is read in parallel) and read back as table `rec` with the row's position in
the file as its sequence number: nothing per record stays in memory, and the order of the
records -- what the report's "first" rests on -- is the file's. No cheaper order-keeping way was
found (DuckDB 2.0): row_number() OVER () and read_csv's WITH ORDINALITY number the rows on one
thread, which the whole parse then runs on; read_csv has no file_row_number; a temporary table
(ordered by rowid) saves 5% of the CPU but holds every row in memory up to the memory limit.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from policy_lint.traffic.logio import MAX_LINE

# The columns a parse query gives (besides `ok` and `raw`), with their SQL type.
STAGE_COLUMNS = {
    "ts": "DOUBLE",
    "host": "VARCHAR",
    "client": "VARCHAR",
    "status": "INTEGER",
    "tag": "VARCHAR",
    "error": "VARCHAR",
    "verdict": "VARCHAR",
    "user_name": "VARCHAR",
}


def lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def read_lines_sql(path: Path) -> str:
    """The file's lines, in order (empty lines are NULL rows), read in parallel. A file DuckDB
    cannot read as plain lines (a CR, invalid UTF-8, a line past MAX_LINE) is an error."""
    return (
        f"read_csv({lit(str(path))}, columns = {{'line': 'VARCHAR'}}, delim = '\x01', quote = '', "
        "escape = '', header = false, auto_detect = false, new_line = '\\n', "
        f"max_line_size = {MAX_LINE - 8})"
    )


def read_fields_sql(path: Path, count: int) -> str:
    """The first `count` tab-separated fields (f1 .. f<count>) of each non-empty line, in order,
    read in parallel: a line of fewer fields has the missing ones NULL (an empty field is ''; a
    field that is exactly NUL reads as NULL too), the fields past `count` are not read (nor
    checked). Row i is the i-th non-empty line (lines_at). DuckDB takes a CR for a line end where
    the Python readers keep it in the line: check has_cr first. A file DuckDB cannot read (invalid
    UTF-8 in a field read, a line past MAX_LINE) is an error."""
    columns = "{" + ", ".join(f"'f{i}': 'VARCHAR'" for i in range(1, count + 1)) + "}"
    return (
        f"read_csv({lit(str(path))}, columns = {columns}, delim = '\t', quote = '', escape = '', "
        "header = false, auto_detect = false, new_line = '\\n', null_padding = true, "
        f"strict_mode = false, nullstr = chr(0), max_line_size = {MAX_LINE - 8})"
    )


def has_cr(path: Path) -> bool:
    """Whether the file holds a CR (read in bounded blocks: no memory map, which would count the
    whole file as resident)."""
    block = bytearray(1 << 20)
    with open(path, "rb", buffering=0) as fh:
        while n := fh.readinto(block):
            if block.find(b"\r", 0, n) >= 0:
                return True
    return False


class CrWatch:
    """has_cr(path) searched on a thread while the connection's query parses the file: a CR
    found interrupts that query (`found` then says why). The search is mostly a copy from the
    page cache, which the parse's threads leave room for: run first, it held one core alone for
    3% of a Zscaler run (0.16 s of 5.2 for 1.25 GB). A file that cannot be read counts as found:
    the Python reader then reports it."""

    def __init__(self, con: Any, path: Path) -> None:
        self._con = con
        self._path = path
        self._found = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._search, name="policy-lint-cr-watch", daemon=True)

    def _search(self) -> None:
        try:
            found = has_cr(self._path)
        except OSError:
            found = True
        if found:
            self._found.set()
            # an interrupt reaches only a running query (DuckDB forgets one sent before the
            # query starts): sent again until the parse is over
            while not self._done.wait(0.005):
                self._con.interrupt()

    def __enter__(self) -> CrWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()  # no interrupt may reach a later query

    @property
    def found(self) -> bool:
        return self._found.is_set()


def lines_at(
    path: Path, rows: Iterable[int], total: int | None = None, size: int | None = None
) -> Iterator[tuple[int, str]]:
    """(row, line) for the rows of read_fields_sql named in `rows` (ascending): its non-empty
    lines counted from 0, decoded as the Python readers decode them (logio.lines). The file is
    read only when a row is asked for, and only up to the last one -- a pass over every line
    before it (~0.12 us a line). With `total` (the rows read_fields_sql gave) and `size` (the
    file's size then), rows among the last lines (a truncated last line, as a log copied while
    it is written ends) are found in the file's last TAIL_BYTES instead, if its size is still
    `size` (nothing appended since)."""
    wanted = iter(rows)
    want = next(wanted, None)
    if want is None:
        return
    if total is not None and size is not None:
        tail = _tail_lines(path, size)
        first = total - len(tail)
        if tail and first <= want < total:
            while want is not None and first <= want < total:
                yield want, tail[want - first].decode("utf-8", "replace")
                want = next(wanted, None)
            return
    yield from _lines_from_start(path, want, wanted)


def _lines_from_start(path: Path, want: int, wanted: Iterator[int]) -> Iterator[tuple[int, str]]:
    """lines_at by a pass over the file's lines from its start: rows `want`, then `wanted`."""
    row = -1
    with open(path, "rb") as fh:
        for raw in fh:
            if raw == b"\n":
                continue
            row += 1
            if row == want:
                yield row, raw.decode("utf-8", "replace").rstrip("\n")
                next_want = next(wanted, None)
                if next_want is None:
                    return
                want = next_want


TAIL_BYTES = 1 << 20


def _tail_lines(path: Path, size: int) -> list[bytes]:
    """The non-empty lines wholly within the last TAIL_BYTES of `path`, in order ([] when its
    size is no longer `size`)."""
    with open(path, "rb") as fh:
        end = fh.seek(0, os.SEEK_END)
        if end != size:
            return []
        start = max(0, end - TAIL_BYTES)
        fh.seek(start)
        lines = fh.read(end - start).split(b"\n")
    if start > 0:
        lines = lines[1:]  # the end of a line that began before the window
    return [line for line in lines if line]


@dataclass(frozen=True)
class Staged:
    """A staged file: its rows from sequence number `base` on (`rows` of them)."""

    path: Path
    base: int
    rows: int
    null: tuple[str, ...] = ()  # STAGE_COLUMNS not written (NULL in every row)

    def records_sql(self) -> str:
        """The parsed rows as records (sqlplan.RECORD_COLUMNS; no log parsed here has a group)."""
        c = {k: f"CAST(NULL AS {v}) AS {k}" if k in self.null else k for k, v in STAGE_COLUMNS.items()}
        return (
            f"SELECT {self.base} + file_row_number AS seq, {c['ts']}, {c['host']}, {c['client']}, "
            f"{c['status']}, {c['tag']}, {c['error']}, CAST(NULL AS VARCHAR) AS server_ip, "
            f"true AS via_upstream, {c['verdict']}, CAST(NULL AS VARCHAR) AS reason, {c['user_name']}, "
            "CAST(NULL AS VARCHAR) AS group_name "
            f"FROM read_parquet({lit(str(self.path))}, file_row_number = true) WHERE ok"
        )


def stage(con: Any, select: str, dest: Path, base: int, null: tuple[str, ...] = ()) -> Staged:
    """Write `select` (columns ok, STAGE_COLUMNS, raw; one row per line, in file order) to `dest`,
    but for the columns in `null`, which this parse never fills (STAGE_COLUMNS read back as NULL,
    or "raw": no line left to Python in the staged file): each string column written costs
    about as much as a field's parse. Every row is written: a WHERE here would be pushed into
    the parse and evaluate it twice."""
    cols = ", ".join(c for c in ["ok", *STAGE_COLUMNS, "raw"] if c not in null)
    row = con.execute(f"COPY (SELECT {cols} FROM ({select})) TO {lit(str(dest))} (FORMAT parquet)").fetchone()
    return Staged(dest, base, int(row[0]) if row else 0, null)


def unparsed(con: Any, staged: Staged) -> Iterator[int]:
    """The rows the parse query neither parsed (`ok` false) nor gave a text for Python (`raw`
    NULL), ascending."""
    cur = con.execute(
        f"SELECT file_row_number FROM read_parquet({lit(str(staged.path))}, file_row_number = true)"
        " WHERE NOT ok AND raw IS NULL ORDER BY 1"
    )
    while batch := cur.fetchmany(10000):
        for (n,) in batch:
            yield n


def left_to_python(con: Any, staged: Staged) -> Iterator[tuple[int, str]]:
    """(sequence number, line) of the lines the parse query left to the Python reader."""
    cur = con.execute(
        f"SELECT file_row_number, raw FROM read_parquet({lit(str(staged.path))}, file_row_number = true)"
        " WHERE raw IS NOT NULL ORDER BY 1"
    )
    while batch := cur.fetchmany(10000):
        for n, line in batch:
            yield staged.base + n, line
