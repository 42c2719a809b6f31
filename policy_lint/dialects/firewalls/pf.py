"""OpenBSD/FreeBSD/macOS pf (`pf.conf`), evaluated the way pf filters a packet.

    table <social> persist file "/etc/pf/social"     # one CIDR or host per line
    block log quick from any to <social>             # quick: the first match decides
    pass in quick on $lan_if                         # clients' traffic enters on the LAN side
    block log all                                    # otherwise: the LAST matching rule wins

- **Last match wins** over the whole ruleset; a matching `quick` rule ends the search. With no
  match the packet passes. `match` rules never decide.
- A user's packet is filtered twice on a router: **in** on the client's (LAN) interface and
  **out** on the egress interface; either pass blocking it blocks the user. On a single host
  (no `nat-to`/`rdr-to`/`nat`, no rule for traffic entering a LAN interface) only the out pass
  exists. Egress interfaces are `egress`, those with NAT rules and macros named like `ext`,
  `wan`, `egress`; any other interface named by `on` is a LAN side, and each becomes an
  audience ("on em1"), as do the source networks rules name.
- Hosts: CIDRs, addresses, `<tables>` (inline `{ }` or `file "..."`, resolved inside --root; a
  missing file leaves the rules that use it undecidable: `unknown`, TE903), `{ lists }`,
  `!` negation, `any`, `all`; names resolve through the catalog, never DNS. Interface
  addresses (`self`, `(em0)`, `em0:network`, `egress`) as a source are the router itself or
  its NAT address (they match); as a destination they are never a catalog service.
- `proto`, `port` (`= != < <= > >= a:b a><b a<>b`, names http/https/www), `inet`/`inet6`
  (against the target address family). Addresses are judged against every catalog prefix of
  the service (addressing.py): covering only some is `blocked-partial`.
- Filter options that select packets: `user`/`group` (pf.conf(5): a forwarded connection's user
  and group are `unknown`, so on a router they match only `user unknown`; on a host they are the
  browser's user: unknown), `flags X/Y` (against the connection's SYN), `probability 100%`, a
  source `port` (the client's port is any ephemeral port: decided only when all or none of
  1024-65535 match). Those not modelled -- `tagged`, `received-on`, `prio`, `os`, `tos`,
  `max-pkt-rate`, `once`, `dnpipe`/`dnqueue`, any other `probability` -- make the rule's match
  unknown: what it could decide is `unknown` (TE106 at the rule), never a block or a pass.
- Replies: a pass rule keeps state (unless `no state`), and a state lets the replies through
  without filtering. When no such rule passed the connection, the replies from the service's
  servers (in on the egress side, from its addresses and port) are filtered: `block in from
  157.240.0.0/16` drops them, and the finding says it matched the servers as the source.
- Redirects: `rdr ... -> X` (FreeBSD/macOS), `rdr-to`, `divert-to`, `divert-packet` on a
  `pass`/`match` rule (OpenBSD) send a matching client connection elsewhere. Redirecting the
  service's own addresses is a block (`redirect`: no other host answers as the service);
  redirecting web traffic at large hands the decision to what listens there (a transparent
  proxy, a captive portal): `unknown`, with TE907 at the redirect. `no rdr` exempts.
- Policy routing: `route-to`/`reply-to` on the pass rule that decides a connection, or
  `route-to`/`rtable` (inbound) on a `match` rule it meets, send it through another path (a VPN,
  a tunnel): `unknown`, TE907 at the rule. `dup-to` routes only a copy: the original goes on.
- `$macros`, `\\` continuations, `include "file"` and `anchor "name" { ... }` (evaluated in
  place, a `quick` inside an anchor ends the search), `load anchor NAME from "file"`. An include
  (or loaded anchor) whose file is not here stands for rules unseen at its place: what reaches it
  is `unknown` (TE903), even behind a later `pass all`. Unknown statements are what pfctl
  refuses: TE901 with the line. A `pass` rule whose match is unknown (a tag, a user, a missing
  table) after the block that matched a packet makes its verdict `unknown`, as a matching one
  would undo the block.
"""

from __future__ import annotations

import bisect
import ipaddress
import re
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

from policy_lint.catalog import Catalog
from policy_lint.dialects.firewalls.reach import either, narrow_scope
from policy_lint.dialects.semantics.addressing import (
    Target,
    decide_by_address,
    nets_overlap,
    plain_ipv4_network,
)
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.dialects.semantics.detection import statement_hits
from policy_lint.dialects.semantics.gcpause import without_cycle_collection
from policy_lint.inputs import read_source
from policy_lint.model import EVERYONE, Audience, Decision, Outcome, Probe, Problem, Span

NAME = "pf"
FILE_PATTERNS = ("pf.conf", "pf.conf.*", "*.pf.conf", "pf.anchors/*", "pf.rules", "*.pf")

MAX_INCLUDE_DEPTH = 8
MAX_AUDIENCES = 32
MAX_MACRO_ROUNDS = 16
PORTS = {"http": 80, "www": 80, "https": 443, "domain": 53, "ssh": 22, "ntp": 123, "smtp": 25}
IGNORED = {
    "scrub",
    "antispoof",
    "altq",
    "queue",
    "nat",
    "rdr",
    "binat",
    "nat-anchor",
    "rdr-anchor",
    "binat-anchor",
    "set",
    "load",
}
# Filter options of pf.conf(5) that decide whether a packet matches and that the linter does not
# evaluate: a rule using one matches "unknown" (its verdicts are `unknown`, never a guess).
UNMODELLED_MATCHERS = {
    "received-on",  # the interface the packet came in on (out rules)
    "prio",  # the packet's priority
    "os",  # the passive OS fingerprint of the source
    "tos",  # the IP TOS/DSCP field
    "icmp-type",
    "icmp6-type",
    "max-pkt-rate",  # only once the rule's packet rate is exceeded
    "once",  # matches a single packet, then the rule is gone
    "dnpipe",  # FreeBSD dummynet shaping: bandwidth limits
    "dnqueue",
}
# Options that do not change which packets a rule matches; skipped with their value.
OPTIONS_WITH_VALUE = {
    "label",
    "queue",
    "rtable",
    "set",
    "max-mss",
    "dup-to",
    "nat-to",
    "binat-to",
    "keep",
    "modulate",
    "synproxy",
    "scrub",
    "ridentifier",
    "state",
}
ROUTING = re.compile(r"\b(nat-to|rdr-to|binat-to|af-to)\b|^\s*(nat|rdr|binat)\s", re.M)
EGRESS_MACRO = re.compile(r"ext|wan|egress|out|uplink|inet_if", re.I)

_TOKEN = re.compile(r'"[^"]*"|<[^<>\s]+>|!=|<=|>=|><|<>|[{}(),!=<>]|[^\s{}(),!="<>]+')
_MACRO_DEF = re.compile(r"^\s*([A-Za-z_][\w]*)\s*=\s*(.*)$")
_MACRO_USE = re.compile(r"\$([A-Za-z_]\w*)")

_HEAD = re.compile(
    r"^\s*(block|pass)\s+(?:(?:in|out|log|quick|drop|return)\s+)*(?:on|from|to|all|inet|proto)\b"
    r"|^\s*table\s+<[^>]+>|^\s*set\s+(?:skip|block-policy)",
    re.M,
)


