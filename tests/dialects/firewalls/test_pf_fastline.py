"""pf's fast path (fastline.py: one-line blocks to one IPv4 network kept as rows, table-file lines
of one IPv4 network) reads exactly what the general parser reads: generated files, each parsed
both ways, give equal rules, tables, problems and decisions."""

from __future__ import annotations

import ipaddress
import random
from pathlib import Path

import pytest

from policy_lint.catalog import load_catalog
from policy_lint.dialects.firewalls.pf.evaluate import PfRuleset
from policy_lint.dialects.firewalls.pf.fastline import BLOCK_LINE, TABLE_LINE
from policy_lint.dialects.firewalls.pf.parse import Parser
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.inputs import Resolver

CATALOG = load_catalog()
FB = [str(n) for n in CATALOG.services["facebook"].networks]
NETS = [
    *FB[:6],
    "31.13.24.7/21",
    "10.1.2.7/24",
    "10.0.0.0/8",
    "192.168.1.0/24",
    "203.0.113.5",
    "0.0.0.0/0",
    "0.0.0.0",
    "255.255.255.255/32",
    "1.2.3.4/0",
    # spellings the fast path leaves to the general parser
    "256.1.1.1",
    "1.2.3.04",
    "010.1.1.1",
    "1.2.3.4/33",
    "1.2.3.4/08",
    "1.2.3",
    "2a03:2880::/32",
    "::/0",
    "facebook.com",
    "example.org",
    "<t0>",
    "<nosuch>",
    "any",
    "self",
    "(em0)",
    "$net",
]
WORDS = ["em0", "em1", "egress", "vlan10", "wg-home", "$ext_if", "lo0", "quick", "in", "tcp", "nat-to"]
SPACE = [" ", " ", "\t", "  ", " \t", "\u00a0", "\x0b"]


def _block_line(r: random.Random) -> str:
    parts = ["block"]
    for chance, words in (
        (0.4, ["drop", "return", "return-rst", "return-icmp", "return-icmp6"]),
        (0.5, ["in", "out"]),
        (0.2, ["log", "log (all)"]),
        (0.8, ["quick"]),
    ):
        if r.random() < chance:
            parts.append(r.choice(words))
    if r.random() < 0.35:
        parts += ["on", r.choice([*WORDS, "! em0", "{ em0 em1 }"])]
    if r.random() < 0.3:
        parts.append(r.choice(["inet", "inet6"]))
    if r.random() < 0.3:
        parts += ["proto", r.choice(["tcp", "udp", "6", "ipv6-icmp", "{ tcp udp }", *WORDS])]
    if r.random() < 0.1:
        parts += ["from", r.choice(NETS)]
    target = r.choice(NETS[:15]) if r.random() < 0.6 else r.choice(NETS)
    if r.random() < 0.1:
        target = r.choice(["!", "! "]) + target
    if r.random() < 0.1:
        target = "{ " + " ".join(r.choice(NETS) for _ in range(r.randint(1, 3))) + " }"
    parts += ["to", target]
    if r.random() < 0.1:
        parts += ["port", r.choice(["80", "{ 80 443 }", "https", "1000:2000"])]
    if r.random() < 0.06:
        parts.append(r.choice(['label "x"', "prio 3", "tagged FB", "user bob", "rdr-to 10.0.0.1", "# note"]))
    if r.random() < 0.05:  # keywords out of pf's order
        middle = parts[1:-2]
        r.shuffle(middle)
        parts = [parts[0], *middle, *parts[-2:]]
    line = (r.choice(SPACE) if r.random() < 0.2 else " ").join(parts)
    if r.random() < 0.15:
        line = r.choice(["", " ", "\t", "  "]) + line + r.choice(["", " ", "\t", " \\"])
    return line


def _statement(r: random.Random) -> str:
    k = r.random()
    if k < 0.8:
        return _block_line(r)
    return r.choice(
        [
            "set block-policy return",
            "set block-policy drop",
            "pass out all",
            "pass in quick on em1",
            "block log all",
            "match out on egress inet from !(egress) to any nat-to (egress)",
            "pass out quick proto tcp to any port 443 route-to (wg0 10.0.0.1)",
            "# block quick to 31.13.24.0/21",
            "",
            'anchor "a" {\n block quick to 157.240.0.0/16\n}',
        ]
    )


