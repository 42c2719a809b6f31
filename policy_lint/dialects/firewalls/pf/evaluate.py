"""pf's evaluation of a packet (the package docstring): the last matching rule, or the first
`quick` one, over the rules that may hold the destination address; tables, redirects, policy
routing and the replies of connections no rule kept state for."""

from __future__ import annotations

import bisect
import ipaddress
from typing import TYPE_CHECKING

from policy_lint.catalog import Catalog
from policy_lint.dialects.firewalls.pf.model import NAME, HostItem, Packet, Rule
from policy_lint.dialects.firewalls.reach import either, narrow_scope
from policy_lint.dialects.semantics.addressing import Target, decide_by_address
from policy_lint.dialects.semantics.gcpause import without_cycle_collection
from policy_lint.model import EVERYONE, Audience, Decision, Outcome, Probe, Problem, Span

if TYPE_CHECKING:
    from policy_lint.dialects.firewalls.pf.parse import Parser

MAX_AUDIENCES = 32


class PfRuleset:
    def __init__(self, shown: str, parser: Parser, catalog: Catalog):
        self.path = shown
        self.dialect = NAME
        self.problems = parser.problems
        self.rules = parser.rules
        self.tables = parser.tables
        self.catalog = catalog
        self.skip = parser.skip
        self.redirects = parser.redirects
        # What the whole ruleset says is read from the rules parsed in full and the shapes of
        # the rows (rules.py): a row is a `block` to one network, without `nat-to`/`rdr-to`,
        # source, port or table, so only its interface and direction count here.
        full = self.rules.full
        self.nat = any("nat-to" in r.span.text for r in full) or any(
            s.text.lstrip().startswith(("nat ", "binat ")) for s in parser.nat_spans
        )
        self._told: set[Span] = set()
        named = {i for r in full for i in r.interfaces} | {i for s in self.rules.shapes for i in s.interfaces}
        self.egress = {"egress"} | {i for i in named if i in parser.egress_macros}
        self.egress |= {
            i
            for r in full
            if "nat-to" in r.span.text or "rdr-to" in r.span.text
            for i in r.interfaces
            if r.direction == "out"
        }
        lan_rules = [
            r
            for r in full
            if r.action == "pass" and r.direction == "in" and any(i not in self.egress for i in r.interfaces)
        ]
        self.router = parser.routing or bool(lan_rules)
        lan_named = [r.interfaces for r in full if r.direction != "out"]
        lan_named += [s.interfaces for s in self.rules.shapes if s.direction != "out"]
        self.lan_ifaces = sorted(
            {i for words in lan_named for i in words if i not in self.egress and i not in self.skip}
        )
        self._audiences = self._make_audiences()
        self._decided: dict[tuple, Decision] = {}  # (probe, audience key) -> decision
        self._by_span = {r.span: r for r in full}
        self._index_destinations()
        for rule in full:  # rows have no port
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
        for rule in self.rules.full:  # the rows are indexed by the rule list
            idx = rule.position
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
        # `match` rules with policy routing, in order (_routed): most rulesets have none.
        self._route_matches = [r for r in self.rules.full if r.action == "match" and r.route]
        self._specific_of: dict[object, list[int]] = {}
        # Source networks of the rules whose source is one list of plain networks (`from
        # 10.0.0.9`): a packet from elsewhere never matches them, so long candidate lists are
        # indexed by them too (_SourceIndex).
        self._source_nets: dict[int, tuple] = {
            r.position: r.src[0].value
            for r in self.rules.full
            if len(r.src) == 1 and r.src[0].kind == "net" and not r.src[0].negated
        }
        self._by_source_of: dict[object, _SourceIndex | None] = {}
        self._used_tables: set[str] | None = None
        self._generic_of: dict[tuple, tuple[int, list[int], int | None, list[int]]] = {}

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
            if address.version == 4:
                hits.update(self.rules.row_positions(value))
            found = sorted(hits)
            if len(self._specific_of) < 65536:  # bounded: distinct sampled addresses only
                self._specific_of[address] = found
        return found

    def _specific_from(self, address, source) -> list[int]:
        """_specific(address) without the rules whose plain source networks cannot hold
        `source`: thousands of per-client rules to one destination (`block quick from
        10.0.0.9 to 157.240.0.0/16`) are otherwise all walked for every client."""
        found = self._specific(address)
        if source is None or len(found) < _SourceIndex.WORTH_IT:
            return found
        index = self._by_source_of.get(address)
        if index is None:
            index = _SourceIndex(found, self._source_nets)
            if len(self._by_source_of) < 1024:
                self._by_source_of[address] = index
        return index.holding(source)

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
        for r in self.rules.full:  # rows have no source
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
        kinds = [(iface, addr) for iface in ifaces for addr in addresses or [other]]
        if len(kinds) > MAX_AUDIENCES:
            self.problems.append(
                Problem(
                    "TE906",
                    Span(self.path, 1, 1),
                    f"{len(kinds)} kinds of client; the first {MAX_AUDIENCES} are evaluated",
                )
            )
            kinds = kinds[:MAX_AUDIENCES]
        # Described after the cut: a ruleset of thousands of per-client rules has as many
        # kinds of client, and only the evaluated ones need their words.
        words = _SourceWords(sources)
        out: list[Audience] = []
        for iface, addr in kinds:
            conds = []
            if iface:
                conds.append(f"on {iface}")
            if sources:
                conds.append(words.of(addr))
            if conds:
                conds[0] = "clients " + conds[0]
            attrs = (("src", str(addr)),) + ((("interface", iface),) if iface else ())
            out.append(Audience(key=(iface, str(addr)), conditions=tuple(conds), attributes=attrs))
        return out

    def audiences(self) -> list[Audience]:
        return self._audiences

    @without_cycle_collection
    def evaluate(self, probe: Probe, audience: Audience) -> Decision:
        d = self._evaluate(probe, audience)
        rule = self._rule_of(d.rule) if d.rule is not None else None
        if rule is None or not d.scope:
            return d
        # The rule names whom it applies to (an interface, a source); clients it names that
        # earlier rules let through are not blocked by it: then it blocks this audience.
        return narrow_scope(
            d, audience, self._audiences, lambda a: self._evaluate(probe, a), lambda a: self._reaches(rule, a)
        )

    def _rule_of(self, span: Span) -> Rule | None:
        """The rule at `span`: one parsed in full, or a row built when it was evaluated (a row
        is a whole line of a file read once: no other rule has its span)."""
        rule = self._by_span.get(span)
        return rule if rule is not None else self.rules.built_row(span)

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
        for idx in self._specific_from(packet.dst.address, packet.src):
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
            and (decided is None or unsure.position > decided.position or not decided.quick)
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
                and decided.position < (rule.position if rule.position >= 0 else len(self.rules))
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
            # (_matches reads the destination: a rule naming other networks is False.)
            for rule in self._route_matches:
                if self._matches(rule, packet) is not False:
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
        # Not the rules indexed by destination network (rows among them): a reply goes to the
        # address the connection left from, which no network or table entry names (dst below).
        for idx in self._any_destination:
            rule = self.rules[idx]
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
                entry = t.entries.lookup(packet.dst.address)
                if entry is not None and not t.entries.negated(entry):
                    span = t.entries.span(entry)
                    if span != t.span:
                        out.append(span)
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
        hit = table.entries.lookup(address)
        if hit is not None:
            return not table.entries.negated(hit)
        return False if table.complete else None

    def inert_mentions(self, probe: Probe) -> list[Span]:
        """Tables holding the service's addresses that no rule uses."""
        used = self._used_tables
        if used is None:  # asked once per probe: computed once
            used = self._used_tables = {
                i.value for r in self.rules.full for i in (*r.src, *r.dst) if i.kind == "table"
            }  # rows name no table
        svc = self.catalog.services.get(probe.service or "")
        if svc is None:
            return []
        out = []
        for name, table in self.tables.items():
            if name in used:
                continue
            if any(table.entries.overlaps(s) for s in svc.networks):
                out.append(table.span)
        return out


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


