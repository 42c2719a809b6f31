"""The FortiGate model both readers build (CLI tree and fortios Terraform resources): per VDOM,
its firewall policies in the device's order and the objects and security profiles they name.
Data and small predicates over it; no reading, no evaluation."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from policy_lint.model import Span

NAME = "fortigate"

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Objects every FortiGate has without a line in the config (factory defaults a `show` omits).
BUILTIN_ADDRESSES = {"all": "0.0.0.0/0", "none": "0.0.0.0/32"}
BUILTIN_ADDRESSES6 = {"all": "::/0", "none": "::/128"}
BUILTIN_SCHEDULES = {"always"}
# FortiOS's predefined services (`config firewall service custom` of a factory config).
BUILTIN_SERVICES: dict[str, tuple[tuple[str, int, int], ...]] = {
    "ALL": (("any", 0, 65535),),
    "ALL_TCP": (("tcp", 1, 65535),),
    "ALL_UDP": (("udp", 1, 65535),),
    "HTTP": (("tcp", 80, 80),),
    "HTTPS": (("tcp", 443, 443),),
    "DNS": (("tcp", 53, 53), ("udp", 53, 53)),
    "WEB": (("tcp", 80, 80), ("tcp", 443, 443)),  # the factory service group "Web Access" members
    "Web Access": (("tcp", 80, 80), ("tcp", 443, 443), ("tcp", 53, 53), ("udp", 53, 53)),
}
# The ssl-ssh-profiles every FortiGate has.
BUILTIN_SSL = {
    "certificate-inspection": "certificate",
    "deep-inspection": "deep",
    "custom-deep-inspection": "deep",
    "no-inspection": "none",
}
BLOCKING = {"block", "reset", "deny"}


@dataclass
class Ref:
    """A name an attribute refers to, with the attribute's line."""

    name: str
    span: Span


@dataclass
class Address:
    name: str
    span: Span
    kind: str  # ipmask, iprange, fqdn, wildcard-fqdn, or another FortiOS type (not modelled)
    networks: tuple[IPNetwork, ...] = ()
    ranges: tuple[tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ...], ...] = ()
    fqdn: str = ""


@dataclass
class AddrGroup:
    name: str
    span: Span
    members: list[Ref]
    exclude: list[Ref] = field(default_factory=list)


@dataclass
class Service:
    name: str
    span: Span
    ports: tuple[tuple[str, int, int], ...]  # (protocol tcp/udp/any, low, high); () = not modelled
    members: list[Ref] = field(default_factory=list)  # a service group


@dataclass
class Schedule:
    name: str
    span: Span
    kind: str  # recurring | onetime
    days: frozenset[int] = frozenset()  # 0 = sunday
    start: int = 0  # minutes from midnight
    end: int = 0


@dataclass
class Policy:
    id: str
    span: Span
    name: str = ""
    enabled: bool = True
    action: str = "deny"  # FortiOS's default action
    srcintf: list[Ref] = field(default_factory=list)
    dstintf: list[Ref] = field(default_factory=list)
    srcaddr: list[Ref] = field(default_factory=list)
    dstaddr: list[Ref] = field(default_factory=list)
    srcaddr6: list[Ref] = field(default_factory=list)
    dstaddr6: list[Ref] = field(default_factory=list)
    src_negate: bool = False
    dst_negate: bool = False
    service: list[Ref] = field(default_factory=list)
    service_negate: bool = False
    schedule: Ref | None = None
    users: list[Ref] = field(default_factory=list)  # users and groups (any of them)
    internet_services: list[Ref] = field(default_factory=list)  # names or ids, both unknown
    utm: bool = False
    webfilter: Ref | None = None
    applist: Ref | None = None
    dnsfilter: Ref | None = None
    ssl: Ref | None = None
    inspection_mode: str = "flow"
    unmodelled: list[tuple[Span, str]] = field(default_factory=list)  # matchers not evaluated
    title: str = ""  # what findings call it when it is no firewall policy (`system dns-server`)

    def label(self) -> str:
        if self.title:
            return self.title
        named = f" {self.name!r}" if self.name else ""
        return f"policy {self.id}{named}"


@dataclass
class FtgdFilter:
    category: str  # a FortiGuard category id as written
    action: str  # block, warning, authenticate, monitor (allow)
    span: Span
    groups: list[str] = field(default_factory=list)  # auth-usr-grp of authenticate/warning


