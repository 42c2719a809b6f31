"""squidGuard semantics, one rule per test, on small inline configs (and the squid chain)."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest

from policy_lint.dialects import DIALECTS, detect
from policy_lint.dialects.proxies import squidguard as sg
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.inputs import Resolver
from policy_lint.model import Outcome, Probe, Span
from tests.conftest import verdicts

CONF = "etc/squidguard/squidGuard.conf"
REDIRECT = "redirect http://proxy.lan/blocked.html"


def codes(report) -> list[str]:
    return [f.code for f in report.findings]


def conf(acl: str, dests: str = "", head: str = "") -> str:
    return f"dbhome /db\nlogdir /var/log/squidguard\n{head}\n{dests}\nacl {{\n{acl}\n}}\n"


def social(domains: str = "facebook.com", urls: str | None = None, expressions: str | None = None) -> dict:
    files = {"db/social/domains": domains + "\n"}
    body = "dest social {\n    domainlist social/domains\n"
    if urls is not None:
        files["db/social/urls"] = urls + "\n"
        body += "    urllist social/urls\n"
    if expressions is not None:
        files["db/social/expressions"] = expressions + "\n"
        body += "    expressionlist social/expressions\n"
    return {"dest": body + "}\n", **files}


def lint_sg(lint, acl: str, lists: dict | None = None, head: str = "", extra: dict | None = None):
    lists = dict(lists or {})
    dests = lists.pop("dest", "")
    files = {CONF: conf(acl, dests, head), **lists, **(extra or {})}
    return lint(files)


def probe(host: str, scheme: str = "https", path: str = "/") -> Probe:
    return Probe("facebook", host, "primary", scheme, 443 if scheme == "https" else 80, path)


# ------------------------------------------------------------------ detection and requests


def test_squidguard_conf_is_detected_as_squidguard_not_squid():
    head = "dbhome /var/lib/squidguard/db\nacl {\n default {\n  pass all\n }\n}\n"
    by_name = detect(Path("squidGuard.conf"), head)
    assert by_name is not None and by_name.NAME == "squidguard"
    by_text = detect(Path("filter.conf"), "dest adv {\n domainlist adv/domains\n}\n" + head)
    assert by_text is not None and by_text.NAME == "squidguard"
    assert "squidguard" in DIALECTS


def test_https_reaches_squidguard_as_connect_host_port_without_path():
    r = sg.parse_request(sg.request_line_url(probe("www.facebook.com", "https", "/plugins/like.php")))
    assert (r.domain, r.surl, r.furl) == ("www.facebook.com", "facebook.com", "www.facebook.com:443")
    r = sg.parse_request("http://User@WWW2.Ning.com:8080/Groups/X")
    assert (r.domain, r.surl, r.furl) == ("www2.ning.com", "ning.com/groups/x", "www2.ning.com:8080/groups/x")


# ------------------------------------------------------------------ destinations


def test_domainlist_entry_covers_the_domain_and_every_subdomain(lint):
    report = lint_sg(
        lint, f"default {{\n pass !social all\n {REDIRECT}\n}}", social("facebook.com\nlicdn.com")
    )
    v = verdicts(report)
    assert v["facebook"] == "blocked"  # facebook.com, www., m. all listed through one entry
    assert v["linkedin"] == "degraded"  # static.licdn.com: CDN only
    assert v["twitter"] == "unaffected"
    f = next(f for f in report.findings if f.code == "TE101")
    assert "pass !social all" in f.message and "(redirect)" in f.message
    assert any(s.path.endswith("social/domains") and s.text == "facebook.com" for s in f.trace)


def test_domainlist_entry_does_not_match_a_longer_name(lint):
    report = lint_sg(lint, f"default {{\n pass !social all\n {REDIRECT}\n}}", social("ook.com\nebook.com"))
    assert verdicts(report)["facebook"] == "unaffected"


def test_urllist_is_a_prefix_of_the_url_without_www_and_never_sees_https_paths(lint):
    report = lint_sg(
        lint, f"default {{\n pass !social all\n {REDIRECT}\n}}", social("example.org", urls="linkedin.com/")
    )
    v = verdicts(report)
    # http://www.linkedin.com/ -> "linkedin.com/" matches; CONNECT www.linkedin.com:443 has no path
    assert v["linkedin"] == "blocked-partial"
    assert "over plain HTTP only" in next(f.message for f in report.findings if f.service == "linkedin")


def test_urllist_entry_without_path_matches_connect_requests_too(lint):
    report = lint_sg(
        lint,
        f"default {{\n pass !social all\n {REDIRECT}\n}}",
        social("example.org", urls="twitter.com\nx.com"),
    )
    v = verdicts(report)
    # twitter.com, www.twitter.com (www stripped) and x.com blocked; mobile.twitter.com is not a prefix
    assert v["twitter"] == "blocked-partial"
    assert "mobile.twitter.com still reachable" in next(
        f.message for f in report.findings if f.service == "twitter"
    )


def test_expressionlist_searches_host_port_and_path_case_insensitively(lint):
    report = lint_sg(
        lint,
        f"default {{\n pass !social all\n {REDIRECT}\n}}",
        social("example.org", expressions=r"NING\.com(:443)?"),
    )
    v = verdicts(report)
    assert v["ning"] == "blocked"
    assert v["facebook"] == "unaffected"


def test_expressionlist_cannot_match_a_scheme(lint):
    report = lint_sg(
        lint,
        f"default {{\n pass !social all\n {REDIRECT}\n}}",
        social("example.org", expressions=r"^https?://www\.facebook\.com"),
    )
    assert verdicts(report)["facebook"] == "unaffected"  # squidGuard matches host[:port]/path


def test_the_last_domainlist_of_a_dest_wins(lint):
    files = {
        "dest": "dest social {\n domainlist a/domains\n domainlist b/domains\n}\n",
        "db/a/domains": "facebook.com\n",
        "db/b/domains": "twitter.com\nx.com\n",
    }
    v = verdicts(lint_sg(lint, f"default {{\n pass !social all\n {REDIRECT}\n}}", files))
    assert v["facebook"] == "unaffected"
    assert v["twitter"] == "blocked"


# ------------------------------------------------------------------ pass lists


def test_pass_list_is_read_left_to_right_first_decision_wins(lint):
    files = {
        "dest": "dest good {\n domainlist good/domains\n}\ndest social {\n domainlist social/domains\n}\n",
        "db/good/domains": "facebook.com\nfbcdn.net\n",
        "db/social/domains": "facebook.com\ntwitter.com\nx.com\n",
    }
    v = verdicts(lint_sg(lint, f"default {{\n pass good !social all\n {REDIRECT}\n}}", files))
    assert v["facebook"] == "allowed"  # `good` passes it before `!social` is looked at
    assert v["twitter"] == "blocked"


def test_pass_none_blocks_everything_else(lint):
    report = lint_sg(
        lint,
        f"default {{\n pass social none\n {REDIRECT}\n}}",
        social("facebook.com\nfbcdn.net\nfb.me\nmessenger.com"),
    )
    v = verdicts(report)
    # an allow-list naming it with its supporting domains (without fb.me: degraded, #13)
    assert v["facebook"] == "allowed"
    assert v["twitter"] == "blocked"
    report = lint_sg(lint, f"default {{\n pass none\n {REDIRECT}\n}}")
    assert set(verdicts(report).values()) == {"blocked"}
    assert "TE105" in codes(report)


def test_a_pass_list_that_decides_nothing_passes(lint):
    # squidGuard's implicit end of a pass list is `all` (documented, and what 1.6 does)
    v = verdicts(lint_sg(lint, f"default {{\n pass !social\n {REDIRECT}\n}}", social()))
    assert v["facebook"] == "blocked"
    assert v["twitter"] == "unaffected"


def test_a_block_without_any_redirect_passes(lint):
    report = lint_sg(lint, "default {\n pass !social all\n}", social())
    assert verdicts(report)["facebook"] == "unaffected"


def test_a_dest_redirect_is_enough(lint):
    files = social()
    files["dest"] = files["dest"].replace("}\n", " redirect http://proxy.lan/social.html\n}\n")
    assert verdicts(lint_sg(lint, "default {\n pass !social all\n}", files))["facebook"] == "blocked"


def test_pass_lines_accumulate_and_bang_all_is_still_all(lint):
    v = verdicts(lint_sg(lint, f"default {{\n pass !all\n pass !social\n {REDIRECT}\n}}", social()))
    assert v["facebook"] == "unaffected"  # "!all" is "all" in squidGuard: it passes first


def test_rewrite_to_another_host_is_a_block_and_to_the_same_host_is_not(lint):
    head = "rew fb {\n s@.*facebook\\.com.*@http://proxy.lan/nope@i\n}\nrew tw {\n s@twitter\\.com@twitter.com@\n}\n"
    report = lint_sg(lint, "default {\n pass all\n rewrite fb\n}", head=head)
    assert verdicts(report)["facebook"] == "blocked"
    assert "(rewrite)" in next(f.message for f in report.findings if f.service == "facebook")
    report = lint_sg(lint, "default {\n pass all\n rewrite tw\n}", head=head)
    assert verdicts(report)["twitter"] == "unaffected"


# ------------------------------------------------------------------ clients

SRC = """
src kids {
    ip 10.0.1.0/24
}
src staff {
    ip 10.0.0.0/16
}
src guests {
    ip 10.9.0.10-10.9.0.200
}
"""


def test_the_first_matching_src_group_selects_the_acl_entry(lint):
    acl = f"kids {{\n pass !social all\n}}\nstaff {{\n pass all\n}}\ndefault {{\n pass all\n {REDIRECT}\n}}"
    report = lint_sg(lint, acl, social(), head=SRC)
    assert verdicts(report)["facebook"] == "blocked-partial"
    f = next(f for f in report.findings if f.code == "TE102")
    assert f.audiences == ("src kids",)
    assert "src kids" in f.message


def test_a_src_group_without_acl_entry_gets_default(lint):
    acl = f"kids {{\n pass all\n}}\ndefault {{\n pass !social all\n {REDIRECT}\n}}"
    report = lint_sg(lint, acl, social(), head=SRC)
    v = verdicts(report)
    assert v["facebook"] == "blocked-partial"  # kids pass; staff, guests and everyone else: default
    f = next(f for f in report.findings if f.code == "TE102")
    assert f.audiences == ("src staff, guests or other clients",)


def test_src_types_are_anded_and_users_are_case_insensitive(tmp_path, catalog):
    head = "src boss {\n ip 10.0.0.5\n user Alice\n}\n"
    files = social()
    (tmp_path / "db/social").mkdir(parents=True)
    (tmp_path / "db/social/domains").write_text(files["db/social/domains"])
    path = tmp_path / "squidGuard.conf"
    path.write_text(
        conf(f"boss {{\n pass all\n}}\ndefault {{\n pass !social all\n {REDIRECT}\n}}", files["dest"], head)
    )
    rs = sg.parse(path, ParseContext(Resolver(tmp_path), catalog))
    fb = probe("www.facebook.com")
    assert rs.decide(fb, sg.Client("10.0.0.5", "ALICE")).outcome == Outcome.ALLOW
    assert rs.decide(fb, sg.Client("10.0.0.5", "bob")).outcome == Outcome.DENY
    assert rs.decide(fb, sg.Client("10.0.0.6", "alice")).outcome == Outcome.DENY
    assert rs.decide(fb, sg.Client("10.0.0.5", None)).outcome == Outcome.DENY


def test_a_missing_iplist_makes_membership_a_free_condition(lint):
    head = "src lab {\n iplist /etc/squidguard/lab.list\n}\n"
    acl = f"lab {{\n pass !social all\n}}\ndefault {{\n pass all\n {REDIRECT}\n}}"
    report = lint_sg(lint, acl, social(), head=head)
    assert verdicts(report)["facebook"] == "blocked-partial"
    assert any(f.code == "TE903" and "lab.list" in f.message for f in report.findings)


def test_an_iplist_that_is_present_is_read(lint):
    head = "src lab {\n iplist lab.list\n}\n"
    acl = f"lab {{\n pass !social all\n}}\ndefault {{\n pass all\n {REDIRECT}\n}}"
    report = lint_sg(lint, acl, social(), head=head, extra={"db/lab.list": "10.1.0.0/16 # lab\n"})
    f = next(f for f in report.findings if f.code == "TE102")
    assert f.audiences == ("src lab",)
    assert not any(f.code == "TE903" for f in report.findings)


def test_time_within_and_else(lint):
    head = "time school {\n weekly mtwhf 08:00-15:00\n}\nsrc lan {\n ip 10.0.0.0/8\n}\n"
    acl = (
        f"lan within school {{\n pass !social all\n}} else {{\n pass all\n}}\n"
        f"default {{\n pass none\n {REDIRECT}\n}}"
    )
    report = lint_sg(lint, acl, social(), head=head)
    assert verdicts(report)["facebook"] == "blocked-partial"
    f = next(f for f in report.findings if f.code == "TE102")
    assert f.audiences == ("src lan & time school",)


def test_default_within_else_is_always_its_else_branch(lint):
    # sgAcl: every "default" entry replaces the previous one, the else branch last
    head = "time school {\n weekly mtwhf 08:00-15:00\n}\n"
    acl = f"default within school {{\n pass !social all\n {REDIRECT}\n}} else {{\n pass all\n}}"
    assert verdicts(lint_sg(lint, acl, social(), head=head))["facebook"] == "unaffected"


def test_time_outside_on_a_src_group(lint):
    head = "time evening {\n weekly * 18:00-24:00\n}\nsrc lan {\n outside evening\n ip 10.0.0.0/8\n}\n"
    acl = f"lan {{\n pass !social all\n}}\ndefault {{\n pass all\n {REDIRECT}\n}}"
    report = lint_sg(lint, acl, social(), head=head)
    assert verdicts(report)["facebook"] == "blocked-partial"
    f = next(f for f in report.findings if f.code == "TE102")
    assert f.audiences == ("src lan & outside time evening",)


def test_time_space_active_uses_start_inclusive_end_exclusive():
    ts = sg.TimeSpace("t", Span("t", 1), [sg.TimeElement(wday=1 << 1, start=8 * 60, end=17 * 60)])
    monday = sg.REFERENCE_MONDAY
    assert ts.active(monday.replace(hour=8))
    assert not ts.active(monday.replace(hour=17))
    assert not ts.active(monday.replace(hour=10) + dt.timedelta(days=1))


# ------------------------------------------------------------------ list files


def test_a_diff_file_makes_the_entries_it_touches_unknown(lint):
    files = social("twitter.com\nx.com")
    files["db/social/domains.diff"] = "-twitter.com\n-x.com\n+facebook.com\n"
    report = lint_sg(lint, f"default {{\n pass !social all\n {REDIRECT}\n}}", files)
    v = verdicts(report)
    assert v["twitter"] == "unknown"  # listed until `squidGuard -u` applies the .diff
    assert v["facebook"] == "unknown"  # listed only once it is applied
    notes = " ".join(f.message for f in report.findings if f.code == "TE106")
    assert "domains.diff" in notes and "squidGuard -u" in notes


def test_a_diff_unmarked_line_repeats_the_last_mark(tmp_path, catalog):
    (tmp_path / "d").mkdir()
    (tmp_path / "d/domains").write_text("a.com\nb.com\n")
    (tmp_path / "d/domains.diff").write_text("b.com\n+c.com\nd.com\n")
    lst = sg.SgList(
        "domain",
        "d/domains",
        Span("t", 1),
        tmp_path / "d/domains",
        "d/domains",
        tmp_path / "d/domains.diff",
        "d/domains.diff",
    )
    lst.ensure([".b.com", ".c.com", ".d.com", ".a.com"])
    assert lst.documented(".b.com", "base") and not lst.documented(".b.com", "updated")
    assert lst.documented(".d.com", "updated") and not lst.documented(".d.com", "base")
    assert lst.documented(".a.com", "updated")


def test_missing_list_with_a_social_name_is_unknown(lint):
    files = {"dest": "dest socialnet {\n domainlist socialnet/domains\n}\n"}
    report = lint_sg(lint, f"default {{\n pass !socialnet all\n {REDIRECT}\n}}", files)
    assert set(verdicts(report).values()) == {"unknown"}
    f = next(f for f in report.findings if f.code == "TE903")
    assert "socialnet/domains" in f.message and "unknown" in f.message


def test_missing_list_with_another_topic_name_is_assumed_not_to_name_the_services(lint):
    files = {
        "dest": "dest porn {\n domainlist porn/domains\n urllist porn/urls\n}\n"
        "dest anonymizers {\n domainlist anonymizers/domains\n}\n"
    }
    report = lint_sg(lint, f"default {{\n pass !porn !anonymizers all\n {REDIRECT}\n}}", files)
    assert set(verdicts(report).values()) == {"unaffected"}
    msgs = [f.message for f in report.findings if f.code == "TE903"]
    assert len(msgs) == 2 and all("assumed not to name" in m for m in msgs)


def test_a_list_in_the_tree_is_found_next_to_the_config_by_category_and_name(lint):
    # dbhome /var/lib/squidguard/db is not in the repo; the lists sit next to the config
    text = conf(f"default {{\n pass !social all\n {REDIRECT}\n}}", social()["dest"]).replace(
        "dbhome /db", "dbhome /var/lib/squidguard/db"
    )
    report = lint(
        {
            CONF: text,
            "etc/squidguard/social/domains": "facebook.com\n",
            "etc/squidguard/domains": "twitter.com\n",
        }
    )
    v = verdicts(report)
    assert v["facebook"] == "blocked"
    assert v["twitter"] == "unaffected"  # a bare `domains` of no category is not taken for social/domains


def test_a_large_list_is_streamed_quickly(tmp_path, catalog):
    (tmp_path / "db/big").mkdir(parents=True)
    with open(tmp_path / "db/big/domains", "w") as fh:
        for i in range(300_000):
            fh.write(f"host{i}.example{i % 97}.org\n")
        fh.write("fbcdn.net\n")
    path = tmp_path / "squidGuard.conf"
    path.write_text(
        conf(f"default {{\n pass !big all\n {REDIRECT}\n}}", "dest big {\n domainlist big/domains\n}\n")
    )
    start = time.monotonic()
    rs = sg.parse(path, ParseContext(Resolver(tmp_path), catalog))
    d = rs.decide(Probe("facebook", "static.xx.fbcdn.net", "cdn", "https", 443), sg.Client())
    assert d.outcome == Outcome.DENY
    assert time.monotonic() - start < 20


# ------------------------------------------------------------------ squidGuard 1.6's lookup


def test_redundant_subdomain_entry_hides_the_parent_in_squidguard_16(tmp_path, catalog):
    (tmp_path / "db/social").mkdir(parents=True)
    (tmp_path / "db/social/domains").write_text("facebook.com\nzz.facebook.com\n")
    path = tmp_path / "squidGuard.conf"
    path.write_text(conf(f"default {{\n pass !social all\n {REDIRECT}\n}}", social()["dest"]))
    ctx = ParseContext(Resolver(tmp_path), catalog)
    documented = sg.parse(path, ctx)
    d = documented.decide(probe("www.facebook.com"), sg.Client())
    assert d.outcome == Outcome.DENY
    assert "squidGuard 1.5/1.6 lets this through" in d.note and "zz.facebook.com" in d.note
    real = sg.parse(path, ctx, lookup="squidguard-1.6")
    assert real.decide(probe("www.facebook.com"), sg.Client()).outcome == Outcome.ALLOW
    assert real.decide(probe("facebook.com"), sg.Client()).outcome == Outcome.DENY
    assert real.decide(probe("a.zz.facebook.com"), sg.Client()).outcome == Outcome.DENY


def test_squidguard_16_takes_a_shorter_entry_as_a_prefix(tmp_path, catalog):
    (tmp_path / "db/social").mkdir(parents=True)
    (tmp_path / "db/social/domains").write_text("facebook.co\n")
    path = tmp_path / "squidGuard.conf"
    path.write_text(conf(f"default {{\n pass !social all\n {REDIRECT}\n}}", social()["dest"]))
    ctx = ParseContext(Resolver(tmp_path), catalog)
    assert sg.parse(path, ctx).decide(probe("facebook.com"), sg.Client()).outcome == Outcome.ALLOW
    real = sg.parse(path, ctx, lookup="squidguard-1.6")
    assert real.decide(probe("facebook.com"), sg.Client()).outcome == Outcome.DENY


# ------------------------------------------------------------------ config errors


def test_an_undefined_dest_puts_squidguard_in_emergency_mode(lint):
    report = lint_sg(lint, f"default {{\n pass !nosuch all\n {REDIRECT}\n}}")
    assert set(verdicts(report).values()) == {"unaffected"}
    f = next(f for f in report.findings if f.code == "TE901")
    assert "nosuch" in f.message and "passes every request" in f.message


@pytest.mark.parametrize(
    "text",
    [
        "dest a {\n domainlist a/domains\n",  # never closed
        "acl {\n default {\n pass all\n",  # never closed
        "}\n}\nacl { default { pass all } }\n",
        "time t {\n weekly as\n}\nacl {\n default {\n pass all\n }\n}\n",  # weekly needs a time range
        "src x {\n bogus 1\n}\nacl {\n default {\n pass all\n }\n}\n",
        # squidGuard 1.6 takes a time constraint inside a src/dest block, not on its first line
        "time t {\n weekly * 08:00-17:00\n}\nsrc x within t {\n ip 10.0.0.1\n}\nacl {\n default {\n pass all\n }\n}\n",
    ],
)
def test_broken_configs_are_config_errors_not_tracebacks(lint, text):
    report = lint({CONF: text})
    assert not report.errors
    assert "TE901" in codes(report)


# ------------------------------------------------------------------ the squid -> squidGuard chain

SQUID = """
acl lan src 10.0.0.0/8
acl blockme dstdomain .linkedin.com
{rewriter}
http_access deny blockme
http_access allow lan
http_access deny all
"""
SG_KIDS = conf(
    f"kids {{\n pass !social all\n}}\ndefault {{\n pass all\n {REDIRECT}\n}}",
    social()["dest"],
    "src kids {\n ip 10.0.1.0/24\n}\n",
)


def test_squid_asks_squidguard_for_what_it_allows(lint):
    report = lint(
        {
            "etc/squid/squid.conf": SQUID.format(
                rewriter="url_rewrite_program /usr/bin/squidGuard -c /etc/squidguard/squidGuard.conf"
            ),
            CONF: SG_KIDS,
            "db/social/domains": "facebook.com\nfbcdn.net\n",
        }
    )
    v = verdicts(report)
    assert v["facebook"] == "blocked-partial"  # squidGuard's src kids, inside squid's lan
    assert v["linkedin"] == "blocked"  # squid's own deny stands
    assert v["twitter"] == "unaffected"
    assert "TE907" not in codes(report)
    f = next(f for f in report.findings if f.service == "facebook" and f.code == "TE102")
    assert f.span.path.endswith("squidGuard.conf") and "(redirect)" in f.message
    assert any("url_rewrite_program" in s.text for s in f.trace)
    assert any("squidGuard src kids" in a for a in f.audiences)
    assert (
        str((Path(report.files[0].path).parent.parent / "squidguard/squidGuard.conf").resolve())
        in report.files[0].included
    )


def test_squidguard_default_config_path_is_used_without_c(lint):
    report = lint(
        {
            "etc/squid/squid.conf": SQUID.format(rewriter="url_rewrite_program /usr/bin/squidGuard"),
            CONF: SG_KIDS,
            "db/social/domains": "facebook.com\n",
        }
    )
    assert verdicts(report)["facebook"] == "blocked-partial"


def test_url_rewrite_access_keeps_clients_away_from_squidguard(lint):
    rewriter = (
        "url_rewrite_program /usr/bin/squidGuard -c /etc/squidguard/squidGuard.conf\n"
        "acl kids src 10.0.1.0/24\nurl_rewrite_access deny kids\nurl_rewrite_access allow all"
    )
    report = lint(
        {
            "etc/squid/squid.conf": SQUID.format(rewriter=rewriter),
            CONF: SG_KIDS,
            "db/social/domains": "facebook.com\n",
        }
    )
    assert verdicts(report)["facebook"] == "unaffected"


def test_squidguard_config_that_does_not_resolve_leaves_verdicts_unknown(lint):
    report = lint(
        {
            "etc/squid/squid.conf": SQUID.format(
                rewriter="url_rewrite_program /usr/bin/squidGuard -c /etc/squidguard/elsewhere.conf"
            )
        }
    )
    v = verdicts(report)
    assert v["facebook"] == "unknown" and v["linkedin"] == "blocked"
    assert {"TE903", "TE907"} <= set(codes(report))


def test_another_rewriter_leaves_verdicts_unknown(lint):
    report = lint(
        {
            "etc/squid/squid.conf": SQUID.format(rewriter="url_rewrite_program /usr/local/bin/ufdbgclient"),
            CONF: SG_KIDS,
        }
    )
    assert verdicts(report)["facebook"] == "unknown"
    assert any(f.code == "TE907" and "ufdbgclient" in f.message for f in report.findings)


def test_squidguard_with_helper_concurrency_is_not_trusted(lint):
    rewriter = (
        "url_rewrite_program /usr/bin/squidGuard -c /etc/squidguard/squidGuard.conf\n"
        "url_rewrite_children 5 concurrency=2"
    )
    report = lint(
        {
            "etc/squid/squid.conf": SQUID.format(rewriter=rewriter),
            CONF: SG_KIDS,
            "db/social/domains": "facebook.com\n",
        }
    )
    assert verdicts(report)["facebook"] == "unknown"
    assert any(f.code == "TE907" and "concurrency" in f.message for f in report.findings)


def test_squidguard_problems_are_reported_with_the_squid_file(lint):
    report = lint(
        {
            "etc/squid/squid.conf": SQUID.format(
                rewriter="url_rewrite_program /usr/bin/squidGuard -c /etc/squidguard/squidGuard.conf"
            ),
            CONF: SG_KIDS,
        }
    )
    assert verdicts(report)["facebook"] == "unknown"  # social/domains is not in the repo
    f = next(f for f in report.findings if f.code == "TE903")
    assert f.span.path.endswith("squidGuard.conf") and "social/domains" in f.message


def test_squidguard_users_matter_only_when_squid_knows_users(lint):
    sg_conf = conf(
        f"boss {{\n pass all\n}}\ndefault {{\n pass !social all\n {REDIRECT}\n}}",
        social()["dest"],
        "src boss {\n user alice\n}\n",
    )
    plain = lint(
        {
            "etc/squid/squid.conf": SQUID.format(
                rewriter="url_rewrite_program /usr/bin/squidGuard -c /etc/squidguard/squidGuard.conf"
            ),
            CONF: sg_conf,
            "db/social/domains": "facebook.com\n",
        }
    )
    assert verdicts(plain)["facebook"] == "blocked"  # no auth in squid: squidGuard never sees alice
    authed = lint(
        {
            "etc/squid/squid.conf": "acl users proxy_auth REQUIRED\n"
            + SQUID.format(
                rewriter="url_rewrite_program /usr/bin/squidGuard -c /etc/squidguard/squidGuard.conf"
            ).replace("http_access allow lan", "http_access allow lan users"),
            CONF: sg_conf,
            "db/social/domains": "facebook.com\n",
        }
    )
    assert verdicts(authed)["facebook"] == "blocked-partial"


def test_a_keyword_squidguard_does_not_know_makes_it_pass_everything(lint):
    # Item 1 of #13 for squidGuard: a construct outside squidGuard's grammar is not a matcher
    # the linter skips. squidGuard itself refuses the config and runs in emergency mode, where it
    # passes every request (squidGuard(1), "emergency mode"): the device's documented behaviour
    # is the answer, so the ban in that dest blocks nothing (README "squidGuard semantics").
    report = lint_sg(
        lint,
        f"default {{\n pass !social all\n {REDIRECT}\n}}",
        {
            "dest": "dest social {\n domainlist social/domains\n headerlist social/headers\n}\n",
            "db/social/domains": "facebook.com\nfbcdn.net\nfacebook.net\nfb.com\n",
        },
    )
    assert verdicts(report)["facebook"] == "unaffected"
    f = next(f for f in report.findings if f.code == "TE901")
    assert "headerlist" in f.message


@pytest.mark.parametrize("with_diff", [False, True])
@pytest.mark.parametrize("kind", ["domain", "url"])
def test_a_list_of_bare_entries_answers_as_the_same_list_read_line_by_line(tmp_path, kind, with_diff):
    """Blocks of bare entries are read whole (lists run to millions of lines); a list with a
    comment line is read line by line. Both give the same documented and B-tree answers, in
    both states of a list with a .diff (as loaded, and after `squidGuard -u`)."""
    import random

    rnd = random.Random(7)
    labels = ["com", "facebook", "www", "fb", "net", "twitter", "x", "Com", "ads", "co", "a"]
    lines = []
    for _ in range(3000):
        name = ".".join(rnd.choice(labels) for _ in range(rnd.randint(1, 4)))
        lines.append(name + (rnd.choice(["", "/groups", "/x/y"]) if kind == "url" else ""))
    clean, dirty = tmp_path / "clean", tmp_path / "dirty"
    clean.write_text("\n".join(lines) + "\n")
    dirty.write_text("\n".join(lines) + "\n# a comment: this file is read line by line\n")
    diffs: list[Path | None] = [None, None]
    if with_diff:
        # Removes listed entries (some of them the B-tree neighbours of a query) and adds others.
        ops = [f"-{rnd.choice(lines)}" for _ in range(40)] + ["-facebook.com", "+www.facebook.com", "+zz.com"]
        for i, path in enumerate((clean, dirty)):
            diffs[i] = path.with_name(path.name + ".diff")
            diffs[i].write_text("\n".join(ops) + "\n")  # type: ignore[union-attr]
    hosts = ["facebook.com", "www.facebook.com", "fb.com", "twitter.com", "x.com", "a.co", "net"]
    hosts += ["example.org", "y.net", "m.facebook.com", "zz.com", "b.fb.co"]  # B-tree neighbours decide
    queries = sorted(
        {"." + h for h in hosts} if kind == "domain" else {h + p for h in hosts for p in ("", "/groups")}
    )
    answers = []
    for path, diff in zip((clean, dirty), diffs, strict=True):
        lst = sg.SgList(kind, "ads", Span("t", 1), path, "list", diff, "list.diff" if diff else "")
        lst.ensure(queries)
        answers.append(
            [
                (state, q, getattr(lst.documented(q, state), "line", None))
                + tuple(getattr(s, "line", None) for s in lst.emulated(q, state))
                for state in lst.states()
                for q in queries
            ]
        )
    assert answers[0] == answers[1]
    assert any(a[2] for a in answers[0])  # some query is listed: the comparison is not empty
    if kind == "domain":
        assert any(a[4] for a in answers[0])  # and some miss is decided by a neighbour entry
    if with_diff:  # and the .diff changes some answer
        base = [a[1:] for a in answers[0] if a[0] == "base"]
        assert base != [a[1:] for a in answers[0] if a[0] == "updated"]
