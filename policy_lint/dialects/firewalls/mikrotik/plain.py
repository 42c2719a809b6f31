"""Plain lines, read without the general machinery: nearly every line of a big export is an
`add` of a few `key=value` words, most of them `add action=drop chain=forward dst-address=NET`.

Each function here gives exactly what the general reader (parse.py) gives for the same line,
or None when the line is not of its shape: the caller then takes the general path. Nothing
here decides anything the general path would not (tests/dialects/firewalls/
test_mikrotik_plain.py compares both on generated lines)."""

from __future__ import annotations

import re
import sys

from policy_lint.dialects.firewalls.mikrotik.model import Addr, Cidr, DstRule, Item

_IPV4_TEXT = (
    r"(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})"
    r"(?:/([0-9]{1,2}))?"
)
_IPV4 = re.compile(_IPV4_TEXT)
# The usual block-list line, its parameters in the order RouterOS's /export writes them
# (alphabetical): one match instead of a loop over its words (dst_rule).
_EXPORTED = re.compile(r"add action=([a-z-]+) chain=([^ \t]+) dst-address=" + _IPV4_TEXT)

# Actions whose rule needs no other parameter (jump needs jump-target=, add-*-to-address-list
# an address-list=), each with the `how` of a Rule.
_ACTIONS = {
    "accept": "drop",
    "drop": "drop",
    "reject": "reject",
    "tarpit": "tarpit",
    "fasttrack-connection": "drop",
    "return": "drop",
    "log": "drop",
    "passthrough": "drop",
}
# Parameters a rule never reads (parse.META): they may stand beside the others.
_IGNORED = frozenset({"comment", "log", "log-prefix"})


def is_plain_add(stripped: str) -> bool:
    """Is this stripped line an `add` the reader may keep as its text (Item.plain)? One whose
    words hold nothing to unescape or to run at read time (no quote, bracket or brace), and no
    `place-before=`, which the reader applies as it adds the item (keys are compared in lower
    case: any key that lower-cases to it holds it in the lower-cased line)."""
    return (
        stripped.startswith(("add ", "add\t"))
        and '"' not in stripped
        and "[" not in stripped
        and "]" not in stripped
        and "{" not in stripped
        and "}" not in stripped
        and "place-before" not in stripped.lower()
    )


def ipv4_cidr(text: str) -> Cidr | None:
    """`a.b.c.d[/n]` as ipaddress.ip_network(text, strict=False) reads it, without its string
    parsing; None for anything else (then ip_network decides)."""
    m = _IPV4.fullmatch(text)
    return None if m is None else _cidr(*m.groups())


def _cidr(a: str, b: str, c: str, d: str, plen: str | None) -> Cidr | None:
    """The network of _IPV4's groups; None past 255 or /32."""
    octets = int(a), int(b), int(c), int(d)
    bits = 32 if plen is None else int(plen)
    if max(octets) > 255 or bits > 32:
        return None
    value = octets[0] << 24 | octets[1] << 16 | octets[2] << 8 | octets[3]
    return 4, value >> (32 - bits) << (32 - bits), bits


def dst_rule(item: Item, family: int, table: str) -> DstRule | None:
    """The rule of a plain filter or raw item with `chain=`, maybe `action=` (one of _ACTIONS),
    maybe one IPv4 `dst-address=` network, and nothing else a rule reads; None otherwise."""
    text = item.plain
    if not text:
        return None
    m = _EXPORTED.fullmatch(text)
    if m is not None:
        action, chain, *address = m.groups()
        how, dst = _ACTIONS.get(action), _cidr(*address)
        if how is None or dst is None:
            return None  # as the loop below finds
        return DstRule(item.span, family, table, sys.intern(chain), sys.intern(action), how, Addr((dst,)))
    if "\t" in text:
        return None
    action = chain = dst = None
    for word in text.split(" ")[1:]:
        if not word:
            continue
        key, _, value = word.partition("=")
        if not value:
            return None  # no `=`, or an empty value: the general path says what it means
        if key == "action":
            if action is not None or value not in _ACTIONS:
                return None
            action = value
        elif key == "chain":
            if chain is not None:
                return None
            chain = value
        elif key == "dst-address":
            if dst is not None:
                return None
            dst = ipv4_cidr(value)
            if dst is None:
                return None
        elif key not in _IGNORED:
            return None
    if chain is None:
        return None
    action = action or "accept"
    return DstRule(
        item.span,
        family,
        table,
        sys.intern(chain),
        sys.intern(action),
        _ACTIONS[action],
        None if dst is None else Addr((dst,)),
    )
