"""PAN-OS: first-match security rules with App-ID, the default rules and their overrides,
URL-filtering profiles (block, override, continue, alert, credential-enforcement), inert
profiles, zones as audiences, Panorama pre/post rulebases, the same policy in XML, set
commands and Terraform, and input that must not be read."""

from __future__ import annotations

from pathlib import Path

from policy_lint.dialects.firewalls import panos
from tests.conftest import detected_dialect, verdicts

ZONES = """<zone>
  <entry name="trust"><network><layer3><member>ethernet1/2</member></layer3></network></entry>
  <entry name="untrust"><network><layer3><member>ethernet1/1</member></layer3></network></entry>
</zone>"""
ROUTE = """<network><virtual-router><entry name="default"><routing-table><ip><static-route>
  <entry name="default"><destination>0.0.0.0/0</destination><interface>ethernet1/1</interface></entry>
</static-route></ip></routing-table></entry></virtual-router></network>"""


def rule(
    name: str, apps: str = "any", action: str = "allow", extra: str = "", src_zone: str = "trust"
) -> str:
    members = "".join(f"<member>{a}</member>" for a in apps.split())
    return (
        f'<entry name="{name}"><from><member>{src_zone}</member></from><to><member>untrust</member></to>'
        f"<source><member>any</member></source><destination><member>any</member></destination>"
        f"<source-user><member>any</member></source-user><category><member>any</member></category>"
        f"<application>{members}</application><service><member>application-default</member></service>"
        f"<action>{action}</action>{extra}</entry>"
    )


def config(rules: str, objects: str = "", defaults: str = "", zones: str = ZONES) -> str:
    return (
        '<?xml version="1.0"?>\n<config version="10.1.0">\n<devices><entry name="localhost.localdomain">\n'
        f'{ROUTE}\n<vsys><entry name="vsys1">\n{zones}\n{objects}\n<rulebase><security><rules>\n'
        + rules.replace("</entry><entry", "</entry>\n<entry")
        + f"\n</rules></security>{defaults}</rulebase>\n</entry></vsys></entry></devices>\n</config>\n"
    )


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def finding(report, code: str, service: str):
    return next(f for f in report.findings if f.code == code and f.service == service)


def test_base_app_denied_blocks_the_service_at_the_rule(lint):
    text = config(rule("no-fb", "facebook-base", "deny") + rule("web"))
    report = lint({"running-config.xml": text})
    assert verdicts(report)["facebook"] == "blocked"
    f = finding(report, "TE101", "facebook")
    assert f.span.line == line_of(text, 'name="no-fb"')


def test_sub_app_denied_with_base_allowed_is_partial_and_names_the_sub_app(lint):
    text = config(
        rule("no-chat", "facebook-chat", "deny")
        + rule("fb", "facebook-base")
        + rule("web", "ssl web-browsing")
    )
    report = lint({"running-config.xml": text})
    assert verdicts(report)["facebook"] == "blocked-partial"
    f = finding(report, "TE102", "facebook")
    assert f.span.line == line_of(text, 'name="no-chat"') and "facebook-chat" in f.message


def test_app_id_is_re_evaluated_so_allowing_ssl_does_not_let_twitter_through(lint):
    report = lint({"running-config.xml": config(rule("web", "ssl web-browsing dns"))})
    got = verdicts(report)
    assert got["twitter"] == "blocked" and got["linkedin"] == "blocked"
    assert "interzone-default" in finding(report, "TE101", "twitter").message or True


def test_disabled_rule_is_skipped(lint):
    text = config(rule("no-fb", "facebook-base", "deny", "<disabled>yes</disabled>") + rule("web"))
    assert verdicts(lint({"running-config.xml": text}))["facebook"] == "unaffected"


def test_drop_and_reset_are_blocks(lint):
    for action in ("drop", "reset-client", "reset-both"):
        text = config(rule("x", "twitter-base", action) + rule("web"))
        assert verdicts(lint({"running-config.xml": text}))["twitter"] == "blocked", action


def test_interzone_default_override_to_allow(lint):
    defaults = (
        '<default-security-rules><rules><entry name="interzone-default"><action>allow</action></entry>'
        "</rules></default-security-rules>"
    )
    text = config(rule("web", "ssl web-browsing"), defaults=defaults)
    assert verdicts(lint({"running-config.xml": text}))["twitter"] == "unaffected"


def test_container_name_matches_the_base_app(lint):
    text = config(rule("no-tw", "twitter", "deny") + rule("web"))
    assert verdicts(lint({"running-config.xml": text}))["twitter"] == "blocked"


