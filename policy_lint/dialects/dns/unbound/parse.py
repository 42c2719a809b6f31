"""Reading unbound's configuration: unbound's lexer (configlexer.lex) statement by statement,
following include: and include-toplevel:, into clauses (Block) of statements (Stmt), with the
syntax unbound refuses reported as it reads; and `detect`, whether a file looks like unbound.conf.
Only the statements the evaluation needs are kept, and local zones and data only for names a
probe can meet."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype

from policy_lint.catalog import Catalog
from policy_lint.dialects.dns import rpz as rpzmod
from policy_lint.dialects.dns.unbound import stream
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.dialects.semantics.linestream import NotStreamable
from policy_lint.dialects.semantics.listnames import classify_list_name
from policy_lint.dialects.semantics.names import suffixes
from policy_lint.inputs import MAX_FILE_BYTES, InputError, read_source
from policy_lint.model import Problem, Span

NAME = "unbound"
FILE_PATTERNS = ("unbound.conf", "unbound*.conf", "*unbound*.conf", "*.unbound", "unbound.conf.*")
NOT_UNBOUND = ("*.yaml", "*.yml", "*.json", "*.toml", "*.py", "*.sh", "*.md", "*.txt.gz")
MAX_INCLUDE_DEPTH = 16
# Files from this size on are read through stream.py (small configs: line by line).
STREAM_FROM_BYTES = 1 << 20

BLOCK_TYPES = frozenset(
    {
        "deny",
        "refuse",
        "static",
        "redirect",
        "inform_deny",
        "inform_redirect",
        "always_refuse",
        "always_nxdomain",
        "always_nodata",
        "always_deny",
        "always_null",
    }
)
RESOLVE_TYPES = frozenset(
    {"transparent", "typetransparent", "inform", "always_transparent", "noview", "ipset"}
)
ZONE_TYPES = BLOCK_TYPES | RESOLVE_TYPES | {"nodefault"}

# Clause keywords (no value) and keywords with more than one value (unbound's configlexer.lex
# YDVAR counts); every other keyword takes one value.
CLAUSES = frozenset(
    {
        "server",
        "stub-zone",
        "forward-zone",
        "auth-zone",
        "rpz",
        "view",
        "remote-control",
        "python",
        "dynlib",
        "dnstap",
        "dnscrypt",
        "cachedb",
        "ipset",
    }
)
NARGS = {
    "local-zone": 2,
    "access-control": 2,
    "access-control-tag": 2,
    "access-control-tag-action": 3,
    "access-control-tag-data": 3,
    "access-control-view": 2,
    "local-zone-tag": 2,
    "local-zone-override": 3,
    "ratelimit-for-domain": 2,
    "ratelimit-below-domain": 2,
    "response-ip-tag": 2,
    "response-ip": 2,
    "response-ip-data": 2,
    "tcp-connection-limit": 2,
    "edns-client-tag": 2,
    "edns-client-string": 2,
    "interface-action": 2,
    "interface-view": 2,
    "interface-tag": 2,
    "interface-tag-action": 3,
    "interface-tag-data": 3,
    "wait-limit-netblock": 2,
    "wait-limit-cookie-netblock": 2,
}
# Keywords whose statements the evaluation reads (others are lexed and dropped).
KEPT = frozenset(
    {
        "local-zone",
        "local-data",
        "local-zone-tag",
        "define-tag",
        "access-control",
        "access-control-tag",
        "access-control-tag-action",
        "access-control-view",
        "local-zone-override",
        "response-ip",
        "module-config",
        "directory",
        "chroot",
        "view-first",
        "name",
        "zonefile",
        "primary",
        "master",
        "url",
        "rpz-action-override",
        "rpz-cname-override",
        "tags",
        "forward-addr",
        "forward-host",
        "stub-addr",
        "stub-host",
    }
)

_KEYWORD = re.compile(r"((?:[^:'\"\s\\]|\\.)*):")
_UNQUOTED = re.compile(r"(?:[^'\"\s\\]|\\.)+")
_FAST_ZONE = re.compile(
    r"^[ \t]*local-zone:[ \t]+(?:\"([^\"\\\s]+)\"|([^'\"\s\\#]+))[ \t]+"
    r"(?:\"([a-z_]+)\"|([a-z_]+))(?:[ \t]+(?:#.*)?)?$"
)
_FAST_DATA = re.compile(r"^[ \t]*local-data:[ \t]+(?:\"([^\"\\]*)\"|'([^'\\]*)')(?:[ \t]+(?:#.*)?)?$")
_SKIP = re.compile(r"^[ \t]*(?:#.*)?$")
_SIMPLE_RR = re.compile(
    r"^\s*\S+\s+(?:\d+\s+)?(?:IN\s+)?(?:\d+\s+)?(?:A\s+\d{1,3}(?:\.\d{1,3}){3}|AAAA\s+[0-9a-fA-F:.]+)\s*$",
    re.I,
)
_HINT_LINE = re.compile(r"^[ \t]*([a-z][a-z0-9-]*):([^\n#]*)", re.M)
_CONTENT_LINE = re.compile(r"^[ \t]*[^\s#]", re.M)
_TYPED_ZONE = re.compile(
    r"^[ \t]*local-zone:[ \t]+\"?[^\s\"]+\"?[ \t]+\"?(?:"
    + "|".join(sorted(ZONE_TYPES))
    + r")\"?[ \t]*(?:#.*)?$",
    re.M,
)
KNOWN = (
    frozenset(NARGS)
    | CLAUSES
    | KEPT
    | frozenset(
        [
            "verbosity",
            "interface",
            "port",
            "do-ip4",
            "do-ip6",
            "do-udp",
            "do-tcp",
            "num-threads",
            "username",
            "chroot",
            "pidfile",
            "root-hints",
            "hide-identity",
            "hide-version",
            "harden-glue",
            "harden-dnssec-stripped",
            "use-caps-for-id",
            "prefetch",
            "prefetch-key",
            "cache-min-ttl",
            "cache-max-ttl",
            "msg-cache-size",
            "rrset-cache-size",
            "so-rcvbuf",
            "so-sndbuf",
            "so-reuseport",
            "private-address",
            "private-domain",
            "unwanted-reply-threshold",
            "do-not-query-localhost",
            "val-clean-additional",
            "qname-minimisation",
            "include",
            "include-toplevel",
            "logfile",
            "use-syslog",
            "auto-trust-anchor-file",
            "trust-anchor-file",
            "local-data-ptr",
            "outgoing-range",
            "num-queries-per-thread",
            "edns-buffer-size",
            "minimal-responses",
            "rrset-roundrobin",
            "serve-expired",
            "aggressive-nsec",
            "harden-below-nxdomain",
            "harden-referral-path",
            "harden-algo-downgrade",
            "tls-upstream",
            "tls-cert-bundle",
            "forward-tls-upstream",
            "forward-first",
            "stub-prime",
            "stub-first",
            "control-enable",
            "control-interface",
            "control-port",
            "unblock-lan-zones",
            "insecure-lan-zones",
            "domain-insecure",
            "caps-whitelist",
            "caps-exempt",
            "key-cache-size",
            "neg-cache-size",
            "infra-cache-numhosts",
            "outgoing-num-tcp",
            "incoming-num-tcp",
            "do-daemonize",
            "log-queries",
            "log-replies",
            "extended-statistics",
            "statistics-interval",
            "statistics-cumulative",
            "deny-any",
            "ip-freebind",
            "ip-transparent",
        ]
    )
)


def detect(path: Path, head: str) -> float:
    name = path.name.lower()
    if name == "unbound.conf":
        return 0.95
    if any(fnmatch(name, p) for p in NOT_UNBOUND):
        return 0.0
    lines = _HINT_LINE.findall(head)
    known = [(k, rest) for k, rest in lines if k in KNOWN]
    headers = sum(1 for k, rest in known if k in CLAUSES and not rest.strip())
    misused = sum(1 for k, rest in known if k in CLAUSES and rest.strip())  # `server: web01`
    zones = sum(1 for k, _ in known if k in ("local-zone", "local-data", "access-control", "forward-addr"))
    content = len(_CONTENT_LINE.findall(head))
    ratio = len(known) / content if content else 0.0
    named = any(fnmatch(name, p) for p in FILE_PATTERNS) or path.parent.name.lower() in (
        "unbound",
        "unbound.conf.d",
    )
    if misused and not named:
        return 0.0
    if named and (not content or (ratio >= 0.3 and known)):
        return 0.9
    typed = len(_TYPED_ZONE.findall(head))  # `local-zone: "x" static`: unbound's words only
    if typed and ratio >= 0.5:
        return 0.85
    if (headers or zones) and ratio >= 0.6 and len(known) >= 2:
        return 0.85
    if (headers or zones) and ratio >= 0.4 and len(known) >= 3:
        return 0.6
    return 0.0


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class Stmt:
    keyword: str
    args: tuple[str, ...]
    span: Span


@dataclass
class Block:
    kind: str  # server | view | rpz | forward-zone | stub-zone | auth-zone | ...
    span: Span | None
    stmts: list[Stmt] = field(default_factory=list)

    def first(self, keyword: str) -> Stmt | None:
        return next((s for s in self.stmts if s.keyword == keyword), None)

    def values(self, keyword: str) -> list[Stmt]:
        return [s for s in self.stmts if s.keyword == keyword]


@dataclass
class _LexState:
    """Where the lexer is in one file: a keyword waiting for values, an include: for its name."""

    pending: list | None = None  # [keyword, nargs, args, span]
    include: tuple[str, Span] | None = None


@dataclass
class Missing:
    ref: str
    span: Span
    what: str
    services: set[str] | None  # None: could be about any service


class Reader:
    """unbound's lexer (configlexer.lex), statement by statement, following includes."""

    def __init__(self, context: ParseContext, relevant: frozenset[str]):
        self.context = context
        self.relevant = relevant
        self.problems = rpzmod.CappedProblems()
        self.included: list[Path] = []
        self.missing: list[Missing] = []
        self.server = Block("server", None)
        self.blocks: list[Block] = [self.server]
        self.current = self.server
        self.directory = ""
        self.chroot = ""
        self.paths: dict[str, Path] = {}  # display path -> file
        self.order: list[Stmt] = []  # every kept statement, in unbound's reading order
        self.relevant_re: stream.Relevant | None = None  # stream.relevant_pattern(relevant)

    # ---- files
    def read(self, path: Path, display: str, stack: tuple[Path, ...]) -> None:
        st = _LexState()
        for n, raw in self._source(path, display, st):
            self._line(st, n, raw, display, path, stack)
        if st.pending is not None:
            self.problems.append(
                Problem(
                    "TE901",
                    st.pending[3],
                    f"{st.pending[0]}: expects {st.pending[1]} value(s) "
                    f"before the end of the file; unbound refuses this",
                )
            )
        if st.include is not None:
            self.problems.append(
                Problem("TE901", st.include[1], f"{st.include[0]}: no file name before the end of the file")
            )

    def _source(self, path: Path, display: str, st: _LexState) -> Iterable[tuple[int, str]]:
        """The file's lines; for a big list only those stream.py says the reader must see."""
        try:
            if STREAM_FROM_BYTES < path.stat().st_size <= MAX_FILE_BYTES:
                if self.relevant_re is None:
                    self.relevant_re = stream.relevant_pattern(self.relevant)
                picked = stream.lines(path, self.relevant_re, lambda: self._clean(st))
                self.paths[display] = path
                return picked
        except (NotStreamable, OSError):
            pass  # read the ordinary way: the same lines, or the same error
        src = read_source(path, display)
        self.problems.extend(src.problems)
        self.paths[display] = path
        return enumerate(src.lines, start=1)

    def _clean(self, st: _LexState) -> bool:
        """Whether the reader drops a plain local-zone/local-data line no probe can meet here."""
        return st.pending is None and st.include is None and self.current.kind == "server"

    def _line(
        self, st: _LexState, n: int, raw: str, display: str, path: Path, stack: tuple[Path, ...]
    ) -> None:
        if "\x00" in raw:
            self.problems.append(
                Problem(
                    "TE902",
                    Span(display, n, 1),
                    "NUL byte: unbound reads a value only up to it; the rest of the line is ignored",
                )
            )
            raw = raw.split("\x00", 1)[0]
        if st.pending is None and st.include is None:
            if _SKIP.match(raw):
                return
            if self._fast(raw, display, n):
                return
        pos, end = 0, len(raw)
        while pos < end:
            while pos < end and raw[pos] in " \t":
                pos += 1
            if pos >= end:
                break
            ch = raw[pos]
            if st.include is not None:
                kw, kspan = st.include
                if ch == '"':
                    close = _closing(raw, pos + 1, '"')
                    if close < 0:
                        self.problems.append(
                            Problem(
                                "TE901",
                                kspan,
                                f"{kw}: newline before the closing "
                                f"quote of the file name; unbound refuses this",
                            )
                        )
                        st.include = None
                        break
                    ref, pos = raw[pos + 1 : close], close + 1
                else:
                    m = _UNQUOTED.match(raw, pos)
                    ref, pos = (m.group(0), m.end()) if m else (raw[pos], pos + 1)
                st.include = None
                self._include(kw, ref, kspan, path, stack)
                continue
            if ch == "#":
                break
            col = pos + 1
            if st.pending is None:
                m = _KEYWORD.match(raw, pos)
                if m is None or not m.group(1):
                    m2 = _UNQUOTED.match(raw, pos)
                    word = m2.group(0) if m2 else raw[pos]
                    self.problems.append(
                        Problem(
                            "TE901",
                            Span(display, n, col, raw.strip()),
                            f"'{word}' is not an unbound keyword (a value without "
                            f"'keyword:' before it); unbound refuses this",
                        )
                    )
                    break  # one finding per line (unbound complains of every word)
                kw = m.group(1)
                pos = m.end()
                span = Span(display, n, col, raw.strip())
                if kw in ("include", "include-toplevel"):
                    st.include = (kw, span)
                    if kw == "include-toplevel":
                        self.current = self.server  # closes the clause (we read on as server:)
                    continue
                if kw in CLAUSES:
                    self._clause(kw, span)
                    continue
                if not re.fullmatch(r"[a-z0-9-]+", kw):
                    self.problems.append(
                        Problem("TE901", span, f"unknown keyword '{kw}:'; unbound refuses this")
                    )
                    continue
                st.pending = [kw, NARGS.get(kw, 1), [], span]
                continue
            # a value
            pending = st.pending
            if ch in "\"'":
                close = _closing(raw, pos + 1, ch)
                if close < 0:
                    self.problems.append(
                        Problem(
                            "TE901",
                            pending[3],
                            f"{pending[0]}: newline inside a quoted "
                            f"value (no closing {ch}); unbound refuses this",
                        )
                    )
                    st.pending = None
                    break
                value, pos = raw[pos + 1 : close], close + 1
            else:
                m = _UNQUOTED.match(raw, pos)
                value, pos = (m.group(0), m.end()) if m else (raw[pos], pos + 1)
            pending[2].append(value)
            if len(pending[2]) == pending[1]:
                self._statement(pending[0], tuple(pending[2]), pending[3])
                st.pending = None

    def _fast(self, raw: str, display: str, n: int) -> bool:
        """The common one-statement lines of large lists, without the general lexer."""
        if "local-zone:" in raw:
            m = _FAST_ZONE.match(raw)
            if m is None:
                return False
            name = norm_name(m.group(1) or m.group(2))
            typ = m.group(3) or m.group(4)
            if typ not in ZONE_TYPES:
                return False
            if name in self.relevant or self.current.kind != "server":
                self._statement(
                    "local-zone",
                    (m.group(1) or m.group(2), typ),
                    Span(display, n, raw.find("local-zone:") + 1, raw.strip()),
                )
            return True
        if "local-data:" in raw:
            m = _FAST_DATA.match(raw)
            if m is None:
                return False
            text = m.group(1) if m.group(1) is not None else m.group(2)
            first = norm_name(text.split(None, 1)[0]) if text.split() else ""
            # only a simple server: record no probe can meet is dropped here; the rest is parsed (and
            # checked) by the general path
            return not (first in self.relevant or self.current.kind != "server" or not _SIMPLE_RR.match(text))
        return False

    def _clause(self, kw: str, span: Span) -> None:
        if kw == "server":
            self.current = self.server
            return
        block = Block(kw, span)
        self.blocks.append(block)
        self.current = block

    def _statement(self, kw: str, args: tuple[str, ...], span: Span) -> None:
        if kw == "local-zone":
            name, typ = args
            if typ not in ZONE_TYPES:
                self.problems.append(
                    Problem(
                        "TE901",
                        span,
                        f"local-zone type '{typ}' is not one unbound knows; unbound refuses this",
                    )
                )
                return
            if typ == "ipset":
                self.problems.append(
                    Problem(
                        "TE901",
                        span,
                        "local-zone type ipset needs unbound's ipset module "
                        "(Debian's unbound has none): unbound refuses this",
                    )
                )
            if norm_name(name) not in self.relevant and self.current.kind == "server":
                return
        elif kw == "local-data":
            if not _valid_rr(args[0]):
                self.problems.append(
                    Problem(
                        "TE901",
                        span,
                        f"local-data '{args[0]}' is not a valid resource record; unbound refuses this",
                    )
                )
                return
            first = norm_name(args[0].split(None, 1)[0]) if args[0].split() else ""
            if first not in self.relevant and self.current.kind == "server":
                return
        elif kw == "directory":
            self.directory = args[0]
        elif kw == "chroot":
            self.chroot = args[0]
        if kw in KEPT:
            stmt = Stmt(kw, args, span)
            self.current.stmts.append(stmt)
            self.order.append(stmt)

    # ---- includes
    def _include(self, kw: str, ref: str, span: Span, path: Path, stack: tuple[Path, ...]) -> None:
        if not ref:
            self.problems.append(Problem("TE901", span, f"{kw}: empty file name; unbound refuses this"))
            return
        resolver = self.context.resolver
        ref0 = ref
        if self.chroot and ref.startswith(self.chroot.rstrip("/") + "/"):
            ref = ref[len(self.chroot.rstrip("/")) :]
        refs = [ref]
        if self.directory and not ref.startswith("/"):
            refs.insert(0, self.directory.rstrip("/") + "/" + ref)
        is_glob = any(c in ref for c in "*?[")
        targets: list[Path] = []
        for r in refs:
            targets = resolver.glob(r, path) if is_glob else [t for t in [resolver.resolve(r, path)] if t]
            if targets:
                break
        if not targets:
            kind, named = classify_list_name(Path(ref0).name, service_keywords(self.context.catalog))
            folder = self._glob_folder(refs, path) if is_glob else None
            if is_glob and folder and kind != "social":
                return  # unbound: a pattern that matches nothing in its folder is skipped silently
            if is_glob and folder:
                msg = f"{kw}: '{ref0}' matches no file (unbound skips it)"
            elif is_glob:
                msg = f"{kw}: the folder of '{ref0}' is not there (unbound refuses to start without it)"
            else:
                msg = f"{kw}: file not found: {ref0} (unbound refuses to start without it)"
            if kind == "other-topic":
                msg += (
                    "; its name is a published category of another topic (listnames.py), so it is "
                    "assumed not to name the catalog services"
                )
            else:
                # Whatever it holds is what unbound runs with: the names it could decide are unknown.
                self.missing.append(Missing(ref0, span, kw, named or None))
                msg += "; verdicts that depend on it are unknown"
            self.problems.append(Problem("TE903", span, msg))
            return
        for target in targets:
            real = target.resolve()
            if real in stack:
                self.problems.append(Problem("TE904", span, f"include loop: {ref0} includes itself"))
                continue
            if len(stack) >= MAX_INCLUDE_DEPTH:
                self.problems.append(
                    Problem("TE904", span, f"includes nested deeper than {MAX_INCLUDE_DEPTH}")
                )
                continue
            self.included.append(target)
            if kw == "include-toplevel":
                self.current = self.server
            try:
                # textual inclusion: a clause opened inside the file stays open after it
                self.read(target, resolver.display(target), stack + (real,))
            except InputError as exc:
                self.problems.append(Problem("TE902", span, str(exc)))
            if kw == "include-toplevel":
                self.current = self.server

    def _glob_folder(self, refs: list[str], path: Path) -> bool:
        """Whether the fixed folder part of a glob exists (glob(3) with GLOB_ERR fails, and
        unbound with it, when it does not; an existing folder without matches is fine)."""
        for ref in refs:
            head = re.split(r"[*?\[{~]", ref, maxsplit=1)[0]
            folder = head.rsplit("/", 1)[0] if "/" in head else "."
            for cand in self.context.resolver.candidates(folder or "/", path):
                if cand.is_dir():
                    return True
        return False


