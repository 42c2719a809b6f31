"""Configs an Ansible repository deploys: rendered templates and the config lines tasks write.

    roles/proxy/templates/squid.conf.j2      acl lan src {{ lan_cidr }}     -> rendered (extract/jinja)
    roles/proxy/defaults/main.yml            lan_cidr: 10.0.0.0/8           -> its variables
    inventory/group_vars/all.yml             blocked_sites: [.facebook.com]
    roles/proxy/tasks/main.yml               - lineinfile: {path: /etc/hosts, line: "0.0.0.0 x.com"}

A template (`*.j2`) that a play in the repository deploys (its role in `roles:`, or its own
`template` task) to hosts of an inventory in the repository is rendered once per host the
play's `hosts:` targets, with that host's variables in Ansible's precedence (extract/plays.py,
extract/inventory.py); hosts whose renderings are identical share one report, and when the
renderings differ each names its host(s) in the label and before every audience. A `when:`
of the template task is evaluated per host (false: the host does not get it; a value nobody
knows: the whole rendering is unknown, TE907). A play whose pattern is not evaluated (a
regex, a Jinja2 expression) is TE907: which hosts get the template is unknown. Without such a
play or inventory the template is rendered once with, lowest first: the role's `defaults/`,
every `group_vars/all`, the other `group_vars` (by name), `host_vars` (by name), the role's
`vars/`, the extra vars (one merged set: a value that differs per host is the last one's).
The rendering's name is the template's without `.j2`; its findings
point at the template's lines. Tasks files (`tasks/*.yml`, playbooks) are read for:
`lineinfile` (`line`, `state: present`), `blockinfile` (`block`), `copy` with `content`, into
a config path (the dialect by path: extract/shell.place); `ansible.builtin.iptables` (turned
into the iptables command it runs: chain, table, action, protocol, source, destination,
destination_port, in/out_interface, ctstate, jump, policy, ip_version); `community.general.ufw`
(`rule` deny/reject/allow to/from an address: route -> FORWARD, `direction: out` -> OUTPUT,
else INPUT; `default` sets the policy). Values in a role's tasks are rendered per host as
templates are (the plays that run the role, the inventory), else with the merged set (a
playbook's own tasks; set_fact is not applied to tasks). A module option not listed is a symbolic value on its
rule's line (unknown where it matters).
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.extract import inventory as inv
from policy_lint.extract import jinja, plays, shell
from policy_lint.extract.model import Embedded, Extraction, mark

if TYPE_CHECKING:
    import yaml
from policy_lint.inputs import InputError, SourceText, read_source

TEMPLATE_SUFFIXES = (".j2", ".jinja2", ".jinja")
_TASK_HINT = re.compile(
    r"^\s*-?\s*(?:ansible\.builtin\.|community\.general\.)?(?:lineinfile|blockinfile|copy|iptables|ufw|template)\s*:",
    re.M,
)
_MAX_VAR_FILES = 200


def claims(path: Path, head: str) -> bool:
    name = path.name.lower()
    if name.endswith(TEMPLATE_SUFFIXES):
        return True
    return name.endswith((".yml", ".yaml")) and bool(_TASK_HINT.search(head)) and "- " in head


def _role(path: Path) -> Path | None:
    for parent in path.parents:
        if parent.parent.name == "roles":
            return parent
    return None


def _load_vars(files: list[Path], context: ParseContext) -> dict[str, Any]:
    import yaml  # PyYAML only when an Ansible file is read: it costs every start-up otherwise

    out: dict[str, Any] = {}
    for f in files[:_MAX_VAR_FILES]:
        try:
            src = read_source(f, context.resolver.display(f))
            data = yaml.safe_load("\n".join(src.lines))
        except (InputError, yaml.YAMLError):
            continue
        if isinstance(data, dict) and bounded(data):
            out.update({str(k): v for k, v in data.items()})
            context.resolver.found.add(str(f.resolve()))  # read as part of the templates
    return out


def bounded(data: Any, limit: int = 200_000) -> bool:
    """Whether the data has at most `limit` values counting every alias expansion: YAML
    anchors can make a small file stand for an exponential structure ("billion laughs"), which
    rendering would then print; such a file is not used (its values stay symbolic)."""
    stack, seen = [data], 0
    while stack:
        item = stack.pop()
        seen += 1
        if seen > limit:
            return False
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True


def _var_files(directory: Path) -> list[Path]:
    if directory.is_file():
        return [directory]
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.rglob("*") if p.is_file() and p.suffix in ("", ".yml", ".yaml"))


def variables(path: Path, context: ParseContext) -> dict[str, Any]:
    """The variables a template or task under `path` is rendered with (see the docstring)."""
    root = context.resolver.root
    groups: list[Path] = []
    hosts: list[Path] = []
    for top, dirs, _files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in ("node_modules", "venv"))
        for d in dirs:
            if d == "group_vars":
                groups.append(Path(top) / d)
            elif d == "host_vars":
                hosts.append(Path(top) / d)
    layers: list[Path] = []
    role = _role(path)
    if role is not None:
        layers += _var_files(role / "defaults")
    for g in groups:
        layers += [p for p in _var_files(g) if p.stem == "all" or p.parent.name == "all"]
        layers += [p for p in _var_files(g) if not (p.stem == "all" or p.parent.name == "all")]
    for h in hosts:
        layers += _var_files(h)
    if role is not None:
        layers += _var_files(role / "vars")
    return _load_vars([p for p in layers if context.resolver.inside(p, path.parent)], context)


def _destination(path: Path, context: ParseContext) -> str | None:
    """Where the role's `template` task puts this template (`dest:`), when a task says so."""
    import yaml  # PyYAML only when an Ansible file is read: it costs every start-up otherwise

    role = _role(path)
    if role is None:
        return None
    for tasks in _var_files(role / "tasks"):
        try:
            data = yaml.safe_load("\n".join(read_source(tasks, context.resolver.display(tasks)).lines))
        except (InputError, yaml.YAMLError):
            continue
        stack: list[Any] = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                for key, value in item.items():
                    if str(key).rsplit(".", 1)[-1] == "template" and isinstance(value, dict):
                        src, dest = str(value.get("src", "")), value.get("dest")
                        if isinstance(dest, str) and "{{" not in dest and Path(src).name == path.name:
                            return dest
                    elif isinstance(value, list | dict):
                        stack.append(value)
    return None


