"""Which hosts get a role's template, and each host's variables, in Ansible's precedence.

    # site.yml                                  # roles/proxy/tasks/main.yml
    - hosts: proxies:!legacy                    - set_fact: {blocked_extra: [.x.com]}
      vars: {squid_port: 3128}                  - template: {src: squid.conf.j2, dest: /etc/squid/squid.conf}
      roles: [proxy]

A play (a YAML list item with `hosts:`) in the repository that names the role (`roles:` as a
name or `role:`/`name:`, or an `include_role`/`import_role` task) targets the inventory hosts
its pattern selects (extract/inventory.py); a template a play's own tasks deploy counts too.
Each inventory directory is its own (inventories/production and inventories/staging are not
merged; when several hold targeted hosts, a host is named with its inventory: `p1
(production)`); group_vars/ and host_vars/ count beside the inventory and beside the
playbook, as ansible-playbook reads them. For each host the variables are merged, lowest first, as Ansible's "Understanding variable
precedence" lists them: role defaults < inventory file group vars (`all` first, parents
before children) < group_vars/all < group_vars/<group> (same order) < inventory file host vars
< host_vars/<host> < play `vars:` and `vars_files:` < role vars/ < block and task `vars:` of the
template task < `set_fact` (literal values, in task order: the play's `pre_tasks`, then the
role's tasks before the template task) < role parameters < extra vars (`.policy-lint.yaml`
`ansible-extra-vars`, `--extra-vars`). The magic variables `inventory_hostname`,
`inventory_hostname_short`, `group_names` and `groups` are set. A `set_fact` under `when:` or
whose value needs a value nobody defines leaves that variable unknown (symbolic).

Not modelled (their variables stay lower-precedence or symbolic): facts (`ansible_*` gathered
from the host), `include_vars`, registered results, tasks of other roles, role dependencies
(`meta/main.yml`), `import_playbook`, `ansible_group_priority`, dynamic inventories, vars_files
outside the lint root.
"""

from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.extract import inventory as inv
from policy_lint.extract import jinja
from policy_lint.extract.model import OPEN as MARK
from policy_lint.inputs import InputError, read_source

MAX_PLAYBOOKS = 300  # YAML files looked at for plays, per template
# A variable a set_fact sets to a value nobody knows: removed before rendering, so that it
# renders as the symbolic undefined value whatever a lower layer said.
UNKNOWN = object()
_SKIP_DIRS = {"group_vars", "host_vars", "node_modules", "venv", "templates", "files", "defaults", "vars"}


def load_yaml(path: Path, context: ParseContext) -> Any:
    """A YAML file's data, or None (unreadable, not YAML, outside the root, too large once
    aliases are expanded)."""
    import yaml  # PyYAML only when an Ansible file is read

    from policy_lint.extract.ansible import bounded

    if not path.is_file() or not context.resolver.inside(path, context.resolver.root):
        return None
    try:
        data = yaml.safe_load("\n".join(read_source(path, context.resolver.display(path)).lines))
    except (InputError, yaml.YAMLError):
        return None
    if not bounded(data):
        return None
    context.resolver.found.add(str(path.resolve()))
    return data


def var_files(directory: Path, name: str) -> list[Path]:
    """group_vars/<name>(.yml|.yaml|.json) and the files of group_vars/<name>/."""
    out = [
        directory / (name + s) for s in ("", ".yml", ".yaml", ".json") if (directory / (name + s)).is_file()
    ]
    folder = directory / name
    if folder.is_dir():
        out += sorted(
            p for p in folder.rglob("*") if p.is_file() and p.suffix in ("", ".yml", ".yaml", ".json")
        )
    return out


def _mapping(data: Any) -> dict[str, Any]:
    return {str(k): v for k, v in data.items()} if isinstance(data, dict) else {}


@dataclass
class Play:
    path: Path
    hosts: Any
    vars: dict[str, Any]
    data: dict[str, Any]  # the play as written
    role_params: dict[str, Any] = field(default_factory=dict)


def _module(task: dict[str, Any], *names: str) -> Any:
    for key, value in task.items():
        if str(key).rsplit(".", 1)[-1] in names:
            return value
    return None


