"""AdGuard Home's configuration (AdGuardHome.yaml, schema versions 20 to 29 and later).

AdGuard Home answers each DNS query in this order (`DNSFilter.CheckHost`):

    dns: {blocked_hosts: [...]}          access settings: a matching query is dropped
    protection_enabled: false            nothing below applies (filters, services, rewrites)
    filtering_enabled: false             rewrites, allowlists and rules do not apply; blocked
                                         services still do
    rewrites: [{domain, answer}]         legacy rewrites: the answer (semantics/answers.py)
    whitelist_filters: [...]             allowlists: a matching rule lets the name through
    filters: [...], user_rules: [...]    AdGuard DNS filter syntax, one engine: `@@` wins over
                                         a block (and ends the check: blocked services too),
                                         `$important` over `@@`, `$badfilter` cancels
    blocked_services: {ids, schedule}    each ID is AdGuard's list of rules for the service
                                         (catalog/adguard_services.yaml); the schedule's
                                         windows pause them: blocked-partial
    dns: {upstream_dns: ['[/d/]up']}     where a name not answered above is forwarded

    user_rules:
      - '||facebook.com^$client=kid'     only for the client named (or with IP/CIDR) kid
      - '@@||linkedin.com^$ctag=user_admin'

Clients: `clients.persistent` entries (ids: IPs, CIDRs, MACs, ClientIDs; tags) are audiences of
their own; `use_global_settings: false` makes their `filtering_enabled` count,
`use_global_blocked_services: false` their own `blocked_services`, `upstreams` their own
routing. `$client`/`$ctag` rules apply to the clients they name; a `$client` value no persistent
client has is an audience of its own; every other client is "clients not in
clients.persistent". A rule with a modifier AdGuard Home's DNS engine does not read
(`$third-party`, `$domain`, content types) is ignored, as AdGuard Home ignores it (TE905).

Filter lists: a local path is read through --root; a remote URL is read from AdGuard Home's
own copy `data/filters/<id>.txt` when the repository holds it, else it is an unknown input
(TE903): judged by its name (semantics/listnames.py), it leaves what it could block `unknown`
when no present rule decides (as adblock.py reads a missing include), and a missing allowlist
leaves every block it could lift `unknown`. Disabled lists are inert.

Upstreams: a name routed (`[/facebook.com/]...`) to an ordinary resolver is not blocked; to
AdGuard Home's own listening address (0.0.0.0 or 127.0.0.1 on its port, where it binds) the
query loops and fails (blocked); to another resolver on a loopback or private address that
resolver decides (unknown); `#` means the default upstreams.

Not modelled (unknown where they could decide, or no block of these services): `$denyallow`
and `$dnstype` other than "A and AAAA" (TE908 via adblock.py); `protection_disabled_until`
(a run-time pause: unknown); safe search, parental control and safe browsing (AdGuard's remote
services; they do not block these services); the system hosts file; hosts-syntax lines in
lists are read as blocks whatever their address; `allowed_clients`/`disallowed_clients` refuse
all queries of a client (no web at all, which is no block of a service).
"""

from __future__ import annotations

import re
from fnmatch import fnmatch
from pathlib import Path

from policy_lint.dialects.dns.adguardhome import config, yamlnodes
from policy_lint.dialects.dns.adguardhome.evaluate import AdGuardHomeRuleset
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.inputs import read_source

NAME = "adguardhome"
FILE_PATTERNS = ("AdGuardHome.yaml", "AdGuardHome.yml", "adguardhome.yaml", "*AdGuardHome*.yaml")

_TOP = re.compile(r"^(schema_version|dns|filtering|user_rules|filters|http|bind_host|clients)\s*:", re.M)


def detect(path: Path, head: str) -> float:
    keys = set(_TOP.findall(head))
    named = any(fnmatch(path.name.lower(), p.lower()) for p in FILE_PATTERNS)
    if path.suffix.lower() not in (".yaml", ".yml", ""):
        return 0.0
    if (
        "schema_version" in keys
        and "dns" in keys
        and keys & {"filtering", "user_rules", "filters", "http", "bind_host"}
    ):
        return 0.95
    if named and "dns" in keys:
        return 0.9
    return 0.0


def parse(path: Path, context: ParseContext) -> AdGuardHomeRuleset:
    display = context.resolver.display(path)
    src = read_source(path, display)
    root = yamlnodes.load("\n".join(src.lines), display)
    cfg = config.read(root, display)
    cfg.problems[:0] = src.problems
    if root.get("dns") is None and root.get("schema_version") is None:
        cfg.statements = max(cfg.statements, 1)
        rs = AdGuardHomeRuleset(cfg, context, path)
        rs.understood = 0
        return rs
    return AdGuardHomeRuleset(cfg, context, path)
