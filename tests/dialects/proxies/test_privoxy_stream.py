"""Privoxy's streamed reading of action files (privoxy/stream.py) decides exactly as reading
every line does: the same decision for every probe the engine asks about, the same problems."""

from __future__ import annotations

from pathlib import Path

import pytest

from policy_lint.dialects.proxies import privoxy
from policy_lint.dialects.proxies.privoxy import stream
from policy_lint.dialects.semantics import linestream
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.dialects.semantics.names import probe_hosts
from policy_lint.inputs import Resolver
from policy_lint.model import EVERYONE

TRICKY = (
    "{ +block{first} }\n"  # a header first: a file not named *.action is still an action file
    "# a comment line\n"
    "{{alias}}\n"
    "+crunch-all = +crunch-outgoing-cookies\n"
    "social = +block{Social.}\n"
    "{ social }\n"
    "ads1.tracker9.example1.com\n"  # plain, a label no probe has: skipped
    "  .FACEBOOK.com  \n"  # case and white space
    ".facebook.\n"
    "www.\n"
    "\n"
    "ads2.example.com/banner/\n"  # path, trivially valid regex, irrelevant host
    "ads3.example.com/ban(ner\n"  # an invalid path regex: refused even though irrelevant
    "twitter.com:443\n"
    "x.com:80/\n"
    "ads4.example.com \\\n"  # continuation: the next line belongs to it
    "  .com\n"
    "lnkd.in # trailing comment\n"
    "{ -block }\n"
    "m.facebook.com\n"
    "ads5.example.\\#.com\n"
    "*.linkedin.com\n"
    "ning.co?\n"
    "{ +block{all} }\n"
    "/ads/\n"
    ":8443\n"
    "{{settings}}\n"  # too late: refused; its lines are read as settings
    "for-privoxy-version=9.0\n"
    "{ +redirect{http://example.com/} }\n"
    "ads6.example.com\n"
    "t.co\n"
    "ads7.example.com/x[\n"
    "licdn.com\n"
    "last.example.org"  # no final line break
)


def _decisions(path: Path, catalog) -> tuple[list, list]:
    ruleset = privoxy.parse(path, ParseContext(Resolver(path.parent), catalog))
    probes = [p for svc in catalog.services.values() for p in svc.probes()] + catalog.control_probes()
    out = []
    for p in probes:
        d = ruleset.evaluate(p, EVERYONE)
        out.append((p, d.outcome, d.rule and d.rule.where(), [s.where() for s in d.trace], d.note, d.how))
    problems = sorted((p.code, p.span.where(), p.message) for p in ruleset.problems)
    return out, problems


@pytest.mark.parametrize("text", [TRICKY, TRICKY.replace("\n", "\r\n"), "\ufeff" + TRICKY])
def test_streamed_action_file_decides_as_the_full_read(tmp_path, catalog, text):
    streamed = tmp_path / "a" / "list.action"  # *.action: streamed
    full = tmp_path / "b" / "list.txt"  # starts with a section header: read whole, line by line
    for p in (streamed, full):
        p.parent.mkdir()
        p.write_bytes(text.encode("utf-8"))
    labels = {label for host in probe_hosts(catalog) for label in host.split(".")}
    taken = [
        n for n, _ in stream.lines_to_parse(streamed, stream.relevant_line_pattern(labels), lambda: False)
    ]
    assert 7 not in taken and len(taken) < text.count("\n")  # irrelevant plain lines are skipped
    got = _decisions(streamed, catalog)
    want = _decisions(full, catalog)

    def norm(rows):
        return [tuple(str(x).replace("b/list.txt", "a/list.action") for x in row) for row in rows]

    assert norm(got[0]) == norm(want[0])
    assert norm(got[1]) == norm(want[1])
    assert any(row[1].value == "deny" for row in got[0]) and len(got[1]) >= 3


def test_files_the_stream_cannot_read_exactly_take_the_ordinary_way(tmp_path):
    for raw in (b"{ +block }\n\xff\xfe.facebook.com\n", b"{ +block }\r.facebook.com\r", b"{ +block }\x0c\n"):
        p = tmp_path / "x.action"
        p.write_bytes(raw)
        with pytest.raises(linestream.NotStreamable):
            list(stream.lines_to_parse(p, stream.relevant_line_pattern({"facebook"}), lambda: True))


def test_label_trie_matches_exactly_the_words():
    import re

    words = ["ads", "ads-api", "x", "xx", "m", "me", "media", "t"]
    rx = re.compile(f"(?:{linestream.label_trie(words)})\\Z")
    assert all(rx.match(w) for w in words)
    assert not any(rx.match(w) for w in ["a", "ad", "ads-", "xxx", "med", "mediax", "tt", ""])
