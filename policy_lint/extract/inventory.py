"""Ansible inventories found in the repository, and the hosts a play's `hosts:` pattern targets.

    # inventory/hosts.ini                      # inventory/hosts.yml
    [proxies]                                  all:
    proxy1 lan_cidr=10.1.0.0/16                  children:
    proxy[2:3]                                     proxies:
    [proxies:vars]                                   hosts: {proxy1: {lan_cidr: 10.1.0.0/16}}
    blocked_groups_extra=pro                         vars: {blocked_groups_extra: pro}

Found: the files `ansible.cfg` names (`[defaults] inventory = a,b`, relative to it), else any
file named `hosts`/`inventory` (optionally `.ini`/`.yml`/`.yaml`) and any file under a
directory named `inventory`/`inventories` (not its group_vars/host_vars) that reads as an
inventory; the files of one directory are one inventory, with the group_vars/ and host_vars/
beside them (inventories/production and inventories/staging stay apart): INI with at least one `[group]` header, or YAML whose top-level groups hold only
`hosts`/`children`/`vars`. Every group is in `all`; a host in no group is also in
`ungrouped`. INI `[g:children]` and `[g:vars]`, inline `key=value` host variables and numeric
or alphabetic ranges (`web[01:03]`, `db-[a:c]`) are read; dynamic inventory scripts and
plugins (`*.py`, `plugin:` YAML) are not (they run code): their hosts are unknown.

Host patterns (Ansible's "Patterns: targeting hosts and groups"): `all`/`*`, a group, a host,
shell wildcards (`web*`), `a:b` or `a,b` (union), `a:&b` (intersection), `a:!b`
(exclusion), a YAML list. A regex pattern (`~web\\d+`) or a Jinja2 expression is not
evaluated: `hosts()` says so (None).
"""

from __future__ import annotations

import configparser
import itertools
import os
import re
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from policy_lint.inputs import InputError, Resolver, read_source

MAX_HOSTS = 1000  # hosts expanded from ranges, per inventory
MAX_FILES = 200  # candidate inventory files read per repository
_NAMES = {"hosts", "inventory"}
_DIRS = {"inventory", "inventories"}
_RANGE = re.compile(r"\[([0-9]+|[a-z]):([0-9]+|[a-z])(?::([0-9]+))?\]")


@dataclass
class Group:
    name: str
    hosts: set[str] = field(default_factory=set)
    children: set[str] = field(default_factory=set)
    vars: dict[str, Any] = field(default_factory=dict)


@dataclass
class Inventory:
    groups: dict[str, Group] = field(default_factory=dict)
    host_vars: dict[str, dict[str, Any]] = field(default_factory=dict)  # inline, from the file
    sources: list[Path] = field(default_factory=list)
    directory: Path = Path()  # where its group_vars/ and host_vars/ are

    def group(self, name: str) -> Group:
        return self.groups.setdefault(name, Group(name))

    @property
    def hosts(self) -> list[str]:
        return sorted(self.host_vars)

    def add_host(self, name: str, group: str, values: dict[str, Any]) -> None:
        self.host_vars.setdefault(name, {}).update(values)
        self.group(group).hosts.add(name)

    def members(self, name: str, seen: frozenset[str] = frozenset()) -> set[str]:
        """Hosts of a group, its children's included (`all`: every host)."""
        if name == "all":
            return set(self.host_vars)
        g = self.groups.get(name)
        if g is None or name in seen:
            return set()
        out = set(g.hosts)
        for child in g.children:
            out |= self.members(child, seen | {name})
        return out

    def groups_of(self, host: str) -> list[tuple[int, str]]:
        """(depth, group) of every group `host` is in, `all` (depth 0) first, then parents
        before children, then by name: the order Ansible merges group variables in."""
        depth: dict[str, int] = {"all": 0}

        def walk(name: str, d: int, seen: frozenset[str]) -> None:
            g = self.groups.get(name)
            if g is None or name in seen:
                return
            depth[name] = max(depth.get(name, 0), d)
            for child in g.children:
                walk(child, d + 1, seen | {name})

        for name in self.groups:
            if not any(name in g.children for g in self.groups.values()) and name != "all":
                walk(name, 1, frozenset())
        inside = [n for n in self.groups if n != "all" and host in self.members(n)]
        return [(0, "all")] + sorted(((depth.get(n, 1), n) for n in inside), key=lambda t: (t[0], t[1]))

    def finish(self) -> None:
        grouped = {
            h for n, g in self.groups.items() if n not in ("all", "ungrouped") for h in self.members(n)
        }
        for host in self.host_vars:
            if host not in grouped:
                self.group("ungrouped").hosts.add(host)


