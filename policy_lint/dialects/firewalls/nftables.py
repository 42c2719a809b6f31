"""Linux nftables: `nft list ruleset` text, `nft -f` scripts and `nft -j list ruleset` JSON,
read the way the kernel runs the chains (never loaded, never run).

    define SOCIAL = { 31.13.24.0/21, 157.240.0.0/16 }
    table inet filter {
        set social { type ipv4_addr; flags interval; elements = $SOCIAL }
        chain forward {
            type filter hook forward priority 0; policy accept;
            ct state established,related accept     # replies: the SYN decides
            iifname "lan0" ip daddr @social drop    # clients on lan0 lose those prefixes
            udp dport 443 drop                      # QUIC only: browsers fall back to TCP
        }
    }

- **Base chains** (`type filter|route hook H priority P; policy accept|drop;`) are where
  packets enter. Several base chains on the same hook (in any table of a matching family:
  `inet` both, `ip` IPv4, `ip6` IPv6, `bridge`/`netdev` frames) run in priority order, lowest
  first, and a packet must get through all of them: `drop`/`reject` anywhere is final,
  `accept` only ends that base chain. A base chain that runs out of rules, or `return`s,
  applies its policy. `jump C` comes back after C ends (or `return`s); `goto C` does not come
  back. `counter`, `log`, `limit rate N`, `comment "..."` (a comment: never a match), NAT and
  `meta ... set` statements do not decide. `type nat` chains never filter here.
- **Paths.** A user behind this box (a router) crosses the `prerouting`, `forward` and
  `postrouting` hooks; the box's own browsing crosses `output` and `postrouting`, and its
  replies come back through `prerouting` and `input`. The `input` hook never sees a client's
  traffic to the internet: a drop there blocks only this host (unless `ct state established`
  is accepted first, the usual case). Each connection is three packets: the SYN (`ct state
  new`), the server's SYN-ACK back (established) and the first data packet (established).
- **Matches**: `ip|ip6 saddr|daddr` with addresses, CIDRs, ranges `a-b`, anonymous sets
  `{ a, b }`, named sets `@set` (`elements = { ... }`, `flags interval`, `add element`),
  `!=`; `meta l4proto`/`ip protocol`/`ip6 nexthdr`; `tcp|udp|th dport|sport` (numbers,
  ranges, `{ sets }`, names, `< > <= >=`); `ct state`; `iifname|oifname|iif|oif` (and `*`
  wildcards); `meta nfproto`; verdict maps (`ip daddr vmap { a : drop }`, `vmap @map`).
  Hostnames resolve through the catalog, never DNS. `limit rate over`/`quota over`/`ct count
  over` match only floods, never one user's browsing. What we cannot evaluate (`meta mark`,
  `fib`, `meta skuid`, raw payload, dynamic sets filled by rules) makes a drop `unknown`.
- Probes are TCP. **QUIC** (UDP 443) is not a way in or out for a service: a rule dropping
  only `udp dport 443` blocks HTTP/3, and browsers fall back to TCP, so it is not a block.
  `tcp flags syn` matches the SYN; `ip frag-off`, `icmp ...`, `meter ... over` never match a
  browser's connection.
- Addresses are judged against every catalog prefix of the service (addressing.py):
  covering some is `blocked-partial`. Audiences: forwarded clients by source address (the
  `saddr` networks and sets the forward path tests, plus "another address"; a client is
  dual-stack: each IPv4 sample goes with the LAN's first IPv6 sample), input and output
  interfaces (`iifname`/`oifname` values plus "another interface"); "this host" when its own
  output path (or the input hook its replies cross) can block.
- Files: `define VAR = ...`/`$VAR`, `include "file"` (relative to the config, globs; a
  missing non-glob include is TE903 and leaves every pass `unknown`; loops TE904),
  `flush ruleset`, `table ... { }` blocks (`flags dormant`: not evaluated) and
  `add|insert|delete table|chain|rule|set|map|element` commands (`insert` puts the rule
  first; `delete rule ... handle N` cannot be followed: handles are not in the file). What
  `nft -c -f` refuses (unbalanced braces or quotes, a chain statement without `;` before `}`,
  unknown statements, undefined `$VAR`, `@set` or jump target, a set without a type, bad
  addresses) is TE901. Bounds: 300 000 rules, braces 32 deep, 5 000 chain visits per packet
  (jumps fanning out into jumps), else TE906/TE901/`unknown`, never a hang.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass, field, replace
from fnmatch import fnmatch
from itertools import product
from pathlib import Path

from policy_lint.catalog import Catalog
from policy_lint.dialects.semantics.addressing import Target, decide_by_address
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.dialects.semantics.chains import ChainResult
from policy_lint.inputs import InputError, read_source
from policy_lint.model import Audience, Decision, Outcome, Probe, Problem, Span

NAME = "nftables"
FILE_PATTERNS = (
    "nftables.conf",
    "*.nft",
    "nftables*.conf",
    "*nftables*.rules",
    "*.nft.json",
    "nftables*.json",
)

FAMILIES = ("ip", "ip6", "inet", "arp", "bridge", "netdev")
MAX_INCLUDE_DEPTH = 16
MAX_JUMP_DEPTH = 64
MAX_NESTING = 32
MAX_CHAIN_VISITS = 5_000  # chain entries per packet walk (chains jumping to chains many times over)
MAX_RULES = 300_000
MAX_AUDIENCES = 64
MAX_SRC_REPS = 32
MAX_DEFINE_ROUNDS = 32
DOC_SUFFIXES = (".md", ".rst", ".html", ".htm", ".py", ".yml", ".yaml", ".txt", ".sh")
PRIORITIES = {
    "raw": -300,
    "mangle": -150,
    "dstnat": -100,
    "filter": 0,
    "security": 50,
    "srcnat": 100,
    "out": 100,
    "conntrack": -200,
}
PORTS = {
    "http": 80,
    "www": 80,
    "https": 443,
    "domain": 53,
    "ssh": 22,
    "ntp": 123,
    "smtp": 25,
    "telnet": 23,
    "ftp": 21,
    "pop3": 110,
    "imap": 143,
    "imaps": 993,
    "pop3s": 995,
    "submission": 587,
    "smtps": 465,
    "http-alt": 8080,
    "webcache": 8080,
    "squid": 3128,
    "snmp": 161,
    "bootps": 67,
    "bootpc": 68,
    "microsoft-ds": 445,
    "netbios-ns": 137,
    "netbios-dgm": 138,
    "netbios-ssn": 139,
    "mdns": 5353,
    "domain-s": 853,
    "sip": 5060,
    "ldap": 389,
    "ldaps": 636,
    "rdp": 3389,
    "ms-wbt-server": 3389,
    "openvpn": 1194,
    "auth": 113,
    "ident": 113,
    "kerberos": 88,
    "xmpp-client": 5222,
    "irc": 194,
}
STATES = {"new", "established", "related", "invalid", "untracked"}
VERDICTS = {"accept", "drop", "reject", "jump", "goto", "return", "continue", "queue"}
# Fields of headers our TCP probes never carry (a rule testing them does not match).
OTHER_PROTOCOLS = {
    "icmp": "icmp",
    "icmpv6": "icmpv6",
    "igmp": "igmp",
    "esp": "esp",
    "ah": "ah",
    "comp": "comp",
    "sctp": "sctp",
    "dccp": "dccp",
    "udplite": "udplite",
    "arp": "arp",
    "gre": "gre",
}
TRANSPORT = {"tcp", "udp", "th", "sctp", "dccp", "udplite"}
META_KEYS = {
    "iifname",
    "oifname",
    "iif",
    "oif",
    "l4proto",
    "nfproto",
    "protocol",
    "mark",
    "skuid",
    "skgid",
    "iiftype",
    "oiftype",
    "pkttype",
    "cpu",
    "iifgroup",
    "oifgroup",
    "cgroup",
    "priority",
    "nftrace",
    "length",
    "random",
    "secmark",
    "ipsec",
    "time",
    "day",
    "hour",
    "rtclassid",
    "ibrname",
    "obrname",
    "ibriport",
    "obriport",
    "ibrpvid",
    "ibrvproto",
    "iifkind",
    "oifkind",
    "sdif",
    "sdifname",
    "broute",
    "secpath",
}
CT_KEYS = {
    "state",
    "status",
    "mark",
    "direction",
    "expiration",
    "helper",
    "l3proto",
    "protocol",
    "saddr",
    "daddr",
    "proto-src",
    "proto-dst",
    "bytes",
    "packets",
    "avgpkt",
    "zone",
    "label",
    "count",
    "id",
    "event",
    "original",
    "reply",
    "ip",
    "ip6",
}
IP_FIELDS = {
    "version",
    "hdrlength",
    "dscp",
    "ecn",
    "length",
    "id",
    "frag-off",
    "ttl",
    "protocol",
    "checksum",
    "saddr",
    "daddr",
    "nexthdr",
    "hoplimit",
    "flowlabel",
    "priority",
    "payload",
}
_OPS = {
    "==": "==",
    "eq": "==",
    "!=": "!=",
    "ne": "!=",
    "<": "<",
    "lt": "<",
    ">": ">",
    "gt": ">",
    "<=": "<=",
    "le": "<=",
    ">=": ">=",
    "ge": ">=",
}
JSON_UNKNOWN = "\x00unknown"

_HEAD = re.compile(
    r"^\s*(?:table\s+(?:(?:inet|ip6?|bridge|netdev|arp)\s+)?[\w.-]+\s*\{|add\s+(?:rule|table|chain)\s+"
    r"(?:inet|ip6?|bridge|netdev|arp)\s|#!\s*/\S*nft\b|flush\s+ruleset\b)"
    r"|\btype\s+(?:filter|nat|route)\s+hook\s+\w+",
    re.M,
)
_JSON_HEAD = re.compile(r'^\s*\{\s*"nftables"\s*:\s*\[')
_INCLUDE_ONLY = re.compile(r'^\s*(?:include\s+"[^"]+"|define\s+\w+\s*=)', re.M)
_WORD = re.compile(r'[^\s{};,"#\\]+|\\(?!\n)')


def detect(path: Path, head: str) -> float:
    name = path.name.lower()
    if _JSON_HEAD.match(head):
        return 0.95
    if path.suffix.lower() in DOC_SUFFIXES and path.suffix.lower() != ".txt":
        return 0.0  # documentation or a shell script quoting nft commands is not a ruleset
    hits = len(_HEAD.findall(head))
    if not hits and any(fnmatch(name, p) for p in FILE_PATTERNS) and _INCLUDE_ONLY.search(head):
        return 0.6  # a top file that only includes and defines (`include "/etc/nftables.d/*.nft"`)
    if not hits or (path.suffix.lower() == ".txt" and hits < 2):
        return 0.0
    if hits >= 2 or name.endswith(".nft") or "nft" in name:
        return 0.95
    return 0.6


# ----------------------------------------------------------------------------- lexing


@dataclass(frozen=True, slots=True)
class Tok:
    text: str  # a word, or one of "\n" ; { } ,
    span: Span
    quoted: bool = False


@dataclass
class Group:
    """`{ ... }`: a block of statements or an anonymous set; items keep the separators."""

    open: Tok
    items: list = field(default_factory=list)


def _lex(lines: list[str], shown: str, problems: list[Problem]) -> list[Tok]:
    out: list[Tok] = []
    for n, line in enumerate(lines, start=1):
        i, size, cont, end = 0, len(line), False, len(line)
        words: list[tuple[str, bool]] = []
        while i < size:
            ch = line[i]
            if ch in " \t\r\f\v":
                i += 1
            elif ch == "#":
                end = i
                break
            elif ch == "\\" and line[i + 1 :].strip() == "":
                cont, end = True, i  # a continuation: this newline is not a separator
                break
            elif ch == '"':
                j = line.find('"', i + 1)
                if j < 0:
                    problems.append(
                        Problem("TE901", Span(shown, n, i + 1, line.strip()), "unterminated quoted string")
                    )
                    j = size
                words.append((line[i + 1 : j], True))
                i = j + 1
            elif ch in "{};,":
                words.append((ch, False))
                i += 1
            else:
                m = _WORD.match(line, i)
                if m is None:
                    i += 1
                    continue
                words.append((m.group(0), False))
                i = m.end()
        # One span per line, its text without the comment (tokens of a line share it:
        # rulesets run to 10^5 lines).
        span = Span(shown, n, size - len(line.lstrip()) + 1, line[:end].strip())
        out.extend(Tok(w, span, q) for w, q in words)
        if not cont:
            out.append(Tok("\n", span))
    return out


def _group(tokens: list[Tok], shown: str, problems: list[Problem]) -> list:
    root: list = []
    stack: list[Group] = []
    ignored = 0  # braces nested deeper than MAX_NESTING (reported once, then skipped)
    for t in tokens:
        here = stack[-1].items if stack else root
        if t.text == "{" and not t.quoted:
            if len(stack) >= MAX_NESTING:
                if not ignored:
                    problems.append(Problem("TE901", t.span, f"braces nest deeper than {MAX_NESTING}"))
                ignored += 1
                continue
            g = Group(t)
            here.append(g)
            stack.append(g)
        elif t.text == "}" and not t.quoted:
            if ignored:
                ignored -= 1
                continue
            if not stack:
                problems.append(Problem("TE901", t.span, "`}` without a matching `{`"))
                continue
            stack.pop()
        else:
            here.append(t)
    if stack:
        problems.append(Problem("TE901", stack[-1].open.span, "`{` is never closed"))
    return root


def _split(items: list) -> list[list]:
    """A block's items as statements: separated by newlines and `;`."""
    out: list[list] = []
    cur: list = []
    for it in items:
        if isinstance(it, Tok) and not it.quoted and it.text in ("\n", ";"):
            if cur:
                out.append(cur)
            cur = []
        else:
            cur.append(it)
    if cur:
        out.append(cur)
    return out


