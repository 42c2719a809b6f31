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

Bad input is bounded too: a file over the size limit is refused, many NUL bytes in the first
8 KiB mean a binary file (refused); stray NUL bytes, non-UTF-8 text and overlong lines are
reported once each (TE902) and the lines holding them are skipped or read as Latin-1. Files
with old Mac line ends (CR only) are read as if they had LF.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from policy_lint.inputs import BINARY_SNIFF_BYTES, MAX_FILE_BYTES, MAX_LINE_CHARS, InputError
from policy_lint.model import Problem, Span

CHUNK_BYTES = 2 * 1024 * 1024  # several passes per block: small enough to stay in cache
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
            out.append(
                re.compile(re.escape((b"." + tld)[::-1]) + b"(?:" + b"|".join(alts) + rb")(?![a-z0-9_-])")
            )
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
            out.append(
                Problem(
                    "TE902",
                    Span(self.path, self.nul_first_line, 1),
                    f"{self.nul_bytes} NUL byte(s) in the text (first on line "
                    f"{self.nul_first_line}); lines holding them were skipped",
                )
            )
        if self.non_utf8_line:
            out.append(
                Problem("TE902", Span(self.path, self.non_utf8_line, 1), "not valid UTF-8; read as Latin-1")
            )
        for line in self.overlong[:3]:
            out.append(
                Problem(
                    "TE902", Span(self.path, line, 1), f"line longer than {MAX_LINE_CHARS} characters skipped"
                )
            )
        if len(self.overlong) > 3:
            out.append(
                Problem(
                    "TE902",
                    Span(self.path, self.overlong[3], 1),
                    f"{len(self.overlong) - 3} more overlong lines skipped",
                )
            )
        return out


