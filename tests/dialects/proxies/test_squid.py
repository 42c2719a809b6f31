"""Squid semantics, one rule per test, on small inline configs."""

from __future__ import annotations

from ipaddress import ip_address

import pytest

from policy_lint.policy import strict_policy
from tests.conftest import verdicts


def codes(report) -> list[str]:
    return [f.code for f in report.findings]


def test_leading_dot_covers_subdomains_exact_name_does_not(lint):
    report = lint(
        {
            "squid.conf": """
        acl fb dstdomain .facebook.com
        acl li dstdomain linkedin.com
        http_access deny fb
        http_access deny li
        http_access allow all
    """
        }
    )
    v = verdicts(report)
    assert v["facebook"] == "blocked"
    # linkedin.com exactly: www.linkedin.com still works -> only part of the service
    assert v["linkedin"] == "blocked-partial"
    assert v["twitter"] == "unaffected"
    msg = next(f.message for f in report.findings if f.service == "linkedin")
    assert "www.linkedin.com" in msg and "still reachable" in msg


def test_allow_before_deny_means_the_deny_is_never_reached(lint):
    report = lint(
        {
            "squid.conf": """
        acl localnet src 192.168.0.0/16
        acl social dstdomain .facebook.com .twitter.com .x.com
        http_access allow localnet
        http_access deny social
        http_access deny all
    """
        }
    )
    assert verdicts(report) == {
        "facebook": "unaffected",
        "twitter": "unaffected",
        "linkedin": "unaffected",
        "ning": "unaffected",
    }
    assert not [c for c in codes(report) if c.startswith("TE1")]


def test_deny_before_allow_blocks_and_names_the_line(lint):
    report = lint(
        {
            "squid.conf": """
        acl localnet src 192.168.0.0/16
        acl social dstdomain .facebook.com
        http_access deny social
        http_access allow localnet
        http_access deny all
    """
        }
    )
    assert verdicts(report)["facebook"] == "blocked"
    f = next(f for f in report.findings if f.code == "TE101")
    assert (f.span.line, f.span.col) == (4, 1)
    assert "http_access deny social" in f.message
    assert any("acl social dstdomain" in s.text for s in f.trace)


def test_commented_out_rule_is_not_a_block(lint):
    report = lint(
        {
            "squid.conf": """
        acl social dstdomain .facebook.com
        #http_access deny social
        http_access allow all
    """
        }
    )
    assert verdicts(report)["facebook"] == "unaffected"


def test_unused_acl_naming_a_service_is_reported_but_blocks_nothing(lint):
    report = lint(
        {
            "squid.conf": """
        acl social dstdomain .facebook.com
        http_access allow all
    """
        }
    )
    assert verdicts(report)["facebook"] == "unaffected"
    assert "TE202" in codes(report)


def test_implicit_final_rule_is_the_opposite_of_the_last_line(lint):
    # The last line allows facebook, so everything else is denied by Squid's implicit rule.
    report = lint(
        {
            "squid.conf": """
        acl fb dstdomain .facebook.com .fbcdn.net .fb.me .messenger.com
        http_access allow fb
    """
        }
    )
    v = verdicts(report)
    assert v["facebook"] == "allowed"  # with its supporting domains (else degraded, TE103)
    assert v["twitter"] == "blocked"
    # Some sites are allowed, so not "all web access is denied" (TE105); the block names
    # Squid's implicit rule, not the allow line.
    assert "TE105" not in codes(report)
    msg = next(f.message for f in report.findings if f.service == "twitter")
    assert "by 'http_access deny all (Squid's implicit rule after line" in msg
    assert "allow fb'" not in msg


def test_implicit_allow_after_a_last_deny(lint):
    report = lint(
        {
            "squid.conf": """
        acl tw dstdomain .twitter.com .x.com
        http_access deny tw
    """
        }
    )
    v = verdicts(report)
    assert v["twitter"] == "blocked"
    assert v["facebook"] == "unaffected"


def test_deny_all_for_outsiders_is_not_a_social_block(lint):
    report = lint(
        {
            "squid.conf": """
        acl localnet src 10.0.0.0/8
        http_access allow localnet
        http_access deny all
    """
        }
    )
    assert set(verdicts(report).values()) == {"unaffected"}