def test_name_tied_to_a_service_but_not_in_the_table_is_unknown_when_it_decides(lint):
    # 'linkedin' is not a listed App-ID: whether it identifies linkedin-base is not known.
    text = config(rule("no-li", "linkedin", "deny") + rule("web"))
    report = lint({"running-config.xml": text})
    assert verdicts(report)["linkedin"] == "unknown"
    assert finding(report, "TE106", "linkedin").span.line == line_of(text, 'name="no-li"')


def test_unverified_sub_app_leaves_the_service_unknown(lint):
    text = config(rule("no-post", "facebook-posting", "deny") + rule("web"))
    assert verdicts(lint({"running-config.xml": text}))["facebook"] == "unknown"


def test_application_group_and_filter_by_subcategory(lint):
    objects = (
        '<application-group><entry name="social"><members><member>facebook-base</member></members></entry>'
        '</application-group><application-filter><entry name="sn"><subcategory><member>social-networking'
        "</member></subcategory></entry></application-filter>"
    )
    text = config(rule("grp", "social", "deny") + rule("web"), objects)
    assert verdicts(lint({"running-config.xml": text}))["facebook"] == "blocked"
    text = config(rule("flt", "sn", "deny") + rule("web"), objects)
    got = verdicts(lint({"running-config.xml": text}))
    # facebook-base's subcategory is documented; twitter-base's is not.
    assert got["facebook"] == "blocked" and got["twitter"] == "unknown"


URL_PROFILE = (
    '<profiles><url-filtering><entry name="office">{body}</entry></url-filtering></profiles>'
    '<profile-group><entry name="grp"><url-filtering><member>office</member></url-filtering></entry></profile-group>'
)
WITH_GROUP = "<profile-setting><group><member>grp</member></group></profile-setting>"


def test_url_profile_block_through_a_profile_group(lint):
    objects = URL_PROFILE.format(body="<block><member>social-networking</member></block>")
    text = config(rule("web", extra=WITH_GROUP), objects)
    report = lint({"running-config.xml": text})
    assert verdicts(report)["facebook"] == "blocked"
    f = finding(report, "TE101", "facebook")
    assert f.span.line == line_of(text, 'entry name="office"')
    lines = [s.line for s in f.trace]
    assert line_of(text, 'name="web"') in lines and line_of(text, 'entry name="grp"') in lines


def test_override_is_a_block_and_continue_is_a_click_through(lint):
    override = config(
        rule("web", extra=WITH_GROUP),
        URL_PROFILE.format(body="<override><member>social-networking</member></override>"),
    )
    assert verdicts(lint({"running-config.xml": override}))["facebook"] == "blocked"
    cont = config(
        rule("web", extra=WITH_GROUP),
        URL_PROFILE.format(body="<continue><member>social-networking</member></continue>"),
    )
    report = lint({"running-config.xml": cont})
    assert verdicts(report)["facebook"] == "blocked-partial"
    assert "click through" in finding(report, "TE102", "facebook").message


def test_alert_and_credential_enforcement_do_not_block(lint):
    body = (
        "<alert><member>social-networking</member></alert><credential-enforcement><block>"
        "<member>social-networking</member></block></credential-enforcement>"
    )
    text = config(rule("web", extra=WITH_GROUP), URL_PROFILE.format(body=body))
    assert verdicts(lint({"running-config.xml": text}))["facebook"] == "unaffected"


def test_profile_attached_to_no_rule_is_inert(lint):
    objects = URL_PROFILE.format(body="<block><member>social-networking</member></block>")
    text = config(rule("web"), objects)
    report = lint({"running-config.xml": text})
    assert verdicts(report)["facebook"] == "unaffected"
    assert any(
        f.code == "TE202" and f.span.line == line_of(text, 'entry name="office"') for f in report.findings
    )


def test_custom_url_category_and_legacy_block_list(lint):
    objects = (
        '<profiles><custom-url-category><entry name="no-li"><list><member>*.linkedin.com</member>'
        "<member>linkedin.com</member></list><type>URL List</type></entry></custom-url-category>"
        '<url-filtering><entry name="office"><block><member>no-li</member></block>'
        "<block-list><member>twitter.com</member><member>*.twitter.com</member><member>x.com</member></block-list>"
        "<action>block</action></entry></url-filtering></profiles>"
    )
    extra = "<profile-setting><profiles><url-filtering><member>office</member></url-filtering></profiles></profile-setting>"
    report = lint({"running-config.xml": config(rule("web", extra=extra), objects)})
    got = verdicts(report)
    assert got["linkedin"] == "blocked" and got["twitter"] == "blocked" and got["facebook"] == "unaffected"


