"""MikroTik RouterOS exports (`/export`, `.rsc` scripts), evaluated the way RouterOS filters a
user's connection through the router.

    /ip firewall layer7-protocol
    add name=fb regexp="^.+(facebook.com).*\\$"
    /ip firewall address-list
    add address=31.13.64.0/18 list=social          # an address-list no rule uses blocks nothing
    /ip firewall filter
    add action=accept chain=forward connection-state=established,related
    add action=reject chain=forward tls-host=*.facebook.com time=8h-17h,mon,tue,wed,thu,fri
    add action=drop chain=forward layer7-protocol=fb disabled=yes   # disabled: ignored

Here the tls-host rule never sees a ClientHello (it travels in an established connection,
accepted first), so Facebook is unaffected; moved above the accept it would block HTTPS to
www.facebook.com on weekdays 8-17 (router time): `blocked-partial`.

- **Syntax**: menu headers (`/ip firewall filter`), then `add`/`set`/`remove`/`enable`/`disable`
  lines (`set 3 ...`, `[find comment="x"]`, `place-before=N`); `\\` ends a line that continues
  on the next (its leading blanks dropped, also inside quotes); `"..."` with RouterOS escapes;
  a leading `!` in a value negates it. Default values are not exported: no `action=` is accept.
  `disabled=yes` items are ignored. Script lines (`:foreach`, `:do`) that touch the firewall,
  DNS or proxy are not followed: TE907, and what they could decide is `unknown`.
- **Path**: a user's packets cross `/ip firewall raw` prerouting, then `/ip firewall filter`
  chain `forward` (`input`/`output` are the router's own traffic: not users'). IPv6 targets use
  the `/ipv6 firewall` menus. In each chain the first matching rule decides: accept,
  fasttrack-connection (accept), drop, tarpit (drop), reject; jump to `jump-target` and back
  on `return` or at the end of a custom chain; log, passthrough and add-src/dst-to-address-list
  go on. A built-in chain's end accepts. Each connection is three packets, as in iptables.py:
  the SYN (state new), the server's SYN-ACK back (established) and the first data packet
  (established: the HTTP request or the TLS ClientHello). So rules after `accept
  connection-state=established` see only the SYN, where `tls-host`, `content` and L7 find nothing.
- **Matchers**: `dst-address`/`src-address` (CIDR, `a-b`, `!`), `*-address-list` (entries may
  be DOMAIN names, which the router resolves: here through the catalog, never DNS: the name's
  own connections match, other hosts of the service only at its catalog addresses),
  `protocol`, `dst-port`/`src-port`/`port` (lists, ranges, `!`), `in-`/`out-interface(-list)`
  (`/interface list member`), `connection-state`, `connection-nat-state`, `tcp-flags`,
  `src-mac-address`, `tls-host` (a glob over the TLS SNI: HTTPS only, `*.x.com` is not
  `x.com`), `content` (bytes in the payload: the HTTP request with its Host header, or the
  ClientHello with the SNI), `layer7-protocol` (its regexp over the connection's first bytes,
  case-insensitive, time-bounded; one not defined in the file is `unknown`), `time=8h-17h,mon,..`
  (router time: a window makes a block `blocked-partial`). `add-dst-to-address-list` rules
  fill lists as connections pass: the next connection to that address meets the list.
  Addresses are judged against every catalog prefix of the service (addressing.py). Matchers
  we cannot evaluate (`limit`, `connection-mark`, `hotspot`, ...) make a deny `unknown`.
- **Around the firewall**: `/ip dns static` (`name=`, `regexp=`, `match-subdomain=yes`,
  `type=NXDOMAIN`, an `address=` sinkhole or redirect) decides first, for clients using the
  router as their DNS server (the note says so; `allow-remote-requests=no` set in the file
  makes those entries the router's own). `/ip proxy access` denies (`dst-host` globs, `:regex`)
  apply to HTTP that a `/ip firewall nat` `action=redirect` sends to the proxy; without such a
  redirect, only to clients configured to use the proxy (an audience). `/system scheduler`
  items whose `on-event` (or the `/system script` it names) enables, disables or changes
  firewall, DNS or proxy items make those items time-dependent: each scheduler's state is an
  audience, so a block that only one state applies is `blocked-partial`.
- **Audiences**: source addresses and address-lists (client memberships), in- and
  out-interfaces, MACs, time windows, scheduler states and proxy use that rules test; every
  combination when there are few, else each condition on its own (TE906).
"""

from __future__ import annotations

import copy
import gc
import heapq
import ipaddress
import re
import sys
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from itertools import product
from pathlib import Path

from policy_lint.catalog import Catalog
from policy_lint.dialects.dns.hosts import address_decision
from policy_lint.dialects.semantics.addressing import Target, decide_by_address, targets
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.dialects.semantics.chains import ChainResult
from policy_lint.dialects.semantics.patterns import BoundedPattern, PatternError
from policy_lint.inputs import read_source
from policy_lint.model import Audience, Decision, Outcome, Probe, Problem, Span

NAME = "mikrotik"
FILE_PATTERNS = ("*.rsc", "*mikrotik*", "*routeros*", "export*.txt")

MAX_ITEMS = 500_000  # items per file; a bigger file is cut with TE902
MAX_AUDIENCES = 64  # every combination up to this many; else one condition at a time
MAX_SAMPLED = 160
MAX_REPS = 40  # representatives per audience dimension
MAX_JUMPS = 32
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
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
EPHEMERAL = 50000  # the client's source port
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
TERMINAL = {"accept", "drop", "reject", "tarpit", "fasttrack-connection", "jump", "return"}
NONTERMINAL = {"log", "passthrough", "add-dst-to-address-list", "add-src-to-address-list", "notrack"}
PATH = (("raw", "prerouting"), ("filter", "forward"))
WAN_WORDS = re.compile(r"wan|internet|isp|uplink|outside|external|pppoe-out|lte|gateway", re.I)
LAN_WORDS = re.compile(r"lan|local|inside|internal|bridge", re.I)
NEUTRAL_IFACE = "(another interface)"
OTHER_CLIENTS = ("192.168.77.77", "10.255.77.77", "172.31.254.77", "100.64.77.77", "203.0.113.77")

_HEAD = re.compile(
    r"^\s*/(?:ip|ipv6) (?:firewall (?:filter|raw|address-list|layer7-protocol|nat|mangle)"
    r"|dns static|proxy access)\b|^\s*/system (?:scheduler|script)\b|^\s*/interface list member\b"
    r"|^# .* by RouterOS|^# software id = ",
    re.M | re.I,
)


def detect(path: Path, head: str) -> float:
    if path.suffix.lower() in (".md", ".html", ".py", ".json", ".yaml", ".yml", ".xml"):
        return 0.0
    hits = len(_HEAD.findall(head))
    if not hits:
        return 0.0
    if re.search(r"^# .* by RouterOS", head, re.M):
        return 0.97
    return 0.9 if hits >= 2 or re.search(r"^\s*add\s+\S+=", head, re.M) else 0.6


# ----------------------------------------------------------------------------- reading


@dataclass(slots=True)
class Item:
    """One entry of a menu (a firewall rule, a list entry, a DNS name): its words as written."""

    menu: str
    attrs: dict[str, str]
    span: Span

    @property
    def disabled(self) -> bool:
        return self.attrs.get("disabled", "no").lower() in ("yes", "true")


def _logical_lines(lines: list[str], shown: str, problems: list[Problem]) -> list[tuple[str, Span]]:
    """Join `\\` continuations (the next line's leading blanks dropped); drop comments."""
    out: list[tuple[str, Span]] = []
    i = 0
    while i < len(lines):
        start = i
        text = lines[i]
        if text.lstrip().startswith("#"):
            i += 1
            continue
        if not text.endswith("\\"):  # the common case: no continuation
            i += 1
            if text.strip():
                out.append(
                    (text, Span(shown, start + 1, len(text) - len(text.lstrip()) + 1, text.strip()[:200]))
                )
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