def _flat(items: list) -> list[Tok]:
    out: list[Tok] = []
    for it in items:
        if isinstance(it, Group):
            out.append(Tok("{", it.open.span))
            out.extend(_flat(it.items))
            out.append(Tok("}", it.open.span))
        elif it.quoted or it.text != "\n":
            out.append(it)
    return out


def _text(items: list) -> str:
    parts = []
    for t in _flat(items):
        parts.append(f'"{t.text}"' if t.quoted else t.text)
    return " ".join(parts).replace(" ,", ",")


def _word(it) -> str:
    return it.text if isinstance(it, Tok) else ""


# ----------------------------------------------------------------------------- the model

Net = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(slots=True)
class Values:
    """The right-hand side of a match: literal elements or a named set."""

    nets: list[Net] = field(default_factory=list)
    ranges: list[tuple[int, int, int]] = field(default_factory=list)  # (version, lo, hi)
    ports: list[tuple[int, int]] = field(default_factory=list)
    words: list[str] = field(default_factory=list)  # interface names, states, protocols
    setref: str = ""
    unknown: str = ""  # a hostname outside the catalog, a value we cannot read


@dataclass(slots=True)
class Match:
    kind: str  # addr | port | proto | ct | iface | nfproto | never | unknown | concat | synflag
    neg: bool = False
    values: Values = field(default_factory=Values)
    direction: str = ""  # src | dst | in | out
    family: int | None = None
    proto: str = ""  # for ports: tcp | udp | th | ...
    why: str = ""


@dataclass(slots=True)
class VerdictMap:
    key: Match
    entries: list[tuple[Values, str, str]] = field(default_factory=list)  # (element, verdict, target)
    setref: str = ""


@dataclass(slots=True)
class Rule:
    span: Span
    matches: list[Match] = field(default_factory=list)
    verdict: str = ""  # accept | drop | reject | jump | goto | return | continue | queue | ""
    target: str = ""
    vmap: VerdictMap | None = None
    fills: list[str] = field(default_factory=list)  # sets this rule adds elements to


@dataclass
class Chain:
    name: str
    span: Span
    rules: list[Rule] = field(default_factory=list)
    type: str = ""
    hook: str = ""
    priority: int = 0
    policy: str = "accept"
    policy_span: Span | None = None
    order: int = 0

    @property
    def base(self) -> bool:
        return bool(self.hook)


@dataclass
class NamedSet:
    name: str
    span: Span
    is_map: bool = False
    elements: list[tuple[Values, str, str, Span]] = field(
        default_factory=list
    )  # (value, verdict, target, span)
    dynamic: bool = False
    datatype: str = ""


@dataclass
class Table:
    family: str
    name: str
    span: Span
    chains: dict[str, Chain] = field(default_factory=dict)
    sets: dict[str, NamedSet] = field(default_factory=dict)
    dormant: bool = False


# ----------------------------------------------------------------------------- parsing


def _port(word: str) -> int | None:
    if word.isdigit():
        n = int(word)
        return n if n <= 65535 else None
    return PORTS.get(word.lower())


