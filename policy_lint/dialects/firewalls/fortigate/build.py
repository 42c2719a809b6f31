"""The CLI tree (cli.py) to the model (model.py): one Vdom per `config vdom` / `edit NAME`
(or the whole file as the single VDOM `root`), FortiOS's defaults filled in where `show`
omits them."""

from __future__ import annotations

import ipaddress

from policy_lint.dialects.firewalls.fortigate.cli import Node, Table
from policy_lint.dialects.firewalls.fortigate.model import (
    Address,
    AddrGroup,
    AppEntry,
    AppList,
    Config,
    DnsProfile,
    DomainEntry,
    FtgdFilter,
    Policy,
    Ref,
    Schedule,
    Service,
    UrlEntry,
    UrlTable,
    Vdom,
    WebProfile,
)
from policy_lint.model import Problem, Span

DAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")

# Policy attributes that decide which traffic a policy takes and that are not evaluated here:
# a policy carrying one matches `unknown` traffic (TE908 at the attribute).
UNMODELLED_MATCHERS = {
    "internet-service-src": "source internet services",
    "src-vendor-mac": "source device vendors",
    "ztna-status": "ZTNA tags",
    "devices": "device identification",
    "device": "device identification",
    "application": "policy-based application matching",
    "url-category": "policy-based URL categories",
    "reputation-minimum": "reputation",
    "vlan-filter": "VLAN filters",
    "profile-group": "a security profile group",
}
_ENABLE = {"enable"}


def refs(node: Node, key: str) -> list[Ref]:
    span = node.line_of(key)
    return [Ref(v, span) for v in node.values(key)]


def ref(node: Node, key: str) -> Ref | None:
    v = node.value(key)
    return Ref(v, node.line_of(key)) if v else None


def entry_span(table_path: str, entry: Node) -> Span:
    """The `edit` line, its text naming the table (findings quote it)."""
    return Span(entry.span.path, entry.span.line, entry.span.col, f"{table_path} {entry.name}")


def build(root: Node, problems: list[Problem]) -> Config:
    vdom_table = root.table("vdom")
    bodies: list[tuple[str, Node]] = []
    if vdom_table is not None:
        # A full backup declares the VDOMs (`edit root` / `next`) first and fills them later.
        bodies = [(e.name, e) for e in vdom_table.entries if e.tables]
    if not bodies:
        bodies = [("root", root)]
    vdoms = [_vdom(name, body, problems) for name, body in bodies]
    return Config(vdoms, multi_vdom=len(bodies) > 1)


def _entries(body: Node, path: str) -> list[Node]:
    t = body.table(path)
    return list(t.entries) if t else []


