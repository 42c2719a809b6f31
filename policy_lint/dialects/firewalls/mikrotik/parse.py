"""RouterOS export text -> the rule model: logical lines, words, the menus' commands run
against per-menu item lists, then one Config per device state (as exported, and after each
scheduler script that changes what we model)."""

from __future__ import annotations

import copy
import gc
import ipaddress
import re
import sys
from pathlib import Path

from policy_lint.catalog import Catalog
from policy_lint.dialects.firewalls.mikrotik.evaluate import MikrotikRuleset
from policy_lint.dialects.firewalls.mikrotik.model import (
    NONTERMINAL,
    TERMINAL,
    Addr,
    AddressList,
    ChainRule,
    Cidr,
    Config,
    DnsEntry,
    Item,
    ProxyRule,
    Rule,
    Script,
    TimeWindow,
    cidr_of,
    is_disabled,
    parameters,
)
from policy_lint.dialects.firewalls.mikrotik.plain import dst_rule, ipv4_cidr, is_plain_add
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.dialects.semantics.detection import statement_hits
from policy_lint.dialects.semantics.gcpause import without_cycle_collection
from policy_lint.dialects.semantics.patterns import BoundedPattern, PatternError
from policy_lint.inputs import read_source
from policy_lint.model import Problem, Span

FILE_PATTERNS = ("*.rsc", "*mikrotik*", "*routeros*", "export*.txt")

MAX_ITEMS = 500_000  # items per file; a bigger file is cut with TE902
_DAYNUM = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
PORTS = {
    "http": 80,
    "www": 80,
    "https": 443,
    "ssh": 22,
    "telnet": 23,
    "ftp": 21,
    "smtp": 25,
    "dns": 53,
    "domain": 53,
    "pop3": 110,
    "imap": 143,
    "ntp": 123,
    "snmp": 161,
}
COMMANDS = {
    "add",
    "set",
    "remove",
    "enable",
    "disable",
    "print",
    "export",
    "move",
    "unset",
    "edit",
    "comment",
    "reset",
    "find",
    "get",
    "clear",
}
FIREWALL_MENUS = {
    "ip firewall filter": (4, "filter"),
    "ip firewall raw": (4, "raw"),
    "ipv6 firewall filter": (6, "filter"),
    "ipv6 firewall raw": (6, "raw"),
}
LIST_MENUS = {"ip firewall address-list": 4, "ipv6 firewall address-list": 6}
MENUS = (
    set(FIREWALL_MENUS)
    | set(LIST_MENUS)
    | {
        "ip firewall layer7-protocol",
        "ip firewall nat",
        "ipv6 firewall nat",
        "ip firewall mangle",
        "ipv6 firewall mangle",
        "ip route",
        "ipv6 route",
        "ip dns static",
        "ip dns",
        "ip proxy",
        "ip proxy access",
        "system scheduler",
        "system script",
        "interface list member",
        "interface list",
    }
)
# Parameters that say how, not what: never conditions.
META = {
    "action",
    "chain",
    "comment",
    "disabled",
    "jump-target",
    "log",
    "log-prefix",
    "reject-with",
    "address-list",
    "address-list-timeout",
    "place-before",
    "copy-from",
    "numbers",
    "to-addresses",
    "to-ports",
    "new-connection-mark",
    "new-packet-mark",
    "new-routing-mark",
    "passthrough",
    "dynamic",
}

# A RouterOS command path starts a line, or a script's block (`:foreach i in=$l do={ /ip ... }`).
_HEAD = re.compile(
    r"(?:^\s*|(?:\bdo=\{|\belse=\{|;)\s*)/(?:ip|ipv6) (?:firewall (?:filter|raw|address-list|layer7-protocol|nat|mangle)"
    r"|dns static|proxy access)\b|^\s*/system (?:scheduler|script)\b|^\s*/interface list member\b"
    r"|^# .* by RouterOS|^# software id = ",
    re.M | re.I,
)


def detect(path: Path, head: str) -> float:
    hits = statement_hits(path, head, _HEAD)
    if not hits:
        return 0.0
    if re.search(r"^# .* by RouterOS", head, re.M):
        return 0.97
    return 0.9 if hits >= 2 or re.search(r"^\s*add\s+\S+=", head, re.M) else 0.6


# ----------------------------------------------------------------------------- reading


