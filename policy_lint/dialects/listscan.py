"""Streaming scans of large list files (adblock filter lists, Pi-hole gravity lists).

Such lists hold 10^5 to 10^6 lines, of which a handful can matter for the catalog's probes.
Per-line Python work costs about a microsecond, so a list is never split line by line: the
raw bytes are read in chunks and searched with a few compiled regular expressions for the
lines that could matter, and only those lines are decoded and parsed by the dialect.

- `anchor_patterns(names)`: the registrable domains (last two labels) of the names the
  engine will ask about, searched in the REVERSED text, one regex per top-level domain
  (`moc\\.(?:koobecaf|rettiwt|...)`): a pattern that starts with a literal is found at memory
  speed, a forward alternation is not. A hit must sit on a label boundary (`notfacebook.com`
  is no hit, `www.facebook.com` and `||facebook.com^` are).
- `line_patterns`: patterns that match at a newline (the text is prefixed with one) and pick
  whole lines by their start, e.g. "every line that is NOT a plain `||host^` rule".

Bad input is bounded too: a file over the size limit is refused, a NUL byte in the first
8 KiB means a binary file (refused); later NUL bytes, non-UTF-8 text and overlong lines are
reported once each (TE902) and the lines holding them are skipped or read as Latin-1. Files
with old Mac line ends (CR only) are read as if they had LF.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from policy_lint.inputs import BINARY_SNIFF_BYTES, MAX_FILE_BYTES, MAX_LINE_CHARS, InputError
from policy_lint.model import Problem, Span

CHUNK_BYTES = 8 * 1024 * 1024
_HOSTCHARS = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789-_")


def registrable(name: str) -> str:
    """facebook.com for www.facebook.com; t.co for t.co (the last two labels)."""
    return ".".join(name.lower().rstrip(".").split(".")[-2:])


def anchor_patterns(names: Iterable[str]) -> list[re.Pattern[bytes]]:
    """Regexes over the reversed, lower-cased text that find the names' registrable domains.

    The label boundary on the far side of the anchor (a non-host character before it in the
    original) is a lookahead in the reversed text; the near side (after it in the original)
    is checked by `scan` in Python, since a lookbehind at the start would cost the literal
    search its speed.
    """
    groups: dict[bytes, set[bytes]] = {}
    for name in names:
        anchor = registrable(name).encode("ascii", "ignore")
        head, dot, tld = anchor.rpartition(b".")
        if dot and head:
            groups.setdefault(tld, set()).add(head)
        elif anchor:
            groups.setdefault(anchor, set()).add(b"")
    out = []
    for tld, heads in sorted(groups.items()):
        alts = [re.escape(h[::-1]) for h in sorted(heads, key=len, reverse=True) if h]
        if alts:
            out.append(re.compile(re.escape((b"." + tld)[::-1]) + b"(?:" + b"|".join(alts)
                                  + rb")(?![a-z0-9_-])"))
        if b"" in heads:
            out.append(re.compile(re.escape(tld[::-1]) + rb"(?![a-z0-9_-])"))
    return out


@dataclass
class ScanStats:
    """What the scan saw over the whole file, for the dialect's problems."""

    path: str
    lines: int = 0
    nul_bytes: int = 0
    nul_first_line: int = 0
    non_utf8_line: int = 0
    overlong: list[int] = field(default_factory=list)
    matched: dict[str, int] = field(default_factory=dict)  # counting pattern name -> lines
    matched_examples: dict[str, list[tuple[int, str]]] = field(default_factory=dict)

    def problems(self) -> list[Problem]:
        out = []
        if self.nul_bytes:
            out.append(Problem("TE902", Span(self.path, self.nul_first_line, 1),
                               f"{self.nul_bytes} NUL byte(s) in the text (first on line "
                               f"{self.nul_first_line}); lines holding them were skipped"))
        if self.non_utf8_line:
            out.append(Problem("TE902", Span(self.path, self.non_utf8_line, 1),
                               "not valid UTF-8; read as Latin-1"))
        for line in self.overlong[:3]:
            out.append(Problem("TE902", Span(self.path, line, 1),
                               f"line longer than {MAX_LINE_CHARS} characters skipped"))
        if len(self.overlong) > 3:
            out.append(Problem("TE902", Span(self.path, self.overlong[3], 1),
                               f"{len(self.overlong) - 3} more overlong lines skipped"))
        return out


