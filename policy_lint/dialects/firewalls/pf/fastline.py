"""The two kinds of line most of a big pf configuration is made of, recognised without the
general parser: a one-line `block` to one IPv4 network,

    block [drop|return|return-rst|return-icmp|return-icmp6] [in|out] [log] [quick]
          [on IF] [inet|inet6] [proto P] to a.b.c.d[/n]

and a table file's line holding one (`[!]a.b.c.d[/n]`). Only spaces and tabs between the words,
octets 0-255 and prefix lengths 0-32 without leading zeros, no `-` in IF or P (so no
`nat-to`-like word the parser looks for in a statement's text). Any other line -- a comment, a
macro, a list, a table, a name, IPv6, `port`, `from`, options, other white space -- goes to the
general parser, and what these patterns take reads exactly as it would read it
(tests/dialects/firewalls/test_pf_fastline.py compares both on generated lines).
"""

from __future__ import annotations

import re
import socket

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = rf"({_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET})(?:/(3[0-2]|[12]?[0-9]))?"
_WORD = r"[A-Za-z0-9_.:]+"  # a subset of one token of the parser's word class

# Groups: how, direction, quick, interface, family, protocol, address, prefix length.
BLOCK_LINE = re.compile(
    r"[ \t]*block"
    r"(?:[ \t]+(drop|return|return-rst|return-icmp|return-icmp6))?"
    r"(?:[ \t]+(in|out))?"
    r"(?:[ \t]+log)?"
    r"([ \t]+quick)?"
    rf"(?:[ \t]+on[ \t]+({_WORD}))?"
    r"(?:[ \t]+(inet6?))?"
    rf"(?:[ \t]+proto[ \t]+({_WORD}))?"
    rf"[ \t]+to[ \t]+{_IPV4}[ \t]*"
)
# Groups: the `!`s, address, prefix length.
TABLE_LINE = re.compile(rf"[ \t]*(!*){_IPV4}[ \t]*")

# The network mask of each IPv4 prefix length.
MASKS = tuple((0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF for plen in range(33))


def ipv4_value(dotted: str) -> int:
    """The integer of a dotted quad the patterns above took (four octets 0-255)."""
    return int.from_bytes(socket.inet_aton(dotted), "big")
