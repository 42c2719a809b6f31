"""pf's rules as the parser builds them and the evaluator reads them."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from policy_lint.dialects.semantics.addressing import Target
from policy_lint.model import Span

NAME = "pf"


# slots: a 200,000-rule pf.conf holds a Rule and a HostItem per line (a __dict__ each, ~40 MB).
@dataclass(frozen=True, slots=True)
class HostItem:
    kind: str  # net | table | any | iface | unknown
    # net: a tuple of ip networks; table: the table's name; iface: the interface word; else None
    value: Any = None
    negated: bool = False


@dataclass(slots=True)
class Rule:
    action: str  # block | pass | match
    span: Span
    direction: str | None = None  # in | out | None (both)
    quick: bool = False
    interfaces: tuple[str, ...] = ()
    iface_negated: bool = False
    family: int | None = None
    protos: tuple[str, ...] = ()
    src: tuple[HostItem, ...] = ()
    dst: tuple[HostItem, ...] = ()
    dports: tuple[tuple[str, int, int], ...] = ()
    how: str = "drop"
    anchor: str = ""  # rules of an anchor: a quick match ends the whole search
    sports: tuple[tuple[str, int, int], ...] = ()
    # Options that decide which packets match and that we do not evaluate ("tagged FB", "prio 3"):
    # the rule's match is unknown (three-valued), never assumed.
    unknown: tuple[str, ...] = ()
    users: tuple[str, ...] = ()  # `user`/`group` values: sockets of this host only
    tagged: tuple[str, bool] | None = None  # (tag, negated)
    tags: tuple[str, ...] = ()  # `tag NAME` set by this rule
    flags: str = ""  # `flags X/Y`
    stateful: bool = True  # pass rules keep state unless `no state`
    redirect: str = ""  # rdr-to / divert-to / old `rdr ... -> X`: where matching connections go
    no_redirect: bool = False  # `no rdr`: an exception to the rdr rules after it
    # `route-to`, `reply-to`, `rtable N` (N != 0): the connection leaves by another path. `dup-to`
    # is not here: pf.conf(5) routes the original packet "as it normally would" and a copy elsewhere.
    route: tuple[str, ...] = ()
    # Its place in the ruleset (RuleList); -1 for a rule outside it (an `rdr` statement).
    position: int = -1


@dataclass
class Packet:
    direction: str
    iface: str | None  # None: the egress interface (out pass)
    src: ipaddress.IPv4Address | ipaddress.IPv6Address | None  # None: the router itself / NAT
    dst: Target
    port: int


def strip_comment(line: str) -> str:
    """`line` up to its first `#` outside double quotes (each `"` toggles quoting)."""
    # Found by str.find rather than a walk over every character: a 200,000-rule pf.conf and
    # its table files are 400,000 lines, most of them without a `#`.
    i = line.find("#")
    while i >= 0:
        if line.count('"', 0, i) % 2 == 0:
            return line[:i]
        i = line.find("#", i + 1)
    return line