MAX_RENDERED_HOSTS = 256  # hosts rendered one by one per play; past that, unknown (TE908)


def _hosts_text(hosts: list[str]) -> str:
    shown = ", ".join(hosts[:6]) + (f" and {len(hosts) - 6} more" if len(hosts) > 6 else "")
    return ("host " if len(hosts) == 1 else "hosts ") + shown


def _template(path: Path, source: SourceText, context: ParseContext) -> list[Embedded]:
    dest = _destination(path, context)
    name = PurePosixPath(dest).name if dest else re.sub(r"\.(j2|jinja2|jinja)$", "", path.name, flags=re.I)
    label = f"the template {path.name} rendered" + (f" to {dest}" if dest else "")
    dialect = shell.place(dest) if dest else (shell.place("/etc/hosts") if name == "hosts" else None)
    text = "\n".join(source.lines)
    extra = {str(k): v for k, v in context.extra_vars}

    def piece(rendered: jinja.Rendered, how: str) -> Embedded:
        out = Embedded(source.path, rendered.lines, rendered.line_map, name, label + how, dialect)
        out.problems += rendered.problems
        out.conditional += rendered.conditional
        return out

    inventories = inv.find(context.resolver)
    deployments = plays.deployments(path, _role(path), context, inventories)
    several = len({id(d.inventory) for d in deployments}) > 1
    if not deployments:
        # No play in the repository deploys it to inventory hosts: one rendering with every
        # variable file merged (see the module docstring).
        merged_once = plays.resolve_values({**variables(path, context), **extra})
        return [piece(jinja.render(text, merged_once), "")]
    merged = plays.HostVars(context, extra)
    renderings: dict[tuple[Any, ...], tuple[jinja.Rendered, str, list[str]]] = {}
    problems: list[tuple[str, int, str]] = []
    skipped: list[tuple[str, plays.Deployment]] = []
    for d in deployments:
        where = context.resolver.display(d.play.path)
        if d.hosts is None:
            problems.append(
                (
                    "TE907",
                    1,
                    f"the play in {where} targets hosts: {d.play.hosts!r}, a pattern not "
                    "evaluated: which hosts get this template is unknown",
                )
            )
            continue
        if len(d.hosts) > MAX_RENDERED_HOSTS:
            problems.append(
                (
                    "TE908",
                    1,
                    f"the play in {where} targets {len(d.hosts)} hosts: only the first "
                    f"{MAX_RENDERED_HOSTS} are rendered, the others are not read",
                )
            )
        for host in d.hosts[:MAX_RENDERED_HOSTS]:
            vs = merged.for_host(host, d)
            when = d.task[0].get("when") if d.task is not None else None
            runs = True if when is None else jinja.evaluate(when, vs)
            if d.task is not None and d.task[2]:
                # Inside a block whose `when:` (or a `rescue:`) decides whether it runs.
                runs, when = (
                    (None, when or "the enclosing block's condition") if runs is not False else (runs, when)
                )
            if runs is False:
                skipped.append((d.who(host, several), d))
                continue
            rendered = jinja.render(text, vs)
            condition = "" if runs else f"when: {when}"
            key = (
                tuple(rendered.lines),
                tuple(rendered.line_map),
                tuple(rendered.problems),
                tuple(rendered.conditional),
                condition,
            )
            renderings.setdefault(key, (rendered, condition, []))[2].append(d.who(host, several))
    pieces: list[Embedded] = []
    for rendered, condition, hosts in renderings.values():
        hosts = sorted(set(hosts))
        one = piece(rendered, f" for {_hosts_text(hosts)}")
        if len(renderings) > 1:
            one.audience = _hosts_text(hosts)
        if condition:
            one.conditional.append((1, max(len(source.lines), 1), condition))
        pieces.append(one)
    if not pieces and skipped:
        # Every targeted host skips the task: the template is deployed nowhere.
        host, d = skipped[0]
        inert = piece(jinja.render(text, merged.for_host(host.split(" (")[0], d)), "")
        inert.inert = (
            f"the template task's `when:` is false for {_hosts_text(sorted({h for h, _d in skipped}))}"
        )
        pieces.append(inert)
    if not pieces and not skipped and not problems:
        # The plays target no host of the inventories found (another inventory, not in the
        # repository, may hold them): rendered once with the merged variables, as without plays.
        merged_once = plays.resolve_values({**variables(path, context), **extra})
        pieces.append(
            piece(jinja.render(text, merged_once), " (its plays target no host of the inventory found)")
        )
    truncated = next((why for code, _l, why in problems if code == "TE908"), "")
    for one in pieces if truncated else []:
        # Hosts not rendered may get another config: what this one lets through is unknown.
        one.conditional.append((1, max(len(source.lines), 1), "the hosts past the first rendered ones"))
    problems = list(dict.fromkeys(problems))  # one per play, not per inventory
    if problems:
        if pieces:
            pieces[0].problems += problems
        else:
            pieces.append(Embedded(source.path, [], [], name, label, dialect, problems=problems))
    return pieces


