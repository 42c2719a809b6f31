"""Big domain lists are streamed (domainlist.py): plain domains no probe can meet are only
counted; the report must be the one the line-by-line reading gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from policy_lint.dialects.dns import domainlist
from policy_lint.engine import Options, lint_paths
from policy_lint.policy import strict_policy
from tests.conftest import verdicts

# Lines between the plain domains: relevant names in the forms the reader accepts, lines that
# are not domains (counted in TE902), comments, and text a byte pattern reads differently.
TRICKY = [
    "*.twitter.com\n",
    "  .x.com.  # trailing dot and comment\n",
    "FACEBOOK.COM\n",
    "linkedin.com#no space before the comment\n",
    "not a domain line\n",
    "-bad.example.com\n",
    "ads..example.com\n",
    "! adblock comment\n",
    "// c comment\n",
    "   \n",
    "caf\u00e9.example.com\n",
    "tab\tinside.example.com\n",
    "nul\x00.example.com\n",
    "com\n",
    ".include<missing-list>\n",
    "ning.com.evil.example\n",
]


def build(tmp_path: Path, crlf: bool, bom: bool) -> Path:
    parts = ["# Title: generated block list\n"]
    for i, tricky in enumerate(TRICKY):
        parts.extend(f"ads{i}-{k}.tracker{k % 89}.example.com\n" for k in range(3000))
        parts.append(tricky)
    parts.append("ning.com")  # no newline at the end
    text = "".join(parts)
    if crlf:
        text = text.replace("\n", "\r\n")
    path = tmp_path / "blocklist.txt"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    assert path.stat().st_size > domainlist.STREAM_FROM_BYTES
    return path


def report_of(path: Path, catalog) -> list:
    report = lint_paths(
        [path], catalog, strict_policy(catalog), Options(root=path.parent, dialect="domain-list")
    )
    return [verdicts(report), report.findings, report.files[0].services]


@pytest.mark.parametrize(("crlf", "bom"), [(False, False), (True, True)])
def test_streamed_report_is_the_line_by_line_one(tmp_path, catalog, monkeypatch, crlf, bom):
    path = build(tmp_path, crlf, bom)
    streamed = report_of(path, catalog)
    monkeypatch.setattr(domainlist, "STREAM_FROM_BYTES", 1 << 40)
    assert report_of(path, catalog) == streamed
    assert streamed[0]["ning"] == "blocked"
    assert any(f.code == "TE902" and "lines are not domain names" in f.message for f in streamed[1])
