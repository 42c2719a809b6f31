"""Fortinet FortiGate (FortiOS): `show`/backup configurations and snippets, and the fortios
Terraform provider's resources, evaluated the way a FortiGate handles a user's connection.

    config firewall policy
        edit 7                                   # IDs are names, not the order
            set srcintf "lan"
            set dstintf "wan1"
            set srcaddr "all"
            set dstaddr "all"
            set action accept
            set schedule "always"
            set service "ALL"
            set utm-status enable
            set ssl-ssh-profile "certificate-inspection"
            set webfilter-profile "office"       # config webfilter profile / edit "office"
        next                                     #   config ftgd-wf / config filters
    end                                          #     edit 1 / set category 37 / set action block

Here Facebook's site is rated Social Networking (FortiGuard category 37), so policy 7 accepts
the connection and its web filter blocks it: `blocked`, the finding naming policy 7 and its
line, the profile and the filter entry; `explain` shows the chain policy -> profile -> entry.

- **Order**: `config firewall policy` entries in the order they stand (FortiOS's sequence;
  `move 7 before 3` reorders, `delete`/`purge` remove), the first policy that matches decides;
  `status disable` ones are skipped; after the last, the implicit deny (policy 0). Each VDOM
  (`config vdom` / `edit NAME`) has its own policies and objects, evaluated on their own; a file
  without VDOMs is the VDOM `root`. `config global` holds no policy.
- **Matching**: `srcintf`/`dstintf` (names, zones of `system zone`, `any`); the way out is the
  device of a default route (`router static`), or, with no route in the file, each interface
  the policies name as `dstintf` (each an audience: a deny on one WAN only is partial);
  `srcaddr`/`dstaddr` (`ipmask` subnets, `iprange`, `fqdn` - the name the device resolves: the
  probe's own host matches, another host of the same service may share its addresses
  (unknown) - `wildcard-fqdn` likewise, nested `addrgrp` with `exclude-member`,
  `*-negate`), `srcaddr6`/`dstaddr6` and `firewall policy6` for IPv6 (a policy naming no IPv6
  address takes no IPv6 traffic), `service` (the predefined ones, `service custom` port ranges,
  service groups, `service-negate`), `schedule` (`always`, recurring windows per weekday,
  one-time schedules as their own audience), `users`/`groups`/`fsso-groups` (each an audience;
  traffic of other users goes on to the next policy, FortiOS's default `auth-on-demand
  implicit`). `internet-service-name`/`-id` (e.g. Facebook-Web): which addresses FortiGuard's
  Internet Service Database holds is not in the catalog, so such a policy's match is unknown
  for every service (TE908), and taken not to cover the neutral control site.
- **Actions**: `deny` blocks; `accept` passes to the security profiles (`utm-status enable`,
  which FortiOS up to 7.0 requires and shows; a profile line with no `utm-status` line, as 7.2+
  writes it, applies too; `utm-status disable` turns them off); `ipsec` hands the traffic to a
  tunnel (TE907, unknown).
- **Web filter** (`webfilter-profile`): first the static URL filter (`config web` /
  `urlfilter-table` -> `webfilter urlfilter` entries in order, first match: `block`; `exempt`
  passes without further checks; `allow`/`monitor` go on to the category check; `simple` is a
  substring of host+path in flow mode and the host or a subdomain with a path prefix in proxy
  mode, `wildcard` a glob, `regex` a time-bounded search; `referrer-host` entries are unknown),
  then FortiGuard categories (`config ftgd-wf` / `config filters`: `block`; `warning` is a
  click-through page -> blocked-partial with a note; `authenticate` lets the named groups log
  in and pass -> blocked-partial; `monitor` passes; a `config quota` entry for the category
  lets each user in for a time or traffic quota, then blocks -> blocked-partial). A catalog
  service's site is rated Social Networking (37, catalog/vendor_names.yaml);
  `webfilter ftgd-local-rating` overrides a rating. Its other hosts (CDN, API, ad hosts) have no rating in the catalog: a block of a
  category that may hold them (Content Servers, Web Hosting, Advertising, ... or an ID outside
  the published list) is unknown for them; the neutral control site is in no category.
  What the device sees of HTTPS depends on the policy's `ssl-ssh-profile`: certificate
  inspection gives the host (SNI) - enough for categories and host entries, never a path -
  deep inspection gives the whole URL (with `ssl-exempt` entries, or a custom profile that does
  not say, the host at least: a path entry is unknown); no inspection, or a profile not in the
  file: a block is unknown for HTTPS.
- **Application control** (`application-list`): application and category IDs have no cited
  meaning (none verified), so an entry that blocks or resets, or `other-application-action
  block`, makes every request it could cover unknown (TE908 at the entry); `pass`/`monitor`
  entries change nothing.
- **DNS filter** (`dnsfilter-profile`): the client's DNS query for the name goes through the
  policies as a UDP/53 connection to a resolver on the internet; the policy that accepts it
  applies its DNS filter: `domain-filter-table` entries first (block; allow exempts from the
  categories), then FortiGuard categories as for the web filter. A blocked name connects to
  nothing. Where the FortiGate itself serves DNS on the client's interface (`system dns-server`
  with a `dnsfilter-profile`), that filter decides, for clients using it as their resolver (the
  finding says so).
- **Broken or partial configs**: a missing `end`, an unknown command, a reference to an object
  the file does not define (an address, service, schedule, group, profile) is TE901 at its line
  (a factory profile such as `default` is TE908: it exists, its settings are not in the file);
  what the device would still do is evaluated, and what the missing object decides is unknown.
  A profile, URL filter or FQDN address that no policy uses is inert (TE202).
- **Terraform**: `fortios_firewall_policy`, `_address`, `_addrgrp`, `fortios_webfilter_profile`,
  `_urlfilter`, `fortios_application_list`, `fortios_dnsfilter_profile`, `_domainfilter`,
  `fortios_firewall_sslsshprofile`, `fortios_firewallservice_custom`,
  `fortios_firewall_schedule_recurring`, `fortios_system_zone` build the same model (see
  terraform.py). Terraform creates resources in no fixed order: without `depends_on` or a
  `fortios_firewall_security_policyseq`, two policies may stand either way round, and a
  verdict the order changes is unknown.

Not modelled, unknown with a TE9xx at the line: explicit web proxy policies (`firewall
proxy-policy`: their clients are an audience whose verdicts are unknown), NGFW policy-based
mode (`firewall security-policy`), schedule groups, geography/dynamic/MAC/interface addresses,
source internet services, ZTNA tags, device identification, profile groups, FortiOS 5.0's
nested identity-based policies. Reported but not evaluated: traffic shaping policies (TE908;
a throttle is not found) and a web filter's banned-word content filter (`bword-table`, TE208,
as content filtering elsewhere). Not read: VIPs (inbound), local-in policies (the device's own
traffic), web filter overrides and the rest of the device's configuration.

The package: `cli` (text to the config/edit/set tree), `build` (tree to `model`),
`terraform` (fortios resources to the same tree), `evaluate` (the Ruleset: audiences, the policy
walk, DNS), `profiles` (web filter, application list and DNS filter verdicts).
"""

