"""Plain domain lists: claimed only when they say they are block lists."""

from __future__ import annotations

from pathlib import Path

from policy_lint.dialects.dns import domainlist
from tests.conftest import verdicts


def test_a_named_block_list_blocks_domains_and_subdomains_with_a_note(lint):
    report = lint(
        {
            "social-blocklist.txt": """
        facebook.com
        *.twitter.com
        .x.com
        example.org
    """
        }
    )
    v = verdicts(report)
    assert v["facebook"] == "blocked"
    assert v["twitter"] == "blocked"  # `*.twitter.com` and `.x.com` are read as whole subtrees
    note = next(f for f in report.findings if f.code == "TE903")
    assert "which tool reads" in note.message


def test_header_says_block_list(lint):
    report = lint(
        {
            "twitter.txt": """
        # Title: Twitter Block List
        twitter.com
        x.com
        t.co
    """
        }
    )
    assert verdicts(report)["twitter"] == "blocked"


def test_lists_that_do_not_say_so_are_not_claimed(lint):
    report = lint({"domains.txt": "facebook.com\ntwitter.com\nlinkedin.com\n"})
    assert not report.files and "cannot tell" in report.errors[0]


def test_allow_lists_are_not_claimed():
    head = "# whitelist\nfacebook.com\ntwitter.com\nlinkedin.com\n"
    assert domainlist.detect(Path("whitelist.txt"), head) == 0.0
    assert domainlist.detect(Path("optional-list.txt"), "# Allow these\n" + head) == 0.0


def test_dansguardian_include_of_another_topic(lint):
    report = lint(
        {
            "bannedsitelist": """
        partypoker.com
        yfum.com
        onlinecashmethod.com
        .Include</etc/dansguardian/lists/blacklists/ads/domains>
    """
        }
    )
    assert set(verdicts(report).values()) == {"unaffected"}
    assert any("another topic" in f.message for f in report.findings)
