"""Applying a policy zone: what a trigger's action does to a query for a name (a block, an
exception, a rewrite judged by where it points), what rpz-ip / rpz-nsip / rpz-nsdname triggers
may catch, and the ruleset BIND evaluates per client (rpz-client-ip triggers as audiences)."""

from __future__ import annotations

import ipaddress

from dns.rdtypes.ANY.CNAME import CNAME
from dns.rdtypes.IN.A import A

from policy_lint.catalog import Catalog
from policy_lint.dialects.dns.hosts import address_decision
from policy_lint.dialects.dns.rpz.model import (
    BLOCKING,
    DISABLED,
    DROP,
    INVALID,
    NODATA,
    NXDOMAIN,
    PASSTHRU,
    TCP_ONLY,
    Action,
    RpzZone,
    Trigger,
    target_text,
)
from policy_lint.dialects.dns.rpz.parse import NAME
from policy_lint.model import EVERYONE, Audience, Decision, Outcome, Probe, Span

# --------------------------------------------------------------------------- decisions


def trigger_decision(
    zone: RpzZone, trigger: Trigger, host: str, catalog: Catalog, trace: tuple[Span, ...] = ()
) -> Decision:
    """What applying `trigger` to an A query for `host` does to a user of its service."""
    act = zone.action(trigger)
    kind = act.kind
    via = f"RPZ {zone.origin or zone.path}"
    note_extra = act.note
    if zone.override and zone.override not in ("CNAME",) and kind != INVALID:
        note_extra = f"every trigger's action is overridden to {zone.override}"
        kind = zone.override
    elif zone.override == "CNAME" and kind != INVALID:
        note_extra = f"every trigger's action is overridden to CNAME {zone.override_cname}"
        return _name_decision(zone.override_cname, host, catalog, act.span, trace + (act.span,), via)
    spans = trace + ((zone.override_span,) if zone.override_span and zone.override else ()) + (act.span,)
    if kind == DISABLED:
        return Decision(
            Outcome.ALLOW,
            act.span,
            spans,
            False,
            f"{via}: policy disabled",
            "the policy zone's actions are disabled (logged only)",
        )
    if kind == NXDOMAIN:
        return Decision(Outcome.DENY, act.span, spans, True, "NXDOMAIN", note_extra)
    if kind == NODATA:
        return Decision(Outcome.DENY, act.span, spans, True, "NODATA", note_extra)
    if kind == DROP:
        return Decision(Outcome.DENY, act.span, spans, True, "dropped (no answer)", note_extra)
    if kind == PASSTHRU:
        return Decision(
            Outcome.ALLOW,
            act.span,
            spans,
            True,
            "passthru",
            note_extra or "an RPZ passthru: answered normally",
        )
    if kind == TCP_ONLY:
        return Decision(
            Outcome.ALLOW,
            act.span,
            spans,
            False,
            "tcp-only",
            "answered over TCP only (clients retry over TCP): not a block",
        )
    if kind == INVALID:
        return Decision(Outcome.ALLOW, act.span, spans, False, "", act.note or "no usable policy")
    return _data_decision(act, host, catalog, spans, zone)


def _data_decision(
    act: Action, host: str, catalog: Catalog, spans: tuple[Span, ...], zone: RpzZone
) -> Decision:
    a = [r for r in act.data if r.rdtype == "A"]
    cname = [r for r in act.data if r.rdtype == "CNAME"]
    if a:
        assert isinstance(a[0].rdata, A)  # dnspython's type for every A record it parses
        return rewrite_address(str(a[0].rdata.address), host, catalog, a[0].span, spans)
    if cname:
        assert isinstance(cname[0].rdata, CNAME)
        target = cname[0].rdata.target
        if target.labels and target.labels[0] == b"*":
            # BIND/unbound: '*.walled.example.' means the query name prepended
            text = host + "." + target.parent().to_text()
        else:
            text = target_text(target, zone)
        d = _name_decision(text, host, catalog, cname[0].span, spans, "")
        if act.note:
            d = Decision(d.outcome, d.rule, d.trace, d.specific, d.how, f"{d.note}; {act.note}".strip("; "))
        return d
    aaaa = [r for r in act.data if r.rdtype == "AAAA"]
    note = (
        "only AAAA data: IPv4 clients get NODATA"
        if aaaa
        else f"local data without an address ({', '.join(sorted({r.rdtype for r in act.data}))})"
    )
    return Decision(Outcome.DENY, act.span, spans, True, "NODATA", note)