class _Parser:
    def __init__(self, context: ParseContext, shown: str):
        self.context = context
        self.catalog: Catalog = context.catalog
        self.shown = shown
        self.problems: list[Problem] = []
        self.defines: dict[str, list] = {}
        self.tables: dict[tuple[str, str], Table] = {}
        self.active: list[Path] = []
        self.missing: list[tuple[str, Span]] = []
        self.rule_count = 0
        self.order = 0
        self.pending_refs: list[tuple[Table, str, Span]] = []

    def problem(self, code: str, span: Span, message: str) -> None:
        if len(self.problems) < 1000:
            self.problems.append(Problem(code, span, message))

    # ---------------------------------------------------------------- files and statements

    def parse_file(self, path: Path, shown: str, depth: int = 0, ctx: tuple | None = None) -> None:
        resolved = path.resolve()
        if resolved in self.active:
            self.problem("TE904", Span(shown, 1, 1), f"{shown} includes itself (loop)")
            return
        try:
            src = read_source(path, shown)
        except InputError as exc:
            if depth == 0:
                raise
            self.problem("TE902", Span(shown, 1, 1), str(exc))
            return
        self.problems.extend(src.problems)
        self.active.append(resolved)
        try:
            if _JSON_HEAD.match("\n".join(src.lines[:5])) or (
                src.lines and src.lines[0].lstrip().startswith("{") and path.suffix.lower() == ".json"
            ):
                self.parse_json("\n".join(src.lines), shown, path, depth)
            else:
                items = _group(_lex(src.lines, shown, self.problems), shown, self.problems)
                self.block(items, ctx, path, depth)
        finally:
            self.active.pop()

    def block(self, items: list, ctx: tuple | None, path: Path, depth: int) -> None:
        """Statements of the top level (ctx None), of a table (ctx ('table', t)) or a chain."""
        for st in _split(items):
            st = self.expand(st)
            if not st:
                continue
            head = _word(st[0])
            if head == "include":
                self.include(st, ctx, path, depth)
            elif head in ("define", "redefine"):
                self.define(st)
            elif head == "undefine":
                if len(st) > 1:
                    self.defines.pop(_word(st[1]), None)
            elif ctx is None:
                self.command(st, path, depth)
            elif ctx[0] == "table":
                self.table_statement(ctx[1], st, path, depth)
            elif ctx[0] == "chain":
                self.chain_statement(ctx[1], ctx[2], st)

    def expand(self, st: list, rounds: int = 0) -> list:
        """`$VAR` replaced by its definition (also inside anonymous sets)."""
        if rounds > MAX_DEFINE_ROUNDS:
            return st
        if _word(st[0]) in ("define", "redefine") if st else False:
            # The name being defined stays; its value is expanded.
            return st[:3] + self.expand(st[3:], rounds) if len(st) > 3 else st
        out: list = []
        for it in st:
            if isinstance(it, Group):
                out.append(Group(it.open, self.expand(it.items, rounds)))
            elif not it.quoted and "$" in it.text:
                name = it.text[1:] if it.text.startswith("$") else ""
                if name in self.defines:
                    out.extend(self.expand(self.defines[name], rounds + 1))
                    continue

                def sub(m: re.Match) -> str:
                    val = self.defines.get(m.group(1))
                    if val is None:
                        self.problem("TE901", it.span, f"${m.group(1)} is not defined")
                        return "__undefined__"
                    return _text(val)

                out.append(Tok(re.sub(r"\$([A-Za-z_][\w-]*)", sub, it.text), it.span))
            else:
                out.append(it)
        return out

    def define(self, st: list) -> None:
        if len(st) < 4 or _word(st[2]) != "=":
            self.problem("TE901", st[0].span, "define needs `NAME = value`")
            return
        self.defines[_word(st[1])] = st[3:]

    def include(self, st: list, ctx: tuple | None, path: Path, depth: int) -> None:
        span = st[0].span
        if len(st) < 2 or not isinstance(st[1], Tok):
            self.problem("TE901", span, "include needs a quoted file name")
            return
        ref = st[1].text
        if depth >= MAX_INCLUDE_DEPTH:
            self.problem("TE904", span, f"includes nest deeper than {MAX_INCLUDE_DEPTH}")
            return
        resolver = self.context.resolver
        if any(c in ref for c in "*?["):
            # nft: a wildcard include that matches nothing is not an error.
            targets = resolver.glob(ref, path)
        else:
            hit = resolver.resolve(ref, path)
            if hit is None:
                self.problem("TE903", span, f"included file {ref!r} not found")
                self.missing.append((ref, span))
                return
            targets = [hit]
        for target in targets:
            self.parse_file(target, resolver.display(target), depth + 1, ctx)

    def _family_table(self, words: list, span: Span) -> tuple[str, str, int] | None:
        """`[family] table` at the start of `words`: (family, table, words used)."""
        ws = [_word(w) for w in words]
        if ws and ws[0] in FAMILIES:
            if len(ws) < 2 or not ws[1]:
                self.problem("TE901", span, "a table name is missing")
                return None
            return ws[0], ws[1], 2
        if ws and ws[0]:
            return "ip", ws[0], 1
        self.problem("TE901", span, "a table name is missing")
        return None

    def table(self, family: str, name: str, span: Span) -> Table:
        t = self.tables.get((family, name))
        if t is None:
            t = self.tables[(family, name)] = Table(family, name, span)
        return t

    def command(self, st: list, path: Path, depth: int) -> None:
        span = st[0].span
        words = [_word(w) for w in st]
        verb = words[0]
        if verb in (
            "add",
            "create",
            "insert",
            "replace",
            "delete",
            "destroy",
            "flush",
            "list",
            "reset",
            "rename",
        ):
            obj, rest = (words[1] if len(words) > 1 else ""), st[2:]
        elif verb in ("table", "chain", "rule", "set", "map", "element"):
            verb, obj, rest = "add", verb, st[1:]
        else:
            self.problem("TE901", span, f"nft does not know the command {verb!r}")
            return
        if verb in ("list", "reset", "rename"):
            return
        if obj == "ruleset":
            if verb == "flush":
                self.tables.clear()
            return
        if obj not in (
            "table",
            "chain",
            "rule",
            "set",
            "map",
            "element",
            "counter",
            "quota",
            "limit",
            "flowtable",
            "ct",
            "secmark",
            "synproxy",
        ):
            self.problem("TE901", span, f"nft does not know {verb} {obj!r}")
            return
        ft = self._family_table(rest, span)
        if ft is None:
            return
        family, tname, used = ft
        rest = rest[used:]
        if obj == "table":
            if verb in ("delete", "destroy"):
                self.tables.pop((family, tname), None)
                return
            t = self.table(family, tname, span)
            if verb == "flush":
                for c in t.chains.values():
                    c.rules.clear()
                return
            if rest and isinstance(rest[-1], Group):
                self.block(rest[-1].items, ("table", t), path, depth)
            return
        t = self.tables.get((family, tname))
        if t is None:
            if verb not in ("delete", "destroy", "flush"):
                # nft refuses to add to a table that was never declared.
                self.problem("TE901", span, f"table {family} {tname} does not exist")
            return
        if not rest:
            self.problem("TE901", span, f"{obj} name missing")
            return
        oname = _word(rest[0])
        if obj == "chain":
            if verb in ("delete", "destroy"):
                t.chains.pop(oname, None)
            elif verb == "flush":
                if oname in t.chains:
                    t.chains[oname].rules.clear()
            else:
                c = self.chain(t, oname, span)
                if len(rest) > 1 and isinstance(rest[1], Group):
                    self.chain_body(t, c, rest[1], path, depth)
        elif obj == "rule":
            if verb in ("delete", "destroy", "replace"):
                return  # by handle: handles are not in the file
            c = t.chains.get(oname)
            if c is None:
                self.problem("TE901", span, f"chain {oname!r} does not exist in table {family} {tname}")
                return
            body = rest[1:]
            position = None
            if len(body) >= 2 and _word(body[0]) in ("position", "handle", "index"):
                position = _word(body[1])
                body = body[2:]
            rule = self.rule(t, body, span)
            if rule is None:
                return
            if verb == "insert":
                # `insert` puts the rule first (after a handle we cannot know: first as well).
                c.rules.insert(0, rule)
            else:
                c.rules.append(rule)
        elif obj in ("set", "map"):
            if verb in ("delete", "destroy"):
                t.sets.pop(oname, None)
            elif verb == "flush":
                if oname in t.sets:
                    t.sets[oname].elements.clear()
            else:
                s = t.sets.get(oname) or NamedSet(oname, span, obj == "map")
                t.sets[oname] = s
                if len(rest) > 1 and isinstance(rest[1], Group):
                    self.set_body(t, s, rest[1].items)
                if not s.datatype:
                    self.problem(
                        "TE901", span, f"{obj} {oname} does not say its type (`type ...` or `typeof ...`)"
                    )
        elif obj == "element":
            s = t.sets.get(oname)
            if s is None:
                self.problem("TE901", span, f"set {oname!r} does not exist in table {family} {tname}")
                return
            if len(rest) > 1 and isinstance(rest[1], Group):
                elems = self.elements(t, rest[1], s.is_map)
                if verb in ("delete", "destroy"):
                    gone = {repr(v) for v, _a, _b, _s in elems}
                    s.elements = [e for e in s.elements if repr(e[0]) not in gone]
                else:
                    s.elements.extend(elems)

    def chain_body(self, t: Table, c: Chain, body: Group, path: Path, depth: int) -> None:
        last = body.items[-1] if body.items else None
        if last is not None and not (isinstance(last, Tok) and not last.quoted and last.text in ("\n", ";")):
            # nft's grammar: each statement of a chain ends with a newline or `;`, also the last
            # one before `}` (`chain c { counter }` is refused).
            self.problem("TE901", body.open.span, "the last statement of the chain needs `;` before `}`")
        self.block(body.items, ("chain", t, c), path, depth)

    def chain(self, t: Table, name: str, span: Span) -> Chain:
        c = t.chains.get(name)
        if c is None:
            self.order += 1
            c = t.chains[name] = Chain(name, span, order=self.order)
        return c

    def table_statement(self, t: Table, st: list, path: Path, depth: int) -> None:
        span = st[0].span
        head = _word(st[0])
        if head in ("chain", "set", "map") and len(st) >= 2:
            name = _word(st[1])
            body = st[2] if len(st) > 2 and isinstance(st[2], Group) else None
            if head == "chain":
                c = self.chain(t, name, span)
                if body is not None:
                    self.chain_body(t, c, body, path, depth)
            else:
                s = t.sets.get(name) or NamedSet(name, span, head == "map")
                t.sets[name] = s
                if body is not None:
                    self.set_body(t, s, body.items)
                if not s.datatype:
                    self.problem(
                        "TE901", span, f"{head} {name} does not say its type (`type ...` or `typeof ...`)"
                    )
        elif head == "flags":
            t.dormant = "dormant" in [_word(w) for w in st[1:]]
        elif head in ("comment", "flowtable", "counter", "quota", "limit", "ct", "secmark", "synproxy"):
            return
        else:
            self.problem("TE901", span, f"nft does not know {head!r} inside a table")

    def chain_statement(self, t: Table, c: Chain, st: list) -> None:
        span = st[0].span
        words = [_word(w) for w in st]
        head = words[0]
        if head == "type":
            if len(words) < 4 or words[2] != "hook":
                self.problem("TE901", span, "base chain needs `type T hook H priority P`")
                return
            c.type, c.hook = words[1], words[3]
            if "priority" in words:
                c.priority = self.priority(words[words.index("priority") + 1 :], span)
            else:
                self.problem("TE901", span, "base chain without a priority")
            if "policy" in words:  # `type ... priority 0; policy drop;` written without the `;`
                self.policy(c, words[words.index("policy") :], span)
            return
        if head == "policy":
            self.policy(c, words, span)
            return
        if head in ("comment", "devices", "device"):
            return
        rule = self.rule(t, st, span)
        if rule is not None:
            c.rules.append(rule)

    def policy(self, c: Chain, words: list[str], span: Span) -> None:
        if len(words) < 2 or words[1] not in ("accept", "drop"):
            self.problem("TE901", span, "policy must be accept or drop")
            return
        c.policy, c.policy_span = words[1], span

    def priority(self, words: list[str], span: Span) -> int:
        total, sign = 0, 1
        ok = False
        for w in words:
            if w in ("+", "-"):
                sign = 1 if w == "+" else -1
                continue
            try:
                total += sign * int(w)
                ok = True
            except ValueError:
                if w in PRIORITIES:
                    total += sign * PRIORITIES[w]
                    ok = True
                else:
                    break
            sign = 1
        if not ok:
            self.problem("TE901", span, "priority must be a number or a standard name (filter, raw, ...)")
        return total

    def set_body(self, t: Table, s: NamedSet, items: list) -> None:
        for st in _split(self.expand(items)):
            words = [_word(w) for w in st]
            head = words[0]
            if head == "elements":
                g = next((x for x in st if isinstance(x, Group)), None)
                if g is None:
                    self.problem("TE901", st[0].span, "elements need `= { ... }`")
                    continue
                s.elements.extend(self.elements(t, g, s.is_map))
            elif head in ("type", "typeof"):
                s.datatype = " ".join(words[1:])
            elif head == "flags":
                if any(w in ("dynamic", "timeout") for w in words):
                    s.dynamic = True
            elif head in (
                "timeout",
                "gc-interval",
                "size",
                "policy",
                "auto-merge",
                "counter",
                "comment",
                "quota",
            ):
                if head == "timeout":
                    s.dynamic = True
            else:
                self.problem("TE901", st[0].span, f"nft does not know {head!r} inside a set")

    def elements(self, t: Table, g: Group, is_map: bool) -> list[tuple[Values, str, str, Span]]:
        out = []
        for elem in self._comma_items(g.items):
            words = [_word(w) for w in elem if isinstance(w, Tok)]
            span = elem[0].span
            verdict = target = ""
            if is_map and ":" in words:
                k = words.index(":")
                verdict = words[k + 1] if k + 1 < len(words) else ""
                target = words[k + 2] if verdict in ("jump", "goto") and k + 2 < len(words) else ""
                words = words[:k]
            elif is_map and words and words[-1].endswith(":"):
                words[-1] = words[-1][:-1]
            out.append((self.value(words, span), verdict, target, span))
        return out

    @staticmethod
    def _comma_items(items: list) -> list[list]:
        out: list[list] = []
        cur: list = []
        for it in _flat(items):
            if it.text == "," and not it.quoted:
                if cur:
                    out.append(cur)
                cur = []
            elif it.text in ("{", "}") and not it.quoted:
                continue
            else:
                cur.append(it)
        if cur:
            out.append(cur)
        return out

    def value(self, words: list[str], span: Span) -> Values:
        """One element: an address, a network, a range, a port, a name; `a . b` is a concatenation."""
        v = Values()
        if "." in words:
            v.unknown = "a concatenation"
            return v
        if len(words) >= 2 and words[1] in ("timeout", "expires", "comment", "counter"):
            words = words[:1]
        for w in words:
            self.word_into(w, v, span)
        return v

    def word_into(self, w: str, v: Values, span: Span) -> None:
        if w in ("timeout", "expires", "counter", "packets", "bytes", "comment"):
            return
        try:
            v.nets.append(ipaddress.ip_network(w.strip("[]"), strict=False))
            return
        except ValueError:
            pass
        if "-" in w:
            lo, _, hi = w.partition("-")
            try:
                a, b = ipaddress.ip_address(lo), ipaddress.ip_address(hi)
                if a.version == b.version:
                    v.ranges.append((a.version, int(a), int(b)))
                    return
            except ValueError:
                pl, ph = _port(lo), _port(hi)
                if pl is not None and ph is not None:
                    v.ports.append((pl, ph))
                    return
        p = _port(w)
        if p is not None:
            v.ports.append((p, p))
            v.words.append(w)
            return
        if re.fullmatch(r"\d+(\.\d+)+(/\d+)?|[0-9a-fA-F:]+:[0-9a-fA-F:]*(/\d+)?", w):
            self.problem("TE901", span, f"{w!r} is not a valid address")
            v.unknown = f"invalid address {w}"
            return
        v.words.append(w)

    # ---------------------------------------------------------------- rules

    def rule(self, t: Table, st: list, span: Span) -> Rule | None:
        self.rule_count += 1
        if self.rule_count > MAX_RULES:
            if self.rule_count == MAX_RULES + 1:
                self.problem("TE906", span, f"more than {MAX_RULES} rules: the rest are not evaluated")
            return None
        span = Span(span.path, span.line, span.col, span.text or _text(st)[:200])
        rule = Rule(span)
        toks = st
        i, n = 0, len(toks)

        def w(k: int) -> str:
            return _word(toks[k]) if k < n else ""

        while i < n:
            word = w(i)
            it = toks[i]
            if isinstance(it, Group):
                self.problem("TE901", it.open.span, "a set `{ ... }` without a match before it")
                return None
            if word == JSON_UNKNOWN:
                rule.matches.append(Match("unknown", why=w(i + 1) or "an expression"))
                i += 2
                continue
            if word in VERDICTS and not it.quoted:
                rule.verdict = word
                if word in ("jump", "goto"):
                    rule.target = w(i + 1)
                    if not rule.target:
                        self.problem("TE901", span, f"{word} needs a chain name")
                        return None
                    self.pending_refs.append((t, "chain:" + rule.target, span))
                    i += 2
                elif word == "reject":
                    i += 1
                    if w(i) == "with":
                        i += 3  # with tcp reset | with icmp type X | with icmpx X
                        while i < n and w(i) not in VERDICTS and w(i) not in ("comment", "counter"):
                            i += 1
                else:
                    i += 1
                    if word == "queue":
                        while (i < n and w(i) in ("num", "flags", "bypass", "fanout", "to")) or (
                            i < n and re.fullmatch(r"[\d-]+|,|bypass|fanout", w(i))
                        ):
                            i += 1
                continue
            if word == "comment":
                i += 2
                continue
            if word == "counter":
                i += 1
                while w(i) in ("packets", "bytes", "name"):
                    i += 2
                continue
            if word == "log":
                i += 1
                while w(i) in ("prefix", "level", "flags", "group", "snaplen", "queue-threshold"):
                    if w(i) == "flags":
                        i += 2
                        while w(i) == ",":
                            i += 2
                    else:
                        i += 2
                continue
            if word in ("limit", "quota"):
                i, m = self.rate(toks, i, word)
                if m is not None:
                    rule.matches.append(m)
                continue
            if word == "meter":
                # `meter NAME [size N] { key limit rate over ... }`: per-source flood control.
                j = i + 1
                while j < n and not isinstance(toks[j], Group):
                    j += 1
                inner = [_word(x) for x in _flat(toks[j].items)] if j < n else []
                rule.matches.append(
                    Match("never", why="a meter over a rate")
                    if "over" in inner
                    else Match("unknown", why="a meter")
                )
                i = j + 1
                continue
            if word in (
                "masquerade",
                "snat",
                "dnat",
                "redirect",
                "tproxy",
                "dup",
                "fwd",
                "synproxy",
                "notrack",
            ):
                i = n if word != "notrack" else i + 1  # their arguments run to the end of the rule
                continue
            if word in ("add", "update", "delete") and w(i + 1).startswith("@"):
                rule.fills.append(w(i + 1)[1:])
                i += 2
                if i < n and isinstance(toks[i], Group):
                    i += 1
                continue
            if word in ("ip", "ip6"):
                i = self.ip_match(t, toks, i, rule)
                if i < 0:
                    return None
                continue
            if word in TRANSPORT:
                i = self.transport_match(t, toks, i, rule)
                if i < 0:
                    return None
                continue
            if (
                word in OTHER_PROTOCOLS
                or word
                in (
                    "ether",
                    "vlan",
                    "arp",
                    "rt",
                    "frag",
                    "dst",
                    "hbh",
                    "mh",
                    "srh",
                    "fib",
                    "socket",
                    "osf",
                    "ipsec",
                    "exthdr",
                    "tunnel",
                    "numgen",
                    "jhash",
                    "symhash",
                    "inner",
                )
                or word.startswith("@")
            ):
                i = self.other_match(t, toks, i, rule)
                continue
            if word == "meta" or word in META_KEYS:
                i = self.meta_match(t, toks, i + (word == "meta"), rule)
                if i < 0:
                    return None
                continue
            if word == "ct":
                i = self.ct_match(t, toks, i + 1, rule)
                continue
            if word in ("mark", "set", "flow") or word.startswith("tcp"):
                i = self.other_match(t, toks, i, rule)
                continue
            if word == "vmap":
                self.problem("TE901", span, "vmap without a key before it")
                return None
            self.problem("TE901", getattr(it, "span", span), f"nft does not understand {word!r} here")
            return None
        return rule

    def rate(self, toks: list, i: int, word: str) -> tuple[int, Match | None]:
        n = len(toks)
        i += 1
        if word == "limit" and i < n and _word(toks[i]) == "name":
            return i + 2, Match("unknown", why="a named limit")
        if i < n and _word(toks[i]) == "rate":
            i += 1
        over = i < n and _word(toks[i]) == "over"
        if over or (i < n and _word(toks[i]) == "until"):
            i += 1
        i += 1  # the amount, e.g. 5/second or 10
        while i < n and re.fullmatch(
            r"[a-z]*/?(second|minute|hour|day|week)|[kmg]?bytes(/\w+)?|packets"
            r"|burst|\d+",
            _word(toks[i]) or "-",
        ):
            i += 1
        # `limit rate over`/`quota over` match only traffic beyond the rate: floods, not a
        # user's browsing; plain `limit rate N` matches (one user stays under any sane rate).
        return i, Match("never", why=f"{word} over a rate") if over else None

    def operator(self, toks: list, i: int) -> tuple[str, int]:
        w = _word(toks[i]) if i < len(toks) else ""
        if w in _OPS:
            return _OPS[w], i + 1
        return "==", i

    def operand(self, t: Table, toks: list, i: int, span: Span) -> tuple[Values, int]:
        """A value, `{ set }`, `@set` or a comma list (`established,related`)."""
        n = len(toks)
        if i >= n:
            self.problem("TE901", span, "a match without a value")
            return Values(unknown="missing value"), i
        it = toks[i]
        if isinstance(it, Group):
            v = Values()
            for elem in self._comma_items(it.items):
                ev = self.value([_word(x) for x in elem], elem[0].span)
                v.nets += ev.nets
                v.ranges += ev.ranges
                v.ports += ev.ports
                v.words += ev.words
                v.unknown = v.unknown or ev.unknown
            return v, i + 1
        word = _word(it)
        if word.startswith("@"):
            self.pending_refs.append((t, "set:" + word[1:], span))
            return Values(setref=word[1:]), i + 1
        words = [word]
        i += 1
        while i + 1 < n and _word(toks[i]) == "," and not toks[i].quoted:
            words.append(_word(toks[i + 1]))
            i += 2
        v = Values()
        for w in words:
            if w.startswith("!"):
                w = w[1:]
            self.word_into(w, v, it.span)
        return v, i

    def resolve_names(self, v: Values, span: Span) -> Values:
        """Hostnames among address values resolve through the catalog (nft resolves them once)."""
        names = [w for w in v.words if not w.isdigit()]
        if not names:
            return v
        for name in names:
            hit = self.catalog.service_for_host(name)
            if hit:
                v.nets += [ipaddress.ip_network(a) for a in self.catalog.services[hit[0]].addresses]
            elif name.lower() == self.catalog.control_host:
                v.nets += [ipaddress.ip_network(a) for a in self.catalog.control_addresses]
            elif "." in name:
                v.unknown = v.unknown or f"{name} (a name nft resolves at load time)"
            else:
                self.problem("TE901", span, f"{name!r} is not an address")
                v.unknown = v.unknown or f"invalid address {name}"
        v.words = []
        return v

    def keyed(self, t: Table, toks: list, i: int, rule: Rule, match: Match) -> int:
        """Operator, value (or `vmap`) after a key; appends the match to the rule."""
        n = len(toks)
        if i < n and _word(toks[i]) == "&":
            match.kind, match.why = "unknown", match.why or "a bitmask"
            i += 2
        if i < n and _word(toks[i]) == "vmap":
            vm = VerdictMap(match)
            i += 1
            if i < n and _word(toks[i]).startswith("@"):
                vm.setref = _word(toks[i])[1:]
                self.pending_refs.append((t, "set:" + vm.setref, rule.span))
            elif i < n and isinstance(toks[i], Group):
                vm.entries = [
                    (v, verdict, target) for v, verdict, target, _s in self.elements(t, toks[i], True)
                ]
            rule.vmap = vm
            return i + 1
        op, i = self.operator(toks, i)
        v, i = self.operand(t, toks, i, rule.span)
        if match.kind == "addr" and not v.setref:
            v = self.resolve_names(v, rule.span)
        if op == "!=":
            match.neg = True
        elif op in ("<", ">", "<=", ">=") and match.kind == "port" and v.ports:
            p = v.ports[0][0]
            lo, hi = {"<": (0, p - 1), "<=": (0, p), ">": (p + 1, 65535), ">=": (p, 65535)}[op]
            v.ports = [(lo, hi)]
        elif op != "==" and match.kind != "unknown":
            match.kind, match.why = "unknown", f"a comparison {op}"
        match.values = v
        rule.matches.append(match)
        return i

    def _concat(self, toks: list, i: int) -> int:
        """Skip `. proto field` parts of a concatenated key."""
        n = len(toks)
        while i < n and _word(toks[i]) == ".":
            i += 1
            while i < n and _word(toks[i]) in (
                TRANSPORT
                | {"ip", "ip6", "meta", "ct", "ether"}
                | IP_FIELDS
                | META_KEYS
                | {"dport", "sport", "state"}
            ):
                i += 1
        return i

    def ip_match(self, t: Table, toks: list, i: int, rule: Rule) -> int:
        fam = 4 if _word(toks[i]) == "ip" else 6
        fld = _word(toks[i + 1]) if i + 1 < len(toks) else ""
        i += 2
        if fld in ("saddr", "daddr"):
            if i < len(toks) and _word(toks[i]) == ".":
                i = self._concat(toks, i)
                return self.keyed(t, toks, i, rule, Match("concat", family=fam, why="a concatenated set"))
            return self.keyed(
                t, toks, i, rule, Match("addr", direction="src" if fld == "saddr" else "dst", family=fam)
            )
        if fld in ("protocol", "nexthdr"):
            return self.keyed(t, toks, i, rule, Match("proto", family=fam))
        if fld == "frag-off":
            # Nothing of a browser's TCP connection is fragmented.
            j = self.keyed(t, toks, i, rule, Match("unknown", family=fam))
            rule.matches[-1] = Match("never", family=fam, why="IP fragments")
            return j
        if fld in IP_FIELDS or fld in ("option",):
            return self.keyed(
                t, toks, i, rule, Match("unknown", family=fam, why=f"{_word(toks[i - 2])} {fld}")
            )
        self.problem("TE901", rule.span, f"nft does not know the field {_word(toks[i - 2])} {fld!r}")
        return -1

    def transport_match(self, t: Table, toks: list, i: int, rule: Rule) -> int:
        proto = _word(toks[i])
        fld = _word(toks[i + 1]) if i + 1 < len(toks) else ""
        i += 2
        if fld in ("dport", "sport"):
            if i < len(toks) and _word(toks[i]) == ".":
                i = self._concat(toks, i)
                return self.keyed(t, toks, i, rule, Match("concat", proto=proto, why="a concatenated set"))
            return self.keyed(
                t, toks, i, rule, Match("port", direction="dst" if fld == "dport" else "src", proto=proto)
            )
        if fld == "flags" and proto == "tcp":
            j = self.keyed(t, toks, i, rule, Match("synflag", proto="tcp"))
            m = rule.matches[-1] if rule.matches else None
            if m is not None and m.kind == "synflag" and m.values.words not in (["syn"],):
                m.kind, m.why = "unknown", "tcp flags"
            return j
        if fld == "option":
            rule.matches.append(Match("unknown", proto=proto, why=f"{proto} option"))
            return self._skip_expr(toks, i)
        if fld in (
            "flags",
            "option",
            "checksum",
            "sequence",
            "ackseq",
            "doff",
            "window",
            "urgptr",
            "length",
            "vtag",
            "chunk",
            "type",
        ):
            return self.keyed(t, toks, i, rule, Match("unknown", proto=proto, why=f"{proto} {fld}"))
        self.problem("TE901", rule.span, f"nft does not know the field {proto} {fld!r}")
        return -1

    def meta_match(self, t: Table, toks: list, i: int, rule: Rule) -> int:
        key = _word(toks[i]) if i < len(toks) else ""
        i += 1
        if key not in META_KEYS:
            self.problem("TE901", rule.span, f"nft does not know meta {key!r}")
            return -1
        if i < len(toks) and _word(toks[i]) == "set":  # a statement: meta mark set 1
            return self._skip_expr(toks, i + 1)
        if key in ("iifname", "oifname", "iif", "oif"):
            return self.keyed(
                t, toks, i, rule, Match("iface", direction="in" if key.startswith("i") else "out")
            )
        if key == "l4proto":
            return self.keyed(t, toks, i, rule, Match("proto"))
        if key == "nfproto":
            return self.keyed(t, toks, i, rule, Match("nfproto"))
        if key in ("hour", "day", "time"):
            rule.matches.append(Match("unknown", why=f"a time window (meta {key})"))
            return self._skip_expr(toks, i)
        return self.keyed(t, toks, i, rule, Match("unknown", why=f"meta {key}"))

    def ct_match(self, t: Table, toks: list, i: int, rule: Rule) -> int:
        key = _word(toks[i]) if i < len(toks) else ""
        i += 1
        if key in ("original", "reply"):
            key = _word(toks[i]) if i < len(toks) else ""
            i += 1
        if key not in CT_KEYS:
            self.problem("TE901", rule.span, f"nft does not know ct {key!r}")
            return len(toks)
        if i < len(toks) and _word(toks[i]) == "set":
            return self._skip_expr(toks, i + 1)
        if key == "state":
            return self.keyed(t, toks, i, rule, Match("ct"))
        if key == "count":
            over = i < len(toks) and _word(toks[i]) == "over"
            j = self._skip_expr(toks, i + over)
            rule.matches.append(Match("never" if over else "unknown", why="ct count"))
            return j
        return self.keyed(t, toks, i, rule, Match("unknown", why=f"ct {key}"))

    def other_match(self, t: Table, toks: list, i: int, rule: Rule) -> int:
        word = _word(toks[i])
        proto = OTHER_PROTOCOLS.get(word)
        if proto:  # a header our TCP probes do not have
            rule.matches.append(Match("never", why=f"{proto} packets"))
        elif word in ("set", "mark", "flow"):
            pass  # statements (`mark set`, `flow add @ft`): do not decide
        else:
            rule.matches.append(Match("unknown", why=word))
        return self._skip_expr(toks, i + 1)

    @staticmethod
    def _skip_expr(toks: list, i: int) -> int:
        """Skip to the next verdict or statement keyword."""
        n = len(toks)
        while i < n:
            w = _word(toks[i])
            if (
                isinstance(toks[i], Tok)
                and not toks[i].quoted
                and (
                    w in VERDICTS
                    or w
                    in (
                        "counter",
                        "log",
                        "comment",
                        "limit",
                        "quota",
                        "ip",
                        "ip6",
                        "meta",
                        "ct",
                        "masquerade",
                        "snat",
                        "dnat",
                        "notrack",
                        "vmap",
                    )
                    or w in TRANSPORT
                    or w in ("iifname", "oifname", "iif", "oif")
                )
            ):
                return i
            i += 1
        return i

    # ---------------------------------------------------------------- JSON

    def parse_json(self, text: str, shown: str, path: Path, depth: int) -> None:
        try:
            doc = json.loads(text)
        except (ValueError, RecursionError) as exc:
            line = getattr(exc, "lineno", 1)
            self.problem("TE901", Span(shown, line, getattr(exc, "colno", 1)), f"not valid JSON: {exc}")
            return
        if not isinstance(doc, dict) or not isinstance(doc.get("nftables"), list):
            self.problem("TE901", Span(shown, 1, 1), 'nft JSON needs {"nftables": [ ... ]}')
            return
        offsets = _json_offsets(text)
        for k, obj in enumerate(doc["nftables"]):
            line = text.count("\n", 0, offsets[k]) + 1 if k < len(offsets) else 1
            span = Span(shown, line, 1)
            if not isinstance(obj, dict) or len(obj) != 1:
                self.problem("TE901", span, "each nftables entry is one object with one key")
                continue
            try:
                command = _json_command(obj)
            except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
                self.problem("TE901", span, f"nft JSON entry not understood: {exc!s}"[:200])
                continue
            if not command:
                continue
            span = Span(shown, line, 1, command[:200])
            # Every token of the entry points at the entry's line in the JSON file.
            toks = [Tok(x.text, span, x.quoted) for x in _lex([command], shown, self.problems)]
            items = _group(toks, shown, self.problems)
            self.block(items, None, path, depth)


