"""Windows Defender Firewall rules set by scripts: `netsh advfirewall` in batch files and
`New-NetFirewallRule` & co. in PowerShell, read (never run) the way Windows would apply them.

    netsh advfirewall firewall add rule name="Block FB" dir=out action=block remoteip=31.13.24.0/21,157.240.0.0/17
    New-NetFirewallRule -DisplayName "Block X" -Direction Outbound -Action Block -RemoteAddress 104.244.42.0/24

Windows' order is not first-match: an enabled outbound **block** rule that matches wins over any
allow rule (except an allow rule that overrides block rules: `security=authenticate` /
`-OverrideBlockRules`), then an allow rule, then the profile's default outbound action
(`netsh advfirewall set allprofiles firewallpolicy blockinbound,blockoutbound` or
`Set-NetFirewallProfile -DefaultOutboundAction Block`: then the control site is denied too).
Inbound rules never stop a user's browsing. A rule matches a packet to one of the service's
catalog addresses (`remoteip=` CIDRs, masks, ranges `a-b`, `any`; `localsubnet`, `dns` and the
other keywords never name Internet hosts), TCP (`protocol=any|tcp|6`), the probe's port
(`remoteport=`), every profile (`profile=` is not told apart), `enable=no`/`-Enabled False`
rules do nothing; `program=` rules count only for browsers, `service=`/`-Service` rules (a
Windows service's traffic) never for them. Conditions not evaluated -- `localip=`,
`localport=`, `interfacetype=`, `rmtcomputergrp=`, `rmtusrgrp=`, and `-LocalAddress`,
`-LocalPort`, `-InterfaceType`, `-InterfaceAlias`, `-LocalUser`, `-RemoteUser`, `-RemoteMachine`,
`-Package`, `-Owner`, `-DynamicTarget`, `-RemoteDynamicKeywordAddresses`, `-Platform` unless
they say any -- make the rule's match unknown: a block is then `unknown` (TE106), and so is an
allow that the default outbound block would otherwise decide. Coverage of the service's
prefixes decides `blocked` vs `blocked-partial` (addressing.py); `delete rule name=`,
`Remove-NetFirewallRule`, `Disable-/Enable-NetFirewallRule`, `set ... state off` and
`Set-NetFirewallProfile -Enabled False` undo what came before.

Batch menus (`choice` / `set /p` then `if errorlevel 2 goto :X`): the condition is the user's
choice, so every branch is a way the script may run. The script exists to apply its block:
a block applied by any branch is reported (with the branch's rule span), even when another
branch (the menu's "undo" option) deletes it. `goto` / labels / `call :label` / `goto :eof` /
`exit` are followed; conditions that cannot be decided fork the run (at most 32 runs).
`%VAR%` from `set` expands, `for %%i in (a b) do netsh ...` runs per item; a `remoteip=` left
with `%VAR%`, `!VAR!` or a `for /f` variable is computed at run time: `unknown` (TE907).
PowerShell: `$x = "..."` / `@("a","b")` literals expand (also inside double quotes), `foreach
($n in $list) { ... }` and `... | ForEach-Object { ... $_ ... }` run per item, backtick
continuations join; a `-RemoteAddress` computed at run time (a download, a cmdlet) is `unknown`.

Detection: by content (`netsh advfirewall`, `netsh firewall`, `New-NetFirewallRule`,
`Set-NetFirewallProfile`). A script that also writes the hosts file is windows-batch's when its
hosts-file writes outnumber its firewall commands, ours otherwise.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

from policy_lint.dialects.semantics import batch
from policy_lint.dialects.semantics.addressing import Target, decide_by_address
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.inputs import read_source
from policy_lint.model import EVERYONE, Audience, Decision, Outcome, Probe, Problem, Span

NAME = "windows-firewall"
FILE_PATTERNS = ("*.bat", "*.cmd", "*.ps1", "*firewall*.txt", "*netsh*")

_FW = re.compile(
    r"netsh\s+(?:advfirewall|firewall)\b|New-NetFirewallRule|Set-NetFirewallProfile|"
    r"Remove-NetFirewallRule|Set-NetFirewallRule",
    re.I,
)
_HOSTS = re.compile(r"drivers[\\/]+etc[\\/]+hosts", re.I)
BROWSERS = (
    "chrome.exe",
    "firefox.exe",
    "msedge.exe",
    "iexplore.exe",
    "opera.exe",
    "brave.exe",
    "vivaldi.exe",
)
KEYWORDS_LOCAL = {
    "localsubnet",
    "dns",
    "dhcp",
    "wins",
    "defaultgateway",
    "intranet",
    "intranetremoteaccess",
    "playtodevice",
    "rmtintranet",
    "ply2renders",
    "captiveportal",
}
MAX_RUNS = 32
MAX_STEPS = 20000
DYN = "\x00"
_ITEM = r"""(?:"[^"]*"|'[^']*'|[\w./:*-]+)"""
_LITERAL_LIST = re.compile(rf"\s*{_ITEM}(?:\s*,\s*{_ITEM})*\s*")


