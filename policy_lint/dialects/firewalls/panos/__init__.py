"""Palo Alto Networks PAN-OS: the security policy of a firewall or Panorama, from the XML
configuration, the `set` command format, or the panos Terraform provider's resources.

    <entry name="Block Facebook Chat"><from><member>Sales</member></from>
      <to><member>outside</member></to><application><member>facebook-chat</member></application>
      <service><member>application-default</member></service><action>deny</action></entry>
    <entry name="Allow-Facebook"> ... <application><member>facebook-base</member></application>
      <action>allow</action><profile-setting><group><member>office</member></group></profile-setting></entry>

How the device decides, as evaluated here:

- **Security rulebase: top-down, first match.** Rules with `disabled yes` are skipped. A rule
  matches when every criterion does: from/to zones (`any`), rule type (universal, intrazone
  only within a zone, interzone only between zones), source and destination addresses
  (objects, groups, literals; `negate-source`/`negate-destination`), `source-user`,
  `application` (App-IDs, application groups, application filters), `service`
  (`application-default` = the App-ID's standard ports, `any`, service objects and groups,
  service-http/-https), `category` (URL categories, predefined or custom) and `schedule`.
  Then `allow`, or `deny`/`drop`/`reset-client`/`reset-server`/`reset-both` (a block). After
  the last rule come the predefined `intrazone-default` (allow) and `interzone-default`
  (deny), whose action an override (`default-security-rules`) may change.
- **Panorama**: for each device group, the shared pre-rulebase, the device group's (and its
  parents') pre-rulebase, then the managed firewall's own rules, then the post-rulebases in
  reverse, then the defaults. The firewall's own rules are not in a Panorama export: what
  reaches them is `unknown` (TE907 at the device group). Conversely a firewall's own config
  naming a `panorama-server` gets Panorama's pushed pre- and post-rules around its local
  rules; they are not in the file, so its verdicts are `unknown` (TE907 at that line; the
  note says what the local rules alone decide).
- **App-ID** (apps.py): PAN-OS identifies a service's site as its base App-ID
  (facebook-base, twitter-base, linkedin-base; vendor_names.yaml), and re-evaluates the policy
  on the identified App-ID, so an allowed `ssl`/`web-browsing` does not let twitter-base
  through. A service's CDN/API/short-link hosts may be identified as the base App-ID or as
  plain ssl/web-browsing: when the rules treat the two differently the answer is `unknown`.
  Sub-apps (facebook-chat, facebook-mail, ...) are functions inside the site: the site allowed
  but a sub-app denied is a partial block (the finding names the sub-app and the rule); the
  base App-ID denied blocks the site whatever its sub-apps' rules say. An App-ID a rule
  allows depends on its documented use-applications (facebook-base: ssl, web-browsing); a rule
  denying one of them makes the service partly blocked. A service with no known App-ID (Ning)
  may be identified as an App-ID the table does not list. Assumptions made: a sub-app runs in
  its base App-ID's sessions (its standard ports are the base's); a base App-ID whose ports
  are not documented (twitter-base, linkedin-base) is reached on the site's ports 80/443, as
  facebook-base's KB entry says for Facebook.
- **URL filtering** (urlfilter.py): a URL Filtering profile attached to an allowing rule
  (directly or through a profile group) acts per category and custom category: `block`, and
  `override` (a block unless one knows the password), block; `continue` is a warning page the
  user can click through (blocked-partial, the finding says so); `alert`/`allow` do not block;
  `credential-enforcement` is not a block. Legacy block/allow lists. A profile, custom
  category or application group that no rule uses is inert (TE202).
- **Audiences**: a zone and the zone facing the internet (the zone of the default route's
  interface, else the to-zone of source NAT rules, else every other zone), split by the source
  addresses, users and schedules the rules name. Each vsys (or device group) is its own policy.

Not modelled (the verdicts they touch are `unknown`, TE908): Panorama rules targeted at some
firewalls only (`target`), HIP profiles and other source
criteria (IMEI, IMSI, network slice), custom applications' signatures, the predefined
`default` URL profile, dynamic address groups, Terraform `dynamic` rule blocks and values
Terraform computes, and group membership of users (a user in a group the rule does not name
may still be in it). Decryption policy, QoS, PBF and NAT (other than finding the egress zone)
are not read.
"""

from __future__ import annotations

import re
from pathlib import Path

from policy_lint.dialects.firewalls.panos import apps, set_commands, terraform, xml_config
from policy_lint.dialects.firewalls.panos.evaluate import PanosRuleset
from policy_lint.dialects.firewalls.panos.model import PanosConfig, Scope
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.inputs import read_source
from policy_lint.model import Problem

NAME = "panos"
FILE_PATTERNS = (
    "running-config.xml",
    "candidate-config.xml",
    "*panos*.xml",
    "*palo*alto*.xml",
    "*panorama*.xml",
    "*panos*.set",
    "*panos*.txt",
    "*panos*.tf",
    "*paloalto*.tf",
)

