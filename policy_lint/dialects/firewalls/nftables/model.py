"""The rule model both halves share: tables of chains and named sets, rules of matches and a
verdict (or a verdict map), and the values a match compares with."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple, TypeVar

from policy_lint.dialects.semantics.setfills import SetFill
from policy_lint.model import Span

T = TypeVar("T")


class PlainNet(NamedTuple):
    """An IPv4 network written `a.b.c.d[/n]` (addressing.plain_ipv4_bounds): what
    `ipaddress.ip_network(text, strict=False)` gives, as the two integers evaluation reads. A
    200,000-rule file has one per rule; an `IPv4Network` with its address object (and, for a
    /32, a `hosts` closure) is five times the size and a cycle-collector walk each."""

    value: int  # the network address
    prefixlen: int

    @property
    def version(self) -> int:
        return 4

    @property
    def max_prefixlen(self) -> int:
        return 32

    @property
    def network_address(self) -> ipaddress.IPv4Address:
        return ipaddress.IPv4Address(self.value)

    def __contains__(self, addr: object) -> bool:
        """An address in the network, as `addr in IPv4Network` says."""
        if not isinstance(addr, ipaddress.IPv4Address):
            return False
        return (int(addr) ^ self.value) >> (32 - self.prefixlen) == 0

    def __str__(self) -> str:
        return f"{ipaddress.IPv4Address(self.value)}/{self.prefixlen}"

    def __repr__(self) -> str:
        # IPv4Network's: elements are told apart by repr (`delete element`), whichever way the
        # same network was spelt.
        return f"IPv4Network('{self}')"


Net = ipaddress.IPv4Network | ipaddress.IPv6Network | PlainNet


def grown(items: list[T] | tuple[T, ...], more: Iterable[T]) -> list[T]:
    """`items` with `more` added: in place when it is a list already, else a new list (from the
    shared empty tuple most values hold for the kinds of element they lack, or a rule line's
    one network)."""
    if isinstance(items, list):
        items.extend(more)
        return items
    return [*items, *more]


@dataclass(slots=True)
class Values:
    """The right-hand side of a match: literal elements or a named set. A kind of element a
    value lacks is the shared `()` (a 200,000-rule chain's matches hold one network each), a
    list once it has some: add through `grown`."""

    nets: list[Net] | tuple[Net, ...] = ()
    ranges: list[tuple[int, int, int]] | tuple[()] = ()  # (version, lo, hi)
    ports: list[tuple[int, int]] | tuple[()] = ()
    words: list[str] | tuple[()] = ()  # interface names, states, protocols
    setref: str = ""
    unknown: str = ""  # a hostname outside the catalog, a value we cannot read

    def merge(self, other: Values) -> None:
        """Add `other`'s elements (the first unknown stays the reason)."""
        if other.nets:
            self.nets = grown(self.nets, other.nets)
        if other.ranges:
            self.ranges = grown(self.ranges, other.ranges)
        if other.ports:
            self.ports = grown(self.ports, other.ports)
        if other.words:
            self.words = grown(self.words, other.words)
        self.unknown = self.unknown or other.unknown


@dataclass(slots=True)
class Match:
    kind: str  # addr | port | proto | ct | iface | nfproto | never | unknown | concat | synflag
    neg: bool = False
    values: Values = field(default_factory=Values)
    direction: str = ""  # src | dst | in | out
    family: int | None = None
    proto: str = ""  # for ports: tcp | udp | th | ...
    why: str = ""


@dataclass(slots=True)
class VerdictMap:
    key: Match
    entries: list[tuple[Values, str, str]] = field(default_factory=list)  # (element, verdict, target)
    setref: str = ""


@dataclass(slots=True)
class Rule:
    span: Span
    matches: list[Match] = field(default_factory=list)
    verdict: str = ""  # accept | drop | reject | jump | goto | return | continue | queue | ""
    target: str = ""
    vmap: VerdictMap | None = None
    fills: tuple[str, ...] = ()  # sets this rule adds elements to
    nat: tuple[str, str] | None = None  # (dnat | redirect | tproxy, where: "10.0.0.1:8080", ":3128")


@dataclass
class Chain:
    name: str
    span: Span
    rules: list[Rule] = field(default_factory=list)
    type: str = ""
    hook: str = ""
    priority: int = 0
    policy: str = "accept"
    policy_span: Span | None = None
    order: int = 0

    @property
    def base(self) -> bool:
        return bool(self.hook)


@dataclass
class NamedSet:
    name: str
    span: Span
    is_map: bool = False
    elements: list[tuple[Values, str, str, Span]] = field(
        default_factory=list
    )  # (value, verdict, target, span)
    dynamic: bool = False
    datatype: str = ""
    # Filled by a DNS forwarder with the addresses of these names (dnsmasq nftset=): see
    # semantics/setfills.
    filled: list[SetFill] = field(default_factory=list)


@dataclass
class Table:
    family: str
    name: str
    span: Span
    chains: dict[str, Chain] = field(default_factory=dict)
    sets: dict[str, NamedSet] = field(default_factory=dict)
    dormant: bool = False


@dataclass
class Fragment:
    """Part of a ruleset loaded with another file (nft -f): `add element inet filter social { .. }`
    for a table this file does not declare, or `set NAME { ... }` written to be included inside a
    `table { }` block. What it does depends on the ruleset that declares the table and uses the
    set; alone it decides nothing (TE903, verdicts unknown)."""

    kind: str  # element (elements for a table declared elsewhere) | body (a table's statements)
    family: str  # "" for a table body: the including table says
    table: str
    name: str  # the set (map, chain) the statement is about
    span: Span
    elements: list[tuple[Values, str, str, Span]] = field(default_factory=list)
