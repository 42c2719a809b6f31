"""One rule statement to a `Rule` (its matches, verdict or verdict map, the sets it fills) and
element values (addresses, ranges, ports, names) to `Values`: the half of the parser that
knows nft's expressions. `parse.Parser` builds on it for files, tables, chains and sets."""

from __future__ import annotations

import ipaddress
import re

from policy_lint.catalog import Catalog
from policy_lint.dialects.firewalls.nftables.model import (
    Match,
    Net,
    PlainNet,
    Rule,
    Table,
    Values,
    VerdictMap,
    grown,
)
from policy_lint.dialects.firewalls.nftables.syntax import (
    JSON_UNKNOWN,
    Group,
    RuleLine,
    Tok,
    flatten,
    items_text,
    word_of,
)
from policy_lint.dialects.semantics.addressing import plain_ipv4_bounds
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.model import Problem, Span

MAX_RULES = 300_000
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


def network(text: str) -> Net | None:
    """`text` as `ipaddress.ip_network(text, strict=False)` reads it (a plain dotted IPv4
    network as a `PlainNet`), or None."""
    bounds = plain_ipv4_bounds(text)
    if bounds is not None:
        return PlainNet(*bounds)
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def _port(word: str) -> int | None:
    if word.isdigit():
        n = int(word)
        return n if n <= 65535 else None
    return PORTS.get(word.lower())


