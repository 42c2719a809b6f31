"""The tables read from a configuration, evaluated the way the kernel walks them: the chains of
each packet's path in kernel order, first match, jumps and gotos, policies; each connection as
its SYN, the server's SYN-ACK and the first data packet; audiences from the source addresses,
interfaces, MACs, owners and times the rules test."""

from __future__ import annotations

import bisect
import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass, replace
from itertools import product

from policy_lint.dialects.firewalls.iptables.model import (
    BUILTIN,
    DAYS,
    NAME,
    AddrMatch,
    Block,
    Rule,
    TimeMatch,
    net_of,
)
from policy_lint.dialects.firewalls.iptables.tables import State
from policy_lint.dialects.semantics.addressing import (
    IPAddress,
    IPNetwork,
    Target,
    decide_by_address,
    nets_overlap,
)
from policy_lint.dialects.semantics.chains import (
    ACCEPT,
    DROP,
    GO_ON,
    UNKNOWN,
    ChainResult,
    FirstMatch,
    after_nat,
    clients_only,
    nat_places,
    nat_target,
    outcome_of,
    redirected,
)
from policy_lint.dialects.semantics.gcpause import without_cycle_collection
from policy_lint.dialects.semantics.setfills import SetFill, find_fills
from policy_lint.model import Audience, Decision, Outcome, Probe, Problem, Span

MAX_AUDIENCES = 64
MAX_SRC_REPS = 48
# The chains a user's outgoing packet walks, in kernel order (the nat table's DNAT/REDIRECT
# are evaluated apart, on a connection's first packet: _nat).
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
    "SYNPROXY",
    "",
}


@dataclass(frozen=True)
class _Packet:
    family: int
    address: IPAddress | None  # None: a reply to a client of no known address (no source rules)
    port: int
    state: str  # NEW | ESTABLISHED
    payload: bytes | None
    path: str
    src: IPAddress | None
    iif: str
    oif: str
    mac: str
    day: int
    minute: int
    owner: str
    sport: int | None = None  # None: the client's ephemeral port
    host: str = ""  # the name the client resolved and asked for (ipsets a DNS forwarder fills)
    reply: bool = False  # the server's answer (SYN-ACK), walking back to the client
    # After destination NAT: fields whose value the ruleset does not give ("dst"/"src": this
    # host's own address; "iif"/"oif": the interface the NAT destination is behind; "owner": the
    # local proxy's user). A rule testing one of them may or may not match.
    unsure: frozenset[str] = frozenset()


# The chains a connection meets around destination NAT (iptables-extensions(8), the netfilter
# packet flow): raw and mangle PREROUTING (OUTPUT) run before nat PREROUTING (OUTPUT) and see the
# original destination; after the routing decision the rewritten packet goes to FORWARD (another
# host) or INPUT (this host), for this host's own traffic through the rest of OUTPUT first.
Chains = tuple[tuple[str, str], ...]
BEFORE_NAT: dict[str, Chains] = {
    "forward": (("raw", "PREROUTING"), ("mangle", "PREROUTING")),
    "output": (("raw", "OUTPUT"), ("mangle", "OUTPUT")),
}
TO_FORWARD: Chains = (
    ("mangle", "FORWARD"),
    ("filter", "FORWARD"),
    ("security", "FORWARD"),
    ("mangle", "POSTROUTING"),
)
TO_INPUT: Chains = (("mangle", "INPUT"), ("filter", "INPUT"), ("security", "INPUT"))
REST_OF_OUTPUT: Chains = (("filter", "OUTPUT"), ("security", "OUTPUT"), ("mangle", "POSTROUTING"))
LOCAL_OUT: Chains = (("raw", "OUTPUT"), ("mangle", "OUTPUT")) + REST_OF_OUTPUT
LOCAL_IN: Chains = (("raw", "PREROUTING"), ("mangle", "PREROUTING")) + TO_INPUT


def _iface(pattern: str, name: str) -> bool:
    if pattern.endswith("+"):
        return name.startswith(pattern[:-1])
    return name == pattern


# A chain's rules, its rule numbers by destination and by source network (prefix length ->
# network as an int -> rule numbers), and the numbers of the rules tried for every packet.
# Per prefix length, per network: the rule's position, or the positions when several rules
# name it (a bare int for the usual one: a list per network of a 200,000-rule chain cost ~20 MB).
NetIndex = dict[int, dict[int, int | list[int]]]
ChainIndex = tuple[list[Rule], NetIndex, NetIndex, list[int]]


def _for_some_clients(r: Rule) -> bool:
    """Does the rule test who the client is (its address, interfaces, MAC, user or time)?"""
    return bool(
        r.src or r.iif or r.oif or r.mac or r.owner or r.time or any(d == "src" for _n, d, _g in r.sets)
    )


