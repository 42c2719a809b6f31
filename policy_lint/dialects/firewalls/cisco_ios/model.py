"""The rule model of an IOS/IOS-XE configuration: access lists, class-maps, policy-maps, zones
and the places they are applied (interfaces, wireless policy profiles). Data only."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from policy_lint.dialects.firewalls.cisco_common.acl import Acl
from policy_lint.dialects.firewalls.cisco_common.objects import Objects
from policy_lint.model import Problem, Span

NAME = "cisco-ios"


@dataclass
class Match:
    """One `match` line of a class-map: `what` is protocol | protocol-http-host | protocol-http-url |
    category | acl | any | class | unknown; `negate` for `match not`."""

    what: str
    value: str
    span: Span
    negate: bool = False
    pattern: str = ""


@dataclass
class ClassMap:
    name: str
    span: Span
    match_all: bool
    inspect: bool
    matches: list[Match] = field(default_factory=list)


@dataclass
class Action:
    """What a policy-map class does: drop | police-drop | police | shape | pass | inspect | none |
    child | unknown, at `span`; `child` names a nested policy-map."""

    kind: str
    span: Span
    child: str = ""
    note: str = ""


@dataclass
class PolicyClass:
    name: str
    span: Span
    actions: list[Action] = field(default_factory=list)


@dataclass
class PolicyMap:
    name: str
    span: Span
    inspect: bool
    classes: list[PolicyClass] = field(default_factory=list)


@dataclass(frozen=True)
class Attachment:
    """`ip access-group X in`, `service-policy input P`, ... on a place: kind acl|policy|ipv6-acl."""

    kind: str
    name: str
    direction: str  # in | out
    span: Span


@dataclass(eq=False)  # one per config section: compared by identity
class Place:
    """Where clients' traffic enters or leaves: an interface or a wireless policy profile."""

    name: str
    span: Span
    kind: str  # interface | wireless-profile
    attachments: list[Attachment] = field(default_factory=list)
    zone: str = ""
    zone_span: Span | None = None
    nat: str = ""  # inside | outside | ""
    network: ipaddress.IPv4Interface | None = None
    dhcp: bool = False
    shutdown: bool = False
    layer3: bool = False
    cbac: Span | None = None  # `ip inspect NAME in|out`: replies pass through temporary openings
    vlan: str = ""  # the VLAN a sub-interface (`encapsulation dot1Q N`) or SVI serves

    def describe(self) -> str:
        if self.kind == "wireless-profile":
            return f"clients of wireless policy profile {self.name}"
        if self.vlan and not self.name.lower().startswith("vlan"):
            return f"clients on {self.name} (VLAN {self.vlan})"
        return f"clients on {self.name}"


@dataclass
class ZonePair:
    name: str
    source: str
    destination: str
    span: Span
    policy: str = ""
    policy_span: Span | None = None


@dataclass
class Config:
    path: str
    acls: dict[str, Acl] = field(default_factory=dict)
    objects: Objects = field(default_factory=Objects)
    class_maps: dict[str, ClassMap] = field(default_factory=dict)
    policy_maps: dict[str, PolicyMap] = field(default_factory=dict)
    places: list[Place] = field(default_factory=list)
    zones: dict[str, Span] = field(default_factory=dict)
    zone_pairs: list[ZonePair] = field(default_factory=list)
    default_routes: list[tuple[str, Span]] = field(default_factory=list)  # interface or next hop
    has_interfaces: bool = False
    words_used: set[str] = field(default_factory=set)  # names referenced outside their definitions
    problems: list[Problem] = field(default_factory=list)
    statements: int = 0
    understood: int = 0
    first: Span | None = None
