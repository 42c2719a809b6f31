"""The chunked raw-byte scan behind the adblock and Pi-hole dialects: every picked line exactly
once, with its right number, whatever the block boundaries; bad bytes reported, not fatal."""

from __future__ import annotations

import re

import pytest

from policy_lint.dialects.semantics import listscan
from policy_lint.inputs import InputError

LINES = [f"||ads{i}.example{i % 7}.com^" for i in range(300)]
LINES[17] = "||facebook.com^"
LINES[18] = "||notfacebook.com^"  # not on a label boundary: no hit
LINES[120] = "0.0.0.0 www.facebook.com"
LINES[121] = "facebook.community"  # not this name either
LINES[200] = "weird line"
LINES[299] = "t.co"


@pytest.mark.parametrize("chunk", [16, 37, 64, 1000, 1 << 20])
@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r"])
def test_hits_and_line_numbers_do_not_depend_on_block_boundaries(tmp_path, monkeypatch, chunk, ending):
    monkeypatch.setattr(listscan, "CHUNK_BYTES", chunk)
    p = tmp_path / "list.txt"
    p.write_bytes(ending.join(LINES).encode())  # no newline at the end
    seen: list[tuple[int, str]] = []
    stats = listscan.scan(
        p,
        "list.txt",
        lambda n, t: seen.append((n, t.rstrip("\r"))),
        anchors=listscan.anchor_patterns(["www.facebook.com", "t.co"]),
        line_patterns=[re.compile(rb"\n(?=weird)")],
        counters={"weird": re.compile(rb"\nweird")},
    )
    assert seen == [
        (18, "||facebook.com^"),
        (121, "0.0.0.0 www.facebook.com"),
        (201, "weird line"),
        (300, "t.co"),
    ]
    assert stats.lines == 300
    assert stats.matched["weird"] == 1 and stats.matched_examples["weird"] == [(201, "weird line")]


def test_overlong_line_is_skipped_and_reported(tmp_path, monkeypatch):
    monkeypatch.setattr(listscan, "CHUNK_BYTES", 1 << 16)
    monkeypatch.setattr(listscan, "MAX_LINE_CHARS", 1 << 17)
    p = tmp_path / "list.txt"
    p.write_bytes(b"facebook.com\n" + b"x" * (1 << 18) + b"facebook.com\nfacebook.com\n")
    seen = []
    stats = listscan.scan(
        p, "list.txt", lambda n, t: seen.append(n), anchors=listscan.anchor_patterns(["facebook.com"])
    )
    assert seen == [1, 3]
    assert stats.overlong == [2] and stats.lines == 3
    assert any("longer than" in pr.message for pr in stats.problems())


def test_non_utf8_and_nul_bytes_are_reported_once(tmp_path):
    p = tmp_path / "list.txt"
    p.write_bytes(b"ok.example\n" * 1000 + b"caf\xe9.example\nfacebook.com\x00\nfacebook.com\n")
    seen = []
    stats = listscan.scan(
        p, "list.txt", lambda n, t: seen.append(n), anchors=listscan.anchor_patterns(["facebook.com"])
    )
    assert seen == [1003]  # the line with the NUL is skipped
    assert stats.non_utf8_line == 1001 and stats.nul_first_line == 1002
    assert [pr.code for pr in stats.problems()] == ["TE902", "TE902"]


def test_binary_and_missing_files_are_input_errors(tmp_path):
    p = tmp_path / "blob"
    p.write_bytes(bytes(range(256)) * 64)
    with pytest.raises(InputError, match="binary"):
        listscan.scan(p, "blob", lambda n, t: None)
    with pytest.raises(InputError, match="cannot read"):
        listscan.scan(tmp_path / "nope", "nope", lambda n, t: None)
