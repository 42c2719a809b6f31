"""squidGuard (squidGuard.conf): the URL filter behind many squid proxies, evaluated as it decides.

squid hands every request to squidGuard (`url_rewrite_program /usr/bin/squidGuard -c ...`) as
one line, `URL client-ip/fqdn user method`; squidGuard answers with a redirect (the request is
blocked) or with nothing (it passes). It decides like this:

    dbhome /var/lib/squidguard/db           # list paths are relative to it
    src kids { ip 10.0.0.0/22 }              # client groups, the FIRST one that matches counts
    dest social {
        domainlist social/domains            # facebook.com: the domain and every subdomain
        urllist    social/urls               # facebook.com/groups: a prefix of the URL,
    }                                        #   written without scheme, www/web/ftp[0-9]* and port
    acl {
        kids { pass !social all }            # left to right: !dest blocks if the request matches
        default {                            #   it, dest passes if it matches, all/any passes,
            pass none                        #   none blocks; a list that decides nothing passes
            redirect http://proxy/blocked    #   (the implicit end is `all`)
        }
    }

- `src` groups: `ip` (address, /nn, /netmask, a-b range), `iplist`, `domain` (the client's
  reverse name), `user`, `userlist`, `within|outside TIME`; the types in one group are ANDed.
  A client in no group, or in a group without an acl entry, gets `default`.
- `acl` entries may carry `within|outside TIME { ... } else { ... }`; `src` and `dest` blocks
  may be time-bound too, with `within|outside TIME` inside the block (squidGuard 1.6 refuses
  it on the header line) (`time NAME { weekly mtwhf 08:00-17:00  date *-12-24 }`).
- A blocked request needs a redirect (the dest's, the acl entry's or default's): without one
  squidGuard lets it through. An acl `rewrite` applies sed-style substitutions to what passes;
  a rewrite to another host is a block in effect.
- `expressionlist` lines are case-insensitive POSIX regexes searched in `host[:port]/path`
  (time-bounded here). HTTPS reaches squidGuard as `CONNECT host:443`: no path, so URL and
  path rules never see it.
- `.diff` files next to a list (`+add` / `-remove` lines) change the list only when someone
  runs `squidGuard -u`; a verdict that differs between the two states is `unknown`.
- A config squidGuard cannot load (an undefined dest, src or time, a syntax error) puts it into
  emergency mode: every request passes (TE901).

List files usually live outside the repository (downloaded blacklists): a missing one is a
TE903 finding and makes dependent verdicts `unknown`, unless its name says it holds another
topic (`adv`, `porn`, `warez`), which is then assumed not to name the services.

Domain lists are read as documented (a domain and all its subdomains). Debian's squidGuard
1.6 looks them up in a B-tree that only compares a request with its neighbours, so a list
holding both `fbcdn.net` and `creative.ak.fbcdn.net` lets `static.xx.fbcdn.net` through; such
disagreements are named in the decision's note (`LOOKUP = "squidguard-1.6"` evaluates them
that way, and tests/e2e checks both against the real program).
"""

from __future__ import annotations

import bisect
import datetime as dt
import ipaddress
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from fnmatch import fnmatch
from pathlib import Path
from urllib.parse import unquote

from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.dialects.semantics.listnames import OTHER_TOPIC_WORDS, classify_list_name
from policy_lint.dialects.semantics.patterns import SEARCH_TIMEOUT_SECONDS, BoundedPattern, PatternError
from policy_lint.inputs import MAX_FILE_BYTES, InputError, read_source
from policy_lint.model import Audience, Decision, Outcome, Probe, Problem, Span

NAME = "squidguard"
FILE_PATTERNS = ("squidguard*.conf", "squidguard.conf*", "*.squidguard")
DEFAULT_DBHOME = "/var/lib/squidguard/db"  # Debian's compiled-in default
DEFAULT_CONFIGS = ("/etc/squidguard/squidGuard.conf", "/usr/local/squidGuard/squidGuard.conf")
LOOKUP = "documented"  # or "squidguard-1.6": Debian's B-tree lookup with its neighbour quirk
MAX_AUDIENCES = 4096
MAX_EXPRESSIONS = 20000  # patterns per expressionlist; beyond, the rest is undecidable
MAX_FREE = 10  # free client conditions enumerated in full (2**n); beyond, sampled

# Filter categories of the squidGuard world that listnames.py does not know yet (Shalla's
# "anonvpn", school lists' "Anonymizers", "Applications"/"software" download categories).
EXTRA_OTHER_TOPIC = ("anonym", "anonom", "anonvpn", "application", "software", "remote")

_HINT = re.compile(
    r"^\s*(dbhome|logdir|dest(ination)?\s+\S+\s*\{|src\s+\S+\s*\{|acl\s*\{|"
    r"(domainlist|urllist|expressionlist)\s+\S+|pass\s+\S+)",
    re.M,
)
_SPECIFIC = re.compile(
    r"^\s*(dbhome\s|dest(ination)?\s+\S+\s*\{|(domainlist|urllist|expressionlist)\s+\S+)", re.M
)
_BLOCK_WORDS = frozenset({"dest", "destination", "src", "source", "time", "rew", "rewrite", "acl"})
_SETTINGS = {
    "dbhome",
    "logdir",
    "syslog",
    "groupttl",
    "ldapcachetime",
    "ldapprotover",
    "ldapbinddn",
    "ldapbindpass",
    "mysqlusername",
    "mysqlpassword",
    "mysqldb",
}
_IPV4 = r"\d{1,3}(?:\.\d{1,3}){3}"
_IP_SPEC = re.compile(rf"({_IPV4})(?:\s*-\s*({_IPV4})|/({_IPV4}|\d{{1,2}}))?")
_TIME_RANGE = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")
_DATE = re.compile(r"^(\d{4}|\*)[-.](\d{1,2}|\*)[-.](\d{1,2}|\*)$")
_DAY_NAMES = {"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}
_DAY_LETTERS = {"s": 0, "m": 1, "t": 2, "w": 3, "h": 4, "f": 5, "a": 6}
_ASCII_LOWER = {c: c + 32 for c in range(65, 91)}

REFERENCE_MONDAY = dt.datetime(2030, 1, 7)  # a Monday: representative times fall in its week
DEFAULT_WHEN = REFERENCE_MONDAY + dt.timedelta(hours=10)
OUTSIDE_IP = "198.51.100.77"  # a documentation address: in no group
OTHER_USER = "(another user)"


def detect(path: Path, head: str) -> float:
    name = path.name.lower()
    if any(fnmatch(name, p) for p in FILE_PATTERNS):
        return 0.95  # above squid's 0.9 for "squid*.conf"
    # `pass` and `src x {` also open lines of pf.conf: without a word only squidGuard uses,
    # the file is not squidGuard's.
    if not _SPECIFIC.search(head):
        return 0.0
    hits = len(_HINT.findall(head))
    if re.search(r"^\s*acl\s*\{", head, re.M) and hits >= 2:
        return 0.9
    return min(0.7, 0.2 * hits) if hits >= 2 else 0.0


def _lower(text: str) -> str:
    """C's tolower() in the C locale: ASCII only (what squidGuard does to URLs and keys)."""
    return text.translate(_ASCII_LOWER)


# --------------------------------------------------------------------------- the config text


@dataclass(frozen=True)
class Stmt:
    words: tuple[str, ...]
    span: Span


@dataclass
class Block:
    head: Stmt  # e.g. ("dest", "social") or ("kids", "within", "work")
    body: list[Stmt] = field(default_factory=list)
    children: list[Block] = field(default_factory=list)  # acl entries inside `acl { }`
    else_body: list[Stmt] | None = None
    else_span: Span | None = None


_TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)"|([{}])|([^\s{}"]+)')


def _tokens(lines: list[str]) -> Iterator[tuple[str, int, int, str]]:
    """(kind, line, col, text) with kind word|{|}|eol; `#` starts a comment anywhere outside
    a quoted string."""
    for n, raw in enumerate(lines, start=1):
        text = raw
        if "#" in text:
            quoted = False
            for i, c in enumerate(text):
                if c == '"':
                    quoted = not quoted
                elif c == "#" and not quoted:
                    text = text[:i]
                    break
        for m in _TOKEN.finditer(text):
            col = m.start() + 1
            if m.group(1) is not None:
                yield "word", n, col, m.group(1)
            elif m.group(2):
                yield m.group(2), n, col, m.group(2)
            else:
                yield "word", n, col, m.group(3)
        yield "eol", n, len(raw) + 1, ""


