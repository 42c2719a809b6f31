"""pf tables (`table <name> { ... } file "..."`): their networks kept as integers, looked up the
way pf's radix table decides (the longest prefix holding the address), and an entry's line made
into a Span only when a decision's trace names it.

A 200,000-line table file was 200,000 `ipaddress` networks, tuples and Spans (about 150 MB);
here it is a few arrays of integers and the file's text as one string (about 10 MB).
"""

from __future__ import annotations

import ipaddress
import operator
from array import array
from bisect import bisect_left
from collections.abc import MutableSequence, Sequence
from dataclasses import dataclass, field
from itertools import accumulate, islice

from policy_lint.dialects.firewalls.pf.model import strip_comment
from policy_lint.model import Span

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# (family, prefix length, network addresses ascending, the entry of each): longest prefixes first
Group = tuple[int, int, Sequence[int], Sequence[int]]


class SourceLines:
    """A file's lines as one string and where each starts: the text of line n on demand,
    without a string object per line."""

    __slots__ = ("_starts", "_text", "shown")

    def __init__(self, shown: str, lines: list[str]):
        self.shown = shown
        self._text = "\n".join(lines)
        self._starts = array("L", accumulate((len(line) + 1 for line in lines), initial=0))

    def line(self, n: int) -> str:
        """Line `n` (1-based), as read_source gave it."""
        return self._text[self._starts[n - 1] : self._starts[n] - 1]


class TableEntries:
    """A table's entries in the order they were read: each a network (family, integer address,
    prefix length), negated or not, and where it was written (the table statement, or a line of
    a table file)."""

    __slots__ = ("_groups", "_index", "_line", "_negated", "_origin", "_origins")

    def __init__(self) -> None:
        # (family, prefix length) -> (network addresses, entry numbers), in the order read
        self._groups: dict[tuple[int, int], tuple[MutableSequence[int], array[int]]] = {}
        self._negated = bytearray()
        self._origin = array("I")
        self._line = array("I")
        self._origins: list[Span | SourceLines] = []
        self._index: dict[int, list[Group]] | None = None

    def origin(self, where: Span | SourceLines) -> int:
        """A number for `where` the entries read there are added with."""
        self._origins.append(where)
        return len(self._origins) - 1

    def add(self, version: int, value: int, plen: int, negated: bool, origin: int, line: int = 0) -> None:
        """One entry: `value` is the network address (host bits zero); `line` its line in a
        table file (origin a SourceLines), else 0."""
        group = self._groups.get((version, plen))
        if group is None:
            group = self._groups[(version, plen)] = (array("I") if version == 4 else [], array("I"))
        group[0].append(value)
        group[1].append(len(self._negated))
        self._negated.append(negated)
        self._origin.append(origin)
        self._line.append(line)
        self._index = None

    def add_network(self, net: IPNetwork, negated: bool, origin: int, line: int = 0) -> None:
        self.add(net.version, int(net.network_address), net.prefixlen, negated, origin, line)

    def __len__(self) -> int:
        return len(self._negated)

    def negated(self, entry: int) -> bool:
        return bool(self._negated[entry])

    def span(self, entry: int) -> Span:
        """Where `entry` was written: the table statement, or its line of the table file (the
        line's text without its comment, as the trace shows it)."""
        where = self._origins[self._origin[entry]]
        if isinstance(where, Span):
            return where
        n = self._line[entry]
        return Span(where.shown, n, 1, strip_comment(where.line(n)).strip())

    def lookup(self, address: IPAddress) -> int | None:
        """The longest-prefix entry holding `address`, as pf's radix table decides (the first
        one read of equal networks); None when no entry holds it. At most one binary search
        per prefix length the table uses."""
        bits = address.max_prefixlen
        value = int(address)
        for _version, plen, values, entries in self._indexed().get(address.version, ()):
            key = value >> (bits - plen) << (bits - plen) if plen else 0
            j = bisect_left(values, key)
            if j < len(values) and values[j] == key:
                return entries[j]
        return None

    def overlaps(self, net: IPNetwork) -> bool:
        """Whether any entry (negated or not) shares an address with `net`: an entry at least
        as wide holds it, or a narrower one lies inside it."""
        bits = net.max_prefixlen
        lo = int(net.network_address)
        hi = lo + (1 << (bits - net.prefixlen)) - 1
        for _version, plen, values, _entries in self._indexed().get(net.version, ()):
            if plen <= net.prefixlen:
                key = lo >> (bits - plen) << (bits - plen) if plen else 0
                j = bisect_left(values, key)
                if j < len(values) and values[j] == key:
                    return True
            else:
                j = bisect_left(values, lo)
                if j < len(values) and values[j] <= hi:
                    return True
        return False

    def _indexed(self) -> dict[int, list[Group]]:
        """Per family, the groups longest prefix first, each sorted by address with the first
        entry read of each network (built on first use)."""
        if self._index is None:
            index: dict[int, list[Group]] = {}
            for (version, plen), (values, entries) in sorted(self._groups.items(), key=lambda kv: -kv[0][1]):
                index.setdefault(version, []).append((version, plen, *_first_of_each(values, entries)))
            self._index = index
        return self._index


def _first_of_each(values: MutableSequence[int], entries: array[int]) -> tuple[Sequence[int], Sequence[int]]:
    """`values` sorted ascending without repeats, each with the first of its `entries`."""
    n = len(values)
    if all(map(operator.lt, values, islice(values, 1, None))):
        return values, entries  # read in order already (a sorted list file): nothing to do
    order = sorted(range(n), key=values.__getitem__)  # stable: the first read comes first
    out_values: MutableSequence[int] = array("I") if isinstance(values, array) else []
    out_entries = array("I")
    for k in order:
        if out_values and out_values[-1] == values[k]:
            continue
        out_values.append(values[k])
        out_entries.append(entries[k])
    return out_values, out_entries


@dataclass
class Table:
    name: str
    span: Span
    entries: TableEntries = field(default_factory=TableEntries)
    complete: bool = True  # False: a file it loads is missing
    missing: str = ""
