"""Address coverage for packet filters (addressing.py): a service is blocked by address only
when every IPv4 prefix the catalog lists for it is denied, whatever the size of a prefix left
open and whether or not it holds the catalog's representative address (the catalog holds BGP
announcements, not DNS answers, so no prefix can be discounted); otherwise the deny is partial
and its note counts the prefixes covered."""

from __future__ import annotations

import ipaddress

import pytest

from policy_lint.catalog import load_catalog
from policy_lint.dialects.semantics.addressing import decide_by_address, targets
from policy_lint.model import Decision, Outcome, Span

CATALOG = load_catalog()
RULE = Span("fw.rules", 3, 1, "-A FORWARD -d 31.13.64.0/18 -j DROP")


def facebook_probe():
    return next(p for p in CATALOG.services["facebook"].probes() if p.scheme == "https")


def deny_inside(*networks: str):
    nets = [ipaddress.ip_network(n) for n in networks]

    def decide(target):
        if any(target.address.version == n.version and target.address in n for n in nets):
            return Decision(Outcome.DENY, RULE, (RULE,), specific=True)
        return Decision(Outcome.ALLOW)

    return decide


def test_targets_sample_every_catalog_prefix_in_both_families():
    ts = targets(facebook_probe(), CATALOG)
    prefixes = {t.network for t in ts}
    assert prefixes == set(CATALOG.services["facebook"].networks)
    assert {t.version for t in ts} == {4, 6}


def test_one_prefix_denied_is_partial_with_coverage_note():
    d = decide_by_address(facebook_probe(), CATALOG, deny_inside("31.13.64.0/18"))
    assert d.outcome == Outcome.DENY and d.partial
    v4 = sum(1 for n in CATALOG.services["facebook"].networks if n.version == 4)
    assert f"1 of {v4} Facebook IPv4 prefixes" in d.note
    assert "no IPv6" in d.note and CATALOG.addresses_version in d.note


def test_part_of_a_prefix_does_not_cover_it():
    # 57.144.0.0/14 is one catalog prefix; a /16 inside it covers only its first sample.
    d = decide_by_address(facebook_probe(), CATALOG, deny_inside("57.144.0.0/16"))
    assert d.outcome == Outcome.DENY and d.partial
    assert "no IPv4" in d.note


def test_every_prefix_denied_is_a_full_block():
    d = decide_by_address(facebook_probe(), CATALOG, deny_inside("0.0.0.0/0", "::/0"))
    assert d.outcome == Outcome.DENY and not d.partial


def test_nothing_denied_is_the_representative_decision():
    d = decide_by_address(facebook_probe(), CATALOG, deny_inside("192.0.2.0/24"))
    assert d.outcome == Outcome.ALLOW


def test_all_ipv4_prefixes_denied_is_a_block_that_says_ipv6_stays_open():
    d = decide_by_address(facebook_probe(), CATALOG, deny_inside("0.0.0.0/0"))
    assert d.outcome == Outcome.DENY and not d.partial
    assert "IPv4" in d.how and "IPv4 only" in d.note and "no IPv6" in d.note


def test_only_ipv6_denied_is_partial():
    d = decide_by_address(facebook_probe(), CATALOG, deny_inside("::/0"))
    assert d.outcome == Outcome.DENY and d.partial and "no IPv4" in d.note


def _v4_by_size():
    fb = CATALOG.services["facebook"]
    return sorted((n for n in fb.networks if n.version == 4), key=lambda n: n.num_addresses)


def _rep_prefix():
    fb = CATALOG.services["facebook"]
    return next(n for n in fb.networks if ipaddress.ip_address(fb.addresses[0]) in n)


@pytest.mark.parametrize("which", ["smallest", "largest", "representative"])
def test_any_one_ipv4_prefix_left_open_is_partial_however_small(which):
    # No share of the address space is tolerated: the smallest prefix (a /24, well under 1% of
    # Facebook's IPv4 space) left open is as partial as the largest or the representative one.
    v4 = _v4_by_size()
    open_prefix = {"smallest": v4[0], "largest": v4[-1], "representative": _rep_prefix()}[which]
    denied = [str(n) for n in v4 if n != open_prefix] + ["::/0"]
    d = decide_by_address(facebook_probe(), CATALOG, deny_inside(*denied))
    assert d.outcome == Outcome.DENY and d.partial
    assert f"blocks {len(v4) - 1} of {len(v4)} Facebook IPv4 prefixes, all " in d.note