from __future__ import annotations

import re
from pathlib import Path

from policy_lint.dialects.firewalls.fortigate import build, cli, terraform
from policy_lint.dialects.firewalls.fortigate.evaluate import FortigateRuleset
from policy_lint.dialects.firewalls.fortigate.model import NAME
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.dialects.semantics.detection import QUOTING_SUFFIXES
from policy_lint.inputs import InputError, read_source
from policy_lint.model import Problem

FILE_PATTERNS = ("*fortigate*", "*fortios*", "*forti*.conf", "fg*.conf", "*.fgt")

_HEADER = re.compile(r"^#config-version=FG", re.M)
_TABLES = re.compile(
    r"^\s*config (firewall (policy6?|address6?|addrgrp6?|service custom|schedule recurring)|"
    r"webfilter (profile|urlfilter)|application list|dnsfilter profile|vdom|global|system (interface|zone))\s*$",
    re.M,
)
_TERRAFORM = re.compile(r'^\s*resource\s+"fortios_', re.M)


def detect(path: Path, head: str) -> float:
    if _TERRAFORM.search(head):
        return 0.95 if path.suffix.lower() in (".tf", "") or path.name.endswith(".tf") else 0.7
    if path.suffix.lower() in QUOTING_SUFFIXES:
        return 0.0
    if _HEADER.search(head):
        return 0.99
    hits = len(_TABLES.findall(head))
    if not hits:
        return 0.0
    if re.search(r"^\s*config firewall policy6?\s*$", head, re.M) or hits >= 2:
        return 0.9
    return 0.4  # one table of objects, no policy: nothing to evaluate, and maybe not FortiOS


def parse(path: Path, context: ParseContext) -> FortigateRuleset:
    shown = context.resolver.display(path)
    src = read_source(path, shown)
    problems: list[Problem] = list(src.problems)
    if path.suffix.lower() == ".tf" or _TERRAFORM.search("\n".join(src.lines[:400])):
        try:
            config, statements, understood = terraform.read(src.lines, shown, problems)
        except terraform.TerraformError as exc:
            raise InputError(f"{shown}: {exc}") from None
    else:
        reader = cli.Reader(shown, problems)
        reader.read(cli.statements(src.lines, shown))
        config = build.build(reader.root, problems)
        statements, understood = reader.statements, reader.understood
    return FortigateRuleset(shown, config, problems, context.catalog, statements, understood)


__all__ = ["FILE_PATTERNS", "NAME", "detect", "parse"]
