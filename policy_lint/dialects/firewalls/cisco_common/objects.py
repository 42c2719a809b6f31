"""Network and service objects and object-groups (IOS `object-group network|service`, ASA
`object network|service`, `object-group network|service`).

    object-group network SOCIAL            (IOS: `host A`, `A MASK`, `range A B`, `group-object G`)
     host 31.13.64.35
     157.240.0.0 255.255.0.0
    object network FB                      (ASA: `host`, `subnet A MASK`, `range A B`, `fqdn NAME`)
     fqdn www.facebook.com
    object-group network BLOCKED           (ASA: `network-object ...`, `group-object G`)
     network-object object FB
    object-group service WEB tcp           (ASA: `port-object eq 443`; `service-object tcp destination eq 443`)
     port-object eq https

An address is in a group when any member holds it. An ASA `fqdn` object holds the addresses
its name resolves to; here that is the probe's own host name (the connection to that name
matches, at any of its addresses; another host of the service does not). A group naming a
group or object the file does not define answers unknown for addresses no other member holds.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from policy_lint.dialects.firewalls.cisco_common.acl import (
    PORT_OPS,
    Acl,
    netmask_to_wild,
    port_value,
    v4,
    wildcard,
)
from policy_lint.dialects.firewalls.cisco_common.tree import Node
from policy_lint.model import Problem, Span


@dataclass
class Member:
    kind: str  # net | range | fqdn | ref | any | unknown
    lo: int = 0
    hi: int = 0
    version: int = 4
    name: str = ""
    span: Span | None = None


@dataclass
class NetObject:
    name: str
    span: Span
    members: list[Member] = field(default_factory=list)


@dataclass
class PortObject:
    name: str
    span: Span
    ranges: list[tuple[int, int]] = field(default_factory=list)
    refs: list[str] = field(default_factory=list)
    unknown: bool = False
    other_protocol_only: bool = False


def _net_member(words: list[str], span: Span, mask_style: str) -> Member:
    """`host A`, `A MASK`, `A/len`, `range A B`, `subnet A MASK`, `any`."""
    if not words:
        return Member("unknown", span=span)
    w0 = words[0].lower()
    if w0 == "any":
        return Member("any", span=span)
    if w0 == "host" and len(words) > 1:
        try:
            ip = ipaddress.ip_address(words[1])
        except ValueError:
            return Member("unknown", name=words[1], span=span)
        return Member("net", int(ip), int(ip), ip.version, span=span)
    if w0 == "range" and len(words) > 2:
        try:
            a, b = ipaddress.ip_address(words[1]), ipaddress.ip_address(words[2])
        except ValueError:
            return Member("unknown", span=span)
        return Member("range", int(a), int(b), a.version, span=span)
    if w0 == "fqdn" and len(words) > 1:
        return Member("fqdn", name=words[-1].lower().rstrip("."), span=span)
    if w0 == "subnet":
        words = words[1:]
    if words and "/" in words[0]:
        try:
            net = ipaddress.ip_network(words[0], strict=False)
        except ValueError:
            return Member("unknown", span=span)
        return Member("net", int(net.network_address), int(net.broadcast_address), net.version, span=span)
    if len(words) >= 2 and v4(words[0]) is not None and v4(words[1]) is not None:
        base = v4(words[0]) or 0
        wild = netmask_to_wild(words[1]) if mask_style == "netmask" else wildcard(words[1])
        if wild is None:
            wild = wildcard(words[1]) if mask_style == "netmask" else netmask_to_wild(words[1])
        if wild is None:
            return Member("unknown", span=span)
        lo = base & ~wild & 0xFFFFFFFF
        return Member("net", lo, lo | wild, 4, span=span)
    if len(words) == 1 and v4(words[0]) is not None:
        only = v4(words[0]) or 0
        return Member("net", only, only, 4, span=span)
    return Member("unknown", span=span)


def read_network_group(node: Node, name: str, mask_style: str = "netmask") -> NetObject:
    """`object-group network NAME` (IOS and ASA) or `object network NAME` (ASA)."""
    obj = NetObject(name, node.span)
    for child in node.children:
        w = child.words
        k = w[0].lower()
        if k in ("description", "nat"):
            continue
        if k == "group-object" and len(w) > 1:
            obj.members.append(Member("ref", name=w[1], span=child.span))
        elif k == "network-object":
            if len(w) > 2 and w[1].lower() == "object":
                obj.members.append(Member("ref", name=w[2], span=child.span))
            else:
                obj.members.append(_net_member(w[1:], child.span, mask_style))
        else:
            obj.members.append(_net_member(w, child.span, mask_style))
    return obj


def read_service_group(node: Node, name: str) -> PortObject:
    """ASA `object-group service NAME [tcp|udp|tcp-udp]` / `object service NAME`, IOS
    `object-group service NAME`: the destination TCP ports it holds."""
    obj = PortObject(name, node.span)
    head = node.words
    group_proto = head[3].lower() if len(head) > 3 else ""
    if group_proto == "udp":
        obj.other_protocol_only = True
    for child in node.children:
        w = [x.lower() for x in child.words]
        if w[0] == "description":
            continue
        if w[0] == "group-object" and len(w) > 1:
            obj.refs.append(child.words[1])
            continue
        if w[0] in ("port-object",):
            ports = w[1:]
        elif w[0] in ("service-object", "service"):
            proto = w[1] if len(w) > 1 else ""
            if proto in ("ip",):
                obj.ranges.append((0, 65535))
                continue
            if proto not in ("tcp", "tcp-udp"):
                continue
            ports = (
                w[w.index("destination") + 1 :]
                if "destination" in w
                else (w[2:] if len(w) > 2 and w[2] in PORT_OPS else [])
            )
            if not ports:
                obj.ranges.append((0, 65535))
                continue
        elif w[0] in ("tcp", "tcp-udp"):
            ports = w[w.index("eq") :] if "eq" in w else w[1:]
            if not ports:
                obj.ranges.append((0, 65535))
                continue
        elif w[0] in ("udp", "icmp", "esp", "gre", "ahp"):
            continue
        else:
            obj.unknown = True
            continue
        r = _port_range(ports)
        if r is None:
            obj.unknown = True
        else:
            obj.ranges.append(r)
    return obj


def _port_range(words: list[str]) -> tuple[int, int] | None:
    if len(words) >= 2 and words[0] == "eq":
        p = port_value(words[1])
        return (p, p) if p is not None else None
    if len(words) >= 3 and words[0] == "range":
        a, b = port_value(words[1]), port_value(words[2])
        return (a, b) if a is not None and b is not None else None
    if len(words) >= 2 and words[0] in ("lt", "gt"):
        p = port_value(words[1])
        if p is None:
            return None
        return (0, p - 1) if words[0] == "lt" else (p + 1, 65535)
    return None


@dataclass
class Objects:
    """Every object and object-group of a file, by name, and what a lookup found missing."""

    networks: dict[str, NetObject] = field(default_factory=dict)
    services: dict[str, PortObject] = field(default_factory=dict)

    def has_address(self, name: str, addr, host: str, depth: int = 0) -> bool | None:
        obj = self.networks.get(name)
        if obj is None or depth > 16:
            return None  # not in the file (or nested past sense): what it holds is unknown
        undecided = False
        for m in obj.members:
            r = self._member(m, addr, host, depth)
            if r is True:
                return True
            if r is None:
                undecided = True
        return None if undecided else False

    def _member(self, m: Member, addr, host: str, depth: int) -> bool | None:
        if m.kind == "any":
            return True
        if m.kind in ("net", "range"):
            return addr is not None and addr.version == m.version and m.lo <= int(addr) <= m.hi
        if m.kind == "fqdn":
            return bool(host) and (host == m.name)
        if m.kind == "ref":
            return self.has_address(m.name, addr, host, depth + 1)
        return None

    def has_port(self, name: str, port: int, depth: int = 0) -> bool | None:
        obj = self.services.get(name)
        if obj is None or depth > 16:
            return None
        if obj.other_protocol_only:
            return False
        if any(lo <= port <= hi for lo, hi in obj.ranges):
            return True
        results = [self.has_port(r, port, depth + 1) for r in obj.refs]
        if True in results:
            return True
        return None if obj.unknown or None in results else False


def missing_objects(acls, objects: Objects) -> list[Problem]:
    """TE903 at every entry naming an object or object-group the file does not define: what
    that entry matches is unknown (the engine reports it where it decides)."""
    out = []
    for acl in acls:
        assert isinstance(acl, Acl)
        for e in acl.entries:
            for spec in (e.src, e.dst):
                if spec.kind == "ref" and spec.ref not in objects.networks:
                    out.append(
                        Problem(
                            "TE903",
                            e.span,
                            f"{spec.text} is not defined in this file: what it holds is unknown",
                        )
                    )
            if e.dport.op == "ref" and e.dport.ref not in objects.services:
                out.append(
                    Problem("TE903", e.span, f"service group {e.dport.ref} is not defined in this file")
                )
    return out