def _name_decision(
    target: str, host: str, catalog: Catalog, span: Span, spans: tuple[Span, ...], via: str
) -> Decision:
    target = target.rstrip(".").lower()
    owner = catalog.service_for_host(host)
    held = catalog.service_for_host(target) if target else None
    if owner is not None and held is not None and held[0] == owner[0]:
        return Decision(
            Outcome.ALLOW,
            span,
            spans,
            True,
            f"CNAME {target}",
            f"rewritten to {target}, a name of {catalog.services[owner[0]].name} itself",
        )
    return Decision(
        Outcome.DENY,
        span,
        spans,
        True,
        f"redirected to {target or '.'}",
        "rewritten to another name (a walled garden or block page)",
    )


def rewrite_address(
    address: str, host: str, catalog: Catalog, span: Span, trace: tuple[Span, ...]
) -> Decision:
    """An address a policy answers with, judged as every DNS dialect judges it
    (semantics/answers.py): a public address the catalog cannot place is a pin, `unknown`."""
    return address_decision(address, host, catalog, span, trace, "")


# --------------------------------------------------------------------------- other triggers


def netblock(trigger_name: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """`24.0.100.51.198.rpz-ip` -> 198.51.100.0/24; `zz` stands for `::` in IPv6 forms."""
    labels = trigger_name.split(".")[:-1]
    if len(labels) < 2 or not labels[0].isdigit():
        return None
    prefix = int(labels[0])
    parts = list(reversed(labels[1:]))
    try:
        if len(parts) == 4 and all(p.isdigit() for p in parts):
            return ipaddress.ip_network(f"{'.'.join(parts)}/{prefix}", strict=False)
        text = ":".join("" if p == "zz" else p for p in parts)
        if "zz" in parts:
            text = text.replace(":::", "::")
        return ipaddress.ip_network(f"{text}/{prefix}", strict=False)
    except ValueError:
        return None


def missing_include(
    zone: RpzZone, host: str, catalog: Catalog, trace: tuple[Span, ...] = ()
) -> Decision | None:
    """A service's name no trigger of the zone names, while an $INCLUDE of it is missing."""
    if not zone.missing or catalog.service_for_host(host) is None:
        return None
    span, ref = zone.missing[0]
    return Decision(
        Outcome.UNKNOWN, span, trace + (span,), False, "", f"$INCLUDE {ref} is missing: it may rewrite {host}"
    )


def other_trigger_note(
    zone: RpzZone, host: str, catalog: Catalog, trace: tuple[Span, ...] = ()
) -> Decision | None:
    """rpz-ip / rpz-nsip / rpz-nsdname triggers that may catch the service behind `host`."""
    owner = catalog.service_for_host(host)
    if owner is None:
        return None
    svc = catalog.services[owner[0]]
    for t in zone.others:
        if t.kind == "client-ip":
            continue
        act = zone.action(t)
        kind = zone.override or act.kind
        if kind not in BLOCKING:
            continue
        if t.kind in ("ip", "nsip"):
            net = netblock(t.name)
            if net is None or not any(net.version == n.version and net.overlaps(n) for n in svc.networks):
                continue
            what = "answers holding" if t.kind == "ip" else "names served by name servers at"
            return Decision(
                Outcome.UNKNOWN,
                t.span,
                trace + (t.span,),
                True,
                "",
                f"{what} {net} (addresses of {svc.name}) are rewritten ({kind}); "
                f"whether {host} is depends on the address it resolves to",
            )
        if t.kind == "nsdname":
            ns = t.name.rsplit(".", 1)[0]
            held = catalog.service_for_host(ns)
            if held and held[0] == owner[0]:
                return Decision(
                    Outcome.UNKNOWN,
                    t.span,
                    trace + (t.span,),
                    True,
                    "",
                    f"names served by the name server {ns} are rewritten ({kind}); {host} may be one of them",
                )
    return None


def client_netblocks(zone: RpzZone) -> list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, Trigger]]:
    out = []
    for t in zone.others:
        if t.kind == "client-ip":
            net = netblock(t.name)
            if net is not None:
                out.append((net, t))
    return out


