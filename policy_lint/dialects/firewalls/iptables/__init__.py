"""Linux netfilter through iptables/ip6tables: `iptables-save` files and shell scripts of
`iptables` calls (with ipset), read the way the kernel would run the resulting chains.

Rules are read, never run. A script's commands build the tables (`-A` appends, `-I chain [n]`
inserts above earlier rules, `-D` deletes by spec or number, `-R` replaces, `-F` flushes,
`-N`/`-X`, `-P` sets a built-in chain's policy); `iptables-restore FILE` / `<<EOF` here-docs
and `ipset restore` / `ipset add` load rules and sets. Shell: `VAR=value` literals
(`IPT=/sbin/iptables`, then `$IPT`/`${IPT}`), quotes, `\\` continuations, comments, `for x in a
b c; do ... done` over literal words, functions called by name; `if` branches are all taken; a
`case` on a run-time value (`$1`, a menu's `read`) runs the script once per arm (at most 16
runs) and the strongest outcome counts, so a menu's "undo" option does not hide the block its
"block" option applies. Anything computed at run time (`$(...)`, `$1`, a loop over a downloaded
list) makes the rules it feeds *dynamic*: what they could decide is `unknown` (TE907).
After `&&`/`||` a command runs as the status before it says: `iptables -C RULE || iptables -A
RULE` leaves the rule there either way (`-C` is answered from the rules built so far),
`true`/`false` decide, and a run-time test (`[ -f /etc/x ] && iptables -A ...`) makes the rule
a maybe (its match unknown; a guarded `-F`/`-D`/`-X`/`-R` leaves the rules it removes unknown, a
guarded `-P` the passes), with TE907 naming the guard.

A user's browsing crosses FORWARD (this box routes for clients) or OUTPUT (the box itself
browses). INPUT sees only the *replies* to this host's own connections: `-A INPUT -s
31.13.24.0/21 -j DROP` drops the SYN-ACKs and so blocks this host (unless an `ESTABLISHED
-j ACCEPT` comes first), never a forwarded client. A packet walks the raw, mangle, filter and
security chains of its path in kernel order; in each chain the first matching rule with a
terminating target decides (`DROP`/`REJECT` block, `ACCEPT` ends that table), `-j CHAIN` jumps
and comes back (`RETURN` or the chain's end), `-g` goes to a chain without coming back, `LOG`
and other non-terminating (or unknown extension) targets continue, the policy applies at the
end of a built-in chain. `*nat` never drops.

Each connection is three packets: the SYN (state NEW, no payload), the server's SYN-ACK back
(ESTABLISHED, from the service's address and port) and the first data packet (ESTABLISHED,
carrying the HTTP Host header or the TLS SNI, which `-m string`/`--hex-string` search). So
`-m string --string facebook.com --algo bm -j DROP` blocks, unless an `ESTABLISHED,RELATED -j
ACCEPT` rule comes first. Destinations are samples of every catalog prefix of the service
(addressing.py): a DROP covering some prefixes, or one address inside one, is partial with a
coverage note; iptables rules see IPv4 only and ip6tables rules IPv6 only (every IPv4 prefix
denied is a block, the note says IPv6 stays open). QUIC (UDP 443) is not probed: browsers fall
back to TCP, so a UDP-only drop is not a block. `-d www.facebook.com` resolves through the
catalog (the service's representative addresses), never DNS; an unknown name is `unknown`.
Audiences: "forwarded clients" and "this host (OUTPUT)" when both paths can block, plus the
source addresses, interfaces, MACs, owners and times (`-m time`, UTC) the rules test. Matches
we cannot evaluate (`-m limit`, `-m recent`, an ipset not in the repository) make a DROP
`unknown`; what `iptables-restore --test` refuses is TE901.

    IPT=/sbin/iptables
    $IPT -A FORWARD -m state --state ESTABLISHED,RELATED -j ACCEPT
    $IPT -A FORWARD -d 31.13.24.0/21 -j DROP        # one of Facebook's prefixes: partial
    $IPT -I FORWARD -m string --string "facebook.com" --algo bm -j DROP   # inserted first: blocks
"""

from policy_lint.dialects.firewalls.iptables.model import NAME
from policy_lint.dialects.firewalls.iptables.parse import FILE_PATTERNS, detect, parse

__all__ = ["FILE_PATTERNS", "NAME", "detect", "parse"]
