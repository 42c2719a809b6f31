"""cisco-ios: ACLs decide where `ip access-group` applies them (first match, implicit deny,
wildcard masks, object-groups), NBAR/MQC policies where `service-policy` applies them, the zone
firewall between zones; written from Cisco's IOS Security and QoS configuration guides."""

from __future__ import annotations

from pathlib import Path

from policy_lint.catalog import load_catalog
from tests.conftest import detected_dialect, verdicts

FB = load_catalog().services["facebook"]
FB_V4 = [n for n in FB.networks if n.version == 4]


def wild(net) -> str:
    return f"{net.network_address} {net.hostmask}"


FB_ENTRIES = "\n".join(f" deny ip any {wild(n)}" for n in FB_V4)

HEAD = """\
!RANCID-CONTENT-TYPE: cisco
!
!Chassis type: ISR4331/K9 - a ISR4331 router
!
version 16.9
hostname edge1
!
banner motd ^C
 deny ip any any  (banner text, not a command)
^C
!
"""

ROUTER = """\
interface GigabitEthernet0/0/0
 description WAN
 ip address dhcp
 ip nat outside
!
interface GigabitEthernet0/0/1
 description LAN
 ip address 192.168.1.1 255.255.255.0
 ip nat inside
"""


def codes(report) -> list[str]:
    return [f.code for f in report.findings]


def finding(report, code):
    return next(f for f in report.findings if f.code == code)


def test_inbound_acl_on_the_lan_interface_blocks_its_clients(lint):
    cfg = (
        HEAD
        + f"ip access-list extended NO-FB\n{FB_ENTRIES}\n permit ip any any\n!\n"
        + ROUTER
        + " ip access-group NO-FB in\n"
    )
    report = lint({"edge1-confg": cfg})
    assert verdicts(report)["facebook"] == "blocked"
    assert verdicts(report)["twitter"] == "unaffected"
    f = finding(report, "TE101")
    assert f.span.line == 13  # the first deny entry
    assert any(s.text.startswith("ip access-group NO-FB in") for s in f.trace)


def test_an_acl_applied_nowhere_is_inert(lint):
    cfg = HEAD + f"ip access-list extended NO-FB\n{FB_ENTRIES}\n permit ip any any\n!\n" + ROUTER
    report = lint({"edge1-confg": cfg})
    assert verdicts(report)["facebook"] == "unaffected"
    assert finding(report, "TE202").span.line == 13


def test_implicit_deny_ends_a_list_with_entries(lint):
    cfg = (
        HEAD
        + "ip access-list extended ONLY-DNS\n permit udp any any eq domain\n"
        + ROUTER
        + " ip access-group ONLY-DNS in\n"
    )
    report = lint({"edge1-confg": cfg})
    # Everything web is denied: no web access at all (TE105), no service singled out.
    assert verdicts(report)["facebook"] == "blocked"
    assert "TE105" in codes(report)


def test_first_match_wins_a_permit_before_the_deny(lint):
    cfg = (
        HEAD
        + f"ip access-list extended L\n permit ip any any\n{FB_ENTRIES}\n"
        + ROUTER
        + " ip access-group L in\n"
    )
    report = lint({"edge1-confg": cfg})
    assert verdicts(report)["facebook"] == "unaffected"


def test_numbered_acl_with_wildcard_and_sequence_numbers(lint):
    entries = "\n".join(f"access-list 110 deny tcp any {wild(n)} eq 443" for n in FB_V4)
    cfg = HEAD + entries + "\naccess-list 110 permit ip any any\n" + ROUTER + " ip access-group 110 in\n"
    report = lint({"edge1-confg": cfg})
    # HTTPS denied to every IPv4 prefix: browsers reach the site over HTTPS only, so blocked.
    assert verdicts(report)["facebook"] == "blocked"


def test_source_wildcard_splits_the_lan(lint):
    entries = "\n".join(f" deny ip 192.168.1.0 0.0.0.127 {wild(n)}" for n in FB_V4)
    cfg = (
        HEAD
        + f"ip access-list extended L\n{entries}\n permit ip any any\n"
        + ROUTER
        + " ip access-group L in\n"
    )
    report = lint({"edge1-confg": cfg})
    assert verdicts(report)["facebook"] == "blocked-partial"


def test_object_group_of_networks(lint):
    members = "\n".join(f" {n.network_address} {n.netmask}" for n in FB_V4)
    cfg = (
        HEAD
        + f"object-group network FB\n{members}\n"
        + "ip access-list extended L\n deny ip any object-group FB\n permit ip any any\n"
        + ROUTER
        + " ip access-group L in\n"
    )
    report = lint({"edge1-confg": cfg})
    assert verdicts(report)["facebook"] == "blocked"


