"""AdBlock Plus / uBlock Origin / AdGuard lists, one rule per test, evaluated by adblock-rust."""

from __future__ import annotations

import time
from pathlib import Path

from policy_lint.engine import Options, lint_paths
from policy_lint.policy import strict_policy
from tests.conftest import detected_dialect, verdicts

UNAFFECTED = {
    "facebook": "unaffected",
    "twitter": "unaffected",
    "linkedin": "unaffected",
    "ning": "unaffected",
}


def codes(report) -> list[str]:
    return [f.code for f in report.findings]


def lint_list(lint, text: str, name: str = "social-filters.txt"):
    return lint({name: "[Adblock Plus 2.0]\n! Title: test\n" + text.lstrip("\n")})


def test_domain_anchor_blocks_the_site_and_every_subdomain(lint):
    report = lint_list(lint, "||facebook.com^\n")
    assert verdicts(report)["facebook"] == "blocked"
    f = next(f for f in report.findings if f.code == "TE101")
    assert (f.span.line, f.span.text) == (3, "||facebook.com^")


def test_an_exception_wins_over_a_block(lint):
    report = lint_list(
        lint,
        """
        ||facebook.com^
        @@||facebook.com^
    """.replace("        ", ""),
    )
    v = verdicts(report)
    assert v["facebook"] == "allowed"
    assert not [c for c in codes(report) if c.startswith("TE1")]


def test_important_beats_the_exception(lint):
    report = lint_list(lint, "||facebook.com^$important\n@@||facebook.com^\n")
    assert verdicts(report)["facebook"] == "blocked"
    assert next(f for f in report.findings if f.code == "TE101").span.line == 3


def test_badfilter_cancels_the_rule(lint):
    report = lint_list(lint, "||twitter.com^\n||x.com^\n||twitter.com^$badfilter\n||x.com^$badfilter\n")
    assert verdicts(report) == UNAFFECTED


def test_a_generic_pattern_blocks_subrequests_not_the_page(lint):
    # `facebook` (no domain anchor, no $document) never stops a page load, only requests made
    # from pages: here graph.facebook.com's API calls, so the site is degraded, not blocked.
    report = lint_list(lint, "facebook\n")
    assert verdicts(report)["facebook"] == "degraded"
    f = next(f for f in report.findings if f.code == "TE103")
    assert "graph.facebook.com" in f.message
    # a path pattern catches only the like button embedded on other sites: hygiene
    report = lint_list(lint, "/plugins/like.php\n")
    assert verdicts(report)["facebook"] == "unaffected"
    assert "TE201" in codes(report)


def test_document_option_makes_a_generic_pattern_block_the_page(lint):
    report = lint_list(lint, "facebook$document\n")
    assert verdicts(report)["facebook"] == "blocked"


def test_a_subrequest_type_block_on_the_cdn_degrades(lint):
    report = lint_list(lint, "||twimg.com^$image\n")
    assert verdicts(report)["twitter"] == "degraded"
    f = next(f for f in report.findings if f.code == "TE103")
    assert "image request" in f.message


def test_third_party_rule_does_not_stop_a_user_opening_the_site(lint):
    report = lint_list(lint, "||facebook.com^$third-party\n")
    assert verdicts(report)["facebook"] == "unaffected"
    assert "TE201" in codes(report)


def test_hosts_syntax_and_bare_domain_lines_are_domain_rules(lint):
    report = lint_list(lint, "0.0.0.0 twitter.com\nlinkedin.com\n")
    v = verdicts(report)
    # twitter.com and its subdomains; x.com is not named
    assert v["twitter"] == "blocked-partial"
    assert v["linkedin"] == "blocked"


def test_cosmetic_only_lists_block_nothing(lint):
    report = lint_list(
        lint,
        """
        facebook.com##.ad-banner
        twitter.com,x.com#@#.promoted
        ##.sponsored
        linkedin.com#?#div:has(> .ad)
        example.com#%#//scriptlet('abort-on-property-read', 'x')
    """.replace("        ", ""),
    )
    assert verdicts(report) == UNAFFECTED
    assert not report.findings


def test_www_filter_covers_only_www(lint):
    # adblock-rust 0.6 drops a leading `www.` (so it would block linkedin.com too); uBlock
    # Origin, Adblock Plus and AdGuard do not.
    report = lint_list(lint, "||www.linkedin.com^\n")
    assert verdicts(report)["linkedin"] == "blocked-partial"


def test_popup_rules_are_ignored_and_all_blocks(lint):
    report = lint_list(lint, "||facebook.com^$popup\n||twitter.com^$all\n||x.com^$all\n")
    v = verdicts(report)
    assert v["facebook"] == "unaffected"
    assert v["twitter"] == "blocked"


def test_an_option_the_engine_does_not_evaluate_makes_the_verdict_unknown(lint):
    report = lint_list(lint, "||facebook.com^$denyallow=example.org\n")
    assert verdicts(report)["facebook"] == "unknown"
    assert "TE908" in codes(report)


def test_exception_list_alone_allows(lint):
    report = lint_list(lint, "@@||linkedin.com^$document\n")
    assert verdicts(report)["linkedin"] == "allowed"


