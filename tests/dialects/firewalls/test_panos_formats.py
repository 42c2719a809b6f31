"""The same PAN-OS policy written as the XML configuration, as `set` commands and as the panos
Terraform provider's resources gives identical verdicts (there is no device here to run; the
three formats are three spellings of one configuration tree)."""

from __future__ import annotations

from tests.conftest import verdicts

XML = """<?xml version="1.0"?>
<config version="10.1.0">
  <devices><entry name="localhost.localdomain"><vsys><entry name="vsys1">
    <zone>
      <entry name="trust"><network><layer3><member>ethernet1/2</member></layer3></network></entry>
      <entry name="untrust"><network><layer3><member>ethernet1/1</member></layer3></network></entry>
    </zone>
    <profiles>
      <custom-url-category><entry name="li"><list><member>linkedin.com</member><member>*.linkedin.com</member></list>
        <type>URL List</type></entry></custom-url-category>
      <url-filtering><entry name="office"><block><member>li</member></block></entry></url-filtering>
    </profiles>
    <profile-group><entry name="grp"><url-filtering><member>office</member></url-filtering></entry></profile-group>
    <rulebase><security><rules>
      <entry name="no-twitter"><from><member>trust</member></from><to><member>untrust</member></to>
        <source><member>any</member></source><destination><member>any</member></destination>
        <application><member>twitter-base</member></application>
        <service><member>application-default</member></service><action>deny</action></entry>
      <entry name="no-chat"><from><member>trust</member></from><to><member>untrust</member></to>
        <source><member>any</member></source><destination><member>any</member></destination>
        <application><member>facebook-chat</member></application>
        <service><member>application-default</member></service><action>deny</action></entry>
      <entry name="web"><from><member>trust</member></from><to><member>untrust</member></to>
        <source><member>any</member></source><destination><member>any</member></destination>
        <application><member>facebook-base</member><member>linkedin-base</member><member>ssl</member>
          <member>web-browsing</member></application>
        <service><member>application-default</member></service><action>allow</action>
        <profile-setting><group><member>grp</member></group></profile-setting></entry>
    </rules></security></rulebase>
  </entry></vsys></entry></devices>
</config>
"""

SET = """set zone trust network layer3 ethernet1/2
set zone untrust network layer3 ethernet1/1
set profiles custom-url-category li list [ linkedin.com *.linkedin.com ]
set profiles custom-url-category li type "URL List"
set profiles url-filtering office block [ li ]
set profile-group grp url-filtering office
set rulebase security rules no-twitter from trust to untrust source any destination any application twitter-base service application-default action deny
set rulebase security rules no-chat from trust to untrust source any destination any application facebook-chat service application-default action deny
set rulebase security rules web from trust to untrust source any destination any application [ facebook-base linkedin-base ssl web-browsing ] service application-default action allow
set rulebase security rules web profile-setting group grp
"""

TERRAFORM = """variable "trust" {
  default = "trust"
}

resource "panos_zone" "trust" {
  name       = var.trust
  mode       = "layer3"
  interfaces = ["ethernet1/2"]
}

resource "panos_zone" "untrust" {
  name       = "untrust"
  mode       = "layer3"
  interfaces = ["ethernet1/1"]
}

resource "panos_custom_url_category" "li" {
  name  = "li"
  type  = "URL List"
  sites = ["linkedin.com", "*.linkedin.com"]
}

resource "panos_url_filtering_security_profile" "office" {
  name             = "office"
  block_categories = ["li"]
}

resource "panos_security_profile_group" "grp" {
  name          = "grp"
  url_filtering = "office"
}

resource "panos_security_rule_group" "office" {
  rule {
    name                  = "no-twitter"
    source_zones          = [var.trust]
    source_addresses      = ["any"]
    source_users          = ["any"]
    destination_zones     = ["untrust"]
    destination_addresses = ["any"]
    applications          = ["twitter-base"]
    services              = ["application-default"]
    categories            = ["any"]
    action                = "deny"
  }
  rule {
    name                  = "no-chat"
    source_zones          = ["trust"]
    source_addresses      = ["any"]
    source_users          = ["any"]
    destination_zones     = ["untrust"]
    destination_addresses = ["any"]
    applications          = ["facebook-chat"]
    services              = ["application-default"]
    categories            = ["any"]
    action                = "deny"
  }
  rule {
    name                  = "web"
    source_zones          = ["trust"]
    source_addresses      = ["any"]
    source_users          = ["any"]
    destination_zones     = ["untrust"]
    destination_addresses = ["any"]
    applications          = ["facebook-base", "linkedin-base", "ssl", "web-browsing"]
    services              = ["application-default"]
    categories            = ["any"]
    action                = "allow"
    group                 = "grp"
  }
}
"""

EXPECTED = {"facebook": "blocked-partial", "twitter": "blocked", "linkedin": "blocked", "ning": "unknown"}


def _rule_lines(report) -> dict[str, int]:
    return {f.service: f.span.line for f in report.findings if f.code in ("TE101", "TE102") and f.service}


def test_xml_set_and_terraform_give_identical_verdicts(lint):
    xml = lint({"running-config.xml": XML})
    sets = lint({"panos.set": SET})
    tf = lint({"panos.tf": TERRAFORM})
    assert verdicts(xml) == verdicts(sets) == verdicts(tf) == EXPECTED
    for report, text in ((xml, XML), (sets, SET), (tf, TERRAFORM)):
        lines = text.splitlines()
        # Each format's findings point at its own spelling of the deciding rule or profile.
        twitter = _rule_lines(report)["twitter"]
        assert "no-twitter" in lines[twitter - 1], (report.files[0].path, twitter)
        facebook = _rule_lines(report)["facebook"]
        assert "no-chat" in lines[facebook - 1]


def test_terraform_value_it_cannot_know_is_unknown(lint):
    # The allowing rule's applications are computed: whether it lets facebook-base through
    # (else interzone-default denies it) is not known.
    computed = TERRAFORM.replace(
        'applications          = ["facebook-base", "linkedin-base", "ssl", "web-browsing"]',
        "applications          = var.apps",
    )
    report = lint({"panos.tf": computed})
    assert verdicts(report)["facebook"] == "unknown"


def test_set_commands_for_panorama_device_group(lint):
    text = (
        "set device-group branch pre-rulebase security rules no-fb from any to any source any destination any "
        "application facebook-base service application-default action deny\n"
        "set device-group branch post-rulebase security rules rest from any to any source any destination any "
        "application any service any action allow\n"
    )
    report = lint({"panorama.set": text})
    got = verdicts(report)
    assert got["facebook"] == "blocked" and got["twitter"] == "unknown"
    assert any(f.code == "TE907" for f in report.findings)


def test_unbalanced_set_command_is_te901_at_its_line(lint):
    text = SET + "set rulebase security rules broken application [ facebook-base action deny\n"
    report = lint({"panos.set": text})
    assert any(f.code == "TE901" and f.span.line == len(text.splitlines()) for f in report.findings)
    assert verdicts(report) == EXPECTED  # the rest of the file is still read
