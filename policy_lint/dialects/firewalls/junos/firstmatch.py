"""Three-valued first match, shared by the policy and the filter walks: an entry whose match
cannot be told is passed over and what it would have done is kept; the certain answer reached
later stands only when every entry passed over would have given the same, else it is unknown,
naming the first one that might differ."""

from __future__ import annotations

from dataclasses import dataclass, field

from policy_lint.model import Decision, Outcome

Tri = bool | None


@dataclass
class Step:
    """A three-valued first match in progress: the results of entries passed over."""

    passed: list[Decision] = field(default_factory=list)

    def settle(self, final: Decision) -> Decision:
        if final.outcome == Outcome.UNKNOWN or all(same(d, final) for d in self.passed):
            return final
        first = next(d for d in self.passed if not same(d, final))
        line = first.rule.line if first.rule else "?"
        return Decision(
            Outcome.UNKNOWN,
            first.rule,
            first.trace,
            first.specific,
            note=f"line {line} may match ({first.note or 'not evaluated'}) before "
            + (f"line {final.rule.line}" if final.rule else "the default"),
        )


def same(a: Decision, b: Decision) -> bool:
    return a.outcome == b.outcome and a.partial == b.partial


def all3(values: list[Tri]) -> Tri:
    if any(v is False for v in values):
        return False
    return None if any(v is None for v in values) else True
