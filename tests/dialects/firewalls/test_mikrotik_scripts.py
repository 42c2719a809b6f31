"""MikroTik RouterOS scripts: `:foreach VAR in={a;b} do={ ... }` runs its block once per element
of a literal array, `$VAR` standing for the element (RouterOS manual, Scripting: "Loops and
conditional statements"); scripts saved as `.rsc` or `.txt` are recognised by their commands."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import detected_dialect, verdicts

ONE_LINE = (
    ':foreach i in={"157.240.0.0/16";"31.13.24.0/21"} do={ '
    "/ip firewall filter add chain=forward dst-address=$i action=drop }\n"
)


def _where(report, code: str) -> list[tuple[str, int]]:
    return sorted((Path(f.span.path).name, f.span.line) for f in report.findings if f.code == code)


def test_foreach_over_a_literal_array_adds_one_rule_per_element(lint):
    report = lint({"block.rsc": ONE_LINE})
    assert verdicts(report)["facebook"] == "blocked-partial"
    assert verdicts(report)["twitter"] == "unaffected"
    assert _where(report, "TE102") == [("block.rsc", 1)]
    assert not _where(report, "TE907")


def test_foreach_block_over_several_lines(lint):
    text = (
        ":foreach net in={157.240.0.0/16;31.13.24.0/21} do={\n"
        "    /ip firewall address-list add list=social address=$net\n"
        "}\n"
        "/ip firewall filter add chain=forward dst-address-list=social action=drop\n"
    )
    report = lint({"block.rsc": text})
    assert verdicts(report)["facebook"] == "blocked-partial"


def test_foreach_over_a_computed_array_stays_unknown(lint):
    text = (
        ":foreach i in=[/ip firewall address-list find list=x] do={ "
        "/ip firewall filter add chain=forward dst-address=$i action=drop }\n"
    )
    report = lint({"block.rsc": text})
    assert verdicts(report)["facebook"] == "unknown"
    assert _where(report, "TE907") == [("block.rsc", 1)]


def test_scripts_are_detected_in_rsc_and_txt():
    assert detected_dialect(Path("block.txt"), ONE_LINE) == "mikrotik"
    assert detected_dialect(Path("social.rsc"), ONE_LINE) == "mikrotik"
    plain = "/ip firewall filter add chain=forward dst-address=157.240.0.0/16 action=drop\n"
    assert detected_dialect(Path("notes.txt"), plain * 2) == "mikrotik"
