"""unbound semantics, one rule per test, on small inline configs (checked against the real
unbound in tests/e2e/test_unbound_differential.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from policy_lint.dialects.dns import unbound
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.engine import Options, lint_paths
from policy_lint.inputs import Resolver
from policy_lint.model import EVERYONE, Outcome, Probe
from policy_lint.policy import strict_policy
from tests.conftest import verdicts

RPZ_HEAD = "$TTL 1h\n@ SOA ns.invalid. h.invalid. 1 3600 600 86400 60\n@ NS ns.invalid.\n"
RESPIP = '  module-config: "respip validator iterator"\n'


def codes(report) -> list[str]:
    return [f.code for f in report.findings]


def decide(tmp_path: Path, catalog, files: dict[str, str], host: str):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    rs = unbound.parse(tmp_path / next(iter(files)), ParseContext(Resolver(tmp_path), catalog))
    return rs, rs.evaluate(Probe(None, host, "primary", "https", 443), EVERYONE)


def test_zone_covers_the_name_and_every_subdomain(lint):
    report = lint(
        {
            "unbound.conf": """
        server:
            local-zone: "facebook.com" always_nxdomain
    """
        }
    )
    assert verdicts(report)["facebook"] == "blocked"
    f = next(f for f in report.findings if f.code == "TE101")
    assert (f.span.line, f.span.text) == (3, 'local-zone: "facebook.com" always_nxdomain')
    assert "NXDOMAIN" in f.message


@pytest.mark.parametrize("typ", sorted(unbound.BLOCK_TYPES))
def test_blocking_types(lint, typ):
    report = lint({"unbound.conf": f'server:\n    local-zone: "facebook.com" {typ}\n'})
    assert verdicts(report)["facebook"] == "blocked"


@pytest.mark.parametrize("typ", sorted(unbound.RESOLVE_TYPES - {"ipset"}) + ["nodefault"])
def test_types_that_resolve_normally(lint, typ):
    report = lint({"unbound.conf": f'server:\n    local-zone: "facebook.com" {typ}\n'})
    assert verdicts(report)["facebook"] == "unaffected"


@pytest.mark.parametrize(
    "typ, how",
    [
        ("deny", "dropped (no answer)"),
        ("refuse", "REFUSED"),
        ("static", "NXDOMAIN"),
        ("redirect", "NODATA"),
        ("always_nodata", "NODATA"),
        ("always_null", "sinkhole 0.0.0.0"),
    ],
)
def test_the_mechanism_is_named(tmp_path, catalog, typ, how):
    _, d = decide(
        tmp_path,
        catalog,
        {"unbound.conf": f'server:\n  local-zone: "facebook.com" {typ}\n'},
        "www.facebook.com",
    )
    assert (d.outcome, d.how) == (Outcome.DENY, how)


def test_most_specific_zone_decides_and_an_exception_is_explicit(tmp_path, catalog):
    files = {
        "unbound.conf": 'server:\n  local-zone: "facebook.com" static\n'
        '  local-zone: "www.facebook.com" transparent\n'
    }
    rs, d = decide(tmp_path, catalog, files, "www.facebook.com")
    assert d.outcome == Outcome.ALLOW and d.specific and "exception" in d.note
    assert [s.line for s in d.trace] == [2, 3]
    d = rs.evaluate(Probe(None, "m.facebook.com", "primary", "https", 443), EVERYONE)
    assert d.outcome == Outcome.DENY


def test_transparent_exception_under_a_broad_block_is_allowed(lint):
    report = lint(
        {
            "unbound.conf": """
        server:
            local-zone: "linkedin.com" always_nxdomain
            local-zone: "www.linkedin.com" transparent
            local-zone: "licdn.com" always_refuse
            local-zone: "static.licdn.com" typetransparent
            local-zone: "media.licdn.com" typetransparent
            local-zone: "api.linkedin.com" transparent
            local-zone: "lnkd.in" static
    """
        }
    )
    assert verdicts(report)["linkedin"] == "blocked-partial"  # linkedin.com itself stays blocked


def test_nodefault_does_not_make_an_exception(tmp_path, catalog):
    _, d = decide(
        tmp_path,
        catalog,
        {
            "unbound.conf": 'server:\n  local-zone: "com" always_nxdomain\n'
            '  local-zone: "facebook.com" nodefault\n'
        },
        "www.facebook.com",
    )
    assert d.outcome == Outcome.DENY and d.rule.line == 2


def test_last_line_for_a_zone_wins(tmp_path, catalog):
    _, d = decide(
        tmp_path,
        catalog,
        {
            "unbound.conf": 'server:\n  local-zone: "facebook.com" static\n'
            '  local-zone: "facebook.com" transparent\n'
        },
        "www.facebook.com",
    )
    assert d.outcome == Outcome.ALLOW
    _, d = decide(
        tmp_path,
        catalog,
        {
            "unbound.conf": 'server:\n  local-zone: "facebook.com" transparent\n'
            '  local-zone: "facebook.com" static\n'
        },
        "www.facebook.com",
    )
    assert d.outcome == Outcome.DENY and "last line wins" in d.note


def test_local_data_sinkhole_blocks_that_name_only(lint):
    report = lint(
        {
            "unbound.conf": """
        server:
            local-data: "twitter.com A 0.0.0.0"
            local-data: "x.com A 127.0.0.1"
    """
        }
    )
    assert verdicts(report)["twitter"] == "blocked-partial"  # www.twitter.com, api.x.com resolve


def test_local_data_with_the_service_address_is_allowed(tmp_path, catalog):
    files = {
        "unbound.conf": 'server:\n  local-zone: "facebook.com" static\n'
        '  local-data: "www.facebook.com A 157.240.1.35"\n'
    }
    rs, d = decide(tmp_path, catalog, files, "www.facebook.com")
    assert d.outcome == Outcome.ALLOW and d.specific
    assert rs.evaluate(Probe(None, "m.facebook.com", "primary", "https", 443), EVERYONE).how == "NXDOMAIN"


def test_local_data_of_another_type_makes_nodata_in_a_transparent_zone(tmp_path, catalog):
    files = {
        "unbound.conf": 'server:\n  local-zone: "facebook.com" transparent\n'
        '  local-data: "www.facebook.com TXT \\"hello\\""\n'
    }
    _, d = decide(tmp_path, catalog, files, "www.facebook.com")
    assert (d.outcome, d.how) == (Outcome.DENY, "NODATA")


def test_typetransparent_resolves_other_types(tmp_path, catalog):
    files = {
        "unbound.conf": 'server:\n  local-zone: "facebook.com" typetransparent\n'
        '  local-data: "www.facebook.com AAAA ::1"\n'
    }
    _, d = decide(tmp_path, catalog, files, "www.facebook.com")
    assert d.outcome == Outcome.ALLOW


def test_redirect_zone_answers_every_name_with_the_apex_data(lint):
    report = lint(
        {
            "unbound.conf": """
        server:
            local-zone: "twitter.com" redirect
            local-data: "twitter.com A 10.0.0.80"
            local-zone: "x.com" redirect
            local-data: "x.com CNAME blockpage.example."
    """
        }
    )
    assert verdicts(report)["twitter"] == "blocked"


def test_always_null_answers_from_local_data_for_the_exact_name(tmp_path, catalog):
    """unbound.conf(5) says always_null ignores local data; unbound 1.17 answers it (e2e)."""
    files = {
        "unbound.conf": 'server:\n  local-zone: "facebook.com" always_null\n'
        '  local-data: "www.facebook.com A 157.240.1.35"\n'
    }
    rs, d = decide(tmp_path, catalog, files, "www.facebook.com")
    assert d.outcome == Outcome.ALLOW
    assert (
        rs.evaluate(Probe(None, "m.facebook.com", "primary", "https", 443), EVERYONE).how
        == "sinkhole 0.0.0.0"
    )


def test_local_data_below_a_redirect_zone_is_refused(lint):
    report = lint(
        {"unbound.conf": 'server:\n  local-zone: "x.com" redirect\n  local-data: "api.x.com A 0.0.0.0"\n'}
    )
    assert "TE901" in codes(report)


def test_include_with_glob_and_fragment_without_clause(lint):
    report = lint(
        {
            "unbound.conf": 'server:\n  include: "/etc/unbound/unbound.conf.d/*.conf"\n',
            "etc/unbound/unbound.conf.d/social.conf": 'local-zone: "facebook.com" always_refuse\n',
            "etc/unbound/unbound.conf.d/other.txt": 'local-zone: "twitter.com" always_refuse\n',
        }
    )
    v = verdicts(report)
    assert v["facebook"] == "blocked" and v["twitter"] == "unaffected"
    f = next(f for f in report.findings if f.code == "TE101")
    assert f.span.path.endswith("social.conf")


def test_commented_out_include_blocks_nothing(lint):
    report = lint(
        {
            "unbound.conf": 'server:\n  # include: "blocklist_big.conf"\n',
            "blocklist_big.conf": 'local-zone: "facebook.com" always_nxdomain\n',
        }
    )
    assert verdicts(report)["facebook"] == "unaffected"


def test_missing_include_is_te903_and_the_names_it_could_decide_are_unknown(lint):
    # unbound.conf(5): the included file's statements are read as if written there; without it
    # the names it could decide are unknown, as in every other dialect (issue #13, item 8)
    report = lint({"unbound.conf": 'server:\n  include: "lenient.conf"\n  local-zone: "x.com" static\n'})
    f = next(f for f in report.findings if f.code == "TE903")
    assert "lenient.conf" in f.message and "refuses to start" in f.message and "unknown" in f.message
    v = verdicts(report)
    assert v["facebook"] == v["linkedin"] == v["ning"] == "unknown"


def test_missing_include_named_for_another_published_category_is_assumed_harmless(lint):
    report = lint({"unbound.conf": 'server:\n  include: "adult.conf"\n'})
    f = next(f for f in report.findings if f.code == "TE903")
    assert "assumed not to name" in f.message
    assert verdicts(report)["facebook"] == "unaffected"


def test_missing_include_named_for_a_service_makes_it_unknown(lint):
    report = lint(
        {
            "unbound.conf": 'server:\n  include: "facebook-block.conf"\n'
            '  local-zone: "twitter.com" always_nxdomain\n'
        }
    )
    v = verdicts(report)
    assert v["facebook"] == "unknown"
    assert v["linkedin"] == "unaffected"
    assert v["twitter"] == "blocked-partial"  # decided by its own zone


def test_glob_matching_nothing_in_an_existing_folder_is_silent(lint, tmp_path):
    (tmp_path / "conf.d").mkdir()
    report = lint({"unbound.conf": 'server:\n  include: "conf.d/*.conf"\n'})
    assert not [c for c in codes(report) if c.startswith("TE9")]


def test_include_loop_is_te904(lint):
    report = lint(
        {
            "unbound.conf": 'server:\n  include: "a.conf"\n',
            "a.conf": 'include: "b.conf"\n',
            "b.conf": 'include: "a.conf"\nlocal-zone: "facebook.com" static\n',
        }
    )
    assert "TE904" in codes(report)
    assert verdicts(report)["facebook"] == "blocked"


def test_include_toplevel_closes_the_clause(lint):
    report = lint(
        {
            "unbound.conf": 'forward-zone:\n  name: "."\ninclude-toplevel: "more.conf"\n',
            "more.conf": 'server:\n  local-zone: "ning.com" always_refuse\n',
        }
    )
    assert verdicts(report)["ning"] == "blocked"


def test_unterminated_quote_is_te901(lint):
    report = lint(
        {
            "unbound.conf": 'server:\n  include: "/etc/unbound/country/*.conf\n'
            '  local-zone: "facebook.com static\n'
            '  local-zone: "twitter.com" always_nxdomain\n'
        }
    )
    errors = [f for f in report.findings if f.code == "TE901"]
    assert [f.span.line for f in errors] == [2, 3]
    assert verdicts(report)["twitter"] == "blocked-partial"
    assert verdicts(report)["facebook"] == "unaffected"


def test_unknown_zone_type_and_bad_local_data_are_te901(lint):
    report = lint(
        {
            "unbound.conf": 'server:\n  local-zone: "facebook.com" block\n'
            '  local-data: "twitter.com A 1.2.3"\n  /etc/stray/words\n'
        }
    )
    assert [f.span.line for f in report.findings if f.code == "TE901"] == [2, 3, 4]
    assert set(verdicts(report).values()) == {"unaffected"}


def test_tag_defined_after_use_is_te901(lint):
    report = lint(
        {
            "unbound.conf": 'server:\n  local-zone: "facebook.com" static\n'
            '  local-zone-tag: "facebook.com" "kids"\n  define-tag: "kids"\n'
        }
    )
    assert "TE901" in codes(report)


def test_views_split_clients_into_audiences(lint):
    report = lint(
        {
            "unbound.conf": """
        server:
            access-control-view: 10.20.0.0/16 kids
        view:
            name: "kids"
            local-zone: "facebook.com" always_nxdomain
            local-zone: "twitter.com" always_nxdomain
            local-zone: "x.com" always_nxdomain
    """
        }
    )
    v = verdicts(report)
    assert v["facebook"] == "blocked-partial" and v["linkedin"] == "unaffected"
    f = next(f for f in report.findings if f.service == "facebook")
    assert f.audiences == ("access-control-view 10.20.0.0/16 kids",)


def test_view_first_falls_back_to_global_zones(tmp_path, catalog):
    files = {
        "unbound.conf": 'server:\n  local-zone: "x.com" always_refuse\n  access-control-view: 10.0.0.0/8 v\n'
        'view:\n  name: "v"\n  view-first: yes\n  local-zone: "facebook.com" static\n'
    }
    rs, _ = decide(tmp_path, catalog, files, "x.com")
    kids = next(a for a in rs.audiences() if a.attribute("src") == "10.0.0.1")
    assert rs.evaluate(Probe(None, "x.com", "primary", "https", 443), kids).outcome == Outcome.DENY
    files["unbound.conf"] = files["unbound.conf"].replace("view-first: yes", "view-first: no")
    rs, _ = decide(tmp_path, catalog, files, "x.com")
    kids = next(a for a in rs.audiences() if a.attribute("src") == "10.0.0.1")
    assert rs.evaluate(Probe(None, "x.com", "primary", "https", 443), kids).outcome == Outcome.ALLOW


def test_tagged_zone_applies_only_to_tagged_clients(lint):
    report = lint(
        {
            "unbound.conf": """
        server:
            define-tag: "social"
            access-control-tag: 192.168.50.0/24 "social"
            local-zone: "linkedin.com" always_refuse
            local-zone-tag: "linkedin.com" "social"
    """
        }
    )
    assert verdicts(report)["linkedin"] == "blocked-partial"


def test_zone_override_for_a_netblock(lint):
    report = lint(
        {
            "unbound.conf": """
        server:
            local-zone: "ning.com" always_nxdomain
            local-zone-override: "ning.com" 192.168.7.0/24 transparent
    """
        }
    )
    assert verdicts(report)["ning"] == "blocked-partial"


def test_rpz_clause_zone_file(lint):
    report = lint(
        {
            "unbound.conf": "server:\n" + RESPIP + '  directory: "/etc/unbound"\n'
            'rpz:\n  name: "rpz.local"\n  zonefile: "social.rpz"\n',
            "etc/unbound/social.rpz": RPZ_HEAD + "facebook.com CNAME .\n*.facebook.com CNAME .\n"
            "twitter.com CNAME rpz-passthru.\n",
        }
    )
    v = verdicts(report)
    assert v["facebook"] == "blocked" and v["twitter"] == "allowed"  # rpz-passthru: explicitly
    f = next(f for f in report.findings if f.code == "TE101")
    assert f.span.path.endswith("social.rpz") and any(s.text == 'name: "rpz.local"' for s in f.trace)


def test_rpz_applies_after_local_zones_and_transparent_does_not_shield(tmp_path, catalog):
    files = {
        "unbound.conf": "server:\n" + RESPIP + '  local-zone: "facebook.com" transparent\n'
        '  local-zone: "x.com" static\n  local-data: "x.com A 157.240.1.35"\n'
        'rpz:\n  name: "rpz.local"\n  zonefile: "z.rpz"\n',
        "z.rpz": RPZ_HEAD + "facebook.com CNAME .\nx.com CNAME .\n",
    }
    rs, d = decide(tmp_path, catalog, files, "facebook.com")
    assert d.outcome == Outcome.DENY and d.rule.path.endswith("z.rpz")
    d = rs.evaluate(Probe(None, "x.com", "primary", "https", 443), EVERYONE)
    assert d.rule.line == 5  # answered by the local data first


def test_rpz_wildcard_hidden_by_an_existing_name_in_unbound(tmp_path, catalog):
    """unbound looks for `*.` + the labels shared with the trigger sorting just before the
    name: xx.fbcdn.net hides *.fbcdn.net from scontent.xx.fbcdn.net (BIND would block it)."""
    files = {
        "unbound.conf": "server:\n" + RESPIP + 'rpz:\n  name: "rpz.local"\n  zonefile: "z.rpz"\n',
        "z.rpz": RPZ_HEAD + "*.fbcdn.net CNAME .\nxx.fbcdn.net CNAME rpz-passthru.\n",
    }
    _, d = decide(tmp_path, catalog, files, "scontent.xx.fbcdn.net")
    assert d.outcome == Outcome.ALLOW


def test_rpz_first_record_of_a_name_wins_in_unbound(tmp_path, catalog):
    files = {
        "unbound.conf": "server:\n" + RESPIP + 'rpz:\n  name: "rpz.local"\n  zonefile: "z.rpz"\n',
        "z.rpz": RPZ_HEAD + "twitter.com CNAME rpz-passthru.\ntwitter.com CNAME .\n",
    }
    rs, d = decide(tmp_path, catalog, files, "twitter.com")
    assert d.outcome == Outcome.ALLOW
    assert not [p for p in rs.problems if p.code == "TE901"]  # unbound loads it (BIND would not)


def test_rpz_without_respip_is_te901(lint):
    report = lint(
        {
            "unbound.conf": 'rpz:\n  name: "rpz.local"\n  zonefile: "z.rpz"\n',
            "z.rpz": RPZ_HEAD + "facebook.com CNAME .\n",
        }
    )
    assert any(f.code == "TE901" and "respip" in f.message for f in report.findings)


def test_rpz_fetched_at_run_time_is_unknown_unless_its_name_says_otherwise(lint):
    report = lint(
        {
            "unbound.conf": "server:\n" + RESPIP + 'rpz:\n  name: "rpz.social-block.example"\n'
            '  url: "https://feeds.example/social.rpz"\n'
        }
    )
    assert verdicts(report)["facebook"] == "unknown"
    report = lint(
        {
            "unbound.conf": "server:\n" + RESPIP + 'rpz:\n  name: "malware.rpz.example"\n'
            "  primary: 192.0.2.53\n"
        }
    )
    assert verdicts(report)["facebook"] == "unaffected"


def test_response_ip_on_a_service_prefix_is_unknown(lint):
    report = lint(
        {
            "unbound.conf": 'server:\n  module-config: "respip iterator"\n'
            "  response-ip: 157.240.0.0/16 always_nxdomain\n"
        }
    )
    assert verdicts(report)["facebook"] == "unknown"


def test_forward_zone_is_not_a_block(tmp_path, catalog):
    _, d = decide(
        tmp_path,
        catalog,
        {"unbound.conf": 'forward-zone:\n  name: "facebook.com"\n  forward-addr: 192.0.2.53\n'},
        "www.facebook.com",
    )
    assert d.outcome == Outcome.ALLOW and "forward" in d.how


def test_nul_byte_is_reported(tmp_path, catalog):
    p = tmp_path / "unbound.conf"
    p.write_bytes(b"server:\n" + b"  verbosity: 1\n" * 600 + b'  local-zone: "facebook.com" static\x00junk\n')
    report = lint_paths([p], catalog, strict_policy(catalog), Options(root=tmp_path))
    assert any(f.code == "TE902" and "NUL" in f.message for f in report.findings)
    assert verdicts(report)["facebook"] == "blocked"


def test_windows_line_endings(tmp_path, catalog):
    p = tmp_path / "unbound.conf"
    p.write_bytes(b'server:\r\n  local-zone: "facebook.com" always_nxdomain # social\r\n')
    report = lint_paths([p], catalog, strict_policy(catalog), Options(root=tmp_path))
    assert verdicts(report)["facebook"] == "blocked"
    assert not [f for f in report.findings if f.code.startswith("TE9")]


def test_large_blocklist_keeps_only_what_probes_can_meet(tmp_path, catalog):
    lines = [f'local-zone: "ads{i}.example.org" always_nxdomain\n' for i in range(50000)]
    lines += [f'local-data: "tracker{i}.example.net A 0.0.0.0"\n' for i in range(50000)]
    lines.insert(25000, 'local-zone: "fbcdn.net" always_nxdomain\n')
    (tmp_path / "big.conf").write_text("".join(lines))
    rs, d = decide(
        tmp_path, catalog, {"unbound.conf": 'server:\n  include: "big.conf"\n'}, "static.xx.fbcdn.net"
    )
    assert d.outcome == Outcome.DENY
    assert len(rs.global_zones.zones) == 1 and not rs.global_zones.data


def test_detected_by_name_and_content():
    assert unbound.detect(Path("unbound.conf"), "") >= 0.9
    frag = 'local-zone: "facebook.com" always_nxdomain\nlocal-zone: "fb.com" always_nxdomain\n'
    assert unbound.detect(Path("myblocklist_strict.conf"), frag) >= 0.8
    assert unbound.detect(Path("settings.yaml"), "server: web01\nport: 8080\nname: x\n") == 0.0


def test_rpz_wildcard_follows_unbounds_own_name_order(tmp_path, catalog):
    """unbound's tree puts shorter labels first: `s.com` sorts before `facebook.com`, shares
    only `com` with it, and so hides the apex wildcard `*` (checked against unbound 1.17)."""
    files = {
        "unbound.conf": "server:\n" + RESPIP + 'rpz:\n  name: "rpz.local"\n  zonefile: "z.rpz"\n',
        "z.rpz": RPZ_HEAD + "* CNAME .\ns.com CNAME rpz-passthru.\n",
    }
    rs, d = decide(tmp_path, catalog, files, "facebook.com")
    assert d.outcome == Outcome.ALLOW
    assert rs.evaluate(Probe(None, "t.co", "primary", "https", 443), EVERYONE).outcome == Outcome.DENY


def test_many_broken_lines_give_a_bounded_number_of_findings(tmp_path, catalog):
    p = tmp_path / "unbound.conf"
    p.write_text("server:\n" + "this is not unbound\n" * 3000 + 'local-zone: "facebook.com" always_refuse\n')
    report = lint_paths([p], catalog, strict_policy(catalog), Options(root=tmp_path))
    errors = [f for f in report.findings if f.code == "TE901"]
    assert len(errors) == 51 and "2950 more" in errors[-1].message
    assert verdicts(report)["facebook"] == "blocked"


def test_a_one_line_fragment_is_detected():
    assert unbound.detect(Path("social-denylist.conf"), 'local-zone: "facebook.com" always_nxdomain\n') >= 0.8
    assert unbound.detect(Path("notes.conf"), "local-zone: is a word in this text\n") == 0.0
