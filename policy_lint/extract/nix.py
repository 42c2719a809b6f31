"""Configs inside NixOS modules: the options whose value is a config file's text.

    services.squid = {
      enable = true;
      extraConfig = ''                       # inserted into NixOS's own squid.conf (below)
        acl social dstdomain .facebook.com
        http_access deny social
      '';
    };
    networking.firewall.extraCommands = "iptables -A FORWARD -d 31.13.24.0/21 -j DROP";
    services.dnsmasq.settings.address = [ "/facebook.com/0.0.0.0" ];   # -> address=/facebook.com/0.0.0.0

Read: `services.squid.extraConfig` (inside the module's generated squid.conf, as nixpkgs'
nixos/modules/services/networking/squid.nix writes it: its `localnet` ACLs and safe-port denies
first, then extraConfig, then `http_access allow localnet`, `allow localhost`, `deny all`) and
`configText` (the whole file); `networking.firewall.extraCommands` (an iptables script);
`networking.nftables.ruleset`; `services.dnsmasq.extraConfig` and `settings` (each key a
dnsmasq option, a list one line per element, `true` a bare option); `services.unbound.extraConfig`;
`networking.extraHosts` and `networking.hosts` (address -> names). Multi-line strings `'' ''` lose
their common indentation as Nix strips it; `${...}` antiquotations are symbolic values. A
service whose `enable = false` (or never enabled in the same file, for squid and dnsmasq, whose
config only exists when enabled) is inert: every service unaffected by it, what it would block
said as TE202.
An option inside `mkIf COND { ... }` (or `optionalAttrs`, `if`), or a service whose `enable` is
an expression, may or may not be in effect: its lines are unknown (TE907 naming the condition),
never a block nor inert; `mkIf true`/`mkIf false` (or a `let`-bound literal boolean) decide.

    let
      blocked = [ ".facebook.com" ".fbcdn.net" ];
      lan = "10.0.0.0/8";
    in {
      imports = [ ./proxy-rules.nix ];
      services.squid.extraConfig = lib.mkForce ''
        acl social dstdomain ${lib.concatStringsSep " " blocked}
      '';
    }

`let` bindings of literal strings (one- or multi-line), lists of strings, numbers and booleans
are substituted where `${name}`, `${toString name}` or `${lib.concatStringsSep "sep" name}`
interpolate them, and where an option's value is the bare name (bindings are file-wide: a
shadowing inner `let` is not told apart); `map (d: "/${d}/0.0.0.0") list` (a list option) and
`concatMapStrings (d: "0.0.0.0 ${d}\n") list` / `concatMapStringsSep "\n" (d: ...) list` (a
string option) over a literal or let-bound list of strings are expanded, each element on the
assignment's line. Other antiquotations are symbolic values.
`imports = [ ./a.nix ./dir ]` are followed (a directory means its `default.nix`), recursively,
only inside the lint root: the modules are merged as NixOS merges them. Definitions of one
option keep only the highest priority (`mkForce` 50 < plain 100 < `mkDefault` 1000,
`mkOverride N`); line options (extraConfig, extraCommands, ruleset, extraHosts) concatenate
the remaining definitions by `mkBefore` (500) / plain (1000) / `mkAfter` (1500), then in module
order (the importing module first, which NixOS does not promise: same-order definitions from
several modules are marked as such in the label); `enable` takes the highest-priority value.
An import that is missing or outside the root is TE903 at its line, and every config of the
module is unknown (the missing module could set or disable anything). nixpkgs' own modules
(`<nixpkgs/...>`, `modulesPath + ...`) are not followed: they define the option defaults this
module models. The lines of imported modules point at their own file and line; a module
imported here is reported as part of the importing one, not again on its own.
Not modelled: `builtins.readFile` (the read file is linted on its own when it is in the
repository), string concatenation with `+`, functions of bindings other than the above,
`mkMerge` lists (their contents are unknown).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.extract import shell
from policy_lint.extract.model import Embedded, Extraction, mark
from policy_lint.inputs import InputError, SourceText, read_source

# Option path -> (dialect, file name, the service whose `enable` decides it)
_OPTIONS: dict[str, tuple[str, str, str]] = {
    "services.squid.extraConfig": ("squid", "squid.conf", "services.squid"),
    "services.squid.configText": ("squid", "squid.conf", "services.squid"),
    "services.dnsmasq.extraConfig": ("dnsmasq", "dnsmasq.conf", "services.dnsmasq"),
    "services.dnsmasq.settings": ("dnsmasq", "dnsmasq.conf", "services.dnsmasq"),
    "services.unbound.extraConfig": ("unbound", "unbound.conf", "services.unbound"),
    "networking.firewall.extraCommands": ("iptables", "firewall.sh", "networking.firewall"),
    "networking.nftables.ruleset": ("nftables", "nftables.conf", "networking.nftables"),
    "networking.extraHosts": ("hosts", "hosts", ""),
    "networking.hosts": ("hosts", "hosts", ""),
}
# Services off unless enabled (the firewall is on by default on NixOS).
_OFF_BY_DEFAULT = {"services.squid", "services.dnsmasq", "services.unbound", "networking.nftables"}

# nixpkgs squid.nix: what surrounds extraConfig in the generated squid.conf (ACLs and
# http_access lines only; logging and cache settings decide nothing here).
_SQUID_BEFORE = """acl localnet src 10.0.0.0/8
acl localnet src 172.16.0.0/12
acl localnet src 192.168.0.0/16
acl localnet src 169.254.0.0/16
acl localnet src fc00::/7
acl localnet src fe80::/10
acl SSL_ports port 443
acl Safe_ports port 80
acl Safe_ports port 21
acl Safe_ports port 443
acl Safe_ports port 70
acl Safe_ports port 210
acl Safe_ports port 1025-65535
acl Safe_ports port 280
acl Safe_ports port 488
acl Safe_ports port 591
acl Safe_ports port 777
acl CONNECT method CONNECT
http_access deny !Safe_ports
http_access deny CONNECT !SSL_ports
http_access allow localhost manager
http_access deny manager
http_access deny to_localhost""".splitlines()
_SQUID_AFTER = ["http_access allow localnet", "http_access allow localhost", "http_access deny all"]

_ASSIGN = re.compile(r"^\s*([\w.\"-]+(?:\.[\w\"-]+)*)\s*=\s*(.*)$")
_ANTIQUOTE = re.compile(r"(?<!'')\$\{[^{}]*\}")


@dataclass
class _Value:
    path: str
    line: int
    lines: list[tuple[int, str]] = field(default_factory=list)  # a string's lines
    items: list[tuple[str, list[tuple[int, str]]]] = field(default_factory=list)  # settings key -> values
    condition: str = ""  # an enclosing `mkIf COND {` / `optionalAttrs`: not evaluated
    off: str = ""  # an enclosing `mkIf false`: why it is not in effect
    priority: int = 100  # mkForce 50, plain 100, mkDefault 1000, mkOverride N
    order: int = 1000  # mkBefore 500, plain 1000, mkAfter 1500, mkOrder N
    module: int = 0  # index of the module (file) it was defined in
    origin: str = ""  # that module, as shown

    def last_line(self) -> int:
        numbers = [n for n, _t in self.lines] + [n for _k, items in self.items for n, _t in items]
        return max(numbers, default=self.line)


@dataclass
class _Binding:
    """A `let` binding of a literal: a string (its lines), a list of strings, a bool or number."""

    kind: str  # str | list | bool | num
    lines: list[tuple[int, str]] = field(default_factory=list)
    items: list[str] = field(default_factory=list)
    value: str = ""


def claims(path: Path, head: str) -> bool:
    return path.suffix.lower() == ".nix"


def _unquote_name(name: str) -> str:
    return ".".join(part.strip('"') for part in name.split("."))


def _strings(text: str) -> list[str]:
    return re.findall(r"\"((?:[^\"\\]|\\.)*)\"", text)


_CONDITION = re.compile(r"\b(?:mkIf|optionalAttrs|mkMerge|if)\b")
_PRIORITY = re.compile(r"^(?:lib\.)?(?:mkDefault|mkForce|mkOverride\s+\d+)\s+")
_MODIFIER = re.compile(
    r"^(?:lib\.)?(mkDefault|mkForce|mkOverride\s+(\d+)|mkBefore|mkAfter|mkOrder\s+(\d+)|mkOptionDefault)\s+"
)
_PRIORITIES = {"mkForce": 50, "mkDefault": 1000, "mkOptionDefault": 1500}
_ORDERS = {"mkBefore": 500, "mkAfter": 1500}
_VALUE_IF = re.compile(r"^(?:lib\.)?mkIf\s+(?:!\s*)?[\w.]+\s+(?=''|\"|\[)")
_LITERAL_IF = re.compile(r"^(?:.*=\s*)?(?:lib\.)?mkIf\s+(!?)\s*([\w.]+)\s*$")


def _modifiers(rest: str) -> tuple[str, int, int]:
    """The value after `mkForce`/`mkBefore`/..., its priority and its order."""
    priority, order = 100, 1000
    for _ in range(4):
        m = _MODIFIER.match(rest)
        if not m:
            break
        word = m.group(1).split()[0]
        if word == "mkOverride":
            priority = int(m.group(2))
        elif word == "mkOrder":
            order = int(m.group(3))
        elif word in _PRIORITIES:
            priority = _PRIORITIES[word]
        else:
            order = _ORDERS[word]
        rest = rest[m.end() :].lstrip()
    return rest, priority, order


def _literal_condition(head: str, bindings: dict[str, _Binding]) -> bool | None:
    """`mkIf true` / `mkIf false` / `mkIf name` of a let-bound boolean (optionally negated)."""
    m = _LITERAL_IF.match(head.strip())
    if not m:
        return None
    word = m.group(2)
    value: bool | None = None
    if word in ("true", "false"):
        value = word == "true"
    elif word in bindings and bindings[word].kind == "bool":
        value = bindings[word].value == "true"
    if value is None:
        return None
    return (not value) if m.group(1) else value


def _block(lines: list[str], i: int, rest: str) -> tuple[list[tuple[int, str]], int]:
    """The lines of a `'' ... ''` string starting on line i (0-based) after `rest`, with the
    common indentation removed, and the index of its last line."""
    body = rest[2:]
    if "''" in body:
        return [(i + 1, body.split("''")[0])], i
    out: list[tuple[int, str]] = []
    i += 1
    while i < len(lines) and not re.match(r"^\s*''\s*[;)\]]?", lines[i]):
        out.append((i + 1, lines[i]))
        i += 1
    cut = min((len(t) - len(t.lstrip()) for _n, t in out if t.strip()), default=0)
    return [(n, t[cut:]) for n, t in out], i


def _list(lines: list[str], i: int, rest: str) -> tuple[list[tuple[int, str]], int]:
    j, text, out = i, rest, []
    while True:
        out += [(j + 1, s) for s in _strings(text)]
        if "]" in text or j + 1 >= len(lines):
            return out, j
        j += 1
        text = lines[j]


def _bindings(lines: list[str]) -> dict[str, _Binding]:
    """Literal `let` bindings anywhere in the module (see the docstring)."""
    out: dict[str, _Binding] = {}
    inside = False
    i = 0
    while i < len(lines):
        line = re.sub(r"(^|\s)#.*$", "", lines[i])
        one = re.search(r"\blet\s+(.*?)\s+in\b", line)
        if one:
            for m in re.finditer(r"([\w-]+)\s*=\s*(\"(?:[^\"\\]|\\.)*\"|true|false|-?\d+)\s*;", one.group(1)):
                value = m.group(2)
                if value.startswith('"'):
                    out[m.group(1)] = _Binding("str", [(i + 1, value[1:-1])])
                else:
                    out[m.group(1)] = _Binding("bool" if value in ("true", "false") else "num", value=value)
            i += 1
            continue
        if re.search(r"(^|[\s=:(])let\s*$", line) or re.match(r"^\s*let\s+[\w-]+\s*=", line):
            inside = True
            line = re.sub(r"^.*?\blet\b", "", line)
        if inside and re.match(r"^\s*in\b", line):
            inside = False
        if inside:
            bound = re.match(r"^\s*([\w-]+)\s*=\s*(.*?)\s*$", line)
            if bound:
                name, rest = bound.group(1), bound.group(2)
                if rest.startswith("''"):
                    text, i = _block(lines, i, rest)
                    out[name] = _Binding("str", text)
                elif rest.startswith('"'):
                    out[name] = _Binding("str", [(i + 1, s.replace('\\"', '"')) for s in _strings(rest)[:1]])
                elif rest.startswith("["):
                    items, i = _list(lines, i, rest)
                    out[name] = _Binding("list", items=[t for _n, t in items])
                elif rest.rstrip(";") in ("true", "false") or re.fullmatch(r"-?\d+", rest.rstrip(";")):
                    value = rest.rstrip(";")
                    out[name] = _Binding("bool" if value in ("true", "false") else "num", value=value)
        i += 1
    return out


_IMPORT_TOKEN = re.compile(r"(\([^()]*\)|\"[^\"]*\"|<[^>]+>|[\w.+${}/-]+)")


def _imports(lines: list[str]) -> list[tuple[int, str]]:
    """(line, reference) of each element of `imports = [ ... ]`."""
    out: list[tuple[int, str]] = []
    i = 0
    while i < len(lines):
        line = re.sub(r"(^|\s)#.*$", "", lines[i])
        m = re.match(r"^\s*imports\s*=\s*\[(.*)$", line)
        if m:
            text, j = m.group(1), i
            while True:
                body = text.split("]")[0]
                out += [(j + 1, t.group(1)) for t in _IMPORT_TOKEN.finditer(body)]
                if "]" in text or j + 1 >= len(lines):
                    break
                j += 1
                text = re.sub(r"(^|\s)#.*$", "", lines[j])
            i = j
        i += 1
    return out


def _scan(
    lines: list[str], bindings: dict[str, _Binding]
) -> tuple[list[_Value], dict[str, tuple[bool | str, int]]]:
    """Option assignments (their full paths) with string or settings values, and `enable`s
    (True/False, or the expression when it is not a literal, with its priority)."""
    values: list[_Value] = []
    enables: dict[str, tuple[bool | str, int]] = {}
    stack: list[str] = []
    conditions: list[str] = []  # parallel to `stack`; "\0why" for a literal `mkIf false`
    in_let = False
    i = 0
    while i < len(lines):
        line = re.sub(r"(^|\s)#.*$", "", lines[i])
        if re.search(r"(^|[\s=:(])let\s*$", line):
            in_let = True
        elif in_let and re.match(r"^\s*in\b", line):
            in_let = False
            line = re.sub(r"^\s*in\b", "", line)
        m = _ASSIGN.match(line)
        if m and in_let:
            m = None
            rest = line.split("=", 1)[1].strip() if "=" in line else ""
            if rest.startswith("''"):  # skip a multi-line binding: it is no option
                _text_lines, i = _block(lines, i, rest)
        if m:
            name = ".".join([*stack, _unquote_name(m.group(1))])
            rest, priority, order = _modifiers(m.group(2).strip())
            within = next((c for c in conditions if c and not c.startswith("\0")), "")
            off = next((c[1:] for c in conditions if c.startswith("\0")), "")
            guard = _VALUE_IF.match(rest)
            if guard:  # `option = lib.mkIf COND ''...''`: the value's own condition
                decided = _condition(guard.group(0).strip(), bindings)
                rest, priority, order = _modifiers(rest[guard.end() :])
                if decided.startswith("\0"):
                    off = off or decided[1:]
                elif decided:
                    within = within or decided

            value = _Value(name, i + 1, condition=within, off=off, priority=priority, order=order)
            bare = re.fullmatch(r"([\w-]+)\s*;", rest)
            mapped = _mapped(rest, bindings)
            if mapped is not None:
                kind, produced = mapped
                if kind == "lines":
                    value.lines = [(i + 1, t) for t in produced]
                else:
                    value.items.append(("", [(i + 1, t) for t in produced]))
                values.append(value)
            elif bare and bare.group(1) in bindings and bindings[bare.group(1)].kind in ("str", "list"):
                bound = bindings[bare.group(1)]
                if bound.kind == "str":
                    value.lines = list(bound.lines)
                else:
                    value.items.append(("", [(i + 1, t) for t in bound.items]))
                values.append(value)
            elif rest.startswith("''"):
                value.lines, i = _block(lines, i, rest)
                values.append(value)
            elif rest.startswith('"'):
                for s_ in _strings(rest)[:1]:
                    for part in s_.replace("\\n", "\n").split("\n"):
                        value.lines.append((i + 1, part.replace('\\"', '"')))
                values.append(value)
            elif rest.startswith("["):
                collected, i = _list(lines, i, rest)
                value.items.append(("", collected))
                values.append(value)
            elif name.endswith(".enable") and rest.endswith(";"):
                literal = rest.rstrip(";").strip()
                if literal in bindings and bindings[literal].kind == "bool":
                    literal = bindings[literal].value
                service = name[: -len(".enable")]
                setting: bool | str = literal == "true" if literal in ("true", "false") else literal
                if within and literal == "true":
                    setting = within
                if off:
                    setting = False
                enables[service] = _stronger(enables.get(service), (setting, priority))
            elif rest.rstrip(";").strip() in ("true", "false"):
                value.lines = [(i + 1, rest.rstrip(";").strip())]
                values.append(value)
            elif rest.endswith("{"):
                stack.append(_unquote_name(m.group(1)))
                head = rest[:-1].strip()
                conditions.append(_condition(head, bindings))
            i += 1
            continue
        opened = line.count("{") - line.count("}")
        if opened < 0:
            for _ in range(-opened):
                if stack:
                    stack.pop()
                    conditions.pop()
        elif opened > 0 and re.match(r"^\s*(?:let|in|\{|\(|[\w,\s.?@]*\}:)", line) is None:
            stack.extend([""] * opened)  # an unnamed set: keeps the depth honest
            conditions.extend(
                [_condition(line.strip(), bindings) if _CONDITION.search(line) else ""] * opened
            )
        i += 1
    return values, enables


_MAP = re.compile(
    r"^(?:(?:lib|builtins|lib\.strings)\.)?(map|concatMapStrings|concatMapStringsSep\s+\"((?:[^\"\\]|\\.)*)\")"
    r"\s+\(\s*([\w-]+)\s*:\s*\"((?:[^\"\\]|\\.)*)\"\s*\)\s+(.+?)\s*;$"
)


def _mapped(rest: str, bindings: dict[str, _Binding]) -> tuple[str, list[str]] | None:
    """`map (d: "/${d}/0.0.0.0") blocked;` (a list: "items") or `concatMapStrings (d:
    "0.0.0.0 ${d}\n") blocked;` (a string: "lines") over a literal or let-bound list of strings."""
    m = _MAP.match(rest)
    if not m:
        return None
    function, separator, arg, body, over = m.groups()
    if over.startswith("[") and over.endswith("]"):
        items = _strings(over)
    elif over in bindings and bindings[over].kind == "list":
        items = bindings[over].items
    else:
        return None
    pattern = re.compile(r"\$\{\s*" + re.escape(arg) + r"\s*\}")
    produced = [pattern.sub(lambda _m, item=item: item, body.replace('\\"', '"')) for item in items]
    if function == "map":
        return "items", produced
    text = (separator or "").replace("\\n", "\n").join(p.replace("\\n", "\n") for p in produced)
    return "lines", [t for t in text.split("\n") if t.strip()]


def _condition(head: str, bindings: dict[str, _Binding]) -> str:
    """What `head` (the text before `{`) makes of the set it opens: "" (always in effect),
    "\\0why" (a literal `mkIf false`: never), or the condition's text (not evaluated)."""
    if not _CONDITION.search(head):
        return ""
    decided = _literal_condition(head, bindings)
    if decided is True:
        return ""
    if decided is False:
        return "\0" + head.strip().rstrip("{").strip() + ": its condition is false, NixOS does not apply it"
    return head