def _logical_lines(lines: list[str], shown: str, problems: list[Problem]) -> list[tuple[str, Span]]:
    """Join `\\` continuations (the next line's leading blanks dropped); drop comments."""
    out: list[tuple[str, Span]] = []
    i = 0
    while i < len(lines):
        start = i
        text = lines[i]
        stripped = text.strip()
        if stripped.startswith("#"):
            i += 1
            continue
        if not text.endswith("\\"):  # the common case: no continuation
            i += 1
            if stripped:
                out.append((text, Span(shown, start + 1, len(text) - len(text.lstrip()) + 1, stripped[:200])))
            continue
        while _continues(text) and i + 1 < len(lines):
            i += 1
            text = text[:-1] + lines[i].lstrip()
        if _continues(text):
            problems.append(
                Problem(
                    "TE901",
                    Span(shown, start + 1, 1, lines[start].strip()[:120]),
                    "the file ends inside a `\\` continuation",
                )
            )
            text = text[:-1]
        i += 1
        if text.strip():
            out.append((text, Span(shown, start + 1, len(text) - len(text.lstrip()) + 1, text.strip()[:200])))
    return out


def _continues(text: str) -> bool:
    trailing = len(text) - len(text.rstrip("\\"))
    return trailing % 2 == 1


_ESCAPES = {
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "v": "\v",
    "_": " ",
    '"': '"',
    "\\": "\\",
    "$": "$",
    "?": "?",
}


def _words(text: str) -> tuple[list[str], str]:
    """Split a command into words; `"..."` unquoted with RouterOS escapes, `[...]`/`{...}` kept
    whole. Returns (words, error)."""
    if '"' not in text and "[" not in text and "{" not in text:
        # Nothing quoted or bracketed: words are the runs between blanks and tabs.
        return [w for w in text.replace("\t", " ").split(" ") if w], ""
    words: list[str] = []
    cur: list[str] = []
    have = False
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in " \t":
            if have:
                words.append("".join(cur))
            cur, have = [], False
            i += 1
        elif c == '"':
            have = True
            i += 1
            while True:
                if i >= n:
                    return words, "unterminated quote"
                c = text[i]
                if c == '"':
                    i += 1
                    break
                if c == "\\" and i + 1 < n:
                    nxt = text[i + 1]
                    if re.fullmatch(r"[0-9A-Fa-f]{2}", text[i + 1 : i + 3]):
                        cur.append(chr(int(text[i + 1 : i + 3], 16)))
                        i += 3
                        continue
                    cur.append(_ESCAPES.get(nxt, nxt))
                    i += 2
                    continue
                cur.append(c)
                i += 1
        elif c in "[{":
            close = "]" if c == "[" else "}"
            depth, j, quoted = 0, i, False
            while j < n:
                ch = text[j]
                if ch == "\\" and quoted:
                    j += 2
                    continue
                if ch == '"':
                    quoted = not quoted
                elif not quoted and ch == c:
                    depth += 1
                elif not quoted and ch == close:
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            if j >= n:
                return words, f"unterminated {c}"
            cur.append(text[i : j + 1])
            have = True
            i = j + 1
        else:
            cur.append(c)
            have = True
            i += 1
    if have:
        words.append("".join(cur))
    return words, ""


_FOREACH = re.compile(r"^:foreach\s+([\w-]+)\s+in=\{([^{}]*)\}\s+do=\{(.*)\}$", re.S)


def _depth(text: str) -> int:
    """Open `{` minus `}` outside quotes."""
    depth, quote = 0, False
    for c in text:
        if c == '"':
            quote = not quote
        elif not quote:
            depth += (c == "{") - (c == "}")
    return depth


def _split_body(body: str) -> list[str]:
    """A script block's commands: separated by `;` or newlines outside quotes and brackets."""
    out: list[str] = []
    cur: list[str] = []
    quote, depth = False, 0
    for c in body:
        if c == '"':
            quote = not quote
        elif not quote and c in "[{":
            depth += 1
        elif not quote and c in "]}":
            depth -= 1
        elif not quote and depth == 0 and c in ";\n":
            out.append("".join(cur))
            cur = []
            continue
        cur.append(c)
    out.append("".join(cur))
    return out


