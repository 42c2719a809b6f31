"""The model to decisions: base chains per hook in priority order, jumps, sets and verdict maps,
walked for the SYN, the reply and the first data packet of each audience."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, replace
from fnmatch import fnmatch
from heapq import merge
from itertools import product

from policy_lint.dialects.firewalls.nftables.model import (
    Chain,
    Match,
    Net,
    PlainNet,
    Rule,
    Table,
    Values,
    VerdictMap,
)
from policy_lint.dialects.firewalls.nftables.parse import Parser
from policy_lint.dialects.firewalls.nftables.syntax import NAME
from policy_lint.dialects.semantics.addressing import IPNetwork, Target, decide_by_address
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
    redirected,
)
from policy_lint.dialects.semantics.gcpause import without_cycle_collection
from policy_lint.dialects.semantics.setfills import SetFill, find_fills
from policy_lint.model import Audience, Decision, Outcome, Probe, Problem, Span

MAX_JUMP_DEPTH = 64
MAX_CHAIN_VISITS = 5_000  # chain entries per packet walk (chains jumping to chains many times over)
MAX_AUDIENCES = 64
MAX_SRC_REPS = 32


class AddrIndex:
    """Addresses of a set or an anonymous set, looked up by prefix (sets hold 10^5 entries)."""

    def __init__(self, items: list[tuple[Values, Span | None]]):
        self.nets: dict[tuple[int, int], dict[int, Span | None]] = {}
        self.ranges: list[tuple[int, int, int, Span | None]] = []
        self.unknown = ""
        for v, sp in items:
            for n in v.nets:
                version, plen, value = _bounds(n)
                self.nets.setdefault((version, plen), {}).setdefault(value, sp)
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


@dataclass(slots=True)
class _ChainIndex:
    """A chain's rules for `_candidates` and `_but`, by position: a 200,000-rule chain is mostly
    drops of one destination prefix each, and a sampled address can meet only a few of them."""

    by_dst: dict[tuple[int, int], dict[int, list[int]]]  # (version, prefix length) -> network -> rules
    generic: list[int]  # the rules without a plain destination-address match
    client_accepts: list[int]  # accepts with a match on who the client is

    @classmethod
    def of(cls, c: Chain) -> _ChainIndex:
        by_dst: dict[tuple[int, int], dict[int, list[int]]] = {}
        generic: list[int] = []
        accepts: list[int] = []
        for k, r in enumerate(c.rules):
            if r.verdict == "accept" and any(_client_match(m) for m in r.matches):
                accepts.append(k)
            # The first plain destination-address match, if the rule has one (and no verdict map).
            nets: Sequence[Net] = ()
            if r.vmap is None:
                for m in r.matches:
                    v = m.values
                    plain = not v.setref and not v.ranges and not v.unknown and len(v.nets) <= 64
                    if m.kind == "addr" and m.direction == "dst" and not m.neg and v.nets and plain:
                        nets = v.nets
                        break
            if not nets:
                generic.append(k)
                continue
            for n in nets:
                version, plen, value = _bounds(n)
                by_dst.setdefault((version, plen), {}).setdefault(value, []).append(k)
        return cls(by_dst, generic, accepts)


@dataclass(frozen=True)
class Packet:
    family: int
    src: object | None  # None: this host (or a client address of the other family)
    dst: object | None
    dport: int
    state: str  # new | established
    iif: str
    oif: str
    path: str  # forward | output | input (to this host, after destination NAT)
    reply: bool = False
    host: str = ""  # the name the client resolved and asked for (sets a DNS forwarder fills)
    # After destination NAT: fields the ruleset does not give ("dst"/"src": this host's own
    # address; "iif"/"oif": the interface the NAT destination is behind): a match on them may or
    # may not hold.
    unsure: frozenset[str] = frozenset()


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
    def __init__(self, shown: str, parser: Parser):
        self.path = shown
        self.dialect = NAME
        self.problems = parser.problems
        self.catalog = parser.catalog
        self.tables = [t for t in parser.tables.values() if not t.dormant]
        self.missing = parser.missing
        self.included: list[str] = list(parser.included)
        # Statements this file holds for a ruleset loaded elsewhere (nftables/fragments).
        self.fragments = parser.fragments
        self._fragment_problems(parser)
        self._cache: dict[tuple, Decision] = {}
        self._indexes: dict[tuple, AddrIndex] = {}
        self._chain_ix: dict[tuple, _ChainIndex] = {}
        self._dyn: dict[tuple[int, str], bool] = {}
        self._steps = 0
        self._intricate = False
        self._flagged: set[Span] = set()
        # Per table, the sets its rules use: asked by every probe's inert_mentions, computed once
        # (rules do not change after parsing; a 200,000-rule file has ~60 probes).
        self._used_sets: dict[int, set] = {}
        self._hooks: dict[tuple[str, int], list[tuple[Table, Chain]]] = {}
        self._reached: dict[str, list[tuple[Table, Chain]]] = {}
        self._nat_hooks: dict[tuple[str, int], list[tuple[Table, Chain]]] = {}
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
            # Destination NAT of a connection's first packet: prerouting (forwarded clients),
            # output (this host).
            for hook in ("prerouting", "output"):
                nat = [
                    (t, c)
                    for t in self.tables
                    if _applies(t.family, fam)
                    for c in t.chains.values()
                    if c.hook == hook and c.type == "nat"
                ]
                nat.sort(key=lambda tc: (tc[1].priority, tc[1].order))
                self._nat_hooks[(hook, fam)] = nat
        self._compose_element_files(parser)
        self._has_fills = self._fill_sets(parser)
        self._audiences = self._build_audiences()
        self._users_checked = False
        self._note_quic_only_drops()

    def _note_quic_only_drops(self) -> None:
        """A drop of UDP 443 alone blocks HTTP/3 (QUIC); browsers then use HTTPS over TCP, so no
        service is blocked by it. Said once per rule (TE209), so nobody reads it as a block."""
        seen: set[int] = set()
        for path in ("forward", "output"):
            for _t, chain in self._reachable(path):
                for rule in chain.rules:
                    if rule.verdict not in ("drop", "reject") or id(rule) in seen:
                        continue
                    ports: list[Match] = []
                    for m in rule.matches:  # a loop, not a comprehension: no call per rule
                        if m.kind == "port" and m.direction == "dst" and not m.neg:
                            ports.append(m)
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

    def _sent(self, r: Rule, p: Packet, here: tuple[Span, ...]) -> ChainResult:
        """Where `dnat to`, `redirect to` (this host) or `tproxy to` sends the connection: another
        host answers (blocked) or a proxy decides (unknown, TE907)."""
        assert r.nat is not None
        kind, to = r.nat
        if to == "?" or to.startswith("$"):
            res = ChainResult(
                "unknown",
                r.span,
                here,
                False,
                f"{kind} sends the connection to an address we cannot read",
                how="proxy",
            )
        else:
            where, port = nat_target(to)
            res = redirected(kind, "" if kind == "redirect" else where, port, p.dport, r.span, here)
        if res.how == "proxy" and r.span not in self._flagged:
            self._flagged.add(r.span)
            self.problems.append(
                Problem(
                    "TE907", r.span, f"{res.note}; lint that proxy's configuration for what it lets through"
                )
            )
        return res

    def _nat(self, p: Packet) -> tuple[ChainResult, int] | None:
        """The first packet of a connection through the nat chains of its hook (prerouting for
        forwarded clients, output for this host), in priority order: the first `dnat`/`redirect`
        that applies sends it elsewhere before the filter chains see it (with that chain's
        priority: filter chains of the hook running before it see the original destination)."""
        for t, c in self._nat_hooks[("prerouting" if p.path == "forward" else "output", p.family)]:
            res = self._chain(t, c, p, 0, ())
            if res.verdict in ("drop", "unknown"):
                return res, c.priority
        return None

    def _hook(self, hook: str, family: int, before: int | None = None, after: int | None = None) -> list:
        """The base chains of `hook`, those running before priority `before` or from `after` on."""
        return [
            (t, c)
            for t, c in self._hooks[(hook, family)]
            if (before is None or c.priority < before) and (after is None or c.priority >= after)
        ]

    def _through_nat(self, nat: ChainResult, prio: int, first: Packet) -> ChainResult:
        """The connection `nat` sent to a proxy, on through the filter hooks (the netfilter packet
        flow, nft(8) hooks and priorities): the SYN, the proxy's answer, the first data packet.
        Filter chains of the NAT's hook with a lower priority see the original destination; the
        rest, and the forward hook (another host) or the input hook (this host), the new one. A
        drop on the way blocks it whatever the proxy would do; a proxy on this host asks the
        service itself, through the output hook (`_upstream`)."""
        assert nat.sent is not None and isinstance(first.dst, ipaddress.IPv4Address | ipaddress.IPv6Address)
        kind, where, port = nat.sent
        places = []
        for addr, local in nat_places(kind, where, first.dst):
            at = f"port {port}" if port is not None else "the same port"
            words = f"this host ({at})" if local else f"another host ({where}, {at})"
            res = self._nat_connection(first, prio, addr, port, local)
            if local and res.verdict == "accept":
                res = self._upstream(first)
            places.append((words, local, res))
        return after_nat(nat, places, where)

    def _nat_connection(self, first: Packet, prio: int, addr, port: int | None, local: bool) -> ChainResult:
        fam = first.family
        new = replace(first, dst=addr, dport=port if port is not None else first.dport)
        unsure_dst = {"dst"} if addr is None else set()
        unsure_src = {"src"} if addr is None else set()
        lo_in = self._hook("prerouting", fam) + self._hook("input", fam)
        lo_out = self._hook("output", fam) + self._hook("postrouting", fam)
        if first.path == "forward":
            before = self._hook("ingress", fam) + self._hook("prerouting", fam, before=prio)
            rest = self._hook("prerouting", fam, after=prio)
            if local:
                after = [
                    (
                        rest + self._hook("input", fam),
                        replace(new, path="input", oif="", unsure=frozenset(unsure_dst)),
                    )
                ]
                back = replace(new, path="input", reply=True, src=addr, dst=first.src, iif="", oif=first.iif)
                replies = [(lo_out, replace(back, unsure=frozenset(unsure_src)))]
            else:
                chains = rest + self._hook("forward", fam) + self._hook("postrouting", fam)
                after = [(chains, replace(new, unsure=frozenset({"oif"} | unsure_dst)))]
                back = replace(new, reply=True, src=addr, dst=first.src, iif="", oif=first.iif)
                replies = [
                    (
                        self._hook("prerouting", fam)
                        + self._hook("forward", fam)
                        + self._hook("postrouting", fam),
                        replace(back, unsure=frozenset({"iif"} | unsure_src)),
                    )
                ]
        else:
            before = self._hook("output", fam, before=prio)
            rest = self._hook("output", fam, after=prio) + self._hook("postrouting", fam)
            back = replace(new, reply=True, src=addr, dst=None, iif="", oif="")
            if local:
                after = [
                    (rest, replace(new, oif="lo", unsure=frozenset(unsure_dst))),
                    (lo_in, replace(new, path="input", iif="lo", oif="", unsure=frozenset(unsure_dst))),
                ]
                replies = [
                    (lo_out, replace(back, path="input", oif="lo", unsure=frozenset(unsure_src))),
                    (lo_in, replace(back, iif="lo", unsure=frozenset(unsure_src))),
                ]
            else:
                after = [(rest, replace(new, unsure=frozenset({"oif"} | unsure_dst)))]
                replies = [(lo_in, replace(back, unsure=frozenset({"iif"} | unsure_src)))]
        legs = [(before, first)] + after
        data = [(c, replace(p, state="established")) for c, p in legs]
        for packet_legs in (legs, [(c, replace(p, state="established")) for c, p in replies], data):
            for chains, p in packet_legs:
                res = self._walk(p, chains)
                if res.verdict != "accept":
                    return res
        return ChainResult("accept")

    def _upstream(self, first: Packet) -> ChainResult:
        """A proxy on this host asks the service itself: its connection is this host's own
        traffic (the output hook). It blocks the service only if it is stopped both direct to
        the service and to a parent proxy (an address and port that are not the service's), for
        how the proxy forwards is its own configuration's business; else the proxy decides."""
        fam = first.family
        direct = replace(first, path="output", src=None, iif="", unsure=frozenset())
        parent = replace(
            direct, dst=ipaddress.ip_address("192.0.2.1" if fam == 4 else "2001:db8::1"), dport=3128
        )
        found: ChainResult | None = None
        for p in (direct, parent):
            if self._nat(p) is not None:
                return ChainResult("accept")  # nat output sends the proxy's own connection on: not followed
            back = replace(
                p, reply=True, src=p.dst, dst=None, state="established", iif=first.oif or "wan0", oif=""
            )
            res = ChainResult("accept")
            for q in (p, back, replace(p, state="established")):
                res = self._walk(q)
                if res.verdict != "accept":
                    break
            if res.verdict != "drop":
                return ChainResult("accept")
            found = found or res
        assert found is not None and found.rule is not None
        return replace(
            found,
            note="the proxy's own request for the service (this host's output hook), direct or through a "
            f"parent proxy, is dropped by line {found.rule.line}"
            + (f" ({found.note})" if found.note else ""),
            scope="",
        )

    def _not_modelled(self, r: Rule) -> None:
        """TE908, once per rule: a rule with a match we do not evaluate touched a verdict."""
        whys = [m.why or m.kind for m in r.matches if m.kind in ("unknown", "concat")]
        if whys and r.span not in self._flagged:
            self._flagged.add(r.span)
            self.problems.append(
                Problem(
                    "TE908",
                    r.span,
                    f"{', '.join(dict.fromkeys(whys))} not evaluated: the verdicts this rule could decide are unknown",
                )
            )

    # ---------------------------------------------------------------- reachability and audiences

    def _reachable(self, path: str) -> list[tuple[Table, Chain]]:
        """The chains a packet of `path` can reach: computed once per path (asked by several
        steps of __init__, after the element files and fills have completed the sets that
        verdict maps may name)."""
        hit = self._reached.get(path)
        if hit is None:
            hit = self._reached[path] = self._reach(path)
        return hit

    def _reach(self, path: str) -> list[tuple[Table, Chain]]:
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
                if r.target and r.target in t.chains:
                    todo.append((t, t.chains[r.target]))
                if r.vmap:
                    for _v, _vd, tg in self._vmap_entries(t, r.vmap):
                        if tg and tg in t.chains:
                            todo.append((t, t.chains[tg]))
        return list(seen.values())

    def _nat_rules(self, path: str) -> list[tuple[Table, Rule]]:
        hook = "prerouting" if path == "forward" else "output"
        return [
            (t, r)
            for fam in (4, 6)
            for t, c in self._nat_hooks[(hook, fam)]
            for r in c.rules
            if r.nat is not None and r.nat[0] != "tproxy"
        ]

    def _can_block(self, path: str) -> bool:
        if self._nat_rules(path):
            return True
        for fam in (4, 6):
            for reply in (False, True):
                for hook in HOOKS[(path, reply)]:
                    if path == "output" and hook == "ingress":
                        continue
                    for _t, c in self._hooks[(hook, fam)]:
                        if c.policy == "drop":
                            return True
        for _t, c in self._reachable(path):
            if any(
                r.verdict in ("drop", "reject") or r.vmap or (r.nat and r.nat[0] == "tproxy") for r in c.rules
            ):
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
        rules += [tr for p in paths for tr in self._nat_rules(p)]
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
                cands.append(
                    n.network_address + 1 if n.prefixlen < n.max_prefixlen - 1 else n.network_address
                )
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
            if c.is_loopback:
                continue  # web traffic never comes from 127.0.0.0/8 or ::1: no users there
            sig = tuple(_contains(v, c) for v in values)
            if sig not in sigs:
                sigs.add(sig)
                reps.append(c)
        return reps

    def audiences(self) -> list[Audience]:
        if not self._users_checked:
            self._users_checked = True
            self._audiences = self._users_only(self._audiences)
        return self._audiences

    def _users_only(self, audiences: list[Audience]) -> list[Audience]:
        return clients_only(audiences, self.evaluate, self.catalog.control_probes(), PATH_WORDS["forward"])

    # ---------------------------------------------------------------- matching

    def _set_values(self, t: Table, v: Values) -> Values | None:
        s = t.sets.get(v.setref)
        if s is None:
            return None
        out = Values()
        for ev, _vd, _tg, _sp in s.elements:
            out.merge(ev)
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

    def _candidates(self, t: Table, c: Chain, dst) -> Sequence[int]:
        """The positions of the rules of `c` that can match a packet to `dst`, in order: rules
        with a plain destination-address match are indexed by prefix; the others are tried for
        every packet."""
        ix = self._chain_index(t, c)
        if not ix.by_dst:
            return range(len(c.rules))
        if dst is None:
            return ix.generic
        a, bits = int(dst), (32 if dst.version == 4 else 128)
        hits: set[int] = set()
        for (ver, plen), nets in ix.by_dst.items():
            if ver == dst.version:
                hits.update(nets.get(a & (((1 << plen) - 1) << (bits - plen)) if plen else 0, ()))
        if not hits:
            return ix.generic
        # One merge of two sorted lists: an insertion per hit moved the list's tail each time,
        # quadratic when thousands of rules share a destination (per-client drops of one prefix).
        return list(merge(ix.generic, sorted(hits)))

    def _chain_index(self, t: Table, c: Chain) -> _ChainIndex:
        key = (id(t), c.name)
        ix = self._chain_ix.get(key)
        if ix is None:
            ix = self._chain_ix[key] = _ChainIndex.of(c)
        return ix

    def _fragment_problems(self, parser: Parser) -> None:
        """TE903 once per set a fragment of this file adds to or declares: the ruleset using it
        is not in this lint (when it is, it reads this file and this report is not shown)."""
        seen: set[tuple[str, str, str]] = set()
        for f in self.fragments:
            if (f.family, f.table, f.name) in seen:
                continue
            seen.add((f.family, f.table, f.name))
            if f.kind == "element":
                what = (
                    f"adds elements to set {f.name} of table {f.family} {f.table}, which this file "
                    "does not declare: it is loaded with a ruleset that is not in this lint (lint "
                    "them together), and what that ruleset does with the set decides"
                )
            else:
                what = (
                    f"{f.name} is a table's statement outside any table: the file is included in a "
                    "`table { }` of a ruleset that is not in this lint (lint them together)"
                )
            parser.problem("TE903", f.span, what)

    def _compose_element_files(self, parser: Parser) -> None:
        """Elements that `add element` files under the lint root add to this ruleset's used sets
        (nftables/fragments): loaded after the ruleset, they are the set's as the firewall runs."""
        wanted = set()
        for t in self.tables:
            # The names first, each asked about once (a chain holds 10^5 rules, few name a set).
            names = {m.values.setref for c in t.chains.values() for r in c.rules for m in r.matches}
            names |= {r.vmap.setref for c in t.chains.values() for r in c.rules if r.vmap}
            wanted |= {
                (t.family, t.name, name)
                for name in names
                if name and name in t.sets and not self._filled_by_rules(t, name)
            }
        if not wanted:
            return
        from policy_lint.dialects.firewalls.nftables.fragments import find_element_files

        own = set(parser.files)
        by_key = {(t.family, t.name): t for t in self.tables}
        resolver = parser.context.resolver
        for ef in find_element_files(parser.context, own):
            used = False
            for f in ef.fragments:
                if (f.family, f.table, f.name) in wanted:
                    by_key[(f.family, f.table)].sets[f.name].elements.extend(f.elements)
                    used = True
            if used:
                self.included.append(str(ef.path))
                resolver.found.add(str(ef.path))

    def _fill_sets(self, parser: Parser) -> bool:
        """Sets with no elements here that a DNS forwarder in the repository fills (dnsmasq
        `nftset=`): matched by the requested name. Scanned only when such a set is used."""
        fills: list[SetFill] | None = None
        for t in self.tables:
            used = {m.values.setref for c in t.chains.values() for r in c.rules for m in r.matches}
            for name in sorted(used - {""}):
                s = t.sets.get(name)
                if s is None or s.elements or self._filled_by_rules(t, name):
                    continue
                if fills is None:
                    resolver = parser.context.resolver
                    fills = find_fills(resolver.root, resolver)
                s.filled = [f for f in fills if f.set_name == name and f.table == f"{t.family}#{t.name}"]
        return any(s.filled for t in self.tables for s in t.sets.values())

    def _dynamic(self, t: Table, name: str) -> bool:
        """Whether the set gets elements at run time: undeclared, `flags dynamic`, or filled by a
        rule (`add @set`). A set declared empty is empty as loaded (nft(8)); one a DNS forwarder
        here fills is matched by name (`filled`)."""
        key = (id(t), name)
        if key not in self._dyn:
            self._dyn[key] = t.sets.get(name) is None or self._filled_by_rules(t, name)
        return self._dyn[key]

    @staticmethod
    def _filled_by_rules(t: Table, name: str) -> bool:
        s = t.sets.get(name)
        return s is not None and (
            s.dynamic or any(name in r.fills for c in t.chains.values() for r in c.rules)
        )

    def _value_hit(self, t: Table, m: Match, p: Packet, trace: list[Span]) -> bool | None:
        """Does the packet's field (per `m`) fall in `m`'s values? None: cannot tell."""
        v = m.values
        hit: bool | None
        if m.kind == "addr":
            filled = t.sets[v.setref].filled if v.setref in t.sets else []
            if filled:
                # The forwarder puts resolved server addresses in: the server's side of the
                # connection matches when the requested name is under a filled domain.
                server_side = (m.direction == "dst") != p.reply
                fill = next((f for f in filled if server_side and f.holds(p.host)), None)
                if fill is not None:
                    trace.append(fill.span)
                return fill is not None
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
            sent_here = (p.path == "output") != p.reply
            if m.kind == "iface" and m.direction == "in" and sent_here:
                return False, ""  # a packet this host sends has no input interface
            if m.kind == "iface" and m.direction == "out" and not sent_here and p.path != "forward":
                return False, ""
            if _unsure(m, p):
                result, why = (
                    None,
                    why or "this host's own address, or the interface the NAT destination is behind",
                )
                continue
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
        """First match, three-valued (semantics.chains.FirstMatch): a rule whose match cannot be
        told is passed over, and what it would have done decides whether a later verdict is certain."""
        walk = FirstMatch()
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
        rules = c.rules
        for at in range(len(rules)) if "dst" in p.unsure else self._candidates(t, c, p.dst):
            r = rules[at]
            extra: list[Span] = []
            m, why = self._match(t, r, p, extra)
            if m is False:
                continue
            here = trace + tuple(extra) + (r.span,)
            scope = self._scope(r, p)
            doubt = f"cannot tell whether it matches: {why}"
            if m is None:
                self._not_modelled(r)
            verdict, target = r.verdict, r.target
            if r.vmap is not None:
                hit = self._vmap_hit(t, r.vmap, p, extra)
                if hit is None:
                    # The map's key is not evaluated, or its set is filled at run time: any of
                    # its verdicts may apply.
                    walk.pass_over(
                        UNKNOWN,
                        ChainResult(
                            "unknown", r.span, here, False, "cannot tell which verdict map entry applies"
                        ),
                    )
                    continue
                if hit == ("", ""):
                    continue
                verdict, target = hit
            if r.nat is not None and (c.type == "nat" or r.nat[0] == "tproxy") and not p.reply:
                sent = self._sent(r, p, here)
                if m is None:
                    walk.pass_over(
                        DROP if sent.verdict == "drop" else UNKNOWN,
                        ChainResult("unknown", r.span, here, False, f"{doubt}; if it does, {sent.note}"),
                    )
                    continue
                return walk.settle(sent)
            specific = any(
                mm.kind == "addr" and mm.direction == "dst" and not mm.neg for mm in r.matches
            ) or (r.vmap is not None and r.vmap.key.kind == "addr" and r.vmap.key.direction == "dst")
            if verdict in ("drop", "reject"):
                if m is None:
                    walk.pass_over(DROP, ChainResult("unknown", r.span, here, specific, doubt, scope=scope))
                    continue
                if not scope and not p.reply:
                    scope = self._but(t, c, at, p)
                return walk.settle(ChainResult("drop", r.span, here, specific, how=verdict, scope=scope))
            if verdict == "accept":
                if m is None:
                    walk.pass_over(ACCEPT, ChainResult("accept", r.span, here, specific, doubt, scope=scope))
                    continue
                return walk.settle(ChainResult("accept", r.span, here, specific, scope=scope))
            if verdict == "return":
                if m is None:
                    walk.pass_over(GO_ON, ChainResult("return", r.span, here, note=doubt))
                    continue
                return walk.settle(ChainResult("return", r.span, here))
            if verdict == "queue":
                queued = ChainResult("unknown", r.span, here, False, "a userspace program decides (queue)")
                if m is None:
                    walk.pass_over(UNKNOWN, queued)
                    continue
                return walk.settle(queued)
            if verdict in ("jump", "goto"):
                sub_chain = t.chains.get(target)
                if sub_chain is None:
                    continue
                if depth > MAX_JUMP_DEPTH:
                    return walk.settle(
                        ChainResult("unknown", r.span, here, False, "jumps nest too deep (or loop)")
                    )
                sub = self._chain(t, sub_chain, p, depth + 1, here)
                if sub.verdict in ("fall", "return"):
                    if verdict == "goto":
                        # The end of a chain gone to returns from this one.
                        back = ChainResult("return", r.span, here, uncertain=sub.uncertain, note=sub.note)
                        if m is None:
                            walk.pass_over(GO_ON, replace(back, note=doubt))
                            walk.merge(sub)
                            continue
                        return walk.settle(back)
                    walk.merge(sub)
                    continue
                if m is None:
                    if sub.verdict == "accept":
                        walk.pass_over(ACCEPT, replace(sub, rule=r.span, note=doubt))
                    elif sub.verdict == "unknown":
                        walk.pass_over(UNKNOWN, sub)
                    else:
                        walk.pass_over(
                            DROP, ChainResult("unknown", r.span, here, False, doubt, scope=sub.scope)
                        )
                    continue
                return walk.settle(sub)
            # no verdict (counter, log, ...) or continue: the next rule
        return walk.settle(ChainResult("fall", None, trace))

    def _vmap_hit(self, t: Table, vm: VerdictMap, p: Packet, trace: list[Span]) -> tuple[str, str] | None:
        key = vm.key
        if key.kind in ("unknown", "concat") or _unsure(key, p):
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

    def _but(self, t: Table, c: Chain, drop: int, p: Packet) -> str:
        """Everyone but ...: the accepts above the drop at position `drop` of its chain that let
        other clients through, named (an accept that would not take this packet from any client
        is left out)."""
        lets: list[Rule] = []
        for k in self._chain_index(t, c).client_accepts:
            if k >= drop or len(lets) > 8:
                break
            r = c.rules[k]
            if self._match(t, r, p, [])[0] is not False:
                continue
            if any(_client_match(m) and m.family and m.family != p.family for m in r.matches):
                continue  # an `ip saddr` accept lets no IPv6 packet through, whoever sends it
            anyone = replace(r, matches=[m for m in r.matches if not _client_match(m)])
            if self._match(t, anyone, p, [])[0] is not False:
                lets.append(r)
        if not lets:
            return ""
        named = " or ".join(f"{self._scope(r) or 'its conditions'} (line {r.span.line})" for r in lets[:3])
        return f"everyone but {named}" + (f" and {len(lets) - 3} more" if len(lets) > 3 else "")

    @staticmethod
    def _scope(r: Rule, p: Packet | None = None) -> str:
        """Whom the rule's conditions single out. On a server's reply the rule's `saddr` names
        the service's servers: said so, never as the audience."""
        if p is not None and p.reply:
            who = "this host" if p.path == "output" else "clients"
            nets = [
                ("!= " if m.neg else "")
                + (f"@{m.values.setref}" if m.values.setref else ",".join(str(n) for n in m.values.nets))
                for m in r.matches
                if m.kind == "addr" and m.direction == "src"
            ]
            whence = f"the service's servers in {' '.join(nets)}" if nets else "the service's servers"
            hook = "an input" if p.path == "output" else "a forward"
            return f"{who} ({hook}-hook rule stops the replies of {whence})"
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

    def _walk(self, p: Packet, chains: list[tuple[Table, Chain]] | None = None) -> ChainResult:
        """The packet through every base chain of its hooks (or `chains`), in priority order
        (nft(8)): `drop` is final; `accept` ends that base chain only, the next one still sees
        the packet, so a rule passed over in one base chain matters only against that chain's
        own policy."""
        self._steps = 0 if not self._intricate else MAX_CHAIN_VISITS
        if chains is None:
            chains = [
                tc
                for hook in HOOKS[(p.path, p.reply)]
                if hook != "ingress" or p.iif
                for tc in self._hooks[(hook, p.family)]
            ]
        for t, c in chains:
            res = self._chain(t, c, p, 0, ())
            if res.verdict in ("fall", "return"):
                if c.policy != "drop":
                    continue
                # Ran out of rules, or `return` in a base chain: the policy.
                span = c.policy_span or c.span
                walk = FirstMatch()
                walk.merge(res)
                res = walk.settle(
                    ChainResult(
                        "drop", span, res.trace + (span,), False, f"chain {c.name} policy drop", "drop"
                    )
                )
            if res.verdict in ("drop", "unknown"):
                return res
        return ChainResult("accept")

    # ---------------------------------------------------------------- the Ruleset protocol

    @without_cycle_collection
    def evaluate(self, probe: Probe, audience: Audience) -> Decision:
        key = audience.key or ("output", "", "", "", "")

        host = probe.host if self._has_fills else ""

        def one(target: Target) -> Decision:
            ck = (key, probe.port, target.address, host)
            hit = self._cache.get(ck)
            if hit is None:
                hit = self._decide(probe.port, key, target, host)
                if len(self._cache) < 500_000:
                    self._cache[ck] = hit
            return hit

        return decide_by_address(probe, self.catalog, one)

    def _decide(self, port: int, key: tuple, target: Target, host: str) -> Decision:
        path, src4, src6, iif, oif = key
        fam = target.address.version
        src_text = src4 if fam == 4 else src6
        src = ipaddress.ip_address(src_text) if src_text else None
        iif_ = iif if iif != "other" else "other0"
        oif_ = oif if oif != "other" else "other0"
        if path == "forward":
            iif_ = iif_ or "lan0"
        base = Packet(fam, src, target.address, port, "new", iif_, oif_, path, host=host)
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
            host=host,
        )
        self._steps = 0 if not self._intricate else MAX_CHAIN_VISITS
        nat = self._nat(base)
        if nat is None:
            res = self._walk(base)
            if res.verdict == "accept":
                res = self._walk(reply)
            if res.verdict == "accept":
                res = self._walk(replace(base, state="established"))
        elif nat[0].how == "proxy" and nat[0].sent is not None:
            res = self._through_nat(nat[0], nat[1], base)
        else:
            res = nat[0]
        if res.verdict != "drop" and self.fragments:
            f = self.fragments[0]
            return Decision(
                Outcome.UNKNOWN,
                f.span,
                (*res.trace, f.span),
                False,
                "",
                "this file is part of a ruleset loaded elsewhere (not in this lint): that ruleset decides",
            )
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
        return Decision(Outcome.UNKNOWN, res.rule, res.trace, False, res.how, res.note, res.scope)

    def inert_mentions(self, probe: Probe) -> list[Span]:
        """Named sets holding the service's addresses that no rule uses."""
        svc = self.catalog.services.get(probe.service or "")
        if svc is None:
            return []
        out: list[Span] = []
        for ti, t in enumerate(self.tables):
            used = self._used_sets.get(ti)
            if used is None:
                used = {m.values.setref for c in t.chains.values() for r in c.rules for m in r.matches}
                used |= {r.vmap.setref for c in t.chains.values() for r in c.rules if r.vmap}
                self._used_sets[ti] = used
            for s in t.sets.values():
                if s.name in used:
                    continue
                if any(
                    n.version == sn.version and _overlaps(n, sn)
                    for v, _a, _b, _s in s.elements
                    for n in v.nets
                    for sn in svc.networks
                ):
                    out.append(s.span)
        return out