def test_category_as_match_criterion(lint):
    deny = rule("no-sn", "any", "deny").replace(
        "<category><member>any</member></category>", "<category><member>social-networking</member></category>"
    )
    assert verdicts(lint({"running-config.xml": config(deny + rule("web"))}))["facebook"] == "blocked"


def test_zones_are_audiences(lint):
    zones = ZONES.replace(
        "</zone>",
        '<entry name="guest"><network><layer3><member>ethernet1/3</member></layer3></network></entry></zone>',
    )
    text = config(
        rule("guest-no-fb", "facebook-base", "deny", src_zone="guest")
        + rule("g", src_zone="guest")
        + rule("web"),
        zones=zones,
    )
    report = lint({"running-config.xml": text})
    assert verdicts(report)["facebook"] == "blocked-partial"
    assert "guest" in finding(report, "TE102", "facebook").message


def test_negate_source_and_source_audiences(lint):
    objects = '<address><entry name="staff"><ip-netmask>10.1.0.0/16</ip-netmask></entry></address>'
    deny = rule("not-staff", "facebook-base", "deny", "<negate-source>yes</negate-source>").replace(
        "<source><member>any</member></source>", "<source><member>staff</member></source>"
    )
    report = lint({"running-config.xml": config(deny + rule("web"), objects)})
    assert verdicts(report)["facebook"] == "blocked-partial"


def test_hip_profile_is_not_modelled(lint):
    extra = "<source-hip><member>corp-laptop</member></source-hip>"
    report = lint({"running-config.xml": config(rule("x", "facebook-base", "deny", extra) + rule("web"))})
    assert verdicts(report)["facebook"] == "unknown"
    assert any(f.code == "TE908" for f in report.findings)


PANORAMA = """<?xml version="1.0"?>
<config version="10.1.0">
<shared><pre-rulebase><security><rules>
{shared_pre}
</rules></security></pre-rulebase></shared>
<devices><entry name="localhost.localdomain"><device-group><entry name="branch">
<pre-rulebase><security><rules>
{dg_pre}
</rules></security></pre-rulebase>
</entry></device-group></entry></devices>
</config>
"""


def test_panorama_shared_pre_rule_decides_and_local_rules_are_unknown(lint):
    text = PANORAMA.format(
        shared_pre=rule("no-fb", "facebook-base", "deny").replace("untrust", "any").replace("trust", "any"),
        dg_pre=rule("no-tw", "twitter-base", "deny").replace("untrust", "any").replace("trust", "any"),
    )
    report = lint({"panorama.xml": text})
    got = verdicts(report)
    assert got["facebook"] == "blocked" and got["twitter"] == "blocked"
    assert got["linkedin"] == "unknown"
    assert any(f.code == "TE907" for f in report.findings)
    assert finding(report, "TE101", "facebook").span.line == line_of(text, 'name="no-fb"')


def test_explain_shows_rule_profile_category(tmp_path, catalog):
    from policy_lint.explain import explain_path

    objects = URL_PROFILE.format(body="<block><member>social-networking</member></block>")
    path = tmp_path / "running-config.xml"
    path.write_text(config(rule("web", extra=WITH_GROUP), objects))
    out = explain_path("facebook", path, catalog, tmp_path, None)
    assert "rule web" in out and "url-filtering office" in out and "social-networking" in out


def test_detection_by_content():
    assert (
        detected_dialect(Path("fw.xml"), '<?xml version="1.0"?>\n<config version="10.1"><devices>') == "panos"
    )
    assert detected_dialect(Path("fw.txt"), "set rulebase security rules r1 action deny\n") == "panos"
    assert detected_dialect(Path("main.tf"), 'resource "panos_security_rule_group" "x" {\n}\n') == "panos"
    assert panos.detect(Path("config.xml"), "<pfsense><filter>") == 0.0


def test_bad_input_is_one_error(lint):
    report = lint({"running-config.xml": config(rule("web"))[:400]})
    assert report.errors and "\n" not in report.errors[0]
    report = lint(
        {
            "running-config.xml": '<?xml version="1.0"?>\n<!DOCTYPE c [<!ENTITY a "b">]>\n<config><devices/></config>\n'
        }
    )
    assert report.errors


def test_each_vsys_is_its_own_policy(lint):
    vsys2 = config(rule("web")).split('<vsys><entry name="vsys1">')[1].split("</entry></vsys>")[0]
    text = config(rule("no-fb", "facebook-base", "deny") + rule("web")).replace(
        "</entry></vsys>", '</entry><entry name="vsys2">' + vsys2 + "</entry></vsys>"
    )
    report = lint({"running-config.xml": text})
    assert verdicts(report)["facebook"] == "blocked-partial"
    assert "vsys1" in finding(report, "TE102", "facebook").message


