"""Address coverage for packet filters: a service is blocked by address only when every
catalog prefix is covered; otherwise the deny is partial and says how much it covers."""

from __future__ import annotations

import ipaddress

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


def test_a_few_small_prefixes_left_open_is_still_a_block_with_its_coverage():
    fb = CATALOG.services["facebook"]
    v4 = sorted((n for n in fb.networks if n.version == 4), key=lambda n: n.num_addresses)
    smallest = v4[0]
    open_ = [str(n) for n in v4[1:]] + ["::/0"]
    d = decide_by_address(facebook_probe(), CATALOG, deny_inside(*open_))
    assert d.outcome == Outcome.DENY and not d.partial
    assert f"{len(v4) - 1} of {len(v4)} Facebook IPv4 prefixes" in d.note
    assert smallest.num_addresses < 0.05 * sum(n.num_addresses for n in v4)


def test_the_main_prefix_left_open_is_partial_however_much_else_is_covered():
    fb = CATALOG.services["facebook"]
    main = next(n for n in fb.networks if ipaddress.ip_address(fb.addresses[0]) in n)
    others = [str(n) for n in fb.networks if n != main]
    d = decide_by_address(facebook_probe(), CATALOG, deny_inside(*others))
    assert d.outcome == Outcome.DENY and d.partial


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
