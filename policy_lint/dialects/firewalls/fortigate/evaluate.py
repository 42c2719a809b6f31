"""The FortiGate Ruleset: a probe's connection walked through its VDOM's firewall policies in
the device's order, then through the security profiles of the policy that accepts it (the
package docstring states the semantics)."""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase

from policy_lint.catalog import Catalog
from policy_lint.dialects.firewalls.fortigate.model import (
    BUILTIN_ADDRESSES,
    BUILTIN_ADDRESSES6,
    BUILTIN_SCHEDULES,
    BUILTIN_SERVICES,
    NAME,
    Address,
    Config,
    Policy,
    Ref,
    Schedule,
    Vdom,
)
from policy_lint.dialects.firewalls.fortigate.profiles import Profiles
from policy_lint.dialects.firewalls.reach import narrow_scope
from policy_lint.dialects.semantics.addressing import UNKNOWN_LOCATION, Target, decide_by_address
from policy_lint.model import Audience, Decision, Outcome, Probe, Problem, Span

Tri = bool | None  # three-valued: matches, does not, cannot tell

# Profiles a factory-new FortiGate has: referenced but not in the file, their settings are unknown.
FACTORY_PROFILES = {"default", "monitor-all", "wifi-default", "sniffer-profile", "block-high-risk"}
RESOLVER = UNKNOWN_LOCATION[0]  # the client's DNS resolver: somewhere on the internet
OTHER_SOURCE = ipaddress.ip_address("198.51.100.77")
MAX_AUDIENCES = 256
OTHER_INTERFACE = "(other)"  # an interface name FortiOS cannot have (no parentheses allowed)


@dataclass(frozen=True)
class Moment:
    label: str
    day: int
    minute: int
    onetime: str = ""


