"""Reading a large unbound file (10^6 `local-zone:`/`local-data:` lines) without handing every
line to the lexer.

parse.py's reader drops, without keeping anything, a one-line `local-zone: "d" TYPE` (a type
unbound knows) or `local-data: "d A|AAAA ADDRESS"` whose name no probe can meet, read in the
`server:` clause with no statement or include: left open; it also skips blank and comment
lines there. This module finds those lines with regular expressions over raw blocks
(linestream.py) in a stricter form than the reader's, and yields every OTHER line, in file
order, with its number; and, while the reader's state is not that plain one (`clean()` false:
a `view:` or other clause open, a keyword waiting for its values), every line that follows,
so the reader sees exactly the lines that can change what it keeps or reports. Picked too:
lines with a control character or non-ASCII text (unbound's `\\s` differs from a byte
pattern's there) and lines whose name is a relevant one (`relevant_pattern`).

`lines(...)` reads the file through linestream.blocks before it hands out a line: a file
linestream cannot read exactly as read_source does raises NotStreamable first (`check(path)`
does only that check).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

from policy_lint.dialects.semantics.linestream import blocks, check_whole, label_trie, other_break

# What the reader drops in a clean state (a subset of parse.py's _FAST_ZONE/_FAST_DATA lines
# with a known type / a simple address record; ':' kept out of data lines so that no
# `local-zone:` hides in them, which sends the reader down another path).
ZONE_TYPES = frozenset(
    {
        "always_deny",
        "always_nodata",
        "always_null",
        "always_nxdomain",
        "always_refuse",
        "always_transparent",
        "deny",
        "inform",
        "inform_deny",
        "inform_redirect",
        "ipset",
        "nodefault",
        "noview",
        "redirect",
        "refuse",
        "static",
        "transparent",
        "typetransparent",
    }
)
_TYPES = "(?:" + "|".join(sorted(ZONE_TYPES, key=len, reverse=True)) + ")"
_TAIL = rb"(?:[ \t]+(?:#[^\n]*)?)?\r?\n"
_ZONE_LINE = (
    rb"[ \t]*local-zone:[ \t]+(?:\"[^\"\\\s]+\"|[^'\"\s\\#]+)[ \t]+(?:\""
    + _TYPES.encode()
    + rb"\"|"
    + _TYPES.encode()
    + rb")"
    + _TAIL
)
_DATA_LINE = (
    rb"[ \t]*local-data:[ \t]+\"[ \t]*[^\s\"\\:]+[ \t]+(?:\d+[ \t]+)?(?i:in[ \t]+)?(?:\d+[ \t]+)?"
    rb"(?i:a[ \t]+\d{1,3}(?:\.\d{1,3}){3}|aaaa[ \t]+[0-9a-f:.]+)[ \t]*\""
    rb"(?:[ \t]+(?:#[^\n:]*)?)?\r?\n"
)
_BLANK_LINE = rb"[ \t]*(?:#[^\n]*)?\r?\n"
_NOT_DROPPABLE = re.compile(rb"\n(?!" + _ZONE_LINE + rb"|" + _DATA_LINE + rb"|" + _BLANK_LINE + rb")")
# A block of generated lines (`local-zone: "NAME" TYPE`, all alike but for the name) is told
# droppable by counting instead of matching each line (a regex costs per character it looks
# at): see _uniform.
_UNIFORM_HEAD = re.compile(rb"\n[ \t]*local-(?:zone|data):[ \t]+\"(?=[^ \t\r\n\\\":])")
_NAME_RUN = re.compile(rb"[^ \t\r\n\\\":]+")
_NAME_STOPS = b' \t\r\\":'
# Picked lines kept in memory while the file is read once (see `lines`).
BUFFERED_LINES = 100_000
_SPECIAL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\xff]")
_SPECIAL_BYTES = bytes([*range(9), 11, 12, *range(14, 32), *range(127, 256)])


class Relevant(NamedTuple):
    """A local-zone/local-data line whose name is one of the relevant names (lower-cased
    text): `line` anywhere; `quoted` in a block _uniform accepts, where every name follows a
    quote and is followed by a quote or blank (a cheaper search: a quote, then the name)."""

    line: re.Pattern[bytes]
    quoted: re.Pattern[bytes]


def relevant_pattern(relevant: Iterable[str]) -> Relevant:
    """The patterns of the lines whose name is one of `relevant` (lower-cased)."""
    trie = label_trie(sorted({name for name in relevant if name}))
    body = ("(?:" + trie + ")?" if trie else "").encode()
    # Possessive: the quote and blanks before the name are never given back to the lookahead.
    line = re.compile(rb"local-(?:zone|data):[ \t]++(?:[\"'][ \t]*+)?+" + body + rb"\.*(?=[\s\"'])")
    # In a uniform block a name is not empty: "" is relevant as a name of dots only.
    named = (trie.encode() + rb"\.*|") if trie else b""
    return Relevant(line, re.compile(rb'"(?:' + named + rb"\.+)(?=[\s\"'])"))


def _uniform(text: bytes, lines: int) -> bool:
    """Whether every line of a block (`lines` of them) is droppable by _NOT_DROPPABLE's test,
    or picked by _SPECIAL. True when the block's last line L is droppable, its name N (after
    the quote that follows `local-zone:`/`local-data:`, up to a quote or blank) is followed by
    a quote or blank, and L = P + N + S where every line starts with P, ends with S, is not
    P and S meeting or overlapping (so it holds P + M + S, M not empty), and the block holds
    `:`, blanks, CR, `"` and backslashes only as often as its lines' P and S do (so no M holds
    one). Such a line matches _ZONE_LINE or _DATA_LINE as L does, M in N's place in the name
    field, unless M holds other white space (VT, FF: control characters _SPECIAL picks).

        server:                                      (not alike: the block is matched)
            local-zone: "ads1.example" always_nxdomain
            local-zone: "ads2.example" always_nxdomain   (alike: counted)
    """
    last = text[text.rfind(b"\n", 0, len(text) - 1) :]
    head = _UNIFORM_HEAD.match(last)
    if head is None or _NOT_DROPPABLE.match(last) is not None:
        return False
    name = _NAME_RUN.match(last, head.end())
    if name is None:
        return False
    prefix, suffix = last[: head.end()], last[name.end() :]
    if suffix[:1] not in (b'"', b" ", b"\t"):
        return False
    if text.count(prefix) != lines or text.count(suffix) != lines:
        return False
    for k in range(min(len(prefix), len(suffix))):
        if prefix.endswith(suffix[:k]) and prefix[: len(prefix) - k] + suffix in text:
            return False
    both = prefix + suffix
    stops = len(text) - len(text.translate(None, _NAME_STOPS))
    return stops == lines * (len(both) - len(both.translate(None, _NAME_STOPS)))


def check(path: Path) -> None:
    """Raise NotStreamable when linestream cannot read `path` exactly as read_source does."""
    check_whole(path)


def _starts(text: bytes, relevant: Relevant, lines: int) -> list[int]:
    """Sorted starts of the lines of a block (`lines` of them) the reader must see even in a
    clean state."""
    uniform = _uniform(text, lines)
    picked = set() if uniform else {m.start() + 1 for m in _NOT_DROPPABLE.finditer(text)}
    if len(text.translate(None, _SPECIAL_BYTES)) != len(text):
        for m in _SPECIAL.finditer(text):
            other_break(text[m.start()])  # as check_whole: NotStreamable before any line
            picked.add(text.rfind(b"\n", 0, m.start()) + 1)
    names = relevant.quoted if uniform else relevant.line
    picked.update(text.rfind(b"\n", 0, m.start()) + 1 for m in names.finditer(text.lower()))
    return sorted(s for s in picked if s < len(text))


def lines(path: Path, relevant: Relevant, clean: Callable[[], bool]) -> Iterator[tuple[int, str]]:
    """(line number, text) of the lines the reader must see; `clean()` is asked before each
    jump over droppable lines. Raises NotStreamable before any line is handed out.

    The file is read once: each block's picked lines are kept (line number, end, text); a
    block the reader needs line by line (not clean) is read again. A file with over
    BUFFERED_LINES picked lines is checked whole first and then read as it is handed out."""
    plan: list[tuple[int, list[tuple[int, int, int, str]]]] = []
    kept = 0
    before = 0  # lines in earlier blocks
    for text in blocks(path):
        picks = []
        lines_here = text.count(b"\n") - 1
        pos, number = 1, before + 1
        for start in _starts(text, relevant, lines_here):
            number += text.count(b"\n", pos, start)
            end = text.find(b"\n", start)
            picks.append((start, end, number, _text(text[start:end])))
            pos, number = end + 1, number + 1
        kept += len(picks)
        if kept > BUFFERED_LINES:
            check_whole(path)
            return _lazy(path, relevant, clean)
        plan.append((before, picks))
        before += lines_here
    return _replay(path, plan, clean)


def _replay(
    path: Path, plan: list[tuple[int, list[tuple[int, int, int, str]]]], clean: Callable[[], bool]
) -> Iterator[tuple[int, str]]:
    """`_lazy`'s lines from the kept picks; a block is read again only while not clean."""
    again: Iterator[bytes] | None = None  # blocks(path) read a second time, as needed
    read_again = -1  # the index of the last block read again
    text = b""
    for k, (before, picks) in enumerate(plan):
        i = 0
        pos, number = 1, before + 1  # pos: where line `number` starts
        whole: bytes | None = None
        while True:
            if clean():
                while i < len(picks) and picks[i][0] < pos:
                    i += 1
                if i == len(picks):
                    break
                _start, end, number, line = picks[i]
                yield number, line
            else:
                if whole is None:
                    if again is None:
                        again = blocks(path)
                    while read_again < k:
                        text = next(again)
                        read_again += 1
                    whole = text
                if pos >= len(whole):
                    break
                end = whole.find(b"\n", pos)
                yield number, _text(whole[pos:end])
            pos, number = end + 1, number + 1


def _lazy(path: Path, relevant: Relevant, clean: Callable[[], bool]) -> Iterator[tuple[int, str]]:
    """The lines to read, each block's found as it is read (the file was checked whole)."""
    before = 0  # lines in earlier blocks
    for text in blocks(path):
        starts = _starts(text, relevant, text.count(b"\n") - 1)
        i = 0
        pos, number = 1, before + 1  # pos: where line `number` starts
        while pos < len(text):
            if clean():
                while i < len(starts) and starts[i] < pos:
                    i += 1
                if i == len(starts):
                    break
                number += text.count(b"\n", pos, starts[i])
                pos = starts[i]
            end = text.find(b"\n", pos)
            yield number, _text(text[pos:end])
            pos, number = end + 1, number + 1
        before += text.count(b"\n") - 1


def _text(raw: bytes) -> str:
    return (raw[:-1] if raw.endswith(b"\r") else raw).decode("utf-8")
