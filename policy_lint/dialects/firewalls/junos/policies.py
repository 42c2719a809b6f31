"""Junos security policies for one connection: the policies from the client's zone to the
internet's (in order), then the global ones, then the default policy, each matched on source
and destination address (address books), application, dynamic application, URL category and
source identity; the first that matches decides (three-valued, `firstmatch`), a permitting one
through its UTM web filtering (`webfilter`).

    from-zone trust to-zone untrust { policy no-fb { match { source-address any;
        destination-address fb; application any; } then deny; } }

Policies are indexed by destination prefix (`index`): a sample address meets only those that
can hold it.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, replace

from policy_lint.catalog import Catalog
from policy_lint.dialects.firewalls.junos.firstmatch import Step, Tri, all3
from policy_lint.dialects.firewalls.junos.index import FirstHolding
from policy_lint.dialects.firewalls.junos.model import PREDEFINED_APPS, Address, AddressEntry, Config, Policy
from policy_lint.dialects.firewalls.junos.vendor import VendorNames
from policy_lint.dialects.firewalls.junos.webfilter import WebFilter
from policy_lint.model import Decision, Outcome, Probe, Problem, Span

OTHER_CLIENT = ipaddress.ip_address("192.168.77.77")
ANY_ADDRESS = {"any", "any-ipv4", "any-ipv6"}
# Words of a Juniper application name that carry any web site (protocols, the web groups, no
# signature), and words that name social networking as such.
CARRIERS = {"http", "https", "http2", "ssl", "tls", "quic", "web", "unknown", "spdy"}
SOCIAL_WORDS = {"social", "networking", "meta"}
# application-services that decide about a permitted connection in ways not evaluated here.
UNMODELLED_SERVICES = {"application-firewall", "application-traffic-control", "web-proxy", "icap-redirect"}


@dataclass(frozen=True)
class Who:
    """An audience's concrete values: its zone, interface, source address and identity."""

    zone: str = ""
    iface: str = ""
    src: Address = OTHER_CLIENT
    identity: str = ""