def _ip_in(address: Address, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> Tri:
    if address.kind == "ipmask":
        return any(n.version == ip.version and ip in n for n in address.networks)
    if address.kind == "iprange":
        return any(lo.version == ip.version and lo <= ip <= hi for lo, hi in address.ranges)  # type: ignore[operator]
    return None


class FortigateRuleset:
    def __init__(
        self,
        path: str,
        config: Config,
        problems: list[Problem],
        catalog: Catalog,
        statements: int = 0,
        understood: int = 0,
    ) -> None:
        self.path = path
        self.dialect = NAME
        self.problems = problems
        self.statements = statements
        self.understood = understood
        self.config = config
        self.catalog = catalog
        self.profiles = Profiles(catalog, problems)
        self._cache: dict[tuple, Decision] = {}
        self._undefined: set[tuple[str, str, str]] = set()
        for vdom in config.vdoms:
            self._check_references(vdom)
        self._audiences: list[Audience] = []
        self._vdom_of: dict[tuple, Vdom] = {}
        self._times: dict[str, list[Moment]] = {}
        self._v4_catalog: Catalog | None = None
        self._free: dict[str, bool] = {}
        self._candidate_cache: dict[tuple, list[tuple[Policy, Tri, Tri, Tri]]] = {}
        self._service_cache: dict[tuple, Tri] = {}
        self._act_cache: dict[tuple, Decision] = {}
        self._reach_cache: dict[tuple, bool] = {}
        self._unused_cache: dict[tuple, list[Span]] = {}
        self._sequence_cache: dict[tuple, tuple[tuple[tuple[Policy, str], ...], Policy | None]] = {}
        self._hostdep: dict[str, bool] = {}
        self._policy_at: dict[tuple[str, Span | None], Policy] = {
            (v.name, p.span): p for v in config.vdoms for p in v.policies
        }
        self._dns_cache: dict[tuple, Decision | None] = {}
        for vdom in config.vdoms:
            self._audiences.extend(self._vdom_audiences(vdom))

    # ------------------------------------------------------------------ references

    def _problem(self, code: str, span: Span, message: str) -> None:
        p = Problem(code, span, message)
        if p not in self.problems:
            self.problems.append(p)

    def _check_references(self, v: Vdom) -> None:
        def missing(kind: str, r: Ref) -> None:
            self._undefined.add((v.name, kind, r.name))
            if "${" in r.name:
                return  # computed when Terraform runs: TE908 where it was read
            self._problem("TE901", r.span, f"{kind} {r.name!r} is not defined in this configuration")

        for p in v.policies:
            for r in p.srcaddr + p.dstaddr:
                if not self._known_address(v, r.name, six=False):
                    missing("address", r)
            for r in p.srcaddr6 + p.dstaddr6:
                if not self._known_address(v, r.name, six=True):
                    missing("address6", r)
            for r in p.service:
                if r.name not in BUILTIN_SERVICES and r.name not in v.services:
                    missing("service", r)
            if p.schedule and p.schedule.name not in BUILTIN_SCHEDULES and p.schedule.name not in v.schedules:
                missing("schedule", p.schedule)
            for r in p.users:
                if r.name not in v.user_groups and r.name not in v.users:
                    missing("user or group", r)
            for span, what in p.unmodelled:
                self._problem("TE908", span, f"{p.label()} matches on {what}: not evaluated")
            if p.action == "ipsec" and p.enabled:
                self._problem(
                    "TE907", p.span, f"{p.label()} sends traffic into an IPsec tunnel: the far end decides"
                )
            if p.internet_services and p.enabled:
                names = ", ".join(r.name for r in p.internet_services[:3])
                self._problem(
                    "TE908",
                    p.internet_services[0].span,
                    f"{p.label()} matches internet services ({names}): which addresses FortiGuard's "
                    "Internet Service Database holds for them is not in the catalog",
                )
            if not (p.utm and p.action == "accept"):
                continue
            profiles: list[tuple[Ref | None, Mapping[str, object], str]] = [
                (p.webfilter, v.webfilters, "webfilter profile"),
                (p.applist, v.applists, "application list"),
                (p.dnsfilter, v.dnsprofiles, "dnsfilter profile"),
            ]
            for named, table, kind in profiles:
                if named is None or named.name in table:
                    continue
                r = named
                self._undefined.add((v.name, kind, r.name))
                if r.name in FACTORY_PROFILES:
                    self._problem(
                        "TE908",
                        r.span,
                        f"{kind} {r.name!r} is a factory profile not in this file: its settings are not known",
                    )
                else:
                    missing(kind, r)
            if p.ssl and v.ssl_mode(p.ssl.name) is None:
                missing("ssl-ssh-profile", p.ssl)
        used_web = {p.webfilter.name for p in v.policies if p.enabled and p.utm and p.webfilter}
        for _iface, r, _span in v.dns_servers:
            if r.name not in v.dnsprofiles:
                missing("dnsfilter profile", r)
        for w in v.webfilters.values():
            if w.content_filter and w.name in used_web:
                self._problem(
                    "TE208",
                    w.content_filter,
                    f"webfilter profile {w.name!r} scans pages for banned words: content filtering, "
                    "not a block of a service by name (the words are not evaluated)",
                )
            if w.urltable and w.urltable.name not in v.urltables:
                missing("webfilter urlfilter", w.urltable)
        for d in v.dnsprofiles.values():
            if d.domaintable and d.domaintable.name not in v.domaintables:
                missing("dnsfilter domain-filter", d.domaintable)
        for g in (*v.groups.values(), *v.groups6.values()):
            six = g.name in v.groups6
            for r in g.members + g.exclude:
                if not self._known_address(v, r.name, six):
                    missing("address", r)
        if not v.has_policy_table:
            self._problem(
                "TE908",
                v.span,
                f"no firewall policy list in this file{' for VDOM ' + v.name if self.config.multi_vdom else ''}: "
                "what the device lets through is decided by policies not here",
            )
        for span in v.proxy_policies[:1]:
            self._problem(
                "TE908", span, "explicit web proxy policies are not evaluated: its clients are unknown"
            )
        for span in v.shaping_policies[:1]:
            self._problem(
                "TE908",
                span,
                "traffic shaping policies are not evaluated: whether they throttle a service is not known",
            )
        for span in v.security_policies[:1]:
            self._problem(
                "TE908",
                span,
                "NGFW policy-based security policies are not evaluated: what they let through is unknown",
            )

    @staticmethod
    def _known_address(v: Vdom, name: str, six: bool) -> bool:
        if six:
            return name in BUILTIN_ADDRESSES6 or name in v.addresses6 or name in v.groups6
        return name in BUILTIN_ADDRESSES or name in v.addresses or name in v.groups

    # ------------------------------------------------------------------ audiences

    def _vdom_audiences(self, v: Vdom) -> list[Audience]:
        live = [p for p in v.policies if p.enabled]
        ins = list(dict.fromkeys(r.name for p in live for r in p.srcintf if r.name != "any")) or ["any"]
        if ins != ["any"] and any(r.name == "any" for p in live for r in p.srcintf):
            ins.append(OTHER_INTERFACE)  # clients behind an interface no policy names
        named_out = list(dict.fromkeys(r.name for p in live for r in p.dstintf if r.name != "any"))
        outs = list(dict.fromkeys(v.egress)) or named_out or ["any"]
        pairs = [(i, o) for i in ins for o in outs if i != o or i == "any"] or [(ins[0], outs[0])]
        sources = self._sources(v, live)
        users = [""] + list(dict.fromkeys(r.name for p in live for r in p.users))
        times = self._moments(v, live)
        self._times[v.name] = times
        dims: list[list[tuple[str, ...]]] = [
            [("intf", i, o) for i, o in pairs],
            [("src", name, ip) for name, ip in sources],
            [("user", u) for u in users],
            [("time", str(k)) for k in range(len(times))],
        ]
        combos = list(itertools.product(*dims))
        if len(combos) > MAX_AUDIENCES:
            self._problem(
                "TE906",
                v.span,
                f"{len(combos)} combinations of interfaces, sources, users and schedules in VDOM {v.name}: "
                "each condition is evaluated on its own",
            )
            first = tuple(d[0] for d in dims)
            seen = {first}
            combos = [first]
            for k, d in enumerate(dims):
                for value in d[1:]:
                    combo = tuple(value if j == k else first[j] for j in range(len(dims)))
                    if combo not in seen:
                        seen.add(combo)
                        combos.append(combo)
        out = []
        for intf, src, user, time in combos:
            moment = times[int(time[1])]
            conditions: list[str] = []
            if self.config.multi_vdom:
                conditions.append(f"vdom {v.name}")
            if intf[1] == OTHER_INTERFACE:
                conditions.append("srcintf none of those the policies name")
            elif intf[1] != "any":
                conditions.append(f"srcintf {intf[1]}")
            if intf[2] != "any" and len(outs) > 1:
                conditions.append(f"dstintf {intf[2]}")
            if src[1]:
                conditions.append(f"srcaddr {src[1]}" if src[1] != "*" else "in no srcaddr the policies name")
            if user[1]:
                conditions.append(f"user/group {user[1]}")
            elif len(users) > 1:
                conditions.append("no authenticated user")
            if moment.label:
                conditions.append(moment.label)
            key = (v.name, intf[1], intf[2], src[1], user[1], time[1])
            attrs = [("vdom", v.name), ("srcintf", intf[1]), ("dstintf", intf[2]), ("user", user[1])]
            if src[2]:
                attrs.append(("src", src[2]))
            a = Audience(key, tuple(conditions), tuple(attrs))
            self._vdom_of[key] = v
            out.append(a)
        if v.proxy_policies:
            proxy_key: tuple[str, ...] = (v.name, "explicit-proxy")
            a = Audience(
                proxy_key, (f"clients of the explicit web proxy (vdom {v.name})",), (("vdom", v.name),)
            )
            self._vdom_of[proxy_key] = v
            out.append(a)
        return out

    def _representative(self, v: Vdom, name: str, depth: int = 0) -> str:
        a = v.addresses.get(name)
        if a is not None:
            if a.networks:
                n = a.networks[0]
                return str(n.network_address + 1 if n.num_addresses > 2 else n.network_address)
            if a.ranges:
                return str(a.ranges[0][0])
            return ""
        g = v.groups.get(name)
        if g is not None and depth < 8:
            for m in g.members:
                ip = self._representative(v, m.name, depth + 1)
                if ip:
                    return ip
        return ""

    def _sources(self, v: Vdom, live: list[Policy]) -> list[tuple[str, str]]:
        names = list(dict.fromkeys(r.name for p in live for r in p.srcaddr if r.name != "all"))
        if not names:
            return [("", "")]
        out = [(n, self._representative(v, n)) for n in names]
        # A client in none of them, when some address is in none of them.
        if all(self._addr_match(v, n, OTHER_SOURCE, None, False) is False for n in names):
            out.append(("*", str(OTHER_SOURCE)))
        return out

    def _moments(self, v: Vdom, live: list[Policy]) -> list[Moment]:
        used = [
            v.schedules[r.name]
            for p in live
            if (r := p.schedule) and r.name in v.schedules and r.name not in BUILTIN_SCHEDULES
        ]
        used = list({s.name: s for s in used}.values())
        if not used:
            return [Moment("", 1, 600)]
        out: list[Moment] = []
        recurring = [s for s in used if s.kind == "recurring"]
        for s in used:
            if s.kind == "recurring" and s.days:
                day = min(s.days)
                out.append(Moment(f"during schedule {s.name}", day, s.start))
            elif s.kind == "onetime":
                out.append(Moment(f"during one-time schedule {s.name}", 1, 600, s.name))
        names = ", ".join(s.name for s in used)
        for day, minute in itertools.product(range(7), range(0, 1440, 30)):
            if not any(_in_schedule(s, day, minute) for s in recurring):
                out.append(Moment(f"outside schedules {names}", day, minute))
                break
        return out or [Moment("", 1, 600)]

    def audiences(self) -> Sequence[Audience]:
        return self._audiences

    # ------------------------------------------------------------------ matching

    def _addr_match(
        self,
        v: Vdom,
        name: str,
        ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None,
        probe: Probe | None,
        six: bool,
        depth: int = 0,
    ) -> Tri:
        builtins = BUILTIN_ADDRESSES6 if six else BUILTIN_ADDRESSES
        table = v.addresses6 if six else v.addresses
        groups = v.groups6 if six else v.groups
        if name in table:
            a = table[name]
            if a.kind in ("fqdn", "wildcard-fqdn"):
                return self._fqdn_match(a, probe)
            return _ip_in(a, ip) if ip is not None else None
        if name in groups and depth < 16:
            g = groups[name]
            hit = _any(self._addr_match(v, m.name, ip, probe, six, depth + 1) for m in g.members)
            if not g.exclude or hit is False:
                return hit
            out = _any(self._addr_match(v, m.name, ip, probe, six, depth + 1) for m in g.exclude)
            return _and(hit, _not(out))
        if name in builtins:
            return name != "none"
        return None  # undefined (TE901 at the reference)

    def _fqdn_match(self, a: Address, probe: Probe | None) -> Tri:
        """The FortiGate resolves an FQDN address (and learns wildcard-FQDN addresses from the DNS
        answers it sees): the probe's own name matches; another name of the same service may share
        its addresses (unknown); another service's or the control's name does not."""
        if probe is None:
            return None
        host = probe.host.lower()
        if (a.kind == "fqdn" and host == a.fqdn) or (a.kind == "wildcard-fqdn" and fnmatchcase(host, a.fqdn)):
            return True
        owner = self.catalog.service_for_host(a.fqdn.lstrip("*."))
        if probe.service is not None and owner is not None and owner[0] == probe.service:
            return None
        return False

    def _service_match(self, v: Vdom, names: list[Ref], proto: str, port: int) -> Tri:
        def one(name: str, depth: int) -> Tri:
            if name in BUILTIN_SERVICES and name not in v.services:
                ports: tuple[tuple[str, int, int], ...] = BUILTIN_SERVICES[name]
            elif name in v.services:
                s = v.services[name]
                if s.members and depth < 16:
                    return _any(one(m.name, depth + 1) for m in s.members)
                ports = s.ports
                if not ports:
                    return None
            else:
                return None
            return any(p in ("any", proto) and lo <= port <= hi for p, lo, hi in ports)

        return _any(one(r.name, 0) for r in names)

    def _source_match(self, v: Vdom, p: Policy, a: Audience) -> tuple[Tri, Tri, Tri]:
        """What of `p` depends on the client alone: (all client conditions but the source,
        the IPv4 source, the IPv6 source)."""
        iface_in, iface_out = a.attribute("srcintf") or "any", a.attribute("dstintf") or "any"
        if not self._intf(v, p.srcintf, iface_in) or not self._intf(v, p.dstintf, iface_out):
            return False, False, False
        users = [r.name for r in p.users]
        if users and (a.attribute("user") or "") not in users:
            return False, False, False
        sched = self._schedule_match(v, p, a)
        if sched is False:
            return False, False, False
        src_name = a.key[3] if len(a.key) > 3 else ""
        src_ip_text = a.attribute("src")
        src_ip = ipaddress.ip_address(src_ip_text) if src_ip_text else None
        src4: Tri = False
        if p.srcaddr:
            src4 = _any(
                True if r.name in (src_name, "all") else self._addr_match(v, r.name, src_ip, None, False)
                for r in p.srcaddr
            )
        # The client's IPv6 address is not what the audience samples: only `all` is certain.
        src6: Tri = _any(r.name == "all" or None for r in p.srcaddr6) if p.srcaddr6 else False
        if p.src_negate:
            src4, src6 = (_not(src4) if p.srcaddr else False), (_not(src6) if p.srcaddr6 else False)
        return sched, src4, src6

    def _candidates(self, v: Vdom, order: list[Policy], a: Audience) -> list[tuple[Policy, Tri, Tri, Tri]]:
        """The enabled policies of `order` whose client conditions may hold for `a`, in order."""
        key = (id(order), a.key)
        found = self._candidate_cache.get(key)
        if found is None:
            found = []
            for p in order:
                if not p.enabled:
                    continue
                sched, src4, src6 = self._source_match(v, p, a)
                if sched is not False and (src4 is not False or src6 is not False):
                    found.append((p, sched, src4, src6))
            self._candidate_cache[key] = found
        return found

    def _dst_match(
        self,
        v: Vdom,
        p: Policy,
        src: Tri,
        sched: Tri,
        target: Target | None,
        probe: Probe | None,
        proto: str,
        port: int,
    ) -> tuple[Tri, str]:
        why = p.unmodelled[0][1] if p.unmodelled else ""
        six = target is not None and target.version == 6
        if p.internet_services:
            dst: Tri = False if (probe is None or probe.service is None) else None
            if dst is None:
                why = why or f"internet service {p.internet_services[0].name}"
        else:
            dsts = p.dstaddr6 if six else p.dstaddr
            if not dsts:
                return False, ""
            ip = target.address if target is not None else None
            dst = _any(self._addr_match(v, r.name, ip, probe, six) for r in dsts)
            if p.dst_negate:
                dst = _not(dst)
        if dst is False:
            return False, ""
        skey = (id(p), proto, port)
        if skey not in self._service_cache:
            svc = (
                self._service_match(v, p.service, proto, port)
                if p.service
                else (True if p.internet_services else None)
            )
            self._service_cache[skey] = _not(svc) if p.service_negate else svc
        svc = self._service_cache[skey]
        if svc is False:
            return False, ""
        result = _and(_and(_and(src, dst), svc), sched)
        if p.unmodelled:
            result = None if result is not False else False
        if result is None and not why:
            why = "an object it names is not defined or not modelled"
        return result, why

    @staticmethod
    def _intf(v: Vdom, refs: list[Ref], name: str) -> bool:
        for r in refs:
            if r.name == "any" or r.name == name or name == "any":
                return True
            if name in v.zones.get(r.name, ()) or r.name in v.zones.get(name, ()):
                return True
        return False

    def _schedule_match(self, v: Vdom, p: Policy, a: Audience) -> Tri:
        if p.schedule is None or (
            p.schedule.name in BUILTIN_SCHEDULES and p.schedule.name not in v.schedules
        ):
            return True
        s = v.schedules.get(p.schedule.name)
        if s is None or s.kind == "group":
            return None
        moments = self._times.get(v.name) or [Moment("", 1, 600)]
        index = int(a.key[5]) if len(a.key) > 5 else 0
        m = moments[index] if index < len(moments) else moments[0]
        if s.kind == "onetime":
            return m.onetime == s.name
        return _in_schedule(s, m.day, m.minute)

    # ------------------------------------------------------------------ the walk

    def _walk(
        self, v: Vdom, a: Audience, target: Target | None, probe: Probe, proto: str, port: int
    ) -> tuple[Decision, Policy | None]:
        """First match over the policies; a policy whose match is unknown makes the result unknown
        unless it would decide as the rest of the walk does."""
        orders = [v.policies, *v.other_orders]
        results = [self._walk_order(order, v, a, target, probe, proto, port) for order in orders]
        first = results[0]
        for other in results[1:]:
            if (other[0].outcome, other[0].partial) != (first[0].outcome, first[0].partial):
                return (
                    Decision(
                        Outcome.UNKNOWN,
                        first[0].rule,
                        first[0].trace,
                        note="Terraform creates these policies in no fixed order, and the order decides",
                    ),
                    None,
                )
        return first

    def _sequence(
        self,
        order: list[Policy],
        v: Vdom,
        a: Audience,
        target: Target | None,
        probe: Probe,
        proto: str,
        port: int,
    ) -> tuple[tuple[tuple[Policy, str], ...], Policy | None]:
        """The policies the connection may meet before the one that surely takes it (None: the
        implicit deny). Which match depends on the address, and on the name only where a policy
        names FQDNs or internet services: requests for other names of a service share the walk."""
        if self._host_dependent(v):
            what: tuple = (probe.host, probe.service)
        else:
            what = (probe.service is None,)
        key = (id(order), a.key, target.address if target else None, proto, port, what)
        hit = self._sequence_cache.get(key)
        if hit is not None:
            return hit
        unsure: list[tuple[Policy, str]] = []
        decider: Policy | None = None
        six = target is not None and target.version == 6
        for p, sched, src4, src6 in self._candidates(v, order, a):
            src = src6 if six else src4
            if src is False:
                continue
            m, why = self._dst_match(v, p, src, sched, target, probe, proto, port)
            if m is False:
                continue
            if m is True:
                decider = p
                break
            unsure.append((p, why))
        hit = (tuple(unsure), decider)
        if len(self._sequence_cache) < 500_000:
            self._sequence_cache[key] = hit
        return hit

    def _host_dependent(self, v: Vdom) -> bool:
        """Does any policy's destination depend on the requested name (FQDN addresses)?"""
        if v.name not in self._hostdep:

            def named(name: str, six: bool, depth: int = 0) -> bool:
                table, groups = (v.addresses6, v.groups6) if six else (v.addresses, v.groups)
                if name in table:
                    return table[name].kind in ("fqdn", "wildcard-fqdn")
                if name in groups and depth < 16:
                    g = groups[name]
                    return any(named(m.name, six, depth + 1) for m in (*g.members, *g.exclude))
                return False

            self._hostdep[v.name] = any(named(r.name, False) for p in v.policies for r in p.dstaddr) or any(
                named(r.name, True) for p in v.policies for r in p.dstaddr6
            )
        return self._hostdep[v.name]

    def _walk_order(
        self,
        order: list[Policy],
        v: Vdom,
        a: Audience,
        target: Target | None,
        probe: Probe,
        proto: str,
        port: int,
    ) -> tuple[Decision, Policy | None]:
        sequence, decider = self._sequence(order, v, a, target, probe, proto, port)
        unsure = [
            (p, self._act(v, p, probe, a, target) if port != 53 else self._act_plain(p), why)
            for p, why in sequence
        ]
        final: Decision | None = None
        if decider is not None:
            final = self._act(v, decider, probe, a, target) if port != 53 else self._act_plain(decider)
        if final is None:
            final = Decision(Outcome.DENY, None, note="the implicit deny (policy 0) at the end of the list")
        if not unsure:
            return final, decider
        if all((d.outcome, d.partial) == (final.outcome, final.partial) for _p, d, _w in unsure):
            return final, decider
        p, _d, why = unsure[0]
        return (
            Decision(
                Outcome.UNKNOWN,
                p.span,
                (p.span,),
                note=f"whether {p.label()} applies is unknown ({why})",
            ),
            None,
        )

    def _scope(self, v: Vdom, p: Policy) -> str:
        parts = []
        if self.config.multi_vdom:
            parts.append(f"vdom {v.name}")
        names = [r.name for r in p.srcintf if r.name != "any"]
        if names:
            parts.append("srcintf " + " ".join(names))
        srcs = [r.name for r in p.srcaddr if r.name != "all"]
        if srcs:
            parts.append(("not " if p.src_negate else "") + "srcaddr " + " ".join(srcs))
        if p.users:
            parts.append("users " + " ".join(r.name for r in p.users))
        if p.schedule and p.schedule.name != "always":
            parts.append(f"schedule {p.schedule.name}")
        return ", ".join(parts)

    def _specific(self, p: Policy) -> bool:
        return bool(p.internet_services) or any(r.name != "all" for r in p.dstaddr + p.dstaddr6)

    def _act_plain(self, p: Policy) -> Decision:
        return Decision(Outcome.ALLOW if p.action == "accept" else Outcome.DENY, p.span, (p.span,))

    def _act(self, v: Vdom, p: Policy, probe: Probe, a: Audience, target: Target | None) -> Decision:
        """What accepting or denying policy `p` does with the request (it depends on the policy
        and the request alone, so it is computed once per pair)."""
        key = (id(p), probe)
        hit = self._act_cache.get(key)
        if hit is None:
            hit = self._act_once(v, p, probe)
            self._act_cache[key] = hit
        return hit

    def _act_once(self, v: Vdom, p: Policy, probe: Probe) -> Decision:
        scope = self._scope(v, p)
        if p.action == "ipsec":
            return Decision(
                Outcome.UNKNOWN, p.span, (p.span,), note="an IPsec tunnel takes it: the far end decides"
            )
        if p.action != "accept":
            return Decision(
                Outcome.DENY, p.span, (p.span,), specific=self._specific(p), how="deny", scope=scope
            )
        allow = Decision(Outcome.ALLOW, p.span, (p.span,), specific=self._specific(p), scope=scope)
        if v.security_policies:
            return Decision(
                Outcome.UNKNOWN,
                v.security_policies[0],
                (p.span, v.security_policies[0]),
                note="NGFW security policies decide after this policy: not evaluated",
            )
        if not p.utm:
            return allow
        found = []
        if p.webfilter:
            found.append(self.profiles.webfilter(v, p, probe))
        if p.applist:
            found.append(self.profiles.applist(v, p, probe))
        verdicts = [d for d in found if d is not None]
        for d in verdicts:
            if d.outcome == Outcome.DENY and not d.partial:
                return replace(d, trace=(p.span, *d.trace), scope=scope)
        for d in verdicts:
            if d.outcome == Outcome.DENY:
                return replace(d, trace=(p.span, *d.trace), scope=scope)
        for d in verdicts:
            if d.outcome == Outcome.UNKNOWN:
                return replace(d, trace=(p.span, *d.trace), scope=scope)
        for d in verdicts:
            if d.specific:
                return replace(d, trace=(p.span, *d.trace), scope=scope)
        return allow

    def _dns(self, v: Vdom, a: Audience, probe: Probe) -> Decision | None:
        """The client's DNS query for the probe's name: to the FortiGate itself where it serves
        DNS on the client's interface with a DNS filter, else on its way to an internet resolver."""
        iface = a.attribute("srcintf") or "any"
        for name, ref, span in v.dns_servers:
            if iface in ("any", OTHER_INTERFACE) or not self._intf(v, [Ref(name, span)], iface):
                continue
            prof = v.dnsprofiles.get(ref.name)
            if prof is None:
                return Decision(Outcome.UNKNOWN, ref.span, (span, ref.span), note="DNS filter not defined")
            server = Policy("-", span, title=f"system dns-server {name!r}")
            hit = self.profiles.dns_profile(v, prof, server, probe)
            if hit is not None:
                note = f"for clients using the FortiGate as their DNS server on {name}"
                return replace(hit, note=f"{hit.note}; {note}" if hit.note else note)
            return None
        fake = Probe(None, "dns-resolver", "control", "dns", 53)
        d, policy = self._walk(v, a, Target(RESOLVER), fake, "udp", 53)
        if policy is None or d.outcome != Outcome.ALLOW or not policy.utm or policy.dnsfilter is None:
            if d.outcome == Outcome.UNKNOWN:
                # Whether the query meets a DNS filter is unknown: matters only if one would block.
                for q in v.policies:
                    if q.enabled and q.utm and q.dnsfilter and q.dnsfilter.name in v.dnsprofiles:
                        hit = self.profiles.dns_profile(v, v.dnsprofiles[q.dnsfilter.name], q, probe)
                        if hit is not None and hit.outcome == Outcome.DENY:
                            return replace(
                                hit,
                                outcome=Outcome.UNKNOWN,
                                note="whether the DNS query meets this filter is unknown",
                            )
            return None
        prof = v.dnsprofiles.get(policy.dnsfilter.name)
        if prof is None:
            return Decision(Outcome.UNKNOWN, policy.dnsfilter.span, (policy.span, policy.dnsfilter.span))
        return self.profiles.dns_profile(v, prof, policy, probe)

    # ------------------------------------------------------------------ Ruleset

    def evaluate(self, probe: Probe, audience: Audience) -> Decision:
        key = (probe, audience.key)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._evaluate(probe, audience)
            v = self._vdom_of.get(audience.key)
            if v is not None and hit.rule is not None and hit.scope:
                hit = narrow_scope(
                    hit,
                    audience,
                    [a for a in self._audiences if self._vdom_of.get(a.key) is v],
                    lambda a: self._evaluate(probe, a),
                    lambda a: self._reaches(v, hit.trace[0] if hit.trace else hit.rule, a),
                )
            self._cache[key] = hit
        return hit

    def _reaches(self, v: Vdom, span: Span | None, a: Audience) -> bool:
        """Do the client conditions of the policy at `span` (interfaces, source, users,
        schedule) hold for audience `a`?"""
        key = (span, a.key)
        if key not in self._reach_cache:
            self._reach_cache[key] = self._reaches_once(v, span, a)
        return self._reach_cache[key]

    def _reaches_once(self, v: Vdom, span: Span | None, a: Audience) -> bool:
        p = self._policy_at.get((v.name, span))
        if p is None or self._vdom_of.get(a.key) is not v or len(a.key) < 6:
            return False
        if not self._intf(v, p.srcintf, a.key[1]) or not self._intf(v, p.dstintf, a.key[2]):
            return False
        if p.users and (a.attribute("user") or "") not in [r.name for r in p.users]:
            return False
        if self._schedule_match(v, p, a) is False:
            return False
        src_ip_text = a.attribute("src")
        src_ip = ipaddress.ip_address(src_ip_text) if src_ip_text else None
        hit = _any(
            True if r.name in (a.key[3], "all") else self._addr_match(v, r.name, src_ip, None, False)
            for r in p.srcaddr
        )
        return (_not(hit) if p.src_negate else hit) is not False

    def _evaluate(self, probe: Probe, audience: Audience) -> Decision:
        v = self._vdom_of.get(audience.key)
        if v is None:
            return Decision(Outcome.UNKNOWN, note="no VDOM")
        if not v.has_policy_table:
            return Decision(Outcome.UNKNOWN, v.span, note="the firewall policies are not in this file")
        if audience.key[1:] == ("explicit-proxy",):
            return Decision(
                Outcome.UNKNOWN,
                v.proxy_policies[0],
                (v.proxy_policies[0],),
                note="explicit web proxy policies are not evaluated",
            )
        ck = ("conn", probe, audience.key)
        conn = self._cache.get(ck)
        if conn is None:
            free = self._address_free(v)
            memo: dict[int, Decision] = {}

            def one(target: Target) -> Decision:
                # No policy here tests a destination address (only `all`, FQDNs, names): every
                # address of one family walks the same way.
                if free and target.version in memo:
                    return memo[target.version]
                d = self._walk(v, audience, target, probe, "tcp", probe.port)[0]
                if free:
                    memo[target.version] = d
                return d

            conn = decide_by_address(probe, self._catalog_for(v), one)
            self._cache[ck] = conn
        dk = ("dns", probe.host, audience.key)
        if dk not in self._dns_cache:
            self._dns_cache[dk] = self._dns(v, audience, probe)
        dns = self._dns_cache[dk]
        if dns is None or (conn.outcome == Outcome.DENY and not conn.partial):
            return conn
        if dns.outcome == Outcome.DENY:
            return dns
        if dns.outcome == Outcome.UNKNOWN and conn.outcome != Outcome.DENY:
            return dns
        return conn

    def _address_free(self, v: Vdom) -> bool:
        if v.name not in self._free:

            def free(name: str, six: bool, depth: int = 0) -> bool:
                table, groups = (v.addresses6, v.groups6) if six else (v.addresses, v.groups)
                if name in table:
                    return table[name].kind in ("fqdn", "wildcard-fqdn") or (
                        table[name].kind == "ipmask" and all(n.prefixlen == 0 for n in table[name].networks)
                    )
                if name in groups and depth < 16:
                    g = groups[name]
                    return all(free(m.name, six, depth + 1) for m in (*g.members, *g.exclude))
                return name in ("all", "none") or name not in groups

            self._free[v.name] = all(free(r.name, False) for p in v.policies for r in p.dstaddr) and all(
                free(r.name, True) for p in v.policies for r in p.dstaddr6
            )
        return self._free[v.name]

    def _catalog_for(self, v: Vdom) -> Catalog:
        """A VDOM with no IPv6 policy drops every IPv6 connection, neutral or not: its clients
        reach the services over IPv4, so only the IPv4 prefixes are evaluated there."""
        if any(p.enabled and (p.srcaddr6 or p.dstaddr6) for p in v.policies):
            return self.catalog
        if self._v4_catalog is None:
            services = {}
            for sid, svc in self.catalog.services.items():
                asns = tuple(
                    replace(a, networks=tuple(n for n in a.networks if n.version == 4)) for a in svc.asns
                )
                addresses = tuple(x for x in svc.addresses if ":" not in x)
                services[sid] = replace(svc, asns=asns, addresses=addresses)
            self._v4_catalog = replace(self.catalog, services=services)
        return self._v4_catalog

    def inert_mentions(self, probe: Probe) -> list[Span]:
        out: list[Span] = []
        for v in self.config.vdoms:
            if not v.has_policy_table:
                continue  # the policies that may use these objects are elsewhere
            live = [p for p in v.policies if p.enabled and p.action == "accept" and p.utm]
            used_web = {p.webfilter.name for p in live if p.webfilter}
            used_dns = {p.dnsfilter.name for p in live if p.dnsfilter} | {
                r.name for _i, r, _s in v.dns_servers
            }
            used_tables = {w.urltable.name for n, w in v.webfilters.items() if n in used_web and w.urltable}
            used_domains = {
                d.domaintable.name for n, d in v.dnsprofiles.items() if n in used_dns and d.domaintable
            }
            for name, prof in v.webfilters.items():
                if name in used_web:
                    continue
                d = self.profiles.webfilter_decision(
                    v, prof, probe, "url", "proxy", f"webfilter-profile {name!r}"
                )
                if d is not None and d.outcome == Outcome.DENY and d.rule is not None:
                    out.append(prof.span)
            for tid, table in v.urltables.items():
                if tid in used_tables:
                    continue
                for e in table.entries:
                    if (
                        e.enabled
                        and e.action == "block"
                        and self.profiles.url_match(e, probe, "url", True, True)
                    ):
                        out.append(e.span)
            for name, dprof in v.dnsprofiles.items():
                if name in used_dns:
                    continue
                fake = Policy("-", dprof.span)
                dd = self.profiles.dns_profile(v, dprof, fake, probe)
                if dd is not None and dd.outcome == Outcome.DENY:
                    out.append(dprof.span)
            for tid, entries in v.domaintables.items():
                if tid in used_domains:
                    continue
                host = probe.host.lower()
                for de in entries:
                    dom = de.domain.lower()
                    if de.enabled and de.action == "block" and (host == dom or host.endswith("." + dom)):
                        out.append(de.span)
            used_addr = self._used_addresses(v)
            for name, a in v.addresses.items():
                if (
                    name not in used_addr
                    and a.kind in ("fqdn", "wildcard-fqdn")
                    and self._fqdn_match(a, probe)
                ):
                    out.append(a.span)
            out.extend(self._unused_networks(v, probe.service, used_addr))
        return out

    def _unused_networks(self, v: Vdom, service: str | None, used: set[str]) -> list[Span]:
        """Subnet and range addresses no policy uses that lie inside one of the service's
        catalog prefixes (a list of Facebook's networks nobody applies)."""
        key = (v.name, service)
        if key not in self._unused_cache:
            svc = self.catalog.services.get(service or "")
            found: list[Span] = []
            nets = svc.networks if svc else ()
            for name, a in (*v.addresses.items(), *v.addresses6.items()):
                if name in used or not nets:
                    continue
                # Wide networks (a /7, `all`) name no service: only those of /8 (IPv4, /16 IPv6)
                # or narrower that overlap one of its prefixes do.
                mine = [n for n in a.networks if n.prefixlen >= (8 if n.version == 4 else 16)] + [
                    ipaddress.ip_network(lo) for lo, _hi in a.ranges
                ]
                if any(m.version == n.version and m.overlaps(n) for m in mine for n in nets):
                    found.append(a.span)
            self._unused_cache[key] = found
        return self._unused_cache[key]

    def _used_addresses(self, v: Vdom) -> set[str]:
        names = {r.name for p in v.policies for r in (*p.srcaddr, *p.dstaddr, *p.srcaddr6, *p.dstaddr6)}
        todo = list(names)
        while todo:
            g = v.groups.get(todo.pop()) or None
            if g is None:
                continue
            for m in (*g.members, *g.exclude):
                if m.name not in names:
                    names.add(m.name)
                    todo.append(m.name)
        return names


def _in_schedule(s: Schedule, day: int, minute: int) -> bool:
    if s.start == s.end:
        return day in s.days
    if s.start < s.end:
        return day in s.days and s.start <= minute < s.end
    return (day in s.days and minute >= s.start) or ((day - 1) % 7 in s.days and minute < s.end)


def _any(values: Iterable[Tri]) -> Tri:
    unsure = False
    for x in values:
        if x is True:
            return True
        if x is None:
            unsure = True
    return None if unsure else False


def _and(a: Tri, b: Tri) -> Tri:
    if a is False or b is False:
        return False
    if a is None or b is None:
        return None
    return True


def _not(a: Tri) -> Tri:
    return None if a is None else not a