def test_src_scope_gives_blocked_partial_with_the_audience(lint):
    report = lint(
        {
            "squid.conf": """
        acl students src 10.1.0.0/16
        acl staff src 10.2.0.0/16
        acl social dstdomain .facebook.com
        http_access deny students social
        http_access allow students
        http_access allow staff
        http_access deny all
    """
        }
    )
    assert verdicts(report)["facebook"] == "blocked-partial"
    f = next(f for f in report.findings if f.code == "TE102")
    assert "src students" in f.message
    assert f.span.line == 5


def test_negated_acl(lint):
    report = lint(
        {
            "squid.conf": """
        acl teachers src 10.9.0.0/16
        acl social dstdomain .facebook.com
        http_access deny !teachers social
        http_access allow all
    """
        }
    )
    assert verdicts(report)["facebook"] == "blocked-partial"
    assert "not src teachers" in next(f.message for f in report.findings if f.code == "TE102")


def test_time_window_is_partial(lint):
    report = lint(
        {
            "squid.conf": """
        acl work time MTWHF 09:00-17:00
        acl social dstdomain .linkedin.com
        http_access deny social work
        http_access allow all
    """
        }
    )
    assert verdicts(report)["linkedin"] == "blocked-partial"
    assert "time work" in next(f.message for f in report.findings if f.code == "TE102")


def test_proxy_auth_group_is_partial(lint):
    report = lint(
        {
            "squid.conf": """
        acl interns proxy_auth alice bob
        acl social dstdomain .twitter.com .x.com
        http_access deny interns social
        http_access allow all
    """
        }
    )
    assert verdicts(report)["twitter"] == "blocked-partial"


def test_dstdom_regex_case_and_substring(lint):
    report = lint(
        {
            "squid.conf": """
        acl fb dstdom_regex -i FACEBOOK
        acl tw dstdom_regex TWITTER
        http_access deny fb
        http_access deny tw
        http_access allow all
    """
        }
    )
    v = verdicts(report)
    assert v["facebook"] == "blocked"
    assert v["twitter"] == "unaffected"  # case-sensitive without -i


def test_regex_twitter_does_not_cover_x_com(lint):
    report = lint(
        {
            "squid.conf": """
        acl tw dstdom_regex twitter
        http_access deny tw
        http_access allow all
    """
        }
    )
    assert verdicts(report)["twitter"] == "blocked-partial"


def test_url_regex_on_widget_path_is_hygiene_not_a_block(lint):
    report = lint(
        {
            "squid.conf": """
        acl likebutton url_regex facebook\\.com/plugins/
        acl pixel dstdomain pixel.facebook.com
        http_access deny likebutton
        http_access deny pixel
        http_access allow all
    """
        }
    )
    assert verdicts(report)["facebook"] == "unaffected"
    assert "TE201" in codes(report)


def test_cdn_block_degrades(lint):
    report = lint(
        {
            "squid.conf": """
        acl cdn dstdomain .twimg.com
        http_access deny cdn
        http_access allow all
    """
        }
    )
    assert verdicts(report)["twitter"] == "degraded"
    assert "TE103" in codes(report)


def test_deny_info_tcp_reset_is_named(lint):
    report = lint(
        {
            "squid.conf": """
        acl ning dstdomain .ning.com
        deny_info TCP_RESET ning
        http_access deny ning
        http_access allow all
    """
        }
    )
    assert verdicts(report)["ning"] == "blocked"
    assert "(reset)" in next(f.message for f in report.findings if f.code == "TE101")


def test_delay_pool_throttles(lint):
    report = lint(
        {
            "squid.conf": """
        acl social dstdomain .facebook.com
        delay_pools 1
        delay_class 1 1
        delay_parameters 1 8000/8000
        delay_access 1 allow social
        delay_access 1 deny all
        http_access allow all
    """
        }
    )
    assert verdicts(report)["facebook"] == "throttled"
    assert verdicts(report)["twitter"] == "unaffected"


def test_unlimited_delay_pool_is_not_throttling(lint):
    report = lint(
        {
            "squid.conf": """
        acl social dstdomain .facebook.com
        delay_pools 1
        delay_class 1 1
        delay_parameters 1 -1/-1
        delay_access 1 allow social
        http_access allow all
    """
        }
    )
    assert verdicts(report)["facebook"] == "unaffected"


def test_ssl_bump_terminate_by_sni_blocks_https(lint):
    report = lint(
        {
            "squid.conf": """
        acl step1 at_step SslBump1
        acl blocked ssl::server_name .linkedin.com
        ssl_bump peek step1
        ssl_bump terminate blocked
        ssl_bump splice all
        http_access allow all
    """
        }
    )
    assert verdicts(report)["linkedin"] == "blocked"
    assert "tls-terminate" in next(f.message for f in report.findings if f.code == "TE101")