class UniqueProblems:
    """The export's problems, each (code, span) once. A set beside the list keeps a file with
    very many problems linear; a scan of the list per new problem made it quadratic."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        self.seen = {(p.code, p.span) for p in problems}

    def add(self, code: str, span: Span, message: str) -> None:
        if (code, span) not in self.seen:
            self.seen.add((code, span))
            self.problems.append(Problem(code, span, message))


class _Reader:
    """Runs the export's commands against per-menu item lists."""

    def __init__(self, shown: str, problems: UniqueProblems, plain: bool = True):
        self.shown = shown
        self.problems = problems
        self.plain = plain  # plain `add` lines kept as their text (plain.py)
        self.items: dict[str, list[Item]] = {}
        self.dynamic: list[Span] = []  # script lines we do not follow that change what we model
        self.count = 0

    def problem(self, code: str, span: Span, message: str) -> None:
        self.problems.add(code, span, message)

    def run(self, lines: list[tuple[str, Span]], menu: str = "") -> None:
        i = 0
        while i < len(lines):
            text, span = lines[i]
            stripped = text.strip()
            if self.plain and menu in MENUS and is_plain_add(stripped):
                # Most lines of a big export: one item, nothing to run (as statement() reads it).
                self.add(menu, Item(menu, None, span, stripped), span)
                i += 1
                continue
            if text.lstrip().startswith(":foreach") and _depth(text) > 0:
                # `:foreach i in={...} do={` over several lines, up to its closing `}`.
                parts = [text]
                while i + 1 < len(lines) and _depth("\n".join(parts)) > 0:
                    i += 1
                    parts.append(lines[i][0])
                text = "; ".join(p.strip() for p in parts).replace("{; ", "{ ").replace("; }", " }")
            if not self.foreach(text, span, menu):
                menu = self.statement(text, span, menu)
            i += 1

    def foreach(self, text: str, span: Span, menu: str) -> bool:
        """`:foreach i in={"a";"b"} do={ /ip firewall filter add ... dst-address=$i }` over a
        literal array: the body runs once per element with `$i` replaced (RouterOS scripting
        manual, "Loops and conditional statements"). Anything else (an array computed at run
        time, a nested script command) is not followed: False, and the caller's TE907 stands."""
        m = _FOREACH.match(text.strip())
        if m is None:
            return False
        var, array, body = m.group(1), m.group(2), m.group(3)
        values = [v.strip().strip('"') for v in array.split(";") if v.strip()]
        statements = [b.strip() for b in _split_body(body) if b.strip()]
        if (
            not values
            or any(re.search(r"[$\[\]{}]", v) for v in values)
            or not statements
            or any(not b.startswith("/") for b in statements)
        ):
            return False
        ref = re.compile(r"\$(?:" + re.escape(var) + r'|"' + re.escape(var) + r'")(?![\w-])')
        for value in values[:5000]:
            for b in statements:
                self.statement(ref.sub(value.replace("\\", "\\\\"), b), span, menu)
        return True

    def statement(self, text: str, span: Span, menu: str) -> str:
        stripped = text.strip()
        if self.plain and menu in MENUS and is_plain_add(stripped):
            self.add(menu, Item(menu, None, span, stripped), span)
            return menu
        if stripped.startswith((":", "{", "}")):
            if re.search(r"firewall|/ip dns|dns static|proxy", stripped) and re.search(
                r"\b(add|set|remove|enable|disable)\b", stripped
            ):
                self.problem(
                    "TE907",
                    span,
                    "a RouterOS script changes firewall, DNS or proxy items at run time: not followed",
                )
                self.dynamic.append(span)
            return menu
        words, err = _words(stripped)
        if err:
            self.problem("TE901", span, f"{err}: RouterOS refuses the line")
            return menu
        if not words:
            return menu
        here = menu
        if words[0].startswith("/"):
            path: list[str] = [words[0][1:]] if words[0] != "/" else []
            k = 1
            while (
                k < len(words)
                and "=" not in words[k]
                and words[k] not in COMMANDS
                and not words[k].startswith(("[", "{"))
            ):
                path.append(words[k])
                k += 1
            here = " ".join(p for p in " ".join(path).split() if p)
            words = words[k:]
            if not words:
                return here  # a menu header: the following lines run there
        self.command(here, words, span)
        return menu

    def command(self, menu: str, words: list[str], span: Span) -> None:
        if menu not in MENUS:
            return
        cmd, rest = words[0], words[1:]
        if "=" in cmd or cmd not in COMMANDS:
            self.problem("TE901", span, f"RouterOS has no command {cmd!r} here")
            return
        items = self.items.setdefault(menu, [])
        attrs, selectors = parameters(rest)
        if cmd == "add":
            self.add(menu, Item(menu, attrs, span), span)
            return
        if cmd in ("set", "remove", "enable", "disable", "unset"):
            if "numbers" in attrs:
                selectors.append(attrs.pop("numbers"))
            targets = self.select(menu, items, selectors, span)
            if targets is None:
                return
            if cmd == "remove":
                gone = {id(t) for t in targets}
                self.items[menu] = [it for it in items if id(it) not in gone]
            elif cmd in ("enable", "disable"):
                for t in targets:
                    t.attrs["disabled"] = "yes" if cmd == "disable" else "no"
            elif cmd == "set":
                for t in targets:
                    t.attrs.update(attrs)
            elif cmd == "unset":
                for t in targets:
                    for v in attrs.get("value-name", "").split(","):
                        t.attrs.pop(v, None)
            if menu in ("ip dns", "ip proxy") and not targets:
                # `/ip dns set allow-remote-requests=yes`: the menu's one settings item.
                items.append(Item(menu, attrs, span))
            return
        # print, export, move, ...: change nothing we model

    def add(self, menu: str, item: Item, span: Span) -> None:
        items = self.items.setdefault(menu, [])
        self.count += 1
        if self.count > MAX_ITEMS:
            if self.count == MAX_ITEMS + 1:
                self.problem("TE902", span, f"more than {MAX_ITEMS} items: the rest is not read")
            return
        before = item.attrs.pop("place-before", None) if not item.plain else None
        if before is not None and before.isdigit() and int(before) < len(items):
            items.insert(int(before), item)
        else:
            items.append(item)

    def select(self, menu: str, items: list[Item], selectors: list[str], span: Span) -> list[Item] | None:
        if menu in ("ip dns", "ip proxy"):
            return items
        out: list[Item] = []
        for s in selectors:
            if s.startswith("["):
                found = self.find(items, s[1:-1], span)
                if found is None:
                    return None
                out.extend(found)
            else:
                for part in s.split(","):
                    part = part.strip()
                    if part.isdigit() and int(part) < len(items):
                        out.append(items[int(part)])
                    elif re.fullmatch(r"\d+-\d+", part):
                        a, b = (int(x) for x in part.split("-"))
                        out.extend(items[a : b + 1])
                    elif part:
                        hit = [
                            it
                            for it in items
                            if it.attrs.get("name") == part or it.attrs.get("comment") == part
                        ]
                        if not hit:
                            self.problem("TE901", span, f"no item {part!r} in /{menu}")
                        out.extend(hit)
        return out

    def find(self, items: list[Item], expr: str, span: Span) -> list[Item] | None:
        words, err = _words(expr)
        if err or not words or words[0].lstrip("/") != "find":
            self.problem(
                "TE907", span, f"a selection RouterOS computes at run time ([{expr[:60]}]): not followed"
            )
            self.dynamic.append(span)
            return None
        conds: list[tuple[str, str, str, bool]] = []
        for w in words[1:]:
            if w in ("where", "and"):
                continue
            m = re.fullmatch(r"(!?)([\w-]+)(=|~)(.*)", w, re.S)
            if m:
                conds.append((m.group(2).lower(), m.group(3), m.group(4), bool(m.group(1))))
            elif re.fullmatch(r"!?[\w-]+", w):
                conds.append((w.lstrip("!"), "flag", "", w.startswith("!")))
            else:
                self.problem(
                    "TE907", span, f"a selection RouterOS computes at run time ([{expr[:60]}]): not followed"
                )
                self.dynamic.append(span)
                return None
        out = []
        for it in items:
            ok = True
            for key, op, value, neg in conds:
                have = it.attrs.get(key, "no" if key == "disabled" else "")
                if op == "=":
                    hit = have == value
                elif op == "~":
                    try:
                        hit = bool(BoundedPattern.compile(value).search(have))
                    except PatternError:
                        hit = False
                else:
                    hit = (key == "disabled" and it.disabled) or have.lower() in ("yes", "true")
                if hit == neg:
                    ok = False
                    break
            if ok:
                out.append(it)
        return out


