"""Juniper Junos (SRX Series, and branch routers' firewall filters), evaluated the way Junos
forwards a user's connection.

    security {
        zones { security-zone trust { interfaces ge-0/0/1.0; } security-zone untrust { interfaces ge-0/0/0.0; } }
        address-book global { address fb 157.240.0.0/16; }
        policies {
            from-zone trust to-zone untrust {
                policy no-fb { match { source-address any; destination-address fb; application any; } then deny; }
                policy web   { match { source-address any; destination-address any; application any; }
                               then { permit { application-services { utm-policy wf; } } } }
            }
        }
    }

Here HTTPS and HTTP to Facebook's 157.240.0.0/16 are denied (the rest of its prefixes stay open:
`blocked-partial`), and what `web` permits goes through the web-filtering profile of `wf`.

- **Forms**: the curly-brace hierarchy (`show configuration`, RANCID and Oxidized backups with
  their `#` headers, `## Last commit:`, `version ...;`) and `set` commands (`display set`,
  load-set files) build one tree (`tree.py`); `delete`, `deactivate`/`activate`, `insert ...
  before|after`, `inactive:` statements (ignored, as the device ignores them), `replace:`/
  `protect:` tags, `/* */` and `#` comments, `groups` with `apply-groups` (local statements
  win; `<*>` wildcards in a group: TE908). An unbalanced brace or unterminated string is TE901.
- **Path**: a connection from a client zone (audience) to the zone that faces the internet
  (told by the default route's next hop, else a DHCP-addressed interface, else a zone named
  untrust/internet/outside/wan/external; otherwise unknown, TE908). On the way: the input
  filters of the client's interface, the security policies, the output filters of the egress
  interface and, for the server's reply, the egress interface's input filters.
- **Security policies**: `from-zone A to-zone B` policies in order, then `global` policies
  (with `match from-zone/to-zone`), then the default policy (`deny-all` unless
  `default-policy permit-all`). First match on `source-address`/`destination-address` (zone
  then global address books; `address` prefixes, `range-address`, `wildcard-address`,
  `dns-name` (the name's own connections; another name of the same service: unknown),
  `address-set`, `*-excluded`), `application` (`any`, the `junos-*` web/mail/DNS applications
  listed in model.py, custom applications and sets), `dynamic-application`, `url-category`,
  `source-identity` (audiences per role). `then deny` drops, `reject` resets, `permit` passes,
  through `application-services utm-policy` when set. `inactive:`/deactivated policies are skipped.
- **Vendor names**: `junos:...` dynamic applications and Websense `Enhanced_...` categories
  decide only as the catalog's vendor table (`juniper_srx`, cited with confidence) lists them;
  today it lists none. A category is then unknown (TE908). A dynamic application is unknown
  (TE908) when its name could be the service's (it names the service, social networking, or a
  protocol or group carrying any site: `junos:FACEBOOK-ACCESS`, `junos:SSL`, `junos:web:...`,
  `junos:UNKNOWN`; a custom signature without `junos:`); one named after another product
  (`junos:BITTORRENT`) is not the service's traffic. `dynamic-application any|none` matches
  every application.
- **UTM web filtering** (`security utm`, also `content-security`): `utm-policy` ->
  `web-filtering http-profile` -> a `juniper-local` or `juniper-enhanced` profile: the global
  `url-blacklist` (block), then `url-whitelist` (permit), then the profile's `category ...
  action` in order (custom categories by their `custom-objects url-pattern` values; predefined
  categories unknown unless cited), then `default` (permit when unset). `block` denies,
  `permit`/`log-and-permit` pass, `quarantine` is a click-through warning (`blocked-partial`).
  `websense-redirect` (and SurfControl): an external server decides, unknown. Visibility: the
  profile sees the URL of plain HTTP; HTTPS only through an SSL forward proxy
  (`application-services ssl-proxy`); without one, what it sees of HTTPS differs by release, so
  an HTTPS verdict the profile would change is unknown.
- **Firewall filters** (`firewall family inet filter`, `firewall filter`): applied with
  `interfaces IF unit N family inet filter input|output|input-list|output-list`; first matching
  term, terms without a terminating action accept, `next term` goes on, the end of the (last)
  filter discards. `from`: source/destination/`address` lists (most specific prefix wins,
  `except`), prefix-lists, protocol, ports; anything else (TE908) and actions such as
  `routing-instance` make the term unknown. A filter no interface applies is inert (TE202 when
  it names a service's networks); so is one on the loopback (`lo0`, guarding the device itself)
  or a management port (`fxp0`, `me0`, `em0`), which no client's traffic crosses.
- **Fragments** (no `version` or `system` statement): policies without zones take their zones
  from the policies; without a way to tell the internet-facing zone, the policies' verdicts are
  unknown (TE908 says so); a connection no policy in the fragment matches meets policies or a
  default policy the file does not show: unknown (TE908), unless the fragment sets
  `default-policy`; filters in a fragment with no `interfaces` may be applied anywhere: what
  they would stop is unknown (TE908). UTM objects, and filters that the interfaces shown do not
  apply, are inert.
- **Not modelled** (unknown, with a finding at the line): schedulers, `application-services`
  such as the legacy `application-firewall` rule-sets and `application-traffic-control`
  (TE908); `security dynamic-address` feeds (TE907); prefix-lists filled by `apply-path`;
  groups applied with `<...>` wildcards and logical systems or tenants holding policies or
  filters (every verdict unknown, TE908); `junos-*` applications not in the table. Not read at
  all, since they do not decide whether a client's connection passes: source NAT, routing
  instances and policy-based routing, screens, IDP. Destination NAT of connections from a client
  zone (`security nat destination rule-set ... from zone Z`) is not followed: that zone's
  verdicts are unknown (TE908); destination NAT from other zones (port forwards) is no concern.

The package: `lexer` and `curly`/`set_commands` (text to the tree of `tree`), `model` (the tree
to zones, books, policies, UTM and filters), `vendor` (the catalog's Juniper names),
`firstmatch` (the three-valued first match), `filters` (firewall filters on a packet),
`policies` (security policies on a connection, indexed by `index`), `webfilter` (UTM web
filtering on a request) and `evaluate` (the Ruleset: the way out, audiences, the path of a
connection, findings about what is not evaluated).
"""

