"""OpenBSD/FreeBSD/macOS pf (`pf.conf`), evaluated the way pf filters a packet.

    table <social> persist file "/etc/pf/social"     # one CIDR or host per line
    block log quick from any to <social>             # quick: the first match decides
    pass in quick on $lan_if                         # clients' traffic enters on the LAN side
    block log all                                    # otherwise: the LAST matching rule wins

- **Last match wins** over the whole ruleset; a matching `quick` rule ends the search. With no
  match the packet passes. `match` rules never decide.
- A user's packet is filtered twice on a router: **in** on the client's (LAN) interface and
  **out** on the egress interface; either pass blocking it blocks the user. On a single host
  (no `nat-to`/`rdr-to`/`nat`, no rule for traffic entering a LAN interface) only the out pass
  exists. Egress interfaces are `egress`, those with NAT rules and macros named like `ext`,
  `wan`, `egress`; any other interface named by `on` is a LAN side, and each becomes an
  audience ("on em1"), as do the source networks rules name.
- Hosts: CIDRs, addresses, `<tables>` (inline `{ }` or `file "..."`, resolved inside --root; a
  missing file leaves the rules that use it undecidable: `unknown`, TE903), `{ lists }`,
  `!` negation, `any`, `all`; names resolve through the catalog, never DNS. Interface
  addresses (`self`, `(em0)`, `em0:network`, `egress`) as a source are the router itself or
  its NAT address (they match); as a destination they are never a catalog service.
- `proto`, `port` (`= != < <= > >= a:b a><b a<>b`, names http/https/www), `inet`/`inet6`
  (against the target address family). Addresses are judged against every catalog prefix of
  the service (addressing.py): covering only some is `blocked-partial`.
- Filter options that select packets: `user`/`group` (pf.conf(5): a forwarded connection's user
  and group are `unknown`, so on a router they match only `user unknown`; on a host they are the
  browser's user: unknown), `flags X/Y` (against the connection's SYN), `probability 100%`, a
  source `port` (the client's port is any ephemeral port: decided only when all or none of
  1024-65535 match). Those not modelled -- `tagged`, `received-on`, `prio`, `os`, `tos`,
  `max-pkt-rate`, `once`, `dnpipe`/`dnqueue`, any other `probability` -- make the rule's match
  unknown: what it could decide is `unknown` (TE106 at the rule), never a block or a pass.
- Replies: a pass rule keeps state (unless `no state`), and a state lets the replies through
  without filtering. When no such rule passed the connection, the replies from the service's
  servers (in on the egress side, from its addresses and port) are filtered: `block in from
  157.240.0.0/16` drops them, and the finding says it matched the servers as the source.
- Redirects: `rdr ... -> X` (FreeBSD/macOS), `rdr-to`, `divert-to`, `divert-packet` on a
  `pass`/`match` rule (OpenBSD) send a matching client connection elsewhere. Redirecting the
  service's own addresses is a block (`redirect`: no other host answers as the service);
  redirecting web traffic at large hands the decision to what listens there (a transparent
  proxy, a captive portal): `unknown`, with TE907 at the redirect. `no rdr` exempts.
- Policy routing: `route-to`/`reply-to` on the pass rule that decides a connection, or
  `route-to`/`rtable` (inbound) on a `match` rule it meets, send it through another path (a VPN,
  a tunnel): `unknown`, TE907 at the rule. `dup-to` routes only a copy: the original goes on.
- `$macros`, `\\` continuations, `include "file"` and `anchor "name" { ... }` (evaluated in
  place, a `quick` inside an anchor ends the search), `load anchor NAME from "file"`. An include
  (or loaded anchor) whose file is not here stands for rules unseen at its place: what reaches it
  is `unknown` (TE903), even behind a later `pass all`. Unknown statements are what pfctl
  refuses: TE901 with the line. A `pass` rule whose match is unknown (a tag, a user, a missing
  table) after the block that matched a packet makes its verdict `unknown`, as a matching one
  would undo the block.

Layout: parse.py reads the text (fastline.py the common one-line blocks and table lines),
model.py holds the rules, rules.py keeps them in order (rows of integers for the common blocks,
built into rules when evaluated), tables.py the tables' networks, evaluate.py decides.
"""

from policy_lint.dialects.firewalls.pf.evaluate import EPHEMERAL, MAX_AUDIENCES, PfRuleset
from policy_lint.dialects.firewalls.pf.model import NAME, HostItem, Packet, Rule
from policy_lint.dialects.firewalls.pf.parse import (
    EGRESS_MACRO,
    FILE_PATTERNS,
    IGNORED,
    MAX_INCLUDE_DEPTH,
    MAX_MACRO_ROUNDS,
    OPTIONS_WITH_VALUE,
    PORTS,
    ROUTING,
    UNMODELLED_MATCHERS,
    detect,
    parse,
)
from policy_lint.dialects.firewalls.pf.tables import Table

__all__ = [
    "EGRESS_MACRO",
    "EPHEMERAL",
    "FILE_PATTERNS",
    "IGNORED",
    "MAX_AUDIENCES",
    "MAX_INCLUDE_DEPTH",
    "MAX_MACRO_ROUNDS",
    "NAME",
    "OPTIONS_WITH_VALUE",
    "PORTS",
    "ROUTING",
    "UNMODELLED_MATCHERS",
    "HostItem",
    "Packet",
    "PfRuleset",
    "Rule",
    "Table",
    "detect",
    "parse",
]