class _Parser:
    """Statements are the words of one line; `{ ... }` opens a block (also mid-line, as in
    `src lan { ip 10.0.0.0/8 }`)."""

    def __init__(self, lines: list[str], display: str, problems: list[Problem]):
        self.lines = lines
        self.display = display
        self.problems = problems
        self.toks = list(_tokens(lines))
        self.i = 0
        self.fatal: list[Problem] = []

    def _stmt(self, openers: frozenset[str] | None = frozenset()) -> tuple[Stmt | None, str]:
        """Words up to the end of the line, a `{` or a `}`; returns the statement and what ended
        it. A statement whose first word is in `openers` (None: any word) may have its `{` on
        the next line."""
        words: list[str] = []
        start = None
        while self.i < len(self.toks):
            kind, line, col, text = self.toks[self.i]
            if kind in ("eol", "{", "}"):
                self.i += 1
                if kind == "eol" and words and (openers is None or words[0].lower() in openers):
                    j = self.i
                    while j < len(self.toks) and self.toks[j][0] == "eol":
                        j += 1
                    if j < len(self.toks) and self.toks[j][0] == "{":
                        self.i = j + 1
                        kind = "{"
                if words:
                    return Stmt(tuple(words), self._span(start)), kind
                return None, kind
            if start is None:
                start = (line, col)
            words.append(text)
            self.i += 1
        return (Stmt(tuple(words), self._span(start)), "eof") if words else (None, "eof")

    def _span(self, start: tuple[int, int] | None) -> Span:
        line, col = start or (1, 1)
        text = self.lines[line - 1].strip() if 0 < line <= len(self.lines) else ""
        return Span(self.display, line, col, text)

    def _error(self, span: Span, message: str) -> None:
        self.fatal.append(Problem("TE901", span, message))

    def _body(self, opener: Stmt) -> list[Stmt]:
        body: list[Stmt] = []
        while True:
            stmt, end = self._stmt()
            if stmt is not None:
                body.append(stmt)
            if end == "}":
                return body
            if end == "{":
                self._error(
                    stmt.span if stmt else opener.span,
                    "a block opened inside a "
                    f"'{opener.words[0]}' block: squidGuard refuses this (syntax error)",
                )
                self._body(opener)
            if end == "eof":
                self._error(opener.span, f"block '{' '.join(opener.words)}' is never closed")
                return body

    def _else(self, block: Block) -> None:
        """An optional `else { ... }` right after a closed block (possibly on the next lines)."""
        j = self.i
        while j < len(self.toks) and self.toks[j][0] == "eol":
            j += 1
        if j + 1 < len(self.toks) and self.toks[j][3] == "else" and self.toks[j + 1][0] == "{":
            line, col = self.toks[j][1], self.toks[j][2]
            self.i = j + 2
            block.else_span = self._span((line, col))
            block.else_body = self._body(block.head)

    def parse(self) -> tuple[list[Stmt], list[Block]]:
        settings: list[Stmt] = []
        blocks: list[Block] = []
        while self.i < len(self.toks):
            stmt, end = self._stmt(_BLOCK_WORDS)
            if end == "{":
                if stmt is None:
                    self._error(self._span((self.toks[self.i - 1][1], 1)), "a block without a name")
                    self._body(Stmt(("?",), self._span(None)))
                    continue
                block = Block(stmt)
                if stmt.words[0] == "acl":
                    block.children = self._acl_entries(stmt)
                else:
                    block.body = self._body(stmt)
                    self._else(block)
                blocks.append(block)
            elif end == "}":
                span = stmt.span if stmt else self._span((self.toks[self.i - 1][1], 1))
                self._error(span, "a '}' without a block: squidGuard refuses this (syntax error)")
            elif stmt is not None:
                settings.append(stmt)
        return settings, blocks

    def _acl_entries(self, opener: Stmt) -> list[Block]:
        entries: list[Block] = []
        while True:
            stmt, end = self._stmt(None)
            if end == "{":
                if stmt is None:
                    self._error(opener.span, "an acl entry without a name")
                    self._body(opener)
                    continue
                entry = Block(stmt, self._body(stmt))
                self._else(entry)
                entries.append(entry)
            elif end == "}":
                if stmt is not None:
                    self._error(stmt.span, f"'{' '.join(stmt.words)}' inside acl without a block")
                return entries
            elif end == "eof":
                self._error(opener.span, "the acl block is never closed")
                return entries
            elif stmt is not None:
                self._error(stmt.span, f"'{' '.join(stmt.words)}' inside acl without a block")


# --------------------------------------------------------------------------- time


@dataclass(frozen=True)
class TimeElement:
    wday: int = 0  # bit per weekday, Sunday = bit 0 (0: a date element)
    start: int = 0  # minutes; squidGuard tests start <= minute < end
    end: int = 0
    fromdate: dt.date | None = None
    todate: dt.date | None = None
    cron: tuple[int, int, int] | None = None  # year, month, day; -1 = any


@dataclass
class TimeSpace:
    name: str
    span: Span
    elements: list[TimeElement] = field(default_factory=list)
    dates: list[dt.date] = field(default_factory=list)  # concrete days worth sampling

    def active(self, when: dt.datetime) -> bool:
        minute = when.hour * 60 + when.minute
        wday = (when.weekday() + 1) % 7  # tm_wday: Sunday = 0
        for te in self.elements:
            if not te.start <= minute < te.end:
                continue
            if te.wday:
                if (1 << wday) & te.wday:
                    return True
            elif te.fromdate is not None:
                if te.fromdate <= when.date() <= (te.todate or te.fromdate):
                    return True
            elif te.cron is not None:
                y, m, d = te.cron
                if y in (-1, when.year) and m in (-1, when.month) and d in (-1, when.day):
                    return True
        return False


def _parse_time(block: Block, problems: list[Problem], fatal: list[Problem]) -> TimeSpace:
    ts = TimeSpace(block.head.words[1] if len(block.head.words) > 1 else "?", block.head.span)
    for stmt in block.body:
        kind, rest = stmt.words[0].lower(), " ".join(stmt.words[1:])
        ranges = [(int(a) * 60 + int(b), int(c) * 60 + int(d)) for a, b, c, d in _TIME_RANGE.findall(rest)]
        words = _TIME_RANGE.sub(" ", rest).replace(",", " ").split()
        if kind == "weekly":
            if not ranges:
                fatal.append(
                    Problem(
                        "TE901",
                        stmt.span,
                        "'weekly' without a time range: squidGuard 1.6 "
                        "refuses this (syntax error); write e.g. 'weekly as 00:00-24:00'",
                    )
                )
                continue
            wday = 0
            for w in words:
                lw = w.lower()
                if lw == "*":
                    wday = 127
                elif lw[:3] in _DAY_NAMES:
                    wday |= 1 << _DAY_NAMES[lw[:3]]
                elif all(c in _DAY_LETTERS for c in lw):
                    for c in lw:
                        wday |= 1 << _DAY_LETTERS[c]
                else:
                    fatal.append(
                        Problem("TE901", stmt.span, f"weekday format error '{w}': squidGuard refuses this")
                    )
            for a, b in ranges:
                ts.elements.append(TimeElement(wday=wday, start=a, end=b))
        elif kind == "date":
            dates = []
            for w in words:
                for part in _split_date_range(w):
                    dates.append(part)
            if not dates:
                fatal.append(Problem("TE901", stmt.span, "date format error: squidGuard refuses this"))
                continue
            spans = ranges or [(0, 1439)]  # sgTimeElementEnd: no time = 00:00-23:59
            for d in dates:
                for a, b in spans:
                    if isinstance(d, tuple) and len(d) == 3 and isinstance(d[0], int):
                        ts.elements.append(TimeElement(start=a, end=b, cron=d))
                        ts.dates.extend(_cron_examples(d))
                    else:
                        lo, hi = d
                        ts.elements.append(TimeElement(start=a, end=b, fromdate=lo, todate=hi))
                        ts.dates.append(lo)
        else:
            fatal.append(
                Problem(
                    "TE901",
                    stmt.span,
                    f"unknown statement '{stmt.words[0]}' in time "
                    f"{ts.name}: squidGuard refuses this (syntax error)",
                )
            )
    return ts


def _split_date_range(word: str) -> list:
    """`2030-12-24`, `2030.12.24-2030.12.26`, `*-12-25` -> [(lo, hi)] dates or a cron tuple."""
    m = re.fullmatch(r"(\d{4}[-.]\d{1,2}[-.]\d{1,2})-(\d{4}[-.]\d{1,2}[-.]\d{1,2})", word)
    if m:
        lo, hi = _date(m.group(1)), _date(m.group(2))
        return [(lo, hi)] if lo and hi else []
    m = _DATE.match(word)
    if not m:
        return []
    if "*" in word:
        return [tuple(-1 if g == "*" else int(g) for g in m.groups())]
    d = _date(word)
    return [(d, d)] if d else []


def _date(text: str) -> dt.date | None:
    try:
        y, m, d = (int(x) for x in re.split(r"[-.]", text))
        return dt.date(y, m, d)
    except ValueError:
        return None


def _cron_examples(cron: tuple[int, int, int]) -> list[dt.date]:
    y, m, d = cron
    try:
        return [dt.date(2030 if y == -1 else y, 1 if m == -1 else m, 1 if d == -1 else d)]
    except ValueError:
        return []


# --------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class Request:
    """A probe as squidGuard sees it (squidGuard's parseLine)."""

    orig: str  # the URL as squid sends it: http://host/path, or host:443 for CONNECT
    domain: str  # host, lowercase, no port
    surl: str  # host without www/web/ftp[0-9]* + path ("strippedurl")
    furl: str  # host[:port]/path, lowercase
    is_ip: bool


def request_line_url(probe: Probe) -> str:
    """What squid passes squidGuard for this probe (CONNECT carries host:port, no path)."""
    if probe.scheme == "https":
        return f"{probe.host}:{probe.port}"
    return f"http://{probe.host}{probe.path}"


def parse_request(url: str) -> Request:
    """squidGuard's parseLine: unescape, lowercase, drop the scheme and user@; the domain is
    the host without port; surl also drops a leading www/web/ftp[0-9]* label and the port."""
    orig = unquote(url)
    s = _lower(orig)
    if "://" in s:
        s = s.split("://", 1)[1]
    d = s.find("/")
    start = 0
    a = s.find("@")
    if a >= 0 and (d < 0 or a < d):
        start = a + 1
    c = s.find(":", start)
    e = d
    if c >= 0 and (d < 0 or c < d):
        e = c
    furl = s[start:]
    q = start
    if s[start : start + 3] in ("www", "web", "ftp"):
        k = start + 3
        while k < len(s) and s[k].isdigit():
            k += 1
        if k < len(s) and s[k] == ".":
            q = k + 1
    domain = s[start:] if e < 0 else s[start:e]
    surl = s[q:] if e < 0 else s[q : max(e, q)]
    if d >= 0:
        surl += s[d:]
    is_ip = bool(domain) and all(ch in ".0123456789" for ch in domain)
    return Request(orig, domain, surl, furl, is_ip)


