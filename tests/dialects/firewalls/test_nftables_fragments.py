"""nftables fragments: files loaded with a ruleset kept elsewhere (nft(8): `nft -f` runs each
file's commands against the ruleset already loaded, so `add element inet filter social {...}`
needs the table from an earlier file, and `set NAME { ... }` outside a table is only valid
where a `table { include "file" }` pulls it in). Alone such a file decides nothing: unknown with
TE903 at its line, never unaffected; with the ruleset in the lint its elements are the set's."""

from __future__ import annotations

from pathlib import Path

from policy_lint.engine import Options, lint_paths
from policy_lint.policy import strict_policy
from tests.conftest import detected_dialect, verdicts
from tests.dialects.firewalls.test_nftables import FB, FB_V4, FB_V6

ELEMENTS = f"add element inet filter social {{ {FB_V4} }}\nadd element inet filter social6 {{ {FB_V6} }}\n"

RULESET = """\
table inet filter {
    set social { type ipv4_addr; flags interval; }
    set social6 { type ipv6_addr; flags interval; }
    chain forward {
        type filter hook forward priority 0; policy accept;
        ip daddr @social drop
        ip6 daddr @social6 drop
    }
}
"""

SETS_ONLY = f"""\
set social {{
    type ipv4_addr
    flags interval
    elements = {{ {FB_V4} }}
}}
"""


def _where(report, code: str) -> list[tuple[str, int]]:
    return sorted((Path(f.span.path).name, f.span.line) for f in report.findings if f.code == code)


def test_element_file_alone_is_unknown_with_te903_at_its_line(lint):
    report = lint({"social.nft": ELEMENTS})
    assert set(verdicts(report).values()) == {"unknown"}
    assert _where(report, "TE903") == [("social.nft", 1), ("social.nft", 2)]
    assert not _where(report, "TE901")  # loaded after its ruleset, nft accepts it


def test_set_definitions_alone_are_unknown_with_te903(lint):
    report = lint({"sets.nft": SETS_ONLY})
    assert set(verdicts(report).values()) == {"unknown"}
    assert _where(report, "TE903") == [("sets.nft", 1)]


def test_fragment_with_bad_address_still_says_te901(lint):
    report = lint({"social.nft": "add element inet filter social { 300.1.2.3 }\n"})
    assert ("social.nft", 1) in _where(report, "TE901")
    assert verdicts(report)["facebook"] == "unknown"


def test_ruleset_takes_the_elements_an_element_file_in_the_repository_adds(lint):
    report = lint({"ruleset.nft": RULESET, "social.nft": ELEMENTS})
    assert verdicts(report)["facebook"] == "blocked"
    assert verdicts(report)["twitter"] == "unaffected"
    te101 = [f for f in report.findings if f.code == "TE101" and f.service == "facebook"]
    assert te101 and any(Path(s.path).name == "social.nft" for f in te101 for s in f.trace)


def test_empty_set_without_element_file_stays_empty(lint):
    # nft(8): a set declared without elements is empty as loaded.
    report = lint({"ruleset.nft": RULESET})
    assert verdicts(report)["facebook"] == "unaffected"


def test_element_file_for_another_table_is_not_taken(lint):
    other = ELEMENTS.replace("inet filter", "inet other")
    report = lint({"ruleset.nft": RULESET, "social.nft": other})
    assert verdicts(report)["facebook"] == "unaffected"


def test_linted_together_the_fragment_is_part_of_the_ruleset(tmp_path, catalog):
    (tmp_path / "ruleset.nft").write_text(RULESET)
    (tmp_path / "social.nft").write_text(ELEMENTS)
    report = lint_paths(
        [tmp_path / "ruleset.nft", tmp_path / "social.nft"],
        catalog,
        strict_policy(catalog),
        Options(root=tmp_path),
    )
    assert [Path(f.path).name for f in report.files] == ["ruleset.nft"]
    assert report.files[0].services["facebook"].verdict.value == "blocked"


def test_included_set_body_is_part_of_the_including_table(tmp_path, catalog):
    (tmp_path / "main.nft").write_text(
        RULESET.replace("    set social {", '    include "sets.nft"\n    set x {')
    )
    (tmp_path / "sets.nft").write_text(SETS_ONLY)
    report = lint_paths(
        [tmp_path / "main.nft", tmp_path / "sets.nft"],
        catalog,
        strict_policy(catalog),
        Options(root=tmp_path),
    )
    assert [Path(f.path).name for f in report.files] == ["main.nft"]
    assert report.files[0].services["facebook"].verdict.value.startswith("blocked")


def test_ruleset_with_a_foreign_element_line_lets_nothing_through_as_unaffected(lint):
    text = RULESET + f"add element inet elsewhere blocked {{ {FB_V4} }}\n"
    report = lint({"ruleset.nft": text})
    assert verdicts(report)["twitter"] == "unknown"
    assert _where(report, "TE903") == [("ruleset.nft", 10)]


def test_fragments_are_detected_by_content_under_any_name():
    assert detected_dialect(Path("blocked.conf"), ELEMENTS) == "nftables"
    assert detected_dialect(Path("social-sets"), SETS_ONLY) == "nftables"
    no_family = "add element filter social { 157.240.0.0/16 }\nadd element filter social { 31.13.24.0/21 }\n"
    assert detected_dialect(Path("blocklist.txt"), no_family) == "nftables"
    assert FB.networks  # the catalog has Facebook prefixes to test with