def _table_line(r: random.Random) -> str:
    word = r.choice(NETS[:15]) if r.random() < 0.7 else r.choice(NETS)
    word = r.choice(["", "", "!", "!!", "! "]) + word
    if r.random() < 0.1:
        word += " " + r.choice(NETS)
    if r.random() < 0.1:
        word += r.choice([" # note", "#x"])
    if r.random() < 0.2:
        word = r.choice(SPACE) + word + r.choice(["", *SPACE])
    return word


def _write_case(r: random.Random, directory: Path) -> Path:
    (directory / "list").write_text("\n".join(_table_line(r) for _ in range(r.randint(0, 60))) + "\n")
    head = [
        'ext_if = "em0"',
        f'net = "{r.choice(NETS[:15])}"',
        'table <t0> persist { 10.0.0.0/8 !10.1.0.0/16 } file "list"',
        'table <t1> persist file "list"',
    ]
    body = [_statement(r) for _ in range(r.randint(5, 60))]
    path = directory / "pf.conf"
    path.write_text("\n".join(head + body) + "\n")
    return path


def _parsed(path: Path, fast: bool) -> tuple[Parser, PfRuleset]:
    context = ParseContext(Resolver(path.parent.resolve()), CATALOG)
    parser = Parser(context, [], fast=fast)
    parser.parse_file(path, "pf.conf")
    return parser, PfRuleset("pf.conf", parser, CATALOG)


def _addresses(r: random.Random) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    out: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
    for word in NETS[:15]:
        net = ipaddress.ip_network(word, strict=False)
        out += [net.network_address, net.broadcast_address, net[net.num_addresses // 2]]
    out += [ipaddress.IPv4Address(r.getrandbits(32)) for _ in range(20)]
    return out + [ipaddress.ip_address("2a03:2880::1")]


@pytest.mark.parametrize("seed", range(8))
def test_fast_and_general_parsers_agree(tmp_path, seed):
    r = random.Random(seed)
    path = _write_case(r, tmp_path)
    fast_parser, fast = _parsed(path, True)
    full_parser, full = _parsed(path, False)
    assert fast_parser.rules.rows() > 0  # the case exercises the fast path
    assert [fast.rules[k] for k in range(len(fast.rules))] == list(full.rules.full)
    assert fast.problems == full.problems
    assert fast_parser.macros == full_parser.macros
    assert fast_parser.block_policy == full_parser.block_policy
    assert fast.egress == full.egress and fast.router == full.router and fast.lan_ifaces == full.lan_ifaces
    for name, table in full.tables.items():
        other = fast.tables[name].entries
        assert len(other) == len(table.entries)
        for address in _addresses(r):
            hit, want = other.lookup(address), table.entries.lookup(address)
            assert hit == want
            if hit is not None and want is not None:
                assert other.negated(hit) == table.entries.negated(want)
                assert other.span(hit) == table.entries.span(want)
    probes = [*CATALOG.services["facebook"].probes(), *CATALOG.control_probes()]
    for audience in full.audiences()[:2]:  # (more audiences only repeat the same walks)
        for probe in probes:
            assert fast.evaluate(probe, audience) == full.evaluate(probe, audience)
    for svc in CATALOG.services.values():
        for probe in svc.probes():
            assert fast.inert_mentions(probe) == full.inert_mentions(probe)


def test_the_fast_patterns_take_only_plain_lines():
    assert BLOCK_LINE.fullmatch("block return out log quick on em0 inet proto tcp to 10.1.2.0/24")
    assert BLOCK_LINE.fullmatch("\tblock quick to 31.13.24.0/21 ")
    for line in (
        "block quick to 1.2.3.04",
        "block quick to 256.1.1.1",
        "block quick to 1.2.3.4/33",
        "block quick on nat-to to 1.2.3.4",
        "block quick to 1.2.3.4 port 80",
        "block quick from 10.0.0.0/8 to 1.2.3.4",
        "block quick to ! 1.2.3.4",
        "block quick to 1.2.3.4 # note",
        "block quick to 1.2.3.4 \\",
        "block\u00a0quick to 1.2.3.4",
        "block quick on $ext_if to 1.2.3.4",
    ):
        assert BLOCK_LINE.fullmatch(line) is None, line
    assert TABLE_LINE.fullmatch("!!10.0.0.0/8")
    for line in ("! 10.0.0.0/8", "10.0.0.0/8 # x", "10.0.0.0/8 10.1.0.0/16", "2a03:2880::/32"):
        assert TABLE_LINE.fullmatch(line) is None, line
