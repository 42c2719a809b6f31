"""The panos Terraform provider's resources turned into the XML element tree the device would
hold, so xml_config.py evaluates them as it evaluates a running config.

    resource "panos_security_rule_group" "office" {
      position_keyword = "top"
      rule {
        name = "deny social"  source_zones = ["trust"]  destination_zones = ["untrust"]
        source_addresses = ["any"]  destination_addresses = ["any"]  source_users = ["any"]
        applications = ["facebook-base"]  services = ["application-default"]
        categories = ["any"]  action = "deny"
      }
    }

Read: security rules from `panos_security_rule_group`, `panos_security_policy`,
`panos_panorama_security_rule_group`, `panos_panorama_security_policy` (`rule` blocks, 1.x)
and `panos_security_policy`/`panos_security_policy_rules` (`rules` lists, 2.x; `location`
names the vsys or device group and `rulebase`); `position_keyword` top/bottom/before/after;
address objects and groups, application groups, custom URL categories, URL filtering
profiles, security profile groups and zones in their 1.x (`panos_*`, `panos_panorama_*`) and
2.x spellings. A value Terraform computes (`var.x` without a literal default, another
resource's attribute) stays symbolic: rules whose match depends on it are `unknown`.
`dynamic` rule blocks and resources of other panos types that shape the policy (custom
applications, application filters) are TE908.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

from policy_lint.dialects.firewalls.panos.xml_config import line_of, stamp
from policy_lint.dialects.semantics import terraform as tf
from policy_lint.model import Problem, Span

RULE_RESOURCES = {
    "panos_security_rule_group",
    "panos_security_policy",
    "panos_security_policy_rules",
    "panos_panorama_security_rule_group",
    "panos_panorama_security_policy",
}
# Rule attribute (1.x and 2.x spellings) -> element of the rule entry.
RULE_FIELDS = {
    "source_zones": "from",
    "destination_zones": "to",
    "source_addresses": "source",
    "destination_addresses": "destination",
    "source_users": "source-user",
    "applications": "application",
    "services": "service",
    "categories": "category",
    "category": "category",
    "hip_profiles": "source-hip",
    "source_hips": "source-hip",
    "destination_hips": "destination-hip",
}
RULE_SCALARS = {
    "action": "action",
    "schedule": "schedule",
    "type": "rule-type",
    "rule_type": "rule-type",
}
RULE_FLAGS = {
    "disabled": "disabled",
    "negate_source": "negate-source",
    "negate_destination": "negate-destination",
}
URL_ACTION_FIELDS = {
    "block_categories": "block",
    "alert_categories": "alert",
    "allow_categories": "allow",
    "continue_categories": "continue",
    "override_categories": "override",
    "block": "block",
    "alert": "alert",
    "allow": "allow",
    "continue": "continue",
    "override": "override",
}
POLICY_SHAPING = {
    "panos_application_object",
    "panos_panorama_application_object",
    "panos_application_signature",
    "panos_application_filter",
}


def _text(value: Any) -> str:
    if isinstance(value, tf.Symbolic):
        return value.expression if value.expression.startswith("${") else "${" + value.expression + "}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [_text(v) for v in value]
    return [_text(value)]


class Builder:
    def __init__(self, doc: tf.TerraformFile, shown: str):
        self.doc = doc
        self.shown = shown
        self.problems: list[Problem] = []
        self.root = ET.Element("config")
        stamp(self.root, 1)
        devices = self._sub(self.root, "devices", 1)
        self.device = self._sub(devices, "entry", 1, name="localhost.localdomain")
        self.rule_lists: dict[tuple[str, str, str], list[ET.Element]] = {}
        self.read = 0

    def _sub(self, node: ET.Element, tag: str, line: int, **attrs: str) -> ET.Element:
        for child in node.findall(tag):
            if all(child.get(k) == v for k, v in attrs.items()):
                return child
        child = ET.SubElement(node, tag, attrib=dict(attrs))
        stamp(child, line)
        return child

    def _holder(self, body: Mapping[str, Any], line: int) -> tuple[str, str]:
        """(kind, name) of the scope a resource belongs to: vsys, device-group or shared."""
        location = body.get("location")
        if isinstance(location, list) and location:
            location = location[0]
        if isinstance(location, Mapping):
            for key, value in location.items():
                value = value[0] if isinstance(value, list) and value else value
                if key == "device_group" and isinstance(value, Mapping):
                    return "device-group", _text(value.get("name", ""))
                if key == "vsys" and isinstance(value, Mapping):
                    return "vsys", _text(value.get("name", "vsys1"))
                if key == "shared":
                    return "shared", ""
        if "device_group" in body:
            name = _text(body["device_group"])
            return ("shared", "") if name == "shared" else ("device-group", name)
        return "vsys", _text(body.get("vsys", "vsys1")) or "vsys1"

    def _scope(self, kind: str, name: str, line: int) -> ET.Element:
        if kind == "shared":
            return self._sub(self.root, "shared", line)
        return self._sub(self._sub(self.device, kind, line), "entry", line, name=name)

    def build(self) -> None:
        for block in self.doc.resources():
            kind = block.labels[0] if block.labels else ""
            body = {k: self.doc.resolve(v) for k, v in tf.strip_meta(block.body).items()}
            if not kind.startswith("panos_"):
                continue
            holder_kind, holder_name = self._holder(body, block.line)
            scope = self._scope(holder_kind, holder_name, block.line)
            if kind in RULE_RESOURCES:
                self._rules(block, body, holder_kind, holder_name)
            elif kind.endswith("address_object") or kind in ("panos_address", "panos_addresses"):
                self._address(scope, body, block.line)
            elif kind.endswith("address_group"):
                e = self._entry(scope, "address-group", body, block.line)
                self._members(e, "static", body.get("static_addresses") or body.get("static"), block.line)
                if body.get("dynamic_match") or body.get("dynamic"):
                    dyn = self._sub(e, "dynamic", block.line)
                    flt = self._sub(dyn, "filter", block.line)
                    flt.text = _text(body.get("dynamic_match") or body.get("dynamic"))
            elif kind.endswith("application_group"):
                e = self._entry(scope, "application-group", body, block.line)
                self._members(e, "members", body.get("applications") or body.get("members"), block.line)
            elif kind.endswith("custom_url_category"):
                e = self._entry(
                    self._sub(scope, "profiles", block.line), "custom-url-category", body, block.line
                )
                self._members(e, "list", body.get("sites") or body.get("list"), block.line)
                self._sub(e, "type", block.line).text = _text(body.get("type", "URL List"))
            elif kind.endswith(("url_filtering_security_profile", "url_filtering_profile")):
                e = self._entry(self._sub(scope, "profiles", block.line), "url-filtering", body, block.line)
                for field, action in URL_ACTION_FIELDS.items():
                    if field in body:
                        self._members(
                            e, action, body[field], self.doc.attribute_line(block.body, field, block.line)
                        )
                for field, tag in (("block_list", "block-list"), ("allow_list", "allow-list")):
                    if field in body:
                        self._members(e, tag, body[field], block.line)
                if "block_list_action" in body:
                    self._sub(e, "action", block.line).text = _text(body["block_list_action"])
            elif kind.endswith("security_profile_group"):
                e = self._entry(scope, "profile-group", body, block.line)
                self._members(e, "url-filtering", body.get("url_filtering"), block.line)
            elif kind.endswith("_zone"):
                e = self._entry(scope, "zone", body, block.line)
                network = self._sub(e, "network", block.line)
                self._members(network, _text(body.get("mode", "layer3")), body.get("interfaces"), block.line)
            elif kind in POLICY_SHAPING:
                self._entry(scope, "application", body, block.line)
                self.problems.append(
                    Problem(
                        "TE908",
                        Span(self.shown, block.line, 1, f"{kind} {_text(body.get('name', ''))}"),
                        f"{kind}: custom application signatures are not evaluated",
                    )
                )
            # Other panos resources (interfaces, routers, ...) are read and shape no security
            # policy: they count as understood.
            self.read += 1
        self._place_rules()

    def _entry(self, scope: ET.Element, tag: str, body: Mapping[str, Any], line: int) -> ET.Element:
        return self._sub(self._sub(scope, tag, line), "entry", line, name=_text(body.get("name", "")))

    def _members(self, node: ET.Element, tag: str, value: Any, line: int) -> None:
        child = self._sub(node, tag, line)
        for v in _list(value):
            m = ET.SubElement(child, "member")
            m.text = v
            stamp(m, line)

    def _address(self, scope: ET.Element, body: Mapping[str, Any], line: int) -> None:
        e = self._entry(scope, "address", body, line)
        kind = _text(body.get("type", ""))
        value = body.get("value")
        for field in ("ip_netmask", "ip_range", "fqdn", "ip_wildcard"):
            if field in body:
                kind, value = field.replace("_", "-"), body[field]
        if kind and value is not None:
            self._sub(e, kind, line).text = _text(value)

    # ------------------------------------------------------------------ rules
    def _rules(self, block: tf.Block, body: Mapping[str, Any], holder_kind: str, holder_name: str) -> None:
        rulebase = _text(body.get("rulebase", ""))
        location = body.get("location")
        if isinstance(location, list) and location:
            location = location[0]
        if isinstance(location, Mapping):
            for value in location.values():
                value = value[0] if isinstance(value, list) and value else value
                if isinstance(value, Mapping) and "rulebase" in value:
                    rulebase = _text(value["rulebase"])
        if holder_kind in ("device-group", "shared") and not rulebase:
            rulebase = "pre-rulebase"
        rulebase = rulebase or "rulebase"
        if "dynamic" in block.body:
            self.problems.append(
                Problem(
                    "TE908",
                    Span(self.shown, block.line, 1, f"{block.labels[0]} {'.'.join(block.labels[1:])}"),
                    "dynamic rule blocks are not evaluated (their rules are computed by Terraform)",
                )
            )
        bodies: list[Mapping[str, Any]] = list(tf.nested(block.body, "rule"))
        listed = body.get("rules")
        if isinstance(listed, list):
            bodies.extend(r for r in listed if isinstance(r, Mapping))
        elements = [self._rule(block, rule) for rule in bodies]
        key = (holder_kind, holder_name, rulebase)
        current = self.rule_lists.setdefault(key, [])
        position = _text(body.get("position_keyword", "")).lower()
        reference = _text(body.get("position_reference", ""))
        names = [e.get("name") for e in current]
        if position in ("top", "directly-before", "before") and (position == "top" or reference in names):
            at = 0 if position == "top" else names.index(reference)
            current[at:at] = elements
        elif position in ("after", "directly-after") and reference in names:
            at = names.index(reference) + 1
            current[at:at] = elements
        else:
            current.extend(elements)

    def _rule(self, block: tf.Block, rule: Mapping[str, Any]) -> ET.Element:
        name = _text(self.doc.resolve(rule.get("name", "")))
        start = int(rule.get("__start_line__", 0))
        line = self._line_naming(
            start or block.line, int(rule.get("__end_line__", 0)) or block.end_line, name
        )
        e = ET.Element("entry", name=name)
        stamp(e, line)
        for field, tag in RULE_FIELDS.items():
            if field in rule:
                self._members(e, tag, self.doc.resolve(rule[field]), line)
        for field, tag in RULE_SCALARS.items():
            if field in rule:
                self._sub(e, tag, line).text = _text(self.doc.resolve(rule[field]))
        for field, tag in RULE_FLAGS.items():
            value = self.doc.resolve(rule.get(field))
            if value is not None:
                self._sub(e, tag, line).text = _text(value)
        setting_group = rule.get("group")
        setting_url = rule.get("url_filtering")
        profile_setting = rule.get("profile_setting")
        if isinstance(profile_setting, list) and profile_setting:
            profile_setting = profile_setting[0]
        if isinstance(profile_setting, Mapping):
            setting_group = profile_setting.get("group", setting_group)
            profiles = profile_setting.get("profiles")
            if isinstance(profiles, list) and profiles:
                profiles = profiles[0]
            if isinstance(profiles, Mapping):
                setting_url = profiles.get("url_filtering", setting_url)
        if setting_group or setting_url:
            ps = self._sub(e, "profile-setting", line)
            if setting_group:
                self._members(ps, "group", self.doc.resolve(setting_group), line)
            if setting_url:
                self._members(
                    self._sub(ps, "profiles", line), "url-filtering", self.doc.resolve(setting_url), line
                )
        return e

    def _line_naming(self, start: int, end: int, name: str) -> int:
        """The line of the rule's `name = "..."` (where users look for a rule), else its start."""
        quoted = f'"{name}"'
        for number in range(start, min(end, len(self.doc.lines)) + 1):
            if quoted in self.doc.lines[number - 1]:
                return number
        return start

    def _place_rules(self) -> None:
        for (kind, name, rulebase), elements in self.rule_lists.items():
            first = min((line_of(e) for e in elements), default=1)
            scope = self._scope(kind, name, first)
            rules = self._sub(self._sub(self._sub(scope, rulebase, first), "security", first), "rules", first)
            rules.extend(elements)
            self.read += 0


def build(lines: list[str], shown: str) -> tuple[ET.Element | None, list[Problem], int]:
    """The element tree of the panos resources in a Terraform file, the problems, and how many
    resources were read (0: none of the file's resources is a panos one)."""
    try:
        doc = tf.load(lines)
    except tf.TerraformError as exc:
        return None, [Problem("TE901", Span(shown, 1, 1), str(exc))], 0
    builder = Builder(doc, shown)
    builder.build()
    return builder.root, builder.problems, builder.read
