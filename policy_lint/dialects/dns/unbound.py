"""unbound (unbound.conf, its include: fragments, and the RPZ zones it loads).

unbound answers a query from its local zones first: the most specific `local-zone:` that is the
name or one of its parents decides, by its type (unbound.conf(5), "local-zone"), and a
`local-data:` record for exactly that name answers before the type does (except for the
always_* types). So in

    server:
        local-zone: "facebook.com" always_nxdomain      # facebook.com and every subdomain
        local-zone: "com" static                        # every .com name: NXDOMAIN ...
        local-zone: "linkedin.com" transparent          # ... except linkedin.com's, resolved
        local-zone: "twitter.com" redirect              # every twitter.com name answers with
        local-data: "twitter.com A 0.0.0.0"             #   the apex's data: a sinkhole
        local-data: "x.com A 10.0.0.80"                 # one name (static zone: x.com's own
                                                        #   subdomains still get NXDOMAIN)

Facebook, Twitter/X and every other .com site are blocked, LinkedIn is an explicit exception.

Types that block: deny and inform_deny (the query is dropped), refuse (REFUSED), static (NXDOMAIN,
or NODATA for a name that has other local data), redirect and inform_redirect (the apex's data
for every name below, NODATA without it), always_refuse, always_nxdomain, always_nodata,
always_deny, always_null (0.0.0.0 / ::). Types that resolve normally: transparent (NODATA for a
name that has local data of another type only), typetransparent, inform (logged),
always_transparent (ignores local data), and noview outside a view. `nodefault` creates no zone
at all: a broader zone still decides. A local-data answer is judged by its address: a sinkhole or
a private address blocks, an address the catalog confirms as the service's own is `allowed`, a
CNAME to another name redirects. local-data outside every local-zone answers just that name
(unbound makes a transparent zone for it). The same zone named twice: the last line wins.
(Checked against Debian's unbound 1.17 in tests/e2e/test_unbound_differential.py, which found
that always_null answers from local data for the exact name, unlike the man page says.)

After the local zones, `rpz:` clauses apply in order, the first zone with a match deciding
(a passthru is a match). Their zone files are evaluated by rpz.py with unbound's rules, which
differ from BIND's: the first record of a name sets its action (later ones are skipped), a
CNAME to an unknown `rpz-*` name is ignored, and a wildcard applies only through the trigger
that sorts just before the query in unbound's own order (labels compared shorter first): a
trigger sharing more of the query's labels hides it (`m.facebook.com` hides `*.facebook.com`
from `x.m.facebook.com`; `s.com` hides `*` from `facebook.com`). A transparent zone does not
shield a name from RPZ; `rpz-action-override:` replaces every action of its zone; an `rpz:`
clause without the respip module in `module-config:` makes unbound refuse to start (TE901).

`view:` clauses (`access-control-view:`, `view-first:`), `local-zone-tag:` with
`access-control-tag:`/`access-control-tag-action:`, `local-zone-override:`, rpz `tags:` and
`rpz-client-ip` triggers make the answer depend on the client: each netblock named there is an
audience (`access-control-view 10.20.0.0/16 kids`), plus the clients outside all of them.

`include:` and `include-toplevel:` (globs too) are followed inside --root, loop-safe (TE904).
A missing include makes unbound refuse to start (TE903); a glob that matches nothing in an
existing folder is skipped, as unbound does (a missing folder is TE903). A missing file whose name names a service or social networking makes that
service's names `unknown`; other missing includes are reported and the verdict stands on the
rest. An rpz zone fetched at run time (`url:`/`primary:` without a local zone file) makes the
names it could decide `unknown`, unless its name says it holds another topic (listnames.py).
`response-ip:` blocks and `auth-zone:`s covering a service's addresses or names are `unknown`;
`forward-zone:`s are noted, not blocks. Syntax unbound refuses (unknown words, unterminated
quotes, bad zone types, bad local-data) is TE901 with its line.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field, replace
from fnmatch import fnmatch
from pathlib import Path

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype

from policy_lint.catalog import Catalog
from policy_lint.dialects.dns import rpz as rpzmod
from policy_lint.dialects.dns.hosts import address_decision
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.dialects.semantics.listnames import classify_list_name
from policy_lint.dialects.semantics.names import suffixes
from policy_lint.inputs import InputError, read_source
from policy_lint.model import EVERYONE, Audience, Decision, Outcome, Probe, Problem, Span

NAME = "unbound"
FILE_PATTERNS = ("unbound.conf", "unbound*.conf", "*unbound*.conf", "*.unbound", "unbound.conf.*")
NOT_UNBOUND = ("*.yaml", "*.yml", "*.json", "*.toml", "*.py", "*.sh", "*.md", "*.txt.gz")
MAX_INCLUDE_DEPTH = 16
MAX_CNAME_CHAIN = 8
OTHER_CLIENT = "198.51.100.77"  # a documentation address outside every netblock

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
RESPIP_BLOCKING = frozenset(
    {
        "deny",
        "redirect",
        "inform_deny",
        "always_refuse",
        "always_nxdomain",
        "always_nodata",
        "always_deny",
        "always_null",
    }
)

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
class Missing:
    ref: str
    span: Span
    what: str
    services: set[str] | None  # None: could be about any service


class _Reader:
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

    # ---- files
    def read(self, path: Path, display: str, stack: tuple[Path, ...]) -> None:
        src = read_source(path, display)
        self.problems.extend(src.problems)
        self.paths[display] = path
        pending: list | None = None  # [keyword, nargs, args, span]
        include: tuple[str, Span] | None = None
        for n, raw in enumerate(src.lines, start=1):
            if "\x00" in raw:
                self.problems.append(
                    Problem(
                        "TE902",
                        Span(display, n, 1),
                        "NUL byte: unbound reads a value only up to it; the rest of the line is ignored",
                    )
                )
                raw = raw.split("\x00", 1)[0]
            if pending is None and include is None:
                if _SKIP.match(raw):
                    continue
                if self._fast(raw, display, n):
                    continue
            pos, end = 0, len(raw)
            while pos < end:
                while pos < end and raw[pos] in " \t":
                    pos += 1
                if pos >= end:
                    break
                ch = raw[pos]
                if include is not None:
                    kw, kspan = include
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
                            include = None
                            break
                        ref, pos = raw[pos + 1 : close], close + 1
                    else:
                        m = _UNQUOTED.match(raw, pos)
                        ref, pos = (m.group(0), m.end()) if m else (raw[pos], pos + 1)
                    include = None
                    self._include(kw, ref, kspan, path, stack)
                    continue
                if ch == "#":
                    break
                col = pos + 1
                if pending is None:
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
                        include = (kw, span)
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
                    pending = [kw, NARGS.get(kw, 1), [], span]
                    continue
                # a value
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
                        pending = None
                        break
                    value, pos = raw[pos + 1 : close], close + 1
                else:
                    m = _UNQUOTED.match(raw, pos)
                    value, pos = (m.group(0), m.end()) if m else (raw[pos], pos + 1)
                pending[2].append(value)
                if len(pending[2]) == pending[1]:
                    self._statement(pending[0], tuple(pending[2]), pending[3])
                    pending = None
        if pending is not None:
            self.problems.append(
                Problem(
                    "TE901",
                    pending[3],
                    f"{pending[0]}: expects {pending[1]} value(s) "
                    f"before the end of the file; unbound refuses this",
                )
            )
        if include is not None:
            self.problems.append(
                Problem("TE901", include[1], f"{include[0]}: no file name before the end of the file")
            )

    def _fast(self, raw: str, display: str, n: int) -> bool:
        """The common one-statement lines of large lists, without the general lexer."""
        if "local-zone:" in raw:
            m = _FAST_ZONE.match(raw)
            if m is None:
                return False
            name = _norm(m.group(1) or m.group(2))
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
            first = _norm(text.split(None, 1)[0]) if text.split() else ""
            if first in self.relevant or self.current.kind != "server" or not _SIMPLE_RR.match(text):
                return False  # parsed (and checked) by the general path
            return True
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
            if _norm(name) not in self.relevant and self.current.kind == "server":
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
            first = _norm(args[0].split(None, 1)[0]) if args[0].split() else ""
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
            kind, named = classify_list_name(Path(ref0).name, _keywords(self.context.catalog))
            folder = self._glob_folder(refs, path) if is_glob else None
            if is_glob and folder and kind != "social":
                return  # unbound: a pattern that matches nothing in its folder is skipped silently
            if is_glob and folder:
                msg = f"{kw}: '{ref0}' matches no file (unbound skips it)"
            elif is_glob:
                msg = f"{kw}: the folder of '{ref0}' is not there (unbound refuses to start without it)"
            else:
                msg = f"{kw}: file not found: {ref0} (unbound refuses to start without it)"
            if kind == "social":
                self.missing.append(Missing(ref0, span, kw, named or None))
                msg += "; its name says it may decide social-network names: those are unknown"
            else:
                msg += "; verdicts are decided without it"
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


def _norm(name: str) -> str:
    return name.strip().lower().rstrip(".")


_RR = re.compile(r"^\s*(\S+)\s+(.*)$", re.S)


def _parse_rr(text: str) -> tuple[str, str, dns.rdata.Rdata] | None:
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
    return _norm(name), rdtype, rd


def _valid_rr(text: str) -> bool:
    return _parse_rr(text) is not None


def _keywords(catalog: Catalog) -> dict[str, tuple[str, ...]]:
    return {sid: svc.keywords for sid, svc in catalog.services.items()}


# --------------------------------------------------------------------------- zones


@dataclass
class Zone:
    name: str
    type: str
    span: Span
    tags: frozenset[str] | None = None
    tag_span: Span | None = None
    earlier: list[Span] = field(default_factory=list)  # the same zone named before (overridden)
    implicit: bool = False


@dataclass
class Data:
    name: str
    rdtype: str
    rdata: dns.rdata.Rdata
    span: Span


@dataclass
class ZoneSet:
    zones: dict[str, Zone] = field(default_factory=dict)
    data: dict[str, list[Data]] = field(default_factory=dict)
    any_zone: bool = False  # a local-zone or local-data exists (relevant to probes or not)
    problems: list[Problem] = field(default_factory=list)

    def add(self, stmts: list[Stmt], tags: dict[str, tuple[frozenset[str], Span]]) -> None:
        for s in stmts:
            if s.keyword == "local-zone":
                self.any_zone = True
                name, typ = _norm(s.args[0]), s.args[1]
                if typ == "nodefault":
                    continue  # turns off a default zone; creates none
                old = self.zones.get(name)
                z = Zone(name, typ, s.span)
                if old is not None:
                    z.earlier = old.earlier + [old.span]
                self.zones[name] = z  # unbound: the last line for a name wins (checked in e2e)
            elif s.keyword == "local-data":
                self.any_zone = True
                rr = _parse_rr(s.args[0])
                if rr is not None:
                    self.data.setdefault(rr[0], []).append(Data(rr[0], rr[1], rr[2], s.span))
        for name, (tagset, span) in tags.items():
            z = self.zones.get(name)
            if z is not None:
                z.tags, z.tag_span = tagset, span
        # local-data outside every zone: unbound makes a transparent zone above it
        for name, items in self.data.items():
            if self.covering(name) is None:
                self.zones[name] = Zone(name, "transparent", items[0].span, implicit=True)
        for name, items in self.data.items():
            z = self.covering(name)
            if z is not None and z.type in ("redirect", "inform_redirect") and z.name != name:
                self.problems.append(
                    Problem(
                        "TE901",
                        items[0].span,
                        f"local-data below the redirect zone '{z.name}' (it must be at the "
                        f"zone's top); unbound refuses this",
                    )
                )

    def covering(self, name: str) -> Zone | None:
        for s in suffixes(name):
            z = self.zones.get(s)
            if z is not None:
                return z
        return self.zones.get("")

    def find(self, host: str, tags: frozenset[str], start: int = 0) -> Zone | None:
        """The most specific zone covering `host` whose tags (if any) the client has."""
        names = list(suffixes(host)) + [""]
        for s in names[start:]:
            z = self.zones.get(s)
            if z is not None and (z.tags is None or z.tags & tags):
                return z
        return None

    def data_for(self, name: str, zone: Zone) -> list[Data]:
        items = self.data.get(name, [])
        return [d for d in items if self.covering(d.name) is zone]


@dataclass
class View:
    name: str
    span: Span
    zones: ZoneSet
    view_first: bool = False


@dataclass
class RpzClause:
    name: str
    span: Span
    zone: rpzmod.RpzZone | None
    tags: frozenset[str] | None
    remote: Missing | None = None  # content fetched at run time (url:/primary:), not in the repo


@dataclass(frozen=True)
class Ctx:
    """What unbound knows about a client: its view, tags, tag actions, zone overrides."""

    view: str | None = None
    tags: frozenset[str] = frozenset()
    actions: tuple[tuple[str, str, Span], ...] = ()  # (tag, zone type, where)
    overrides: tuple[tuple[str, str, Span], ...] = ()  # (zone, zone type, where)
    client_rpz: tuple[tuple[str, str], ...] = ()  # (rpz name, client-ip trigger)
    who: str = ""  # the client in unbound's words, for decisions that depend on it


# --------------------------------------------------------------------------- the ruleset


class UnboundRuleset:
    dialect = NAME

    def __init__(self, path: str, reader: _Reader, context: ParseContext):
        self.path = path
        self.catalog = context.catalog
        self.context = context
        self.problems = reader.problems
        self.included = [str(p.resolve()) for p in reader.included]
        self.missing = reader.missing
        self._cache: dict[tuple[str, Ctx], Decision] = {}
        server = reader.server
        self.tag_names = {v for s in server.values("define-tag") for v in s.args[0].split()}
        zone_tags = {
            _norm(s.args[0]): (frozenset(s.args[1].split()), s.span) for s in server.values("local-zone-tag")
        }
        self.global_zones = ZoneSet()
        self.global_zones.add(server.values("local-zone") + server.values("local-data"), zone_tags)
        self.problems.extend(self.global_zones.problems)
        self.views: dict[str, View] = {}
        self.rpz: list[RpzClause] = []
        self.forwards: list[tuple[str, Stmt, Block]] = []
        self.auth: list[tuple[str, Stmt]] = []
        modules = (server.values("module-config") or [None])[-1]  # the last one counts
        self._check_tags(reader.order)
        for block in reader.blocks[1:]:
            if block.kind == "view":
                self._view(block)
            elif block.kind == "rpz":
                self._rpz(block, reader, modules)
            elif block.kind in ("forward-zone", "stub-zone"):
                n = block.first("name")
                if n is not None:
                    self.forwards.append((_norm(n.args[0]), n, block))
            elif block.kind == "auth-zone":
                n = block.first("name")
                if n is not None:
                    self.auth.append((_norm(n.args[0]), n))
        self.response_ip = []
        for s in server.values("response-ip"):
            try:
                self.response_ip.append((ipaddress.ip_network(s.args[0], strict=False), s.args[1], s))
            except ValueError:
                self.problems.append(Problem("TE901", s.span, f"response-ip '{s.args[0]}' is not a netblock"))
        self._acl = self._acl_nodes(server)
        self._overrides: dict[str, list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str, Span]]] = {}
        for s in server.values("local-zone-override"):
            try:
                net = ipaddress.ip_network(s.args[1], strict=False)
            except ValueError:
                self.problems.append(
                    Problem("TE901", s.span, f"local-zone-override: '{s.args[1]}' is not a netblock")
                )
                continue
            self._overrides.setdefault(_norm(s.args[0]), []).append((net, s.args[2], s.span))
        self._audiences: list[Audience] | None = None
        self._ctx: dict[tuple, Ctx] = {}

    # ---- set-up
    def _check_tags(self, order: list[Stmt]) -> None:
        """Tags must be defined (define-tag:) before a statement uses them."""
        defined: set[str] = set()
        for s in order:
            if s.keyword == "define-tag":
                defined.update(s.args[0].split())
                continue
            used = {
                "local-zone-tag": lambda a: a[1].split(),
                "access-control-tag": lambda a: a[1].split(),
                "access-control-tag-action": lambda a: [a[1]],
                "tags": lambda a: a[0].split(),
            }.get(s.keyword)
            if used is None:
                continue
            unknown = [t for t in used(s.args) if t not in defined]
            if unknown:
                self.problems.append(
                    Problem(
                        "TE901",
                        s.span,
                        f"{s.keyword}: tag '{unknown[0]}' is not defined "
                        f"(define-tag: before it); unbound refuses this",
                    )
                )
            if s.keyword == "access-control-tag-action" and s.args[2] not in ZONE_TYPES:
                self.problems.append(
                    Problem(
                        "TE901",
                        s.span,
                        f"access-control-tag-action: '{s.args[2]}' is not "
                        f"a local-zone type; unbound refuses this",
                    )
                )

    def _view(self, block: Block) -> None:
        n = block.first("name")
        if n is None:
            self.problems.append(Problem("TE901", block.span, "view: without a name; unbound refuses this"))
            return
        zs = ZoneSet()
        zs.add(block.values("local-zone") + block.values("local-data"), {})
        self.problems.extend(zs.problems)
        vf = block.first("view-first")
        self.views[n.args[0]] = View(n.args[0], n.span, zs, bool(vf and vf.args[0].lower() == "yes"))

    def _rpz(self, block: Block, reader: _Reader, modules: Stmt | None) -> None:
        n = block.first("name")
        if n is None:
            self.problems.append(Problem("TE901", block.span, "rpz: without a name; unbound refuses this"))
            return
        if modules is None or "respip" not in modules.args[0].split():
            where = modules.span if modules is not None else block.span
            self.problems.append(
                Problem(
                    "TE901",
                    where,
                    "rpz: needs the respip module in module-config "
                    '(e.g. "respip validator iterator"); unbound refuses '
                    "to start without it",
                )
            )
        origin = _norm(n.args[0])
        tags_stmt = block.first("tags")
        tags = frozenset(tags_stmt.args[0].split()) if tags_stmt else None
        zf = block.first("zonefile")
        remote = block.values("url") + block.values("primary") + block.values("master")
        zone = None
        missing = None
        if zf is not None:
            ref = zf.args[0]
            refs = (
                [ref]
                if ref.startswith("/") or not reader.directory
                else [reader.directory.rstrip("/") + "/" + ref, ref]
            )
            base = reader.paths.get(zf.span.path, Path(self.path))
            target = next((t for t in (self.context.resolver.resolve(r, base) for r in refs) if t), None)
            if target is not None:
                try:
                    zone = rpzmod.load_zone(target, self.context, origin=origin, flavour="unbound")
                except InputError as exc:
                    self.problems.append(Problem("TE902", zf.span, str(exc)))
                if zone is not None:
                    self.problems.extend(zone.problems)
                    self.included += [str(target.resolve())] + [str(p.resolve()) for p in zone.included]
                    ov = block.first("rpz-action-override")
                    if ov is not None:
                        zone.override = rpzmod._policy_word(ov.args[0].replace("_", "-"))
                        zone.override_span = ov.span
                        cn = block.first("rpz-cname-override")
                        zone.override_cname = cn.args[0] if cn else ""
            elif not remote:
                self.problems.append(
                    Problem(
                        "TE903",
                        zf.span,
                        f"rpz zone file not found: {ref} (without url: or primary: unbound refuses to start)",
                    )
                )
                missing = self._remote_missing(origin, ref, zf.span)
        if zone is None and remote and missing is None:
            where = remote[0].span
            missing = self._remote_missing(origin, remote[0].args[0], where)
            self.problems.append(
                Problem(
                    "TE903",
                    where,
                    f"rpz zone '{origin}' is fetched at run time "
                    f"({remote[0].args[0]}): its policies are not in the repository"
                    + ("" if missing else "; its name says it holds another topic"),
                )
            )
        self.rpz.append(RpzClause(origin, n.span, zone, tags, missing))

    def _remote_missing(self, origin: str, ref: str, span: Span) -> Missing | None:
        kind, named = classify_list_name(f"{origin} {ref}", _keywords(self.catalog))
        if kind == "other-topic":
            return None
        return Missing(ref, span, "rpz", named or None)

    def _acl_nodes(self, server: Block) -> dict:
        nodes: dict = {}
        for kw in (
            "access-control",
            "access-control-view",
            "access-control-tag",
            "access-control-tag-action",
        ):
            for s in server.values(kw):
                try:
                    net = ipaddress.ip_network(s.args[0], strict=False)
                except ValueError:
                    self.problems.append(Problem("TE901", s.span, f"{kw}: '{s.args[0]}' is not a netblock"))
                    continue
                node = nodes.setdefault(net, {"view": None, "tags": frozenset(), "actions": [], "spans": []})
                if kw == "access-control-view":
                    if s.args[1] not in self.views:
                        self.problems.append(
                            Problem(
                                "TE901",
                                s.span,
                                f"access-control-view: no view named '{s.args[1]}'; unbound refuses this",
                            )
                        )
                    node["view"] = s.args[1]
                    node["spans"].append(s)
                elif kw == "access-control-tag":
                    node["tags"] = frozenset(s.args[1].split())
                    node["spans"].append(s)
                elif kw == "access-control-tag-action":
                    node["actions"].append((s.args[1], s.args[2], s.span))
                    node["spans"].append(s)
        return nodes

    # ---- audiences
    def _ctx_for(self, ip: str) -> tuple[Ctx, tuple[str, ...]]:
        addr = ipaddress.ip_address(ip)
        best = None
        for net, node in self._acl.items():
            if (
                addr.version == net.version
                and addr in net
                and (best is None or net.prefixlen > best[0].prefixlen)
            ):
                best = (net, node)
        words: list[str] = []
        view, tags, actions = None, frozenset(), ()
        if best is not None:
            net, node = best
            view, tags, actions = node["view"], node["tags"], tuple(node["actions"])
            for s in node["spans"]:
                words.append(f"{s.keyword} {' '.join(s.args)}")
        overrides = []
        for zone, entries in self._overrides.items():
            hit = None
            for net, typ, span in entries:
                if (
                    addr.version == net.version
                    and addr in net
                    and (hit is None or net.prefixlen > hit[0].prefixlen)
                ):
                    hit = (net, typ, span)
            if hit is not None:
                overrides.append((zone, hit[1], hit[2]))
                words.append(f"local-zone-override {zone} {hit[0]} {hit[1]}")
        client = []
        for clause in self.rpz:
            if clause.zone is None:
                continue
            for net, t in rpzmod.client_netblocks(clause.zone):
                if addr.version == net.version and addr in net:
                    client.append((clause.name, t.name))
                    words.append(f"rpz-client-ip {net} ({clause.name})")
        return Ctx(view, tags, actions, tuple(overrides), tuple(client), " & ".join(words)), tuple(words)

    def audiences(self) -> list[Audience]:
        if self._audiences is not None:
            return self._audiences
        nets = [n for n, node in self._acl.items() if node["view"] or node["tags"] or node["actions"]]
        nets += [net for entries in self._overrides.values() for net, _t, _s in entries]
        nets += [net for c in self.rpz if c.zone is not None for net, _t in rpzmod.client_netblocks(c.zone)]
        if not nets:
            self._audiences = [EVERYONE]
            self._ctx[()] = Ctx()
            return self._audiences
        seen: dict[Ctx, Audience] = {}
        for ip in [rpzmod._representative(n) for n in nets] + [OTHER_CLIENT]:
            ctx, words = self._ctx_for(ip)
            if ctx in seen:
                continue
            key = (("client", ip),)
            seen[ctx] = Audience(
                key=key,
                conditions=words or ("clients outside every view, tag and override netblock",),
                attributes=(("src", ip),),
            )
            self._ctx[key] = ctx
        self._audiences = list(seen.values())
        return self._audiences

    # ---- evaluation
    def evaluate(self, probe: Probe, audience: Audience) -> Decision:
        if audience.key not in self._ctx:
            self.audiences()
        ctx = self._ctx.get(audience.key, Ctx())
        host = probe.host.lower().rstrip(".")
        hit = self._cache.get((host, ctx))
        if hit is None:
            hit = self._cache[(host, ctx)] = self._decide(host, ctx, 0) or NOT_LISTED
        return hit

    def _decide(self, host: str, ctx: Ctx, depth: int) -> Decision | None:
        local, exception = self._local(host, ctx, depth)
        if local is not None:
            return self._unknown_if_missing(host, local) or local
        for clause in self.rpz:
            if clause.tags is not None and not (clause.tags & ctx.tags):
                continue
            if clause.zone is None:
                if clause.remote is not None and self._may_name(host, clause.remote):
                    return Decision(
                        Outcome.UNKNOWN,
                        clause.remote.span,
                        (clause.span, clause.remote.span),
                        False,
                        "",
                        f"rpz zone '{clause.name}' is fetched at run time ({clause.remote.ref}): it "
                        f"may rewrite {host}",
                    )
                continue
            client = dict(ctx.client_rpz).get(clause.name)
            trig = next((t for t in clause.zone.others if t.name == client), None) if client else None
            if trig is None:
                trig = clause.zone.lookup(host)
            if trig is not None:
                d = rpzmod.trigger_decision(clause.zone, trig, host, self.catalog, (clause.span,))
                if client:
                    d = Decision(d.outcome, d.rule, d.trace, False, d.how, d.note, ctx.who)
                elif clause.tags is not None:
                    d = replace(d, scope=ctx.who)
                if d.outcome == Outcome.ALLOW and d.how == "passthru" and exception is None:
                    later = self._later_rpz_block(host, clause, ctx)
                    if later is not None:
                        d = Decision(
                            d.outcome,
                            d.rule,
                            (later.rule,) + d.trace if later.rule else d.trace,
                            True,
                            d.how,
                            f"an exception to '{later.rule.text if later.rule else ''}'",
                        )
                return self._unknown_if_missing(host, d) or d
            other = rpzmod.other_trigger_note(clause.zone, host, self.catalog, (clause.span,))
            if other is not None:
                return other
        for net, typ, s in self.response_ip:
            d = self._response_ip(host, net, typ, s)
            if d is not None:
                return d
        for name, stmt in self.auth:
            owner = self.catalog.service_for_host(host)
            if (
                owner
                and name
                and (host == name or host.endswith("." + name))
                and self.catalog.service_for_host(name)
                and self.catalog.service_for_host(name)[0] == owner[0]
            ):
                return Decision(
                    Outcome.UNKNOWN,
                    stmt.span,
                    (stmt.span,),
                    True,
                    "",
                    f"auth-zone '{name}' answers {host} from its own zone data (not evaluated)",
                )
        if exception is not None and exception.specific:
            return exception  # an explicit exception here stands, whatever a missing file says
        missing = self._unknown_if_missing(host, None)
        if missing is not None:
            return missing
        if exception is not None:
            return exception
        for name, stmt, block in self.forwards:
            owner = self.catalog.service_for_host(host)
            if owner and name and (host == name or host.endswith("." + name)):
                to = (
                    block.first("forward-addr")
                    or block.first("forward-host")
                    or block.first("stub-addr")
                    or block.first("stub-host")
                )
                return Decision(
                    Outcome.ALLOW,
                    stmt.span,
                    (stmt.span,),
                    False,
                    f"{block.kind} to {to.args[0] if to else 'another server'}",
                    "a forward to another resolver is not a block (it may filter on its own)",
                )
        return None

    def _later_rpz_block(self, host: str, clause: RpzClause, ctx: Ctx) -> Decision | None:
        after = False
        for c in self.rpz:
            if c is clause:
                after = True
                continue
            if not after or c.zone is None or (c.tags is not None and not (c.tags & ctx.tags)):
                continue
            t = c.zone.lookup(host)
            if t is not None:
                d = rpzmod.trigger_decision(c.zone, t, host, self.catalog, (c.span,))
                return d if d.outcome == Outcome.DENY else None
        return None

    def _may_name(self, host: str, missing: Missing) -> bool:
        owner = self.catalog.service_for_host(host)
        return owner is not None and (missing.services is None or owner[0] in missing.services)

    def _unknown_if_missing(self, host: str, decision: Decision | None) -> Decision | None:
        if decision is not None and decision.specific:
            return None
        for m in self.missing:
            if self._may_name(host, m):
                return Decision(
                    Outcome.UNKNOWN,
                    m.span,
                    (m.span,),
                    False,
                    "",
                    f"{m.what} {m.ref} is missing: it may decide {host}",
                )
        return None

    def _response_ip(self, host: str, net, typ: str, s: Stmt) -> Decision | None:
        if typ not in RESPIP_BLOCKING:
            return None
        owner = self.catalog.service_for_host(host)
        if owner is None:
            return None
        svc = self.catalog.services[owner[0]]
        if any(net.version == n.version and net.overlaps(n) for n in svc.networks):
            return Decision(
                Outcome.UNKNOWN,
                s.span,
                (s.span,),
                True,
                "",
                f"answers holding {net} (addresses of {svc.name}) get {typ}; whether {host} does "
                f"depends on the address it resolves to",
            )
        return None

    # ---- local zones
    def _zone_sets(self, ctx: Ctx) -> list[tuple[ZoneSet, bool]]:
        """The zone sets to consult in order, and whether a 'resolve normally' answer in each
        moves on to the next (unbound's view-first)."""
        view = self.views.get(ctx.view) if ctx.view else None
        if view is None or not view.zones.any_zone:
            return [(self.global_zones, False)]
        if view.view_first:
            return [(view.zones, True), (self.global_zones, False)]
        return [(view.zones, False)]

    def _local(self, host: str, ctx: Ctx, depth: int) -> tuple[Decision | None, Decision | None]:
        """(the local zones' answer, or None to resolve normally; an ALLOW exception to note)."""
        sets = self._zone_sets(ctx)
        for i, (zs, fall_through) in enumerate(sets):
            zone = zs.find(host, ctx.tags)
            if zone is None:
                if fall_through:
                    continue
                return None, None
            typ, why = self._type(zone, ctx)
            if typ == "noview" and zs is not self.global_zones:
                if fall_through:
                    continue
                return None, None
            dependent = zs is not self.global_zones or zone.tags is not None or bool(why)
            d = self._zone_answer(zs, zone, typ, why, host, ctx, depth)
            if d is not None:
                return (replace(d, scope=ctx.who) if dependent else d), None
            if fall_through:
                continue
            exc = self._exception(zs, zone, typ, host, ctx, depth)
            return None, (replace(exc, scope=ctx.who) if dependent and exc is not None else exc)
        return None, None

    def _type(self, zone: Zone, ctx: Ctx) -> tuple[str, tuple[Span, ...]]:
        for name, typ, span in ctx.overrides:
            if name == zone.name:
                return typ, (span,)
        if zone.tags and ctx.actions:
            for tag, typ, span in ctx.actions:
                if tag in zone.tags and tag in ctx.tags:
                    return typ, (span,)
        return zone.type, ()

    def _exception(
        self, zs: ZoneSet, zone: Zone, typ: str, host: str, ctx: Ctx, depth: int
    ) -> Decision | None:
        """A resolve-normally zone below a blocking one: an explicit exception."""
        if zone.implicit or not zone.name:
            return None
        names = list(suffixes(host)) + [""]
        parent = zs.find(host, ctx.tags, names.index(zone.name) + 1) if zone.name in names else None
        how = f"local-zone {typ}"
        if parent is not None:
            ptyp, why = self._type(parent, ctx)
            pd = self._zone_answer(zs, parent, ptyp, why, host, ctx, depth, exact_data=False)
            if pd is not None and pd.outcome == Outcome.DENY:
                return Decision(
                    Outcome.ALLOW,
                    zone.span,
                    (parent.span, zone.span),
                    True,
                    how,
                    f"an exception to '{parent.span.text}'",
                )
        note = "queries are logged" if typ.startswith("inform") else ""
        return Decision(Outcome.ALLOW, zone.span, (zone.span,), False, how, note)

    def _zone_answer(
        self,
        zs: ZoneSet,
        zone: Zone,
        typ: str,
        why: tuple[Span, ...],
        host: str,
        ctx: Ctx,
        depth: int,
        exact_data: bool = True,
    ) -> Decision | None:
        trace = tuple(zone.earlier[-1:]) + why + (zone.span,)
        specific = zone.name.count(".") >= 1
        note = f"overrides the earlier '{zone.earlier[-1].text}' (the last line wins)" if zone.earlier else ""

        def deny(how: str, extra: str = "") -> Decision:
            return Decision(
                Outcome.DENY, zone.span, trace, specific, how, "; ".join(x for x in (note, extra) if x)
            )

        if typ in ("always_transparent",):
            return None
        if typ == "always_refuse":
            return deny("REFUSED")
        if typ == "always_nxdomain":
            return deny("NXDOMAIN")
        if typ == "always_nodata":
            return deny("NODATA")
        if typ == "always_deny":
            return deny("dropped (no answer)")
        redirect = typ in ("redirect", "inform_redirect")
        data = zs.data_for(zone.name if redirect else host, zone) if exact_data or redirect else []
        usable = [d for d in data if d.rdtype in ("A", "CNAME")]
        if usable:
            return self._data_answer(usable, host, trace, ctx, depth, note)
        if typ == "always_null":
            return deny("sinkhole 0.0.0.0")
        if redirect:
            return deny(
                "NODATA",
                f"the redirect zone has no address for {zone.name}"
                if not data
                else "the redirect zone's data has no A record",
            )
        if typ in ("deny", "inform_deny"):
            return deny("dropped (no answer)")
        if typ == "refuse":
            return deny("REFUSED")
        if typ == "static":
            return deny("NODATA" if data else "NXDOMAIN")
        if typ in ("transparent", "inform", "noview", "ipset") and data:
            return deny("NODATA", f"local data for {host} has no A record")
        return None  # typetransparent, transparent, inform, noview, ipset: resolved normally

    def _data_answer(
        self, data: list[Data], host: str, trace: tuple[Span, ...], ctx: Ctx, depth: int, note: str
    ) -> Decision:
        first = data[0]
        spans = tuple(dict.fromkeys(trace + (first.span,)))
        if first.rdtype == "A":
            d = address_decision(
                str(first.rdata.address), host, self.catalog, first.span, spans, "local-data"
            )
            return Decision(
                d.outcome, d.rule, d.trace, True, d.how, "; ".join(x for x in (note, d.note) if x)
            )
        target = first.rdata.target.to_text().rstrip(".").lower()
        owner = self.catalog.service_for_host(host)
        held = self.catalog.service_for_host(target)
        if owner and held and owner[0] == held[0] and depth < MAX_CNAME_CHAIN:
            inner = self._decide(target, ctx, depth + 1)
            if inner is not None and inner.outcome == Outcome.DENY:
                return Decision(
                    Outcome.DENY,
                    first.span,
                    spans + inner.trace,
                    True,
                    f"CNAME {target}: {inner.how}",
                    inner.note,
                )
            return Decision(
                Outcome.ALLOW,
                first.span,
                spans,
                True,
                f"CNAME {target}",
                f"pointed at {target}, a name of {self.catalog.services[owner[0]].name} itself",
            )
        return Decision(
            Outcome.DENY,
            first.span,
            spans,
            True,
            f"redirected to {target}",
            "a CNAME to another name (a block page or walled garden)",
        )

    def inert_mentions(self, probe: Probe) -> list[Span]:
        return []


NOT_LISTED = Decision(Outcome.ALLOW, None, (), False, "", "unbound's configuration does not name this host")


def _relevant(catalog: Catalog) -> frozenset[str]:
    names = {p.host.lower() for svc in catalog.services.values() for p in svc.probes()}
    names.add(catalog.control_host.lower())
    return frozenset(s for n in names for s in suffixes(n)) | {""}


def parse(path: Path, context: ParseContext) -> UnboundRuleset:
    reader = _Reader(context, _relevant(context.catalog))
    display = context.resolver.display(path)
    reader.read(path, display, (path.resolve(),))
    ruleset = UnboundRuleset(display, reader, context)
    reader.problems.summarise(display, "configuration errors")
    return ruleset