@dataclass
class UrlEntry:
    url: str
    kind: str  # simple | wildcard | regex
    action: str  # block | allow | monitor | exempt
    span: Span
    enabled: bool = True
    referrer: str = ""


@dataclass
class UrlTable:
    id: str
    span: Span
    entries: list[UrlEntry]
    include_subdomains: bool = True


@dataclass
class WebProfile:
    name: str
    span: Span
    filters: list[FtgdFilter] = field(default_factory=list)
    urltable: Ref | None = None
    # `set inspection-mode` of FortiOS 5.x/6.0 profiles (6.2+ sets it on the policy)
    inspection_mode: str = ""
    content_filter: Span | None = None  # `config web` / `set bword-table`: banned words in pages
    # `config ftgd-wf` / `config quota`: (categories, entry, "time 1h" or "traffic 500 MB")
    quotas: list[tuple[tuple[str, ...], Span, str]] = field(default_factory=list)


@dataclass
class AppEntry:
    span: Span
    action: str  # block | reset | pass | monitor
    what: str  # the entry's selectors as written


@dataclass
class AppList:
    name: str
    span: Span
    entries: list[AppEntry]
    other_action: str = "pass"
    other_span: Span | None = None


@dataclass
class DomainEntry:
    domain: str
    kind: str  # simple | wildcard | regex
    action: str  # block | allow | monitor
    span: Span
    enabled: bool = True


@dataclass
class DnsProfile:
    name: str
    span: Span
    filters: list[FtgdFilter] = field(default_factory=list)
    domaintable: Ref | None = None


@dataclass
class Vdom:
    name: str
    span: Span
    policies: list[Policy] = field(default_factory=list)
    # Other orders the device may hold the policies in (Terraform creates unordered resources).
    other_orders: list[list[Policy]] = field(default_factory=list)
    addresses: dict[str, Address] = field(default_factory=dict)
    addresses6: dict[str, Address] = field(default_factory=dict)
    groups: dict[str, AddrGroup] = field(default_factory=dict)
    groups6: dict[str, AddrGroup] = field(default_factory=dict)
    services: dict[str, Service] = field(default_factory=dict)
    schedules: dict[str, Schedule] = field(default_factory=dict)
    zones: dict[str, list[str]] = field(default_factory=dict)
    user_groups: set[str] = field(default_factory=set)
    users: set[str] = field(default_factory=set)
    webfilters: dict[str, WebProfile] = field(default_factory=dict)
    urltables: dict[str, UrlTable] = field(default_factory=dict)
    applists: dict[str, AppList] = field(default_factory=dict)
    dnsprofiles: dict[str, DnsProfile] = field(default_factory=dict)
    domaintables: dict[str, list[DomainEntry]] = field(default_factory=dict)
    ssl_profiles: dict[str, tuple[str, Span]] = field(default_factory=dict)  # name -> (mode, span)
    egress: list[str] = field(default_factory=list)  # devices of default routes, when the file has them
    proxy_policies: list[Span] = field(default_factory=list)  # explicit-proxy policies (not modelled)
    security_policies: list[Span] = field(default_factory=list)  # NGFW policy-based mode (not modelled)
    shaping_policies: list[Span] = field(default_factory=list)  # traffic shaping (not evaluated)
    # `system dns-server` entries with a DNS filter: (interface, profile, entry)
    dns_servers: list[tuple[str, Ref, Span]] = field(default_factory=list)
    # `webfilter ftgd-local-rating`: a URL's rating set on the device, overriding FortiGuard's.
    local_ratings: dict[str, tuple[tuple[str, ...], Span]] = field(default_factory=dict)
    # Whether objects were seen at all: a snippet holding only policies names objects defined
    # elsewhere on the device (each such reference is a TE901, its match unknown).
    has_objects: bool = False
    # Whether the file holds the VDOM's policy list at all (a file of profiles or objects only
    # says nothing about what the device lets through).
    has_policy_table: bool = False

    def ssl_mode(self, name: str) -> str | None:
        if name in self.ssl_profiles:
            return self.ssl_profiles[name][0]
        return BUILTIN_SSL.get(name)


@dataclass
class Config:
    vdoms: list[Vdom]
    multi_vdom: bool = False
