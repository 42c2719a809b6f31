"""A connection crossing several Cisco filters in turn: an interface's inbound ACL, its QoS
policy, the zone pair, the outbound ACL of the interface it leaves by, and the same for the
server's replies. Each must let it pass, so the first stage that drops it blocks it, whatever
the others say; otherwise a stage that cannot be decided leaves it unknown; otherwise a
policer or shaper on the way throttles it.
"""

from __future__ import annotations

from collections.abc import Iterable

from policy_lint.model import Decision, Outcome


def combine(stages: Iterable[Decision]) -> Decision:
    seen = list(stages)
    trace = tuple(dict.fromkeys(s for d in seen for s in (*d.trace, *((d.rule,) if d.rule else ()))))
    for outcome in (Outcome.DENY, Outcome.UNKNOWN, Outcome.THROTTLE):
        hit = next((d for d in seen if d.outcome == outcome), None)
        if hit is not None:
            return Decision(
                hit.outcome, hit.rule, trace, hit.specific, hit.how, hit.note, hit.scope, hit.partial
            )
    allowed = [d for d in seen if d.rule is not None]
    best = next((d for d in allowed if d.specific), allowed[-1] if allowed else None)
    if best is None:
        return Decision(Outcome.ALLOW, None, trace)
    return Decision(Outcome.ALLOW, best.rule, trace, best.specific, best.how, best.note, best.scope)
