"""Reading a large policy zone (10^6 `name CNAME .` lines) without handing every line to the
zone reader.

parse.py's reader takes a one-line record in column 1 of the types block lists are made of
(`_FAST_RR`) without dnspython. While the zone's origin is still unknown (no zone name given,
no `$ORIGIN` read yet: owners are relative to a placeholder), outside parentheses and with no
dnspython batch open, such a record with a plain relative owner (labels of letters, digits,
`-` and `_`, 63 characters at most; no `@`, `*`, empty label or trailing dot) only counts as a record and becomes the name a
following line without an owner inherits, unless it names something a probe can meet: an
`rpz-*` label, or a registrable domain of a probe name. This module finds those lines (in a
stricter form) with regular expressions over raw blocks (linestream.py) and yields every OTHER
line with its number, in file order; while `clean()` is false (the state above does not hold)
it yields every following line too. A skipped line before a yielded line that starts with a
blank (an owner inherited from it) is yielded too. `skipped` counts the records left out.

`lines(...)` reads the file through linestream.blocks before it hands out a line: a file
linestream cannot read exactly as read_source does raises NotStreamable first (`check(path)`
does only that check).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from policy_lint.dialects.semantics.linestream import blocks, check_whole, other_break
from policy_lint.dialects.semantics.listscan import anchor_patterns

_TTL = rb"(?:\d+[smhdw]?(?:\d+[smhdw])*[ \t]+)?"
_OCTET = rb"(?:25[0-5]|2[0-4]\d|1?\d?\d)"
# Over lower-cased text: a subset of parse.py's _FAST_RR lines that _fast_ok accepts.
_PLAIN_RECORD = (
    rb"[a-z0-9_.-]{1,63}[ \t]+" + _TTL + rb"(?:in[ \t]+)?" + _TTL + rb"(?:cname[ \t]+[a-z0-9_.*-]+"
    rb"|a[ \t]+" + _OCTET + rb"(?:\." + _OCTET + rb"){3}"
    rb"|aaaa[ \t]+[0-9a-f.]*:[0-9a-f:.]*)"
    rb"[ \t]*(?:;[^\n]*)?\r?\n"
)
_NOT_PLAIN = re.compile(rb"\n(?!" + _PLAIN_RECORD + rb")")
# The owner's dots are checked apart (a flat owner pattern is cheaper): a line holding one of
# these is read (an empty label, a leading dot, an absolute owner `name.`).
_BAD_DOTS = (b"..", b"\n.", b". ", b".\t")
# A cheaper test first (a regex costs per character it looks at; the four `find`s of _BAD_DOTS
# cost as much as a regex pass): a line `owner TYPE value` with one blank run each, no TTL,
# class, trailing blank or comment, whose owner neither starts nor ends with a dot, holding no
# `..` (_DOUBLE_DOT, looked for apart), is a plain record _NOT_PLAIN and _BAD_DOTS leave out.
# The lines it leaves (a superset of the lines those pick) are read as they would be in a
# small file; a block where it leaves over SIMPLE_MISSES lines is picked the exact way.
_NOT_SIMPLE = re.compile(
    rb"\n(?![a-z0-9_-][a-z0-9_.-]{0,62}+(?<!\.)[ \t]++(?:cname[ \t]++[a-z0-9_.*-]++"
    rb"|a[ \t]++" + _OCTET + rb"(?:\." + _OCTET + rb"){3}"
    rb"|aaaa[ \t]++[0-9a-f.]*:[0-9a-f:.]*)\r?\n)"
)
_DOUBLE_DOT = b".."
SIMPLE_MISSES = 1000
# Picked lines kept in memory while the file is read once (see `lines`).
BUFFERED_LINES = 100_000
_SPECIAL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\xff]")
_SPECIAL_BYTES = bytes([*range(9), 11, 12, *range(14, 32), *range(127, 256)])


def relevant_patterns(anchors: Iterable[str]) -> list[re.Pattern[bytes]]:
    """listscan's reversed-text patterns for the registrable domains, and `rpz-` (forward)."""
    return [*anchor_patterns(anchors), re.compile(rb"rpz-")]


def check(path: Path) -> None:
    """Raise NotStreamable when linestream cannot read `path` exactly as read_source does."""
    check_whole(path)


@dataclass
class Skipped:
    records: int = 0


def _starts(text: bytes, reversed_patterns: list[re.Pattern[bytes]], forward: re.Pattern[bytes]) -> list[int]:
    """Sorted starts of the lines of a block the reader must see even in a clean state."""
    low = text.lower()
    picked = {m.start() + 1 for m in _NOT_SIMPLE.finditer(low)}
    exact = len(picked) > SIMPLE_MISSES
    if exact:
        picked = {m.start() + 1 for m in _NOT_PLAIN.finditer(low)}
    if len(text.translate(None, _SPECIAL_BYTES)) != len(text):
        for m in _SPECIAL.finditer(text):
            other_break(text[m.start()])  # as check_whole: NotStreamable before any line
            picked.add(text.rfind(b"\n", 0, m.start()) + 1)
    picked.update(low.rfind(b"\n", 0, m.start()) + 1 for m in forward.finditer(low))
    for dots in _BAD_DOTS if exact else (_DOUBLE_DOT,):
        at = text.find(dots)
        while at >= 0:
            picked.add(text.rfind(b"\n", 0, at + dots.startswith(b"\n")) + 1)
            at = text.find(dots, at + 1)
    if reversed_patterns:
        rev, n = low[::-1], len(low)
        for pat in reversed_patterns:
            picked.update(low.rfind(b"\n", 0, n - m.start()) + 1 for m in pat.finditer(rev))
        del rev
    return sorted(s for s in picked if s < len(text))


