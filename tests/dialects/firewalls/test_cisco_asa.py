"""cisco-asa: access-groups (interface in/out, global), first match and the implicit deny,
security levels without an access list, network objects (fqdn, subnet, groups), HTTP inspection
of plain HTTP; written from Cisco's ASA firewall and service-policy configuration guides."""

from __future__ import annotations

from pathlib import Path

from policy_lint.catalog import load_catalog
from tests.conftest import detected_dialect, verdicts

FB = load_catalog().services["facebook"]
FB_V4 = [n for n in FB.networks if n.version == 4]

HEAD = """\
!RANCID-CONTENT-TYPE: cisco
!
!Chassis type: ASA5516 - a ASA5516 firewall
!
: Saved
:
ASA Version 9.8(4)
!
hostname fw1
names
!
interface GigabitEthernet1/1
 nameif outside
 security-level 0
 ip address 203.0.113.2 255.255.255.252
!
interface GigabitEthernet1/2
 nameif inside
 security-level 100
 ip address 192.168.1.1 255.255.255.0
!
route outside 0.0.0.0 0.0.0.0 203.0.113.1 1
"""
N = HEAD.count("\n")


def codes(report) -> list[str]:
    return [f.code for f in report.findings]


def finding(report, code):
    return next(f for f in report.findings if f.code == code)


def fb_acl(name: str) -> str:
    return "".join(
        f"access-list {name} extended deny ip any {n.network_address} {n.netmask}\n" for n in FB_V4
    )


def test_no_access_list_higher_to_lower_security_level_passes(lint):
    report = lint({"fw1.asa": HEAD})
    assert verdicts(report)["facebook"] == "unaffected"


def test_inbound_list_on_the_inside_interface_blocks(lint):
    cfg = (
        HEAD
        + fb_acl("IN")
        + "access-list IN extended permit ip any any\naccess-group IN in interface inside\n"
    )
    report = lint({"fw1.asa": cfg})
    assert verdicts(report)["facebook"] == "blocked"
    assert verdicts(report)["twitter"] == "unaffected"
    f = finding(report, "TE101")
    assert f.span.line == N + 1
    assert any(s.text.startswith("access-group IN in interface inside") for s in f.trace)


def test_implicit_deny_after_the_list(lint):
    cfg = HEAD + "access-list IN extended permit udp any any eq domain\naccess-group IN in interface inside\n"
    report = lint({"fw1.asa": cfg})
    assert "TE105" in codes(report)


def test_global_list_applies_after_the_interface_list(lint):
    cfg = (
        HEAD
        + fb_acl("GLOBAL")
        + "access-list GLOBAL extended permit ip any any\naccess-group GLOBAL global\n"
    )
    report = lint({"fw1.asa": cfg})
    assert verdicts(report)["facebook"] == "blocked"


def test_outbound_list_on_outside_matches_real_addresses(lint):
    rules = "".join(
        f"access-list OUT extended deny ip 192.168.1.0 255.255.255.0 {n.network_address} {n.netmask}\n"
        for n in FB_V4
    )
    cfg = (
        HEAD + rules + "access-list OUT extended permit ip any any\naccess-group OUT out interface outside\n"
    )
    report = lint({"fw1.asa": cfg})
    assert verdicts(report)["facebook"] == "blocked"


def test_fqdn_object_blocks_that_name_only(lint):
    cfg = HEAD + (
        "object network FB\n fqdn www.facebook.com\n"
        "access-list IN extended deny tcp any object FB eq https\n"
        "access-list IN extended permit ip any any\n"
        "access-group IN in interface inside\n"
    )
    report = lint({"fw1.asa": cfg})
    assert verdicts(report)["facebook"] == "blocked-partial"
    assert finding(report, "TE102").span.line == N + 3


def test_object_group_of_subnets(lint):
    members = "".join(f" network-object {n.network_address} {n.netmask}\n" for n in FB_V4)
    cfg = HEAD + (
        f"object-group network FB-NETS\n{members}"
        "access-list IN extended deny ip any object-group FB-NETS\n"
        "access-list IN extended permit ip any any\n"
        "access-group IN in interface inside\n"
    )
    report = lint({"fw1.asa": cfg})
    assert verdicts(report)["facebook"] == "blocked"


def test_an_access_list_applied_nowhere_is_inert(lint):
    report = lint({"fw1.asa": HEAD + fb_acl("UNUSED")})
    assert verdicts(report)["facebook"] == "unaffected"
    assert finding(report, "TE202").span.line == N + 1