def extract(path: Path, source: SourceText, context: ParseContext) -> Extraction:
    if path.name.lower().endswith(TEMPLATE_SUFFIXES):
        return Extraction(_template(path, source, context))
    return _tasks(path, source, context)


# ------------------------------------------------------------------ tasks


def _value(node: yaml.Node) -> Any:
    import yaml  # PyYAML only when an Ansible file is read: it costs every start-up otherwise

    value = yaml.safe_load(yaml.serialize(node)) if node is not None else None
    return value if bounded(value) else mark("(a value too large to read)")


def _tasks_in(node: yaml.Node) -> list[yaml.MappingNode]:
    """Every mapping in the document (tasks sit in plays, blocks, handlers)."""
    import yaml  # PyYAML only when an Ansible file is read: it costs every start-up otherwise

    out: list[yaml.MappingNode] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, yaml.MappingNode):
            out.append(n)
            stack.extend(v for _k, v in n.value)
        elif isinstance(n, yaml.SequenceNode):
            stack.extend(n.value)
    return sorted(out, key=lambda m: m.start_mark.line)


def _module(task: yaml.MappingNode) -> tuple[str, yaml.Node] | None:
    import yaml  # PyYAML only when an Ansible file is read: it costs every start-up otherwise

    for key, value in task.value:
        if isinstance(key, yaml.ScalarNode):
            name = key.value.rsplit(".", 1)[-1]
            if name in ("lineinfile", "blockinfile", "copy", "iptables", "ufw"):
                return name, value
    return None