def _closing(raw: str, start: int, quote: str) -> int:
    i = start
    while i < len(raw):
        c = raw[i]
        if c == "\\":
            i += 2
            continue
        if c == quote:
            return i
        i += 1
    return -1


def norm_name(name: str) -> str:
    return name.strip().lower().rstrip(".")


_RR = re.compile(r"^\s*(\S+)\s+(.*)$", re.S)


def parse_rr(text: str) -> tuple[str, str, dns.rdata.Rdata] | None:
    """`name [TTL] [CLASS] TYPE RDATA` -> (name, type, rdata); None when unbound refuses it."""
    m = _RR.match(text)
    if not m:
        return None
    name, rest = m.group(1), m.group(2).split()
    i = 0
    for _ in range(2):
        if i < len(rest) and (
            re.fullmatch(r"\d+[smhdwSMHDW]?", rest[i]) or rest[i].upper() in ("IN", "CH", "HS", "CS")
        ):
            i += 1
    if i >= len(rest):
        return None
    rdtype = rest[i].upper()
    rdata_text = m.group(2).split(None, i + 1)[i + 1] if len(m.group(2).split(None, i + 1)) > i + 1 else ""
    try:
        dns.name.from_text(name)
        rd = dns.rdata.from_text(
            dns.rdataclass.IN, dns.rdatatype.from_text(rdtype), rdata_text, origin=dns.name.root
        )
    except (dns.exception.DNSException, ValueError, KeyError):
        return None
    return norm_name(name), rdtype, rd


def _valid_rr(text: str) -> bool:
    return parse_rr(text) is not None


def service_keywords(catalog: Catalog) -> dict[str, tuple[str, ...]]:
    return {sid: svc.keywords for sid, svc in catalog.services.items()}


def relevant_names(catalog: Catalog) -> frozenset[str]:
    names = {p.host.lower() for svc in catalog.services.values() for p in svc.probes()}
    names.add(catalog.control_host.lower())
    return frozenset(s for n in names for s in suffixes(n)) | {""}