HTTP_INSPECT = """\
regex FB "facebook\\.com"
class-map type regex match-any SOCIAL
 match regex FB
class-map type inspect http match-all BLOCK-SOCIAL
 match request header host regex class SOCIAL
policy-map type inspect http HTTP-MAP
 parameters
 class BLOCK-SOCIAL
  drop-connection log
class-map inspection_default
 match default-inspection-traffic
policy-map global_policy
 class inspection_default
  inspect http HTTP-MAP
service-policy global_policy global
"""


def test_http_inspection_drops_plain_http_only(lint):
    report = lint({"fw1.asa": HEAD + HTTP_INSPECT})
    assert verdicts(report)["facebook"] == "blocked-partial"
    assert verdicts(report)["twitter"] == "unaffected"
    f = finding(report, "TE102")
    assert f.span.line == N + 9
    assert "plain HTTP" in f.message


def test_http_inspection_with_log_only_blocks_nothing(lint):
    report = lint({"fw1.asa": HEAD + HTTP_INSPECT.replace("drop-connection log", "log")})
    assert verdicts(report)["facebook"] == "unaffected"


def test_unmodelled_http_match_is_unknown(lint):
    cfg = HEAD + HTTP_INSPECT.replace(
        "match request header host regex class SOCIAL", "match request method connect"
    )
    report = lint({"fw1.asa": cfg})
    assert verdicts(report)["facebook"] == "unknown"
    assert finding(report, "TE908").span.line == N + 5


def test_fragment_without_interfaces_is_unknown(lint):
    report = lint({"acl.asa": "ASA Version 9.8(4)\n" + fb_acl("IN")})
    assert verdicts(report)["facebook"] == "unknown"
    assert "no interface section" in finding(report, "TE903").message


def test_lower_to_higher_without_a_list_is_denied(lint):
    # Clients on a DMZ of level 0 towards an outside of level 50: lower to higher, denied.
    cfg = HEAD.replace("security-level 100", "security-level 0").replace(
        "nameif outside\n security-level 0", "nameif outside\n security-level 50"
    )
    report = lint({"fw1.asa": cfg})
    assert "TE105" in codes(report)


def test_detection_by_content():
    assert detected_dialect(Path("fw1.txt"), HEAD) == "cisco-asa"
    assert (
        detected_dialect(
            Path("running"),
            "access-list X extended deny ip any any\naccess-group X in interface inside\n nameif inside\n",
        )
        == "cisco-asa"
    )


def test_same_security_needs_the_permit(lint):
    same = HEAD.replace("security-level 100", "security-level 0")
    assert "TE105" in codes(lint({"fw1.asa": same}))
    report = lint({"fw1.asa": same + "same-security-traffic permit inter-interface\n"})
    assert verdicts(report)["facebook"] == "unaffected" and "TE105" not in codes(report)


def test_an_inactive_entry_is_skipped(lint):
    rules = "".join(
        f"access-list IN extended deny ip any {n.network_address} {n.netmask} inactive\n" for n in FB_V4
    )
    cfg = HEAD + rules + "access-list IN extended permit ip any any\naccess-group IN in interface inside\n"
    assert verdicts(lint({"fw1.asa": cfg}))["facebook"] == "unaffected"


def test_line_number_inserts_before_the_permit(lint):
    rules = "".join(
        f"access-list IN line {i + 1} extended deny ip any {n.network_address} {n.netmask}\n"
        for i, n in enumerate(FB_V4)
    )
    cfg = (
        HEAD + "access-list IN extended permit ip any any\n" + rules + "access-group IN in interface inside\n"
    )
    assert verdicts(lint({"fw1.asa": cfg}))["facebook"] == "blocked"


def test_service_object_group_for_the_port(lint):
    cfg = HEAD + (
        "object-group service WEB tcp\n port-object eq https\n port-object eq www\n"
        "object network FB\n fqdn www.facebook.com\n"
        "access-list IN extended deny tcp any object FB object-group WEB\n"
        "access-list IN extended permit ip any any\n"
        "access-group IN in interface inside\n"
    )
    report = lint({"fw1.asa": cfg})
    assert verdicts(report)["facebook"] == "blocked-partial"
    assert finding(report, "TE102").span.line == N + 6


def test_undefined_object_is_unknown_and_named(lint):
    cfg = HEAD + (
        "access-list IN extended deny ip any object-group ABSENT\n"
        "access-list IN extended permit ip any any\n"
        "access-group IN in interface inside\n"
    )
    report = lint({"fw1.asa": cfg})
    assert verdicts(report)["facebook"] == "unknown"
    assert finding(report, "TE903").span.line == N + 1


def test_bad_regex_is_reported_and_unknown(lint):
    report = lint({"fw1.asa": HEAD + HTTP_INSPECT.replace('"facebook\\.com"', '"(facebook"')})
    assert "TE905" in codes(report)
    assert verdicts(report)["facebook"] == "unknown"
