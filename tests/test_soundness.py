"""Never a silent pass, and TE105 only when nothing gets through (issue #13, items 2, 11, 13).

Engine-level: a file of which its dialect understood nothing gets no verdict (TE902 and an input
error), for every dialect; a directory scan lists what it skipped; an allow-list is judged per
service; service names resolve case-insensitively through the catalog's aliases.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from policy_lint import dialects
from policy_lint.engine import Options, lint_paths, lint_ruleset
from policy_lint.model import EVERYONE, Audience, Decision, Outcome, Probe, Problem, Span
from policy_lint.policy import strict_policy
from tests.conftest import verdicts

PROSE = """\
The quick brown fox jumps over the lazy dog.
Lorem ipsum dolor sit amet, consectetur adipiscing elit.
"""


def codes(report) -> list[str]:
    return [f.code for f in report.findings]


# ----------------------------------------------------------------- the counting protocol


@dataclass
class Counted:
    """A Ruleset that says how much of its file it read (`statements`, `understood`)."""

    statements: int
    understood: int
    path: str = "fake.conf"
    dialect: str = "fake"
    problems: list[Problem] = field(default_factory=list)

    def audiences(self) -> Sequence[Audience]:
        return [EVERYONE]

    def evaluate(self, probe: Probe, audience: Audience) -> Decision:
        return Decision(Outcome.ALLOW)

    def inert_mentions(self, probe: Probe) -> list[Span]:
        return []


def test_a_dialect_that_understood_none_of_its_statements_gives_no_verdict(catalog):
    fr = lint_ruleset(Counted(statements=3, understood=0), catalog, strict_policy(catalog), claimed=True)
    assert fr.unread.startswith("fake.conf: the fake dialect understood none of the 3 statements")
    assert [f.code for f in fr.findings] == ["TE902"]
    assert {r.verdict.value for r in fr.services.values()} == {"unknown"}


@pytest.mark.parametrize(("statements", "understood"), [(3, 1), (0, 0)])
def test_one_understood_statement_or_a_comment_only_file_is_read(catalog, statements, understood):
    fr = lint_ruleset(Counted(statements, understood), catalog, strict_policy(catalog), claimed=False)
    assert fr.unread == "" and fr.findings == []
    assert {r.verdict.value for r in fr.services.values()} == {"unaffected"}


# ----------------------------------------------------------------- every dialect, forced on prose


@pytest.mark.parametrize("dialect", list(dialects.DIALECTS))
def test_every_dialect_named_on_a_file_it_cannot_read_is_an_error_not_a_pass(lint, dialect):
    report = lint({"notes.conf": PROSE}, dialect=dialect)
    assert report.errors, report.findings
    for fr in report.files:
        assert {r.verdict.value for r in fr.services.values()} == {"unknown"}
        assert "TE902" in [f.code for f in fr.findings]
        assert not [f for f in fr.findings if f.code.startswith("TE1")]


@pytest.mark.parametrize(
    ("dialect", "name", "text"),
    [
        ("squid", "hosts", "127.0.0.1 localhost\n0.0.0.0 www.facebook.com\n0.0.0.0 facebook.com\n"),
        (
            "iptables",
            "pf.conf",
            "set skip on lo\nblock in all\npass out on egress proto tcp to any port 443\n",
        ),
        ("mikrotik", "hosts", "127.0.0.1 localhost\n0.0.0.0 www.facebook.com\n"),
        ("privoxy", "squid.conf", "acl fb dstdomain .facebook.com\nhttp_access deny fb\n"),
    ],
)
def test_a_config_of_another_kind_under_the_wrong_dialect_is_te902(lint, dialect, name, text):
    report = lint({name: text}, dialect=dialect)
    assert report.errors and "understood none of the" in report.errors[0]
    assert codes(report)[0] == "TE902"
    assert set(verdicts(report).values()) == {"unknown"}


def test_the_right_dialect_named_still_reads_its_file(lint):
    report = lint({"hosts": "0.0.0.0 www.facebook.com\n"}, dialect="hosts")
    assert not report.errors and "TE902" not in codes(report)


def test_a_hosts_file_naming_no_service_is_read_under_its_own_dialect(lint):
    # Well-formed entries count as read whether or not they name a service: the hosts dialect
    # reports its statements, so a localhost-only file under an unrevealing name is no error.
    report = lint({"myhosts.txt": "127.0.0.1 localhost\n::1 localhost ip6-localhost\n"}, dialect="hosts")
    assert not report.errors and "TE902" not in codes(report)
    assert set(verdicts(report).values()) == {"unaffected"}
    report = lint({"other.txt": "acl x src 10.0.0.0/8\nhttp_access deny x\n"}, dialect="hosts")
    assert report.errors and "TE902" in codes(report)


def test_comments_and_blank_lines_alone_are_no_error(lint):
    report = lint({"squid.conf": "# nothing configured yet\n\n   # really\n"}, dialect="squid")
    assert not report.errors


ENTITY_BOMB = """\
<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<pfsense><version>21.7</version><filter><rule><descr>&lol3;</descr></rule></filter></pfsense>
"""


def test_a_pfsense_config_that_cannot_be_read_at_all_is_an_input_error(lint):
    report = lint({"config.xml": ENTITY_BOMB})
    assert report.errors and "could not read this file" in report.errors[0]
    assert codes(report) == ["TE902"]  # not four TE106 beside it


# ----------------------------------------------------------------- directory scans


def test_a_directory_scan_lists_the_files_it_could_not_identify(tmp_path, catalog):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "squid.conf").write_text("acl fb dstdomain .facebook.com\nhttp_access deny fb\n")
    (tmp_path / "etc" / "notes.txt").write_text("hello\n")
    (tmp_path / "etc" / "lighttpd.conf").write_text('server.port = 80\nserver.document-root = "/srv"\n')
    report = lint_paths([tmp_path / "etc"], catalog, strict_policy(catalog), Options(root=tmp_path))
    assert not report.errors
    assert [(Path(s.path).name, s.reason) for s in report.skipped] == [
        ("lighttpd.conf", "unknown kind"),
        ("notes.txt", "unknown kind"),
    ]


def test_a_list_file_read_through_an_include_is_not_called_skipped(tmp_path, catalog):
    (tmp_path / "squid.conf").write_text('acl fb dstdomain "/etc/squid/fb.acl"\nhttp_access deny fb\n')
    (tmp_path / "fb.acl").write_text(".facebook.com\n")
    report = lint_paths([tmp_path], catalog, strict_policy(catalog), Options(root=tmp_path))
    assert [Path(s.path).name for s in report.skipped] == []


# ----------------------------------------------------------------- allow-lists and TE105


def test_squid_allow_list_that_forgets_linkedins_cdn_is_degraded_not_all_web_denied(lint):
    # squid.conf(5): http_access rules are checked in order, the first match decides; an
    # allow-list of .linkedin.com denies static.licdn.com and media.licdn.com by `deny all`.
    report = lint(
        {
            "squid.conf": """\
            acl lan src 10.0.0.0/8
            acl li dstdomain .linkedin.com
            http_access allow lan li
            http_access deny all
            """
        }
    )
    assert verdicts(report) == {
        "facebook": "blocked",
        "twitter": "blocked",
        "linkedin": "degraded",
        "ning": "blocked",
    }
    assert "TE105" not in codes(report)
    [te103] = [f for f in report.findings if f.code == "TE103"]
    assert "static.licdn.com" in te103.message and "allow-list" in te103.message


def test_squid_allow_list_that_names_every_linkedin_host_is_allowed(lint):
    report = lint(
        {
            "squid.conf": """\
            acl li dstdomain .linkedin.com .licdn.com .lnkd.in
            http_access allow li
            http_access deny all
            """
        }
    )
    assert verdicts(report)["linkedin"] == "allowed"
    assert verdicts(report)["facebook"] == "blocked"
    assert "TE105" not in codes(report)


def test_dnsmasq_allow_list_by_wildcard_sinkhole_is_judged_per_service(lint):
    # dnsmasq(8): --address=/#/ matches any domain; a more specific --server=/linkedin.com/
    # forwards that domain instead, so only linkedin.com's names resolve.
    report = lint({"dnsmasq.conf": "address=/#/0.0.0.0\nserver=/linkedin.com/1.1.1.1\n"})
    assert "TE105" not in codes(report)
    assert verdicts(report)["linkedin"] == "degraded"


def test_deny_all_with_nothing_allowed_is_still_te105(lint):
    report = lint({"squid.conf": "http_access deny all\n"})
    assert set(verdicts(report).values()) == {"blocked"}
    assert codes(report) == ["TE105"]


def test_an_audience_with_no_web_access_does_not_make_a_block_partial(lint):
    report = lint(
        {
            "squid.conf": """\
            acl lan src 10.0.0.0/8
            http_access allow lan
            http_access deny all
            """
        }
    )
    assert set(verdicts(report).values()) == {"unaffected"}
    assert codes(report) == []


# ----------------------------------------------------------------- service names


@pytest.mark.parametrize(
    ("name", "sid"),
    [
        ("x", "twitter"),
        ("X", "twitter"),
        ("twitter", "twitter"),
        ("Twitter / X", "twitter"),
        ("twitter/x", "twitter"),
        ("FACEBOOK", "facebook"),
        ("fb", "facebook"),
        ("LinkedIn", "linkedin"),
        ("nope", None),
        ("", None),
    ],
)
def test_service_names_are_case_insensitive_and_take_the_catalogs_aliases(catalog, name, sid):
    assert catalog.lookup(name) == sid
