"""Issue #13 across the DNS dialects: unmodelled options are `unknown` (item 1), allow-lists that
forget a supporting domain are `degraded` (item 2), a public address the catalog cannot place
is a pin, `unknown`, in every dialect (item 7), missing files are `unknown` (item 8), and
missing lists are judged only by published category names (item 9)."""

from __future__ import annotations

import pytest

from policy_lint.dialects.semantics.listnames import OTHER_TOPIC_WORDS, classify_list_name
from tests.conftest import verdicts

NEITHER = ("blocked", "unaffected")


def codes(report) -> list[str]:
    return [f.code for f in report.findings]


# ---------------------------------------------------------------- item 1: unmodelled options


@pytest.mark.parametrize(
    "name, text",
    [
        # dnsmasq(8): --cname answers with a CNAME to a local name; --host-record with addresses
        ("dnsmasq.conf", "cname=www.facebook.com,facebook.com,blockpage.lan\n"),
        ("dnsmasq.conf", "host-record=facebook.com,www.facebook.com,m.facebook.com,10.0.0.1\n"),
        ("dnsmasq.conf", "alias=157.240.0.0,10.0.0.1,255.255.0.0\n"),
        # unbound.conf(5): auth-zone data answers the names of its zone (not evaluated)
        (
            "unbound.conf",
            'auth-zone:\n  name: "facebook.com"\n  zonefile: "facebook.zone"\n',
        ),
        # uBlock Origin's $denyallow, AdGuard's $client: options adblock-rust does not evaluate
        ("filters.txt", "[Adblock Plus 2.0]\n||facebook.com^$denyallow=example.org\n"),
        ("adguard-filter.txt", "! Title: AdGuard test\n||facebook.com^$client=10.0.0.5\n"),
        # RPZ: an rpz-ip trigger covering Facebook's addresses rewrites answers holding them
        (
            "db.rpz",
            "$TTL 60\n@ SOA ns. h. 1 1 1 1 1\n@ NS ns.\n16.0.0.240.157.rpz-ip CNAME .\n",
        ),
    ],
)
def test_one_rule_with_an_unmodelled_option_is_neither_blocked_nor_unaffected(lint, name, text):
    report = lint({name: text})
    assert verdicts(report)["facebook"] == "unknown"
    assert verdicts(report)["facebook"] not in NEITHER


def test_dnsmasq_unmodelled_option_is_te908_naming_the_line(lint):
    report = lint({"dnsmasq.conf": "address=/twitter.com/\ncname=www.facebook.com,blockpage.lan\n"})
    f = next(f for f in report.findings if f.code == "TE908")
    assert f.span.line == 2 and "cname" in f.message
    v = verdicts(report)
    assert v["facebook"] == "unknown" and v["linkedin"] == "unaffected"


def test_pihole_reply_extension_answers_with_its_address(lint):
    # FTL's regex extension ;reply=ADDRESS answers with that address (public: a pin, unknown)
    report = lint(
        {"regex.list": "(^|\\.)facebook\\.com$;reply=198.51.7.7\n(^|\\.)linkedin\\.com$;reply=nxdomain\n"}
    )
    v = verdicts(report)
    assert v["facebook"] == "unknown"
    assert v["linkedin"] == "blocked"


# ---------------------------------------------------------------- item 2: forgotten supporting domains


def test_dnsmasq_allow_list_that_forgets_licdn_is_degraded(lint):
    report = lint({"dnsmasq.conf": "address=/#/0.0.0.0\nserver=/linkedin.com/1.1.1.1\n"})
    v = verdicts(report)
    assert v["linkedin"] == "degraded"
    assert v["facebook"] == "blocked"
    f = next(f for f in report.findings if f.code == "TE103")
    assert "static.licdn.com" in f.message
    # An allow-list is no "all web access denied" (TE105): each service is judged on its own.
    assert "TE105" not in codes(report)
    assert any(f.code == "TE101" and f.service == "facebook" for f in report.findings)


def test_dnsmasq_allow_list_with_its_supporting_domains_is_allowed(lint):
    report = lint({"dnsmasq.conf": "address=/#/0.0.0.0\nserver=/linkedin.com/licdn.com/lnkd.in/1.1.1.1\n"})
    assert verdicts(report)["linkedin"] == "allowed"


def test_unbound_allow_list_that_forgets_licdn_is_degraded(lint):
    report = lint(
        {
            "unbound.conf": 'server:\n  local-zone: "." always_nxdomain\n'
            '  local-zone: "linkedin.com" always_transparent\n'
        }
    )
    assert verdicts(report)["linkedin"] == "degraded"


def test_pihole_deny_everything_regex_plus_allow_list_is_degraded(tmp_path, catalog):
    from tests.dialects.dns.test_pihole import lint_dir

    report = lint_dir(
        tmp_path,
        catalog,
        {"pihole/regex.list": ".*\n", "pihole/whitelist-regex.txt": "(^|\\.)linkedin\\.com$\n"},
    )
    assert verdicts(report)["linkedin"] == "degraded"