_XML_ROOT = re.compile(r"<\s*(config|response)\b[^>]*>", re.I)
_XML_PAN = re.compile(r"<\s*(devices|rulebase|pre-rulebase|post-rulebase|device-group|vsys)\s*>", re.I)
_XML_SNIPPET = re.compile(
    r"^\s*(<\?xml[^>]*>\s*)?(<!--.*?-->\s*)*<\s*(rulebase|pre-rulebase|post-rulebase|security|rules|vsys|shared)\s*>",
    re.I | re.S,
)
# A snippet's rules are PAN-OS's: named entries with member lists of zones or App-IDs.
_XML_RULE = re.compile(r"<entry\s+name=[^>]*>[^\0]{0,4000}?<(?:from|application)>\s*<member>", re.I)
_SET = re.compile(
    r"^set\s+(?:(?:vsys|device-group)\s+\S+\s+|shared\s+)?"
    r"(rulebase|pre-rulebase|post-rulebase|address|address-group|application-group|profiles|zone)\s",
    re.I | re.M,
)
_TF = re.compile(r'^\s*resource\s+"panos_', re.M)


def detect(path: Path, head: str) -> float:
    """By content: an XML config with <devices>/<rulebase>, set commands of the security
    rulebase or objects, or Terraform resources of the panos provider."""
    text = head[:65536]
    if _TF.search(text):
        return 0.95
    if _XML_ROOT.search(text) and _XML_PAN.search(text):
        return 0.9
    if _XML_SNIPPET.search(text) and _XML_RULE.search(text):
        return 0.8
    if len(_SET.findall(text)) >= 1 and path.suffix.lower() not in (".md", ".html", ".py"):
        return 0.9
    return 0.0


def _format(lines: list[str], path: Path) -> str:
    head = "\n".join(lines[:400])
    if path.suffix.lower() == ".tf" or _TF.search(head):
        return "terraform"
    if head.lstrip().startswith("<"):
        return "xml"
    return "set"


def _objects(scope: Scope) -> int:
    return sum(
        len(table)
        for table in (
            scope.addresses,
            scope.address_groups,
            scope.app_groups,
            scope.app_filters,
            scope.custom_apps,
            scope.services,
            scope.service_groups,
            scope.custom_categories,
            scope.url_profiles,
            scope.profile_groups,
            scope.schedules,
            scope.zones,
        )
    )


def parse(path: Path, context: ParseContext) -> PanosRuleset:
    shown = context.resolver.display(path)
    src = read_source(path, shown)
    config = PanosConfig(shown, problems=list(src.problems))
    kind = _format(src.lines, path)
    if kind == "xml":
        root, problems = xml_config.parse_xml(src.lines, shown)
    elif kind == "terraform":
        root, problems, _count = terraform.build(src.lines, shown)
    else:
        root, problems, _count = set_commands.build(src.lines, shown)
    config.problems.extend(problems)
    if root is None:
        # Nothing could be read: the engine reports the file as unread (exit 2), not as a
        # policy that decides nothing.
        config.readable = False
        config.statements, config.understood = 1, 0
    else:
        xml_config.Reader(config).read(root)
        if kind == "xml":
            # What the file holds: its entries (rules and objects); what was read of them.
            config.statements = max(1, sum(1 for _e in root.iter("entry")))
            config.understood = sum(len(scope.rules) + _objects(scope) for scope in config.scopes)
        else:
            # set commands (every other non-comment line is a statement not read) or the
            # resources of a Terraform file (every block; the panos ones are read).
            statements = [line for line in src.lines if line.strip() and not line.lstrip().startswith("#")]
            config.statements = max(1, len(statements)) if kind == "set" else max(1, _count)
            config.understood = _count
    for scope in config.scopes:
        if scope.local_missing is not None:
            config.problems.append(
                Problem(
                    "TE907",
                    scope.local_missing,
                    f"{scope.name}: the managed firewalls' local rules stand between the pre- and "
                    "post-rules and are not in this export: what reaches them is unknown",
                )
            )
        if scope.managed_by is not None:
            config.problems.append(
                Problem(
                    "TE907",
                    scope.managed_by,
                    f"{scope.name}: this firewall is managed by Panorama, whose pushed pre- and "
                    "post-rules (not in this file) stand around its local rules: verdicts are unknown",
                )
            )
        for rule in scope.rules:
            if rule.not_modelled and not rule.disabled:
                config.problems.append(
                    Problem(
                        "TE908",
                        rule.span,
                        f"rule '{rule.name}': {', '.join(rule.not_modelled)} not evaluated",
                    )
                )
    ruleset = PanosRuleset(config, context.catalog, apps.load(context.catalog))
    if not config.readable and config.problems:
        ruleset.first_statement = config.problems[-1].span
    return ruleset
