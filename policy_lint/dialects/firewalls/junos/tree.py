"""The one configuration tree both Junos forms build: every word of a statement is a level.

    security { policies { from-zone trust to-zone untrust { policy p1 { then deny; } } } }
    set security policies from-zone trust to-zone untrust policy p1 then deny

both give security > policies > from-zone > trust > to-zone > untrust > policy > p1 > then > deny,
and `source-address [ a b ];` gives two children of `source-address`, as two `set` lines do.
Children keep the order the configuration gave them (first mention), which is the order Junos
evaluates policies and filter terms in; `insert ... before|after ...` reorders them.

A node is inactive when its statement carried `inactive:` or a `deactivate` named it: the device
ignores it and everything below it. `delete` removes a node; `activate` clears the mark.
`groups` and `apply-groups` are merged as Junos does (a group's statements are inherited where the
group is applied, the local statements win, group order decides); a group path with a `<...>`
wildcard is not modelled (TE908).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from policy_lint.model import Problem, Span


@dataclass
class Node:
    word: str
    span: Span | None = None
    children: dict[str, Node] = field(default_factory=dict)
    inactive: bool = False
    inherited: str = ""  # the group this node came from ("" = written here)

    def child(self, *words: str) -> Node | None:
        """The active node at `words` below this one, if any."""
        node: Node | None = self
        for w in words:
            if node is None:
                return None
            node = node.children.get(w)
            if node is not None and node.inactive:
                return None
        return node

    def active(self) -> Iterator[Node]:
        for c in self.children.values():
            if not c.inactive:
                yield c

    def under(self, *words: str) -> list[Node]:
        """The active children of the node at `words` (none when it is absent or inactive)."""
        node = self.child(*words)
        return list(node.active()) if node is not None else []

    def names(self, *words: str) -> list[str]:
        """The active child words at `words` (the values of a leaf, the names of a list)."""
        node = self.child(*words)
        return [c.word for c in node.active()] if node is not None else []

    def value(self, *words: str) -> str | None:
        vals = self.names(*words)
        return vals[0] if vals else None

    def has(self, *words: str) -> bool:
        return self.child(*words) is not None


# The top-level hierarchies of a Junos configuration: a statement under one of them is one this
# dialect understood (counted for the engine's "nothing of the file was read" judgement).
TOP_LEVEL = frozenset(
    {
        "version", "system", "chassis", "services", "security", "interfaces", "snmp", "forwarding-options",
        "routing-options", "protocols", "policy-options", "class-of-service", "firewall", "routing-instances",
        "applications", "vlans", "groups", "apply-groups", "access", "poe", "event-options", "logical-systems",
        "switch-options", "ethernet-switching-options", "bridge-domains", "virtual-chassis", "tenants",
        "multi-chassis", "schedulers", "dynamic-profiles", "accounting-options", "access-profile", "wlan",
        "utility-mib", "smtp", "chassis-cluster", "fabric", "ipv6-neighbor-discovery",
    }
)  # fmt: skip


# The hierarchies whose statements decide what the device lets through.
FILTERING = frozenset(
    {"security", "firewall", "interfaces", "routing-options", "applications", "policy-options"}
)


class Tree:
    """The configuration being built, statement by statement."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.root = Node("")
        self.problems: list[Problem] = []
        self.statements = 0
        self.understood = 0
        # The first syntax error (the device refuses to load such a file): every verdict unknown.
        self.broken: Problem | None = None
        # An applied group the tree cannot expand into the filtering hierarchies: every verdict unknown.
        self.unsure: Problem | None = None

    def syntax_error(self, line: int, message: str) -> None:
        problem = Problem("TE901", Span(self.path, line, 1), message)
        self.problems.append(problem)
        self.broken = self.broken or problem

    def add(self, words: list[str], span: Span, inactive: bool = False) -> None:
        """`set words...` (or a curly statement at that path); `inactive` marks its last word."""
        node = self.root
        for w in words:
            nxt = node.children.get(w)
            if nxt is None:
                nxt = node.children[w] = Node(w, span)
            node = nxt
        if inactive:
            node.inactive = True

    def find(self, words: list[str]) -> tuple[Node, Node] | None:
        """(parent, node) at `words`, inactive or not."""
        parent = self.root
        for w in words[:-1]:
            nxt = parent.children.get(w)
            if nxt is None:
                return None
            parent = nxt
        node = parent.children.get(words[-1]) if words else None
        return (parent, node) if node is not None else None

    def delete(self, words: list[str], span: Span) -> None:
        hit = self.find(words)
        if hit is not None:
            del hit[0].children[words[-1]]

    def mark(self, words: list[str], span: Span, inactive: bool) -> None:
        hit = self.find(words)
        if hit is None:
            # The device refuses to (de)activate what does not exist.
            self.problems.append(Problem("TE901", span, f"{' '.join(words)}: statement not found"))
            return
        hit[1].inactive = inactive

    def insert(self, words: list[str], where: str, other: str, span: Span) -> None:
        """`insert A... NAME before|after KIND OTHER`: move NAME next to OTHER among its siblings."""
        hit = self.find(words)
        if hit is None or where not in ("before", "after") or other not in hit[0].children:
            self.problems.append(
                Problem("TE901", span, f"insert: {' '.join(words)} {where} {other}: not found")
            )
            return
        parent, node = hit
        items = [(k, v) for k, v in parent.children.items() if k != node.word]
        at = next(i for i, (k, _v) in enumerate(items) if k == other) + (where == "after")
        items.insert(at, (node.word, node))
        parent.children = dict(items)

    def apply_groups(self) -> None:
        """Merge `groups` into the places that apply them, then drop `groups` (module docstring)."""
        groups = self.root.children.get("groups")
        if groups is None:
            return
        self._apply(self.root, [], groups)
        del self.root.children["groups"]

    def _apply(self, node: Node, path: list[str], groups: Node) -> None:
        applied = node.child("apply-groups")
        if applied is not None:
            for g in applied.active():
                group = groups.children.get(g.word)
                if group is None or group.inactive:
                    self.problems.append(
                        Problem(
                            "TE901", g.span or Span(self.path, 1), f"apply-groups {g.word}: no such group"
                        )
                    )
                    continue
                source = group.child(*path) if path else group
                if source is None:
                    continue
                if _has_wildcard(source):
                    # `<*>` and `<ge-*>` match statements by pattern; not expanded here. What such
                    # a group sets in the filtering hierarchies could decide anything: unknown.
                    problem = Problem(
                        "TE908",
                        g.span or Span(self.path, 1),
                        f"apply-groups {g.word}: its <...> wildcards are not expanded, so what it sets is not evaluated",
                    )
                    self.problems.append(problem)
                    if any(w in source.children for w in FILTERING) or set(path) & FILTERING:
                        self.unsure = self.unsure or problem
                    continue
                _merge(node, source, g.word)
        for word, child in list(node.children.items()):
            if word not in ("apply-groups", "apply-groups-except", "groups") and not child.inactive:
                self._apply(child, [*path, word], groups)


def _merge(into: Node, source: Node, group: str) -> None:
    for word, child in source.children.items():
        if word in ("apply-groups", "apply-groups-except") or child.inactive:
            continue
        mine = into.children.get(word)
        if mine is None:
            mine = into.children[word] = Node(word, child.span, inherited=group)
        _merge(mine, child, group)


def _has_wildcard(node: Node) -> bool:
    return any(w.startswith("<") or _has_wildcard(c) for w, c in node.children.items())
