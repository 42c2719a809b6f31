"""Symbolic values: what an unresolved template value stands for, decided by where it stands.

A template's placeholder in a *source* or *interface* position is "some address / interface of
this network": whatever it is, it names who is filtered, not what, so it rarely changes whether
a service is denied:

    acl lan src {{ lan_cidr }}            # -> acl lan src 192.0.2.0/24   (a stand-in network)
    http_access deny facebook lan         #    Facebook still blocked for the LAN's clients
    iptables -A FORWARD -i $LAN_IF ...    # -> -i if_LAN_IF                (a stand-in interface)

Each distinct expression gets its own stand-in (documentation prefixes, RFC 5737, never a real
network), and findings show the expression again instead of the stand-in. A value anywhere else
(a destination, a domain, a port, an ACL name, a whole line) could be anything: it stays as
written, the dialect sees it as it is, and every decision of the config touching it, or letting
a probe through while it stands in the config, is `unknown` with a TE907 naming the expression
(see extract/virtual.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from policy_lint.extract.model import CLOSE, OPEN

_MARKED = re.compile(f"{OPEN}([^{CLOSE}]*){CLOSE}")
# The word(s) before a value that make it a source address: iptables `-s`, nft `saddr`, squid
# `acl NAME src`, pf `from`, MikroTik `src-address=`, dnsmasq `listen-address=`.
_SOURCE = re.compile(
    r"(?:(?:^|\s)(?:-s|--source|--src|saddr|src|from|allow|deny)|src-address=|listen-address=|"
    r"src-address-list=|--src-range)\s*(?:!\s*)?$",
    re.I,
)
_INTERFACE = re.compile(
    r"(?:(?:^|\s)(?:-i|-o|--in-interface|--out-interface|iifname|oifname|iif|oif|on)|"
    r"in-interface=|out-interface=|interface=|except-interface=)\s*(?:!\s*)?[\"']?$",
    re.I,
)
_NETWORKS = ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")


@dataclass
class Resolution:
    lines: list[str]
    # expression -> stand-in, for the expressions that got one
    stand_ins: dict[str, str] = field(default_factory=dict)
    # (0-based line, expression) for the values that stay unknown
    unknown: list[tuple[int, str]] = field(default_factory=list)


def _stand_in(kind: str, expression: str, taken: dict[str, str]) -> str:
    if expression in taken:
        return taken[expression]
    n = sum(1 for v in taken.values() if not v.startswith("if_"))
    if kind == "interface":
        name = "if_" + re.sub(r"\W", "", expression)[:12]
        value = name if name != "if_" else f"if_{len(taken)}"
    elif n < len(_NETWORKS):
        value = _NETWORKS[n]
    else:
        value = f"192.0.2.{n}/32"
    taken[expression] = value
    return value


def resolve(lines: list[str]) -> Resolution:
    """Replace marked values: stand-ins in source/interface positions, the expression elsewhere."""
    out = Resolution([])
    for i, line in enumerate(lines):
        pieces: list[str] = []
        pos = 0
        for m in _MARKED.finditer(line):
            before = line[pos : m.start()]
            pieces.append(before)
            expression = m.group(1)
            prefix = "".join(pieces)
            if prefix.lstrip().startswith(("#", ";", "//")):
                pieces.append(expression)  # inside a comment (`# {{ ansible_managed }}`): decides nothing
            elif _INTERFACE.search(prefix):
                pieces.append(_stand_in("interface", expression, out.stand_ins))
            elif _SOURCE.search(prefix):
                pieces.append(_stand_in("address", expression, out.stand_ins))
            else:
                pieces.append(expression)
                out.unknown.append((i, expression))
            pos = m.end()
        pieces.append(line[pos:])
        out.lines.append("".join(pieces))
    return out


def has_marks(text: str) -> bool:
    return OPEN in text
