"""BIND response policy zones, one rule per test, on small inline zone files."""

from __future__ import annotations

from pathlib import Path

import pytest

from policy_lint.dialects.dns import rpz
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.engine import Options, lint_paths
from policy_lint.inputs import Resolver
from policy_lint.model import EVERYONE, Outcome, Probe
from policy_lint.policy import strict_policy
from tests.conftest import verdicts

HEAD = """\
$TTL 1h
$ORIGIN rpz.example.
@ SOA ns.example. hostmaster.example. 1 3600 600 86400 60
@ NS ns.example.
"""


def zone(body: str) -> str:
    return HEAD + body


def codes(report) -> list[str]:
    return [f.code for f in report.findings]


def decide(tmp_path: Path, catalog, text: str, host: str, name: str = "db.rpz"):
    p = tmp_path / name
    p.write_text(text)
    rs = rpz.parse(p, ParseContext(Resolver(tmp_path), catalog))
    return rs, rs.evaluate(Probe(None, host, "primary", "https", 443), EVERYONE)


def test_cname_dot_is_nxdomain_for_the_exact_name_only(lint):
    report = lint({"db.rpz": zone("facebook.com CNAME .\n")})
    assert verdicts(report)["facebook"] == "blocked-partial"  # www.facebook.com still resolves
    f = next(f for f in report.findings if f.code == "TE102")
    assert "NXDOMAIN" in f.message and "www.facebook.com" in f.message


def test_wildcard_owner_covers_subdomains_but_not_the_apex(tmp_path, catalog):
    text = zone("*.facebook.com CNAME .\n")
    _, d = decide(tmp_path, catalog, text, "www.facebook.com")
    assert d.outcome == Outcome.DENY
    _, d = decide(tmp_path, catalog, text, "facebook.com")
    assert d.outcome == Outcome.ALLOW


def test_apex_and_wildcard_together_block_the_service(lint):
    report = lint({"db.rpz": zone("facebook.com CNAME .\n*.facebook.com CNAME .\n")})
    assert verdicts(report)["facebook"] == "blocked"


def test_cname_wildcard_root_is_nodata(tmp_path, catalog):
    _, d = decide(tmp_path, catalog, zone("twitter.com CNAME *.\n"), "twitter.com")
    assert (d.outcome, d.how) == (Outcome.DENY, "NODATA")


def test_passthru_is_an_explicit_exception(lint):
    report = lint(
        {
            "db.rpz": zone(
                "*.facebook.com CNAME .\nfacebook.com CNAME .\n"
                "www.facebook.com CNAME rpz-passthru.\nm.facebook.com CNAME rpz-passthru.\n"
                "*.linkedin.com CNAME rpz-passthru.\nlinkedin.com CNAME rpz-passthru.\n"
            )
        }
    )
    v = verdicts(report)
    assert v["facebook"] == "blocked-partial"  # facebook.com itself stays blocked
    assert v["linkedin"] == "allowed"


def test_exact_owner_beats_wildcard(tmp_path, catalog):
    _, d = decide(
        tmp_path,
        catalog,
        zone("*.facebook.com CNAME .\nwww.facebook.com CNAME rpz-passthru.\n"),
        "www.facebook.com",
    )
    assert d.outcome == Outcome.ALLOW and d.specific
    assert "exception" in d.note and d.trace[0].text.startswith("*.facebook.com")


def test_nearest_wildcard_wins(tmp_path, catalog):
    text = zone("*.fbcdn.net CNAME rpz-passthru.\n*.xx.fbcdn.net CNAME .\n")
    _, d = decide(tmp_path, catalog, text, "static.xx.fbcdn.net")
    assert d.outcome == Outcome.DENY


def test_bind_wildcards_are_not_hidden_by_names_below_them(tmp_path, catalog):
    """BIND matches the nearest wildcard whatever else the zone names; unbound does not (see
    test_unbound.py and the differential test)."""
    text = zone("*.fbcdn.net CNAME .\nxx.fbcdn.net CNAME rpz-passthru.\n")
    _, d = decide(tmp_path, catalog, text, "scontent.xx.fbcdn.net")
    assert d.outcome == Outcome.DENY


