"""Linux nftables: `nft list ruleset` text, `nft -f` scripts and `nft -j list ruleset` JSON,
read the way the kernel runs the chains (never loaded, never run).

    define SOCIAL = { 31.13.24.0/21, 157.240.0.0/16 }
    table inet filter {
        set social { type ipv4_addr; flags interval; elements = $SOCIAL }
        chain forward {
            type filter hook forward priority 0; policy accept;
            ct state established,related accept     # replies: the SYN decides
            iifname "lan0" ip daddr @social drop    # clients on lan0 lose those prefixes
            udp dport 443 drop                      # QUIC only: browsers fall back to TCP
        }
    }

- **Base chains** (`type filter|route hook H priority P; policy accept|drop;`) are where
  packets enter. Several base chains on the same hook (in any table of a matching family:
  `inet` both, `ip` IPv4, `ip6` IPv6, `bridge`/`netdev` frames) run in priority order, lowest
  first, and a packet must get through all of them: `drop`/`reject` anywhere is final,
  `accept` only ends that base chain. A base chain that runs out of rules, or `return`s,
  applies its policy. `jump C` comes back after C ends (or `return`s); `goto C` does not come
  back. `counter`, `log`, `limit rate N`, `comment "..."` (a comment: never a match), source
  NAT and `meta ... set` statements do not decide. A match we do not evaluate makes the rule's
  match unknown (three-valued first match, semantics.chains.FirstMatch; TE908).
- **Destination NAT.** `type nat` chains at prerouting (clients) and output (this host) see a
  connection's first packet: `dnat to` another host on the same port is a block (a block page
  answers), `redirect`/`dnat` to another port or `tproxy` hands it to a proxy that decides
  (unknown, TE907).
- **Paths.** A user behind this box (a router) crosses the `prerouting`, `forward` and
  `postrouting` hooks; the box's own browsing crosses `output` and `postrouting`, and its
  replies come back through `prerouting` and `input`. The `input` hook never sees a client's
  traffic to the internet: a drop there blocks only this host (unless `ct state established`
  is accepted first, the usual case). Each connection is three packets: the SYN (`ct state
  new`), the server's SYN-ACK back (established) and the first data packet (established).
- **Matches**: `ip|ip6 saddr|daddr` with addresses, CIDRs, ranges `a-b`, anonymous sets
  `{ a, b }`, named sets `@set` (`elements = { ... }`, `flags interval`, `add element`),
  `!=`; `meta l4proto`/`ip protocol`/`ip6 nexthdr`; `tcp|udp|th dport|sport` (numbers,
  ranges, `{ sets }`, names, `< > <= >=`); `ct state`; `iifname|oifname|iif|oif` (and `*`
  wildcards); `meta nfproto`; verdict maps (`ip daddr vmap { a : drop }`, `vmap @map`).
  Hostnames resolve through the catalog, never DNS. `limit rate over`/`quota over`/`ct count
  over` match only floods, never one user's browsing. What we cannot evaluate (`meta mark`,
  `fib`, `meta skuid`, raw payload, dynamic sets filled by rules) makes a drop `unknown`.
- Probes are TCP. **QUIC** (UDP 443) is not a way in or out for a service: a rule dropping
  only `udp dport 443` blocks HTTP/3, and browsers fall back to TCP, so it is not a block.
  `tcp flags syn` matches the SYN; `ip frag-off`, `icmp ...`, `meter ... over` never match a
  browser's connection.
- Addresses are judged against every catalog prefix of the service (addressing.py):
  covering some is `blocked-partial`. Audiences: forwarded clients by source address (the
  `saddr` networks and sets the forward path tests, plus "another address"; a client is
  dual-stack: each IPv4 sample goes with the LAN's first IPv6 sample), input and output
  interfaces (`iifname`/`oifname` values plus "another interface"); "this host" when its own
  output path (or the input hook its replies cross) can block.
- Files: `define VAR = ...`/`$VAR`, `include "file"` (relative to the config, globs; a
  missing non-glob include is TE903 and leaves every pass `unknown`; loops TE904),
  `flush ruleset`, `table ... { }` blocks (`flags dormant`: not evaluated) and
  `add|insert|delete table|chain|rule|set|map|element` commands (`insert` puts the rule
  first; `delete rule ... handle N` cannot be followed: handles are not in the file). What
  `nft -c -f` refuses (unbalanced braces or quotes, a chain statement without `;` before `}`,
  unknown statements, undefined `$VAR`, `@set` or jump target, a set without a type, bad
  addresses) is TE901. **Fragments** loaded with a ruleset kept elsewhere (nftables/fragments):
  a file of `add element FAMILY TABLE SET { ... }` for a table it does not declare, or of
  `set NAME { ... }` written to be included inside a `table { }`, is recognised by content under
  any name; alone its verdicts are `unknown` with TE903 at its line (the ruleset is not here). A
  ruleset whose used set such a file under the lint root fills takes its elements (the file is
  then part of that ruleset's report, like an included file). Bounds: 300 000 rules, braces 32 deep, 5 000 chain visits per packet
  (jumps fanning out into jumps), else TE906/TE901/`unknown`, never a hang.
"""

from __future__ import annotations

from pathlib import Path

from policy_lint.dialects.firewalls.nftables.evaluate import NftRuleset
from policy_lint.dialects.firewalls.nftables.parse import Parser
from policy_lint.dialects.firewalls.nftables.syntax import FILE_PATTERNS, NAME, detect
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.dialects.semantics.gcpause import without_cycle_collection

__all__ = ["FILE_PATTERNS", "NAME", "detect", "parse"]


@without_cycle_collection
def parse(path: Path, context: ParseContext) -> NftRuleset:
    shown = context.resolver.display(path)
    parser = Parser(context, shown)
    parser.parse_file(path, shown)
    for t, ref, span in parser.pending_refs:
        kind, _, name = ref.partition(":")
        live = parser.tables.get((t.family, t.name)) is t
        if not live:
            continue
        if kind == "chain" and name not in t.chains:
            parser.problem("TE901", span, f"chain {name!r} does not exist in table {t.family} {t.name}")
        elif kind == "set" and name not in t.sets:
            parser.problem("TE901", span, f"set @{name} does not exist in table {t.family} {t.name}")
    return NftRuleset(shown, parser)