def _render(value: Any, variables: dict[str, Any]) -> str:
    text = "" if value is None else str(value)
    if "{{" not in text and "{%" not in text:
        return text
    rendered = jinja.render(text, variables)
    return "\n".join(rendered.lines) if rendered.lines or not rendered.problems else mark(text)


def _args(node: yaml.Node) -> dict[str, tuple[Any, int]]:
    """Module options with their lines (1-based); `module: key=value ...` strings too."""
    import yaml  # PyYAML only when an Ansible file is read: it costs every start-up otherwise

    out: dict[str, tuple[Any, int]] = {}
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            # A block scalar (`|`, `>`) starts on the line after its indicator.
            block = isinstance(v, yaml.ScalarNode) and v.style in ("|", ">")
            out[str(k.value)] = (_value(v), v.start_mark.line + 1 + block)
    elif isinstance(node, yaml.ScalarNode):
        for m in re.finditer(r"(\w+)=(\"[^\"]*\"|'[^']*'|\S+)", node.value):
            out[m.group(1)] = (m.group(2).strip("\"'"), node.start_mark.line + 1)
    return out


_IPT_OPTIONS = {
    "table": "-t",
    "protocol": "-p",
    "source": "-s",
    "destination": "-d",
    "destination_port": "--dport",
    "source_port": "--sport",
    "in_interface": "-i",
    "out_interface": "-o",
    "jump": "-j",
    "goto": "-g",
}
_IPT_IGNORED = {"chain", "action", "state", "ip_version", "comment", "policy", "ctstate", "rule_num", "wait"}


def _iptables(args: dict[str, tuple[Any, int]], vs: dict[str, Any]) -> tuple[str, str] | None:
    def val(key: str) -> str:
        return _render(args[key][0], vs)

    if val("state") == "absent" if "state" in args else False:
        return None
    binary = "ip6tables" if "ip_version" in args and val("ip_version") == "ipv6" else "iptables"
    chain = val("chain") if "chain" in args else "INPUT"
    table = ["-t", val("table")] if "table" in args else []
    if "policy" in args:
        return binary, " ".join([binary, *table, "-P", chain, val("policy")])
    words = [binary, *table, "-I" if "action" in args and val("action") == "insert" else "-A", chain]
    if "ctstate" in args:
        states = args["ctstate"][0]
        words += [
            "-m",
            "conntrack",
            "--ctstate",
            ",".join(states) if isinstance(states, list) else str(states),
        ]
    for key, flag in _IPT_OPTIONS.items():
        if key in args and key != "table":
            words += [flag, val(key)]
    for key in args:
        if key not in _IPT_OPTIONS and key not in _IPT_IGNORED and key != "name":
            words.append(mark(f"{key}={args[key][0]}"))
    return binary, " ".join(_quote(w) for w in words)


def _ufw(args: dict[str, tuple[Any, int]], vs: dict[str, Any]) -> str | None:
    def val(key: str) -> str:
        return _render(args[key][0], vs) if key in args else ""

    targets = {"deny": "DROP", "reject": "REJECT", "allow": "ACCEPT", "limit": mark("limit")}
    if "default" in args or "policy" in args:
        direction = val("direction") or "incoming"
        chain = {"outgoing": "OUTPUT", "routed": "FORWARD"}.get(direction, "INPUT")
        policy = targets.get(val("default") or val("policy"), "")
        return f"iptables -P {chain} {policy}" if policy in ("DROP", "ACCEPT") else None
    rule = val("rule")
    if rule not in targets or val("delete") in ("true", "True", "yes"):
        return None
    chain = (
        "FORWARD"
        if val("route") in ("true", "True", "yes")
        else ("OUTPUT" if val("direction") == "out" else "INPUT")
    )
    words = ["iptables", "-A", chain]
    if val("proto") and val("proto") != "any":
        words += ["-p", val("proto")]
    for key, flag in (("from_ip", "-s"), ("to_ip", "-d")):
        if val(key) and val(key) != "any":
            words += [flag, val(key)]
    if val("to_port"):
        words += ["-p", "tcp"] if "-p" not in words else []
        words += ["--dport", val("to_port")]
    if val("interface"):
        words += ["-o" if chain == "OUTPUT" else "-i", val("interface")]
    words += ["-j", targets[rule]]
    return " ".join(_quote(w) for w in words)


