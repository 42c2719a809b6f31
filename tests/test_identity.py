"""policy_lint/identity.py: the one rule `traffic` and `audit` match a record's address, user
and group to the policy's audiences by (audit's user matching: tests/audit/test_audit.py)."""

from __future__ import annotations

import ipaddress

from policy_lint.identity import AudienceMatcher, group_matches, user_matches
from policy_lint.policy import NamedAudience


def test_first_audience_in_policy_order():
    net = ipaddress.ip_network
    matcher = AudienceMatcher(
        [
            NamedAudience("vendors", users=("CORP\\bob",), groups=("Vendors",)),
            NamedAudience("lan", networks=(net("10.0.0.0/8"), net("fd00::/8"))),
            NamedAudience("people", users=("bob", "carol@corp.example")),
        ]
    )
    assert matcher.names_people
    assert matcher.first("10.1.2.3") == "lan"
    assert matcher.first("[fd00::1]") == "lan"  # a bracketed IPv6 address, as some logs write it
    assert matcher.first("10.1.2.3", "corp\\BOB") == "vendors"
    assert matcher.first("10.1.2.3", "bob@corp.example") == "lan"  # vendors names CORP\bob only
    assert matcher.first("192.0.2.1", "bob@corp.example") == "people"
    assert matcher.first("192.0.2.1", "carol") is None  # a qualified name means that account only
    assert matcher.first(None, None, "vendors") == "vendors"
    assert matcher.first("not an address") is None
    assert not AudienceMatcher([NamedAudience("lan", networks=(net("10.0.0.0/8"),))]).names_people
    assert user_matches("CORP\\Carol", "carol") and not user_matches("carol", "carol@corp.example")


def test_groups_match_ignoring_case_only():
    assert group_matches("contractors", "Contractors")
    assert not group_matches("CORP\\Contractors", "Contractors")
