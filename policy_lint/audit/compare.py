"""Static verdict next to the traffic verdict, per audience and service, and what they say together.

Static verdicts are `check`'s (blocked, blocked-partial, degraded, throttled, allowed,
unaffected, unknown); traffic verdicts are `traffic`'s (blocked, degraded, compliant,
inconclusive). The comparison, in order:

  either side unknown / inconclusive          -> unknown (which side, and why), never agreement
  static blocked,   traffic blocked           -> agree
  static blocked,   traffic compliant/degraded-> config-blocks-traffic-passes: the primary site
                                                 got through (a bypass -- another resolver, a
                                                 tunnel, a path around the proxy -- or the
                                                 deployed config is not the repository's)
  static blocked-partial, traffic blocked     -> agree
  static blocked-partial, traffic passes      -> unknown: the config blocks part of it (some
                                                 addresses or clients); the logged traffic may be
                                                 the part it lets through
  static degraded,  traffic degraded          -> agree
  static degraded,  traffic compliant         -> config-blocks-traffic-passes
  static degraded,  traffic blocked           -> traffic-blocked-config-allows (more than the
                                                 config blocks: the primary site is blocked)
  static throttled/allowed/unaffected, traffic compliant -> agree (throttling is not visible in
                                                 logs: said in the note)
  static throttled/allowed/unaffected, traffic blocked/degraded -> traffic-blocked-config-allows:
                                                 a layer the repository does not hold (an
                                                 upstream filter, a cloud proxy, a DNS service)

Example: static `blocked` for guests (squid.conf:12), logs show guests reaching
www.facebook.com with 200s -> config-blocks-traffic-passes.
"""

from __future__ import annotations

AGREE = "agree"
BYPASS = "config-blocks-traffic-passes"
HIDDEN = "traffic-blocked-config-allows"
UNKNOWN = "unknown"
STATUSES = (BYPASS, HIDDEN, UNKNOWN, AGREE)
DISAGREEMENTS = (BYPASS, HIDDEN)

_REACHABLE = ("compliant", "degraded")
_OPEN = ("throttled", "allowed", "unaffected")


def compare(static: str, traffic: str, requests: int) -> tuple[str, str]:
    """(status, why) for one audience and service."""
    if static == "unknown" and traffic == "inconclusive":
        return (
            UNKNOWN,
            "both sides unknown: the configs do not decide it and the logs show no conclusive traffic",
        )
    if static == "unknown":
        return UNKNOWN, "static side unknown: the configs do not decide it for these clients"
    if traffic == "inconclusive":
        why = "no traffic to it in the logs" if not requests else "the logs show no conclusive outcome"
        return UNKNOWN, f"traffic side unknown: {why}"
    if static == "blocked":
        if traffic == "blocked":
            return AGREE, "blocked in the config and in the logs"
        return (
            BYPASS,
            "the config blocks it, but the logs show it reached: a bypass, or the deployed config differs",
        )
    if static == "blocked-partial":
        if traffic == "blocked":
            return AGREE, "blocked (in part) in the config and blocked in the logs"
        return UNKNOWN, (
            "the config blocks part of it (some addresses or clients): the logged traffic may be the part "
            "it lets through"
        )
    if static == "degraded":
        if traffic == "degraded":
            return AGREE, "degraded in the config and in the logs"
        if traffic == "compliant":
            return BYPASS, "the config blocks a supporting host, but the logs show it reached"
        return (
            HIDDEN,
            "the logs show the site blocked where the config only degrades it: a layer the repository does not hold",
        )
    if static in _OPEN:
        if traffic == "compliant":
            note = " (throttling is not visible in logs)" if static == "throttled" else ""
            return AGREE, f"reachable in the config and in the logs{note}"
        return HIDDEN, (
            f"the logs show it {traffic} where the config lets it through: a layer the repository does not "
            "hold (an upstream filter, a cloud proxy, a DNS service), or the deployed config differs"
        )
    return UNKNOWN, f"static verdict {static!r} not compared"
