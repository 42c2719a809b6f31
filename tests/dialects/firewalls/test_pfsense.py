"""pfSense / OPNsense config.xml: interface rules first-match, floating rules (quick or last
match), disabled rules, aliases (nested, urltable), schedules, pfBlockerNG, the squid package,
OPNsense rules and proxy, and XML that must not be read (entities, truncation)."""

from __future__ import annotations

import base64
from pathlib import Path

from policy_lint.catalog import load_catalog
from policy_lint.dialects import detect as detect_dialect
from policy_lint.dialects.firewalls import pfsense
from tests.conftest import verdicts

FB = load_catalog().services["facebook"]
FB_NETS = " ".join(str(n) for n in FB.networks)

IFACES = """<interfaces>
  <wan><enable/><if>em0</if><ipaddr>dhcp</ipaddr></wan>
  <lan><enable/><if>em1</if><ipaddr>192.168.1.1</ipaddr><subnet>24</subnet></lan>
  <opt1><enable/><descr>GUEST</descr><if>em2</if><ipaddr>10.10.0.1</ipaddr><subnet>24</subnet></opt1>
</interfaces>"""
FB_ALIAS = f"<alias><name>Facebook</name><type>network</type><address>{FB_NETS}</address></alias>"


def rule(
    kind: str, iface: str = "lan", dst: str = "<any/>", extra: str = "", src: str = "<network>lan</network>"
) -> str:
    return (
        f"<rule><type>{kind}</type><interface>{iface}</interface><ipprotocol>inet46</ipprotocol>"
        f"<source>{src}</source><destination>{dst}</destination>{extra}</rule>"
    )


ALLOW_LAN = rule("pass")
ALLOW_GUEST = rule("pass", "opt1", src="<network>opt1</network>")


def config(rules: str, aliases: str = "", extra: str = "", root: str = "pfsense") -> str:
    return (
        f'<?xml version="1.0"?>\n<{root}>\n{IFACES}\n<filter>\n{rules}\n</filter>\n'
        f"<aliases>{aliases}</aliases>\n{extra}\n</{root}>\n"
    )


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


SOCIAL_B64 = b64("# social\nfacebook.com\nfbcdn.net\n")
FB_B64 = b64("facebook.com\nfbcdn.net")


def codes(report) -> list[str]:
    return [f.code for f in report.findings]


def test_detect_needs_the_root_element_not_the_name():
    assert pfsense.detect(Path("backup.xml"), '<?xml version="1.0"?>\n<pfsense>\n<version>') >= 0.9
    assert pfsense.detect(Path("config.xml"), "<opnsense>\n<theme>") >= 0.9
    assert pfsense.detect(Path("config.xml"), "<project><name>x</name></project>") == 0.0
    module = detect_dialect(Path("config-router-2020.xml"), "<?xml version='1.0'?>\n<pfsense>\n")
    assert module is not None and module.NAME == "pfsense"


def test_block_before_pass_on_the_interface_blocks(lint):
    report = lint(
        {
            "config.xml": config(
                rule("block", dst="<address>Facebook</address>") + ALLOW_LAN + ALLOW_GUEST, FB_ALIAS
            )
        }
    )
    assert verdicts(report)["facebook"] == "blocked-partial"  # LAN only: GUEST still reaches it
    report = lint(
        {"config.xml": config(rule("block", dst="<address>Facebook</address>") + ALLOW_LAN, FB_ALIAS)}
    )
    v = verdicts(report)
    assert v["facebook"] == "blocked" and v["twitter"] == "unaffected"
    f = next(f for f in report.findings if f.code == "TE101")
    assert f.span.line == 9  # the <rule> element's line (after 5 lines of <interfaces>)


def test_first_match_on_the_interface_so_a_later_block_is_never_reached(lint):
    report = lint(
        {"config.xml": config(ALLOW_LAN + rule("block", dst="<address>Facebook</address>"), FB_ALIAS)}
    )
    assert verdicts(report)["facebook"] == "unaffected"


def test_disabled_rules_are_ignored(lint):
    blocked = rule("block", dst="<address>Facebook</address>", extra="<disabled/>")
    report = lint({"config.xml": config(blocked + ALLOW_LAN, FB_ALIAS)})
    assert verdicts(report)["facebook"] == "unaffected"


def test_wan_rules_filter_inbound_internet_traffic_not_users(lint):
    wan_block = rule("block", "wan", src="<address>Facebook</address>")
    report = lint({"config.xml": config(wan_block + ALLOW_LAN, FB_ALIAS)})
    assert verdicts(report)["facebook"] == "unaffected"


