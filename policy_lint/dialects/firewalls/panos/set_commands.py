"""The `set` command format (`show config running` in set mode, or a script of commands)
turned into the XML element tree the device keeps, so xml_config.py reads both alike.

    set rulebase security rules "Block FB" from trust to untrust application facebook-base action deny
    set address Guests ip-netmask 10.20.0.0/24
    set profiles url-filtering Office block [ social-networking ]
    set device-group Branch pre-rulebase security rules R1 action allow

A command names a path into the tree; a name after a list keyword (`rules`, `address`,
`zone`, ...) is an `<entry name=...>`; `[ a b ]` is a member list; several `key value` pairs
may follow one entry (PAN-OS's CLI accepts them on one line). Commands without a `vsys`,
`shared`, `device-group` or `template` prefix belong to vsys1 (a single-vsys firewall).
Lines other than `set` commands (`delete`, `edit`, comments) are not read.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from policy_lint.dialects.firewalls.panos.xml_config import line_of, stamp
from policy_lint.model import Problem, Span

SET = re.compile(r"^\s*set\s+", re.I)
_TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)"|\'([^\']*)\'|(\[)|(\])|([^\s\[\]"\']+)')

# Keywords after which a name is an entry, wherever they stand.
ENTRY_LISTS = {
    "rules",
    "address",
    "address-group",
    "application-group",
    "application-filter",
    "application",
    "service",
    "service-group",
    "schedule",
    "zone",
    "custom-url-category",
    "profile-group",
    "vsys",
    "device-group",
    "template",
    "virtual-router",
    "static-route",
}
# Inside a rule these keywords are member lists, not object lists.
RULE_FIELDS = {"application", "service", "source", "destination", "category", "address"}
# Keywords whose next word is a deeper keyword rather than a value.
NESTED = {
    "rulebase": {"security", "nat", "default-security-rules", "decryption"},
    "pre-rulebase": {"security", "nat", "default-security-rules", "decryption"},
    "post-rulebase": {"security", "nat", "default-security-rules", "decryption"},
    "security": {"rules"},
    "nat": {"rules"},
    "default-security-rules": {"rules"},
    "profile-setting": {"group", "profiles"},
    "profiles": {"url-filtering", "custom-url-category"},
    "protocol": {"tcp", "udp", "sctp"},
    "tcp": {"port", "source-port"},
    "udp": {"port", "source-port"},
    "sctp": {"port", "source-port"},
    "network": {"layer3", "layer2", "virtual-wire", "tap", "tunnel", "external", "virtual-router"},
    "routing-table": {"ip"},
    "ip": {"static-route"},
    "dynamic": {"filter"},
    "source-translation": {"dynamic-ip-and-port", "dynamic-ip", "static-ip"},
    "devices": {"entry"},
}


class SetError(ValueError):
    pass


def tokens(line: str) -> list[str | list[str]]:
    out: list[str | list[str]] = []
    stack: list[list[str]] = []
    for m in _TOKEN.finditer(line):
        dq, sq, open_, close, word = m.groups()
        if open_:
            stack.append([])
            continue
        if close:
            if not stack:
                raise SetError("']' without '['")
            done = stack.pop()
            (stack[-1].extend(done) if stack else out.append(done))
            continue
        value = dq if dq is not None else sq if sq is not None else word
        value = value.replace('\\"', '"')
        (stack[-1].append(value) if stack else out.append(value))
    if stack:
        raise SetError("'[' without ']'")
    return out


class TreeBuilder:
    """Builds <config> from set commands, each element stamped with the line that made it."""

    def __init__(self) -> None:
        self.root = ET.Element("config")
        stamp(self.root, 1)
        self.parent: dict[ET.Element, ET.Element] = {}
        self.device = self._entry(self._child(self.root, "devices", 1), "localhost.localdomain", 1)

    def _child(self, node: ET.Element, tag: str, line: int) -> ET.Element:
        found = node.find(tag)
        if found is None:
            found = ET.SubElement(node, tag)
            stamp(found, line)
            self.parent[found] = node
        return found

    def _entry(self, node: ET.Element, name: str, line: int) -> ET.Element:
        for e in node.findall("entry"):
            if e.get("name") == name:
                return e
        e = ET.SubElement(node, "entry", name=name)
        stamp(e, line)
        self.parent[e] = node
        return e

    def _in_rule(self, node: ET.Element) -> bool:
        holder = self.parent.get(node)
        return node.tag == "entry" and holder is not None and holder.tag == "rules"

    def _is_list(self, node: ET.Element, tag: str) -> bool:
        if self._in_rule(node) and tag in RULE_FIELDS:
            return False
        if tag == "url-filtering":
            grand = self.parent.get(node)
            return node.tag == "profiles" and (grand is None or grand.tag != "profile-setting")
        if tag == "rules":
            return True
        if tag in ("address", "service", "application", "zone"):
            # Object lists stand in a vsys, shared or device group, never inside an object.
            return node.tag in ("config", "shared") or (
                node.tag == "entry"
                and self.parent.get(node) is not None
                and self.parent[node].tag in ("vsys", "device-group")
            )
        return tag in ENTRY_LISTS

    def add(self, words: list[str | list[str]], line: int) -> None:
        if not words or not isinstance(words[0], str):
            raise SetError("a set command names a path")
        head = words[0]
        node: ET.Element
        if head == "shared":
            node, rest = self._child(self.root, "shared", line), words[1:]
        elif head in ("vsys", "device-group", "template") and len(words) > 1 and isinstance(words[1], str):
            node = self._entry(self._child(self.device, head, line), words[1], line)
            rest = words[2:]
        elif head in ("network", "deviceconfig"):
            node, rest = self.device, words
        elif head in ("mgt-config", "readonly", "panorama"):
            return
        else:
            node = self._entry(self._child(self.device, "vsys", line), "vsys1", line)
            rest = words
        self._assign(node, rest, line)

    def _assign(self, node: ET.Element, words: list[str | list[str]], line: int) -> None:
        i = 0
        while i < len(words):
            tag = words[i]
            if not isinstance(tag, str):
                raise SetError("a list where a keyword was expected")
            if i + 1 >= len(words):
                self._child(node, tag, line)  # a flag (`set ... disabled` has a value; some have none)
                return
            nxt = words[i + 1]
            if isinstance(nxt, str) and self._is_list(node, tag):
                node = self._entry(self._child(node, tag, line), nxt, line)
                i += 2
                continue
            if isinstance(nxt, str) and nxt in NESTED.get(tag, ()) and i + 2 < len(words):
                node = self._child(node, tag, line)
                i += 1
                continue
            self._leaf(node, tag, nxt, line)
            i += 2

    def _leaf(self, node: ET.Element, tag: str, value: str | list[str], line: int) -> None:
        child = self._child(node, tag, line)
        values = value if isinstance(value, list) else [value]
        if isinstance(value, str) and not list(child) and not (child.text or "").strip():
            child.text = value
            return
        if (child.text or "").strip():  # a second value: the field is a member list
            first = ET.SubElement(child, "member")
            first.text = child.text.strip() if child.text else ""
            stamp(first, line_of(child))
            child.text = None
        for v in values:
            m = ET.SubElement(child, "member")
            m.text = v
            stamp(m, line)


def build(lines: list[str], shown: str) -> tuple[ET.Element, list[Problem], int]:
    """The element tree of the set commands in `lines`, the problems, and how many were read."""
    builder = TreeBuilder()
    problems: list[Problem] = []
    count = 0
    for number, line in enumerate(lines, 1):
        if not SET.match(line):
            continue
        try:
            words = tokens(SET.sub("", line, count=1))
            builder.add(words, number)
            count += 1
        except SetError as exc:
            problems.append(
                Problem("TE901", Span(shown, number, 1, line.strip()), f"set command not read: {exc}")
            )
    return builder.root, problems, count