@dataclass
class Script:
    """A scheduler's on-event commands, applied to a copy of the configuration."""

    name: str
    span: Span
    lines: list[tuple[str, Span]]
    when: str


# Parameters whose values repeat from item to item: one shared string each.
_SHARED_VALUES = frozenset(
    {
        "action",
        "chain",
        "protocol",
        "connection-state",
        "connection-nat-state",
        "disabled",
        "list",
        "in-interface",
        "out-interface",
        "in-interface-list",
        "out-interface-list",
        "jump-target",
        "log",
        "reject-with",
        "dst-port",
        "src-port",
        "port",
        "tcp-flags",
        "dst-address-type",
        "address-list",
        "time",
        "type",
        "match-subdomain",
    }
)


class _Reader:
    """Runs the export's commands against per-menu item lists."""

    def __init__(self, shown: str, problems: list[Problem]):
        self.shown = shown
        self.problems = problems
        self.items: dict[str, list[Item]] = {}
        self.dynamic: list[Span] = []  # script lines we do not follow that change what we model
        self.menus_seen: set[str] = set()
        self.count = 0

    def problem(self, code: str, span: Span, message: str) -> None:
        if not any(p.code == code and p.span == span for p in self.problems):
            self.problems.append(Problem(code, span, message))

    def run(self, lines: list[tuple[str, Span]], menu: str = "") -> None:
        for text, span in lines:
            menu = self.statement(text, span, menu)

    def statement(self, text: str, span: Span, menu: str) -> str:
        stripped = text.strip()
        if stripped.startswith(":") or stripped.startswith("{") or stripped.startswith("}"):
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
                self.menus_seen.add(here)
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
        attrs: dict[str, str] = {}
        selectors: list[str] = []
        for w in rest:
            if "=" in w and not w.startswith("["):
                k, _, v = w.partition("=")
                k = sys.intern(k.strip().lower())  # one string per parameter name, not per item
                attrs[k] = sys.intern(v) if k in _SHARED_VALUES else v
            else:
                selectors.append(w)
        if cmd == "add":
            self.count += 1
            if self.count > MAX_ITEMS:
                if self.count == MAX_ITEMS + 1:
                    self.problem("TE902", span, f"more than {MAX_ITEMS} items: the rest is not read")
                return
            item = Item(menu, attrs, span)
            before = attrs.pop("place-before", None)
            if before is not None and before.isdigit() and int(before) < len(items):
                items.insert(int(before), item)
            else:
                items.append(item)
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


# ----------------------------------------------------------------------------- the model

Net = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(slots=True)
class Addr:
    """`dst-address`/`src-address`: networks and ranges, maybe negated."""

    nets: tuple[Net, ...] = ()
    ranges: tuple[tuple[int, int, int], ...] = ()
    neg: bool = False

    def has(self, addr) -> bool:
        a = int(addr)
        return any(n.version == addr.version and addr in n for n in self.nets) or any(
            v == addr.version and lo <= a <= hi for v, lo, hi in self.ranges
        )

    @property
    def key(self) -> tuple:
        """Hashable and equal exactly when the Addrs are equal."""
        return self.nets, self.ranges, self.neg


class _NetIndex:
    """Items (numbered in order) that hold addresses, indexed by their networks: which items
    may hold an address costs one dict look-up per prefix length in use, not a scan. Ranges
    are kept aside and scanned."""

    __slots__ = ("by_prefix", "ranges")

    def __init__(self) -> None:
        self.by_prefix: dict[tuple[int, int], dict[int, list[int]]] = {}
        self.ranges: list[tuple[int, int, int, int]] = []  # (item, version, lo, hi)

    def add(self, item: int, spec: Addr) -> None:
        for n in spec.nets:
            entries = self.by_prefix.get((n.version, n.prefixlen))
            if entries is None:
                entries = self.by_prefix[(n.version, n.prefixlen)] = {}
            key = int(n.network_address)
            hit = entries.get(key)
            if hit is None:
                entries[key] = [item]
            else:
                hit.append(item)
        for v, lo, hi in spec.ranges:
            self.ranges.append((item, v, lo, hi))

    def holding(self, addr) -> set[int]:
        """The items with a network or range holding `addr` (as Addr.has says, `!` aside)."""
        out: set[int] = set()
        value, bits, version = int(addr), addr.max_prefixlen, addr.version
        for (v, plen), entries in self.by_prefix.items():
            if v == version:
                hit = entries.get(value >> (bits - plen) << (bits - plen) if plen else 0)
                if hit:
                    out.update(hit)
        for item, v, lo, hi in self.ranges:
            if v == version and lo <= value <= hi:
                out.add(item)
        return out


@dataclass
class AddressList:
    name: str
    span: Span  # the first entry
    entries: list[tuple[Addr, Span]] = field(default_factory=list)
    names: list[tuple[str, Span]] = field(default_factory=list)  # domain entries, resolved by the router
    _index: tuple[int, _NetIndex] | None = field(default=None, repr=False, compare=False)

    def first(self, addr) -> Span | None:
        """The first entry holding `addr` (as a scan of `entries` in order finds it)."""
        if len(self.entries) < 16:
            return next((span for e, span in self.entries if e.has(addr)), None)
        if self._index is None or self._index[0] != len(self.entries):
            index = _NetIndex()
            for k, (e, _span) in enumerate(self.entries):
                index.add(k, e)
            self._index = (len(self.entries), index)
        hits = self._index[1].holding(addr)
        return self.entries[min(hits)][1] if hits else None


@dataclass(slots=True)
class TimeWindow:
    start: int = 0
    stop: int = 24 * 60
    days: frozenset[int] = frozenset(range(7))
    text: str = ""

    def contains(self, day: int, minute: int) -> bool:
        if day not in self.days:
            return False
        if self.start <= self.stop:
            return self.start <= minute < self.stop
        return minute >= self.start or minute < self.stop


@dataclass(slots=True)
class Rule:
    span: Span
    family: int
    table: str
    chain: str
    action: str = "accept"
    jump: str = ""
    how: str = "drop"
    add_list: str = ""
    protocol: tuple[frozenset[str], bool] | None = None
    src: Addr | None = None
    dst: Addr | None = None
    src_list: tuple[str, bool] | None = None
    dst_list: tuple[str, bool] | None = None
    dports: tuple[list[tuple[int, int]], bool] | None = None
    sports: tuple[list[tuple[int, int]], bool] | None = None
    anyports: tuple[list[tuple[int, int]], bool] | None = None
    iif: tuple[str, bool] | None = None
    oif: tuple[str, bool] | None = None
    iif_list: tuple[str, bool] | None = None
    oif_list: tuple[str, bool] | None = None
    states: tuple[frozenset[str], bool] | None = None
    nat_state: tuple[frozenset[str], bool] | None = None
    flags: tuple[tuple[str, bool], ...] = ()
    mac: tuple[str, bool] | None = None
    tls_host: tuple[str, bool] | None = None
    content: tuple[bytes, bool] | None = None
    l7: tuple[str, bool] | None = None
    dst_type: tuple[frozenset[str], bool] | None = None
    time: TimeWindow | None = None
    unknown: tuple[str, ...] = ()

    @property
    def specific(self) -> bool:
        return bool(
            (self.dst and not self.dst.neg)
            or (self.dst_list and not self.dst_list[1])
            or (self.tls_host and not self.tls_host[1])
            or (self.content and not self.content[1])
            or (self.l7 and not self.l7[1])
        )


