"""MikroTik RouterOS exports (`/export`, `.rsc` scripts), evaluated the way RouterOS filters a
user's connection through the router.

    /ip firewall layer7-protocol
    add name=fb regexp="^.+(facebook.com).*\\$"
    /ip firewall address-list
    add address=31.13.64.0/18 list=social          # an address-list no rule uses blocks nothing
    /ip firewall filter
    add action=accept chain=forward connection-state=established,related
    add action=reject chain=forward tls-host=*.facebook.com time=8h-17h,mon,tue,wed,thu,fri
    add action=drop chain=forward layer7-protocol=fb disabled=yes   # disabled: ignored

Here the tls-host rule never sees a ClientHello (it travels in an established connection,
accepted first), so Facebook is unaffected; moved above the accept it would block HTTPS to
www.facebook.com on weekdays 8-17 (router time): `blocked-partial`.

- **Syntax**: menu headers (`/ip firewall filter`), then `add`/`set`/`remove`/`enable`/`disable`
  lines (`set 3 ...`, `[find comment="x"]`, `place-before=N`); `\\` ends a line that continues
  on the next (its leading blanks dropped, also inside quotes); `"..."` with RouterOS escapes;
  a leading `!` in a value negates it. Default values are not exported: no `action=` is accept.
  `disabled=yes` items are ignored. `:foreach i in={"a";"b"} do={ /ip firewall ... $i ... }`
  over a literal array runs its block once per element (one line or several up to its `}`).
  Other script lines (`:foreach` over a computed array, `:do`, `:if`) that touch the firewall,
  DNS or proxy are not followed: TE907, and what they could decide is `unknown`. Scripts are
  recognised by their commands under any name (`.rsc`, `.txt`), also inside a `do={` block.
- **Path**: a user's packets cross `/ip firewall raw` prerouting, then `/ip firewall filter`
  chain `forward` (`input`/`output` are the router's own traffic: not users'). IPv6 targets use
  the `/ipv6 firewall` menus. In each chain the first matching rule decides: accept,
  fasttrack-connection (accept), drop, tarpit (drop), reject; jump to `jump-target` and back
  on `return` or at the end of a custom chain; log, passthrough and add-src/dst-to-address-list
  go on. A built-in chain's end accepts. Each connection is three packets, as in the iptables
  dialect: the SYN (state new), the server's SYN-ACK back (established) and the first data packet
  (established: the HTTP request or the TLS ClientHello). So rules after `accept
  connection-state=established` see only the SYN, where `tls-host`, `content` and L7 find nothing.
- **Matchers**: `dst-address`/`src-address` (CIDR, `a-b`, `!`), `*-address-list` (entries may
  be DOMAIN names, which the router resolves: here through the catalog, never DNS: the name's
  own connections match, other hosts of the service only at its catalog addresses),
  `protocol`, `dst-port`/`src-port`/`port` (lists, ranges, `!`), `in-`/`out-interface(-list)`
  (`/interface list member`), `connection-state`, `connection-nat-state`, `tcp-flags`,
  `src-mac-address`, `tls-host` (a glob over the TLS SNI: HTTPS only, `*.x.com` is not
  `x.com`), `content` (bytes in the payload: the HTTP request with its Host header, or the
  ClientHello with the SNI), `layer7-protocol` (its regexp over the connection's first bytes,
  case-insensitive, time-bounded; one not defined in the file is `unknown`), `time=8h-17h,mon,..`
  (router time: a window makes a block `blocked-partial`). `add-dst-to-address-list` rules
  fill lists as connections pass: the next connection to that address meets the list.
  Addresses are judged against every catalog prefix of the service (addressing.py). Matchers
  we cannot evaluate (`limit`, `connection-mark`, `packet-mark`, `routing-mark`,
  `src-address-type`, `per-connection-classifier`, `in-bridge-port`, `hotspot`, any other) make
  the rule's match unknown: what it could decide is `unknown` (TE106 at the rule).
- **Replies**: a rule that drops the server's SYN-ACK (`src-address=157.240.0.0/16` in forward)
  blocks the connection; the finding says it matched the servers as the source.
- **dstnat**: `/ip firewall nat` chain=dstnat, first match: `dst-nat`/`redirect`/`netmap` of the
  service's own addresses (`dst-address`, `dst-address-list`) to anything else is a block
  (`redirect`); of web traffic at large, the host or program there decides: `unknown` with
  TE907 at the NAT rule, except HTTP redirected to the router's own web proxy (below);
  `action=accept` exempts.
- **Policy routing**: `/ip firewall mangle` chain=prerouting `action=mark-routing
  new-routing-mark=T` (first match; an `accept` ends the chain) sends a connection the filter
  lets through by routing table T (`/ip route ... routing-table=T`, RouterOS 6 `routing-mark=T`),
  through a VPN, tunnel or other uplink whose filtering is not in the file: `unknown`, TE907 at
  the mangle rule. A forward drop still blocks.
- **Around the firewall**: `/ip dns static` (`name=`, `regexp=`, `match-subdomain=yes`,
  `type=NXDOMAIN`, an `address=` sinkhole or redirect) decides first, for clients using the
  router as their DNS server (the note says so; `allow-remote-requests=no` set in the file
  makes those entries the router's own). `/ip proxy access` denies (`dst-host` globs, `:regex`)
  apply to HTTP that a `/ip firewall nat` `action=redirect` sends to the proxy; without such a
  redirect, only to clients configured to use the proxy (an audience). `/system scheduler`
  items whose `on-event` (or the `/system script` it names) enables, disables or changes
  firewall, DNS or proxy items make those items time-dependent: each scheduler's state is an
  audience, so a block that only one state applies is `blocked-partial`.
- **Audiences**: source addresses and address-lists (client memberships), in- and
  out-interfaces, MACs, time windows, scheduler states and proxy use that rules test; every
  combination when there are few, else each condition on its own (TE906).

The package: `parse` (export text to the rule model of `model`: items, then one Config per
device state), `audiences` (the clients the rules tell apart) and `evaluate` (the Ruleset: a
probe's connection walked through the chains, after the router's DNS and web proxy).
"""

from policy_lint.dialects.firewalls.mikrotik.evaluate import ChainIndex
from policy_lint.dialects.firewalls.mikrotik.model import NAME, Addr, ChainRule, DstRule, Rule
from policy_lint.dialects.firewalls.mikrotik.parse import FILE_PATTERNS, detect, parse

__all__ = ["FILE_PATTERNS", "NAME", "Addr", "ChainIndex", "ChainRule", "DstRule", "Rule", "detect", "parse"]
