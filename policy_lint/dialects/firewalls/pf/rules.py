"""The ruleset's rules in order, the common one-line blocks kept as rows of integers.

A 200,000-rule pf.conf is mostly one shape of line, `block [drop|return] [in|out] [log]
[quick] [on IF] [inet|inet6] [proto P] to a.b.c.d[/n]` (fastline.py reads it). Each such line
is a row here: its place in the ruleset, its shape (everything of its rule but the network and
the line, shared by the rows written alike), its line number and its IPv4 network as integers,
indexed by network. It becomes a Rule, equal to the one the full parser builds from the line,
only when an evaluation reaches it (a rule that may hold a sampled address), and stays that
same object afterwards. Every other statement is a Rule from the start (`full`).
"""

from __future__ import annotations

import ipaddress
import operator
from array import array
from bisect import bisect_left
from dataclasses import dataclass, field
from itertools import islice

from policy_lint.dialects.firewalls.pf.model import HostItem, Rule
from policy_lint.model import Span


@dataclass(frozen=True)
class RowShape:
    """What a row shares with the rows written alike: the file (its lines give a row's text),
    the anchor, and every field of the rule but its destination."""

    shown: str
    lines: list[str] = field(compare=False, repr=False)
    anchor: str
    how: str
    direction: str | None
    quick: bool
    interfaces: tuple[str, ...]
    family: int | None
    protos: tuple[str, ...]


class RuleList:
    """Rules by position (`rules[k]`, `len(rules)`), rows built into Rules on first access."""

    __slots__ = (
        "_built",
        "_index",
        "_items",
        "_row_line",
        "_row_plen",
        "_row_pos",
        "_row_shape",
        "_row_value",
        "full",
        "shapes",
    )

    def __init__(self) -> None:
        self.full: list[Rule] = []  # the rules parsed in full, in ruleset order
        self.shapes: list[RowShape] = []
        self._items: list[Rule | None] = []  # None: a row not built yet
        self._row_pos = array("I")
        self._row_shape = array("I")
        self._row_line = array("I")
        self._row_value = array("I")
        self._row_plen = bytearray()
        self._index: list[tuple[int, array[int], array[int]]] | None = None
        self._built: dict[Span, Rule] = {}  # the rows built so far, by span

    def append(self, rule: Rule) -> None:
        rule.position = len(self._items)
        self._items.append(rule)
        self.full.append(rule)

    def add_shape(self, shape: RowShape) -> int:
        self.shapes.append(shape)
        return len(self.shapes) - 1

    def append_row(self, shape: int, line: int, value: int, plen: int) -> None:
        """A row of `shape` at `line` whose destination is the IPv4 network value/plen (host
        bits zero)."""
        self._row_pos.append(len(self._items))
        self._items.append(None)
        self._row_shape.append(shape)
        self._row_line.append(line)
        self._row_value.append(value)
        self._row_plen.append(plen)
        self._index = None

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, position: int) -> Rule:
        rule = self._items[position]
        if rule is None:
            rule = self._items[position] = self._build(bisect_left(self._row_pos, position))
            self._built[rule.span] = rule
        return rule

    def built_row(self, span: Span) -> Rule | None:
        """The row at `span`, if it was built (only a built row can have decided anything)."""
        return self._built.get(span)

    def rows(self) -> int:
        return len(self._row_pos)

    def row_positions(self, value: int) -> list[int]:
        """Positions of the rows whose network holds the IPv4 address `value`."""
        out: list[int] = []
        for plen, values, positions in self._indexed():
            key = value >> (32 - plen) << (32 - plen) if plen else 0
            j = bisect_left(values, key)
            while j < len(values) and values[j] == key:
                out.append(positions[j])
                j += 1
        return out

    def _build(self, row: int) -> Rule:
        shape = self.shapes[self._row_shape[row]]
        n = self._row_line[row]
        raw = shape.lines[n - 1]  # a whole statement, without comment or continuation
        span = Span(shape.shown, n, len(raw) - len(raw.lstrip()) + 1, " ".join(raw.split()))
        net = ipaddress.IPv4Network((self._row_value[row], self._row_plen[row]))
        return Rule(
            "block",
            span,
            direction=shape.direction,
            quick=shape.quick,
            interfaces=shape.interfaces,
            family=shape.family,
            protos=shape.protos,
            dst=(HostItem("net", (net,)),),
            how=shape.how,
            anchor=shape.anchor,
            position=self._row_pos[row],
        )

    def _indexed(self) -> list[tuple[int, array[int], array[int]]]:
        """Per prefix length: the rows' networks ascending, with their positions (ruleset order
        among equal networks); built on first use."""
        if self._index is None:
            groups: dict[int, tuple[array[int], array[int]]] = {}
            for plen, value, position in zip(self._row_plen, self._row_value, self._row_pos, strict=True):
                group = groups.get(plen)
                if group is None:
                    group = groups[plen] = (array("I"), array("I"))
                group[0].append(value)
                group[1].append(position)
            self._index = [(plen, *_ascending(*groups[plen])) for plen in sorted(groups)]
        return self._index


def _ascending(values: array[int], positions: array[int]) -> tuple[array[int], array[int]]:
    """`values` sorted ascending with their `positions` (a stable sort: ruleset order kept)."""
    if all(map(operator.le, values, islice(values, 1, None))):
        return values, positions  # written in order already
    order = sorted(range(len(values)), key=values.__getitem__)
    return array("I", (values[k] for k in order)), array("I", (positions[k] for k in order))
