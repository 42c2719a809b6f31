"""IOS/IOS-XE configuration text to the rule model (`model.Config`)."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

from policy_lint.dialects.firewalls.cisco_common.acl import AceSyntaxError, Acl, parse_ace
from policy_lint.dialects.firewalls.cisco_common.objects import (
    missing_objects,
    read_network_group,
    read_service_group,
)
from policy_lint.dialects.firewalls.cisco_common.tree import (
    MARKDOWN_SUFFIXES,
    Node,
    markdown_lines,
    read_tree,
)
from policy_lint.dialects.firewalls.cisco_ios.evaluate import IosRuleset
from policy_lint.dialects.firewalls.cisco_ios.model import (
    Action,
    Attachment,
    ClassMap,
    Config,
    Match,
    Place,
    PolicyClass,
    PolicyMap,
    ZonePair,
)
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.dialects.semantics.detection import statement_hits
from policy_lint.model import Problem, Span

FILE_PATTERNS = (
    "*.ios",
    "*-confg",
    "running-config*",
    "startup-config*",
    "*.cisco",
    "router*.cfg",
)

_STATEMENT = re.compile(
    r"^(?:hostname \S+|interface (?:GigabitEthernet|FastEthernet|TenGigabitEthernet|Ethernet|Vlan|Port-channel)\S*"
    r"|ip access-list (?:extended|standard) \S+|access-list \d+ (?:permit|deny|remark)"
    r"|class-map (?:type \w+ )?(?:match-any|match-all) \S+|policy-map (?:type inspect )?\S+"
    r"|service-policy (?:input|output) \S+|ip access-group \S+ (?:in|out)|version \d+\.\d+"
    r"|zone-pair security \S+|zone security \S+|!Chassis type:.*|ip route 0\.0\.0\.0 .*"
    r"|wireless profile policy \S+)\s*$",
    re.MULTILINE,
)
_ASA = re.compile(
    r"^(?:ASA Version|: Saved|\s*nameif \S+|\s*security-level \d+|access-list \S+ extended )", re.MULTILINE
)
# First words of IOS/IOS-XE global configuration commands (and of `show running-config`'s own
# header lines), from the IOS command references.
IOS_COMMANDS = frozenset(
    [
        "hostname",
        "version",
        "service",
        "boot-start-marker",
        "boot-end-marker",
        "boot",
        "enable",
        "aaa",
        "clock",
        "ip",
        "ipv6",
        "no",
        "logging",
        "snmp-server",
        "snmp",
        "ntp",
        "line",
        "end",
        "username",
        "crypto",
        "license",
        "spanning-tree",
        "vlan",
        "vtp",
        "redundancy",
        "router",
        "control-plane",
        "archive",
        "banner",
        "alias",
        "mac",
        "errdisable",
        "diagnostic",
        "memory",
        "multilink",
        "voice",
        "dial-peer",
        "call-home",
        "platform",
        "transceiver",
        "lldp",
        "cdp",
        "power",
        "track",
        "route-map",
        "key",
        "radius",
        "radius-server",
        "tacacs-server",
        "tacacs",
        "dot1x",
        "device-tracking",
        "parameter-map",
        "wireless",
        "wlan",
        "ap",
        "access-session",
        "authentication",
        "mls",
        "qos",
        "subscriber",
        "vrf",
        "flow",
        "sampler",
        "building",
        "current",
        "system",
        "mpls",
        "bfd",
        "udld",
        "port-channel",
        "switch",
        "stack-mac",
        "interface",
        "class-map",
        "policy-map",
        "object-group",
        "zone",
        "zone-pair",
        "access-list",
        "service-template",
        "ipv6",
        "exception",
        "login",
        "hw-module",
        "file",
        "cts",
        "sdm",
        "template",
        "identity",
        "policy",
        "ethernet",
        "network-policy",
        "username",
        "privilege",
        "event",
        "monitor",
        "netconf",
        "restconf",
        "telemetry",
        "gnxi",
        "management-interface",
        "default",
    ]
)


def detect(path: Path, head: str) -> float:
    if _ASA.search(head):
        return 0.0
    if path.suffix.lower() in MARKDOWN_SUFFIXES:
        text = "\n".join(markdown_lines(head.splitlines()))
        hits = len(_STATEMENT.findall("\n".join(x.strip() for x in text.splitlines())))
        return 0.6 if hits >= 3 else 0.0
    hits = statement_hits(path, head, _STATEMENT)
    if hits >= 3:
        return 0.95
    if hits == 2:
        return 0.8
    return (
        0.55
        if hits == 1 and re.search(r"^(ip access-list|class-map|policy-map|interface )", head, re.M)
        else 0.0
    )


def parse(path: Path, context: ParseContext) -> IosRuleset:
    shown = context.resolver.display(path)
    return IosRuleset(read_config(path, shown), context.catalog)


def read_config(path: Path, shown: str) -> Config:
    tree = read_tree(path, shown)
    cfg = Config(tree.path, problems=list(tree.problems), statements=tree.statements, first=tree.first)
    reader = _Reader(cfg)
    for node in tree.roots:
        reader.top(node)
    cfg.problems += missing_objects(cfg.acls.values(), cfg.objects)
    # Names used by other lines (a definition's own header aside): a list, class-map or
    # policy-map named nowhere else is inert.
    for node in tree.roots:
        if node.starts("ip", "access-list") or node.starts("access-list"):
            continue
        own = node.starts("class-map") or node.starts("policy-map") or node.starts("object-group")
        for n in node.walk() if own else (node, *node.walk()):
            cfg.words_used.update(n.words)
    return cfg


class _Reader:
    def __init__(self, cfg: Config):
        self.cfg = cfg

    def ok(self, node: Node, count: bool = True) -> None:
        if count:
            self.cfg.understood += 1 + sum(1 for _ in node.walk())

    def problem(self, code: str, span: Span, message: str) -> None:
        self.cfg.problems.append(Problem(code, span, message))

    def top(self, node: Node) -> None:
        w = [x.lower() for x in node.words]
        if w[:2] == ["ip", "access-list"] and len(w) >= 3:
            self.named_acl(node)
        elif w[0] == "access-list" and len(w) >= 3:
            self.numbered_ace(node)
        elif w[:2] == ["object-group", "network"] and len(w) >= 3:
            self.cfg.objects.networks[node.words[2]] = read_network_group(node, node.words[2], "netmask")
            self.ok(node)
        elif w[:2] == ["object-group", "service"] and len(w) >= 3:
            self.cfg.objects.services[node.words[2]] = read_service_group(node, node.words[2])
            self.ok(node)
        elif w[0] == "class-map" and len(w) >= 2:
            self.class_map(node)
        elif w[0] == "policy-map" and len(w) >= 2:
            self.policy_map(node)
        elif w[0] == "interface" and len(w) >= 2:
            self.interface(node)
        elif w[:3] == ["wireless", "profile", "policy"] and len(w) >= 4:
            self.wireless_profile(node)
        elif w[:2] == ["zone", "security"] and len(w) >= 3:
            self.cfg.zones[node.words[2]] = node.span
            self.ok(node)
        elif w[:2] == ["zone-pair", "security"] and len(w) >= 3:
            self.zone_pair(node)
        elif w[:2] == ["ip", "route"] and len(w) >= 5 and w[2:4] == ["0.0.0.0", "0.0.0.0"]:
            self.cfg.default_routes.append((node.words[4], node.span))
            self.ok(node)
        elif w[0] == "service-template" and len(w) >= 2:
            self.service_template(node)
        elif w[:2] == ["ipv6", "access-list"]:
            self.ok(node)  # read; applied only by `ipv6 traffic-filter` (not modelled: TE908 there)
        else:
            # Every other IOS statement (hostname, aaa, snmp, routing, lines, banners, NAT rules)
            # is read and decides nothing about web traffic through the filters modelled here. A
            # line that is no IOS command at all is not counted as understood: a file of such
            # lines is no IOS config (TE902), whatever --dialect says.
            if w[0] in IOS_COMMANDS:
                self.ok(node)

    # ------------------------------------------------------------ access lists

    def acl(self, name: str, span: Span, standard: bool) -> Acl:
        acl = self.cfg.acls.get(name)
        if acl is None:
            acl = self.cfg.acls[name] = Acl(name, span, standard=standard)
        return acl

    def named_acl(self, node: Node) -> None:
        w = node.words
        kind = w[2].lower()
        if kind in ("standard", "extended") and len(w) >= 4:
            name = w[3]
            standard = kind == "standard"
        elif kind in ("role-based", "resequence", "logging", "log-update", "match-local-traffic"):
            self.ok(node)
            return
        else:
            name = w[2]
            standard = name.isdigit() and (int(name) < 100 or 1300 <= int(name) < 2000)
        acl = self.acl(name, node.span, standard)
        self.ok(node, count=False)
        self.cfg.understood += 1
        for child in node.children:
            cw = child.words
            seq = 0
            if cw and cw[0].isdigit():
                seq = int(cw[0])
                cw = cw[1:]
            if not cw or cw[0].lower() == "remark":
                self.cfg.understood += 1
                continue
            if cw[0].lower() in ("no",) and len(cw) > 1 and cw[1].isdigit():
                acl.entries = [e for e in acl.entries if e.seq != int(cw[1])]
                self.cfg.understood += 1
                continue
            if cw[0].lower() == "evaluate":
                self.problem(
                    "TE908",
                    child.span,
                    "reflexive ACL `evaluate` is not modelled: what it lets back in is unknown",
                )
                continue
            self.entry(acl, cw, child.span, standard, seq)

    def numbered_ace(self, node: Node) -> None:
        w = node.words
        name = w[1]
        if w[2].lower() == "remark":
            self.acl(name, node.span, False)
            self.ok(node)
            return
        if not name.isdigit():
            self.problem("TE901", node.span, f"access-list {name}: IOS numbers its numbered lists")
            return
        n = int(name)
        standard = n < 100 or 1300 <= n < 2000
        rest = w[2:]
        if rest and rest[0].lower() == "dynamic":
            self.problem("TE908", node.span, "dynamic (lock-and-key) entries are not modelled")
            return
        acl = self.acl(name, node.span, standard)
        self.entry(acl, rest, node.span, standard, 0)

    def entry(self, acl: Acl, words: list[str], span: Span, standard: bool, seq: int) -> None:
        try:
            ace = parse_ace(words, span, "wildcard", standard)
        except AceSyntaxError as exc:
            self.problem("TE901", span, f"access list {acl.name}: {exc}: IOS refuses this entry")
            return
        # IOS numbers unnumbered entries 10 past the last one, so `15 deny ...` lands between 10 and 20.
        ace.seq = seq or max((e.seq for e in acl.entries), default=0) + 10
        if seq and any(e.seq == seq for e in acl.entries):
            self.problem(
                "TE901", span, f"access list {acl.name}: sequence {seq} already exists (IOS refuses it)"
            )
            return
        acl.entries.append(ace)
        self.cfg.understood += 1

    # ------------------------------------------------------------ MQC

    def class_map(self, node: Node) -> None:
        w = [x.lower() for x in node.words[1:]]
        inspect = False
        if w[:2] == ["type", "inspect"]:
            inspect = True
            w = w[2:]
        elif w[:1] == ["type"]:
            # class-map type regex/http/stack...: layer-7 maps used by inspect http/parameter maps.
            self.problem("TE908", node.span, f"class-map type {w[1] if len(w) > 1 else ''} is not modelled")
            return
        match_all = True
        if w and w[0] in ("match-any", "match-all"):
            match_all = w[0] == "match-all"
            w = w[1:]
        if not w:
            self.problem("TE901", node.span, "class-map without a name")
            return
        name = node.words[-1]
        cm = ClassMap(name, node.span, match_all, inspect)
        self.cfg.class_maps[name] = cm
        self.cfg.understood += 1
        for child in node.children:
            self.cfg.understood += 1
            cw = child.words
            if cw[0].lower() == "description":
                continue
            if cw[0].lower() != "match":
                self.problem("TE908", child.span, f"`{child.text}` in class-map {name} is not modelled")
                cm.matches.append(Match("unknown", child.text, child.span))
                continue
            cm.matches.append(self.match(cw[1:], child.span))

    def match(self, w: list[str], span: Span) -> Match:
        negate = False
        if w and w[0].lower() == "not":
            negate, w = True, w[1:]
        lw = [x.lower() for x in w]
        if lw[:1] == ["any"]:
            return Match("any", "", span, negate)
        if lw[:1] == ["protocol"] and len(w) >= 2:
            if lw[1] == "attribute" and len(w) >= 4 and lw[2] == "category":
                return Match("category", lw[3], span, negate)
            if lw[1] == "attribute":
                self.problem("TE908", span, f"NBAR attribute `{' '.join(w[2:])}` is not modelled")
                return Match("unknown", " ".join(w), span, negate)
            if lw[1] == "http" and len(w) >= 4 and lw[2] in ("host", "url"):
                return Match(
                    f"protocol-http-{lw[2]}", lw[1], span, negate, pattern=" ".join(w[3:]).strip('"')
                )
            if len(w) > 2:
                self.problem(
                    "TE908", span, f"`match protocol {' '.join(w[1:])}`: sub-classification not modelled"
                )
                return Match("unknown", " ".join(w), span, negate)
            return Match("protocol", lw[1], span, negate)
        if lw[:1] == ["access-group"] and len(w) >= 2:
            name = w[2] if lw[1] == "name" and len(w) >= 3 else w[1]
            return Match("acl", name, span, negate)
        if lw[:1] == ["class-map"] and len(w) >= 2:
            return Match("class", w[1], span, negate)
        self.problem(
            "TE908", span, f"`match {' '.join(w)}` is not modelled: what the class matches is unknown"
        )
        return Match("unknown", " ".join(w), span, negate)

    def policy_map(self, node: Node) -> None:
        w = [x.lower() for x in node.words[1:]]
        inspect = False
        if (
            w[:2] == ["type", "inspect"]
            and len(w) >= 3
            and w[2] not in ("http", "im", "p2p", "smtp", "pop3", "imap")
        ):
            inspect = True
        elif w[:1] == ["type"]:
            self.problem("TE908", node.span, f"policy-map type {' '.join(w[1:-1])} is not modelled")
            return
        name = node.words[-1]
        pm = PolicyMap(name, node.span, inspect)
        self.cfg.policy_maps[name] = pm
        self.cfg.understood += 1
        for child in node.children:
            self.cfg.understood += 1
            cw = [x.lower() for x in child.words]
            if cw[0] == "description":
                continue
            if cw[0] != "class":
                self.problem("TE908", child.span, f"`{child.text}` in policy-map {name} is not modelled")
                continue
            cname = child.words[-1]
            pc = PolicyClass(cname, child.span)
            pm.classes.append(pc)
            for a in child.children:
                self.cfg.understood += 1 + sum(1 for _ in a.walk())
                act = self.action(a)
                if act is not None:
                    pc.actions.append(act)

    def action(self, node: Node) -> Action | None:
        w = [x.lower() for x in node.words]
        k = w[0]
        if k == "drop":
            return Action("drop", node.span)
        if k in ("pass", "inspect"):
            return Action(k, node.span)
        if k == "police":
            words = w + [x.lower() for n in node.walk() for x in n.words]
            conform = _after(words, "conform-action") or "transmit"
            exceed = _after(words, "exceed-action") or "drop"
            if conform == "drop":
                if exceed == "drop" and (_after(words, "violate-action") or "drop") == "drop":
                    return Action(
                        "police-drop", node.span, note="conform-action drop: every packet is dropped"
                    )
                return Action(
                    "unknown", node.span, note="conform-action drop with exceed traffic sent: rate-dependent"
                )
            return Action("police", node.span)
        if k == "shape":
            return Action("shape", node.span)
        if k == "service-policy" and len(w) >= 2:
            return Action("child", node.span, child=node.words[-1])
        if k in (
            "bandwidth",
            "priority",
            "set",
            "queue-limit",
            "random-detect",
            "fair-queue",
            "log",
            "description",
        ):
            # bandwidth/priority guarantee a share under congestion; marking changes no delivery.
            return Action("none", node.span)
        self.problem("TE908", node.span, f"policy action `{node.text}` is not modelled")
        return Action("unknown", node.span, note=f"`{node.text}` is not modelled")

    # ------------------------------------------------------------ places

    def interface(self, node: Node) -> None:
        self.cfg.has_interfaces = True
        name = node.words[1]
        place = Place(name, node.span, "interface")
        low = name.lower()
        if low.startswith(("loopback", "null")):
            self.ok(node)
            return
        self.cfg.understood += 1
        for child in node.children:
            self.cfg.understood += 1
            w = [x.lower() for x in child.words]
            if w[:2] == ["ip", "access-group"] and len(w) >= 4:
                place.attachments.append(Attachment("acl", child.words[2], w[3], child.span))
            elif w[:2] == ["ipv6", "traffic-filter"] and len(w) >= 4:
                place.attachments.append(Attachment("ipv6-acl", child.words[2], w[3], child.span))
            elif w[0] == "service-policy" and len(w) >= 3:
                self.service_policy(place, child)
            elif w[:2] == ["zone-member", "security"] and len(w) >= 3:
                place.zone, place.zone_span = child.words[2], child.span
            elif w[:2] == ["ip", "inspect"] and len(w) >= 4:
                place.cbac = child.span
            elif w[:2] == ["ip", "nat"] and len(w) >= 3:
                place.nat = w[2]
            elif w[:2] == ["ip", "address"] and len(w) >= 3:
                place.layer3 = True
                if w[2] == "dhcp":
                    place.dhcp = True
                elif len(w) >= 4 and "secondary" not in w:
                    try:
                        place.network = ipaddress.IPv4Interface(f"{w[2]}/{w[3]}")
                    except ValueError:
                        self.problem("TE901", child.span, f"bad address `{child.text}`")
            elif w[:2] == ["encapsulation", "dot1q"] and len(w) >= 3:
                place.vlan = w[2]
            elif w[:2] == ["ip", "unnumbered"] or w[:1] == ["pppoe-client"]:
                place.layer3 = True
            elif w == ["shutdown"]:
                place.shutdown = True
            elif w == ["no", "shutdown"]:
                place.shutdown = False
        self.cfg.places.append(place)

    def service_policy(self, place: Place, child: Node) -> None:
        w = [x.lower() for x in child.words]
        rest = [x for x in w[1:] if x not in ("client", "qos", "type", "inspect")]
        if rest and rest[0] in ("input", "output") and len(rest) >= 2:
            place.attachments.append(
                Attachment("policy", child.words[-1], "in" if rest[0] == "input" else "out", child.span)
            )
        else:
            self.problem("TE908", child.span, f"`{child.text}` is not modelled")

    def wireless_profile(self, node: Node) -> None:
        place = Place(node.words[3], node.span, "wireless-profile", layer3=True)
        self.cfg.understood += 1
        for child in node.children:
            self.cfg.understood += 1
            w = [x.lower() for x in child.words]
            if w[0] == "service-policy":
                self.service_policy(place, child)
            elif w == ["shutdown"]:
                place.shutdown = True
            elif w == ["no", "shutdown"]:
                place.shutdown = False
        self.cfg.places.append(place)

    def service_template(self, node: Node) -> None:
        self.ok(node)
        self.problem(
            "TE907",
            node.span,
            f"service-template {node.words[1]} applies only to sessions that an AAA server or an "
            "identity control policy assigns it to: which clients get it is decided outside this file",
        )

    def zone_pair(self, node: Node) -> None:
        w = [x.lower() for x in node.words]
        src = node.words[w.index("source") + 1] if "source" in w and w.index("source") + 1 < len(w) else ""
        dst = (
            node.words[w.index("destination") + 1]
            if "destination" in w and w.index("destination") + 1 < len(w)
            else ""
        )
        zp = ZonePair(node.words[2], src, dst, node.span)
        for child in node.children:
            cw = [x.lower() for x in child.words]
            if cw[:3] == ["service-policy", "type", "inspect"] and len(cw) >= 4:
                zp.policy, zp.policy_span = child.words[3], child.span
        self.cfg.zone_pairs.append(zp)
        self.ok(node)


def _after(words: list[str], key: str) -> str:
    if key in words:
        i = words.index(key)
        if i + 1 < len(words):
            return words[i + 1]
    return ""