def test_outbound_acl_on_the_wan_sees_clients_after_nat(lint):
    # The source test names the LAN's private range: after NAT the WAN sees the router's address.
    entries = "\n".join(f" deny ip 192.168.1.0 0.0.0.255 {wild(n)}" for n in FB_V4)
    wan = ROUTER.replace(" ip nat outside\n", " ip nat outside\n ip access-group L out\n")
    wan = wan.replace("ip address dhcp", "ip address 203.0.113.2 255.255.255.252")
    cfg = HEAD + f"ip access-list extended L\n{entries}\n permit ip any any\n" + wan
    report = lint({"edge1-confg": cfg})
    assert verdicts(report)["facebook"] == "unaffected"


def test_outbound_acl_on_the_lan_drops_the_servers_replies(lint):
    entries = "\n".join(f" deny ip {wild(n)} any" for n in FB_V4)
    cfg = (
        HEAD
        + f"ip access-list extended L\n{entries}\n permit ip any any\n"
        + ROUTER
        + " ip access-group L out\n"
    )
    report = lint({"edge1-confg": cfg})
    assert verdicts(report)["facebook"] == "blocked"


NBAR = """\
class-map match-any SOCIAL
 match protocol facebook
policy-map DROP-SOCIAL
 class SOCIAL
  drop
"""


def test_nbar_drop_applied_by_service_policy(lint):
    cfg = HEAD + NBAR + ROUTER + " service-policy input DROP-SOCIAL\n"
    report = lint({"edge1-confg": cfg})
    assert verdicts(report)["facebook"] == "blocked"
    assert verdicts(report)["linkedin"] == "unaffected"
    assert finding(report, "TE101").span.line == 16


def test_police_that_transmits_conforming_traffic_throttles(lint):
    cfg = HEAD + NBAR.replace(
        "  drop\n", "  police cir 64000\n   conform-action transmit\n   exceed-action drop\n"
    )
    report = lint({"edge1-confg": cfg + ROUTER + " service-policy input DROP-SOCIAL\n"})
    assert verdicts(report)["facebook"] == "throttled"
    assert "TE104" in codes(report)


def test_police_conform_drop_blocks(lint):
    cfg = HEAD + NBAR.replace(
        "  drop\n", "  police cir 8000\n   conform-action drop\n   exceed-action drop\n"
    )
    report = lint({"edge1-confg": cfg + ROUTER + " service-policy output DROP-SOCIAL\n"})
    assert verdicts(report)["facebook"] == "blocked"


def test_bandwidth_is_a_guarantee_not_a_limit(lint):
    cfg = HEAD + NBAR.replace("  drop\n", "  bandwidth 512\n")
    report = lint({"edge1-confg": cfg + ROUTER + " service-policy output DROP-SOCIAL\n"})
    assert verdicts(report)["facebook"] == "unaffected"


def test_http_host_match_sees_plain_http_only(lint):
    cm = 'class-map match-any SOCIAL\n match protocol http host "*facebook.com*"\n'
    cfg = HEAD + cm + "policy-map P\n class SOCIAL\n  drop\n" + ROUTER + " service-policy input P\n"
    report = lint({"edge1-confg": cfg})
    assert verdicts(report)["facebook"] == "blocked-partial"


def test_policy_map_applied_nowhere_with_class_map_naming_the_service_is_inert(lint):
    report = lint(
        {"edge1-confg": HEAD + NBAR.replace("policy-map DROP-SOCIAL\n class SOCIAL\n  drop\n", "") + ROUTER}
    )
    assert verdicts(report)["facebook"] == "unaffected"
    assert finding(report, "TE202").span.line == 13


def test_unknown_nbar_name_is_unknown(lint):
    cfg = (
        HEAD + NBAR.replace("facebook", "meta-social-thing") + ROUTER + " service-policy input DROP-SOCIAL\n"
    )
    report = lint({"edge1-confg": cfg})
    assert verdicts(report)["facebook"] == "unknown"
    assert finding(report, "TE908").span.line == 13


def test_undefined_acl_applied_is_unknown(lint):
    report = lint({"edge1-confg": HEAD + ROUTER + " ip access-group ABSENT in\n"})
    assert verdicts(report)["facebook"] == "unknown"
    assert finding(report, "TE903").span.line == 21


