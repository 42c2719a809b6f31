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
never a block nor inert. Not modelled: `let` bindings, imports of other modules, `lib.mkForce`
priorities, `builtins.readFile` (the read file
is linted on its own when it is in the repository).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.extract import shell
from policy_lint.extract.model import Embedded, Extraction, mark
from policy_lint.inputs import SourceText

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

    def last_line(self) -> int:
        numbers = [n for n, _t in self.lines] + [n for _k, items in self.items for n, _t in items]
        return max(numbers, default=self.line)


def claims(path: Path, head: str) -> bool:
    return path.suffix.lower() == ".nix"


def _unquote_name(name: str) -> str:
    return ".".join(part.strip('"') for part in name.split("."))


def _strings(text: str) -> list[str]:
    return re.findall(r"\"((?:[^\"\\]|\\.)*)\"", text)


_CONDITION = re.compile(r"\b(?:mkIf|optionalAttrs|mkMerge|if)\b")
_PRIORITY = re.compile(r"^(?:lib\.)?(?:mkDefault|mkForce|mkOverride\s+\d+)\s+")


def _scan(lines: list[str]) -> tuple[list[_Value], dict[str, bool | str]]:
    """Option assignments (their full paths) with string or settings values, and `enable`s
    (True/False, or the expression when it is not a literal)."""
    values: list[_Value] = []
    enables: dict[str, bool | str] = {}
    stack: list[str] = []
    conditions: list[str] = []  # parallel to `stack`
    i = 0
    while i < len(lines):
        line = re.sub(r"(^|\s)#.*$", "", lines[i])
        m = _ASSIGN.match(line)
        if m:
            name = ".".join([*stack, _unquote_name(m.group(1))])
            rest = m.group(2).strip()
            within = next((c for c in conditions if c), "")
            if rest.startswith("''"):
                value = _Value(name, i + 1, condition=within)
                body = rest[2:]
                if "''" in body:  # one-line ''...''
                    value.lines.append((i + 1, body.split("''")[0]))
                    values.append(value)
                    i += 1
                    continue
                i += 1
                while i < len(lines) and not re.match(r"^\s*''\s*;?", lines[i]):
                    value.lines.append((i + 1, lines[i]))
                    i += 1
                cut = min((len(t) - len(t.lstrip()) for _n, t in value.lines if t.strip()), default=0)
                value.lines = [(n, t[cut:]) for n, t in value.lines]
                values.append(value)
                i += 1
                continue
            if rest.startswith('"'):
                value = _Value(name, i + 1, condition=within)
                for s in _strings(rest)[:1]:
                    for part in s.replace("\\n", "\n").split("\n"):
                        value.lines.append((i + 1, part.replace('\\"', '"')))
                values.append(value)
            elif rest.startswith("["):
                value = _Value(name, i + 1, condition=within)
                j = i
                collected: list[tuple[int, str]] = []
                text = rest
                while True:
                    collected += [(j + 1, s) for s in _strings(text)]
                    if "]" in text or j + 1 >= len(lines):
                        break
                    j += 1
                    text = lines[j]
                value.items.append(("", collected))
                values.append(value)
                i = j
            elif name.endswith(".enable") and rest.endswith(";"):
                literal = _PRIORITY.sub("", rest.rstrip(";").strip())
                service = name[: -len(".enable")]
                enables[service] = literal == "true" if literal in ("true", "false") else literal
                if within and literal == "true":
                    enables[service] = within
            elif rest.rstrip(";").strip() in ("true", "false"):
                values.append(_Value(name, i + 1, [(i + 1, rest.rstrip(";").strip())], condition=within))
            elif rest.endswith("{"):
                stack.append(_unquote_name(m.group(1)))
                head = rest[:-1].strip()
                conditions.append(head if _CONDITION.search(head) else "")
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
            conditions.extend([line.strip() if _CONDITION.search(line) else ""] * opened)
        i += 1
    return values, enables


def _text(line: str) -> str:
    return _ANTIQUOTE.sub(lambda m: mark(m.group(0)), line).replace("''${", "${")


def extract(path: Path, source: SourceText, context: ParseContext) -> Extraction:
    values, enables = _scan(source.lines)
    values = [
        _Value(".".join(p for p in v.path.split(".") if p), v.line, v.lines, v.items, v.condition)
        for v in values
    ]
    pieces: list[Embedded] = []
    settings: dict[str, Embedded] = {}
    for v in values:
        option = next((o for o in _OPTIONS if v.path == o or v.path.startswith(o + ".")), None)
        if option is None:
            continue
        dialect, name, service = _OPTIONS[option]
        enabled = enables.get(service)
        # A condition NixOS evaluates (mkIf, an enable computed from other options): the
        # config may or may not be in effect, so its lines are unknown, not a block nor inert.
        condition = v.condition or (f"{service}.enable = {enabled}" if isinstance(enabled, str) else "")
        inert = ""
        if enabled is False:
            inert = f"{service}.enable = false: NixOS does not apply it"
        elif enabled is None and service in _OFF_BY_DEFAULT:
            inert = f"{service} is not enabled in this file (off by default)"
        if option.endswith(".settings") or option == "networking.hosts":
            key = v.path[len(option) + 1 :].strip('"')
            piece = settings.get(option)
            if piece is None:
                piece = settings[option] = Embedded(
                    source.path, [], [], name, f"{option} at line {v.line}", dialect, inert
                )
                pieces.append(piece)
            if condition:
                piece.conditional.append((v.line, v.last_line(), condition))
            for _k, items in v.items or [("", v.lines)]:
                for n, item in items:
                    if option == "networking.hosts":
                        piece.add(_text(f"{key} {item}"), n)
                    elif item == "true":
                        piece.add(key, n)
                    elif item != "false":
                        piece.add(_text(f"{key}={item}"), n)
            continue
        piece = Embedded(source.path, [], [], name, f"{option} at line {v.line}", dialect, inert)
        if condition:
            piece.conditional.append((v.line, v.last_line(), condition))
        if option == "services.squid.extraConfig":
            for text in _SQUID_BEFORE:
                piece.add(text, v.line)
        for n, text in v.lines:
            piece.add(_text(text), n)
        if option == "services.squid.extraConfig":
            for text in _SQUID_AFTER:
                piece.add(text, v.line)
        if dialect == "iptables":
            pieces += shell.with_writes(path, piece, context)
        else:
            pieces.append(piece)
    return Extraction(pieces)
