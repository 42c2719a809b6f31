"""Big unbound lists are streamed (unbound/stream.py): the report must be the one the ordinary
line-by-line reading gives, whatever the lines between the skipped ones do to the lexer."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from policy_lint.dialects.dns import unbound
from policy_lint.dialects.dns.unbound import stream
from policy_lint.engine import Options, lint_paths
from policy_lint.policy import strict_policy
from tests.conftest import verdicts

# The submodule (the package's `parse` is the registry's function).
parse = importlib.import_module("policy_lint.dialects.dns.unbound.parse")


def padding(n: int, start: int = 0) -> str:
    return "".join(
        f'    local-zone: "ads{i}.tracker{i % 97}.example.com" always_nxdomain\n'
        for i in range(start, start + n)
    )


def data_padding(n: int) -> str:
    return "".join(f'    local-data: "ads{i}.tracker.example.net A 0.0.0.0"\n' for i in range(n))


# Lines that change the lexer's state, or are errors unbound refuses, between droppable lines.
TRICKY = [
    # a view: every zone in it is kept, droppable-looking or not, until server: again
    'view:\n    name: "kids"\n'
    + padding(3, 10**7)
    + '    local-zone: "facebook.com" always_nxdomain\nserver:\n',
    # a keyword whose value is on the next lines: the lexer takes the following words as values
    "    local-data:\n" + padding(1, 2 * 10**7),
    "    access-control-view:\n    10.0.0.0/8\n" + padding(1, 3 * 10**7),
    # include: takes the next word, even a `#`, as its file name
    "    include:\n# not a comment here\n",
    # keywords are case-sensitive; unknown zone types; bad addresses the fast path lets by
    '    LOCAL-ZONE: "x.example" static\n',
    '    local-zone: "y.example" static_foo\n',
    '    local-data: "z.example A 999.1.2.3"\n',
    '    local-data: "w.example A 0.0.0.0" # was local-zone: "w.example" static\n',
    # a NUL byte, an unterminated quote, a relevant name written with trailing dots
    '    local-zone: "n\x00.example" static\n',
    '    local-zone: "q.example static\n',
    '    local-zone: "twitter.com.." static\n',
    '    local-data: "linkedin.com A 10.1.2.3"\n',
    '    local-zone: "\u00e9.example" static\n',
]


def build(tmp_path: Path, crlf: bool = False, bom: bool = False) -> Path:
    parts = ["server:\n"]
    for i, tricky in enumerate(TRICKY):
        parts.append(padding(1500, i * 10**5))
        parts.append(data_padding(200))
        parts.append(tricky)
    parts.append(padding(2000, 9 * 10**6))
    parts.append('    local-zone: "ning.com" refuse')  # no newline at the end
    text = "".join(parts)
    if crlf:
        text = text.replace("\n", "\r\n")
    path = tmp_path / "unbound.conf"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    assert path.stat().st_size > parse.STREAM_FROM_BYTES
    return path


def report_of(path: Path, catalog) -> list:
    policy = strict_policy(catalog)
    report = lint_paths([path], catalog, policy, Options(root=path.parent))
    return [verdicts(report), report.findings, report.files[0].services]


@pytest.mark.parametrize(("crlf", "bom"), [(False, False), (True, True)])
def test_streamed_report_is_the_line_by_line_one(tmp_path, catalog, monkeypatch, crlf, bom):
    path = build(tmp_path, crlf, bom)
    streamed = report_of(path, catalog)
    monkeypatch.setattr(parse, "STREAM_FROM_BYTES", 1 << 40)
    assert report_of(path, catalog) == streamed
    assert streamed[0]["ning"] == "blocked"
    assert {"TE901", "TE902"} <= {f.code for f in streamed[1]}


def test_a_big_list_blocks_at_its_last_line(tmp_path, catalog):
    path = tmp_path / "unbound.conf"
    path.write_text("server:\n" + padding(30000) + '    local-zone: "facebook.com" always_nxdomain\n')
    report = report_of(path, catalog)
    assert report[0]["facebook"] == "blocked"
    assert any(f.span.line == 30002 for f in report[1] if f.code.startswith("TE1"))


def test_the_streamed_zone_types_are_unbounds():
    assert stream.ZONE_TYPES == unbound.ZONE_TYPES
