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
from policy_lint.dialects.firewalls.junos.tree import TOP_LEVEL, Tree
from policy_lint.model import Problem, Span

COMMAND = re.compile(r"^\s*(set|delete|deactivate|activate|insert)\s", re.M)
VERBS = ("set", "delete", "deactivate", "activate", "insert")


# Containers whose statements a `set` command may chain on one line (`match source-address any
# destination-address any application any`): each key starts a statement of its own.
CHAINED = {
    ("policy", "match"): {
        "source-address",
        "destination-address",
        "application",
        "dynamic-application",
        "url-category",
        "source-identity",
        "source-address-excluded",
        "destination-address-excluded",
        "from-zone",
        "to-zone",
        "source-end-user-profile",
    },
    ("term", "from"): {
        "source-address",
        "destination-address",
        "address",
        "source-prefix-list",
        "destination-prefix-list",
        "prefix-list",
        "protocol",
        "destination-port",
        "source-port",
        "port",
        "dscp",
        "tcp-flags",
        "tcp-established",
        "tcp-initial",
        "icmp-type",
        "is-fragment",
        "fragment-flags",
        "packet-length",
        "interface",
        "precedence",
    },
}


# Keys of a chained statement that take no value.
FLAGS = {
    "tcp-established",
    "tcp-initial",
    "is-fragment",
    "source-address-excluded",
    "destination-address-excluded",
}


def split(words: list[str]) -> list[list[str]]:
    """One `set` command as the statements it makes: a chain of match or from keys (CHAINED)
    gives one statement per value (`except` stays with its prefix); a `[ a b ]` list elsewhere
    gives one statement per element, as the curly form's lists do."""
    for k in range(2, len(words)):
        keys = CHAINED.get((words[k - 2], words[k]))
        if keys is None or k + 1 >= len(words) or words[k + 1] not in keys:
            continue
        head, out, key = words[: k + 1], list[list[str]](), ""
        for w in words[k + 1 :]:
            if w in ("[", "]"):
                continue
            if w in keys:
                key = w
                if w in FLAGS:
                    out.append([*head, w])
            elif w == "except" and out:
                out[-1].append(w)
            elif key:
                out.append([*head, key, w])
        return out
    if "[" in words:
        at = words.index("[")
        end = words.index("]", at) if "]" in words[at:] else len(words)
        return [[*words[:at], item] for item in words[at + 1 : end]] or [words[:at]]
    return [words]


def read(tree: Tree, lines: list[str]) -> None:
    for n, line in enumerate(lines, start=1):
        try:
            words = [t.text for t in tokens([line], n)]
        except LexError as exc:
            tree.syntax_error(n, str(exc))
            continue
        if not words:
            continue
        tree.statements += 1
        span = Span(tree.path, n, len(line) - len(line.lstrip()) + 1, line.strip())
        verb, rest = words[0], words[1:]
        paths = split(rest) if verb == "set" else [[w for w in rest if w not in ("[", "]")]]
        if any(len(path) > 64 for path in paths):
            # A statement that deep is no configuration (the tree's walks recurse per level).
            tree.syntax_error(n, "a statement more than 64 words deep")
            continue
        if verb not in VERBS or not rest:
            tree.problems.append(Problem("TE908", span, f"{verb}: not a configuration statement read here"))
            continue
        if rest[0] in TOP_LEVEL:
            tree.understood += 1
        if verb == "set":
            for path in paths:
                tree.add(path, span)
            continue
        rest = [w for w in rest if w not in ("[", "]")]
        if verb == "delete":
            tree.delete(rest, span)
        elif verb in ("deactivate", "activate"):
            tree.mark(rest, span, verb == "deactivate")
        else:  # insert PATH... NAME before|after KIND OTHER
            if len(rest) < 4 or rest[-3] not in ("before", "after"):
                tree.problems.append(Problem("TE901", span, "insert: expected '... before|after KIND NAME'"))
                continue
            tree.insert(rest[:-3], rest[-3], rest[-1], span)
