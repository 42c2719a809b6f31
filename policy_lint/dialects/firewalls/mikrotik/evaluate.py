"""A RouterOS configuration (the model) -> decisions: each probe becomes a connection's packets
walked through raw prerouting and filter forward, after the router's DNS and web proxy."""

from __future__ import annotations

import heapq
import ipaddress
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase

from policy_lint.catalog import Catalog
from policy_lint.dialects.dns.hosts import address_decision
from policy_lint.dialects.firewalls.mikrotik.audiences import Who, build_audiences
from policy_lint.dialects.firewalls.mikrotik.model import (
    EPHEMERAL,
    NAME,
    OTHER_CLIENTS,
    PATH,
    Address,
    AddressList,
    ChainRule,
    Config,
    NetIndex,
    is_tcp,
    reachable,
)
from policy_lint.dialects.firewalls.reach import narrow_scope
from policy_lint.dialects.semantics.addressing import Target, decide_by_address, targets
from policy_lint.dialects.semantics.chains import ChainResult
from policy_lint.dialects.semantics.gcpause import without_cycle_collection
from policy_lint.model import Audience, Decision, Outcome, Probe, Problem, Span

MAX_JUMPS = 32
UDP_ONLY = (frozenset({"udp"}), False)


@dataclass(frozen=True)
class _Packet:
    src: Address | None  # None: a client address we cannot give in this family
    dst: Address | None
    host: str  # the probe's host: domain entries of address-lists and the DNS
    sport: int
    dport: int
    state: str  # new | established
    flags: frozenset[str]
    payload: bytes | None
    sni: str | None
    iif: str
    oif: str
    mac: str
    day: int
    minute: int
    reply: bool  # the server's SYN-ACK back to the client
    client_lists: frozenset[str]
    dyn: frozenset[tuple[str, str]]  # (list, "server"|"client") filled by add-*-to-address-list


class ChainIndex:
    """One chain's rules, those with a plain dst-address indexed by its networks."""

    __slots__ = ("always", "cache", "cached", "nets", "rules", "zero")

    MAX_CACHED = 1_000_000  # candidate list entries kept, over all addresses

    def __init__(self, rules: list[ChainRule]):
        self.rules = rules
        self.always: list[int] = []  # rules any packet may match
        self.zero: list[int] = []  # indexed rules with a /0: they match a packet without an address
        self.nets = NetIndex()
        add, always = self.nets.add, self.always
        for k, r in enumerate(rules):
            d = r.dst
            if d is not None and d.nets and not d.neg and not d.ranges:
                add(k, d)
            else:
                always.append(k)
        self.zero = self.nets.with_prefix(0)
        self.cache: dict[object, list[ChainRule]] = {}
        self.cached = 0

    def candidates(self, dst) -> list[ChainRule]:
        if len(self.always) == len(self.rules):
            return self.rules
        found = self.cache.get(dst)
        if found is not None:
            return found
        # Only "any address" conditions match a packet without an address.
        hits = self.zero if dst is None or dst.is_unspecified else sorted(self.nets.holding(dst))
        if not hits:
            found = [self.rules[k] for k in self.always]
        else:
            found = [self.rules[k] for k in heapq.merge(self.always, hits)]
        if self.cached + len(found) <= self.MAX_CACHED:
            self.cache[dst] = found
            self.cached += len(found)
        return found


class _SignatureIndex:
    """Every address condition of a configuration (each rule's src then dst, rule by rule, then
    each address-list), indexed so the ones holding an address are found without a scan."""

    __slots__ = ("lists", "nets")

    def __init__(self, rules, lists: dict[tuple[int, str], AddressList], resolve):
        self.nets = NetIndex()
        add = self.nets.add
        k = 0
        for r in rules:
            if r.src is not None:
                add(k, r.src)
                k += 1
            if r.dst is not None:
                add(k, r.dst)
                k += 1
        # Per list: its family, and the addresses its domain entries resolve to.
        self.lists = [
            (fam, lst, frozenset(a for n, _ in lst.names for a in resolve(n)))
            for (fam, _name), lst in lists.items()
        ]