from __future__ import annotations

import re
from pathlib import Path

from policy_lint.dialects.firewalls.junos import curly, set_commands
from policy_lint.dialects.firewalls.junos.evaluate import JunosRuleset
from policy_lint.dialects.firewalls.junos.model import NAME, build
from policy_lint.dialects.firewalls.junos.tree import Tree
from policy_lint.dialects.firewalls.junos.vendor import load as load_vendor
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.dialects.semantics.detection import statement_hits
from policy_lint.inputs import read_source

FILE_PATTERNS = ("*.junos", "junos*.conf", "*junos*", "*juniper*", "*srx*", "juniper.conf*")

_SET = re.compile(
    r"^\s*(?:set|delete|deactivate)\s+(?:security\s+(?:policies|zones|utm|address-book)|firewall\s+(?:family|filter)"
    r"|interfaces\s+\S+\s+unit|system\s+host-name|applications\s+application)\b",
    re.M,
)
_CURLY = re.compile(
    r"^\s*(?:(?:inactive:\s*)?(?:security|policies|zones|firewall|interfaces|system|routing-options)\s*\{"
    r"|from-zone\s+\S+\s+to-zone\s+\S+\s*\{|security-zone\s+\S+\s*\{|(?:term|policy)\s+\S+\s*\{"
    r"|## Last (?:commit|changed):|version\s+\d+\.\d+[A-Za-z0-9.\-]*;)",
    re.M,
)


def detect(path: Path, head: str) -> float:
    """Junos by content: `set security ...` lines, or the curly hierarchy's own statements."""
    sets = statement_hits(path, head, _SET)
    curls = statement_hits(path, head, _CURLY)
    if "RANCID-CONTENT-TYPE: juniper" in head or "RANCID-CONTENT-TYPE: junos" in head:
        return 1.0
    if sets >= 2 or curls >= 3:
        return 0.95
    if sets or curls >= 2:
        return 0.7
    return 0.0


def parse(path: Path, context: ParseContext) -> JunosRuleset:
    shown = context.resolver.display(path)
    source = read_source(path, shown)
    tree = Tree(shown)
    tree.problems.extend(source.problems)
    lines = source.lines
    if _is_set_form(lines):
        set_commands.read(tree, lines)
    else:
        curly.read(tree, lines)
    tree.apply_groups()
    cfg = build(tree)
    ruleset = JunosRuleset(cfg, context.catalog, load_vendor(), tree.statements, tree.understood)
    ruleset.broken = tree.broken or tree.unsure or cfg.unsure
    return ruleset


def _is_set_form(lines: list[str]) -> bool:
    commands = sum(1 for line in lines if set_commands.COMMAND.match(line))
    braces = sum(1 for line in lines if line.rstrip().endswith(("{", "}")))
    return commands > braces


__all__ = ["FILE_PATTERNS", "NAME", "JunosRuleset", "detect", "parse"]
