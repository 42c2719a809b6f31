"""What a PAN-OS configuration holds once read, whatever its format (XML, `set` commands,
Terraform): the objects and the ordered security rules of each policy scope (a vsys of a
firewall, or a Panorama device group with the shared rules around it).

Every definition keeps the span where it stands so that findings name the rule, the profile
and the object by file:line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from policy_lint.model import Problem, Span

ANY = "any"


@dataclass(frozen=True)
class AddressObject:
    name: str
    kind: str  # ip-netmask | ip-range | fqdn | ip-wildcard | unknown
    value: str
    span: Span


@dataclass(frozen=True)
class Group:
    """An address group, application group or service group: static members, or a dynamic
    filter (`dynamic` set: its members are decided by tags at run time)."""

    name: str
    members: tuple[str, ...]
    span: Span
    dynamic: str = ""


@dataclass(frozen=True)
class AppFilter:
    """An application filter: every App-ID whose attributes match (values of one attribute
    are OR-ed, attributes AND-ed). Attributes other than these are kept in `other`."""

    name: str
    span: Span
    category: tuple[str, ...] = ()
    subcategory: tuple[str, ...] = ()
    technology: tuple[str, ...] = ()
    risk: tuple[str, ...] = ()
    other: tuple[str, ...] = ()


@dataclass(frozen=True)
class ServiceObject:
    name: str
    protocol: str  # tcp | udp | sctp
    ports: str  # "80,443,8000-8080"
    span: Span


@dataclass(frozen=True)
class CustomCategory:
    """A custom URL category: a URL List (`urls`) or a Category Match (`categories`, all of
    which a URL must be in)."""

    name: str
    span: Span
    kind: str = "URL List"
    urls: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class UrlProfile:
    """A URL Filtering profile: the action per category (predefined or custom), the legacy
    block/allow lists and the action for the block list."""

    name: str
    span: Span
    actions: tuple[tuple[str, str], ...] = ()  # (category, block|override|continue|alert|allow)
    block_list: tuple[str, ...] = ()
    allow_list: tuple[str, ...] = ()
    block_list_action: str = "block"

    def action_for(self, category: str) -> str | None:
        for cat, action in self.actions:
            if cat == category:
                return action
        return None


@dataclass(frozen=True)
class ProfileGroup:
    name: str
    span: Span
    url_filtering: tuple[str, ...] = ()


@dataclass(frozen=True)
class SecurityRule:
    name: str
    span: Span
    where: str  # "shared pre-rulebase", "device-group DG post-rulebase", "vsys1", "default"
    from_zones: tuple[str, ...] = (ANY,)
    to_zones: tuple[str, ...] = (ANY,)
    sources: tuple[str, ...] = (ANY,)
    destinations: tuple[str, ...] = (ANY,)
    negate_source: bool = False
    negate_destination: bool = False
    users: tuple[str, ...] = (ANY,)
    applications: tuple[str, ...] = (ANY,)
    services: tuple[str, ...] = ("application-default",)
    categories: tuple[str, ...] = (ANY,)
    schedule: str = ""
    action: str = "allow"
    disabled: bool = False
    rule_type: str = "universal"  # universal | intrazone | interzone
    profile_groups: tuple[str, ...] = ()
    url_profiles: tuple[str, ...] = ()
    not_modelled: tuple[str, ...] = ()  # match criteria present but not evaluated (source-hip ...)


@dataclass
class Scope:
    """One policy as a firewall enforces it: a vsys, or a Panorama device group."""

    name: str  # "vsys1", "device-group branch"
    span: Span
    addresses: dict[str, AddressObject] = field(default_factory=dict)
    address_groups: dict[str, Group] = field(default_factory=dict)
    app_groups: dict[str, Group] = field(default_factory=dict)
    app_filters: dict[str, AppFilter] = field(default_factory=dict)
    custom_apps: dict[str, Span] = field(default_factory=dict)
    services: dict[str, ServiceObject] = field(default_factory=dict)
    service_groups: dict[str, Group] = field(default_factory=dict)
    custom_categories: dict[str, CustomCategory] = field(default_factory=dict)
    url_profiles: dict[str, UrlProfile] = field(default_factory=dict)
    profile_groups: dict[str, ProfileGroup] = field(default_factory=dict)
    schedules: dict[str, Span] = field(default_factory=dict)
    zones: dict[str, Span] = field(default_factory=dict)
    zone_interfaces: dict[str, str] = field(default_factory=dict)  # interface -> zone
    egress_interfaces: set[str] = field(default_factory=set)  # interfaces of default routes
    nat_egress_zones: set[str] = field(default_factory=set)  # to-zones of source NAT rules
    rules: list[SecurityRule] = field(default_factory=list)  # pre + local + post, in order
    defaults: dict[str, SecurityRule] = field(default_factory=dict)  # intrazone-/interzone-default
    # Panorama: the managed firewall's own rules stand between pre- and post-rules but are not
    # in a Panorama export; `local_missing` is the span to blame when a probe reaches them.
    local_missing: Span | None = None
    local_index: int = 0  # where the local rules would stand in `rules`
    # Whether every object the rules name is defined in the file (a whole configuration): a
    # name it does not define is then a predefined one. In a snippet it may be a group
    # defined elsewhere.
    complete: bool = True
    # A firewall managed by Panorama (`panorama-server` set): the policy Panorama pushes runs
    # before (pre-rules) and after (post-rules) the local rules and is not in this file.
    managed_by: Span | None = None


@dataclass
class PanosConfig:
    path: str
    scopes: list[Scope] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    statements: int = 0
    understood: int = 0
    readable: bool = True