def test_fragment_without_interfaces_is_unknown_and_names_the_missing_piece(lint):
    report = lint({"acl.ios": f"ip access-list extended NO-FB\n{FB_ENTRIES}\n permit ip any any\n"})
    assert verdicts(report)["facebook"] == "unknown"
    assert verdicts(report)["twitter"] == "unaffected"
    f = finding(report, "TE903")
    assert f.span.line == 1 and "no interface section" in f.message


ZBF = """\
zone security INSIDE
zone security OUTSIDE
class-map type inspect match-any SOCIAL
 match protocol facebook
class-map type inspect match-any WEB
 match protocol tcp
policy-map type inspect IN-OUT
 class type inspect SOCIAL
  drop
 class type inspect WEB
  inspect
 class class-default
  drop
zone-pair security IN-OUT source INSIDE destination OUTSIDE
 service-policy type inspect IN-OUT
"""


def test_zone_pair_inspect_policy_drops_the_class(lint):
    router = ROUTER.replace(" ip nat outside\n", " ip nat outside\n zone-member security OUTSIDE\n")
    cfg = HEAD + ZBF + router + " zone-member security INSIDE\n"
    report = lint({"edge1-confg": cfg})
    assert verdicts(report)["facebook"] == "blocked"
    assert verdicts(report)["twitter"] == "unaffected"
    assert finding(report, "TE101").span.line == 20


def test_zones_without_a_pair_drop_everything(lint):
    router = ROUTER.replace(" ip nat outside\n", " ip nat outside\n zone-member security OUTSIDE\n")
    cfg = HEAD + "zone security INSIDE\nzone security OUTSIDE\n" + router + " zone-member security INSIDE\n"
    report = lint({"edge1-confg": cfg})
    assert "TE105" in codes(report)


def test_markdown_note_reads_its_fenced_snippet(lint):
    text = "# Notes\n\nclass-map match-any X is explained here.\n\n```\n" + NBAR
    text += "wireless profile policy P1\n service-policy input DROP-SOCIAL\n```\n"
    report = lint({"notes.md": text})
    assert verdicts(report)["facebook"] == "blocked"
    assert finding(report, "TE101").span.line == 10


def test_detection_by_content(tmp_path):
    assert detected_dialect(Path("backup.txt"), HEAD + ROUTER) == "cisco-ios"
    assert (
        detected_dialect(Path("sw1"), "hostname sw1\ninterface Vlan10\n ip access-group X in\n")
        == "cisco-ios"
    )
    assert detected_dialect(Path("asa.txt"), "ASA Version 9.8(4)\nhostname fw\n") != "cisco-ios"


def test_binary_input_is_an_error(tmp_path, catalog):
    from policy_lint.engine import Options, lint_paths
    from policy_lint.policy import strict_policy

    p = tmp_path / "edge1-confg"
    p.write_bytes(b"\x00\x01\x02hostname")
    report = lint_paths([p], catalog, strict_policy(catalog), Options(root=tmp_path, dialect="cisco-ios"))
    assert report.errors and "binary" in report.errors[0]


def test_sub_interface_names_the_vlan_it_serves(lint):
    router = (
        ROUTER
        + "!\ninterface GigabitEthernet0/0/1.20\n encapsulation dot1Q 20\n ip address 10.20.0.1 255.255.255.0\n"
    )
    cfg = HEAD + NBAR + router + " service-policy input DROP-SOCIAL\n"
    report = lint({"edge1-confg": cfg})
    assert verdicts(report)["facebook"] == "blocked-partial"
    assert "GigabitEthernet0/0/1.20 (VLAN 20)" in finding(report, "TE102").message


OXIDIZED = """\
! Cisco IOS XE Software, Version 17.03.04a
! NAME: "Chassis", DESCR: "Cisco ISR4321 Chassis"
! PID: ISR4321/K9        , VID: V07  , SN: FDO00000000
!
Building configuration...

Current configuration : 2101 bytes
!
version 17.3
hostname br1
!
banner login \x03
Access for staff only. deny tcp any any
\x03
banner exec ^CWelcome^C
!
"""


def test_oxidized_backup_with_control_character_banners_lints_without_errors(lint):
    cfg = OXIDIZED + f"ip access-list extended NO-FB\n{FB_ENTRIES}\n permit ip any any\n" + ROUTER
    cfg += " ip access-group NO-FB in\n!\nline vty 0 4\n access-class NO-FB in\n!\nend\n"
    report = lint({"br1": cfg})
    assert not report.errors
    assert verdicts(report)["facebook"] == "blocked"
    assert not [c for c in codes(report) if c.startswith("TE9")]
    assert finding(report, "TE101").span.line == OXIDIZED.count("\n") + 2