def strip_url_key(key: str) -> str:
    """sgStripUrl: a urllist entry loses user@ and :port (not www, not the scheme)."""
    p = key
    d = p.find("/")
    e = d if d >= 0 else None
    a = p.find("@")
    if a >= 0 and (d < 0 or a < d):
        p = p[a + 1 :]
        d = p.find("/")
        e = d if d >= 0 else None
    c = p.find(":")
    if c >= 0 and (d < 0 or c < d):
        e = c
    new = p if e is None else p[:e]
    if d >= 0:
        new += p[d:]
    return new


# --------------------------------------------------------------------------- list files


def _order_domain(key: str) -> str:
    """squidGuard's domainCompare as a sort key: reversed, '.' sorting before everything."""
    return key[::-1].replace(".", "\x01")


def sg_str_rncmp(a: str, b: str, blen: int) -> int:
    """squidGuard's sgStrRncmp (compare backwards from the terminating NUL, blen steps)."""
    A, B = a + "\0", b + "\0"
    i, j = len(a), len(b)
    while A[i] == B[j] and blen > 0:
        if j == 0 or i == 0:
            break
        i -= 1
        j -= 1
        blen -= 1
    return (
        ord(A[i]) - ord(B[j])
        if (i == 0 and j == 0) or blen == 0
        else (-1 if i == 0 else 1 if j == 0 else ord(A[i]) - ord(B[j]))
    )