def detect(path: Path, head: str) -> float:
    if path.suffix.lower() in (".md", ".rst", ".html", ".htm", ".adoc", ".py", ".yml", ".yaml", ".json"):
        return 0.0  # documentation quoting netsh commands is not a script
    fw = len(_FW.findall(head))
    if not fw:
        return 0.0
    hosts = len(_HOSTS.findall(head))
    # windows-batch claims scripts writing the hosts file at 0.9: the stronger signal wins.
    return 0.95 if fw >= hosts else 0.6


@dataclass
class FwRule:
    name: str
    span: Span
    direction: str = "in"
    action: str = "allow"
    remote: list = field(default_factory=list)  # networks / (version, lo, hi) ranges
    remote_any: bool = True
    remote_unknown: str = ""
    protocol: str = "any"
    ports: list[tuple[int, int]] | None = None
    enabled: bool = True
    program: str = ""
    override: bool = False
    service: str = ""  # netsh service= / -Service: the Windows service whose traffic it is
    unknown: tuple[str, ...] = ()  # conditions not evaluated (localip=, -InterfaceType, ...)

    def matches(self, address, port: int) -> bool | None:
        if self.protocol not in ("any", "tcp", "6"):
            return False
        if self.program and not self.program.lower().replace('"', "").endswith(BROWSERS):
            return False
        if self.service and self.service.lower() not in ("any", "*"):
            return False  # a browser is a program, not a Windows service
        if self.ports is not None and not any(lo <= port <= hi for lo, hi in self.ports):
            return False
        if self.remote_unknown or self.unknown:
            return None
        if self.remote_any:
            return True
        a = int(address)
        for item in self.remote:
            if isinstance(item, tuple):
                v, lo, hi = item
                if v == address.version and lo <= a <= hi:
                    return True
            elif item.version == address.version and address in item:
                return True
        return False


@dataclass
class FwState:
    rules: list[FwRule] = field(default_factory=list)
    outbound_block: Span | None = None
    off: Span | None = None

    def copy(self) -> FwState:
        return FwState([replace(r) for r in self.rules], self.outbound_block, self.off)


def _remote(value: str, rule: FwRule, problems: list[Problem]) -> None:
    # Unexpanded %VAR%, delayed !VAR!, a FOR variable (%%I) or a PowerShell $var: run time.
    if DYN in value or re.search(r"%[\w~,-]*%|![\w~:,-]+!|%%\w|%~?\w|\$[\w{(]", value):
        rule.remote_any, rule.remote_unknown = False, "remote addresses computed at run time"
        return
    items = [v.strip().strip("\"'") for v in re.split(r"[,\s]+", value) if v.strip().strip("\"'")]
    if not items or any(v.lower() == "any" for v in items):
        rule.remote_any = True
        return
    rule.remote_any = False
    for v in items:
        if v.lower() in KEYWORDS_LOCAL:
            continue
        if v.lower() == "internet":
            rule.remote_any = True
            continue
        try:
            if "-" in v:
                lo, hi = (ipaddress.ip_address(x.strip()) for x in v.split("-", 1))
                rule.remote.append((lo.version, int(lo), int(hi)))
            else:
                rule.remote.append(ipaddress.ip_network(v, strict=False))
        except ValueError:
            problems.append(
                Problem("TE901", rule.span, f"bad remote address {v!r}: Windows refuses the rule")
            )