def test_floating_quick_rule_comes_before_interface_rules(lint):
    floating = rule(
        "block",
        "lan",
        "<address>Facebook</address>",
        "<floating>yes</floating><quick/><direction>any</direction>",
    )
    report = lint({"config.xml": config(ALLOW_LAN + floating, FB_ALIAS)})
    assert verdicts(report)["facebook"] == "blocked"


def test_non_quick_floating_rule_loses_to_a_matching_interface_rule(lint):
    floating = rule(
        "block", "lan", "<address>Facebook</address>", "<floating>yes</floating><direction>any</direction>"
    )
    report = lint({"config.xml": config(ALLOW_LAN + floating, FB_ALIAS)})
    assert verdicts(report)["facebook"] == "unaffected"


def test_floating_outbound_rule_on_wan_blocks_users(lint):
    floating = rule(
        "block",
        "wan",
        "<address>Facebook</address>",
        "<floating>yes</floating><quick/><direction>out</direction>",
        src="<any/>",
    )
    report = lint({"config.xml": config(ALLOW_LAN + floating, FB_ALIAS)})
    assert verdicts(report)["facebook"] == "blocked"


def test_lan_without_a_pass_rule_denies_the_control_too(lint):
    report = lint(
        {"config.xml": config(rule("pass", dst="<any/><port>53</port>", extra="<protocol>udp</protocol>"))}
    )
    assert verdicts(report)["facebook"] == "blocked"
    assert any("all web" in f.message.lower() or f.code == "TE105" for f in report.findings)


def test_nested_aliases_and_negation(lint):
    aliases = FB_ALIAS + "<alias><name>Social</name><type>network</type><address>Facebook</address></alias>"
    report = lint({"config.xml": config(rule("pass", dst="<address>Social</address><not/>"), aliases)})
    # Only traffic NOT to the social alias passes; everything else falls to the default deny.
    assert verdicts(report)["facebook"] == "blocked"
    assert verdicts(report)["twitter"] == "unaffected"


def test_port_alias_limits_the_rule(lint):
    aliases = FB_ALIAS + "<alias><name>Web</name><type>port</type><address>80 443</address></alias>"
    report = lint(
        {
            "config.xml": config(
                rule(
                    "block",
                    dst="<address>Facebook</address><port>Web</port>",
                    extra="<protocol>tcp</protocol>",
                )
                + ALLOW_LAN,
                aliases,
            )
        }
    )
    assert verdicts(report)["facebook"] == "blocked"
    report = lint(
        {
            "config.xml": config(
                rule(
                    "block",
                    dst="<address>Facebook</address><port>25</port>",
                    extra="<protocol>tcp</protocol>",
                )
                + ALLOW_LAN,
                aliases,
            )
        }
    )
    assert verdicts(report)["facebook"] == "unaffected"


def test_source_host_alias_is_an_audience(lint):
    aliases = FB_ALIAS + "<alias><name>Boss</name><type>host</type><address>192.168.1.50</address></alias>"
    report = lint(
        {
            "config.xml": config(
                rule("pass", dst="<any/>", src="<address>Boss</address>")
                + rule("block", dst="<address>Facebook</address>")
                + ALLOW_LAN,
                aliases,
            )
        }
    )
    assert verdicts(report)["facebook"] == "blocked-partial"


def test_urltable_without_content_is_unknown(lint):
    aliases = (
        "<alias><name>Blocked</name><type>urltable</type><url>https://example.org/list.txt</url>"
        "<address></address></alias>"
    )
    report = lint(
        {"config.xml": config(rule("block", dst="<address>Blocked</address>") + ALLOW_LAN, aliases)}
    )
    assert "TE903" in codes(report)
    assert verdicts(report)["facebook"] == "unknown"


def test_urltable_content_found_in_the_repository_is_used(lint):
    aliases = (
        "<alias><name>Blocked</name><type>urltable</type><url>https://example.org/list.txt</url>"
        "<address></address></alias>"
    )
    nets = "\n".join(str(n) for n in FB.networks)
    report = lint(
        {
            "config.xml": config(rule("block", dst="<address>Blocked</address>") + ALLOW_LAN, aliases),
            "var/db/aliastables/Blocked.txt": nets + "\n",
        }
    )
    assert verdicts(report)["facebook"] == "blocked"


def test_schedule_makes_a_block_partial_in_time(lint):
    sched = "<schedules><schedule><name>Work</name><timerange><hour>8:00-17:00</hour></timerange></schedule></schedules>"
    report = lint(
        {
            "config.xml": config(
                rule("block", dst="<address>Facebook</address>", extra="<sched>Work</sched>") + ALLOW_LAN,
                FB_ALIAS,
                sched,
            )
        }
    )
    assert verdicts(report)["facebook"] == "blocked-partial"
    assert any("Work" in " ".join(f.audiences) for f in report.findings if f.code == "TE102")