def test_include_is_followed_and_a_missing_one_is_unknown(lint):
    report = lint(
        {"main-filters.txt": "[Adblock Plus 2.0]\n!#include social.txt\n", "social.txt": "||facebook.com^\n"}
    )
    assert verdicts(report)["facebook"] == "blocked"
    report = lint({"other-filters.txt": "[Adblock Plus 2.0]\n!#include lists/blocked.txt\n||x.com^\n"})
    v = verdicts(report)
    assert v["facebook"] == "unknown"
    assert "TE903" in codes(report)


def test_all_web_denied_by_a_document_catch_all(lint):
    report = lint_list(lint, "*$document\n")
    assert verdicts(report)["facebook"] == "blocked"
    assert "TE105" in codes(report)


def test_detection_by_header_and_by_name(lint, tmp_path):
    assert detected_dialect(Path("x.txt"), "[Adblock Plus 2.0]\n||a.com^\n") == "abp"
    assert detected_dialect(Path("adguard_twitter.txt"), "||twitter.com^\n||t.co^\n||x.com^\n") == "adguard"
    assert detected_dialect(Path("list.txt"), "||a.com^\n||b.com^\n||c.com^\n") == "abp"


# --------------------------------------------------------------------------- bad input


def test_crlf_line_ends(lint):
    report = lint({"filters.txt": "[Adblock Plus 2.0]\r\n||facebook.com^\r\n||twimg.com^$image\r\n"})
    v = verdicts(report)
    assert v["facebook"] == "blocked"
    assert v["twitter"] == "degraded"


def test_nul_bytes_are_reported_and_the_rest_is_read(tmp_path, catalog):
    p = tmp_path / "filters.txt"
    p.write_bytes(
        b"[Adblock Plus 2.0]\n" + b"||ads.example.net^\n" * 2000 + b"||twit\x00ter.com^\n||facebook.com^\n"
    )
    report = lint_paths([p], catalog, strict_policy(catalog), Options(root=tmp_path))
    v = verdicts(report)
    assert v["facebook"] == "blocked" and v["twitter"] == "unaffected"
    assert any(f.code == "TE902" and "NUL" in f.message for f in report.findings)


def test_a_binary_file_is_refused_with_a_message(tmp_path, catalog):
    p = tmp_path / "filters.txt"
    p.write_bytes(b"\x00\x01\x02" * 4000)
    report = lint_paths([p], catalog, strict_policy(catalog), Options(root=tmp_path, dialect="abp"))
    assert report.errors and "binary" in report.errors[0]


def test_a_million_malformed_lines_are_bounded_in_time_and_memory(tmp_path, catalog):
    p = tmp_path / "filters.txt"
    with open(p, "w") as fh:
        fh.write("[Adblock Plus 2.0]\n")
        for i in range(500_000):
            fh.write(f"%%garbage{i}%%~~\n<<{i}>> not a filter\n")
        fh.write("||facebook.com^\n")
    start = time.perf_counter()
    report = lint_paths([p], catalog, strict_policy(catalog), Options(root=tmp_path))
    assert time.perf_counter() - start < 20
    assert verdicts(report)["facebook"] == "blocked"


def test_popup_with_another_type_still_blocks_that_type(lint):
    report = lint_list(lint, "||facebook.com^$doc,popup\n")
    assert verdicts(report)["facebook"] == "blocked"


def test_badfilter_with_options_in_another_order(lint):
    report = lint_list(
        lint,
        "||facebook.com^$document,third-party\n"
        "||facebook.com^$badfilter,document,third-party\n||linkedin.com^$document\n"
        "||linkedin.com^$document,badfilter\n",
    )
    v = verdicts(report)
    assert v["facebook"] == "unaffected"
    assert v["linkedin"] == "unaffected"


def test_an_exception_the_engine_cannot_evaluate_leaves_the_block_undecided(lint):
    report = lint_list(lint, "||twitter.com^\n||x.com^\n@@||x.com^$denyallow=example.org\n")
    # twitter.com is blocked for sure; whether x.com is, the engine cannot say
    assert verdicts(report)["twitter"] == "blocked-partial"
    assert "TE908" in codes(report)
    report = lint_list(lint, "||linkedin.com^\n@@||linkedin.com^$denyallow=example.org\n")
    assert verdicts(report)["linkedin"] == "unknown"


def test_regex_filters_are_evaluated_and_prefiltered_by_their_literals(lint):
    from policy_lint.dialects.dns.adblock import regex_literals

    assert regex_literals(r"^https?:\/\/ads1\.[a-z]+\.com\/") == ("http", "://ads1.", ".com/")
    assert regex_literals(r"^https?://(www\.)?facebook\.com/(plugins|tr)") == ("http", "://", "facebook.com/")
    assert regex_literals(r"twitter|x") == ()  # an alternation: no literal is certain
    report = lint_list(
        lint, "/^https?:\\/\\/ads1\\.[a-z]+\\.com\\//\n/^https?:\\/\\/(www\\.)?linkedin\\.com\\//$document\n"
    )
    assert verdicts(report)["linkedin"] == "blocked"  # both page hosts: linkedin.com and www.