@dataclass
class DnsEntry:
    span: Span
    name: str = ""
    pattern: BoundedPattern | None = None
    subdomains: bool = False
    kind: str = "A"
    address: str = ""
    forward_to: str = ""
    address_list: str = ""

    def matches(self, host: str) -> bool | None:
        host = host.lower().rstrip(".")
        if self.pattern is not None:
            return self.pattern.search(host)
        if host == self.name:
            return True
        return self.subdomains and host.endswith("." + self.name)


@dataclass
class ProxyRule:
    span: Span
    action: str
    hosts: tuple[str, bool] | None = None
    regex: BoundedPattern | None = None
    dports: tuple[list[tuple[int, int]], bool] | None = None
    dst: Addr | None = None
    src: Addr | None = None
    path: str = ""
    redirect: str = ""


@dataclass
class Config:
    """One state of the device: the export as read, or after a scheduler script ran."""

    rules: dict[tuple[int, str], dict[str, list[Rule]]] = field(default_factory=dict)
    lists: dict[tuple[int, str], AddressList] = field(default_factory=dict)
    l7: dict[str, tuple[BoundedPattern | None, Span]] = field(default_factory=dict)
    dns: list[DnsEntry] = field(default_factory=list)
    dns_remote: bool | None = None  # allow-remote-requests, when the file says
    proxy: list[ProxyRule] = field(default_factory=list)
    proxy_redirect: Span | None = None
    iface_lists: dict[str, set[str]] = field(default_factory=dict)
    srcnat: bool = False
    # Built on first use by the evaluation: per-chain destination indexes, the signature index.
    indexes: dict = field(default_factory=dict, repr=False, compare=False)

    def chain(self, family: int, table: str, name: str) -> list[Rule]:
        return self.rules.get((family, table), {}).get(name, [])


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


_IPV4 = re.compile(
    r"(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})"
    r"(?:/([0-9]{1,2}))?"
)


def _ipv4_net(text: str) -> ipaddress.IPv4Network | None:
    """`a.b.c.d[/n]` as ipaddress.ip_network(text, strict=False) reads it, without its string
    parsing (most of the time of a big export); None for anything else (then ip_network)."""
    m = _IPV4.fullmatch(text)
    if m is None:
        return None
    a, b, c, d, plen = m.groups()
    a, b, c, d = int(a), int(b), int(c), int(d)
    bits = 32 if plen is None else int(plen)
    if a > 255 or b > 255 or c > 255 or d > 255 or bits > 32:
        return None
    return ipaddress.IPv4Network(((a << 24) | (b << 16) | (c << 8) | d, bits), strict=False)


def _is_tcp(protocols: frozenset[str]) -> bool:
    return bool(protocols & {"tcp", "6"})


def _value(text: str) -> tuple[str, bool]:
    return (text[1:], True) if text.startswith("!") else (text, False)