def test_pfblockerng_dnsbl_custom_list_is_base64(lint):
    pkg = f"""<installedpackages>
  <pfblockerng><config><enable_cb>on</enable_cb></config></pfblockerng>
  <pfblockerngdnsblsettings><config><pfb_dnsbl>on</pfb_dnsbl><pfb_tld>on</pfb_tld></config></pfblockerngdnsblsettings>
  <pfblockerngdnsbl><config><aliasname>Social</aliasname><action>unbound</action>
    <custom>{SOCIAL_B64}</custom></config></pfblockerngdnsbl>
</installedpackages>"""
    report = lint({"config.xml": config(ALLOW_LAN, "", pkg)})
    v = verdicts(report)
    assert v["facebook"] == "blocked" and v["twitter"] == "unaffected"


def test_pfblockerng_feed_not_in_the_xml_is_unknown(lint):
    pkg = """<installedpackages>
  <pfblockerng><config><enable_cb>on</enable_cb></config></pfblockerng>
  <pfblockerngdnsblsettings><config><pfb_dnsbl>on</pfb_dnsbl></config></pfblockerngdnsblsettings>
  <pfblockerngdnsbl><config><aliasname>Blocklist</aliasname><action>unbound</action>
    <row><format>auto</format><state>Enabled</state><url>https://example.org/sites.txt</url><header>Sites</header></row>
  </config></pfblockerngdnsbl>
</installedpackages>"""
    report = lint({"config.xml": config(ALLOW_LAN, "", pkg)})
    assert "TE903" in codes(report)
    assert verdicts(report)["facebook"] == "unknown"


def test_squid_package_blacklist_is_evaluated_by_the_squid_dialect(lint):
    pkg = f"""<installedpackages>
  <squid><config><enable_squid>on</enable_squid><active_interface>lan</active_interface></config></squid>
  <squidacl><config><blacklist>{FB_B64}</blacklist></config></squidacl>
</installedpackages>"""
    report = lint({"config.xml": config(ALLOW_LAN, "", pkg)})
    v = verdicts(report)
    assert v["facebook"] == "blocked" and v["twitter"] == "unaffected"


def test_squidguard_common_acl_denying_a_custom_target(lint):
    pkg = """<installedpackages>
  <squid><config><enable_squid>on</enable_squid><active_interface>lan</active_interface></config></squid>
  <squidguardgeneral><config><squidguard_enable>on</squidguard_enable></config></squidguardgeneral>
  <squidguarddest><config><name>social</name><domains>linkedin.com licdn.com</domains></config></squidguarddest>
  <squidguarddefault><config><dest>!social all</dest></config></squidguarddefault>
</installedpackages>"""
    report = lint({"config.xml": config(ALLOW_LAN, "", pkg)})
    v = verdicts(report)
    assert v["linkedin"] == "blocked" and v["facebook"] == "unaffected"


FB_LINES = FB_NETS.replace(" ", "\n")


def test_opnsense_mvc_rule_and_proxy_blacklist(lint):
    opn = f"""<OPNsense><Firewall><Filter><rules>
  <rule uuid="1"><enabled>1</enabled><sequence>1</sequence><action>block</action><quick>1</quick>
    <interface>lan</interface><direction>in</direction><ipprotocol>inet46</ipprotocol>
    <source_net>any</source_net><destination_net>Facebook</destination_net></rule>
</rules></Filter><Alias><aliases><alias><enabled>1</enabled><name>Facebook</name><type>network</type>
  <content>{FB_LINES}</content></alias></aliases></Alias></Firewall>
<proxy><general><enabled>1</enabled></general><forward><interfaces>lan</interfaces>
  <acl><blackList>.twitter.com,.x.com,.twimg.com</blackList></acl></forward></proxy></OPNsense>"""
    report = lint({"config.xml": config(ALLOW_LAN, "", opn, root="opnsense")})
    v = verdicts(report)
    assert v["facebook"] == "blocked" and v["twitter"] == "blocked" and v["linkedin"] == "unaffected"


def test_entity_declarations_are_refused_in_one_line(lint):
    bomb = (
        '<?xml version="1.0"?>\n<!DOCTYPE pfsense [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>\n'
        "<pfsense><filter>&b;</filter></pfsense>\n"
    )
    report = lint({"config.xml": bomb}, dialect="pfsense")
    f = next(f for f in report.findings if f.code == "TE902")
    assert "\n" not in f.message and "refused" in f.message
    assert verdicts(report)["facebook"] == "unknown"