def _vdom(name: str, body: Node, problems: list[Problem]) -> Vdom:
    v = Vdom(name, body.span)
    for path, table6 in (("firewall address", False), ("firewall address6", True)):
        for e in _entries(body, path):
            a = _address(path, e, table6)
            (v.addresses6 if table6 else v.addresses)[e.name] = a
            v.has_objects = True
    for path, groups in (("firewall addrgrp", v.groups), ("firewall addrgrp6", v.groups6)):
        for e in _entries(body, path):
            exclude = refs(e, "exclude-member") if e.value("exclude") in _ENABLE else []
            groups[e.name] = AddrGroup(e.name, entry_span(path, e), refs(e, "member"), exclude)
            v.has_objects = True
    for e in _entries(body, "firewall service custom"):
        v.services[e.name] = _service(e)
    for e in _entries(body, "firewall service group"):
        v.services[e.name] = Service(e.name, entry_span("firewall service group", e), (), refs(e, "member"))
    for path in ("firewall schedule recurring", "firewall schedule onetime"):
        for e in _entries(body, path):
            v.schedules[e.name] = _schedule(path, e)
    for e in _entries(body, "firewall schedule group"):
        # A schedule group is any of its members: not modelled, its match is unknown.
        v.schedules[e.name] = Schedule(e.name, entry_span("firewall schedule group", e), "group")
    for e in _entries(body, "system zone"):
        v.zones[e.name] = e.values("interface")
    for path in ("user group", "user adgrp", "user fsso"):
        v.user_groups.update(e.name for e in _entries(body, path))
    for path in ("user local", "user ldap", "user radius"):
        v.users.update(e.name for e in _entries(body, path))
    for e in _entries(body, "router static"):
        dst = " ".join(e.values("dst"))
        if dst in ("", "0.0.0.0 0.0.0.0", "0.0.0.0/0") and e.value("blackhole") not in _ENABLE:
            for key in ("device", "sdwan-zone"):
                v.egress.extend(e.values(key))
            if e.value("virtual-wan-link") in _ENABLE or e.value("sdwan") in _ENABLE:
                v.egress.append("virtual-wan-link")
    for path, kind in (("firewall policy", "4"), ("firewall policy6", "6")):
        v.has_policy_table = v.has_policy_table or body.table(path) is not None
        for e in _entries(body, path):
            v.policies.append(_policy(path, e, kind, problems))
    v.proxy_policies.extend(
        entry_span("firewall proxy-policy", e) for e in _entries(body, "firewall proxy-policy")
    )
    v.security_policies.extend(
        entry_span("firewall security-policy", e) for e in _entries(body, "firewall security-policy")
    )
    v.shaping_policies.extend(
        entry_span("firewall shaping-policy", e)
        for e in _entries(body, "firewall shaping-policy")
        if e.value("status", "enable") != "disable"
    )
    for e in _entries(body, "system dns-server"):
        profile = ref(e, "dnsfilter-profile")
        if profile is not None:
            v.dns_servers.append((e.name, profile, entry_span("system dns-server", e)))
    for e in _entries(body, "webfilter ftgd-local-rating"):
        if e.value("status", "enable") != "disable":
            rating = tuple(" ".join(e.values("rating")).split())
            v.local_ratings[e.name.lower().rstrip("/")] = (
                rating,
                entry_span("webfilter ftgd-local-rating", e),
            )
    for e in _entries(body, "webfilter profile"):
        v.webfilters[e.name] = _webfilter(e)
    for e in _entries(body, "webfilter urlfilter"):
        entries = [
            UrlEntry(
                x.value("url"),
                x.value("type", "simple"),
                x.value("action", "exempt"),
                entry_span("webfilter urlfilter entry", x),
                x.value("status", "enable") != "disable",
                x.value("referrer-host"),
            )
            for x in _entries(e, "entries")
        ]
        v.urltables[e.name] = UrlTable(
            e.name,
            entry_span("webfilter urlfilter", e),
            entries,
            e.value("include-subdomains", "enable") != "disable",
        )
    for e in _entries(body, "application list"):
        v.applists[e.name] = _applist(e)
    for e in _entries(body, "dnsfilter profile"):
        v.dnsprofiles[e.name] = _dnsprofile(e)
    for e in _entries(body, "dnsfilter domain-filter"):
        v.domaintables[e.name] = [
            DomainEntry(
                x.value("domain"),
                x.value("type", "simple"),
                x.value("action", "block"),
                entry_span("dnsfilter domain-filter entry", x),
                x.value("status", "enable") != "disable",
            )
            for x in _entries(e, "entries")
        ]
    for e in _entries(body, "firewall ssl-ssh-profile"):
        v.ssl_profiles[e.name] = (_ssl_mode(e), entry_span("firewall ssl-ssh-profile", e))
    return v


def _networks(values: list[str], six: bool) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    try:
        if not values:
            return (ipaddress.ip_network("::/0" if six else "0.0.0.0/0"),)
        text = f"{values[0]}/{values[1]}" if len(values) >= 2 else values[0]
        return (ipaddress.ip_network(text, strict=False),)
    except ValueError:
        return ()


def _address(path: str, e: Node, six: bool) -> Address:
    span = entry_span(path, e)
    kind = e.value("type", "ipprefix" if six else "ipmask")
    if kind in ("ipmask", "ipprefix", "interface-subnet"):
        key = "ip6" if six else "subnet"
        if kind == "interface-subnet" and not e.values(key):
            return Address(e.name, span, kind)  # the interface's subnet: not in the file
        nets = _networks(e.values(key), six)
        return Address(e.name, span, "ipmask" if nets else "invalid", networks=nets)
    if kind == "iprange":
        try:
            lo = ipaddress.ip_address(e.value("start-ip"))
            hi = ipaddress.ip_address(e.value("end-ip") or e.value("start-ip"))
            return Address(e.name, span, "iprange", ranges=((lo, hi),))
        except ValueError:
            return Address(e.name, span, "invalid")
    if kind == "fqdn":
        return Address(e.name, span, "fqdn", fqdn=e.value("fqdn").lower().rstrip("."))
    if kind == "wildcard-fqdn":
        return Address(e.name, span, "wildcard-fqdn", fqdn=e.value("wildcard-fqdn").lower().rstrip("."))
    return Address(e.name, span, kind)


