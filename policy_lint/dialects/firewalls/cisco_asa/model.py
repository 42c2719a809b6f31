"""The rule model of a Cisco ASA configuration: access lists and where `access-group` applies
them, interfaces with their names and security levels, and HTTP inspection. Data only."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from policy_lint.dialects.firewalls.cisco_common.acl import Acl
from policy_lint.dialects.firewalls.cisco_common.objects import Objects
from policy_lint.model import Problem, Span

NAME = "cisco-asa"


@dataclass(eq=False)  # one per config section: compared by identity
class Interface:
    hardware: str
    span: Span
    nameif: str = ""
    level: int | None = None
    network: ipaddress.IPv4Interface | None = None
    shutdown: bool = False

    def describe(self) -> str:
        return f"clients on {self.nameif}" + (f" ({self.hardware})" if self.hardware else "")


@dataclass(frozen=True)
class AccessGroup:
    acl: str
    direction: str  # in | out | global
    interface: str  # nameif ("" for global)
    span: Span


@dataclass
class L7Match:
    """A `match` of an HTTP inspect class-map or policy-map: `field` host | uri | unknown."""

    field: str
    regexes: tuple[str, ...]  # regex names (`regex NAME`), or those of a `class-map type regex`
    span: Span
    negate: bool = False
    unknown_regex: str = ""  # a regex or regex class the file does not define


@dataclass
class L7Class:
    """An HTTP inspection class: matched when all (match-all) or any of its matches are."""

    name: str
    span: Span
    match_all: bool = True
    matches: list[L7Match] = field(default_factory=list)
    actions: list[tuple[str, Span]] = field(
        default_factory=list
    )  # in a policy-map: drop-connection, reset, log


@dataclass
class HttpPolicy:
    """`policy-map type inspect http NAME`: classes (or inline matches) in order."""

    name: str
    span: Span
    entries: list[L7Class] = field(default_factory=list)


@dataclass
class L4Class:
    """A layer 3/4 `class-map`: which connections a service policy's class covers."""

    name: str
    span: Span
    match: str = ""  # default-inspection-traffic | any | port | acl | unknown
    ports: tuple[int, ...] = ()
    acl: str = ""
    match_span: Span | None = None


@dataclass
class ServicePolicyClass:
    name: str
    span: Span
    inspect_http: str | None = None  # the http inspect map ("" = inspect http without a map)
    inspect_span: Span | None = None


@dataclass
class ServicePolicy:
    name: str
    span: Span
    classes: list[ServicePolicyClass] = field(default_factory=list)


@dataclass(frozen=True)
class Attachment:
    policy: str
    interface: str  # "" = global
    span: Span


@dataclass
class Config:
    path: str
    acls: dict[str, Acl] = field(default_factory=dict)
    objects: Objects = field(default_factory=Objects)
    interfaces: list[Interface] = field(default_factory=list)
    groups: list[AccessGroup] = field(default_factory=list)
    routes: list[tuple[str, Span]] = field(default_factory=list)  # default routes' interface nameif
    same_security: bool = False
    regexes: dict[str, tuple[str, Span]] = field(default_factory=dict)
    regex_classes: dict[str, tuple[bool, list[str], Span]] = field(default_factory=dict)
    l7_classes: dict[str, L7Class] = field(default_factory=dict)
    http_policies: dict[str, HttpPolicy] = field(default_factory=dict)
    l4_classes: dict[str, L4Class] = field(default_factory=dict)
    service_policies: dict[str, ServicePolicy] = field(default_factory=dict)
    attachments: list[Attachment] = field(default_factory=list)
    has_interfaces: bool = False
    problems: list[Problem] = field(default_factory=list)
    statements: int = 0
    understood: int = 0
    first: Span | None = None