class MikrotikRuleset:
    def __init__(
        self,
        shown: str,
        variants: list[tuple[Config, str]],
        problems: list[Problem],
        catalog: Catalog,
        dynamic: list[Span],
    ):
        self.path = shown
        self.dialect = NAME
        self.problems = problems
        self.variants = variants
        self.catalog = catalog
        self.dynamic = dynamic
        self._cache: dict[tuple, Decision] = {}
        self._decided: dict[tuple, Decision] = {}  # (probe, audience key) -> decision
        self._spans: dict[int, dict[Span, ChainRule]] = {}
        self._sigs: dict[tuple[int, object], tuple] = {}
        self._distinct: dict[tuple, list[Target]] = {}
        self._summaries: dict[tuple, Decision] = {}
        self._audiences: list[Audience] | None = None
        self._who: dict[tuple, Who] = {}
        self._other = OTHER_CLIENTS[0]  # a client address no source condition names
        self._host_sensitive = (
            any(
                r.tls_host or r.content or r.l7
                for cfg, _ in variants
                for chains in cfg.rules.values()
                for rules in chains.values()
                for r in rules
            )
            or any(lst.names for cfg, _ in variants for lst in cfg.lists.values())
            or any(cfg.dns or cfg.proxy for cfg, _ in variants)
        )
        self._note_quic_only_drops()

    def _note_quic_only_drops(self) -> None:
        """`protocol=udp dst-port=443 action=drop` blocks HTTP/3 (QUIC) only: browsers fall back
        to HTTPS over TCP, so no service is blocked by it; TE209 says so, once per rule."""
        seen: set[Span] = set()
        for cfg, _ in self.variants:
            for family in (4, 6):
                for rule in reachable(cfg, family):
                    if (
                        rule.dports is not None
                        and not rule.dports[1]
                        and rule.protocol == UDP_ONLY
                        and rule.action in ("drop", "reject", "tarpit")
                        and any(lo <= 443 <= hi for lo, hi in rule.dports[0])
                        and rule.span not in seen
                    ):
                        seen.add(rule.span)
                        self.problems.append(
                            Problem(
                                "TE209",
                                rule.span,
                                "drops QUIC (UDP 443) only: browsers fall back to HTTPS "
                                "over TCP, so this slows HTTP/3 sites at most and blocks no service",
                            )
                        )

    def _rules(self, cfg: Config):
        for chains in cfg.rules.values():
            for rules in chains.values():
                yield from rules
        yield from cfg.mangle  # policy routing tells targets and clients apart too

    def audiences(self) -> list[Audience]:
        if self._audiences is None:
            self._audiences, who, self._other = build_audiences(self.variants, self.path, self.problems)
            self._who.update(who)
        return self._audiences

    # ------------------------------------------------------------ matching

    def _in_list(
        self, cfg: Config, family: int, name: str, addr, host: str, who: str, p: _Packet
    ) -> tuple[bool, Span | None]:
        if (name, who) in p.dyn:
            return True, None
        if who == "client" and name in p.client_lists:
            return True, None
        lst = cfg.lists.get((family, name))
        if lst is None:
            return False, None
        if addr is not None and not addr.is_unspecified:
            span = lst.first(addr)
            if span is not None:
                return True, span
        if who == "server":
            for n, span in lst.names:
                # The router resolves the name: the client reaching that name reaches an address
                # in the list; other hosts of the service only at the catalog's addresses.
                if n == host:
                    return True, span
                if addr is not None and str(addr) in self._resolve(n):
                    return True, span
        return False, None

    def _resolve(self, name: str) -> tuple[str, ...]:
        hit = self.catalog.service_for_host(name)
        if hit:
            return tuple(self.catalog.services[hit[0]].addresses)
        if name == self.catalog.control_host:
            return tuple(self.catalog.control_addresses)
        return ()

    def _iface_in(self, cfg: Config, iface: str, lst: str) -> bool:
        if lst == "all":
            return True
        if lst == "none":
            return False
        if iface.startswith("@"):
            return iface[1:] == lst or iface[1:] in cfg.iface_lists.get(lst, set())
        return iface in cfg.iface_lists.get(lst, set())

    def _match(self, cfg: Config, r: ChainRule, p: _Packet, extra: list[Span]) -> tuple[bool | None, str]:
        """Does `r` match `p`? None: cannot tell (and why). Definite mismatches are found first."""
        if r.protocol and is_tcp(r.protocol[0]) == r.protocol[1]:
            return False, ""
        for spec, port in ((r.dports, p.dport), (r.sports, p.sport)):
            if spec and any(lo <= port <= hi for lo, hi in spec[0]) == spec[1]:
                return False, ""
        if r.anyports and not any(
            (any(lo <= q <= hi for lo, hi in r.anyports[0]) != r.anyports[1]) for q in (p.dport, p.sport)
        ):
            return False, ""
        if r.states and (p.state in r.states[0]) == r.states[1]:
            return False, ""
        if r.nat_state:
            mine = {"srcnat"} if cfg.srcnat else set()
            if bool(mine & r.nat_state[0]) == r.nat_state[1]:
                return False, ""
        for flag, neg in r.flags:
            if (flag in p.flags) == neg:
                return False, ""
        if r.iif and (p.iif == r.iif[0]) == r.iif[1]:
            return False, ""
        if r.oif and (p.oif == r.oif[0]) == r.oif[1]:
            return False, ""
        if r.iif_list and self._iface_in(cfg, p.iif, r.iif_list[0]) == r.iif_list[1]:
            return False, ""
        if r.oif_list and self._iface_in(cfg, p.oif, r.oif_list[0]) == r.oif_list[1]:
            return False, ""
        if r.mac and (p.reply or (p.mac == r.mac[0]) == r.mac[1]):
            return False, ""
        if r.time and p.day >= 0 and not r.time.contains(p.day, p.minute):
            return False, ""
        if r.dst_type:
            types = {"unicast"}
            if bool(types & r.dst_type[0]) == r.dst_type[1]:
                return False, ""
        src_who, dst_who = ("server", "client") if p.reply else ("client", "server")
        for cond, addr in ((r.src, p.src), (r.dst, p.dst)):
            if cond is None:
                continue
            if addr is None or addr.is_unspecified:
                # No address to give (a client of the other family; 0.0.0.0 is read the same
                # way): only "any address" conditions match it. A service without catalog
                # prefixes gets stand-in addresses from addressing.decide_by_address instead.
                if not cond.neg and not any(plen == 0 for _v, _first, plen in cond.nets):
                    return False, ""
            elif cond.has(addr) == cond.neg:
                return False, ""
        for lst, addr, who in ((r.src_list, p.src, src_who), (r.dst_list, p.dst, dst_who)):
            if lst is None:
                continue
            hit, span = self._in_list(cfg, r.family, lst[0], addr, p.host, who, p)
            if hit == lst[1]:
                return False, ""
            if span is not None:
                extra.append(span)
        if r.tls_host:
            hit = p.sni is not None and fnmatchcase(p.sni, r.tls_host[0])
            if p.sni is None or hit == r.tls_host[1]:
                return False, ""
        if r.content and (p.payload is None or (r.content[0] in p.payload) == r.content[1]):
            return False, ""
        if r.l7:
            if p.payload is None:
                return False, ""
            pat = cfg.l7.get(r.l7[0])
            if pat is None:
                return None, f"layer7-protocol {r.l7[0]!r} is not defined in the file"
            if pat[0] is None:
                return None, f"layer7-protocol {r.l7[0]!r} has an invalid regexp"
            got = pat[0].search(p.payload.replace(b"\x00", b"").decode("latin-1"))
            if got is None:
                self._timeout(pat[1])
                return None, f"layer7-protocol {r.l7[0]!r} regexp ran out of time"
            if got == r.l7[1]:
                return False, ""
            extra.append(pat[1])
        if r.time and p.day < 0:
            return None, f"time={r.time.text}"
        if r.unknown:
            return None, f"{', '.join(dict.fromkeys(r.unknown))} (not evaluated)"
        return True, ""

    def _timeout(self, span: Span) -> None:
        if not any(p.code == "TE905" and p.span == span for p in self.problems):
            self.problems.append(Problem("TE905", span, "the regexp ran out of time"))

    @staticmethod
    def _scope(r: ChainRule) -> str:
        parts = []
        for key, val in (
            ("src-address-list", r.src_list),
            ("in-interface", r.iif),
            ("in-interface-list", r.iif_list),
            ("out-interface", r.oif),
            ("src-mac-address", r.mac),
        ):
            if val:
                parts.append(f"{key}={'!' if val[1] else ''}{val[0]}")
        if r.src:
            parts.append(
                "src-address="
                + ("!" if r.src.neg else "")
                + ",".join(
                    str(n) if n.prefixlen < n.max_prefixlen else str(n.network_address)
                    for n in r.src.networks()
                )
            )
        if r.time:
            parts.append(f"time={r.time.text}")
        return " ".join(parts)

    @staticmethod
    def _note(r: ChainRule) -> str:
        if r.tls_host and not r.tls_host[1]:
            return f"TLS SNI matches tls-host={r.tls_host[0]} (HTTPS only)"
        if r.content and not r.content[1]:
            return f"payload (HTTP Host / TLS SNI) contains {r.content[0].decode('latin-1')!r}"
        if r.l7 and not r.l7[1]:
            return f"layer7-protocol {r.l7[0]} matches the connection's first bytes"
        return ""

    def _chain(
        self,
        cfg: Config,
        family: int,
        table: str,
        chain: str,
        p: _Packet,
        depth: int,
        trace: tuple[Span, ...],
        added: set[tuple[str, str]],
    ) -> ChainResult:
        uncertain: list[Span] = []
        for r in self._candidates(cfg, family, table, chain, p.dst):
            extra: list[Span] = []
            m, why = self._match(cfg, r, p, extra)
            if m is False:
                continue
            here = trace + tuple(extra) + (r.span,)
            a = r.action
            if a in ("drop", "reject", "tarpit"):
                if m is None:
                    return ChainResult(
                        "unknown",
                        r.span,
                        here,
                        r.specific,
                        f"cannot tell whether it matches: {why}",
                        scope=self._scope(r),
                        uncertain=tuple(uncertain),
                    )
                return ChainResult(
                    "drop", r.span, here, r.specific, self._note(r), r.how, self._scope(r), tuple(uncertain)
                )
            if a in ("accept", "fasttrack-connection", "return"):
                if m is None:
                    uncertain.append(r.span)
                    continue
                return ChainResult(
                    "accept" if a != "return" else "return",
                    r.span,
                    here,
                    r.specific,
                    scope=self._scope(r),
                    uncertain=tuple(uncertain),
                )
            if a == "jump":
                if depth >= MAX_JUMPS:
                    return ChainResult("unknown", r.span, here, False, "jumps nest too deep")
                sub = self._chain(cfg, family, table, r.jump, p, depth + 1, here, added)
                uncertain.extend(sub.uncertain)
                if sub.verdict in ("fall", "return"):
                    continue
                if m is None:
                    if sub.verdict == "accept":
                        uncertain.append(r.span)
                        continue
                    return ChainResult(
                        "unknown",
                        r.span,
                        here,
                        False,
                        f"cannot tell whether it matches: {why}",
                        uncertain=tuple(uncertain),
                    )
                return replace(sub, uncertain=tuple(uncertain))
            if a in ("add-dst-to-address-list", "add-src-to-address-list") and m is True and r.add_list:
                # The router adds the address as this packet passes: later connections meet the list.
                target = p.dst if a == "add-dst-to-address-list" else p.src
                server = (target is p.dst) != p.reply
                added.add((r.add_list, "server" if server else "client"))
        return ChainResult("fall", None, trace, uncertain=tuple(uncertain))

    def _candidates(self, cfg: Config, family: int, table: str, chain: str, dst) -> list[ChainRule]:
        """The rules of a chain that may match a packet to `dst`, in chain order: those whose
        dst-address is only plain networks (no `!`, no ranges) are indexed by network and
        taken only when one holds `dst`; every other rule is always taken. The rules left out
        are exactly ones `_match` finds false at dst-address, before any other effect."""
        index = cfg.indexes.get(("chain", family, table, chain))
        if index is None:
            index = cfg.indexes[("chain", family, table, chain)] = ChainIndex(cfg.chain(family, table, chain))
        return index.candidates(dst)

    def _walk(self, cfg: Config, family: int, p: _Packet, added: set[tuple[str, str]]) -> ChainResult:
        uncertain: list[Span] = []
        for table, chain in PATH:
            res = self._chain(cfg, family, table, chain, p, 0, (), added)
            uncertain.extend(res.uncertain)
            if res.verdict in ("drop", "unknown"):
                if res.verdict == "drop" and uncertain:
                    return ChainResult(
                        "unknown",
                        uncertain[0],
                        res.trace,
                        False,
                        f"an earlier accept may let it through (line {uncertain[0].line}) "
                        f"before {res.note or 'the drop'}",
                    )
                return res
        return ChainResult("accept")

    def _base(self, who: Who, probe: Probe, address, dyn: frozenset) -> dict:
        """What every packet of the client's connection to `address` has in common."""
        client = ipaddress.ip_address(who.src or self._other)
        src: Address | None = client if client.version == address.version else None  # None: other family
        return {
            "src": src,
            "dst": address,
            "host": probe.host.lower(),
            "sport": EPHEMERAL,
            "dport": probe.port,
            "iif": who.iif,
            "oif": who.oif,
            "mac": who.mac,
            "day": who.day,
            "minute": who.minute,
            "client_lists": frozenset(who.lists),
            "dyn": dyn,
        }

    def _dstnat(self, cfg: Config, who: Who, probe: Probe, address) -> Decision | None:
        """The dstnat chain (`/ip firewall nat`), first match: `dst-nat`/`redirect`/`netmap` send
        the client's connection elsewhere. Sending the service's own addresses elsewhere is a
        block (no other host answers as the service); sending web traffic at large elsewhere
        hands the decision to whatever listens there: `unknown`, TE907 at the NAT rule. HTTP
        redirected to the router's own web proxy is decided by `/ip proxy access` (_proxy)."""
        rules = [r for r in cfg.dstnat if r.family == address.version]
        if not rules:
            return None
        syn = _Packet(
            state="new",
            flags=frozenset({"syn"}),
            payload=None,
            sni=None,
            reply=False,
            **self._base(who, probe, address, frozenset()),
        )
        for r in rules:
            m, why = self._match(cfg, r, syn, [])
            if m is False:
                continue
            if m is None:
                return Decision(
                    Outcome.UNKNOWN, r.span, (r.span,), False, note=f"cannot tell whether it matches: {why}"
                )
            if r.action == "accept":
                return None
            if r.span == cfg.proxy_redirect and probe.scheme == "http" and probe.port == 80:
                return None  # the router's web proxy: /ip proxy access decides
            specific = (r.dst is not None and not r.dst.neg) or (r.dst_list is not None and not r.dst_list[1])
            if specific:
                return Decision(
                    Outcome.DENY,
                    r.span,
                    (r.span,),
                    True,
                    "redirect",
                    f"{r.action} sends its connections elsewhere ({r.nat_to})",
                    self._scope(r),
                )
            if not any(p.code == "TE907" and p.span == r.span for p in self.problems):
                self.problems.append(
                    Problem(
                        "TE907",
                        r.span,
                        f"{r.action} sends connections elsewhere ({r.nat_to}): what listens there decides, "
                        "and its configuration is not part of this file",
                    )
                )
            return Decision(
                Outcome.UNKNOWN,
                r.span,
                (r.span,),
                False,
                note=f"{r.action} to {r.nat_to}: what listens there decides",
                scope=self._scope(r),
            )
        return None

    def _routed(self, cfg: Config, who: Who, probe: Probe, address) -> Decision | None:
        """Policy routing of a connection the filter lets through: the first mangle prerouting
        rule its SYN matches that marks routing (`action=mark-routing new-routing-mark=T`; an
        `accept` ends the chain first) sends it by routing table T -- through a VPN, a tunnel
        or another uplink whose filtering is not in this file: `unknown`, TE907 at the mangle
        rule, as for a DNS answer pinned to an address the catalog cannot place."""
        rules = [r for r in cfg.mangle if r.family == address.version]
        if not rules:
            return None
        syn = _Packet(
            state="new",
            flags=frozenset({"syn"}),
            payload=None,
            sni=None,
            reply=False,
            **self._base(who, probe, address, frozenset()),
        )
        for r in rules:
            m, why = self._match(cfg, r, syn, [])
            if m is False:
                continue
            if r.action == "accept":
                if m is None:
                    continue  # maybe ends the chain: the rules after it may still mark it
                return None
            table = r.routing_mark or "?"
            routes = cfg.routes.get(table, [])
            trace = (r.span, *routes[:3])
            if m is None:
                return Decision(
                    Outcome.UNKNOWN,
                    r.span,
                    trace,
                    False,
                    note=f"cannot tell whether it routes the connection by table {table}: {why}",
                    scope=self._scope(r),
                )
            if not any(p.code == "TE907" and p.span == r.span for p in self.problems):
                everything = r.dst is None and r.dst_list is None and not r.dports and not r.protocol
                what = "all traffic it matches" if everything else "connections it matches"
                where = (
                    f"routing table {table} (" + "; ".join(s.text for s in routes[:2]) + ")"
                    if routes
                    else f"routing table {table} (no route for it in this file: added at run time?)"
                )
                self.problems.append(
                    Problem(
                        "TE907",
                        r.span,
                        f"policy routing: mark-routing sends {what} by {where}, through another path "
                        "(a VPN, a tunnel, another uplink): what filters it there is not part of this file",
                    )
                )
            return Decision(
                Outcome.UNKNOWN,
                r.span,
                trace,
                False,
                note=f"routed by routing table {table}: the path it leaves by decides",
                scope=self._scope(r),
            )
        return None

    def _connection(
        self, cfg: Config, who: Who, probe: Probe, address, dyn: frozenset
    ) -> tuple[ChainResult, set]:
        family = address.version
        sni = probe.host.lower() if probe.scheme == "https" else None
        if probe.scheme == "https":
            payload = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00\x00" + probe.host.encode()
        else:
            payload = f"GET {probe.path} HTTP/1.1\r\nHost: {probe.host}\r\n\r\n".encode()
        base = self._base(who, probe, address, dyn)
        src = base["src"]
        added: set[tuple[str, str]] = set()
        res = self._walk(
            cfg,
            family,
            _Packet(state="new", flags=frozenset({"syn"}), payload=None, sni=None, reply=False, **base),
            added,
        )
        if res.verdict == "accept":
            reply = dict(
                base,
                src=address,
                dst=src,
                sport=probe.port,
                dport=EPHEMERAL,
                iif=who.oif,
                oif=who.iif,
                mac="",
            )
            res = self._walk(
                cfg,
                family,
                _Packet(
                    state="established",
                    flags=frozenset({"syn", "ack"}),
                    payload=None,
                    sni=None,
                    reply=True,
                    **reply,
                ),
                added,
            )
            if res.verdict == "drop" and res.rule is not None:
                # Matched the server's answer: its src-address is the service's, not a client's.
                res = replace(
                    res,
                    scope="",
                    how=f"{res.how or 'drop'} of the replies from its servers, matched as the source",
                )
        if res.verdict == "accept":
            res = self._walk(
                cfg,
                family,
                _Packet(
                    state="established",
                    flags=frozenset({"ack", "psh"}),
                    payload=payload,
                    sni=sni,
                    reply=False,
                    **base,
                ),
                added,
            )
        return res, added

    def _signature(self, cfg_index: int, address) -> tuple:
        """What every address condition says about `address`: targets alike decide alike."""
        key = (cfg_index, address)
        sig = self._sigs.get(key)
        if sig is None:
            # The conditions holding the address, by their place in the order rule by rule
            # (src, dst), then two bits per address-list of its family: equal exactly when a
            # bit per condition would be.
            cfg = self.variants[cfg_index][0]
            index = cfg.indexes.get("signature")
            if index is None:
                index = cfg.indexes["signature"] = _SignatureIndex(self._rules(cfg), cfg.lists, self._resolve)
            bits: list[bool] = []
            text = str(address)
            for fam, lst, resolved in index.lists:
                if fam == address.version:
                    bits.append(lst.first(address) is not None)
                    bits.append(text in resolved)
            sig = (address.version, tuple(sorted(index.nets.holding(address))), tuple(bits))
            if len(self._sigs) < 100_000:
                self._sigs[key] = sig
        return sig

    def _firewall(self, cfg_index: int, who: Who, probe: Probe, target: Target) -> Decision:
        cfg = self.variants[cfg_index][0]
        nat = self._dstnat(cfg, who, probe, target.address)
        if nat is not None:
            return nat
        host_key = (probe.scheme, probe.host.lower(), probe.path) if self._host_sensitive else probe.scheme
        ck = ("fw", cfg_index, who, probe.port, host_key, self._signature(cfg_index, target.address))
        hit = self._cache.get(ck)
        if hit is not None:
            return hit
        dyn = frozenset((name, "server") for name, _span in self._dns_lists(cfg, probe.host))
        res, added = self._connection(cfg, who, probe, target.address, dyn)
        if res.verdict == "accept" and added:
            # add-dst/src-to-address-list filled lists: the user's next connection meets them.
            res2, _ = self._connection(cfg, who, probe, target.address, dyn | frozenset(added))
            if res2.verdict != "accept":
                note = "on the next connection, after add-to-address-list rules listed the address"
                res = replace(res2, note=f"{res2.note}; {note}" if res2.note else note)
        routed = self._routed(cfg, who, probe, target.address) if res.verdict == "accept" else None
        if routed is not None:
            d = routed
        elif res.verdict == "accept":
            d = Decision(Outcome.ALLOW, res.rule, res.trace, res.specific, scope=res.scope)
        elif res.verdict == "drop":
            d = Decision(
                Outcome.DENY, res.rule, res.trace, res.specific, res.how or "drop", res.note, res.scope
            )
        else:
            d = Decision(Outcome.UNKNOWN, res.rule, res.trace, False, "", res.note, res.scope)
        self._cache[ck] = d
        return d

    def _dns_lists(self, cfg: Config, host: str) -> list[tuple[str, Span]]:
        out = []
        for e in cfg.dns:
            if e.address_list and e.matches(host):
                out.append((e.address_list, e.span))
        return out

    # ------------------------------------------------------------ DNS and proxy

    def _dns(self, cfg: Config, probe: Probe) -> Decision | None:
        for e in cfg.dns:
            if e.kind in ("AAAA", "TXT", "MX", "NS", "SRV") and not e.address_list:
                continue
            m = e.matches(probe.host)
            if m is None:
                self._timeout(e.span)
                return Decision(
                    Outcome.UNKNOWN, e.span, (e.span,), False, note="the DNS regexp ran out of time"
                )
            if not m:
                continue
            if e.kind == "FWD":
                if e.address_list:
                    continue  # only fills the list (used by the firewall)
                return None  # forwarded to another resolver: not a block
            where = "for clients using the router as their DNS server"
            if e.kind == "NXDOMAIN":
                return Decision(Outcome.DENY, e.span, (e.span,), True, "router DNS NXDOMAIN", where)
            if e.kind == "CNAME":
                return Decision(
                    Outcome.UNKNOWN,
                    e.span,
                    (e.span,),
                    True,
                    "router DNS CNAME",
                    "the name is answered with another name",
                )
            if not e.address:
                return None
            d = address_decision(e.address, probe.host, self.catalog, e.span, (e.span,), "router DNS")
            if cfg.dns_remote is False and d.outcome == Outcome.DENY:
                return None  # only the router's own lookups: clients cannot query it
            return replace(d, note=f"{d.note}; {where}" if d.note else where)
        return None

    def _proxy(self, cfg: Config, who: Who, probe: Probe) -> Decision | None:
        redirected = cfg.proxy_redirect is not None and probe.scheme == "http" and probe.port == 80
        if not cfg.proxy or not (redirected or who.proxy):
            return None
        for p in cfg.proxy:
            if p.hosts:
                pat, neg = p.hosts
                if p.regex is not None:
                    got = p.regex.search(probe.host)
                    if got is None:
                        self._timeout(p.span)
                        return Decision(
                            Outcome.UNKNOWN, p.span, (p.span,), False, note="the regexp ran out of time"
                        )
                else:
                    got = fnmatchcase(probe.host.lower(), pat)
                if got == neg:
                    continue
            if p.dports and any(lo <= probe.port <= hi for lo, hi in p.dports[0]) == p.dports[1]:
                continue
            if p.path and (probe.scheme == "https" or not fnmatchcase(probe.path, p.path)):
                continue
            if p.dst is not None and (
                not probe.addresses
                or not any(p.dst.has(ipaddress.ip_address(a)) != p.dst.neg for a in probe.addresses)
            ):
                continue
            if p.src is not None:
                src = ipaddress.ip_address(who.src or self._other)
                if p.src.has(src) == p.src.neg:
                    continue
            trace = (p.span,) + ((cfg.proxy_redirect,) if redirected and cfg.proxy_redirect else ())
            if p.action == "deny":
                how = f"web proxy deny{' (redirect to ' + p.redirect + ')' if p.redirect else ''}"
                note = (
                    "HTTP redirected to the router's web proxy"
                    if redirected
                    else "for clients configured to use the router's web proxy"
                )
                return Decision(Outcome.DENY, p.span, trace, bool(p.hosts or p.dst), how, note)
            return None
        return None

    # ------------------------------------------------------------ the Ruleset protocol

    @without_cycle_collection
    def evaluate(self, probe: Probe, audience: Audience) -> Decision:
        d = self._evaluate(probe, audience)
        if not d.scope or d.rule is None:
            return d
        who = self._who.get(audience.key) or Who()
        if self._rule_at(who.variant, d.rule) is None:
            return d
        # The rule names whom it applies to; clients it names that earlier rules let through
        # are not blocked by it: then it blocks this audience, said in the export's words.

        def applies(other: Audience) -> bool:
            ow = self._who.get(other.key) or Who()
            rule = self._rule_at(ow.variant, d.rule) if d.rule is not None else None
            return rule is not None and self._who_matches(self.variants[ow.variant][0], rule, ow)

        return narrow_scope(d, audience, self.audiences(), lambda a: self._evaluate(probe, a), applies)

    def _rule_at(self, variant: int, span: Span) -> ChainRule | None:
        index = self._spans.get(variant)
        if index is None:
            index = self._spans[variant] = {r.span: r for r in self._rules(self.variants[variant][0])}
        return index.get(span)

    def _who_matches(self, cfg: Config, r: ChainRule, who: Who) -> bool:
        """Do the client conditions of `r` (source, lists, interfaces, MAC, time) hold for `who`?"""
        client = ipaddress.ip_address(who.src or self._other)
        if r.src is not None and client.version == 4 and r.src.has(client) == r.src.neg:
            return False
        if r.src_list:
            lst = cfg.lists.get((4, r.src_list[0]))
            hit = r.src_list[0] in who.lists or (lst is not None and lst.first(client) is not None)
            if hit == r.src_list[1]:
                return False
        if r.iif and (who.iif == r.iif[0]) == r.iif[1]:
            return False
        if r.oif and (who.oif == r.oif[0]) == r.oif[1]:
            return False
        if r.iif_list and self._iface_in(cfg, who.iif, r.iif_list[0]) == r.iif_list[1]:
            return False
        if r.oif_list and self._iface_in(cfg, who.oif, r.oif_list[0]) == r.oif_list[1]:
            return False
        if r.mac and (who.mac == r.mac[0]) == r.mac[1]:
            return False
        return not (r.time and who.day >= 0 and not r.time.contains(who.day, who.minute))

    def _evaluate(self, probe: Probe, audience: Audience) -> Decision:
        ck = (probe, audience.key)
        hit = self._decided.get(ck)
        if hit is None:
            hit = self._decide(probe, audience)
            if len(self._decided) < 200_000:
                self._decided[ck] = hit
        return hit

    def _decide(self, probe: Probe, audience: Audience) -> Decision:
        who = self._who.get(audience.key) or Who()
        cfg = self.variants[who.variant][0]
        d = self._dns(cfg, probe)
        if d is None or d.outcome != Outcome.DENY:
            pd = self._proxy(cfg, who, probe)
            if pd is not None and pd.outcome == Outcome.DENY:
                d = pd
        if d is not None and d.outcome == Outcome.DENY:
            return d
        fw = self._by_address(who, probe)
        if fw.outcome != Outcome.DENY and d is not None and d.outcome == Outcome.UNKNOWN:
            return d
        if self.dynamic and fw.outcome != Outcome.DENY:
            span = self.dynamic[0]
            return Decision(
                Outcome.UNKNOWN,
                span,
                fw.trace + (span,),
                False,
                "",
                "a script the linter does not follow changes the rules at run time",
            )
        return fw

    def _by_address(self, who: Who, probe: Probe) -> Decision:
        """decide_by_address, short-cut when no address condition tells the targets apart."""
        key = (who.variant, probe.service)
        distinct = self._distinct.get(key)
        if distinct is None:
            seen: dict[tuple, Target] = {}
            for t in targets(probe, self.catalog):
                seen.setdefault(self._signature(who.variant, t.address), t)
            distinct = self._distinct[key] = list(seen.values())
        if not distinct:
            return decide_by_address(
                probe, self.catalog, lambda t: self._firewall(who.variant, who, probe, t)
            )
        decisions = tuple(self._firewall(who.variant, who, probe, t) for t in distinct)
        if all(d == decisions[0] for d in decisions[1:]):
            # Every target decides alike: decide_by_address would return this decision.
            return decisions[0]
        # Its summary depends only on the decision of each kind of target: computed once.
        ck = (who.variant, probe.service, probe.addresses, decisions)
        hit = self._summaries.get(ck)
        if hit is None:
            hit = self._summaries[ck] = decide_by_address(
                probe, self.catalog, lambda t: self._firewall(who.variant, who, probe, t)
            )
        return hit

    def inert_mentions(self, probe: Probe) -> list[Span]:
        """Address-lists holding the service's addresses (or names) that no rule uses."""
        svc = self.catalog.services.get(probe.service or "")
        if svc is None:
            return []
        cfg = self.variants[0][0]
        used = cfg.indexes.get("used lists")
        if used is None:
            used = set()
            for r in self._rules(cfg):
                if r.src_list:
                    used.add((r.family, r.src_list[0]))
                if r.dst_list:
                    used.add((r.family, r.dst_list[0]))
                if r.add_list:
                    used.add((r.family, r.add_list))
            cfg.indexes["used lists"] = used
        out: list[Span] = []
        for key, lst in cfg.lists.items():
            if key in used:
                continue
            hit = next(
                (span for e, span in lst.entries[:20000] for s in svc.networks if e.overlaps(s)),
                None,
            )
            if hit is None:
                hit = next(
                    (
                        span
                        for n, span in lst.names
                        if (owner := self.catalog.service_for_host(n)) and owner[0] == svc.id
                    ),
                    None,
                )
            if hit is not None:
                out.append(hit)
        return out
