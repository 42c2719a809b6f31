"""dnsmasq's streamed reading of big files (dnsmasq_stream.py) decides exactly as reading every
line does: the same decision for every probe, the same problems, the same domain count."""

from __future__ import annotations

from pathlib import Path

import pytest

from policy_lint.dialects.dns import dnsmasq
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.inputs import Resolver
from policy_lint.model import EVERYONE

TRICKY = [
    "address=/facebook.com/0.0.0.0",
    "address=/ads9.example.com/.twitter.com/",  # a relevant domain in second place
    "server=/*.linkedin.com/",  # wildcard: always read
    "local=/..x.com/",
    "address=/ADS.Example.ORG/0.0.0.0",
    'address=/"quoted.example"/0.0.0.0',
    "address=/ninG.com/10.0.0.1 # a comment",
    "address=/fbcdn.net/not-an-address",
    "server=1.1.1.1",
    "no-resolv",
    "bogus-option=1",
    "  address=/licdn.com/0.0.0.0",  # leading white space: not the blocklist form
    "address=/t.co",  # one slash only
    "server=/m.facebook.com/#",
    "address=/*twimg.com/0.0.0.0",
    "cname=www.x.com,example.org",
]


def _text(filler: int) -> str:
    lines = []
    for i in range(filler):
        lines.append(f"address=/ads{i}.tracker{i % 97}.example{i % 7}.com/0.0.0.0")
        if i % 2000 == 0:
            lines.append(TRICKY[(i // 2000) % len(TRICKY)])
        if i % 5000 == 0:
            lines.append(f"server=/ads{i}.a.example/b{i}.example/10.0.0.{i % 250}")
    return "\n".join(lines + TRICKY) + "\n"


def _result(path: Path, catalog):
    ruleset = dnsmasq.parse(path, ParseContext(Resolver(path.parent), catalog))
    probes = [p for svc in catalog.services.values() for p in svc.probes()] + catalog.control_probes()
    decisions = []
    for p in probes:
        d = ruleset.evaluate(p, EVERYONE)
        decisions.append(
            (p, d.outcome, d.rule and d.rule.where(), [s.where() for s in d.trace], d.note, d.how)
        )
    problems = sorted((p.code, p.span.where(), p.message) for p in ruleset.problems)
    return decisions, problems, ruleset.state.domain_rules


@pytest.mark.parametrize("crlf", [False, True])
def test_streamed_big_file_decides_as_the_full_read(tmp_path, catalog, crlf):
    text = _text(40_000)
    if crlf:
        text = text.replace("\n", "\r\n")
    streamed = tmp_path / "a" / "blocklist.conf"
    full = tmp_path / "b" / "blocklist.conf"
    streamed.parent.mkdir()
    full.parent.mkdir()
    streamed.write_text(text, newline="")
    # A lone CR in a last comment: linestream refuses the file, the ordinary reader reads it
    # (the comment changes nothing).
    full.write_text(text + "# a\r# b\n", newline="")
    assert streamed.stat().st_size > dnsmasq.STREAM_FROM_BYTES
    got, want = _result(streamed, catalog), _result(full, catalog)

    def norm(rows):
        return [tuple(str(x).replace("/b/", "/a/") for x in row) for row in rows]

    assert norm(got[0]) == norm(want[0])
    assert norm(got[1]) == norm(want[1])
    assert got[2] == want[2]
    assert len(got[1]) >= 3 and any(row[1].value == "deny" for row in got[0])