def detect(path: Path, head: str) -> float:
    hits = statement_hits(path, head, _HEAD)
    if not hits:
        return 0.0
    return 0.9 if hits >= 2 or fnmatch(path.name, "pf*") else 0.6


# ----------------------------------------------------------------------------- the model


@dataclass
class Table:
    name: str
    span: Span
    networks: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, bool, Span]] = field(
        default_factory=list
    )
    complete: bool = True  # False: a file it loads is missing
    missing: str = ""
    _index: dict | None = field(default=None, repr=False, compare=False)

    def lookup(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> tuple[bool, Span] | None:
        """The longest-prefix entry holding `address` (negated?, its line), as pf's radix table
        decides; None when no entry holds it. Indexed by prefix length on first use, so a
        blocklist of thousands of networks costs at most 129 dict look-ups per address instead
        of a scan per evaluated packet."""
        if self._index is None:
            index: dict[tuple[int, int], dict[int, tuple[bool, Span]]] = {}
            for net, neg, span in self.networks:
                index.setdefault((net.version, net.prefixlen), {}).setdefault(
                    int(net.network_address), (neg, span)
                )
            # longest prefixes first, per family
            self._index = dict(sorted(index.items(), key=lambda kv: (kv[0][0], -kv[0][1])))
        bits = address.max_prefixlen
        value = int(address)
        for (version, plen), entries in self._index.items():
            if version != address.version:
                continue
            hit = entries.get(value >> (bits - plen) << (bits - plen) if plen else 0)
            if hit is not None:
                return hit
        return None


# slots: a 200,000-rule pf.conf holds a Rule and a HostItem per line (a __dict__ each, ~40 MB).
@dataclass(frozen=True, slots=True)
class HostItem:
    kind: str  # net | table | any | iface | unknown
    # net: a tuple of ip networks; table: the table's name; iface: the interface word; else None
    value: Any = None
    negated: bool = False


@dataclass(slots=True)
class Rule:
    action: str  # block | pass | match
    span: Span
    direction: str | None = None  # in | out | None (both)
    quick: bool = False
    interfaces: tuple[str, ...] = ()
    iface_negated: bool = False
    family: int | None = None
    protos: tuple[str, ...] = ()
    src: tuple[HostItem, ...] = ()
    dst: tuple[HostItem, ...] = ()
    dports: tuple[tuple[str, int, int], ...] = ()
    how: str = "drop"
    anchor: str = ""  # rules of an anchor: a quick match ends the whole search
    sports: tuple[tuple[str, int, int], ...] = ()
    # Options that decide which packets match and that we do not evaluate ("tagged FB", "prio 3"):
    # the rule's match is unknown (three-valued), never assumed.
    unknown: tuple[str, ...] = ()
    users: tuple[str, ...] = ()  # `user`/`group` values: sockets of this host only
    tagged: tuple[str, bool] | None = None  # (tag, negated)
    tags: tuple[str, ...] = ()  # `tag NAME` set by this rule
    flags: str = ""  # `flags X/Y`
    stateful: bool = True  # pass rules keep state unless `no state`
    redirect: str = ""  # rdr-to / divert-to / old `rdr ... -> X`: where matching connections go
    no_redirect: bool = False  # `no rdr`: an exception to the rdr rules after it
    # `route-to`, `reply-to`, `rtable N` (N != 0): the connection leaves by another path. `dup-to`
    # is not here: pf.conf(5) routes the original packet "as it normally would" and a copy elsewhere.
    route: tuple[str, ...] = ()


@dataclass
class Packet:
    direction: str
    iface: str | None  # None: the egress interface (out pass)
    src: ipaddress.IPv4Address | ipaddress.IPv6Address | None  # None: the router itself / NAT
    dst: Target
    port: int


# ----------------------------------------------------------------------------- parsing


class _Parser:
    def __init__(self, context: ParseContext, problems: list[Problem]):
        self.context = context
        self.problems = problems
        self.macros: dict[str, str] = {}
        self.egress_macros: set[str] = set()
        self.tables: dict[str, Table] = {}
        self.rules: list[Rule] = []
        self.redirects: list[Rule] = []  # rdr statements and rules with rdr-to/divert-to, in order
        self.routing = False
        self.nat_spans: list[Span] = []
        self.block_policy = "drop"
        self.skip: set[str] = set()
        self.seen: set[Path] = set()
        self.texts: list[str] = []

    # Statements: comments stripped, `\` continuations and `{ }` spanning lines joined.
    def statements(self, lines: list[str], shown: str):
        buf, start, depth = "", 1, 0
        for i, raw in enumerate(lines, start=1):
            line = _strip_comment(raw)
            if not buf:
                start = i
            if line.rstrip().endswith("\\"):
                buf += line.rstrip()[:-1] + " "
                continue
            buf += line
            depth = buf.count("{") - buf.count("}")
            if depth > 0:
                buf += " "
                continue
            if buf.strip():
                yield Span(shown, start, len(buf) - len(buf.lstrip()) + 1, " ".join(buf.split())), buf
            buf = ""
        if buf.strip():
            self.problems.append(
                Problem(
                    "TE901",
                    Span(shown, start, 1, buf.strip()[:80]),
                    "unterminated `{` or `\\` continuation at the end of the file",
                )
            )

    def expand(self, text: str, span: Span) -> str:
        for _ in range(MAX_MACRO_ROUNDS):
            if "$" not in text:
                return text

            def one(m: re.Match) -> str:
                if m.group(1) not in self.macros:
                    self.problems.append(Problem("TE901", span, f"macro ${m.group(1)} is not defined"))
                    return "__undefined__"
                return self.macros[m.group(1)]

            new = _MACRO_USE.sub(one, text)
            if new == text:
                return text
            text = new
        self.problems.append(Problem("TE904", span, "macros expand into each other without end"))
        return text

    def parse_file(self, path: Path, shown: str, depth: int = 0, anchor: str = "") -> None:
        resolved = path.resolve()
        if resolved in self.seen:
            self.problems.append(Problem("TE904", Span(shown, 1, 1), f"{shown} is included again (loop)"))
            return
        self.seen.add(resolved)
        src = read_source(path, shown)
        self.problems.extend(src.problems)
        self.texts.append("\n".join(src.lines))
        self.parse_lines(src.lines, shown, path, depth, anchor)

    def parse_lines(self, lines: list[str], shown: str, path: Path, depth: int, anchor: str) -> None:
        for span, text in self.statements(lines, shown):
            m = _MACRO_DEF.match(text)
            if m and not text.lstrip().startswith(("pass", "block", "match", "table", "set")):
                value = m.group(2).strip()
                value = value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
                self.macros[m.group(1)] = self.expand(value, span)
                if EGRESS_MACRO.search(m.group(1)):
                    self.egress_macros.add(self.macros[m.group(1)].strip())
                continue
            self.statement(self.expand(text, span), span, path, depth, anchor)

    def statement(self, text: str, span: Span, path: Path, depth: int, anchor: str) -> None:
        tokens = _TOKEN.findall(text)
        if not tokens:
            return
        word = tokens[0]
        if word == "table":
            self.table(tokens, span, path)
        elif word in ("block", "pass", "match"):
            if ROUTING.search(text):
                self.routing = True
            rule = self.rule(tokens, span, anchor)
            if rule is not None:
                self.rules.append(rule)
                if rule.redirect:
                    self.redirects.append(rule)
        elif word == "anchor":
            self.anchor(text, tokens, span, path, depth)
        elif word == "include":
            self.include(tokens, span, path, depth, anchor)
        elif word == "set":
            if len(tokens) > 2 and tokens[1] == "block-policy":
                self.block_policy = tokens[2]
            elif len(tokens) > 3 and tokens[1] == "skip" and tokens[2] == "on":
                self.skip.update(t for t in tokens[3:] if t not in "{},")
        elif word == "load" and len(tokens) >= 5 and tokens[1] == "anchor":
            self.include([tokens[0], tokens[-1]], span, path, depth, tokens[2].strip('"'))
        elif word == "rdr" or (word == "no" and len(tokens) > 1 and tokens[1] == "rdr"):
            # FreeBSD/macOS `[no] rdr [pass] on $if ... from A to B port P -> X port Q`: matching
            # connections go to X instead (a transparent proxy, a block page, another host).
            self.routing = True
            head, _arrow, target = text.partition("->")
            tokens = _TOKEN.findall(head)
            negated = tokens[0] == "no"
            rule = self.rule(["rdr"] + [t for t in tokens[1 + negated :] if t != "pass"], span, anchor)
            if rule is not None:
                rule.direction = rule.direction or "in"
                rule.no_redirect = negated
                rule.redirect = "" if negated else f"-> {' '.join(target.split())}"
                self.redirects.append(rule)
        elif word in IGNORED:
            if word in ("nat", "rdr", "binat"):
                self.routing = True
                self.nat_spans.append(span)
        else:
            self.problems.append(Problem("TE901", span, f"pfctl does not know the statement {word!r}"))

    def include(self, tokens: list[str], span: Span, path: Path, depth: int, anchor: str) -> None:
        ref = tokens[1].strip('"') if len(tokens) > 1 else ""
        if depth >= MAX_INCLUDE_DEPTH:
            self.problems.append(Problem("TE904", span, f"includes nest deeper than {MAX_INCLUDE_DEPTH}"))
            return
        target = self.context.resolver.resolve(ref, path) if ref else None
        if target is None:
            self.problems.append(Problem("TE903", span, f"included file {ref!r} not found"))
            # Its rules stand here, unseen: any of them may match (a `quick` one ends the
            # search; a later `pass all` cannot undo it), so every packet reaching this point
            # is undecided. A rule of unknown match that passes quick says exactly that.
            placeholder = Rule(
                "pass", span, quick=True, anchor=anchor, unknown=(f"the rules of {ref!r}, not found",)
            )
            self.rules.append(placeholder)
            return
        self.parse_file(target, self.context.resolver.display(target), depth + 1, anchor)

    def anchor(self, text: str, tokens: list[str], span: Span, path: Path, depth: int) -> None:
        name = tokens[1].strip('"') if len(tokens) > 1 else "anchor"
        if "{" in text:
            body = text[text.index("{") + 1 : text.rindex("}")]
            # An inline anchor's rules are filtered in place, one statement per line.
            for part in body.split("\n") if "\n" in body else re.split(r"\s(?=(?:block|pass|match)\s)", body):
                if part.strip():
                    self.statement(self.expand(part.strip(), span), span, path, depth, name)

    def table(self, tokens: list[str], span: Span, path: Path) -> None:
        if len(tokens) < 2 or not tokens[1].startswith("<"):
            self.problems.append(Problem("TE901", span, "table without a <name>"))
            return
        table = Table(tokens[1][1:-1], span)
        i = 2
        while i < len(tokens):
            tok = tokens[i]
            if tok == "{":
                j = tokens.index("}", i) if "}" in tokens[i:] else len(tokens)
                self.table_entries(table, [t for t in tokens[i + 1 : j] if t != ","], span)
                i = j
            elif tok == "file" and i + 1 < len(tokens):
                self.table_file(table, tokens[i + 1].strip('"'), span, path)
                i += 1
            i += 1
        self.tables[table.name] = table

    def table_entries(self, table: Table, words: list[str], span: Span) -> None:
        negate = False
        for w in words:
            if w == "!":
                negate = True
                continue
            for net in self.networks_of(w):
                table.networks.append((net, negate, span))
            negate = False

    def table_file(self, table: Table, ref: str, span: Span, path: Path) -> None:
        target = self.context.resolver.resolve(ref, path)
        if target is None:
            table.complete = False
            table.missing = ref
            self.problems.append(Problem("TE903", span, f"table <{table.name}> file {ref!r} not found"))
            return
        shown = self.context.resolver.display(target)
        src = read_source(target, shown)
        self.problems.extend(src.problems)
        for n, raw in enumerate(src.lines, start=1):
            line = _strip_comment(raw).strip()
            if not line:
                continue
            for w in line.split():
                negate = w.startswith("!")
                for net in self.networks_of(w.lstrip("!")):
                    table.networks.append((net, negate, Span(shown, n, 1, line)))

    def networks_of(self, word: str) -> list:
        plain = plain_ipv4_network(word)
        if plain is not None:
            return [plain]
        try:
            return [ipaddress.ip_network(word, strict=False)]
        except ValueError:
            pass
        hit = self.context.catalog.service_for_host(word)
        if hit:  # names resolve through the catalog: the service's representative addresses
            svc = self.context.catalog.services[hit[0]]
            return [ipaddress.ip_network(a) for a in svc.addresses]
        if word.lower() == self.context.catalog.control_host:
            return [ipaddress.ip_network(a) for a in self.context.catalog.control_addresses]
        return []

    def rule(self, tokens: list[str], span: Span, anchor: str) -> Rule | None:
        rule = Rule(tokens[0], span, anchor=anchor, how=self.block_policy)
        i = 1
        n = len(tokens)

        def group(j: int) -> tuple[list[str], int]:
            if j < n and tokens[j] == "{":
                k = tokens.index("}", j) if "}" in tokens[j:] else n
                return [t for t in tokens[j + 1 : k] if t != ","], k + 1
            return ([tokens[j]] if j < n else []), j + 1

        while i < n:
            tok = tokens[i]
            if tok in ("in", "out"):
                rule.direction = tok
            elif tok == "quick":
                rule.quick = True
            elif tok in ("drop", "return", "return-rst", "return-icmp", "return-icmp6"):
                rule.how = "drop" if tok == "drop" else "reject"
            elif tok == "log":
                if i + 1 < n and tokens[i + 1] == "(":
                    i = tokens.index(")", i) if ")" in tokens[i:] else n
            elif tok == "on":
                if i + 1 < n and tokens[i + 1] == "!":
                    rule.iface_negated = True
                    i += 1
                words, i = group(i + 1)
                rule.interfaces = tuple(words)
                continue
            elif tok in ("inet", "inet6"):
                rule.family = 4 if tok == "inet" else 6
            elif tok == "proto":
                words, i = group(i + 1)
                rule.protos = tuple(words)
                continue
            elif tok == "all":
                pass
            elif tok in ("from", "to"):
                hosts, i = self.hosts(tokens, i + 1)
                ports: list[tuple[str, int, int]] = []
                if i < n and tokens[i] == "port":
                    ports, i = _ports(tokens, i + 1)
                if tok == "from":
                    rule.src = tuple(hosts)
                    rule.sports = tuple(ports)
                else:
                    rule.dst = tuple(hosts)
                    rule.dports = tuple(ports)
                continue
            elif tok == "flags":
                rule.flags = tokens[i + 1] if i + 1 < n else ""
                i += 1
            elif tok in ("user", "group"):
                words, i = self.spec_words(tokens, i + 1)
                rule.users += tuple(words) or ("?",)
                continue
            elif tok == "tagged" or (tok == "!" and i + 1 < n and tokens[i + 1] == "tagged"):
                neg = tok == "!"
                i += 1 if neg else 0
                rule.tagged = (tokens[i + 1].strip('"') if i + 1 < n else "", neg)
                i += 1
            elif tok == "tag":
                rule.tags += (tokens[i + 1].strip('"'),) if i + 1 < n else ()
                i += 1
            elif tok == "probability":
                value = tokens[i + 1] if i + 1 < n else ""
                if value.rstrip("%") not in ("100", "1", "1.0", "100.0"):
                    rule.unknown += (f"probability {value}",)
                i += 1
            elif tok in UNMODELLED_MATCHERS:
                words, i = self.spec_words(tokens, i + 1)
                rule.unknown += (" ".join([tok, *words]).strip(),)
                continue
            elif tok in ("rdr-to", "divert-to", "divert-packet"):
                words, i = self.spec_words(tokens, i + 1)
                rule.redirect = f"{tok} {' '.join(words)}".strip()
                if i < n and tokens[i] == "port":
                    rule.redirect += f" port {tokens[i + 1] if i + 1 < n else ''}"
                    i += 2
                continue
            elif tok in ("route-to", "reply-to", "rtable"):
                # Policy routing (pf.conf(5)): route-to sends the matching packets out another
                # interface or next hop, reply-to their replies, rtable looks the route up in
                # another routing table (inbound only): the connection takes another path.
                words, i = self.spec_words(tokens, i + 1)
                value = " ".join(w for w in words if w not in ("(", ")"))
                if tok != "rtable" or value not in ("0",):
                    rule.route += (f"{tok} {value}".strip(),)
                continue
            elif tok == "no" and i + 1 < n and tokens[i + 1] == "state":
                rule.stateful = False
                i += 1
            elif tok in ("af-to",):
                break  # `af-to inet6 from X to Y`: translation addresses, not the match
            elif tok in OPTIONS_WITH_VALUE:
                # Options that do not change which packets match (label, queue, route-to, ...):
                # their value is skipped so that it is never read as part of the match.
                _words, i = self.spec_words(tokens, i + 1)
                continue
            i += 1
        return rule

    @staticmethod
    def spec_words(tokens: list[str], i: int) -> tuple[list[str], int]:
        """The value of an option at tokens[i]: one word, `{ list }` or `( ... )`, with an
        operator (`user = 1000`, `prio < 3`); the index after it."""
        n = len(tokens)
        words: list[str] = []
        while i < n and tokens[i] in ("=", "!=", "<", "<=", ">", ">=", "!"):
            words.append(tokens[i])
            i += 1
        if i < n and tokens[i] in ("{", "("):
            close = "}" if tokens[i] == "{" else ")"
            k = tokens.index(close, i) if close in tokens[i:] else n
            return words + [t for t in tokens[i + 1 : k] if t != ","], k + 1
        if i < n:
            words.append(tokens[i])
            i += 1
        return words, i

    def hosts(self, tokens: list[str], i: int) -> tuple[list[HostItem], int]:
        n = len(tokens)
        out: list[HostItem] = []
        words: list[str] = []
        if i < n and tokens[i] == "port":  # `to port 80`: any host
            return out, i
        if i < n and tokens[i] == "{":
            words, i = _brace_list(tokens, i)
        else:
            while i < n and tokens[i] == "!":
                words.append("!")
                i += 1
            if i < n and tokens[i] == "(":
                k = tokens.index(")", i) if ")" in tokens[i:] else n
                words.append("(" + "".join(tokens[i + 1 : k]) + ")")
                i = k + 1
            elif i < n:
                words.append(tokens[i])
                i += 1
        negate = False
        for w in words:
            if w == "!":
                negate = not negate
                continue
            out.append(self.host_item(w, negate))
            negate = False
        return out, i

    def host_item(self, word: str, negated: bool) -> HostItem:
        if word in ("any", "all"):
            return HostItem("any", None, negated)
        if word.startswith("<") and word.endswith(">"):
            return HostItem("table", word[1:-1], negated)
        if (
            word in ("self", "egress", "no-route", "urpf-failed")
            or word.startswith("(")
            or (":" in word and not _is_ip(word.split("/")[0]))
        ):
            return HostItem("iface", word, negated)
        nets = self.networks_of(word)
        if nets:
            return HostItem("net", tuple(nets), negated)
        if re.fullmatch(r"[a-z]+\d+", word):  # an interface name stands for its addresses
            return HostItem("iface", word, negated)
        return HostItem("net", (), negated)  # a name outside the catalog: some other host


def _net_text(n: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str:
    return str(n.network_address) if n.prefixlen == n.max_prefixlen else str(n)


def _hosts_words(items: tuple[HostItem, ...]) -> str:
    """A rule's hosts as written: `10.0.0.0/8`, `<lan>`, `! 10.0.0.5`, `{ a, b }`."""
    words = []
    for item in items:
        if item.kind == "net":
            text = ", ".join(_net_text(n) for n in item.value)
        elif item.kind == "table":
            text = f"<{item.value}>"
        else:
            text = str(item.value or item.kind)
        words.append(("! " if item.negated else "") + text)
    return words[0] if len(words) == 1 else "{ " + ", ".join(words) + " }"


def _source_words(address, sources: list) -> str:
    """How a client is told apart: the source networks the rules name that hold its address
    (and the narrower ones that do not), or none of them."""
    holding = [n for n in sources if n.version == address.version and address in n]
    if not holding:
        names = [_net_text(n) for n in sources]
        if len(names) > 4:
            return f"from none of the {len(names)} source networks the rules name"
        return "not from " + either(names)
    but = [
        n
        for n in sources
        if n not in holding and any(n.version == h.version and n.subnet_of(h) for h in holding)
    ]
    text = "from " + " and ".join(_net_text(n) for n in holding)
    return text + (f" but not from {either([_net_text(n) for n in but])}" if but else "")


def _all3(values: list[bool | None]) -> bool | None:
    """Three-valued AND: False if any is False, else None if any is unknown, else True."""
    if any(v is False for v in values):
        return False
    return None if any(v is None for v in values) else True


EPHEMERAL = (1024, 65535)


def _ephemeral(ports: tuple[tuple[str, int, int], ...]) -> bool | None:
    """A port match against a client's source port, which the OS picks among the ephemeral ports
    (1024-65535): True when every such port matches, False when none does, else unknown."""
    if not ports:
        return True
    lo, hi = EPHEMERAL
    edges = {lo, hi} | {v for _op, a, b in ports for v in (a - 1, a, a + 1, b - 1, b, b + 1) if lo <= v <= hi}
    hits = {any(_port_matches(p, v) for p in ports) for v in edges}
    return hits.pop() if len(hits) == 1 else None


def _syn_matches(spec: str) -> bool | None:
    """`flags X/Y` (pf.conf(5): the flags in Y are checked, those in X must be set) against a
    connection's SYN; `flags any` matches every packet. A rule whose flags do not match the SYN
    would see later packets of the connection: unknown (None)."""
    if spec == "any":
        return True
    must, _slash, mask = spec.partition("/")
    mask = mask or "FSRPAUEW"
    return (set("S") & set(mask)) == set(must) or None


def _is_ip(word: str) -> bool:
    try:
        ipaddress.ip_address(word)
        return True
    except ValueError:
        return False


def _strip_comment(line: str) -> str:
    """`line` up to its first `#` outside double quotes (each `"` toggles quoting)."""
    # Found by str.find rather than a walk over every character: a 200,000-rule pf.conf and
    # its table files are 400,000 lines, most of them without a `#`.
    i = line.find("#")
    while i >= 0:
        if line.count('"', 0, i) % 2 == 0:
            return line[:i]
        i = line.find("#", i + 1)
    return line


def _port_number(word: str) -> int | None:
    if word.isdigit():
        return int(word)
    return PORTS.get(word)


def _brace_list(tokens: list[str], i: int) -> tuple[list[str], int]:
    """The words of a `{ a, b c }` list starting at tokens[i] (commas optional in pf), and the index after it."""
    k = tokens.index("}", i) if "}" in tokens[i:] else len(tokens)
    return [t for t in tokens[i + 1 : k] if t != ","], k + 1


def _ports(tokens: list[str], i: int) -> tuple[list[tuple[str, int, int]], int]:
    n = len(tokens)
    words: list[str] = []
    if i < n and tokens[i] == "{":
        words, i = _brace_list(tokens, i)
    else:
        while i < n and tokens[i] in ("=", "!=", "<", "<=", ">", ">="):
            words.append(tokens[i])
            i += 1
        if i < n:
            words.append(tokens[i])
            i += 1
        if i + 1 < n and tokens[i] in ("><", "<>"):
            words += [tokens[i], tokens[i + 1]]
            i += 2
    out: list[tuple[str, int, int]] = []
    op = "="
    j = 0
    while j < len(words):
        w = words[j]
        if w in ("=", "!=", "<", "<=", ">", ">="):
            op = w
        elif j + 2 < len(words) and words[j + 1] in ("><", "<>"):
            lo, hi = _port_number(w), _port_number(words[j + 2])
            if lo is not None and hi is not None:
                out.append((words[j + 1], lo, hi))
            j += 2
        elif ":" in w:
            lo_s, hi_s = w.split(":", 1)
            lo, hi = _port_number(lo_s), _port_number(hi_s)
            if lo is not None and hi is not None:
                out.append(("range", lo, hi))
        else:
            num = _port_number(w)
            out.append((op, num if num is not None else -1, 0))
            op = "="
        j += 1
    return out, i


def _names_networks(items: tuple[HostItem, ...]) -> bool:
    """Whether a rule's host list names a network or table (not `any`, not an interface)."""
    return any(item.kind in ("net", "table") and not item.negated for item in items)


def _port_matches(spec: tuple[str, int, int], port: int) -> bool:
    op, a, b = spec
    return {
        "=": port == a,
        "!=": port != a,
        "<": port < a,
        "<=": port <= a,
        ">": port > a,
        ">=": port >= a,
        "range": a <= port <= b,
        "><": a < port < b,
        "<>": port < a or port > b,
    }[op]


# ----------------------------------------------------------------------------- evaluation


class PfRuleset:
    def __init__(self, shown: str, parser: _Parser, catalog: Catalog):
        self.path = shown
        self.dialect = NAME
        self.problems = parser.problems
        self.rules = parser.rules
        self.tables = parser.tables
        self.catalog = catalog
        self.skip = parser.skip
        self.redirects = parser.redirects
        self.order = {id(r): k for k, r in enumerate(self.rules)}
        self.nat = any("nat-to" in r.span.text for r in self.rules) or any(
            s.text.lstrip().startswith(("nat ", "binat ")) for s in parser.nat_spans
        )
        self._told: set[Span] = set()
        named = {i for r in self.rules for i in r.interfaces}
        self.egress = {"egress"} | {i for i in named if i in parser.egress_macros}
        self.egress |= {
            i
            for r in self.rules
            if "nat-to" in r.span.text or "rdr-to" in r.span.text
            for i in r.interfaces
            if r.direction == "out"
        }
        lan_rules = [
            r
            for r in self.rules
            if r.action == "pass" and r.direction == "in" and any(i not in self.egress for i in r.interfaces)
        ]
        self.router = parser.routing or bool(lan_rules)
        self.lan_ifaces = sorted(
            i
            for r in self.rules
            if r.direction != "out"
            for i in r.interfaces
            if i not in self.egress and i not in self.skip
        )
        self._audiences = self._make_audiences()
        self._decided: dict[tuple, Decision] = {}  # (probe, audience key) -> decision
        self._by_span = {r.span: r for r in self.rules}
        self._index_destinations()
        for rule in self.rules:
            # `block proto udp to port 443` blocks HTTP/3 (QUIC) only: browsers fall back to
            # HTTPS over TCP, so no service is blocked by it; TE209 says so.
            if (
                rule.action == "block"
                and rule.direction != "in"
                and set(rule.protos) == {"udp"}
                and any(_port_matches(d, 443) for d in rule.dports)
            ):
                self.problems.append(
                    Problem(
                        "TE209",
                        rule.span,
                        "blocks QUIC (UDP 443) only: browsers fall back to HTTPS over TCP, "
                        "so this slows HTTP/3 sites at most and blocks no service",
                    )
                )

    def _index_destinations(self) -> None:
        """Index rules whose destination is only plain networks by those networks, so a packet
        is checked against the few rules that can hold its address rather than all of them
        (a 200k-line ruleset of `block quick to <net>` would otherwise cost a scan per packet)."""
        self._any_destination: list[int] = []
        self._by_prefix: dict[tuple[int, int], dict[int, list[int]]] = {}
        # Rules whose destination match does not depend on the address (no destination, `any`,
        # interface words: _item_matches never reads the address for those): their part of the
        # last-match walk is the same for every destination address of a packet, and is walked
        # once per packet shape (_generic_walk) instead of once per sampled address.
        self._generic: list[int] = []
        self._address_dependent: list[int] = []
        for idx, rule in enumerate(self.rules):
            if rule.dst and all(i.kind == "net" and not i.negated for i in rule.dst):
                for item in rule.dst:
                    for net in item.value:
                        self._by_prefix.setdefault((net.version, net.prefixlen), {}).setdefault(
                            int(net.network_address), []
                        ).append(idx)
            else:
                self._any_destination.append(idx)
                if rule.action == "match":
                    continue  # never decides (_decide skips them)
                if all(i.kind in ("any", "iface") for i in rule.dst):
                    self._generic.append(idx)
                else:
                    self._address_dependent.append(idx)
        self._candidates_of: dict[object, list[Rule]] = {}
        self._specific_of: dict[object, list[int]] = {}
        self._used_tables: set[str] | None = None
        self._generic_of: dict[tuple, tuple[int, list[int], int | None, list[int]]] = {}

    def _candidates(self, address) -> list[Rule]:
        """The rules that may match a packet to `address`, in ruleset order."""
        found = self._candidates_of.get(address)
        if found is None:
            hits = set(self._any_destination)
            value, bits = int(address), address.max_prefixlen
            for (version, plen), entries in self._by_prefix.items():
                if version == address.version:
                    hits.update(entries.get(value >> (bits - plen) << (bits - plen) if plen else 0, ()))
            found = [self.rules[i] for i in sorted(hits)]
            if len(self._candidates_of) < 65536:  # bounded: distinct sampled addresses only
                self._candidates_of[address] = found
        return found

    def _specific(self, address) -> list[int]:
        """Indexes of the rules that are not generic and may match a packet to `address`, in
        ruleset order."""
        found = self._specific_of.get(address)
        if found is None:
            hits = set(self._address_dependent)
            value, bits = int(address), address.max_prefixlen
            for (version, plen), entries in self._by_prefix.items():
                if version == address.version:
                    hits.update(entries.get(value >> (bits - plen) << (bits - plen) if plen else 0, ()))
            found = sorted(hits)
            if len(self._specific_of) < 65536:  # bounded: distinct sampled addresses only
                self._specific_of[address] = found
        return found

    def _generic_walk(self, packet: Packet) -> tuple[int, list[int], int | None, list[int]]:
        """The generic rules' part of the walk for packets shaped like `packet` (everything
        _matches reads but the destination address): the index of the first `quick` match
        (len(rules) if none), the indexes of the matches up to it, the first undecidable one,
        and the undecidable `pass` rules (which may undo a block decided around them)."""
        key = (packet.direction, packet.iface, packet.src, packet.dst.version, packet.port)
        hit = self._generic_of.get(key)
        if hit is None:
            stop, matched, unsure, unsure_pass = len(self.rules), [], None, []
            for idx in self._generic:
                rule = self.rules[idx]
                m = self._matches(rule, packet)
                if m is False:
                    continue
                if m is None:
                    unsure = idx if unsure is None else unsure
                    if rule.action == "pass":
                        unsure_pass.append(idx)
                    continue
                matched.append(idx)
                if rule.quick:
                    stop = idx
                    break
            hit = self._generic_of[key] = (stop, matched, unsure, unsure_pass)
        return hit

    def _make_audiences(self) -> list[Audience]:
        if not self.router:
            return [EVERYONE]
        ifaces = sorted(set(self.lan_ifaces)) or [""]
        sources: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for r in self.rules:
            for item in r.src:
                if item.kind == "net":
                    sources.extend(n for n in item.value if n.prefixlen > 0 and n.is_private)
        sources = sorted(set(sources), key=lambda n: (n.version, n.network_address, n.prefixlen))
        addresses = [
            n.network_address + 1 if n.prefixlen < n.max_prefixlen - 1 else n.network_address for n in sources
        ]
        other = ipaddress.ip_address("192.168.77.77")
        if all(other not in n for n in sources if n.version == 4):
            addresses.append(other)
        out: list[Audience] = []
        for iface in ifaces:
            for addr in addresses or [other]:
                conds = []
                if iface:
                    conds.append(f"on {iface}")
                if sources:
                    conds.append(_source_words(addr, sources))
                if conds:
                    conds[0] = "clients " + conds[0]
                attrs = (("src", str(addr)),) + ((("interface", iface),) if iface else ())
                out.append(Audience(key=(iface, str(addr)), conditions=tuple(conds), attributes=attrs))
        if len(out) > MAX_AUDIENCES:
            self.problems.append(
                Problem(
                    "TE906",
                    Span(self.path, 1, 1),
                    f"{len(out)} kinds of client; the first {MAX_AUDIENCES} are evaluated",
                )
            )
            out = out[:MAX_AUDIENCES]
        return out

    def audiences(self) -> list[Audience]:
        return self._audiences

    @without_cycle_collection
    def evaluate(self, probe: Probe, audience: Audience) -> Decision:
        d = self._evaluate(probe, audience)
        rule = self._by_span.get(d.rule) if d.rule is not None else None
        if rule is None or not d.scope:
            return d
        # The rule names whom it applies to (an interface, a source); clients it names that
        # earlier rules let through are not blocked by it: then it blocks this audience.
        return narrow_scope(
            d, audience, self._audiences, lambda a: self._evaluate(probe, a), lambda a: self._reaches(rule, a)
        )

    def _reaches(self, rule: Rule, audience: Audience) -> bool:
        """Do the client conditions of `rule` (its LAN interface, its source) hold for `audience`?"""
        iface = audience.attribute("interface") or ""
        src_text = audience.attribute("src")
        lan = (
            rule.interfaces and rule.direction != "out" and not any(i in self.egress for i in rule.interfaces)
        )
        if lan and (iface in rule.interfaces) == rule.iface_negated:
            return False
        src = ipaddress.ip_address(src_text) if src_text else None
        return self._hosts_match(rule.src, src, source=True) is not False

    def _evaluate(self, probe: Probe, audience: Audience) -> Decision:
        ck = (probe, audience.key)
        hit = self._decided.get(ck)
        if hit is None:
            hit = self._decide_probe(probe, audience)
            if len(self._decided) < 200_000:
                self._decided[ck] = hit
        return hit

    def _decide_probe(self, probe: Probe, audience: Audience) -> Decision:
        src_text = audience.attribute("src")
        src = ipaddress.ip_address(src_text) if src_text else None
        iface = audience.attribute("interface") or ""

        def one(target: Target) -> Decision:
            passes = []
            if self.router:
                passes.append(Packet("in", iface, src, target, probe.port))
            passes.append(Packet("out", None, None, target, probe.port))
            last: Decision | None = None
            stateful = False
            for packet in passes:
                d, rule = self._decide(packet)
                redirected = self._redirect(packet, rule)
                if redirected is not None:
                    return redirected
                if d.outcome != Outcome.ALLOW:
                    return d
                routed = self._routed(packet, rule)
                if routed is not None:
                    return routed
                stateful = stateful or (rule is not None and rule.stateful)
                last = d
            if not stateful:
                # No pass rule kept state for the connection: the replies from the service's
                # servers are filtered too, and a rule matching them by source drops them.
                reply = self._reply(target, probe.port)
                if reply is not None:
                    return reply
            return last or Decision(Outcome.ALLOW)

        return decide_by_address(probe, self.catalog, one)

    def _filter(self, packet: Packet) -> Decision:
        return self._decide(packet)[0]

    def _decide(self, packet: Packet) -> tuple[Decision, Rule | None]:
        """The ruleset's answer to `packet` and the rule that gave it (None: the default pass)."""
        # pf's walk (last match wins, a `quick` match ends it), over the generic rules (walked
        # once per packet shape) merged by ruleset index with the others that may hold the
        # destination address: the walk stops at the first quick match of either.
        g_stop, g_matched, g_unsure, g_unsure_pass = self._generic_walk(packet)
        last: int | None = None  # the last matching non-generic rule before the stop
        unsure: int | None = None
        unsure_pass = list(g_unsure_pass)
        stop = g_stop
        for idx in self._specific(packet.dst.address):
            if idx > g_stop:
                break
            rule = self.rules[idx]
            if rule.action == "match":
                continue
            m = self._matches(rule, packet)
            if m is False:
                continue
            if m is None:
                unsure = idx if unsure is None else unsure
                if rule.action == "pass":
                    unsure_pass.append(idx)
                continue
            last = idx
            if rule.quick:
                stop = idx
                break
        k = bisect.bisect_right(g_matched, stop)
        if k:
            last = g_matched[k - 1] if last is None else max(last, g_matched[k - 1])
        if g_unsure is not None and g_unsure < stop:
            unsure = g_unsure if unsure is None else min(unsure, g_unsure)
        decided = None if last is None else self.rules[last]
        if decided is not None and decided.action == "block":
            # A pass rule whose match is unknown undoes the block if it may match after it
            # (last match wins) or, `quick`, anywhere before the stop: the answer is unknown.
            undoing = [
                i
                for i in unsure_pass
                if i < stop and (i > last or self.rules[i].quick)  # type: ignore[operator]
            ]
            if undoing:
                return self._verdict(None, self.rules[min(undoing)], packet), decided
        return self._verdict(decided, None if unsure is None else self.rules[unsure], packet), decided

    def _verdict(self, decided: Rule | None, unsure: Rule | None, packet: Packet | None) -> Decision:
        if (
            unsure is not None
            and (decided is None or self.order[id(unsure)] > self.order[id(decided)] or not decided.quick)
            and (decided is None or decided.action != "block")
        ):
            return Decision(
                Outcome.UNKNOWN, unsure.span, (unsure.span,), True, note=self._unsure_note(unsure)
            )
        if decided is None:
            return Decision(Outcome.ALLOW)
        rule = decided
        if packet is None:  # a reply from the service's servers
            if rule.action == "block":
                return Decision(
                    Outcome.DENY,
                    rule.span,
                    (rule.span,),
                    True,
                    f"{rule.how}s the replies from the service's servers, matched as the source",
                )
            return Decision(Outcome.ALLOW, rule.span, (rule.span,))
        trace = (rule.span,) + self._table_trace(rule, packet)
        specific = any(i.kind in ("net", "table") and not i.negated for i in rule.dst)
        # Whom the rule names, in its own words (`from 10.0.0.0/8`, `on em1`), never the sample
        # address the packet carries.
        scope = []
        if any(i.kind in ("net", "table") for i in rule.src) and packet.src is not None:
            scope.append("clients from " + _hosts_words(rule.src))
        if rule.interfaces and packet.iface:
            on = ("! " if rule.iface_negated else "") + ", ".join(rule.interfaces)
            scope.append(f"on {on}" if scope else f"clients on {on}")
        if rule.action == "block":
            return Decision(Outcome.DENY, rule.span, trace, specific, rule.how, scope=" ".join(scope))
        return Decision(Outcome.ALLOW, rule.span, trace, specific, scope=" ".join(scope))

    def _redirect(self, packet: Packet, decided: Rule | None) -> Decision | None:
        """A NAT redirect (`rdr ... ->`, `rdr-to`, `divert-to`) the client's connection matches:
        it goes to another host or a local socket instead of the service. Redirecting the
        service's own addresses elsewhere is a block (no other host can answer as the service);
        redirecting web traffic at large hands the decision to whatever listens there (a
        transparent proxy, a captive portal): unknown, with TE907 at the redirect."""
        for rule in self.redirects:
            if rule.action == "pass" and rule is not decided:
                continue  # pass ... rdr-to translates only when that rule decides
            if rule.action == "block":
                continue
            m = self._matches(rule, packet)
            if m is False:
                continue
            if m is None:
                return Decision(Outcome.UNKNOWN, rule.span, (rule.span,), True, note=self._unsure_note(rule))
            if rule.no_redirect:
                return None
            if (
                decided is not None
                and decided.action == "block"
                and self.order.get(id(decided), -1) < (self.order.get(id(rule), len(self.rules)))
            ):
                return None  # blocked before the translation happens
            specific = bool(rule.dst) and all(i.kind in ("net", "table") and not i.negated for i in rule.dst)
            if specific:
                return Decision(
                    Outcome.DENY,
                    rule.span,
                    (rule.span,),
                    True,
                    "redirect",
                    note=f"its connections are redirected elsewhere ({rule.redirect})",
                )
            if rule.span not in self._told:
                self._told.add(rule.span)
                self.problems.append(
                    Problem(
                        "TE907",
                        rule.span,
                        f"connections are redirected ({rule.redirect}): what the host or program there "
                        "does with them decides, and its configuration is not part of this file",
                    )
                )
            return Decision(
                Outcome.UNKNOWN,
                rule.span,
                (rule.span,),
                False,
                note=f"redirected ({rule.redirect}): the host there decides",
            )
        return None

    def _routed(self, packet: Packet, decided: Rule | None) -> Decision | None:
        """Policy routing of a passed connection: `route-to`/`reply-to` on the pass rule that
        decided it, or `rtable`/`route-to` on a `match` rule it meets (pf.conf(5): `rtable` only
        inbound). The connection leaves through another path (a VPN, a tunnel, another uplink)
        whose filtering is not in this file: `unknown`, with TE907 at the routing rule -- the
        same rule as a DNS answer pinned to an address the catalog cannot place."""
        routing: Rule | None = decided if decided is not None and decided.route else None
        if routing is None:
            for rule in self._candidates(packet.dst.address):
                if rule.action == "match" and rule.route and self._matches(rule, packet) is not False:
                    routing = rule
                    break
        if routing is None:
            return None
        ways = [w for w in routing.route if not (w.startswith("rtable") and packet.direction == "out")]
        if not ways:
            return None
        how = ", ".join(ways)
        if routing.span not in self._told:
            self._told.add(routing.span)
            everything = not routing.dst or all(i.kind == "any" for i in routing.dst)
            what = "all traffic it matches" if everything else "connections it matches"
            self.problems.append(
                Problem(
                    "TE907",
                    routing.span,
                    f"policy routing ({how}) sends {what} through another path (a VPN, a tunnel, "
                    "another uplink): what filters it there is not part of this file",
                )
            )
        return Decision(
            Outcome.UNKNOWN,
            routing.span,
            (routing.span,),
            False,
            note=f"routed elsewhere ({how}): the path it leaves by decides",
        )

    def _reply(self, target: Target, port: int) -> Decision | None:
        """The replies from the service (in on the egress interface, from its address and port),
        when no state lets them through. None: no rule decides them (they pass)."""
        decided: Rule | None = None
        unsure: Rule | None = None
        undoing: Rule | None = None  # an undecidable pass after the block decided so far
        reply = Packet("in", None, None, target, port)
        for rule in self.rules:
            if rule.action == "match" or rule.direction == "out":
                continue
            if rule.interfaces and not self._iface_matches(rule, reply):
                continue
            if rule.family and rule.family != target.version:
                continue
            if rule.protos and "tcp" not in rule.protos and "6" not in rule.protos:
                continue
            if rule.sports and not any(_port_matches(p, port) for p in rule.sports):
                continue
            src = self._hosts_match(rule.src, target.address, source=False)
            if src is False:
                continue
            # To the address the out pass left from (the router's own or NAT address, the host's
            # own on a host), as for that pass: no client network or table entry, while its
            # interface names it. At an ephemeral port.
            dst = self._hosts_match(rule.dst, None, source=True)
            m = _all3([src, dst, _ephemeral(rule.dports), self._options_match(rule)])
            if m is False:
                continue
            if m is None:
                unsure = unsure or rule
                if rule.action == "pass" and undoing is None:
                    undoing = rule  # undoes a block matched before it, or after it if quick
                continue
            if undoing is not None and not undoing.quick:
                undoing = None  # a later definite match overrides an earlier undecidable one
            decided = rule
            if rule.quick:
                break
        if decided is None and unsure is None:
            return None
        if decided is not None and decided.action == "block" and undoing is not None:
            decided, unsure = None, undoing
        d = self._verdict(decided, unsure, None)
        if d.outcome == Outcome.UNKNOWN:
            d = Decision(
                Outcome.UNKNOWN,
                d.rule,
                d.trace,
                True,
                note=f"cannot tell whether it matches the replies from the service's servers: {d.note}",
            )
        return d if d.outcome != Outcome.ALLOW else None

    def _unsure_note(self, rule: Rule) -> str:
        opts = self._unmodelled(rule)
        if opts:
            return f"{', '.join(opts)} (not evaluated)"
        missing = [
            self.tables[i.value].missing
            for i in rule.dst + rule.src
            if i.kind == "table" and i.value in self.tables and not self.tables[i.value].complete
        ]
        if missing:
            return f"table file {missing[0]!r} is missing: its addresses are unknown"
        return "a table this rule uses is not defined"

    def _table_trace(self, rule: Rule, packet: Packet) -> tuple[Span, ...]:
        out: list[Span] = []
        for item in rule.dst:
            if item.kind == "table" and item.value in self.tables:
                t = self.tables[item.value]
                out.append(t.span)
                entry = t.lookup(packet.dst.address)
                if entry is not None and not entry[0] and entry[1] != t.span:
                    out.append(entry[1])
        return tuple(out)

    def _matches(self, rule: Rule, packet: Packet) -> bool | None:
        if rule.direction and rule.direction != packet.direction:
            return False
        if rule.interfaces and not self._iface_matches(rule, packet):
            return False
        if rule.family and rule.family != packet.dst.version:
            return False
        if rule.protos and "tcp" not in rule.protos and "6" not in rule.protos:
            return False
        if rule.dports and not any(_port_matches(p, packet.port) for p in rule.dports):
            return False
        src = self._hosts_match(rule.src, packet.src, source=True)
        if src is False and packet.src is None and not self.router and _names_networks(rule.src):
            # A host's own connection: its address is not in the file, and a network the rule
            # names may hold it (`block from 10.0.0.0/8 to ...` on a host numbered in 10/8).
            src = None
        if src is False:
            return False
        dst = self._hosts_match(rule.dst, packet.dst.address, source=False)
        if dst is False:
            return False
        return _all3([src, dst, _ephemeral(rule.sports), self._options_match(rule)])

    def _options_match(self, rule: Rule) -> bool | None:
        """The filter options that select packets: `user`/`group` (pf.conf(5): sockets of this
        host; forwarded connections have user and group `unknown`), `tagged` (unknown), `flags` (against the connection's SYN) and those not modelled (unknown)."""
        out: list[bool | None] = []
        if rule.users:
            names = [w for w in rule.users if w not in ("=", "!=", "<", "<=", ">", ">=", "!")]
            if self.router:  # the clients' connections are forwarded: user and group unknown
                out.append("unknown" in names and "!" not in rule.users and "!=" not in rule.users)
            else:  # whoever runs the browser on this host
                out.append(False if names == ["unknown"] and len(names) == len(rule.users) else None)
        if rule.tagged is not None:
            # Tags come from `tag` on other rules, but also from bridge rules (ifconfig(8)) and
            # anchors filled at run time: unknown even when no rule here sets the tag.
            out.append(None)
        if rule.flags:
            out.append(_syn_matches(rule.flags))
        if rule.unknown:
            out.append(None)
        return _all3(out)

    def _unmodelled(self, rule: Rule) -> list[str]:
        out = list(rule.unknown)
        if rule.users and not self.router:
            out.append(f"user/group {' '.join(rule.users)} (the user running the browser)")
        if rule.tagged is not None:
            out.append(f"{'! ' if rule.tagged[1] else ''}tagged {rule.tagged[0]} (tags set elsewhere)")
        if rule.flags and _syn_matches(rule.flags) is None:
            out.append(f"flags {rule.flags} (packets after the SYN)")
        if rule.sports and _ephemeral(rule.sports) is None:
            out.append("a source port (the client's port is any ephemeral port)")
        return out

    def _iface_matches(self, rule: Rule, packet: Packet) -> bool:
        if packet.iface is None:  # the out pass on the egress interface
            hit = (
                any(i in self.egress for i in rule.interfaces)
                or not (set(rule.interfaces) - self.egress - {"any"})
                or not self.router
            )
            if not self.router:
                hit = not any(i in self.skip for i in rule.interfaces)
        else:
            hit = packet.iface in rule.interfaces or (
                not packet.iface and not any(i in self.egress for i in rule.interfaces)
            )
        return hit != rule.iface_negated

    def _hosts_match(self, items: tuple[HostItem, ...], address, source: bool) -> bool | None:
        if not items:
            return True
        result: bool | None = False
        for item in items:
            m = self._item_matches(item, address, source)
            if m is None:
                result = None
                continue
            if m != item.negated:
                return True
        return result

    def _item_matches(self, item: HostItem, address, source: bool) -> bool | None:
        if item.kind == "any":
            return True
        if item.kind == "iface":
            # The router's own addresses (or its NAT address): the source of the out pass on a
            # router and of every packet on a host; never a client, never a service.
            return source and address is None
        if address is None:  # the router's own (NATed) address is no client network or table entry
            return False
        if item.kind == "net":
            return any(n.version == address.version and address in n for n in item.value)
        table = self.tables.get(item.value)
        if table is None:
            return None
        hit = table.lookup(address)
        if hit is not None:
            return not hit[0]
        return False if table.complete else None

    def inert_mentions(self, probe: Probe) -> list[Span]:
        """Tables holding the service's addresses that no rule uses."""
        used = self._used_tables
        if used is None:  # asked once per probe: computed once
            used = self._used_tables = {
                i.value for r in self.rules for i in (*r.src, *r.dst) if i.kind == "table"
            }
        svc = self.catalog.services.get(probe.service or "")
        if svc is None:
            return []
        out = []
        for name, table in self.tables.items():
            if name in used:
                continue
            if any(
                nets_overlap(n, s)
                for n, _neg, _sp in table.networks
                for s in svc.networks
                if n.version == s.version
            ):
                out.append(table.span)
        return out


@without_cycle_collection
def parse(path: Path, context: ParseContext) -> PfRuleset:
    parser = _Parser(context, [])
    shown = context.resolver.display(path)
    parser.parse_file(path, shown)
    for rule in parser.rules:
        for item in (*rule.src, *rule.dst):
            if item.kind == "table" and item.value not in parser.tables:
                parser.problems.append(Problem("TE901", rule.span, f"table <{item.value}> is not defined"))
    return PfRuleset(shown, parser, context.catalog)
