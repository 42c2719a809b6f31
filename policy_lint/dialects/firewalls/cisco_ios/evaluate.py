"""An IOS/IOS-XE configuration evaluated for one client and one destination (the Ruleset)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace
from functools import partial

from policy_lint.catalog import Catalog
from policy_lint.dialects.firewalls.cisco_common.acl import Acl, CachedLists, Packet
from policy_lint.dialects.firewalls.cisco_common.stages import combine
from policy_lint.dialects.firewalls.cisco_common.vocab import (
    vocabulary,
)
from policy_lint.dialects.firewalls.cisco_ios.model import (
    NAME,
    Attachment,
    Config,
    Place,
)
from policy_lint.dialects.firewalls.cisco_ios.mqc import Classifier
from policy_lint.dialects.semantics.addressing import Target, decide_by_address, targets
from policy_lint.model import EVERYONE, Audience, Decision, Outcome, Probe, Problem, Span

EPHEMERAL = 50000
A_CLIENT = ipaddress.IPv4Address("10.255.77.77")  # a client whose address the config does not give
MAX_CLASSES = 8


@dataclass(frozen=True)
class Seat:
    """An audience: clients behind `place` (None: wherever the fragment's filters apply) with
    source address `src`."""

    place: Place | None
    src: ipaddress.IPv4Address


class IosRuleset:
    dialect = NAME

    def __init__(self, cfg: Config, catalog: Catalog):
        self.cfg = cfg
        self.catalog = catalog
        self.path = cfg.path
        self.problems: list[Problem] = cfg.problems
        self.statements = cfg.statements
        self.understood = cfg.understood
        self.first_statement = cfg.first
        self.vocab = vocabulary()
        self.lists = CachedLists(self._has_address, cfg.objects.has_port)
        self.mqc = Classifier(cfg, self.vocab, self.lists)
        places = [p for p in cfg.places if not p.shutdown and (p.layer3 or p.attachments or p.zone)]
        self.egress = self._egress(places)
        clients = [p for p in places if p not in self.egress] or places
        wireless = [p for p in clients if p.kind == "wireless-profile"]
        if wireless:
            # A WLC's clients are those of its policy profiles; its SVIs and uplinks carry their
            # traffic (and its own management), not another population of users.
            clients = wireless
        self.seats: dict[tuple, Seat] = {}
        self._audiences: list[Audience] = []
        for place in clients:
            self._add_seats(place)
        if not clients:
            self._audiences = [EVERYONE]
            self.seats[EVERYONE.key] = Seat(None, A_CLIENT)
        self.unplaced = self._unplaced() if not cfg.has_interfaces else []
        self._check_names()

    # ------------------------------------------------------------ where clients are

    def _egress(self, places: list[Place]) -> list[Place]:
        """The interfaces towards the Internet: `ip nat outside`, else the default route's."""
        outside = [p for p in places if p.nat == "outside"]
        if outside:
            return outside
        out = []
        for hop, _span in self.cfg.default_routes:
            for p in places:
                if p.name.lower() == hop.lower():
                    out.append(p)
                else:
                    try:
                        addr = ipaddress.IPv4Address(hop)
                    except ValueError:
                        continue
                    if p.network is not None and addr in p.network.network:
                        out.append(p)
        if out:
            return list(dict.fromkeys(out))
        return [p for p in places if p.dhcp and p.kind == "interface"]

    def _add_seats(self, place: Place) -> None:
        base = A_CLIENT
        if place.network is not None and place.network.network.num_addresses > 4:
            base = place.network.network.network_address + min(100, place.network.network.num_addresses - 2)
        specs = []
        for att in place.attachments:
            acl = self.cfg.acls.get(att.name) if att.kind == "acl" and att.direction == "in" else None
            for e in acl.entries if acl else []:
                if e.src.kind == "net" and e.src.version == 4 and e.src not in specs:
                    specs.append(e.src)
        candidates = [base]
        if place.network is not None and place.network.network.num_addresses > 4:
            net = place.network.network
            # Both ends and the middle of the subnet: a source test covering part of it splits it.
            candidates += [
                net.network_address + 1,
                net.network_address + net.num_addresses // 2 + 1,
                net.broadcast_address - 1,
            ]
        for spec in specs:
            addr = ipaddress.IPv4Address((spec.net & ~spec.wild & 0xFFFFFFFF) | (1 if spec.wild else 0))
            if place.network is None or addr in place.network.network:
                candidates.append(addr)
        seen: dict[tuple, ipaddress.IPv4Address] = {}
        for c in candidates:
            vec = tuple((int(c) & ~s.wild) == (s.net & ~s.wild) for s in specs)
            seen.setdefault(vec, c)
        chosen = list(seen.items())[:MAX_CLASSES]
        for vec, addr in chosen:
            conds: tuple[str, ...] = (place.describe(),)
            if len(chosen) > 1:
                inside = [s.text for s, hit in zip(specs, vec, strict=True) if hit]
                conds += (
                    (f"from {inside[0]}",)
                    if inside
                    else ("from none of " + ", ".join(s.text for s in specs[:3]),)
                )
            key = (place.name, str(addr))
            aud = Audience(key, conds, (("src", str(addr)), ("place", place.name)))
            self._audiences.append(aud)
            self.seats[key] = Seat(place, addr)

    def audiences(self) -> list[Audience]:
        return self._audiences

    # ------------------------------------------------------------ names the file does not hold

    def _check_names(self) -> None:
        for cm in self.cfg.class_maps.values():
            for m in cm.matches:
                if m.what == "protocol" and not self.mqc.known_protocol(m.value, cm.inspect):
                    self.problems.append(
                        Problem(
                            "TE908",
                            m.span,
                            f"NBAR protocol `{m.value}` is not in policy-lint's vocabulary: what it classifies is unknown",
                        )
                    )
        for place in self.cfg.places:
            for att in place.attachments:
                missing = (att.kind == "acl" and att.name not in self.cfg.acls) or (
                    att.kind == "policy" and att.name not in self.cfg.policy_maps
                )
                if missing:
                    what = "access list" if att.kind == "acl" else "policy-map"
                    self.problems.append(
                        Problem(
                            "TE903",
                            att.span,
                            f"{what} {att.name} is not defined in this file: what it does is unknown",
                        )
                    )
                if att.kind == "ipv6-acl":
                    self.problems.append(
                        Problem(
                            "TE908",
                            att.span,
                            "IPv6 access lists are not modelled: IPv6 traffic here is unknown",
                        )
                    )

    def _unplaced(self) -> list[tuple[str, Span]]:
        """A fragment without interfaces: its lists and policies apply somewhere it does not say."""
        attached = {a.name for p in self.cfg.places for a in p.attachments}
        used_by_class = {
            m.value for cm in self.cfg.class_maps.values() for m in cm.matches if m.what == "acl"
        }
        out = []
        for name, acl in self.cfg.acls.items():
            if name not in attached and name not in used_by_class and acl.entries:
                out.append(("acl:" + name, acl.span))
        children = {a.child for pm in self.cfg.policy_maps.values() for c in pm.classes for a in c.actions}
        for name, pm in self.cfg.policy_maps.items():
            if name not in attached and name not in children and not pm.inspect:
                out.append(("policy:" + name, pm.span))
        for key, span in out:
            kind, name = key.split(":", 1)
            what = "access list" if kind == "acl" else "policy-map"
            self.problems.append(
                Problem(
                    "TE903",
                    span,
                    f"{what} {name}: this fragment has no interface section, so where it applies "
                    "(`ip access-group`/`service-policy` on an interface) is not in the file",
                )
            )
        return out

    # ------------------------------------------------------------ evaluation

    def evaluate(self, probe: Probe, audience: Audience) -> Decision:
        seat = self.seats.get(audience.key) or next(iter(self.seats.values()))
        return decide_by_address(probe, self.catalog, partial(self._walk, probe, seat))

    def _walk(self, probe: Probe, seat: Seat, target: Target) -> Decision:
        dst = target.address
        fwd = Packet(seat.src, dst, EPHEMERAL, probe.port)
        back = Packet(dst, seat.src, probe.port, EPHEMERAL, reply=True)
        place = seat.place
        stages: list[Decision] = []
        if place is None:
            stages += self._unplaced_stage(probe, fwd)
            return combine(stages)
        stages += self._at(place, "in", probe, fwd)
        egresses: list[Place | None] = [e for e in self.egress if e is not place] or [None]
        if not self.egress:
            others = [
                p for p in self.cfg.places if p is not place and not p.shutdown and p.kind == "interface"
            ]
            if others and any(p.attachments or p.zone for p in others):
                egresses = list(others)
        outcomes = []
        for e in egresses:
            # CBAC (`ip inspect` on either side) opens the replies' way through the lists.
            stateful = place.cbac is not None or (e is not None and e.cbac is not None)
            back_stages = self._at(place, "out", probe, back, acls=not stateful)
            outcomes.append(
                combine([*stages, *back_stages, *self._through(place, e, probe, fwd, back, stateful)])
            )
        if len({(d.outcome, d.rule) for d in outcomes}) > 1 and len({d.outcome for d in outcomes}) > 1:
            first = next(d for d in outcomes if d.outcome != Outcome.ALLOW)
            names = ", ".join(e.name for e in egresses if e is not None)
            return Decision(
                Outcome.UNKNOWN,
                first.rule,
                first.trace,
                note=f"which interface leads to the Internet ({names}) is not in the config, and they differ",
                scope=place.describe(),
            )
        return outcomes[0]

    def _through(
        self, place: Place, egress: Place | None, probe: Probe, fwd: Packet, back: Packet, stateful: bool
    ) -> list[Decision]:
        out = [self._zones(place, egress, probe, fwd)] if self.cfg.zones else []
        if egress is None:
            return out
        natted = place.nat == "inside" and egress.nat == "outside"
        public = egress.network.ip if natted and egress.network is not None else (None if natted else fwd.src)
        out += self._at(
            egress, "out", probe, Packet(public, fwd.dst, fwd.sport, fwd.dport), scope=place.describe()
        )
        out += self._at(
            egress,
            "in",
            probe,
            Packet(back.src, public, back.sport, back.dport, reply=True),
            scope=place.describe(),
            acls=not stateful,
        )
        return out

    def _at(
        self, place: Place, direction: str, probe: Probe, pkt: Packet, scope: str = "", acls: bool = True
    ) -> list[Decision]:
        scope = scope or place.describe()
        out = []
        for att in place.attachments:
            if att.direction != direction:
                continue
            if att.kind == "acl" and not acls:
                continue
            if att.kind == "acl":
                if pkt.version != 4:
                    continue  # an IPv4 list does not see IPv6 packets
                out.append(self._acl_stage(att, probe, pkt, scope))
            elif att.kind == "ipv6-acl" and pkt.version == 6:
                out.append(
                    Decision(
                        Outcome.UNKNOWN,
                        att.span,
                        (att.span,),
                        note="IPv6 access lists are not modelled",
                        scope=scope,
                    )
                )
            elif att.kind == "policy" and not pkt.reply:
                # A QoS policy classifies the flow (NBAR sees both directions): evaluated once per
                # attachment, on the request.
                pm = self.cfg.policy_maps.get(att.name)
                if pm is None:
                    out.append(
                        Decision(
                            Outcome.UNKNOWN,
                            att.span,
                            (att.span,),
                            note=f"policy-map {att.name} is not in the file",
                            scope=scope,
                        )
                    )
                else:
                    d = self.mqc.policy(pm, probe, pkt, 0)
                    out.append(
                        Decision(d.outcome, d.rule, (att.span, *d.trace), d.specific, d.how, d.note, scope)
                    )
        if direction == "out" and pkt.reply:
            # A policy on the way out of this place also meets the flow.
            for att in place.attachments:
                if att.kind == "policy" and att.direction == "out":
                    pm = self.cfg.policy_maps.get(att.name)
                    if pm is None:
                        out.append(
                            Decision(
                                Outcome.UNKNOWN,
                                att.span,
                                (att.span,),
                                note=f"policy-map {att.name} is not in the file",
                                scope=scope,
                            )
                        )
                    else:
                        fwd = Packet(pkt.dst, pkt.src, pkt.dport, pkt.sport)
                        d = self.mqc.policy(pm, probe, fwd, 0)
                        out.append(
                            Decision(
                                d.outcome, d.rule, (att.span, *d.trace), d.specific, d.how, d.note, scope
                            )
                        )
        return out

    def _acl_stage(self, att: Attachment, probe: Probe, pkt: Packet, scope: str) -> Decision:
        acl = self.cfg.acls.get(att.name)
        if acl is None:
            return Decision(
                Outcome.UNKNOWN,
                att.span,
                (att.span,),
                note=f"access list {att.name} is not in the file",
                scope=scope,
            )
        return self._acl_decision(acl, att.span, probe, pkt, scope)

    def _acl_decision(
        self, acl: Acl, applied: Span | None, probe: Probe, pkt: Packet, scope: str
    ) -> Decision:
        res = self.lists.first_match(acl, pkt, probe.host)
        head = (applied,) if applied else ()
        span = res.entry.span if res.entry else acl.span
        trace = tuple(dict.fromkeys((*head, acl.span, span)))
        specific = bool(res.entry and res.entry.specific())
        if res.verdict == "permit":
            return Decision(
                Outcome.ALLOW, res.entry.span if res.entry else None, trace, specific, scope=scope
            )
        if res.verdict == "deny":
            note = res.note + (" (the server's replies)" if pkt.reply else "")
            return Decision(Outcome.DENY, span, trace, specific, how="acl deny", note=note, scope=scope)
        return Decision(Outcome.UNKNOWN, span, trace, note=res.note, scope=scope)

    def _has_address(self, ref: str, addr, host: str) -> bool | None:
        return self.cfg.objects.has_address(ref, addr, host)

    # ------------------------------------------------------------ zone-based firewall

    def _zones(self, place: Place, egress: Place | None, probe: Probe, pkt: Packet) -> Decision:
        scope = place.describe()
        if egress is None:
            if place.zone:
                return Decision(
                    Outcome.UNKNOWN,
                    place.zone_span,
                    (place.zone_span,) if place.zone_span else (),
                    note="which zone the Internet-facing interface is in is not in the config",
                    scope=scope,
                )
            return Decision(Outcome.ALLOW)
        src, dst = place.zone, egress.zone
        if not src and not dst:
            return Decision(Outcome.ALLOW)
        if not src or not dst:
            span = place.zone_span or egress.zone_span
            return Decision(
                Outcome.DENY,
                span,
                (span,) if span else (),
                how="zone drop",
                scope=scope,
                note="traffic between an interface in a security zone and one in none is dropped",
            )
        pair = next((z for z in self.cfg.zone_pairs if z.source == src and z.destination == dst), None)
        if pair is None:
            if src == dst:
                return Decision(Outcome.ALLOW)
            return Decision(
                Outcome.DENY,
                place.zone_span,
                (place.zone_span,) if place.zone_span else (),
                how="zone drop",
                scope=scope,
                note=f"no zone-pair from {src} to {dst}: the zone firewall drops it",
            )
        pm = self.cfg.policy_maps.get(pair.policy)
        if pm is None:
            if not pair.policy:
                return Decision(
                    Outcome.DENY,
                    pair.span,
                    (pair.span,),
                    how="zone drop",
                    scope=scope,
                    note=f"zone-pair {pair.name} has no inspect policy: it drops",
                )
            return Decision(
                Outcome.UNKNOWN,
                pair.policy_span,
                (pair.span,),
                note=f"policy-map {pair.policy} is not in the file",
                scope=scope,
            )
        d = self.mqc.policy(pm, probe, pkt, 0)
        head = (pair.span, *((pair.policy_span,) if pair.policy_span else ()))
        if d.outcome == Outcome.ALLOW and d.how == "zone pass":
            d = self._replies_after_pass(d, src, dst, probe, pkt)
        return Decision(d.outcome, d.rule, (*head, *d.trace), d.specific, d.how, d.note, scope)

    def _replies_after_pass(self, d: Decision, src: str, dst: str, probe: Probe, pkt: Packet) -> Decision:
        """`pass` (unlike `inspect`) keeps no state: the replies need the zone-pair back to allow them."""
        back = next((z for z in self.cfg.zone_pairs if z.source == dst and z.destination == src), None)
        pm = self.cfg.policy_maps.get(back.policy) if back else None
        if back is None or (pm is None and not back.policy):
            return replace(
                d,
                outcome=Outcome.DENY,
                how="zone drop",
                note=f"`pass` lets the request through one way only; no zone-pair from {dst} to {src} "
                "lets the replies back",
            )
        if pm is None:
            return replace(d, outcome=Outcome.UNKNOWN, note=f"policy-map {back.policy} is not in the file")
        reply = Packet(pkt.dst, pkt.src, pkt.dport, pkt.sport, reply=True)
        r = self.mqc.policy(pm, probe, reply, 0)
        if r.outcome == Outcome.ALLOW:
            return d
        return replace(r, trace=(*d.trace, back.span, *r.trace), note=r.note or "the replies are dropped")

    # ------------------------------------------------------------ fragments and dead definitions

    def _unplaced_stage(self, probe: Probe, pkt: Packet) -> list[Decision]:
        out = []
        for key, span in self.unplaced:
            kind, name = key.split(":", 1)
            if kind == "acl":
                if pkt.version != 4:
                    continue
                d = self._acl_decision(self.cfg.acls[name], None, probe, pkt, "")
            else:
                d = self.mqc.policy(self.cfg.policy_maps[name], probe, pkt, 0)
            if d.outcome in (Outcome.DENY, Outcome.THROTTLE, Outcome.UNKNOWN):
                what = "access list" if kind == "acl" else "policy-map"
                out.append(
                    Decision(
                        Outcome.UNKNOWN,
                        d.rule or span,
                        (span, *d.trace),
                        note=f"{what} {name} would {'drop' if d.outcome == Outcome.DENY else 'limit'} it where "
                        "it is applied, and this fragment does not say where (no interface section)",
                    )
                )
        return out

    def inert_mentions(self, probe: Probe) -> list[Span]:
        if not self.cfg.has_interfaces and not self.cfg.places:
            return []
        used = self.cfg.words_used
        out: list[Span] = []
        ts = targets(probe, self.catalog)[:12]
        for name, acl in self.cfg.acls.items():
            if name in used:
                continue
            for t in ts:
                if t.address.version != 4:
                    continue
                res = self.lists.first_match(
                    acl, Packet(A_CLIENT, t.address, EPHEMERAL, probe.port), probe.host
                )
                if res.verdict == "deny" and res.entry is not None and res.entry.specific():
                    out.append(res.entry.span)
                    break
        for name, cm in self.cfg.class_maps.items():
            if name in used:
                continue
            for m in cm.matches:
                if m.what == "protocol" and probe.service in {
                    v.service for v in self.vocab.services_for(m.value)
                }:
                    out.append(m.span)
        return out