def _json_offsets(text: str) -> list[int]:
    """Where each element of the top-level "nftables" array starts."""
    m = re.search(r'"nftables"\s*:\s*\[', text)
    if m is None:
        return []
    dec = json.JSONDecoder()
    out: list[int] = []
    i = m.end()
    size = len(text)
    while i < size:
        while i < size and text[i] in " \t\r\n,":
            i += 1
        if i >= size or text[i] == "]":
            break
        out.append(i)
        try:
            _obj, i = dec.raw_decode(text, i)
        except ValueError:
            break
    return out


def _q(s: object) -> str:
    s = str(s)
    return f'"{s}"' if (not s or re.search(r"[\s{};,#]", s)) and '"' not in s else s


def _json_value(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, str):
        return _q(v)
    if isinstance(v, list):
        return ",".join(_json_value(x) for x in v)
    if isinstance(v, dict):
        k, body = next(iter(v.items()))
        if k == "prefix":
            return f"{body['addr']}/{body['len']}"
        if k == "range":
            return f"{_json_value(body[0])}-{_json_value(body[1])}"
        if k == "set":
            elems = body if isinstance(body, list) else [body]
            return "{ " + ", ".join(_json_elem(e) for e in elems) + " }"
        if k == "elem":
            return _json_value(body["val"])
        if k == "concat":
            return " . ".join(_json_value(x) for x in body)
        if k == "payload":
            if "protocol" in body:
                return f"{body['protocol']} {body['field']}"
            return f"{JSON_UNKNOWN} raw-payload"
        if k == "meta":
            return f"meta {body['key']}"
        if k == "ct":
            return f"ct {body['key']}"
        if k in ("&", "|", "^", "<<", ">>"):
            return f"{_json_value(body[0])} & {_json_value(body[1])}"
        return f"{JSON_UNKNOWN} {k}"
    return str(v)