def test_truncated_xml_is_te901_with_its_line(lint):
    report = lint({"config.xml": config(ALLOW_LAN)[:-40]}, dialect="pfsense")
    f = next(f for f in report.findings if f.code == "TE901")
    assert f.span.line > 1
    assert verdicts(report)["facebook"] == "unknown"


# --- issue #13: unmodelled rule fields, NAT port forwards


def test_each_unmodelled_field_yields_unknown_from_its_rule(lint):
    fb = "<address>Facebook</address>"
    for field in ("<tagged>FB</tagged>", "<os>Windows</os>", "<dscp>af11</dscp>"):
        report = lint({"config.xml": config(rule("block", dst=fb, extra=field) + ALLOW_LAN, FB_ALIAS)})
        assert verdicts(report)["facebook"] == "unknown", field
        assert verdicts(report)["twitter"] == "unaffected", field
        assert any(f.code == "TE106" and f.service == "facebook" for f in report.findings), field


def test_a_pass_through_another_gateway_is_unknown(lint):
    """Policy routing (<gateway>) sends the connection out another way (a VPN?): not modelled."""
    report = lint({"config.xml": config(rule("pass", extra="<gateway>VPN_GW</gateway>"))})
    assert set(verdicts(report).values()) == {"unknown"}
    assert "TE105" not in codes(report)
    te907 = [f for f in report.findings if f.code == "TE907"]
    assert len(te907) == 1 and "<gateway>VPN_GW</gateway> sends all traffic it passes" in te907[0].message


def test_a_block_above_the_gateway_pass_still_blocks(lint):
    report = lint(
        {
            "config.xml": config(
                rule("block", dst="<address>Facebook</address>")
                + rule("pass", extra="<gateway>VPN_GW</gateway>"),
                FB_ALIAS,
            )
        }
    )
    v = verdicts(report)
    assert v["facebook"] == "blocked" and v["twitter"] == "unknown"


def test_a_pass_by_the_default_gateway_is_no_policy_routing(lint):
    report = lint({"config.xml": config(rule("pass", extra="<gateway>default</gateway>"))})
    assert verdicts(report)["facebook"] == "unaffected"
    assert "TE907" not in codes(report)


def nat(dst: str, target: str = "10.0.0.9", port: str = "80") -> str:
    return (
        f"<nat><rule><interface>lan</interface><protocol>tcp</protocol><source><any/></source>"
        f"<destination>{dst}</destination><target>{target}</target><local-port>{port}</local-port>"
        "</rule></nat>"
    )


def test_port_forward_of_the_service_addresses_to_a_block_page_blocks(lint):
    report = lint(
        {
            "config.xml": config(
                ALLOW_LAN, FB_ALIAS, extra=nat("<address>Facebook</address><port>80-443</port>")
            )
        }
    )
    assert verdicts(report)["facebook"] == "blocked"
    assert verdicts(report)["twitter"] == "unaffected"
    assert "redirect" in next(f for f in report.findings if f.code == "TE101").message


def test_port_forward_of_all_web_traffic_is_unknown_with_te907(lint):
    report = lint({"config.xml": config(ALLOW_LAN, extra=nat("<any/><port>443</port>", port="3129"))})
    assert verdicts(report)["facebook"] == "unknown"
    assert "TE907" in codes(report)
    # a port forward on the WAN (from the Internet in) is not the clients' traffic
    wan = nat("<any/><port>443</port>").replace("<interface>lan</interface>", "<interface>wan</interface>")
    report = lint({"config.xml": config(ALLOW_LAN, extra=wan)})
    assert verdicts(report)["facebook"] == "unaffected"


# ---- whom a rule reaches, in the configuration's words (issue #13, item 12)


def _fb_block(report):
    return next(f for f in report.findings if f.service == "facebook" and f.code in ("TE101", "TE102"))


def test_a_block_after_a_pass_for_one_host_names_whom_it_reaches(lint):
    # pfSense interface rules: the first match wins (quick); 192.168.1.5 passes before the block.
    report = lint(
        {
            "config.xml": config(
                rule("pass", src="<address>192.168.1.5</address>")
                + rule("block", dst="<address>Facebook</address>")
                + ALLOW_LAN,
                FB_ALIAS,
            )
        }
    )
    f = _fb_block(report)
    assert f.message.startswith("Facebook blocked for clients on lan & not from 192.168.1.5 by ")
    assert "192.168.1.2" not in f.message


def test_a_block_from_lan_net_is_named_as_the_gui_shows_it(lint):
    report = lint(
        {"config.xml": config(rule("block", dst="<address>Facebook</address>") + ALLOW_LAN, FB_ALIAS)}
    )
    assert _fb_block(report).message.startswith("Facebook blocked for clients on lan from LAN net by ")