def test_plain_http_only_block_is_partial(lint):
    report = lint(
        {
            "squid.conf": """
        acl fb dstdomain .facebook.com
        acl web port 80
        http_access deny fb web
        http_access allow all
    """
        }
    )
    assert verdicts(report)["facebook"] == "blocked-partial"
    assert "plain HTTP" in next(f.message for f in report.findings if f.code == "TE102")


def test_acl_values_from_file_and_include_with_glob(lint):
    report = lint(
        {
            "etc/squid/squid.conf": """
            include /etc/squid/conf.d/*.conf
            http_access allow all
        """,
            "etc/squid/conf.d/10-social.conf": """
            acl social dstdomain "/etc/squid/social.txt"
            http_access deny social
        """,
            "etc/squid/social.txt": """
            # the list
            .linkedin.com
        """,
        }
    )
    assert verdicts(report)["linkedin"] == "blocked"
    f = next(f for f in report.findings if f.code == "TE101")
    assert f.span.path.endswith("10-social.conf") and f.span.line == 3
    assert any(s.path.endswith("social.txt") and s.line == 3 for s in f.trace)


def test_include_loop_is_reported_not_hung(lint):
    report = lint(
        {
            "a.squid": "include b.squid\nhttp_access allow all\n",
            "b.squid": "include a.squid\n",
        }
    )
    assert "TE904" in codes(report)


def test_missing_include_and_missing_list(lint):
    report = lint(
        {
            "squid.conf": """
        include /etc/squid/nothere.conf
        acl blocked dstdomain "/etc/squid/blocked_sites.txt"
        http_access deny blocked
        http_access allow all
    """
        }
    )
    assert codes(report).count("TE903") == 2
    assert set(verdicts(report).values()) == {"unknown"}
    assert "TE106" in codes(report)


def test_missing_list_named_for_another_topic_is_assumed_not_to_name_services(lint):
    report = lint(
        {
            "squid.conf": """
        acl porn dstdomain "/etc/squid/porn.txt"
        http_access deny porn
        http_access allow all
    """
        }
    )
    assert set(verdicts(report).values()) == {"unaffected"}
    assert any("assumed" in f.message for f in report.findings if f.code == "TE903")


def test_missing_list_named_social_is_unknown(lint):
    report = lint(
        {
            "squid.conf": """
        acl redes dstdomain "/etc/squid/social_networks.txt"
        http_access deny redes
        http_access allow all
    """
        }
    )
    assert verdicts(report)["facebook"] == "unknown"


def test_missing_list_behind_an_allow_for_everyone_changes_nothing(lint):
    report = lint(
        {
            "squid.conf": """
        acl lan src 10.0.0.0/8
        acl blocked dstdomain "/etc/squid/blocked.txt"
        http_access allow lan
        http_access deny blocked
        http_access deny all
    """
        }
    )
    assert set(verdicts(report).values()) == {"unaffected"}


def test_catastrophic_regex_is_time_bounded_and_undecided(lint, catalog, tmp_path):
    from policy_lint.policy import load_policy

    # A community platform on a host that makes (a|aa)+ backtrack exponentially.
    host = "a" * 40 + ".example"
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(f"custom_services:\n  club: {{domains: [{host}]}}\n")
    policy = load_policy(policy_file, catalog)
    report = lint(
        {
            "squid.conf": """
        acl evil dstdom_regex (a|aa)+\\.com
        http_access deny evil
        http_access allow all
    """
        },
        policy=policy,
    )
    assert verdicts(report)["club"] == "unknown"
    assert verdicts(report)["facebook"] == "unaffected"
    assert "TE905" in codes(report)


def test_invalid_regex_is_reported(lint):
    report = lint(
        {
            "squid.conf": """
        acl bad dstdom_regex (unclosed
        http_access deny bad
        http_access allow all
    """
        }
    )
    assert "TE905" in codes(report)


def test_undefined_acl_is_a_config_error(lint):
    report = lint(
        {
            "squid.conf": """
        http_access deny nosuchacl
        http_access allow all
    """
        }
    )
    assert "TE901" in codes(report)


def test_url_rewriter_makes_verdicts_unknown(lint):
    report = lint(
        {
            "squid.conf": """
        url_rewrite_program /usr/bin/squidGuard -c /etc/squidguard/squidGuard.conf
        http_access allow all
    """
        }
    )
    assert set(verdicts(report).values()) == {"unknown"}
    assert "TE907" in codes(report)


