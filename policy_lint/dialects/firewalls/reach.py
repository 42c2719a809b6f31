"""Whom a deciding rule reaches, in the device's words.

A rule's own conditions (`in-interface=ether2`, `on em1`, `from <lan>`) say whom it could apply
to; earlier rules may already have let some of those clients through (`src-address=10.0.0.5
action=accept` above it). Then the rule's own words overstate whom it blocks, and the finding
must name the clients it does reach: the audience's description, which every packet-filter
dialect writes as the conditions that tell its clients apart (in or not in each source address,
list, interface, MAC address or time window the rules use), never a sample address.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace

from policy_lint.model import Audience, Decision


def narrow_scope(
    decision: Decision,
    audience: Audience,
    audiences: Iterable[Audience],
    decide: Callable[[Audience], Decision],
    applies: Callable[[Audience], bool],
) -> Decision:
    """`decision` with its scope narrowed to `audience`'s description when its rule names whom it
    applies to (a non-empty scope) but some other audience it applies to (`applies`) is decided
    by another rule, or by this one otherwise (`decide`: that audience's decision for the same
    request; a rule blocking one client's IPv6 only blocks it partly, not as it blocks others).

    A rule that names nobody (scope "") is left alone: the engine names the audiences it reached.
    """
    if not decision.scope or decision.rule is None or not audience.conditions:
        return decision
    for other in audiences:
        if other.key == audience.key or not applies(other):
            continue
        theirs = decide(other)
        if (theirs.rule, theirs.outcome, theirs.partial) != (
            decision.rule,
            decision.outcome,
            decision.partial,
        ):
            return replace(decision, scope=audience.describe())
    return decision


def either(names: list[str], most: int = 4) -> str:
    """`a, b or c`; past `most` names, the first ones and how many more."""
    if len(names) > most:
        return ", ".join(names[:most]) + f" or {len(names) - most} more"
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " or " + names[-1]
