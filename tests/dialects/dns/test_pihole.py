"""Pi-hole semantics, one rule per test: exact gravity, regex lists, allow wins, adlists."""

from __future__ import annotations

import time
from pathlib import Path

from policy_lint.dialects.dns.pihole import ere_to_python, split_extensions
from policy_lint.engine import Options, lint_paths
from policy_lint.policy import strict_policy
from tests.conftest import detected_dialect, verdicts


def codes(report) -> list[str]:
    return [f.code for f in report.findings]


def lint_dir(tmp_path: Path, catalog, files: dict[str, str | bytes], target: str = "pihole"):
    base = tmp_path / target
    for name, text in files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(text if isinstance(text, bytes) else text.encode())
    return lint_paths([base], catalog, strict_policy(catalog), Options(root=tmp_path))


def test_gravity_matches_exact_names_only(lint):
    report = lint({"gravity.list": "twitter.com\n0.0.0.0 facebook.com\n0.0.0.0 www.facebook.com\n"})
    v = verdicts(report)
    # www.twitter.com, x.com still resolve; m.facebook.com still resolves
    assert v["twitter"] == "blocked-partial"
    assert v["facebook"] == "blocked-partial"
    f = next(f for f in report.findings if f.service == "twitter")
    assert "still reachable" in f.message and f.span.line == 1


def test_abp_style_entries_cover_subdomains(lint):
    report = lint({"gravity.list": "||linkedin.com^\n"})
    assert verdicts(report)["linkedin"] == "blocked"


def test_regex_list_blocks_every_name_it_matches(lint):
    report = lint({"regex.list": "# social\n(^|\\.)facebook\\.com$\n"})
    assert verdicts(report)["facebook"] == "blocked"
    assert next(f for f in report.findings if f.code == "TE101").span.line == 2


def test_regex_extensions_querytype_and_invert():
    assert split_extensions("x;querytype=AAAA") == ("x", False, False)
    assert split_extensions("x;querytype=!AAAA") == ("x", False, True)
    assert split_extensions("x;invert") == ("x", True, True)


def test_a_regex_only_for_aaaa_queries_does_not_block_the_site(lint):
    report = lint({"regex.list": "(^|\\.)facebook\\.com$;querytype=AAAA\n"})
    assert verdicts(report)["facebook"] == "unaffected"


def test_posix_classes_and_word_boundaries_are_read_as_pihole_reads_them(lint):
    assert ere_to_python(r"\<ads\>") == r"\bads\b"
    assert ere_to_python(r"[]a\]") == r"[\]a\\]"
    report = lint({"regex.list": "^[[:alpha:]]+\\.twitter\\.com$\n^(x|twitter)\\.com$\n"})
    assert verdicts(report)["twitter"] == "blocked"


def test_invalid_regex_is_reported(lint):
    report = lint({"regex.list": "(facebook\n"})
    assert "TE905" in codes(report)
    assert verdicts(report)["facebook"] == "unaffected"


def test_allow_wins_over_gravity_and_regex(tmp_path, catalog):
    report = lint_dir(
        tmp_path,
        catalog,
        {
            "pihole/gravity.list": "facebook.com\nwww.facebook.com\nm.facebook.com\n",
            "pihole/regex.list": "(^|\\.)linkedin\\.com$\n",
            "pihole/whitelist.txt": "www.facebook.com\n",
            "pihole/whitelist-regex.txt": "^(www\\.)?linkedin\\.com$\n",
        },
    )
    # linted once, under the install's first file
    assert [f.path.rsplit("/", 1)[-1] for f in report.files] == ["gravity.list"]
    v = verdicts(report)
    assert v["facebook"] == "blocked-partial"
    assert v["linkedin"] == "degraded"  # www and bare linkedin.com allowed; api.linkedin.com blocked
    fb = report.files[0].services["facebook"]
    assert {r.text for r in fb.rules} == {"facebook.com", "m.facebook.com"}