def test_fragment_without_access_rules_decides_nothing(lint):
    report = lint(
        {
            "refresh.conf": """
        refresh_pattern -i facebook\\.com/.*\\.(jpg|png) 10080 90% 43200
        refresh_pattern . 0 20% 4320
    """
        },
        dialect="squid",
    )
    assert set(verdicts(report).values()) == {"unaffected"}
    assert not report.findings


def test_trailing_comment_and_continuation_lines(lint):
    report = lint(
        {
            "squid.conf": """
        acl social dstdomain .facebook.com \\
            .linkedin.com   # the usual suspects
        http_access deny social
        http_access allow all
    """
        }
    )
    v = verdicts(report)
    assert v["facebook"] == v["linkedin"] == "blocked"


def test_explicit_exception_for_a_policy_audience(lint, catalog, tmp_path):
    from policy_lint.policy import load_policy

    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(
        "version: 1\n"
        "audiences:\n  guest-wifi: {networks: [10.50.0.0/16]}\n"
        "exceptions:\n  - {service: facebook, audience: guest-wifi, reason: bandwidth, expires: 2999-01-01}\n"
    )
    policy = load_policy(policy_file, catalog)
    report = lint(
        {
            "squid.conf": """
        acl guests src 10.50.0.0/16
        acl social dstdomain .facebook.com
        http_access deny guests social
        http_access allow all
    """
        },
        policy=policy,
    )
    assert verdicts(report)["facebook"] == "blocked-partial"  # the verdict is a fact
    assert not [f for f in report.findings if f.code.startswith("TE1")]
    assert [f.code for f in report.accepted] == ["TE102"]


@pytest.mark.parametrize("expires,expected", [("2000-01-01", True), ("2999-01-01", False)])
def test_expired_exception_is_reported_and_no_longer_covers(lint, catalog, tmp_path, expires, expected):
    from policy_lint.policy import load_policy

    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(
        f"exceptions:\n  - {{service: twitter, audience: everyone, reason: pilot, expires: {expires}}}\n"
    )
    policy = load_policy(policy_file, catalog)
    report = lint(
        {
            "squid.conf": """
        acl tw dstdomain .twitter.com .x.com
        http_access deny tw
        http_access allow all
    """
        },
        policy=policy,
    )
    assert ("TE203" in codes(report)) is expected
    assert ("TE101" in codes(report)) is expected


def test_service_not_required_by_policy_has_verdict_but_no_finding(lint, catalog, tmp_path):
    from policy_lint.policy import load_policy

    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text("services:\n  linkedin: {severity: warning}\n")
    policy = load_policy(policy_file, catalog)
    report = lint(
        {
            "squid.conf": """
        acl s dstdomain .facebook.com .linkedin.com
        http_access deny s
        http_access allow all
    """
        },
        policy=policy,
    )
    assert verdicts(report)["facebook"] == "blocked"
    assert [(f.service, f.severity.value) for f in report.findings if f.code == "TE101"] == [
        ("linkedin", "warning")
    ]


def test_strict_policy_requires_every_service(catalog):
    assert set(strict_policy(catalog).severities) == set(catalog.services)


def test_time_ranges_are_inclusive_and_lines_are_alternatives(lint):
    # Two windows: weekday lunch and all of Saturday. Facebook is denied in them only.
    report = lint(
        {
            "squid.conf": """
        acl breaks time MTWHF 12:00-12:59
        acl breaks time A
        acl fb dstdomain .facebook.com
        http_access allow fb breaks
        http_access deny fb
        http_access allow all
    """
        }
    )
    assert verdicts(report)["facebook"] == "blocked-partial"
    from policy_lint.dialects.proxies.squid import in_time, parse_time
    from policy_lint.model import Span

    a, b = Span("f", 1), Span("f", 2)
    windows = parse_time([("MTWHF", a), ("12:00-12:59", a), ("A", b)])
    assert in_time(windows, "M", 12 * 60) and in_time(windows, "M", 12 * 60 + 59)
    assert not in_time(windows, "M", 13 * 60) and not in_time(windows, "S", 12 * 60)
    assert in_time(windows, "A", 3 * 60)


def test_acl_used_before_its_definition_is_a_config_error(lint):
    report = lint(
        {
            "squid.conf": """
        http_access deny social
        acl social dstdomain .facebook.com
        http_access allow all
    """
        }
    )
    assert any(f.code == "TE901" and "before its definition" in f.message for f in report.findings)