class PolicyWalk:
    def __init__(self, cfg: Config, catalog: Catalog, vendor: VendorNames, problems: list[Problem]) -> None:
        self.cfg = cfg
        self.catalog = catalog
        self.vendor = vendor
        self.web = WebFilter(cfg.utm, vendor)
        self.problems = problems
        self._fragment_noted = False
        every = [p for ps in cfg.policies.values() for p in ps] + cfg.global_policies
        self._reads_service = any(p.dyn_apps for p in every)
        self._reads_url = any(p.url_categories for p in every)
        self._prefixes: dict[int, list[tuple[int, int, int]] | None] = {}
        self._pairs: dict[tuple, tuple[list[tuple[Policy, Tri, tuple[Span, ...], str]], FirstHolding]] = {}
        self._resolved: dict[tuple[str, tuple[str, ...]], tuple[list[AddressEntry], bool]] = {}

    def service_of(self, host: str) -> str | None:
        owner = self.catalog.service_for_host(host) if host else None
        return owner[0] if owner else None

    def pair(
        self, probe: Probe, who: Who, to_zone: str
    ) -> tuple[list[tuple[Policy, Tri, tuple[Span, ...], str]], FirstHolding]:
        """The policies from `who`'s zone to `to_zone` (then the global ones) that can match the
        request on all but its destination, with their static match, and their index."""
        # What the static match reads of the request: its port always, its service only for
        # dynamic applications, its URL only for URL categories (few configurations use them).
        key = (
            who,
            to_zone,
            probe.port,
            probe.service if self._reads_service else None,
            probe.url if self._reads_url else None,
        )
        hit = self._pairs.get(key)
        if hit is not None:
            return hit
        cfg = self.cfg
        policies = list(cfg.policies.get((who.zone, to_zone), [])) + [
            p
            for p in cfg.global_policies
            if (not p.from_zones or who.zone in p.from_zones or "any" in p.from_zones)
            and (not p.to_zones or to_zone in p.to_zones or "any" in p.to_zones)
        ]
        kept: list[tuple[Policy, Tri, tuple[Span, ...], str]] = []
        index = FirstHolding()
        for pol in policies:
            m, trace, why = self.static_match(pol, probe, who)
            if m is False:
                continue
            position = len(kept)
            kept.append((pol, m, trace, why))
            if id(pol) not in self._prefixes:
                self._prefixes[id(pol)] = self.plain_prefixes(pol)
            prefixes = self._prefixes[id(pol)]
            if m is None or prefixes is None:
                index.keep(position)
            else:
                index.add(position, prefixes)
        self._pairs[key] = (kept, index)
        return kept, index

    def plain_prefixes(self, pol: Policy) -> list[tuple[int, int, int]] | None:
        """`pol`'s destination as prefixes (version, length, network), or None when it is more
        than that (any, excluded, ranges, wildcards, names, undefined)."""
        if pol.dst_excluded or any(n in ANY_ADDRESS for n in pol.dst):
            return None
        entries, unsure = self.resolve(pol.to_zone or "global", pol.dst)
        if unsure or any(e.ranges or e.wildcards or e.dns for e in entries):
            return None
        return [(n.version, n.prefixlen, int(n.network_address)) for e in entries for n in e.nets]

    def zone_pair(self, probe: Probe, who: Who, to_zone: str, dst: Address) -> Decision:
        cfg = self.cfg
        step = Step()
        kept, index = self.pair(probe, who, to_zone)
        for position in index.positions(dst):
            pol, static, trace, why = kept[position]
            m, trace, why = self.destination_match(pol, static, trace, why, probe, dst)
            if m is False:
                continue
            d = self.decision(pol, probe, trace)
            if m is None:
                step.passed.append(replace(d, note=f"{pol.where}: {why}"))
                continue
            return step.settle(d)
        word, span = cfg.default_policy
        if span is None and not cfg.whole:
            if not self._fragment_noted:
                # Said once, and only when a connection gets this far (problems are read after
                # the evaluation): a fragment whose policies decide everything needs no note.
                self._fragment_noted = True
                first = next((p.span for ps in cfg.policies.values() for p in ps), Span(self.cfg.path, 1))
                self.problems.append(
                    Problem(
                        "TE908",
                        first,
                        "a fragment (no version or system statements): connections no policy here matches "
                        "meet policies or a default policy this file does not show, so they are unknown",
                    )
                )
            return step.settle(
                Decision(
                    Outcome.UNKNOWN,
                    None,
                    (),
                    note=f"no policy from-zone {who.zone} to-zone {to_zone} here matches, and this fragment "
                    "(no version or system statements) does not show the rest of the policies or the default policy",
                )
            )
        if word == "permit-all":
            return step.settle(
                Decision(Outcome.ALLOW, span, (span,) if span else (), note="default-policy permit-all")
            )
        note = f"no policy from-zone {who.zone} to-zone {to_zone} matches: the default policy denies"
        return step.settle(Decision(Outcome.DENY, span, (span,) if span else (), False, "drop", note))

    def destination_match(
        self, pol: Policy, static: Tri, trace: tuple[Span, ...], why: str, probe: Probe, dst: Address
    ) -> tuple[Tri, tuple[Span, ...], str]:
        dst_m, dst_spans = self.addresses(pol.to_zone or "global", pol.dst, dst, probe)
        if dst_m is None:
            why = "; ".join(w for w in (why, "an address not evaluated") if w)
        matched = all3([static, None if dst_m is None else dst_m != pol.dst_excluded])
        return matched, (trace[0], *dst_spans, *trace[1:]), why

    def static_match(self, pol: Policy, probe: Probe, who: Who) -> tuple[Tri, tuple[Span, ...], str]:
        """Whether `pol` matches the request from `who` on everything but its destination address
        (the same for every sample address of the service)."""
        trace: list[Span] = [pol.span]
        why: list[str] = []
        checks: list[Tri] = []
        src_m, src_spans = self.addresses(pol.from_zone or "global", pol.src, who.src, probe)
        checks.append(None if src_m is None else src_m != pol.src_excluded)
        trace += src_spans
        if src_m is None:
            why.append("a source address not evaluated")
        checks.append(self.applications(pol.apps, probe.port))
        if checks[-1] is None:
            why.append(f"application {' '.join(pol.apps)} not evaluated")
        if pol.dyn_apps:
            checks.append(self.dynamic(pol.dyn_apps, probe))
            if checks[-1] is None:
                why.append(f"dynamic-application {' '.join(pol.dyn_apps)}: Juniper-defined, members unknown")
        if pol.url_categories:
            m, spans, w = self.url_category(pol, probe)
            checks.append(m)
            trace += spans
            if w:
                why.append(w)
        if pol.identities:
            checks.append(self.identity(pol.identities, who.identity))
        if pol.unknown or pol.scheduler:
            checks.append(None)
            why.append("criteria not evaluated")
        return all3(checks), tuple(dict.fromkeys(trace)), "; ".join(why)

    def entries(self, zone: str, name: str, members: bool = False, depth: int = 0) -> list[AddressEntry]:
        """The address-book entries `name` stands for in `zone`'s book (then the global one)."""
        entry = self.cfg.books.get(zone, {}).get(name) or self.cfg.books.get("global", {}).get(name)
        if entry is None or depth > 8:
            return []
        if not entry.is_set:
            return [entry]
        out = [entry] if members else []
        for m in entry.members:
            out += self.entries(zone, m, members, depth + 1)
        return out

    def resolve(self, zone: str, names: tuple[str, ...]) -> tuple[list[AddressEntry], bool]:
        """The entries `names` stand for in `zone` (sets expanded), and whether one is undefined."""
        resolved = self._resolved.get((zone, names))
        if resolved is None:
            found = [self.entries(zone, name) for name in names if name not in ANY_ADDRESS]
            # An undefined name (TE901 at the policy) could stand for anything.
            resolved = self._resolved[(zone, names)] = (
                [e for es in found for e in es],
                any(not es for es in found),
            )
        return resolved

    def addresses(
        self, zone: str, names: tuple[str, ...], addr: Address, probe: Probe
    ) -> tuple[Tri, list[Span]]:
        if any(n in ANY_ADDRESS for n in names):
            fam = {"any-ipv4": 4, "any-ipv6": 6}
            return any(fam.get(n, addr.version) == addr.version for n in names if n in ANY_ADDRESS), []
        entries, unsure = self.resolve(zone, names)
        for e in entries:
            if e.holds(addr):
                return True, [e.span]
            if e.dns:
                if e.dns == probe.host.lower():
                    return True, [e.span]
                if self.service_of(e.dns) == probe.service:
                    unsure = True  # another name of the service: it may resolve to this address
        return (None if unsure else False), []

    def applications(self, names: tuple[str, ...], port: int, depth: int = 0) -> Tri:
        results: list[Tri] = []
        for name in names:
            if name == "any":
                return True
            if name in PREDEFINED_APPS:
                proto, p = PREDEFINED_APPS[name]
                results.append(proto == "tcp" and p == port)
                continue
            spec = self.cfg.apps.get(name)
            if spec is None or spec.unknown or depth > 8:
                results.append(None)
            elif spec.members:
                results.append(self.applications(spec.members, port, depth + 1))
            else:
                results.append(
                    any(pr in ("tcp", "6") and (r is None or r[0] <= port <= r[1]) for pr, r in spec.terms)
                )
        if True in results:
            return True
        return None if None in results else False

    def dynamic(self, names: tuple[str, ...], probe: Probe) -> Tri:
        results: list[Tri] = []
        for name in names:
            if name.lower() in ("any", "none"):
                return True
            owner = self.vendor.app_service(name)
            if owner is not None:
                results.append(owner == probe.service)
            else:
                results.append(None if self.could_be(name, probe.service) else False)
        if True in results:
            return True
        return None if None in results else False

    def could_be(self, app: str, service: str | None) -> bool:
        """Could Juniper's application (or group) `app` identify traffic of `service` (None: the
        neutral control site)? Without the vendor table's word, only when its name says so: it
        names the service (junos:FACEBOOK-ACCESS), social networking or the web protocols that
        carry any site (junos:HTTP, junos:SSL, junos:web:...), or no signature at all
        (junos:UNKNOWN). An application named after another product (junos:BITTORRENT) is that
        product's traffic. A name without the `junos:` prefix is a custom signature: anything."""
        if not app.lower().startswith("junos:"):
            return True
        words = {w for w in re.split(r"[^a-z0-9]+", app.lower()[len("junos:") :]) if w}
        if words & CARRIERS:
            return True
        if service is None:
            return False
        return bool(words & (SOCIAL_WORDS | self.service_words(service)))

    def service_words(self, service: str) -> set[str]:
        svc = self.catalog.services.get(service)
        if svc is None:
            return set()
        names = (svc.id, svc.name, *svc.aliases, *svc.keywords)
        return {w for n in names for w in re.split(r"[^a-z0-9]+", n.lower()) if w}

    def identity(self, names: tuple[str, ...], identity: str) -> bool:
        if "any" in names or identity in names:
            return True
        if identity:
            return "authenticated-user" in names
        return "unauthenticated-user" in names or "unknown-user" in names

    def url_category(self, pol: Policy, probe: Probe) -> tuple[Tri, list[Span], str]:
        results: list[Tri] = []
        spans: list[Span] = []
        for cat in pol.url_categories:
            if cat.lower() in ("any", "none"):
                return True, [], ""
            if cat in self.cfg.utm.categories:
                m, span = self.web.custom_category(cat, probe)
                if m and span and (probe.scheme == "http" or pol.ssl_proxy):
                    spans.append(span)
                    return True, spans, ""
                # HTTPS without an SSL forward proxy: whether the URL (or only the server name)
                # is seen is not documented alike for every release, so a hit is not certain.
                results.append(None if m else m)
            elif self.vendor.is_social_category(cat):
                results.append(probe.service is not None)
            else:
                results.append(None)
        if None in results:
            return None, [], f"url-category {' '.join(pol.url_categories)}: members unknown"
        return False, [], ""

    # ------------------------------------------------------------------ UTM web filtering

    def decision(self, pol: Policy, probe: Probe, trace: tuple[Span, ...]) -> Decision:
        note = f"{pol.where} (line {pol.span.line})"
        if pol.action in ("deny", "reject"):
            how = "drop" if pol.action == "deny" else "reject"
            return Decision(Outcome.DENY, pol.span, trace, _names_what(pol), how, note, scope=_whom(pol))
        if not pol.action:
            return Decision(Outcome.UNKNOWN, pol.span, trace, note=f"{note}: no action")
        odd = [s for s in pol.services if s in UNMODELLED_SERVICES]
        if odd:
            return Decision(Outcome.UNKNOWN, pol.span, trace, note=f"{note}: {', '.join(odd)} decides")
        if pol.utm_policy:
            d = self.web.for_policy(pol, probe, trace, note)
            if d is not None:
                return d
        return Decision(Outcome.ALLOW, pol.span, trace, _names_what(pol), note=note, scope=_whom(pol))


def _names_what(pol: Policy) -> bool:
    """Does the policy match on what is requested (a destination, an application, a URL
    category), not only on who asks?"""
    return not any(n in ANY_ADDRESS for n in pol.dst) or any(
        a.lower() not in ("any", "none") for a in (*pol.dyn_apps, *pol.url_categories)
    )


def _whom(pol: Policy) -> str:
    """Whom the policy names, in its own words ("" when anyone in its zone)."""
    parts = []
    if not any(n in ANY_ADDRESS for n in pol.src):
        parts.append(("not " if pol.src_excluded else "") + "source-address " + " ".join(pol.src))
    if pol.identities and "any" not in pol.identities:
        parts.append("source-identity " + " ".join(pol.identities))
    return " ".join(parts)