def _role_name(entry: Any) -> tuple[str, dict[str, Any]]:
    if isinstance(entry, str):
        return entry, {}
    if isinstance(entry, dict):
        name = str(entry.get("role") or entry.get("name") or "")
        params = {
            str(k): v
            for k, v in entry.items()
            if k not in ("role", "name", "tags", "when", "vars", "become", "become_user", "delegate_to")
        }
        params.update(_mapping(entry.get("vars")))
        return name, params
    return "", {}


def _names_role(name: str, role: str) -> bool:
    # `roles/proxy`, `proxy`, `ns.collection.proxy` all name the role directory `proxy`.
    return bool(name) and name.replace("/", ".").rsplit(".", 1)[-1] == role


def walk(
    tasks: Any, inherited: dict[str, Any], conditional: bool, depth: int = 0
) -> list[tuple[dict, dict, bool]]:
    """Tasks in the order they run, each with the block `vars:` around it and whether a
    `when:` (or a `rescue:`, which runs only on failure) decides that it runs."""
    out: list[tuple[dict, dict, bool]] = []
    if not isinstance(tasks, list) or depth > 16:
        return out
    for task in tasks:
        if not isinstance(task, dict):
            continue
        if "block" in task:
            scope = {**inherited, **_mapping(task.get("vars"))}
            guarded = conditional or "when" in task
            out += walk(task.get("block"), scope, guarded, depth + 1)
            out += walk(task.get("rescue"), scope, True, depth + 1)
            out += walk(task.get("always"), scope, guarded, depth + 1)
        else:
            out.append((task, inherited, conditional))
    return out


def _task_files(
    role: Path, context: ParseContext, name: str = "main", depth: int = 0
) -> list[tuple[dict, dict, bool]]:
    """The role's tasks (tasks/main.yml and the literal files it imports), in order."""
    tasks_dir = role / "tasks"
    path = next((p for p in var_files(tasks_dir, name) if p.parent == tasks_dir), None)
    if path is None or depth > 8:
        return []
    out: list[tuple[dict, dict, bool]] = []
    for task, scope, guarded in walk(load_yaml(path, context), {}, False):
        imported = _module(task, "import_tasks", "include_tasks")
        if isinstance(imported, dict):
            imported = imported.get("file")
        if isinstance(imported, str) and "{{" not in imported:
            stem = imported.rsplit("/", 1)[-1].rsplit(".", 1)[0]
            inner = _task_files(role, context, stem, depth + 1)
            out += [(t, {**scope, **s}, guarded or g or "when" in task) for t, s, g in inner]
        else:
            out.append((task, scope, guarded))
    return out


def plays(context: ParseContext) -> list[Play]:
    """Every play in the repository's YAML files (bounded)."""
    root = context.resolver.root
    out: list[Play] = []
    seen = 0
    for top, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS and d != "roles")
        for f in sorted(files):
            if not f.endswith((".yml", ".yaml")):
                continue
            seen += 1
            if seen > MAX_PLAYBOOKS:
                return out
            path = Path(top) / f
            data = load_yaml(path, context)
            if not isinstance(data, list):
                continue
            for play in data:
                if isinstance(play, dict) and "hosts" in play:
                    play_vars = _mapping(play.get("vars"))
                    for vf in play.get("vars_files") or []:
                        if isinstance(vf, str) and "{{" not in vf:
                            play_vars.update(_mapping(load_yaml(path.parent / vf, context)))
                    out.append(Play(path, play.get("hosts"), play_vars, play))
    return out


@dataclass
class Targets:
    """The hosts a template is deployed to, and how to compute each one's variables."""

    hosts: list[str]
    plays: list[Play]
    why: str  # which play(s) and pattern, for labels
    layers: Any = None  # filled by `targets`


def _playbook_tasks(play: dict[str, Any]) -> list[tuple[dict, dict, bool]]:
    return walk(play.get("pre_tasks"), {}, False) + walk(play.get("tasks"), {}, False)


def _template_task(tasks: list[tuple[dict, dict, bool]], template: str) -> int | None:
    for k, (task, _s, _g) in enumerate(tasks):
        spec = _module(task, "template")
        src = spec.get("src") if isinstance(spec, dict) else None
        if isinstance(spec, str):
            src = next((w[4:] for w in spec.split() if w.startswith("src=")), None)
        if isinstance(src, str) and src.rsplit("/", 1)[-1] == template:
            return k
    return None