def test_src_acl_naming_hosts_is_an_audience_of_its_own(lint):
    report = lint(
        {
            "squid.conf": """
        acl kiosks src kiosk1.lan kiosk2.lan
        acl social dstdomain .linkedin.com
        http_access deny kiosks social
        http_access allow all
    """
        }
    )
    assert verdicts(report)["linkedin"] == "blocked-partial"


def test_connect_to_https_denied_while_plain_http_allowed_blocks(lint):
    # Everything on port 443 denied to CONNECT: no HTTPS site works, control included -
    # that is not a social-media block.
    report = lint(
        {
            "squid.conf": """
        acl SSL_ports port 443
        acl CONNECT method CONNECT
        http_access deny CONNECT SSL_ports
        http_access allow all
    """
        }
    )
    assert set(verdicts(report).values()) == {"unaffected"}


def test_method_and_port_scope_a_service_rule(lint):
    report = lint(
        {
            "squid.conf": """
        acl CONNECT method CONNECT
        acl tls port 443
        acl li dstdomain .linkedin.com
        http_access deny CONNECT tls li
        http_access allow all
    """
        }
    )
    assert verdicts(report)["linkedin"] == "blocked"


def test_dst_is_judged_at_every_catalog_prefix_not_one_address(lint, catalog):
    """Squid's `dst` sees the address the name resolved to, which may be in any of the
    service's prefixes: one prefix denied blocks part of the service, as for packet filters."""
    fb = catalog.services["facebook"]
    fb_net = next(
        n
        for n in fb.networks
        if any(n.version == ip_address(a).version and ip_address(a) in n for a in fb.addresses)
    )
    report = lint(
        {
            "squid.conf": f"""
        acl fbnets dst {fb_net}
        acl elsewhere dst 203.0.113.0/24
        http_access deny fbnets
        http_access deny elsewhere
        http_access allow all
    """
        }
    )
    v = verdicts(report)
    assert v["facebook"] == "blocked-partial"
    assert v["twitter"] == "unaffected"
    v4 = [n for n in fb.networks if n.version == 4]
    msg = next(f.message for f in report.findings if f.service == "facebook")
    assert f"blocks 1 of {len(v4)} Facebook IPv4 prefixes" in msg


def test_dst_covering_all_the_service_prefixes_blocks(lint, catalog):
    fb = catalog.services["facebook"]
    nets = " ".join(str(n) for n in fb.networks)
    report = lint({"squid.conf": f"acl fbnets dst {nets}\nhttp_access deny fbnets\nhttp_access allow all\n"})
    assert verdicts(report)["facebook"] == "blocked"


def test_dst_of_two_prefixes_away_from_the_representative_address_is_not_unaffected(lint, catalog):
    """Issue #13: `dst 157.240.0.0/16 31.13.0.0/16` was unaffected when the catalog's one
    address for Facebook lay elsewhere; it blocks the prefixes it covers."""
    report = lint(
        {
            "squid.conf": """
        acl fbnets dst 157.240.0.0/16 31.13.0.0/16
        http_access deny fbnets
        http_access allow all
    """
        }
    )
    assert verdicts(report)["facebook"] == "blocked-partial"
    assert "Facebook IPv4 prefixes" in next(f.message for f in report.findings if f.service == "facebook")


def test_dst_of_one_large_prefix_is_not_blocked_for_everyone(lint):
    """Issue #13: `dst 57.144.0.0/14` holds the representative address but not the rest of
    Facebook's space: partly blocked, with the coverage."""
    report = lint(
        {
            "squid.conf": """
        acl fbnets dst 57.144.0.0/14
        http_access deny fbnets
        http_access allow all
    """
        }
    )
    assert verdicts(report)["facebook"] == "blocked-partial"


def test_dst_as_uses_the_catalog_asns(lint):
    report = lint(
        {
            "squid.conf": """
        acl linkedin_as dst_as 14413
        http_access deny linkedin_as
        http_access allow all
    """
        }
    )
    v = verdicts(report)
    assert v["linkedin"] == "blocked"
    assert v["facebook"] == "unaffected"


# ------------------------------------------------------------------ issue #13: soundness


def _facebook_messages(report) -> list[str]:
    return [f.message for f in report.findings if f.service == "facebook"]


