"""dnsmasq semantics, one rule per test (checked against the real dnsmasq in
tests/e2e/test_dnsmasq_differential.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from policy_lint.dialects.dns import dnsmasq
from tests.conftest import verdicts


def codes(report) -> list[str]:
    return [f.code for f in report.findings]


def test_address_without_an_address_is_nxdomain_for_the_domain_and_below(lint):
    report = lint({"dnsmasq.conf": "address=/facebook.com/\n"})
    v = verdicts(report)
    assert v["facebook"] == "blocked"
    assert v["twitter"] == "unaffected"
    f = next(f for f in report.findings if f.code == "TE101")
    assert "NXDOMAIN" in f.message and f.span.line == 1


def test_server_without_an_upstream_is_local_only(lint):
    report = lint({"dnsmasq.conf": "server=/twitter.com/\nserver=/x.com/\n"})
    assert verdicts(report)["twitter"] == "blocked"


def test_local_is_a_synonym_of_server(lint):
    report = lint({"dnsmasq.conf": "local=/linkedin.com/\n"})
    assert verdicts(report)["linkedin"] == "blocked"


def test_several_domains_on_one_line(lint):
    report = lint({"dnsmasq.conf": "address=/facebook.com/twitter.com/x.com/0.0.0.0\n"})
    v = verdicts(report)
    assert v["facebook"] == v["twitter"] == "blocked"


def test_forward_to_another_server_is_not_a_block(lint):
    report = lint({"dnsmasq.conf": "server=/facebook.com/192.0.2.53\n"})
    assert verdicts(report)["facebook"] == "unaffected"


def test_ipv4_sinkhole_notes_that_aaaa_is_forwarded(lint):
    report = lint({"dnsmasq.conf": "address=/facebook.com/0.0.0.0\n"})
    assert verdicts(report)["facebook"] == "blocked"
    f = next(f for f in report.findings if f.code == "TE101")
    assert "IPv4 only" in f.message


def test_hash_is_the_null_address_for_both_families(lint):
    report = lint({"dnsmasq.conf": "address=/facebook.com/#\n"})
    assert verdicts(report)["facebook"] == "blocked"
    assert "IPv4 only" not in next(f for f in report.findings if f.code == "TE101").message


def test_leading_dot_means_the_same_domain(lint):
    report = lint({"dnsmasq.conf": "address=/.facebook.com/\n"})
    assert verdicts(report)["facebook"] == "blocked"


def test_star_dot_matches_subdomains_only(lint):
    report = lint({"dnsmasq.conf": "address=/*.facebook.com/\n"})
    assert verdicts(report)["facebook"] == "blocked-partial"  # facebook.com itself resolves


def test_star_prefix_matches_partial_labels(lint):
    report = lint({"dnsmasq.conf": "address=/*witter.com/\n"})
    v = verdicts(report)
    assert v["twitter"] == "blocked-partial"  # twitter.com and its subdomains, not x.com


def test_most_specific_domain_wins(lint):
    report = lint({"dnsmasq.conf": "address=/facebook.com/\nserver=/www.facebook.com/#\n"})
    assert verdicts(report)["facebook"] == "blocked-partial"


def test_at_one_domain_a_forward_beats_nxdomain(lint):
    report = lint({"dnsmasq.conf": "address=/facebook.com/\nserver=/facebook.com/192.0.2.53\n"})
    assert verdicts(report)["facebook"] == "unaffected"


def test_at_one_domain_an_address_beats_a_forward(lint):
    report = lint({"dnsmasq.conf": "server=/facebook.com/192.0.2.53\naddress=/facebook.com/127.0.0.1\n"})
    assert verdicts(report)["facebook"] == "blocked"


def test_address_hash_domain_without_address_is_void_when_upstreams_exist(lint):
    report = lint({"dnsmasq.conf": "address=/#/\n"})
    assert set(verdicts(report).values()) == {"unaffected"}


def test_address_hash_domain_blocks_everything_without_upstreams(lint):
    report = lint({"dnsmasq.conf": "no-resolv\naddress=/#/\n"})
    assert set(verdicts(report).values()) == {"blocked"}
    assert "TE105" in codes(report)


def test_an_exception_from_a_sinkhole_for_everything_is_allowed(lint):
    report = lint(
        {
            "dnsmasq.conf": "address=/#/0.0.0.0\nserver=/linkedin.com/#\nserver=/licdn.com/#\nserver=/lnkd.in/#\n"
        }
    )
    v = verdicts(report)
    assert v["linkedin"] == "allowed"
    assert v["facebook"] == "blocked"


def test_conf_file_and_conf_dir_with_suffix_filter(lint):
    report = lint(
        {
            "dnsmasq.conf": "conf-file=/etc/dnsmasq.more\nconf-dir=/etc/dnsmasq.d/,*.conf\n",
            "etc/dnsmasq.more": "address=/linkedin.com/\n",
            "etc/dnsmasq.d/social.conf": "address=/facebook.com/\n",
            "etc/dnsmasq.d/twitter.conf.bak": "address=/twitter.com/\n",
            "etc/dnsmasq.d/x.conf~": "address=/twitter.com/\n",
        }
    )
    v = verdicts(report)
    assert v["linkedin"] == "blocked" and v["facebook"] == "blocked"
    assert v["twitter"] == "unaffected"
    assert len(report.files) == 1  # included files are linted as part of the main config


def test_conf_dir_exclusion_suffixes(lint):
    report = lint(
        {
            "dnsmasq.conf": "conf-dir=/etc/dnsmasq.d,.bak\n",
            "etc/dnsmasq.d/a": "address=/facebook.com/\n",
            "etc/dnsmasq.d/b.bak": "address=/twitter.com/\n",
        }
    )
    v = verdicts(report)
    assert v["facebook"] == "blocked" and v["twitter"] == "unaffected"


def test_include_loop_is_reported(lint):
    report = lint({"dnsmasq.conf": "conf-file=dnsmasq.conf\naddress=/facebook.com/\n"})
    assert "TE904" in codes(report)
    assert verdicts(report)["facebook"] == "blocked"


def test_missing_include_named_for_social_makes_verdicts_unknown(lint):
    report = lint({"dnsmasq.conf": "conf-file=/etc/dnsmasq.d/social-block.conf\n"})
    assert "TE903" in codes(report)
    assert set(verdicts(report).values()) == {"unknown"}


def test_missing_include_named_for_another_topic_is_assumed_harmless(lint):
    report = lint({"dnsmasq.conf": "conf-file=/etc/dnsmasq.d/ads.conf\n"})
    assert "TE903" in codes(report)
    assert set(verdicts(report).values()) == {"unaffected"}


def test_missing_include_does_not_hide_an_explicit_block(lint):
    report = lint({"dnsmasq.conf": "conf-file=/etc/blocked.conf\naddress=/facebook.com/\n"})
    v = verdicts(report)
    assert v["facebook"] == "blocked" and v["twitter"] == "unknown"


def test_addn_hosts_answers_exact_names_first(lint, catalog):
    addr = catalog.services["facebook"].addresses[0]
    report = lint(
        {
            "dnsmasq.conf": "addn-hosts=/etc/block.hosts\naddress=/facebook.com/\n",
            "etc/block.hosts": f"{addr} www.facebook.com\n0.0.0.0 twitter.com x.com\n",
        }
    )
    v = verdicts(report)
    assert v["facebook"] == "blocked-partial"  # www.facebook.com pinned to Facebook's address
    assert v["twitter"] == "blocked-partial"  # exact names: www.twitter.com still resolves


def test_addn_hosts_directory(lint):
    report = lint(
        {
            "dnsmasq.conf": "addn-hosts=/etc/hosts.d\n",
            "etc/hosts.d/a": "0.0.0.0 linkedin.com www.linkedin.com\n",
        }
    )
    assert verdicts(report)["linkedin"] == "blocked"


def test_ipset_alone_is_not_a_block(lint):
    report = lint({"dnsmasq.conf": "ipset=/facebook.com/social\nnftset=/twitter.com/4#inet#fw#social\n"})
    assert set(verdicts(report).values()) == {"unaffected"}


def test_unknown_option_is_a_config_error(lint):
    report = lint({"dnsmasq.conf": "adress=/facebook.com/\ndomain-needed\nbogus-priv\n"})
    assert "TE901" in codes(report)


def test_comments_whole_line_and_after_white_space(lint):
    report = lint({"dnsmasq.conf": "#address=/twitter.com/\naddress=/facebook.com/#  # NULL address\n"})
    v = verdicts(report)
    assert v["twitter"] == "unaffected" and v["facebook"] == "blocked"


def test_conf_script_is_never_run(lint):
    report = lint({"dnsmasq.conf": "conf-script=/usr/local/bin/make-blocklist\n"})
    assert "TE907" in codes(report)
    assert set(verdicts(report).values()) == {"unknown"}


def test_bogus_nxdomain_on_a_service_address_is_unknown(lint, catalog):
    addr = catalog.services["linkedin"].addresses[0]
    report = lint({"dnsmasq.conf": f"bogus-nxdomain={addr}\n"})
    assert verdicts(report)["linkedin"] == "unknown"


def test_a_large_blocklist_keeps_only_relevant_domains(tmp_path, catalog):
    from policy_lint.dialects.semantics.base import ParseContext
    from policy_lint.inputs import Resolver

    p = tmp_path / "dnsmasq.conf"
    p.write_text("".join(f"address=/ads{i}.tracker.example/\n" for i in range(200_000)) + "server=/x.com/\n")
    rs = dnsmasq.parse(p, ParseContext(Resolver(tmp_path), catalog))
    assert set(rs.state.rules) == {"x.com"}
    assert rs.state.domain_rules == 200_001


@pytest.mark.parametrize(
    "name,head,claimed",
    [
        ("dnsmasq.conf", "", True),
        ("twitter-dnsmasq.conf", "server=/twitter.com/\n", True),
        ("dnsmasq.d/facebook.conf", "address=/facebook.com/\n", True),
        ("other.conf", "domain-needed\nbogus-priv\nno-resolv\naddress=/a.com/\n", True),
        ("squid.conf", "acl a src 10.0.0.0/8\nhttp_access allow a\n", False),
    ],
)
def test_detection(name, head, claimed):
    assert (dnsmasq.detect(Path(name), head) >= 0.5) == claimed


def test_star_dot_is_more_specific_than_the_plain_domain_for_its_subdomains(tmp_path, catalog):
    """dnsmasq matches /*.d/ as the suffix `.d`, longer than `d`: for www.d a `local=/*.d/`
    (NXDOMAIN) beats `server=/d/IP` (a forward), while d itself is forwarded and `/www.d/`
    would beat `/*.d/` again. (Found by tests/e2e/test_daemon_fuzz.py against Debian's
    dnsmasq; we had put both rules at d's level, where a forward wins.)"""
    from policy_lint.dialects.semantics.base import ParseContext
    from policy_lint.inputs import Resolver
    from policy_lint.model import EVERYONE, Outcome, Probe

    conf = tmp_path / "dnsmasq.conf"
    conf.write_text("server=/facebook.com/192.0.2.53\nlocal=/*.facebook.com/\nserver=/m.facebook.com/#\n")
    ruleset = dnsmasq.parse(conf, ParseContext(Resolver(tmp_path), catalog))

    def decide(host: str):
        d = ruleset.evaluate(Probe("facebook", host, "primary", "https", 443), EVERYONE)
        return d.outcome, d.rule.line if d.rule else None

    assert decide("www.facebook.com") == (Outcome.DENY, 2)
    assert decide("facebook.com") == (Outcome.ALLOW, 1)
    assert decide("m.facebook.com") == (Outcome.ALLOW, 3)


def test_a_partial_wildcard_beats_a_shorter_plain_domain(tmp_path, catalog):
    """The longest matching suffix wins, as text, wildcards included: `/*facebook.com/` (12
    characters) beats `/com/` for facebook.com and below, `/facebook.com/` beats
    `/*acebook.com/`. (Checked against Debian's dnsmasq; we had tried every plain domain
    before any `/*d/`.)"""
    from policy_lint.dialects.semantics.base import ParseContext
    from policy_lint.inputs import Resolver
    from policy_lint.model import EVERYONE, Outcome, Probe

    conf = tmp_path / "dnsmasq.conf"
    conf.write_text(
        "server=/*facebook.com/192.0.2.53\naddress=/com/\naddress=/twitter.com/\nserver=/*witter.com/#\n"
    )
    ruleset = dnsmasq.parse(conf, ParseContext(Resolver(tmp_path), catalog))

    def decide(host: str):
        d = ruleset.evaluate(Probe(None, host, "primary", "https", 443), EVERYONE)
        return d.outcome, d.rule.line if d.rule else None

    assert decide("www.facebook.com") == (Outcome.ALLOW, 1)
    assert decide("www.linkedin.com") == (Outcome.DENY, 2)
    assert decide("api.twitter.com") == (Outcome.DENY, 3)