def test_drop_blocks_and_tcp_only_does_not(lint):
    report = lint(
        {
            "db.rpz": zone(
                "x.com CNAME rpz-drop.\n*.x.com CNAME rpz-drop.\n"
                "linkedin.com CNAME rpz-tcp-only.\nwww.linkedin.com CNAME rpz-tcp-only.\n"
            )
        }
    )
    v = verdicts(report)
    assert v["twitter"] == "blocked-partial"  # x.com dropped, twitter.com not named
    assert v["linkedin"] == "unaffected"
    assert any("dropped" in f.message for f in report.findings)


@pytest.mark.parametrize(
    "address, outcome",
    [
        ("0.0.0.0", Outcome.DENY),
        ("127.0.0.1", Outcome.DENY),
        ("10.10.10.1", Outcome.DENY),
        ("157.240.1.35", Outcome.ALLOW),  # Facebook's own address (AS32934, addresses.yaml)
        # a public address the catalog cannot place: a pin (maybe an unblocking proxy)
        ("8.8.8.8", Outcome.UNKNOWN),
    ],
)
def test_address_overrides(tmp_path, catalog, address, outcome):
    _, d = decide(tmp_path, catalog, zone(f"www.facebook.com A {address}\n"), "www.facebook.com")
    assert d.outcome == outcome


def test_only_aaaa_data_is_nodata_for_ipv4(tmp_path, catalog):
    _, d = decide(tmp_path, catalog, zone("www.facebook.com AAAA ::1\n"), "www.facebook.com")
    assert (d.outcome, d.how) == (Outcome.DENY, "NODATA")


def test_cname_to_a_walled_garden_blocks_and_to_the_service_itself_does_not(tmp_path, catalog):
    text = zone(
        "www.facebook.com CNAME walled.garden.example.\nfb.me CNAME www.facebook.com.\n"
        "*.twimg.com CNAME *.walled.example.\n"
    )
    _, d = decide(tmp_path, catalog, text, "www.facebook.com")
    assert d.outcome == Outcome.DENY and "walled.garden.example" in d.how
    _, d = decide(tmp_path, catalog, text, "fb.me")
    assert d.outcome == Outcome.ALLOW
    _, d = decide(tmp_path, catalog, text, "pbs.twimg.com")
    assert d.outcome == Outcome.DENY and "pbs.twimg.com.walled.example" in d.how


def test_legacy_passthru_is_a_cname_to_its_own_name(tmp_path, catalog):
    _, d = decide(
        tmp_path,
        catalog,
        zone("*.facebook.com CNAME .\nwww.facebook.com CNAME www.facebook.com.\n"),
        "www.facebook.com",
    )
    assert d.outcome == Outcome.ALLOW and d.how == "passthru"


def test_passthru_without_trailing_dot_is_a_rewrite_not_a_passthru(tmp_path, catalog):
    _, d = decide(tmp_path, catalog, zone("www.facebook.com CNAME rpz-passthru\n"), "www.facebook.com")
    assert d.outcome == Outcome.DENY and "trailing dot" in d.note


def test_origin_guessed_from_absolute_owner_names(tmp_path, catalog):
    text = (
        "$TTL 1h\n@ IN SOA localhost. root.localhost. ( 1 1h 15m 30d 1h )\n@ IN NS localhost.\n"
        "facebook.com.rpz.   CNAME .\n*.facebook.com.rpz. CNAME .\ntiktok.com.rpz. CNAME .\n"
    )
    rs, d = decide(tmp_path, catalog, text, "www.facebook.com")
    assert rs.zone.origin == "rpz" and "guessed" in rs.zone.origin_note
    assert d.outcome == Outcome.DENY


def test_origin_from_the_soa_owner_and_relative_names(tmp_path, catalog):
    text = (
        "rpz.local. 300 IN SOA localhost. root.localhost. 1 60 60 432000 60\nrpz.local. NS localhost.\n"
        "facebook.com CNAME .\nwww.facebook.com.rpz.local. CNAME .\n"
    )
    rs, _ = decide(tmp_path, catalog, text, "facebook.com")
    assert rs.zone.origin == "rpz.local"
    assert set(rs.zone.triggers) == {"facebook.com", "www.facebook.com"}