def _ports(value: str) -> list[tuple[int, int]] | None:
    if not value or value.lower() == "any":
        return None
    out = []
    for part in value.split(","):
        lo, _, hi = part.strip().partition("-")
        try:
            out.append((int(lo), int(hi or lo)))
        except ValueError:
            return None
    return out


def _bool(value: str) -> bool:
    return value.strip().strip("$\"'").lower() not in ("no", "false", "0", "disabled")


# --------------------------------------------------------------------------- netsh


# Conditions of `netsh advfirewall firewall add rule` and New-NetFirewallRule that select traffic
# and that the linter does not evaluate: the rule's match is unknown unless they say any.
NETSH_UNMODELLED = ("localip", "localport", "interfacetype", "rmtcomputergrp", "rmtusrgrp")
PS_UNMODELLED = (
    "localaddress",
    "localport",
    "interfacetype",
    "interfacealias",
    "localuser",
    "remoteuser",
    "remotemachine",
    "package",
    "owner",
    "dynamictarget",
    "remotedynamickeywordaddresses",
    "platform",
)


def _unmodelled(args: dict[str, str], keys: tuple[str, ...], style: str) -> tuple[str, ...]:
    out = []
    for key in keys:
        value = args.get(key, "").strip().strip('"')
        if value and value.lower() not in ("any", "*"):
            out.append(f"{key}={value}" if style == "netsh" else f"-{key} {value}")
    return tuple(out)


def _why(rule: FwRule) -> str:
    if rule.unknown:
        return f"{', '.join(rule.unknown)} (not evaluated)"
    return rule.remote_unknown


def _netsh_args(text: str) -> dict[str, str]:
    return {
        k.lower(): (v[1:-1] if v.startswith('"') and v.endswith('"') else v)
        for k, v in re.findall(r'(\w+)\s*=\s*("[^"]*"|\S+)', text)
    }


def _netsh(text: str, span: Span, state: FwState, problems: list[Problem]) -> None:
    low = text.lower()
    m = re.search(r"netsh\s+advfirewall\s+firewall\s+(add|delete|set)\s+rule\b(.*)", text, re.I)
    old = re.search(r"netsh\s+firewall\s+", text, re.I)
    if m:
        verb, args = m.group(1).lower(), _netsh_args(m.group(2))
        name = args.get("name", "")
        if verb == "add":
            r = FwRule(
                name,
                span,
                args.get("dir", "in").lower(),
                args.get("action", "allow").lower(),
                protocol=args.get("protocol", "any").lower(),
                ports=_ports(args.get("remoteport", "")),
                enabled=_bool(args.get("enable", "yes")),
                program=args.get("program", ""),
                override=args.get("security", "").lower()
                in ("authenticate", "authenc", "authdynenc", "authnoencap"),
                service=args.get("service", ""),
                unknown=_unmodelled(args, NETSH_UNMODELLED, "netsh"),
            )
            _remote(args.get("remoteip", "any"), r, problems)
            if r.remote_unknown:
                problems.append(
                    Problem("TE907", span, "remoteip computed at run time: what the rule blocks is unknown")
                )
            if (args.get("remoteport") or args.get("localport")) and r.protocol not in (
                "tcp",
                "udp",
                "6",
                "17",
            ):
                problems.append(
                    Problem(
                        "TE901", span, "remoteport/localport need protocol=TCP or UDP: netsh refuses the rule"
                    )
                )
            if r.action not in ("allow", "block", "bypass"):
                problems.append(Problem("TE901", span, f"bad action={r.action}"))
            state.rules.append(r)
        elif verb == "delete":
            state.rules = [
                r
                for r in state.rules
                if not (
                    name.lower() in ("all", r.name.lower())
                    and args.get("dir", r.direction).lower() == r.direction
                )
            ]
        elif verb == "set":
            new = re.search(r"\bnew\b(.*)", m.group(2), re.I)
            if new:
                changes = _netsh_args(new.group(1))
                for r in state.rules:
                    if r.name.lower() == name.lower():
                        if "enable" in changes:
                            r.enabled = _bool(changes["enable"])
                        if "action" in changes:
                            r.action = changes["action"].lower()
                        if "remoteip" in changes:
                            r.remote = []
                            _remote(changes["remoteip"], r, problems)
        return
    if re.search(r"netsh\s+advfirewall\s+set\s+\w+\s+firewallpolicy\s+(\S+)", text, re.I):
        policy = re.search(r"firewallpolicy\s+(\S+)", text, re.I).group(1).lower()  # type: ignore[union-attr]
        if "blockoutbound" in policy:
            state.outbound_block = span
        elif "allowoutbound" in policy:
            state.outbound_block = None
        return
    m2 = re.search(r"netsh\s+advfirewall\s+set\s+\w+\s+state\s+(\w+)", text, re.I)
    if m2:
        state.off = span if m2.group(1).lower() == "off" else None
        return
    if re.search(r"netsh\s+advfirewall\s+reset\b", low):
        state.rules, state.outbound_block, state.off = [], None, None
        return
    if old:
        # The deprecated `netsh firewall` context only knows inbound exceptions.
        return


