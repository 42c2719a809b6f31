"""pf.conf text to rules: statements (comments, `\\` continuations, `{ }` over lines), macros,
tables and their files, includes and anchors, and each rule's words (fastline.py takes the
common one-line blocks and table lines; everything else is read here)."""

from __future__ import annotations

import ipaddress
import re
from fnmatch import fnmatch
from pathlib import Path

from policy_lint.dialects.firewalls.pf.evaluate import PfRuleset
from policy_lint.dialects.firewalls.pf.fastline import BLOCK_LINE, MASKS, TABLE_LINE, ipv4_value
from policy_lint.dialects.firewalls.pf.model import NAME, HostItem, Rule, strip_comment
from policy_lint.dialects.firewalls.pf.rules import RowShape, RuleList
from policy_lint.dialects.firewalls.pf.tables import SourceLines, Table
from policy_lint.dialects.semantics.addressing import plain_ipv4_network
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.dialects.semantics.detection import statement_hits
from policy_lint.dialects.semantics.gcpause import without_cycle_collection
from policy_lint.inputs import read_source
from policy_lint.model import Problem, Span

__all__ = ["FILE_PATTERNS", "NAME", "Parser", "detect", "parse"]

FILE_PATTERNS = ("pf.conf", "pf.conf.*", "*.pf.conf", "pf.anchors/*", "pf.rules", "*.pf")

MAX_INCLUDE_DEPTH = 8
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


class Parser:
    def __init__(self, context: ParseContext, problems: list[Problem], fast: bool = True):
        self.context = context
        self.problems = problems
        # Read the common one-line blocks and table lines through fastline.py; False reads
        # every line the general way (tests compare the two).
        self.fast = fast
        self.macros: dict[str, str] = {}
        self.egress_macros: set[str] = set()
        self.tables: dict[str, Table] = {}
        self.rules = RuleList()
        self.redirects: list[Rule] = []  # rdr statements and rules with rdr-to/divert-to, in order
        self.routing = False
        self.nat_spans: list[Span] = []
        self.block_policy = "drop"
        self.skip: set[str] = set()
        self.seen: set[Path] = set()

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
        self.parse_lines(src.lines, shown, path, depth, anchor)

    def parse_lines(self, lines: list[str], shown: str, path: Path, depth: int, anchor: str) -> None:
        """The file's statements, in order: comments stripped, `\\` continuations and `{ }`
        spanning lines joined. A line that is a whole statement of the common block shape
        (fastline.py) becomes a row of the rule list instead."""
        shapes: dict[tuple, int] = {}  # this file's row shapes (see row())
        fast = BLOCK_LINE.fullmatch if self.fast else _no_match
        buf, start = "", 1
        for i, raw in enumerate(lines, start=1):
            if not buf:
                m = fast(raw)
                if m is not None:
                    self.row(m, i, lines, shown, anchor, shapes)
                    continue
                start = i
            line = strip_comment(raw)
            if line.rstrip().endswith("\\"):
                buf += line.rstrip()[:-1] + " "
                continue
            buf += line
            if buf.count("{") - buf.count("}") > 0:
                buf += " "
                continue
            if buf.strip():
                span = Span(shown, start, len(buf) - len(buf.lstrip()) + 1, " ".join(buf.split()))
                self.top_statement(buf, span, path, depth, anchor)
            buf = ""
        if buf.strip():
            self.problems.append(
                Problem(
                    "TE901",
                    Span(shown, start, 1, buf.strip()[:80]),
                    "unterminated `{` or `\\` continuation at the end of the file",
                )
            )

    def row(self, m: re.Match, n: int, lines: list[str], shown: str, anchor: str, shapes: dict) -> None:
        """Line `n`, matched by fastline.BLOCK_LINE: a row of the rule list, with the fields
        rule() would give its words."""
        key = (m.group(1, 2, 3, 4, 5, 6), self.block_policy)
        shape = shapes.get(key)
        if shape is None:
            how, direction, quick, iface, family, proto = key[0]
            shape = shapes[key] = self.rules.add_shape(
                RowShape(
                    shown,
                    lines,
                    anchor,
                    how=("drop" if how == "drop" else "reject") if how else self.block_policy,
                    direction=direction,
                    quick=quick is not None,
                    interfaces=(iface,) if iface else (),
                    family=(4 if family == "inet" else 6) if family else None,
                    protos=(proto,) if proto else (),
                )
            )
        plen = m.group(8)
        bits = 32 if plen is None else int(plen)
        self.rules.append_row(shape, n, ipv4_value(m.group(7)) & MASKS[bits], bits)

    def top_statement(self, text: str, span: Span, path: Path, depth: int, anchor: str) -> None:
        """A statement of a file: a macro definition, or a statement after macro expansion."""
        m = _MACRO_DEF.match(text)
        if m and not text.lstrip().startswith(("pass", "block", "match", "table", "set")):
            value = m.group(2).strip()
            value = value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
            self.macros[m.group(1)] = self.expand(value, span)
            if EGRESS_MACRO.search(m.group(1)):
                self.egress_macros.add(self.macros[m.group(1)].strip())
            return
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
        origin = table.entries.origin(span)
        negate = False
        for w in words:
            if w == "!":
                negate = True
                continue
            for net in self.networks_of(w):
                table.entries.add_network(net, negate, origin)
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
        entries = table.entries
        # An entry's span (its line, without the comment) is made when a trace names it.
        origin = entries.origin(SourceLines(shown, src.lines))
        fast = TABLE_LINE.fullmatch if self.fast else _no_match
        for n, raw in enumerate(src.lines, start=1):
            m = fast(raw)
            if m is not None:  # `[!]a.b.c.d[/n]` alone: read as below would read it
                bangs, address, plen = m.groups()
                bits = 32 if plen is None else int(plen)
                entries.add(4, ipv4_value(address) & MASKS[bits], bits, bool(bangs), origin, n)
                continue
            line = strip_comment(raw).strip()
            if not line:
                continue
            for w in line.split():
                negate = w.startswith("!")
                for net in self.networks_of(w.lstrip("!")):
                    entries.add_network(net, negate, origin, n)

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


def _no_match(_line: str) -> None:
    """A fast pattern that takes no line."""


def _is_ip(word: str) -> bool:
    try:
        ipaddress.ip_address(word)
        return True
    except ValueError:
        return False


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


@without_cycle_collection
def parse(path: Path, context: ParseContext) -> PfRuleset:
    parser = Parser(context, [])
    shown = context.resolver.display(path)
    parser.parse_file(path, shown)
    for rule in parser.rules.full:  # rows name no table
        for item in (*rule.src, *rule.dst):
            if item.kind == "table" and item.value not in parser.tables:
                parser.problems.append(Problem("TE901", rule.span, f"table <{item.value}> is not defined"))
    return PfRuleset(shown, parser, context.catalog)