def test_origin_and_policy_override_from_named_conf(tmp_path, catalog):
    (tmp_path / "named.conf.local").write_text(
        'options { response-policy { zone "blocked.rpz" policy nxdomain; }; };\n'
        'zone "blocked.rpz" { type master; file "/etc/bind/db.social"; allow-query { none; }; };\n'
    )
    text = (
        "$TTL 1h\n@ SOA localhost. root.localhost. 1 1 1 1 1\n@ NS localhost.\n"
        "www.facebook.com.blocked.rpz. A 157.240.1.35\n"
    )
    rs, d = decide(tmp_path, catalog, text, "www.facebook.com", name="db.social")
    assert rs.zone.origin == "blocked.rpz"
    assert (d.outcome, d.how) == (Outcome.DENY, "NXDOMAIN")  # the override beats the local data
    assert any("named.conf.local" in s.path for s in d.trace)


def test_origin_directive_changes_relative_names(tmp_path, catalog):
    text = zone("$ORIGIN facebook.com.rpz.example.\nwww CNAME .\n@ CNAME .\n")
    rs, d = decide(tmp_path, catalog, text, "www.facebook.com")
    assert d.outcome == Outcome.DENY
    assert {"www.facebook.com", "facebook.com"} <= set(rs.zone.triggers)


def test_include_is_read_inside_the_root(lint):
    report = lint(
        {
            "db.rpz": zone("$INCLUDE social.inc\nlinkedin.com CNAME .\n"),
            "social.inc": "facebook.com CNAME .\n*.facebook.com CNAME .\n",
        }
    )
    v = verdicts(report)
    assert v["facebook"] == "blocked" and v["linkedin"] == "blocked-partial"


def test_include_with_its_own_origin(lint):
    report = lint(
        {
            "db.rpz": zone("$INCLUDE fb.inc facebook.com.rpz.example.\nx.com CNAME .\n"),
            "fb.inc": "@ CNAME .\n* CNAME .\n",
        }
    )
    v = verdicts(report)
    assert v["facebook"] == "blocked" and v["twitter"] == "blocked-partial"


def test_missing_include_is_te903(lint):
    report = lint({"db.rpz": zone("$INCLUDE /etc/bind/nothing.inc\nfacebook.com CNAME .\n")})
    f = next(f for f in report.findings if f.code == "TE903")
    assert "nothing.inc" in f.message and f.span.line == 5


def test_include_loop_is_te904(lint):
    report = lint(
        {"db.rpz": zone("$INCLUDE a.inc\n"), "a.inc": "$INCLUDE b.inc\n", "b.inc": "$INCLUDE a.inc\n"}
    )
    assert "TE904" in codes(report)


def test_include_cannot_escape_the_root(tmp_path, catalog):
    outside = tmp_path / "outside.inc"
    outside.write_text("facebook.com CNAME .\n*.facebook.com CNAME .\n")
    root = tmp_path / "repo"
    root.mkdir()
    p = root / "db.rpz"
    p.write_text(zone("$INCLUDE ../outside.inc\n$INCLUDE /etc/passwd\n"))
    report = lint_paths([p], catalog, strict_policy(catalog), Options(root=root))
    # not read (outside --root), so what they rewrite is unknown: never `unaffected`
    assert verdicts(report)["facebook"] == "unknown"
    assert codes(report).count("TE903") == 2


def test_syntax_errors_are_te901_with_their_line_and_parsing_resumes(lint):
    report = lint(
        {
            "db.rpz": zone(
                "facebook.com CNAME\nbad.example CNAMEX .\ntwitter.com A 1.2.3\n"
                "*.facebook.com CNAME .\nfacebook.com CNAME .\n"
            )
        }
    )
    errors = [f for f in report.findings if f.code == "TE901"]
    assert [f.span.line for f in errors] == [5, 6, 7]
    assert "BIND refuses" in errors[0].message
    assert verdicts(report)["facebook"] == "blocked"


def test_unclosed_parenthesis_does_not_cascade(lint):
    report = lint({"db.rpz": zone('broken.example TXT ( "a"\n  "b"\nfacebook.com CNAME .\n')})
    assert codes(report).count("TE901") >= 1


def test_cname_and_other_data_is_te901(lint):
    report = lint({"db.rpz": zone("facebook.com CNAME .\nfacebook.com A 0.0.0.0\n")})
    f = next(f for f in report.findings if f.code == "TE901")
    assert "CNAME and other data" in f.message