def _stronger(old: tuple[bool | str, int] | None, new: tuple[bool | str, int]) -> tuple[bool | str, int]:
    """The definition NixOS keeps: the lower priority number; at equal priority the same value,
    else the conflict (NixOS refuses it) as an expression nothing here decides."""
    if old is None or new[1] < old[1]:
        return new
    if new[1] > old[1] or old[0] == new[0]:
        return old
    return (f"conflicting definitions ({old[0]} and {new[0]})", old[1])


def _interpolate(expression: str, bindings: dict[str, _Binding], depth: int = 0) -> str | None:
    """The literal text of a `${...}` of let bindings, or None."""
    e = re.sub(r"^(?:lib\.|builtins\.|lib\.strings\.)", "", expression.strip())
    if re.fullmatch(r"[\w-]+", e) and e in bindings:
        b = bindings[e]
        if b.kind == "str" and len(b.lines) == 1:
            return _text(b.lines[0][1], bindings, depth + 1)
        return b.value if b.kind in ("num", "bool") and b.kind == "num" else None
    m = re.fullmatch(r"toString\s+([\w-]+)", e)
    if m and m.group(1) in bindings:
        b = bindings[m.group(1)]
        if b.kind == "num":
            return b.value
        if b.kind == "str" and len(b.lines) == 1:
            return _text(b.lines[0][1], bindings, depth + 1)
        return None
    m = re.fullmatch(r"(?:lib\.|builtins\.)?concatStringsSep\s+\"((?:[^\"\\]|\\.)*)\"\s+(.+)", e)
    if m:
        sep, arg = m.group(1).replace("\\n", "\n"), m.group(2).strip()
        if arg.startswith("[") and arg.endswith("]"):
            items = _strings(arg)
        elif arg in bindings and bindings[arg].kind == "list":
            items = bindings[arg].items
        else:
            return None
        if "\n" in sep:
            return None  # would add lines the line map cannot follow
        return sep.join(_text(t, bindings, depth + 1) for t in items)
    return None