@pytest.mark.parametrize(
    "acl",
    [
        "acl fbhdr req_header Host -i facebook",  # a request header: not evaluated
        "acl fbhdr referer_regex -i facebook",
        "acl fbhdr rep_mime_type -i ^text/html$",  # the reply: not evaluated
        "acl fbhdr any-of fb_inner",  # a group ACL: not evaluated
    ],
)
def test_an_unmodelled_acl_type_makes_its_rule_unknown(lint, acl):
    report = lint(
        {
            "squid.conf": f"""
        acl fb_inner dstdomain .facebook.com
        {acl}
        http_access deny fbhdr
        http_access allow all
    """
        }
    )
    v = verdicts(report)
    assert v["facebook"] == "unknown"
    assert "TE908" in codes(report)


def test_an_unknown_acl_type_is_refused_by_squid_and_unknown(lint):
    report = lint({"squid.conf": "acl fb foo_bar facebook\nhttp_access deny fb\nhttp_access allow all\n"})
    assert verdicts(report)["facebook"] == "unknown"
    assert "TE901" in codes(report)


def test_an_external_helper_given_the_destination_decides_by_site_unknown(lint):
    report = lint(
        {
            "squid.conf": """
        external_acl_type sites %SRC %DST /usr/lib/squid/check_site
        acl blocked_sites external sites
        http_access deny blocked_sites
        http_access allow all
    """
        }
    )
    assert verdicts(report)["facebook"] == "unknown"
    assert "TE908" in codes(report)


def test_an_external_helper_given_only_the_client_splits_audiences(lint):
    report = lint(
        {
            "squid.conf": """
        external_acl_type groups %LOGIN /usr/lib/squid/ext_wbinfo_group_acl
        acl students external groups students
        acl fb dstdomain .facebook.com
        http_access deny students fb
        http_access allow all
    """
        }
    )
    assert verdicts(report)["facebook"] == "blocked-partial"


def test_a_misspelt_directive_is_te901_not_a_silent_skip(lint):
    # `squid -k parse`: "unrecognized: 'http_acess'", exit 1 (tests/e2e/test_squid_differential.py)
    report = lint(
        {"squid.conf": "acl fb dstdomain .facebook.com\nhttp_acess deny fb\nhttp_access allow all\n"}
    )
    te901 = [f for f in report.findings if f.code == "TE901"]
    assert te901 and te901[0].span.line == 2 and "http_acess" in te901[0].message
    # the ACL is named by that line: not "no rule uses it"
    assert "TE202" not in codes(report)


def test_an_obsolete_directive_is_ignored_like_squid_does(lint):
    report = lint({"squid.conf": "dns_v4_first on\nhttp_access allow all\n"})
    assert "TE901" not in codes(report)


def test_http_reply_access_denies_http_replies_but_not_connect_tunnels(lint):
    report = lint(
        {
            "squid.conf": """
        acl fb dstdomain .facebook.com
        http_access allow all
        http_reply_access deny fb
        http_reply_access allow all
    """
        }
    )
    assert verdicts(report)["facebook"] == "blocked-partial"
    assert any("over plain HTTP only" in m for m in _facebook_messages(report))
    assert "TE202" not in codes(report)


def test_http_reply_access_applies_inside_a_bumped_tunnel(lint):
    report = lint(
        {
            "squid.conf": """
        http_port 3128 ssl-bump cert=/etc/squid/ca.pem
        acl fb dstdomain .facebook.com
        ssl_bump bump all
        http_access allow all
        http_reply_access deny fb
        http_reply_access allow all
    """
        }
    )
    assert verdicts(report)["facebook"] == "blocked"


def test_http_reply_access_on_the_reply_type_is_unknown(lint):
    report = lint(
        {
            "squid.conf": """
        acl html rep_mime_type -i ^text/html
        http_access allow all
        http_reply_access deny html
    """
        }
    )
    assert verdicts(report)["facebook"] == "unknown"


