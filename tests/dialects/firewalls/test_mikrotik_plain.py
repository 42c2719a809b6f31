"""The plain path of the MikroTik reader (plain `add` lines kept as text, dst-only filter rules
built as DstRule) against the general reader, on generated exports: the same rules, lists,
problems and, linted, the same report. Lines mix the plain shape with everything that must
leave it: `!`, address-lists, ranges a-b, quoted values and comments, `disabled=yes`, tabs,
upper-case keys, repeated or empty parameters, `place-before=`, bad addresses, other matchers,
and commands that change items after they were added (`set`, `disable`, `remove`, `[find]`)."""

from __future__ import annotations

import dataclasses
import random

from policy_lint.catalog import load_catalog
from policy_lint.dialects.firewalls.mikrotik import ChainRule, DstRule, Rule
from policy_lint.dialects.firewalls.mikrotik.parse import ruleset_from_lines
from policy_lint.engine import lint_ruleset
from policy_lint.policy import strict_policy

CATALOG = load_catalog()
FB_V4 = [str(n) for n in CATALOG.services["facebook"].networks if n.version == 4]
FIELDS = [f.name for f in dataclasses.fields(Rule)]


def _net(rnd: random.Random) -> str:
    return rnd.choice(
        [
            rnd.choice(FB_V4),
            rnd.choice(FB_V4).split("/")[0],
            f"10.{rnd.randrange(256)}.{rnd.randrange(256)}.0/24",
            f"{rnd.randrange(256)}.{rnd.randrange(256)}.{rnd.randrange(256)}.{rnd.randrange(256)}/{rnd.randrange(34)}",
            "0.0.0.0/0",
            "31.13.24.7/21",  # host bits set: the network, as RouterOS reads it
            "31.13.24.0-31.13.31.255",
            "157.240.0.0/16,31.13.24.0/21",
            "31.13.24.0/255.255.248.0",
            "010.1.2.3",
            "1.2.3.256",
            "1.2.3.4/33",
            "a.b.c.d",
            "2a03:2880::/32",
            "::/0",
            "",
        ]
    )


def _value(rnd: random.Random, value: str) -> str:
    roll = rnd.random()
    if roll < 0.08:
        return "!" + value
    if roll < 0.12:
        return f'"{value}"'
    return value


def _line(rnd: random.Random) -> str:
    words = []
    action = rnd.choice(
        ["drop"] * 6
        + ["accept", "reject", "tarpit", "return", "log", "passthrough", "fasttrack-connection"]
        + ["Drop", "jump", "add-dst-to-address-list", "mark-packet", "bogus", ""]
    )
    if action or rnd.random() < 0.3:
        words.append(f"action={action}")
    chain = rnd.choice(["forward"] * 6 + ["prerouting", "input", "custom", "Forward", ""])
    if chain or rnd.random() < 0.5:
        words.append(f"chain={chain}")
    if action == "jump" and rnd.random() < 0.8:
        words.append("jump-target=custom")
    if rnd.random() < 0.85:
        words.append("dst-address=" + _value(rnd, _net(rnd)))
    others = [
        "src-address=" + _value(rnd, _net(rnd)),
        "dst-address=" + _net(rnd),
        "DST-ADDRESS=" + _net(rnd),
        "dst-address-list=" + _value(rnd, "fb"),
        "src-address-list=kids",
        "protocol=tcp",
        "protocol=udp dst-port=443",
        "dst-port=443",
        'comment="block list"',
        "comment=plain",
        "comment=",
        "log=yes",
        "log-prefix=x",
        "disabled=yes",
        "disabled=no",
        "Disabled=YES",
        "place-before=0",
        "Place-Before=1",
        "address-list=seen",
        "connection-state=new",
        "in-interface=ether2",
        "tls-host=*.facebook.com",
        "time=8h-17h,mon,tue",
        "limit=10,5:packet",
        "action=accept",
        "chain=forward",
        "selector",
    ]
    while rnd.random() < 0.35:
        words.append(rnd.choice(others))
    if rnd.random() < 0.4:
        words.sort()  # the order of RouterOS's /export
    else:
        rnd.shuffle(words)
    sep = "\t" if rnd.random() < 0.05 else " "
    line = "add" + sep + sep.join(words)
    roll = rnd.random()
    if roll < 0.04:
        line = "  " + line + "  "
    elif roll < 0.06:
        line += " \\\n    comment=continued"
    elif roll < 0.08:
        line = "/ip firewall filter " + line
    return line


def _export(rnd: random.Random) -> list[str]:
    lines = ["# jan/02/2024 10:00:00 by RouterOS 7.12"]
    if rnd.random() < 0.4:
        lines.append("/ip firewall address-list")
        lines += [f"add address={_value(rnd, _net(rnd))} list={rnd.choice(['fb', 'kids'])}" for _ in range(3)]
    n = rnd.randrange(1, 12)
    lines.append(rnd.choice(["/ip firewall filter"] * 3 + ["/ip firewall raw", "/ipv6 firewall filter"]))
    for _ in range(n):
        lines += _line(rnd).split("\n")
        roll = rnd.random()
        if roll < 0.05:
            lines.append(f"set {rnd.randrange(n)} disabled=yes")
        elif roll < 0.08:
            lines.append(f"disable {rnd.randrange(n)}")
        elif roll < 0.1:
            lines.append(f"remove {rnd.randrange(n)}")
        elif roll < 0.12:
            lines.append("set [find comment=plain] action=accept")
        elif roll < 0.14:
            lines.append(f"set {rnd.randrange(n)} dst-address=157.240.0.0/16")
        elif roll < 0.15:
            lines.append(f"unset {rnd.randrange(n)} value-name=dst-address")
    if rnd.random() < 0.1:
        lines += [
            "/system scheduler",
            'add name=s on-event="/ip firewall filter disable [find comment=plain]" interval=1d',
        ]
    return lines


def _rule(r: ChainRule) -> tuple:
    return (*(getattr(r, name) for name in FIELDS), r.specific)


def _read(lines: list[str], plain: bool):
    return ruleset_from_lines(lines, "export.rsc", CATALOG, [], plain=plain)


def test_plain_path_builds_what_the_general_reader_builds():
    rnd = random.Random(20)
    plain_rules = 0
    for _ in range(600):
        lines = _export(rnd)
        fast, general = _read(lines, True), _read(lines, False)
        assert fast.problems == general.problems, lines
        assert len(fast.variants) == len(general.variants), lines
        for (a, label_a), (b, label_b) in zip(fast.variants, general.variants, strict=True):
            assert label_a == label_b
            assert dataclasses.replace(a, rules={}) == dataclasses.replace(b, rules={}), lines
            assert a.rules.keys() == b.rules.keys(), lines
            for key, chains in a.rules.items():
                assert chains.keys() == b.rules[key].keys(), lines
                for chain, rules in chains.items():
                    assert [_rule(r) for r in rules] == [_rule(r) for r in b.rules[key][chain]], lines
                    assert not any(isinstance(r, DstRule) for r in b.rules[key][chain])
                    plain_rules += sum(isinstance(r, DstRule) for r in rules)
    assert plain_rules > 300  # the plain path was taken, not only its fallback


def test_plain_path_lints_as_the_general_reader_does():
    rnd = random.Random(21)
    policy = strict_policy(CATALOG)
    for _ in range(60):
        lines = _export(rnd)
        fast = lint_ruleset(_read(lines, True), CATALOG, policy, True)
        general = lint_ruleset(_read(lines, False), CATALOG, policy, True)
        assert fast == general, lines