def _json_elem(e: object) -> str:
    if isinstance(e, list) and len(e) == 2:  # a map element: [key, data]
        return f"{_json_value(e[0])} : {_json_verdict(e[1]) or _json_value(e[1])}"
    return _json_value(e)


def _json_verdict(v: object) -> str:
    if isinstance(v, dict) and len(v) == 1:
        ((k, body),) = v.items()
        if k in ("accept", "drop", "return", "continue"):
            return k
        if k in ("jump", "goto"):
            return f"{k} {body['target']}"
    return ""


def _json_statement(x: dict) -> str:
    ((k, body),) = x.items()
    verdict = _json_verdict(x)
    if verdict:
        return verdict
    if k == "match":
        op = body.get("op", "==")
        left = _json_value(body["left"])
        right = _json_value(body["right"])
        if JSON_UNKNOWN in left:
            return left
        if op in ("==", "in"):
            return f"{left} {right}"
        return f"{left} {op} {right}"
    if k == "reject":
        return "reject"
    if k == "queue":
        return "queue"
    if k in (
        "counter",
        "log",
        "mangle",
        "snat",
        "dnat",
        "masquerade",
        "redirect",
        "notrack",
        "tproxy",
        "dup",
        "fwd",
        "synproxy",
        "flow",
        "set",
        "ct helper",
        "xt",
    ):
        if k == "xt":
            return f"{JSON_UNKNOWN} xt"
        return "counter"
    if k == "limit":
        over = " over" if body.get("inv") else ""
        return f"limit rate{over} {body.get('rate', 1)}/{body.get('per', 'second')}"
    if k == "quota":
        return f"{JSON_UNKNOWN} quota" if not body.get("inv") else "quota over 1 bytes"
    if k == "vmap":
        data = body["data"]
        target = data if isinstance(data, str) else _json_value(data)
        return f"{_json_value(body['key'])} vmap {target}"
    return f"{JSON_UNKNOWN} {k}"