@dataclass
class Deployment:
    """One play deploying the template: who, and the tasks that run before it."""

    play: Play
    hosts: list[str] | None  # None: the pattern is not evaluated
    role: Path | None
    params: dict[str, Any]
    inventory: inv.Inventory
    before: list[tuple[dict, dict, bool]]  # set_fact candidates, in order
    task: tuple[dict, dict, bool] | None  # the template task (its vars and when)

    def who(self, host: str, several: bool) -> str:
        """The host as findings name it (with its inventory when there are several)."""
        return f"{host} ({self.inventory.directory.name})" if several else host


def deployments(
    template: Path, role: Path | None, context: ParseContext, inventories: list[inv.Inventory]
) -> list[Deployment]:
    """Every (play, inventory) that deploys the template (or runs the role's tasks)."""
    out: list[Deployment] = []
    role_tasks = _task_files(role, context) if role is not None else []
    at = _template_task(role_tasks, template.name)
    for play in plays(context) if inventories else []:
        data = play.data
        pre = walk(data.get("pre_tasks"), {}, False)
        if role is not None:
            entries = [_role_name(e) for e in data.get("roles") or []]
            for task, _scope, _g in _playbook_tasks(data):
                spec = _module(task, "include_role", "import_role")
                if isinstance(spec, dict):
                    entries.append((str(spec.get("name", "")), _mapping(task.get("vars"))))
            named = next(((n, p) for n, p in entries if _names_role(n, role.name)), None)
            if named is None:
                continue
            before = pre + (role_tasks[:at] if at is not None else [])
            found = role_tasks[at] if at is not None else None
            params = named[1]
        else:
            tasks = _playbook_tasks(data)
            k = _template_task(tasks, template.name)
            if k is None:
                continue
            before, found, params = tasks[:k], tasks[k], {}
        for inventory in inventories:
            targets = inv.hosts(play.hosts, inventory)
            out.append(Deployment(play, targets, role, params, inventory, before, found))
    return out


