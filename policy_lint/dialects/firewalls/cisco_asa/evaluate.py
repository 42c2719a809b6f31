"""A Cisco ASA configuration evaluated for one client and one destination (the Ruleset)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import partial

from policy_lint.catalog import Catalog
from policy_lint.dialects.firewalls.cisco_asa.model import (
    NAME,
    AccessGroup,
    Config,
    HttpPolicy,
    Interface,
    L7Class,
    L7Match,
)
from policy_lint.dialects.firewalls.cisco_common.acl import Acl, AclResult, CachedLists, Packet
from policy_lint.dialects.firewalls.cisco_common.stages import combine
from policy_lint.dialects.semantics.addressing import Target, decide_by_address, targets
from policy_lint.dialects.semantics.patterns import BoundedPattern, PatternError
from policy_lint.model import EVERYONE, Audience, Decision, Outcome, Probe, Problem, Span

EPHEMERAL = 50000
A_CLIENT = ipaddress.IPv4Address("10.255.77.77")
MAX_CLASSES = 8
HTTP_INSPECTION_PORT = 80  # default-inspection-traffic holds HTTP on TCP port 80


@dataclass(frozen=True)
class Seat:
    itf: Interface | None
    src: ipaddress.IPv4Address


class AsaRuleset:
    dialect = NAME

    def __init__(self, cfg: Config, catalog: Catalog):
        self.cfg = cfg
        self.catalog = catalog
        self.path = cfg.path
        self.problems: list[Problem] = cfg.problems
        self.statements = cfg.statements
        self.understood = cfg.understood
        self.first_statement = cfg.first
        self.patterns: dict[str, BoundedPattern | None] = {}
        self.lists = CachedLists(self._has, cfg.objects.has_port)
        for name, (text, span) in cfg.regexes.items():
            try:
                self.patterns[name] = BoundedPattern.compile(text)
            except PatternError as exc:
                self.patterns[name] = None
                self.problems.append(Problem("TE905", span, str(exc)))
        itfs = self._interfaces()
        self.egress = self._egress(itfs)
        clients = [i for i in itfs if i not in self.egress] or itfs
        self._audiences: list[Audience] = []
        self.seats: dict[tuple, Seat] = {}
        for itf in clients:
            self._add_seats(itf)
        if not self._audiences:
            self._audiences = [EVERYONE]
            self.seats[EVERYONE.key] = Seat(None, A_CLIENT)
        for g in cfg.groups:
            if g.acl not in cfg.acls:
                self.problems.append(
                    Problem(
                        "TE903", g.span, f"access-list {g.acl} is not in the file: what it does is unknown"
                    )
                )
        self.unplaced = (
            [] if cfg.has_interfaces or cfg.groups else [a for a in cfg.acls.values() if a.entries]
        )
        for acl in self.unplaced:
            self.problems.append(
                Problem(
                    "TE903",
                    acl.span,
                    f"access-list {acl.name}: this fragment has no interface section or access-group, so where "
                    "it applies is not in the file",
                )
            )

    # ------------------------------------------------------------ where clients are

    def _interfaces(self) -> list[Interface]:
        itfs = [i for i in self.cfg.interfaces if i.nameif and not i.shutdown]
        known = {i.nameif for i in itfs}
        # A fragment may apply lists to interfaces it does not define: they are places all the same.
        for g in self.cfg.groups:
            if g.interface and g.interface not in known and not self.cfg.has_interfaces:
                itfs.append(Interface("", g.span, g.interface))
                known.add(g.interface)
        return itfs

    def _egress(self, itfs: list[Interface]) -> list[Interface]:
        by_route = [i for i in itfs for name, _s in self.cfg.routes if i.nameif == name]
        if by_route:
            return list(dict.fromkeys(by_route))
        named = [i for i in itfs if i.nameif.lower() == "outside"]
        if named:
            return named
        levelled = [i for i in itfs if i.level is not None]
        if len(levelled) >= 2:
            low = min(i.level for i in levelled if i.level is not None)
            return [i for i in levelled if i.level == low]
        return [
            i for i in itfs if any(g.direction == "out" and g.interface == i.nameif for g in self.cfg.groups)
        ]

    def _add_seats(self, itf: Interface) -> None:
        base = A_CLIENT
        candidates = []
        if itf.network is not None and itf.network.network.num_addresses > 4:
            net = itf.network.network
            base = net.network_address + min(100, net.num_addresses - 2)
            candidates = [
                net.network_address + 1,
                net.network_address + net.num_addresses // 2 + 1,
                net.broadcast_address - 1,
            ]
        specs = []
        for g in self.cfg.groups:
            if (g.direction == "in" and g.interface == itf.nameif) or g.direction == "global":
                for e in self.cfg.acls[g.acl].entries if g.acl in self.cfg.acls else []:
                    if e.src.kind == "net" and e.src.version == 4 and e.src not in specs:
                        specs.append(e.src)
        cands = [base, *candidates]
        for spec in specs:
            addr = ipaddress.IPv4Address((spec.net & ~spec.wild & 0xFFFFFFFF) | (1 if spec.wild else 0))
            if itf.network is None or addr in itf.network.network:
                cands.append(addr)
        seen: dict[tuple, ipaddress.IPv4Address] = {}
        for c in cands:
            seen.setdefault(tuple((int(c) & ~s.wild) == (s.net & ~s.wild) for s in specs), c)
        chosen = list(seen.items())[:MAX_CLASSES]
        for vec, addr in chosen:
            conds: tuple[str, ...] = (itf.describe(),)
            if len(chosen) > 1:
                inside = [s.text for s, hit in zip(specs, vec, strict=True) if hit]
                conds += (
                    (f"from {inside[0]}",)
                    if inside
                    else ("from none of " + ", ".join(s.text for s in specs[:3]),)
                )
            key = (itf.nameif, str(addr))
            self._audiences.append(Audience(key, conds, (("src", str(addr)), ("interface", itf.nameif))))
            self.seats[key] = Seat(itf, addr)

    def audiences(self) -> list[Audience]:
        return self._audiences

    # ------------------------------------------------------------ evaluation

    def evaluate(self, probe: Probe, audience: Audience) -> Decision:
        seat = self.seats.get(audience.key) or next(iter(self.seats.values()))
        return decide_by_address(probe, self.catalog, partial(self._walk, probe, seat))

    def _walk(self, probe: Probe, seat: Seat, target: Target) -> Decision:
        pkt = Packet(seat.src, target.address, EPHEMERAL, probe.port)
        itf = seat.itf
        if itf is None:
            return combine([*self._unplaced(probe, pkt), *self._inspection(probe, pkt, None, None)])
        scope = itf.describe()
        egresses: list[Interface | None] = [e for e in self.egress if e is not itf] or [None]
        outs = []
        for egress in egresses:
            stages = [self._inbound(itf, egress, probe, pkt, scope)]
            if egress is not None:
                stages += [
                    self._acl(g, probe, pkt, scope)
                    for g in self.cfg.groups
                    if g.direction == "out" and g.interface == egress.nameif
                ]
            stages += self._inspection(probe, pkt, itf, egress)
            outs.append(combine(stages))
        if len({d.outcome for d in outs}) > 1:
            first = next(d for d in outs if d.outcome != Outcome.ALLOW)
            return Decision(
                Outcome.UNKNOWN,
                first.rule,
                first.trace,
                scope=scope,
                note="which interface leads to the Internet is not in the config, and they differ",
            )
        return outs[0]

    def _inbound(
        self, itf: Interface, egress: Interface | None, probe: Probe, pkt: Packet, scope: str
    ) -> Decision:
        """The interface's inbound list, then the global list, then the implicit deny; with
        neither, the security levels: from a higher to a lower level passes."""
        lists = [g for g in self.cfg.groups if g.direction == "in" and g.interface == itf.nameif]
        lists += [g for g in self.cfg.groups if g.direction == "global"]
        if lists:
            pending: list[Decision] = []
            for g in lists:
                acl = self.cfg.acls.get(g.acl)
                if acl is None:
                    return Decision(
                        Outcome.UNKNOWN,
                        g.span,
                        (g.span,),
                        note=f"access-list {g.acl} is not in the file",
                        scope=scope,
                    )
                res = self.lists.first_match(acl, pkt, probe.host)
                if res.entry is None and res.verdict == "deny":
                    continue  # no entry matched: on to the next list (the implicit deny is the last)
                d = self._decision(res, g, acl, pkt, scope)
                if d.outcome == Outcome.UNKNOWN:
                    pending.append(d)
                    continue
                return d if not pending else pending[0]
            if pending:
                return pending[0]
            last = lists[-1]
            return Decision(
                Outcome.DENY,
                last.span,
                (last.span,),
                how="acl deny",
                scope=scope,
                note=f"the implicit deny after access-list {last.acl}",
            )
        if egress is None:
            return Decision(Outcome.ALLOW)
        if itf.level is None or egress.level is None:
            return Decision(
                Outcome.UNKNOWN,
                itf.span,
                (itf.span,),
                scope=scope,
                note="no access list applies and the interfaces' security levels are not in the file",
            )
        if itf.level > egress.level or (itf.level == egress.level and self.cfg.same_security):
            return Decision(Outcome.ALLOW)
        return Decision(
            Outcome.DENY,
            itf.span,
            (itf.span,),
            how="security level",
            scope=scope,
            note=f"from security level {itf.level} to {egress.level} without an access list: denied",
        )

    def _acl(self, g: AccessGroup, probe: Probe, pkt: Packet, scope: str) -> Decision:
        acl = self.cfg.acls.get(g.acl)
        if acl is None:
            return Decision(
                Outcome.UNKNOWN,
                g.span,
                (g.span,),
                note=f"access-list {g.acl} is not in the file",
                scope=scope,
            )
        res = self.lists.first_match(acl, pkt, probe.host)
        return self._decision(res, g, acl, pkt, scope)

    def _decision(self, res: AclResult, g: AccessGroup | None, acl: Acl, pkt: Packet, scope: str) -> Decision:
        span = res.entry.span if res.entry else acl.span
        trace = tuple(dict.fromkeys(((g.span,) if g else ()) + (acl.span, span)))
        specific = bool(res.entry and res.entry.specific())
        if res.verdict == "permit":
            return Decision(Outcome.ALLOW, span, trace, specific, scope=scope)
        if res.verdict == "deny":
            return Decision(Outcome.DENY, span, trace, specific, how="acl deny", note=res.note, scope=scope)
        return Decision(Outcome.UNKNOWN, span, trace, note=res.note, scope=scope)

    def _has(self, ref: str, addr, host: str) -> bool | None:
        return self.cfg.objects.has_address(ref, addr, host)

    def _unplaced(self, probe: Probe, pkt: Packet) -> list[Decision]:
        out = []
        for acl in self.unplaced:
            d = self._decision(self.lists.first_match(acl, pkt, probe.host), None, acl, pkt, "")
            if d.outcome != Outcome.ALLOW:
                out.append(
                    Decision(
                        Outcome.UNKNOWN,
                        d.rule,
                        d.trace,
                        note=f"access-list {acl.name} would drop it where it is applied, and this fragment does not say where",
                    )
                )
        return out

    # ------------------------------------------------------------ HTTP inspection

    def _inspection(
        self, probe: Probe, pkt: Packet, itf: Interface | None, egress: Interface | None
    ) -> list[Decision]:
        """`inspect http MAP` in a service policy applied globally or on the client's or the
        Internet side's interface. It reads plain HTTP only: HTTPS passes unread."""
        names = {i.nameif for i in (itf, egress) if i is not None}
        out = []
        for att in self.cfg.attachments:
            if att.interface and att.interface not in names and itf is not None:
                continue
            sp = self.cfg.service_policies.get(att.policy)
            if sp is None:
                continue
            for spc in sp.classes:
                if spc.inspect_http is None:
                    continue
                hit = self._l4(spc.name, probe, pkt)
                if hit is False:
                    continue
                head = (att.span, spc.span, *((spc.inspect_span,) if spc.inspect_span else ()))
                if not spc.inspect_http:
                    continue  # inspect http without a map checks protocol conformance only
                pm = self.cfg.http_policies.get(spc.inspect_http)
                if pm is None:
                    out.append(
                        Decision(
                            Outcome.UNKNOWN,
                            spc.inspect_span,
                            head,
                            note=f"policy-map type inspect http {spc.inspect_http} is not in the file",
                        )
                    )
                    continue
                if probe.scheme != "http":
                    continue
                d = self._http_policy(pm, probe)
                if hit is None and d.outcome != Outcome.ALLOW:
                    d = Decision(
                        Outcome.UNKNOWN,
                        d.rule,
                        d.trace,
                        note=f"whether class {spc.name} covers this traffic is unknown",
                    )
                out.append(Decision(d.outcome, d.rule, (*head, *d.trace), d.specific, d.how, d.note, d.scope))
                break  # a connection is inspected by the first class with an inspect http
        return out

    def _l4(self, name: str, probe: Probe, pkt: Packet) -> bool | None:
        if name == "class-default":
            return True
        cls = self.cfg.l4_classes.get(name)
        if cls is None:
            return None
        if cls.match in ("any",):
            return True
        if cls.match == "default-inspection-traffic":
            return probe.port == HTTP_INSPECTION_PORT
        if cls.match == "port":
            return probe.port in cls.ports
        if cls.match == "acl":
            acl = self.cfg.acls.get(cls.acl)
            if acl is None:
                return None
            r = self.lists.first_match(acl, pkt, probe.host)
            return {"permit": True, "deny": False}.get(r.verdict)
        return None

    def _http_policy(self, pm: HttpPolicy, probe: Probe) -> Decision:
        pending: list[Decision] = []
        for cls in pm.entries:
            hit = self._l7(cls, probe)
            if hit is False:
                continue
            kinds = {a for a, _s in cls.actions}
            action_span = next((s for a, s in cls.actions if a in ("drop-connection", "reset")), cls.span)
            trace = (cls.span, *(m.span for m in cls.matches if m.span != cls.span))
            if kinds & {"drop-connection", "reset"}:
                d = Decision(
                    Outcome.DENY,
                    action_span,
                    trace,
                    True,
                    how="reset" if "reset" in kinds else "drop-connection",
                    note="HTTP inspection reads plain HTTP only",
                )
            else:
                d = Decision(Outcome.ALLOW, cls.span, trace)
            if hit is None:
                pending.append(d)
                continue
            if any(p.outcome != d.outcome for p in pending):
                return Decision(
                    Outcome.UNKNOWN,
                    pending[0].rule,
                    pending[0].trace,
                    note="whether an inspection class matches is unknown",
                )
            return d
        if any(p.outcome != Outcome.ALLOW for p in pending):
            return Decision(
                Outcome.UNKNOWN,
                pending[0].rule,
                pending[0].trace,
                note="whether an inspection class matches is unknown",
            )
        return Decision(Outcome.ALLOW)

    def _l7(self, cls: L7Class, probe: Probe) -> bool | None:
        results = [self._l7_match(m, probe) for m in cls.matches]
        if not results:
            return False
        if cls.match_all:
            return False if False in results else (None if None in results else True)
        return True if True in results else (None if None in results else False)

    def _l7_match(self, m: L7Match, probe: Probe) -> bool | None:
        if m.field == "unknown" or m.unknown_regex:
            return None
        text = probe.host if m.field == "host" else probe.path
        results: list[bool | None] = []
        for name in m.regexes:
            if name not in self.cfg.regexes:
                results.append(None)
                continue
            pattern = self.patterns.get(name)
            results.append(None if pattern is None else pattern.search(text))
        r: bool | None = True if True in results else (None if None in results else False)
        if m.negate and r is not None:
            return not r
        return r

    # ------------------------------------------------------------ dead definitions

    def inert_mentions(self, probe: Probe) -> list[Span]:
        if not self.cfg.has_interfaces:
            return []
        applied = {g.acl for g in self.cfg.groups} | {c.acl for c in self.cfg.l4_classes.values()}
        out: list[Span] = []
        ts = [t for t in targets(probe, self.catalog)[:12] if t.address.version == 4]
        for name, acl in self.cfg.acls.items():
            if name in applied:
                continue
            for t in ts:
                r = self.lists.first_match(
                    acl, Packet(A_CLIENT, t.address, EPHEMERAL, probe.port), probe.host
                )
                if r.verdict == "deny" and r.entry is not None and r.entry.specific():
                    out.append(r.entry.span)
                    break
        return out