def lan_acl(body: str) -> dict[str, str]:
    return {"edge1-confg": HEAD + body + ROUTER + " ip access-group L in\n"}


def test_an_empty_list_permits_everything(lint):
    report = lint(lan_acl("ip access-list extended L\n remark nothing yet\n"))
    assert verdicts(report)["facebook"] == "unaffected"
    assert "TE105" not in codes(report)


def test_a_sequence_number_inserts_between_entries(lint):
    # `15 deny` is typed after `20 permit` but IOS places it before: it decides.
    deny = "\n".join(f" {15 + i} deny ip any {wild(n)}" for i, n in enumerate(FB_V4) if 15 + i < 20)
    rest = [n for i, n in enumerate(FB_V4) if 15 + i >= 20]
    body = (
        "ip access-list extended L\n 10 permit udp any any eq domain\n 100 permit ip any any\n" + deny + "\n"
    )
    body += "\n".join(f" {30 + i} deny ip any {wild(n)}" for i, n in enumerate(rest)) + "\n"
    report = lint(lan_acl(body))
    assert verdicts(report)["facebook"] == "blocked"


def test_no_sequence_removes_an_entry(lint):
    body = f"ip access-list extended L\n{FB_ENTRIES}\n permit ip any any\nip access-list extended L\n no 10\n"
    report = lint(lan_acl(body))
    assert verdicts(report)["facebook"] == "blocked-partial"


def test_standard_list_matches_the_source_only(lint):
    # All of 192.168.1.0/24 loses all web access: no service singled out (TE105).
    report = lint(lan_acl("ip access-list standard L\n deny 192.168.1.0 0.0.0.255\n permit any\n"))
    assert "TE105" in codes(report)


def test_established_lets_only_replies_in(lint):
    # On the LAN interface outbound, `permit tcp any any established` passes the server's answers.
    cfg = (
        HEAD
        + "ip access-list extended BACK\n permit tcp any any established\n"
        + ROUTER
        + " ip access-group BACK out\n"
    )
    report = lint({"edge1-confg": cfg})
    assert verdicts(report)["facebook"] == "unaffected"


def test_time_range_makes_the_entry_unknown(lint):
    entries = "\n".join(f" deny ip any {wild(n)} time-range WORK" for n in FB_V4)
    report = lint(lan_acl(f"ip access-list extended L\n{entries}\n permit ip any any\n"))
    assert verdicts(report)["facebook"] == "unknown"


def test_undefined_object_group_is_named(lint):
    report = lint(
        lan_acl("ip access-list extended L\n deny ip any object-group ABSENT\n permit ip any any\n")
    )
    assert verdicts(report)["facebook"] == "unknown"
    assert finding(report, "TE903").span.line == 13


def test_match_not_inverts(lint):
    cm = "class-map match-all NOT-FB\n match not protocol facebook\npolicy-map P\n class NOT-FB\n  drop\n"
    report = lint({"edge1-confg": HEAD + cm + ROUTER + " service-policy input P\n"})
    # Everything else, the neutral site too, is dropped: an allow-list that lets Facebook through.
    assert verdicts(report)["facebook"] in ("unaffected", "allowed")
    assert verdicts(report)["twitter"] == "blocked"


def test_match_all_needs_every_match(lint):
    cm = "class-map match-all BOTH\n match protocol facebook\n match protocol twitter\n"
    cfg = HEAD + cm + "policy-map P\n class BOTH\n  drop\n" + ROUTER + " service-policy input P\n"
    report = lint({"edge1-confg": cfg})
    assert verdicts(report)["facebook"] == "unaffected"


def test_nested_class_map_and_child_policy(lint):
    cm = "class-map match-any FB\n match protocol facebook\nclass-map match-any SOCIAL\n match class-map FB\n"
    pm = "policy-map CHILD\n class SOCIAL\n  drop\npolicy-map PARENT\n class class-default\n  shape average 10000000\n  service-policy CHILD\n"
    report = lint({"edge1-confg": HEAD + cm + pm + ROUTER + " service-policy output PARENT\n"})
    assert verdicts(report)["facebook"] == "blocked"


def test_nbar_category_attribute_names_the_services_nbar_files_there(lint):
    cm = "class-map match-any SOCIAL\n match protocol attribute category social-networking\n"
    cfg = HEAD + cm + "policy-map P\n class SOCIAL\n  drop\n" + ROUTER + " service-policy input P\n"
    report = lint({"edge1-confg": cfg})
    assert verdicts(report)["facebook"] == "blocked"
    assert verdicts(report)["linkedin"] == "blocked"
    # Ning has no NBAR name in the catalog: whether NBAR files it there is unknown.
    assert verdicts(report)["ning"] == "unknown"


