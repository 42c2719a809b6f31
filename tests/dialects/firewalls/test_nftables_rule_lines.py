"""nftables rule lines (syntax.RuleLine): a plain `ip|ip6 saddr|daddr [!=] ADDR [counter] VERDICT`
line is lexed as one item and read straight into a rule. Whatever the line, the result must be
what the tokens give: the same tokens when unfolded, the same rule (or the same fallback), the
same report for a whole ruleset."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

from policy_lint.catalog import load_catalog
from policy_lint.dialects.firewalls.nftables.matches import RuleParser
from policy_lint.dialects.firewalls.nftables.model import Rule, Table
from policy_lint.dialects.firewalls.nftables.syntax import RuleLine, lex, unfold
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.inputs import Resolver

CATALOG = load_catalog()
FB_ONE = next(str(n) for n in CATALOG.services["facebook"].networks if n.version == 4)

LEADS = ["", "    ", "\t", " \t  "]
KEYS = ["ip daddr", "ip saddr", "ip6 daddr", "ip6 saddr", "ip  daddr", "ip\tsaddr"]
OPS = ["", "!= ", "== ", "eq ", "!=", "ne "]
ADDRESSES = [
    "192.0.2.7",
    "192.0.2.0/24",
    "192.0.2.7/24",  # host bits set: strict=False clears them
    "0.0.0.0/0",
    "10.1.2.3/32",
    "10.1.2.3/31",
    "1.2.3.4/08",
    "1.2.3.4/33",
    "010.0.0.1",  # leading zero: ipaddress refuses it
    "256.0.0.1",
    "1.2.3",
    "1.2.3.4.5",
    ".",
    "::",
    "::1",
    "2001:db8::/32",
    "2001:DB8::1/64",
    "fe80::1",
    "abcd::/16",
    "dead",
    "beef:",
    "1.2.3.4-1.2.3.9",
    "{ 192.0.2.1, 198.51.100.0/24 }",
    "{192.0.2.1}",
    "@x",
    "10.0.0.0/255.255.255.0",
    "192.0.2.1,192.0.2.2",
    FB_ONE,
    "$V",
    "facebook.com",
]
MIDDLES = ["", "counter ", "counter packets 0 bytes 0 ", "log ", "counter counter "]
VERDICTS = ["accept", "drop", "reject", "reject with tcp reset", "return", "jump other", "continue", "queue"]
TAILS = ["", " ", ";", " ;", "  # a comment", ' comment "x"', " counter", "\\"]


def _lines(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    every = [
        f"{lead}{key} {op}{addr} {mid}{verdict}{tail}"
        for lead, key, op, addr, mid, verdict, tail in itertools.product(
            LEADS[:2], KEYS[:4], OPS[:2], ADDRESSES, MIDDLES[:2], VERDICTS[:3], TAILS[:1]
        )
    ]
    some = [
        f"{rng.choice(LEADS)}{rng.choice(KEYS)} {rng.choice(OPS)}{rng.choice(ADDRESSES)} "
        f"{rng.choice(MIDDLES)}{rng.choice(VERDICTS)}{rng.choice(TAILS)}"
        for _ in range(count)
    ]
    return every + some


def _shape(rule: Rule | None) -> object:
    """A rule as plain data: a rule line's network is a 1-tuple where the tokens give a list."""
    if rule is None:
        return None
    matches = [
        (m.kind, m.neg, m.direction, m.family, m.proto, m.why)
        + tuple(list(x) for x in (m.values.nets, m.values.ranges, m.values.ports, m.values.words))
        + (m.values.setref, m.values.unknown)
        for m in rule.matches
    ]
    return (rule.span, matches, rule.verdict, rule.target, rule.vmap, tuple(rule.fills), rule.nat)


def test_a_rule_line_unfolds_to_the_tokens_of_the_line():
    made = 0
    for line in _lines(3000, seed=1):
        fast_problems: list = []
        slow_problems: list = []
        fast = lex([line], "f.nft", fast_problems, rule_lines=True)
        slow = lex([line], "f.nft", slow_problems)
        made += any(isinstance(x, RuleLine) for x in fast)
        assert unfold(fast) == slow, line
        assert fast_problems == slow_problems, line
    assert made > 500  # the generator does make rule lines


def test_a_rule_line_reads_as_its_tokens_or_declines():
    context = ParseContext(Resolver(Path(".").resolve()), CATALOG)
    read = declined = 0
    for line in _lines(3000, seed=2):
        items = lex([line], "f.nft", [], rule_lines=True)
        if not isinstance(items[0], RuleLine):
            continue
        rl = items[0]
        fast, slow = RuleParser(context, "f.nft"), RuleParser(context, "f.nft")
        table = Table("inet", "filter", rl.span)
        rule = fast.line_rule(rl)
        assert rl.tokens()[:-1] == rl.words()
        expected = slow.rule(table, rl.words(), rl.span)
        if rule is None:
            declined += 1
            continue
        read += 1
        assert _shape(rule) == _shape(expected), line
        assert fast.problems == slow.problems == [], line
        assert fast.pending_refs == slow.pending_refs == [], line
        assert fast.rule_count == slow.rule_count == 1
    assert read > 500 and declined > 20


def _ruleset(lines: list[str]) -> str:
    body = "\n".join(lines)
    return f"""table inet filter {{
    set x {{ type ipv4_addr; flags interval; elements = {{ 192.0.2.0/28 }} }}
    chain other {{
        ip daddr 198.51.100.9 drop
    }}
    chain forward {{
        type filter hook forward priority 0; policy accept;
        ct state established,related accept
{body}
    }}
}}
"""


def test_a_ruleset_of_rule_lines_reports_as_the_same_lines_read_as_tokens(lint):
    # A comment at the end of a line (not part of the rule's text) makes the lexer walk the line
    # character by character: no rule line. Both files must give the same report.
    for seed in range(2):
        rng = random.Random(100 + seed)
        lines = [line.rstrip("\\") for line in _lines(300, seed)]
        if seed == 0:  # a file without `$`: defines are not expanded
            lines = [line for line in lines if "$" not in line]
        rng.shuffle(lines)
        lines = lines[:150] + [f"        ip daddr {FB_ONE} drop"]
        plain = lint({"nftables.conf": _ruleset(lines)})
        commented = lint({"nftables.conf": _ruleset([f"{line} #" for line in lines])})
        assert plain.files and plain.files == commented.files
        assert plain.errors == commented.errors


def test_a_line_continued_from_the_line_before_is_not_a_rule_line(lint):
    lines = ["        counter \\", f"        ip daddr {FB_ONE} drop"]
    assert not any(isinstance(x, RuleLine) for x in lex(lines, "f.nft", [], rule_lines=True))
    assert isinstance(lex(lines[1:], "f.nft", [], rule_lines=True)[0], RuleLine)
    text = _ruleset(lines)
    report = lint({"nftables.conf": text})
    assert report.files[0].services["facebook"].verdict.value == "blocked-partial"
