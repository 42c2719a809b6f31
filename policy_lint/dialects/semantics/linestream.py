"""Reading a large text file in blocks of whole lines, exactly as `read_source` would read it.

Big lists (10^6 lines) are scanned with regular expressions over raw blocks, and only the lines
that can matter are decoded and parsed (see privoxy/stream.py, dnsmasq.py). `blocks(path)`
yields the file's bytes in blocks of whole lines, each starting and ending with a newline (a
leading UTF-8 BOM removed), and raises `NotStreamable` for a file `read_source` would read in a
way these blocks do not show: control characters in its first 8 KiB (a binary file), text
that is not UTF-8 (read as Latin-1), line breaks other than LF and CRLF (`str.splitlines`
splits at CR, VT, FF, FS, GS, RS, NEL, LS, PS), a line over the length limit. The caller then
reads it the ordinary way. A line's text is its bytes without the newline and a final CR.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from policy_lint.inputs import BINARY_SNIFF_BYTES, MAX_LINE_CHARS

CHUNK_BYTES = 2 * 1024 * 1024
_OTHER_BREAKS_UTF8 = re.compile(rb"\xc2\x85|\xe2\x80[\xa8\xa9]")
# The one-byte breaks are control characters: callers' scans pick those lines and call
# `other_break(byte)` on them.
_OTHER_BREAKS = frozenset(b"\x0b\x0c\x1c\x1d\x1e")


def other_break(byte: int) -> None:
    """Raise NotStreamable for a byte str.splitlines() breaks lines at (besides LF, CR LF)."""
    if byte in _OTHER_BREAKS:
        raise NotStreamable("line breaks other than LF and CRLF")


class NotStreamable(Exception):
    """The file needs the ordinary reader (read_source) to be read exactly."""


def label_trie(words: Iterable[str]) -> str:
    """A regex alternation of `words` as a trie (`f(?:acebook|bcdn)`): a line that starts with
    none of them fails at its first character, not after trying each word."""
    tree: dict[str, dict] = {}
    for w in words:
        node = tree
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict[str, dict]) -> str:
        alts = [re.escape(ch) + emit(child) if ch else "" for ch, child in sorted(node.items())]
        end = "" in node
        alts = [a for a in alts if a]
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        return f"(?:{body})?" if end else body

    return emit(tree)


def blocks(path: Path) -> Iterator[bytes]:
    """The file's text in blocks of whole lines, each starting and ending with a newline."""
    with open(path, "rb") as fh:
        carry = b""
        first = True
        while True:
            # The first block holds at least the bytes read_source sniffs for a binary file.
            block = fh.read(max(CHUNK_BYTES, BINARY_SNIFF_BYTES) if first else CHUNK_BYTES)
            if first:
                head = block[:BINARY_SNIFF_BYTES]
                if any(b < 9 or 13 < b < 32 for b in head):
                    raise NotStreamable("control characters at the start")
                if block.startswith(b"\xef\xbb\xbf"):
                    block = block[3:]
                first = False
            if not block:
                if carry:
                    yield checked(b"\n" + carry + b"\n")
                return
            data = carry + block
            # A line over the limit holds a whole window of half the limit without a newline.
            half = MAX_LINE_CHARS // 2
            if any(data.find(b"\n", o, o + half) < 0 for o in range(0, len(data) - half + 1, half)):
                raise NotStreamable("a line over the length limit")
            cut = data.rfind(b"\n")
            if cut < 0:
                carry = data
            else:
                yield checked(b"\n" + data[: cut + 1])
                carry = data[cut + 1 :]


def checked(text: bytes) -> bytes:
    """`text`, if read_source would read it the same way (UTF-8, LF or CRLF line ends)."""
    if not text.isascii():
        try:
            text.decode("utf-8")
        except UnicodeDecodeError:
            raise NotStreamable("not UTF-8") from None
        if _OTHER_BREAKS_UTF8.search(text):
            raise NotStreamable("line breaks other than LF and CRLF")
    if b"\r" in text and text.count(b"\r") != text.count(b"\r\n"):
        raise NotStreamable("a CR without LF")
    return text


def check_whole(path: Path) -> None:
    """Read the whole file through `blocks` and raise NotStreamable where it would, also for a
    one-byte line break (`other_break`) anywhere: a caller that hands lines out as it scans
    calls this first, so that it never falls back to read_source half-way through."""
    for text in blocks(path):
        for byte in _OTHER_BREAKS:
            if bytes((byte,)) in text:
                other_break(byte)