class HostVars:
    """Each host's variables for a template (see the module docstring); the variable files
    are found and read once per template."""

    def __init__(self, context: ParseContext, extra: dict[str, Any]):
        self.context, self.extra = context, extra
        self._read: dict[Path, dict[str, Any]] = {}

    def _dirs(self, deployment: Deployment, name: str) -> list[Path]:
        """group_vars/ (or host_vars/) beside the inventory, then beside the playbook."""
        places = [deployment.inventory.directory / name, deployment.play.path.parent / name]
        return [p for p in dict.fromkeys(places) if p.is_dir()]

    def _file(self, path: Path) -> dict[str, Any]:
        if path not in self._read:
            self._read[path] = _mapping(load_yaml(path, self.context))
        return self._read[path]

    def _dir(self, directory: Path, name: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in var_files(directory, name):
            out.update(self._file(f))
        return out

    def for_host(self, host: str, deployment: Deployment) -> dict[str, Any]:
        inventory = deployment.inventory
        groups = [g for _d, g in inventory.groups_of(host)]
        out: dict[str, Any] = {}
        role = deployment.role
        if role is not None:
            out.update(self._dir(role, "defaults"))
        for g in groups:
            out.update(inventory.groups[g].vars if g in inventory.groups else {})
        for g in groups:
            for d in self._dirs(deployment, "group_vars"):
                out.update(self._dir(d, g))
        out.update(inventory.host_vars.get(host, {}))
        for d in self._dirs(deployment, "host_vars"):
            out.update(self._dir(d, host))
        out.update(deployment.play.vars)
        if role is not None:
            out.update(self._dir(role, "vars"))
        out.update(
            {
                "inventory_hostname": host,
                "inventory_hostname_short": host.split(".")[0],
                "group_names": [g for g in groups if g not in ("all", "ungrouped")],
                "groups": {g: sorted(inventory.members(g)) for g in [*inventory.groups, "all"]},
            }
        )
        if deployment.task is not None:
            out.update(deployment.task[1])
            out.update(_mapping(deployment.task[0].get("vars")))
        facts: dict[str, Any] = {}
        for task, scope, guarded in deployment.before:
            spec = _module(task, "set_fact")
            if not isinstance(spec, dict):
                continue
            known = {k: v for k, v in {**out, **facts, **scope}.items() if v is not UNKNOWN}
            for key, value in spec.items():
                if key != "cacheable":
                    facts[str(key)] = _fact(value, known, guarded or "when" in task)
        out.update(facts)
        out.update(deployment.params)
        out.update(self.extra)
        return resolve_values({k: v for k, v in out.items() if v is not UNKNOWN})


_SIMPLE = re.compile(r"^\{\{\s*([A-Za-z_]\w*)\s*\}\}$")


def resolve_values(variables: dict[str, Any]) -> dict[str, Any]:
    """Variables whose values are templates of other variables (`acl_src: "{{ lan_cidr }}"`),
    rendered as Ansible does when it uses them (lazily: the variables a value names are
    resolved first, whatever the order of definition): a bare `{{ name }}` takes that
    variable's value as it is (a list stays a list); a value that needs an unknown keeps it
    symbolic; a variable that refers back to itself is left as written."""
    from jinja2 import Environment, TemplateSyntaxError, meta

    parser = Environment()  # parses only (names a template uses); rendering is jinja.render's
    out = dict(variables)
    done: set[str] = set()

    def names(text: str) -> set[str]:
        try:
            return set(meta.find_undeclared_variables(parser.parse(text)))
        except (TemplateSyntaxError, RecursionError):
            return set()

    def strings(value: Any, depth: int = 0) -> list[str]:
        if isinstance(value, str):
            return [value]
        if depth > 8:
            return []
        if isinstance(value, list):
            return [t for v in value for t in strings(v, depth + 1)]
        if isinstance(value, dict):
            return [t for v in value.values() for t in strings(v, depth + 1)]
        return []

    def one(value: Any, depth: int = 0) -> Any:
        if isinstance(value, str) and ("{{" in value or "{%" in value) and MARK not in value:
            simple = _SIMPLE.match(value.strip())
            if simple and simple.group(1) in out:
                return out[simple.group(1)]
            rendered = jinja.render(value, out)
            if rendered.problems:
                return value
            text = "\n".join(rendered.lines)
            if text.strip()[:1] in "[{" and MARK not in text:
                try:
                    return ast.literal_eval(text)
                except (ValueError, SyntaxError, RecursionError, MemoryError):
                    return text
            return text
        if depth > 8:
            return value
        if isinstance(value, list):
            return [one(v, depth + 1) for v in value]
        if isinstance(value, dict):
            return {k: one(v, depth + 1) for k, v in value.items()}
        return value

    cyclic: set[str] = set()

    def resolve(key: str, stack: tuple[str, ...]) -> None:
        if key in done or len(stack) > 32:
            return
        texts = [t for t in strings(out[key]) if "{{" in t or "{%" in t]
        for text in texts:
            for name in names(text):
                if name == key or name in stack:
                    cyclic.update({key, name})  # Ansible refuses a recursive definition
                elif name in out:
                    resolve(name, (*stack, key))
        if texts and key not in cyclic:
            out[key] = one(out[key])
        done.add(key)

    for key in list(out):
        resolve(key, ())
    # A variable defined through itself has no value: it renders as an unknown (symbolic).
    return {k: v for k, v in out.items() if k not in cyclic}


def _fact(value: Any, known: dict[str, Any], guarded: bool) -> Any:
    """A set_fact value: literal (rendered when it is a template of known values), or UNKNOWN
    when it runs only under a condition or needs a value nobody defines."""
    if guarded:
        return UNKNOWN
    if isinstance(value, str) and ("{{" in value or "{%" in value):
        simple = _SIMPLE.match(value.strip())
        if simple and simple.group(1) in known:
            return known[simple.group(1)]
        rendered = jinja.render(value, known)
        text = "\n".join(rendered.lines)
        if rendered.problems or MARK in text:
            return UNKNOWN
        try:  # Ansible reads a rendered `[...]`/`{...}`/number back as the value it spells
            return ast.literal_eval(text) if text.strip()[:1] in "[{(0123456789-" else text
        except (ValueError, SyntaxError, RecursionError, MemoryError):
            return text
    return value
