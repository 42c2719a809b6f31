"""Cisco ASA configuration text (`show running-config`, `write net`, RANCID/Oxidized backups)
to the rule model (`model.Config`)."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

from policy_lint.dialects.firewalls.cisco_asa.evaluate import AsaRuleset
from policy_lint.dialects.firewalls.cisco_asa.model import (
    AccessGroup,
    Attachment,
    Config,
    HttpPolicy,
    Interface,
    L4Class,
    L7Class,
    L7Match,
    ServicePolicy,
    ServicePolicyClass,
)
from policy_lint.dialects.firewalls.cisco_common.acl import AceSyntaxError, Acl, parse_ace, port_value
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
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.dialects.semantics.detection import statement_hits
from policy_lint.model import Problem, Span

FILE_PATTERNS = ("*.asa", "asa*.cfg", "asa*.conf", "*asa*-confg", "asa*.txt")

_STATEMENT = re.compile(
    r"^(?:ASA Version \S+|: Saved|\s*nameif \S+|\s*security-level \d+|access-list \S+ (?:line \d+ )?extended .*"
    r"|access-group \S+ (?:in|out) interface \S+|access-group \S+ global|object network \S+"
    r"|policy-map type inspect http \S+|service-policy \S+ (?:global|interface \S+)|same-security-traffic .*)\s*$",
    re.MULTILINE,
)

# First words of ASA global configuration commands (ASA command reference), and the
# `Cryptochecksum:` line `show running-config` ends with.
ASA_COMMANDS = frozenset(
    [
        "asa",
        "hostname",
        "domain-name",
        "enable",
        "passwd",
        "names",
        "name",
        "interface",
        "ftp",
        "clock",
        "dns",
        "same-security-traffic",
        "object",
        "object-group",
        "access-list",
        "access-group",
        "pager",
        "logging",
        "mtu",
        "failover",
        "icmp",
        "asdm",
        "arp",
        "nat",
        "route",
        "timeout",
        "user-identity",
        "aaa",
        "aaa-server",
        "http",
        "snmp-server",
        "crypto",
        "telnet",
        "ssh",
        "console",
        "threat-detection",
        "dhcpd",
        "dhcprelay",
        "ntp",
        "ssl",
        "webvpn",
        "group-policy",
        "username",
        "tunnel-group",
        "class-map",
        "policy-map",
        "service-policy",
        "prompt",
        "call-home",
        "cryptochecksum:",
        "no",
        "regex",
        "dynamic-access-policy-record",
        "license",
        "boot",
        "vpn-sessiondb",
        "firewall",
        "service",
        "monitor-interface",
        "sysopt",
        "tls-proxy",
        "end",
        "terminal",
        "management-access",
        "ipv6",
        "router",
        "prefix-list",
        "route-map",
        "vpdn",
        "anyconnect",
        "xlate",
        "flow-export",
    ]
)


def detect(path: Path, head: str) -> float:
    text = head
    if path.suffix.lower() in MARKDOWN_SUFFIXES:
        text = "\n".join(markdown_lines(head.splitlines()))
        hits = len(_STATEMENT.findall(text))
        return 0.6 if hits >= 3 else 0.0
    if re.search(r"^ASA Version \d", head, re.MULTILINE):
        return 1.0
    hits = statement_hits(path, text, _STATEMENT)
    if hits >= 3:
        return 0.95
    if hits == 2:
        return 0.8
    return 0.0


def parse(path: Path, context: ParseContext) -> AsaRuleset:
    shown = context.resolver.display(path)
    return AsaRuleset(read_config(path, shown), context.catalog)


def read_config(path: Path, shown: str) -> Config:
    tree = read_tree(path, shown)
    cfg = Config(tree.path, problems=list(tree.problems), statements=tree.statements, first=tree.first)
    reader = _Reader(cfg)
    for node in tree.roots:
        reader.top(node)
    cfg.problems += missing_objects(cfg.acls.values(), cfg.objects)
    return cfg


class _Reader:
    def __init__(self, cfg: Config):
        self.cfg = cfg

    def ok(self, node: Node) -> None:
        self.cfg.understood += 1 + sum(1 for _ in node.walk())

    def problem(self, code: str, span: Span, message: str) -> None:
        self.cfg.problems.append(Problem(code, span, message))

    def top(self, node: Node) -> None:
        w = [x.lower() for x in node.words]
        if w[0] == "access-list" and len(w) >= 3:
            self.access_list(node)
        elif w[0] == "access-group" and len(w) >= 3:
            self.access_group(node)
        elif w[0] == "interface" and len(w) >= 2:
            self.interface(node)
        elif w[:2] in (["object", "network"], ["object-group", "network"]) and len(w) >= 3:
            self.cfg.objects.networks[node.words[2]] = read_network_group(node, node.words[2], "netmask")
            self.ok(node)
        elif w[:2] in (["object", "service"], ["object-group", "service"]) and len(w) >= 3:
            self.cfg.objects.services[node.words[2]] = read_service_group(node, node.words[2])
            self.ok(node)
        elif w[0] == "route" and len(w) >= 5 and w[2:4] in (["0.0.0.0", "0.0.0.0"], ["0", "0"]):
            self.cfg.routes.append((node.words[1], node.span))
            self.ok(node)
        elif w[:3] == ["same-security-traffic", "permit", "inter-interface"]:
            self.cfg.same_security = True
            self.ok(node)
        elif w[0] == "regex" and len(w) >= 3:
            pattern = node.text.split(None, 2)[2].strip()
            if len(pattern) >= 2 and pattern[0] == pattern[-1] == '"':
                pattern = pattern[1:-1]
            self.cfg.regexes[node.words[1]] = (pattern, node.span)
            self.ok(node)
        elif w[:2] == ["class-map", "type"] and len(w) >= 4:
            self.typed_class_map(node, w)
        elif w[0] == "class-map" and len(w) >= 2:
            self.l4_class(node)
        elif w[:4] == ["policy-map", "type", "inspect", "http"] and len(w) >= 5:
            self.http_policy(node)
        elif w[:2] == ["policy-map", "type"]:
            self.ok(node)  # other inspection maps (dns, esmtp, ...) decide no web request
        elif w[0] == "policy-map" and len(w) >= 2:
            self.service_policy_map(node)
        elif w[0] == "service-policy" and len(w) >= 3:
            if w[2] == "global":
                self.cfg.attachments.append(Attachment(node.words[1], "", node.span))
            elif w[2] == "interface" and len(w) >= 4:
                self.cfg.attachments.append(Attachment(node.words[1], node.words[3], node.span))
            self.ok(node)
        elif w[0] in ASA_COMMANDS:
            self.ok(node)  # read; decides nothing about web traffic through the ASA's filters
        # Any other line is no ASA command: not counted as understood (a file of such lines is
        # no ASA config, TE902, whatever --dialect says).

    # ------------------------------------------------------------ access lists

    def access_list(self, node: Node) -> None:
        words = node.words
        name = words[1]
        rest = words[2:]
        line = 0
        if rest and rest[0].lower() == "line" and len(rest) > 1:
            line = int(rest[1]) if rest[1].isdigit() else 0
            rest = rest[2:]
        kind = rest[0].lower() if rest else ""
        if kind == "remark":
            self.cfg.acls.setdefault(name, Acl(name, node.span))
            self.ok(node)
            return
        if kind in ("standard", "webtype", "ethertype"):
            self.ok(node)  # route-map, clientless VPN and layer-2 lists: no routed web traffic
            return
        if kind != "extended":
            self.problem(
                "TE901", node.span, f"access-list {name}: `{node.text}` is no access-list ASA accepts"
            )
            return
        acl = self.cfg.acls.setdefault(name, Acl(name, node.span))
        try:
            ace = parse_ace(rest[1:], node.span, "netmask")
        except AceSyntaxError as exc:
            self.problem("TE901", node.span, f"access-list {name}: {exc}: ASA refuses this entry")
            return
        if ace.src.kind == "interface" or ace.dst.kind == "interface":
            ace.unknown = "`interface` names the ASA's own address: traffic to the box, not through it"
        if line:
            # `line N` inserts the entry at that position (counting entries; remarks are not kept).
            acl.entries.insert(line - 1, ace)
        else:
            acl.entries.append(ace)
        self.cfg.understood += 1

    def access_group(self, node: Node) -> None:
        w = [x.lower() for x in node.words]
        if w[2] == "global":
            self.cfg.groups.append(AccessGroup(node.words[1], "global", "", node.span))
        elif w[2] in ("in", "out") and len(w) >= 5 and w[3] == "interface":
            if "control-plane" in w:
                self.ok(node)  # to-the-box traffic
                return
            self.cfg.groups.append(AccessGroup(node.words[1], w[2], node.words[4], node.span))
        else:
            self.problem(
                "TE901", node.span, f"`{node.text}`: ASA expects `in|out interface NAME` or `global`"
            )
            return
        self.ok(node)

    # ------------------------------------------------------------ interfaces

    def interface(self, node: Node) -> None:
        self.cfg.has_interfaces = True
        itf = Interface(node.words[1], node.span)
        for child in node.children:
            w = [x.lower() for x in child.words]
            if w[0] == "nameif" and len(w) >= 2:
                itf.nameif = child.words[1]
            elif w[0] == "security-level" and len(w) >= 2 and w[1].isdigit():
                itf.level = int(w[1])
            elif w[:2] == ["ip", "address"] and len(w) >= 4 and w[2] != "dhcp":
                try:
                    itf.network = ipaddress.IPv4Interface(f"{w[2]}/{w[3]}")
                except ValueError:
                    self.problem("TE901", child.span, f"bad address `{child.text}`")
            elif w == ["shutdown"]:
                itf.shutdown = True
            elif w == ["no", "nameif"]:
                itf.nameif = ""
        self.ok(node)
        self.cfg.interfaces.append(itf)

    # ------------------------------------------------------------ HTTP inspection

    def typed_class_map(self, node: Node, w: list[str]) -> None:
        # class-map type regex match-any NAME | class-map type inspect http [match-all|match-any] NAME
        name = node.words[-1]
        match_all = "match-any" not in w
        if w[2] == "regex":
            names = [c.words[2] for c in node.children if c.starts("match", "regex") and len(c.words) >= 3]
            self.cfg.regex_classes[name] = (match_all, names, node.span)
            self.ok(node)
            return
        if w[2:4] == ["inspect", "http"]:
            cls = L7Class(name, node.span, match_all)
            for child in node.children:
                if child.starts("match"):
                    cls.matches.append(self.l7_match(child))
            self.cfg.l7_classes[name] = cls
            self.ok(node)
            return
        self.ok(node)  # other inspection classes (dns, sip, ...): no web request

    def l7_match(self, node: Node) -> L7Match:
        w = [x.lower() for x in node.words[1:]]
        words = node.words[1:]
        negate = bool(w) and w[0] == "not"
        if negate:
            w, words = w[1:], words[1:]
        fld = ""
        if w[:4] == ["request", "header", "host", "regex"]:
            fld, rest = "host", words[4:]
        elif w[:3] == ["request", "uri", "regex"]:
            fld, rest = "uri", words[3:]
        else:
            self.problem(
                "TE908",
                node.span,
                f"HTTP inspection `{node.text}` is not modelled: what it matches is unknown",
            )
            return L7Match("unknown", (), node.span, negate)
        if rest and rest[0].lower() == "class" and len(rest) >= 2:
            rc = self.cfg.regex_classes.get(rest[1])
            if rc is None:
                self.problem("TE903", node.span, f"class-map type regex {rest[1]} is not in the file")
                return L7Match(fld, (), node.span, negate, unknown_regex=rest[1])
            return L7Match(fld, tuple(rc[1]), node.span, negate)
        return L7Match(fld, tuple(rest[:1]), node.span, negate)

    def http_policy(self, node: Node) -> None:
        pm = HttpPolicy(node.words[4], node.span)
        for child in node.children:
            w = [x.lower() for x in child.words]
            if w[0] == "parameters":
                continue
            actions = [(c.words[0].lower(), c.span) for c in child.children]
            if w[0] == "class" and len(w) >= 2:
                ref = self.cfg.l7_classes.get(child.words[1])
                if ref is None:
                    self.problem(
                        "TE903",
                        child.span,
                        f"class-map type inspect http {child.words[1]} is not in the file",
                    )
                    cls = L7Class(child.words[1], child.span, True, [L7Match("unknown", (), child.span)])
                else:
                    cls = L7Class(ref.name, child.span, ref.match_all, list(ref.matches))
                cls.actions = actions
                pm.entries.append(cls)
            elif w[0] == "match":
                pm.entries.append(L7Class(child.text, child.span, True, [self.l7_match(child)], actions))
        self.cfg.http_policies[pm.name] = pm
        self.ok(node)

    def l4_class(self, node: Node) -> None:
        cls = L4Class(node.words[1], node.span)
        for child in node.children:
            w = [x.lower() for x in child.words]
            if w[0] != "match":
                continue
            cls.match_span = child.span
            if w[1:2] == ["default-inspection-traffic"]:
                cls.match = "default-inspection-traffic"
            elif w[1:2] == ["any"]:
                cls.match = "any"
            elif w[1:3] == ["port", "tcp"] and len(w) >= 5 and w[3] == "eq":
                p = port_value(w[4])
                cls.match, cls.ports = ("port", (p,)) if p is not None else ("unknown", ())
            elif w[1:2] == ["access-list"] and len(w) >= 3:
                cls.match, cls.acl = "acl", child.words[2]
            else:
                cls.match = "unknown"
        self.cfg.l4_classes[cls.name] = cls
        self.ok(node)

    def service_policy_map(self, node: Node) -> None:
        sp = ServicePolicy(node.words[1], node.span)
        for child in node.children:
            if not child.starts("class") or len(child.words) < 2:
                continue
            spc = ServicePolicyClass(child.words[1], child.span)
            for a in child.children:
                w = [x.lower() for x in a.words]
                if w[:2] == ["inspect", "http"]:
                    spc.inspect_http = a.words[2] if len(a.words) >= 3 else ""
                    spc.inspect_span = a.span
            sp.classes.append(spc)
        self.cfg.service_policies[sp.name] = sp
        self.ok(node)
