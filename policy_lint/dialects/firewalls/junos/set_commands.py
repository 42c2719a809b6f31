"""`set` commands (`show configuration | display set`, a load-set file) into the tree.

    set security policies from-zone trust to-zone untrust policy p1 match application junos-https
    delete security policies from-zone trust to-zone untrust policy p0
    deactivate security policies from-zone trust to-zone untrust policy p1   # ignored by the device
    activate security policies from-zone trust to-zone untrust policy p1
    insert security policies from-zone trust to-zone untrust policy p2 before policy p1

`display set` marks inactive statements with a `deactivate` line after them; `[ a b ]` lists
give one value each. `edit`/`top`/`up` (the configuration mode's navigation) and other commands
are not evaluated: TE908 at their line."""

from __future__ import annotations

import re

from policy_lint.dialects.firewalls.junos.lexer import LexError, tokens
from policy_lint.dialects.firewalls.junos.tree import Tree
from policy_lint.model import Problem, Span

COMMAND = re.compile(r"^\s*(set|delete|deactivate|activate|insert)\s", re.M)
VERBS = ("set", "delete", "deactivate", "activate", "insert")


def read(tree: Tree, lines: list[str]) -> None:
    for n, line in enumerate(lines, start=1):
        try:
            words = [t.text for t in tokens([line], n)]
        except LexError as exc:
            tree.problems.append(Problem("TE901", Span(tree.path, n, 1), str(exc)))
            continue
        if not words:
            continue
        tree.statements += 1
        span = Span(tree.path, n, len(line) - len(line.lstrip()) + 1, line.strip())
        verb, rest = words[0], [w for w in words[1:] if w not in ("[", "]")]
        if verb not in VERBS or not rest:
            tree.problems.append(Problem("TE908", span, f"{verb}: not a configuration statement read here"))
            continue
        tree.understood += 1
        if verb == "set":
            tree.add(rest, span)
        elif verb == "delete":
            tree.delete(rest, span)
        elif verb in ("deactivate", "activate"):
            tree.mark(rest, span, verb == "deactivate")
        else:  # insert PATH... NAME before|after KIND OTHER
            if len(rest) < 4 or rest[-3] not in ("before", "after"):
                tree.problems.append(Problem("TE901", span, "insert: expected '... before|after KIND NAME'"))
                continue
            tree.insert(rest[:-3], rest[-3], rest[-1], span)
