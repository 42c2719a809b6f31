"""iptables/ip6tables and ipset commands, and iptables-restore (iptables-save) files, applied to
the tables they build: `-A`/`-I`/`-D`/`-R`/`-F`/`-N`/`-X`/`-P` on chains, a rule's options read
into a Rule (or refused as iptables would refuse it: TE901), ipset members, `ipset restore` files."""

from __future__ import annotations

import ipaddress
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from policy_lint.catalog import Catalog
from policy_lint.dialects.firewalls.iptables.model import (
    BUILTIN,
    DAYS,
    DYN,
    AddrMatch,
    Block,
    Chain,
    IpSet,
    Rule,
    TimeMatch,
    block_of,
)
from policy_lint.dialects.firewalls.iptables.shell import lex
from policy_lint.dialects.semantics.addressing import plain_ipv4_bounds
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.inputs import InputError, read_source
from policy_lint.model import Problem, Span

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


@dataclass
class State:
    """What a configuration builds, per address family: tables of chains, the ipsets, and the
    problems and run-time (dynamic) lines met on the way. The evaluator reads it."""

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
    # Set while a command runs that a run-time test guards (`[ -x /sbin/ipset ] && ...`): why
    # what it adds may not be there (iptables/script.Script.simple).
    maybe: str = ""

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
            self.mark_dynamic(span, "the table is computed at run time")
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
            self.mark_dynamic(span, "the chain is computed at run time")
            return
        if self.maybe and op in ("-F", "-X", "-P", "-D", "-R"):
            # A flush, deletion, replacement or policy that may not happen: the rules it would
            # remove may or may not be there (their matches become unknown), and the verdicts
            # it touches are unknown. (An added rule is marked maybe on its own, in _rule.)
            if op == "-P":
                self.mark_dynamic(span, self.maybe)
                return
            self.problem(
                "TE907", span, f"{self.maybe}, a test made at run time: the rules it removes may stay"
            )
            names = [chain] if chain else list(chains)
            for name in names:
                for r in chains[name].rules() if name in chains else []:
                    r.dynamic = r.dynamic or self.maybe
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
                self.mark_dynamic(span, "the policy is computed at run time")
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

    def has_rule(self, family: int, args: list[str], span: Span) -> bool:
        """`iptables [-t T] -C CHAIN SPEC`: is the rule in the chain built so far?"""
        table = "filter"
        if "-t" in args or "--table" in args:
            k = args.index("-t") if "-t" in args else args.index("--table")
            table = args[k + 1] if k + 1 < len(args) else table
            args = args[:k] + args[k + 2 :]
        rest = args[1:]
        chain = rest[0] if rest and not rest[0].startswith("-") else ""
        c = self.tables[family].get(table, {}).get(chain)
        if c is None:
            return False
        wanted = self._rule(family, table, chain, rest[1:], span)
        return wanted is not None and any(_same(r, wanted) for r in c.rules())

    def plain_append(self, family: int, table: str, words: list[str], span: Span) -> bool:
        """`-A CHAIN -d a.b.c.d[/n] -j TARGET`, most lines of a big iptables-save file: the Rule
        command() would append, built without its general option loop (~3x faster). False,
        and nothing done, for any other shape (tests/dialects/firewalls/test_iptables_fastpath.py
        compares the two on generated lines)."""
        if len(words) != 6 or words[0] != "-A" or words[2] != "-d" or words[4] != "-j" or self.maybe:
            return False
        chain, target = words[1], words[5]
        # A word starting with `-` could be `-t` (command() reads the table from it) or an option.
        if chain.startswith("-") or target.startswith("-") or DYN in chain or DYN in target or DYN in table:
            return False
        block = plain_ipv4_block(words[3])
        if block is None:
            return False
        rule = Rule(
            span,
            family,
            sys.intern(table),
            sys.intern(chain),
            sys.intern(target),
            dst=AddrMatch(blocks=(block,)),
        )
        chains = self.table(family, table)
        c = chains.get(chain)
        if c is None:  # not setdefault, which builds a Chain per line to throw away
            c = chains[chain] = Chain()
        c.tail.append(rule)
        return True

    def mark_dynamic(self, span: Span, why: str) -> None:
        self.problem("TE907", span, f"{why}: what it decides is unknown")
        self.dynamic_spans.append(span)

    def _rule(self, family: int, table: str, chain: str, spec: list[str], span: Span) -> Rule | None:
        r = Rule(span, family, sys.intern(table), sys.intern(chain))
        if self.maybe:
            r.dynamic = self.maybe
            self.problem("TE907", span, f"{self.maybe}, a test made at run time: the rule may be absent")
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
                if w.startswith(("-s", "--s")):
                    r.src = m
                else:
                    r.dst = m
            elif w in ("-i", "--in-interface"):
                r.iif = (val(), neg)
            elif w in ("-o", "--out-interface"):
                r.oif = (val(), neg)
            elif w in ("-j", "--jump", "-g", "--goto"):
                r.target, r.goto = sys.intern(val()), w in ("-g", "--goto")
                # Target options (--reject-with, --log-prefix "...", --to-destination) follow.
                opts: list[tuple[str, str]] = []
                while (
                    i + 1 < len(spec) and spec[i + 1].startswith("--") and not _is_match_option(spec[i + 1])
                ):
                    i += 1
                    opt = spec[i]
                    if i + 1 < len(spec) and not spec[i + 1].startswith("-"):
                        i += 1
                        opts.append((opt, spec[i]))
                    else:
                        opts.append((opt, ""))
                r.target_opts = tuple(opts)
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
                    rng = _range(val(), neg, family)
                    if rng is None:
                        self.problem("TE901", span, "bad address range")
                        return None
                    if w == "--src-range":
                        r.src = rng
                    else:
                        r.dst = rng
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
                        # None was refused just above; mypy does not narrow a set's members.
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
                elif w == "--syn":
                    r.syn = not neg
                elif w in ("--utc", "--kerneltz", "--contiguous"):
                    pass
                elif w == "--tcp-flags":
                    # Which flags a packet of the connection carries is not modelled past --syn.
                    val()
                    val()
                    unknown.append(w)
                elif w in ("--datestart", "--datestop", "--monthdays", "--from", "--to"):
                    # A date range, days of the month, a string's search window: not evaluated.
                    val()
                    unknown.append(w)
                elif w == "--limit":
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
        blocks: list[Block] = []
        for part in value.split(","):
            part = part.strip()
            plain = plain_ipv4_block(part)
            if plain is not None:
                blocks.append(plain)
                continue
            try:
                blocks.append(block_of(ipaddress.ip_network(part, strict=False)))
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
                blocks.extend(block_of(ipaddress.ip_network(a)) for a in svc.addresses)
                continue
            self.problem("TE901", span, f"bad address {part!r}")
            m.unknown = f"bad address {part}"
        m.blocks = tuple(blocks)
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
            self.mark_dynamic(span, "ipset restore reads a file computed at run time")
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
            quoted = _QUOTING.search(text) is not None
            words, err = (text.split(), "") if not quoted else lex(text, {})
            if not quoted and self.plain_append(family, table, words, span):
                continue
            if err:
                # iptables-restore takes an unterminated quote to the end of the line.
                words, _err = lex(text + err.split()[1], {})
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
    return AddrMatch(ranges=((a.version, int(a), int(b)),), neg=neg)


# What the shell lexer would unquote or expand in an iptables-restore line.
_QUOTING = re.compile(r"['\"\\$`]")


def plain_ipv4_block(text: str) -> Block | None:
    """`text` as `ipaddress.ip_network(text, strict=False)` reads it when it is a plain
    `a.b.c.d[/n]`, as integers (ipaddress's string parsing was most of the time of reading a
    200,000-rule file); None for any other spelling, which the caller gives to ip_network (so
    leading zeros, netmask forms and errors are judged by ipaddress itself)."""
    bounds = plain_ipv4_bounds(text)
    return None if bounds is None else (4, *bounds)