def _list_lines(path: Path, display: str) -> Iterator[tuple[int, str]]:
    """Stream a list file (blacklists run to millions of lines): bounded, never all in memory."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise InputError(f"{display}: file too large ({size} bytes; limit {MAX_FILE_BYTES})")
        with open(path, "rb") as fh:
            head = fh.read(8192)
            if b"\x00" in head:
                raise InputError(f"{display}: binary file (a Berkeley .db?), not a text list")
            fh.seek(0)
            for n, raw in enumerate(fh, start=1):
                yield n, raw.decode("latin-1").rstrip("\r\n")
    except OSError as exc:
        raise InputError(f"{display}: cannot read: {exc.strerror or exc}") from None


@dataclass
class _Summary:
    """What one lookup state (the list as loaded, or after `squidGuard -u`) says about the
    query keys: documented hits, and the neighbours squidGuard 1.6's B-tree would compare.
    Entries are (key, span) pairs; spans are made only for the few entries kept."""

    display: str
    hits: dict[str, Span] = field(default_factory=dict)  # entry key -> where (relevant keys only)
    exact: dict[int, tuple[str, Span]] = field(default_factory=dict)  # query index -> equal entry
    gap_min: dict[int, tuple[str, str, Span]] = field(default_factory=dict)  # gap -> (order, key, span)
    gap_max: dict[int, tuple[str, str, Span]] = field(default_factory=dict)
    entries: int = 0
    source: str = ""  # the file of the entry being added, when not the list itself (a .diff)

    def span(self, n: int, raw: str) -> Span:
        return Span(self.source or self.display, n, 1, raw.strip())

    def add(
        self,
        key: str,
        order: str,
        n: int,
        raw: str,
        interesting: set[str],
        qorder: list[str],
        source: str = "",
    ) -> None:
        if source != self.source:
            self.source = source
        self.entries += 1
        if key in interesting and key not in self.hits:
            self.hits[key] = self.span(n, raw)
        i = bisect.bisect_left(qorder, order)
        if i < len(qorder) and qorder[i] == order:
            if i not in self.exact:
                self.exact[i] = (key, self.span(n, raw))
            return
        lo = self.gap_min.get(i)
        if lo is None or order < lo[0]:
            self.gap_min[i] = (order, key, self.span(n, raw))
        hi = self.gap_max.get(i)
        if hi is None or order > hi[0]:
            self.gap_max[i] = (order, key, self.span(n, raw))

    def neighbours(self, qi: int, nq: int) -> tuple[tuple[str, Span] | None, tuple[str, Span] | None]:
        """(the largest entry below query qi, the smallest entry above it)."""
        pred = succ = None
        for g in range(qi, -1, -1):
            if g in self.gap_max:
                pred = self.gap_max[g][1:]
                break
            if g - 1 >= 0 and g - 1 in self.exact:
                pred = self.exact[g - 1]
                break
        for g in range(qi + 1, nq + 1):
            if g in self.gap_min:
                succ = self.gap_min[g][1:]
                break
            if g in self.exact:
                succ = self.exact[g]
                break
        return pred, succ


class SgList:
    """One domainlist or urllist file, with its optional `.diff`, read for a set of queries.

    Two states: `base` (the text as loaded, or built with `squidGuard -C`) and `updated` (after
    `squidGuard -u` applied the .diff). Without a .diff both are the same.
    """

    def __init__(
        self,
        kind: str,
        ref: str,
        span: Span,
        path: Path | None,
        display: str,
        diff: Path | None,
        diff_display: str,
    ):
        self.kind = kind  # "domain" | "url"
        self.ref = ref
        self.span = span
        self.path = path
        self.display = display
        self.diff = diff
        self.diff_display = diff_display
        self.error: str | None = None
        self._queries: list[str] = []
        self._states: dict[str, _Summary] = {}

    @property
    def missing(self) -> bool:
        return self.path is None or self.error is not None

    def states(self) -> tuple[str, ...]:
        return ("base", "updated") if self.diff is not None else ("base",)

    # -- keys
    def _key(self, raw: str) -> str | None:
        line = raw
        if not line or line.startswith("#"):
            return None
        if line[0] in "+-":
            line = line[1:]
        parts = line.split(None, 1)
        if not parts:
            return None
        key = _lower(parts[0])
        if self.kind == "domain":
            return "." + key
        return key if key.startswith(".") else strip_url_key(key)

    def _order(self, key: str) -> str:
        return _order_domain(key) if self.kind == "domain" else key

    def _interesting(self, queries: list[str]) -> set[str]:
        out: set[str] = set()
        for q in queries:
            if self.kind == "domain":
                labels = q.split(".")
                out.update("." + ".".join(labels[i:]) for i in range(1, len(labels)))
            else:
                out.update(q[:n] for n in range(1, len(q) + 1))
        return out

    # -- loading
    def ensure(self, queries: list[str]) -> None:
        known = set(self._queries)
        new = [q for q in queries if q not in known]
        if not new and self._states:
            return
        if self.missing:
            return
        self._queries = sorted(set(self._queries) | set(new), key=self._order)
        try:
            self._scan()
        except InputError as exc:
            self.error = str(exc)
            self._states = {}

    def _diff_ops(self) -> dict[str, tuple[bool, Span]]:
        """sgDbLoadTextFile(update=1): '+' adds, '-' removes, an unmarked line repeats the last
        mark (deleting until the first '+'). The last operation on a key wins."""
        ops: dict[str, tuple[bool, Span]] = {}
        if self.diff is None:
            return ops
        add = False
        for n, raw in _list_lines(self.diff, self.diff_display):
            if not raw or raw.startswith("#"):
                continue
            if raw[0] in "+-":
                add = raw[0] == "+"
            key = self._key(raw)
            if key is not None:
                ops[key] = (add, Span(self.diff_display, n, 1, raw.strip()))
        return ops

    def _scan(self) -> None:
        ops = self._diff_ops()
        qorder = [self._order(q) for q in self._queries]
        interesting = self._interesting(self._queries)
        base = _Summary(self.display)
        updated = _Summary(self.display) if self.diff is not None else base
        domain = self.kind == "domain"
        bisect_left, nq = bisect.bisect_left, len(qorder)
        gap_min, gap_max = base.gap_min, base.gap_max
        for n, raw in _list_lines(self.path, self.display):
            # Inlined _key(): this loop runs once per line of lists with millions of lines.
            if not raw or raw[0] == "#":
                continue
            line = raw[1:] if raw[0] in "+-" else raw
            parts = line.split(None, 1)
            if not parts:
                continue
            key = parts[0]
            key = key.lower() if key.isascii() else key.translate(_ASCII_LOWER)
            if domain:
                key = "." + key
                order = key[::-1].replace(".", "\x01")
            else:
                if key[0] != ".":
                    key = strip_url_key(key)
                order = key
            # The common case (an entry far from every query, inside its gap's bounds) costs
            # one bisect and two comparisons.
            i = bisect_left(qorder, order)
            lo, hi = gap_min.get(i), gap_max.get(i)
            if (
                key in interesting
                or (i < nq and qorder[i] == order)
                or lo is None
                or order < lo[0]
                or order > hi[0]
            ):
                base.add(key, order, n, raw, interesting, qorder)
            else:
                base.entries += 1
            if updated is not base:
                op = ops.get(key)
                if op is None or op[0]:
                    updated.add(key, order, n, raw, interesting, qorder)
        if updated is not base:
            for key, (add, span) in ops.items():
                if add:
                    updated.add(
                        key, self._order(key), span.line, span.text, interesting, qorder, self.diff_display
                    )
            updated.source = ""
        self._states = {"base": base, "updated": updated}

    # -- lookups
    def documented(self, query: str, state: str) -> Span | None:
        """The entry that covers `query` as the documentation says (domain: the entry is the
        host or a parent domain; url: the entry is a prefix), or None."""
        s = self._states.get(state)
        if s is None:
            return None
        if self.kind == "domain":
            labels = query.split(".")
            for i in range(1, len(labels)):
                hit = s.hits.get("." + ".".join(labels[i:]))
                if hit is not None:
                    return hit
            return None
        for n in range(len(query), 0, -1):
            hit = s.hits.get(query[:n])
            if hit is not None:
                return hit
        return None

    def emulated(self, query: str, state: str) -> tuple[Span | None, Span | None]:
        """squidGuard 1.6's `defined()`: (the entry that matched or None, the neighbour entry
        that decided a miss). Only the entry found by DB_SET_RANGE and its predecessor count."""
        s = self._states.get(state)
        if s is None:
            return None, None
        qi = self._queries.index(query)
        if qi in s.exact:
            return s.exact[qi][1], None
        pred, succ = s.neighbours(qi, len(self._queries))
        if self.kind == "domain":
            if succ is not None:
                if query.startswith(succ[0]):
                    return succ[1], None
                if pred is None:
                    return None, succ[1]
                if (
                    sg_str_rncmp(succ[0], pred[0], len(pred[0])) != 0
                    and sg_str_rncmp(pred[0], query, len(pred[0])) == 0
                ):
                    return pred[1], None
                return None, succ[1] if sg_str_rncmp(pred[0], query, len(pred[0])) == 0 else pred[1]
            if pred is not None and sg_str_rncmp(pred[0], query, len(pred[0])) == 0:
                return pred[1], None
            return None, None
        if succ is not None:
            if query.startswith(succ[0]):
                return succ[1], None
            if pred is None:
                return None, None
            if not succ[0].startswith(pred[0]) and query.startswith(pred[0]):
                return pred[1], None
            return None, succ[1] if query.startswith(pred[0]) else None
        if pred is not None and query.startswith(pred[0]):
            return pred[1], None
        return None, None


@dataclass
class ExprList:
    ref: str
    span: Span
    path: Path | None
    display: str
    patterns: list[tuple[BoundedPattern, Span]] = field(default_factory=list)
    truncated: bool = False
    error: str | None = None

    @property
    def missing(self) -> bool:
        return self.path is None or self.error is not None


# --------------------------------------------------------------------------- definitions


@dataclass
class Dest:
    name: str
    span: Span
    domainlist: SgList | None = None
    urllist: SgList | None = None
    expressions: ExprList | None = None
    redirect: str | None = None
    rewrite: str | None = None
    time: tuple[str, str] | None = None  # ("within"|"outside", time name)
    content: bool = False  # any of domainlist/urllist/expressionlist/redirect/rewrite given
    assumed: bool = False  # missing lists whose name says another topic
    directive_spans: dict[str, Span] = field(default_factory=dict)


@dataclass
class Source:
    name: str
    span: Span
    nets: list[tuple[str, int, int]] = field(default_factory=list)  # ("mask", net, mask) | ("range", lo, hi)
    nets6: list = field(default_factory=list)
    has_ip: bool = False
    iplist_missing: list[tuple[str, Span]] = field(default_factory=list)
    users: set[str] = field(default_factory=set)
    has_user: bool = False
    userlist_missing: list[tuple[str, Span]] = field(default_factory=list)
    domains: list[str] = field(default_factory=list)
    time: tuple[str, str] | None = None

    @property
    def ip_free(self) -> str:
        return f"ip:{self.name}"

    @property
    def user_free(self) -> str:
        return f"user:{self.name}"

    @property
    def domain_free(self) -> str:
        return f"domain:{self.name}"


@dataclass(frozen=True)
class PassItem:
    name: str
    allowed: bool
    kind: str  # "dest" | "all" | "none" | "in-addr" | "dnsbl"
    span: Span


@dataclass
class AclEntry:
    name: str  # a source name, or "default"
    span: Span
    time: tuple[str, str] | None = None
    is_else: bool = False
    passes: list[PassItem] = field(default_factory=list)
    pass_span: Span | None = None
    redirect: str | None = None
    redirect_span: Span | None = None
    rewrite: str | None = None

    def label(self) -> str:
        if self.name == "default":
            return "default"
        return f"src {self.name}"


@dataclass
class RewriteRule:
    pattern: BoundedPattern | None
    subst: str
    code: str  # "", "302:" (r) or "301:" (R)
    global_: bool
    span: Span


@dataclass
class RewriteGroup:
    name: str
    span: Span
    rules: list[RewriteRule] = field(default_factory=list)


@dataclass
class DestMatch:
    result: bool | None  # the dest names the request / does not / cannot tell
    spans: list[Span]  # dest, list directive, entry (or what could not be read)
    note: str = ""
    value: str | None = None  # a list entry's own redirect URL ("domain http://...")


@dataclass(frozen=True)
class Client:
    """One representative client as squidGuard sees it."""

    ip: str = OUTSIDE_IP
    user: str | None = None  # None: squid sent "-"
    when: dt.datetime = DEFAULT_WHEN
    free: frozenset[str] = frozenset()  # free conditions that hold (listed in a missing iplist ...)


# --------------------------------------------------------------------------- the ruleset


def _ipv4(text: str) -> int | None:
    parts = text.split(".")
    if len(parts) != 4 or not all(p.isdigit() for p in parts):
        return None
    vals = [int(p) for p in parts]
    if any(v > 255 for v in vals):
        return None
    return (vals[0] << 24) | (vals[1] << 16) | (vals[2] << 8) | vals[3]


def _v4text(n: int) -> str:
    return str(ipaddress.IPv4Address(n))


class SquidGuardRuleset:
    dialect = NAME

    def __init__(
        self,
        path: Path,
        display: str,
        context: ParseContext,
        lookup: str | None = None,
        diff_state: str | None = None,
    ):
        self.path = display
        self.config = path
        self.context = context
        self.catalog = context.catalog
        self.resolver = context.resolver
        self.lookup = lookup or LOOKUP
        # None: a list with a .diff is read both ways (unknown where they differ); "base" or
        # "updated" pins one (the differential tests run squidGuard -C, then -u).
        self.diff_state = diff_state
        self.problems: list[Problem] = []
        self.included: list[str] = []
        self.dbhome = DEFAULT_DBHOME
        self.dests: dict[str, Dest] = {}
        self.sources: list[Source] = []
        self.times: dict[str, TimeSpace] = {}
        self.rewrites: dict[str, RewriteGroup] = {}
        self.acl: list[AclEntry] = []
        self.default: AclEntry | None = None
        self.emergency: list[Problem] = []
        self._match_cache: dict[tuple, tuple] = {}
        self._decision_cache: dict[tuple, Decision] = {}
        self._audiences: list[Audience] | None = None
        self._queries_ready = False
        src = read_source(path, display)
        self.problems.extend(src.problems)
        parser = _Parser(src.lines, display, self.problems)
        settings, blocks = parser.parse()
        self.emergency.extend(parser.fatal)
        self._build(settings, blocks)
        self.problems.extend(self.emergency)
        self._report_missing()

    # ---- building
    def _build(self, settings: list[Stmt], blocks: list[Block]) -> None:
        for stmt in settings:
            key = stmt.words[0].lower()
            if key == "dbhome" and len(stmt.words) > 1:
                self.dbhome = stmt.words[1]
            elif key in _SETTINGS:
                continue
            else:
                self.emergency.append(
                    Problem(
                        "TE901",
                        stmt.span,
                        f"unknown statement '{stmt.words[0]}': squidGuard refuses this config (syntax error)",
                    )
                )
        # No forward references in squidGuard: definitions are read in order.
        for block in blocks:
            kind = block.head.words[0].lower()
            if kind == "time":
                ts = _parse_time(block, self.problems, self.emergency)
                self.times[ts.name] = ts
            elif kind in ("dest", "destination"):
                self._dest(block)
            elif kind in ("src", "source"):
                self._source(block)
            elif kind in ("rew", "rewrite"):
                self._rewrite(block)
            elif kind == "acl":
                for entry in block.children:
                    self._acl_entry(entry)
            else:
                self.emergency.append(
                    Problem(
                        "TE901",
                        block.head.span,
                        f"unknown block '{block.head.words[0]}': "
                        "squidGuard refuses this config (syntax error)",
                    )
                )
        if self.default is None and (self.acl or blocks):
            self.emergency.append(
                Problem(
                    "TE901",
                    Span(self.path, 1, 1),
                    "no 'default' acl: squidGuard refuses this config (FATAL: default acl not defined)",
                )
            )

    def _time_ref(self, words: tuple[str, ...], span: Span) -> tuple[str, str] | None:
        for i, w in enumerate(words):
            if w.lower() in ("within", "outside") and i + 1 < len(words):
                name = words[i + 1]
                if name not in self.times:
                    self.emergency.append(
                        Problem(
                            "TE901",
                            span,
                            f"time {name} is not defined (before this line): squidGuard refuses this config",
                        )
                    )
                    return None
                return w.lower(), name
        return None

    def _header_extras(self, block: Block, kind: str) -> None:
        """squidGuard 1.6's grammar has `dest NAME {` and `src NAME {` only: a time constraint
        goes inside the block (`within T` / `outside T`), and there is no `else`."""
        if len(block.head.words) > 2:
            self.emergency.append(
                Problem(
                    "TE901",
                    block.head.span,
                    f"'{' '.join(block.head.words[2:])}' on the "
                    f"{kind} line: squidGuard 1.6 refuses this (syntax error); write it "
                    f"inside the block",
                )
            )
        if block.else_body is not None:
            self.emergency.append(
                Problem(
                    "TE901",
                    block.else_span or block.head.span,
                    f"'else' after a {kind} block: squidGuard 1.6 refuses this (syntax error)",
                )
            )

    def _db_path(self, ref: str) -> str:
        return ref if ref.startswith("/") else self.dbhome.rstrip("/") + "/" + ref

    def _resolve(self, ref: str) -> Path | None:
        """A list path under --root or next to the config; a bare file name alone does not do
        (every category's list is called `domains`): the category directory must match too."""
        full = self._db_path(ref)
        parts = Path(full).parts
        for cand in self.resolver.candidates(full, self.config):
            if len(parts) >= 3 and cand.parent.name != parts[-2]:
                continue
            if cand.is_file():
                return cand
        return None

    def _sglist(self, kind: str, ref: str, span: Span) -> SgList:
        path = self._resolve(ref)
        display = self.resolver.display(path) if path else self._db_path(ref)
        diff = None
        if path is not None:
            cand = path.with_name(path.name + ".diff")
            if cand.is_file() and self.resolver._inside(cand, self.config.parent):
                diff = cand
        lst = SgList(kind, ref, span, path, display, diff, self.resolver.display(diff) if diff else "")
        for p in (path, diff):
            if p is not None:
                self.included.append(str(p.resolve()))
        return lst

    def _dest(self, block: Block) -> None:
        words = block.head.words
        name = words[1] if len(words) > 1 else "?"
        if name in self.dests:
            self.emergency.append(
                Problem(
                    "TE901",
                    block.head.span,
                    f"destination {name} is defined twice: squidGuard refuses this config",
                )
            )
        d = Dest(name, block.head.span)
        self._header_extras(block, "dest")
        for stmt in block.body:
            key, args = stmt.words[0].lower(), stmt.words[1:]
            if key in ("domainlist", "urllist", "expressionlist") and args:
                d.content = True
                ref = args[-1]
                d.directive_spans[key] = stmt.span
                if ref == "-":
                    ref = f"dest/{name}/{key}"
                if key == "domainlist":
                    d.domainlist = self._sglist("domain", ref, stmt.span)  # the last one wins
                elif key == "urllist":
                    d.urllist = self._sglist("url", ref, stmt.span)
                else:
                    d.expressions = self._exprlist(ref, stmt.span)
            elif key == "redirect" and args:
                d.content = True
                d.redirect = args[0]
            elif key in ("rewrite", "rew") and args:
                d.content = True
                d.rewrite = args[0]
                if args[0] not in self.rewrites:
                    self.emergency.append(
                        Problem(
                            "TE901",
                            stmt.span,
                            f"rewrite {args[0]} is not defined: squidGuard refuses this config",
                        )
                    )
            elif key in ("within", "outside") and args:
                d.time = self._time_ref(stmt.words, stmt.span)
            elif key in ("log", "logfile"):
                continue
            else:
                self.emergency.append(
                    Problem(
                        "TE901",
                        stmt.span,
                        f"unknown statement '{stmt.words[0]}' in dest "
                        f"{name}: squidGuard refuses this config (syntax error)",
                    )
                )
        self.dests[name] = d

    def _exprlist(self, ref: str, span: Span) -> ExprList:
        path = self._resolve(ref)
        display = self.resolver.display(path) if path else self._db_path(ref)
        ex = ExprList(ref, span, path, display)
        if path is None:
            return ex
        self.included.append(str(path.resolve()))
        try:
            for n, raw in _list_lines(path, display):
                if not raw:
                    continue  # squidGuard skips empty lines, but not '#' lines: those are patterns
                if len(ex.patterns) >= MAX_EXPRESSIONS:
                    ex.truncated = True
                    break
                try:
                    ex.patterns.append(
                        (BoundedPattern.compile(raw, ignore_case=True), Span(display, n, 1, raw))
                    )
                except PatternError as exc:
                    self.problems.append(Problem("TE905", Span(display, n, 1, raw), str(exc)))
        except InputError as exc:
            ex.error = str(exc)
            self.problems.append(Problem("TE902", span, str(exc)))
        if ex.truncated:
            self.problems.append(
                Problem(
                    "TE905",
                    span,
                    f"expressionlist {ref}: more than {MAX_EXPRESSIONS} "
                    "patterns; requests the first ones do not match are unknown",
                )
            )
        return ex

    def _source(self, block: Block) -> None:
        words = block.head.words
        s = Source(words[1] if len(words) > 1 else "?", block.head.span)
        if any(x.name == s.name for x in self.sources):
            self.emergency.append(
                Problem(
                    "TE901",
                    block.head.span,
                    f"source {s.name} is defined twice: squidGuard refuses this config",
                )
            )
        self._header_extras(block, "src")
        for stmt in block.body:
            key, args = stmt.words[0].lower(), stmt.words[1:]
            if key == "ip":
                s.has_ip = True
                self._ips(s, " ".join(args), stmt.span)
            elif key == "iplist" and args:
                s.has_ip = True
                self._iplist(s, args[0], stmt.span)
            elif key == "user":
                s.has_user = True
                s.users.update(_lower(u) for a in args for u in a.split(",") if u)
            elif key == "userlist" and args:
                s.has_user = True
                self._userlist(s, args[0], stmt.span)
            elif key == "domain":
                s.domains.extend(a for arg in args for a in arg.split(",") if a)
            elif key in ("within", "outside") and args:
                s.time = self._time_ref(stmt.words, stmt.span)
            elif key in (
                "log",
                "logfile",
                "continue",
                "userquota",
                "group",
                "ldapusersearch",
                "ldapipsearch",
                "ipquota",
                "execuserlist",
                "userquery",
            ):
                if key in ("group", "ldapusersearch", "ldapipsearch", "execuserlist", "userquery"):
                    s.has_user = True
                    s.userlist_missing.append((f"{key} {' '.join(args)}", stmt.span))
                continue
            else:
                self.emergency.append(
                    Problem(
                        "TE901",
                        stmt.span,
                        f"unknown statement '{stmt.words[0]}' in src "
                        f"{s.name}: squidGuard refuses this config (syntax error)",
                    )
                )
        if not (s.has_ip or s.has_user or s.domains):
            self.problems.append(
                Problem(
                    "TE901",
                    s.span,
                    f"src {s.name} has no ip, user or domain: "
                    "squidGuard sets it inactive (it matches no client)",
                )
            )
        self.sources.append(s)

    def _ips(self, s: Source, text: str, span: Span) -> None:
        for m in _IP_SPEC.finditer(text):
            a, hi, suffix = m.group(1), m.group(2), m.group(3)
            net = _ipv4(a)
            if net is None:
                self.emergency.append(
                    Problem("TE901", span, f"address error {a}: squidGuard refuses this config")
                )
                continue
            if hi:
                top = _ipv4(hi)
                if top is None or top < net:
                    self.emergency.append(
                        Problem("TE901", span, f"iprange error {a}-{hi}: squidGuard refuses this")
                    )
                    continue
                s.nets.append(("range", net, top))
            elif suffix and "." in suffix:
                mask = _ipv4(suffix) or 0
                s.nets.append(("mask", net, mask))  # not masked: a host address here matches nothing
            elif suffix:
                bits = int(suffix)
                mask = 0xFFFFFFFF ^ (0xFFFFFFFF >> bits) if bits < 32 else 0xFFFFFFFF
                s.nets.append(("mask", net & mask, mask))
            else:
                s.nets.append(("mask", net, 0xFFFFFFFF))
        for word in text.replace(",", " ").split():
            if ":" in word:
                try:
                    s.nets6.append(ipaddress.ip_network(word, strict=False))
                except ValueError:
                    pass

    def _iplist(self, s: Source, ref: str, span: Span) -> None:
        path = self._resolve(ref)
        if path is None:
            s.iplist_missing.append((ref, span))
            return
        self.included.append(str(path.resolve()))
        try:
            src = read_source(path, self.resolver.display(path))
        except InputError as exc:
            self.problems.append(Problem("TE902", span, str(exc)))
            s.iplist_missing.append((ref, span))
            return
        for raw in src.lines:
            if raw.startswith("#"):
                continue
            self._ips(s, raw.split("#", 1)[0], span)

    def _userlist(self, s: Source, ref: str, span: Span) -> None:
        path = self._resolve(ref)
        if path is None:
            s.userlist_missing.append((ref, span))
            return
        self.included.append(str(path.resolve()))
        try:
            src = read_source(path, self.resolver.display(path))
        except InputError as exc:
            self.problems.append(Problem("TE902", span, str(exc)))
            s.userlist_missing.append((ref, span))
            return
        for raw in src.lines:
            if raw.startswith("#"):
                continue
            line = raw.split("#", 1)[0]
            if ":" in line:
                s.users.add(_lower(line.split(":", 1)[0].strip()))
            else:
                s.users.update(_lower(u) for u in re.split(r"[\s,]+", line) if u)

    def _rewrite(self, block: Block) -> None:
        name = block.head.words[1] if len(block.head.words) > 1 else "?"
        group = RewriteGroup(name, block.head.span)
        for stmt in block.body:
            text = " ".join(stmt.words)
            if text.startswith("s@"):
                group.rules.append(self._subst(text, stmt.span))
            elif stmt.words[0].lower() in ("log", "logfile", "within", "outside"):
                continue
            else:
                self.emergency.append(
                    Problem(
                        "TE901",
                        stmt.span,
                        f"unknown statement '{stmt.words[0]}' in "
                        f"rewrite {name}: squidGuard refuses this config (syntax error)",
                    )
                )
        self.rewrites[name] = group

    def _subst(self, text: str, span: Span) -> RewriteRule:
        """sgRewriteSubstitute: s@from@to@[irRg]."""
        body = text[2:]
        pattern, subst, flags = body, "", ""
        for i in range(len(body)):
            if body[i] == "@" and (i == 0 or body[i - 1] != "\\"):
                pattern, subst = body[:i], body[i + 1 :]
                break
        at = subst.rfind("@")
        if at >= 0:
            subst, flags = subst[:at], subst[at + 1 :]
        try:
            compiled = BoundedPattern.compile(pattern, ignore_case="i" in flags.lower())
        except PatternError as exc:
            self.problems.append(Problem("TE905", span, str(exc)))
            compiled = None
        code = "302:" if "r" in flags else "301:" if "R" in flags else ""
        return RewriteRule(compiled, subst, code, "g" in flags, span)

    def _acl_entry(self, block: Block) -> None:
        words = block.head.words
        name = words[0]
        if name != "default" and not any(s.name == name for s in self.sources):
            self.emergency.append(
                Problem(
                    "TE901",
                    block.head.span,
                    f"acl {name}: source {name} is not defined "
                    "(before the acl): squidGuard refuses this config",
                )
            )
        time = self._time_ref(words[1:], block.head.span)
        entry = self._acl_body(AclEntry(name, block.head.span, time), block.body)
        self.acl.append(entry)
        if name == "default":
            self.default = entry  # sgAcl: each "default" replaces the last ...
        if block.else_body is not None:
            other = self._acl_body(
                AclEntry(name, block.else_span or block.head.span, time, True), block.else_body
            )
            self.acl.append(other)
            if name == "default":
                # ... so `default within T { } else { }` is always its else branch (checked
                # against squidGuard 1.6)
                self.default = other

    def _acl_body(self, entry: AclEntry, body: list[Stmt]) -> AclEntry:
        for stmt in body:
            key, args = stmt.words[0].lower(), stmt.words[1:]
            if key in ("pass", "next"):
                entry.pass_span = entry.pass_span or stmt.span
                negate = False
                for raw in args:
                    for w in [x for x in re.split(r"(!)|,", raw) if x]:
                        if w == "!":
                            negate = True
                            continue
                        entry.passes.append(self._pass_item(w, not negate, stmt.span))
                        negate = False
            elif key == "redirect" and args:
                entry.redirect = None if args[0] == "default" else args[0]
                entry.redirect_span = stmt.span
            elif key in ("rewrite", "rew") and args:
                if args[0] != "none" and args[0] not in self.rewrites:
                    self.emergency.append(
                        Problem(
                            "TE901",
                            stmt.span,
                            f"rewrite {args[0]} is not defined: squidGuard refuses this config",
                        )
                    )
                entry.rewrite = None if args[0] == "none" else args[0]
            elif key in ("log", "logfile"):
                continue
            else:
                self.emergency.append(
                    Problem(
                        "TE901",
                        stmt.span,
                        f"unknown statement '{stmt.words[0]}' in acl "
                        f"{entry.name}: squidGuard refuses this config (syntax error)",
                    )
                )
        return entry

    def _pass_item(self, word: str, allowed: bool, span: Span) -> PassItem:
        if word in ("all", "any"):
            return PassItem(word, True, "all", span)  # "!all" is "all" in squidGuard
        if word == "none":
            return PassItem(word, False, "none", span)
        if word == "in-addr":
            return PassItem(word, allowed, "in-addr", span)
        if word.startswith("dnsbl"):
            return PassItem(word, False, "dnsbl", span)
        if word not in self.dests:
            self.emergency.append(
                Problem(
                    "TE901",
                    span,
                    f"destination {word} is not defined (before the acl): "
                    "squidGuard refuses this config and passes every request",
                )
            )
        return PassItem(word, allowed, "dest", span)

    def _report_missing(self) -> None:
        """One TE903 per dest with missing lists (judged by the dest's and lists' names) and per
        missing client list."""
        keywords = {sid: s.keywords for sid, s in self.catalog.services.items()}
        used = {p.name for e in self.acl for p in e.passes}
        for d in self.dests.values():
            lists = [x for x in (d.domainlist, d.urllist, d.expressions) if x is not None]
            missing = [x for x in lists if x.missing]
            for x in lists:
                if isinstance(x, SgList) and x.error:
                    self.problems.append(Problem("TE902", x.span, x.error))
            if not missing or d.name not in used:
                continue
            refs = ", ".join(x.ref for x in missing)
            d.assumed = all(self._other_topic(f"{d.name} {x.ref}", keywords) for x in missing)
            where = f" (dbhome {self.dbhome})" if any(not x.ref.startswith("/") for x in missing) else ""
            if d.assumed:
                msg = (
                    f"dest {d.name}: {refs} not found{where}; its name suggests another topic, "
                    f"so it is assumed not to name the catalog services"
                )
            else:
                msg = f"dest {d.name}: {refs} not found{where}; verdicts that depend on it are unknown"
            if any(isinstance(x, ExprList) for x in missing):
                msg += " (where squidGuard runs, a missing expressionlist sends it into emergency mode)"
            self.problems.append(Problem("TE903", missing[0].span, msg))
        for s in self.sources:
            for ref, span in s.iplist_missing:
                self.problems.append(
                    Problem(
                        "TE903",
                        span,
                        f"src {s.name}: iplist {ref} not found; which clients belong to it is unknown",
                    )
                )
            for ref, span in s.userlist_missing:
                self.problems.append(
                    Problem(
                        "TE903",
                        span,
                        f"src {s.name}: {ref} not found or not readable "
                        "here; which users belong to it is unknown",
                    )
                )

    @staticmethod
    def _other_topic(name: str, keywords: dict) -> bool:
        kind, _ = classify_list_name(name, keywords)
        if kind == "other-topic":
            return True
        if kind == "social":
            return False
        tokens = [t for t in re.split(r"[^a-z]+", name.lower()) if t]
        return any(t.startswith(w) for t in tokens for w in EXTRA_OTHER_TOPIC + OTHER_TOPIC_WORDS)

    # ---- queries (what the list scans look for)
    def _prepare_queries(self) -> None:
        if self._queries_ready:
            return
        self._queries_ready = True
        probes = [p for s in self.catalog.services.values() for p in s.probes()] + list(
            self.catalog.control_probes()
        )
        self._ensure_probes(probes)

    def _ensure_probes(self, probes: list[Probe]) -> None:
        reqs = [parse_request(request_line_url(p)) for p in probes]
        domains = sorted({"." + r.domain for r in reqs})
        urls = sorted({u for r in reqs for u in (r.surl, r.furl)})
        for d in self.dests.values():
            if d.domainlist is not None:
                d.domainlist.ensure(domains)
            if d.urllist is not None:
                d.urllist.ensure(urls)
        for d in self.dests.values():
            for x in (d.domainlist, d.urllist):
                if x is not None and x.error and not any(p.message == x.error for p in self.problems):
                    self.problems.append(Problem("TE902", x.span, x.error))

    # ---- time
    def _time_active(self, ref: tuple[str, str] | None, when: dt.datetime) -> bool:
        if ref is None:
            return True
        kind, name = ref
        ts = self.times.get(name)
        on = ts.active(when) if ts else True
        return on if kind == "within" else not on

    def _dest_active(self, d: Dest, when: dt.datetime) -> bool:
        return d.content and self._time_active(d.time, when)

    # ---- clients
    def _source_match(self, s: Source, c: Client) -> bool:
        if not (s.has_ip or s.has_user or s.domains):
            return False  # sgSourceEnd: no content, inactive
        if not self._time_active(s.time, c.when):
            return False
        if s.has_ip:
            found = self._ip_in(s, c.ip)
            if not found and s.iplist_missing and s.ip_free in c.free:
                found = True
            if not found:
                return False
        if s.has_user:
            if not c.user:
                return False
            user = _lower(unquote(c.user))
            if user not in s.users and not (s.userlist_missing and s.user_free in c.free):
                return False
        if s.domains and s.domain_free not in c.free:
            return False
        return True

    @staticmethod
    def _ip_in(s: Source, text: str) -> bool:
        ip = _ipv4(text)
        if ip is not None:
            return any(
                (kind == "range" and a <= ip <= b) or (kind == "mask" and ip & b == a)
                for kind, a, b in s.nets
            )
        try:
            addr = ipaddress.ip_address(text)
        except ValueError:
            return False
        return any(addr.version == n.version and addr in n for n in s.nets6)

    def select(self, c: Client) -> tuple[Source | None, AclEntry | None]:
        """sgFindSource then sgAclCheckSource: the first matching src, its first active acl
        entry (or the else branch), else default."""
        src = next((s for s in self.sources if self._source_match(s, c)), None)
        if src is not None:
            for e in self.acl:
                if e.name != src.name:
                    continue
                active = self._time_active(e.time, c.when)
                if e.is_else:
                    active = not active
                if active:
                    return src, e
        return src, self.default

    def client_dimensions(self) -> tuple[list[str], list[str | None], list[dt.datetime], list[str]]:
        """Representative addresses, users, times and free conditions that tell clients apart."""
        ips: list[str] = []
        for s in self.sources:
            for kind, a, b in s.nets:
                if kind == "range":
                    ips += [_v4text(a), _v4text(b)]
                elif b == 0xFFFFFFFF:
                    ips.append(_v4text(a))
                else:
                    size = (~b & 0xFFFFFFFF) + 1
                    ips.append(_v4text(a + (1 if size > 2 else 0)))
                    if size > 4:
                        ips.append(_v4text(a + size - 2))
            for n in s.nets6:
                ips.append(str(n.network_address + (1 if n.num_addresses > 2 else 0)))
        ips = _distinct(
            list(dict.fromkeys(ips + [OUTSIDE_IP])),
            lambda ip: tuple(self._ip_in(s, ip) for s in self.sources),
        )
        users: list[str | None] = [None]
        if any(s.has_user for s in self.sources):
            users = sorted({u for s in self.sources for u in s.users}) + [OTHER_USER, None]
            users = _distinct(
                users, lambda u: tuple(bool(u) and _lower(u) in s.users for s in self.sources) + (u is None,)
            )
        free = []
        for s in self.sources:
            if s.iplist_missing:
                free.append(s.ip_free)
            if s.userlist_missing:
                free.append(s.user_free)
            if s.domains:
                free.append(s.domain_free)
        return ips, users, self.time_points(), free

    def time_points(self) -> list[dt.datetime]:
        used = {
            t[1]
            for t in [s.time for s in self.sources]
            + [e.time for e in self.acl]
            + [d.time for d in self.dests.values()]
            if t
        }
        spaces = [self.times[n] for n in sorted(used) if n in self.times]
        if not spaces:
            return [DEFAULT_WHEN]
        minutes = {0, 12 * 60, 24 * 60 - 1}
        for ts in spaces:
            for te in ts.elements:
                for m in (te.start, te.end, te.end - 1, te.start - 1, (te.start + te.end) // 2):
                    if 0 <= m < 24 * 60:
                        minutes.add(m)
        days = [REFERENCE_MONDAY + dt.timedelta(days=i) for i in range(7)]
        days += [dt.datetime.combine(d, dt.time()) for ts in spaces for d in ts.dates]
        seen: dict[tuple[bool, ...], dt.datetime] = {}
        for day in days:
            for m in sorted(minutes):
                when = day + dt.timedelta(minutes=m)
                seen.setdefault(tuple(ts.active(when) for ts in spaces), when)
        return list(seen.values())

    def behaviour(self, c: Client) -> tuple:
        """Everything about a client that can change a decision."""
        src, entry = self.select(c)
        return id(entry), tuple(self._dest_active(d, c.when) for d in self.dests.values())

    def describe(self, c: Client) -> tuple[str, ...]:
        src, entry = self.select(c)
        out: list[str] = []
        if entry is not None and entry is self.default and self.sources:
            out.append(self._default_label())
        elif src is not None:
            out.append(f"src {src.name}")
            if src.time:
                out.append(f"{'' if src.time[0] == 'within' else 'outside '}time {src.time[1]}")
        if entry is not None and entry.time is not None:
            kind, name = entry.time
            inside = (kind == "within") != entry.is_else
            out.append(f"time {name}" if inside else f"outside time {name}")
        timed = [d for d in self.dests.values() if d.time]
        for d in timed:
            if not self._time_active(d.time, c.when):
                out.append(f"dest {d.name} off ({d.time[0]} {d.time[1]})")
        return tuple(dict.fromkeys(out))

    def _default_label(self) -> str:
        """Who gets the default acl: clients in no src group, and groups without an entry."""
        own = {e.name for e in self.acl if e.name != "default"}
        orphans = [s.name for s in self.sources if s.name not in own]
        if not orphans:
            return "other clients"
        return f"src {', '.join(orphans)} or other clients"

    def audiences(self) -> list[Audience]:
        if self._audiences is not None:
            return self._audiences
        ips, users, times, free = self.client_dimensions()
        if len(free) <= MAX_FREE:
            frees = [
                frozenset(f for f, bit in zip(free, bits) if bit)
                for bits in itertools.product((False, True), repeat=len(free))
            ]
        else:
            frees = [frozenset(), frozenset(free)] + [frozenset([f]) for f in free]
            self.problems.append(
                Problem(
                    "TE906",
                    Span(self.path, 1, 1),
                    f"{len(free)} independent client conditions: evaluated a sample of audiences, not all",
                )
            )
        combos = len(ips) * len(users) * len(times)
        if combos * len(frees) > MAX_AUDIENCES and len(frees) > 2:
            frees = [frozenset(), frozenset(free)]
            self.problems.append(
                Problem(
                    "TE906",
                    Span(self.path, 1, 1),
                    "too many client conditions: evaluated a sample of audiences, not all",
                )
            )
        seen: dict[tuple, Audience] = {}
        for ip, user, when, fr in itertools.product(ips, users, times, frees):
            c = Client(ip, user, when, fr)
            key = self.behaviour(c)
            conditions = self.describe(c)
            old = seen.get(key)
            if old is not None and len(old.conditions) <= len(conditions):
                continue
            seen[key] = Audience(key=client_key(c), conditions=conditions, attributes=client_attributes(c))
        if len(seen) == 1:
            only = next(iter(seen.values()))
            self._audiences = [replace(only, conditions=())]
        else:
            self._audiences = list(seen.values()) or [Audience(key=())]
        return self._audiences

    # ---- matching
    def _list_match(self, lst: SgList, query: str) -> tuple[bool | None, list[Span], str]:
        """Whether a list names `query`: True/False/None (unknown), spans, and a note when
        squidGuard 1.6's lookup or a pending .diff changes the answer."""
        if lst.missing:
            return None, [lst.span], ""
        results = []
        states = lst.states()
        if self.diff_state is not None:
            states = (self.diff_state if lst.diff is not None else "base",)
        for state in states:
            doc = lst.documented(query, state)
            emu, neighbour = lst.emulated(query, state)
            chosen = emu if self.lookup == "squidguard-1.6" else doc
            results.append((state, chosen, doc, emu, neighbour))
        outcomes = {r[1] is not None for r in results}
        note = ""
        state, chosen, doc, emu, neighbour = results[0]
        if self.lookup != "squidguard-1.6" and (doc is None) != (emu is None):
            if doc is not None:
                why = f" ({neighbour.text!r}, line {neighbour.line}, sits next to it)" if neighbour else ""
                note = (
                    f"squidGuard 1.5/1.6 lets this through: its B-tree lookup misses {doc.text!r}"
                    f"{why}; remove redundant subdomain entries (sgclean)"
                )
            else:
                note = f"squidGuard 1.5/1.6 blocks this: its B-tree lookup takes {emu.text!r} as a prefix"
        if len(outcomes) > 1:
            diff_span = next((r[1] for r in results if r[1] is not None), None)
            note = (
                f"depends on {lst.ref}.diff: listed only "
                f"{'until' if results[0][1] is not None else 'once'} `squidGuard -u` applies it"
            )
            return None, [s for s in (lst.span, diff_span) if s], note
        if chosen is None:
            return False, [], note
        return True, [lst.span, chosen], note

    def _expr_match(self, ex: ExprList, furl: str) -> tuple[bool | None, list[Span]]:
        if ex.missing:
            return None, [ex.span]
        timed_out = None
        for pattern, span in ex.patterns:
            r = pattern.search(furl)
            if r:
                return True, [ex.span, span]
            if r is None:
                timed_out = span
                if not any(p.code == "TE905" and p.span == span for p in self.problems):
                    self.problems.append(
                        Problem(
                            "TE905",
                            span,
                            "regular expression ran out of time; verdicts that depend on it are unknown",
                        )
                    )
        if timed_out is not None or ex.truncated:
            return None, [timed_out or ex.span]
        return False, []

    def dest_match(self, d: Dest, probe: Probe) -> DestMatch:
        """Does dest `d` name this request? (domainlist, then urllist, then expressionlist)."""
        key = (d.name, probe.host, probe.path, probe.scheme, probe.port)
        hit = self._match_cache.get(key)
        if hit is not None:
            return hit
        self._prepare_queries()
        self._ensure_probes([probe])
        req = parse_request(request_line_url(probe))
        unknown: list[Span] = []
        notes: list[str] = []
        result: DestMatch | None = None
        checks: list[tuple[SgList, list[str]]] = []
        if d.domainlist is not None:
            checks.append((d.domainlist, ["." + req.domain]))
        if d.urllist is not None:
            checks.append((d.urllist, [req.surl, req.furl]))
        for lst, queries in checks:
            if lst.missing and (d.assumed or probe.is_control):
                continue
            for q in queries:
                m, spans, note = self._list_match(lst, q)
                if note:
                    notes.append(note)
                if m:
                    parts = spans[-1].text.split(None, 1)
                    value = parts[1].strip() if len(parts) > 1 and spans[-1].path == lst.display else None
                    result = DestMatch(True, [d.span] + spans, "; ".join(notes), value)
                    break
                if m is None:
                    unknown.extend(spans)
            if result:
                break
        if result is None and d.expressions is not None:
            if not (d.expressions.missing and (d.assumed or probe.is_control)):
                m, spans = self._expr_match(d.expressions, req.furl)
                if m:
                    result = DestMatch(True, [d.span] + spans, "; ".join(notes))
                elif m is None:
                    unknown.extend(spans)
        if result is None:
            result = DestMatch(
                None if unknown else False, [d.span] + unknown if unknown else [], "; ".join(notes)
            )
        self._match_cache[key] = result
        return result

    # ---- decisions
    def decide(self, probe: Probe, c: Client) -> Decision:
        """squidGuard's answer for this probe from this client (sgAclAccess)."""
        if self.emergency:
            p = self.emergency[0]
            return Decision(
                Outcome.ALLOW,
                p.span,
                (p.span,),
                note="squidGuard cannot load this config: in emergency mode it passes every request",
            )
        src, entry = self.select(c)
        if entry is None:
            return Decision(Outcome.ALLOW, None, note="no default acl")
        key = (probe, self.behaviour(c))
        hit = self._decision_cache.get(key)
        if hit is None:
            hit = self._decision_cache[key] = self._decide(probe, c, entry)
        return hit

    def _decide(self, probe: Probe, c: Client, entry: AclEntry) -> Decision:
        default = self.default or entry
        passes = entry.passes or default.passes
        pass_span = entry.pass_span if entry.passes else default.pass_span
        req = parse_request(request_line_url(probe))
        scope = (
            ""
            if entry is default and not self.sources
            else (entry.label() if entry is not default else self._default_label())
        )
        if not passes:
            return self._blocked(probe, c, entry, None, [default.span], False, scope, entry.span)
        return self._walk(passes, 0, probe, c, entry, req, pass_span or entry.span, scope, [])

    def _walk(
        self,
        passes: list[PassItem],
        start: int,
        probe: Probe,
        c: Client,
        entry: AclEntry,
        req: Request,
        rule: Span,
        scope: str,
        trace: list[Span],
    ) -> Decision:
        for i in range(start, len(passes)):
            item = passes[i]
            if item.kind == "all":
                return self._passed(probe, c, entry, rule, trace + [item.span], False, scope)
            if item.kind == "none":
                return self._blocked(probe, c, entry, None, trace + [item.span], False, scope, rule)
            if item.kind == "in-addr":
                if req.is_ip:
                    if item.allowed:
                        return self._passed(probe, c, entry, rule, trace + [item.span], True, scope)
                    return self._blocked(probe, c, entry, None, trace + [item.span], True, scope, rule)
                continue
            if item.kind == "dnsbl":
                if req.is_ip or probe.is_control:
                    continue
                rest = self._walk(passes, i + 1, probe, c, entry, req, rule, scope, trace)
                if rest.outcome == Outcome.DENY:
                    return rest
                return Decision(
                    Outcome.UNKNOWN,
                    rule,
                    tuple(trace + [item.span]),
                    False,
                    scope=scope,
                    note="a DNS blacklist lookup decides (not evaluated)",
                )
            d = self.dests.get(item.name)
            if d is None or not self._dest_active(d, c.when):
                continue
            dm = self.dest_match(d, probe)
            m, spans, note = dm.result, dm.spans, dm.note
            if m is False:
                continue
            if m is True:
                if item.allowed:
                    dec = self._passed(probe, c, entry, rule, trace + spans, True, scope)
                else:
                    dec = self._blocked(probe, c, entry, d, trace + spans, True, scope, rule, dm.value)
                return replace(dec, note="; ".join(x for x in (dec.note, note) if x))
            # Unknown: if both branches end the same, the answer is certain after all.
            rest = self._walk(passes, i + 1, probe, c, entry, req, rule, scope, trace)
            if item.allowed:
                here = self._passed(probe, c, entry, rule, trace + spans, True, scope)
            else:
                here = self._blocked(probe, c, entry, d, trace + spans, True, scope, rule)
            if here.outcome == rest.outcome and rest.outcome != Outcome.UNKNOWN:
                return rest
            return Decision(
                Outcome.UNKNOWN,
                rule,
                tuple(trace + spans),
                True,
                scope=scope,
                note=note or f"dest {d.name}: its lists could not be read",
            )
        # squidGuard: a pass list that decides nothing passes (the implicit end is `all`).
        return self._passed(probe, c, entry, rule, trace, False, scope)

    def _passed(
        self,
        probe: Probe,
        c: Client,
        entry: AclEntry,
        rule: Span,
        trace: list[Span],
        specific: bool,
        scope: str,
    ) -> Decision:
        rewrite = self.rewrites.get(entry.rewrite or "") or self.rewrites.get(
            (self.default.rewrite if self.default else None) or ""
        )
        if rewrite is not None:
            orig = parse_request(request_line_url(probe)).orig
            result, span = self._apply_rewrite(rewrite, orig)
            if result is None and span is not None:
                return Decision(
                    Outcome.UNKNOWN,
                    span,
                    tuple(trace + [span]),
                    specific,
                    scope=scope,
                    note="a rewrite pattern ran out of time",
                )
            if result is not None:
                host = _url_host(result)
                if host and host != probe.host.lower():
                    return Decision(
                        Outcome.DENY,
                        span,
                        tuple(trace + [span]),
                        True,
                        "rewrite",
                        scope=scope,
                        note=f"rewritten to {result}",
                    )
                return Decision(
                    Outcome.ALLOW,
                    rule,
                    tuple(trace + [span]),
                    specific,
                    scope=scope,
                    note=f"rewritten to {result} (same host)",
                )
        return Decision(Outcome.ALLOW, rule, tuple(trace), specific, scope=scope)

    def _blocked(
        self,
        probe: Probe,
        c: Client,
        entry: AclEntry,
        d: Dest | None,
        trace: list[Span],
        specific: bool,
        scope: str,
        rule: Span,
        value: str | None = None,
    ) -> Decision:
        """A block needs a redirect: the list entry's own (`domain URL`), the dest's, a dest
        rewrite, the acl entry's, default's; without one squidGuard lets the request through."""
        redirect = value
        if redirect is None and d is not None and d.redirect:
            redirect = d.redirect
        elif redirect is None and d is not None and d.rewrite and d.rewrite in self.rewrites:
            result, _span = self._apply_rewrite(
                self.rewrites[d.rewrite], parse_request(request_line_url(probe)).orig
            )
            redirect = result
        if redirect is None:
            redirect = entry.redirect if entry.redirect else (self.default.redirect if self.default else None)
        if not redirect:
            return Decision(
                Outcome.ALLOW,
                rule,
                tuple(trace),
                False,
                scope=scope,
                note="blocked by the pass list, but no redirect is defined: squidGuard passes it",
            )
        return Decision(Outcome.DENY, rule, tuple(trace), specific, "redirect", scope=scope)

    def _apply_rewrite(self, group: RewriteGroup, orig: str) -> tuple[str | None, Span | None]:
        """sgRegExpSubst: the first rule whose pattern matches rewrites the URL."""
        for rule in group.rules:
            if rule.pattern is None:
                continue
            try:
                m = rule.pattern.compiled.search(orig, timeout=SEARCH_TIMEOUT_SECONDS)
            except TimeoutError:
                return None, rule.span
            if m is None:
                continue
            out = rule.code
            text = orig
            while True:
                out += text[: m.start()] + _expand(rule.subst, m)
                text = text[m.end() :]
                if not rule.global_ or not text:
                    break
                try:
                    m = rule.pattern.compiled.search(text, timeout=SEARCH_TIMEOUT_SECONDS)
                except TimeoutError:
                    return None, rule.span
                if m is None or m.end() == 0:
                    break
            return out + text, rule.span
        return None, None

    # ---- the Ruleset protocol
    def evaluate(self, probe: Probe, audience: Audience) -> Decision:
        return self.decide(probe, client_from_key(audience.key))

    def inert_mentions(self, probe: Probe) -> list[Span]:
        used = {p.name for e in self.acl for p in e.passes}
        out = []
        for d in self.dests.values():
            if d.name in used or not d.content:
                continue
            dm = self.dest_match(d, probe)
            if dm.result and not probe.is_control:
                out.append(dm.spans[-1] if dm.spans else d.span)
        return out


def _distinct(reps: list, vector) -> list:
    """One representative per distinct pattern of group memberships."""
    seen: dict = {}
    for rep in reps:
        seen.setdefault(vector(rep), rep)
    return list(seen.values())


def _expand(subst: str, m) -> str:
    out = []
    i = 0
    while i < len(subst):
        ch = subst[i]
        if ch == "\\" and i + 1 < len(subst):
            nxt = subst[i + 1]
            if nxt.isdigit():
                try:
                    out.append(m.group(int(nxt)) or "")
                except IndexError:
                    pass
            else:
                out.append(nxt)
            i += 2
            continue
        if ch == "&":
            out.append(m.group(0))
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def _url_host(url: str) -> str:
    u = re.sub(r"^\d{3}:", "", url)
    if "://" in u:
        u = u.split("://", 1)[1]
    return _lower(re.split(r"[/:?#]", u, 1)[0])


def client_key(c: Client) -> tuple:
    return (("ip", c.ip), ("user", c.user), ("when", c.when.isoformat()), ("free", tuple(sorted(c.free))))


def client_from_key(key: tuple) -> Client:
    if not key:
        return Client()
    d = dict(key)
    return Client(
        d.get("ip", OUTSIDE_IP),
        d.get("user"),
        dt.datetime.fromisoformat(d["when"]) if d.get("when") else DEFAULT_WHEN,
        frozenset(d.get("free", ())),
    )


def client_attributes(c: Client) -> tuple[tuple[str, str], ...]:
    attrs = [("src", c.ip), ("time", f"{'MTWHFAS'[c.when.weekday()]} {c.when:%H:%M}")]
    if not REFERENCE_MONDAY <= c.when < REFERENCE_MONDAY + dt.timedelta(days=7):
        attrs.append(("date", c.when.date().isoformat()))
    if c.user and c.user != OTHER_USER:
        attrs.append(("user", c.user))
    return tuple(attrs)


def parse(
    path: Path, context: ParseContext, lookup: str | None = None, diff_state: str | None = None
) -> SquidGuardRuleset:
    """Read a squidGuard.conf. `lookup` and `diff_state` are for tests that compare with the
    real program (see the module docstring)."""
    return SquidGuardRuleset(path, str(path), context, lookup, diff_state)