def _json_command(obj: dict) -> str:
    ((kind, body),) = obj.items()
    verb = "add"
    if kind in ("add", "create", "insert", "delete", "flush", "replace", "destroy"):
        verb = kind
        ((kind, body),) = body.items()
    if kind == "metainfo":
        return ""
    if kind == "ruleset":
        return f"{verb} ruleset"
    fam, table = body.get("family", "ip"), body.get("table", body.get("name"))
    if kind == "table":
        flags = body.get("flags") or []
        dormant = " { flags dormant }" if "dormant" in (flags if isinstance(flags, list) else [flags]) else ""
        return f"{verb} table {fam} {_q(body['name'])}{dormant}"
    if kind == "chain":
        inner = ""
        if "hook" in body:
            inner = (
                f" {{ type {body.get('type', 'filter')} hook {body['hook']} priority {body.get('prio', 0)};"
            )
            inner += f" policy {body.get('policy', 'accept')}; }}"
        return f"{verb} chain {fam} {_q(table)} {_q(body['name'])}{inner}"
    if kind in ("set", "map"):
        typ = body.get("type", "")
        typ = " . ".join(typ) if isinstance(typ, list) else typ
        if kind == "map":
            typ += f" : {body.get('map', 'verdict')}"
        parts = [f"type {typ}"] if typ else []
        flags = body.get("flags") or []
        flags = flags if isinstance(flags, list) else [flags]
        if flags:
            parts.append("flags " + ", ".join(flags))
        if "timeout" in body:
            parts.append("timeout 1s")
        if body.get("elem"):
            parts.append("elements = { " + ", ".join(_json_elem(e) for e in body["elem"]) + " }")
        return f"{verb} {kind} {fam} {_q(table)} {_q(body['name'])} {{ " + "; ".join(parts) + " }"
    if kind == "element":
        return (
            f"{verb} element {fam} {_q(table)} {_q(body['name'])} "
            f"{{ {', '.join(_json_elem(e) for e in body.get('elem', []))} }}"
        )
    if kind == "rule":
        if verb in ("delete", "replace", "destroy"):
            return ""
        exprs = " ".join(_json_statement(x) for x in body.get("expr", []))
        return f"{verb} rule {fam} {_q(table)} {_q(body['chain'])} {exprs}"
    return ""


# ----------------------------------------------------------------------------- evaluation


class AddrIndex:
    """Addresses of a set or an anonymous set, looked up by prefix (sets hold 10^5 entries)."""

    def __init__(self, items: list[tuple[Values, Span | None]]):
        self.nets: dict[tuple[int, int], dict[int, Span | None]] = {}
        self.ranges: list[tuple[int, int, int, Span | None]] = []
        self.unknown = ""
        for v, sp in items:
            for n in v.nets:
                self.nets.setdefault((n.version, n.prefixlen), {}).setdefault(int(n.network_address), sp)
            self.ranges += [(ver, lo, hi, sp) for ver, lo, hi in v.ranges]
            self.unknown = self.unknown or v.unknown

    def lookup(self, addr) -> tuple[bool, Span | None]:
        a, bits = int(addr), (32 if addr.version == 4 else 128)
        for (ver, plen), nets in self.nets.items():
            if ver != addr.version:
                continue
            key = a & (((1 << plen) - 1) << (bits - plen)) if plen else 0
            if key in nets:
                return True, nets[key]
        for ver, lo, hi, sp in self.ranges:
            if ver == addr.version and lo <= a <= hi:
                return True, sp
        return False, None


@dataclass(frozen=True)
class Packet:
    family: int
    src: object | None  # None: this host (or a client address of the other family)
    dst: object | None
    dport: int
    state: str  # new | established
    iif: str
    oif: str
    path: str  # forward | output
    reply: bool = False


# The hooks a user's (forward) or this host's (output) packets cross, and their replies.
HOOKS = {
    ("forward", False): ("ingress", "prerouting", "forward", "postrouting"),
    ("forward", True): ("ingress", "prerouting", "forward", "postrouting"),
    ("output", False): ("output", "postrouting"),
    ("output", True): ("ingress", "prerouting", "input"),
}
PATH_WORDS = {"forward": "forwarded clients (forward hook)", "output": "this host (output hook)"}


def _applies(family: str, version: int) -> bool:
    return family in ("inet", "bridge", "netdev") or (
        (family == "ip") == (version == 4) and family in ("ip", "ip6")
    )


def _iface_hit(pattern: str, name: str) -> bool:
    return fnmatch(name, pattern) if "*" in pattern else name == pattern