def _quote(word: str) -> str:
    return f'"{word}"' if " " in word and "\ue000" not in word else word


def _tasks(path: Path, source: SourceText, context: ParseContext) -> Extraction:
    import yaml  # PyYAML only when an Ansible file is read: it costs every start-up otherwise

    try:
        documents = list(yaml.compose_all("\n".join(source.lines), Loader=yaml.SafeLoader))
    except yaml.YAMLError as exc:
        mark_ = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return Extraction([], unread=[("TE901", (mark_.line + 1) if mark_ else 1, f"not YAML: {problem}")])
    role = _role(path)
    inventories = inv.find(context.resolver) if role is not None else []
    deployments = plays.deployments(path, role, context, inventories)
    several = len({id(d.inventory) for d in deployments}) > 1
    extra = {str(k): v for k, v in context.extra_vars}
    if not deployments or role is None or any(d.hosts is None for d in deployments):
        vs = plays.resolve_values({**variables(path, context), **extra})
        return Extraction(_task_pieces(source, documents, vs))
    # A role's tasks, run by plays of the repository on inventory hosts: per host, as templates.
    merged = plays.HostVars(context, extra)
    renderings: dict[tuple[Any, ...], tuple[list[Embedded], list[str]]] = {}
    truncated = False
    for d in deployments:
        truncated = truncated or len(d.hosts or []) > MAX_RENDERED_HOSTS
        for host in (d.hosts or [])[:MAX_RENDERED_HOSTS]:
            built = _task_pieces(source, documents, merged.for_host(host, d))
            key = tuple((p.name, tuple(p.lines), tuple(p.line_map)) for p in built)
            renderings.setdefault(key, (built, []))[1].append(d.who(host, several))
    out: list[Embedded] = []
    for built, hosts in renderings.values():
        hosts = sorted(set(hosts))
        for p in built:
            p.label += f" for {_hosts_text(hosts)}"
            if len(renderings) > 1:
                p.audience = _hosts_text(hosts)
            if truncated:
                p.conditional.append((1, max(len(source.lines), 1), "the hosts past the first rendered ones"))
            out.append(p)
    unread = (
        [("TE908", 1, f"more than {MAX_RENDERED_HOSTS} hosts: only the first are rendered")]
        if truncated
        else []
    )
    return Extraction(out, unread=unread)


def _task_pieces(source: SourceText, documents: list[Any], vs: dict[str, Any]) -> list[Embedded]:
    """The configs the tasks in `documents` write, their values rendered with `vs`."""
    files: dict[str, Embedded] = {}
    firewall = Embedded(source.path, [], [], "firewall.sh", "the playbook's iptables/ufw tasks", "iptables")

    def file(target: str, line: int) -> Embedded:
        if target not in files:
            files[target] = Embedded(
                source.path,
                [],
                [],
                PurePosixPath(target).name,
                f"{target} as the tasks write it (line {line})",
                shell.place(target),
            )
        return files[target]

    for document in documents:
        if document is None:
            continue
        for task in _tasks_in(document):
            found = _module(task)
            if found is None:
                continue
            name, node = found
            args = _args(node)
            line = node.start_mark.line + 1
            if name == "iptables":
                built = _iptables(args, vs)
                if built:
                    firewall.add(built[1], line)
                continue
            if name == "ufw":
                built_ufw = _ufw(args, vs)
                if built_ufw:
                    firewall.add(built_ufw, line)
                continue
            target = _render((args.get("path") or args.get("dest") or (None, 0))[0], vs)
            if not target or "\ue000" in target:
                continue
            if args.get("state", ("present", 0))[0] == "absent":
                continue
            key = {"lineinfile": "line", "blockinfile": "block", "copy": "content"}[name]
            if key not in args:
                continue
            text, first = args[key]
            rendered = _render(text, vs).split("\n")
            piece = file(target, line)
            for k, part in enumerate(rendered):
                if part or k < len(rendered) - 1:
                    piece.add(part, first + k if len(rendered) > 1 else first)
    pieces = [p for p in files.values() if p.lines]
    if firewall.lines:
        pieces.append(firewall)
    return pieces