def test_allow_list_alone_is_allowed(lint):
    report = lint(
        {
            "pihole/optional-list.txt": "# Whitelist for Pi-hole\n# Facebook\nfacebook.com\ngraph.facebook.com\n"
        }
    )
    assert report.files[0].dialect == "pihole-allowlist"
    v = verdicts(report)
    assert v["facebook"] == "allowed"
    assert v["twitter"] == "unaffected"


def test_remote_adlists_are_unknown(lint):
    report = lint({"adlists.list": "https://raw.githubusercontent.com/StevenBlack/hosts/master/hosts\n"})
    v = verdicts(report)
    assert v["facebook"] == "unknown"
    assert "TE903" in codes(report)


def test_remote_adlist_of_another_topic_is_assumed_not_to_name_the_services(lint):
    report = lint({"adlists.list": "https://example.org/lists/ads-and-tracking.txt\n"})
    assert verdicts(report)["facebook"] == "unaffected"
    assert "TE903" in codes(report)


def test_downloaded_adlist_copy_is_read(tmp_path, catalog):
    report = lint_dir(
        tmp_path,
        catalog,
        {
            "pihole/adlists.list": "https://lists.example.net/social.txt\n",
            "pihole/list.0.lists.example.net.domains": "twitter.com\nx.com\nwww.twitter.com\nmobile.twitter.com\n",
        },
    )
    assert verdicts(report)["twitter"] == "blocked"
    assert "TE903" not in codes(report)


def test_custom_list_records(lint):
    report = lint({"custom.list": "0.0.0.0 facebook.com\n192.168.1.5 nas.lan\n"})
    assert verdicts(report)["facebook"] == "blocked-partial"


def test_pihole_toml_hosts_and_disabled_blocking(tmp_path, catalog):
    report = lint_dir(
        tmp_path,
        catalog,
        {
            "pihole/pihole.toml": '[dns]\nhosts = ["0.0.0.0 twitter.com x.com"]\n[dns.blocking]\nactive = false\n',
            "pihole/gravity.list": "linkedin.com\nwww.linkedin.com\n",
        },
    )
    v = verdicts(report)
    assert v["twitter"] == "blocked-partial"  # local records still answer
    assert v["linkedin"] == "unaffected"  # the lists are off


def test_teleporter_export(tmp_path, catalog):
    report = lint_dir(
        tmp_path,
        catalog,
        {
            "pihole/blacklist.exact.json": '[{"domain": "x.com", "enabled": 1}, {"domain": "twitter.com", "enabled": 0}]',
            "pihole/whitelist.exact.json": "[]",
        },
    )
    v = verdicts(report)
    assert v["twitter"] == "blocked-partial"


def test_detection(tmp_path):
    assert detected_dialect(Path("gravity.list"), "facebook.com\n") == "pihole"
    assert detected_dialect(Path("regex.list"), "(^|\\.)facebook\\.com$\n") == "pihole"
    assert detected_dialect(Path("whitelist.txt"), "facebook.com\n") == "pihole-allowlist"


# --------------------------------------------------------------------------- bad input


def test_crlf_and_nul_bytes(tmp_path, catalog):
    body = b"twitter.com\r\n" + b"ads.example.net\r\n" * 3000 + b"face\x00book.com\r\nx.com\r\n"
    report = lint_dir(tmp_path, catalog, {"pihole/gravity.list": body}, "pihole/gravity.list")
    v = verdicts(report)
    assert v["twitter"] == "blocked-partial" and v["facebook"] == "unaffected"
    assert any(f.code == "TE902" and "NUL" in f.message for f in report.findings)


def test_a_million_malformed_lines_are_counted_once_in_bounded_time(tmp_path, catalog):
    p = tmp_path / "gravity.list"
    with open(p, "w") as fh:
        for i in range(1_000_000):
            fh.write(f"<<{i}>> not a domain\n")
        fh.write("facebook.com\n")
    start = time.perf_counter()
    report = lint_paths([p], catalog, strict_policy(catalog), Options(root=tmp_path))
    assert time.perf_counter() - start < 20
    assert verdicts(report)["facebook"] == "blocked-partial"
    bad = [f for f in report.findings if f.code == "TE902"]
    assert len(bad) == 1 and "1000000 of 1000001 lines" in bad[0].message