def test_adblock_document_block_plus_exception_degrades_by_the_short_link(lint):
    # `*$document` stops page loads only: lnkd.in (a link a user opens) is blocked, the CDN not
    report = lint({"filters.txt": "[Adblock Plus 2.0]\n*$document\n@@||linkedin.com^\n"})
    assert verdicts(report)["linkedin"] == "degraded"


# ---------------------------------------------------------------- item 7: public addresses are pins

PUBLIC = "198.51.7.7"  # public, in no catalog prefix


@pytest.mark.parametrize(
    "name, text",
    [
        ("hosts", f"{PUBLIC} www.facebook.com facebook.com m.facebook.com\n"),
        ("dnsmasq.conf", f"address=/facebook.com/{PUBLIC}\n"),
        (
            "unbound.conf",
            f'server:\n  local-zone: "facebook.com" redirect\n  local-data: "facebook.com A {PUBLIC}"\n',
        ),
        (
            "db.rpz",
            f"$TTL 60\n@ SOA ns. h. 1 1 1 1 1\n@ NS ns.\nfacebook.com A {PUBLIC}\n*.facebook.com A {PUBLIC}\n",
        ),
        ("custom.list", f"{PUBLIC} www.facebook.com\n{PUBLIC} facebook.com\n{PUBLIC} m.facebook.com\n"),
        ("adguard-filter.txt", f"! Title: AdGuard\n||facebook.com^$dnsrewrite={PUBLIC}\n"),
        (
            "block.bat",
            f"echo {PUBLIC} www.facebook.com >> %WINDIR%\\System32\\drivers\\etc\\hosts\n"
            f"echo {PUBLIC} facebook.com >> %WINDIR%\\System32\\drivers\\etc\\hosts\n"
            f"echo {PUBLIC} m.facebook.com >> %WINDIR%\\System32\\drivers\\etc\\hosts\n",
        ),
    ],
)
def test_a_public_address_outside_the_catalog_is_a_pin_everywhere(lint, name, text):
    report = lint({name: text})
    assert verdicts(report)["facebook"] == "unknown"
    f = next(f for f in report.findings if f.code == "TE106" and f.service == "facebook")
    assert f"pinned to {PUBLIC}" in f.message or "unblocking proxy" in f.message
    assert "unblocking proxy" in f.message


def test_a_private_address_or_sinkhole_still_blocks_and_the_services_own_address_pins(lint):
    v = verdicts(lint({"db.rpz": "$TTL 60\n@ SOA ns. h. 1 1 1 1 1\n@ NS ns.\nx.com A 10.0.0.80\n"}))
    assert v["twitter"] == "blocked-partial"
    v = verdicts(lint({"hosts": "157.240.1.35 www.facebook.com\n"}))
    assert v["facebook"] == "allowed"


# ---------------------------------------------------------------- item 8: missing files


@pytest.mark.parametrize(
    "name, text",
    [
        ("unbound.conf", 'server:\n  include: "blocklist.conf"\n'),
        ("dnsmasq.conf", "conf-file=/etc/dnsmasq.d/blocklist.conf\n"),
        ("db.rpz", "$TTL 60\n@ SOA ns. h. 1 1 1 1 1\n@ NS ns.\n$INCLUDE blocklist.rpz\n"),
        ("filters.txt", "[Adblock Plus 2.0]\n!#include blocklist.txt\n"),
    ],
)
def test_a_missing_include_is_te903_and_unknown_in_every_dns_dialect(lint, name, text):
    report = lint({name: text})
    assert "TE903" in codes(report)
    assert verdicts(report)["facebook"] == "unknown"


# ---------------------------------------------------------------- item 9: names of missing lists


KEYWORDS: dict[str, tuple[str, ...]] = {"facebook": ("facebook",), "linkedin": ("linkedin",)}


@pytest.mark.parametrize(
    "name", ["jobsites.txt", "jobs", "jobsearch", "portale.acl", "pliki", "anonom", "application"]
)
def test_names_that_are_no_published_category_or_may_hold_a_service_stay_unknown(name):
    assert classify_list_name(name, KEYWORDS)[0] == "generic"


@pytest.mark.parametrize(
    "name",
    ["adult", "porn.txt", "blacklists/gambling/domains", "audio-video", "ads", "block-trackers.action"],
)
def test_published_category_names_of_other_topics_are_assumed_harmless(name):
    assert classify_list_name(name, KEYWORDS)[0] == "other-topic"


def test_categories_are_whole_names_not_substrings():
    assert classify_list_name("adserver.txt", KEYWORDS)[0] == "generic"  # not `ads`
    assert classify_list_name("pornstars_fans", KEYWORDS)[0] == "generic"  # not `porn`
    assert "jobsearch" not in OTHER_TOPIC_WORDS


def test_a_missing_jobsites_list_leaves_linkedin_unknown(lint):
    report = lint({"dnsmasq.conf": "conf-file=/etc/dnsmasq.d/jobsites.txt\n"})
    assert verdicts(report)["linkedin"] == "unknown"


def test_the_assumption_is_stated(lint):
    report = lint({"dnsmasq.conf": "conf-file=/etc/dnsmasq.d/gambling.conf\n"})
    f = next(f for f in report.findings if f.code == "TE903")
    assert "assumed" in f.message
    assert verdicts(report)["facebook"] == "unaffected"