def test_response_ip_trigger_on_a_service_prefix_makes_it_unknown(lint):
    # 32.35.1.240.157.rpz-ip = 157.240.1.35/32 (Facebook, AS32934)
    report = lint({"db.rpz": zone("16.0.0.240.157.rpz-ip CNAME .\n32.1.2.0.192.rpz-ip CNAME .\n")})
    v = verdicts(report)
    assert v["facebook"] == "unknown"
    assert v["twitter"] == "unaffected"


def test_nsdname_trigger_is_not_a_name_block(lint):
    report = lint({"db.rpz": zone("ns1.example.net.rpz-nsdname CNAME .\n")})
    assert set(verdicts(report).values()) == {"unaffected"}


def test_client_ip_trigger_makes_audiences(lint):
    report = lint(
        {
            "db.rpz": zone(
                "24.0.5.168.192.rpz-client-ip CNAME rpz-passthru.\n"
                "facebook.com CNAME .\n*.facebook.com CNAME .\n"
            )
        }
    )
    assert verdicts(report)["facebook"] == "blocked-partial"
    f = next(f for f in report.findings if f.code == "TE102")
    assert f.audiences == ("clients outside every rpz-client-ip trigger",)


def test_nul_byte_is_reported(tmp_path, catalog):
    p = tmp_path / "db.rpz"
    p.write_bytes(zone("facebook.com CNAME .\n").encode() + b"x" * 9000 + b"\x00\n*.facebook.com CNAME .\n")
    report = lint_paths([p], catalog, strict_policy(catalog), Options(root=tmp_path))
    assert any(f.code == "TE902" and "NUL" in f.message for f in report.findings)
    assert verdicts(report)["facebook"] == "blocked"


def test_windows_line_endings(tmp_path, catalog):
    p = tmp_path / "db.rpz"
    p.write_bytes(zone("facebook.com CNAME .\n*.facebook.com CNAME .\n").replace("\n", "\r\n").encode())
    report = lint_paths([p], catalog, strict_policy(catalog), Options(root=tmp_path))
    assert verdicts(report)["facebook"] == "blocked"
    assert not [f for f in report.findings if f.code.startswith("TE9")]


def test_detected_by_name_and_content(tmp_path):
    assert rpz.detect(Path("db.rpz"), zone("")) >= 0.9
    assert rpz.detect(Path("social.zone"), zone("facebook.com CNAME .\nx.com CNAME rpz-drop.\n")) >= 0.8
    assert rpz.detect(Path("db.example.com"), "$TTL 1h\n@ SOA ns. h. 1 1 1 1 1\nwww A 192.0.2.1\n") == 0.0


def test_many_broken_records_give_a_bounded_number_of_findings(tmp_path, catalog):
    p = tmp_path / "db.rpz"
    p.write_text(
        zone(
            "".join(f"bad{i}.example CNAMEX .\nok{i}.example CNAME .\n" for i in range(1000))
            + "facebook.com CNAME .\n*.facebook.com CNAME .\n"
        )
    )
    report = lint_paths([p], catalog, strict_policy(catalog), Options(root=tmp_path))
    errors = [f for f in report.findings if f.code == "TE901"]
    assert len(errors) == 51 and "950 more" in errors[-1].message
    assert verdicts(report)["facebook"] == "blocked"


def test_large_zone_keeps_only_what_probes_can_meet(tmp_path, catalog):
    body = "".join(f"ads{i}.example.org CNAME .\n*.ads{i}.example.org CNAME .\n" for i in range(20000))
    rs, d = decide(tmp_path, catalog, zone(body + "*.fbcdn.net CNAME .\n"), "static.xx.fbcdn.net")
    assert d.outcome == Outcome.DENY
    assert rs.zone.records == 40003 and set(rs.zone.triggers) == {"*.fbcdn.net"}


@pytest.mark.parametrize("owner", ["..", ".ads.example", "a" * 64 + ".example"])
def test_an_owner_with_an_empty_or_overlong_label_is_a_syntax_error_at_its_line(lint, owner):
    # BIND refuses such a name (RFC 1035 2.3.4: labels of 1 to 63 octets); the records after
    # it are still read (this used to end in a traceback when a dnspython batch followed).
    report = lint({"db.rpz": zone(f"{owner} CNAME .\nads.example A 300.0.0.1\nfacebook.com CNAME .\n")})
    errors = [f for f in report.findings if f.code == "TE901"]
    assert [f.span.line for f in errors] == [5, 6]  # the bad name, the bad address
    assert verdicts(report)["facebook"] == "blocked-partial"