def _decode(raw: bytes, stats: ScanStats, line: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        if not stats.non_utf8_line:
            stats.non_utf8_line = line
        return raw.decode("latin-1")


def _looks_binary(head: bytes) -> bool:
    if b"\x00" in head:
        return True
    if not head:
        return False
    controls = sum(1 for b in head if b < 9 or 13 < b < 32)
    return controls / len(head) > 0.1


def scan(path: Path, display: str, on_line: Callable[[int, str], None], *,
         anchors: list[re.Pattern[bytes]] = (), line_patterns: list[re.Pattern[bytes]] = (),
         counters: dict[str, re.Pattern[bytes]] | None = None, max_examples: int = 3) -> ScanStats:
    """Call `on_line(line_number, text)` for every line an anchor or a line pattern picks, in
    file order, once each. `counters` are line patterns whose hits are only counted (with a
    few examples), e.g. malformed lines. Raises InputError for files that cannot be linted."""
    stats = ScanStats(display)
    counters = counters or {}
    try:
        size = os.stat(path).st_size
        if size > MAX_FILE_BYTES:
            raise InputError(f"{display}: file too large ({size} bytes; limit {MAX_FILE_BYTES})")
        fh = open(path, "rb")
    except InputError:
        raise
    except IsADirectoryError:
        raise InputError(f"{display}: is a directory") from None
    except OSError as exc:
        raise InputError(f"{display}: cannot read: {exc.strerror or exc}") from None
    with fh:
        first = fh.read(CHUNK_BYTES)
        if _looks_binary(first[:BINARY_SNIFF_BYTES]):
            raise InputError(f"{display}: binary file, not a list")
        if first.startswith(b"\xef\xbb\xbf"):
            first = first[3:]
        cr_only = b"\n" not in first and b"\r" in first
        carry = b""
        skipping = False  # inside an overlong line, until its end
        block = first
        while True:
            if cr_only:
                block = block.replace(b"\r", b"\n")
            eof = not block
            data = carry + block if block else carry + (b"\n" if carry else b"")
            if skipping:
                nl = data.find(b"\n")
                if nl < 0:
                    carry = b""
                    if eof:
                        break
                    block = fh.read(CHUNK_BYTES)
                    continue
                data = data[nl + 1:]
                stats.lines += 1
                skipping = False
            cut = data.rfind(b"\n")
            if cut < 0:
                carry = data
                if len(carry) > MAX_LINE_CHARS:
                    stats.overlong.append(stats.lines + 1)
                    carry, skipping = b"", True
            else:
                carry = data[cut + 1:]
                _scan_block(data[:cut + 1], stats, on_line, anchors, line_patterns, counters,
                            max_examples)
            if eof:
                break
            block = fh.read(CHUNK_BYTES)
    return stats


def _scan_block(block: bytes, stats: ScanStats, on_line: Callable[[int, str], None],
                anchors, line_patterns, counters, max_examples: int) -> None:
    """One block of whole lines (ending with a newline)."""
    base = stats.lines  # lines before this block
    buf = b"\n" + block  # offset k in buf = offset k-1 in block; every line starts after a \n
    low = buf.lower() if not buf.islower() else buf
    starts: set[int] = set()
    for pat in line_patterns:
        for m in pat.finditer(low):
            starts.add(m.start() + 1)
    if anchors:
        rev = low[::-1]
        n = len(low)
        for pat in anchors:
            for m in pat.finditer(rev):
                end = n - m.start()  # the anchor ends before this offset in `low`
                if end < n and low[end] in _HOSTCHARS:
                    continue  # facebook.community, t.com: not this name
                starts.add(low.rfind(b"\n", 0, end) + 1)
    nuls = buf.count(b"\x00")
    if nuls:
        if not stats.nul_bytes:
            first = buf.find(b"\x00")
            stats.nul_first_line = base + buf.count(b"\n", 0, first)
        stats.nul_bytes += nuls
    if not stats.non_utf8_line and not buf.isascii():
        try:
            buf.decode("utf-8")
        except UnicodeDecodeError as exc:
            stats.non_utf8_line = base + buf.count(b"\n", 0, exc.start)
    for name, pat in counters.items():
        count = 0
        examples = stats.matched_examples.setdefault(name, [])
        for m in pat.finditer(low):
            count += 1
            if len(examples) < max_examples:
                s = m.start() + 1
                e = buf.find(b"\n", s)
                line = base + buf.count(b"\n", 0, s)
                examples.append((line, _decode(buf[s:e], stats, line).strip()))
        stats.matched[name] = stats.matched.get(name, 0) + count
    line = base
    pos = 0
    for s in sorted(starts):
        if s >= len(buf):
            continue
        line += buf.count(b"\n", pos, s)
        pos = s
        e = buf.find(b"\n", s)
        raw = buf[s:e]
        if b"\x00" in raw:
            continue
        on_line(line, _decode(raw, stats, line))
    stats.lines = base + block.count(b"\n")
