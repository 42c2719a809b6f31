"""Composition rules one at a time (policy_lint/network/compose.py's docstring)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from policy_lint.engine import AudienceResult
from policy_lint.model import Audience, Span, Verdict
from policy_lint.network.compose import BYPASSED, Layer, combine, pick
from policy_lint.network.segments import Segment


def layers(*verdicts: str) -> list[Layer]:
    return [Layer(f"f{i}", "firewall", v, Span(f"f{i}", i + 1)) for i, v in enumerate(verdicts)]


@pytest.mark.parametrize(
    ("verdicts", "want", "decider"),
    [
        (("unaffected", "blocked", "unknown"), Verdict.BLOCKED, 1),  # blocked on any layer blocks
        (("blocked-partial", "unknown"), Verdict.UNKNOWN, 1),  # the undecided layer may block
        (("blocked-partial", "degraded"), Verdict.BLOCKED_PARTIAL, 0),
        (("throttled", "degraded"), Verdict.DEGRADED, 1),  # broken pages, slowly: degraded
        (("throttled", "allowed"), Verdict.THROTTLED, 0),
        (("allowed", "unaffected"), Verdict.ALLOWED, 0),
        ((BYPASSED, "unaffected"), Verdict.UNAFFECTED, None),  # a bypassed block decides nothing
        ((), Verdict.UNAFFECTED, None),
    ],
)
def test_combine(verdicts, want, decider):
    got, layer = combine(layers(*verdicts))
    assert got == want
    assert (layer.path if layer else None) == (f"f{decider}" if decider is not None else None)


def _segment(*clients: str) -> Segment:
    nets = tuple(ipaddress.ip_network(c) for c in clients if c[0].isdigit())
    names = tuple(c for c in clients if not c[0].isdigit())
    return Segment("s", clients, nets, names, (Path("/x"),), Span("s", 1))


def _r(status: str, *attrs: tuple[str, str], cond: tuple[str, ...] = ()) -> AudienceResult:
    return AudienceResult(Audience(key=(status, attrs, cond), conditions=cond, attributes=attrs), status)


def test_pick_takes_the_audiences_whose_address_is_in_the_segment():
    results = [_r("blocked", ("src", "10.50.0.1")), _r("ok", ("src", "10.1.0.1"))]
    picked, why = pick(results, _segment("10.50.0.0/24"))
    assert [r.status for r in picked] == ["blocked"] and why == ""


def test_pick_by_interface_name_in_attributes_or_words():
    results = [_r("blocked", ("interface", "em1")), _r("ok", cond=("in eth1.50",))]
    assert [r.status for r in pick(results, _segment("em1"))[0]] == ["blocked"]
    assert [r.status for r in pick(results, _segment("eth1.50"))[0]] == ["ok"]


def test_pick_keeps_a_verdict_every_audience_shares():
    results = [_r("blocked", ("src", "10.50.0.1")), _r("blocked", ("src", "0.0.0.1"))]
    assert len(pick(results, _segment("10.9.0.0/24"))[0]) == 2


def test_pick_cannot_place_a_segment_among_differing_audiences():
    results = [_r("blocked", ("src", "10.50.0.1")), _r("ok", ("src", "0.0.0.1"))]
    picked, why = pick(results, _segment("10.9.0.0/24"))
    assert picked == [] and "none of them is known to hold 10.9.0.0/24" in why