def _unsure(m: Match, p: Packet) -> bool:
    """Does `m` test a field destination NAT left unknown (`Packet.unsure`)?"""
    if not p.unsure:
        return False
    if m.kind == "addr":
        return m.direction in p.unsure
    return m.kind == "iface" and ("iif" if m.direction == "in" else "oif") in p.unsure


def _client_match(m: Match) -> bool:
    """Does the match test who the client is (its source address or an interface)?"""
    return (m.kind == "addr" and m.direction == "src") or m.kind == "iface"


def _contains(v: Values, addr) -> bool:
    if any(n.version == addr.version and addr in n for n in v.nets):
        return True
    a = int(addr)
    return any(ver == addr.version and lo <= a <= hi for ver, lo, hi in v.ranges)


def _overlaps(a: Net, b: IPNetwork) -> bool:
    """addressing.nets_overlap for any of our networks (a `PlainNet` too), from their integers."""
    lo_a, lo_b = int(a.network_address), int(b.network_address)
    hi_a = lo_a + (1 << (a.max_prefixlen - a.prefixlen)) - 1
    hi_b = lo_b + (1 << (b.max_prefixlen - b.prefixlen)) - 1
    return lo_a <= hi_b and lo_b <= hi_a


def _bounds(n: Net) -> tuple[int, int, int]:
    """(version, prefix length, network address) of `n`, a `PlainNet` without building an address."""
    if isinstance(n, PlainNet):
        return 4, n.prefixlen, n.value
    return n.version, n.prefixlen, int(n.network_address)