def _expand(name: str) -> list[str]:
    m = _RANGE.search(name)
    if not m:
        return [name]
    first, last, step = m.group(1), m.group(2), int(m.group(3) or 1)
    # islice: `web[0:99999999]` must not build a hundred million names first.
    if first.isdigit() and last.isdigit():
        width = len(first) if first.startswith("0") else 0
        numbers = range(int(first), int(last) + 1, max(step, 1))
        values = [str(i).zfill(width) for i in itertools.islice(numbers, MAX_HOSTS)]
    elif first.isalpha() and last.isalpha():
        values = [chr(c) for c in range(ord(first), ord(last) + 1, max(step, 1))]
    else:
        return [name]
    out: list[str] = []
    for v in values[:MAX_HOSTS]:
        out += _expand(name[: m.start()] + v + name[m.end() :])
        if len(out) >= MAX_HOSTS:
            break
    return out[:MAX_HOSTS]


def _scalar(text: str) -> Any:
    """An INI value as Ansible reads a host line's `key=value` (a quoted string, a number, a
    boolean, else the text)."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if text in ("True", "true", "False", "false"):
        return text.lower() == "true"
    return text


def _pairs(text: str) -> dict[str, Any]:
    return {m.group(1): _scalar(m.group(2)) for m in re.finditer(r"(\w+)=(\"[^\"]*\"|'[^']*'|\S+)", text)}


def parse_ini(lines: list[str], inventory: Inventory) -> bool:
    """Read an INI inventory into `inventory`; False when it has no `[group]` header."""
    if not any(re.match(r"^\s*\[[^\]]+\]\s*$", ln) for ln in lines):
        return False
    section, kind = "ungrouped", "hosts"
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        header = re.match(r"^\[([^\]:]+)(?::(\w+))?\]$", line)
        if header:
            section, kind = header.group(1), header.group(2) or "hosts"
            inventory.group(section)
            continue
        if kind == "children":
            inventory.group(section).children.add(line.split()[0])
            inventory.group(line.split()[0])
        elif kind == "vars":
            key, _eq, value = line.partition("=")
            inventory.group(section).vars[key.strip()] = _scalar(value)
        else:
            name, _sp, rest = line.partition(" ")
            values = _pairs(rest)
            for host in _expand(name):
                inventory.add_host(host, section, values)
    return True


_YAML_KEYS = {"hosts", "children", "vars"}


def _is_yaml_inventory(data: Any) -> bool:
    return (
        isinstance(data, dict)
        and bool(data)
        and "plugin" not in data
        and all(isinstance(v, dict | type(None)) for v in data.values())
        and all(set(v or {}) <= _YAML_KEYS for v in data.values())
        and any(set(v or {}) & _YAML_KEYS for v in data.values())
    )


def parse_yaml(data: Any, inventory: Inventory) -> bool:
    if not _is_yaml_inventory(data):
        return False

    def group(name: str, body: Any, depth: int) -> None:
        g = inventory.group(name)
        if not isinstance(body, dict) or depth > 32:
            return
        for host, values in (body.get("hosts") or {}).items():
            for h in _expand(str(host)):
                inventory.add_host(h, name, values if isinstance(values, dict) else {})
        if isinstance(body.get("vars"), dict):
            g.vars.update(body["vars"])
        for child, child_body in (body.get("children") or {}).items():
            if str(child) != name:
                g.children.add(str(child))
                group(str(child), child_body, depth + 1)

    for name, body in data.items():
        group(str(name), body, 0)
    return True


def _candidates(root: Path, resolver: Resolver) -> list[Path]:
    cfg = root / "ansible.cfg"
    if cfg.is_file() and resolver.inside(cfg, root):
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            parser.read_string(cfg.read_text(encoding="utf-8", errors="replace"))
            named = parser.get("defaults", "inventory", fallback="")
        except configparser.Error:
            named = ""
        paths = [root / p.strip() for p in named.split(",") if p.strip()]
        if paths:
            out: list[Path] = []
            for p in paths:
                if not resolver.inside(p, root):
                    continue  # an inventory outside the lint root (/etc/ansible/hosts): never read
                out += sorted(f for f in p.rglob("*") if f.is_file())[:MAX_FILES] if p.is_dir() else [p]
            return out
    found: list[Path] = []
    for top, dirs, files in os.walk(root):
        dirs[:] = sorted(
            d for d in dirs if not d.startswith(".") and d not in ("group_vars", "host_vars", "node_modules")
        )
        inside = any(part in _DIRS for part in Path(top).relative_to(root).parts)
        for f in sorted(files):
            stem, _dot, suffix = f.partition(".")
            if suffix not in ("", "ini", "yml", "yaml"):
                continue
            if inside or stem in _NAMES:
                found.append(Path(top) / f)
        if len(found) >= MAX_FILES:
            break
    return found[:MAX_FILES]


def find(resolver: Resolver) -> list[Inventory]:
    """The inventories under the lint root: the files of one directory make one inventory (as
    `-i DIR` reads them), each directory its own (production/ and staging/ are not merged)."""
    import yaml  # PyYAML only when an Ansible file is read

    found: dict[Path, Inventory] = {}
    root = resolver.root
    for path in _candidates(root, resolver):
        if not path.is_file() or not resolver.inside(path, root):
            continue
        try:
            source = read_source(path, resolver.display(path))
        except InputError:
            continue
        inventory = found.setdefault(path.parent, Inventory(directory=path.parent))
        read = False
        if path.suffix in (".yml", ".yaml"):
            try:
                read = parse_yaml(yaml.safe_load("\n".join(source.lines)), inventory)
            except yaml.YAMLError:
                read = False
        else:
            read = parse_ini(source.lines, inventory)
        if read:
            inventory.sources.append(path)
            resolver.found.add(str(path.resolve()))  # read as part of the templates: not "skipped"
    out = [i for i in found.values() if i.sources]
    cfg = root / "ansible.cfg"
    if out and cfg.is_file():
        resolver.found.add(str(cfg.resolve()))
    for inventory in out:
        inventory.finish()
    return [i for i in out if i.host_vars]


def hosts(pattern: Any, inventory: Inventory) -> list[str] | None:
    """The inventory hosts a play's `hosts:` pattern targets, in inventory order; None when
    the pattern is not evaluated (a regex, a Jinja2 expression)."""
    if isinstance(pattern, list):
        parts = [str(p) for p in pattern]
    elif isinstance(pattern, str):
        if "{{" in pattern or "{%" in pattern:
            return None
        parts = re.split(r"[,:]", pattern.replace(":&", ",&").replace(":!", ",!"))
    else:
        return None
    selected: set[str] = set()
    for part in (p.strip() for p in parts):
        if not part:
            continue
        op = part[0] if part[0] in "&!" else ""
        name = part[len(op) :]
        if name.startswith("~") or "[" in name:
            return None
        matched = _match(name, inventory)
        if op == "&":
            selected &= matched
        elif op == "!":
            selected -= matched
        else:
            selected |= matched
    return sorted(selected)


def _match(name: str, inventory: Inventory) -> set[str]:
    if name in ("all", "*"):
        return set(inventory.host_vars)
    if name in inventory.groups:
        return inventory.members(name)
    if name in inventory.host_vars:
        return {name}
    if any(c in name for c in "*?"):
        out = {h for h in inventory.host_vars if fnmatchcase(h, name)}
        for g in inventory.groups:
            if fnmatchcase(g, name):
                out |= inventory.members(g)
        return out
    return set()