# --------------------------------------------------------------------------- batch


def _expand_variables(text: str, env: dict[str, str]) -> str:
    """cmd.exe's %NAME% expansion; an undefined variable stays as written."""
    return re.sub(r"%(\w+)%", lambda m: env.get(m.group(1).lower(), m.group(0)), text)


class _Batch:
    def __init__(self, shown: str, lines: list[str], problems: list[Problem]):
        self.shown = shown
        self.problems = problems
        self.stmts: list[tuple[str, Span]] = []
        self.labels: dict[str, int] = {}
        for start, line in batch.logical_lines(lines):
            body = batch.command_text(line)
            if batch.is_comment(body):
                continue
            if body.startswith(":"):
                self.labels[body[1:].split()[0].lower() if body[1:].split() else ""] = len(self.stmts)
                continue
            self.stmts.append((body, Span(shown, start, len(line) - len(line.lstrip()) + 1, line.strip())))

    def runs(self) -> list[FwState]:
        finished: list[FwState] = []
        queue: list[tuple[int, FwState, dict[str, str], list[int]]] = [(0, FwState(), {}, [])]
        started = 1
        steps = 0
        while queue:
            pc, state, env, stack = queue.pop()
            while 0 <= pc < len(self.stmts) and steps < MAX_STEPS:
                steps += 1
                text, span = self.stmts[pc]
                text = _expand_variables(text, env)
                low = text.lower()
                m = re.match(r"if\s+(not\s+)?(.*?)\s+(goto|call)\s+:?(\S+)\s*$", text, re.I)
                if m and m.group(3).lower() == "goto":
                    dest = self.labels.get(m.group(4).lower().lstrip(":"))
                    if m.group(4).lower() in (":eof", "eof"):
                        dest = len(self.stmts)
                    if dest is not None and started < MAX_RUNS:
                        # The condition is the user's choice (or undecidable): both ways run.
                        started += 1
                        queue.append((dest, state.copy(), dict(env), list(stack)))
                    pc += 1
                    continue
                g = re.match(r"(goto|call)\s+:?(\S+)", text, re.I)
                if g:
                    target = g.group(2).lower().lstrip(":")
                    if g.group(1).lower() == "call" and not g.group(2).startswith(":"):
                        pc += 1
                        continue
                    if target == "eof":
                        if g.group(1).lower() == "goto" and stack:
                            pc = stack.pop()
                            continue
                        break
                    dest = self.labels.get(target)
                    if dest is None:
                        self.problems.append(
                            Problem("TE901", span, f"label {target} not found: cmd stops here")
                        )
                        break
                    if g.group(1).lower() == "call":
                        stack.append(pc + 1)
                    pc = dest
                    continue
                if re.match(r"exit\b", low):
                    if "/b" in low and stack:
                        pc = stack.pop()
                        continue
                    break
                s = re.match(r"set\s+(?:/a\s+)?\"?(\w+)=(.*?)\"?$", text, re.I)
                if s and not low.startswith("set /p"):
                    env[s.group(1).lower()] = s.group(2)
                loop = re.match(r"for\s+(%%?\w)\s+in\s*\(([^)]*)\)\s*do\s+(.*)$", text, re.I)
                if loop:
                    # `for %%i in (a b c) do netsh ... %%i`: one command per item.
                    for item in re.split(r"[\s,;]+", loop.group(2).strip())[:5000]:
                        cmd = loop.group(3).replace(loop.group(1), item.strip('"'))
                        if re.search(r"\bnetsh\s+advfirewall", cmd, re.I):
                            _netsh(cmd, span, state, self.problems)
                    pc += 1
                    continue
                for part in re.split(r"\s*(?:&&|\|\||&)\s*", text):
                    part = re.sub(r"^if\s+.*?\s+(?=netsh)", "", part, flags=re.I)
                    if re.match(r"netsh\b", part, re.I) or re.search(r"\bnetsh\s+advfirewall", part, re.I):
                        _netsh(part, span, state, self.problems)
                pc += 1
            finished.append(state)
        return finished