def _text(line: str, bindings: dict[str, _Binding] | None = None, depth: int = 0) -> str:
    def one(m: re.Match[str]) -> str:
        if bindings and depth < 8:
            literal = _interpolate(m.group(0)[2:-1], bindings, depth)
            if literal is not None:
                return literal
        return mark(m.group(0))

    return _ANTIQUOTE.sub(one, line).replace("''${", "${")


@dataclass
class _Module:
    path: Path
    shown: str
    lines: list[str]


def _nixpkgs(ref: str) -> bool:
    return ref.startswith("<") or "modulesPath" in ref


def _collect(
    path: Path, source: SourceText, context: ParseContext
) -> tuple[list[_Module], list[tuple[str, int, str]]]:
    """The module and every module it imports inside the lint root (breadth first, each once),
    and the imports that could not be read: (module shown, line, message)."""
    modules = [_Module(path, source.path, source.lines)]
    missing: list[tuple[str, int, str]] = []
    seen = {path.resolve()}
    k = 0
    root = context.resolver.root
    while k < len(modules) and len(modules) < 64:
        module = modules[k]
        k += 1
        for line, ref in _imports(module.lines):
            if _nixpkgs(ref):
                continue
            text = ref.strip('"').strip("()").strip()
            if "${" in text or not text.startswith(("./", "../", "/")):
                missing.append((module.shown, line, f"imports {ref}: an expression not evaluated"))
                continue
            target = (module.path.parent / text) if not text.startswith("/") else Path(text)
            if target.is_dir():
                target = target / "default.nix"
            if not context.resolver.inside(target, root):
                missing.append((module.shown, line, f"imports {ref}: outside the lint root, not read"))
                continue
            if not target.is_file():
                missing.append((module.shown, line, f"imports {ref}: not in the repository"))
                continue
            if target.resolve() in seen:
                continue
            seen.add(target.resolve())
            try:
                imported = read_source(target, context.resolver.display(target))
            except InputError as exc:
                missing.append((module.shown, line, f"imports {ref}: {exc}"))
                continue
            context.resolver.found.add(str(target.resolve()))
            modules.append(_Module(target, imported.path, imported.lines))
    return modules, missing


