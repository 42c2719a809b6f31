"""The streamed readers of big unbound and domain lists against the line-by-line ones: random
files built from fragments that change the lexer's state, read with tiny blocks (so lines and
statements cross block boundaries) and with the streaming threshold at zero, must give the
same report as the ordinary reading (a bounded, seeded number of examples)."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policy_lint.catalog import Catalog
from policy_lint.dialects.dns import domainlist
from policy_lint.dialects.semantics import linestream
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.engine import Options, lint_paths
from policy_lint.inputs import InputError, Resolver
from policy_lint.policy import strict_policy

# The submodules (the packages' `parse` is the registry's function).
unbound_parse: Any = importlib.import_module("policy_lint.dialects.dns.unbound.parse")
rpz_parse: Any = importlib.import_module("policy_lint.dialects.dns.rpz.parse")
unbound_stream: Any = importlib.import_module("policy_lint.dialects.dns.unbound.stream")
rpz_stream: Any = importlib.import_module("policy_lint.dialects.dns.rpz.stream")
EXAMPLES = int(os.environ.get("POLICY_LINT_FUZZ_CASES", "8")) * 5

NAMES = [
    "ads.example",
    "www.facebook.com",
    "a-b_c.x",
    "l" * 64 + ".example",
    "-lead.example",
    "32.1.0.0.10.rpz-ip",
    "ads.example.com",
    "facebook.com",
    "www.twitter.com",
    "com",
    ".",
    "linkedin.com.",
    "x.com..",
    "É.example",
    "trail-.example",
    "x.com-",
    "l" * 63 + ".example",
    "_a.b_c.d1-",
]
UNBOUND = [
    "server:",
    "view:",
    '  name: "kids"',
    "forward-zone:",
    "  local-data:",
    "  include:",
    "  include-toplevel: missing.conf",
    "# comment",
    "",
    "  access-control-view: 10.0.0.0/8 kids",
    '  local-zone: "{n}" always_nxdomain',
    "  local-zone: {n} static",
    '  local-zone: "{n}" static_foo',
    '  LOCAL-ZONE: "{n}" static',
    '  local-zone: "{n}',
    '  local-data: "{n} A 0.0.0.0"',
    '  local-data: "{n} A 999.0.0.1"',
    '  local-data: "{n} AAAA ::1" # c: x',
    "  local-data: '{n} A 10.0.0.1'",
    '  local-data: "{n} TXT hi"',
    '  local-zone: "a\x00{n}" static',
    '  local-zone: "{n}" \t redirect  # x',
    '  local-zone: "{n}" static\x0c',
]
RPZ = [
    "{n} CNAME .",
    "{n} 300 IN CNAME rpz-passthru.",
    "{n} A 0.0.0.0",
    "{n} A 300.0.0.1",
    "{n} AAAA ::",
    "*.{n} CNAME .",
    "  CNAME .",
    "\tA 10.0.0.1",
    "{n}. CNAME .",
    "@ SOA ns.invalid. h.invalid. (",
    "   1 3600 600",
    "   86400 60 )",
    "$ORIGIN rpz.example.",
    "$ORIGIN {n}",
    "$TTL 60",
    "$INCLUDE gone.rpz",
    "; comment",
    "",
    "{n} CNAME . ; c",
    "{n} TXT hi",
    "{n}\x00 CNAME .",
    "{n} CNAME (",
    "{n} CNAME .\x0c",
]
DOMAINS = [
    "{n}",
    "{n}\x0c",
    "*.{n}",
    ".{n}",
    "  {n}  # c",
    "{n}#c",
    "! x",
    "// x",
    "",
    "not a domain",
    "-{n}",
    ".include<gone>",
]


def lines(templates: list[str]):
    return st.lists(st.tuples(st.sampled_from(templates), st.sampled_from(NAMES)), max_size=40)


def write(tmp_path: Path, name: str, rows, crlf: bool, end: bool) -> Path:
    text = ("\r\n" if crlf else "\n").join(t.replace("{n}", n) for t, n in rows) + ("\n" if end else "")
    path = tmp_path / name
    path.write_bytes(text.encode())
    return path


def report(path: Path, catalog: Catalog, dialect: str):
    r = lint_paths([path], catalog, strict_policy(catalog), Options(root=path.parent, dialect=dialect))
    return r.errors, r.findings, [f.services for f in r.files]


def compare(module, path: Path, catalog: Catalog, dialect: str) -> None:
    saved = module.STREAM_FROM_BYTES, linestream.CHUNK_BYTES
    try:
        ordinary = report(path, catalog, dialect)
        # Tiny blocks: a block boundary falls inside lines, statements and clauses.
        module.STREAM_FROM_BYTES, linestream.CHUNK_BYTES = 0, 7
        assert report(path, catalog, dialect) == ordinary
    finally:
        module.STREAM_FROM_BYTES, linestream.CHUNK_BYTES = saved


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(rows=lines(UNBOUND), crlf=st.booleans(), end=st.booleans())
def test_unbound_stream_reads_like_the_lexer(tmp_path_factory, catalog, rows, crlf, end):
    path = write(tmp_path_factory.mktemp("u"), "unbound.conf", [("server:", "")] + rows, crlf, end)
    compare(unbound_parse, path, catalog, "unbound")
    saved = unbound_stream.BUFFERED_LINES
    try:
        unbound_stream.BUFFERED_LINES = 0  # checked whole, then read as handed out
        compare(unbound_parse, path, catalog, "unbound")
    finally:
        unbound_stream.BUFFERED_LINES = saved


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(rows=lines(DOMAINS), crlf=st.booleans(), end=st.booleans())
def test_domain_list_stream_reads_like_the_reader(tmp_path_factory, catalog, rows, crlf, end):
    path = write(tmp_path_factory.mktemp("d"), "blocklist.txt", [("# block list", "")] + rows, crlf, end)
    compare(domainlist, path, catalog, "domain-list")
    saved = domainlist.BUFFERED_LINES, domainlist.SIMPLE_MISSES
    try:
        # Over the buffer: the file is checked whole, then its lines are handed out as read;
        # and every block's lines picked by the exact plain-line pattern, not the cheaper one.
        domainlist.BUFFERED_LINES, domainlist.SIMPLE_MISSES = 1, 0
        compare(domainlist, path, catalog, "domain-list")
    finally:
        domainlist.BUFFERED_LINES, domainlist.SIMPLE_MISSES = saved


def rpz_records(path: Path, catalog: Catalog) -> int | str:
    """The records counted (every record, kept or not), or the input error."""
    try:
        return rpz_parse.load_zone(path, ParseContext(Resolver(path.parent), catalog)).records
    except InputError as exc:
        return str(exc)


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(rows=lines(RPZ), crlf=st.booleans(), end=st.booleans())
def test_rpz_stream_reads_like_the_zone_reader(tmp_path_factory, catalog, rows, crlf, end):
    path = write(tmp_path_factory.mktemp("r"), "db.rpz", [("$TTL 300", "")] + rows, crlf, end)
    compare(rpz_parse, path, catalog, "rpz")
    saved_misses = rpz_stream.SIMPLE_MISSES, rpz_stream.BUFFERED_LINES
    try:
        # every block picked the exact way; the file checked whole, then read as handed out
        rpz_stream.SIMPLE_MISSES, rpz_stream.BUFFERED_LINES = 0, 0
        compare(rpz_parse, path, catalog, "rpz")
    finally:
        rpz_stream.SIMPLE_MISSES, rpz_stream.BUFFERED_LINES = saved_misses
    saved = rpz_parse.STREAM_FROM_BYTES, linestream.CHUNK_BYTES
    try:
        ordinary = rpz_records(path, catalog)
        rpz_parse.STREAM_FROM_BYTES, linestream.CHUNK_BYTES = 0, 7
        assert rpz_records(path, catalog) == ordinary
    finally:
        rpz_parse.STREAM_FROM_BYTES, linestream.CHUNK_BYTES = saved


def test_rpz_stream_keeps_the_owner_a_blank_line_inherits(tmp_path, catalog):
    # A skipped plain record before a line starting with a blank (that line inherits its owner),
    # in the first and a later block, then `$ORIGIN` (no longer clean: every line is read).
    rows = [("$TTL 300", "")] + [("{n} CNAME .", f"ads{i}.example") for i in range(40)]
    rows += [("{n} CNAME .", "ads.facebook.com"), ("\tA 10.0.0.1", "")]
    rows += [("{n} CNAME .", f"more{i}.example") for i in range(40)] + [("  CNAME .", "")]
    rows += [("$ORIGIN {n}", "rpz.example.")] + [("{n} CNAME .", f"late{i}") for i in range(20)]
    rows += [("  A 10.0.0.2", "")]
    path = write(tmp_path, "db.rpz", rows, False, True)
    ordinary = rpz_records(path, catalog), report(path, catalog, "rpz")
    saved = rpz_parse.STREAM_FROM_BYTES, linestream.CHUNK_BYTES, rpz_stream.BUFFERED_LINES
    try:
        for chunk, buffered in ((7, 100_000), (64, 100_000), (1 << 20, 100_000), (64, 0)):
            rpz_parse.STREAM_FROM_BYTES, linestream.CHUNK_BYTES = 0, chunk
            rpz_stream.BUFFERED_LINES = buffered
            assert (rpz_records(path, catalog), report(path, catalog, "rpz")) == ordinary
    finally:
        rpz_parse.STREAM_FROM_BYTES, linestream.CHUNK_BYTES, rpz_stream.BUFFERED_LINES = saved