def test_url_regex_sees_https_urls_only_in_bumped_tunnels(lint):
    rules = """
        acl fbpage url_regex ^https://www\\.facebook\\.com/
        acl step1 at_step SslBump1
        {bump}
        http_access deny fbpage
        http_access allow all
    """
    spliced = lint(
        {"squid.conf": "http_port 3128 ssl-bump cert=/ca.pem\n" + rules.format(bump="ssl_bump splice all")}
    )
    assert verdicts(spliced)["facebook"] == "unaffected"  # a CONNECT's URL is www.facebook.com:443
    bumped = lint(
        {"squid.conf": "http_port 3128 ssl-bump cert=/ca.pem\n" + rules.format(bump="ssl_bump bump all")}
    )
    # every HTTPS entry point denied (http://www... does not match: redirected to https)
    assert verdicts(bumped)["facebook"] == "blocked"
    # stare keeps bumping possible: with no final rule after it, Squid bumps
    stared = lint(
        {"squid.conf": "http_port 3128 ssl-bump cert=/ca.pem\n" + rules.format(bump="ssl_bump stare all")}
    )
    assert verdicts(stared)["facebook"] == "blocked"
    # ssl_bump is only consulted on a port with the ssl-bump flag
    plain = lint({"squid.conf": "http_port 3128\n" + rules.format(bump="ssl_bump bump all")})
    assert verdicts(plain)["facebook"] == "unaffected"


def test_never_direct_without_a_peer_for_the_request_fails_it(lint):
    report = lint(
        {
            "squid.conf": """
        acl fb dstdomain .facebook.com
        cache_peer upstream.example parent 3128 0 no-query name=up
        cache_peer_access up deny fb
        cache_peer_access up allow all
        never_direct allow all
        http_access allow all
    """
        }
    )
    v = verdicts(report)
    assert v["facebook"] == "blocked" and v["twitter"] == "unaffected"
    assert any("no forwarding path" in m for m in _facebook_messages(report))
    assert "TE202" not in codes(report)


def test_always_direct_gives_a_forwarding_path_back(lint):
    report = lint(
        {
            "squid.conf": """
        acl fb dstdomain .facebook.com
        cache_peer upstream.example parent 3128 0 no-query name=up
        cache_peer_access up deny fb
        always_direct allow fb
        never_direct allow all
        http_access allow all
    """
        }
    )
    assert verdicts(report)["facebook"] == "unaffected"


def test_never_direct_with_a_peer_for_every_request_forwards(lint):
    report = lint(
        {
            "squid.conf": """
        cache_peer upstream.example parent 3128 0 no-query
        never_direct allow all
        http_access allow all
    """
        }
    )
    assert set(verdicts(report).values()) == {"unaffected"}


def test_adaptation_access_to_an_enabled_icap_service_is_unknown(lint):
    rules = """
        icap_enable {on}
        icap_service filter reqmod_precache icap://127.0.0.1:1344/filter
        adaptation_access filter allow all
        http_access allow all
    """
    report = lint({"squid.conf": rules.format(on="on")})
    assert set(verdicts(report).values()) == {"unknown"}
    assert "TE907" in codes(report)
    report = lint({"squid.conf": rules.format(on="off")})
    assert set(verdicts(report).values()) == {"unaffected"}


def test_the_proxy_host_itself_never_makes_a_block_partial(lint):
    report = lint(
        {
            "squid.conf": """
        acl fb dstdomain .facebook.com
        http_access allow localhost
        http_access deny fb
        http_access allow all
    """
        }
    )
    assert verdicts(report)["facebook"] == "blocked"
    assert all("localhost" not in m for m in _facebook_messages(report))


def test_a_block_names_whom_earlier_rules_let_through(lint):
    report = lint(
        {
            "squid.conf": """
        acl localnet src 10.0.0.0/8
        acl fb dstdomain .facebook.com
        http_access allow localnet
        http_access deny fb
        http_access allow all
    """
        }
    )
    assert verdicts(report)["facebook"] == "blocked-partial"
    assert any(
        "blocked for everyone not in src localnet by 'http_access deny fb'" in m
        for m in _facebook_messages(report)
    )


def test_a_rule_whose_list_could_not_be_read_never_says_blocked_by(lint):
    report = lint(
        {
            "squid.conf": """
        acl maybe dstdomain "/etc/squid/maybe.txt"
        acl fb dstdomain .facebook.com
        http_access deny maybe
        http_access deny fb
        http_access allow all
    """
        }
    )
    assert verdicts(report)["facebook"] == "blocked"
    msgs = _facebook_messages(report)
    assert msgs and all("deny maybe" not in m for m in msgs)
    assert any("by 'http_access deny fb'" in m for m in msgs)


def test_an_allow_list_that_leaves_out_supporting_domains_is_degraded(lint):
    """Issue #13: LinkedIn allowed, static.licdn.com and media.licdn.com denied by `deny all`."""
    report = lint(
        {
            "squid.conf": """
        acl lan src 192.168.0.0/16
        acl li dstdomain .linkedin.com
        http_access allow lan li
        http_access deny all
    """
        }
    )
    v = verdicts(report)
    assert v["linkedin"] == "degraded"
    te103 = next(f for f in report.findings if f.code == "TE103")
    assert "static.licdn.com" in te103.message and "media.licdn.com" in te103.message
    # some sites are allowed: not "all web access is denied to everyone"
    assert "TE105" not in codes(report)
    assert v["facebook"] == "blocked"