def _ports(text: str, proto: str) -> list[tuple[str, int, int]]:
    out = []
    for item in text.split():
        dst = item.split(":")[0]
        lo, _, hi = dst.partition("-")
        try:
            out.append((proto, int(lo), int(hi or lo)))
        except ValueError:
            continue
    return out


def _service(e: Node) -> Service:
    span = entry_span("firewall service custom", e)
    protocol = e.value("protocol", "TCP/UDP/SCTP").upper()
    if protocol == "IP":
        number = e.value("protocol-number", "0")
        return Service(e.name, span, (("any", 0, 65535),) if number == "0" else (("other", 0, 0),))
    if protocol not in ("TCP/UDP/SCTP", "TCP/UDP/UDP-LITE/SCTP"):
        return Service(e.name, span, (("other", 0, 0),))  # ICMP, ICMP6, ALL: no TCP/UDP ports
    if e.value("iprange") or e.value("fqdn"):
        return Service(e.name, span, ())  # a service limited to addresses: not modelled
    ports = []
    for key, proto in (("tcp-portrange", "tcp"), ("udp-portrange", "udp"), ("sctp-portrange", "sctp")):
        ports.extend(_ports(" ".join(e.values(key)), proto))
    return Service(e.name, span, tuple(ports) or (("other", 0, 0),))


def _minutes(text: str) -> int:
    hh, _, mm = text.partition(":")
    try:
        return int(hh) * 60 + int(mm or 0)
    except ValueError:
        return 0


def _schedule(path: str, e: Node) -> Schedule:
    span = entry_span(path, e)
    if path.endswith("onetime"):
        return Schedule(e.name, span, "onetime")
    days = frozenset(DAYS.index(d) for d in e.values("day") if d in DAYS)
    return Schedule(
        e.name,
        span,
        "recurring",
        days,
        _minutes(e.value("start", "00:00")),
        _minutes(e.value("end", "00:00")),
    )


def _policy(path: str, e: Node, kind: str, problems: list[Problem]) -> Policy:
    span = entry_span(path, e)
    p = Policy(e.name, Span(span.path, span.line, span.col, f"policy {e.name}"))
    p.name = e.value("name")
    p.enabled = e.value("status", "enable") != "disable"
    p.action = e.value("action", "deny")
    p.srcintf, p.dstintf = refs(e, "srcintf"), refs(e, "dstintf")
    if kind == "6":
        p.srcaddr6, p.dstaddr6 = refs(e, "srcaddr"), refs(e, "dstaddr")
    else:
        p.srcaddr, p.dstaddr = refs(e, "srcaddr"), refs(e, "dstaddr")
        p.srcaddr6, p.dstaddr6 = refs(e, "srcaddr6"), refs(e, "dstaddr6")
    p.src_negate = e.value("srcaddr-negate") in _ENABLE
    p.dst_negate = e.value("dstaddr-negate") in _ENABLE
    p.service = refs(e, "service")
    p.service_negate = e.value("service-negate") in _ENABLE
    p.schedule = ref(e, "schedule")
    p.users = refs(e, "users") + refs(e, "groups") + refs(e, "fsso-groups")
    if e.value("internet-service") in _ENABLE:
        for key in ("internet-service-name", "internet-service-id", "internet-service-group"):
            p.internet_services.extend(refs(e, key))
        for key in ("internet-service-custom", "internet-service-custom-group"):
            p.internet_services.extend(refs(e, key))
        p.dstaddr = []
    # FortiOS up to 7.0 shows a policy's profiles only under `utm-status enable`; later versions
    # apply them without it. So a profile line with no utm-status line is applied, and
    # `utm-status disable` turns them all off.
    profiles = any(e.value(k) for k in ("webfilter-profile", "application-list", "dnsfilter-profile"))
    p.utm = e.value("utm-status") in _ENABLE or ("utm-status" not in e.settings and profiles)
    p.webfilter = ref(e, "webfilter-profile")
    p.applist = ref(e, "application-list")
    p.dnsfilter = ref(e, "dnsfilter-profile")
    p.ssl = ref(e, "ssl-ssh-profile")
    p.inspection_mode = e.value("inspection-mode", "flow")
    for key, what in UNMODELLED_MATCHERS.items():
        value = e.value(key)
        if value and value != "disable":
            p.unmodelled.append((e.line_of(key), what))
    if e.table("identity-based-policy") is not None:  # FortiOS 5.0's nested identity policies
        p.unmodelled.append((e.line_of("identity-based"), "nested identity-based policies"))
    if e.value("profile-type") == "group":
        p.unmodelled.append((e.line_of("profile-type"), "a security profile group"))
    missing = [k for k in ("srcintf", "dstintf") if not e.values(k)]
    if not p.internet_services and not (p.dstaddr or p.dstaddr6):
        missing.append("dstaddr")
    if not (p.srcaddr or p.srcaddr6):
        missing.append("srcaddr")
    if not p.service and not p.internet_services:
        missing.append("service")
    if missing and p.enabled:
        problems.append(
            Problem(
                "TE901",
                p.span,
                f"{p.label()} has no {', '.join(missing)}: FortiOS refuses a policy without it",
            )
        )
        p.unmodelled.append((p.span, f"a policy without {', '.join(missing)}"))
    return p