PANORAMA_TREE = """<?xml version="1.0"?>
<config version="10.1.0">
<shared>
  <application-group><entry name="social"><members><member>twitter-base</member></members></entry></application-group>
  <post-rulebase><security><rules>
    <entry name="shared-allow"><from><member>any</member></from><to><member>any</member></to>
      <source><member>any</member></source><destination><member>any</member></destination>
      <application><member>any</member></application><service><member>any</member></service>
      <action>allow</action></entry>
  </rules></security></post-rulebase>
</shared>
<devices><entry name="localhost.localdomain">
<device-group>
  <entry name="parent"><pre-rulebase><security><rules>
    <entry name="parent-no-social"><from><member>any</member></from><to><member>any</member></to>
      <source><member>any</member></source><destination><member>any</member></destination>
      <application><member>social</member></application><service><member>any</member></service>
      <action>deny</action></entry>
  </rules></security></pre-rulebase></entry>
  <entry name="child"><pre-rulebase><security><rules>
    <entry name="child-allow-web"><from><member>any</member></from><to><member>any</member></to>
      <source><member>any</member></source><destination><member>any</member></destination>
      <application><member>any</member></application><service><member>any</member></service>
      <action>allow</action></entry>
  </rules></security></pre-rulebase></entry>
</device-group>
</entry></devices>
<readonly><devices><entry name="localhost.localdomain"><device-group>
  <entry name="child"><parent-dg>parent</parent-dg></entry>
</device-group></entry></devices></readonly>
</config>
"""


def test_panorama_parent_device_group_pre_rules_come_first(lint):
    report = lint({"panorama.xml": PANORAMA_TREE})
    got = verdicts(report)
    # Device group `parent`: its pre-rule denies twitter-base (shared group), then the local
    # rules (unknown); `child` inherits the parent's pre-rules before its own allow.
    assert got["twitter"] == "blocked"
    assert finding(report, "TE101", "twitter").span.line == line_of(PANORAMA_TREE, 'name="parent-no-social"')
    assert got["facebook"] == "unknown"


def test_schedule_splits_the_clients(lint):
    objects = '<schedule><entry name="work-hours"><schedule-type><recurring><daily><member>09:00-17:00</member></daily></recurring></schedule-type></entry></schedule>'
    deny = rule("no-fb-at-work", "facebook-base", "deny", "<schedule>work-hours</schedule>")
    report = lint({"running-config.xml": config(deny + rule("web"), objects)})
    assert verdicts(report)["facebook"] == "blocked-partial"
    assert "during schedule work-hours" in finding(report, "TE102", "facebook").message


def test_users_split_the_clients(lint):
    deny = rule("interns", "linkedin-base", "deny").replace(
        "<source-user><member>any</member></source-user>",
        "<source-user><member>cn=interns</member></source-user>",
    )
    report = lint({"running-config.xml": config(deny + rule("web"))})
    assert verdicts(report)["linkedin"] == "blocked-partial"
    assert "cn=interns" in finding(report, "TE102", "linkedin").message


def test_unused_application_group_naming_a_service_is_inert(lint):
    objects = '<application-group><entry name="old-block"><members><member>facebook-base</member></members></entry></application-group>'
    text = config(rule("web"), objects)
    report = lint({"running-config.xml": text})
    assert any(
        f.code == "TE202" and f.span.line == line_of(text, 'name="old-block"') for f in report.findings
    )


def test_snippet_rooted_at_rules(lint):
    text = (
        "<rules>\n"
        + rule("no-fb", "facebook-base", "deny").replace("</entry><entry", "</entry>\n<entry")
        + "\n</rules>\n"
    )
    report = lint({"fw-panos.xml": text})
    assert verdicts(report)["facebook"] == "blocked"


def test_destination_address_covers_part_of_a_service(lint):
    objects = '<address><entry name="one-fb-net"><ip-netmask>31.13.64.0/18</ip-netmask></entry></address>'
    deny = rule("fb-net", "any", "deny").replace(
        "<destination><member>any</member></destination>",
        "<destination><member>one-fb-net</member></destination>",
    )
    report = lint({"running-config.xml": config(deny + rule("web"), objects)})
    assert verdicts(report)["facebook"] == "blocked-partial"


def test_firewall_managed_by_panorama_is_unknown(lint):
    managed = "<deviceconfig><system><panorama-server>192.0.2.10</panorama-server></system></deviceconfig>"
    text = config(rule("no-fb", "facebook-base", "deny") + rule("web")).replace(ROUTE, ROUTE + managed)
    report = lint({"running-config.xml": text})
    assert verdicts(report)["facebook"] == "unknown"
    assert any(f.code == "TE907" and f.span.line == line_of(text, "panorama-server") for f in report.findings)