# --------------------------------------------------------------------------- PowerShell


def _ps_statements(lines: list[str], shown: str) -> list[tuple[str, Span]]:
    out: list[tuple[str, Span]] = []
    pending, start, in_block = "", 1, False
    for i, raw in enumerate(lines, start=1):
        line = raw.rstrip()
        if in_block:
            if "#>" in line:
                in_block = False
            continue
        if line.lstrip().startswith("<#"):
            in_block = "#>" not in line
            continue
        if line.lstrip().startswith("#"):
            continue
        if not pending:
            start = i
        if line.endswith("`"):
            pending += line[:-1] + " "
            continue
        text = pending + line
        pending = ""
        if text.strip():
            for part in text.split(";"):
                if part.strip():
                    out.append(
                        (part.strip(), Span(shown, start, len(text) - len(text.lstrip()) + 1, text.strip()))
                    )
    return out


def _ps_value(expr: str, env: dict[str, str]) -> str:
    expr = expr.strip()
    if expr.startswith("@(") and expr.endswith(")"):
        expr = expr[2:-1]
    if expr.lower() in ("$true", "$false"):
        return expr[1:].lower()

    def one(m: re.Match) -> str:
        return env.get(m.group(1).lower(), DYN)

    if expr.startswith("$") and not expr.startswith("$true") and not expr.startswith("$false"):
        return re.sub(r"\$(\w+)", one, expr)
    if "$(" in expr or not _LITERAL_LIST.fullmatch(expr):
        return DYN  # computed at run time (a download, a file, a cmdlet's output)
    items = []
    for v in re.findall(r'"[^"]*"|\'[^\']*\'|[^,\s]+', expr):
        if v.startswith('"'):
            v = re.sub(r"\$(\w+)", one, v)  # double quotes interpolate
        items.append(v.strip().strip("\"'"))
    return ",".join(items)