# ----------------------------------------------------------------------------- building the model


def _ports(text: str) -> tuple[list[tuple[int, int]], bool] | None:
    neg = text.startswith("!")
    out: list[tuple[int, int]] = []
    for part in text.lstrip("!").split(","):
        part = part.strip()
        if not part:
            continue
        lo, _, hi = part.partition("-")
        try:
            a = PORTS.get(lo.lower()) or int(lo)
            b = (PORTS.get(hi.lower()) or int(hi)) if hi else a
        except ValueError:
            return None
        out.append((a, b))
    return out, neg


def _duration(text: str) -> int | None:
    """RouterOS times: `8h`, `8h30m`, `1d`, `08:00:00`, `8:00` -> minutes."""
    text = text.strip().lower()
    m = re.fullmatch(r"(\d{1,2}):(\d{2})(?::(\d{2}))?", text)
    if m:
        return int(m.group(1)) * 60 + int(m.group(2))
    m = re.fullmatch(r"(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", text)
    if m and text:
        w, d, h, mi, _s = (int(g) if g else 0 for g in m.groups())
        return w * 7 * 1440 + d * 1440 + h * 60 + mi
    return None


def _time(text: str) -> TimeWindow | None:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        return None
    start, _, stop = parts[0].partition("-")
    a, b = _duration(start), _duration(stop) if stop else None
    if a is None or b is None:
        return None
    days = {_DAYNUM.get(p.lower()[:3]) for p in parts[1:]}
    if None in days:
        return None
    return TimeWindow(
        a % 1440,
        b if b <= 1440 else b % 1440,
        frozenset(days) if days else frozenset(range(7)),  # type: ignore[arg-type]
        text,
    )


