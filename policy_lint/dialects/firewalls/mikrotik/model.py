"""The rule model of a RouterOS export: menu items as written (`Item`, a scheduler's `Script`),
and what they mean once built: rules, address-lists, DNS and proxy entries, one `Config` per
state of the device. Data and the small predicates over it; no reading, no evaluation."""

from __future__ import annotations

import ipaddress
import sys
from array import array
from bisect import bisect_left
from dataclasses import dataclass, field

from policy_lint.dialects.semantics.patterns import BoundedPattern
from policy_lint.model import Span

NAME = "mikrotik"

# Shared by the audiences and the evaluation: a user's packets, and the actions that end a chain.
EPHEMERAL = 50000  # the client's source port
TERMINAL = {"accept", "drop", "reject", "tarpit", "fasttrack-connection", "jump", "return"}
NONTERMINAL = {"log", "passthrough", "add-dst-to-address-list", "add-src-to-address-list", "notrack"}
PATH = (("raw", "prerouting"), ("filter", "forward"))
OTHER_CLIENTS = ("192.168.77.77", "10.255.77.77", "172.31.254.77", "100.64.77.77", "203.0.113.77")


# Parameter values many items share: one string each, not one per item.
SHARED_VALUES = frozenset(
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


def parameters(words: list[str]) -> tuple[dict[str, str], list[str]]:
    """A command's `key=value` words (keys lower-case), and its other words (numbers, `[find]`)."""
    attrs: dict[str, str] = {}
    selectors: list[str] = []
    for w in words:
        if "=" in w and not w.startswith("["):
            k, _, v = w.partition("=")
            k = sys.intern(k.strip().lower())  # one string per parameter name, not per item
            attrs[k] = sys.intern(v) if k in SHARED_VALUES else v
        else:
            selectors.append(w)
    return attrs, selectors


class Item:
    """One entry of a menu (a firewall rule, a list entry, a DNS name): its words as written.

    An `add` line of plain words (no quotes, brackets or braces: nothing to unescape) keeps only
    its text until a command selects or changes it (`attrs`): most items of a big export are
    read once, by the builder, and a dict per item was a third of the memory of a 200,000-rule
    export."""

    __slots__ = ("_attrs", "menu", "plain", "span")

    def __init__(self, menu: str, attrs: dict[str, str] | None, span: Span, plain: str = ""):
        self.menu = menu
        self.span = span
        self.plain = plain  # the `add ...` line, when its parameters are read from it on demand
        self._attrs = attrs

    @property
    def attrs(self) -> dict[str, str]:
        """The parameters, kept from now on: the caller may change them."""
        if self._attrs is None:
            self._attrs = self.read()
            self.plain = ""  # may change from now on: the text no longer says what the item is
        return self._attrs

    def read(self) -> dict[str, str]:
        """The parameters, for reading only (a plain item's are not kept)."""
        if self._attrs is not None:
            return self._attrs
        return parameters(self.plain.replace("\t", " ").split(" ")[1:])[0]

    @property
    def disabled(self) -> bool:
        return is_disabled(self.read())


def is_disabled(attrs: dict[str, str]) -> bool:
    return attrs.get("disabled", "no").lower() in ("yes", "true")


@dataclass
class Script:
    """A scheduler's on-event commands, applied to a copy of the configuration."""

    name: str
    span: Span
    lines: list[tuple[str, Span]]
    when: str


Net = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
# A network as integers: (version, first address, prefix length). An `ipaddress` network per
# rule cost ~190 B and a third of the parse time of a 200,000-rule export; the networks are
# built only for the words of a finding or an audience (Addr.networks).
Cidr = tuple[int, int, int]


def cidr_of(net: Net) -> Cidr:
    return net.version, int(net.network_address), net.prefixlen


@dataclass(slots=True)
class Addr:
    """`dst-address`/`src-address`: networks and ranges, maybe negated."""

    nets: tuple[Cidr, ...] = ()
    ranges: tuple[tuple[int, int, int], ...] = ()
    neg: bool = False

    def networks(self) -> tuple[Net, ...]:
        return tuple(
            ipaddress.IPv4Network((first, plen)) if v == 4 else ipaddress.IPv6Network((first, plen))
            for v, first, plen in self.nets
        )

    def has(self, addr) -> bool:
        a, version = int(addr), addr.version
        bits = addr.max_prefixlen
        return any(
            v == version and a >> (bits - plen) == first >> (bits - plen) for v, first, plen in self.nets
        ) or any(v == version and lo <= a <= hi for v, lo, hi in self.ranges)

    def overlaps(self, net: Net) -> bool:
        """Does one of the networks (ranges aside) overlap `net`?"""
        bits = net.max_prefixlen
        lo = int(net.network_address)
        hi = lo + (1 << (bits - net.prefixlen)) - 1
        return any(
            v == net.version and first <= hi and lo <= first + (1 << (bits - plen)) - 1
            for v, first, plen in self.nets
        )

    @property
    def key(self) -> tuple:
        """Hashable and equal exactly when the Addrs are equal."""
        return self.nets, self.ranges, self.neg


class NetIndex:
    """Items (numbered in order) that hold addresses, indexed by their networks: which items
    may hold an address costs one look-up per prefix length in use, not a scan. Ranges are
    kept aside and scanned.

    IPv4 networks are kept as sorted 64-bit words (first address, item), looked up by
    bisection: 8 bytes an entry, where a dict of lists took ~130 (two indexes over a
    200,000-rule export)."""

    __slots__ = ("by_prefix", "ranges", "v4", "v4_sorted")

    def __init__(self) -> None:
        self.v4: dict[int, array[int]] = {}  # prefix length -> (first << 32 | item), sorted on use
        self.v4_sorted = True
        self.by_prefix: dict[tuple[int, int], dict[int, list[int]]] = {}  # IPv6, and items past 2**32
        self.ranges: list[tuple[int, int, int, int]] = []  # (item, version, lo, hi)

    def add(self, item: int, spec: Addr) -> None:
        self.v4_sorted = False
        for v, first, plen in spec.nets:
            if v == 4 and item < 1 << 32:
                words = self.v4.get(plen)
                if words is None:
                    words = self.v4[plen] = array("Q")
                words.append(first << 32 | item)
                continue
            entries = self.by_prefix.get((v, plen))
            if entries is None:
                entries = self.by_prefix[(v, plen)] = {}
            hit = entries.get(first)
            if hit is None:
                entries[first] = [item]
            else:
                hit.append(item)
        for v, lo, hi in spec.ranges:
            self.ranges.append((item, v, lo, hi))

    def with_prefix(self, plen: int) -> list[int]:
        """The items with a network of this prefix length, in order."""
        out = {word & 0xFFFFFFFF for word in self.v4.get(plen, ())}
        for (_v, length), entries in self.by_prefix.items():
            if length == plen:
                out.update(item for items in entries.values() for item in items)
        return sorted(out)

    def holding(self, addr) -> set[int]:
        """The items with a network or range holding `addr` (as Addr.has says, `!` aside)."""
        out: set[int] = set()
        value, bits, version = int(addr), addr.max_prefixlen, addr.version
        if version == 4 and self.v4:
            if not self.v4_sorted:
                for plen, words in self.v4.items():
                    self.v4[plen] = array("Q", sorted(words))  # timsort: one pass when in order
                self.v4_sorted = True
            for plen, words in self.v4.items():
                first = value >> (32 - plen) << (32 - plen) if plen else 0
                k = bisect_left(words, first << 32)
                while k < len(words) and words[k] >> 32 == first:
                    out.add(words[k] & 0xFFFFFFFF)
                    k += 1
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
    _index: tuple[int, NetIndex] | None = field(default=None, repr=False, compare=False)

    def first(self, addr) -> Span | None:
        """The first entry holding `addr` (as a scan of `entries` in order finds it)."""
        if len(self.entries) < 16:
            return next((span for e, span in self.entries if e.has(addr)), None)
        if self._index is None or self._index[0] != len(self.entries):
            index = NetIndex()
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
    nat_to: str = ""  # dstnat rules: where dst-nat/redirect sends the connection
    routing_mark: str = ""  # mangle mark-routing rules: the routing table they select
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


class DstRule:
    """A filter or raw rule whose only condition is one IPv4 `dst-address` network, or none:
    the shape of nearly every rule of a big block list. It reads as the `Rule` the general
    reader builds from the same line (every other field at its default, as class attributes):
    7 slots where a Rule has 37 (~90 B where a Rule takes ~290)."""

    __slots__ = ("action", "chain", "dst", "family", "how", "span", "table")

    jump: str = ""
    nat_to: str = ""
    routing_mark: str = ""
    add_list: str = ""
    protocol: tuple[frozenset[str], bool] | None = None
    src: Addr | None = None
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

    def __init__(
        self, span: Span, family: int, table: str, chain: str, action: str, how: str, dst: Addr | None
    ):
        self.span = span
        self.family = family
        self.table = table
        self.chain = chain
        self.action = action
        self.how = how
        self.dst = dst

    @property
    def specific(self) -> bool:
        return self.dst is not None and not self.dst.neg


# A rule of a chain: the general one, or the compact one most rules of a big export are.
ChainRule = Rule | DstRule


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

    rules: dict[tuple[int, str], dict[str, list[ChainRule]]] = field(default_factory=dict)
    lists: dict[tuple[int, str], AddressList] = field(default_factory=dict)
    l7: dict[str, tuple[BoundedPattern | None, Span]] = field(default_factory=dict)
    dns: list[DnsEntry] = field(default_factory=list)
    dns_remote: bool | None = None  # allow-remote-requests, when the file says
    proxy: list[ProxyRule] = field(default_factory=list)
    proxy_redirect: Span | None = None
    iface_lists: dict[str, set[str]] = field(default_factory=dict)
    srcnat: bool = False
    # `/ip firewall nat` chain=dstnat rules (dst-nat, redirect, netmap, accept), in order.
    dstnat: list[Rule] = field(default_factory=list)
    # `/ip firewall mangle` chain=prerouting mark-routing and accept rules, in order, and the
    # routes of each routing table but main (`/ip route ... routing-table=`), by table.
    mangle: list[Rule] = field(default_factory=list)
    routes: dict[str, list[Span]] = field(default_factory=dict)
    # Built on first use by the evaluation: per-chain destination indexes, the signature index.
    indexes: dict = field(default_factory=dict, repr=False, compare=False)

    def chain(self, family: int, table: str, name: str) -> list[ChainRule]:
        return self.rules.get((family, table), {}).get(name, [])


def reachable(cfg: Config, family: int) -> list[ChainRule]:
    """Rules a user's packets can meet: raw prerouting, filter forward and their jumps."""
    out: list[ChainRule] = []
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


def is_tcp(protocols: frozenset[str]) -> bool:
    return bool(protocols & {"tcp", "6"})