def _filters(table: Table | None) -> list[FtgdFilter]:
    out = []
    for x in table.entries if table else []:
        out.append(
            FtgdFilter(
                x.value("category", "0"),
                x.value("action", "monitor"),
                entry_span("filter", x),
                x.values("auth-usr-grp"),
            )
        )
    return out


def _webfilter(e: Node) -> WebProfile:
    p = WebProfile(e.name, entry_span("webfilter profile", e))
    ftgd = e.table("ftgd-wf")
    p.filters = _filters(ftgd.table("filters") if ftgd else None)
    quota = ftgd.table("quota") if ftgd else None
    for q in quota.entries if quota else []:
        kind = q.value("type", "time")
        amount = (
            q.value("duration", "5m") if kind == "time" else f"{q.value('value')} {q.value('unit', 'MB')}"
        )
        p.quotas.append(
            (tuple(" ".join(q.values("category")).split()), entry_span("quota", q), f"{kind} {amount}")
        )
    web = e.table("web")
    if web is not None:
        p.urltable = ref(web, "urlfilter-table")
        if web.value("bword-table") or web.value("keyword-match"):
            p.content_filter = web.line_of("bword-table" if web.value("bword-table") else "keyword-match")
    p.inspection_mode = e.value("inspection-mode")
    return p


def _applist(e: Node) -> AppList:
    entries = []
    for x in _entries(e, "entries"):
        what = " ".join(
            f"{k} {' '.join(s.values)}" for k, s in x.settings.items() if k not in ("action", "log")
        )
        entries.append(AppEntry(entry_span("application list entry", x), x.value("action", "block"), what))
    other = e.value("other-application-action", "pass")
    return AppList(
        e.name, entry_span("application list", e), entries, other, e.line_of("other-application-action")
    )


def _dnsprofile(e: Node) -> DnsProfile:
    p = DnsProfile(e.name, entry_span("dnsfilter profile", e))
    ftgd = e.table("ftgd-dns")
    p.filters = _filters(ftgd.table("filters") if ftgd else None)
    domain = e.table("domain-filter")
    p.domaintable = ref(domain, "domain-filter-table") if domain else ref(e, "domain-filter-table")
    return p


def _ssl_mode(e: Node) -> str:
    mode = _ssl_mode_written(e)
    exempt = e.table("ssl-exempt")
    if mode == "deep" and exempt is not None and exempt.entries:
        # Exempt sites (by category, address or name) get certificate inspection only: the host
        # is seen everywhere, the path not everywhere.
        return "host-at-least"
    return mode


def _ssl_mode_written(e: Node) -> str:
    https = e.table("https")
    if https is not None:
        status = https.value("status") or https.value("inspect-all")
        if status:
            return {"deep-inspection": "deep", "certificate-inspection": "certificate"}.get(status, "none")
    ssl = e.table("ssl")
    if ssl is not None and ssl.value("inspect-all"):
        status = ssl.value("inspect-all")
        return {"deep-inspection": "deep", "certificate-inspection": "certificate"}.get(status, "none")
    # No inspection mode written: at least the host is seen (the SNI); whether the path is, is
    # not in the file.
    return "host-at-least"