def test_implicit_deny_answers_with_the_deny_info_of_the_last_acl_checked(tmp_path, catalog):
    """squid.conf.documented, deny_info: Squid remembers the last ACL it evaluated in
    http_access. With no line matching, that is where the last line stopped: `work` (false for
    Facebook) on `allow work lan`, so its TCP_RESET applies, not `lan`'s page. (Found by
    tests/e2e/test_daemon_fuzz.py against Debian's squid.)"""
    from policy_lint.dialects.proxies import squid
    from policy_lint.dialects.semantics.base import ParseContext
    from policy_lint.inputs import Resolver
    from policy_lint.model import EVERYONE, Outcome, Probe

    conf = tmp_path / "squid.conf"
    conf.write_text(
        "acl work dstdomain .example.com\n"
        "acl lan dstdomain .example.net\n"
        "deny_info TCP_RESET work\n"
        "deny_info http://block.lan/ lan\n"
        "http_access allow work lan\n"
    )
    ruleset = squid.parse(conf, ParseContext(Resolver(tmp_path), catalog))
    d = ruleset.evaluate(Probe("facebook", "www.facebook.com", "primary", "http", 80), EVERYONE)
    assert (d.outcome, d.how, d.rule.line if d.rule else None) == (Outcome.DENY, "reset", 5)
    # www.example.com passes `work` and stops at `lan`: its redirect page
    d = ruleset.evaluate(Probe(None, "www.example.com", "control", "http", 80), EVERYONE)
    assert (d.outcome, d.how) == (Outcome.DENY, "redirect")


def test_a_wildcard_after_a_name_it_covers_is_refused_but_not_the_other_way_round(lint):
    """Squid's dstdomain splay tree (aclDomainCompare): `.facebook.com` after
    `www.facebook.com` (or `facebook.com` after `.facebook.com`) is `ERROR: ... is a subdomain
    of ...` and Squid does not start; a name after the wildcard covering it is only a warning.
    (Found by tests/e2e/test_daemon_fuzz.py against Debian's squid 5.7.)"""
    report = lint(
        {
            "squid.conf": """
        acl fb dstdomain www.facebook.com
        acl fb dstdomain .facebook.com
        acl tw dstdomain .twitter.com www.twitter.com
        acl li dstdomain .linkedin.com linkedin.com
        http_access deny fb
        http_access deny tw
        http_access deny li
        http_access allow all
    """
        }
    )
    refused = [(f.span.line, f.message) for f in report.findings if f.code == "TE901"]
    assert [line for line, _ in refused] == [3, 5], refused
    assert "subdomain" in refused[0][1]


def test_the_first_deny_info_for_an_acl_is_the_one_squid_uses(tmp_path, catalog):
    """Squid takes the first deny_info line naming the ACL (its list is walked in order,
    aclGetDenyInfoPage); a later one for the same ACL changes nothing. (Found by
    tests/e2e/test_daemon_fuzz.py against Debian's squid.)"""
    from policy_lint.dialects.proxies import squid
    from policy_lint.dialects.semantics.base import ParseContext
    from policy_lint.inputs import Resolver
    from policy_lint.model import EVERYONE, Outcome, Probe

    conf = tmp_path / "squid.conf"
    conf.write_text(
        "acl fb dstdomain .facebook.com\n"
        "acl tw dstdomain .twitter.com\n"
        "deny_info ERR_ACCESS_DENIED fb\n"
        "deny_info TCP_RESET fb tw\n"
        "http_access deny fb\n"
        "http_access deny tw\n"
        "http_access allow all\n"
    )
    ruleset = squid.parse(conf, ParseContext(Resolver(tmp_path), catalog))
    fb = ruleset.evaluate(Probe("facebook", "www.facebook.com", "primary", "http", 80), EVERYONE)
    tw = ruleset.evaluate(Probe("twitter", "twitter.com", "primary", "http", 80), EVERYONE)
    assert (fb.outcome, fb.how, fb.rule.line if fb.rule else None) == (Outcome.DENY, "error-page", 5)
    assert (tw.outcome, tw.how, tw.rule.line if tw.rule else None) == (Outcome.DENY, "reset", 6)
