"""Linux netfilter through iptables/ip6tables: `iptables-save` files and shell scripts of
`iptables` calls (with ipset), read the way the kernel would run the resulting chains.

Rules are read, never run. A script's commands build the tables (`-A` appends, `-I chain [n]`
inserts above earlier rules, `-D` deletes by spec or number, `-R` replaces, `-F` flushes,
`-N`/`-X`, `-P` sets a built-in chain's policy); `iptables-restore FILE` / `<<EOF` here-docs
and `ipset restore` / `ipset add` load rules and sets. Shell: `VAR=value` literals
(`IPT=/sbin/iptables`, then `$IPT`/`${IPT}`), quotes, `\\` continuations, comments, `for x in a
b c; do ... done` over literal words, functions called by name; `if` branches are all taken; a
`case` on a run-time value (`$1`, a menu's `read`) runs the script once per arm (at most 16
runs) and the strongest outcome counts, so a menu's "undo" option does not hide the block its
"block" option applies. Anything computed at run time (`$(...)`, `$1`, a loop over a downloaded
list) makes the rules it feeds *dynamic*: what they could decide is `unknown` (TE907).

A user's browsing crosses FORWARD (this box routes for clients) or OUTPUT (the box itself
browses). INPUT sees only the *replies* to this host's own connections: `-A INPUT -s
31.13.24.0/21 -j DROP` drops the SYN-ACKs and so blocks this host (unless an `ESTABLISHED
-j ACCEPT` comes first), never a forwarded client. A packet walks the raw, mangle, filter and
security chains of its path in kernel order; in each chain the first matching rule with a
terminating target decides (`DROP`/`REJECT` block, `ACCEPT` ends that table), `-j CHAIN` jumps
and comes back (`RETURN` or the chain's end), `-g` goes to a chain without coming back, `LOG`
and other non-terminating (or unknown extension) targets continue, the policy applies at the
end of a built-in chain. `*nat` never drops.

Each connection is three packets: the SYN (state NEW, no payload), the server's SYN-ACK back
(ESTABLISHED, from the service's address and port) and the first data packet (ESTABLISHED,
carrying the HTTP Host header or the TLS SNI, which `-m string`/`--hex-string` search). So
`-m string --string facebook.com --algo bm -j DROP` blocks, unless an `ESTABLISHED,RELATED -j
ACCEPT` rule comes first. Destinations are samples of every catalog prefix of the service
(addressing.py): a DROP covering some prefixes, or one address inside one, is partial with a
coverage note; iptables rules see IPv4 only and ip6tables rules IPv6 only (every IPv4 prefix
denied is a block, the note says IPv6 stays open). QUIC (UDP 443) is not probed: browsers fall
back to TCP, so a UDP-only drop is not a block. `-d www.facebook.com` resolves through the
catalog (the service's representative addresses), never DNS; an unknown name is `unknown`.
Audiences: "forwarded clients" and "this host (OUTPUT)" when both paths can block, plus the
source addresses, interfaces, MACs, owners and times (`-m time`, UTC) the rules test. Matches
we cannot evaluate (`-m limit`, `-m recent`, an ipset not in the repository) make a DROP
`unknown`; what `iptables-restore --test` refuses is TE901.

    IPT=/sbin/iptables
    $IPT -A FORWARD -m state --state ESTABLISHED,RELATED -j ACCEPT
    $IPT -A FORWARD -d 31.13.24.0/21 -j DROP        # one of Facebook's prefixes: partial
    $IPT -I FORWARD -m string --string "facebook.com" --algo bm -j DROP   # inserted first: blocks
"""

from __future__ import annotations

import bisect
import ipaddress
import re
import sys
from dataclasses import dataclass, field, replace
from itertools import product
from pathlib import Path

from policy_lint.catalog import Catalog
from policy_lint.dialects.semantics.addressing import Target, decide_by_address
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.dialects.semantics.chains import ChainResult
from policy_lint.inputs import InputError, read_source
from policy_lint.model import Audience, Decision, Outcome, Probe, Problem, Span

NAME = "iptables"
FILE_PATTERNS = (
    "iptables",
    "ip6tables",
    "*.iptables",
    "iptables*.rules",
    "ip6tables*.rules",
    "rules.v4",
    "rules.v6",
    "iptables-save*",
    "*iptables*.sh",
    "*firewall*.sh",
    "*iptables*.txt",
    "ipset*.conf",
    "*.ipset",
    "iptables.conf",
    "iptables*.save",
)

_BIN = re.compile(r"(?:^|/)(ip6?tables)(?:-legacy|-nft)?$")
_RESTORE = re.compile(r"(?:^|/)(ip6?tables)(?:-legacy|-nft)?-restore$")
DYN = "\x00"  # marks text computed at run time
MAX_AUDIENCES = 64
MAX_SRC_REPS = 48
DOC_SUFFIXES = (".md", ".rst", ".html", ".htm", ".adoc", ".tex", ".py", ".yml", ".yaml", ".json")
MAX_STEPS = 1_000_000  # shell commands run by the script model (loops multiply them)