def _decode(raw: bytes, stats: ScanStats, line: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        if not stats.non_utf8_line:
            stats.non_utf8_line = line
        return raw.decode("latin-1")


def _looks_binary(head: bytes) -> bool:
    if not head:
        return False
    if head.count(b"\x00") > len(head) // 64:  # a stray NUL is reported, a binary refused
        return True
    controls = sum(1 for b in head if b < 9 or 13 < b < 32)
    return controls / len(head) > 0.1


def scan(
    path: Path,
    display: str,
    on_line: Callable[[int, str], None],
    *,
    anchors: Sequence[re.Pattern[bytes]] = (),
    line_patterns: Sequence[re.Pattern[bytes]] = (),
    counters: dict[str, re.Pattern[bytes]] | None = None,
    max_examples: int = 3,
) -> ScanStats:
    """Call `on_line(line_number, text)` for every line an anchor or a line pattern picks, in
    file order, once each. `counters` are line patterns whose hits are only counted (with a
    few examples), e.g. malformed lines. Raises InputError for files that cannot be linted."""
    stats = ScanStats(display)
    counters = counters or {}
    try:
        size = os.stat(path).st_size
        if size > MAX_FILE_BYTES:
            raise InputError(f"{display}: file too large ({size} bytes; limit {MAX_FILE_BYTES})")
        fh = open(path, "rb")  # noqa: SIM115  closed by the `with fh` below; opening errors are reported apart
    except InputError:
        raise
    except IsADirectoryError:
        raise InputError(f"{display}: is a directory") from None
    except OSError as exc:
        raise InputError(f"{display}: cannot read: {exc.strerror or exc}") from None
    with fh:
        block = fh.read(CHUNK_BYTES)
        if _looks_binary(block[:BINARY_SNIFF_BYTES]):
            raise InputError(f"{display}: binary file, not a list")
        if block.startswith(b"\xef\xbb\xbf"):
            block = block[3:]
        cr_only: bool | None = None  # old Mac line ends: decided by the first line end seen
        scanner = _Scanner(stats, on_line, anchors, line_patterns, counters, max_examples)
        # `carry` is the start of a line cut by the end of the previous block, behind a newline
        # (every line handed to _scan_block stands after a newline). Blocks are never sliced
        # or concatenated whole: regions are given as offsets.
        carry = b"\n"
        skipping = False  # inside an overlong line, until its end
        while block:
            if cr_only is None and (b"\n" in block or b"\r" in block):
                cr_only = b"\n" not in block
            if cr_only:
                block = block.replace(b"\r", b"\n")
            begin = 0
            if skipping:
                nl = block.find(b"\n")
                if nl < 0:
                    block = fh.read(CHUNK_BYTES)
                    continue
                stats.lines += 1
                skipping, carry, begin = False, b"\n", nl + 1
            first_nl = block.find(b"\n", begin)
            if first_nl < 0:
                carry += block[begin:]
                if len(carry) > MAX_LINE_CHARS:
                    stats.overlong.append(stats.lines + 1)
                    carry, skipping = b"\n", True
                block = fh.read(CHUNK_BYTES)
                continue
            head = carry + block[begin : first_nl + 1]  # the line the block boundary cut
            scanner.scan(head, 0, len(head))
            cut = block.rfind(b"\n")
            if cut > first_nl:
                scanner.scan(block, first_nl, cut + 1)
            carry = b"\n" + block[cut + 1 :]
            if len(carry) > MAX_LINE_CHARS:
                stats.overlong.append(stats.lines + 1)
                carry, skipping = b"\n", True
            block = fh.read(CHUNK_BYTES)
        if len(carry) > 1 and not skipping:
            tail = carry + b"\n"
            scanner.scan(tail, 0, len(tail))
    return stats


class _Scanner:
    def __init__(self, stats: ScanStats, on_line, anchors, line_patterns, counters, max_examples: int):
        self.stats = stats
        self.on_line = on_line
        self.anchors = anchors
        self.line_patterns = line_patterns
        self.counters = counters
        self.max_examples = max_examples

    def scan(self, buf: bytes, start: int, end: int) -> None:
        """The lines of buf[start + 1:end]: buf[start] is a newline, buf[end - 1] too."""
        stats = self.stats
        base = stats.lines  # lines before this region
        low = buf.lower()
        starts: set[int] = set()
        for pat in self.line_patterns:
            for m in pat.finditer(low, start, end):
                starts.add(m.start() + 1)
        if self.anchors:
            rev = low[::-1]
            n = len(low)
            for pat in self.anchors:
                for m in pat.finditer(rev, n - end, n - start):
                    after = n - m.start()  # the anchor ends before this offset in `low`
                    if after < end and low[after] in _HOSTCHARS:
                        continue  # facebook.community, t.com: not this name
                    starts.add(low.rfind(b"\n", start, after) + 1)
            del rev
        nul = buf.find(b"\x00", start, end)
        if nul >= 0:
            if not stats.nul_bytes:
                stats.nul_first_line = base + buf.count(b"\n", start, nul)
            stats.nul_bytes += buf.count(b"\x00", start, end)
        if not stats.non_utf8_line and not buf.isascii():
            try:
                buf[start:end].decode("utf-8")
            except UnicodeDecodeError as exc:
                stats.non_utf8_line = base + buf.count(b"\n", start, start + exc.start)
        for name, pat in self.counters.items():
            count = 0
            examples = stats.matched_examples.setdefault(name, [])
            for m in pat.finditer(low, start, end):
                count += 1
                if len(examples) < self.max_examples:
                    s = m.start() + 1
                    e = buf.find(b"\n", s, end)
                    line = base + buf.count(b"\n", start, s)
                    examples.append((line, _decode(buf[s : min(e, s + 200)], stats, line).strip()))
            stats.matched[name] = stats.matched.get(name, 0) + count
        line = base
        pos = start
        for s in sorted(starts):
            if s >= end:
                continue
            line += buf.count(b"\n", pos, s)
            pos = s
            e = buf.find(b"\n", s, end)
            if e - s > MAX_LINE_CHARS:
                stats.overlong.append(line)
                continue
            raw = buf[s:e]
            if b"\x00" in raw:
                continue
            self.on_line(line, _decode(raw, stats, line))
        stats.lines = base + buf.count(b"\n", start + 1, end)