def test_the_vendor_name_and_its_confidence_are_said(lint):
    report = lint({"edge1-confg": HEAD + NBAR + ROUTER + " service-policy input DROP-SOCIAL\n"})
    from policy_lint.catalog import load_catalog
    from policy_lint.dialects.firewalls import cisco_ios
    from policy_lint.dialects.semantics.base import ParseContext
    from policy_lint.inputs import Resolver
    from policy_lint.model import EVERYONE

    assert report.files
    path = Path(report.files[0].path)
    rs = cisco_ios.parse(path, ParseContext(Resolver(path.parent), load_catalog()))
    probe = next(p for p in load_catalog().services["facebook"].probes() if p.role == "primary")
    d = rs.evaluate(probe, rs.audiences()[0] if rs.audiences() else EVERYONE)
    assert "confidence" in d.note and "cisco.nbar2" in d.note


def test_interface_in_a_zone_to_one_in_none_is_dropped(lint):
    cfg = HEAD + "zone security INSIDE\n" + ROUTER + " zone-member security INSIDE\n"
    report = lint({"edge1-confg": cfg})
    assert "TE105" in codes(report)


def test_ipv6_traffic_filter_is_not_modelled(lint):
    report = lint({"edge1-confg": HEAD + ROUTER + " ipv6 traffic-filter V6 in\n"})
    assert finding(report, "TE908").span.line == 21
    assert verdicts(report)["facebook"] in ("unknown", "blocked-partial", "unaffected")
    assert verdicts(report)["facebook"] != "blocked"


def test_a_file_that_is_no_ios_config_gets_no_verdict(lint):
    report = lint(
        {"squid.conf": "http_access deny all\nacl x dstdomain .facebook.com\n"}, dialect="cisco-ios"
    )
    assert report.errors and "understood none" in report.errors[0]
    assert "\n" not in report.errors[0]


def test_a_truncated_entry_is_refused_as_ios_refuses_it(lint):
    report = lint({"edge1-confg": HEAD + "ip access-list extended L\n deny tcp any 31.13.\n"})
    assert finding(report, "TE901").span.line == 13


def test_deep_nesting_does_not_crash(lint):
    deep = "hostname deep\n" + "".join(" " * i + "interface x\n" for i in range(1, 5000))
    report = lint({"deep-confg": deep}, dialect="cisco-ios")
    assert not report.errors


WAN_IN = "ip access-list extended WAN-IN\n permit udp any any eq domain\n deny ip any any\n"


def test_a_stateless_wan_list_drops_the_replies(lint):
    router = ROUTER.replace(" ip nat outside\n", " ip nat outside\n ip access-group WAN-IN in\n")
    report = lint({"edge1-confg": HEAD + WAN_IN + router})
    assert "TE105" in codes(report)


def test_cbac_inspection_opens_the_way_back(lint):
    router = ROUTER.replace(
        " ip nat outside\n", " ip nat outside\n ip inspect FW out\n ip access-group WAN-IN in\n"
    )
    report = lint({"edge1-confg": HEAD + "ip inspect name FW tcp\n" + WAN_IN + router})
    assert "TE105" not in codes(report)
    assert verdicts(report)["facebook"] == "unaffected"


def test_a_wlc_s_clients_are_its_policy_profiles(lint):
    cfg = HEAD + NBAR + "wireless profile policy STAFF\n service-policy input DROP-SOCIAL\n no shutdown\n"
    cfg += "interface Vlan30\n ip address 10.30.0.2 255.255.255.0\n"
    report = lint({"wlc-confg": cfg})
    assert verdicts(report)["facebook"] == "blocked"


def test_zone_pass_without_a_pair_back_drops_the_replies(lint):
    router = ROUTER.replace(" ip nat outside\n", " ip nat outside\n zone-member security OUTSIDE\n")
    zbf = ZBF.replace("  inspect\n", "  pass\n")
    report = lint({"edge1-confg": HEAD + zbf + router + " zone-member security INSIDE\n"})
    assert "TE105" in codes(report)
    back = (
        "zone-pair security OUT-IN source OUTSIDE destination INSIDE\n service-policy type inspect IN-OUT\n"
    )
    report = lint({"edge1-confg": HEAD + zbf + back + router + " zone-member security INSIDE\n"})
    assert verdicts(report)["twitter"] == "unaffected"
