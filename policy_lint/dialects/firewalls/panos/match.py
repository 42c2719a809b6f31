"""The criteria of a PAN-OS security rule, each answered three-valued for one client and one
request: `yes`, `no`, or `maybe` (an App-ID, category, user group or object whose extent is
not known). Groups are expanded once each; networks are parsed once per name.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from policy_lint.catalog import Catalog
from policy_lint.dialects.firewalls.panos.apps import GENERIC, UNLISTED, AppCatalog
from policy_lint.dialects.firewalls.panos.model import ANY, AppFilter, Group, Scope, SecurityRule
from policy_lint.dialects.semantics.addressing import Target
from policy_lint.model import Probe

YES, NO, MAYBE = "yes", "no", "maybe"
MAX_GROUP_DEPTH = 16
MAX_GROUP_LEAVES = 100_000
PREDEFINED_SERVICES = {"service-http": ("tcp", "80,8080"), "service-https": ("tcp", "443")}
USER_KEYWORDS = {"known-user", "unknown", "pre-logon"}

IPNet = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Client:
    scope: int
    from_zone: str | None
    to_zone: str | None
    source: str | None  # a source the rules name; None: a host none of them names
    user: str | None  # a user or group the rules name; None: a user none of them names
    schedule: str | None  # inside this schedule's window; None: outside every schedule


class Matcher:
    """Answers a rule's criteria; holds the memo tables (one per ruleset)."""

    def __init__(self, catalog: Catalog, apps: AppCatalog):
        self.catalog = catalog
        self.apps = apps
        self._net_memo: dict[tuple[int, str], list[IPNet] | None] = {}
        self._leaf_memo: dict[tuple[int, str], tuple[tuple[str, ...], bool]] = {}

    def zones(self, rule: SecurityRule, client: Client) -> str:
        if rule.rule_type == "intrazone" and client.from_zone != client.to_zone:
            return NO
        if (
            rule.rule_type == "interzone"
            and client.from_zone == client.to_zone
            and client.from_zone is not None
        ):
            return NO
        out = []
        for zones, zone in ((rule.from_zones, client.from_zone), (rule.to_zones, client.to_zone)):
            if ANY in zones:
                out.append(YES)
            elif zone is None:
                out.append(MAYBE)
            else:
                out.append(YES if zone in zones else NO)
        return all_of(out)

    def leaves(self, groups: dict[str, Group], name: str) -> tuple[tuple[str, ...], bool]:
        """The members of a group that are not groups themselves, nested groups expanded once
        each (a cycle or a diamond costs nothing), and whether a dynamic group is among them."""
        key = (id(groups), name)
        if key not in self._leaf_memo:
            leaves: dict[str, None] = {}
            dynamic = False
            seen = {name}
            stack = [name]
            while stack and len(leaves) < MAX_GROUP_LEAVES:
                group = groups[stack.pop()]
                dynamic = dynamic or bool(group.dynamic)
                for member in group.members:
                    if member in groups:
                        if member not in seen:
                            seen.add(member)
                            stack.append(member)
                    else:
                        leaves[member] = None
            self._leaf_memo[key] = (tuple(leaves), dynamic)
        return self._leaf_memo[key]

    def networks(self, scope: Scope, name: str, depth: int = 0) -> list[IPNet] | None:
        """The networks a source/destination name stands for; None when not known."""
        key = (id(scope), name)
        if depth == 0 and key in self._net_memo:
            return self._net_memo[key]
        found = self._networks_of(scope, name, depth)
        if depth == 0:
            self._net_memo[key] = found
        return found

    def _networks_of(self, scope: Scope, name: str, depth: int) -> list[IPNet] | None:
        if depth > MAX_GROUP_DEPTH:
            return None
        obj = scope.addresses.get(name)
        if obj is not None:
            return object_networks(obj.kind, obj.value)
        group = scope.address_groups.get(name)
        if group is not None:
            members, dynamic = self.leaves(scope.address_groups, name)
            if dynamic:
                return None
            nets: list[IPNet] = []
            for member in members:
                sub = self.networks(scope, member, depth + 1)
                if sub is None:
                    return None
                nets.extend(sub)
            return nets
        return object_networks("ip-range" if "-" in name else "ip-netmask", name)

    def sources(self, scope: Scope, rule: SecurityRule, client: Client) -> str:
        if ANY in rule.sources:
            return YES
        if client.source is None:
            value = NO  # a host none of the rules names is in none of their sources
        elif client.source in rule.sources:
            value = YES
        else:
            mine = self.networks(scope, client.source)
            theirs = [self.networks(scope, s) for s in rule.sources]
            if mine is None or any(t is None for t in theirs):
                value = MAYBE
            else:
                nets = [n for t in theirs for n in t or []]
                if mine and all(any(m.version == n.version and m.subnet_of(n) for n in nets) for m in mine):  # type: ignore[arg-type]
                    value = YES
                elif not any(m.version == n.version and m.overlaps(n) for m in mine for n in nets):
                    value = NO
                else:
                    value = MAYBE
        return negate(value) if rule.negate_source else value

    def users(self, rule: SecurityRule, client: Client) -> str:
        if ANY in rule.users:
            return YES
        if client.user is not None and client.user in rule.users:
            return YES
        if "known-user" in rule.users and client.user is not None:
            return YES
        if client.user is None:
            # A user none of the rules names: in none of their users or groups; whether the
            # user is identified at all (known-user, unknown, pre-logon) is not known.
            return MAYBE if set(rule.users) & USER_KEYWORDS else NO
        return MAYBE  # another named user or group: membership is the directory's

    def schedule(self, rule: SecurityRule, client: Client) -> str:
        if not rule.schedule:
            return YES
        if client.schedule is None:
            return NO
        return YES if client.schedule == rule.schedule else MAYBE

    def destinations(self, scope: Scope, rule: SecurityRule, probe: Probe, target: Target | None) -> str:
        if ANY in rule.destinations:
            return YES
        values = [self._destination(scope, d, probe, target, 0) for d in rule.destinations]
        value = any_of(values)
        return negate(value) if rule.negate_destination else value

    def _destination(self, scope: Scope, name: str, probe: Probe, target: Target | None, depth: int) -> str:
        if depth > MAX_GROUP_DEPTH:
            return MAYBE
        obj = scope.addresses.get(name)
        if obj is not None and obj.kind == "fqdn":
            host = obj.value.lower().rstrip(".")
            if host == probe.host:
                return YES
            owner = self.catalog.service_for_host(host)
            return MAYBE if owner and owner[0] == probe.service else NO
        group = scope.address_groups.get(name)
        if group is not None:
            members, dynamic = self.leaves(scope.address_groups, name)
            if dynamic:
                return MAYBE
            return any_of([self._destination(scope, m, probe, target, depth + 1) for m in members])
        nets = self.networks(scope, name)
        if nets is None or target is None:
            return MAYBE
        return YES if any(target.version == n.version and target.address in n for n in nets) else NO

    def applications(self, scope: Scope, names: tuple[str, ...], app: str, depth: int) -> str:
        if ANY in names:
            return YES
        return any_of([self._application(scope, n, app, depth) for n in names])

    def _application(self, scope: Scope, name: str, app: str, depth: int) -> str:
        if name == app:
            return YES
        if depth > MAX_GROUP_DEPTH:
            return MAYBE
        if name in scope.app_groups:
            members, _dynamic = self.leaves(scope.app_groups, name)
            return self.applications(scope, members, app, depth + 1)
        flt = scope.app_filters.get(name)
        if flt is not None:
            return self._filter(flt, app)
        if name in scope.custom_apps:
            return MAYBE  # a custom application's signatures are not evaluated
        known = self.apps.names.get(name)
        if app == UNLISTED:
            # Traffic of a service without a known App-ID: any App-ID the table does not
            # place elsewhere may be the one PAN-OS gives it.
            return NO if (known or name in GENERIC.values()) else MAYBE
        mine = self.apps.names.get(app)
        if known is not None:
            if known.kind == "container" and mine is not None and mine.service == known.service:
                return YES
            if known.kind == "unverified" and mine is not None and mine.service == known.service:
                return MAYBE
            return NO
        if name in GENERIC.values() or app in GENERIC.values():
            return NO if name != app else YES
        tied = self.apps.service_of(name)
        if tied is not None and mine is not None:
            return MAYBE if tied == mine.service else NO
        if not scope.complete:
            return MAYBE  # perhaps an application group or filter defined outside this file
        return NO  # another predefined App-ID: identifies another application

    def _filter(self, flt: AppFilter, app: str) -> str:
        attrs = self.apps.attributes.get(app)
        checks = []
        for values, attr in ((flt.category, "category"), (flt.subcategory, "subcategory")):
            if not values:
                continue
            known = getattr(attrs, attr, "") if attrs else ""
            checks.append((YES if known in values else NO) if known else MAYBE)
        if flt.technology or flt.risk or flt.other:
            checks.append(MAYBE)
        return all_of(checks) if checks else YES

    def services(self, scope: Scope, rule: SecurityRule, probe: Probe, app: str) -> str:
        if ANY in rule.services:
            return YES
        return any_of([self._service(scope, s, probe, app, 0) for s in rule.services])

    def _service(self, scope: Scope, name: str, probe: Probe, app: str, depth: int) -> str:
        if name == "application-default":
            return self._default_ports(probe, app)
        if depth > MAX_GROUP_DEPTH:
            return MAYBE
        if name in scope.service_groups:
            members, _dynamic = self.leaves(scope.service_groups, name)
            return any_of([self._service(scope, m, probe, app, depth + 1) for m in members])
        obj = scope.services.get(name)
        proto, ports = (
            (obj.protocol, obj.ports) if obj is not None else PREDEFINED_SERVICES.get(name, ("", ""))
        )
        if not proto:
            return MAYBE
        if proto != "tcp":
            return NO
        return YES if port_in(probe.port, ports) else NO

    def _default_ports(self, probe: Probe, app: str) -> str:
        attrs = self.apps.attributes.get(app)
        known = self.apps.names.get(app)
        if attrs is None and known is not None:
            # A sub-app runs in its base App-ID's sessions: the base's ports. A base App-ID
            # with no documented ports: a web service's site, reached on the probe's port
            # (assumption stated in the package docstring).
            base = self.apps.base.get(known.service, "")
            attrs = self.apps.attributes.get(base)
            if attrs is None:
                return YES if probe.port in (80, 443) else MAYBE
        if attrs is None or not attrs.default_ports:
            return MAYBE
        return YES if f"tcp/{probe.port}" in attrs.default_ports else NO


def all_of(values: Sequence[str]) -> str:
    if NO in values:
        return NO
    return MAYBE if MAYBE in values else YES


def any_of(values: Sequence[str]) -> str:
    if YES in values:
        return YES
    return MAYBE if MAYBE in values else NO


def negate(value: str) -> str:
    return {YES: NO, NO: YES}.get(value, MAYBE)


def computed(values: Sequence[str]) -> bool:
    return any(v.startswith("${") for v in values)


def tri(value: bool | None) -> str:
    return YES if value is True else NO if value is False else MAYBE


def object_networks(kind: str, value: str) -> list[IPNet] | None:
    try:
        if kind == "ip-netmask":
            return [ipaddress.ip_network(value, strict=False)]
        if kind == "ip-range":
            low, high = (ipaddress.ip_address(x.strip()) for x in value.split("-", 1))
            if low.version != high.version:
                return None
            return list(ipaddress.summarize_address_range(low, high))
    except ValueError:
        return None
    return None


def port_in(port: int, spec: str) -> bool:
    for part in spec.replace(" ", "").split(","):
        if not part:
            continue
        low, _, high = part.partition("-")
        try:
            if int(low) <= port <= int(high or low):
                return True
        except ValueError:
            continue
    return False