def test_a_prefix_covered_by_several_smaller_rules_counts_as_covered():
    # 102.132.120.0/23 denied as its two /24 halves: every sample is denied, so it is covered.
    v4 = _v4_by_size()
    halves = ["102.132.120.0/24", "102.132.121.0/24"]
    denied = [str(n) for n in v4 if str(n) != "102.132.120.0/23"] + halves
    assert len(denied) == len(v4) + 1
    d = decide_by_address(facebook_probe(), CATALOG, deny_inside(*denied))
    assert d.outcome == Outcome.DENY and not d.partial
    assert f"all {len(v4)} IPv4 prefixes" in d.note and "IPv4 only" in d.note


def test_every_ipv4_prefix_but_no_ipv6_is_a_block_that_says_ipv4_only():
    d = decide_by_address(facebook_probe(), CATALOG, deny_inside(*[str(n) for n in _v4_by_size()]))
    assert d.outcome == Outcome.DENY and not d.partial
    assert "IPv4 only" in d.how and d.note.startswith("IPv4 only: blocks all ")


def ning_probe():
    return next(p for p in CATALOG.services["ning"].probes() if p.scheme == "https")


def test_a_service_without_addresses_is_not_blocked_by_a_bogon_list():
    # The catalog holds no addresses for Ning: a rule for some networks (0.0.0.0/8, private
    # space) proves nothing about where it lives; only a rule for any address blocks it.
    assert not targets(ning_probe(), CATALOG)
    bogons = deny_inside("0.0.0.0/8", "10.0.0.0/8", "127.0.0.0/8", "192.0.2.0/24", "23.0.0.0/8")
    assert decide_by_address(ning_probe(), CATALOG, bogons).outcome == Outcome.ALLOW
    assert decide_by_address(ning_probe(), CATALOG, deny_inside("0.0.0.0/0")).outcome == Outcome.DENY


def test_ipv6_denied_to_anywhere_is_no_block_the_client_uses_ipv4():
    def no_ipv6(target):
        if target.version == 6:
            return Decision(Outcome.DENY, RULE, (RULE,), specific=False)  # `block all`, inet-only passes
        return Decision(Outcome.ALLOW)

    assert decide_by_address(facebook_probe(), CATALOG, no_ipv6).outcome == Outcome.ALLOW
    fb_v6 = [str(n) for n in CATALOG.services["facebook"].networks if n.version == 6]
    # An IPv6 rule naming Facebook's networks is still a (partial) block of Facebook.
    specific = decide_by_address(facebook_probe(), CATALOG, deny_inside(*fb_v6))
    assert specific.outcome == Outcome.DENY and specific.partial


def test_some_prefixes_denied_and_the_rest_undecided_is_unknown_not_partial():
    # e.g. a DROP of 31.13.64.0/18 and, for every other address, a rule we cannot evaluate:
    # the service may be blocked whole, so "partly blocked" would be a guess.
    unsure = Span("fw.rules", 2, 1, "-A FORWARD -m unknownmatch -j DROP")
    inside = deny_inside("31.13.64.0/18")

    def decide(target):
        d = inside(target)
        if d.outcome == Outcome.DENY or target.address.version == 6:
            return d
        return Decision(Outcome.UNKNOWN, unsure, (unsure,))

    d = decide_by_address(facebook_probe(), CATALOG, decide)
    assert d.outcome == Outcome.UNKNOWN
    assert d.rule == unsure
    assert "Facebook IPv4 prefixes" in d.note and "could not be decided" in d.note


def test_some_prefixes_denied_some_open_and_some_undecided_is_partial():
    unsure = Span("fw.rules", 2, 1, "-A FORWARD -m unknownmatch -j DROP")
    inside = deny_inside("31.13.64.0/18")

    def decide(target):
        d = inside(target)
        if d.outcome == Outcome.DENY or target.address in ipaddress.ip_network("157.240.0.0/16"):
            return d  # 157.240.0.0/16 certainly open
        return Decision(Outcome.UNKNOWN, unsure, (unsure,))

    d = decide_by_address(facebook_probe(), CATALOG, decide)
    assert d.outcome == Outcome.DENY and d.partial