# --------------------------------------------------------------------------- the ruleset

OTHER_CLIENT = "198.51.100.77"


class RpzRuleset:
    """One policy zone as BIND applies it to each client."""

    dialect = NAME

    def __init__(self, zone: RpzZone, catalog: Catalog, missing: str = ""):
        self.path = zone.path
        self.zone = zone
        self.catalog = catalog
        self.problems = zone.problems
        self.included = [str(p.resolve()) for p in zone.included]
        self._clients = client_netblocks(zone)
        self._audiences: list[Audience] | None = None
        self._cache: dict[tuple[str, tuple], Decision] = {}

    def audiences(self) -> list[Audience]:
        if self._audiences is not None:
            return self._audiences
        if not self._clients:
            self._audiences = [EVERYONE]
            return self._audiences
        seen: dict[str | None, Audience] = {}
        reps = [(representative(net), net, t) for net, t in self._clients] + [(OTHER_CLIENT, None, None)]
        for ip, _net, _t in reps:
            trig = self._client_trigger(ip)
            key = trig.name if trig else None
            if key in seen:
                continue
            if trig is None:
                cond: tuple[str, ...] = ("clients outside every rpz-client-ip trigger",)
            else:
                net = netblock(trig.name)
                cond = (f"rpz-client-ip {net}",)
            seen[key] = Audience(key=(("client", key or ""),), conditions=cond, attributes=(("src", ip),))
        self._audiences = list(seen.values())
        return self._audiences

    def _client_trigger(self, ip: str) -> Trigger | None:
        addr = ipaddress.ip_address(ip)
        best = None
        for net, t in self._clients:
            if (
                addr.version == net.version
                and addr in net
                and (best is None or net.prefixlen > best[0].prefixlen)
            ):
                best = (net, t)
        return best[1] if best else None

    def evaluate(self, probe: Probe, audience: Audience) -> Decision:
        key = (probe.host.lower(), audience.key)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = self._decide(probe.host.lower(), audience) or NOT_LISTED
        return hit

    def _decide(self, host: str, audience: Audience) -> Decision | None:
        ip = audience.attribute("src")
        if ip and self._clients:
            t = self._client_trigger(ip)
            if t is not None:  # CLIENT-IP triggers come before QNAME triggers (BIND ARM)
                d = trigger_decision(self.zone, t, host, self.catalog)
                return Decision(d.outcome, d.rule, d.trace, False, d.how, d.note, d.scope)
        t = self.zone.lookup(host)
        if t is not None:
            d = trigger_decision(self.zone, t, host, self.catalog)
            if d.outcome == Outcome.ALLOW and d.how == "passthru":
                broader = self._broader(host, t)
                if broader is not None:
                    d = Decision(
                        d.outcome,
                        d.rule,
                        (broader.span,) + d.trace,
                        True,
                        d.how,
                        f"an exception to '{broader.span.text}'",
                    )
            return d
        return missing_include(self.zone, host, self.catalog) or other_trigger_note(
            self.zone, host, self.catalog
        )

    def _broader(self, host: str, trigger: Trigger) -> Trigger | None:
        labels = host.split(".")
        for i in range(1, len(labels) + 1):
            t = self.zone.wildcards.get(".".join(labels[i:]))
            if t is not None and t is not trigger and self.zone.action(t).kind in BLOCKING:
                return t
        return None

    def inert_mentions(self, probe: Probe) -> list[Span]:
        return []


def representative(net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str:
    if net.num_addresses > 2:
        return str(net.network_address + 1)
    return str(net.network_address)


NOT_LISTED = Decision(Outcome.ALLOW, None, (), False, "", "the policy zone does not name this host")