class _SourceWords:
    """How a client is told apart: the source networks the rules name that hold its address
    (and the narrower ones that do not), or none of them. `sources` come sorted by (version,
    network address, prefix length): the networks inside one are a contiguous run of them,
    found by bisection rather than by testing every pair."""

    def __init__(self, sources: list):
        self.sources = sources
        self.keys = [(n.version, int(n.network_address)) for n in sources]

    def _inside(self, net) -> list[int]:
        """Positions of the sources within `net` (itself included)."""
        lo = bisect.bisect_left(self.keys, (net.version, int(net.network_address)))
        hi = bisect.bisect_right(self.keys, (net.version, int(net.broadcast_address)))
        return [k for k in range(lo, hi) if self.sources[k].subnet_of(net)]

    def of(self, address) -> str:
        sources = self.sources
        holding = [k for k, n in enumerate(sources) if n.version == address.version and address in n]
        if not holding:
            names = [_net_text(n) for n in sources]
            if len(names) > 4:
                return f"from none of the {len(names)} source networks the rules name"
            return "not from " + either(names)
        held = set(holding)
        but = sorted({k for h in holding for k in self._inside(sources[h]) if k not in held})
        text = "from " + " and ".join(_net_text(sources[k]) for k in holding)
        return text + (f" but not from {either([_net_text(sources[k]) for k in but])}" if but else "")


class _SourceIndex:
    """Rule positions (ascending) indexed by their plain source networks; the others kept aside,
    as they may match any source."""

    WORTH_IT = 64  # shorter candidate lists are walked as they are

    def __init__(self, positions: list[int], source_nets: dict[int, tuple]):
        self.anywhere: list[int] = []
        self.by_prefix: dict[tuple[int, int], dict[int, list[int]]] = {}
        for idx in positions:
            nets = source_nets.get(idx)
            if nets is None:
                self.anywhere.append(idx)
                continue
            for net in nets:
                self.by_prefix.setdefault((net.version, net.prefixlen), {}).setdefault(
                    int(net.network_address), []
                ).append(idx)

    def holding(self, source) -> list[int]:
        """The positions of the rules that may match a packet from `source`, ascending."""
        hits = set(self.anywhere)
        value, bits = int(source), source.max_prefixlen
        for (version, plen), entries in self.by_prefix.items():
            if version == source.version:
                hits.update(entries.get(value >> (bits - plen) << (bits - plen) if plen else 0, ()))
        return sorted(hits)


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