def _value(text: str) -> tuple[str, bool]:
    return (text[1:], True) if text.startswith("!") else (text, False)


class _Builder:
    """Items -> a Config (rules, lists, DNS, proxy)."""

    def __init__(self, catalog: Catalog, problems: UniqueProblems):
        self.catalog = catalog
        self.problems = problems

    def problem(self, code: str, span: Span, message: str) -> None:
        self.problems.add(code, span, message)

    def build(self, items: dict[str, list[Item]]) -> Config:
        cfg = Config()
        for menu, family in LIST_MENUS.items():
            for it in items.get(menu, []):
                a = it.read()
                if not is_disabled(a):
                    self.list_entry(cfg, family, it.span, a)
        for it in items.get("ip firewall layer7-protocol", []):
            a = it.read()
            name = a.get("name", "")
            try:
                # l7 regexps run over the connection's bytes: `.` crosses lines, case is ignored.
                cfg.l7[name] = (
                    BoundedPattern.compile("(?s)" + a.get("regexp", ""), ignore_case=True),
                    it.span,
                )
            except PatternError as exc:
                self.problem("TE905", it.span, str(exc))
                cfg.l7[name] = (None, it.span)
        for it in items.get("interface list member", []):
            a = it.read()
            if not is_disabled(a):
                cfg.iface_lists.setdefault(a.get("list", ""), set()).add(a.get("interface", ""))
        for it in items.get("ip firewall nat", []):
            a = it.read()
            if is_disabled(a):
                continue
            action = a.get("action", "accept")
            if action in ("masquerade", "src-nat"):
                cfg.srcnat = True
            ports = _ports(a.get("dst-port", ""))
            if (
                action == "redirect"
                and a.get("chain") == "dstnat"
                and ports
                and not ports[1]
                and any(lo <= 80 <= hi for lo, hi in ports[0])
            ):
                cfg.proxy_redirect = cfg.proxy_redirect or it.span
        for it in items.get("ip dns", []):
            v = it.read().get("allow-remote-requests")
            if v is not None:
                cfg.dns_remote = v.lower() in ("yes", "true")
        for it in items.get("ip dns static", []):
            a = it.read()
            if not is_disabled(a):
                entry = self.dns_entry(it.span, a)
                if entry is not None:
                    cfg.dns.append(entry)
        for it in items.get("ip proxy access", []):
            a = it.read()
            if not is_disabled(a):
                cfg.proxy.append(self.proxy_rule(it.span, a))
        for menu, (family, table) in FIREWALL_MENUS.items():
            chains: dict[str, list[ChainRule]] = {}
            for it in items.get(menu, []):
                rule: ChainRule | None = dst_rule(it, family, table)
                if rule is None:
                    a = it.read()
                    if is_disabled(a):
                        continue
                    rule = self.rule(it.span, a, family, table)
                if rule is not None:
                    chain = chains.get(rule.chain)
                    if chain is None:
                        chains[rule.chain] = [rule]
                    else:
                        chain.append(rule)
            cfg.rules[(family, table)] = chains
        for menu, family in (("ip firewall nat", 4), ("ipv6 firewall nat", 6)):
            for it in items.get(menu, []):
                a = it.read()
                action = a.get("action", "accept").lower()
                if is_disabled(a) or a.get("chain") != "dstnat":
                    continue
                if action not in ("dst-nat", "redirect", "netmap", "same", "accept"):
                    continue  # log, passthrough, jump...: the dstnat chain goes on
                attrs = {k: v for k, v in a.items() if k != "action"}
                rule = self.rule(it.span, attrs, family, "nat")
                if rule is not None:
                    rule.action = action
                    to = [f"{k}={a[k]}" for k in ("to-addresses", "to-ports") if a.get(k)]
                    rule.nat_to = " ".join(to) or ("the router" if action == "redirect" else "")
                    cfg.dstnat.append(rule)
        # Policy routing (RouterOS "Policy Routing"): mangle prerouting `action=mark-routing
        # new-routing-mark=T` makes the routing decision use table T, whose routes (`/ip route
        # ... routing-table=T`, RouterOS 6 `routing-mark=T`) may send it through a VPN or tunnel.
        for menu, family in (("ip firewall mangle", 4), ("ipv6 firewall mangle", 6)):
            for it in items.get(menu, []):
                a = it.read()
                action = a.get("action", "accept").lower()
                if is_disabled(a) or a.get("chain") != "prerouting":
                    continue
                if action not in ("mark-routing", "accept"):
                    continue  # mark-connection, mark-packet, log...: the chain goes on
                attrs = {k: v for k, v in a.items() if k != "action"}
                rule = self.rule(it.span, attrs, family, "mangle")
                if rule is not None:
                    rule.action = action
                    rule.routing_mark = a.get("new-routing-mark", "")
                    cfg.mangle.append(rule)
        for menu in ("ip route", "ipv6 route"):
            for it in items.get(menu, []):
                a = it.read()
                table = a.get("routing-table") or a.get("routing-mark") or "main"
                if not is_disabled(a) and table != "main":
                    cfg.routes.setdefault(table, []).append(it.span)
        return cfg

    def addr(self, text: str, span: Span) -> Addr | None:
        value, neg = _value(text)
        nets: list[Cidr] = []
        ranges: list[tuple[int, int, int]] = []
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            net = ipv4_cidr(part)
            if net is not None:
                nets.append(net)
                continue
            try:
                nets.append(cidr_of(ipaddress.ip_network(part, strict=False)))
                continue
            except ValueError:
                pass
            lo, _, hi = part.partition("-")
            try:
                a, b = ipaddress.ip_address(lo.strip()), ipaddress.ip_address(hi.strip())
                ranges.append((a.version, int(a), int(b)))
                continue
            except ValueError:
                pass
            self.problem("TE901", span, f"bad address {part!r}: RouterOS refuses it")
            return None
        return Addr(tuple(nets), tuple(ranges), neg)

    def list_entry(self, cfg: Config, family: int, span: Span, attrs: dict[str, str]) -> None:
        name = attrs.get("list", "")
        value = attrs.get("address", "").strip()
        lst = cfg.lists.get((family, name))
        if lst is None:
            lst = cfg.lists[(family, name)] = AddressList(name, span)
        if not value:
            self.problem("TE901", span, "address-list entry without address=")
            return
        a = (
            self.addr(value, span)
            if re.fullmatch(r"[\d.:/a-fA-F-]+", value) and not re.search(r"[g-zG-Z]", value)
            else None
        )
        if a is not None:
            lst.entries.append((a, span))
        elif re.fullmatch(r"[\w.-]+\.[a-zA-Z][\w-]*\.?", value):
            lst.names.append((value.lower().rstrip("."), span))
        else:
            self.problem("TE901", span, f"bad address-list address {value!r}")

    def dns_entry(self, span: Span, a: dict[str, str]) -> DnsEntry | None:
        e = DnsEntry(
            span,
            a.get("name", "").lower().rstrip("."),
            None,
            a.get("match-subdomain", "no").lower() in ("yes", "true"),
            a.get("type", "A").upper(),
            a.get("address", ""),
            a.get("forward-to", ""),
            a.get("address-list", ""),
        )
        if "regexp" in a:
            try:
                e.pattern = BoundedPattern.compile(a["regexp"], ignore_case=True)
            except PatternError as exc:
                self.problem("TE905", span, str(exc))
                return None
        elif not e.name:
            self.problem("TE901", span, "DNS static entry without name= or regexp=")
            return None
        return e

    def proxy_rule(self, span: Span, a: dict[str, str]) -> ProxyRule:
        p = ProxyRule(
            span,
            a.get("action", "allow").lower(),
            path=a.get("path", ""),
            redirect=a.get("redirect-to", ""),
        )
        if a.get("dst-host"):
            host, neg = _value(a["dst-host"])
            if host.startswith(":"):
                try:
                    p.regex = BoundedPattern.compile(host[1:], ignore_case=True)
                except PatternError as exc:
                    self.problem("TE905", span, str(exc))
                p.hosts = (host, neg)
            else:
                p.hosts = (host.lower(), neg)
        if a.get("dst-port"):
            p.dports = _ports(a["dst-port"])
        if a.get("dst-address"):
            p.dst = self.addr(a["dst-address"], span)
        if a.get("src-address"):
            p.src = self.addr(a["src-address"], span)
        return p

    def rule(self, span: Span, a: dict[str, str], family: int, table: str) -> Rule | None:
        chain = a.get("chain", "")
        if not chain:
            self.problem("TE901", span, "a firewall rule without chain=: RouterOS refuses it")
            return None
        r = Rule(span, family, table, chain, sys.intern(a.get("action", "accept").lower()))
        if r.action not in TERMINAL | NONTERMINAL and r.action not in (
            "mark-connection",
            "mark-packet",
            "mark-routing",
            "change-mss",
        ):
            self.problem("TE901", span, f"unknown action {r.action!r}")
            return None
        if r.action == "jump":
            r.jump = a.get("jump-target", "")
            if not r.jump:
                self.problem("TE901", span, "action=jump without jump-target=")
                return None
        r.how = {"reject": "reject", "tarpit": "tarpit"}.get(r.action, "drop")
        r.add_list = a.get("address-list", "")
        unknown: list[str] = []
        for key, raw in a.items():
            if key in META or raw == "":
                continue
            value, neg = _value(raw)
            if key == "protocol":
                r.protocol = (frozenset(value.lower().split(",")), neg)
            elif key in ("src-address", "dst-address"):
                ad = self.addr(raw, span)
                if ad is None:
                    return None
                if key == "src-address":
                    r.src = ad
                else:
                    r.dst = ad
            elif key in ("src-address-list", "dst-address-list"):
                if key[0] == "s":
                    r.src_list = (value, neg)
                else:
                    r.dst_list = (value, neg)
            elif key in ("dst-port", "src-port", "port"):
                ports = _ports(raw)
                if ports is None:
                    self.problem("TE901", span, f"bad {key}={raw}")
                    return None
                if key == "dst-port":
                    r.dports = ports
                elif key == "src-port":
                    r.sports = ports
                else:
                    r.anyports = ports
            elif key in ("in-interface", "out-interface"):
                setattr(r, "iif" if key[0] == "i" else "oif", (value, neg))
            elif key in ("in-interface-list", "out-interface-list"):
                setattr(r, "iif_list" if key[0] == "i" else "oif_list", (value, neg))
            elif key == "connection-state":
                r.states = (frozenset(s.strip().lower() for s in value.split(",")), neg)
            elif key == "connection-nat-state":
                r.nat_state = (frozenset(s.strip().lower() for s in value.split(",")), neg)
            elif key == "tcp-flags":
                r.flags = tuple((f.lstrip("!").lower(), f.startswith("!")) for f in raw.split(",") if f)
            elif key == "src-mac-address":
                r.mac = (value.lower(), neg)
            elif key == "tls-host":
                r.tls_host = (value.lower(), neg)
            elif key == "content":
                r.content = (value.encode("latin-1", "replace"), neg)
            elif key == "layer7-protocol":
                r.l7 = (value, neg)
            elif key == "dst-address-type":
                r.dst_type = (frozenset(value.lower().split(",")), neg)
            elif key == "time":
                t = _time(raw)
                if t is None:
                    self.problem("TE901", span, f"bad time={raw}")
                    unknown.append("time")
                else:
                    r.time = t
            else:
                unknown.append(key)
        if (
            (r.dports or r.sports)
            and r.protocol
            and not r.protocol[1]
            and not r.protocol[0] & {"tcp", "udp", "6", "17", "sctp", "dccp", "udp-lite"}
        ):
            self.problem(
                "TE901", span, "dst-port/src-port need protocol=tcp or udp: RouterOS refuses the rule"
            )
            return None
        r.unknown = tuple(unknown)
        return r