class RuleParser:
    """What a rule or a set element says; the problems found on the way (shared with `Parser`)."""

    def __init__(self, context: ParseContext, shown: str):
        self.context = context
        self.catalog: Catalog = context.catalog
        self.shown = shown
        self.problems: list[Problem] = []
        self.rule_count = 0
        self.pending_refs: list[tuple[Table, str, Span]] = []

    def problem(self, code: str, span: Span, message: str) -> None:
        if len(self.problems) < 1000:
            self.problems.append(Problem(code, span, message))

    # ---------------------------------------------------------------- element values

    def elements(self, t: Table, g: Group, is_map: bool) -> list[tuple[Values, str, str, Span]]:
        out = []
        for elem in self._comma_items(g.items):
            words = [word_of(w) for w in elem if isinstance(w, Tok)]
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
        for it in flatten(items):
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
        net = network(w.strip("[]"))
        if net is not None:
            v.nets = grown(v.nets, (net,))
            return
        if "-" in w:
            lo, _, hi = w.partition("-")
            try:
                a, b = ipaddress.ip_address(lo), ipaddress.ip_address(hi)
                if a.version == b.version:
                    v.ranges = grown(v.ranges, ((a.version, int(a), int(b)),))
                    return
            except ValueError:
                pl, ph = _port(lo), _port(hi)
                if pl is not None and ph is not None:
                    v.ports = grown(v.ports, ((pl, ph),))
                    return
        p = _port(w)
        if p is not None:
            v.ports = grown(v.ports, ((p, p),))
            v.words = grown(v.words, (w,))
            return
        if re.fullmatch(r"\d+(\.\d+)+(/\d+)?|[0-9a-fA-F:]+:[0-9a-fA-F:]*(/\d+)?", w):
            self.problem("TE901", span, f"{w!r} is not a valid address")
            v.unknown = f"invalid address {w}"
            return
        v.words = grown(v.words, (w,))

    # ---------------------------------------------------------------- rules

    def line_rule(self, line: RuleLine) -> Rule | None:
        """A plain address rule line (syntax.RuleLine) read as `rule` reads its tokens, without
        them; None when `rule` has more to say (the rule cap, an address `ipaddress` does not
        take): the caller then gives `rule` the line's tokens."""
        if self.rule_count >= MAX_RULES:
            return None
        net = network(line.address)
        if net is None:
            return None
        self.rule_count += 1
        direction = "src" if line.source else "dst"
        match = Match("addr", line.neg, Values(nets=(net,)), direction, line.version)
        return Rule(line.span, [match], line.verdict)

    def rule(self, t: Table, st: list, span: Span) -> Rule | None:
        self.rule_count += 1
        if self.rule_count > MAX_RULES:
            if self.rule_count == MAX_RULES + 1:
                self.problem("TE906", span, f"more than {MAX_RULES} rules: the rest are not evaluated")
            return None
        if not span.text:  # a line's span already holds the rule as written
            span = Span(span.path, span.line, span.col, items_text(st)[:200])
        rule = Rule(span)
        toks = st
        i, n = 0, len(toks)

        def w(k: int) -> str:
            return word_of(toks[k]) if k < n else ""

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
                inner = [word_of(x) for x in flatten(toks[j].items)] if j < n else []
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
                if word in ("dnat", "redirect", "tproxy"):
                    # `dnat [ip|ip6] to ADDR[:PORT]`, `redirect [to :PORT]`, `tproxy [ip|ip6] to [ADDR]:PORT`
                    args = [w(k) for k in range(i + 1, n) if not isinstance(toks[k], Group)]
                    if any(isinstance(toks[k], Group) for k in range(i + 1, n)) or "map" in args:
                        rule.nat = (word, "?")  # the address comes from a map: not read
                    else:
                        k = 1 if args[:1] in (["ip"], ["ip6"]) else 0
                        rest = args[k + 1 :] if args[k : k + 1] == ["to"] else []
                        rule.nat = (word, rest[0] if rest and rest[0] not in VERDICTS else "")
                i = n if word != "notrack" else i + 1  # their arguments run to the end of the rule
                continue
            if word in ("add", "update", "delete") and w(i + 1).startswith("@"):
                rule.fills += (w(i + 1)[1:],)
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
        if word == "limit" and i < n and word_of(toks[i]) == "name":
            return i + 2, Match("unknown", why="a named limit")
        if i < n and word_of(toks[i]) == "rate":
            i += 1
        over = i < n and word_of(toks[i]) == "over"
        if over or (i < n and word_of(toks[i]) == "until"):
            i += 1
        i += 1  # the amount, e.g. 5/second or 10
        while i < n and re.fullmatch(
            r"[a-z]*/?(second|minute|hour|day|week)|[kmg]?bytes(/\w+)?|packets"
            r"|burst|\d+",
            word_of(toks[i]) or "-",
        ):
            i += 1
        # `limit rate over`/`quota over` match only traffic beyond the rate: floods, not a
        # user's browsing; plain `limit rate N` matches (one user stays under any sane rate).
        return i, Match("never", why=f"{word} over a rate") if over else None

    def operator(self, toks: list, i: int) -> tuple[str, int]:
        w = word_of(toks[i]) if i < len(toks) else ""
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
                v.merge(self.value([word_of(x) for x in elem], elem[0].span))
            return v, i + 1
        word = word_of(it)
        if word.startswith("@"):
            self.pending_refs.append((t, "set:" + word[1:], span))
            return Values(setref=word[1:]), i + 1
        words = [word]
        i += 1
        while i + 1 < n and word_of(toks[i]) == "," and not toks[i].quoted:
            words.append(word_of(toks[i + 1]))
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
                v.nets = grown(
                    v.nets, [ipaddress.ip_network(a) for a in self.catalog.services[hit[0]].addresses]
                )
            elif name.lower() == self.catalog.control_host:
                v.nets = grown(v.nets, [ipaddress.ip_network(a) for a in self.catalog.control_addresses])
            elif "." in name:
                v.unknown = v.unknown or f"{name} (a name nft resolves at load time)"
            else:
                self.problem("TE901", span, f"{name!r} is not an address")
                v.unknown = v.unknown or f"invalid address {name}"
        v.words = ()
        return v

    def keyed(self, t: Table, toks: list, i: int, rule: Rule, match: Match) -> int:
        """Operator, value (or `vmap`) after a key; appends the match to the rule."""
        n = len(toks)
        if i < n and word_of(toks[i]) == "&":
            match.kind, match.why = "unknown", match.why or "a bitmask"
            i += 2
        if i < n and word_of(toks[i]) == "vmap":
            vm = VerdictMap(match)
            i += 1
            if i < n and word_of(toks[i]).startswith("@"):
                vm.setref = word_of(toks[i])[1:]
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
        while i < n and word_of(toks[i]) == ".":
            i += 1
            while i < n and word_of(toks[i]) in (
                TRANSPORT
                | {"ip", "ip6", "meta", "ct", "ether"}
                | IP_FIELDS
                | META_KEYS
                | {"dport", "sport", "state"}
            ):
                i += 1
        return i

    def ip_match(self, t: Table, toks: list, i: int, rule: Rule) -> int:
        fam = 4 if word_of(toks[i]) == "ip" else 6
        fld = word_of(toks[i + 1]) if i + 1 < len(toks) else ""
        i += 2
        if fld in ("saddr", "daddr"):
            if i < len(toks) and word_of(toks[i]) == ".":
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
                t, toks, i, rule, Match("unknown", family=fam, why=f"{word_of(toks[i - 2])} {fld}")
            )
        self.problem("TE901", rule.span, f"nft does not know the field {word_of(toks[i - 2])} {fld!r}")
        return -1

    def transport_match(self, t: Table, toks: list, i: int, rule: Rule) -> int:
        proto = word_of(toks[i])
        fld = word_of(toks[i + 1]) if i + 1 < len(toks) else ""
        i += 2
        if fld in ("dport", "sport"):
            if i < len(toks) and word_of(toks[i]) == ".":
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
        key = word_of(toks[i]) if i < len(toks) else ""
        i += 1
        if key not in META_KEYS:
            self.problem("TE901", rule.span, f"nft does not know meta {key!r}")
            return -1
        if i < len(toks) and word_of(toks[i]) == "set":  # a statement: meta mark set 1
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
        key = word_of(toks[i]) if i < len(toks) else ""
        i += 1
        if key in ("original", "reply"):
            key = word_of(toks[i]) if i < len(toks) else ""
            i += 1
        if key not in CT_KEYS:
            self.problem("TE901", rule.span, f"nft does not know ct {key!r}")
            return len(toks)
        if i < len(toks) and word_of(toks[i]) == "set":
            return self._skip_expr(toks, i + 1)
        if key == "state":
            return self.keyed(t, toks, i, rule, Match("ct"))
        if key == "count":
            over = i < len(toks) and word_of(toks[i]) == "over"
            j = self._skip_expr(toks, i + over)
            rule.matches.append(Match("never" if over else "unknown", why="ct count"))
            return j
        return self.keyed(t, toks, i, rule, Match("unknown", why=f"ct {key}"))

    def other_match(self, t: Table, toks: list, i: int, rule: Rule) -> int:
        word = word_of(toks[i])
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
            w = word_of(toks[i])
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