def _ps_params(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for m in re.finditer(
        r'-(\w+)(?::|\s+)((?:"[^"]*"|\'[^\']*\'|@\([^)]*\)|\$\w+|[^\s-][^\s]*)'
        r'(?:\s*,\s*(?:"[^"]*"|\'[^\']*\'|[^\s,-][^\s,]*))*)?',
        text,
    ):
        out[m.group(1).lower()] = m.group(2) or "$true"
    return out


def _powershell(lines: list[str], shown: str, problems: list[Problem]) -> FwState:
    state = FwState()
    _ps_run(_ps_statements(lines, shown), state, {}, problems, 0)
    return state


_FOREACH = re.compile(r"foreach\s*\(\s*\$(\w+)\s+in\s+(.+?)\)\s*\{(.*)$", re.I)
_PIPE_FOREACH = re.compile(r"^(.+?)\|\s*(?:ForEach-Object|foreach|%)\s*\{(.*)$", re.I)


def _ps_body(stmts: list[tuple[str, Span]], i: int, first: str) -> tuple[list[tuple[str, Span]], int]:
    """The statements of a `{ ... }` block opened on statement i (whose text after `{` is `first`)."""
    depth = 1 + first.count("{") - first.count("}")
    body = [(first.rstrip("} \t"), stmts[i][1])] if first.strip().rstrip("}").strip() else []
    k = i
    while depth > 0 and k + 1 < len(stmts):
        k += 1
        t, sp = stmts[k]
        depth += t.count("{") - t.count("}")
        inner = t.rstrip() if depth > 0 else t.rstrip().rstrip("}").rstrip()
        if inner.strip():
            body.append((inner, sp))
    return body, k


def _ps_run(
    stmts: list[tuple[str, Span]], state: FwState, env: dict[str, str], problems: list[Problem], depth: int
) -> None:
    i = -1
    while i + 1 < len(stmts):
        i += 1
        text, span = stmts[i]
        loop = _FOREACH.match(text)
        pipe = None if loop else _PIPE_FOREACH.match(text)
        if (loop or pipe) and depth < 4:
            if loop:
                var, source, first = loop.group(1), loop.group(2), loop.group(3)
            else:
                assert pipe is not None  # (loop or pipe)
                var, source, first = "_", pipe.group(1), pipe.group(2)
            body, i = _ps_body(stmts, i, first)
            items = _ps_value(source, env)
            for item in (items.split(",") if DYN not in items else [DYN])[:5000]:
                _ps_run(body, state, {**env, var.lower(): item}, problems, depth + 1)
            continue
        a = re.match(r"\$(\w+)\s*=\s*(.+)$", text)
        if a and not re.search(r"New-NetFirewallRule|Get-", a.group(2), re.I):
            env[a.group(1).lower()] = _ps_value(a.group(2), env)
            continue
        if re.search(r"netsh\s", text, re.I):
            _netsh(text, span, state, problems)
            continue
        cmd = re.search(r"(New|Remove|Set|Enable|Disable)-NetFirewall(Rule|Profile)\b(.*)", text, re.I)
        if not cmd:
            continue
        verb, noun, params = cmd.group(1).lower(), cmd.group(2).lower(), _ps_params(cmd.group(3))
        p = {k: _ps_value(v, env) for k, v in params.items()}
        name = (p.get("displayname") or p.get("name") or "").strip()
        if noun == "profile":
            if "defaultoutboundaction" in p:
                state.outbound_block = span if p["defaultoutboundaction"].lower() == "block" else None
            if "enabled" in p:
                state.off = None if _bool(p["enabled"]) else span
            continue
        if verb == "new":
            r = FwRule(
                name,
                span,
                "out" if p.get("direction", "inbound").lower().startswith("out") else "in",
                p.get("action", "allow").lower(),
                protocol=p.get("protocol", "any").lower(),
                ports=_ports(p.get("remoteport", "")),
                enabled=_bool(p.get("enabled", "true")),
                program=p.get("program", ""),
                override="overrideblockrules" in p and _bool(p["overrideblockrules"]),
                service=p.get("service", ""),
                unknown=_unmodelled(p, PS_UNMODELLED, "powershell"),
            )
            _remote(p.get("remoteaddress", "any"), r, problems)
            if r.remote_unknown:
                problems.append(
                    Problem(
                        "TE907", span, "-RemoteAddress computed at run time: what the rule blocks is unknown"
                    )
                )
            state.rules.append(r)
            continue
        match = (
            [r for r in state.rules if name and r.name.lower() == name.lower()] if name else list(state.rules)
        )
        if verb == "remove":
            state.rules = [r for r in state.rules if r not in match]
        elif verb in ("enable", "disable"):
            for r in match:
                r.enabled = verb == "enable"
        elif verb == "set":
            for r in match:
                if "enabled" in p:
                    r.enabled = _bool(p["enabled"])
                if "action" in p:
                    r.action = p["action"].lower()
                if "remoteaddress" in p:
                    r.remote = []
                    _remote(p["remoteaddress"], r, problems)


# --------------------------------------------------------------------------- evaluation


class WindowsFirewallRuleset:
    def __init__(self, shown: str, runs: list[FwState], problems: list[Problem], catalog):
        self.path = shown
        self.dialect = NAME
        self.problems = problems
        self.runs = runs
        self.catalog = catalog

    def audiences(self) -> list[Audience]:
        return [EVERYONE]

    @staticmethod
    def _one_target(state: FwState, port: int, target: Target) -> Decision:
        return WindowsFirewallRuleset._one(state, target.address, port)

    @staticmethod
    def _one(state: FwState, address, port: int) -> Decision:
        if state.off is not None:
            return Decision(Outcome.ALLOW, state.off, (state.off,), False, note="firewall turned off")
        outbound = [r for r in state.rules if r.enabled and r.direction == "out"]
        override: FwRule | None = None  # an override allow that may let it through despite blocks
        for r in outbound:
            if r.action == "allow" and r.override:
                m = r.matches(address, port)
                if m:
                    return Decision(Outcome.ALLOW, r.span, (r.span,), not r.remote_any)
                if m is None and override is None:
                    override = r
        unknown: FwRule | None = None
        for r in outbound:
            if r.action == "block":
                m = r.matches(address, port)
                if m and override is not None:
                    return Decision(
                        Outcome.UNKNOWN, override.span, (override.span,), False, note=_why(override)
                    )
                if m:
                    return Decision(
                        Outcome.DENY,
                        r.span,
                        (r.span,),
                        not r.remote_any,
                        "drop",
                        note=f"outbound block rule {r.name!r}",
                    )
                if m is None and unknown is None:
                    unknown = r
        if unknown is not None:
            return Decision(Outcome.UNKNOWN, unknown.span, (unknown.span,), False, note=_why(unknown))
        unsure_allow = None
        for r in outbound:
            if r.action in ("allow", "bypass"):
                m = r.matches(address, port)
                if m:
                    return Decision(Outcome.ALLOW, r.span, (r.span,), not r.remote_any)
                if m is None and unsure_allow is None:
                    unsure_allow = r
        if state.outbound_block is not None and unsure_allow is not None:
            return Decision(
                Outcome.UNKNOWN, unsure_allow.span, (unsure_allow.span,), False, note=_why(unsure_allow)
            )
        if state.outbound_block is not None:
            return Decision(
                Outcome.DENY,
                state.outbound_block,
                (state.outbound_block,),
                False,
                "drop",
                note="default outbound action: block",
            )
        return Decision(Outcome.ALLOW)

    def evaluate(self, probe: Probe, audience: Audience) -> Decision:
        best: Decision | None = None
        for state in self.runs:
            d = decide_by_address(probe, self.catalog, partial(self._one_target, state, probe.port))
            if d.outcome == Outcome.ALLOW:
                d = self._inner(probe, state) or d
            rank = {Outcome.DENY: 3, Outcome.UNKNOWN: 2, Outcome.THROTTLE: 1, Outcome.ALLOW: 0}
            if (
                best is None
                or rank[d.outcome] > rank[best.outcome]
                or (d.outcome == best.outcome == Outcome.DENY and best.partial and not d.partial)
            ):
                best = d
        return best or Decision(Outcome.ALLOW)

    def _inner(self, probe: Probe, state: FwState) -> Decision | None:
        """A block of a few addresses inside one of the service's prefixes: partial."""
        svc = self.catalog.services.get(probe.service or "")
        if svc is None:
            return None
        for r in state.rules:
            if not (r.enabled and r.direction == "out" and r.action == "block"):
                continue
            for item in r.remote:
                if isinstance(item, tuple):
                    continue
                a = item.network_address + 1 if item.num_addresses > 2 else item.network_address
                home = next((n for n in svc.networks if n.version == a.version and a in n), None)
                if home is None:
                    continue
                d = self._one(state, a, probe.port)
                if d.outcome == Outcome.DENY:
                    note = (
                        f"blocks {item} only, inside {svc.name} prefix {home} "
                        f"(catalog addresses {self.catalog.addresses_version or 'undated'})"
                    )
                    return replace(d, partial=True, note=f"{d.note}; {note}" if d.note else note)
        return None

    def inert_mentions(self, probe: Probe) -> list[Span]:
        return []


def parse(path: Path, context: ParseContext) -> WindowsFirewallRuleset:
    shown = context.resolver.display(path)
    src = read_source(path, shown)
    problems = list(src.problems)
    if path.suffix.lower() == ".ps1" or re.search(
        r"New-NetFirewallRule|Set-NetFirewallProfile", "\n".join(src.lines), re.I
    ):
        runs = [_powershell(src.lines, shown, problems)]
    else:
        runs = _Batch(shown, src.lines, problems).runs()
    return WindowsFirewallRuleset(shown, runs, problems, context.catalog)