class _Builder:
    """Items -> a Config (rules, lists, DNS, proxy)."""

    def __init__(self, catalog: Catalog, problems: list[Problem]):
        self.catalog = catalog
        self.problems = problems

    def problem(self, code: str, span: Span, message: str) -> None:
        if not any(p.code == code and p.span == span for p in self.problems):
            self.problems.append(Problem(code, span, message))

    def build(self, items: dict[str, list[Item]]) -> Config:
        cfg = Config()
        for menu, family in LIST_MENUS.items():
            for it in items.get(menu, []):
                if not it.disabled:
                    self.list_entry(cfg, family, it)
        for it in items.get("ip firewall layer7-protocol", []):
            name = it.attrs.get("name", "")
            try:
                # l7 regexps run over the connection's bytes: `.` crosses lines, case is ignored.
                cfg.l7[name] = (
                    BoundedPattern.compile("(?s)" + it.attrs.get("regexp", ""), ignore_case=True),
                    it.span,
                )
            except PatternError as exc:
                self.problem("TE905", it.span, str(exc))
                cfg.l7[name] = (None, it.span)
        for it in items.get("interface list member", []):
            if not it.disabled:
                cfg.iface_lists.setdefault(it.attrs.get("list", ""), set()).add(it.attrs.get("interface", ""))
        for it in items.get("ip firewall nat", []):
            if it.disabled:
                continue
            action = it.attrs.get("action", "accept")
            if action in ("masquerade", "src-nat"):
                cfg.srcnat = True
            ports = _ports(it.attrs.get("dst-port", ""))
            if (
                action == "redirect"
                and it.attrs.get("chain") == "dstnat"
                and ports
                and not ports[1]
                and any(lo <= 80 <= hi for lo, hi in ports[0])
            ):
                cfg.proxy_redirect = cfg.proxy_redirect or it.span
        for it in items.get("ip dns", []):
            v = it.attrs.get("allow-remote-requests")
            if v is not None:
                cfg.dns_remote = v.lower() in ("yes", "true")
        for it in items.get("ip dns static", []):
            if not it.disabled:
                entry = self.dns_entry(it)
                if entry is not None:
                    cfg.dns.append(entry)
        for it in items.get("ip proxy access", []):
            if not it.disabled:
                cfg.proxy.append(self.proxy_rule(it))
        for menu, (family, table) in FIREWALL_MENUS.items():
            chains: dict[str, list[Rule]] = {}
            for it in items.get(menu, []):
                if it.disabled:
                    continue
                rule = self.rule(it, family, table)
                if rule is not None:
                    chains.setdefault(rule.chain, []).append(rule)
            cfg.rules[(family, table)] = chains
        return cfg

    def addr(self, text: str, span: Span) -> Addr | None:
        value, neg = _value(text)
        nets: list[Net] = []
        ranges: list[tuple[int, int, int]] = []
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            net = _ipv4_net(part)
            if net is not None:
                nets.append(net)
                continue
            try:
                nets.append(ipaddress.ip_network(part, strict=False))
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

    def list_entry(self, cfg: Config, family: int, it: Item) -> None:
        name = it.attrs.get("list", "")
        value = it.attrs.get("address", "").strip()
        lst = cfg.lists.get((family, name))
        if lst is None:
            lst = cfg.lists[(family, name)] = AddressList(name, it.span)
        if not value:
            self.problem("TE901", it.span, "address-list entry without address=")
            return
        a = (
            self.addr(value, it.span)
            if re.fullmatch(r"[\d.:/a-fA-F-]+", value) and not re.search(r"[g-zG-Z]", value)
            else None
        )
        if a is not None:
            lst.entries.append((a, it.span))
        elif re.fullmatch(r"[\w.-]+\.[a-zA-Z][\w-]*\.?", value):
            lst.names.append((value.lower().rstrip("."), it.span))
        else:
            self.problem("TE901", it.span, f"bad address-list address {value!r}")

    def dns_entry(self, it: Item) -> DnsEntry | None:
        a = it.attrs
        e = DnsEntry(
            it.span,
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
                self.problem("TE905", it.span, str(exc))
                return None
        elif not e.name:
            self.problem("TE901", it.span, "DNS static entry without name= or regexp=")
            return None
        return e

    def proxy_rule(self, it: Item) -> ProxyRule:
        a = it.attrs
        p = ProxyRule(
            it.span,
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
                    self.problem("TE905", it.span, str(exc))
                p.hosts = (host, neg)
            else:
                p.hosts = (host.lower(), neg)
        if a.get("dst-port"):
            p.dports = _ports(a["dst-port"])
        if a.get("dst-address"):
            p.dst = self.addr(a["dst-address"], it.span)
        if a.get("src-address"):
            p.src = self.addr(a["src-address"], it.span)
        return p

    def rule(self, it: Item, family: int, table: str) -> Rule | None:
        a = it.attrs
        chain = a.get("chain", "")
        if not chain:
            self.problem("TE901", it.span, "a firewall rule without chain=: RouterOS refuses it")
            return None
        r = Rule(it.span, family, table, chain, sys.intern(a.get("action", "accept").lower()))
        if r.action not in TERMINAL | NONTERMINAL and r.action not in (
            "mark-connection",
            "mark-packet",
            "mark-routing",
            "change-mss",
        ):
            self.problem("TE901", it.span, f"unknown action {r.action!r}")
            return None
        if r.action == "jump":
            r.jump = a.get("jump-target", "")
            if not r.jump:
                self.problem("TE901", it.span, "action=jump without jump-target=")
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
                ad = self.addr(raw, it.span)
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
                    self.problem("TE901", it.span, f"bad {key}={raw}")
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
                    self.problem("TE901", it.span, f"bad time={raw}")
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
                "TE901", it.span, "dst-port/src-port need protocol=tcp or udp: RouterOS refuses the rule"
            )
            return None
        r.unknown = tuple(unknown)
        return r


# ----------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class _Packet:
    src: object  # an address, or None (a client address we cannot give in this family)
    dst: object
    host: str  # the probe's host: domain entries of address-lists and the DNS
    sport: int
    dport: int
    state: str  # new | established
    flags: frozenset[str]
    payload: bytes | None
    sni: str | None
    iif: str
    oif: str
    mac: str
    day: int
    minute: int
    reply: bool  # the server's SYN-ACK back to the client
    client_lists: frozenset[str]
    dyn: frozenset[tuple[str, str]]  # (list, "server"|"client") filled by add-*-to-address-list


@dataclass(frozen=True)
class _Who:
    """An audience's concrete values."""

    variant: int = 0
    src: str = ""
    lists: tuple[str, ...] = ()
    iif: str = ""
    oif: str = ""
    mac: str = ""
    proxy: bool = False
    day: int = -1
    minute: int = -1


class _ChainIndex:
    """One chain's rules, those with a plain dst-address indexed by its networks."""

    __slots__ = ("always", "cache", "cached", "nets", "rules", "zero")

    MAX_CACHED = 1_000_000  # candidate list entries kept, over all addresses

    def __init__(self, rules: list[Rule]):
        self.rules = rules
        self.always: list[int] = []  # rules any packet may match
        self.zero: list[int] = []  # indexed rules with a /0: they match a packet without an address
        self.nets = _NetIndex()
        for k, r in enumerate(rules):
            d = r.dst
            if d is not None and d.nets and not d.neg and not d.ranges:
                self.nets.add(k, d)
                if any(n.prefixlen == 0 for n in d.nets):
                    self.zero.append(k)
            else:
                self.always.append(k)
        self.cache: dict[object, list[Rule]] = {}
        self.cached = 0

    def candidates(self, dst) -> list[Rule]:
        if len(self.always) == len(self.rules):
            return self.rules
        found = self.cache.get(dst)
        if found is not None:
            return found
        if dst is None or dst.is_unspecified:
            hits = self.zero  # only "any address" conditions match a packet without an address
        else:
            hits = sorted(self.nets.holding(dst))
        if not hits:
            found = [self.rules[k] for k in self.always]
        else:
            found = [self.rules[k] for k in heapq.merge(self.always, hits)]
        if self.cached + len(found) <= self.MAX_CACHED:
            self.cache[dst] = found
            self.cached += len(found)
        return found


class _SignatureIndex:
    """Every address condition of a configuration (each rule's src then dst, rule by rule, then
    each address-list), indexed so the ones holding an address are found without a scan."""

    __slots__ = ("lists", "nets")

    def __init__(self, rules, lists: dict[tuple[int, str], AddressList], resolve):
        self.nets = _NetIndex()
        k = 0
        for r in rules:
            for spec in (r.src, r.dst):
                if spec is not None:
                    self.nets.add(k, spec)
                    k += 1
        # Per list: its family, and the addresses its domain entries resolve to.
        self.lists = [
            (fam, lst, frozenset(a for n, _ in lst.names for a in resolve(n)))
            for (fam, _name), lst in lists.items()
        ]


class MikrotikRuleset:
    def __init__(
        self,
        shown: str,
        variants: list[tuple[Config, str]],
        problems: list[Problem],
        catalog: Catalog,
        dynamic: list[Span],
        all_items: dict[str, list[Item]],
    ):
        self.path = shown
        self.dialect = NAME
        self.problems = problems
        self.variants = variants
        self.catalog = catalog
        self.dynamic = dynamic
        self.items = all_items
        self._cache: dict[tuple, Decision] = {}
        self._sigs: dict[tuple[int, object], tuple] = {}
        self._distinct: dict[tuple, list[Target]] = {}
        self._summaries: dict[tuple, Decision] = {}
        self._audiences: list[Audience] | None = None
        self._who: dict[tuple, _Who] = {}
        self._other = OTHER_CLIENTS[0]  # a client address no source condition names
        self._host_sensitive = (
            any(
                r.tls_host or r.content or r.l7
                for cfg, _ in variants
                for chains in cfg.rules.values()
                for rules in chains.values()
                for r in rules
            )
            or any(lst.names for cfg, _ in variants for lst in cfg.lists.values())
            or any(cfg.dns or cfg.proxy for cfg, _ in variants)
        )
        self._note_quic_only_drops()

    def _note_quic_only_drops(self) -> None:
        """`protocol=udp dst-port=443 action=drop` blocks HTTP/3 (QUIC) only: browsers fall back
        to HTTPS over TCP, so no service is blocked by it; TE209 says so, once per rule."""
        seen: set[Span] = set()
        for cfg, _ in self.variants:
            for family in (4, 6):
                for rule in self._reachable(cfg, family):
                    if (
                        rule.span not in seen
                        and rule.action in ("drop", "reject", "tarpit")
                        and rule.protocol == (frozenset({"udp"}), False)
                        and rule.dports is not None
                        and not rule.dports[1]
                        and any(lo <= 443 <= hi for lo, hi in rule.dports[0])
                    ):
                        seen.add(rule.span)
                        self.problems.append(
                            Problem(
                                "TE209",
                                rule.span,
                                "drops QUIC (UDP 443) only: browsers fall back to HTTPS "
                                "over TCP, so this slows HTTP/3 sites at most and blocks no service",
                            )
                        )

    # ------------------------------------------------------------ audiences

    def _rules(self, cfg: Config):
        for chains in cfg.rules.values():
            for rules in chains.values():
                yield from rules

    def _reachable(self, cfg: Config, family: int) -> list[Rule]:
        """Rules a user's packets can meet: raw prerouting, filter forward and their jumps."""
        out: list[Rule] = []
        seen: set[tuple[str, str]] = set()
        todo = list(PATH)
        while todo:
            table, chain = todo.pop()
            if (table, chain) in seen:
                continue
            seen.add((table, chain))
            for r in cfg.chain(family, table, chain):
                out.append(r)
                if r.jump:
                    todo.append((table, r.jump))
        return out

    @staticmethod
    def _web(r: Rule) -> bool:
        """Could this rule match a web connection's packets at all (protocol and ports)?"""
        if r.protocol and _is_tcp(r.protocol[0]) == r.protocol[1]:
            return False

        def ok(spec, port: int) -> bool:
            return spec is None or any(lo <= port <= hi for lo, hi in spec[0]) != spec[1]

        ways = ((80, EPHEMERAL), (443, EPHEMERAL), (EPHEMERAL, 80), (EPHEMERAL, 443))
        return any(
            ok(r.dports, d) and ok(r.sports, s) and (ok(r.anyports, d) or ok(r.anyports, s)) for d, s in ways
        )

    def audiences(self) -> list[Audience]:
        if self._audiences is None:
            self._audiences = self._build_audiences()
        return self._audiences

    def _build_audiences(self) -> list[Audience]:
        rules = [
            r
            for cfg, _ in self.variants
            for fam in (4, 6)
            for r in self._reachable(cfg, fam)
            if self._web(r) and r.action in TERMINAL
        ]
        cfg0 = self.variants[0][0]
        src_specs: list[Addr] = []
        lists: list[str] = []
        iifs: list[str] = []
        oifs: list[str] = []
        macs: list[str] = []
        times: list[TimeWindow] = []
        # First occurrences in rule order; the sets only make "seen before?" cheap.
        seen_src: set[tuple] = set()
        seen: dict[int, set] = {id(d): set() for d in (lists, iifs, oifs, macs, times)}

        def first(dim: list, value, key=None) -> None:
            key = value if key is None else key
            if key not in seen[id(dim)]:
                seen[id(dim)].add(key)
                dim.append(value)

        for r in rules:
            if r.src and r.src.key not in seen_src:
                seen_src.add(r.src.key)
                src_specs.append(r.src)
            if r.src_list:
                first(lists, r.src_list[0])
            for val, dim in ((r.iif, iifs), (r.oif, oifs)):
                if val:
                    first(dim, val[0])
            for val, dim in ((r.iif_list, iifs), (r.oif_list, oifs)):
                if val and val[0] not in ("all", "none"):
                    first(dim, "@" + val[0])
            if r.mac:
                first(macs, r.mac[0])
            if r.time:
                first(times, r.time, r.time.text)
        # Clients: an address in each source condition, each list that may hold them, and one in none.
        src_reps: list[tuple[str, tuple[str, ...]]] = []
        for spec in src_specs[:MAX_REPS]:
            for n in spec.nets[:2]:
                if n.version == 4:
                    src_reps.append(
                        (str(n.network_address + 1 if n.num_addresses > 2 else n.network_address), ())
                    )
            for v, lo, _hi in spec.ranges[:2]:
                if v == 4:
                    src_reps.append((str(ipaddress.IPv4Address(lo)), ()))
        for name in lists[:MAX_REPS]:
            lst = cfg0.lists.get((4, name))
            static = [e for e, _s in lst.entries if e.nets and e.nets[0].version == 4] if lst else []
            if static:
                n = static[0].nets[0]
                src_reps.append(
                    (str(n.network_address + 1 if n.num_addresses > 2 else n.network_address), ())
                )
        other = next(
            (
                a
                for a in OTHER_CLIENTS
                if not any(s.has(ipaddress.ip_address(a)) for s in src_specs)
                and not any(
                    e.has(ipaddress.ip_address(a))
                    for name in lists
                    for e, _ in (cfg0.lists[(4, name)].entries if (4, name) in cfg0.lists else [])
                )
            ),
            OTHER_CLIENTS[0],
        )
        self._other = other
        # Members added at run time (PPP, DHCP, add-src-to-address-list) may be any client.
        src_reps += [(other, (name,)) for name in lists[:MAX_REPS]]
        baseline_src = (other, ())
        src_reps = [baseline_src] + list(dict.fromkeys(r for r in src_reps if r != baseline_src))
        # Clients arrive on the LAN side: the members of a LAN-like interface list when the
        # export defines one, else any interface the rules name, or another one.
        lan_members = sorted({m for lst, ms in cfg0.iface_lists.items() if LAN_WORDS.search(lst) for m in ms})
        lan_iifs = [i for i in iifs if not self._wanlike(cfg0, i)]
        if lan_members:
            iif_reps = (
                lan_members[:MAX_REPS]
                + [
                    i
                    for i in lan_iifs
                    if i not in lan_members and not (i.startswith("@") and LAN_WORDS.search(i))
                ][:MAX_REPS]
            )
        else:
            iif_reps = [NEUTRAL_IFACE] + lan_iifs[:MAX_REPS]
        # Their traffic leaves on the WAN side: a WAN-like interface the rules name, else another.
        wan = [i for i in oifs if self._wanlike(cfg0, i)]
        oif_base = wan[0] if wan else NEUTRAL_IFACE
        oif_reps = [oif_base] + [i for i in oifs if i != oif_base][:MAX_REPS]
        mac_reps = [""] + macs[:MAX_REPS] if macs else [""]
        time_reps = self._time_reps(times)
        proxy_reps = (
            [False, True]
            if any(
                cfg.proxy and cfg.proxy_redirect is None and any(p.action == "deny" for p in cfg.proxy)
                for cfg, _ in self.variants
            )
            else [False]
        )
        variants = list(range(len(self.variants)))
        dims = [src_reps, iif_reps, oif_reps, mac_reps]
        size = len(src_reps) * len(iif_reps) * len(oif_reps) * len(mac_reps)
        fixed = len(variants) * len(time_reps) * len(proxy_reps)
        if size * fixed <= MAX_AUDIENCES:
            combos = list(product(*dims))
        else:
            # Too many to combine: a client who meets no condition, each condition on its own,
            # and for each rule a client who meets all of its conditions at once.
            base = tuple(d[0] for d in dims)
            combos = [base]
            for k, d in enumerate(dims):
                for v in d[1:]:
                    combos.append(base[:k] + (v,) + base[k + 1 :])
            for r in rules:
                combo = list(base)
                if r.src and not r.src.neg and r.src.nets and r.src.nets[0].version == 4:
                    n = r.src.nets[0]
                    combo[0] = (str(n.network_address + 1 if n.num_addresses > 2 else n.network_address), ())
                elif r.src_list and not r.src_list[1]:
                    combo[0] = (other, (r.src_list[0],))
                if r.iif and not r.iif[1]:
                    combo[1] = r.iif[0]
                elif r.iif_list and not r.iif_list[1] and "@" + r.iif_list[0] in iif_reps:
                    combo[1] = "@" + r.iif_list[0]
                if r.oif and not r.oif[1]:
                    combo[2] = r.oif[0]
                if r.mac and not r.mac[1]:
                    combo[3] = r.mac[0]
                combos.append(tuple(combo))
            combos = list(dict.fromkeys(combos))
            self.problems.append(
                Problem(
                    "TE906",
                    Span(self.path, 1, 1),
                    f"{size * fixed} client combinations: each condition is evaluated "
                    "on its own and with the others of its rule, not every combination",
                )
            )
        out: list[Audience] = []
        for variant, (day, minute), proxy, ((src, memb), iif, oif, mac) in product(
            variants, time_reps, proxy_reps, combos
        ):
            who = _Who(variant, src, memb, iif, oif, mac, proxy, day, minute)
            conds: list[str] = []
            attrs: list[tuple[str, str]] = [("path", "forward")]
            if len(self.variants) > 1:
                conds.append(self.variants[variant][1])
            if len(src_reps) > 1 and not memb:
                conds.append(f"source {src}")
            if src:
                attrs.append(("src", src))
            for name in memb:
                conds.append(f"in address-list {name}")
                attrs.append(("address-list", name))
            if len(iif_reps) > 1 or iif != NEUTRAL_IFACE:
                conds.append("in " + self._iface_text(iif))
                attrs.append(("interface", iif))
            if len(oif_reps) > 1:
                conds.append("out " + self._iface_text(oif))
            if mac:
                conds.append(f"MAC {mac}")
                attrs.append(("mac", mac))
            elif len(mac_reps) > 1:
                conds.append("another MAC")
            if proxy:
                conds.append("using the router's web proxy")
            if day >= 0:
                conds.append(f"{DAYS[day]} {minute // 60:02d}:{minute % 60:02d} router time")
                attrs.append(("time", f"{DAYS[day]} {minute // 60:02d}:{minute % 60:02d}"))
            key = (variant, src, memb, iif, oif, mac, proxy, day, minute)
            self._who[key] = who
            out.append(Audience(key=key, conditions=tuple(conds), attributes=tuple(attrs)))
        if len(out) > MAX_SAMPLED:
            stride = -(-len(out) // MAX_SAMPLED)
            self.problems.append(
                Problem(
                    "TE906", Span(self.path, 1, 1), f"{len(out)} audiences: every {stride}th is evaluated"
                )
            )
            out = out[::stride]
        return out

    @staticmethod
    def _iface_text(name: str) -> str:
        if name.startswith("@"):
            return f"an interface of list {name[1:]}"
        return name

    @staticmethod
    def _wanlike(cfg: Config, name: str) -> bool:
        if name.startswith("@"):
            return bool(WAN_WORDS.search(name[1:]))
        return bool(WAN_WORDS.search(name)) or any(
            name in members and WAN_WORDS.search(lst) for lst, members in cfg.iface_lists.items()
        )

    @staticmethod
    def _time_reps(times: list[TimeWindow]) -> list[tuple[int, int]]:
        if not times:
            return [(-1, -1)]
        cands = [(min(t.days), (t.start + 1) % 1440) for t in times]
        cands += [(day, minute) for day in (2, 6) for minute in (3 * 60, 12 * 60, 20 * 60)]
        reps, sigs = [], set()
        for c in cands:
            sig = tuple(t.contains(*c) for t in times)
            if sig not in sigs:
                sigs.add(sig)
                reps.append(c)
        return reps

    # ------------------------------------------------------------ matching

    def _in_list(
        self, cfg: Config, family: int, name: str, addr, host: str, who: str, p: _Packet
    ) -> tuple[bool, Span | None]:
        if (name, who) in p.dyn:
            return True, None
        if who == "client" and name in p.client_lists:
            return True, None
        lst = cfg.lists.get((family, name))
        if lst is None:
            return False, None
        if addr is not None and not addr.is_unspecified:
            span = lst.first(addr)
            if span is not None:
                return True, span
        if who == "server":
            for n, span in lst.names:
                # The router resolves the name: the client reaching that name reaches an address
                # in the list; other hosts of the service only at the catalog's addresses.
                if n == host:
                    return True, span
                if addr is not None and str(addr) in self._resolve(n):
                    return True, span
        return False, None

    def _resolve(self, name: str) -> tuple[str, ...]:
        hit = self.catalog.service_for_host(name)
        if hit:
            return tuple(self.catalog.services[hit[0]].addresses)
        if name == self.catalog.control_host:
            return tuple(self.catalog.control_addresses)
        return ()

    def _iface_in(self, cfg: Config, iface: str, lst: str) -> bool:
        if lst == "all":
            return True
        if lst == "none":
            return False
        if iface.startswith("@"):
            return iface[1:] == lst or iface[1:] in cfg.iface_lists.get(lst, set())
        return iface in cfg.iface_lists.get(lst, set())

    def _match(self, cfg: Config, r: Rule, p: _Packet, extra: list[Span]) -> tuple[bool | None, str]:
        """Does `r` match `p`? None: cannot tell (and why). Definite mismatches are found first."""
        if r.protocol and _is_tcp(r.protocol[0]) == r.protocol[1]:
            return False, ""
        for spec, port in ((r.dports, p.dport), (r.sports, p.sport)):
            if spec and any(lo <= port <= hi for lo, hi in spec[0]) == spec[1]:
                return False, ""
        if r.anyports and not any(
            (any(lo <= q <= hi for lo, hi in r.anyports[0]) != r.anyports[1]) for q in (p.dport, p.sport)
        ):
            return False, ""
        if r.states and (p.state in r.states[0]) == r.states[1]:
            return False, ""
        if r.nat_state:
            mine = {"srcnat"} if cfg.srcnat else set()
            if bool(mine & r.nat_state[0]) == r.nat_state[1]:
                return False, ""
        for flag, neg in r.flags:
            if (flag in p.flags) == neg:
                return False, ""
        if r.iif and (p.iif == r.iif[0]) == r.iif[1]:
            return False, ""
        if r.oif and (p.oif == r.oif[0]) == r.oif[1]:
            return False, ""
        if r.iif_list and self._iface_in(cfg, p.iif, r.iif_list[0]) == r.iif_list[1]:
            return False, ""
        if r.oif_list and self._iface_in(cfg, p.oif, r.oif_list[0]) == r.oif_list[1]:
            return False, ""
        if r.mac and (p.reply or (p.mac == r.mac[0]) == r.mac[1]):
            return False, ""
        if r.time:
            if p.day >= 0 and not r.time.contains(p.day, p.minute):
                return False, ""
        if r.dst_type:
            types = {"unicast"}
            if bool(types & r.dst_type[0]) == r.dst_type[1]:
                return False, ""
        src_who, dst_who = ("server", "client") if p.reply else ("client", "server")
        for spec, addr in ((r.src, p.src), (r.dst, p.dst)):
            if spec is None:
                continue
            if addr is None or addr.is_unspecified:
                # No address to give (a client of the other family; 0.0.0.0 is read the same
                # way): only "any address" conditions match it. A service without catalog
                # prefixes gets stand-in addresses from addressing.decide_by_address instead.
                if not spec.neg and not any(n.prefixlen == 0 for n in spec.nets):
                    return False, ""
            elif spec.has(addr) == spec.neg:
                return False, ""
        for lst, addr, who in ((r.src_list, p.src, src_who), (r.dst_list, p.dst, dst_who)):
            if lst is None:
                continue
            hit, span = self._in_list(cfg, r.family, lst[0], addr, p.host, who, p)
            if hit == lst[1]:
                return False, ""
            if span is not None:
                extra.append(span)
        if r.tls_host:
            hit = p.sni is not None and fnmatchcase(p.sni, r.tls_host[0])
            if p.sni is None or hit == r.tls_host[1]:
                return False, ""
        if r.content:
            if p.payload is None or (r.content[0] in p.payload) == r.content[1]:
                return False, ""
        if r.l7:
            if p.payload is None:
                return False, ""
            pat = cfg.l7.get(r.l7[0])
            if pat is None:
                return None, f"layer7-protocol {r.l7[0]!r} is not defined in the file"
            if pat[0] is None:
                return None, f"layer7-protocol {r.l7[0]!r} has an invalid regexp"
            got = pat[0].search(p.payload.replace(b"\x00", b"").decode("latin-1"))
            if got is None:
                self._timeout(pat[1])
                return None, f"layer7-protocol {r.l7[0]!r} regexp ran out of time"
            if got == r.l7[1]:
                return False, ""
            extra.append(pat[1])
        if r.time and p.day < 0:
            return None, f"time={r.time.text}"
        if r.unknown:
            return None, f"{', '.join(dict.fromkeys(r.unknown))} (not evaluated)"
        return True, ""

    def _timeout(self, span: Span) -> None:
        if not any(p.code == "TE905" and p.span == span for p in self.problems):
            self.problems.append(Problem("TE905", span, "the regexp ran out of time"))

    @staticmethod
    def _scope(r: Rule) -> str:
        parts = []
        for key, val in (
            ("src-address-list", r.src_list),
            ("in-interface", r.iif),
            ("in-interface-list", r.iif_list),
            ("out-interface", r.oif),
            ("src-mac-address", r.mac),
        ):
            if val:
                parts.append(f"{key}={'!' if val[1] else ''}{val[0]}")
        if r.src:
            parts.append("src-address=" + ("!" if r.src.neg else "") + ",".join(str(n) for n in r.src.nets))
        if r.time:
            parts.append(f"time={r.time.text}")
        return " ".join(parts)

    @staticmethod
    def _note(r: Rule) -> str:
        if r.tls_host and not r.tls_host[1]:
            return f"TLS SNI matches tls-host={r.tls_host[0]} (HTTPS only)"
        if r.content and not r.content[1]:
            return f"payload (HTTP Host / TLS SNI) contains {r.content[0].decode('latin-1')!r}"
        if r.l7 and not r.l7[1]:
            return f"layer7-protocol {r.l7[0]} matches the connection's first bytes"
        return ""

    def _chain(
        self,
        cfg: Config,
        family: int,
        table: str,
        chain: str,
        p: _Packet,
        depth: int,
        trace: tuple[Span, ...],
        added: set[tuple[str, str]],
    ) -> ChainResult:
        uncertain: list[Span] = []
        for r in self._candidates(cfg, family, table, chain, p.dst):
            extra: list[Span] = []
            m, why = self._match(cfg, r, p, extra)
            if m is False:
                continue
            here = trace + tuple(extra) + (r.span,)
            a = r.action
            if a in ("drop", "reject", "tarpit"):
                if m is None:
                    return ChainResult(
                        "unknown",
                        r.span,
                        here,
                        r.specific,
                        f"cannot tell whether it matches: {why}",
                        scope=self._scope(r),
                        uncertain=tuple(uncertain),
                    )
                return ChainResult(
                    "drop", r.span, here, r.specific, self._note(r), r.how, self._scope(r), tuple(uncertain)
                )
            if a in ("accept", "fasttrack-connection", "return"):
                if m is None:
                    uncertain.append(r.span)
                    continue
                return ChainResult(
                    "accept" if a != "return" else "return",
                    r.span,
                    here,
                    r.specific,
                    scope=self._scope(r),
                    uncertain=tuple(uncertain),
                )
            if a == "jump":
                if depth >= MAX_JUMPS:
                    return ChainResult("unknown", r.span, here, False, "jumps nest too deep")
                sub = self._chain(cfg, family, table, r.jump, p, depth + 1, here, added)
                uncertain.extend(sub.uncertain)
                if sub.verdict in ("fall", "return"):
                    continue
                if m is None:
                    if sub.verdict == "accept":
                        uncertain.append(r.span)
                        continue
                    return ChainResult(
                        "unknown",
                        r.span,
                        here,
                        False,
                        f"cannot tell whether it matches: {why}",
                        uncertain=tuple(uncertain),
                    )
                return replace(sub, uncertain=tuple(uncertain))
            if a in ("add-dst-to-address-list", "add-src-to-address-list") and m is True and r.add_list:
                # The router adds the address as this packet passes: later connections meet the list.
                target = p.dst if a == "add-dst-to-address-list" else p.src
                server = (target is p.dst) != p.reply
                added.add((r.add_list, "server" if server else "client"))
        return ChainResult("fall", None, trace, uncertain=tuple(uncertain))

    def _candidates(self, cfg: Config, family: int, table: str, chain: str, dst) -> list[Rule]:
        """The rules of a chain that may match a packet to `dst`, in chain order: those whose
        dst-address is only plain networks (no `!`, no ranges) are indexed by network and
        taken only when one holds `dst`; every other rule is always taken. The rules left out
        are exactly ones `_match` finds false at dst-address, before any other effect."""
        index = cfg.indexes.get(("chain", family, table, chain))
        if index is None:
            index = cfg.indexes[("chain", family, table, chain)] = _ChainIndex(
                cfg.chain(family, table, chain)
            )
        return index.candidates(dst)

    def _walk(self, cfg: Config, family: int, p: _Packet, added: set[tuple[str, str]]) -> ChainResult:
        uncertain: list[Span] = []
        for table, chain in PATH:
            res = self._chain(cfg, family, table, chain, p, 0, (), added)
            uncertain.extend(res.uncertain)
            if res.verdict in ("drop", "unknown"):
                if res.verdict == "drop" and uncertain:
                    return ChainResult(
                        "unknown",
                        uncertain[0],
                        res.trace,
                        False,
                        f"an earlier accept may let it through (line {uncertain[0].line}) "
                        f"before {res.note or 'the drop'}",
                    )
                return res
        return ChainResult("accept")

    def _connection(
        self, cfg: Config, who: _Who, probe: Probe, address, dyn: frozenset
    ) -> tuple[ChainResult, set]:
        family = address.version
        src = ipaddress.ip_address(who.src or self._other)
        if src.version != family:
            src = None
        sni = probe.host.lower() if probe.scheme == "https" else None
        if probe.scheme == "https":
            payload = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00\x00" + probe.host.encode()
        else:
            payload = f"GET {probe.path} HTTP/1.1\r\nHost: {probe.host}\r\n\r\n".encode()
        base = dict(
            src=src,
            dst=address,
            host=probe.host.lower(),
            sport=EPHEMERAL,
            dport=probe.port,
            iif=who.iif,
            oif=who.oif,
            mac=who.mac,
            day=who.day,
            minute=who.minute,
            client_lists=frozenset(who.lists),
            dyn=dyn,
        )
        added: set[tuple[str, str]] = set()
        res = self._walk(
            cfg,
            family,
            _Packet(state="new", flags=frozenset({"syn"}), payload=None, sni=None, reply=False, **base),
            added,
        )
        if res.verdict == "accept":
            reply = dict(
                base,
                src=address,
                dst=src,
                sport=probe.port,
                dport=EPHEMERAL,
                iif=who.oif,
                oif=who.iif,
                mac="",
            )
            res = self._walk(
                cfg,
                family,
                _Packet(
                    state="established",
                    flags=frozenset({"syn", "ack"}),
                    payload=None,
                    sni=None,
                    reply=True,
                    **reply,
                ),
                added,
            )
        if res.verdict == "accept":
            res = self._walk(
                cfg,
                family,
                _Packet(
                    state="established",
                    flags=frozenset({"ack", "psh"}),
                    payload=payload,
                    sni=sni,
                    reply=False,
                    **base,
                ),
                added,
            )
        return res, added

    def _signature(self, cfg_index: int, address) -> tuple:
        """What every address condition says about `address`: targets alike decide alike."""
        key = (cfg_index, address)
        sig = self._sigs.get(key)
        if sig is None:
            # The conditions holding the address, by their place in the order rule by rule
            # (src, dst), then two bits per address-list of its family: equal exactly when a
            # bit per condition would be.
            cfg = self.variants[cfg_index][0]
            index = cfg.indexes.get("signature")
            if index is None:
                index = cfg.indexes["signature"] = _SignatureIndex(self._rules(cfg), cfg.lists, self._resolve)
            bits: list[bool] = []
            text = str(address)
            for fam, lst, resolved in index.lists:
                if fam == address.version:
                    bits.append(lst.first(address) is not None)
                    bits.append(text in resolved)
            sig = (address.version, tuple(sorted(index.nets.holding(address))), tuple(bits))
            if len(self._sigs) < 100_000:
                self._sigs[key] = sig
        return sig

    def _firewall(self, cfg_index: int, who: _Who, probe: Probe, target: Target) -> Decision:
        cfg = self.variants[cfg_index][0]
        host_key = (probe.scheme, probe.host.lower(), probe.path) if self._host_sensitive else probe.scheme
        ck = ("fw", cfg_index, who, probe.port, host_key, self._signature(cfg_index, target.address))
        hit = self._cache.get(ck)
        if hit is not None:
            return hit
        dyn = frozenset((name, "server") for name, _span in self._dns_lists(cfg, probe.host))
        res, added = self._connection(cfg, who, probe, target.address, dyn)
        if res.verdict == "accept" and added:
            # add-dst/src-to-address-list filled lists: the user's next connection meets them.
            res2, _ = self._connection(cfg, who, probe, target.address, dyn | frozenset(added))
            if res2.verdict != "accept":
                note = "on the next connection, after add-to-address-list rules listed the address"
                res = replace(res2, note=f"{res2.note}; {note}" if res2.note else note)
        if res.verdict == "accept":
            d = Decision(Outcome.ALLOW, res.rule, res.trace, res.specific, scope=res.scope)
        elif res.verdict == "drop":
            d = Decision(
                Outcome.DENY, res.rule, res.trace, res.specific, res.how or "drop", res.note, res.scope
            )
        else:
            d = Decision(Outcome.UNKNOWN, res.rule, res.trace, False, "", res.note, res.scope)
        self._cache[ck] = d
        return d

    def _dns_lists(self, cfg: Config, host: str) -> list[tuple[str, Span]]:
        out = []
        for e in cfg.dns:
            if e.address_list and e.matches(host):
                out.append((e.address_list, e.span))
        return out

    # ------------------------------------------------------------ DNS and proxy

    def _dns(self, cfg: Config, probe: Probe) -> Decision | None:
        for e in cfg.dns:
            if e.kind in ("AAAA", "TXT", "MX", "NS", "SRV") and not e.address_list:
                continue
            m = e.matches(probe.host)
            if m is None:
                self._timeout(e.span)
                return Decision(
                    Outcome.UNKNOWN, e.span, (e.span,), False, note="the DNS regexp ran out of time"
                )
            if not m:
                continue
            if e.kind == "FWD":
                if e.address_list:
                    continue  # only fills the list (used by the firewall)
                return None  # forwarded to another resolver: not a block
            where = "for clients using the router as their DNS server"
            if e.kind == "NXDOMAIN":
                return Decision(Outcome.DENY, e.span, (e.span,), True, "router DNS NXDOMAIN", where)
            if e.kind == "CNAME":
                return Decision(
                    Outcome.UNKNOWN,
                    e.span,
                    (e.span,),
                    True,
                    "router DNS CNAME",
                    "the name is answered with another name",
                )
            if not e.address:
                return None
            d = address_decision(e.address, probe.host, self.catalog, e.span, (e.span,), "router DNS")
            if cfg.dns_remote is False and d.outcome == Outcome.DENY:
                return None  # only the router's own lookups: clients cannot query it
            return replace(d, note=f"{d.note}; {where}" if d.note else where)
        return None

    def _proxy(self, cfg: Config, who: _Who, probe: Probe) -> Decision | None:
        redirected = cfg.proxy_redirect is not None and probe.scheme == "http" and probe.port == 80
        if not cfg.proxy or not (redirected or who.proxy):
            return None
        for p in cfg.proxy:
            if p.hosts:
                pat, neg = p.hosts
                if p.regex is not None:
                    got = p.regex.search(probe.host)
                    if got is None:
                        self._timeout(p.span)
                        return Decision(
                            Outcome.UNKNOWN, p.span, (p.span,), False, note="the regexp ran out of time"
                        )
                else:
                    got = fnmatchcase(probe.host.lower(), pat)
                if got == neg:
                    continue
            if p.dports and any(lo <= probe.port <= hi for lo, hi in p.dports[0]) == p.dports[1]:
                continue
            if p.path and (probe.scheme == "https" or not fnmatchcase(probe.path, p.path)):
                continue
            if p.dst is not None:
                if not probe.addresses or not any(
                    p.dst.has(ipaddress.ip_address(a)) != p.dst.neg for a in probe.addresses
                ):
                    continue
            if p.src is not None:
                src = ipaddress.ip_address(who.src or self._other)
                if p.src.has(src) == p.src.neg:
                    continue
            trace = (p.span,) + ((cfg.proxy_redirect,) if redirected and cfg.proxy_redirect else ())
            if p.action == "deny":
                how = f"web proxy deny{' (redirect to ' + p.redirect + ')' if p.redirect else ''}"
                note = (
                    "HTTP redirected to the router's web proxy"
                    if redirected
                    else "for clients configured to use the router's web proxy"
                )
                return Decision(Outcome.DENY, p.span, trace, bool(p.hosts or p.dst), how, note)
            return None
        return None

    # ------------------------------------------------------------ the Ruleset protocol

    def evaluate(self, probe: Probe, audience: Audience) -> Decision:
        who = self._who.get(audience.key) or _Who()
        cfg = self.variants[who.variant][0]
        d = self._dns(cfg, probe)
        if d is None or d.outcome != Outcome.DENY:
            pd = self._proxy(cfg, who, probe)
            if pd is not None and pd.outcome == Outcome.DENY:
                d = pd
        if d is not None and d.outcome == Outcome.DENY:
            return d
        fw = self._by_address(who, probe)
        if fw.outcome != Outcome.DENY and d is not None and d.outcome == Outcome.UNKNOWN:
            return d
        if self.dynamic and fw.outcome != Outcome.DENY:
            span = self.dynamic[0]
            return Decision(
                Outcome.UNKNOWN,
                span,
                fw.trace + (span,),
                False,
                "",
                "a script the linter does not follow changes the rules at run time",
            )
        return fw

    def _by_address(self, who: _Who, probe: Probe) -> Decision:
        """decide_by_address, short-cut when no address condition tells the targets apart."""
        key = (who.variant, probe.service)
        distinct = self._distinct.get(key)
        if distinct is None:
            seen: dict[tuple, Target] = {}
            for t in targets(probe, self.catalog):
                seen.setdefault(self._signature(who.variant, t.address), t)
            distinct = self._distinct[key] = list(seen.values())
        if not distinct:
            return decide_by_address(
                probe, self.catalog, lambda t: self._firewall(who.variant, who, probe, t)
            )
        decisions = tuple(self._firewall(who.variant, who, probe, t) for t in distinct)
        if all(d == decisions[0] for d in decisions[1:]):
            # Every target decides alike: decide_by_address would return this decision.
            return decisions[0]
        # Its summary depends only on the decision of each kind of target: computed once.
        ck = (who.variant, probe.service, probe.addresses, decisions)
        hit = self._summaries.get(ck)
        if hit is None:
            hit = self._summaries[ck] = decide_by_address(
                probe, self.catalog, lambda t: self._firewall(who.variant, who, probe, t)
            )
        return hit

    def inert_mentions(self, probe: Probe) -> list[Span]:
        """Address-lists holding the service's addresses (or names) that no rule uses."""
        svc = self.catalog.services.get(probe.service or "")
        if svc is None:
            return []
        cfg = self.variants[0][0]
        used = cfg.indexes.get("used lists")
        if used is None:
            used = {(r.family, x[0]) for r in self._rules(cfg) for x in (r.src_list, r.dst_list) if x}
            used |= {(r.family, r.add_list) for r in self._rules(cfg) if r.add_list}
            cfg.indexes["used lists"] = used
        out: list[Span] = []
        for key, lst in cfg.lists.items():
            if key in used:
                continue
            hit = next(
                (
                    span
                    for e, span in lst.entries[:20000]
                    for n in e.nets
                    for s in svc.networks
                    if n.version == s.version and n.overlaps(s)
                ),
                None,
            )
            if hit is None:
                hit = next(
                    (
                        span
                        for n, span in lst.names
                        if self.catalog.service_for_host(n) and self.catalog.service_for_host(n)[0] == svc.id
                    ),
                    None,
                )
            if hit is not None:
                out.append(hit)
        return out


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
    problems: list[Problem] = list(src.problems)
    reader = _Reader(shown, problems)
    reader.run(_logical_lines(src.lines, shown, problems))
    builder = _Builder(context.catalog, problems)
    variants: list[tuple[Config, str]] = [(builder.build(reader.items), "as exported")]
    for script in _schedulers(reader, reader.items)[:8]:
        changed = copy.deepcopy(reader.items)
        sub = _Reader(shown, problems)
        sub.items = changed
        sub.run(script.lines)
        reader.dynamic.extend(sub.dynamic)
        label = f"after scheduler {script.name!r} runs" + (f" ({script.when})" if script.when else "")
        variants.append((builder.build(changed), label))
    if len(variants) > 1:
        variants[0] = (variants[0][0], "before the schedulers run (as exported)")
    return MikrotikRuleset(shown, variants, problems, context.catalog, reader.dynamic, reader.items)
