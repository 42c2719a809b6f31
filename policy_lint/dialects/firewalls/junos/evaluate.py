"""The Ruleset: a user's connection walked through the SRX the way Junos forwards it.

Path of one connection from a client zone to the zone that faces the internet: the input
filters of the client's interface, the security policies (from-zone/to-zone in order, then the
global policies, then the default policy), the UTM web filtering a permitting policy attaches,
the output filters of the egress interface, and the server's reply through the egress
interface's input filters. Each step is a three-valued first match: a policy or term whose match
cannot be told is passed over and what it would have done kept; the later certain answer stands
only when every one passed over would have given the same.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import replace

from policy_lint.catalog import Catalog
from policy_lint.dialects.firewalls.junos.filters import FilterWalk
from policy_lint.dialects.firewalls.junos.firstmatch import same
from policy_lint.dialects.firewalls.junos.model import (
    NAME,
    WAN_WORDS,
    Address,
    Config,
    Net,
    Policy,
)
from policy_lint.dialects.firewalls.junos.policies import (
    ANY_ADDRESS,
    OTHER_CLIENT,
    UNMODELLED_SERVICES,
    PolicyWalk,
    Who,
)
from policy_lint.dialects.firewalls.junos.vendor import VendorNames
from policy_lint.dialects.firewalls.junos.webfilter import host_of, unsupported_wildcard
from policy_lint.dialects.firewalls.reach import narrow_scope
from policy_lint.dialects.semantics.addressing import decide_by_address
from policy_lint.model import EVERYONE, Audience, Decision, Outcome, Probe, Problem, Span

EPHEMERAL = 50000
MAX_AUDIENCES = 48
# The routing engine's own interfaces: the loopback (a filter there guards traffic to the device
# itself, never transit traffic) and the out-of-band management ports. No client's web traffic
# crosses them.
HOST_ONLY = ("lo0", "fxp0", "fxp1", "me0", "em0", "vme")


def transit(iface: str) -> bool:
    return iface.split(".")[0] not in HOST_ONLY


class JunosRuleset:
    def __init__(self, cfg: Config, catalog: Catalog, vendor: VendorNames, statements: int, understood: int):
        self.path = cfg.path
        self.dialect = NAME
        self.cfg = cfg
        self.catalog = catalog
        self.vendor = vendor
        self.problems: list[Problem] = cfg.problems
        self.statements = statements
        self.understood = understood
        self._decided: dict[tuple, Decision] = {}
        self.walk = FilterWalk(cfg)
        self.policies = PolicyWalk(cfg, catalog, vendor, self.problems)
        self.broken: Problem | None = None  # a syntax error: the device would not load the file
        self._inert: dict[str, list[Span]] = {}
        self._by_span = {p.span: p for ps in cfg.policies.values() for p in ps} | {
            p.span: p for p in cfg.global_policies
        }
        self.egress_ifaces, self.egress_zones, self.egress_how = self._egress()
        self.zoned = bool(cfg.zones or cfg.policies or cfg.global_policies)
        # Filters in a fragment without interfaces: where they are applied is not in the file.
        self.floating = bool(cfg.filters) and not cfg.interfaces and not cfg.whole and not self.zoned
        self._check()
        self._who: dict[tuple, Who] = {}
        self._audiences = self._make_audiences()

    # ------------------------------------------------------------------ set-up

    def _egress(self) -> tuple[list[str], list[str], str]:
        """The interfaces and zones internet traffic leaves by, and how that was told."""
        cfg = self.cfg
        ifaces: list[str] = []
        for hop, _span in cfg.default_routes:
            if hop in cfg.interfaces:
                ifaces.append(hop)
                continue
            try:
                addr = ipaddress.ip_address(hop)
            except ValueError:
                continue
            ifaces += [i.name for i in cfg.interfaces.values() if any(addr in a.network for a in i.addresses)]
        how = "the default route" if ifaces else ""
        if not ifaces:
            ifaces = [i.name for i in cfg.interfaces.values() if i.dhcp and transit(i.name)]
            how = "the interface taking its address by DHCP" if ifaces else ""
        zones = list(dict.fromkeys(z for i in ifaces if (z := cfg.zone_of(i))))
        if not zones:
            names = set(cfg.zones) | {z for pair in cfg.policies for z in pair}
            zones = sorted(n for n in names if any(w in n.lower() for w in WAN_WORDS))
            if zones:
                how = "the zone's name"
                ifaces = ifaces or [i for z in zones if z in cfg.zones for i in cfg.zones[z].interfaces]
        return list(dict.fromkeys(ifaces)), zones, how

    def _check(self) -> None:
        """Problems the device would refuse or that the evaluation cannot decide, at their lines."""
        cfg = self.cfg
        for pol in [p for ps in cfg.policies.values() for p in ps] + cfg.global_policies:
            if pol.unknown:
                self.problems.append(
                    Problem(
                        "TE908", pol.span, f"{pol.where}: match {', '.join(pol.unknown)} is not evaluated"
                    )
                )
            if pol.scheduler:
                self.problems.append(
                    Problem(
                        "TE908",
                        pol.span,
                        f"{pol.where}: scheduler {pol.scheduler} makes it apply at times: not evaluated",
                    )
                )
            odd = [s for s in pol.services if s in UNMODELLED_SERVICES]
            if odd:
                self.problems.append(
                    Problem(
                        "TE908", pol.span, f"{pol.where}: application-services {', '.join(odd)} not evaluated"
                    )
                )
            for name in (*pol.dyn_apps, *pol.url_categories):
                if name.lower() in ("any", "none") or name in cfg.utm.categories:
                    continue
                known = self.vendor.app_service(name) or self.vendor.is_social_category(name)
                social = name not in pol.dyn_apps or any(
                    self.policies.could_be(name, s) for s in (*self.catalog.services, None)
                )
                if not known and social:
                    self.problems.append(
                        Problem(
                            "TE908",
                            pol.span,
                            f"{pol.where}: {name} is a Juniper-defined application or category the "
                            "catalog has no cited members for: what it matches is unknown",
                        )
                    )
            for zone, names in ((pol.from_zone or "global", pol.src), (pol.to_zone or "global", pol.dst)):
                for name in names:
                    if name in cfg.dynamic_addresses:
                        self.problems.append(
                            Problem(
                                "TE907",
                                pol.span,
                                f"{pol.where}: dynamic-address {name} is filled from a feed at run time: "
                                "what it holds is unknown",
                            )
                        )
                    elif name not in ANY_ADDRESS and not self.policies.entries(zone, name, members=True):
                        self.problems.append(
                            Problem(
                                "TE901", pol.span, f"{pol.where}: address {name} is not in the address book"
                            )
                        )
            if pol.utm_policy and pol.utm_policy not in cfg.utm.policies:
                self.problems.append(
                    Problem("TE901", pol.span, f"utm-policy {pol.utm_policy} is not defined")
                )
        for iface in cfg.interfaces.values():
            for family, name, span in (*iface.inputs, *iface.outputs):
                if (family, name) not in cfg.filters:
                    self.problems.append(
                        Problem("TE901", span, f"firewall family {family} filter {name} is not defined")
                    )
        for flt in cfg.filters.values():
            for term in flt.terms:
                if term.unknown:
                    self.problems.append(
                        Problem(
                            "TE908",
                            term.span,
                            f"filter {flt.name} term {term.name}: {', '.join(term.unknown)} not evaluated",
                        )
                    )
        if self.floating:
            first = next(iter(cfg.filters.values()))
            self.problems.append(
                Problem(
                    "TE908",
                    first.span,
                    "a fragment with firewall filters and no interfaces: where the filters are applied is "
                    "not in this file, so what they would stop is unknown",
                )
            )
        for pattern in cfg.utm.patterns.values():
            for value, span in pattern.values:
                why = unsupported_wildcard(value)
                if why:
                    self.problems.append(
                        Problem("TE901", span, f"url-pattern {pattern.name} value {value}: {why}")
                    )
        for zone, span in cfg.dnat_from.items():
            self.problems.append(
                Problem(
                    "TE908",
                    span,
                    f"destination NAT of connections from zone {zone} is not evaluated: where they go is unknown",
                )
            )
        filtered = [i for i in cfg.interfaces.values() if (i.inputs or i.outputs) and transit(i.name)]
        if not self.zoned and not self.egress_ifaces and len(filtered) > 1:
            self.problems.append(
                Problem(
                    "TE908",
                    filtered[0].span,
                    "which interface faces the internet is not in this file (no default route, no DHCP "
                    "interface): each filtered interface is taken as a client's and as the way out; where "
                    "that decides, the verdict is unknown",
                )
            )
        if self.zoned and not self.egress_zones:
            span = next((p.span for ps in cfg.policies.values() for p in ps), Span(self.path, 1))
            self.problems.append(
                Problem(
                    "TE908",
                    span,
                    "which zone faces the internet is not in this file (no default route, no DHCP "
                    "interface, no zone named untrust/internet/outside/wan): the policies' verdicts are unknown",
                )
            )

    def _client_zones(self) -> list[str]:
        cfg = self.cfg
        names = list(cfg.zones) + [z for pair in cfg.policies for z in pair]
        return [
            z
            for z in dict.fromkeys(names)
            if z not in self.egress_zones and z != "junos-host" and not z.startswith("__")
        ]

    def _make_audiences(self) -> list[Audience]:
        cfg = self.cfg
        places: list[tuple[str, str]] = []  # (zone, iface)
        if self.zoned:
            for z in self._client_zones():
                filtered = (
                    [i for i in cfg.zones[z].interfaces if self._inputs(i) and transit(i)]
                    if z in cfg.zones
                    else []
                )
                places += [(z, i) for i in filtered] or [(z, "")]
        else:
            places = [
                ("", i.name)
                for i in cfg.interfaces.values()
                if i.inputs and i.name not in self.egress_ifaces and transit(i.name)
            ]
        if not places:
            self._who[()] = Who()
            return [EVERYONE]
        sources: list[Net] = []
        identities: list[str] = []
        for pol in [p for ps in cfg.policies.values() for p in ps] + cfg.global_policies:
            for name in pol.src:
                for entry in self.policies.entries(pol.from_zone or "global", name):
                    sources += [n for n in entry.nets if n.version == 4 and n.prefixlen > 0]
            identities += [i for i in pol.identities if i not in ("any",)]
        for flt in cfg.filters.values():
            for term in flt.terms:
                sources += [n for n, exc in term.src if n.version == 4 and n.prefixlen > 0 and not exc]
        sources = list(dict.fromkeys(sources))[:8]
        reps: list[Address] = [
            n.network_address + 1 if n.num_addresses > 2 else n.network_address for n in sources
        ]
        if all(OTHER_CLIENT not in n for n in sources):
            reps.append(OTHER_CLIENT)
        named = [
            i
            for i in dict.fromkeys(identities)
            if i not in ("authenticated-user", "unauthenticated-user", "unknown-user")
        ]
        idents = [""] + named[:4]
        out: list[Audience] = []
        for zone, iface in places:
            for src in reps:
                for ident in idents:
                    conds = []
                    if zone:
                        conds.append(f"from-zone {zone}")
                    if iface:
                        conds.append(f"on {iface}")
                    if sources:
                        inside = [str(n) for n in sources if src in n]
                        conds.append(f"from {', '.join(inside)}" if inside else "from other addresses")
                    if len(idents) > 1:
                        conds.append(f"source-identity {ident}" if ident else "no source-identity role")
                    key = (zone, iface, str(src), ident)
                    self._who[key] = Who(zone, iface, src, ident)
                    attrs = (("src", str(src)),) + ((("interface", iface),) if iface else ())
                    out.append(Audience(key=key, conditions=tuple(conds), attributes=attrs))
        if len(out) > MAX_AUDIENCES:
            self.problems.append(
                Problem(
                    "TE906",
                    Span(self.path, 1),
                    f"{len(out)} kinds of client; the first {MAX_AUDIENCES} are evaluated",
                )
            )
            out = out[:MAX_AUDIENCES]
        return out

    # ------------------------------------------------------------------ the Ruleset protocol

    def audiences(self) -> list[Audience]:
        return self._audiences

    def evaluate(self, probe: Probe, audience: Audience) -> Decision:
        if self.broken is not None:
            b = self.broken
            why = "the file does not load" if b.code == "TE901" else "not evaluated"
            return Decision(Outcome.UNKNOWN, b.span, (b.span,), note=f"{why} ({b.message})")
        d = self._evaluate(probe, audience)
        pol = self._by_span.get(d.rule) if d.rule is not None and d.scope else None
        if pol is None:
            return d
        # The policy names whom it applies to (a source address, a role); clients it names that
        # earlier policies let through are not blocked by it: then it blocks this audience.
        return narrow_scope(
            d,
            audience,
            self._audiences,
            lambda a: self._evaluate(probe, a),
            lambda a: self._reaches(pol, probe, a),
        )

    def _reaches(self, pol: Policy, probe: Probe, audience: Audience) -> bool:
        who = self._who.get(audience.key, Who())
        if pol.from_zone and pol.from_zone != who.zone:
            return False
        return self.policies.static_match(pol, probe, who)[0] is not False

    def _evaluate(self, probe: Probe, audience: Audience) -> Decision:
        key = (probe, audience.key)
        hit = self._decided.get(key)
        if hit is None:
            who = self._who.get(audience.key, Who())
            hit = decide_by_address(probe, self.catalog, lambda t: self._one(probe, who, t.address))
            if len(self._decided) < 200_000:
                self._decided[key] = hit
        return hit

    def inert_mentions(self, probe: Probe) -> list[Span]:
        """Address-book entries, filters and custom URL categories naming the service that no
        policy, interface or web-filtering profile in use reaches (the same for all its probes)."""
        svc = self.catalog.services.get(probe.service or "")
        if svc is None:
            return []
        hit = self._inert.get(svc.id)
        if hit is None:
            hit = self._inert[svc.id] = self._inert_for(svc.id)
        return hit

    def _inert_for(self, service: str) -> list[Span]:
        svc = self.catalog.services[service]
        ranges = [(n.version, int(n.network_address), int(n.broadcast_address)) for n in svc.networks]

        def overlaps(nets: Iterable[Net]) -> bool:
            return any(
                v == n.version and lo <= int(n.broadcast_address) and int(n.network_address) <= hi
                for n in nets
                for v, lo, hi in ranges
            )

        cfg = self.cfg
        used: set[str] = set()
        pols = [p for ps in cfg.policies.values() for p in ps] + cfg.global_policies
        for pol in pols:
            for zone, names in ((pol.from_zone or "global", pol.src), (pol.to_zone or "global", pol.dst)):
                for name in names:
                    used.update(e.name for e in self.policies.entries(zone, name, members=True))
        out: list[Span] = []
        for book in cfg.books.values():
            for entry in book.values():
                if entry.name in used or entry.is_set:
                    continue
                if overlaps(entry.nets) or self.policies.service_of(entry.dns) == svc.id:
                    out.append(entry.span)
        applied = {(f, n) for i in cfg.interfaces.values() for f, n, _s in (*i.inputs, *i.outputs)}
        for key, flt in cfg.filters.items():
            if key in applied:
                continue
            if any(overlaps(n for n, _e in t.dst) for t in flt.terms):
                out.append(flt.span)
        live = self._live_categories()
        for cat, (members, span) in cfg.utm.categories.items():
            if cat in live:
                continue
            for m in members:
                pat = cfg.utm.patterns.get(m)
                if pat and any(
                    self.policies.service_of(host_of(v).lstrip("*.")) == svc.id for v, _s in pat.values
                ):
                    out.append(span)
                    break
        return out

    def _live_categories(self) -> set[str]:
        utm = self.cfg.utm
        live = {c for c, _s in (*utm.whitelist, *utm.blacklist)}
        pols = [p for ps in self.cfg.policies.values() for p in ps] + self.cfg.global_policies
        for pol in pols:
            live.update(pol.url_categories)
            prof_name = utm.policies.get(pol.utm_policy, ("", None))[0] if pol.utm_policy else ""
            prof = utm.profile(prof_name) if prof_name else None
            if prof is not None:
                live.update(c for c, _a, _s in prof.categories)
        return live

    # ------------------------------------------------------------------ one connection

    def _one(self, probe: Probe, who: Who, dst: Address) -> Decision:
        dnat = self.cfg.dnat_from.get(who.zone)
        if dnat is not None:
            # Destination NAT runs before the policy lookup and may send the connection to a
            # proxy or elsewhere; its rules are not followed here.
            return Decision(
                Outcome.UNKNOWN, dnat, (dnat,), note=f"destination NAT from zone {who.zone} is not evaluated"
            )
        if self.floating:
            return self._floating(probe, who, dst)
        steps: list[Callable[[], Decision | None]] = [
            lambda: self.walk.walk(self._inputs(who.iface), who.src, dst, probe.port, EPHEMERAL, "input"),
            lambda: self._security(probe, who, dst) if self.zoned else None,
        ]
        egress = self.egress_ifaces or self._maybe_egress(who.iface)
        outs = [i for i in egress if self._outputs(i)]
        steps.append(
            lambda: self._each(
                outs,
                lambda i: self.walk.walk(self._outputs(i), who.src, dst, probe.port, EPHEMERAL, "output"),
            )
        )
        replies = [i for i in egress if self._inputs(i)]
        steps.append(
            lambda: self._each(
                replies,
                lambda i: self.walk.walk(self._inputs(i), dst, who.src, EPHEMERAL, probe.port, "reply"),
            )
        )
        last: Decision = Decision(Outcome.ALLOW)
        for step in steps:
            d = step()
            if d is None:
                continue
            if d.outcome != Outcome.ALLOW:
                return d
            last = d if d.rule is not None else last
        return last

    def _floating(self, probe: Probe, who: Who, dst: Address) -> Decision:
        """A fragment of filters with no interfaces: each could be applied where the file does
        not show; one that would stop the connection makes it unknown, not blocked."""
        for (family, name), flt in self.cfg.filters.items():
            d = self.walk.walk([(family, name, flt.span)], who.src, dst, probe.port, EPHEMERAL, "input")
            if d is not None and d.outcome != Outcome.ALLOW:
                return replace(
                    d,
                    outcome=Outcome.UNKNOWN,
                    partial=False,
                    note=f"filter {name} would {d.how or 'stop'} it where applied, and this file shows no interface",
                )
        return Decision(Outcome.ALLOW)

    def _maybe_egress(self, client: str) -> list[str]:
        """Where the internet is not told (no default route, no DHCP interface): every other
        interface with a filter may be the way out; `_each` makes a verdict they disagree on unknown."""
        if self.zoned:
            return []
        return [
            i.name
            for i in self.cfg.interfaces.values()
            if (i.inputs or i.outputs) and i.name != client and transit(i.name)
        ]

    @staticmethod
    def _each(items: list[str], one: Callable[[str], Decision | None]) -> Decision | None:
        if not items:
            return None
        ds = [d for i in items if (d := one(i)) is not None]
        if not ds:
            return None
        if all(same(d, ds[0]) for d in ds):
            return ds[0]
        return replace(
            next(d for d in ds if d.outcome != Outcome.ALLOW),
            outcome=Outcome.UNKNOWN,
            note="which egress interface the connection leaves by decides it",
        )

    def _inputs(self, iface: str) -> list[tuple[str, str, Span]]:
        i = self.cfg.interfaces.get(iface)
        return i.inputs if i else []

    def _outputs(self, iface: str) -> list[tuple[str, str, Span]]:
        i = self.cfg.interfaces.get(iface)
        return i.outputs if i else []

    # ------------------------------------------------------------------ firewall filters

    # ------------------------------------------------------------------ security policies

    def _security(self, probe: Probe, who: Who, dst: Address) -> Decision:
        if not self.egress_zones:
            return Decision(
                Outcome.UNKNOWN, None, (), False, note="which zone faces the internet is not in this file"
            )
        ds = [self.policies.zone_pair(probe, who, zone, dst) for zone in self.egress_zones]
        if all(same(d, ds[0]) for d in ds):
            return ds[0]
        return replace(
            ds[0],
            outcome=Outcome.UNKNOWN,
            note="which of the zones "
            + ", ".join(self.egress_zones)
            + " the connection leaves by decides it",
        )
