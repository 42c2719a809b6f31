"""e2guardian / DansGuardian semantics, one rule per test, on small inline lists and configs."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from policy_lint import dialects
from policy_lint.dialects.proxies import dansguardian, e2guardian
from tests.conftest import detected_dialect, verdicts


def codes(report) -> list[str]:
    return [f.code for f in report.findings]


def finding(report, code: str, service: str | None = None):
    return next(f for f in report.findings if f.code == code and (service is None or f.service == service))


# ------------------------------------------------------------------ site lists


def test_site_entry_covers_the_domain_and_its_subdomains(lint):
    report = lint(
        {
            "e2guardian/lists/bannedsitelist": """
        facebook.com
        www.linkedin.com
    """
        }
    )
    v = verdicts(report)
    assert v["facebook"] == "blocked"  # www.facebook.com, m.facebook.com, facebook.com
    # an entry with www. does not cover the bare domain (checked against e2guardian 5.3.5)
    assert v["linkedin"] == "blocked-partial"
    assert v["twitter"] == v["ning"] == "unaffected"
    f = finding(report, "TE101", "facebook")
    assert (f.span.line, f.span.text) == (2, "facebook.com")


def test_site_entry_does_not_match_a_longer_name(lint):
    report = lint({"e2guardian/lists/bannedsitelist": "notfacebook.com\nwitter.com\n"})
    assert verdicts(report)["facebook"] == "unaffected"
    assert verdicts(report)["twitter"] == "unaffected"


def test_tld_entry_blocks_every_name_under_it(lint):
    report = lint({"dansguardian/lists/bannedsitelist": ".in\n"})
    v = verdicts(report)
    assert v["linkedin"] == "degraded"  # lnkd.in, the short-link domain
    assert v["facebook"] == "unaffected"


def test_comments_and_trailing_comments_are_ignored(lint):
    report = lint(
        {
            "e2guardian/lists/bannedsitelist": """
        #facebook.com
        twitter.com #twitter.com is fine here, x.com is not listed
    """
        }
    )
    v = verdicts(report)
    assert v["facebook"] == "unaffected"
    assert v["twitter"] == "blocked-partial"


# ------------------------------------------------------------------ exceptions win


def test_exception_site_wins_over_a_ban(lint):
    report = lint(
        {
            "e2guardian/e2guardianf1.conf": """
            bannedsitelist = '/etc/e2guardian/lists/bannedsitelist'
            exceptionsitelist = '/etc/e2guardian/lists/exceptionsitelist'
        """,
            "etc/e2guardian/lists/bannedsitelist": "facebook.com\ntwitter.com\nx.com\n",
            "etc/e2guardian/lists/exceptionsitelist": "facebook.com\n",
        }
    )
    v = verdicts(report)
    assert v["facebook"] == "allowed"
    assert v["twitter"] == "blocked"


def test_exception_regex_wins_over_a_ban_even_for_https(lint):
    report = lint(
        {
            "e2guardian/e2guardianf1.conf": """
            sitelist = 'name=banned,messageno=500,path=/etc/e2guardian/lists/bannedsitelist'
            regexpboollist = 'name=exception,messageno=609,path=/etc/e2guardian/lists/exceptionregexpurllist'
        """,
            "etc/e2guardian/lists/bannedsitelist": "linkedin.com\nlicdn.com\n",
            "etc/e2guardian/lists/exceptionregexpurllist": "linkedin\n",
        }
    )
    v = verdicts(report)
    assert v["linkedin"] == "degraded"  # the site is excepted, its CDN (licdn.com) is not


def test_exception_list_alone_allows_what_it_names(lint):
    report = lint({"e2guardian/lists/exceptionsitelist": "linkedin.com\n"})
    v = verdicts(report)
    assert v["linkedin"] == "allowed"
    assert v["facebook"] == "unaffected"
    assert not [c for c in codes(report) if c.startswith("TE1")]


def test_generic_exception_regex_names_no_service(lint):
    # corpus case 07: an exception for any URL containing mock_ajax_proxy.php
    report = lint(
        {
            "e2guardian/lists/example.group/exceptionregexpurllist": """
        # Allow Facebook plugin applications like
        # http://apps.facebook.com/neighborhoods/Setup.aspx and others.
        mock_ajax_proxy.php
    """
        }
    )
    assert set(verdicts(report).values()) == {"unaffected"}


# ------------------------------------------------------------------ URL lists


def test_url_entry_is_a_path_prefix_and_not_the_front_page(lint):
    report = lint(
        {
            "e2guardian/lists/bannedurllist": """
        facebook.com/plugins
        linkedin.com
    """
        }
    )
    v = verdicts(report)
    # /plugins/like.php is a widget: hygiene, not a block of the site
    assert v["facebook"] == "unaffected"
    assert "TE201" in codes(report)
    # URL lists are not consulted for a site-only URL (checked against e2guardian 5.3.5)
    assert v["linkedin"] == "unaffected"


def test_url_lists_never_see_https_without_mitm(lint):
    report = lint({"e2guardian/lists/bannedurllist": "www.facebook.com/tr\n"})
    tr = [f for f in report.findings if f.code == "TE201"]
    assert tr and all("facebook" in f.message.lower() for f in tr)
    decisions = _decisions(report, lint, "facebook", "/tr")
    assert decisions == {"http": "deny", "https": "allow"}


def test_url_lists_apply_to_https_under_sslmitm(lint):
    report = lint(
        {
            "e2guardian/e2guardianf1.conf": """
            bannedurllist = '/etc/e2guardian/lists/bannedurllist'
            sslmitm = on
        """,
            "etc/e2guardian/lists/bannedurllist": "www.facebook.com/tr\n",
        }
    )
    assert _decisions(report, lint, "facebook", "/tr") == {"http": "deny", "https": "deny"}


def _decisions(report, lint, service: str, path: str) -> dict[str, str]:
    """Outcome per scheme for the probe of `service` with `path`, from the linted file."""
    rs = _ruleset(report)
    return {
        p.scheme: rs.evaluate(p, rs.audiences()[0]).outcome.value
        for p in rs.catalog.services[service].probes()
        if p.path == path
    }


def _root_of(path: Path) -> Path:
    for parent in path.parents:
        if (parent / "e2guardian").is_dir() or (parent / "dansguardian").is_dir():
            return parent
    return path.parent


# ------------------------------------------------------------------ regex lists


def test_regex_matches_the_url_without_scheme_and_the_host_of_a_connect(lint):
    report = lint(
        {
            "e2guardian/lists/bannedregexpurllist": r"""
        (^|\.)twitter\.com
        ^http://.*linkedin
    """
        }
    )
    v = verdicts(report)
    assert v["twitter"] == "blocked-partial"  # x.com still reachable
    # the subject never starts with a scheme, so this pattern matches nothing
    assert v["linkedin"] == "unaffected"


def test_regex_is_case_insensitive(lint):
    report = lint({"e2guardian/lists/bannedregexpurllist": "FACEBOOK\n"})
    assert verdicts(report)["facebook"] == "blocked"


def test_invalid_regex_is_reported_and_blocks_nothing(lint):
    report = lint({"e2guardian/lists/bannedregexpurllist": "face(book\n"})
    assert "TE905" in codes(report)
    assert verdicts(report)["facebook"] == "unaffected"


def test_regex_that_runs_out_of_time_makes_the_verdict_unknown(lint, monkeypatch):
    from policy_lint.dialects.semantics.patterns import BoundedPattern

    real = BoundedPattern.search
    monkeypatch.setattr(
        BoundedPattern, "search", lambda self, text: None if "slow" in self.source else real(self, text)
    )
    report = lint({"e2guardian/lists/bannedregexpurllist": "slow(a+)+$\n"})
    assert "TE905" in codes(report)
    assert set(verdicts(report).values()) == {"unknown"}


# ------------------------------------------------------------------ includes


def test_include_pulls_in_another_list_with_a_trace(lint):
    report = lint(
        {
            "dansguardian/lists/bannedsitelist": """
            partypoker.com
            .Include</etc/dansguardian/lists/blacklists/socialnet/domains>
        """,
            "etc/dansguardian/lists/blacklists/socialnet/domains": "facebook.com\nfbcdn.net\n",
        }
    )
    assert verdicts(report)["facebook"] == "blocked"
    f = finding(report, "TE101", "facebook")
    assert f.span.path.endswith("blacklists/socialnet/domains")
    assert any(".Include<" in s.text for s in f.trace)
    assert report.files[0].dialect == "dansguardian"


def test_missing_include_with_a_generic_name_makes_the_verdict_unknown(lint):
    report = lint({"e2guardian/lists/bannedsitelist": ".Include</etc/e2guardian/lists/blocked>\n"})
    assert "TE903" in codes(report)
    assert set(verdicts(report).values()) == {"unknown"}


def test_missing_include_of_another_topic_is_assumed_not_to_name_services(lint):
    # corpus case 22: the squidGuard ads category
    report = lint(
        {
            "dansguardian/lists/bannedsitelist": """
        yfum.com
        .Include</etc/dansguardian/lists/blacklists/ads/domains>
        #.Include</etc/dansguardian/lists/blacklists/chat/domains>
    """
        }
    )
    f = finding(report, "TE903")
    assert "another topic" in f.message and f.span.line == 3
    assert set(verdicts(report).values()) == {"unaffected"}


def test_include_loop_is_reported_not_followed_forever(lint):
    report = lint(
        {
            "e2guardian/lists/bannedsitelist": ".Include</etc/e2guardian/lists/more>\nfacebook.com\n",
            "etc/e2guardian/lists/more": ".Include</etc/e2guardian/lists/bannedsitelist>\ntwitter.com\n",
            "etc/e2guardian/lists/bannedsitelist": ".Include</etc/e2guardian/lists/more>\n",
        }
    )
    assert "TE904" in codes(report)
    assert verdicts(report)["twitter"] == "blocked-partial"


def test_include_cannot_escape_the_root(lint, tmp_path):
    outside = tmp_path.parent / "outside-e2g-list"
    outside.write_text("facebook.com\n")
    report = lint({"e2guardian/lists/bannedsitelist": f".Include<{outside}/../outside-e2g-list>\n"})
    # not read: the reference resolves outside --root and the config's directory
    assert verdicts(report)["facebook"] != "blocked"
    assert "TE903" in codes(report)


# ------------------------------------------------------------------ blanket blocks


def test_blanket_block_denies_everything_not_excepted(lint):
    report = lint(
        {
            "dansguardian/dansguardianf1.conf": """
            bannedsitelist = '/etc/dansguardian/lists/bannedsitelist'
            exceptionsitelist = '/etc/dansguardian/lists/exceptionsitelist'
        """,
            "etc/dansguardian/lists/bannedsitelist": "**\n",
            "etc/dansguardian/lists/exceptionsitelist": "linkedin.com\nlicdn.com\nlnkd.in\n",
        }
    )
    v = verdicts(report)
    # a walled garden: the control site is denied too, and Facebook with it; not "all web
    # access is denied" (TE105), since LinkedIn gets through ...
    assert v["facebook"] == "blocked" and "TE105" not in codes(report) and "TE101" in codes(report)
    # ... except for the listed service, which is explicitly allowed
    assert v["linkedin"] == "allowed"


def test_blanket_block_alone_is_all_web_denied(lint):
    report = lint({"dansguardian/lists/bannedsitelist": "**\n"})
    assert set(verdicts(report).values()) == {"blocked"}
    assert "TE105" in codes(report)


def test_blanket_ssl_block_blocks_only_https(lint):
    report = lint({"dansguardian/lists/bannedsitelist": "**s\n"})
    # every HTTPS site is denied, the control too: not a block of these services in particular
    assert set(verdicts(report).values()) == {"unaffected"}
    assert "TE101" not in codes(report)


def test_blanket_ip_block_never_touches_named_hosts(lint):
    report = lint({"dansguardian/lists/bannedsitelist": "*ip\n**ips\n"})
    assert set(verdicts(report).values()) == {"unaffected"}


def test_e2guardian5_ignores_blanket_markers_in_lists(lint):
    report = lint(
        {
            "e2guardian/e2guardianf1.conf": """
            sitelist = 'name=banned,messageno=500,path=/etc/e2guardian/lists/bannedsitelist'
            storyboard = '/etc/e2guardian/examplef1.story'
        """,
            "etc/e2guardian/lists/bannedsitelist": "**\n",
            "etc/e2guardian/examplef1.story": ".Include</etc/e2guardian/common.story>\n",
            "etc/e2guardian/common.story": "function(checkblanketblock)\n",
        }
    )
    assert set(verdicts(report).values()) == {"unaffected"}


def test_e2guardian5_storyboard_blanket_block(lint):
    report = lint(
        {
            "e2guardian/e2guardianf1.conf": """
            sitelist = 'name=exception,messageno=602,path=/etc/e2guardian/lists/exceptionsitelist'
            storyboard = '/etc/e2guardian/examplef1.story'
        """,
            "etc/e2guardian/lists/exceptionsitelist": "ning.com\nningim.com\n",
            "etc/e2guardian/examplef1.story": """
            .Include</etc/e2guardian/common.story>
            function(checkblanketblock)
            if(true,,502) return setblock  # = ** total blanket
            function(sslcheckblanketblock)
            if(true,,506) return setblock  # = **s total blanket
        """,
            "etc/e2guardian/common.story": "function(checkblanketblock)\nfunction(sslcheckblanketblock)\n",
        }
    )
    v = verdicts(report)
    assert v["ning"] == "allowed"
    assert v["facebook"] == "blocked"


# ------------------------------------------------------------------ content filtering


def test_phrase_list_is_content_filtering_not_a_block(lint):
    report = lint(
        {
            "e2guardian/lists/bannedphraselist": """
        < sex >
        <casino>,<poker>
    """
        }
    )
    assert set(verdicts(report).values()) == {"unaffected"}
    rs = _ruleset(report)
    assert any("content filtering" in n.message for n in rs.notes)


def test_phrase_naming_a_service_blocks_its_pages_where_content_is_seen(lint):
    report = lint(
        {
            "e2guardian/lists/weightedphraselist": """
        < facebook ><100>
        < morning ><100>
    """
        }
    )
    v = verdicts(report)
    # only plain-HTTP pages are scanned without MITM; "morning" does not name Ning
    assert v["facebook"] == "blocked-partial"
    assert v["ning"] == "unaffected"


def test_weighted_phrase_below_the_limit_does_not_block_alone(lint):
    report = lint({"e2guardian/lists/weightedphraselist": "< twitter ><20>\n"})
    assert verdicts(report)["twitter"] == "unaffected"


def _ruleset(report):
    from policy_lint.catalog import load_catalog
    from policy_lint.dialects.semantics.base import ParseContext
    from policy_lint.inputs import Resolver

    path = Path(report.files[0].path)
    module = dialects.DIALECTS[report.files[0].dialect]
    return module.parse(path, ParseContext(Resolver(_root_of(path.resolve())), load_catalog()))


# ------------------------------------------------------------------ lists the linter does not evaluate
# e2guardianf1.conf / dansguardianf1.conf (stock, v4 and DansGuardian 2.10): "bannedregexpheaderlist
# is one regular expression per line, with matching headers causing a request to be blocked";
# common.story (v5): `if(headerin, bannedheader) return setblock`, `if(refererin,
# refererexception) return setexception`, `if(fullurlin, change) setmodurl`. The linter does not
# see request headers nor evaluate rewrites: what they could decide is unknown (TE908).


@pytest.mark.parametrize("product", ["e2guardian", "dansguardian"])
def test_a_banned_header_regexp_list_makes_what_it_could_block_unknown(lint, product):
    report = lint(
        {
            f"{product}/{product}f1.conf": f"""
            bannedsitelist = '/etc/{product}/lists/bannedsitelist'
            bannedregexpheaderlist = '/etc/{product}/lists/bannedregexpheaderlist'
        """,
            f"etc/{product}/lists/bannedsitelist": "twitter.com\nx.com\ntwimg.com\nt.co\n",
            f"etc/{product}/lists/bannedregexpheaderlist": "# by the Host header\nHost: .*facebook\n",
        }
    )
    v = verdicts(report)
    assert v["facebook"] == "unknown"  # never unaffected: the Host line names it
    assert v["twitter"] == "blocked"  # the banned site list decides before the header check
    f = finding(report, "TE908")
    assert (f.span.path.endswith("bannedregexpheaderlist"), f.span.line) == (True, 2)


def test_an_exception_by_referer_makes_a_block_unknown(lint):
    # a request referred by a listed site is an exception: a banned site is not blocked for it
    report = lint(
        {
            "dansguardian/dansguardianf1.conf": """
            bannedsitelist = '/etc/dansguardian/lists/bannedsitelist'
            refererexceptionsitelist = '/etc/dansguardian/lists/refererexceptionsitelist'
        """,
            "etc/dansguardian/lists/bannedsitelist": "facebook.com\nfacebook.net\nfbcdn.net\nfb.com\n",
            "etc/dansguardian/lists/refererexceptionsitelist": "school.example\n",
        }
    )
    v = verdicts(report)
    assert v["facebook"] == "unknown"
    assert v["twitter"] == "unaffected"  # an exception never blocks
    assert "TE908" in codes(report)


def test_v5_header_list_by_its_name(lint):
    report = lint(
        {
            "e2guardian/e2guardianf1.conf": """
            sitelist = 'name=banned,messageno=500,path=/etc/e2guardian/lists/bannedsitelist'
            regexpboollist = 'name=bannedheader,messageno=508,path=/etc/e2guardian/lists/bannedregexpheaderlist'
        """,
            "etc/e2guardian/lists/bannedsitelist": "ning.com\n",
            "etc/e2guardian/lists/bannedregexpheaderlist": "^cookie:.*c_user=\n",
        }
    )
    v = verdicts(report)
    assert v["facebook"] == "unknown"
    assert v["ning"] == "blocked"


def test_a_url_rewrite_is_unknown_only_where_its_regex_matches(lint):
    report = lint(
        {
            "dansguardian/dansguardianf1.conf": "urlregexplist = '/etc/dansguardian/lists/urlregexplist'\n",
            "etc/dansguardian/lists/urlregexplist": """
            # rewrite Facebook to the school's block page
            "^(http://|https://)?([^/]*\\.)?facebook\\.com"->"http://block.school.example"
        """,
        }
    )
    v = verdicts(report)
    assert v["facebook"] == "unknown"
    assert v["twitter"] == v["linkedin"] == v["ning"] == "unaffected"  # the regex cannot match them
    f = finding(report, "TE908")
    assert f.span.line == 3


def test_a_missing_header_list_is_unknown(lint):
    report = lint(
        {
            "e2guardian/e2guardianf1.conf": """
            bannedsitelist = '/etc/e2guardian/lists/bannedsitelist'
            headerregexplist = '/etc/e2guardian/lists/headerregexplist'
        """,
            "etc/e2guardian/lists/bannedsitelist": "linkedin.com\nlicdn.com\nlnkd.in\n",
        }
    )
    v = verdicts(report)
    assert "TE903" in codes(report)
    assert v["linkedin"] == v["twitter"] == "unknown"  # a rewritten request is checked rewritten


def test_empty_header_lists_and_mime_or_extension_lists_decide_nothing(lint):
    # bannedmimetypelist / bannedextensionlist block downloads by type: the services' pages are
    # HTML from paths without a file extension. A header list with only comments decides nothing.
    report = lint(
        {
            "dansguardian/dansguardianf1.conf": """
            bannedsitelist = '/etc/dansguardian/lists/bannedsitelist'
            bannedmimetypelist = '/etc/dansguardian/lists/bannedmimetypelist'
            bannedextensionlist = '/etc/dansguardian/lists/bannedextensionlist'
            bannedregexpheaderlist = '/etc/dansguardian/lists/bannedregexpheaderlist'
        """,
            "etc/dansguardian/lists/bannedsitelist": "twitter.com\nx.com\ntwimg.com\nt.co\n",
            "etc/dansguardian/lists/bannedmimetypelist": "application/x-msdownload\nvideo/mp4\n",
            "etc/dansguardian/lists/bannedextensionlist": ".exe\n.php\n",
            "etc/dansguardian/lists/bannedregexpheaderlist": "#Host: .*facebook\n",
        }
    )
    v = verdicts(report)
    assert v["twitter"] == "blocked"
    assert v["facebook"] == "unaffected"
    assert "TE908" not in codes(report)


# ------------------------------------------------------------------ groups


def test_groupmode_unfiltered_group_makes_a_block_partial(lint):
    report = lint(
        {
            "dansguardian/dansguardian.conf": "filtergroups = 2\nfiltergroupslist = '/etc/dansguardian/lists/filtergroupslist'\n",
            "dansguardian/dansguardianf1.conf": "groupname = 'pupils'\nbannedsitelist = '/etc/dansguardian/lists/bannedsitelist'\n",
            "dansguardian/dansguardianf2.conf": "groupname = 'staff'\ngroupmode = 2\n",
            "dansguardian/lists/bannedsitelist": "facebook.com\n",
        }
    )
    v = verdicts(report)
    assert v["facebook"] == "blocked-partial"
    f = finding(report, "TE102", "facebook")
    assert "filter group 1 (pupils)" in f.message


def test_v5_main_config_loads_its_group_configs(lint):
    report = lint(
        {
            "e2guardian/e2guardian.conf": """
            filterports = 8080
            filtergroups = 1
            iplist = 'name=exceptionclient,messageno=600,path=/etc/e2guardian/lists/exceptioniplist'
            sitelist = 'name=authexception,messageno=602,path=/etc/e2guardian/lists/authexceptionsitelist'
        """,
            "e2guardian/e2guardianf1.conf": "sitelist = 'name=banned,messageno=500,path=/etc/e2guardian/lists/bannedsitelist'\n",
            "e2guardian/lists/bannedsitelist": "facebook.com\n",
            "e2guardian/lists/exceptioniplist": "#192.168.0.1\n",
            "e2guardian/lists/authexceptionsitelist": "",
        }
    )
    assert verdicts(report)["facebook"] == "blocked"
    assert any(p.endswith("e2guardianf1.conf") for p in report.files[0].included)


def test_exempt_client_addresses_make_a_block_partial(lint):
    report = lint(
        {
            "dansguardian/dansguardian.conf": """
            filtergroups = 1
            exceptioniplist = '/etc/dansguardian/lists/exceptioniplist'
        """,
            "dansguardian/dansguardianf1.conf": "bannedsitelist = '/etc/dansguardian/lists/bannedsitelist'\n",
            "dansguardian/lists/bannedsitelist": "facebook.com\n",
            "dansguardian/lists/exceptioniplist": "192.168.0.10\n",
        }
    )
    assert verdicts(report)["facebook"] == "blocked-partial"


def test_missing_group_config_is_unknown(lint):
    report = lint({"e2guardian/e2guardian.conf": "filtergroups = 1\nfilterports = 8080\n"})
    assert "TE903" in codes(report)
    assert set(verdicts(report).values()) == {"unknown"}


def test_time_limited_list_blocks_only_in_its_window(lint):
    report = lint({"dansguardian/lists/bannedsitelist": "#time: 9 0 17 0 01234\nfacebook.com\n"})
    assert verdicts(report)["facebook"] == "blocked-partial"
    assert "09:00-17:00" in finding(report, "TE102", "facebook").message


def test_grey_list_skips_url_bans(lint):
    report = lint(
        {
            "dansguardian/dansguardianf1.conf": """
            bannedsitelist = '/etc/dansguardian/lists/bannedsitelist'
            greysitelist = '/etc/dansguardian/lists/greysitelist'
        """,
            "etc/dansguardian/lists/bannedsitelist": "twitter.com\nx.com\n",
            "etc/dansguardian/lists/greysitelist": "twitter.com\nx.com\n",
        }
    )
    assert verdicts(report)["twitter"] == "unaffected"


# ------------------------------------------------------------------ detection


@pytest.mark.parametrize(
    "name, head, module",
    [
        ("e2guardian/lists/bannedsitelist", "facebook.com\n", e2guardian),
        ("dansguardian/lists/bannedsitelist", "facebook.com\n", dansguardian),
        ("lists/exceptionregexpurllist", "news\n", e2guardian),
        ("etc/dansguardian/dansguardianf1.conf", "groupmode = 1\n", dansguardian),
        ("etc/e2guardian/e2guardian.conf", "filtergroups = 1\n", e2guardian),
        ("conf/group1.conf", "sitelist = 'name=banned,path=/x'\ngroupname = 'a'\n", e2guardian),
    ],
)
def test_detection_by_name_and_content(name, head, module):
    assert dialects.detect(Path(name), head) is module


def test_squid_conf_is_not_claimed():
    assert detected_dialect(Path("squid.conf"), "http_access deny all\n") == "squid"
    assert e2guardian.detect(Path("README.md"), "# e2guardian notes\n") < 0.5


# ------------------------------------------------------------------ bad input


def test_nul_bytes_in_an_included_list_are_reported(lint, tmp_path):
    (tmp_path / "etc/e2guardian/lists").mkdir(parents=True)
    (tmp_path / "etc/e2guardian/lists/binary").write_bytes(b"facebook.com\x00\x00\x01\x02" * 100)
    report = lint(
        {"e2guardian/lists/bannedsitelist": ".Include</etc/e2guardian/lists/binary>\ntwitter.com\n"}
    )
    assert "TE902" in codes(report)
    assert verdicts(report)["twitter"] == "blocked-partial"


def test_nul_bytes_in_the_main_file_are_an_input_error(lint, tmp_path):
    p = tmp_path / "e2guardian/lists/bannedsitelist"
    p.parent.mkdir(parents=True)
    p.write_bytes(b"face\x00book.com\n")
    from policy_lint.catalog import load_catalog
    from policy_lint.engine import Options, lint_paths
    from policy_lint.policy import strict_policy

    cat = load_catalog()
    report = lint_paths([p], cat, strict_policy(cat), Options(root=tmp_path))
    assert report.errors and "binary" in report.errors[0]


def test_garbled_and_unterminated_lines_do_not_crash(lint):
    report = lint(
        {
            "e2guardian/e2guardianf1.conf": """
            bannedsitelist = '/etc/e2guardian/lists/bannedsitelist
            groupmode = lots
            naughtynesslimit = x
            = orphan value
            sitelist = 'name=banned,path='
        """,
            "etc/e2guardian/lists/bannedsitelist": ".Include</etc/e2guardian/lists/unterminated\n<<<>>>\n\tfacebook.com\n",
        }
    )
    assert report.files and not report.errors
    assert "TE903" in codes(report)


def test_hundred_thousand_line_list_in_bounded_time(lint, tmp_path):
    p = tmp_path / "dansguardian/lists/bannedsitelist"
    p.parent.mkdir(parents=True)
    lines = [f"site{i}.example{i % 97}.org" for i in range(100_000)] + ["linkedin.com"]
    p.write_text("\n".join(lines) + "\n")
    from policy_lint.catalog import load_catalog
    from policy_lint.engine import Options, lint_paths
    from policy_lint.policy import strict_policy

    cat = load_catalog()
    start = time.monotonic()
    report = lint_paths([p], cat, strict_policy(cat), Options(root=tmp_path))
    assert time.monotonic() - start < 20
    assert verdicts(report)["linkedin"] == "blocked"
