"""The XML configuration (running/candidate config, a Panorama export or a snippet of either)
read into `Scope`s, one per policy a firewall enforces.

    <config><devices><entry name="localhost.localdomain"><vsys><entry name="vsys1">
      <zone>...</zone><address>...</address><profiles><url-filtering>...</url-filtering></profiles>
      <rulebase><security><rules><entry name="R">...</entry></rules></security>
                <default-security-rules>...</default-security-rules></rulebase>
    </entry></vsys></entry></devices><shared>...</shared></config>

- A firewall: each `vsys` entry is a scope; `shared` objects are visible in every vsys (a
  vsys object of the same name wins).
- Panorama: each `device-group` entry is a scope whose rules are, in order, the shared
  pre-rulebase, the parent device groups' pre-rulebases (from `readonly` `parent-dg`),
  its own pre-rulebase, the managed firewall's local rules (not in the export), its own
  post-rulebase, the parents' post-rulebases and the shared post-rulebase.
- A snippet (a `<rulebase>`, `<security>`, `<rules>`, `<vsys>` or `<device-group>` element as
  root) is one scope holding whatever rules and objects it contains.

`set` commands and Terraform are turned into the same element tree (set_commands.py,
terraform.py), so the three formats share this reader.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable

import defusedxml.ElementTree as DET
from defusedxml.common import DefusedXmlException

from policy_lint.dialects.firewalls.panos.model import (
    ANY,
    AddressObject,
    AppFilter,
    CustomCategory,
    Group,
    PanosConfig,
    ProfileGroup,
    Scope,
    SecurityRule,
    ServiceObject,
    UrlProfile,
)
from policy_lint.model import Problem, Span

URL_ACTIONS = ("block", "override", "continue", "alert", "allow")
ACTIONS = {"allow", "deny", "drop", "reset-client", "reset-server", "reset-both"}
# Match criteria of a rule that are evaluated, and those that are read but not modelled.
NOT_MODELLED = ("source-hip", "destination-hip", "source-imei", "source-imsi", "source-nw-slice")
DEFAULT_RULES = ("intrazone-default", "interzone-default")
LINE_ATTRIBUTE = "__line__"


class _LineParser(DET.DefusedXMLParser):
    """defusedxml's parser, recording each element's line (ElementTree keeps none)."""

    def _start(self, tag, attr_list):
        # ElementTree's XMLParser._start is private and untyped in typeshed: the hook is stable
        # across the Python versions we support (pfsense.py relies on it the same way).
        elem = super()._start(tag, attr_list)  # type: ignore[misc]
        elem.sourceline = self.parser.CurrentLineNumber
        return elem


def line_of(elem: ET.Element | None) -> int:
    if elem is None:
        return 1
    return int(getattr(elem, "sourceline", 0) or elem.get(LINE_ATTRIBUTE, 1))


def stamp(elem: ET.Element, line: int) -> None:
    """Record the line of an element built from set commands or Terraform (C elements take
    no new Python attributes; the attribute name cannot occur in PAN-OS XML)."""
    elem.set(LINE_ATTRIBUTE, str(line))


def parse_xml(lines: list[str], shown: str) -> tuple[ET.Element | None, list[Problem]]:
    """The element tree of `lines`, or None with the problem (entities refused, not well formed)."""
    parser = _LineParser(forbid_dtd=True, forbid_entities=True, forbid_external=True)
    try:
        parser.feed("\n".join(lines))
        return parser.close(), []
    except DefusedXmlException as exc:
        kind = type(exc).__name__.replace("Forbidden", "").lower() or "entities"
        return None, [
            Problem(
                "TE902",
                Span(shown, 1, 1),
                f"refused to read: the XML declares {kind} (entity expansion, external entities and "
                "DTDs are not read)",
            )
        ]
    except ET.ParseError as exc:
        line, col = getattr(exc, "position", (1, 0))
        return None, [Problem("TE901", Span(shown, line, col + 1), f"not well-formed XML: {exc}")]


def members(elem: ET.Element | None, tag: str) -> tuple[str, ...] | None:
    """A member list (`<tag><member>a</member>...</tag>`, or `<tag>a</tag>`), None when absent."""
    if elem is None:
        return None
    child = elem.find(tag)
    if child is None:
        return None
    found = tuple((m.text or "").strip() for m in child.findall("member") if (m.text or "").strip())
    if found:
        return found
    text = (child.text or "").strip()
    return (text,) if text else ()


def text_of(elem: ET.Element | None, tag: str, default: str = "") -> str:
    if elem is None:
        return default
    child = elem.find(tag)
    return (child.text or "").strip() if child is not None and child.text else default


def entries(elem: ET.Element | None, path: str) -> list[ET.Element]:
    return elem.findall(f"{path}/entry") if elem is not None else []


class Reader:
    """Builds the scopes of one element tree."""

    def __init__(self, config: PanosConfig):
        self.config = config
        self.shown = config.path

    def span(self, elem: ET.Element, text: str) -> Span:
        return Span(self.shown, line_of(elem), 1, text)

    def problem(self, code: str, elem: ET.Element, message: str) -> None:
        self.config.problems.append(Problem(code, self.span(elem, ""), message))

    # ------------------------------------------------------------------ layout
    def read(self, root: ET.Element) -> None:
        tag = root.tag.lower()
        if tag == "config":
            self._read_config(root)
        elif tag == "response":  # an XML API answer wrapping the config
            inner = root.find(".//config")
            if inner is not None:
                self._read_config(inner)
            else:
                self._read_snippet(root)
        else:
            self._read_snippet(root)

    def _read_config(self, root: ET.Element) -> None:
        shared = root.find("shared")
        device_groups = [dg for dev in entries(root, "devices") for dg in entries(dev, "device-group")]
        vsyses = [vs for dev in entries(root, "devices") for vs in entries(dev, "vsys")]
        if device_groups:
            parents = self._parents(root)
            by_name = {dg.get("name", ""): dg for dg in device_groups}
            for dg in device_groups:
                self._read_device_group(dg, shared, by_name, parents, root)
        if vsyses:
            network = [dev.find("network") for dev in entries(root, "devices")]
            managed = next(
                (
                    e
                    for dev in entries(root, "devices")
                    for e in dev.iterfind("deviceconfig/system//panorama-server")
                    if (e.text or "").strip()
                ),
                None,
            )
            for vs in vsyses:
                scope = Scope(vs.get("name", "vsys"), self.span(vs, f"vsys {vs.get('name', '')}"))
                self._objects(scope, [shared, vs])
                self._network(scope, [n for n in network if n is not None])
                self._rulebase(scope, vs.find("rulebase"), vs.get("name", "vsys"))
                self._defaults(scope, vs.find("rulebase"))
                self._nat(scope, vs.find("rulebase"))
                # A whole firewall configuration defines its zones; a set script or Terraform
                # file without them is a part of one.
                scope.complete = bool(scope.zones)
                if managed is not None:
                    scope.managed_by = self.span(managed, f"panorama-server {(managed.text or '').strip()}")
                self.config.scopes.append(scope)
        if not device_groups and not vsyses:
            # A shared-only Panorama export, or a config fragment under <config>.
            self._read_snippet(root)

    def _parents(self, root: ET.Element) -> dict[str, str]:
        out: dict[str, str] = {}
        for dev in entries(root.find("readonly"), "devices"):
            for dg in entries(dev, "device-group"):
                parent = text_of(dg, "parent-dg")
                if parent:
                    out[dg.get("name", "")] = parent
        return out

    def _read_device_group(
        self,
        dg: ET.Element,
        shared: ET.Element | None,
        by_name: dict[str, ET.Element],
        parents: dict[str, str],
        root: ET.Element,
    ) -> None:
        name = dg.get("name", "")
        chain = [dg]
        seen = {name}
        parent = parents.get(name, "")
        while parent and parent in by_name and parent not in seen and len(chain) < 16:
            seen.add(parent)
            chain.append(by_name[parent])
            parent = parents.get(parent, "")
        scope = Scope(f"device-group {name}", self.span(dg, f"device-group {name}"))
        # Objects: shared, then the ancestors from the top down (the nearest definition wins).
        self._objects(scope, [shared, *reversed(chain)])
        for template in entries(root.find("devices/entry"), "template"):
            for vs in template.findall(".//vsys/entry"):
                self._zones(scope, vs)
        if shared is not None:
            self._rulebase(scope, shared.find("pre-rulebase"), "shared pre-rulebase")
        for group in reversed(chain):
            self._rulebase(
                scope, group.find("pre-rulebase"), f"device-group {group.get('name', '')} pre-rulebase"
            )
        scope.local_index = len(scope.rules)
        scope.local_missing = self.span(dg, f"device-group {name}")
        for group in chain:
            self._rulebase(
                scope, group.find("post-rulebase"), f"device-group {group.get('name', '')} post-rulebase"
            )
        if shared is not None:
            self._rulebase(scope, shared.find("post-rulebase"), "shared post-rulebase")
        # Default-rule overrides: the nearest (device group, then its parents, then shared) wins.
        for holder in (shared, *reversed(chain)):
            if holder is not None:
                self._defaults(scope, holder.find("post-rulebase"))
        self.config.scopes.append(scope)

    def _read_snippet(self, root: ET.Element) -> None:
        scope = Scope(root.get("name") or root.tag, self.span(root, root.tag), complete=False)
        holders = [root] + [e for e in root.iter() if e.tag in ("vsys", "shared", "device-group")]
        object_parents: list[ET.Element | None] = []
        for holder in holders:
            object_parents.extend([holder, *holder.findall("entry")])
        self._objects(scope, object_parents)
        self._zones(scope, root)
        for e in root.iter("zone"):
            self._zone_entries(scope, e)
        tag = root.tag.lower()
        if tag == "rules":
            self._rules(scope, root, "rules")
        elif tag == "security":
            self._rules(scope, root.find("rules"), "security")
        elif tag == "entry" and (root.find("action") is not None or root.find("application") is not None):
            self._rule(scope, root, "rule")
        else:
            for kind in ("pre-rulebase", "rulebase", "post-rulebase"):
                for rulebase in [root] if root.tag == kind else root.iter(kind):
                    self._rulebase(scope, rulebase, kind)
                    self._defaults(scope, rulebase)
        for rulebase in root.iter("rulebase"):
            self._nat(scope, rulebase)
        self.config.scopes.append(scope)

    # ------------------------------------------------------------------ objects
    def _objects(self, scope: Scope, holders: Iterable[ET.Element | None]) -> None:
        for holder in holders:
            if holder is None:
                continue
            for e in entries(holder, "address"):
                scope.addresses[e.get("name", "")] = self._address(e)
            for e in entries(holder, "address-group"):
                name = e.get("name", "")
                static = members(e, "static") or ()
                dynamic = text_of(e.find("dynamic"), "filter")
                scope.address_groups[name] = Group(
                    name, static, self.span(e, f"address-group {name}"), dynamic
                )
            for e in entries(holder, "application-group"):
                name = e.get("name", "")
                # PAN-OS 8+ writes <members><member>; older releases <member> directly.
                listed = members(e, "members") or tuple(
                    (m.text or "").strip() for m in e.findall("member") if m.text
                )
                scope.app_groups[name] = Group(name, listed, self.span(e, f"application-group {name}"))
            for e in entries(holder, "application-filter"):
                scope.app_filters[e.get("name", "")] = self._app_filter(e)
            for e in entries(holder, "application"):
                scope.custom_apps[e.get("name", "")] = self.span(e, f"application {e.get('name', '')}")
            for e in entries(holder, "service"):
                scope.services[e.get("name", "")] = self._service(e)
            for e in entries(holder, "service-group"):
                name = e.get("name", "")
                scope.service_groups[name] = Group(
                    name, members(e, "members") or (), self.span(e, f"service-group {name}")
                )
            for e in entries(holder, "schedule"):
                scope.schedules[e.get("name", "")] = self.span(e, f"schedule {e.get('name', '')}")
            profiles = holder.find("profiles")
            for e in entries(profiles, "custom-url-category"):
                name = e.get("name", "")
                scope.custom_categories[name] = CustomCategory(
                    name,
                    self.span(e, f"custom-url-category {name}"),
                    text_of(e, "type", "URL List"),
                    members(e, "list") or (),
                    members(e, "list") or () if text_of(e, "type") == "Category Match" else (),
                )
            for e in entries(profiles, "url-filtering"):
                scope.url_profiles[e.get("name", "")] = self._url_profile(e)
            for e in entries(holder, "profile-group"):
                name = e.get("name", "")
                scope.profile_groups[name] = ProfileGroup(
                    name, self.span(e, f"profile-group {name}"), members(e, "url-filtering") or ()
                )
            self._zones(scope, holder)

    def _address(self, e: ET.Element) -> AddressObject:
        name = e.get("name", "")
        for kind in ("ip-netmask", "ip-range", "fqdn", "ip-wildcard"):
            value = text_of(e, kind)
            if value:
                return AddressObject(name, kind, value, self.span(e, f"address {name} {kind} {value}"))
        return AddressObject(name, "unknown", "", self.span(e, f"address {name}"))

    def _app_filter(self, e: ET.Element) -> AppFilter:
        name = e.get("name", "")
        known = {"category", "subcategory", "technology", "risk"}
        other = tuple(sorted(c.tag for c in e if c.tag not in known and c.tag != "exclude"))
        if e.find("exclude") is not None:
            other = (*other, "exclude")
        return AppFilter(
            name,
            self.span(e, f"application-filter {name}"),
            members(e, "category") or (),
            members(e, "subcategory") or (),
            members(e, "technology") or (),
            members(e, "risk") or (),
            other,
        )

    def _service(self, e: ET.Element) -> ServiceObject:
        name = e.get("name", "")
        for proto in ("tcp", "udp", "sctp"):
            p = e.find(f"protocol/{proto}")
            if p is not None:
                return ServiceObject(name, proto, text_of(p, "port"), self.span(e, f"service {name}"))
        return ServiceObject(name, "", "", self.span(e, f"service {name}"))

    def _url_profile(self, e: ET.Element) -> UrlProfile:
        name = e.get("name", "")
        actions: list[tuple[str, str]] = []
        for action in URL_ACTIONS:
            for cat in members(e, action) or ():
                actions.append((cat, action))
        # credential-enforcement (<credential-enforcement><block>...) governs submitting
        # corporate credentials, not reaching the site: deliberately not read as a block.
        return UrlProfile(
            name,
            self.span(e, f"url-filtering {name}"),
            tuple(actions),
            members(e, "block-list") or (),
            members(e, "allow-list") or (),
            text_of(e, "action", "block"),
        )

    def _zones(self, scope: Scope, holder: ET.Element) -> None:
        zone = holder.find("zone")
        if zone is not None:
            self._zone_entries(scope, zone)

    def _zone_entries(self, scope: Scope, zone: ET.Element) -> None:
        for e in zone.findall("entry"):
            name = e.get("name", "")
            scope.zones.setdefault(name, self.span(e, f"zone {name}"))
            network = e.find("network")
            for mode in network if network is not None else ():
                for iface in members(network, mode.tag) or ():
                    scope.zone_interfaces[iface] = name

    def _network(self, scope: Scope, networks: list[ET.Element]) -> None:
        for network in networks:
            for vr in entries(network, "virtual-router"):
                for route in vr.findall("routing-table/ip/static-route/entry"):
                    if text_of(route, "destination") in ("0.0.0.0/0", "default"):
                        iface = text_of(route, "interface")
                        if iface:
                            scope.egress_interfaces.add(iface)

    def _nat(self, scope: Scope, rulebase: ET.Element | None) -> None:
        for e in entries(rulebase.find("nat") if rulebase is not None else None, "rules"):
            if e.find("source-translation") is not None and text_of(e, "disabled") != "yes":
                scope.nat_egress_zones.update(z for z in members(e, "to") or () if z != ANY)

    # ------------------------------------------------------------------ rules
    def _rulebase(self, scope: Scope, rulebase: ET.Element | None, where: str) -> None:
        if rulebase is None:
            return
        security = rulebase.find("security")
        if security is not None:
            self._rules(scope, security.find("rules"), where)

    def _rules(self, scope: Scope, rules: ET.Element | None, where: str) -> None:
        for e in rules.findall("entry") if rules is not None else []:
            self._rule(scope, e, where)

    def _rule(self, scope: Scope, e: ET.Element, where: str) -> None:
        name = e.get("name", "")
        self.config.statements += 1
        action = text_of(e, "action", "allow").lower()
        if action not in ACTIONS:
            self.problem("TE901", e, f"rule {name!r}: action {action!r} is not one PAN-OS has")
            action = "unknown"
        setting = e.find("profile-setting")
        not_modelled = tuple(
            tag for tag in NOT_MODELLED if (members(e, tag) or (ANY,)) not in ((ANY,), ("no-hip",))
        )
        target = e.find("target")
        if target is not None and (
            target.find("devices/entry") is not None or text_of(target, "negate") == "yes"
        ):
            # A Panorama rule targeted at some firewalls of the device group only.
            not_modelled = (*not_modelled, "target")
        rule = SecurityRule(
            name=name,
            span=self.span(e, f"rule {name}"),
            where=where,
            from_zones=members(e, "from") or (ANY,),
            to_zones=members(e, "to") or (ANY,),
            sources=members(e, "source") or (ANY,),
            destinations=members(e, "destination") or (ANY,),
            negate_source=text_of(e, "negate-source") == "yes",
            negate_destination=text_of(e, "negate-destination") == "yes",
            users=members(e, "source-user") or (ANY,),
            applications=members(e, "application") or (ANY,),
            services=members(e, "service") or ("application-default",),
            categories=members(e, "category") or (ANY,),
            schedule=text_of(e, "schedule"),
            action=action,
            disabled=text_of(e, "disabled") == "yes",
            rule_type=text_of(e, "rule-type", "universal"),
            profile_groups=members(setting, "group") or (),
            url_profiles=members(setting.find("profiles") if setting is not None else None, "url-filtering")
            or (),
            not_modelled=not_modelled,
        )
        self.config.understood += 1
        scope.rules.append(rule)

    def _defaults(self, scope: Scope, rulebase: ET.Element | None) -> None:
        """Overrides of the predefined intrazone-default (allow) and interzone-default (deny)."""
        if rulebase is None:
            return
        for e in entries(rulebase.find("default-security-rules"), "rules"):
            name = e.get("name", "")
            if name not in DEFAULT_RULES:
                self.problem(
                    "TE901", e, f"default rule {name!r} is not intrazone-default or interzone-default"
                )
                continue
            setting = e.find("profile-setting")
            action = text_of(e, "action", "allow" if name == "intrazone-default" else "deny").lower()
            scope.defaults[name] = SecurityRule(
                name=name,
                span=self.span(e, f"rule {name}"),
                where="default",
                action=action if action in ACTIONS else "unknown",
                services=(ANY,),
                rule_type="intrazone" if name == "intrazone-default" else "interzone",
                profile_groups=members(setting, "group") or (),
                url_profiles=members(
                    setting.find("profiles") if setting is not None else None, "url-filtering"
                )
                or (),
            )