# ----------------------------------------------------------------------------- parse


def _schedulers(reader: _Reader, items: dict[str, list[Item]]) -> list[Script]:
    """Scheduler items whose script changes what we model (firewall, DNS, proxy, lists)."""
    scripts = {it.attrs.get("name", ""): it for it in items.get("system script", [])}
    out: list[Script] = []
    for it in items.get("system scheduler", []):
        if it.disabled:
            continue
        event = it.attrs.get("on-event", "").strip()
        source_item = it
        if event in scripts:
            source_item = scripts[event]
            event = source_item.attrs.get("source", "")
        elif re.fullmatch(r"/?system script run \S+|\[?/system script run \S+\]?", event):
            name = event.split()[-1].strip(']"')
            if name in scripts:
                source_item = scripts[name]
                event = source_item.attrs.get("source", "")
        if not re.search(r"firewall|/ip dns|dns static|proxy", event):
            continue
        when = " ".join(
            f"{k}={it.attrs[k]}" for k in ("start-time", "interval", "start-date") if k in it.attrs
        )
        lines = [(ln, source_item.span) for part in re.split(r"[\n;]", event) for ln in [part.strip()] if ln]
        followable = all(ln.startswith("/") or ln.split()[0] in COMMANDS for ln, _ in lines)
        if not followable:
            reader.problem(
                "TE907",
                it.span,
                f"scheduler {it.attrs.get('name', '')!r} runs a script the linter "
                "does not follow; it changes firewall, DNS or proxy items",
            )
            reader.dynamic.append(it.span)
            continue
        out.append(Script(it.attrs.get("name", "?"), it.span, lines, when))
    return out