def _plain_blocks(m: AddrMatch | None) -> tuple[Block, ...] | None:
    """The networks of a plain positive address match (known, no ranges, none of them /0, at
    most 64): what a chain's rules are indexed by; None for any other."""
    if m is None or m.neg or m.unknown or m.ranges or not m.blocks:
        return None
    blocks = m.blocks
    if len(blocks) == 1:  # the usual rule: no generator per rule of a 200,000-rule chain
        return blocks if blocks[0][2] else None
    return blocks if len(blocks) <= 64 and all(plen for _v, _b, plen in blocks) else None


def _may_match_port(r: Rule, port: int) -> bool:
    """False when the rule's `--dport` test alone rules out a packet to `port` (as _match reads it:
    a port name we do not know leaves it open)."""
    if r.dports is None:
        return True
    ports, neg = r.dports
    if any(lo < 0 for lo, _ in ports):
        return True
    return any(lo <= port <= hi for lo, hi in ports) != neg


class IptablesRuleset:
    def __init__(self, state: State):
        self.path = state.shown
        self.dialect = NAME
        self.problems = state.problems
        self.state = state
        self.catalog = state.context.catalog
        self._cache: dict[tuple, Decision] = {}
        self._candidates: dict[tuple, list[Rule]] = {}
        self._generic: dict[tuple, list[int]] = {}
        self._index: dict[tuple, ChainIndex] = {}
        self._audiences: list[Audience] | None = None
        self._points: dict[str, list[tuple[IPAddress, IPNetwork | None]]] = {}
        self._dst_points: dict[int, list[int]] | None = None
        self._inert: dict[tuple, list[Span]] = {}
        # What every probe's inert_mentions asks of the whole ruleset, computed once (rules do
        # not change after parsing; a 200,000-rule file has ~30 probes).
        self._used_sets: set[str] | None = None
        self._jumped: dict[tuple[int, str], set[str]] = {}
        self._flagged: set[Span] = set()
        self._client_accepts: dict[tuple, tuple[dict[int, int], list[tuple[int, Rule]]]] = {}
        self._has_strings = any(r.strings for r in self._all_rules())
        self._apply_sets()
        # A set a DNS forwarder fills decides by the requested name, not the address alone.
        self._has_fills = any(s.filled for s in self.state.sets.values())
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

    def _sent(self, r: Rule, t: str, p: _Packet, here: tuple[Span, ...]) -> ChainResult:
        """Where DNAT (--to-destination), REDIRECT (--to-ports, to this host) or TPROXY
        (--on-port) sends the connection: another host answers (blocked) or a proxy decides."""
        opts = dict(r.target_opts)
        if t == "DNAT":
            where, port = nat_target(opts.get("--to-destination", opts.get("--to", "")))
        elif t == "REDIRECT":
            where, port = "", nat_target(opts.get("--to-ports", opts.get("--to-port", "")))[1]
        else:
            where, port = opts.get("--on-ip", ""), nat_target(opts.get("--on-port", ""))[1]
        res = redirected(t, where, port, p.port, r.span, here)
        if res.how == "proxy" and r.span not in self._flagged:
            self._flagged.add(r.span)
            self.problems.append(
                Problem(
                    "TE907", r.span, f"{res.note}; lint that proxy's configuration for what it lets through"
                )
            )
        return res

    def _through_nat(
        self,
        nat: ChainResult,
        sent: tuple[str, str, int | None],
        first: _Packet,
        payload: bytes,
        via_parent: bytes,
    ) -> ChainResult:
        """The connection `nat` sent to a proxy, on through the filter hooks (the netfilter packet
        flow): its SYN, the proxy's answer and the first data packet. The data packet carries
        what the client sends the service (TLS ClientHello with the SNI, or `GET` with `Host:`):
        a transparent proxy is not configured in the client, which believes it talks to the
        service. A drop on the way blocks it whatever the proxy would do. A proxy on this host
        fetches the page itself: that connection is this host's own traffic (`_upstream`)."""
        kind, where, port = sent
        assert first.address is not None
        places = []
        for addr, local in nat_places(kind, where, first.address):
            at = f"port {port}" if port is not None else "the same port"
            words = f"this host ({at})" if local else f"another host ({where}, {at})"
            res = self._nat_connection(first, payload, addr, port, local)
            if local and res.verdict == "accept":
                res = self._upstream(first, payload, via_parent)
            places.append((words, local, res))
        return after_nat(nat, places, where)

    def _upstream(self, first: _Packet, payload: bytes, via_parent: bytes) -> ChainResult:
        """A proxy on this host asks the service itself: its connection leaves through nat
        OUTPUT and OUTPUT like any of this host's own (its user not known). It blocks the
        service only if it is stopped both direct to the service (the same SNI/Host) and to a
        parent proxy (a `CONNECT host:443` or `GET http://host/` line, to an address and port
        that are not the service's), for how the proxy forwards is its own configuration's
        business; else the proxy decides (accept here)."""
        direct = replace(
            first, path="output", src=None, iif="", mac="", owner="", unsure=frozenset({"owner"})
        )
        parent = replace(
            direct,
            address=ipaddress.ip_address("192.0.2.1" if first.family == 4 else "2001:db8::1"),
            port=3128,
        )
        found: ChainResult | None = None
        for p, data in ((direct, payload), (parent, via_parent)):
            if self._nat(replace(p, state="NEW", payload=None)) is not None:
                return ChainResult("accept")  # nat OUTPUT sends the proxy's own connection on: not followed
            back = replace(
                p,
                reply=True,
                address=None,
                src=p.address,
                port=50000,
                sport=p.port,
                iif=first.oif,
                oif="",
                unsure=frozenset(),
            )
            res = ChainResult("accept")
            for q in (
                replace(p, state="NEW", payload=None),
                replace(back, state="ESTABLISHED"),
                replace(p, state="ESTABLISHED", payload=data),
            ):
                res = self._walk(q)
                if res.verdict != "accept":
                    break
            if res.verdict != "drop":
                return ChainResult("accept")
            found = found or res
        assert found is not None and found.rule is not None
        return replace(
            found,
            note=f"the proxy's own request for the service (this host's OUTPUT), direct or through a parent "
            f"proxy, is dropped by line {found.rule.line}" + (f" ({found.note})" if found.note else ""),
            scope="",
        )

    def _nat_connection(
        self, first: _Packet, payload: bytes, addr: IPAddress | None, port: int | None, local: bool
    ) -> ChainResult:
        """One place the rewritten connection may be delivered to: each packet's walk, as legs
        of (chains, packet). Before nat PREROUTING (OUTPUT) the packet has its original
        destination; after it, the new one: to another host through FORWARD (its interface not
        known), to this host through INPUT; this host's own traffic crosses the rest of OUTPUT
        first, and reaches a local proxy through the loopback interface."""
        unsure_addr = {"dst"} if addr is None else set()
        new = replace(first, address=addr, port=port if port is not None else first.port)
        client_if = first.iif
        if first.path == "forward":
            if local:
                after = [(TO_INPUT, replace(new, path="input", oif="", unsure=frozenset(unsure_addr)))]
                back = replace(
                    new,
                    path="input",
                    reply=True,
                    address=first.src,
                    src=addr,
                    port=50000,
                    sport=new.port,
                    iif="",
                    oif=client_if,
                    mac="",
                    unsure=frozenset({"owner"} | ({"src"} if addr is None else set())),
                )
                replies = [(LOCAL_OUT, back)]
            else:
                after = [(TO_FORWARD, replace(new, unsure=frozenset({"oif"} | unsure_addr)))]
                back = replace(
                    new,
                    reply=True,
                    address=first.src,
                    src=addr,
                    port=50000,
                    sport=new.port,
                    iif="",
                    oif=client_if,
                    mac="",
                    owner="",
                    unsure=frozenset({"iif"} | ({"src"} if addr is None else set())),
                )
                replies = [(PATHS["forward"], back)]
        else:
            mine = {"src"} if addr is None else set()
            if local:
                after = [
                    (REST_OF_OUTPUT, replace(new, oif="lo", unsure=frozenset(unsure_addr))),
                    (LOCAL_IN, replace(new, path="input", iif="lo", oif="", unsure=frozenset(unsure_addr))),
                ]
                back = replace(new, reply=True, address=None, src=addr, port=50000, sport=new.port)
                replies = [
                    (
                        LOCAL_OUT,
                        replace(back, path="input", iif="", oif="lo", unsure=frozenset({"owner"} | mine)),
                    ),
                    (LOCAL_IN, replace(back, path="output", iif="lo", oif="", unsure=frozenset(mine))),
                ]
            else:
                after = [(REST_OF_OUTPUT, replace(new, unsure=frozenset({"oif"} | unsure_addr)))]
                back = replace(
                    new,
                    reply=True,
                    address=None,
                    src=addr,
                    port=50000,
                    sport=new.port,
                    iif="",
                    oif="",
                    owner="",
                )
                replies = [(REPLY_PATHS["output"], replace(back, unsure=frozenset({"iif"} | mine)))]
        before = [(BEFORE_NAT[first.path], first)]
        data = [(chains, replace(p, state="ESTABLISHED", payload=payload)) for chains, p in before + after]
        for legs in (before + after, [(c, replace(p, state="ESTABLISHED")) for c, p in replies], data):
            for chains, p in legs:
                res = self._walk(p, chains)
                if res.verdict != "accept":
                    return res
        return ChainResult("accept")

    def _nat(self, p: _Packet) -> ChainResult | None:
        """The first packet of a connection through the nat table (PREROUTING for forwarded
        clients, OUTPUT for this host): a DNAT or REDIRECT sends it elsewhere before the filter
        table sees it, so what the filter says about the service's address no longer applies."""
        chain = "PREROUTING" if p.path == "forward" else "OUTPUT"
        if chain not in self.state.tables[p.family].get("nat", {}):
            return None
        res = self._chain(p.family, "nat", chain, p, 0, ())
        return res if res.verdict in ("drop", "unknown") else None

    def _not_modelled(self, span: Span, what: str) -> None:
        """TE908, once per rule: a rule whose match or target is not evaluated touched a verdict."""
        if span not in self._flagged:
            self._flagged.add(span)
            self.problems.append(
                Problem("TE908", span, f"{what}: the verdicts this rule could decide are unknown")
            )

    def _all_rules(self) -> Iterator[Rule]:
        for tables in self.state.tables.values():
            for tname, chains in tables.items():
                if tname == "nat":
                    continue
                for c in chains.values():
                    yield from c.rules()

    def _apply_sets(self) -> None:
        fills: list[SetFill] | None = None
        for r in self._all_rules():
            for name, _d, _g in r.sets:
                s = self.state.sets.get(name)
                if s is not None and not s.members and s.dynamic is None and not s.filled:
                    if fills is None:  # scanned once, and only for a set nothing here loads
                        fills = find_fills(self.state.context.resolver.root, self.state.context.resolver)
                    s.filled = [f for f in fills if f.set_name == name and not f.table]
                if s is not None and s.filled:
                    continue
                if s is None or (not s.members and s.dynamic is None and s.span == r.span):
                    self.state.problem(
                        "TE903",
                        r.span,
                        f"ipset {name} is used but never created or loaded from a file in the repository, "
                        "and no ipset= of a DNS forwarder (dnsmasq, unbound) in the repository fills it",
                    )

    # ---------------------------------------------------------------- paths and audiences

    def _path_can_block(self, path: str) -> bool:
        nat_chain = "PREROUTING" if path == "forward" else "OUTPUT"
        for family in (4, 6):
            nat = self.state.tables[family].get("nat", {})
            if nat_chain in nat and any(
                r.target in ("DNAT", "REDIRECT") for c in nat.values() for r in c.rules()
            ):
                return True
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
            self._audiences = self._users_only(self._audiences)
        return self._audiences

    def _users_only(self, audiences: list[Audience]) -> list[Audience]:
        return clients_only(audiences, self.evaluate, self.catalog.control_probes(), PATH_WORDS["forward"])

    def _build_audiences(self) -> list[Audience]:
        paths = self._paths()
        rules = [
            r
            for family in (4, 6)
            for t, chains in self.state.tables[family].items()
            for cname, c in chains.items()
            if cname not in ("INPUT",)
            for r in c.rules()
            if t != "nat" or r.target in ("DNAT", "REDIRECT")
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
                k = repr((r.src.blocks, r.src.ranges))
                if k not in seen_src:
                    seen_src.add(k)
                    src_nets.append(r.src)
            for name, d, _g in r.sets:
                s = self.state.sets.get(name)
                if d == "src" and s is not None:
                    k = f"set:{name}"
                    if k not in seen_src:
                        seen_src.add(k)
                        src_nets.append(AddrMatch.of_nets([n for n, _ in s.members]))
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
    def _src_reps(nets: list[AddrMatch]) -> list[IPAddress | None]:
        if not nets:
            return [None]
        cands: list[IPAddress] = []
        for m in nets:
            for n in m.nets:
                cands.append(
                    n.network_address + 1 if n.prefixlen < n.max_prefixlen - 1 else n.network_address
                )
            for v, lo, _hi in m.ranges:
                cands.append(ipaddress.ip_address(lo) if v == 4 else ipaddress.IPv6Address(lo))
        for other in ("203.0.113.77", "198.51.100.77", "192.0.2.77", "100.64.77.77", "172.31.254.77"):
            a = ipaddress.ip_address(other)
            if not any(a.version == n.version and a in n for m in nets for n in m.nets):
                cands.append(a)
                break
        reps: list[IPAddress | None] = []
        sigs: set[tuple[bool | None, ...]] = set()
        for c in cands:
            if c.is_loopback:
                continue  # web traffic never comes from 127.0.0.0/8 or ::1: no users there
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

    def _chain_index(self, family: int, table: str, chain: str) -> ChainIndex:
        """A chain's rules indexed by the networks they require: a rule with plain positive `-d`
        networks under its destinations, else one with plain positive `-s` networks under its
        sources, else generic (tried for every packet)."""
        key = (family, table, chain)
        idx = self._index.get(key)
        if idx is None:
            c = self.state.tables[family].get(table, {}).get(chain)
            rules = c.rules() if c else []
            by_dst: NetIndex = {}
            by_src: NetIndex = {}
            generic: list[int] = []
            for k, r in enumerate(rules):
                blocks, table_ = _plain_blocks(r.dst), by_dst
                if blocks is None:
                    blocks, table_ = _plain_blocks(r.src), by_src
                if blocks is None:
                    generic.append(k)
                    continue
                for version, base, plen in blocks:
                    if version == family:
                        at = table_.get(plen)
                        if at is None:
                            at = table_[plen] = {}
                        was = at.get(base)
                        if was is None:
                            at[base] = k
                        elif isinstance(was, int):
                            at[base] = [was, k]
                        else:
                            was.append(k)
            idx = self._index[key] = (rules, by_dst, by_src, generic)
        return idx

    def _generic_for(self, family: int, table: str, chain: str, port: int) -> list[int]:
        """The chain's generic rules that can match a packet to `port`: a rule whose `--dport`
        leaves the port out is skipped (a 200-rule chain of port rules was walked for every
        packet). Exact: _match rules such a rule out before anything it does has an effect."""
        key = (family, table, chain, port)
        hit = self._generic.get(key)
        if hit is None:
            rules, _by_dst, _by_src, generic = self._chain_index(family, table, chain)
            hit = self._generic[key] = [k for k in generic if _may_match_port(rules[k], port)]
        return hit

    def _rules_for(
        self, family: int, table: str, chain: str, dst: IPAddress | None, src: IPAddress | None, port: int
    ) -> list[Rule]:
        """The rules of a chain that can match a packet from `src` to `dst` port `port`, in order."""
        key = (family, table, chain, dst, src, port)
        hit = self._candidates.get(key)
        if hit is None:
            rules, by_dst, by_src, _generic = self._chain_index(family, table, chain)
            ports = self._generic_for(family, table, chain, port)
            if not by_dst and not by_src:
                hit = rules if len(ports) == len(rules) else [rules[k] for k in ports]
            else:
                ks = list(ports)
                bits = 32 if family == 4 else 128
                for address, index in ((dst, by_dst), (src, by_src)):
                    if address is None or address.version != family:
                        continue
                    a = int(address)
                    for plen, nets in index.items():
                        found = nets.get(a & (((1 << plen) - 1) << (bits - plen)))
                        if isinstance(found, int):
                            ks.append(found)
                        elif found:
                            ks.extend(found)
                hit = [rules[k] for k in sorted(set(ks))]
            if len(self._candidates) < 200000:
                self._candidates[key] = hit
        return hit

    def _match(self, r: Rule, p: _Packet, trace: list[Span]) -> tuple[bool | None, str]:
        """Does rule `r` match packet `p`? None = cannot tell (and why): a condition we cannot
        evaluate leaves the match open unless another condition of the rule rules it out."""
        doubts: list[str] = []
        if r.proto:
            name, neg = r.proto
            ok = name in ("tcp", "6", "all", "0")
            if ok == neg:
                return False, ""
        if r.states:
            states, neg = r.states
            if (p.state in states) == neg:
                return False, ""
        # --syn: SYN set, ACK/RST/FIN clear: the client's first packet only.
        if r.syn is not None and (p.state == "NEW" and not p.reply) != r.syn:
            return False, ""
        if r.dports:
            ports, neg = r.dports
            if any(lo < 0 for lo, _ in ports):
                doubts.append("a port name we do not know")
            elif any(lo <= p.port <= hi for lo, hi in ports) == neg:
                return False, ""
        if r.sports and p.sport is not None:
            ports, neg = r.sports
            if any(lo < 0 for lo, _ in ports):
                doubts.append("a port name we do not know")
            elif any(lo <= p.sport <= hi for lo, hi in ports) == neg:
                return False, ""
        elif r.sports:
            ports, neg = r.sports
            # The client's source port is ephemeral (Linux 32768-60999, Windows 49152-65535).
            hits = [any(lo <= sp <= hi for lo, hi in ports) for sp in (40000, 50000, 60000)]
            if all(h == neg for h in hits):
                return False, ""
            if len(set(hits)) > 1:
                doubts.append("a source-port range covering part of the ephemeral ports")
        # A packet this host sends (its own, or a local proxy's answer) has no input interface
        # or MAC; only those have an owner.
        sent_here = (p.path == "output") != p.reply
        if r.iif:
            if sent_here:
                return False, ""
            if "iif" in p.unsure:
                doubts.append("the interface the NAT destination is behind")
            elif _iface(*r.iif[:1], p.iif) == r.iif[1]:
                return False, ""
        if r.oif and "oif" in p.unsure:
            doubts.append("the interface the NAT destination is behind")
        elif r.oif and p.oif and _iface(r.oif[0], p.oif) == r.oif[1]:
            return False, ""
        if r.mac and (sent_here or (p.mac == r.mac[0]) == r.mac[1]):
            return False, ""
        if r.owner:
            if not sent_here:
                return False, ""
            if "owner" in p.unsure:
                doubts.append("the user the local proxy runs as")
            elif (p.owner == r.owner[0]) == r.owner[1]:
                return False, ""
        if r.time:
            if p.day < 0:
                doubts.append("a time window")
            elif not r.time.contains(p.day, p.minute):
                return False, ""
        if r.src:
            if r.src.unknown:
                doubts.append(r.src.unknown)
            elif "src" in p.unsure:
                doubts.append("this host's own address")
            elif p.src is None:
                if not r.src.neg and not any(plen == 0 for _v, _b, plen in r.src.blocks):
                    return False, ""
            elif r.src.contains(p.src) is False:
                return False, ""
        if r.dst and "dst" in p.unsure:
            doubts.append("this host's own address")
        elif r.dst and p.address is None:
            if r.dst.unknown:
                doubts.append(r.dst.unknown)
            elif not r.dst.neg and not any(plen == 0 for _v, _b, plen in r.dst.blocks):
                return False, ""
        elif r.dst:
            assert p.address is not None  # the branch above takes a packet without one
            got = r.dst.contains(p.address)
            if got is None:
                doubts.append(r.dst.unknown)
            elif not got:
                return False, ""
        for name, direction, neg in r.sets:
            s = self.state.sets.get(name)
            addr = p.address if direction == "dst" else p.src
            if direction in p.unsure:
                doubts.append(f"whether ipset {name} holds this host's own address")
                continue
            if s is not None and s.filled and not s.members and s.dynamic is None:
                # The forwarder puts the resolved server addresses in: the server's side of the
                # connection (the destination going out, the source of a reply) is a member when
                # the requested name is under a filled domain; a client's address never is.
                server_side = (direction == "dst") != p.reply
                fill = next((f for f in s.filled if server_side and f.holds(p.host)), None)
                if (fill is not None) == neg:
                    return False, ""
                if fill is not None:
                    trace.append(fill.span)
                continue
            if s is None or (not s.members and s.dynamic is None and name not in self._loaded_sets()):
                doubts.append(f"ipset {name} is not loaded from the repository")
                continue
            if addr is None:
                hit_span = None
            else:
                hit_span = next((sp for n, sp in s.members if n.version == addr.version and addr in n), None)
            if hit_span is None and s.dynamic is not None:
                doubts.append(f"ipset {name} gets members at run time")
                continue
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
            doubts.append(r.dynamic)
        if r.unknown:
            doubts.append(f"{', '.join(dict.fromkeys(r.unknown))} (not evaluated)")
        if doubts:
            return None, "; ".join(dict.fromkeys(doubts))
        return True, ""

    def _loaded_sets(self) -> set[str]:
        return {n for n, s in self.state.sets.items() if s.members or s.dynamic}

    def _chain(
        self, family: int, table: str, chain: str, p: _Packet, depth: int, trace: tuple[Span, ...]
    ) -> ChainResult:
        """First match, three-valued (semantics.chains.FirstMatch): a rule whose match cannot be
        told is passed over, and what it would have done decides whether a later verdict is certain."""
        walk = FirstMatch()
        rules = (
            self._chain_index(family, table, chain)[0]
            if p.unsure & {"dst", "src"}
            else self._rules_for(family, table, chain, p.address, p.src, p.port)
        )
        for r in rules:
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
            scope = self._scope(r, p)
            doubt = f"cannot tell whether it matches: {why}"
            if m is None and r.unknown:
                self._not_modelled(r.span, f"{', '.join(dict.fromkeys(r.unknown))} not evaluated")
            if t in BLOCKING:
                if m is None:
                    walk.pass_over(DROP, ChainResult("unknown", r.span, here, r.specific, doubt, scope=scope))
                    continue
                if not scope and not p.reply:
                    scope = self._but(family, table, chain, r, p)
                return walk.settle(
                    ChainResult(
                        "drop",
                        r.span,
                        here,
                        r.specific,
                        how="reject" if t == "REJECT" else "drop",
                        note=self._note(r),
                        scope=scope,
                    )
                )
            if t == "ACCEPT":
                if m is None:
                    walk.pass_over(
                        ACCEPT, ChainResult("accept", r.span, here, r.specific, doubt, scope=scope)
                    )
                    continue
                return walk.settle(ChainResult("accept", r.span, here, r.specific, scope=scope))
            if t == "RETURN":
                if m is None:
                    walk.pass_over(GO_ON, ChainResult("return", r.span, here, note=doubt))
                    continue
                return walk.settle(ChainResult("return", r.span, here))
            if t in ("QUEUE", "NFQUEUE"):
                queued = ChainResult("unknown", r.span, here, False, "a userspace program decides (NFQUEUE)")
                if m is None:
                    walk.pass_over(UNKNOWN, queued)
                    continue
                return walk.settle(queued)
            if (t in ("DNAT", "REDIRECT") and table == "nat") or t == "TPROXY":
                sent = self._sent(r, t, p, here)
                if m is None:
                    walk.pass_over(
                        DROP if sent.verdict == "drop" else UNKNOWN,
                        ChainResult("unknown", r.span, here, False, f"{doubt}; if it does, {sent.note}"),
                    )
                    continue
                return walk.settle(sent)
            chains = self.state.tables[family].get(table, {})
            if t in chains and t not in BUILTIN.get(table, ()):
                if depth > 32:
                    return walk.settle(ChainResult("unknown", r.span, here, False, "jumps nest too deep"))
                sub = self._chain(family, table, t, p, depth + 1, here)
                if sub.verdict in ("fall", "return"):
                    if r.goto:
                        # -g: the end of the chain gone to returns from this one.
                        back = ChainResult("return", r.span, here, uncertain=sub.uncertain, note=sub.note)
                        if m is None:
                            walk.pass_over(GO_ON, replace(back, note=doubt))
                            walk.merge(sub)
                            continue
                        return walk.settle(back)
                    walk.merge(sub)
                    continue
                if m is None:
                    if sub.verdict == "unknown":
                        walk.pass_over(UNKNOWN, sub)
                    else:
                        walk.pass_over(
                            outcome_of(sub),
                            replace(sub, rule=r.span, note=doubt)
                            if sub.verdict == "accept"
                            else ChainResult("unknown", r.span, here, False, doubt, scope=sub.scope),
                        )
                    continue
                return walk.settle(sub)
            if t.upper() in NONTERMINAL or not t:
                continue
            # A target we do not know (an extension's, a chain never created): it may drop.
            self._not_modelled(r.span, f"target {t} not evaluated")
            odd = ChainResult("unknown", r.span, here, False, f"target {t} is not modelled", scope=scope)
            if m is None:
                walk.pass_over(UNKNOWN, odd)
                continue
            return walk.settle(odd)
        return walk.settle(ChainResult("fall", None, trace))

    def _but(self, family: int, table: str, chain: str, drop: Rule, p: _Packet) -> str:
        """Everyone but ...: the ACCEPTs above `drop` that let other clients through, named (an
        ACCEPT that would not take this packet from any client is left out)."""
        key = (family, table, chain)
        accepts = self._client_accepts.get(key)
        if accepts is None:
            rules = self._chain_index(family, table, chain)[0]
            firsts = [(k, r) for k, r in enumerate(rules) if r.target == "ACCEPT" and _for_some_clients(r)]
            firsts = firsts[:64]
            # Positions only up to the last ACCEPT weighed: a drop past it (the chain's rules are
            # the ones `drop` was taken from) is after all of them. A map of every rule of a
            # 200,000-rule chain cost ~20 MB.
            upto = firsts[-1][0] + 1 if firsts else 0
            accepts = self._client_accepts[key] = ({id(r): k for k, r in enumerate(rules[:upto])}, firsts)
        pos, candidates = accepts
        here = pos.get(id(drop), candidates[-1][0] + 1 if candidates else -1)
        lets: list[Rule] = []
        for k, r in candidates[:64]:
            if k >= here or self._match(r, p, [])[0] is not False:
                continue
            anyone = replace(
                r,
                src=None,
                iif=None,
                oif=None,
                mac=None,
                owner=None,
                time=None,
                sets=tuple(x for x in r.sets if x[1] == "dst"),
            )
            if self._match(anyone, p, [])[0] is not False:
                lets.append(r)
        if not lets:
            return ""
        named = " or ".join(f"{self._scope(r) or 'its conditions'} (line {r.span.line})" for r in lets[:3])
        return f"everyone but {named}" + (f" and {len(lets) - 3} more" if len(lets) > 3 else "")

    @staticmethod
    def _scope(r: Rule, p: _Packet | None = None) -> str:
        """Whom the rule's conditions single out. On a server's reply (SYN-ACK) the rule's `-s`
        names the service's servers and `-d` the client: said so, never as the audience."""
        if p is not None and p.reply:
            who = "this host" if p.path == "output" else "clients"
            if r.dst:
                who += f" {'! ' if r.dst.neg else ''}-d {','.join(str(n) for n in r.dst.nets)}"
            if r.src:
                nets = ",".join(str(n) for n in r.src.nets)
                whence = f"the service's servers {'outside' if r.src.neg else 'in'} {nets}"
            else:
                whence = "the service's servers"
            return f"{who} ({r.chain} stops the replies of {whence})"
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

    def _walk(self, p: _Packet, chains: Chains | None = None) -> ChainResult:
        """The packet through the base chains of its path (or `chains`), in kernel order. A DROP
        ends it; an ACCEPT ends one table's chain only (the next table's chain still sees the
        packet), so a rule passed over in one base chain matters only against that chain's own
        policy."""
        tables = self.state.tables[p.family]
        for table, chain in chains if chains is not None else (REPLY_PATHS if p.reply else PATHS)[p.path]:
            c = tables.get(table, {}).get(chain)
            if c is None:
                continue
            res = self._chain(p.family, table, chain, p, 0, ())
            if res.verdict in ("fall", "return"):
                if c.policy != "DROP":
                    continue
                span = c.policy_span
                walk = FirstMatch()
                walk.merge(res)
                res = walk.settle(
                    ChainResult(
                        "drop",
                        span,
                        res.trace + ((span,) if span else ()),
                        False,
                        f"{chain} policy DROP",
                        "drop",
                    )
                )
            if res.verdict in ("drop", "unknown"):
                return res
        return ChainResult("accept")

    # ---------------------------------------------------------------- the Ruleset protocol

    @without_cycle_collection
    def evaluate(self, probe: Probe, audience: Audience) -> Decision:
        payload_key = (probe.scheme, probe.host, probe.path) if self._has_strings or self._has_fills else None
        key = audience.key

        def one(target: Target) -> Decision:
            ck = (key, probe.port, payload_key, target.address)
            hit = self._cache.get(ck)
            if hit is None:
                hit = self._decide(probe, audience, target)
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

    def _inner_points(self, service: str | None) -> list[tuple[IPAddress, IPNetwork | None]]:
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
                        for version, base, plen in m.blocks:
                            top = 32 if version == 4 else 128
                            points[version].add(base + 1 if plen < top - 1 else base)
            self._dst_points = {v: sorted(ps) for v, ps in points.items()}
        svc = self.catalog.services.get(service)
        nets = list(svc.networks) if svc else []
        nets += [ipaddress.ip_network(a) for a in (svc.addresses if svc else ())]
        out: list[tuple[IPAddress, IPNetwork | None]] = []
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

    def _decide(self, probe: Probe, audience: Audience, target: Target) -> Decision:
        (path, src, iif, oif, mac, owner, day, minute) = (
            audience.key if audience.key else ("output", "None", "", "", "", "", -1, -1)
        )
        srca = ipaddress.ip_address(src) if src not in ("None", "") else None
        if probe.scheme == "https":
            payload = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00\x00" + probe.host.encode()
        else:
            payload = f"GET {probe.path} HTTP/1.1\r\nHost: {probe.host}\r\n\r\n".encode()
        # What a proxy sends a parent proxy for it (RFC 9110 9.3.6 CONNECT; absolute-form URI).
        if probe.scheme == "https":
            via_parent = (
                f"CONNECT {probe.host}:{probe.port} HTTP/1.1\r\nHost: {probe.host}:{probe.port}\r\n\r\n"
            )
        else:
            via_parent = f"GET http://{probe.host}{probe.path} HTTP/1.1\r\nHost: {probe.host}\r\n\r\n"
        if target.address.version == 6 and srca is not None and srca.version == 4:
            srca = None
        base = {
            "family": target.address.version,
            "address": target.address,
            "port": probe.port,
            "path": path,
            "src": srca,
            "iif": iif,
            "oif": oif,
            "mac": mac,
            "day": day,
            "minute": minute,
            "owner": owner,
            "host": probe.host,
        }
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
        first = _Packet(state="NEW", payload=None, **base)
        nat = self._nat(first)
        if nat is None:
            res = self._walk(first)
            if res.verdict == "accept":
                res = self._walk(_Packet(state="ESTABLISHED", payload=None, **reply))
            if res.verdict == "accept":
                res = self._walk(_Packet(state="ESTABLISHED", payload=payload, **base))
        elif nat.how == "proxy" and nat.sent is not None:
            res = self._through_nat(nat, nat.sent, first, payload, via_parent.encode())
        else:
            res = nat
        if res.verdict == "accept":
            d = Decision(Outcome.ALLOW, res.rule, res.trace, res.specific)
        elif res.verdict == "drop":
            d = Decision(
                Outcome.DENY, res.rule, res.trace, res.specific, res.how or "drop", res.note, res.scope
            )
        else:
            d = Decision(Outcome.UNKNOWN, res.rule, res.trace, False, res.how, res.note, res.scope)
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
                    nets_overlap(n, c)
                    for n in map(net_of, r.dst.blocks[:64])
                    for c in nets
                    if n.version == c.version and n.prefixlen >= 8
                )
            )

        out: list[Span] = []
        if self._used_sets is None:
            self._used_sets = {name for r in self._all_rules() for name, _d, _g in r.sets}
        used_sets = self._used_sets
        for family in (4, 6):
            for table, chains in self.state.tables[family].items():
                if table == "nat":
                    continue
                jumped = self._jumped.get((family, table))
                if jumped is None:
                    jumped = {r.target for c in chains.values() for r in c.rules()}
                    self._jumped[(family, table)] = jumped
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
                (
                    sp
                    for n, sp in st.members[:5000]
                    for c in nets
                    if n.version == c.version and nets_overlap(n, c)
                ),
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

    @property
    def problems(self) -> list[Problem]:
        """Every run's problems (evaluation adds some: read after it)."""
        return list({(p.code, p.span, p.message): p for r in self.runs for p in r.problems}.values())

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