BUILTIN = {
    "filter": ("INPUT", "FORWARD", "OUTPUT"),
    "mangle": ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"),
    "raw": ("PREROUTING", "OUTPUT"),
    "security": ("INPUT", "FORWARD", "OUTPUT"),
    "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"),
}
# The chains a user's outgoing packet walks, in kernel order (nat never drops: left out).
PATHS = {
    "forward": (
        ("raw", "PREROUTING"),
        ("mangle", "PREROUTING"),
        ("mangle", "FORWARD"),
        ("filter", "FORWARD"),
        ("security", "FORWARD"),
        ("mangle", "POSTROUTING"),
    ),
    "output": (
        ("raw", "OUTPUT"),
        ("mangle", "OUTPUT"),
        ("filter", "OUTPUT"),
        ("security", "OUTPUT"),
        ("mangle", "POSTROUTING"),
    ),
}
# Replies to this host's own connections come in through INPUT; a forwarded client's replies
# cross FORWARD again, from the server to the client.
REPLY_PATHS = {
    "forward": PATHS["forward"],
    "output": (
        ("raw", "PREROUTING"),
        ("mangle", "PREROUTING"),
        ("mangle", "INPUT"),
        ("filter", "INPUT"),
        ("security", "INPUT"),
    ),
}
PATH_WORDS = {"forward": "forwarded clients (FORWARD)", "output": "this host (OUTPUT)"}
BLOCKING = {"DROP", "REJECT", "TARPIT"}
NONTERMINAL = {
    "LOG",
    "NFLOG",
    "ULOG",
    "MARK",
    "CONNMARK",
    "TCPMSS",
    "CLASSIFY",
    "DSCP",
    "TOS",
    "TTL",
    "HL",
    "SET",
    "NOTRACK",
    "CT",
    "AUDIT",
    "TRACE",
    "TEE",
    "CHECKSUM",
    "CONNSECMARK",
    "SECMARK",
    "IDLETIMER",
    "LED",
    "RATEEST",
    "HMARK",
    "SNAT",
    "DNAT",
    "MASQUERADE",
    "REDIRECT",
    "NETMAP",
    "TPROXY",
    "SYNPROXY",
    "",
}
PORTS = {
    "http": 80,
    "www": 80,
    "https": 443,
    "telnet": 23,
    "ssh": 22,
    "ftp": 21,
    "smtp": 25,
    "domain": 53,
    "dns": 53,
    "pop3": 110,
    "imap": 143,
    "imaps": 993,
    "pop3s": 995,
    "ntp": 123,
    "snmp": 161,
    "http-alt": 8080,
    "webcache": 8080,
    "squid": 3128,
    "submission": 587,
    "smtps": 465,
}
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_DAYNUM = (
    {d.lower(): i for i, d in enumerate(DAYS)}
    | {str(i + 1): i for i in range(7)}
    | {"monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6}
)
# Match extensions: the ones we evaluate, the rest of netfilter's (evaluated as "may match"),
# and xtables-addons' (not in Debian's iptables, but real where the addons are installed).
MODELLED = {
    "tcp",
    "udp",
    "multiport",
    "state",
    "conntrack",
    "string",
    "comment",
    "set",
    "time",
    "mac",
    "iprange",
    "owner",
    "icmp",
    "icmp6",
    "sctp",
    "udplite",
    "dccp",
}
MATCHES = {
    "addrtype",
    "ah",
    "bpf",
    "cgroup",
    "cluster",
    "connbytes",
    "connlabel",
    "connlimit",
    "connmark",
    "cpu",
    "devgroup",
    "dscp",
    "dst",
    "ecn",
    "esp",
    "eui64",
    "frag",
    "hashlimit",
    "hbh",
    "helper",
    "hl",
    "ipv6header",
    "ipvs",
    "length",
    "limit",
    "mark",
    "mh",
    "nfacct",
    "osf",
    "physdev",
    "pkttype",
    "policy",
    "quota",
    "rateest",
    "realm",
    "recent",
    "rpfilter",
    "rt",
    "socket",
    "statistic",
    "tcpmss",
    "tos",
    "ttl",
    "u32",
    "ipcomp",
    "l2tp",
    "srh",
    "segment",
}
ADDON_MATCHES = {
    "geoip",
    "xt_geoip",
    "ipp2p",
    "condition",
    "account",
    "layer7",
    "psd",
    "quota2",
    "lscan",
    "iface",
    "fuzzy",
    "pknock",
    "dhcpmac",
    "gradm",
    "ipv4options",
    "length2",
    "asn",
    "ndpi",
}
_HEAD = re.compile(
    r"^\s*(?:sudo\s+)?(?:\$\{?IPT6?\w*\}?|\S*ip6?tables(?:-legacy|-nft)?)\s+(?:-t\s+\w+\s+)?"
    r"(?:-[AIDPNFRX]|--append|--insert|--policy)\b|^\*(?:filter|mangle|raw|nat)\s*$|^:[A-Z]+ (?:ACCEPT|DROP)"
    r"|^\s*-[AI] (?:INPUT|OUTPUT|FORWARD|PREROUTING|POSTROUTING) |\bip6?tables(?:-legacy|-nft)?-restore\b",
    re.M,
)


def detect(path: Path, head: str) -> float:
    if path.suffix.lower() in DOC_SUFFIXES:
        return 0.0  # documentation quoting iptables commands is not a ruleset
    hits = len(_HEAD.findall(head))
    if not hits:
        return 0.0
    if path.suffix.lower() in (".bat", ".cmd", ".ps1", ".conf") and hits < 3:
        return 0.3
    return 0.95 if hits >= 2 else 0.8


# --------------------------------------------------------------------------- rules

Net = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(slots=True)
class AddrMatch:
    """`-s`/`-d`/`--src-range`: networks (or ranges), negated or not; None = unknown value."""

    nets: list[Net] = field(default_factory=list)
    ranges: list[tuple[int, int, int]] = field(default_factory=list)  # (version, lo, hi)
    neg: bool = False
    unknown: str = ""  # why the value cannot be known (dynamic, unknown hostname)
    host: str = ""  # the hostname as written, resolved through the catalog

    def contains(self, addr) -> bool | None:
        if self.unknown:
            return None
        a = int(addr)
        hit = any(n.version == addr.version and addr in n for n in self.nets) or any(
            v == addr.version and lo <= a <= hi for v, lo, hi in self.ranges
        )
        return hit != self.neg


@dataclass
class TimeMatch:
    start: int = 0
    stop: int = 24 * 60
    days: frozenset[int] = frozenset(range(7))
    neg_days: bool = False

    def contains(self, day: int, minute: int) -> bool:
        days = (frozenset(range(7)) - self.days) if self.neg_days else self.days
        if self.start <= self.stop:
            return day in days and self.start <= minute < self.stop
        # Crossing midnight: the evening part belongs to the listed day (xt_time --contiguous not
        # modelled: both parts are tested against the day of the packet).
        return day in days and (minute >= self.start or minute < self.stop)

    def text(self) -> str:
        days = ",".join(DAYS[d] for d in sorted(self.days)) if len(self.days) < 7 else "every day"
        return (
            f"{self.start // 60:02d}:{self.start % 60:02d}-{self.stop // 60:02d}:{self.stop % 60:02d} {days}"
        )


@dataclass(slots=True)
class Rule:
    span: Span
    family: int
    table: str
    chain: str
    target: str = ""
    goto: bool = False
    proto: tuple[str, bool] | None = None
    src: AddrMatch | None = None
    dst: AddrMatch | None = None
    dports: tuple[list[tuple[int, int]], bool] | None = None
    sports: tuple[list[tuple[int, int]], bool] | None = None
    iif: tuple[str, bool] | None = None
    oif: tuple[str, bool] | None = None
    states: tuple[frozenset[str], bool] | None = None
    strings: tuple[tuple[bytes, bool, bool], ...] = ()  # (needle, icase, neg)
    sets: tuple[tuple[str, str, bool], ...] = ()  # (name, "src"|"dst", neg)
    time: TimeMatch | None = None
    mac: tuple[str, bool] | None = None
    owner: tuple[str, bool] | None = None
    unknown: tuple[str, ...] = ()  # matches we cannot evaluate
    dynamic: str = ""  # text computed at run time

    @property
    def specific(self) -> bool:
        return bool(self.dst or self.strings or any(d == "dst" for _n, d, _g in self.sets))


@dataclass
class Chain:
    policy: str = "ACCEPT"
    policy_span: Span | None = None
    head: list[Rule] = field(default_factory=list)  # rules inserted at the top, newest last
    tail: list[Rule] = field(default_factory=list)

    def rules(self) -> list[Rule]:
        if self.head:
            self.tail = self.head[::-1] + self.tail
            self.head = []
        return self.tail


@dataclass
class IpSet:
    name: str
    span: Span
    members: list[tuple[Net, Span]] = field(default_factory=list)
    dynamic: Span | None = None


# --------------------------------------------------------------------------- shell words


def _lex(text: str, env: dict[str, str]) -> tuple[list[str], str]:
    """Split one shell command into words, expanding literal variables. Returns (words, error).

    Text computed at run time is marked with DYN; unquoted expansions are word-split."""
    words: list[str] = []
    cur: list[str] = []
    have = False
    i, n = 0, len(text)
    quote = ""

    def expand(j: int) -> tuple[str, int]:
        if j + 1 < n and text[j + 1] == "(":
            depth, k = 0, j + 1
            while k < n:
                depth += text[k] == "("
                depth -= text[k] == ")"
                if depth == 0:
                    break
                k += 1
            return DYN, k + 1
        m = re.match(r"\$(?:\{([A-Za-z_]\w*)(?::?[-=]([^}]*))?\}|([A-Za-z_]\w*)|([0-9#@*?!$-]))", text[j:])
        if not m:
            if j + 1 < n and text[j + 1] == "{":
                k = text.find("}", j)
                return DYN, (k + 1 if k >= 0 else n)
            return "$", j + 1
        name = m.group(1) or m.group(3)
        if name is None:
            return DYN, j + m.end()
        if name in env:
            return env[name], j + m.end()
        if m.group(2) is not None:
            return m.group(2), j + m.end()
        return DYN, j + m.end()

    while i < n:
        c = text[i]
        if quote == "'":
            if c == "'":
                quote = ""
            else:
                cur.append(c)
            i += 1
            continue
        if quote == '"':
            if c == '"':
                quote = ""
                i += 1
            elif c == "\\" and i + 1 < n and text[i + 1] in '"\\$`\n':
                cur.append(text[i + 1])
                i += 2
            elif c == "$":
                val, i = expand(i)
                cur.append(val)
            elif c == "`":
                k = text.find("`", i + 1)
                cur.append(DYN)
                i = k + 1 if k >= 0 else n
            else:
                cur.append(c)
                i += 1
            continue
        if c in " \t\n":
            if have or cur:
                words.append("".join(cur))
            cur, have = [], False
            i += 1
        elif c in "'\"":
            quote, have = c, True
            i += 1
        elif c == "\\" and i + 1 < n:
            cur.append(text[i + 1])
            i += 2
        elif c == "$":
            val, i = expand(i)
            parts = val.split() if val.strip() else ([] if not val else [val])
            if len(parts) > 1:
                cur.append(parts[0])
                words.append("".join(cur))
                words.extend(parts[1:-1])
                cur = [parts[-1]]
            elif parts:
                cur.append(parts[0])
        elif c == "`":
            k = text.find("`", i + 1)
            cur.append(DYN)
            i = k + 1 if k >= 0 else n
        else:
            cur.append(c)
            i += 1
    if quote:
        return words, f"unterminated {quote} quote"
    if have or cur:
        words.append("".join(cur))
    return words, ""


def _split_statements(text: str) -> list[str]:
    """Split a logical line at unquoted `;`, `&&`, `||`, `|`, `&` (pipes and lists: each part runs)."""
    out, cur, quote, i = [], [], "", 0
    depth = 0
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\" and quote == '"' and i + 1 < len(text):
                cur.append(text[i : i + 2])
                i += 2
                continue
            if c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
        elif c == "$" and text[i + 1 : i + 2] == "(":
            depth += 1
        elif c == ")" and depth:
            depth -= 1
        elif c == "#" and depth == 0 and (not cur or cur[-1][-1:] in (" ", "\t", ";")):
            break
        elif depth == 0 and c in ";|&":
            if c == ";" and text[i + 1 : i + 2] == ";":
                out.append("".join(cur))
                out.append(";;")
                cur = []
                i += 2
                continue
            out.append("".join(cur))
            cur = []
            i += 2 if text[i + 1 : i + 2] == c else 1
            continue
        cur.append(c)
        i += 1
    out.append("".join(cur))
    return [s.strip() for s in out if s.strip()]


def _logical_lines(
    lines: list[str], shown: str, heredocs: dict[int, tuple[int, list[str], bool]] | None = None
) -> tuple[list[tuple[str, Span]], list[Problem]]:
    """Join continuations and multi-line quotes; drop comments. Here-document bodies are data,
    not commands: they go to `heredocs` (line of the command -> first body line, body lines,
    whether `$VAR`s expand in it)."""
    out: list[tuple[str, Span]] = []
    problems: list[Problem] = []
    i = 0
    while i < len(lines):
        start = i
        text = lines[i]
        while True:
            quote = _open_quote(text)
            if text.endswith("\\") and not quote:
                text = text[:-1] + " "
            elif not quote:
                break
            else:
                text += "\n"
            i += 1
            if i >= len(lines):
                if quote:
                    problems.append(
                        Problem(
                            "TE901",
                            Span(shown, start + 1, 1, lines[start].strip()),
                            f"unterminated {quote} quote: the shell would refuse the script",
                        )
                    )
                    text = ""
                break
            text += lines[i]
        i += 1
        m = re.search(r"<<-?\s*(['\"]?)(\w+)['\"]?", text)
        if m and not text.lstrip().startswith("#"):
            end, body_start = m.group(2), i
            while i < len(lines) and lines[i].strip() != end:
                i += 1
            if heredocs is not None:
                heredocs[start + 1] = (body_start + 1, lines[body_start:i], not m.group(1))
            i += 1
        if text.strip():
            out.append(
                (text, Span(shown, start + 1, len(text) - len(text.lstrip()) + 1, lines[start].strip()))
            )
    return out, problems


def _open_quote(text: str) -> str:
    quote, i = "", 0
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\" and quote == '"':
                i += 2
                continue
            if c == quote:
                quote = ""
        elif c == "\\":
            i += 2
            continue
        elif c == "#" and (i == 0 or text[i - 1] in " \t;"):
            return ""
        elif c in "'\"":
            quote = c
        i += 1
    return quote


# --------------------------------------------------------------------------- the state


@dataclass
class _State:
    path: Path
    shown: str
    context: ParseContext
    tables: dict[int, dict[str, dict[str, Chain]]] = field(default_factory=lambda: {4: {}, 6: {}})
    sets: dict[str, IpSet] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    dynamic_spans: list[Span] = field(default_factory=list)
    heredocs: dict[int, tuple[int, list[str], bool]] = field(default_factory=dict)
    functions: dict[str, list[tuple[str, Span]]] = field(default_factory=dict)
    depth: int = 0
    steps: int = 0

    def problem(self, code: str, span: Span, message: str) -> None:
        if not any(p.span == span and p.code == code for p in self.problems):
            self.problems.append(Problem(code, span, message))

    def table(self, family: int, name: str) -> dict[str, Chain]:
        t = self.tables[family].get(name)
        if t is None:
            t = self.tables[family][name] = {c: Chain() for c in BUILTIN.get(name, ())}
        return t

    # ---------------------------------------------------------------- one iptables command

    def command(self, family: int, args: list[str], span: Span, restore_table: str | None = None) -> None:
        table = restore_table or "filter"
        if "-t" in args or "--table" in args:
            k = args.index("-t") if "-t" in args else args.index("--table")
            if k + 1 < len(args):
                table = args[k + 1]
                args = args[:k] + args[k + 2 :]
        if DYN in table:
            self._dynamic(span, "the table is computed at run time")
            return
        chains = self.table(family, table)
        if not args:
            return
        op, rest = args[0], args[1:]
        op = {
            "--append": "-A",
            "--insert": "-I",
            "--delete": "-D",
            "--policy": "-P",
            "--flush": "-F",
            "--new-chain": "-N",
            "--new": "-N",
            "--delete-chain": "-X",
            "--replace": "-R",
        }.get(op, op)
        if op in ("-L", "-S", "-Z", "-C", "--list", "--check", "--zero", "-h", "--version", "-V"):
            return
        chain = rest[0] if rest and not rest[0].startswith("-") else ""
        if DYN in chain:
            self._dynamic(span, "the chain is computed at run time")
            return
        if op == "-F":
            for name in [chain] if chain else list(chains):
                if name in chains:
                    chains[name].head, chains[name].tail = [], []
            return
        if op == "-X":
            for name in [chain] if chain else [c for c in chains if c not in BUILTIN.get(table, ())]:
                if name not in BUILTIN.get(table, ()):
                    chains.pop(name, None)
            return
        if op == "-N":
            chains.setdefault(chain, Chain())
            return
        if op == "-P":
            policy = rest[1].upper() if len(rest) > 1 else ""
            if DYN in policy:
                self._dynamic(span, "the policy is computed at run time")
                return
            if policy not in ("ACCEPT", "DROP") or chain not in BUILTIN.get(table, ()):
                self.problem("TE901", span, f"bad policy {policy or '(none)'} for chain {chain or '(none)'}")
                return
            c = chains.setdefault(chain, Chain())
            c.policy, c.policy_span = policy, span
            return
        if op not in ("-A", "-I", "-D", "-R"):
            self.problem("TE901", span, f"unknown iptables command {op}")
            return
        if not chain:
            self.problem("TE901", span, f"{op} needs a chain")
            return
        spec = rest[1:]
        num = None
        if op in ("-I", "-R", "-D") and spec and spec[0].isdigit():
            num, spec = int(spec[0]), spec[1:]
        c = chains.setdefault(chain, Chain())
        if op == "-D":
            rules = c.rules()
            if num is not None:
                if 1 <= num <= len(rules):
                    del rules[num - 1]
                return
            # iptables compares the parsed rule, not its text: same matches, same target.
            probe_rule = self._rule(family, table, chain, spec, span)
            for k, r in enumerate(rules):
                if probe_rule is not None and _same(r, probe_rule):
                    del rules[k]
                    break
            return
        rule = self._rule(family, table, chain, spec, span)
        if rule is None:
            return
        if op == "-A":
            c.tail.append(rule)
        elif op == "-I" and (num is None or num == 1):
            c.head.append(rule)
        else:
            rules = c.rules()
            pos = (num or 1) - 1
            if op == "-R":
                if 0 <= pos < len(rules):
                    rules[pos] = rule
                else:
                    self.problem("TE901", span, f"no rule {num} to replace in {chain}")
            else:
                rules.insert(min(max(pos, 0), len(rules)), rule)

    def _dynamic(self, span: Span, why: str) -> None:
        self.problem("TE907", span, f"{why}: what it decides is unknown")
        self.dynamic_spans.append(span)

    def _rule(self, family: int, table: str, chain: str, spec: list[str], span: Span) -> Rule | None:
        r = Rule(span, family, sys.intern(table), sys.intern(chain))
        strings: list[tuple[bytes, bool, bool]] = []
        sets: list[tuple[str, str, bool]] = []
        unknown: list[str] = []
        if any(DYN in w for w in spec):
            r.dynamic = "values computed at run time"
            self.problem(
                "TE907", span, "rule built from values computed at run time: what it matches is unknown"
            )
        i = 0
        neg = False
        modules: set[str] = set()

        def val() -> str:
            nonlocal i
            i += 1
            return spec[i] if i < len(spec) else ""

        while i < len(spec):
            w = spec[i]
            if w == "!":
                neg = True
                i += 1
                continue
            if w.startswith("!") and len(w) > 1:
                neg, w = True, w[1:]
            if w in ("-p", "--protocol", "--proto"):
                r.proto = (val().lower(), neg)
            elif w in ("-s", "--source", "--src", "-d", "--destination", "--dst"):
                m = self._addr(val(), neg, family, span)
                if w.startswith("-s") or w.startswith("--s"):
                    r.src = m
                else:
                    r.dst = m
            elif w in ("-i", "--in-interface"):
                r.iif = (val(), neg)
            elif w in ("-o", "--out-interface"):
                r.oif = (val(), neg)
            elif w in ("-j", "--jump", "-g", "--goto"):
                r.target, r.goto = sys.intern(val()), w in ("-g", "--goto")
                # Target options (--reject-with, --log-prefix "...") follow: skip them.
                while (
                    i + 1 < len(spec) and spec[i + 1].startswith("--") and not _is_match_option(spec[i + 1])
                ):
                    i += 1
                    if i + 1 < len(spec) and not spec[i + 1].startswith("-"):
                        i += 1
            elif w in ("-m", "--match"):
                modules.add(val().lower())
            elif w in (
                "--dport",
                "--dports",
                "--destination-port",
                "--destination-ports",
                "--ports",
                "--port",
            ):
                r.dports = (_ports(val()), neg)
            elif w in ("--sport", "--sports", "--source-port", "--source-ports"):
                r.sports = (_ports(val()), neg)
            elif w in ("--state", "--ctstate"):
                r.states = (frozenset(s.upper() for s in val().split(",")), neg)
            elif w in ("--string", "--hex-string"):
                raw = val()
                needle = raw.encode("latin-1", "replace") if w == "--string" else _hex_string(raw)
                if needle is None:
                    self.problem("TE901", span, f"bad --hex-string {raw}")
                    return None
                strings.append((needle, False, neg))
            elif w == "--icase":
                strings = [(n, True, g) for n, _c, g in strings]
            elif w in (
                "--algo",
                "--from",
                "--to",
                "--comment",
                "--set-counters",
                "--log-prefix",
                "--log-level",
                "--limit",
                "--limit-burst",
                "--kerneltz",
                "--datestart",
                "--datestop",
                "--reject-with",
                "--tcp-flags",
                "--syn",
                "--icmp-type",
                "--uid-owner",
                "--gid-owner",
                "--match-set",
                "--src-range",
                "--dst-range",
                "--mac-source",
                "--timestart",
                "--timestop",
                "--weekdays",
                "--monthdays",
                "--utc",
                "--contiguous",
            ):
                if w == "--match-set":
                    name, flags = val(), val()
                    direction = "dst" if flags.split(",")[0] == "dst" else "src"
                    sets.append((name, direction, neg))
                    if name not in self.sets:
                        self.sets.setdefault(name, IpSet(name, span))
                elif w in ("--src-range", "--dst-range"):
                    m = _range(val(), neg, family)
                    if m is None:
                        self.problem("TE901", span, "bad address range")
                        return None
                    if w == "--src-range":
                        r.src = m
                    else:
                        r.dst = m
                elif w == "--mac-source":
                    r.mac = (val().lower(), neg)
                elif w in ("--uid-owner", "--gid-owner"):
                    r.owner = (f"{w[2:5]} {val()}", neg)
                elif w in ("--timestart", "--timestop", "--weekdays"):
                    r.time = r.time or TimeMatch()
                    v = val()
                    if w == "--weekdays":
                        days = {_DAYNUM.get(d.strip().lower()) for d in v.split(",")}
                        if None in days:
                            self.problem("TE901", span, f"bad --weekdays {v}")
                            return None
                        r.time.days, r.time.neg_days = frozenset(days), neg  # type: ignore[arg-type]
                    else:
                        mm = re.fullmatch(r"(\d{1,2}):(\d{2})(?::\d{2})?", v)
                        if not mm:
                            self.problem("TE901", span, f"bad {w} {v}")
                            return None
                        minute = int(mm.group(1)) * 60 + int(mm.group(2))
                        if w == "--timestart":
                            r.time.start = minute
                        else:
                            r.time.stop = minute
                elif w in ("--syn", "--utc", "--kerneltz", "--contiguous"):
                    pass
                elif w in ("--limit", "--tcp-flags"):
                    if w == "--tcp-flags":
                        val()
                    val()
                else:
                    val()
            elif w in ("-f", "--fragment"):
                unknown.append("-f")
            elif w.startswith("-"):
                # An option of a match we do not model: count it as an unknown condition.
                unknown.append(w)
                if i + 1 < len(spec) and not spec[i + 1].startswith("-"):
                    i += 1
            else:
                self.problem("TE901", span, f"unexpected word {w!r} in rule")
                return None
            neg = False
            i += 1
        r.strings, r.sets = tuple(strings), tuple(sets)
        bad = self._invalid(r, spec)
        if bad:
            self.problem("TE901", span, f"{bad}: iptables refuses the rule")
            return None
        for mod in modules:
            if mod in MODELLED:
                continue
            if mod not in MATCHES and mod not in ADDON_MATCHES:
                self.problem("TE901", span, f"unknown match -m {mod}: iptables refuses the rule")
                return None
            unknown.append(f"-m {mod}")
        # Options of matches we model but do not need to test (--algo, --comment) were skipped.
        # Tuples (the empty one is shared): a 200k-rule file holds 200k of these.
        r.unknown = tuple(unknown)
        return r

    @staticmethod
    def _invalid(r: Rule, spec: list[str]) -> str:
        """What iptables itself rejects (checked against `iptables-restore --test` in e2e tests)."""
        proto = r.proto[0] if r.proto else ""
        if (r.dports or r.sports) and proto not in ("tcp", "udp", "sctp", "dccp", "udplite", "6", "17"):
            return "--dport/--sport need -p tcp or -p udp"
        for ports in (r.dports, r.sports):
            if ports and any(lo < 0 or hi > 65535 or lo > hi for lo, hi in ports[0] if lo >= 0 or hi >= 0):
                return "port out of range"
        if r.strings and "--algo" not in spec:
            return "-m string needs --algo bm|kmp"
        if r.states and not r.states[0] <= {
            "NEW",
            "ESTABLISHED",
            "RELATED",
            "INVALID",
            "UNTRACKED",
            "SNAT",
            "DNAT",
        }:
            return f"unknown state in {','.join(sorted(r.states[0]))}"
        return ""

    def _addr(self, value: str, neg: bool, family: int, span: Span) -> AddrMatch:
        if DYN in value:
            return AddrMatch(neg=neg, unknown="an address computed at run time")
        m = AddrMatch(neg=neg)
        for part in value.split(","):
            part = part.strip()
            try:
                if "/" in part and re.fullmatch(r"[\d.]+/[\d.]+", part) and "." in part.split("/")[1]:
                    net = ipaddress.ip_network(part.replace("/", "/"), strict=False)
                else:
                    net = ipaddress.ip_network(part, strict=False)
                m.nets.append(net)
                continue
            except ValueError:
                pass
            if re.fullmatch(r"[\w.-]+\.[a-zA-Z]{2,}\.?", part):
                cat: Catalog = self.context.catalog
                hit = cat.service_for_host(part)
                m.host = part
                if hit is None:
                    m.unknown = f"hostname {part} (resolved by the device through DNS at load time)"
                    continue
                svc = cat.services[hit[0]]
                m.nets.extend(ipaddress.ip_network(a) for a in svc.addresses)
                continue
            self.problem("TE901", span, f"bad address {part!r}")
            m.unknown = f"bad address {part}"
        return m

    # ---------------------------------------------------------------- ipset

    def ipset(self, args: list[str], span: Span) -> None:
        args = [a for a in args if a not in ("-exist", "-!", "-q", "-quiet", "-n", "-name", "-o", "-output")]
        if not args:
            return
        op = args[0].lower()
        op = {
            "-n": "create",
            "-a": "add",
            "-d": "del",
            "-f": "flush",
            "-x": "destroy",
            "-r": "restore",
            "-c": "create",
        }.get(op, op)
        name = args[1] if len(args) > 1 else ""
        if op in ("create", "new"):
            self.sets[name] = IpSet(name, span)
        elif op == "add" and len(args) > 2:
            s = self.sets.setdefault(name, IpSet(name, span))
            value = args[2].split(",")[0]
            if DYN in value or DYN in name:
                s.dynamic = span
                self.problem(
                    "TE907", span, "ipset member computed at run time: what the set holds is unknown"
                )
                return
            try:
                s.members.append((ipaddress.ip_network(value, strict=False), span))
            except ValueError:
                if "-" in value:
                    lo, _, hi = value.partition("-")
                    try:
                        for net in ipaddress.summarize_address_range(
                            ipaddress.ip_address(lo), ipaddress.ip_address(hi)
                        ):
                            s.members.append((net, span))
                        return
                    except (ValueError, TypeError):
                        pass
                self.problem("TE901", span, f"bad ipset member {value!r}")
        elif op == "del" and len(args) > 2 and name in self.sets:
            self.sets[name].members = [
                (n, sp)
                for n, sp in self.sets[name].members
                if str(n) != args[2] and str(n.network_address) != args[2]
            ]
        elif op == "flush":
            for s in [self.sets[name]] if name in self.sets else self.sets.values():
                s.members = []
        elif op == "destroy":
            if name:
                self.sets.pop(name, None)
        elif op == "restore":
            ref = (
                args[args.index("-file") + 1]
                if "-file" in args
                else (args[2] if len(args) > 2 and args[1] == "-f" else "")
            )
            self.read_ipset_file(ref, span)

    def read_ipset_file(self, ref: str, span: Span) -> None:
        if not ref or DYN in ref:
            self._dynamic(span, "ipset restore reads a file computed at run time")
            return
        target = self.context.resolver.resolve(ref, self.path)
        if target is None:
            self.problem("TE903", span, f"ipset file {ref} is not in the repository")
            return
        try:
            src = read_source(target, self.context.resolver.display(target))
        except InputError as exc:
            self.problem("TE903", span, str(exc))
            return
        for k, line in enumerate(src.lines, start=1):
            words = line.split()
            if words and not words[0].startswith("#"):
                self.ipset(words, Span(src.path, k, 1, line.strip()))

    # ---------------------------------------------------------------- iptables-save files

    def restore(
        self, lines: list[str], shown: str, family: int, noflush: bool = False, first_line: int = 1
    ) -> None:
        table: str | None = None
        if any("ip6tables" in ln for ln in lines[:5] if ln.startswith("#")) or any(
            re.search(r"-[sd] [0-9a-fA-F]*:[0-9a-fA-F:]*", ln) for ln in lines[:400]
        ):
            family = 6
        for k, line in enumerate(lines, start=first_line):
            text = line.strip()
            span = Span(shown, k, len(line) - len(line.lstrip()) + 1, text)
            if not text or text.startswith("#"):
                continue
            if text.startswith("*"):
                if table is not None:
                    self.problem(
                        "TE901", span, f"COMMIT expected before {text}: iptables-restore refuses the file"
                    )
                table = text[1:].strip()
                if table not in BUILTIN:
                    self.problem("TE901", span, f"unknown table {table}")
                if not noflush:
                    self.tables[family][table] = {c: Chain() for c in BUILTIN.get(table, ())}
                else:
                    self.table(family, table)
                continue
            if text == "COMMIT":
                if table is None:
                    self.problem("TE901", span, "COMMIT outside a table")
                table = None
                continue
            if table is None:
                self.problem(
                    "TE901", span, "rule outside a table (*filter ... COMMIT): iptables-restore refuses it"
                )
                continue
            if text.startswith(":"):
                parts = text[1:].split()
                if not parts:
                    self.problem("TE901", span, "chain declaration without a name")
                    continue
                chains = self.table(family, table)
                c = chains.setdefault(parts[0], Chain())
                if len(parts) > 1 and parts[1] in ("ACCEPT", "DROP"):
                    c.policy, c.policy_span = parts[1], (span if parts[1] == "DROP" else None)
                continue
            # Most lines have nothing to unquote: a plain split is what the shell lexer gives.
            words, err = (text.split(), "") if not any(c in text for c in "'\"\\$`") else _lex(text, {})
            if err:
                # iptables-restore takes an unterminated quote to the end of the line.
                words, _err = _lex(text + err.split()[1], {})
            if words and words[0].startswith("-"):
                self.command(family, words, span, restore_table=table)
            else:
                self.problem("TE901", span, f"not an iptables-restore line: {text[:60]}")
        if table is not None:
            self.problem(
                "TE901",
                Span(shown, first_line + max(len(lines) - 1, 0), 1, lines[-1].strip() if lines else ""),
                "COMMIT expected at the end: iptables-restore refuses the file",
            )


def _same(a: Rule, b: Rule) -> bool:
    """The same rule for `-D` by spec: everything but where it was written."""
    return all(getattr(a, f) == getattr(b, f) for f in Rule.__dataclass_fields__ if f != "span")


def _is_match_option(w: str) -> bool:
    return w in (
        "--dport",
        "--sport",
        "--dports",
        "--sports",
        "--state",
        "--ctstate",
        "--string",
        "--match-set",
        "--comment",
        "--timestart",
        "--timestop",
        "--weekdays",
        "--mac-source",
    )


def _ports(text: str) -> list[tuple[int, int]]:
    out = []
    for part in text.split(","):
        lo, _, hi = part.partition(":")
        try:
            a = PORTS.get(lo.lower()) or int(lo or 0)
            b = PORTS.get(hi.lower()) or int(hi) if hi else (a if _ == "" else 65535)
        except ValueError:
            out.append((-1, -1))
            continue
        out.append((a, b))
    return out


def _hex_string(text: str) -> bytes | None:
    out = bytearray()
    for k, part in enumerate(text.split("|")):
        if k % 2:
            try:
                out += bytes.fromhex(part.replace(" ", ""))
            except ValueError:
                return None
        else:
            out += part.encode("latin-1", "replace")
    return bytes(out)


def _range(text: str, neg: bool, family: int) -> AddrMatch | None:
    if DYN in text:
        return AddrMatch(neg=neg, unknown="a range computed at run time")
    lo, _, hi = text.partition("-")
    try:
        a, b = ipaddress.ip_address(lo.strip()), ipaddress.ip_address((hi or lo).strip())
    except ValueError:
        return None
    return AddrMatch(ranges=[(a.version, int(a), int(b))], neg=neg)


# --------------------------------------------------------------------------- the script runner


class _Script:
    def __init__(self, state: _State, choices: tuple[int, ...] = ()):
        self.state = state
        self.env: dict[str, str] = {}
        self.choices = choices  # the arm taken at each `case` on a run-time value, in order met
        self.seen_cases: list[int] = []  # how many arms each such `case` had

    def run(self, statements: list[tuple[str, Span]]) -> None:
        i = 0
        while i < len(statements):
            i = self.step(statements, i)

    def _block(self, statements: list[tuple[str, Span]], i: int, opener: set[str], closer: str) -> int:
        """Index of the statement closing the block that starts at statements[i]."""
        depth = 0
        openers = (
            {"for", "while", "until", "select"}
            if closer == "done"
            else ({"if"} if closer == "fi" else {"case"})
        )
        for k in range(i, len(statements)):
            first = statements[k][0].split(None, 1)[0] if statements[k][0].split() else ""
            if first in openers:
                depth += 1
            if first == closer or (statements[k][0].rstrip().endswith(" " + closer) and first not in openers):
                depth -= 1
                if depth == 0:
                    return k
        return len(statements)

    def step(self, st: list[tuple[str, Span]], i: int) -> int:
        text, span = st[i]
        words = text.split()
        first = words[0] if words else ""
        if first in ("for", "select"):
            end = self._block(st, i, {"for"}, "done")
            words_l, _err = _lex(text, self.env)
            var = words_l[1] if len(words_l) > 1 else "_"
            items = words_l[3:] if len(words_l) > 2 and words_l[2] == "in" else [DYN]
            body: list[tuple[str, Span]] = []
            for t, sp in st[i + 1 : end]:
                body.append((t[3:].strip(), sp) if t.startswith("do ") or t == "do" else (t, sp))
            body = [(t, sp) for t, sp in body if t and t != "do"]
            if not items or any(DYN in w for w in items):
                items = [DYN]
                self.state.problem("TE907", span, "loop over values computed at run time")
            old = self.env.get(var)
            for item in items[:5000]:
                self.env[var] = item
                self.run(body)
            if old is None:
                self.env.pop(var, None)
            else:
                self.env[var] = old
            return end + 1
        if first in ("while", "until"):
            end = self._block(st, i, {"while"}, "done")
            body = [
                ((t[3:].strip() if t.startswith("do ") else t), sp) for t, sp in st[i + 1 : end] if t != "do"
            ]
            # `while read x` loops read data at run time: the names they bind are dynamic.
            m = re.match(r"while\s+read\s+(?:-\w+\s+)*([\w ]+)", text)
            for v in m.group(1).split() if m else []:
                self.env[v] = DYN
            self.run([(t, sp) for t, sp in body if t])
            return end + 1
        if re.match(r"^(?:function\s+)?[\w-]+\s*\(\)\s*\{?$", text) or re.match(
            r"^function\s+[\w-]+\s*\{?$", text
        ):
            name = re.sub(r"^function\s+", "", text).split("(")[0].split("{")[0].strip()
            depth, k = 0, i
            body = []
            for k in range(i, len(st)):
                t = st[k][0]
                depth += t.count("{") - t.count("}")
                if k > i:
                    if depth <= 0 and t.strip() == "}":
                        break
                    body.append(st[k])
                if depth <= 0 and k > i:
                    break
            self.state.functions[name] = [(t, sp) for t, sp in body if t not in ("{", "}")]
            return k + 1
        if first == "case":
            return self._case(st, i)
        if first in ("if", "elif", "then", "else", "fi", "do", "done", "{", "}", "esac", ";;"):
            rest = text.split(None, 1)[1] if len(words) > 1 and first in ("then", "else", "do") else ""
            if rest:
                self.simple(rest, span)
            return i + 1
        self.simple(text, span)
        return i + 1

    def _case(self, st: list[tuple[str, Span]], i: int) -> int:
        end = self._block(st, i, {"case"}, "esac")
        subject = _lex(st[i][0], self.env)[0][1:2]
        arms: list[tuple[str, list[tuple[str, Span]]]] = []
        expect_pattern = True  # at the start and after each `;;`
        for t, sp in st[i + 1 : end]:
            if t == ";;":
                expect_pattern = True
                continue
            m = re.match(r"^\(?([^()]+)\)\s*(.*)$", t) if expect_pattern else None
            if m:
                arms.append((m.group(1).strip(), []))
                if m.group(2).strip():
                    arms[-1][1].append((m.group(2).strip(), sp))
                expect_pattern = False
            elif arms:
                arms[-1][1].append((t, sp))
        subj = subject[0] if subject else DYN
        chosen = None
        if DYN not in subj:
            for pats, body in arms:
                if any(_glob(p.strip().strip("\"'"), subj) for p in pats.split("|")):
                    chosen = body
                    break
        elif arms:
            # The subject is given at run time (`$1`, a menu's `read`): every arm is a way the
            # script may run. Run k of the script takes arm choices[k] here; the first run takes
            # the `start` arm (init scripts are started) or the first one.
            order = sorted(
                range(len(arms)),
                key=lambda k: "start" not in [p.strip().strip("\"'") for p in arms[k][0].split("|")],
            )
            n = len(self.seen_cases)
            self.seen_cases.append(len(arms))
            pick = self.choices[n] if n < len(self.choices) else 0
            chosen = arms[order[min(pick, len(arms) - 1)]][1]
        if chosen:
            self.run(chosen)
        return end + 1

    def simple(self, text: str, span: Span) -> None:
        self.state.steps += 1
        if self.state.steps > MAX_STEPS:
            if self.state.steps == MAX_STEPS + 1:
                self.state._dynamic(span, f"stopped after {MAX_STEPS} commands (nested loops)")
            return
        words, err = _lex(text, self.env)
        if err:
            self.state.problem("TE901", span, err)
            return
        # redirections do not matter for iptables calls; `< file` does for iptables-restore
        redirect_in = None
        clean = []
        k = 0
        while k < len(words):
            w = words[k]
            if w == "<" and k + 1 < len(words):
                redirect_in = words[k + 1]
                k += 2
                continue
            if w.startswith("<") and len(w) > 1 and not w.startswith("<<"):
                redirect_in = w[1:]
                k += 1
                continue
            if re.fullmatch(r"\d?>>?|&>|\d>&\d", w):
                k += 2 if re.fullmatch(r"\d?>>?|&>", w) else 1
                continue
            if re.match(r"\d?>>?\S", w) or re.match(r"\d>&\d", w):
                k += 1
                continue
            clean.append(w)
            k += 1
        words = clean
        while words and re.fullmatch(r"[A-Za-z_]\w*=.*", words[0], re.S):
            name, _, value = words[0].partition("=")
            if len(words) == 1:
                self.env[name] = value
            words = words[1:]
        while words and words[0] in (
            "sudo",
            "command",
            "exec",
            "nohup",
            "time",
            "export",
            "readonly",
            "local",
            "declare",
            "typeset",
            "then",
            "do",
            "else",
            "!",
        ):
            if words[0] in ("export", "readonly", "local", "declare", "typeset"):
                for w in words[1:]:
                    if "=" in w and not w.startswith("-"):
                        n, _, v = w.partition("=")
                        self.env[n] = v
                return
            words = words[1:]
        if not words:
            return
        cmd = words[0]
        if cmd in ("read", "mapfile", "readarray", "select"):
            # Values typed in or read at run time.
            skip = False
            for w in words[1:]:
                if skip:
                    skip = False
                elif w in ("-p", "-t", "-n", "-N", "-d", "-u", "-a", "-i"):
                    skip = True
                elif not w.startswith("-"):
                    self.env[w] = DYN
            return
        if cmd in self.state.functions and self.state.depth < 8:
            self.state.depth += 1
            saved = dict(self.env)
            for n, a in enumerate(words[1:10], start=1):
                self.env[str(n)] = a
            self.run(self.state.functions[cmd])
            for n in range(1, 10):
                self.env.pop(str(n), None)
            self.env.update({k: v for k, v in saved.items() if k not in self.env})
            self.state.depth -= 1
            return
        m = _BIN.search(cmd)
        if m:
            self.state.command(6 if m.group(1) == "ip6tables" else 4, _global_options(words[1:]), span)
            return
        heredoc = self.state.heredocs.get(span.line) if any(w.startswith("<<") for w in words) else None
        m = _RESTORE.search(cmd)
        if m and heredoc is not None:
            # iptables-restore <<EOF ... EOF: the rules are in the script itself.
            first, body, expands = heredoc
            noflush = any(w in ("-n", "--noflush") for w in words[1:])
            self.state.restore(
                [self._expand_line(b) if expands else b for b in body],
                self.state.shown,
                6 if m.group(1) == "ip6tables" else 4,
                noflush,
                first_line=first,
            )
            return
        if m:
            family = 6 if m.group(1) == "ip6tables" else 4
            args = [w for w in words[1:] if not w.startswith("-")]
            ref = redirect_in or (args[0] if args else "")
            noflush = any(
                w in ("-n", "--noflush") or (w.startswith("-") and not w.startswith("--") and "n" in w)
                for w in words[1:]
            )
            self._restore_file(ref, span, family, noflush)
            return
        if cmd == "ipset" or cmd.endswith("/ipset"):
            if ("restore" in words[1:3] or "-R" in words[1:3]) and heredoc is not None:
                first, body, expands = heredoc
                for k, b in enumerate(body):
                    ws = (self._expand_line(b) if expands else b).split()
                    if ws and not ws[0].startswith("#"):
                        self.state.ipset(ws, Span(self.state.shown, first + k, 1, b.strip()))
                return
            if "restore" in words[1:3] or "-R" in words[1:3]:
                flag = next((w for w in ("-file", "-f") if w in words[:-1]), None)
                ref = words[words.index(flag) + 1] if flag else (redirect_in or "")
                self.state.read_ipset_file(ref, span)
                return
            self.state.ipset(words[1:], span)
            return
        if DYN in cmd and re.search(r"\$\{?\w*(?:IPT|ipt|IPTABLES|iptables)\w*", text):
            self.state._dynamic(span, "the iptables command is computed at run time")

    def _expand_line(self, text: str) -> str:
        """`$VAR`/`${VAR}` in an unquoted here-document (run-time values stay marked)."""
        return re.sub(r"\$\{?([A-Za-z_]\w*)\}?", lambda m: self.env.get(m.group(1), DYN), text)

    def _restore_file(self, ref: str, span: Span, family: int, noflush: bool) -> None:
        if not ref or DYN in ref:
            self.state._dynamic(span, "iptables-restore reads rules the script builds at run time")
            return
        target = self.state.context.resolver.resolve(ref, self.state.path)
        if target is None:
            self.state.problem("TE903", span, f"{ref} is not in the repository")
            self.state.dynamic_spans.append(span)
            return
        try:
            src = read_source(target, self.state.context.resolver.display(target))
        except InputError as exc:
            self.state.problem("TE903", span, str(exc))
            self.state.dynamic_spans.append(span)
            return
        self.state.restore(src.lines, src.path, family, noflush)


def _global_options(args: list[str]) -> list[str]:
    """Drop options that change how iptables runs, not the rule: -w [secs], -W usecs, -v, -n."""
    out: list[str] = []
    k = 0
    while k < len(args):
        w = args[k]
        if w in ("-w", "--wait", "-W", "--wait-interval"):
            k += 2 if k + 1 < len(args) and args[k + 1].replace(".", "").isdigit() else 1
            continue
        if w.startswith(("--wait=", "--wait-interval=")) or w in ("-v", "-n", "--verbose", "--numeric", "-x"):
            k += 1
            continue
        out.append(w)
        k += 1
    return out


def _glob(pattern: str, text: str) -> bool:
    from fnmatch import fnmatchcase

    return fnmatchcase(text, pattern)


# --------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class _Packet:
    family: int
    address: object
    port: int
    state: str  # NEW | ESTABLISHED
    payload: bytes | None
    path: str
    src: object | None
    iif: str
    oif: str
    mac: str
    day: int
    minute: int
    owner: str
    sport: int | None = None  # None: the client's ephemeral port
    reply: bool = False  # the server's answer (SYN-ACK), walking back to the client


def _iface(pattern: str, name: str) -> bool:
    if pattern.endswith("+"):
        return name.startswith(pattern[:-1])
    return name == pattern


class IptablesRuleset:
    def __init__(self, state: _State):
        self.path = state.shown
        self.dialect = NAME
        self.problems = state.problems
        self.state = state
        self.catalog = state.context.catalog
        self._cache: dict[tuple, Decision] = {}
        self._candidates: dict[tuple, list[Rule]] = {}
        self._index: dict[tuple, tuple[list[Rule], dict[int, dict[int, list[int]]], list[int]]] = {}
        self._audiences: list[Audience] | None = None
        self._points: dict[str, list[tuple[object, object]]] = {}
        self._dst_points: dict[int, list[int]] | None = None
        self._inert: dict[tuple, list[Span]] = {}
        self._has_strings = any(r.strings for r in self._all_rules())
        self._apply_sets()
        self._note_quic_only_drops()

    def _note_quic_only_drops(self) -> None:
        """`-p udp --dport 443 -j DROP` blocks HTTP/3 (QUIC) only: browsers then use HTTPS over
        TCP, so no service is blocked by it. Said once per rule (TE209), so nobody reads it as one."""
        for rule in self._all_rules():
            if (
                rule.target in ("DROP", "REJECT")
                and rule.chain in ("FORWARD", "OUTPUT")
                and rule.proto == ("udp", False)
                and rule.dports is not None
                and not rule.dports[1]
                and any(lo <= 443 <= hi for lo, hi in rule.dports[0])
            ):
                self.problems.append(
                    Problem(
                        "TE209",
                        rule.span,
                        "drops QUIC (UDP 443) only: browsers fall back to HTTPS over TCP, "
                        "so this slows HTTP/3 sites at most and blocks no service",
                    )
                )

    def _all_rules(self):
        for family, tables in self.state.tables.items():
            for tname, chains in tables.items():
                if tname == "nat":
                    continue
                for cname, c in chains.items():
                    yield from c.rules()

    def _apply_sets(self) -> None:
        for r in self._all_rules():
            for name, _d, _g in r.sets:
                s = self.state.sets.get(name)
                if s is None or (not s.members and s.dynamic is None and s.span == r.span):
                    self.state.problem(
                        "TE903",
                        r.span,
                        f"ipset {name} is used but never created or loaded from a file in the repository",
                    )

    # ---------------------------------------------------------------- paths and audiences

    def _path_can_block(self, path: str) -> bool:
        for family in (4, 6):
            for table, chain in dict.fromkeys(PATHS[path] + REPLY_PATHS[path]):
                c = self.state.tables[family].get(table, {}).get(chain)
                if c is None:
                    continue
                if c.policy == "DROP" or any(
                    r.target not in ("ACCEPT", "RETURN") and r.target not in NONTERMINAL for r in c.rules()
                ):
                    return True
        return False

    def _paths(self) -> list[str]:
        paths = [p for p in ("forward", "output") if self._path_can_block(p)]
        if paths:
            return paths
        return ["output"]

    def audiences(self) -> list[Audience]:
        if self._audiences is None:
            self._audiences = self._build_audiences()
        return self._audiences

    def _build_audiences(self) -> list[Audience]:
        paths = self._paths()
        rules = [
            r
            for family in (4, 6)
            for t, chains in self.state.tables[family].items()
            if t != "nat"
            for cname, c in chains.items()
            if cname not in ("INPUT",)
            for r in c.rules()
        ]
        src_nets: list[AddrMatch] = []
        seen_src: set[str] = set()
        ifs_in: set[str] = set()
        ifs_out: set[str] = set()
        macs: set[str] = set()
        owners: set[str] = set()
        times: list[TimeMatch] = []
        for r in rules:
            if r.src and not r.src.unknown:
                k = repr((r.src.nets, r.src.ranges))
                if k not in seen_src:
                    seen_src.add(k)
                    src_nets.append(r.src)
            for name, d, _g in r.sets:
                s = self.state.sets.get(name)
                if d == "src" and s is not None:
                    k = f"set:{name}"
                    if k not in seen_src:
                        seen_src.add(k)
                        src_nets.append(AddrMatch(nets=[n for n, _ in s.members]))
            if r.iif:
                ifs_in.add(r.iif[0])
            if r.oif:
                ifs_out.add(r.oif[0])
            if r.mac:
                macs.add(r.mac[0])
            if r.owner:
                owners.add(r.owner[0])
            if r.time and all(r.time != t for t in times):
                times.append(r.time)
        problems_sampled = len(src_nets) > MAX_SRC_REPS
        src_reps = self._src_reps(src_nets[:MAX_SRC_REPS])
        # Internet-bound traffic never crosses the loopback interface.
        ifs_in.discard("lo")
        ifs_out.discard("lo")
        in_reps = sorted(p.replace("+", "0") for p in ifs_in) + ["other"] if ifs_in else [""]
        out_reps = sorted(p.replace("+", "0") for p in ifs_out) + ["other"] if ifs_out else [""]
        mac_reps = sorted(macs) + ["other"] if macs else [""]
        owner_reps = sorted(owners) + ["other"] if owners else [""]
        time_reps = self._time_reps(times)
        out: list[Audience] = []
        for path in paths:
            # What each path can test: a forwarded packet has an input interface and a MAC, a
            # packet of this host has an owner (-m owner is OUTPUT only).
            ins, macs_, owners_ = (in_reps, mac_reps, [""]) if path == "forward" else ([""], [""], owner_reps)
            for src, iif, oif, mac, owner, (day, minute) in product(
                src_reps, ins, out_reps, macs_, owners_, time_reps
            ):
                conds = [PATH_WORDS[path]] if len(paths) > 1 else []
                attrs: list[tuple[str, str]] = [("path", path)]
                if src is not None:
                    conds.append(f"source {src}")
                    attrs.append(("src", str(src)))
                if iif:
                    conds.append(f"in {iif}" if iif != "other" else "in another interface")
                if oif:
                    conds.append(f"out {oif}" if oif != "other" else "out another interface")
                if mac:
                    conds.append(f"MAC {mac}" if mac != "other" else "another MAC")
                    attrs.append(("mac", mac))
                if owner:
                    conds.append(owner if owner != "other" else "another user")
                if day >= 0:
                    conds.append(f"{DAYS[day]} {minute // 60:02d}:{minute % 60:02d} UTC")
                    attrs.append(("time", f"{DAYS[day]} {minute // 60:02d}:{minute % 60:02d}"))
                out.append(
                    Audience(
                        key=(path, str(src), iif, oif, mac, owner, day, minute),
                        conditions=tuple(conds),
                        attributes=tuple(attrs),
                    )
                )
        if problems_sampled:
            self.state.problem(
                "TE906",
                Span(self.path, 1, 1),
                f"{len(src_nets)} distinct source conditions: "
                f"client addresses sampled from the first {MAX_SRC_REPS}",
            )
        if len(out) > MAX_AUDIENCES:
            self.state.problem(
                "TE906",
                Span(self.path, 1, 1),
                f"{len(out)} client combinations: evaluated "
                f"{len(out[:: -(-len(out) // MAX_AUDIENCES)])} of them, evenly spread",
            )
            out = out[:: -(-len(out) // MAX_AUDIENCES)]  # a stride keeps every path and time represented
        return out

    @staticmethod
    def _src_reps(nets: list[AddrMatch]) -> list:
        if not nets:
            return [None]
        cands = []
        for m in nets:
            for n in m.nets:
                cands.append(n.network_address + 1 if n.num_addresses > 2 else n.network_address)
            for v, lo, _hi in m.ranges:
                cands.append(ipaddress.ip_address(lo) if v == 4 else ipaddress.IPv6Address(lo))
        for other in ("203.0.113.77", "198.51.100.77", "192.0.2.77", "100.64.77.77", "172.31.254.77"):
            a = ipaddress.ip_address(other)
            if not any(a.version == n.version and a in n for m in nets for n in m.nets):
                cands.append(a)
                break
        reps, sigs = [], set()
        for c in cands:
            sig = tuple(m.contains(c) for m in nets)
            if sig not in sigs:
                sigs.add(sig)
                reps.append(c)
        return reps

    @staticmethod
    def _time_reps(times: list[TimeMatch]) -> list[tuple[int, int]]:
        if not times:
            return [(-1, -1)]
        cands = []
        for t in times:
            day = min(t.days) if not t.neg_days else min(set(range(7)) - set(t.days) or {0})
            cands.append((day, t.start + 1 if t.start < 24 * 60 - 1 else t.start))
        for day in (6, 2, 0):
            for minute in (3 * 60, 12 * 60, 20 * 60):
                cands.append((day, minute))
        reps, sigs = [], set()
        for c in cands:
            sig = tuple(t.contains(*c) for t in times)
            if sig not in sigs:
                sigs.add(sig)
                reps.append(c)
        return reps

    # ---------------------------------------------------------------- matching

    def _chain_index(self, family: int, table: str, chain: str):
        """A chain's rules indexed by the networks they require: a rule with plain positive `-d`
        networks under its destinations, else one with plain positive `-s` networks under its
        sources, else generic (tried for every packet)."""
        key = (family, table, chain)
        idx = self._index.get(key)
        if idx is None:
            c = self.state.tables[family].get(table, {}).get(chain)
            rules = c.rules() if c else []
            by_dst: dict[int, dict[int, list[int]]] = {}
            by_src: dict[int, dict[int, list[int]]] = {}
            generic: list[int] = []

            def plain(m: AddrMatch | None) -> bool:
                return bool(
                    m
                    and not m.neg
                    and not m.unknown
                    and not m.ranges
                    and m.nets
                    and len(m.nets) <= 64
                    and all(n.prefixlen for n in m.nets)
                )

            for k, r in enumerate(rules):
                m, table_ = (
                    (r.dst, by_dst) if plain(r.dst) else ((r.src, by_src) if plain(r.src) else (None, None))
                )
                if m is None or table_ is None:
                    generic.append(k)
                    continue
                for n in m.nets:
                    if n.version == family:
                        table_.setdefault(n.prefixlen, {}).setdefault(int(n.network_address), []).append(k)
            idx = self._index[key] = (rules, by_dst, by_src, generic)
        return idx

    def _rules_for(self, family: int, table: str, chain: str, dst, src) -> list[Rule]:
        """The rules of a chain that can match a packet from `src` to `dst`, in order."""
        key = (family, table, chain, dst, src)
        hit = self._candidates.get(key)
        if hit is None:
            rules, by_dst, by_src, generic = self._chain_index(family, table, chain)
            if not by_dst and not by_src:
                hit = rules
            else:
                ks = list(generic)
                bits = 32 if family == 4 else 128
                for address, index in ((dst, by_dst), (src, by_src)):
                    if address is None or address.version != family:
                        continue
                    a = int(address)
                    for plen, nets in index.items():
                        ks.extend(nets.get(a & (((1 << plen) - 1) << (bits - plen)), ()))
                hit = [rules[k] for k in sorted(set(ks))]
            if len(self._candidates) < 200000:
                self._candidates[key] = hit
        return hit

    def _match(self, r: Rule, p: _Packet, trace: list[Span]) -> tuple[bool | None, str]:
        """Does rule `r` match packet `p`? None = cannot tell (and why)."""
        if r.proto:
            name, neg = r.proto
            ok = name in ("tcp", "6", "all", "0")
            if ok == neg:
                return False, ""
        if r.states:
            states, neg = r.states
            if (p.state in states) == neg:
                return False, ""
        if r.dports:
            ports, neg = r.dports
            if any(lo < 0 for lo, _ in ports):
                return None, "a port name we do not know"
            if any(lo <= p.port <= hi for lo, hi in ports) == neg:
                return False, ""
        if r.sports and p.sport is not None:
            ports, neg = r.sports
            if any(lo < 0 for lo, _ in ports):
                return None, "a port name we do not know"
            if any(lo <= p.sport <= hi for lo, hi in ports) == neg:
                return False, ""
        elif r.sports:
            ports, neg = r.sports
            # The client's source port is ephemeral (Linux 32768-60999, Windows 49152-65535).
            hit = [any(lo <= sp <= hi for lo, hi in ports) for sp in (40000, 50000, 60000)]
            if all(h == neg for h in hit):
                return False, ""
            if len(set(hit)) > 1:
                return None, "a source-port range covering part of the ephemeral ports"
        if r.iif:
            if p.path == "output" and not p.reply:
                return False, ""
            if _iface(*r.iif[:1], p.iif) == r.iif[1]:
                return False, ""
        if r.oif and p.oif and _iface(r.oif[0], p.oif) == r.oif[1]:
            return False, ""
        if r.mac:
            if (p.path == "output" and not p.reply) or (p.mac == r.mac[0]) == r.mac[1]:
                return False, ""
        if r.owner:
            if p.path != "output" or p.reply or (p.owner == r.owner[0]) == r.owner[1]:
                return False, ""
        if r.time:
            if p.day < 0:
                return None, "a time window"
            if not r.time.contains(p.day, p.minute):
                return False, ""
        if r.src:
            if r.src.unknown:
                return None, r.src.unknown
            if p.src is None:
                if not r.src.neg and not any(n.prefixlen == 0 for n in r.src.nets):
                    return False, ""
            elif r.src.contains(p.src) is False:
                return False, ""
        if r.dst and p.address is None:
            if r.dst.unknown:
                return None, r.dst.unknown
            if not r.dst.neg and not any(n.prefixlen == 0 for n in r.dst.nets):
                return False, ""
        elif r.dst:
            got = r.dst.contains(p.address)
            if got is None:
                return None, r.dst.unknown
            if not got:
                return False, ""
        for name, direction, neg in r.sets:
            s = self.state.sets.get(name)
            addr = p.address if direction == "dst" else p.src
            if s is None or (not s.members and s.dynamic is None and name not in self._loaded_sets()):
                return None, f"ipset {name} is not loaded from the repository"
            if addr is None:
                hit_span = None
            else:
                hit_span = next((sp for n, sp in s.members if n.version == addr.version and addr in n), None)
            if hit_span is None and s.dynamic is not None:
                return None, f"ipset {name} gets members at run time"
            if (hit_span is not None) == neg:
                return False, ""
            if hit_span is not None:
                trace.append(hit_span)
        for needle, icase, neg in r.strings:
            if p.payload is None:
                if not neg:
                    return False, ""
                continue
            hay = p.payload.lower() if icase else p.payload
            hit = (needle.lower() if icase else needle) in hay
            if hit == neg:
                return False, ""
        if r.dynamic:
            return None, r.dynamic
        if r.unknown:
            return None, f"{', '.join(dict.fromkeys(r.unknown))} (not evaluated)"
        return True, ""

    def _loaded_sets(self) -> set[str]:
        return {n for n, s in self.state.sets.items() if s.members or s.dynamic}

    def _chain(
        self, family: int, table: str, chain: str, p: _Packet, depth: int, trace: tuple[Span, ...]
    ) -> ChainResult:
        uncertain: list[Span] = []
        for r in self._rules_for(family, table, chain, p.address, p.src):
            extra: list[Span] = []
            m, why = self._match(r, p, extra)
            if m is False:
                continue
            t = (
                r.target.upper()
                if r.target.upper() in BLOCKING | {"ACCEPT", "RETURN", "QUEUE", "NFQUEUE"}
                else r.target
            )
            here = trace + tuple(extra) + (r.span,)
            scope = self._scope(r)
            if t in BLOCKING:
                if m is None:
                    return ChainResult(
                        "unknown",
                        r.span,
                        here,
                        r.specific,
                        f"cannot tell whether it matches: {why}",
                        scope=scope,
                    )
                return ChainResult(
                    "drop",
                    r.span,
                    here,
                    r.specific,
                    how="reject" if t == "REJECT" else "drop",
                    note=self._note(r),
                    scope=scope,
                )
            if t == "ACCEPT":
                if m is None:
                    uncertain.append(r.span)
                    continue
                return ChainResult("accept", r.span, here, r.specific, scope=scope)
            if t == "RETURN":
                if m is None:
                    uncertain.append(r.span)
                    continue
                return ChainResult("return", r.span, here)
            if t in ("QUEUE", "NFQUEUE"):
                return ChainResult("unknown", r.span, here, False, "a userspace program decides (NFQUEUE)")
            chains = self.state.tables[family].get(table, {})
            if t in chains and t not in BUILTIN.get(table, ()):
                if depth > 32:
                    return ChainResult("unknown", r.span, here, False, "jumps nest too deep")
                sub = self._chain(family, table, t, p, depth + 1, here)
                if sub.verdict in ("fall", "return"):
                    if r.goto:
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
            if t.upper() in NONTERMINAL or not t:
                continue
            # An extension target we do not know: treated as continuing (noted nowhere else).
            continue
        if uncertain:
            return ChainResult(
                "fall",
                uncertain[0],
                trace,
                note="uncertain:" + ",".join(str(s.line) for s in uncertain),
            )
        return ChainResult("fall", None, trace)

    @staticmethod
    def _scope(r: Rule) -> str:
        parts = []
        if r.src:
            parts.append(("! " if r.src.neg else "") + "-s " + ",".join(str(n) for n in r.src.nets))
        if r.iif:
            parts.append(("! " if r.iif[1] else "") + "-i " + r.iif[0])
        if r.mac:
            parts.append("--mac-source " + r.mac[0])
        if r.time:
            parts.append("time " + r.time.text())
        if r.owner:
            parts.append(r.owner[0])
        return " ".join(parts)

    @staticmethod
    def _note(r: Rule) -> str:
        if r.strings:
            return "packet payload (HTTP Host / TLS SNI) contains " + ", ".join(
                repr(n.decode("latin-1")) for n, _c, g in r.strings if not g
            )
        if r.dst and r.dst.host:
            return f"{r.dst.host} resolved through the catalog (the device resolves it once, at load time)"
        return ""

    def _walk(self, p: _Packet) -> ChainResult:
        tables = self.state.tables[p.family]
        uncertain: list[Span] = []
        for table, chain in (REPLY_PATHS if p.reply else PATHS)[p.path]:
            c = tables.get(table, {}).get(chain)
            if c is None:
                continue
            res = self._chain(p.family, table, chain, p, 0, ())
            if res.verdict == "fall" and res.note.startswith("uncertain:"):
                uncertain.append(res.rule)  # type: ignore[arg-type]
                res = ChainResult("fall", None, res.trace)
            if res.verdict in ("drop", "unknown"):
                return self._uncertain(res, uncertain)
            if res.verdict == "accept":
                continue
            if c.policy == "DROP":
                span = c.policy_span
                return self._uncertain(
                    ChainResult(
                        "drop",
                        span,
                        res.trace + ((span,) if span else ()),
                        False,
                        f"{chain} policy DROP",
                        "drop",
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
                f"an earlier ACCEPT may let it through (line {uncertain[0].line}) before {res.note or 'the drop'}",
            )
        return res

    # ---------------------------------------------------------------- the Ruleset protocol

    def evaluate(self, probe: Probe, audience: Audience) -> Decision:
        payload_key = (probe.scheme, probe.host, probe.path) if self._has_strings else None
        vals = dict(audience.attributes)
        key = audience.key

        def one(target: Target) -> Decision:
            ck = (key, probe.port, payload_key, target.address)
            hit = self._cache.get(ck)
            if hit is None:
                hit = self._decide(probe, audience, vals, target)
                self._cache[ck] = hit
            return hit

        d = decide_by_address(probe, self.catalog, one)
        if d.outcome == Outcome.DENY:
            return d
        # A rule naming a few addresses inside one of the service's prefixes (one edge IP) covers
        # none of the sampled addresses, yet users sent there are blocked: a partial block.
        for address, net in self._inner_points(probe.service):
            hit = one(Target(address, net))
            if hit.outcome == Outcome.DENY:
                svc = self.catalog.services.get(probe.service or "")
                note = (
                    f"blocks {address} only, inside {svc.name if svc else ''} prefix {net} "
                    f"(catalog addresses {self.catalog.addresses_version or 'undated'})"
                )
                return replace(hit, partial=True, note=f"{hit.note}; {note}" if hit.note else note)
        return d

    def _inner_points(self, service: str | None) -> list[tuple[object, object]]:
        """Addresses of destination rules that fall inside a prefix of `service` (at most 16)."""
        if service is None:
            return []
        if service in self._points:
            return self._points[service]
        if self._dst_points is None:
            # Every destination rule's first address, sorted per family: found by bisection.
            points: dict[int, set[int]] = {4: set(), 6: set()}
            for r in self._all_rules():
                # Destinations, and sources (an INPUT rule dropping a server's replies).
                for m in (r.dst, r.src):
                    if m and not m.neg and not m.unknown:
                        for n in m.nets:
                            base = int(n.network_address)
                            points[n.version].add(base + 1 if n.num_addresses > 2 else base)
            self._dst_points = {v: sorted(ps) for v, ps in points.items()}
        svc = self.catalog.services.get(service)
        nets = list(svc.networks) if svc else []
        nets += [ipaddress.ip_network(a) for a in (svc.addresses if svc else ())]
        out: list[tuple[object, object]] = []
        for home in nets:
            ps = self._dst_points[home.version]
            lo = bisect.bisect_left(ps, int(home.network_address))
            hi = bisect.bisect_right(ps, int(home.broadcast_address))
            for a in ps[lo : min(hi, lo + 4)]:
                out.append(
                    (
                        ipaddress.ip_address(a) if home.version == 4 else ipaddress.IPv6Address(a),
                        home if home.num_addresses > 1 else None,
                    )
                )
            if len(out) >= 16:
                break
        self._points[service] = out[:16]
        return self._points[service]

    def _decide(self, probe: Probe, audience: Audience, vals: dict, target: Target) -> Decision:
        (path, src, iif, oif, mac, owner, day, minute) = (
            audience.key if audience.key else ("output", "None", "", "", "", "", -1, -1)
        )
        srca = ipaddress.ip_address(src) if src not in ("None", "") else None
        if probe.scheme == "https":
            payload = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00\x00" + probe.host.encode()
        else:
            payload = f"GET {probe.path} HTTP/1.1\r\nHost: {probe.host}\r\n\r\n".encode()
        if target.address.version == 6 and srca is not None and srca.version == 4:
            srca = None
        base = dict(
            family=target.address.version,
            address=target.address,
            port=probe.port,
            path=path,
            src=srca,
            iif=iif,
            oif=oif,
            mac=mac,
            day=day,
            minute=minute,
            owner=owner,
        )
        # The connection needs its SYN out, the server's SYN-ACK back (state ESTABLISHED, from
        # the server's port to the client's) and the first data packet (Host / SNI) out.
        reply = dict(
            base,
            address=srca,
            src=target.address,
            port=50000,
            sport=probe.port,
            iif=oif,
            oif=iif,
            mac="",
            owner="",
            reply=True,
        )
        res = self._walk(_Packet(state="NEW", payload=None, **base))
        if res.verdict == "accept":
            res = self._walk(_Packet(state="ESTABLISHED", payload=None, **reply))
        if res.verdict == "accept":
            res = self._walk(_Packet(state="ESTABLISHED", payload=payload, **base))
        if res.verdict == "accept":
            d = Decision(Outcome.ALLOW, res.rule, res.trace, res.specific)
        elif res.verdict == "drop":
            d = Decision(
                Outcome.DENY, res.rule, res.trace, res.specific, res.how or "drop", res.note, res.scope
            )
        else:
            d = Decision(Outcome.UNKNOWN, res.rule, res.trace, False, "", res.note, res.scope)
        if self.state.dynamic_spans and d.outcome != Outcome.DENY:
            span = self.state.dynamic_spans[0]
            return Decision(
                Outcome.UNKNOWN,
                span,
                d.trace + (span,),
                False,
                "",
                "rules computed at run time may decide it",
            )
        return d

    def inert_mentions(self, probe: Probe) -> list[Span]:
        """Rules that would stop `probe` but that no packet reaches: rules of user chains no rule
        jumps to, and ipsets naming the service that no rule uses."""
        key = (probe.service, probe.host)
        if key not in self._inert:
            self._inert[key] = self._find_inert(probe) if probe.service else []
        return self._inert[key]

    def _find_inert(self, probe: Probe) -> list[Span]:
        svc = self.catalog.services.get(probe.service or "")
        nets = list(svc.networks) if svc else []
        host = probe.host.encode()

        def names_service(r: Rule) -> bool:
            if any(not g and (n.lower() in host.lower() if c else n in host) for n, c, g in r.strings):
                return True
            return bool(
                r.dst
                and not r.dst.neg
                and any(
                    n.overlaps(c)
                    for n in r.dst.nets[:64]
                    for c in nets
                    if n.version == c.version and n.prefixlen >= 8
                )
            )

        out: list[Span] = []
        used_sets = {name for r in self._all_rules() for name, _d, _g in r.sets}
        for family in (4, 6):
            for table, chains in self.state.tables[family].items():
                if table == "nat":
                    continue
                jumped = {r.target for c in chains.values() for r in c.rules()}
                for cname, c in chains.items():
                    inert = cname not in BUILTIN.get(table, ()) and cname not in jumped
                    if not inert:
                        continue
                    for r in c.rules()[:5000]:
                        if r.target in BLOCKING and names_service(r):
                            out.append(r.span)
        for name, st in self.state.sets.items():
            if name in used_sets:
                continue
            hit = next(
                (sp for n, sp in st.members[:5000] for c in nets if n.version == c.version and n.overlaps(c)),
                None,
            )
            if hit is not None:
                out.append(hit)
        return out


class AlternativeRuns:
    """A script whose `case` on a run-time value (`$1`, a menu's `read`) makes it run in several
    ways: each run is evaluated, and the strongest outcome is the device's (a block some run
    applies is reported; the menu's "undo" option does not hide it)."""

    def __init__(self, runs: list[IptablesRuleset]):
        self.runs = runs
        self.path = runs[0].path
        self.dialect = NAME
        self.problems: list[Problem] = list(
            {(p.code, p.span, p.message): p for r in runs for p in r.problems}.values()
        )

    def audiences(self) -> list[Audience]:
        seen: dict[tuple, Audience] = {}
        for r in self.runs:
            for a in r.audiences():
                seen.setdefault(a.key, a)
        return list(seen.values())

    def evaluate(self, probe: Probe, audience: Audience) -> Decision:
        rank = {Outcome.DENY: 3, Outcome.UNKNOWN: 2, Outcome.THROTTLE: 1, Outcome.ALLOW: 0}
        best: Decision | None = None
        for r in self.runs:
            d = r.evaluate(probe, audience)
            if (
                best is None
                or rank[d.outcome] > rank[best.outcome]
                or (d.outcome == best.outcome == Outcome.DENY and best.partial and not d.partial)
            ):
                best = d
        assert best is not None
        return best

    def inert_mentions(self, probe: Probe) -> list[Span]:
        return list(dict.fromkeys(s for r in self.runs for s in r.inert_mentions(probe)))


MAX_RUNS = 16


def parse(path: Path, context: ParseContext) -> IptablesRuleset | AlternativeRuns:
    shown = context.resolver.display(path)
    src = read_source(path, shown)
    lines = src.lines
    # iptables-save output: the first statement is a `*table`, a `:CHAIN` or a bare option line.
    first = next((ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")), "")
    if first.startswith(("*", ":", "-A ", "-I ", "--append ")):
        state = _State(path, shown, context, problems=list(src.problems))
        state.restore(lines, shown, 6 if "ip6tables" in path.name else 4)
        return IptablesRuleset(state)
    heredocs: dict[int, tuple[int, list[str], bool]] = {}
    logical, problems = _logical_lines(lines, shown, heredocs)
    statements = [(s, span) for text, span in logical for s in _split_statements(text)]
    runs: list[IptablesRuleset] = []
    queue: list[tuple[int, ...]] = [()]
    while queue and len(runs) < (MAX_RUNS if len(statements) < 20000 else 1):
        choices = queue.pop(0)
        state = _State(path, shown, context, problems=list(src.problems) + problems, heredocs=heredocs)
        script = _Script(state, choices)
        script.run(statements)
        runs.append(IptablesRuleset(state))
        # Every other arm of each run-time `case` this run met after the ones it was told.
        for j in range(len(choices), len(script.seen_cases)):
            for k in range(1, script.seen_cases[j]):
                queue.append(choices + (0,) * (j - len(choices)) + (k,))
    return runs[0] if len(runs) == 1 else AlternativeRuns(runs)