def lines(
    path: Path, relevant: list[re.Pattern[bytes]], clean: Callable[[], bool], skipped: Skipped
) -> Iterator[tuple[int, str]]:
    """(line number, text) of the lines the reader must see. Raises NotStreamable before any
    line is handed out.

    The file is read once: each block's picked lines are kept (with the line before one that
    starts with a blank); a block the reader needs line by line (not clean) is read again. A
    file with over BUFFERED_LINES picked lines is checked whole first and then read as it is
    handed out."""
    *reversed_patterns, forward = relevant
    plan: list[_Block] = []
    kept = 0
    before = 0  # lines in earlier blocks
    previous = b""  # the last line of the previous block
    for text in blocks(path):
        picks = []
        pos, number = 1, before + 1
        for start in _starts(text, reversed_patterns, forward):
            number += text.count(b"\n", pos, start)
            end = text.find(b"\n", start)
            prev = None
            if text[start] in b" \t":
                at = text.rfind(b"\n", 0, start - 1) + 1
                prev = _text(text[at : start - 1] if at > 0 else previous)
            picks.append((start, end, number, _text(text[start:end]), prev))
            pos, number = end + 1, number + 1
        kept += len(picks)
        if kept > BUFFERED_LINES:
            check_whole(path)
            return _lazy(path, relevant, clean, skipped)
        lines_here = text.count(b"\n") - 1
        plan.append(_Block(before, lines_here, picks, previous))
        previous = text[text.rfind(b"\n", 0, len(text) - 1) + 1 : -1]
        before += lines_here
    return _replay(path, plan, clean, skipped)


@dataclass
class _Block:
    before: int  # lines in earlier blocks
    lines: int
    picks: list[tuple[int, int, int, str, str | None]]  # start, end, number, text, line before
    previous: bytes  # the last line of the previous block


def _replay(
    path: Path, plan: list[_Block], clean: Callable[[], bool], skipped: Skipped
) -> Iterator[tuple[int, str]]:
    """`_lazy`'s lines from the kept picks; a block is read again only while not clean."""
    again: Iterator[bytes] | None = None  # blocks(path) read a second time, as needed
    read_again = -1  # the index of the last block read again
    whole = b""
    last_yielded = 0
    for k, block in enumerate(plan):
        picks = block.picks
        i = 0
        pos, number = 1, block.before + 1  # pos: where line `number` starts
        jumped = 0  # lines skipped in this block so far
        while number <= block.before + block.lines:
            if clean():
                while i < len(picks) and picks[i][0] < pos:
                    i += 1
                if i == len(picks):
                    jumped += block.before + block.lines + 1 - number
                    break
                pos, end, target, line, prev = picks[i]
                jumped += target - number
                number = target
            else:
                if again is None:
                    again = blocks(path)
                while read_again < k:
                    whole = next(again)
                    read_again += 1
                end = whole.find(b"\n", pos)
                line, prev = _text(whole[pos:end]), None
                if whole[pos] in b" \t":
                    at = whole.rfind(b"\n", 0, pos - 1) + 1
                    prev = _text(whole[at : pos - 1] if at > 0 else block.previous)
            if prev is not None and number - 1 > last_yielded and number > 1:
                # the owner this line may inherit is on the skipped line before it
                jumped -= 1
                yield number - 1, prev
            last_yielded = number
            yield number, line
            pos, number = end + 1, number + 1
        skipped.records += jumped


def _lazy(
    path: Path, relevant: list[re.Pattern[bytes]], clean: Callable[[], bool], skipped: Skipped
) -> Iterator[tuple[int, str]]:
    """The lines to read, each block's found as it is read (the file was checked whole)."""
    *reversed_patterns, forward = relevant
    before = 0  # lines in earlier blocks
    last_yielded = 0
    previous = b""  # the last line of the previous block
    for text in blocks(path):
        starts = _starts(text, reversed_patterns, forward)
        i = 0
        pos, number = 1, before + 1  # pos: where line `number` starts
        jumped = 0  # lines skipped in this block so far
        while pos < len(text):
            if clean():
                while i < len(starts) and starts[i] < pos:
                    i += 1
                target = starts[i] if i < len(starts) else len(text)
                gap = text.count(b"\n", pos, target)
                jumped += gap
                number += gap
                pos = target
                if i == len(starts):
                    break
            if text[pos] in b" \t" and number - 1 > last_yielded and number > 1:
                # the owner this line may inherit is on the skipped line before it
                start = text.rfind(b"\n", 0, pos - 1) + 1
                raw = text[start : pos - 1] if start > 0 else previous
                jumped -= 1
                yield number - 1, _text(raw)
            end = text.find(b"\n", pos)
            last_yielded = number
            yield number, _text(text[pos:end])
            pos, number = end + 1, number + 1
        skipped.records += jumped
        previous = text[text.rfind(b"\n", 0, len(text) - 1) + 1 : -1]
        before += text.count(b"\n") - 1


def _text(raw: bytes) -> str:
    return (raw[:-1] if raw.endswith(b"\r") else raw).decode("utf-8")
