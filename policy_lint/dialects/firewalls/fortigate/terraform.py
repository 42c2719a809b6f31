"""fortios Terraform resources read into the same config/edit/set tree as the CLI, so one
builder and one evaluation serve both formats.

    resource "fortios_firewall_policy" "fb" {     # config firewall policy / edit 2
      policyid = 2                                 #
      action   = "deny"                            #   set action deny
      srcintf { name = "port1" }                   #   set srcintf "port1"
      dstaddr { name = fortios_firewall_address.fb.name }   # the address resource's name
    }

Attributes become `set` lines (underscores to hyphens); nested blocks holding only a
`name`/`id` become value lists (`srcintf`, `member`, `category`); other nested blocks become
nested tables (`ftgd_wf { filters { ... } }` is `config ftgd-wf` / `config filters`), with an
`id` naming the entry. `vdomparam` puts a resource in that VDOM (default root). A reference to
another fortios resource's `name`/`fosid`/`policyid` is resolved from the file; any other
computed value (a variable without a default, a function) stays as written: it names no object
the file defines, so what it decides is unknown (TE908 at the line).

Order: the provider creates each policy at the end of the list, and Terraform creates
independent resources in no fixed order. With `fortios_firewall_security_policyseq` moves or
`depends_on` between policies, file order (and the moves) is taken as the device's order;
otherwise the reverse order is evaluated too and a verdict that differs is unknown.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from policy_lint.dialects.firewalls.fortigate import build
from policy_lint.dialects.firewalls.fortigate.cli import Node, Setting, Table
from policy_lint.dialects.firewalls.fortigate.model import Config
from policy_lint.dialects.semantics import terraform as tf
from policy_lint.dialects.semantics.terraform import Symbolic, TerraformError
from policy_lint.model import Problem, Span

__all__ = ["TerraformError", "read"]

# resource type -> (CLI table, the attribute naming the entry)
TABLES: dict[str, tuple[str, str]] = {
    "fortios_firewall_policy": ("firewall policy", "policyid"),
    "fortios_firewall_policy6": ("firewall policy6", "policyid"),
    "fortios_firewall_address": ("firewall address", "name"),
    "fortios_firewall_address6": ("firewall address6", "name"),
    "fortios_firewall_addrgrp": ("firewall addrgrp", "name"),
    "fortios_firewall_addrgrp6": ("firewall addrgrp6", "name"),
    "fortios_webfilter_profile": ("webfilter profile", "name"),
    "fortios_webfilter_urlfilter": ("webfilter urlfilter", "fosid"),
    "fortios_webfilter_ftgdlocalrating": ("webfilter ftgd-local-rating", "url"),
    "fortios_application_list": ("application list", "name"),
    "fortios_dnsfilter_profile": ("dnsfilter profile", "name"),
    "fortios_dnsfilter_domainfilter": ("dnsfilter domain-filter", "fosid"),
    "fortios_firewall_sslsshprofile": ("firewall ssl-ssh-profile", "name"),
    "fortios_firewallservice_custom": ("firewall service custom", "name"),
    "fortios_firewallservice_group": ("firewall service group", "name"),
    "fortios_firewall_schedule_recurring": ("firewall schedule recurring", "name"),
    "fortios_firewall_schedule_onetime": ("firewall schedule onetime", "name"),
    "fortios_firewall_schedule_group": ("firewall schedule group", "name"),
    "fortios_system_zone": ("system zone", "name"),
    "fortios_user_group": ("user group", "name"),
    "fortios_user_local": ("user local", "name"),
    "fortios_router_static": ("router static", "seq_num"),
    "fortios_firewall_proxypolicy": ("firewall proxy-policy", "policyid"),
    "fortios_firewall_securitypolicy": ("firewall security-policy", "policyid"),
    # The provider's first resources (still accepted): lists instead of nested blocks.
    "fortios_firewall_security_policy": ("firewall policy", "policyid"),
    "fortios_firewall_object_address": ("firewall address", "name"),
    "fortios_firewall_object_addressgroup": ("firewall addrgrp", "name"),
    "fortios_firewall_object_service": ("firewall service custom", "name"),
    "fortios_firewall_object_servicegroup": ("firewall service group", "name"),
}
POLICYSEQ = "fortios_firewall_security_policyseq"
# Scalars FortiOS takes as several words (`subnet = "10.0.0.0 255.255.255.0"`).
SPLIT = {"subnet", "day", "tcp_portrange", "udp_portrange", "sctp_portrange", "ip6", "dst", "rating"}
LIST_KEYS = {"name", "id", "interface_name", "q_origin_key"}
_RESOURCE_REF = re.compile(r"^\$\{(fortios_\w+)\.([\w-]+)\.(name|fosid|policyid|id|seq_num)\}$")
_FIELD_REF = re.compile(r"^\$\{(var|local)\.([\w-]+)\.([\w.-]+)\}$")
_SKIP = {"vdomparam", "depends_on", "lifecycle", "count", "for_each", "provider", "dynamic_sort_subtable"}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "enable" if value else "disable"
    return str(value)


class _Reader:
    def __init__(self, file: tf.TerraformFile, path: str, problems: list[Problem]) -> None:
        self.file = file
        self.path = path
        self.problems = problems
        self.names: dict[str, str] = {}

    def span(self, line: int) -> Span:
        text = self.file.lines[line - 1].strip()[:200] if 0 < line <= len(self.file.lines) else ""
        return Span(self.path, line, 1, text)

    def value(self, raw: Any, line: int) -> str:
        values = self.values(raw, line)
        return values[0] if len(values) == 1 else " ".join(values)

    def values(self, raw: Any, line: int) -> list[str]:
        """The words a value stands for: a literal, a list, a resolved reference; a computed
        value stays as its expression (it names nothing the file defines) with a TE908."""
        value = self.file.resolve(raw)
        if isinstance(value, Symbolic):
            known = self._reference(value.expression)
            if known is not None:
                value = known
        if isinstance(value, Symbolic):
            self.computed(value.expression, line)
            return [value.expression]
        if isinstance(value, list):
            return [w for item in value for w in self.values(item, line)]
        return [_text(value)]

    def computed(self, expression: str, line: int) -> None:
        problem = Problem(
            "TE908", self.span(line), f"{expression} is computed when Terraform runs: not evaluated"
        )
        if problem not in self.problems:
            self.problems.append(problem)

    def _reference(self, expression: str) -> Any:
        """Another fortios resource's name, or a field of a variable's or local's literal object
        default (`var.policy.srcaddr`); None when it is neither."""
        m = _RESOURCE_REF.match(expression)
        if m and f"{m.group(1)}.{m.group(2)}" in self.names:
            return self.names[f"{m.group(1)}.{m.group(2)}"]
        m = _FIELD_REF.match(expression)
        if m:
            table = self.file.variables if m.group(1) == "var" else self.file.locals
            value: Any = table.get(m.group(2))
            for key in m.group(3).split("."):
                if not isinstance(value, Mapping) or key not in value:
                    return None
                value = value[key]
            resolved = self.file.resolve(value)
            return None if isinstance(resolved, Symbolic) else resolved
        return None

    def fill(self, node: Node, body: Mapping[str, Any], line: int) -> None:
        for key, raw in tf.strip_meta(body).items():
            if key in _SKIP:
                continue
            if key == "dynamic":
                # `dynamic "srcaddr" { for_each = ... }`: the blocks exist only when Terraform runs.
                for block in raw if isinstance(raw, list) else [raw]:
                    for name, inner in block.items() if isinstance(block, Mapping) else ():
                        at = int(inner.get("__start_line__", line)) if isinstance(inner, Mapping) else line
                        self.computed(f"dynamic {name!r} blocks", at)
                        node.settings[name.replace("_", "-")] = Setting(
                            [f"${{dynamic {name}}}"], self.span(at)
                        )
                continue
            cli_key = key.replace("_", "-")
            at = self.file.attribute_line(body, key, line)
            blocks = tf.nested(body, key)
            if blocks:
                self._blocks(node, key, cli_key, blocks, line)
                continue
            values = self.values(raw, at)
            if key in SPLIT:
                values = [w for v in values for w in v.split()]
            node.settings[cli_key] = Setting(values, self.span(at))

    def _blocks(self, node: Node, key: str, cli_key: str, blocks: list[Mapping[str, Any]], line: int) -> None:
        first = int(blocks[0].get("__start_line__", line))
        if all(set(tf.strip_meta(b)) <= LIST_KEYS for b in blocks):
            values = []
            for b in blocks:
                inner = tf.strip_meta(b)
                raw = next(iter(inner.values()), "")
                values.extend(self.values(raw, int(b.get("__start_line__", first))))
            node.settings[cli_key] = Setting(values, self.span(first))
            return
        table = Table(cli_key, self.span(first))
        node.tables.append(table)
        keyed = all("id" in b for b in blocks) and key not in ("ftgd_wf", "ftgd_dns", "web", "https", "ssl")
        for i, b in enumerate(blocks):
            start = int(b.get("__start_line__", first))
            if keyed:
                entry = Node(self.value(b["id"], start) if "id" in b else str(i + 1), self.span(start))
                self.fill(entry, {k: v for k, v in b.items() if k != "id"}, start)
                table.put(entry)
            else:
                self.fill(table, b, start)


def read(lines: list[str], path: str, problems: list[Problem]) -> tuple[Config, int, int]:
    """The file's fortios resources as a Config; (config, resources seen, resources read)."""
    file = tf.load(lines)
    reader = _Reader(file, path, problems)
    resources = [b for b in file.resources() if b.labels and b.labels[0].startswith("fortios_")]
    for block in resources:
        kind = block.labels[0]
        key = TABLES.get(kind, ("", "name"))[1]
        value = file.resolve(block.body.get(key, block.body.get("name")))
        if value is not None and not isinstance(value, Symbolic):
            reader.names[f"{kind}.{block.labels[1] if len(block.labels) > 1 else ''}"] = _text(value)
    roots: dict[str, Node] = {}
    tables: dict[tuple[str, str], Table] = {}
    understood = 0
    policies_by_vdom: dict[str, list[Node]] = {}
    ordered = False
    moves: list[tuple[str, str, str, Span, str]] = []
    for block in resources:
        kind = block.labels[0]
        label = block.labels[1] if len(block.labels) > 1 else ""
        vdom_raw = block.body.get("vdomparam")
        vdom = _text(file.resolve(vdom_raw)) if vdom_raw is not None else "root"
        span = reader.span(block.line)
        if kind == POLICYSEQ:
            body = block.body
            moves.append(
                (
                    reader.value(body.get("policy_src_id", ""), block.line),
                    reader.value(body.get("alter_position", "before"), block.line),
                    reader.value(body.get("policy_dst_id", ""), block.line),
                    span,
                    vdom,
                )
            )
            ordered = True
            understood += 1
            continue
        if kind not in TABLES:
            continue  # another fortios resource (interfaces, admins, ...): nothing a policy decides
        understood += 1
        path_name, key = TABLES[kind]
        root = roots.setdefault(vdom, Node("", Span(path, 1, 1)))
        table = tables.get((vdom, path_name))
        if table is None:
            table = Table(path_name, span)
            root.tables.append(table)
            tables[(vdom, path_name)] = table
        if key in block.body:
            name_raw = block.body[key]
        else:  # a policy without policyid gets one from the device: the label stands for it
            name_raw = label if key == "policyid" else block.body.get("name", label)
        entry = Node(reader.value(name_raw, block.line), Span(path, block.line, 1, f"{kind}.{label}"))
        reader.fill(entry, {k: v for k, v in block.body.items() if k != key}, block.line)
        table.put(entry)
        if kind in (
            "fortios_firewall_policy",
            "fortios_firewall_policy6",
            "fortios_firewall_security_policy",
        ):
            policies_by_vdom.setdefault(vdom, []).append(entry)
            if "depends_on" in block.body:
                ordered = True
    for src, where, dst, span, vdom in moves:
        table = tables.get((vdom, "firewall policy"))
        moving, anchor = (table.entry(src), table.entry(dst)) if table else (None, None)
        if table is None or moving is None or anchor is None:
            problems.append(
                Problem(
                    "TE901", span, f"policy sequence moves a policy the file does not define ({src}, {dst})"
                )
            )
            continue
        table.entries.remove(moving)
        table.entries.insert(table.entries.index(anchor) + (1 if where == "after" else 0), moving)
    if len(roots) > 1:
        top = Node("", Span(path, 1, 1))
        vdoms = Table("vdom", Span(path, 1, 1))
        top.tables.append(vdoms)
        for name, root in roots.items():
            vdoms.put(Node(name, root.span, {}, root.tables))
        config = build.build(top, problems)
    else:
        name, root = next(iter(roots.items()), ("root", Node("", Span(path, 1, 1))))
        config = build.build(root, problems)
        config.vdoms[0].name = name
    for v in config.vdoms:
        # The policies Terraform manages: the resources are the list (none: not in this file).
        v.has_policy_table = bool(v.policies)
    if not ordered:
        for v in config.vdoms:
            if len(v.policies) > 1:
                v.other_orders.append(list(reversed(v.policies)))
    return config, len(resources), understood