@without_cycle_collection
def parse(path: Path, context: ParseContext) -> MikrotikRuleset:
    # Reading builds a few objects per item and frees almost none: the cyclic collector would
    # rescan the growing heap again and again for nothing. It is back on when we return.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _parse(path, context)
    finally:
        if enabled:
            gc.enable()


def _parse(path: Path, context: ParseContext) -> MikrotikRuleset:
    shown = context.resolver.display(path)
    src = read_source(path, shown)
    return ruleset_from_lines(src.lines, shown, context.catalog, list(src.problems))


def ruleset_from_lines(
    lines: list[str], shown: str, catalog: Catalog, problems: list[Problem], *, plain: bool = True
) -> MikrotikRuleset:
    """The ruleset of an export's lines (`problems` gets what is wrong with them). With
    `plain=False` every line takes the general reader, never plain.py's: the reference the
    plain path is tested against (tests/dialects/firewalls/test_mikrotik_plain.py)."""
    logical = _logical_lines(lines, shown, problems)
    unique = UniqueProblems(problems)
    reader = _Reader(shown, unique, plain)
    reader.run(logical)
    del logical  # a tuple per line (13 MB at 200,000 lines), not needed past the reading
    builder = _Builder(catalog, unique)
    variants: list[tuple[Config, str]] = [(builder.build(reader.items), "as exported")]
    for script in _schedulers(reader, reader.items)[:8]:
        changed = copy.deepcopy(reader.items)
        sub = _Reader(shown, unique, plain)
        sub.items = changed
        sub.run(script.lines)
        reader.dynamic.extend(sub.dynamic)
        label = f"after scheduler {script.name!r} runs" + (f" ({script.when})" if script.when else "")
        variants.append((builder.build(changed), label))
    if len(variants) > 1:
        variants[0] = (variants[0][0], "before the schedulers run (as exported)")
    return MikrotikRuleset(shown, variants, problems, catalog, reader.dynamic)