def test_legacy_allow_list_wins_over_the_block_list(lint):
    objects = (
        '<profiles><url-filtering><entry name="office"><block-list><member>*.linkedin.com</member>'
        "<member>linkedin.com</member></block-list><allow-list><member>www.linkedin.com</member></allow-list>"
        "</entry></url-filtering></profiles>"
    )
    extra = "<profile-setting><profiles><url-filtering><member>office</member></url-filtering></profiles></profile-setting>"
    report = lint({"running-config.xml": config(rule("web", extra=extra), objects)})
    # www.linkedin.com is allowed, linkedin.com is not: partly blocked.
    assert verdicts(report)["linkedin"] == "blocked-partial"


def test_intrazone_rule_does_not_match_between_zones(lint):
    deny = rule("intra", "facebook-base", "deny", "<rule-type>intrazone</rule-type>")
    assert verdicts(lint({"running-config.xml": config(deny + rule("web"))}))["facebook"] == "unaffected"


def test_terraform_panorama_rule_group_in_a_device_group(lint):
    text = """resource "panos_panorama_security_rule_group" "dg" {
  device_group = "branch"
  rulebase     = "pre-rulebase"
  rule {
    name                  = "no-linkedin"
    source_zones          = ["any"]
    source_addresses      = ["any"]
    source_users          = ["any"]
    destination_zones     = ["any"]
    destination_addresses = ["any"]
    applications          = ["linkedin-base"]
    services              = ["application-default"]
    categories            = ["any"]
    action                = "drop"
  }
}
"""
    report = lint({"main.tf": text})
    assert verdicts(report)["linkedin"] == "blocked"
    assert finding(report, "TE101", "linkedin").span.line == 5  # the rule's name line


def test_nested_and_cyclic_groups_are_expanded_once(lint):
    # Twenty application groups, each naming the next ten times, the last one naming the first:
    # expanded once each, not 10**19 times.
    groups = "".join(
        f'<entry name="g{i}"><members>{"".join(f"<member>g{i + 1}</member>" for _ in range(10))}</members></entry>'
        for i in range(19)
    )
    groups += '<entry name="g19"><members><member>g0</member><member>facebook-base</member></members></entry>'
    text = config(
        rule("nested", "g0", "deny") + rule("web"), f"<application-group>{groups}</application-group>"
    )
    assert verdicts(lint({"running-config.xml": text}))["facebook"] == "blocked"


def test_terraform_module_without_rules_is_unknown_not_an_error(lint):
    text = """resource "panos_ethernet_interface" "e1" {
  name = "ethernet1/1"
  mode = "layer3"
}

resource "panos_address_object" "guests" {
  name  = "guests"
  value = "10.20.0.0/24"
}
"""
    report = lint({"network.tf": text})
    assert not report.errors
    assert set(verdicts(report).values()) == {"unknown"}


def test_prose_under_the_panos_dialect_is_an_input_error(lint):
    report = lint({"notes.txt": "Nothing here is a firewall.\nNor here.\n"}, dialect="panos")
    assert report.errors


def test_panorama_rule_targeted_at_some_firewalls_is_not_modelled(lint):
    targeted = (
        rule(
            "no-fb", "facebook-base", "deny", '<target><devices><entry name="0123456789"/></devices></target>'
        )
        .replace("untrust", "any")
        .replace("trust", "any")
    )
    allow_all = rule("rest").replace("untrust", "any").replace("trust", "any")
    report = lint({"panorama.xml": PANORAMA.format(shared_pre=targeted, dg_pre=allow_all)})
    assert verdicts(report)["facebook"] == "unknown"
    assert any(f.code == "TE908" for f in report.findings)


def test_profile_blocking_other_topics_leaves_the_service_alone(lint):
    # The CDN's PAN-DB category is not known, but a category of another topic (published
    # category names: semantics/listnames.py) is taken not to hold it.
    body = "<block><member>malware</member><member>adult</member><member>gambling</member></block>"
    text = config(rule("web", extra=WITH_GROUP), URL_PROFILE.format(body=body))
    assert verdicts(lint({"running-config.xml": text}))["facebook"] == "unaffected"
    # A category name that says nothing of its topic may hold the CDN: unknown.
    body = "<block><member>content-delivery-networks</member></block>"
    text = config(rule("web", extra=WITH_GROUP), URL_PROFILE.format(body=body))
    assert verdicts(lint({"running-config.xml": text}))["facebook"] == "unknown"
