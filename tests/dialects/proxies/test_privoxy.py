"""Privoxy semantics, one rule per test, on small inline configs and action files."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from policy_lint.dialects.proxies import privoxy
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.inputs import Resolver
from policy_lint.model import EVERYONE, Outcome, Probe
from tests.conftest import verdicts


def codes(report) -> list[str]:
    return [f.code for f in report.findings]


def decide(tmp_path: Path, catalog, files: dict[str, str], url: str):
    """Parse the first file and evaluate one URL (a catalog-like probe) for everyone."""
    import textwrap

    for name, text in files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text))
    ruleset = privoxy.parse(tmp_path / next(iter(files)), ParseContext(Resolver(tmp_path), catalog))
    scheme, rest = url.split("://", 1)
    host, _, path = rest.partition("/")
    hit = catalog.service_for_host(host)
    probe = Probe(
        hit[0] if hit else None, host, "primary", scheme, 443 if scheme == "https" else 80, "/" + path
    )
    return ruleset.evaluate(probe, EVERYONE)


# ------------------------------------------------------------------ host patterns


def test_leading_dot_covers_the_domain_and_subdomains_exact_name_only_itself(lint):
    v = verdicts(
        lint(
            {
                "user.action": """
        { +block{Social.} }
        .facebook.com
        .fbcdn.net
        linkedin.com
    """
            }
        )
    )
    assert v["facebook"] == "blocked"
    assert v["linkedin"] == "blocked-partial"  # www.linkedin.com still passes
    assert v["twitter"] == "unaffected"


def test_dots_at_both_ends_match_a_label_anywhere_under_any_tld(tmp_path, catalog):
    files = {"user.action": "{ +block{x} }\n.facebook.\n"}
    for url in ("https://www.facebook.com/", "https://facebook.de/", "https://m.facebook.co.uk/"):
        assert decide(tmp_path, catalog, files, url).outcome == Outcome.DENY, url
    assert decide(tmp_path, catalog, files, "https://thefacebook.com/").outcome == Outcome.ALLOW


def test_trailing_dot_anchors_the_first_labels(tmp_path, catalog):
    files = {"user.action": "{ +block{x} }\nwww.\n"}
    assert decide(tmp_path, catalog, files, "https://www.linkedin.com/").outcome == Outcome.DENY
    assert decide(tmp_path, catalog, files, "https://linkedin.com/").outcome == Outcome.ALLOW


def test_host_patterns_are_case_insensitive(lint):
    assert verdicts(lint({"user.action": "{ +BLOCK{x} }\n.TWITTER.com\n.X.COM\n"}))["twitter"] == "blocked"


@pytest.mark.parametrize(
    "pattern,host,matches",
    [
        # the user manual's examples (8.4.1)
        ("ad*", "adserver", True),
        ("ad*", "ads", True),
        ("ad*", "sfads", False),
        ("*ad*", "sfads", True),
        ("?pix", "ipix", True),
        ("?pix", "pix", False),
        ("www[1-9a-ez]", "www1", True),
        ("www[1-9a-ez]", "wwwz", True),
        ("www[1-9a-ez]", "wwww", False),
        ("c*", "cc", True),
        ("fb*", "fbcdn", True),
        ("facebook*", "facebook", True),
    ],
)
def test_label_wildcards_follow_privoxys_simplematch(pattern, host, matches):
    assert privoxy.simplematch(pattern, host) is matches


# ------------------------------------------------------------------ paths and HTTPS


def test_path_patterns_never_see_https_unless_they_match_a_bare_slash(tmp_path, catalog):
    files = {
        "user.action": """
        { +block{Paths.} }
        /.*plugins
        .ning.com/.+
        .twitter.com/$
    """
    }
    like = "www.facebook.com/plugins/like.php"
    assert decide(tmp_path, catalog, files, f"http://{like}").outcome == Outcome.DENY
    assert decide(tmp_path, catalog, files, f"https://{like}").outcome == Outcome.ALLOW  # CONNECT: path "/"
    assert decide(tmp_path, catalog, files, "https://www.ning.com/").outcome == Outcome.ALLOW
    assert decide(tmp_path, catalog, files, "https://twitter.com/").outcome == Outcome.DENY  # "/" matches ^/$


def test_a_path_pattern_naming_a_service_is_not_a_block_of_the_site(lint):
    v = verdicts(lint({"user.action": "{ +block{Share buttons.} }\n/.*facebook.*\n/.*linkedin.*\n"}))
    assert v["facebook"] == "unaffected" and v["linkedin"] == "unaffected"


def test_https_inspection_lets_path_patterns_see_https(tmp_path, catalog):
    files = {"user.action": "{ +https-inspection }\n.facebook.com\n{ +block{x} }\n/plugins/\n"}
    assert (
        decide(tmp_path, catalog, files, "https://www.facebook.com/plugins/like.php").outcome == Outcome.DENY
    )


def test_port_in_a_pattern(tmp_path, catalog):
    files = {"user.action": "{ +block{x} }\n.linkedin.com:443\n"}
    assert decide(tmp_path, catalog, files, "https://www.linkedin.com/").outcome == Outcome.DENY
    assert decide(tmp_path, catalog, files, "http://www.linkedin.com/").outcome == Outcome.ALLOW


# ------------------------------------------------------------------ order and exceptions


def test_later_section_overrides_an_earlier_one(lint):
    v = verdicts(
        lint(
            {
                "user.action": """
        { -block }
        .twitter.com
        { +block{Later wins.} }
        .twitter.com
        .x.com
    """
            }
        )
    )
    assert v["twitter"] == "blocked"


def test_minus_block_exception_after_a_block(lint):
    report = lint(
        {
            "user.action": """
        { +block{Twitter.} }
        .twitter.com
        .x.com
        .twimg.com
        { -block }
        .twimg.com
    """
        }
    )
    assert verdicts(report)["twitter"] == "blocked"
    assert not any(f.code == "TE103" for f in report.findings)  # the CDN stays reachable


def test_later_action_file_overrides_earlier_in_config_order(lint):
    report = lint(
        {
            "privoxy/config": """
            confdir /etc/privoxy
            actionsfile block.action
            actionsfile user.action   # user customizations
        """,
            "privoxy/block.action": "{ +block{Social.} }\n.facebook.com\n.linkedin.com\n",
            "privoxy/user.action": "{ -block }\n.linkedin.com\n",
        }
    )
    v = verdicts(report)
    assert v["facebook"] == "blocked"
    assert v["linkedin"] == "allowed"  # an explicit exception naming the service
    assert len(report.files) == 1  # the action files are part of the config, not linted again


def test_block_all_blocks_everything_and_says_so(lint):
    report = lint({"user.action": "{ +block{Everything.} }\n/\n"})
    assert set(verdicts(report).values()) == {"blocked"}
    assert "TE105" in codes(report)


def test_block_all_with_an_allow_list(lint):
    v = verdicts(
        lint(
            {
                "user.action": """
        {{alias}}
        unblock = -block
        { +block{all} }
        .  # every host
        { unblock{work} }
        .linkedin.com
        .licdn.com
        lnkd.in
        .example.com
    """
            }
        )
    )
    assert v["linkedin"] == "allowed"
    assert v["facebook"] == v["twitter"] == v["ning"] == "blocked"


def test_aliases_are_case_insensitive_and_expand_in_order(tmp_path, catalog):
    files = {
        "user.action": """
        {{alias}}
        +Social = +block{Social.}
        open = -block
        { +SOCIAL }
        .ning.com
        { OPEN }
        www.ning.com
    """
    }
    assert decide(tmp_path, catalog, files, "https://ning.com/").outcome == Outcome.DENY
    assert decide(tmp_path, catalog, files, "https://www.ning.com/").outcome == Outcome.ALLOW


def test_block_substitutes_are_still_blocks(lint):
    report = lint(
        {
            "user.action": """
        { +block{Banner.} +handle-as-image }
        .twimg.com
        { +block{Script.} +handle-as-empty-document }
        .licdn.com
    """
        }
    )
    v = verdicts(report)
    assert v["twitter"] == "degraded" and v["linkedin"] == "degraded"


# ------------------------------------------------------------------ redirects


def test_redirect_to_another_site_is_a_block_https_upgrade_is_not(lint):
    report = lint(
        {
            "user.action": r"""
        { +redirect{http://www.example.com/blocked.html} }
        .ning.com
        { +redirect{s@^http://@https://@} }
        .twitter.com
        .x.com
    """
        }
    )
    v = verdicts(report)
    assert v["ning"] == "blocked"
    assert v["twitter"] == "unaffected"
    assert "(redirect)" in next(f.message for f in report.findings if f.service == "ning")


def test_block_wins_over_redirect(tmp_path, catalog):
    files = {"user.action": "{ +block{x} +redirect{https://www.example.com/} }\n.facebook.com\n"}
    d = decide(tmp_path, catalog, files, "http://www.facebook.com/")
    assert d.outcome == Outcome.DENY and d.how == "403"


# ------------------------------------------------------------------ forwarding


def test_forward_to_a_tunnel_or_proxy_is_unknown_black_hole_is_blocked(lint):
    # What Tor, a VPN's SOCKS port or a parent proxy does with a request is decided by a
    # configuration that is not this one: unknown, with TE907 at the forward line.
    report = lint(
        {
            "privoxy/config": """
        forward-socks5t .twitter.com  127.0.0.1:9050 .
        forward-socks5t .x.com        127.0.0.1:9050 .
        forward         .facebook.com 127.0.0.1:1
        forward         .linkedin.com 127.0.0.1:5555
        forward         .ning.com     proxy.example.net:3128
    """
        }
    )
    v = verdicts(report)
    assert v["twitter"] == "unknown"  # Tor on 127.0.0.1:9050
    assert v["facebook"] == "blocked"
    assert v["linkedin"] == "unknown"  # a loopback port where nothing may listen
    assert v["ning"] == "unknown"  # a parent proxy
    assert "(black-hole)" in next(f.message for f in report.findings if f.service == "facebook")
    lines = sorted(f.span.line for f in report.findings if f.code == "TE907")
    assert lines == [2, 3, 5, 6]


def test_the_last_matching_forward_line_wins(lint):
    v = verdicts(
        lint(
            {
                "privoxy/config": """
        forward .facebook.com 127.0.0.1:1
        forward .facebook.com .
        forward .twitter.com .
        forward .twitter.com 127.0.0.1:1
    """
            }
        )
    )
    assert v["facebook"] == "allowed"  # sent directly by a rule naming it
    assert v["twitter"] == "blocked-partial"  # x.com is not forwarded


def test_forwarding_everything_to_tor_is_decided_by_tor(lint):
    report = lint({"privoxy/config": "forward-socks5t / 127.0.0.1:9050 .\n"})
    assert set(verdicts(report).values()) == {"unknown"}
    f = next(f for f in report.findings if f.code == "TE907")
    assert f.span.line == 1 and "127.0.0.1:9050" in f.message


def test_forwarding_to_dot_is_direct(lint):
    report = lint({"privoxy/config": "forward-socks5t / 127.0.0.1:9050 .\nforward .facebook.com .\n"})
    assert verdicts(report)["facebook"] == "unknown"  # facebook.net, fbcdn.net still go to Tor
    report = lint({"privoxy/config": "forward / .\n"})
    assert set(verdicts(report).values()) == {"unaffected"}
    assert "TE907" not in [f.code for f in report.findings]


def test_toggle_off_applies_no_actions(lint):
    v = verdicts(
        lint(
            {
                "privoxy/config": "actionsfile user.action\ntoggle 0\n",
                "privoxy/user.action": "{ +block{x} }\n/\n",
            }
        )
    )
    assert set(v.values()) == {"unaffected"}


def test_trust_file_blocks_everything_unlisted(lint):
    report = lint(
        {
            "privoxy/config": "trustfile trust\n",
            "privoxy/trust": "~.linkedin.com\n~.licdn.com\n~lnkd.in\n+.example.com\n",
        }
    )
    v = verdicts(report)
    assert v["linkedin"] == "unaffected" and v["facebook"] == "blocked"


def test_limit_connect_refuses_https(lint):
    v = verdicts(lint({"user.action": "{ +limit-connect{80} }\n.facebook.com\n.fbcdn.net\n"}))
    assert v["facebook"] == "blocked"


# ------------------------------------------------------------------ missing and broken input


def test_missing_action_file_is_te903_and_unknown(lint):
    report = lint({"privoxy/config": "confdir /etc/privoxy\nactionsfile social-blocks.action\n"})
    assert set(verdicts(report).values()) == {"unknown"}
    f = next(f for f in report.findings if f.code == "TE903")
    assert "social-blocks.action" in f.message and f.span.line == 2


def test_missing_standard_or_other_topic_file_states_its_assumption(lint):
    # `trackers` is Shalla's category `tracker` in the plural (listnames.py matches whole words)
    report = lint(
        {
            "privoxy/config": """
        actionsfile match-all.action
        actionsfile block-trackers.action
        actionsfile user.action
    """,
            "privoxy/user.action": "{ +block{x} }\n.facebook.com\n",
        }
    )
    v = verdicts(report)
    assert v["facebook"] == "blocked" and v["twitter"] == "unaffected"
    messages = [f.message for f in report.findings if f.code == "TE903"]
    assert len(messages) == 2 and all("assumed" in m for m in messages)


def test_a_later_file_decides_what_a_missing_earlier_one_left_open(lint):
    report = lint(
        {
            "privoxy/config": "actionsfile site-policy.action\nactionsfile user.action\n",
            "privoxy/user.action": "{ +block{x} }\n.facebook.com\n.fbcdn.net\n",
        }
    )
    v = verdicts(report)
    assert v["facebook"] == "blocked"
    assert v["twitter"] == "unknown"


def test_unterminated_section_is_te901_and_its_patterns_unknown(lint):
    report = lint(
        {
            "user.action": """
        { +block{Facebook.}
        .facebook.com
        { +block{Twitter.} }
        .twitter.com
        .x.com
    """
        }
    )
    v = verdicts(report)
    assert v["facebook"] == "unknown"
    assert v["twitter"] == "blocked"
    f = next(f for f in report.findings if f.code == "TE901")
    assert f.span.line == 2 and "refuses" in f.message


@pytest.mark.parametrize(
    "text,line",
    [
        (".facebook.com\n{ +block{x} }\n", 1),  # a pattern before the first section
        ("{ +block{x} +blokc }\n.facebook.com\n", 1),  # an unknown action or alias
        ("{ +handle-as-image{yes} }\n.facebook.com\n", 1),  # a boolean action with a value
        ("{ +redirect }\n.facebook.com\n", 1),  # a string action without one
    ],
)
def test_what_privoxy_refuses_is_te901(lint, text, line):
    report = lint({"user.action": text})
    assert [f.span.line for f in report.findings if f.code == "TE901"] == [line]


def test_invalid_path_regex_is_te905(lint):
    report = lint({"user.action": "{ +block{x} }\n.facebook.com/(\n.twitter.com\n"})
    assert "TE905" in codes(report)
    v = verdicts(report)
    assert v["twitter"] == "blocked-partial"  # x.com is not listed
    assert v["facebook"] == "unknown"  # what the broken pattern was meant to block is not known


def test_catastrophic_path_regex_is_bounded(lint):
    start = time.monotonic()
    report = lint({"user.action": "{ +block{x} }\n/(a+)+$\n/(x+x+)+y\n"})
    assert time.monotonic() - start < 30
    assert report.files


def test_nul_bytes_are_an_input_error_not_a_traceback(lint):
    report = lint({"user.action": "{ +block{x} }\n.facebook.com\x00\x00\n"})
    assert not report.files and "binary" in report.errors[0]


def test_nul_bytes_in_a_referenced_file_are_te902(lint):
    report = lint(
        {
            "privoxy/config": "actionsfile user.action\n",
            "privoxy/user.action": "{ +block{x} }\n\x00\x00\x00\n",
        }
    )
    assert "TE902" in codes(report)
    assert set(verdicts(report).values()) == {"unknown"}


def test_comments_and_continuation_lines(tmp_path, catalog):
    files = {
        "user.action": "{ +block{a \\# not a comment} \\\n  +handle-as-image }  # comment\n"
        ".facebook.com  # trailing comment\n"
    }
    d = decide(tmp_path, catalog, files, "https://www.facebook.com/")
    assert d.outcome == Outcome.DENY and "not a comment" in d.note


def test_huge_action_file_is_linted_in_bounded_time(lint):
    lines = ["{ +block{Generated.} }"]
    lines += [f".host{i}.example.org" for i in range(100_000)]
    lines += [f"/ads{i}/banner" for i in range(2_000)]
    lines += ["{ +block{Social.} }", ".facebook.com", ".fbcdn.net"]
    start = time.monotonic()
    report = lint({"user.action": "\n".join(lines) + "\n"})
    assert time.monotonic() - start < 30
    assert verdicts(report)["facebook"] == "blocked"


# ------------------------------------------------------------------ detection


@pytest.mark.parametrize(
    "name,head,expected",
    [
        ("user.action", "{ +block{x} }\n.facebook.com\n", True),
        ("config", "confdir /etc/privoxy\nactionsfile match-all.action\n", True),
        ("privoxy.conf", "", True),
        ("squid.conf", "http_access deny all\n", False),
        ("config", "[core]\n\trepositoryformatversion = 0\n", False),
    ],
)
def test_detection(name, head, expected):
    assert (
        privoxy.detect(Path("repo/privoxy" if name == "config" else "repo") / name, head) >= 0.5
    ) is expected


@pytest.mark.parametrize(
    "directive,args,kind",
    [
        ("forward", ["."], "direct"),
        ("forward", ["127.0.0.1:1"], "black-hole"),
        ("forward", ["0.0.0.0:9"], "black-hole"),
        ("forward", ["localhost:0"], "black-hole"),
        ("forward", ["[::1]:80"], "black-hole"),
        ("forward", ["0.0.0.0:8118"], "tunnel"),  # 0.0.0.0 reaches this machine, where a proxy may listen
        ("forward", ["127.0.0.1:47000"], "unknown"),
        ("forward", ["parent.example.net"], "tunnel"),  # default port 8000
        ("forward-socks5t", ["127.0.0.1:9050", "."], "tunnel"),
        ("forward-socks5", ["user:pass@socks.example.net:1080", "."], "tunnel"),
    ],
)
def test_forward_targets(directive, args, kind):
    assert privoxy.classify_target(directive, args)[0] == kind


def test_an_unknown_action_makes_its_section_unknown_not_blocked_or_clean(lint):
    """Issue #13 item 1: Privoxy refuses an actions file with an action it does not know
    (TE901); the section's hosts are neither blocked nor unaffected."""
    report = lint({"user.action": "{ +block{social} +frobnicate{x} }\n.facebook.com\n"})
    assert verdicts(report)["facebook"] == "unknown"
    assert "TE901" in [f.code for f in report.findings]