class NftRuleset:
    def __init__(self, shown: str, parser: _Parser):
        self.path = shown
        self.dialect = NAME
        self.problems = parser.problems
        self.catalog = parser.catalog
        self.tables = [t for t in parser.tables.values() if not t.dormant]
        self.missing = parser.missing
        self._cache: dict[tuple, Decision] = {}
        self._indexes: dict[tuple, AddrIndex] = {}
        self._chain_ix: dict[tuple, tuple] = {}
        self._dyn: dict[tuple[int, str], bool] = {}
        self._steps = 0
        self._intricate = False
        self._hooks: dict[tuple[str, int], list[tuple[Table, Chain]]] = {}
        for fam in (4, 6):
            for hook in ("ingress", "prerouting", "input", "forward", "output", "postrouting"):
                chains = [
                    (t, c)
                    for t in self.tables
                    if _applies(t.family, fam)
                    for c in t.chains.values()
                    if c.hook == hook and c.type in ("filter", "route")
                ]
                chains.sort(key=lambda tc: (tc[1].priority, tc[1].order))
                self._hooks[(hook, fam)] = chains
        self._audiences = self._build_audiences()
        self._note_quic_only_drops()

    def _note_quic_only_drops(self) -> None:
        """A drop of UDP 443 alone blocks HTTP/3 (QUIC); browsers then use HTTPS over TCP, so no
        service is blocked by it. Said once per rule (TE209), so nobody reads it as a block."""
        seen: set[int] = set()
        for path in ("forward", "output"):
            for _t, chain in self._reachable(path):
                for rule in chain.rules:
                    if id(rule) in seen or rule.verdict not in ("drop", "reject"):
                        continue
                    ports = [
                        m for m in rule.matches if m.kind == "port" and m.direction == "dst" and not m.neg
                    ]
                    if (
                        ports
                        and all(m.proto == "udp" for m in ports)
                        and any(lo <= 443 <= hi for m in ports for lo, hi in m.values.ports)
                    ):
                        seen.add(id(rule))
                        self.problems.append(
                            Problem(
                                "TE209",
                                rule.span,
                                "drops QUIC (UDP 443) only: browsers fall back to HTTPS over "
                                "TCP, so this slows HTTP/3 sites at most and blocks no service",
                            )
                        )

    # ---------------------------------------------------------------- reachability and audiences

    def _reachable(self, path: str) -> list[tuple[Table, Chain]]:
        hooks = set(HOOKS[(path, False)]) - {"postrouting", "ingress"} if path == "forward" else {"output"}
        seen: dict[tuple[int, str], tuple[Table, Chain]] = {}
        todo = [(t, c) for (h, _f), lst in self._hooks.items() if h in hooks for t, c in lst]
        while todo:
            t, c = todo.pop()
            key = (id(t), c.name)
            if key in seen:
                continue
            seen[key] = (t, c)
            for r in c.rules:
                targets = [r.target] if r.target else []
                if r.vmap:
                    targets += [tg for _v, _vd, tg in self._vmap_entries(t, r.vmap) if tg]
                for tg in targets:
                    if tg in t.chains:
                        todo.append((t, t.chains[tg]))
        return list(seen.values())

    def _can_block(self, path: str) -> bool:
        for fam in (4, 6):
            for reply in (False, True):
                for hook in HOOKS[(path, reply)]:
                    if path == "output" and hook == "ingress":
                        continue
                    for t, c in self._hooks[(hook, fam)]:
                        if c.policy == "drop":
                            return True
        for t, c in self._reachable(path):
            if any(r.verdict in ("drop", "reject") or r.vmap for r in c.rules):
                return True
        if path == "output":
            for fam in (4, 6):
                for _t, c in self._hooks[("input", fam)]:
                    if any(r.verdict in ("drop", "reject") for r in c.rules):
                        return True
        return False

    def _build_audiences(self) -> list[Audience]:
        paths = [p for p in ("forward", "output") if self._can_block(p)] or ["output"]
        rules = [(t, r) for p in paths for t, c in self._reachable(p) for r in c.rules]
        sources: list[Values] = []
        ifs_in: set[str] = set()
        ifs_out: set[str] = set()
        for t, r in rules:
            for m in r.matches:
                if m.kind == "addr" and m.direction == "src":
                    v = self._set_values(t, m.values) if m.values.setref else m.values
                    if v is not None and (v.nets or v.ranges):
                        sources.append(v)
                elif m.kind == "iface":
                    words = m.values.words
                    if m.values.setref:
                        s = t.sets.get(m.values.setref)
                        words = [w for v, _a, _b, _s in (s.elements if s else []) for w in v.words]
                    (ifs_in if m.direction == "in" else ifs_out).update(words)
            if r.vmap and r.vmap.key.kind == "iface":
                for v, _vd, _tg in self._vmap_entries(t, r.vmap):
                    (ifs_in if r.vmap.key.direction == "in" else ifs_out).update(v.words)
        sampled = len(sources) > MAX_SRC_REPS
        src_reps = self._src_reps(sources[:MAX_SRC_REPS])
        ifs_in.discard("lo")
        ifs_out.discard("lo")
        in_reps = sorted(p.replace("*", "0") for p in ifs_in) + ["other"] if ifs_in else [""]
        out_reps = sorted(p.replace("*", "0") for p in ifs_out) + ["other"] if ifs_out else [""]
        # A client is dual-stack: its IPv4 address is one of the IPv4 samples, its IPv6 address
        # the first IPv6 sample (the LAN's prefix); the other IPv6 samples go with the first
        # IPv4 one. A client without a sample of a family matches no `saddr` of that family.
        reps4 = [a for a in src_reps if a is not None and a.version == 4]
        reps6 = [a for a in src_reps if a is not None and a.version == 6]
        pairs: list[tuple] = [(a4, reps6[0] if reps6 else None) for a4 in reps4]
        pairs += [(reps4[0] if reps4 else None, a6) for a6 in (reps6[1:] if reps4 else reps6)]
        pairs = pairs or [(None, None)]
        out: list[Audience] = []
        for path in paths:
            srcs = pairs if path == "forward" else [(None, None)]
            ins = in_reps if path == "forward" else [""]
            for (s4, s6), iif, oif in product(srcs, ins, out_reps):
                conds = [PATH_WORDS[path]] if len(paths) > 1 else []
                attrs: list[tuple[str, str]] = [("path", path)]
                shown = [str(a) for a in (s4, s6) if a is not None]
                if shown:
                    conds.append("source " + " / ".join(shown))
                    attrs.append(("src", shown[0]))
                if iif:
                    conds.append(f"iifname {iif}" if iif != "other" else "another input interface")
                    attrs.append(("interface", iif))
                if oif:
                    conds.append(f"oifname {oif}" if oif != "other" else "another output interface")
                out.append(
                    Audience(
                        key=(path, str(s4) if s4 else "", str(s6) if s6 else "", iif, oif),
                        conditions=tuple(conds),
                        attributes=tuple(attrs),
                    )
                )
        if sampled:
            self.problems.append(
                Problem(
                    "TE906",
                    Span(self.path, 1, 1),
                    f"{len(sources)} distinct source "
                    f"conditions: client addresses sampled from the first {MAX_SRC_REPS}",
                )
            )
        if len(out) > MAX_AUDIENCES:
            self.problems.append(
                Problem(
                    "TE906",
                    Span(self.path, 1, 1),
                    f"{len(out)} client combinations: the first {MAX_AUDIENCES} are evaluated",
                )
            )
            out = out[:MAX_AUDIENCES]
        return out

    @staticmethod
    def _src_reps(values: list[Values]) -> list:
        if not values:
            return [None]
        cands: list = []
        for v in values:
            for n in v.nets:
                cands.append(n.network_address + 1 if n.num_addresses > 2 else n.network_address)
            for ver, lo, _hi in v.ranges:
                cands.append(ipaddress.IPv4Address(lo) if ver == 4 else ipaddress.IPv6Address(lo))
        for others in (
            ("203.0.113.77", "198.51.100.77", "192.0.2.77", "100.64.77.77"),
            ("2001:db8::77", "2001:db8:77::77"),
        ):
            if not any(
                n.version == ipaddress.ip_address(others[0]).version for v in values for n in v.nets
            ) and not any(r[0] == ipaddress.ip_address(others[0]).version for v in values for r in v.ranges):
                continue
            for other in others:
                a = ipaddress.ip_address(other)
                if not any(_contains(v, a) for v in values):
                    cands.append(a)
                    break
        reps, sigs = [], set()
        for c in cands:
            sig = tuple(_contains(v, c) for v in values)
            if sig not in sigs:
                sigs.add(sig)
                reps.append(c)
        return reps

    def audiences(self) -> list[Audience]:
        return self._audiences

    # ---------------------------------------------------------------- matching

    def _set_values(self, t: Table, v: Values) -> Values | None:
        s = t.sets.get(v.setref)
        if s is None:
            return None
        out = Values()
        for ev, _vd, _tg, _sp in s.elements:
            out.nets += ev.nets
            out.ranges += ev.ranges
            out.ports += ev.ports
            out.words += ev.words
            out.unknown = out.unknown or ev.unknown
        return out

    def _vmap_entries(self, t: Table, vm: VerdictMap) -> list[tuple[Values, str, str]]:
        if vm.setref:
            s = t.sets.get(vm.setref)
            return [(v, vd, tg) for v, vd, tg, _s in (s.elements if s else [])]
        return vm.entries

    def _addr_index(self, t: Table, v: Values) -> AddrIndex | None:
        key = (id(t), v.setref) if v.setref else (id(v), "")
        idx = self._indexes.get(key)
        if idx is None:
            if v.setref:
                s = t.sets.get(v.setref)
                if s is None:
                    return None
                idx = AddrIndex([(ev, sp) for ev, _vd, _tg, sp in s.elements])
            else:
                idx = AddrIndex([(v, None)])
            self._indexes[key] = idx
        return idx

    def _candidates(self, t: Table, c: Chain, dst) -> list[Rule]:
        """The rules of `c` that can match a packet to `dst`, in order: rules with a plain
        destination-address match are indexed by prefix; the others are tried for every packet."""
        key = (id(t), c.name)
        ix = self._chain_ix.get(key)
        if ix is None:
            by_dst: dict[tuple[int, int], dict[int, list[int]]] = {}
            generic: list[int] = []
            for k, r in enumerate(c.rules):
                m = next(
                    (
                        m
                        for m in r.matches
                        if m.kind == "addr"
                        and m.direction == "dst"
                        and not m.neg
                        and not m.values.setref
                        and not m.values.ranges
                        and not m.values.unknown
                        and m.values.nets
                        and len(m.values.nets) <= 64
                    ),
                    None,
                )
                if m is None or r.vmap is not None:
                    generic.append(k)
                    continue
                for n in m.values.nets:
                    by_dst.setdefault((n.version, n.prefixlen), {}).setdefault(
                        int(n.network_address), []
                    ).append(k)
            ix = self._chain_ix[key] = (by_dst, generic)
        by_dst, generic = ix
        if not by_dst:
            return c.rules
        if dst is None:
            return [c.rules[k] for k in generic]
        ks = list(generic)
        a, bits = int(dst), (32 if dst.version == 4 else 128)
        for (ver, plen), nets in by_dst.items():
            if ver == dst.version:
                ks.extend(nets.get(a & (((1 << plen) - 1) << (bits - plen)) if plen else 0, ()))
        return [c.rules[k] for k in sorted(set(ks))]

    def _dynamic(self, t: Table, name: str) -> bool:
        key = (id(t), name)
        if key not in self._dyn:
            s = t.sets.get(name)
            self._dyn[key] = (
                s is None or s.dynamic or any(name in r.fills for c in t.chains.values() for r in c.rules)
            )
        return self._dyn[key]

    def _value_hit(self, t: Table, m: Match, p: Packet, trace: list[Span]) -> bool | None:
        """Does the packet's field (per `m`) fall in `m`'s values? None: cannot tell."""
        v = m.values
        if m.kind == "addr":
            addr = p.src if m.direction == "src" else p.dst
            idx = self._addr_index(t, v)
            if idx is None:
                return None
            if addr is None:
                return False
            hit, sp = idx.lookup(addr)
            if hit:
                if sp is not None:
                    trace.append(sp)
                return True
            if idx.unknown or (v.setref and self._dynamic(t, v.setref)):
                return None
            return False
        elems: list[tuple[Values, Span | None]]
        if v.setref:
            s = t.sets.get(v.setref)
            if s is None:
                return None
            elems = [(ev, sp) for ev, _vd, _tg, sp in s.elements]
        else:
            elems = [(v, None)]
        unknown = False
        for ev, sp in elems:
            hit = self._field_in(m, ev, p)
            if hit:
                if sp is not None:
                    trace.append(sp)
                return True
            if hit is None:
                unknown = True
        if v.setref and self._dynamic(t, v.setref):
            return None
        return None if unknown else False

    def _field_in(self, m: Match, v: Values, p: Packet) -> bool | None:
        if m.kind == "addr":
            addr = p.src if m.direction == "src" else p.dst
            if addr is None:
                return False
            if _contains(v, addr):
                return True
            return None if v.unknown else False
        if m.kind == "port":
            port = p.dport if m.direction == "dst" else 50000  # the client's ephemeral port
            if p.reply:
                port = 50000 if m.direction == "dst" else p.dport
            return any(lo <= port <= hi for lo, hi in v.ports)
        if m.kind == "proto":
            return any(w in ("tcp", "6") for w in v.words) or any(lo <= 6 <= hi for lo, hi in v.ports)
        if m.kind == "ct":
            return p.state in v.words
        if m.kind == "iface":
            name = p.iif if m.direction == "in" else p.oif
            return any(_iface_hit(w, name) for w in v.words) if name else False
        if m.kind == "nfproto":
            return any(w == ("ipv4" if p.family == 4 else "ipv6") for w in v.words)
        if m.kind == "synflag":
            return p.state == "new" and not p.reply
        return None

    def _match(self, t: Table, r: Rule, p: Packet, trace: list[Span]) -> tuple[bool | None, str]:
        why = ""
        result: bool | None = True
        for m in r.matches:
            if m.family and m.family != p.family:
                return False, ""
            if m.kind == "port" and m.proto not in ("tcp", "th"):
                return False, ""
            if m.kind == "never":
                return False, ""
            if m.kind in ("unknown",):
                result, why = None, why or m.why
                continue
            if m.kind == "concat":
                s = t.sets.get(m.values.setref) if m.values.setref else None
                if s is not None and not s.elements and not self._dynamic(t, s.name):
                    return False, ""
                result, why = None, why or m.why
                continue
            if m.kind == "iface" and m.direction == "in" and p.path == "output" and not p.reply:
                return False, ""  # a packet this host sends has no input interface
            if m.kind == "iface" and m.direction == "out" and p.path == "output" and p.reply:
                return False, ""
            hit = self._value_hit(t, m, p, trace)
            if hit is None:
                result, why = (
                    None,
                    why or (m.values.unknown or f"set @{m.values.setref} is filled at run time"),
                )
                continue
            if hit == m.neg:
                return False, ""
        return result, why

    def _chain(self, t: Table, c: Chain, p: Packet, depth: int, trace: tuple[Span, ...]) -> ChainResult:
        uncertain: list[Span] = []
        self._steps += 1
        if self._steps > MAX_CHAIN_VISITS:
            # Jumps fanning out into jumps grow exponentially: give up once, for every packet.
            self._intricate = True
            return ChainResult(
                "unknown",
                c.span,
                trace,
                False,
                "the chains jump into each other too often "
                f"to evaluate (over {MAX_CHAIN_VISITS} chain visits)",
            )
        for r in self._candidates(t, c, p.dst):
            extra: list[Span] = []
            m, why = self._match(t, r, p, extra)
            if m is False:
                continue
            verdict, target = r.verdict, r.target
            if r.vmap is not None:
                hit = self._vmap_hit(t, r.vmap, p, extra)
                if hit is None:
                    if not uncertain:
                        uncertain.append(r.span)
                    continue
                if hit == ("", ""):
                    continue
                verdict, target = hit
            here = trace + tuple(extra) + (r.span,)
            scope = self._scope(r)
            specific = any(
                mm.kind == "addr" and mm.direction == "dst" and not mm.neg for mm in r.matches
            ) or (r.vmap is not None and r.vmap.key.kind == "addr" and r.vmap.key.direction == "dst")
            if verdict in ("drop", "reject"):
                if m is None:
                    return ChainResult(
                        "unknown",
                        r.span,
                        here,
                        specific,
                        f"cannot tell whether it matches: {why}",
                        scope=scope,
                    )
                return ChainResult("drop", r.span, here, specific, how=verdict, scope=scope)
            if verdict == "accept":
                if m is None:
                    uncertain.append(r.span)
                    continue
                return ChainResult("accept", r.span, here, specific, scope=scope)
            if verdict == "return":
                if m is None:
                    uncertain.append(r.span)
                    continue
                return ChainResult("return", r.span, here)
            if verdict == "queue":
                return ChainResult("unknown", r.span, here, False, "a userspace program decides (queue)")
            if verdict in ("jump", "goto"):
                sub_chain = t.chains.get(target)
                if sub_chain is None:
                    continue
                if depth > MAX_JUMP_DEPTH:
                    return ChainResult("unknown", r.span, here, False, "jumps nest too deep (or loop)")
                sub = self._chain(t, sub_chain, p, depth + 1, here)
                if sub.verdict == "fall" and sub.note.startswith("uncertain:"):
                    uncertain.append(sub.rule)  # type: ignore[arg-type]
                    sub = ChainResult("fall", None, sub.trace)
                if sub.verdict in ("fall", "return"):
                    if verdict == "goto" and m is True:
                        return ChainResult("return", r.span, here)
                    continue
                if m is None:
                    if sub.verdict == "accept":
                        uncertain.append(r.span)
                        continue
                    return ChainResult(
                        "unknown", r.span, here, False, f"cannot tell whether it matches: {why}"
                    )
                return sub
            # no verdict (counter, log, ...) or continue: the next rule
        if uncertain:
            return ChainResult("fall", uncertain[0], trace, note="uncertain:")
        return ChainResult("fall", None, trace)

    def _vmap_hit(self, t: Table, vm: VerdictMap, p: Packet, trace: list[Span]) -> tuple[str, str] | None:
        key = vm.key
        if key.kind in ("unknown", "concat"):
            return None
        if key.family and key.family != p.family:
            return "", ""
        if key.kind == "port" and key.proto not in ("tcp", "th"):
            return "", ""
        for v, verdict, target in self._vmap_entries(t, vm):
            if self._field_in(key, v, p):
                return verdict, target
        if vm.setref and self._dynamic(t, vm.setref):
            return None
        return "", ""

    @staticmethod
    def _scope(r: Rule) -> str:
        parts = []
        for m in r.matches:
            if m.kind == "addr" and m.direction == "src":
                what = (
                    f"@{m.values.setref}"
                    if m.values.setref
                    else ",".join(
                        [str(n) for n in m.values.nets]
                        + [
                            f"{ipaddress.ip_address(lo)}-{ipaddress.ip_address(hi)}"
                            for _v, lo, hi in m.values.ranges
                        ]
                    )
                )
                parts.append(f"{'ip' if m.family == 4 else 'ip6'} saddr {'!= ' if m.neg else ''}{what}")
            elif m.kind == "iface":
                parts.append(
                    f"{'iifname' if m.direction == 'in' else 'oifname'} {'!= ' if m.neg else ''}"
                    + (f"@{m.values.setref}" if m.values.setref else ",".join(m.values.words))
                )
        return " ".join(parts)

    def _walk(self, p: Packet) -> ChainResult:
        self._steps = 0 if not self._intricate else MAX_CHAIN_VISITS
        uncertain: list[Span] = []
        for hook in HOOKS[(p.path, p.reply)]:
            if hook == "ingress" and not p.iif:
                continue
            for t, c in self._hooks[(hook, p.family)]:
                res = self._chain(t, c, p, 0, ())
                if res.verdict == "fall" and res.note.startswith("uncertain:"):
                    uncertain.append(res.rule)  # type: ignore[arg-type]
                    res = ChainResult("fall", None, res.trace)
                if res.verdict in ("drop", "unknown"):
                    return self._uncertain(res, uncertain)
                if res.verdict == "accept":
                    continue  # accepted by this base chain; the next one still filters
                if c.policy == "drop":  # ran out of rules, or `return` in a base chain
                    span = c.policy_span or c.span
                    return self._uncertain(
                        ChainResult(
                            "drop", span, res.trace + (span,), False, f"chain {c.name} policy drop", "drop"
                        ),
                        uncertain,
                    )
        return ChainResult("accept")

    @staticmethod
    def _uncertain(res: ChainResult, uncertain: list[Span]) -> ChainResult:
        if res.verdict == "drop" and uncertain:
            return ChainResult(
                "unknown",
                uncertain[0],
                res.trace,
                False,
                f"an earlier accept may let it through (line {uncertain[0].line}) before "
                f"{res.note or 'the drop'}",
            )
        return res

    # ---------------------------------------------------------------- the Ruleset protocol

    def evaluate(self, probe: Probe, audience: Audience) -> Decision:
        key = audience.key or ("output", "", "", "", "")

        def one(target: Target) -> Decision:
            ck = (key, probe.port, target.address)
            hit = self._cache.get(ck)
            if hit is None:
                hit = self._decide(probe.port, key, target)
                if len(self._cache) < 500_000:
                    self._cache[ck] = hit
            return hit

        return decide_by_address(probe, self.catalog, one)

    def _decide(self, port: int, key: tuple, target: Target) -> Decision:
        path, src4, src6, iif, oif = key
        fam = target.address.version
        src_text = src4 if fam == 4 else src6
        src = ipaddress.ip_address(src_text) if src_text else None
        iif_ = iif if iif != "other" else "other0"
        oif_ = oif if oif != "other" else "other0"
        if path == "forward":
            iif_ = iif_ or "lan0"
        base = Packet(fam, src, target.address, port, "new", iif_, oif_, path)
        # The SYN out, the server's SYN-ACK back (established, addresses and interfaces swapped)
        # and the first data packet out (established).
        reply = Packet(
            fam,
            target.address,
            src,
            port,
            "established",
            oif_ if path == "forward" else (oif_ or "wan0"),
            iif_ if path == "forward" else "",
            path,
            reply=True,
        )
        res = self._walk(base)
        if res.verdict == "accept":
            res = self._walk(reply)
        if res.verdict == "accept":
            res = self._walk(replace(base, state="established"))
        if res.verdict == "accept":
            d = Decision(Outcome.ALLOW, res.rule, res.trace, res.specific)
            if self.missing:
                ref, span = self.missing[0]
                return Decision(
                    Outcome.UNKNOWN,
                    span,
                    (span,),
                    False,
                    "",
                    f"included file {ref!r} is missing: its rules may decide it",
                )
            return d
        if res.verdict == "drop":
            return Decision(
                Outcome.DENY, res.rule, res.trace, res.specific, res.how or "drop", res.note, res.scope
            )
        return Decision(Outcome.UNKNOWN, res.rule, res.trace, False, "", res.note, res.scope)

    def inert_mentions(self, probe: Probe) -> list[Span]:
        """Named sets holding the service's addresses that no rule uses."""
        svc = self.catalog.services.get(probe.service or "")
        if svc is None:
            return []
        out: list[Span] = []
        for t in self.tables:
            used = {m.values.setref for c in t.chains.values() for r in c.rules for m in r.matches}
            used |= {r.vmap.setref for c in t.chains.values() for r in c.rules if r.vmap}
            for s in t.sets.values():
                if s.name in used:
                    continue
                if any(
                    n.version == sn.version and n.overlaps(sn)
                    for v, _a, _b, _s in s.elements
                    for n in v.nets
                    for sn in svc.networks
                ):
                    out.append(s.span)
        return out


def _contains(v: Values, addr) -> bool:
    if any(n.version == addr.version and addr in n for n in v.nets):
        return True
    a = int(addr)
    return any(ver == addr.version and lo <= a <= hi for ver, lo, hi in v.ranges)


def parse(path: Path, context: ParseContext) -> NftRuleset:
    shown = context.resolver.display(path)
    parser = _Parser(context, shown)
    parser.parse_file(path, shown)
    for t, ref, span in parser.pending_refs:
        kind, _, name = ref.partition(":")
        live = parser.tables.get((t.family, t.name)) is t
        if not live:
            continue
        if kind == "chain" and name not in t.chains:
            parser.problem("TE901", span, f"chain {name!r} does not exist in table {t.family} {t.name}")
        elif kind == "set" and name not in t.sets:
            parser.problem("TE901", span, f"set @{name} does not exist in table {t.family} {t.name}")
    return NftRuleset(shown, parser)