_LINES_OPTIONS = {o for o in _OPTIONS if not o.endswith(".settings") and o != "networking.hosts"}


def _winners(values: list[_Value]) -> list[_Value]:
    """Per option, the definitions NixOS keeps (highest priority), lines options in merge order."""
    best: dict[str, int] = {}
    for v in values:
        option = _option(v.path)
        if option is not None:
            best[option] = min(best.get(option, 1 << 30), v.priority)
    kept = [v for v in values if _option(v.path) is not None and v.priority == best[_option(v.path) or ""]]
    return sorted(kept, key=lambda v: (v.order, v.module, v.line))


def _option(path: str) -> str | None:
    return next((o for o in _OPTIONS if path == o or path.startswith(o + ".")), None)


def extract(path: Path, source: SourceText, context: ParseContext) -> Extraction:
    modules, missing = _collect(path, source, context)
    values: list[_Value] = []
    enables: dict[str, tuple[bool | str, int]] = {}
    for index, module in enumerate(modules):
        bindings = _bindings(module.lines)
        found, module_enables = _scan(module.lines, bindings)
        for v in found:
            v.path = ".".join(p for p in v.path.split(".") if p)
            v.module, v.origin = index, module.shown
            v.lines = [(n, _text(t, bindings)) for n, t in _expand(v.lines, bindings)]
            v.items = [(key, [(n, _text(t, bindings)) for n, t in items]) for key, items in v.items]
            values.append(v)
        for service, setting in module_enables.items():
            enables[service] = _stronger(enables.get(service), setting)
    pulled = [str(m.path.resolve()) for m in modules[1:]]
    unknown_import = ", ".join(f"{shown}:{line}" for shown, line, _why in missing)
    pieces: list[Embedded] = []
    merged: dict[str, Embedded] = {}
    for v in _winners(values):
        option = _option(v.path) or ""
        dialect, name, service = _OPTIONS[option]
        enabled = enables.get(service, (None, 0))[0]
        # A condition NixOS evaluates (mkIf, an enable computed from other options): the
        # config may or may not be in effect, so its lines are unknown, not a block nor inert.
        condition = v.condition or (f"{service}.enable = {enabled}" if isinstance(enabled, str) else "")
        if unknown_import and not condition:
            condition = f"what the import not read at {unknown_import} sets"
        inert = ""
        if enabled is False:
            inert = f"{service}.enable = false: NixOS does not apply it"
        elif enabled is None and service in _OFF_BY_DEFAULT:
            inert = f"{service} is not enabled in this module or its imports (off by default)"
        piece = merged.get(option)
        if piece is None:
            piece = merged[option] = Embedded(
                source.path, [], [], name, f"{option} at {v.origin}:{v.line}", dialect, inert
            )
            piece.pulls_in = pulled
            pieces.append(piece)
        elif v.origin not in piece.label:
            piece.label += f" (merged with {v.origin}:{v.line})"
        if v.off:
            continue  # `mkIf false`: this definition is not in effect (others may be)
        if option.endswith(".settings") or option == "networking.hosts":
            key = v.path[len(option) + 1 :].strip('"')
            for _k, items in v.items or [("", v.lines)]:
                for n, item in items:
                    if option == "networking.hosts":
                        _add(piece, f"{key} {item}", n, v, condition)
                    elif item == "true":
                        _add(piece, key, n, v, condition)
                    elif item != "false":
                        _add(piece, f"{key}={item}", n, v, condition)
            continue
        for n, text in v.lines:
            _add(piece, text, n, v, condition)
    out: list[Embedded] = []
    for option, piece in merged.items():
        defined = [v for v in _winners(values) if _option(v.path) == option]
        if all(v.off for v in defined):
            # Every definition is under a literal `mkIf false`: inert, what it would do said.
            piece.inert = piece.inert or defined[0].off
            for v in defined:
                for n, text in v.lines:
                    _add(piece, text, n, v, "")
        if not piece.lines:
            continue
        if option == "services.squid.extraConfig":
            first = (piece.line_map[0], piece.line_origin[0]) if piece.line_map else (1, source.path)
            last = (piece.line_map[-1], piece.line_origin[-1]) if piece.line_map else first
            before = [(t, first) for t in _SQUID_BEFORE]
            after = [(t, last) for t in _SQUID_AFTER]
            piece.lines = [t for t, _w in before] + piece.lines + [t for t, _w in after]
            piece.line_map = [w[0] for _t, w in before] + piece.line_map + [w[0] for _t, w in after]
            piece.line_origin = [w[1] for _t, w in before] + piece.line_origin + [w[1] for _t, w in after]
            piece.line_conditions = {k + len(before): e for k, e in piece.line_conditions.items()}
        if piece.dialect == "iptables":
            out += shell.with_writes(path, piece, context)
        else:
            out.append(piece)
    unread = [("TE903", line, why) for shown, line, why in missing if shown == source.path]
    unread += [
        ("TE903", line, f"{shown}:{line}: {why}") for shown, line, why in missing if shown != source.path
    ]
    return Extraction(out, unread=unread)


def _expand(lines: list[tuple[int, str]], bindings: dict[str, _Binding]) -> list[tuple[int, str]]:
    """A line that is only `${name}` of a multi-line let-bound string becomes its lines."""
    out: list[tuple[int, str]] = []
    for n, text in lines:
        m = re.fullmatch(r"\s*\$\{\s*([\w-]+)\s*\}\s*", text)
        b = bindings.get(m.group(1)) if m else None
        if b is not None and b.kind == "str" and len(b.lines) > 1:
            out += b.lines
        else:
            out.append((n, text))
    return out


def _add(piece: Embedded, text: str, line: int, value: _Value, condition: str) -> None:
    piece.add(text, line)
    piece.line_origin.append(value.origin)
    if condition:
        piece.line_conditions[len(piece.lines)] = condition
